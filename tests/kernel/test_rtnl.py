"""The plain-socket netlink readers agree with iproute2 and with pyroute2's own decoding."""

from __future__ import annotations

import socket

import pytest
from pyroute2.netlink.exceptions import NetlinkError
from pyroute2.netlink.rtnl import RTMGRP_IPV6_IFADDR

from harness.case.kernel_state import HARDWARE_TYPES
from harness.core import deadlines
from harness.lab.builder import build
from harness.lab.netlink_ip import neigh
from harness.lab.netns import Lab
from harness.lab.rtnl import new_addresses
from harness.scenario.ipsyntax import parse_neigh
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
