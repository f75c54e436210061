"""Pasted `ip ... show` output: read from real iproute2 output, and imported into a topology
whose built state is the state the dump shows.

The first test sets a namespace up with iproute2 itself, pastes what `ip` prints of
it (as a Q&A answer would) and checks what the dump reader makes of it; then the
imported topology is built and read back with `ip -j` and compared with the dump
(harness/importer/dump_check.py), for the listings in tests/listings/ that are
pure dumps and for the one just captured.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from harness.importer import import_listing
from harness.importer.dump_check import IP_READS, dump_differences
from harness.importer.dumps import read_dumps
from harness.importer.proof import prove
from harness.lab.builder import build
from harness.lab.netns import Lab, NetNS
from harness.scenario import Topology
from tests.conftest import ip_json, needs_root

pytestmark = [needs_root, pytest.mark.kernel]

LISTINGS = Path(__file__).parents[1] / "listings"
DUMPS = ["qa-ip-addr-route.txt", "qa-brief.txt", "qa-policy-routing.txt", "qa-ipv6.txt"]
SETTLE_DEADLINE_S = 5.0  # an IPv6 address's routes follow a moment after the address
# A machine's state, set up with iproute2 (documentation addresses: nothing is mapped).
SETUP = """
ip link set lo up
sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
ip link add eth0 type veth peer name eth1
ip link add br0 type bridge
ip link set eth1 master br0
ip link set eth0 mtu 1400 up
ip link set eth1 up
ip link set br0 up
ip addr add 192.0.2.10/24 brd + dev eth0
ip addr add 192.0.2.11/24 dev eth0
ip addr add 198.51.100.1/24 dev br0 label br0:1
ip addr add 2001:db8:1::10/64 dev eth0
ip route add default via 192.0.2.1 dev eth0 src 192.0.2.10 metric 100
ip route add 203.0.113.0/24 via 192.0.2.254 table 100
ip route add blackhole 198.18.0.0/16
ip route add unreachable 198.18.1.0/24 table 100
ip -6 route add default via fe80::1 dev eth0
ip -6 route add 2001:db8:99::/48 via 2001:db8:1::1
ip rule add from 192.0.2.0/24 lookup 100 pref 100
ip rule add fwmark 0x1 lookup 100 pref 99
ip rule add iif eth0 table 100 pref 200
ip -6 rule add from 2001:db8:1::/64 lookup 100 pref 300
ip neigh add 192.0.2.5 lladdr 02:00:00:00:00:05 dev eth0 nud permanent
ip neigh add 192.0.2.6 lladdr 02:00:00:00:00:06 dev eth0 nud stale
"""
SHOWN = [
    "ip addr show",
    "ip -br link",
    "ip route show table all",
    "ip -6 route",
    "ip rule show",
    "ip -6 rule",
    "ip neigh show",
]


def _run(ns: NetNS, script: str) -> str:
    done = subprocess.run(
        ["nsenter", f"--net={ns.path}", "sh", "-ec", script], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _captured() -> str:
    """What `ip` prints of SETUP's namespace, pasted as `# COMMAND` and its output."""
    with Lab("pasted") as lab:
        ns = lab.namespace("machine")
        _run(ns, SETUP)
        return "".join(f"# {command}\n{_run(ns, command)}" for command in SHOWN)


def _reads(ns: NetNS) -> dict[str, Any]:
    return {key: ip_json(ns, *args) for key, args in IP_READS.items()}


def _built_differences(text: str, name: str, topology: Topology | None = None) -> list[str]:
    result = import_listing(text, name)
    assert result.dump is not None
    with Lab("imported") as lab:
        build(lab, topology or result.topology)
        host = lab[result.host_names[""]]
        deadline = time.monotonic() + SETTLE_DEADLINE_S
        while True:
            found = dump_differences(result.dump, _reads(host))
            if not found or time.monotonic() > deadline:
                return found


def test_the_reader_reads_what_iproute2_prints(host_untouched: None) -> None:
    state = read_dumps(_captured())
    assert [b.kind for b in state.blocks] == [
        "address", "link", "route", "route", "rule", "rule", "neighbour",
    ]  # fmt: skip
    assert state.entries == []
    links = state.links
    assert (links["eth0"].at, links["eth0"].mtu, links["eth0"].up) == ("eth1", 1400, True)
    assert (links["eth1"].master, links["br0"].master) == ("br0", None)
    shown = {(a.dev, str(a.iface), a.label) for a in state.addresses}
    assert {
        ("eth0", "192.0.2.10/24", None),
        ("eth0", "192.0.2.11/24", None),
        ("br0", "198.51.100.1/24", "br0:1"),
        ("eth0", "2001:db8:1::10/64", None),
    } <= shown
    secondary = [a for a in state.addresses if str(a.iface) == "192.0.2.11/24"]
    assert secondary[0].flags == {"secondary"}
    routes = {(r.family, r.table, r.kind, r.dst) for r in state.routes}
    assert {
        (4, "main", "unicast", "default"),
        (4, "100", "unicast", "203.0.113.0/24"),
        (4, "main", "blackhole", "198.18.0.0/16"),
        (4, "100", "unreachable", "198.18.1.0/24"),
        (4, "local", "local", "192.0.2.10"),
        (6, "main", "unicast", "default"),
        (6, "main", "unicast", "2001:db8:99::/48"),
    } <= routes
    rules = {(r.family, r.pref, " ".join(r.words)) for r in state.rules}
    assert {
        (4, 99, "from all fwmark 0x1 lookup 100"),
        (4, 100, "from 192.0.2.0/24 lookup 100"),
        (4, 200, "from all iif eth0 lookup 100"),
        (6, 300, "from 2001:db8:1::/64 lookup 100"),
    } <= rules
    neighbours = {(n.address, n.state) for n in state.neighbours}
    assert neighbours == {("192.0.2.5", "PERMANENT"), ("192.0.2.6", "STALE")}


def test_a_captured_dump_imports_into_the_state_it_shows(host_untouched: None) -> None:
    """The machine's own state, pasted, gives a topology whose built host shows the same;
    the veth pair and the bridge are made (the dump names them), the STALE entry is not."""
    text = _captured()
    result = import_listing(text, "captured")
    unsupported = [(e.line, e.reason) for e in result.entries if e.outcome == "unsupported"]
    assert unsupported == []
    host = result.document["hosts"]["host"]
    assert host["interfaces"]["eth0"]["link"] == "host.eth1"
    assert host["interfaces"]["br0"]["kind"] == "bridge"
    assert host["neighbours"] == ["192.0.2.5 lladdr 02:00:00:00:00:05 dev eth0 nud permanent"]
    assert _built_differences(text, "captured") == []


@pytest.mark.parametrize("listing", DUMPS)
def test_an_imported_dump_builds_the_state_it_shows(host_untouched: None, listing: str) -> None:
    found = _built_differences((LISTINGS / listing).read_text(), listing)
    assert found == EXPECTED_DIFFERENCES[listing]


# What a topology cannot say yet, each named by the comparison (nothing else may differ).
EXPECTED_DIFFERENCES: dict[str, list[str]] = {
    "qa-brief.txt": [],
    "qa-policy-routing.txt": [],
    "qa-ipv6.txt": [],
    "qa-ip-addr-route.txt": [
        # NetworkManager's `noprefixroute` address comes with its own prefix route (metric
        # 100); a topology's address makes the kernel's (no metric).
        "IPv4 route 192.0.2.0/24 dev eth0 src 192.0.2.20 table main metric 100:"
        " the dump shows it, the namespace lacks it",
        "IPv4 route 192.0.2.0/24 dev eth0 src 192.0.2.20 table main metric 0:"
        " the namespace has it, the dump does not",
    ],
}


def test_the_comparison_sees_a_route_the_topology_lacks(host_untouched: None) -> None:
    """dump_differences is not blind: the policy-routing topology without its table-100
    default route differs from the dump in exactly that route."""
    listing = "qa-policy-routing.txt"
    text = (LISTINGS / listing).read_text()
    result = import_listing(text, listing)
    document = {"hosts": {"host": dict(result.document["hosts"]["host"])}}
    routes = document["hosts"]["host"]["routes"]
    document["hosts"]["host"]["routes"] = [r for r in routes if not r.startswith("default via 198")]
    found = _built_differences(text, listing, Topology.model_validate(document))
    assert found == [
        "IPv4 route default via 198.51.100.1 dev eth1 table 100 metric 0:"
        " the dump shows it, the namespace lacks it"
    ]


def test_the_proof_compares_a_pasted_dump_with_what_it_built(host_untouched: None) -> None:
    """`harness import` refuses a dump whose state the topology does not build: the
    replay of the commands made from it agrees, the dump itself does not (NetworkManager's
    metric-100 prefix route)."""
    listing = "qa-ip-addr-route.txt"
    result = import_listing((LISTINGS / listing).read_text(), listing)
    proof = prove(result)
    said = [str(d) for d in proof.differences if d.what == "dump"]
    assert any("metric 100: the dump shows it, the namespace lacks it" in s for s in said)
    assert not proof.proven
