"""The plain-socket netlink readers agree with iproute2 and with pyroute2's own decoding."""

from __future__ import annotations

import ipaddress
import socket

import pytest
from pyroute2.netlink.exceptions import NetlinkError
from pyroute2.netlink.rtnl import RTMGRP_IPV6_IFADDR, RTMGRP_NEIGH

from harness.case.kernel_state import HARDWARE_TYPES
from harness.core import deadlines
from harness.lab.builder import build
from harness.lab.linux import ETH_P_ALL
from harness.lab.netlink_ip import addr, neigh, route
from harness.lab.netns import Lab
from harness.lab.rtnl import neighbour_news, new_addresses
from harness.scenario.ipsyntax import AddrSpec, parse_neigh, parse_route
from tests.conftest import ip_json, needs_root
from tests.kernel.test_topology import TWO_HOSTS

pytestmark = [needs_root, pytest.mark.kernel]

IP_FLAGS = {"UP": 0x1, "LOWER_UP": 0x10000, "NOARP": 0x80}


def test_links_addresses_and_neighbours_read_as_iproute2_reads_them(
    host_untouched: None,
) -> None:
    with Lab("rtnl") as lab:
        build(lab, TWO_HOSTS, ipv6=True)
        ns = lab["a"]
        neigh(ns, "add", parse_neigh("192.0.2.77 lladdr 02:00:00:00:00:77 dev eth0"))

        theirs = {link["ifindex"]: link for link in ip_json(ns, "link", "show")}
        ours = {link.index: link for link in ns.rtnl.links()}
        assert sorted(ours) == sorted(theirs)
        for index, link in ours.items():
            assert link.name == theirs[index]["ifname"]
            assert link.operstate == theirs[index]["operstate"]
            for flag, bit in IP_FLAGS.items():
                assert bool(link.flags & bit) == (flag in theirs[index]["flags"]), flag
            assert link.mtu == theirs[index]["mtu"]
            assert link.txqueuelen == theirs[index].get("txqlen", 0)
            assert link.address == theirs[index].get("address", "")
            assert HARDWARE_TYPES[link.hardware_type] == theirs[index]["link_type"]

        expected = {
            (entry["ifindex"], info["local"], info["prefixlen"], info.get("scope"))
            for entry in ip_json(ns, "-6", "addr", "show")
            for info in entry["addr_info"]
        }
        scopes = {0: "global", 253: "link", 254: "host"}
        assert {
            (a.index, a.address, a.prefixlen, scopes[a.scope])
            for a in ns.rtnl.addresses(socket.AF_INET6)
        } == expected

        names = ns.interface_names()
        assert {
            (n.dst, n.lladdr, names[n.ifindex]) for n in ns.rtnl.neighbours(socket.AF_INET)
        } == {
            (entry["dst"], entry.get("lladdr", ""), entry["dev"])
            for entry in ip_json(ns, "-4", "neigh", "show")
        }


def test_route_and_rule_dumps_decode_like_ipr(host_untouched: None) -> None:
    with Lab("rtnl") as lab:
        build(lab, TWO_HOSTS, ipv6=True)
        ns = lab["a"]
        for family in (socket.AF_INET, socket.AF_INET6):
            assert [m.get("RTA_DST") for m in ns.rtnl.routes(family)] == [
                m.get("RTA_DST") for m in ns.ipr.route("dump", family=family)
            ]
            assert [m.get("FRA_PRIORITY") for m in ns.rtnl.rules(family)] == [
                m.get("FRA_PRIORITY") for m in ns.ipr.get_rules(family=family)
            ]


def test_routes_without_the_kernels_own_are_those_it_did_not_make(host_untouched: None) -> None:
    """`routes(family, own=False)` leaves out, before decoding, exactly the routes the
    kernel made for addresses and links: local-table entries of protocol kernel and IPv6
    fe80:/ff00: prefixes; a route the topology adds to the local table stays."""
    with Lab("rtnl") as lab:
        build(lab, TWO_HOSTS, ipv6=True)
        ns = lab["a"]
        addr(ns, "add", AddrSpec(address=ipaddress.ip_interface("2001:db8::1/64"), dev="eth0"))
        route(ns, "add", parse_route("local 198.51.100.7 dev eth0 table local"))
        route(ns, "add", parse_route("203.0.113.0/24 dev eth0 table 100"))
        for family in (socket.AF_INET, socket.AF_INET6):
            everything = ns.rtnl.routes(family)
            expected = [
                (m.get("RTA_TABLE"), m.get("RTA_DST"), m["dst_len"])
                for m in everything
                if not (m.get("RTA_TABLE") == 255 and m["proto"] == 2)
                and not str(m.get("RTA_DST") or "").startswith(("fe80:", "ff00:"))
            ]
            assert len(expected) < len(everything)
            assert [
                (m.get("RTA_TABLE"), m.get("RTA_DST"), m["dst_len"])
                for m in ns.rtnl.routes(family, own=False)
            ] == expected
        kept = {m.get("RTA_DST") for m in ns.rtnl.routes(socket.AF_INET, own=False)}
        assert {"198.51.100.7", "203.0.113.0"} <= kept


def test_a_refused_request_raises_the_kernels_errno(host_untouched: None) -> None:
    with Lab("rtnl") as lab:
        ns = lab.namespace("a")
        with pytest.raises(NetlinkError) as refused:
            ns.rtnl.set_link(4242, up=True)
        assert refused.value.code == 19  # ENODEV: no such link


def test_address_announcements_are_read_off_a_monitor(host_untouched: None) -> None:
    with Lab("rtnl") as lab:
        ns = lab.namespace("a")
        ns.write_sysctls({"net/ipv6/conf/all/disable_ipv6": 0})
        monitor = lab.socket("a", socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
        monitor.bind((0, RTMGRP_IPV6_IFADDR))
        ns.rtnl.set_link(1, up=True)
        ns.ipr.addr("add", index=1, address="2001:db8::5", prefixlen=128)
        seen: list[str] = []

        def announced(events: list[bytes]) -> bool:
            seen.extend(a.address for a in new_addresses(events))
            return "2001:db8::5" in seen

        deadlines.wait_each({monitor: announced}, 2.0, "the address announcement")
        assert "2001:db8::5" in seen


def test_a_resolutions_end_is_announced_after_the_frames_it_held_are_sent(
    host_untouched: None,
) -> None:
    """What the settle loop relies on (harness/case/session.py, `_Resolutions`): when the
    kernel's RTM_NEWNEIGH for an entry leaving INCOMPLETE can be read, the datagram that
    waited in the entry's arp_queue has already passed the sender's packet taps."""
    with Lab("rtnl") as lab:
        build(lab, TWO_HOSTS)
        monitor = lab.socket("a", socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
        monitor.bind((0, RTMGRP_NEIGH))
        tap = lab.socket("a", socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        tap.setblocking(False)
        sender = lab.socket("a", socket.AF_INET, socket.SOCK_DGRAM)
        sender.sendto(b"held in the arp_queue", ("192.0.2.2", 9000))
        news: list[tuple[bool, str, int]] = []

        def ended(events: list[bytes]) -> bool:
            news.extend((deleted, e.dst, e.state) for deleted, e in neighbour_news(events))
            return any(dst == "192.0.2.2" and state & 0x02 for _, dst, state in news)

        deadlines.wait_each({monitor: ended}, 2.0, "the end of the resolution")
        frames = deadlines.drain(tap)  # no wait: they must be there already
        assert any(b"held in the arp_queue" in frame for frame in frames), news
        assert (False, "192.0.2.2", 0x02) in news  # NUD_REACHABLE, announced as an update
