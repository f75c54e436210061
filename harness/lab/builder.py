"""Topology builder: a `Topology` description -> live namespaces, links, addresses, routes, rules.

Every call goes through the netlink sockets each namespace owns (its plain
`rtnl` socket and pyroute2's IPRoute, see harness/lab/rtnl.py); no helper process
is forked.  Each LAN is a Linux bridge in a namespace of its own (a
"switch"), each host port a veth pair with one end on the bridge.
"""

from __future__ import annotations

import array
import contextlib
import fcntl
import functools
import socket
import struct
from collections.abc import Iterator
from typing import Any

from pyroute2.netlink.exceptions import NetlinkError
from pyroute2.netlink.rtnl import RTMGRP_IPV6_IFADDR, RTMGRP_LINK

from harness.core import deadlines
from harness.lab.link_makers import MAKERS
from harness.lab.linux import IFF_MULTICAST, IFF_UP
from harness.lab.netlink_ip import (
    TopologyError,
    addr,
    guarded,
    link_set,
    neigh,
    nexthop,
    route,
    rule,
)
from harness.lab.netns import Lab, NetNS
from harness.lab.network import Network
from harness.scenario import Interface, Topology, bridge_port_name
from harness.scenario.ipsyntax import AddrSpec, LinkSetSpec
from harness.scenario.link_kinds import LINK_KINDS, LinkKind

BRIDGE = "br0"

# A new namespace inherits the host's IPv4 conf/all and conf/default values
# (net.core.devconf_inherit_init_net=0 means "inherit" for IPv4).  So that a
# result never depends on how the host is configured, both are reset to the
# kernel's built-in defaults (ipv4_devconf in net/ipv4/devinet.c) before any
# link exists; a scenario's own sysctls are applied afterwards.
IPV4_CONF_DEFAULTS: dict[str, int] = {
    "forwarding": 0,
    "rp_filter": 0,
    "accept_local": 0,
    "arp_announce": 0,
    "arp_ignore": 0,
    "arp_filter": 0,
    "arp_accept": 0,
    "arp_notify": 0,
    "proxy_arp": 0,
    "proxy_arp_pvlan": 0,
    "accept_redirects": 1,
    "send_redirects": 1,
    "secure_redirects": 1,
    "shared_media": 1,
    "accept_source_route": 0,
    "promote_secondaries": 0,
    "route_localnet": 0,
    "src_valid_mark": 0,
    "log_martians": 0,
    "bootp_relay": 0,
    "drop_gratuitous_arp": 0,
    "drop_unicast_in_l2_multicast": 0,
    "ignore_routes_with_linkdown": 0,
}
# IPv6, when a scenario uses it: addresses usable at once (no duplicate
# address detection), no router solicitations, and MLD report retransmits
# pushed out of a case's time window, so captures hold what the case caused.
# The retransmit comes after a random delay below the interval: with 60 s, one
# set-up in about 40 still had one land in its first 100 ms (4 of 165); with a
# day, 0 of 330 did (by the arithmetic, 0.1 s of 86,400 s: about one group in a
# million).
# MLDv1, because an MLDv1 report is sent synchronously when the address's
# solicited-node group is joined, before the kernel announces the address as
# no longer tentative (addrconf_dad_begin -> igmp6_join_group, then
# addrconf_dad_completed).  Waiting for that announcement therefore waits for
# the report too.  An MLDv2 report is sent later from a work queue, and was
# seen landing a few milliseconds after set-up, inside a case's capture.
IPV6_ON: dict[str, int] = {
    "disable_ipv6": 0,
    "accept_dad": 0,
    "dad_transmits": 0,
    "router_solicitations": 0,
    "force_mld_version": 1,
    "mldv1_unsolicited_report_interval": 86_400_000,
    "mldv2_unsolicited_report_interval": 86_400_000,
}
# Without IPv6 in the scenario it is switched off, so that DAD, router
# solicitations and MLD reports do not add frames of their own.
IPV6_OFF: dict[str, int] = {"disable_ipv6": 1}
# Ping sockets (SOCK_DGRAM/IPPROTO_ICMP) are refused unless the caller's group is
# in this range, and a new namespace's range ("1 0") admits nobody, not even root.
NAMESPACE_SYSCTLS: dict[str, int | str] = {"net/ipv4/ping_group_range": "0 0"}
# Set per interface: a namespace other than the first has no neigh/default, and
# a new device copies its neighbour parameters from the initial namespace's
# defaults, which the host may have changed; so they are always written.
# See deadlines.ARP_RETRANS_MS; proxy_delay 0 answers proxy ARP and proxy ND at
# once instead of after a random delay of up to 0.8 s.  Which cases may use the
# fast ones is harness/lab/neighbour_timers.py's to say.
NEIGH_TUNING: dict[str, int] = {
    "retrans_time_ms": deadlines.ARP_RETRANS_MS,
    "mcast_solicit": deadlines.ARP_MCAST_SOLICIT,
    "proxy_delay": 0,
}
# The kernel's built-in defaults (net/ipv4/arp.c arp_tbl, net/ipv6/ndisc.c nd_tbl:
# RETRANS_TIME 1 s, MCAST_PROBES 3, PROXY_DELAY (8 * HZ) / 10 = 80 in USER_HZ).
NEIGH_KERNEL_DEFAULTS: dict[str, int] = {
    "retrans_time_ms": 1000,
    "mcast_solicit": 3,
    "proxy_delay": 80,
}
# veth passes packets on with CHECKSUM_PARTIAL: no hardware ever fills the UDP/TCP
# checksum in and the receiver does not check it, so captures would show bad
# checksums.  With TX checksum offload off, the sending stack computes them, and
# the pcaps validate in Wireshark.  Where the checksum is computed changes no
# routing or ARP decision.
SIOCETHTOOL = 0x8946
ETHTOOL_STXCSUM = 0x00000017
TUNING_NOTE = (
    "harness tuning in every namespace: IPv4 conf/all and conf/default reset to kernel defaults; "
    "TX checksum offload off on host interfaces (so pcaps carry real checksums); LAN switches "
    "are bridges without IPv6 of their own"
)


def _monitor(ns: NetNS, lab: Lab, ipv6: bool) -> socket.socket:
    """A netlink socket in `ns` that wakes us on link changes (and IPv6 address changes)."""
    sock = lab.socket(ns.name, socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
    # More room than the default (the kernel caps it at twice net.core.rmem_max,
    # 416 KiB by default): a build's notifications are a few KiB, and a lost
    # RTM_NEWADDR would leave the IPv6 readiness wait to its deadline (deadlines.drain).
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, MONITOR_RCVBUF)
    sock.bind((0, RTMGRP_LINK | (RTMGRP_IPV6_IFADDR if ipv6 else 0)))
    sock.setblocking(False)
    return sock


MONITOR_RCVBUF = 1 << 20
_IPV4_CONF_KEYS = {
    f"net/ipv4/conf/{scope}/{k}": v
    for scope in ("all", "default")
    for k, v in IPV4_CONF_DEFAULTS.items()
}


def _baseline(ns: NetNS, ipv6: bool, inherited: dict[str, str]) -> None:
    """Reset IPv4 conf/all and conf/default to the kernel's defaults where `inherited`
    (what the namespace started with) differs; IPv6 on or off."""
    # Write only what differs from the kernel default: reads are cheaper than
    # writes, and usually only one or two of the 46 keys differ.
    values: dict[str, int] = {
        key: default
        for key, default in _IPV4_CONF_KEYS.items()
        if inherited.get(key) != str(default)
    }
    for scope in ("all", "default"):
        values |= {
            f"net/ipv6/conf/{scope}/{k}": v for k, v in (IPV6_ON if ipv6 else IPV6_OFF).items()
        }
    ns.write_sysctls({**values, **NAMESPACE_SYSCTLS}, skip_missing=True)


def build(
    lab: Lab, topology: Topology, ipv6: bool | None = None, fast_neighbours: bool = True
) -> Network:
    """Create every namespace, link, address, route, rule and sysctl of `topology` in `lab`,
    with the harness's fast neighbour timers or the kernel's own
    (harness/lab/neighbour_timers.py)."""
    ipv6 = topology.uses_ipv6 if ipv6 is None else ipv6
    net = Network(lab=lab, topology=topology, ipv6=ipv6)
    timers = NEIGH_TUNING if fast_neighbours else NEIGH_KERNEL_DEFAULTS
    lans = topology.lans()

    inherited: dict[str, str] | None = None
    for name in [*topology.hosts, *lans]:
        ns = lab.namespace(name)
        if inherited is None:
            # What a new namespace's conf/all and conf/default start with, read in the
            # first one only: devinet_init_net() copies them from init_net (or, with
            # net.core.devconf_inherit_init_net=3, from the creator's namespace, the
            # root one for every namespace of a lab), so all of a build's namespaces,
            # made within milliseconds, start alike.  Read for every build: the host's
            # values may change during a run (a container engine turning forwarding on).
            inherited = ns.read_sysctls(list(_IPV4_CONF_KEYS))
        # A switch only forwards; with IPv6 of its own, its bridge device would
        # send MLD reports into the LAN.
        _baseline(ns, ipv6 and name not in lans, inherited)
        net.monitors[name] = _monitor(ns, lab, ipv6 and name not in lans)
        ns.rtnl.set_link(1, up=True)  # lo is always ifindex 1
    net.log.append(TUNING_NOTE + ("; IPv6 on, no DAD, MLDv1 forced" if ipv6 else "; IPv6 off"))

    for lan_name, ports in lans.items():
        switch = lab[lan_name]
        net.lans[lan_name] = switch
        # The bridge only forwards.  Without IFF_MULTICAST and without multicast
        # snooping it sends nothing of its own: snooping makes the bridge join the
        # all-snoopers group (br_multicast_join_snoopers), and that join sends an
        # IGMPv3 report into every capture about 50 ms after set-up.
        bridge = switch.add_link(
            BRIDGE,
            "bridge",
            br_stp_state=0,
            br_mcast_snooping=0,
            flags=IFF_UP,
            change=IFF_UP | IFF_MULTICAST,
        )
        for n, (port_host, ifname) in enumerate(ports):
            port = bridge_port_name(port_host, ifname, n)
            with _item("hosts", port_host, "interfaces", ifname):
                _veth(switch, port, lab[port_host], ifname, master=bridge, state="up")

    for (host_a, if_a), (host_b, if_b) in topology.veth_pairs():
        with _item("hosts", host_a, "interfaces", if_a):
            _veth(lab[host_a], if_a, lab[host_b], if_b)

    # Up at once: the carrier change then goes through linkwatch while the
    # rest is configured, instead of being waited for at the end.  Nothing is
    # sent before the probes, so nothing sees a half-configured host.
    raised: set[tuple[str, str]] = set()
    for host_name, host in topology.hosts.items():
        ns = lab[host_name]
        for ifname, iface in host.interfaces.items():
            # Not with a fixed MAC: it is set later, and an IPv6 link-local
            # address is derived from the MAC the link has when it comes up.
            if iface.up and _kind(iface).early_up and not iface.mac:
                with _item("hosts", host_name, "interfaces", ifname, "up"):
                    ns.rtnl.set_link(ns.link_index(ifname), up=True)
                raised.add((host_name, ifname))

    for host_name, host in topology.hosts.items():
        _local_links(net, lab[host_name], host_name, host.interfaces)

    for host_name, host in topology.hosts.items():
        ns = lab[host_name]
        # Stacked links (macvlan, ipvlan) are made once their lower link is up:
        # made earlier, they were seen to sit in LOWERLAYERDOWN for about 1 s.
        for ifname, iface in host.interfaces.items():
            if _stacked(iface):
                with _item("hosts", host_name, "interfaces", ifname):
                    _create(net, ns, ifname, iface)
                if iface.master is not None:
                    with _item("hosts", host_name, "interfaces", ifname, "master"):
                        ns.ipr.link(
                            "set", index=ns.link_index(ifname), master=ns.link_index(iface.master)
                        )
        for ifname, iface in host.interfaces.items():
            if _kind(iface).neigh_timers:
                ns.write_sysctls({f"net/ipv4/neigh/{ifname}/{k}": v for k, v in timers.items()})
                if ipv6:  # proxy_delay too: ndisc_recv_ns() delays proxied answers by it
                    ns.write_sysctls({f"net/ipv6/neigh/{ifname}/{k}": v for k, v in timers.items()})
        # The host's own sysctls once every link of it exists (a key may name any of
        # them) and after the harness's tuning, which they override.
        for key, setting in host.sysctls.items():
            # Whether a value fits is the kernel's to say (EINVAL for `yes` in a number):
            # a refusal of the set-up, named with its line, not a traceback.
            with _item("hosts", host_name, "sysctls", key):
                write = functools.partial(ns.write_sysctl, key, setting)
                guarded(ns, f"sysctl {key}={setting}", write)
        for ifname, iface in host.interfaces.items():
            index = ns.link_index(ifname)
            at = ("hosts", host_name, "interfaces", ifname)
            if iface.mtu is not None:
                with _item(*at, "mtu"):
                    link_set(ns, "set", LinkSetSpec(dev=ifname, mtu=iface.mtu))
            if iface.txqueuelen is not None:  # IFLA_TXQLEN, as `ip link set IF txqueuelen N`
                qlen = iface.txqueuelen
                with _item(*at, "txqueuelen"):
                    guarded(
                        ns,
                        f"ip link set {ifname} txqueuelen {qlen}",
                        functools.partial(ns.ipr.link, "set", index=index, txqlen=qlen),
                    )
            for n, address in enumerate(iface.addresses):
                with _item(*at, "addresses", n):
                    addr(ns, "add", AddrSpec(address=address, dev=ifname))
            if iface.up and _kind(iface).role != "loopback" and (host_name, ifname) not in raised:
                with _item(*at, "up"):
                    ns.rtnl.set_link(index, up=True)

    for host_name, host in topology.hosts.items():
        wired = [n for n, i in host.interfaces.items() if _kind(i).wired]
        kept = _software_checksums(lab[host_name], wired)
        if kept:
            net.log.append(
                f"TX checksum offload could not be switched off on {', '.join(kept)}: "
                "its pcaps may show UDP/TCP checksums as bad (never filled in)"
            )

    deadlines.wait_each(
        {sock: functools.partial(net.ready_in, name) for name, sock in net.monitors.items()},
        deadlines.READY_DEADLINE_S,
        "links to come up and bridge ports to forward",
    )

    for host_name, host in topology.hosts.items():
        ns = lab[host_name]
        for n, nexthop_spec in enumerate(host.nexthops):
            with _item("hosts", host_name, "nexthops", n):
                nexthop(ns, "add", nexthop_spec)
        for n, route_spec in enumerate(host.routes):
            with _item("hosts", host_name, "routes", n):
                route(ns, "add", route_spec)
        for n, rule_spec in enumerate(host.rules):
            with _item("hosts", host_name, "rules", n):
                rule(ns, "add", rule_spec)
        for n, neigh_spec in enumerate(host.neighbours):
            with _item("hosts", host_name, "neighbours", n):
                neigh(ns, "add", neigh_spec)
    return net


@contextlib.contextmanager
def _item(*item: str | int) -> Iterator[None]:
    """A refusal by the kernel inside is a refusal of this item of the topology
    (`hosts`, `a`, `routes`, 0): the runner names its file and line, so a set-up the
    kernel refuses reads as a wrong line of the topology, never as a verdict."""
    try:
        yield
    except TopologyError as exc:
        exc.item = exc.item or item
        raise
    except NetlinkError as exc:  # a request made without netlink_ip's guard
        where = ".".join(str(part) for part in item)
        error = TopologyError(
            f"{where}: {exc.args[1]} (errno {exc.code})", exc.code, str(exc.args[1])
        )
        error.item = item
        raise error from None


def _software_checksums(ns: NetNS, ifnames: list[str]) -> list[str]:
    """Switch TX checksum offload off (see ETHTOOL_STXCSUM above); return where it stays on.

    By hand, with the legacy ETHTOOL_STXCSUM ioctl: pyroute2's feature API does
    the same but fetches the feature string table for every interface first,
    about 4 ms each, a sixth of a case's set-up.
    """
    kept: list[str] = []
    if not ifnames:
        return kept
    with ns.entered():  # the ioctl socket belongs to the namespace it is made in
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with sock:
        for ifname in ifnames:
            value = array.array("I", [ETHTOOL_STXCSUM, 0])
            request = struct.pack("16sP", ifname.encode(), value.buffer_info()[0])
            try:
                fcntl.ioctl(sock.fileno(), SIOCETHTOOL, request)
            except OSError:
                kept.append(f"{ns.name}/{ifname}")
    return kept


def _kind(iface: Interface) -> LinkKind:
    return LINK_KINDS[str(iface.resolved_kind)]


def _stacked(iface: Interface) -> bool:
    return _kind(iface).role == "stacked"


def _local_links(net: Network, ns: NetNS, host: str, interfaces: dict[str, Interface]) -> None:
    """Links that live inside one host and need no lower link: tun/tap, dummy, vrf, bridge;
    then fixed MACs of veth ends, and masters."""
    for ifname, iface in interfaces.items():
        kind = _kind(iface)
        if kind.role == "local":
            with _item("hosts", host, "interfaces", ifname):
                _create(net, ns, ifname, iface)
        elif iface.mac and kind.role == "pair":
            with _item("hosts", host, "interfaces", ifname, "mac"):
                ns.ipr.link("set", index=ns.link_index(ifname), address=iface.mac)
    for ifname, iface in interfaces.items():
        if iface.master is not None and not _stacked(iface):
            with _item("hosts", host, "interfaces", ifname, "master"):
                master = ns.link_index(iface.master)
                ns.ipr.link("set", index=ns.link_index(ifname), master=master)


def _create(net: Network, ns: NetNS, ifname: str, iface: Interface) -> None:
    """Make a local or stacked link with its maker (harness/lab/link_makers.py)."""
    kind = _kind(iface)
    make = MAKERS.get(kind.name)
    assert make is not None, f"{kind.name} links are made by the builder's link pass"
    try:
        make(net, ns, ifname, iface)
    except NetlinkError as exc:
        raise TopologyError(
            f"host {ns.name}: creating {kind.name} {ifname!r}: {exc.args[1]}",
            exc.code,
            str(exc.args[1]),
        ) from None


def _veth(ns_a: NetNS, if_a: str, ns_b: NetNS, if_b: str, **attrs: Any) -> None:
    """A veth pair made inside ns_a whose peer is born directly in ns_b."""
    ns_b.forget_names()  # the peer is born there
    try:
        ns_a.add_link(if_a, "veth", peer={"ifname": if_b, "net_ns_fd": ns_b.fd}, **attrs)
    except NetlinkError as exc:
        raise TopologyError(
            f"veth {ns_a.name}.{if_a} <-> {ns_b.name}.{if_b}: {exc.args[1]} (errno {exc.code})",
            exc.code,
            str(exc.args[1]),
        ) from None
