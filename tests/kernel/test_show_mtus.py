"""`harness show` (render_case_text) prints link MTUs: those the topology sets, and every
link's MTU after each act of a case that sets one, read from the kernel (issue 21, item 3).
The twin: the MTU shown is the one `ip link` reads in a lab built the same way."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from harness.case.runner import run_case
from harness.lab.builder import build
from harness.lab.netns import Lab
from harness.outputs.report import render_case_text
from harness.scenario import Topology, load_scenario
from tests.conftest import ip_json, needs_root

pytestmark = [needs_root, pytest.mark.kernel]

TOPOLOGY = {
    "hosts": {
        "a": {
            "interfaces": {"eth0": {"link": "b.eth0", "addresses": ["192.0.2.1/24"], "mtu": 1400}}
        },
        "b": {"interfaces": {"eth0": {"link": "a.eth0", "addresses": ["192.0.2.2/24"]}}},
    }
}


@pytest.mark.usefixtures("host_untouched")
def test_show_prints_link_mtus(tmp_path: Path) -> None:
    document = {
        "claim": "A link's MTU is what `ip link set` made it.",
        "source": {"article": "ip-link(8)"},
        "topology": TOPOLOGY,
        "cases": [
            {
                "id": "mtu",
                "title": "b's MTU lowered, then a send",
                "change": [{"host": "b", "link": "set eth0 mtu 1300"}],
                "probe": {"host": "a", "dst": "192.0.2.2"},
                "expect": {"errno": "ok"},
            }
        ],
    }
    path = tmp_path / "mtu.yaml"
    path.write_text(yaml.safe_dump(document))
    scenario = load_scenario(path)
    shown = render_case_text(run_case(scenario, scenario.cases[0]))
    with Lab("twin") as lab:
        build(lab, Topology.model_validate(TOPOLOGY))
        a_mtu = {link["ifname"]: link["mtu"] for link in ip_json(lab["a"], "link", "show")}
    assert "192.0.2.1/24  mtu 1400" in shown
    assert f"after probe 1, a link MTUs: lo {a_mtu['lo']}, eth0 {a_mtu['eth0']}" in shown
    assert "after probe 1, b link MTUs: lo 65536, eth0 1300" in shown
