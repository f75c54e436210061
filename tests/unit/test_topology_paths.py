"""`topology:` as a path relative to the scenario file (issue 20, item 5): what loads, and
what a scenario from elsewhere may not make the harness read."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from harness.scenario import ScenarioError, load_scenario
from harness.scenario.load import NO_CASE_YET, setup_place

TOPOLOGY = {
    "hosts": {
        "a": {"interfaces": {"eth0": {"link": "b.eth0", "addresses": ["192.0.2.1/24"]}}},
        "b": {"interfaces": {"eth0": {"link": "a.eth0", "addresses": ["192.0.2.2/24"]}}},
    }
}
CASE = {
    "id": "one",
    "title": "a case",
    "probe": {"host": "a", "dst": "192.0.2.2"},
    "expect": {"errno": "ok"},
}


def scenario(folder: Path, topology: str, cases: object = None) -> Path:
    path = folder / "claim.yaml"
    doc: dict[str, object] = {"claim": "c", "source": {"article": "a"}, "topology": topology}
    doc["cases"] = [CASE] if cases is None else cases
    path.write_text(yaml.safe_dump(doc))
    return path


def topology(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(TOPOLOGY))
    return path


@pytest.mark.parametrize("written", ["./mynet.yaml", "mynet.yaml", "topos/mynet.yaml"])
def test_a_path_below_the_scenarios_folder_loads(tmp_path: Path, written: str) -> None:
    real = topology(tmp_path / written)
    loaded = load_scenario(scenario(tmp_path, written))
    assert set(loaded.topology.hosts) == {"a", "b"}
    assert loaded.topology.name == written
    assert loaded.topology_file == real.resolve()


def test_a_path_into_the_clones_topologies_loads(tmp_path: Path) -> None:
    topologies = tmp_path / "clone" / "topologies"
    topology(topologies / "net.yaml")
    claims = tmp_path / "clone" / "claims"
    claims.mkdir()
    loaded = load_scenario(scenario(claims, "../topologies/net.yaml"), topology_dir=topologies)
    assert loaded.topology_file == (topologies / "net.yaml").resolve()


def _refusal(path: Path, topology_dir: Path | None = None) -> str:
    with pytest.raises(ScenarioError) as caught:
        if topology_dir is None:
            load_scenario(path)
        else:
            load_scenario(path, topology_dir=topology_dir)
    error = caught.value
    assert (error.path, error.field) == (path, "topology")
    assert "\n" not in str(error)
    return error.problem


@pytest.mark.parametrize(
    "written", ["../../../../../../etc/x.yaml", "../sibling/net.yaml", "../net.yaml"]
)
def test_a_path_out_of_the_scenarios_folder_is_refused_existing_or_not(
    tmp_path: Path, written: str
) -> None:
    folder = tmp_path / "bundle"
    folder.mkdir()
    topology(tmp_path / "sibling" / "net.yaml")
    topology(tmp_path / "net.yaml")
    problem = _refusal(scenario(folder, written))
    assert problem.startswith(f"{written!r} leads outside the scenario's folder "), problem
    # The same words whether the file is there or not: no oracle for the host's files.
    assert "no topology file" not in problem


def test_a_symbolic_link_out_of_the_folder_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "bundle"
    topology(tmp_path / "outside" / "net.yaml")
    folder.mkdir()
    (folder / "topos").symlink_to(tmp_path / "outside")
    (folder / "net.yaml").symlink_to(tmp_path / "outside" / "net.yaml")
    for written in ("topos/net.yaml", "net.yaml"):
        assert "leads outside the scenario's folder" in _refusal(scenario(folder, written))


def test_a_symbolic_link_inside_the_folder_is_followed(tmp_path: Path) -> None:
    real = topology(tmp_path / "topos" / "net.yaml")
    (tmp_path / "net.yaml").symlink_to(real)
    assert load_scenario(scenario(tmp_path, "net.yaml")).topology_file == real.resolve()


def test_an_absolute_path_a_fifo_and_a_missing_file_are_refused(tmp_path: Path) -> None:
    problem = _refusal(scenario(tmp_path, str(topology(tmp_path / "net.yaml"))))
    assert "a topology path is relative to the scenario file's folder" in problem
    os.mkfifo(tmp_path / "fifo.yaml")
    assert "not a regular file" in _refusal(scenario(tmp_path, "fifo.yaml"))
    assert _refusal(scenario(tmp_path, "topos/none.yaml")).startswith(
        "no topology file 'topos/none.yaml'"
    )
    assert "without '.yaml' or a folder" in _refusal(scenario(tmp_path, "topos/net"))
    assert "at most 1024 characters" in _refusal(scenario(tmp_path, "a/" * 600 + "x.yaml"))


def test_a_scenario_named_as_its_topology_is_refused(tmp_path: Path) -> None:
    path = scenario(tmp_path, "./claim.yaml")
    assert _refusal(path).endswith("cases: this is a scenario, not a topology")


@pytest.mark.parametrize("cases", [None, []], ids=["commented-out", "empty"])
def test_an_unfilled_skeleton_says_a_case_is_to_fill_in(tmp_path: Path, cases: object) -> None:
    path = tmp_path / "claim.yaml"
    text = yaml.safe_dump({"claim": "c", "source": {"article": "a"}, "topology": "x"})
    path.write_text(text + ("cases:\n  # - id: first-case\n" if cases is None else "cases: []\n"))
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert str(caught.value) == f"{path}: cases: {NO_CASE_YET}"


def test_a_topology_item_is_placed_at_its_file_and_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a set-up the kernel refuses names (harness/case/runner.py)."""
    topology(tmp_path / "topos" / "net.yaml")
    monkeypatch.chdir(tmp_path)
    loaded = load_scenario(scenario(tmp_path, "topos/net.yaml"))
    lines = (tmp_path / "topos" / "net.yaml").read_text().splitlines()
    address = next(n for n, line in enumerate(lines, 1) if "192.0.2.1/24" in line)
    assert setup_place(loaded, ("hosts", "a", "interfaces", "eth0", "addresses", 0)) == (
        f"topos/net.yaml:{address} hosts.a.interfaces.eth0.addresses[0]",
        "192.0.2.1/24",
    )
    # A field left to its default: the line of the nearest part that is written.
    eth0 = next(n for n, line in enumerate(lines, 1) if "eth0:" in line)
    assert setup_place(loaded, ("hosts", "a", "interfaces", "eth0", "up")) == (
        f"topos/net.yaml:{eth0} hosts.a.interfaces.eth0.up",
        "",
    )
    inline = tmp_path / "inline" / "claim.yaml"
    inline.parent.mkdir()
    inline.write_text(
        yaml.safe_dump({"claim": "c", "source": {"article": "a"}, "topology": TOPOLOGY})
        + yaml.safe_dump({"cases": [CASE]})
    )
    place, written = setup_place(load_scenario(inline), ("hosts", "b", "interfaces"))
    assert place.startswith("inline/claim.yaml:") and place.endswith(" topology.hosts.b.interfaces")
    assert written == ""
