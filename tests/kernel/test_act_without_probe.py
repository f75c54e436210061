"""An act without a probe only changes and observes (issue 21, item 1): the check of
the kernel selftest arp_ndisc_evict_nocarrier.sh, in our words: a neighbour entry is
evicted when its link loses carrier (arp_evict_nocarrier, 1 by default; neigh_carrier_down),
and kept when the sysctl is 0.  Each expectation is also shown failing on the other
side, so that a probe-less act cannot pass vacuously."""

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


def _case(evict: int, state: str) -> dict[str, Any]:
    return {
        "id": "evict",
        "title": "a resolves b, then b's end of the link goes down",
        "steps": [
            {
                "change": [
                    {"host": "a", "sysctl": {"net.ipv4.conf.eth0.arp_evict_nocarrier": evict}}
                ],
                "probe": {"host": "a", "dst": "192.0.2.2"},
                "expect": {"errno": "ok", "neighbours": {"a": {"192.0.2.2": "PRESENT"}}},
            },
            {
                "change": [{"host": "b", "link": "set eth0 down"}],
                "expect": {
                    "neighbours": {"a": {"192.0.2.2": state}},
                    "links": {"a": {"eth0": {"flags": ["NO-CARRIER"]}}},
                },
            },
        ],
    }


def _run(tmp_path: Path, case: dict[str, Any]) -> Any:
    document = {
        "claim": "A neighbour entry goes when its link loses carrier, unless told to stay.",
        "source": {"article": "tools/testing/selftests/net/arp_ndisc_evict_nocarrier.sh"},
        "topology": TOPOLOGY,
        "cases": [case],
    }
    path = tmp_path / "evict.yaml"
    path.write_text(yaml.safe_dump(document))
    scenario = load_scenario(path)
    return run_case(scenario, scenario.cases[0])


@pytest.mark.usefixtures("host_untouched")
@pytest.mark.parametrize(
    ("evict", "state", "verdict"),
    [(1, "ABSENT", "pass"), (0, "PRESENT", "pass"), (1, "PRESENT", "fail"), (0, "ABSENT", "fail")],
)
def test_an_act_that_only_changes_and_observes(
    tmp_path: Path, evict: int, state: str, verdict: str
) -> None:
    record = _run(tmp_path, _case(evict, state))
    assert record.verdict == verdict, record.message
    assert record.observed is not None and record.observed.acts[1].outcome.errno == "no probe"


@pytest.mark.usefixtures("host_untouched")
def test_an_inline_case_without_a_probe(tmp_path: Path) -> None:
    case = {
        "id": "static",
        "title": "a static entry, no probe",
        "change": [{"host": "a", "neigh": "add 192.0.2.50 lladdr 02:00:00:00:00:50 dev eth0"}],
        "expect": {"neighbours": {"a": {"192.0.2.50": "PERMANENT", "192.0.2.51": "ABSENT"}}},
    }
    record = _run(tmp_path, case)
    assert record.verdict == "pass", record.message
