"""Where the harness reads and writes from a clone, and what the wheel ships (issue 22,
items 1 and 2; an installed wheel end to end: tests/e2e/test_installed.py)."""

from __future__ import annotations

import ast
import importlib.util
import tomllib
from pathlib import Path

import pytest

from harness.core import env
from harness.guests.sources import base


def test_a_clone_reads_and_writes_its_own_folders() -> None:
    root = Path(__file__).resolve().parents[2]
    assert env.IN_CLONE
    assert (
        root,
        root / "scenarios",
        root / "fixtures" / "topologies",
        root / "results",
    ) == (env.PROJECT_ROOT, env.SCENARIO_DIR, env.TOPOLOGY_DIR, env.RESULTS_DIR)
    assert root / "scenarios" == env.NEW_SCENARIO_DIR
    assert env.given_path(Path("scenarios/none-such")) == Path("scenarios/none-such")
    assert env.shown(root / "scenarios" / "a.yaml") == "scenarios/a.yaml"


def test_the_wheel_ships_the_folders_the_harness_reads() -> None:
    # hatch_build.py's map, read without hatchling (only the build has it).
    hook = ast.parse((env.PROJECT_ROOT / "hatch_build.py").read_text())
    (catalogue,) = (
        ast.literal_eval(node.value)
        for node in hook.body
        if isinstance(node, ast.Assign) and ast.unparse(node.targets[0]) == "CATALOGUE"
    )
    shipped = {env.PROJECT_ROOT / source: Path(target) for source, target in catalogue.items()}
    for folder in (env.SCENARIO_DIR, env.TOPOLOGY_DIR):
        relative = folder.relative_to(env.PROJECT_ROOT)
        assert shipped[folder] == Path("harness/_catalogue") / relative


def test_the_distribution_name_is_the_one_the_messages_give() -> None:
    project = tomllib.loads((env.PROJECT_ROOT / "pyproject.toml").read_text())["project"]
    assert project["name"] == env.DISTRIBUTION
    assert project["scripts"]["harness"] == "harness.cli:main"
    kernels = {dist for _, dist in base.KERNELS_EXTRA}
    extra = {r.split(">")[0].split("<")[0] for r in project["optional-dependencies"]["kernels"]}
    assert extra == kernels
    assert f"{env.DISTRIBUTION}[kernels]" in project["optional-dependencies"]["dev"]


def test_without_the_kernels_extra_one_line_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert base.kernels_extra_missing() is None  # the dev environment has it
    real = importlib.util.find_spec
    monkeypatch.setattr(base, "find_spec", lambda name: None if name == "debian" else real(name))
    assert base.kernels_extra_missing() == (
        "other kernels need the extra 'kernels' (python-debian not installed): "
        "scripts/bootstrap-guests"
    )
    monkeypatch.setattr(base, "IN_CLONE", False)
    assert base.kernels_extra_missing() == (
        "other kernels need the extra 'kernels' (python-debian not installed): "
        f"pip install '{env.DISTRIBUTION}[kernels]'"
    )
