"""A probe's owner (`uid`) and ports meet the `ip rule` selectors that match them
(uidrange, sport, dport, ipproto): the rule steers the probe's own socket to another
table, seen on the wire (the egress interface) and in the kernel's answer (ENETUNREACH);
and the socket's owner is checked independently, with `ss` (issue 21, items 1 and 2).

    a: eth0 192.0.2.1/24   --veth-- b: eth0 192.0.2.2/24     main: default via b
       eth1 198.51.100.1/24 --veth-- c: eth0 198.51.100.2/24  table 100: default via c
       rules: uidrange 1000-1999 lookup 100; ipproto udp sport 5000-5010 lookup 100;
              dport 7000 unreachable (the rule's action: ENETUNREACH, fib_rules
              FR_ACT_UNREACHABLE; an `unreachable` route would answer EHOSTUNREACH)
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.case.runner import run_case
from harness.lab.builder import build
from harness.lab.netns import Lab
from harness.lab.network import Network
from harness.lab.probes import open_sender
from harness.scenario import Probe, Topology, load_scenario
from tests.conftest import needs_root

pytestmark = [needs_root, pytest.mark.kernel]

TOPOLOGY: dict[str, Any] = {
    "hosts": {
        "a": {
            "interfaces": {
                "eth0": {"link": "b.eth0", "addresses": ["192.0.2.1/24"]},
                "eth1": {"link": "c.eth0", "addresses": ["198.51.100.1/24"]},
            },
            "routes": [
                "default via 192.0.2.2",
                "default via 198.51.100.2 table 100",
            ],
            "rules": [
                "uidrange 1000-1999 lookup 100",
                "ipproto udp sport 5000-5010 lookup 100",
                "dport 7000 unreachable",
            ],
        },
        "b": {
            "interfaces": {"eth0": {"link": "a.eth0", "addresses": ["192.0.2.2/24"]}},
            "routes": ["default via 192.0.2.1"],
        },
        "c": {
            "interfaces": {"eth0": {"link": "a.eth1", "addresses": ["198.51.100.2/24"]}},
            "routes": ["default via 198.51.100.1"],
        },
    }
}
FAR = "203.0.113.9"


def _case(case_id: str, probe: dict[str, Any], expect: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": case_id,
        "title": case_id,
        "probe": {"host": "a", "dst": FAR, **probe},
        "expect": expect,
    }


CASES = [
    _case("root-takes-main", {}, {"errno": "ok", "egress": "eth0", "route": {"table": 254}}),
    _case(
        "uid-in-range", {"uid": 1500}, {"errno": "ok", "egress": "eth1", "route": {"table": 100}}
    ),
    _case("uid-out-of-range", {"uid": 2000}, {"errno": "ok", "egress": "eth0"}),
    _case("tcp-uid-in-range", {"proto": "tcp", "uid": 1000}, {"egress": "eth1"}),
    _case("ping-uid-in-range", {"proto": "icmp", "uid": 1999}, {"egress": "eth1"}),
    _case(
        "sport-in-range",
        {"sport": 5005},
        {"errno": "ok", "egress": "eth1", "route": {"table": 100}},
    ),
    _case("tcp-sport-not-udp", {"proto": "tcp", "sport": 5005}, {"egress": "eth0"}),
    _case(
        "dport-unreachable",
        {"port": 7000},
        {"errno": "ENETUNREACH", "route": {"error": "ENETUNREACH"}},
    ),
]


@pytest.mark.usefixtures("host_untouched")
@pytest.mark.parametrize("case_id", [c["id"] for c in CASES])
def test_rules_steer_the_probe_by_owner_and_port(tmp_path: Path, case_id: str) -> None:
    path = tmp_path / "steer.yaml"
    document = {
        "claim": "uidrange, sport and dport rules steer a socket by its owner and ports.",
        "source": {"article": "iproute2 ip-rule(8)"},
        "topology": TOPOLOGY,
        "cases": CASES,
    }
    path.write_text(yaml.safe_dump(document))
    scenario = load_scenario(path)
    case = next(c for c in scenario.cases if c.id == case_id)
    record = run_case(scenario, case)
    assert record.verdict == "pass", record.message


@pytest.mark.usefixtures("host_untouched")
@pytest.mark.parametrize("proto", ["udp", "tcp", "icmp"])
def test_the_socket_belongs_to_the_probe_s_uid(proto: str) -> None:
    """The kernel lists the socket under the probe's uid (sock_i_uid), and the harness's
    own thread is root again afterwards."""
    with Lab("owner") as lab:
        net: Network = build(lab, Topology.model_validate(TOPOLOGY))
        probe = Probe.model_validate(
            {"host": "a", "dst": FAR, "proto": proto, "uid": 1234, "sport": 5001}
        )
        sock = open_sender(net, probe)
        if proto == "tcp":
            sock.listen(1)  # /proc/net/tcp lists a TCP socket once it is hashed
        # /proc/net/{udp,tcp,icmp} as the kernel lists the namespace's sockets: the
        # local port in hex (for a ping socket its id), the owner in the eighth column.
        table = subprocess.run(
            ["nsenter", f"--net={lab['a'].path}", "cat", f"/proc/net/{proto}"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.splitlines()[1:]
        owners = [row.split()[7] for row in table if row.split()[1].endswith(":1389")]
        assert owners == ["1234"], table
        assert sock.fileno() >= 0
        assert os.getresuid() == (0, 0, 0)
        with open("/proc/thread-self/status") as status:  # Uid: and Gid: lines, fsuid too
            assert status.read().count("\t0\t0\t0\t0\n") == 2
