"""Reproductions of the races of issues 12 and 14, on the live kernel.

Each test makes a real kernel event land exactly in the window the harness
left open, so that the race shows on every run instead of one run in twenty:
the test only chooses *when* the harness looks, never what the kernel does.
"""

from __future__ import annotations

import functools
import ipaddress
import socket
from pathlib import Path

import pytest
from pyroute2.netlink.rtnl import RTMGRP_LINK

from harness.case import runner
from harness.core import deadlines
from harness.lab.builder import _monitor, build
from harness.lab.linux import ETH_P_ALL
from harness.lab.netlink_ip import addr
from harness.lab.netns import Lab, NetNS
from harness.lab.network import Network
from harness.scenario import Topology, load_scenario, load_topology
from harness.scenario.ipsyntax import AddrSpec
from tests.conftest import needs_root

pytestmark = [needs_root, pytest.mark.kernel]

RACES = Path(__file__).parents[1] / "races"
ATTEMPTS = 5


def test_a_case_ends_only_when_the_kernel_is_done_resolving() -> None:
    """Issue 14: a datagram held in an INCOMPLETE entry until a proxy reply that comes up
    to 0.8 s later (proxy_delay 80, the kernel's default; the sender retransmits once a
    second, also the default).  The settle loop used to read the capture, then the
    neighbour tables; a reply landing in between left the entry REACHABLE with its
    reply and the released datagram unread, and the case ended "quiet" with nothing
    delivered.  Now the loop waits for neighbour events while an entry is pending, and
    an entry that stopped pending since the last look restarts the quiet window.
    """
    scenario = load_scenario(RACES / "delayed-proxy-arp.yaml")
    case = scenario.case("delayed-proxy-reply-delivers")
    for _ in range(ATTEMPTS):
        record = runner.run_case(scenario, case)
        assert record.verdict == "pass", (record.observed, record.comparison)
        assert record.observed is not None
        (act,) = record.observed.acts
        assert act.settled == "everything the claim expects to happen was seen"
        assert "198.51.100.184 REACHABLE eth0" in act.settle_read["sender"]


def test_a_hosts_own_neighbour_sysctls_are_not_overwritten_by_the_tuning() -> None:
    """A topology's `net.ipv4.neigh.IF.*` sysctls were written before NEIGH_TUNING, which
    then overwrote them (retrans_time_ms 20, proxy_delay 0) without a word."""
    topology = Topology.model_validate(
        {
            "hosts": {
                "a": {
                    "sysctls": {
                        "net.ipv4.neigh.eth0.retrans_time_ms": 1000,
                        "net.ipv4.neigh.eth0.proxy_delay": 80,
                    },
                    "interfaces": {"eth0": {"link": "b.eth0", "addresses": ["192.0.2.1/24"]}},
                },
                "b": {"interfaces": {"eth0": {"link": "a.eth0", "addresses": ["192.0.2.2/24"]}}},
            }
        }
    )
    with Lab("neigh-order") as lab:
        build(lab, topology)
        keys = ["retrans_time_ms", "proxy_delay", "mcast_solicit"]
        assert lab["a"].read_sysctls([f"net/ipv4/neigh/eth0/{k}" for k in keys]) == {
            "net/ipv4/neigh/eth0/retrans_time_ms": "1000",
            "net/ipv4/neigh/eth0/proxy_delay": "80",
            "net/ipv4/neigh/eth0/mcast_solicit": str(deadlines.ARP_MCAST_SOLICIT),
        }
        assert lab["b"].read_sysctl("net/ipv4/neigh/eth0/retrans_time_ms") == str(
            deadlines.ARP_RETRANS_MS
        )


@pytest.mark.parametrize(
    ("ifname", "address"), [("eth0", "2001:db8:18::1/64"), ("lo", "2001:db8:7::7/128")]
)
def test_an_ipv6_address_is_waited_for_on_lo_as_on_any_link(ifname: str, address: str) -> None:
    """Issue 12 (B): an IPv6 address is local only once addrconf_dad_completed(), run from a
    work queue, has installed its local route and announced it (RTM_NEWADDR).  The readiness
    check skipped lo, so an address there counted as usable before the kernel said so.

    The address is taken away and given back; the check is then asked before the harness
    has read the kernel's announcement, as build() asks first (wait_each calls it with no
    events).  Then the wait ends on the announcement, and the local route is there.
    """
    with Lab("lo-ipv6") as lab:
        net = build(lab, load_topology("bind-two-uplinks-ipv6"))
        side = lab["side"]
        spec = AddrSpec(address=ipaddress.ip_interface(address), dev=ifname)
        addr(side, "del", spec)
        addr(side, "add", spec)
        net.announced["side"].discard((side.link_index(ifname), str(spec.address.ip)))
        assert not net.ready_in("side", [])
        deadlines.wait_each(
            {net.monitors["side"]: functools.partial(net.ready_in, "side")},
            deadlines.READY_DEADLINE_S,
            f"{address} on side's {ifname} to be announced",
        )
        local = {
            r.get_attr("RTA_DST")
            for r in side.rtnl.routes(socket.AF_INET6)
            if r["type"] == RTN_LOCAL and r.get_attr("RTA_TABLE") == RT_TABLE_LOCAL
        }
        assert str(spec.address.ip) in local


RTN_LOCAL, RT_TABLE_LOCAL = 2, 255
PACKET_OUTGOING = 4
CHECK_ETHERTYPE = b"\x88\xb5"  # IEEE local experimental


def _frame_leaves(ns: NetNS, ifname: str) -> bool:
    """Send one frame out of `ifname`: does the namespace's packet tap see it leave?
    noop_qdisc drops a frame before dev_queue_xmit_nit() hands it to the taps."""
    with (
        ns.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL)) as tap,
        ns.socket(socket.AF_PACKET, socket.SOCK_RAW) as sender,
    ):
        tap.setblocking(False)
        sender.bind((ifname, 0))
        sender.send(b"\xff" * 6 + b"\x02\x00\x00\x00\x00\x01" + CHECK_ETHERTYPE + bytes(46))
        while True:  # a packet tap queues a frame during the send itself: nothing to wait for
            try:
                frame, address = tap.recvfrom(2048)
            except BlockingIOError:
                return False
            if frame[12:14] == CHECK_ETHERTYPE and address[2] == PACKET_OUTGOING:
                return True


def _after_a_linkwatch_batch(lab: Lab) -> None:
    """Return right after linkwatch has run a non-urgent batch: the next one is then about
    a second away (linkwatch_nextevent), and a new veth reads UNKNOWN until it comes.

    The batch is made visible by a veth end whose carrier change is not urgent: its
    transmit queue was activated when it was opened (its peer was up) and its ifindex
    equals its peer's (linkwatch_urgent_event()); linkwatch announces it UP in the batch.
    """
    c, d = lab.namespace("c"), lab.namespace("d")
    monitor = d.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
    with monitor:
        monitor.bind((0, RTMGRP_LINK))
        monitor.setblocking(False)
        # Both fresh namespaces hand out ifindex 2 next: the peer born in d gets 2 too.
        c.ipr.link(
            "add", ifname="p0", kind="veth", index=2, peer={"ifname": "p0", "net_ns_fd": d.fd}
        )
        c.rtnl.set_link(2, up=True)
        d.rtnl.set_link(2, up=True)
        deadlines.wait_each(
            {monitor: lambda _news: any(link.operstate == "UP" for link in d.rtnl.links())},
            deadlines.READY_DEADLINE_S,
            "a non-urgent linkwatch batch",
        )


def test_a_veth_reading_unknown_is_not_ready() -> None:
    """Issue 12 (C): a veth reads operstate UNKNOWN until linkwatch first handles it, and
    its transmit queue may still be noop_qdisc then, which drops every packet unseen.
    The readiness check took UNKNOWN for "up" (meant for tun/tap, dummy, vrf).

    To hold linkwatch off for a moment, right after a non-urgent batch a veth end is
    raised while its peer is still down: it reads UNKNOWN until the next batch, about a
    second later, and a frame sent out of it never reaches the packet tap.  The check
    must say "not ready"; once the peer is up, linkwatch activates the queue and says UP,
    and the check must say "ready".
    """
    topology = Topology.model_validate(
        {
            "hosts": {
                "a": {"interfaces": {"eth0": {"link": "b.eth0", "addresses": ["192.0.2.1/24"]}}},
                "b": {"interfaces": {"eth0": {"link": "a.eth0", "addresses": ["192.0.2.2/24"]}}},
            }
        }
    )
    for _ in range(ATTEMPTS):
        with Lab("linkwatch") as lab:
            _after_a_linkwatch_batch(lab)
            a, b = lab.namespace("a"), lab.namespace("b")
            net = Network(lab=lab, topology=topology)
            net.monitors["a"] = _monitor(a, lab, ipv6=False)
            # ifindex 2 at both ends (see above): raised while its peer is down, a.eth0's
            # pending event stays non-urgent; with different indexes the next urgent run,
            # which any other link on the machine may trigger, would handle it.
            a.ipr.link(
                "add",
                ifname="eth0",
                kind="veth",
                index=2,
                peer={"ifname": "eth0", "net_ns_fd": b.fd},
            )
            a.rtnl.set_link(2, up=True)
            states = {link.name: link.operstate for link in a.rtnl.links()}
            if states["eth0"] != "UNKNOWN" or _frame_leaves(a, "eth0"):
                continue  # linkwatch got there first (another process ran it): try again
            assert not net.ready_in("a", [])
            b.rtnl.set_link(b.link_index("eth0"), up=True)
            deadlines.wait_each(
                {net.monitors["a"]: functools.partial(net.ready_in, "a")},
                deadlines.READY_DEADLINE_S,
                "a.eth0 to come up",
            )
            assert _frame_leaves(a, "eth0")
            return
    pytest.fail(f"linkwatch handled the new veth at once in {ATTEMPTS} tries: race not set up")
