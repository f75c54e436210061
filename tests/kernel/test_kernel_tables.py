"""The rules a case's record holds say their family, as `ip -6 rule` does (issue 21,
item 3: `harness show` listed IPv4 and IPv6 rules in one list without it)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from harness.case.runner import run_case
from harness.outputs.report import render_case_text
from harness.scenario import load_scenario
from tests.conftest import needs_root

SCENARIO = {
    "claim": "A rule of each family is shown with its family.",
    "source": {"article": "x"},
    "topology": {
        "hosts": {
            "a": {
                "interfaces": {
                    "eth0": {"link": "b.eth0", "addresses": ["192.0.2.1/24", "2001:db8::1/64"]}
                },
                "rules": ["from 192.0.2.1 lookup 100", "from 2001:db8::1 lookup 101"],
            },
            "b": {
                "interfaces": {
                    "eth0": {"link": "a.eth0", "addresses": ["192.0.2.2/24", "2001:db8::2/64"]}
                }
            },
        }
    },
    "cases": [
        {
            "id": "one",
            "title": "a probe, to record a's tables",
            "probe": {"host": "a", "dst": "192.0.2.2"},
            "expect": {"errno": "ok"},
        }
    ],
}


@needs_root
@pytest.mark.kernel
@pytest.mark.usefixtures("host_untouched")
def test_rules_say_their_family(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(SCENARIO))
    scenario = load_scenario(path)
    record = run_case(scenario, scenario.cases[0])
    assert record.verdict == "pass", record.message
    assert record.observed is not None
    rules = record.observed.acts[0].tables["a"].rules
    assert "32765: from 192.0.2.1 lookup 100" in rules
    assert "-6 32765: from 2001:db8::1 lookup 101" in rules
    assert "-6 0: from all lookup local" in rules and "0: from all lookup local" in rules
    shown = render_case_text(record)
    assert "-6 32765: from 2001:db8::1 lookup 101" in shown
