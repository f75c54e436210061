"""Topology builder: a `Topology` description -> live namespaces, links, addresses, routes, rules.

Every call goes through the netlink sockets each namespace owns (its plain
`rtnl` socket and pyroute2's IPRoute, see harness/rtnl.py); no helper process
is forked.  Each LAN is a Linux bridge in a namespace of its own (a
"switch"), each host port a veth pair with one end on the bridge.
"""

from __future__ import annotations

import array
import fcntl
import functools
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pyroute2.netlink.exceptions import NetlinkError
from pyroute2.netlink.rtnl import RTMGRP_IPV6_IFADDR, RTMGRP_LINK

from harness import timing
from harness.ipsyntax import NUD_STATES, AddrSpec, LinkSetSpec, NeighSpec, RouteSpec, RuleSpec
from harness.linkkinds import LINK_KINDS, LinkKind
from harness.netns import Lab, NetNS
from harness.rtnl import new_addresses
from harness.scenario import Change, Interface, Topology, bridge_port_name

BRIDGE = "br0"
BRPORT_STATE_FORWARDING = 3
IFF_UP, IFF_NOARP, IFF_MULTICAST, IFF_LOWER_UP = 0x1, 0x80, 0x1000, 0x10000
IFA_F_NODAD = 0x02
NTF_PROXY = 0x08

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
# Set per interface: a namespace other than the first has no neigh/default.
# See timing.ARP_RETRANS_MS; proxy_delay 0 answers proxy ARP and proxy ND at
# once instead of after a random delay of up to 0.8 s.  Timers only: what is asked and answered
# is unchanged.
NEIGH_TUNING: dict[str, int] = {
    "retrans_time_ms": timing.ARP_RETRANS_MS,
    "mcast_solicit": timing.ARP_MCAST_SOLICIT,
    "proxy_delay": 0,
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
    f"ARP/ND retransmit {timing.ARP_RETRANS_MS} ms x {timing.ARP_MCAST_SOLICIT} probes "
    "(kernel default 1000 ms x 3), proxy_delay 0; TX checksum offload off on host interfaces "
    "(so pcaps carry real checksums); LAN switches are bridges without IPv6 of their own"
)


class TopologyError(RuntimeError):
    """The kernel refused part of the topology; says which host, which command and why."""

    def __init__(self, message: str, code: int = 0) -> None:
        super().__init__(message)
        self.code = code  # the errno the kernel answered, when it answered one


@dataclass
class Network:
    """A built topology: the lab that owns it plus what the later stages need to know."""

    lab: Lab
    topology: Topology
    ipv6: bool = False
    lans: dict[str, NetNS] = field(default_factory=dict)
    tun_fds: dict[tuple[str, str], int] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)
    monitors: dict[str, socket.socket] = field(default_factory=dict)  # namespace -> link events
    # namespace -> (ifindex, address) of each IPv6 address the kernel announced as usable
    announced: dict[str, set[tuple[int, str]]] = field(default_factory=dict)
    # namespace -> interfaces the kernel will give a link-local address (read once)
    link_local_expected: dict[str, set[str]] = field(default_factory=dict)

    def wait_links_settled(self) -> None:
        """After a link change: wait until the kernel has applied it everywhere.

        Bringing a veth end down drops its peer's carrier at once, but the peer's
        operstate, and the link-down flag on routes through it, follow through
        linkwatch a moment later; a probe sent in between would race it.
        """
        timing.wait_each(
            {
                sock: functools.partial(_linkwatch_caught_up, self.lab[name])
                for name, sock in self.monitors.items()
            },
            timing.READY_DEADLINE_S,
            "link changes to take effect",
        )

    def host(self, name: str) -> NetNS:
        """The namespace of host `name`."""
        return self.lab[name]

    def apply(self, change: Change) -> None:
        """Apply one change (route, rule, neigh, addr, link or sysctl) to the running topology."""
        ns = self.host(change.host)
        if change.sysctl is not None:
            for key, value in change.sysctl.items():
                _netlink(
                    ns, f"sysctl {key}={value}", functools.partial(ns.write_sysctl, key, value)
                )
        else:
            verb, spec = change.parsed()
            new_ipv6 = change.kind == "addr" and verb == "add" and spec.address.version == 6
            address = (ns.link_index(spec.dev), str(spec.address.ip)) if new_ipv6 else None
            if address is not None:
                self.announced.setdefault(change.host, set()).discard(address)
            APPLY[change.kind](ns, verb, spec)
            if address is not None:
                self._wait_announced(change.host, address)
        self.log.append(str(change))

    def _wait_announced(self, host: str, key: tuple[int, str]) -> None:
        """After `ip -6 addr add`: wait until the kernel announces the address usable.

        The add returns before the kernel has installed the address's local route
        (measured: in 29 of 40 adds the route was not there yet, and the
        announcement came 0.5 to 1.1 ms later), so a probe sent at once could
        reach a host that does not yet accept packets for it.  Only on a link that
        is operationally up: elsewhere nothing can arrive for the address anyway.
        """
        ns = self.host(host)
        if not any(
            link.index == key[0] and link.operstate in ("UP", "UNKNOWN") for link in ns.rtnl.links()
        ):
            return
        announced = self.announced.setdefault(host, set())

        def usable(events: list[bytes]) -> bool:
            _record_announcements(announced, events)
            return key in announced

        timing.wait_each(
            {self.monitors[host]: usable},
            timing.READY_DEADLINE_S,
            f"the kernel to announce {key[1]} on {host} usable",
        )


def _netlink(ns: NetNS, what: str, call: Callable[[], Any]) -> None:
    try:
        call()
    except NetlinkError as exc:
        raise TopologyError(
            f"host {ns.name}: `{what}` failed: {exc.args[1]} (errno {exc.code})", exc.code
        ) from None
    except OSError as exc:  # sysctl writes
        raise TopologyError(
            f"host {ns.name}: `{what}` failed: {exc.strerror}", exc.errno or 0
        ) from None


def route(ns: NetNS, command: str, spec: RouteSpec) -> None:
    """`ip route COMMAND SPEC` inside `ns`, with iproute2's defaults."""
    oif = ns.link_index(spec.dev) if spec.dev else None
    fields = spec.netlink_fields(
        "add" if command == "add" else "del" if command == "del" else "replace", oif
    )
    _netlink(ns, f"ip route {command} {spec}", lambda: ns.ipr.route(command, **fields))


def rule(ns: NetNS, command: str, spec: RuleSpec) -> None:
    """`ip rule COMMAND SPEC` inside `ns`."""
    fields = spec.netlink_fields(command)
    _netlink(ns, f"ip rule {command} {spec}", lambda: ns.ipr.rule(command, **fields))


def neigh(ns: NetNS, command: str, spec: NeighSpec) -> None:
    """`ip neigh COMMAND SPEC` inside `ns`."""
    fields: dict[str, Any] = {
        "dst": str(spec.dst),
        "ifindex": ns.link_index(spec.dev),
        "family": socket.AF_INET6 if spec.dst.version == 6 else socket.AF_INET,
    }
    if spec.proxy:
        fields["flags"] = NTF_PROXY  # a proxy entry has no state
    else:
        fields["state"] = NUD_STATES[spec.nud]
    if spec.lladdr:
        fields["lladdr"] = spec.lladdr
    _netlink(ns, f"ip neigh {command} {spec}", lambda: ns.ipr.neigh(command, **fields))


def addr(ns: NetNS, command: str, spec: AddrSpec) -> None:
    """`ip addr COMMAND SPEC` inside `ns`; IPv6 addresses skip duplicate address detection."""
    index = ns.link_index(spec.dev)
    flags = IFA_F_NODAD if spec.address.version == 6 else 0
    _netlink(
        ns,
        f"ip addr {command} {spec}",
        lambda: ns.rtnl.address(command, index, spec.address, flags),
    )


def link_set(ns: NetNS, command: str, spec: LinkSetSpec) -> None:
    """`ip link set ...` inside `ns` (state, name, MAC address, ARP on or off)."""
    del command  # always "set"
    index = ns.link_index(spec.dev)
    fields: dict[str, Any] = {"index": index}
    if spec.state:
        fields["state"] = spec.state
    if spec.name:
        fields["ifname"] = spec.name
    if spec.address:
        fields["address"] = spec.address
    if spec.arp is not None:
        fields.update(flags=0 if spec.arp else IFF_NOARP, change=IFF_NOARP)
    _netlink(ns, f"ip link set {spec}", lambda: ns.ipr.link("set", **fields))
    if spec.name:
        ns.renamed(spec.dev, spec.name)


APPLY: dict[str, Callable[[NetNS, str, Any], None]] = {
    "route": route,
    "rule": rule,
    "neigh": neigh,
    "addr": addr,
    "link": link_set,
}


def _monitor(ns: NetNS, lab: Lab, ipv6: bool) -> socket.socket:
    """A netlink socket in `ns` that wakes us on link changes (and IPv6 address changes)."""
    sock = lab.socket(ns.name, socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
    # More room than the default (the kernel caps it at twice net.core.rmem_max,
    # 416 KiB by default): a build's notifications are a few KiB, and a lost
    # RTM_NEWADDR would leave the IPv6 readiness wait to its deadline (timing.drain).
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


def _baseline(ns: NetNS, ipv6: bool) -> None:
    # Read what this namespace inherited, and write only what differs from the
    # kernel default: reads are cheaper than writes, and usually only one or two
    # of the 46 keys differ.  Read in every namespace, not once: the host's
    # values may change during a run (a container engine switching forwarding on).
    inherited = ns.read_sysctls(list(_IPV4_CONF_KEYS))
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


def build(lab: Lab, topology: Topology, ipv6: bool | None = None) -> Network:
    """Create every namespace, link, address, route, rule and sysctl of `topology` in `lab`."""
    ipv6 = topology.uses_ipv6 if ipv6 is None else ipv6
    net = Network(lab=lab, topology=topology, ipv6=ipv6)
    lans = topology.lans()

    for name in [*topology.hosts, *lans]:
        ns = lab.namespace(name)
        # A switch only forwards; with IPv6 of its own, its bridge device would
        # send MLD reports into the LAN.
        _baseline(ns, ipv6 and name not in lans)
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
            _veth(switch, port, lab[port_host], ifname, master=bridge, state="up")

    for (host_a, if_a), (host_b, if_b) in topology.veth_pairs():
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
                ns.rtnl.set_link(ns.link_index(ifname), up=True)
                raised.add((host_name, ifname))

    for host_name, host in topology.hosts.items():
        _local_links(net, lab[host_name], host.interfaces)

    for host_name, host in topology.hosts.items():
        ns = lab[host_name]
        for key, setting in host.sysctls.items():
            ns.write_sysctl(key, setting)
        # Stacked links (macvlan, ipvlan) are made once their lower link is up:
        # made earlier, they were seen to sit in LOWERLAYERDOWN for about 1 s.
        for ifname, iface in sorted(host.interfaces.items(), key=lambda kv: _stacked(kv[1])):
            if _stacked(iface):
                _create(net, ns, ifname, iface)
                if iface.master is not None:
                    ns.ipr.link(
                        "set", index=ns.link_index(ifname), master=ns.link_index(iface.master)
                    )
            index = ns.link_index(ifname)
            if _kind(iface).neigh_timers:
                ns.write_sysctls(
                    {f"net/ipv4/neigh/{ifname}/{k}": v for k, v in NEIGH_TUNING.items()}
                )
                if ipv6:  # proxy_delay too: ndisc_recv_ns() delays proxied answers by it
                    ns.write_sysctls(
                        {f"net/ipv6/neigh/{ifname}/{k}": v for k, v in NEIGH_TUNING.items()}
                    )
            for address in iface.addresses:
                addr(ns, "add", AddrSpec(address=address, dev=ifname))
            if iface.up and _kind(iface).role != "loopback" and (host_name, ifname) not in raised:
                ns.rtnl.set_link(index, up=True)

    for host_name, host in topology.hosts.items():
        wired = [n for n, i in host.interfaces.items() if _kind(i).wired]
        kept = _software_checksums(lab[host_name], wired)
        if kept:
            net.log.append(
                f"TX checksum offload could not be switched off on {', '.join(kept)}: "
                "its pcaps may show UDP/TCP checksums as bad (never filled in)"
            )

    timing.wait_each(
        {sock: functools.partial(_ready_in, net, name) for name, sock in net.monitors.items()},
        timing.READY_DEADLINE_S,
        "links to come up and bridge ports to forward",
    )

    for host_name, host in topology.hosts.items():
        ns = lab[host_name]
        for route_spec in host.routes:
            route(ns, "add", route_spec)
        for rule_spec in host.rules:
            rule(ns, "add", rule_spec)
        for neigh_spec in host.neighbours:
            neigh(ns, "add", neigh_spec)
    return net


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


def _local_links(net: Network, ns: NetNS, interfaces: dict[str, Interface]) -> None:
    """Links that live inside one host and need no lower link: tun/tap, dummy, vrf, bridge;
    then fixed MACs of veth ends, and masters."""
    for ifname, iface in interfaces.items():
        kind = _kind(iface)
        if kind.role == "local":
            _create(net, ns, ifname, iface)
        elif iface.mac and kind.role == "pair":
            ns.ipr.link("set", index=ns.link_index(ifname), address=iface.mac)
    for ifname, iface in interfaces.items():
        if iface.master is not None and not _stacked(iface):
            ns.ipr.link("set", index=ns.link_index(ifname), master=ns.link_index(iface.master))


def _create(net: Network, ns: NetNS, ifname: str, iface: Interface) -> None:
    """Make a local or stacked link as its row in harness/linkkinds.py says."""
    kind = _kind(iface)
    assert kind.create is not None, f"{kind.name} links are made by the builder's link pass"
    try:
        kind.create(net, ns, ifname, iface)
    except NetlinkError as exc:
        raise TopologyError(
            f"host {ns.name}: creating {kind.name} {ifname!r}: {exc.args[1]}"
        ) from None


def _veth(ns_a: NetNS, if_a: str, ns_b: NetNS, if_b: str, **attrs: Any) -> None:
    """A veth pair made inside ns_a whose peer is born directly in ns_b."""
    ns_b.forget_names()  # the peer is born there
    try:
        ns_a.add_link(if_a, "veth", peer={"ifname": if_b, "net_ns_fd": ns_b.fd}, **attrs)
    except NetlinkError as exc:
        raise TopologyError(
            f"veth {ns_a.name}.{if_a} <-> {ns_b.name}.{if_b}: {exc.args[1]} (errno {exc.code})"
        ) from None


def _ready_in(net: Network, name: str, events: list[bytes]) -> bool:
    """In namespace `name`: every link that should be up is operationally up, its
    IPv6 addresses are usable, and (in a LAN's switch) every bridge port forwards."""
    topology = net.topology
    announced = net.announced.setdefault(name, set())
    _record_announcements(announced, events)
    links = net.lab[name].rtnl.links()
    if name in net.lans:
        # The bridge device's own operstate is left out on purpose: it does not
        # gate forwarding between ports, and its carrier change is a non-urgent
        # linkwatch event the kernel batches for up to 1 s.
        return all(
            link.operstate == "UP" and link.brport_state == BRPORT_STATE_FORWARDING
            for link in links
            if link.brport_state is not None
        )
    states = {link.name: link.operstate for link in links}
    ipv6_ready: set[str] = set()
    for ifname, iface in topology.hosts[name].interfaces.items():
        if not iface.up or _kind(iface).role == "loopback":
            continue
        if iface.link is not None:  # a veth is up only once its other end is
            peer_host, _, peer_if = iface.link.partition(".")
            if not topology.hosts[peer_host].interfaces[peer_if].up:
                continue
        # tun/tap, dummy and vrf report UNKNOWN: they have no carrier to watch.
        if states.get(ifname) not in ("UP", "UNKNOWN"):
            return False
        ipv6_ready.add(ifname)
    return not net.ipv6 or _ipv6_usable(net, name, ipv6_ready, announced)


# Which kinds get an EUI-64 link-local address once up with carrier is their
# row's `link_local` (unless their own IPv6 settings say otherwise, see
# _gets_link_local).
IFA_F_TENTATIVE = 0x40
RT_SCOPE_LINK = 253
IN6_ADDR_GEN_MODE_NONE = 1


def _record_announcements(announced: set[tuple[int, str]], events: list[bytes]) -> None:
    """Add (ifindex, address) of each address the events announce as usable."""
    announced.update(
        (a.index, a.address) for a in new_addresses(events) if not a.flags & IFA_F_TENTATIVE
    )


def _gets_link_local(ns: NetNS, ifname: str) -> bool:
    """Whether the kernel will give `ifname` a link-local address: IPv6 is on for it
    and its address generation mode is not `none` (a scenario may set either)."""
    conf = f"net/ipv6/conf/{ifname}"
    values = ns.read_sysctls([f"{conf}/disable_ipv6", f"{conf}/addr_gen_mode"])
    return values.get(f"{conf}/disable_ipv6") == "0" and values.get(f"{conf}/addr_gen_mode") != str(
        IN6_ADDR_GEN_MODE_NONE
    )


def _ipv6_usable(
    net: Network, name: str, ifnames: set[str], announced: set[tuple[int, str]]
) -> bool:
    """Every IPv6 address of `ifnames` is usable, and with it the MLD report for its
    solicited-node group has been sent (see IPV6_ON), so none lands in a case.

    A link-local address shows it in its flags: it is tentative until then.  An
    address added with IFA_F_NODAD is never tentative; the kernel joins its group
    from a work queue and announces the address (RTM_NEWADDR) afterwards, so the
    announcement is what is waited for.
    """
    ns = net.lab[name]
    indexes = {ns.link_index(ifname) for ifname in ifnames}
    addresses = [a for a in ns.rtnl.addresses(socket.AF_INET6) if a.index in indexes]
    if any(a.flags & IFA_F_TENTATIVE for a in addresses):
        return False
    names = ns.interface_names()
    link_local = {names.get(a.index) for a in addresses if a.scope == RT_SCOPE_LINK}
    if name not in net.link_local_expected:  # read once: the host's sysctls are set by now
        net.link_local_expected[name] = {
            ifname
            for ifname in ifnames
            if _kind(net.topology.hosts[name].interfaces[ifname]).link_local
            and _gets_link_local(ns, ifname)
        }
    if not net.link_local_expected[name] <= link_local:
        return False
    for ifname in ifnames:
        iface = net.topology.hosts[name].interfaces[ifname]
        index = ns.link_index(ifname)
        for address in iface.addresses:
            if address.version == 6 and (index, str(address.ip)) not in announced:
                return False
    return True


def _linkwatch_caught_up(ns: NetNS, events: list[bytes]) -> bool:
    """Every link's operstate agrees with its flags: up with carrier <=> UP."""
    del events  # a wake-up only: the state is re-read
    for link in ns.rtnl.links():
        if link.operstate == "UNKNOWN" or link.name == "lo":
            continue  # tun/tap, dummy, vrf: no carrier to follow
        running = link.flags & IFF_UP and link.flags & IFF_LOWER_UP
        if bool(running) != (link.operstate == "UP"):
            return False
    return True
