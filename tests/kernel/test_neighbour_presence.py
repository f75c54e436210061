"""`neighbours: {HOST: {IP: PRESENT}}`: an entry in any state, as `ip neigh get` finds
one; ABSENT: none at all (issue 21, item 1).  Each is also shown to fail when the
kernel's table says otherwise, so neither can pass vacuously."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.case.runner import run_case
from harness.scenario import load_scenario
from tests.conftest import needs_root

pytestmark = [needs_root, pytest.mark.kernel]

TOPOLOGY = {
    "hosts": {
        "a": {"interfaces": {"eth0": {"link": "b.eth0", "addresses": ["192.0.2.1/24"]}}},
        "b": {"interfaces": {"eth0": {"link": "a.eth0", "addresses": ["192.0.2.2/24"]}}},
    }
}


def _run(tmp_path: Path, dst: str, neighbours: dict[str, str]) -> Any:
    document = {
        "claim": "A neighbour entry is present, in whatever state, after a send to it.",
        "source": {"article": "ip-neighbour(8)"},
        "topology": TOPOLOGY,
        "cases": [
            {
                "id": "one",
                "title": "a send, then the neighbour table",
                "probe": {"host": "a", "dst": dst},
                "expect": {"errno": "ok", "neighbours": {"a": neighbours}},
            }
        ],
    }
    path = tmp_path / "neigh.yaml"
    path.write_text(yaml.safe_dump(document))
    scenario = load_scenario(path)
    return run_case(scenario, scenario.cases[0])


@pytest.mark.usefixtures("host_untouched")
@pytest.mark.parametrize(
    ("dst", "neighbours", "verdict"),
    [
        # answered: REACHABLE; unanswered: INCOMPLETE or FAILED; both are present
        ("192.0.2.2", {"192.0.2.2": "PRESENT", "192.0.2.77": "ABSENT"}, "pass"),
        ("192.0.2.99", {"192.0.2.99": "PRESENT"}, "pass"),
        ("192.0.2.2", {"192.0.2.77": "PRESENT"}, "fail"),
        ("192.0.2.2", {"192.0.2.2": "ABSENT"}, "fail"),
    ],
)
def test_present_and_absent_whatever_the_state(
    tmp_path: Path, dst: str, neighbours: dict[str, str], verdict: str
) -> None:
    record = _run(tmp_path, dst, neighbours)
    assert record.verdict == verdict, record.message
