"""Pasted `ip ... show` output: which lines are dumps, and the commands made from them.

The parser's reading of iproute2's real output is checked against a namespace in
tests/kernel/test_dumps.py; here, the four Q&A listings of tests/listings/ and the
shapes a paste takes (no command line, a script, commands before the dump).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from harness.importer import ImportFailure, import_listing
from harness.importer.dumps import MAX_DUMP_LINES, find_blocks, read_dumps
from harness.scenario.link_kinds import IP_LINK_KINDS

LISTINGS = Path(__file__).parents[1] / "listings"


def _synthesized(listing: str) -> list[tuple[int, str]]:
    result = import_listing((LISTINGS / listing).read_text(), listing)
    return [(c.line, " ".join(c.words)) for c in result.synthesized]


def test_addr_and_route_with_prompts() -> None:
    assert _synthesized("qa-ip-addr-route.txt") == [
        (11, "ip link set dev eth0 up"),
        (18, "ip link set dev eth1 mtu 9000 up"),
        (22, "ip link set dev eth2 down"),
        (14, "ip addr add 192.168.1.20/24 dev eth0"),
        (20, "ip addr add 10.10.0.5/16 dev eth1"),
        (25, "ip route add default via 192.168.1.1 dev eth0 metric 100"),
        (27, "ip route add 10.20.0.0/16 via 10.10.0.1 dev eth1"),
    ]


def test_brief_and_short_commands() -> None:
    assert _synthesized("qa-brief.txt") == [
        (5, "ip link set dev ens3 up"),
        (6, "ip link set dev ens4 up"),
        (5, "ip addr add 172.16.5.10/24 dev ens3"),
        (6, "ip addr add 172.16.6.10/24 dev ens4"),
        (8, "ip route add default via 172.16.5.1 dev ens3"),
        (11, "ip route add 172.16.100.0/24 via 172.16.6.1 dev ens4"),
    ]


def test_rules_a_table_and_neighbours() -> None:
    """The table comes from the command line; the addresses from the kernel's routes
    (no `ip addr` is pasted); default rules and learnt neighbours are not set up."""
    assert _synthesized("qa-policy-routing.txt") == [
        (15, "ip addr add 10.1.1.2/24 dev eth0"),
        (16, "ip addr add 10.1.2.2/24 dev eth1"),
        (12, "ip route add 10.1.2.0/24 dev eth1 table 100"),
        (11, "ip route add default via 10.1.2.1 dev eth1 table 100"),
        (14, "ip route add default via 10.1.1.1 dev eth0"),
        (6, "ip rule add pref 100 from 10.1.2.0/24 lookup 100"),
        (7, "ip rule add pref 110 fwmark 0x2 lookup 100"),
        (19, "ip neigh add 10.1.2.1 lladdr 00:11:22:33:44:02 dev eth1 nud permanent"),
    ]
    result = import_listing((LISTINGS / "qa-policy-routing.txt").read_text())
    ignored = {(e.line, e.reason) for e in result.entries if e.outcome == "ignored"}
    assert (18, "learnt by the kernel (REACHABLE): not set up") in ignored
    assert (5, "a default rule (every namespace has it)") in ignored


def test_ipv6_router_advertisement() -> None:
    assert _synthesized("qa-ipv6.txt") == [
        (7, "ip link set dev eth0 up"),
        (8, "ip addr add 2a01:4f8:c0c:1234::2/64 dev eth0"),
        (15, "ip -6 route add 2a01:4f8:c0c:9999::/64 via 2a01:4f8:c0c:1234::1 dev eth0"),
        (17, "ip -6 route add default via fe80::1 dev eth0"),
    ]
    result = import_listing((LISTINGS / "qa-ipv6.txt").read_text())
    said = {(e.line, e.outcome, e.reason) for e in result.entries}
    assert (17, "note", "learnt from a router advertisement: set up as a static route") in said
    assert (17, "partly", "left out: hoplimit 64") in said
    assert result.document["hosts"]["host"]["routes"] == [
        "2001:db8:0:9999::/64 via 2001:db8:0:1234::1 dev eth0",
        "default via fe80::1 dev eth0",
    ]


def test_output_without_its_command_line() -> None:
    """Route lines alone are known by their shape; the report points at them."""
    text = (
        "default via 10.0.0.1 dev eth0\n10.0.0.0/24 dev eth0 proto kernel scope link src 10.0.0.7\n"
    )
    result = import_listing(text)
    assert [(c.line, " ".join(c.words)) for c in result.synthesized] == [
        (2, "ip addr add 10.0.0.7/24 dev eth0"),
        (1, "ip route add default via 10.0.0.1 dev eth0"),
    ]
    assert result.document["hosts"]["host"]["routes"] == ["default via 192.0.2.1 dev eth0"]


def test_a_script_goes_on_after_a_show_command() -> None:
    """`ip route show` in a script, with no output after it: the next lines are commands."""
    text = (
        "ip addr add 10.0.0.7/24 dev eth0\nip route show\nip route add 10.9.0.0/16 via 10.0.0.1\n"
    )
    result = import_listing(text)
    assert result.synthesized == []
    assert result.document["hosts"]["host"]["routes"] == ["198.18.0.0/16 via 192.0.2.1"]


def test_a_dump_after_the_commands_that_made_it() -> None:
    """What the dump shows again is not set up twice (nor reported as File exists)."""
    text = (
        "$ sudo ip addr add 10.0.0.7/24 dev eth0\n"
        "$ sudo ip route add 10.9.0.0/16 via 10.0.0.1\n"
        "$ ip -4 a\n"
        "2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP\n"
        "    inet 10.0.0.7/24 brd 10.0.0.255 scope global eth0\n"
        "$ ip r\n"
        "10.0.0.0/24 dev eth0 proto kernel scope link src 10.0.0.7\n"
        "10.9.0.0/16 via 10.0.0.1 dev eth0\n"
    )
    result = import_listing(text)
    assert not [e for e in result.entries if e.outcome == "unsupported"]
    host = result.document["hosts"]["host"]
    assert host["interfaces"]["eth0"]["addresses"] == ["192.0.2.7/24"]
    assert host["routes"] == ["198.18.0.0/16 via 192.0.2.1"]
    already = [e.line for e in result.entries if e.reason.startswith("set up already")]
    assert already == [5, 8]


def test_links_the_dump_shows_are_made() -> None:
    """veth0@veth1 and veth1@veth0: a pair; a master: a bridge; eth0@if5: a veth whose
    peer the dump does not show, taken as a NIC; eth0.10@eth0: a VLAN, which the harness
    does not make: reported, and never taken as a NIC of that name."""
    text = (
        "# ip link show\n"
        "2: eth0@if5: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP\n"
        "3: veth0@veth1: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 master br0 state UP\n"
        "4: veth1@veth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP\n"
        "5: br0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP\n"
        "6: eth0.10@eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP\n"
    )
    result = import_listing(text)
    interfaces = result.document["hosts"]["host"]["interfaces"]
    assert interfaces["veth0"] == {"link": "host.veth1", "master": "br0"}
    assert interfaces["br0"] == {"kind": "bridge"}
    assert "eth0.10" not in interfaces
    assert "lan" in interfaces["eth0"]
    unsupported = [(e.line, e.reason) for e in result.entries if e.outcome == "unsupported"]
    assert unsupported == [(6, f"a vlan: the harness makes {', '.join(sorted(IP_LINK_KINDS))}")]
    notes = {e.line: e.reason for e in result.entries if e.outcome == "note"}
    assert "a veth whose peer is in a namespace the dump does not show" in notes[2]


def test_a_huge_dump_is_refused_quickly() -> None:
    text = "".join(
        f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255} dev eth0\n" for i in range(MAX_DUMP_LINES + 1)
    )
    start = time.monotonic()
    with pytest.raises(ImportFailure, match="lines of `ip` output"):
        import_listing(text)
    assert time.monotonic() - start < 10


def test_blocks_by_command_and_by_shape() -> None:
    text = (
        "$ ip -6 route show table 100\n"
        "2001:db8::/64 dev eth0 metric 1024 pref medium\n"
        "\n"
        "0:\tfrom all lookup local\n"
        "10.0.0.9 dev eth0 lladdr 00:11:22:33:44:55 STALE\n"
    )
    blocks = [(b.kind, b.command, b.first, b.last, b.family, b.table) for b in find_blocks(text)]
    assert blocks == [
        ("route", 1, 2, 2, 6, "100"),
        ("rule", None, 4, 4, None, None),
        ("neighbour", None, 5, 5, None, None),
    ]
    state = read_dumps(text)
    assert [(r.family, r.table, r.dst) for r in state.routes] == [(6, "100", "2001:db8::/64")]


def test_another_namespaces_state_is_not_the_machines() -> None:
    """`ip netns exec a ip route show`, `$ip -n a rule` (no space), `ip route get`: their
    output is not the machine's own state, whatever its shape (the seed listing's lines)."""
    text = (
        "root@ubuntu:~/# ip netns exec a ip route show\n"
        "default via 10.0.0.1 dev ens33\n"
        "$ip -n a rule\n"
        "0:\tfrom all lookup local\n"
        "32765:\tfrom all fwmark 0x3 lookup local\n"
        "$ ip route get 10.1.1.2\n"
        "10.1.1.2 via 10.1.2.1 dev veth3 src 10.1.2.2 uid 0\n"
    )
    assert find_blocks(text) == []


def test_a_show_command_without_output_stays_a_command_and_ip_l_s_is_link_set() -> None:
    """A script's `ip route show` (nothing pasted after it) is reported as showing state,
    never blanked unsaid; `ip -ne a l s dev e0 up` is iproute2's `link set`, no dump."""
    text = "ip netns add a\nip -n a link add v0 type veth peer name v1\nip route show\n"
    text += "ip -ne a l s dev v0 up\nip -n a addr add 192.0.2.1/24 dev v0\n"
    result = import_listing(text, "l.sh")
    assert result.dump is None
    assert [(e.line, e.outcome, e.reason) for e in result.entries if e.line == 3] == [
        (3, "ignored", "shows state")
    ]
    assert result.topology.hosts["a"].interfaces["v0"].up


def test_a_command_between_two_dumps_is_not_read_twice() -> None:
    """A Q&A answer: `ip addr show`, then the `ip route add ... src` it explains, then `ip
    route` showing that route: the route is set up once (the dumps' commands stand where
    the first dump is, so the command finds it made, as iproute2 would: File exists)."""
    text = "$ ip addr show eth0\n2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 state UP\n"
    text += "    link/ether 52:54:00:12:34:56 brd ff:ff:ff:ff:ff:ff\n"
    text += "    inet 10.0.0.5/24 brd 10.0.0.255 scope global eth0\n"
    text += "    inet 10.0.0.6/24 scope global secondary eth0\n"
    text += "$ sudo ip route add 172.16.5.0/24 via 10.0.0.1 dev eth0 src 10.0.0.6\n"
    text += "$ ip route\n10.0.0.0/24 dev eth0 proto kernel scope link src 10.0.0.5\n"
    text += "172.16.5.0/24 via 10.0.0.1 dev eth0 src 10.0.0.6\n"
    result = import_listing(text, "qa.txt")
    assert [e.outcome for e in result.entries if e.line == 6] == ["ignored"]
    assert result.document["hosts"]["host"]["routes"] == [
        "198.51.100.0/24 via 192.0.2.1 dev eth0 src 192.0.2.6"
    ]
