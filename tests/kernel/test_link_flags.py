"""Link flags are named and ordered as `ip link` prints them, NO-CARRIER included
(iproute2 ip/ipaddress.c print_link_flags), and expectations take those names
(issue 21, item 1).  The twin: the harness's record of every link beside `ip -j link`."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from harness.case.kernel_state import link_states
from harness.case.runner import run_case
from harness.lab.builder import build
from harness.lab.netns import Lab
from harness.scenario import Topology, load_scenario
from tests.conftest import ip_json, needs_root

pytestmark = [needs_root, pytest.mark.kernel]

TOPOLOGY = {
    "hosts": {
        "a": {
            "interfaces": {
                "eth0": {"link": "b.eth0", "addresses": ["192.0.2.1/24"]},
                "eth1": {"link": "c.eth0", "addresses": ["198.51.100.1/24"]},
                "br0": {"kind": "bridge"},
                "tun0": {"kind": "tun", "addresses": ["198.18.1.1/24"]},
                "mv0": {"kind": "macvlan", "parent": "eth0", "addresses": ["192.0.2.3/24"]},
            }
        },
        "b": {"interfaces": {"eth0": {"link": "a.eth0", "addresses": ["192.0.2.2/24"]}}},
        "c": {
            "interfaces": {
                "eth0": {"link": "a.eth1", "addresses": ["198.51.100.2/24"], "up": False}
            }
        },
    }
}


@pytest.mark.usefixtures("host_untouched")
def test_link_flags_as_ip_link_prints_them() -> None:
    with Lab("flags") as lab:
        net = build(lab, Topology.model_validate(TOPOLOGY))
        recorded = link_states(net)
        for host in TOPOLOGY["hosts"]:
            theirs = {link["ifname"]: link["flags"] for link in ip_json(lab[host], "link", "show")}
            mine = {name: attrs.flags for name, attrs in recorded[host].items()}
            assert mine == theirs, host
        assert "NO-CARRIER" in recorded["a"]["eth1"].flags  # its peer is down


@pytest.mark.usefixtures("host_untouched")
@pytest.mark.parametrize(
    ("links", "verdict"),
    [
        ({"eth1": {"flags": ["NO-CARRIER", "UP"], "without_flags": ["LOWER_UP"]}}, "pass"),
        ({"eth0": {"flags": ["UP", "LOWER_UP"], "without_flags": ["NO-CARRIER"]}}, "pass"),
        ({"eth1": {"flags": ["LOWER_UP"]}}, "fail"),
        ({"eth0": {"flags": ["NO-CARRIER"]}}, "fail"),
    ],
)
def test_link_expectations_take_ip_link_s_flag_names(
    tmp_path: Path, links: dict[str, object], verdict: str
) -> None:
    document = {
        "claim": "A veth whose peer is down has no carrier.",
        "source": {"article": "ip-link(8)"},
        "topology": TOPOLOGY,
        "cases": [
            {
                "id": "one",
                "title": "a send, then the links",
                "probe": {"host": "a", "dst": "192.0.2.2"},
                "expect": {"errno": "ok", "links": {"a": links}},
            }
        ],
    }
    path = tmp_path / "flags.yaml"
    path.write_text(yaml.safe_dump(document))
    scenario = load_scenario(path)
    record = run_case(scenario, scenario.cases[0])
    assert record.verdict == verdict, record.message
