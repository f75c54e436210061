"""A claim lives anywhere (issue 20, item 5): `harness import` outside the clone writes the
topology next to the skeleton, which names it so that it loads; `-` reads stdin;
`harness new PATH` names its own path."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest
import yaml

from harness.cli import main
from harness.core.env import TOPOLOGY_DIR
from harness.importer.import_command import MAX_LISTING_BYTES
from harness.scenario import ScenarioError, load_scenario
from harness.scenario.load import NO_CASE_YET

LISTING = """\
ip netns add a
ip netns add b
ip link add veth0 netns a type veth peer name veth0 netns b
ip -n a addr add 10.0.0.1/24 dev veth0
ip -n b addr add 10.0.0.2/24 dev veth0
ip -n a link set veth0 up
ip -n b link set veth0 up
"""
CASE = """\
  - id: a-reaches-b
    title: a datagram from a reaches b
    probe: {host: a, dst: 192.0.2.2}
    expect: {errno: ok, received: [b from 192.0.2.1]}
"""


def filled(skeleton: Path) -> Path:
    """The skeleton with a case written in, as its reader would."""
    skeleton.write_text(skeleton.read_text() + CASE)
    return skeleton


def test_outside_the_clone_the_topology_goes_next_to_the_skeleton_and_loads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "setup.sh").write_text(LISTING)
    skeleton = tmp_path / "claims" / "claim.yaml"
    assert main(["import", str(tmp_path / "setup.sh"), "--scenario", str(skeleton)]) == 0
    topology = tmp_path / "claims" / "setup.topology.yaml"
    assert sorted(p.name for p in skeleton.parent.iterdir()) == [
        "claim.yaml",
        "setup.topology.yaml",
    ]
    assert not (TOPOLOGY_DIR / "setup.yaml").exists()
    out = capsys.readouterr().out
    assert f"wrote {topology} (2 hosts)" in out
    assert "topology: ./setup.topology.yaml" in out
    assert yaml.safe_load(skeleton.read_text())["topology"] == "./setup.topology.yaml"
    assert "The topology is ./setup.topology.yaml (relative to this file)" in " ".join(
        line.removeprefix("# ") for line in skeleton.read_text().splitlines()
    )
    with pytest.raises(ScenarioError) as unfilled:
        load_scenario(skeleton)
    assert str(unfilled.value) == f"{skeleton}: cases: {NO_CASE_YET}"
    scenario = load_scenario(filled(skeleton))
    assert scenario.topology_file == topology.resolve()
    assert set(scenario.topology.hosts) == {"a", "b"}


def test_a_topology_dir_below_the_skeleton_is_named_by_its_path(tmp_path: Path) -> None:
    (tmp_path / "setup.sh").write_text(LISTING)
    skeleton = tmp_path / "claim.yaml"
    argv = ["import", str(tmp_path / "setup.sh"), "--scenario", str(skeleton)]
    assert main([*argv, "--topology-dir", str(tmp_path / "topos")]) == 0
    assert yaml.safe_load(skeleton.read_text())["topology"] == "./topos/setup.yaml"
    assert load_scenario(filled(skeleton)).topology_file == (tmp_path / "topos" / "setup.yaml")


def test_the_clones_topology_folder_is_named_by_name(tmp_path: Path) -> None:
    (tmp_path / "setup.sh").write_text(LISTING)
    skeleton = tmp_path / "claim.yaml"
    argv = ["import", str(tmp_path / "setup.sh"), "--scenario", str(skeleton), "--stdout"]
    argv += ["--topology-dir", str(TOPOLOGY_DIR), "--name", "anywhere-test"]
    assert main(argv) == 0
    assert not skeleton.exists()  # --stdout writes nothing


def test_a_topology_dir_the_skeleton_could_not_name_is_refused_before_writing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "setup.sh").write_text(LISTING)
    skeleton = tmp_path / "claims" / "claim.yaml"
    argv = ["import", str(tmp_path / "setup.sh"), "--scenario", str(skeleton)]
    assert main([*argv, "--topology-dir", str(tmp_path / "elsewhere")]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"harness import: --topology-dir {tmp_path / 'elsewhere'}: ")
    assert "a topology path stays below the scenario's folder" in line
    assert list(tmp_path.iterdir()) == [tmp_path / "setup.sh"]


def _stdin(monkeypatch: pytest.MonkeyPatch, data: bytes) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))


def test_a_listing_on_stdin(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _stdin(monkeypatch, LISTING.encode())
    skeleton = tmp_path / "claim.yaml"
    assert main(["import", "-", "--scenario", str(skeleton), "--name", "piped"]) == 0
    assert "7 commands translated from standard input" in capsys.readouterr().out
    assert yaml.safe_load(skeleton.read_text())["source"]["article"] == "standard input"
    assert load_scenario(filled(skeleton)).topology_file == tmp_path / "piped.topology.yaml"


def test_a_listing_on_stdin_is_bounded_as_a_file_is(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _stdin(monkeypatch, b"#" * (MAX_LISTING_BYTES + 1))
    assert main(["import", "-", "--stdout"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "harness import: standard input: larger than 4 MiB: not a listing"
    ]


def test_new_names_its_own_path(tmp_path: Path) -> None:
    path = tmp_path / "my claims" / "x.yaml"
    assert main(["new", str(path)]) == 0
    head = path.read_text().splitlines()[:8]
    shown = f"'{path}'"  # quoted as a shell needs it: the folder has a space
    assert f"#   harness run {shown}" in head
    assert "scenarios/x.yaml" not in path.read_text()
    assert [c.id for c in load_scenario(path).cases] == ["example-a-reaches-b"]
