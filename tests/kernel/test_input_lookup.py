"""A probe's `iif`: the act's recorded lookup is the kernel's input lookup, asked as
`ip route get DST from SRC iif DEV` asks it (issue 21, fib_rule_tests.sh's iif checks).

The twin: in one lab, the harness's recorded lookup for each probe; beside it, in the
same namespace, `ip -j route get` with the same keys; table, device, gateway (or the
error) must be the same.  The rules send each selector's lookups to a table of its own,
so the table names the rule that matched.

    h1 eth0 198.51.100.1/24 2001:db8:1::1/64 ---- h2 eth0 198.51.100.2/24 2001:db8:1::2/64
    h1 tables 100..104: default via the gateway dev eth0 onlink
    h1 rules: from 198.51.100.3 iif eth0 lookup 100   -6 from 2001:db8:1::3 iif eth0 lookup 100
              tos 0x10 lookup 101                      -6 tos 0x10 lookup 101
              fwmark 0x64 lookup 102                   -6 fwmark 0x64 lookup 102
              ipproto tcp dport 777 lookup 103         -6 ipproto tcp dport 777 lookup 103
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.case.kernel_state import route_get
from harness.case.runner import run_case
from harness.core.evidence import RouteLookup
from harness.lab.builder import build
from harness.lab.netlink_ip import TopologyError, rule
from harness.lab.netns import Lab, NetNS
from harness.scenario import Probe, Topology, load_scenario
from harness.scenario.ipsyntax import parse_rule, parse_verb
from tests.conftest import needs_root

pytestmark = [needs_root, pytest.mark.kernel]

GW = {4: "198.51.100.2", 6: "2001:db8:1::2"}
SRC = {4: "198.51.100.3", 6: "2001:db8:1::3"}
TABLES = (100, 101, 102, 103, 104)


def _topology(forwarding: bool) -> dict[str, Any]:
    h1: dict[str, Any] = {
        "interfaces": {
            "eth0": {"link": "h2.eth0", "addresses": ["198.51.100.1/24", "2001:db8:1::1/64"]}
        },
        "routes": [
            f"default via {GW[v]} dev eth0 onlink table {t}" for t in TABLES for v in (4, 6)
        ],
    }
    if forwarding:
        # ip_route_input_slow: a packet not for this host is routed only where the
        # interface forwards (else EHOSTUNREACH); the script sets the same.
        h1["sysctls"] = {"net.ipv4.ip_forward": 1}
    return {
        "hosts": {
            "h1": h1,
            "h2": {
                "interfaces": {
                    "eth0": {
                        "link": "h1.eth0",
                        "addresses": ["198.51.100.2/24", "2001:db8:1::2/64"],
                    }
                }
            },
        }
    }


RULES = [
    "add from 198.51.100.3 iif eth0 lookup 100",
    "add -6 from 2001:db8:1::3 iif eth0 lookup 100",
    "add tos 0x10 lookup 101",
    "add -6 tos 0x10 lookup 101",
    "add fwmark 0x64 lookup 102",
    "add -6 fwmark 0x64 lookup 102",
    "add ipproto tcp dport 777 lookup 103",
    "add -6 ipproto tcp dport 777 lookup 103",
]
# Probe fields beside host/dst/src/iif, and the `ip route get` words that ask the same.
QUERIES: list[tuple[dict[str, Any], list[str]]] = [
    ({}, ["ipproto", "udp", "dport", "9000"]),
    ({"iif": "lo"}, ["ipproto", "udp", "dport", "9000"]),
    ({"tos": 0x10}, ["tos", "0x10", "ipproto", "udp", "dport", "9000"]),
    ({"tos": 0x13}, ["tos", "0x13", "ipproto", "udp", "dport", "9000"]),
    ({"tos": 0x20}, ["tos", "0x20", "ipproto", "udp", "dport", "9000"]),
    ({"mark": 0x64}, ["mark", "0x64", "ipproto", "udp", "dport", "9000"]),
    ({"proto": "tcp", "port": 777}, ["ipproto", "tcp", "dport", "777"]),
    (
        {"proto": "tcp", "port": 777, "sport": 666},
        ["ipproto", "tcp", "sport", "666", "dport", "777"],
    ),
    ({"proto": "icmp"}, ["ipproto", "{icmp}"]),
]


def _probe(version: int, fields: dict[str, Any], src: str | None = None) -> Probe:
    return Probe.model_validate(
        {"host": "h1", "dst": GW[version], "src": src or SRC[version], "iif": "eth0", **fields}
    )


def _ip_route_get(ns: NetNS, binary: str, version: int, words: list[str]) -> Any:
    """`ip -j route get` in the lab's namespace; its error line when the kernel refuses."""
    done = subprocess.run(
        ["nsenter", f"--net={ns.path}", binary, "-j", f"-{version}", "route", "get", *words],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        return done.stderr.strip()
    return json.loads(done.stdout)[0]


def _same(mine: RouteLookup, theirs: Any, words: list[str]) -> None:
    if isinstance(theirs, str):
        assert mine.error is not None, (words, theirs, mine)
        # iproute2 prints strerror(): "RTNETLINK answers: No route to host"
        assert mine.error.split(": ", 1)[1] in theirs, (words, theirs, mine)
        return
    assert mine.error is None, (words, theirs, mine)
    # iproute2 prints the table only where it is not main (print_route)
    assert str(mine.table) == str(theirs.get("table", 254)), (words, theirs, mine)
    assert mine.dev == theirs.get("dev"), (words, theirs, mine)
    assert mine.gateway == theirs.get("gateway"), (words, theirs, mine)
    assert theirs.get("iif") == words[words.index("iif") + 1], (words, theirs)


def _lookups(forwarding: bool) -> list[tuple[RouteLookup, Any, list[str]]]:
    """(recorded lookup, `ip -j route get`'s answer, its words) for every query."""
    seen = []
    with Lab("iif") as lab:
        net = build(lab, Topology.model_validate(_topology(forwarding)), ipv6=True)
        for line in RULES:
            verb, rest = parse_verb(line, ("add", "del"))
            rule(lab["h1"], verb, parse_rule(rest))
        for version in (4, 6):
            icmp = "ipv6-icmp" if version == 6 else "icmp"
            for fields, words in QUERIES:
                asked = [w.replace("{icmp}", icmp) for w in words]
                full = [GW[version], "from", SRC[version], "iif", fields.get("iif", "eth0")]
                full += asked
                mine = route_get(net, _probe(version, fields))
                seen.append((mine, _ip_route_get(lab["h1"], "ip", version, full), full))
    return seen


@pytest.mark.usefixtures("host_untouched")
def test_input_lookup_is_ip_route_get_iif() -> None:
    lookups = _lookups(forwarding=True)
    for mine, theirs, words in lookups:
        _same(mine, theirs, words)
    tables = {" ".join(words): mine.table for mine, _, words in lookups}
    # The rules did select: each selector's lookups went to its own table.
    assert tables["198.51.100.2 from 198.51.100.3 iif eth0 ipproto udp dport 9000"] == 100
    assert tables["198.51.100.2 from 198.51.100.3 iif lo ipproto udp dport 9000"] == 254
    assert tables["2001:db8:1::2 from 2001:db8:1::3 iif lo ipproto udp dport 9000"] == 254
    assert tables["2001:db8:1::2 from 2001:db8:1::3 iif eth0 ipproto udp dport 9000"] == 100


@pytest.mark.usefixtures("host_untouched")
def test_ipv4_input_lookup_without_forwarding_is_the_kernel_s_ehostunreach() -> None:
    """Not a mistake of the scenario but the kernel's answer (ip_route_input_slow: no
    forwarding on the interface, EHOSTUNREACH), stated by `route: {error: ...}`."""
    lookups = _lookups(forwarding=False)
    for mine, theirs, words in lookups:
        _same(mine, theirs, words)
    v4 = [mine for mine, _, words in lookups if words[0] == GW[4]]
    assert v4 and all(mine.error_name == "EHOSTUNREACH" for mine in v4)
    # IPv6's input lookup is a FIB lookup whatever the forwarding (ip6_route_input_lookup)
    assert all(mine.error is None for mine, _, words in lookups if words[0] == GW[6])


def _ip_knows_flowlabel() -> str | None:
    """An `ip` whose `route get` takes `flowlabel`: $IPROUTE2_IP or the host's."""
    binary = os.environ.get("IPROUTE2_IP") or shutil.which("ip") or "ip"
    usage = subprocess.run([binary, "route", "get", "help"], capture_output=True, text=True)
    return binary if "flowlabel" in usage.stderr else None


@pytest.mark.usefixtures("host_untouched")
def test_flowlabel_of_the_arriving_packet() -> None:
    """`-6 flowlabel 0xfffff` selects the input lookup of a packet with that label only;
    beside `ip -j route get ... flowlabel` where this `ip` knows the word."""
    binary = _ip_knows_flowlabel()
    with Lab("flowlabel") as lab:
        net = build(lab, Topology.model_validate(_topology(True)), ipv6=True)
        try:
            rule(lab["h1"], "add", parse_rule("-6 flowlabel 0xfffff lookup 104"))
        except TopologyError as exc:
            pytest.skip(f"this kernel predates FRA_FLOWLABEL (6.15): {exc}")
        for label, table in ((0xFFFFF, 104), (0xF, 254)):
            mine = route_get(net, _probe(6, {"flowlabel": label}))
            assert mine.table == table, mine
            assert f"flowlabel {label:#x}" in mine.query
            if binary is not None:
                words = [GW[6], "from", SRC[6], "iif", "eth0", "ipproto", "udp"]
                words += ["dport", "9000", "flowlabel", hex(label)]
                _same(mine, _ip_route_get(lab["h1"], binary, 6, words), words)


@pytest.mark.usefixtures("host_untouched")
def test_a_case_states_the_input_lookup(tmp_path: Path) -> None:
    """The scenario words: a probe's `iif` and `src`, and `route:` compares the input
    lookup (and a wrong table fails)."""
    document = {
        "claim": "A rule `from SRC iif DEV` selects the input lookup of a packet from SRC on DEV.",
        "source": {"article": "fib_rule_tests.sh (kernel selftest)"},
        "topology": _topology(True),
        "cases": [
            {
                "id": f"iif-{table}",
                "title": "the rule's table answers the input lookup",
                "change": [{"host": "h1", "rule": "add from 198.51.100.3 iif eth0 lookup 100"}],
                "probe": {"host": "h1", "dst": GW[4], "src": SRC[4], "iif": "eth0"},
                "expect": {"route": {"table": table, "gateway": GW[4], "dev": "eth0"}},
            }
            for table in (100, 254)
        ],
    }
    path = tmp_path / "iif.yaml"
    path.write_text(yaml.safe_dump(document))
    scenario = load_scenario(path)
    verdicts = [run_case(scenario, case) for case in scenario.cases]
    assert [r.verdict for r in verdicts] == ["pass", "fail"], [r.message for r in verdicts]
    assert verdicts[0].observed is not None
    route = verdicts[0].observed.acts[0].route
    assert route is not None and "src 198.51.100.3 iif eth0" in route.query
