"""`harness run` treats what it is given as data (issue 18, 3): a downloaded bundle of
scenarios may hold a conftest.py, test_*.py, __init__.py, doctests and pytest
configuration files; none of them is imported, run or read.  Plain `pytest` keeps
pytest's rules (README)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness.core.env import PROJECT_ROOT
from tests.conftest import needs_root

SCENARIO = PROJECT_ROOT / "scenarios" / "dontroute" / "dontroute-lookup-limited-to-link-scope.yaml"


def _bundle(folder: Path, proof: Path) -> None:
    """A folder of scenarios with every way pytest has of running code found beside them;
    each one, if run, creates a file in `proof`."""

    def code(name: str) -> str:
        return f"open({str(proof / name)!r}, 'w').close()\n"

    folder.mkdir()
    shutil.copy(SCENARIO, folder / SCENARIO.name)
    (folder / "conftest.py").write_text(code("conftest"))
    (folder / "__init__.py").write_text(code("init"))
    (folder / "test_evil.py").write_text(code("test-module") + "def test_x():\n    pass\n")
    (folder / "evil_plugin.py").write_text(code("plugin"))
    (folder / "test_doc.txt").write_text(f">>> {code('doctest')}")
    ini = "addopts = -p evil_plugin --doctest-modules\npythonpath = .\n"
    (folder / "pytest.ini").write_text(f"[pytest]\n{ini}")
    (folder / "tox.ini").write_text(f"[pytest]\n{ini}")
    (folder / "setup.cfg").write_text(f"[tool:pytest]\n{ini}")
    (folder.parent / "conftest.py").write_text(code("parent-conftest"))


@needs_root
@pytest.mark.parametrize("given", ["folder", "file"])
def test_a_bundle_runs_no_code(tmp_path: Path, given: str) -> None:
    proof = tmp_path / "proof"
    proof.mkdir()
    bundle = tmp_path / "bundle"
    _bundle(bundle, proof)
    path = bundle if given == "folder" else bundle / SCENARIO.name
    run = str(tmp_path / "run")
    done = subprocess.run(
        [sys.executable, "-m", "harness", "run", str(path), "-n", "1", "--results-dir", run],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert sorted(p.name for p in proof.iterdir()) == []
    # The scenario itself ran, and nothing else was collected.
    results = (tmp_path / "run" / "results.json").read_text()
    assert '"scenario":"dontroute-lookup-limited-to-link-scope"' in results
    assert "test_evil" not in results and "test_doc" not in results


def test_plain_pytest_keeps_its_rules(tmp_path: Path) -> None:
    """The difference is `harness run`'s alone: pytest itself imports a conftest.py (so
    a bundle is run with `harness run`, as the README says)."""
    proof = tmp_path / "proof"
    proof.mkdir()
    bundle = tmp_path / "bundle"
    _bundle(bundle, proof)
    (bundle / "pytest.ini").unlink()
    (bundle / "tox.ini").unlink()
    (bundle / "setup.cfg").unlink()
    subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", str(bundle / "test_evil.py")],
        capture_output=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert "conftest" in {p.name for p in proof.iterdir()}
