"""One rule for every name that becomes a path (issue 18): LANs, scenario files, case ids
and hosts are refused at load, with the field named, when they could leave the run folder,
hold control characters or exceed what a file name may be.

The tests that need root are tests/e2e/test_names.py.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from harness.cli import main
from harness.core.env import PROJECT_ROOT
from harness.core.validation import NAME_MAX_CHARS, check_name
from harness.scenario import ScenarioError, load_scenario
from tests.unit.test_bad_input import CASE, GOOD, dump

LAN_TOPOLOGY: dict[str, Any] = {
    "hosts": {
        "a": {"interfaces": {"eth0": {"lan": "lan0", "addresses": ["192.0.2.1/24"]}}},
        "b": {"interfaces": {"eth0": {"lan": "lan0", "addresses": ["192.0.2.2/24"]}}},
    }
}


def with_lan(name: object) -> dict[str, Any]:
    doc = copy.deepcopy({**GOOD, "topology": LAN_TOPOLOGY})
    for host in doc["topology"]["hosts"].values():
        host["interfaces"]["eth0"]["lan"] = name
    return doc


BAD_LANS = [
    "../../../../../../elsewhere/LAN",
    "/tmp/LAN",
    "lan\0x",
    "lan\x1b[31m",
    "a/b",
    "..",
    "x" * (NAME_MAX_CHARS + 1),
    "-lan",
]


@pytest.mark.parametrize("name", BAD_LANS)
def test_a_lan_name_that_is_a_path_is_refused(tmp_path: Path, name: str) -> None:
    path = tmp_path / "claim.yaml"
    path.write_bytes(dump(with_lan(name)))
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert caught.value.field == "topology.hosts.a.interfaces.eth0.lan"
    # Control characters are refused in any text, before the name rule looks.
    assert "LAN name" in caught.value.problem or "control character" in caught.value.problem
    assert "\n" not in str(caught.value) and "\x1b" not in str(caught.value)


def test_a_good_lan_name_loads(tmp_path: Path) -> None:
    path = tmp_path / "claim.yaml"
    path.write_bytes(dump(with_lan("Lan_0.a-b")))
    assert load_scenario(path).topology.lans().keys() == {"Lan_0.a-b"}


@pytest.mark.parametrize("stem", ["[x]", "a b", "x" * (NAME_MAX_CHARS + 1), "-dash", "é"])
def test_a_scenario_file_name_that_cannot_name_a_folder_is_refused(
    tmp_path: Path, stem: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / f"{stem}.yaml"
    path.write_bytes(dump(GOOD))
    assert main(["list", str(path)]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1, err
    assert "scenario file name" in err and str(path) in err


def test_a_long_case_id_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "claim.yaml"
    path.write_bytes(dump({**GOOD, "cases": [{**CASE, "id": "a" * 300}]}))
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert caught.value.field == "cases[0].id"


def test_a_long_host_name_is_refused(tmp_path: Path) -> None:
    long = "h" * (NAME_MAX_CHARS + 1)
    doc = copy.deepcopy(GOOD)
    hosts = doc["topology"]["hosts"]
    hosts[long] = hosts.pop("b")
    hosts["a"]["interfaces"]["eth0"]["link"] = f"{long}.eth0"
    doc["cases"] = [{**CASE, "probe": {"host": "a", "dst": "192.0.2.2"}}]
    path = tmp_path / "claim.yaml"
    path.write_bytes(dump(doc))
    with pytest.raises(ScenarioError, match=f"at most {NAME_MAX_CHARS}"):
        load_scenario(path)


@pytest.mark.parametrize("name", ["ok", "A.b_c-9", "x" * NAME_MAX_CHARS])
def test_check_name_accepts_plain_names(name: str) -> None:
    assert check_name(name) == name


def test_the_catalogue_keeps_to_the_rule() -> None:
    for path in (PROJECT_ROOT / "scenarios").rglob("*.yaml"):
        check_name(path.stem)


@pytest.mark.parametrize("value", [True, 3221225985, 1.5])
def test_an_address_written_as_a_number_is_refused(tmp_path: Path, value: object) -> None:
    """pydantic reads an int as an address: `dst: true` was 0.0.0.1, `3221225985` 192.0.2.1."""
    path = tmp_path / "claim.yaml"
    path.write_bytes(dump({**GOOD, "cases": [{**CASE, "probe": {"host": "a", "dst": value}}]}))
    with pytest.raises(ScenarioError, match="is not an address: write it as text") as caught:
        load_scenario(path)
    assert caught.value.field == "cases[0](one).probe.dst"
