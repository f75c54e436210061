"""Topology builder: a `Topology` description -> live namespaces, links, addresses, routes.

Every call goes through the one pyroute2 socket each namespace owns; no helper
process is forked.  Each LAN is a Linux bridge in a namespace of its own (a
"switch"), each host port a veth pair with one end on the bridge.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from typing import Any

from pyroute2.netlink.exceptions import NetlinkError
from pyroute2.netlink.rtnl import RTMGRP_LINK

from harness import timing
from harness.netns import Lab, NetNS
from harness.routes import RouteCommand, RouteSpec
from harness.scenario import Change, Topology

BRIDGE = "br0"
IFF_UP, IFF_MULTICAST = 0x1, 0x1000
BRPORT_STATE_FORWARDING = 3

# Set in every namespace before any link exists, so new devices inherit them.
BASELINE_SYSCTLS: dict[str, int] = {
    # The topologies are IPv4; without this every link would send IPv6 DAD,
    # router solicitations and MLD reports into the captures.
    "net.ipv6.conf.all.disable_ipv6": 1,
    "net.ipv6.conf.default.disable_ipv6": 1,
}

# Set on every host interface.  Per interface because a namespace other than
# the first has no net.ipv4.neigh.default (ARP's defaults live in init_net only).
# See timing.ARP_RETRANS_MS: absence of an ARP answer is established quickly.
NEIGH_SYSCTLS: dict[str, int] = {
    "retrans_time_ms": timing.ARP_RETRANS_MS,
    "mcast_solicit": timing.ARP_MCAST_SOLICIT,
}


class TopologyError(RuntimeError):
    """The kernel refused part of the topology; says which host, which command and why."""


@dataclass
class Network:
    """A built topology: the lab that owns it plus what the later stages need to know."""

    lab: Lab
    topology: Topology
    lans: dict[str, NetNS] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)

    def host(self, name: str) -> NetNS:
        """The namespace of host `name`."""
        return self.lab[name]

    def apply(self, change: Change) -> None:
        """Apply one change (route or sysctl) to a running topology."""
        ns = self.host(change.host)
        if change.route is not None:
            command, spec = change.route_command()
            route(ns, command, spec)
        for key, value in (change.sysctl or {}).items():
            ns.write_sysctl(key, value)
        self.log.append(str(change))


def route(ns: NetNS, command: RouteCommand, spec: RouteSpec) -> None:
    """`ip route COMMAND SPEC` inside `ns`, with iproute2's defaults."""
    oif = ns.link_index(spec.dev) if spec.dev else None
    fields = spec.netlink_fields(command, oif)
    verb = {"add": "add", "del": "del", "replace": "replace"}[command]
    try:
        ns.ipr.route(verb, **fields)
    except NetlinkError as exc:
        raise TopologyError(
            f"host {ns.name}: `ip route {command} {spec}` failed: {exc.args[1]} (errno {exc.code})"
        ) from None


def _monitor(ns: NetNS, lab: Lab) -> socket.socket:
    """A netlink socket in `ns` that wakes us on link changes."""
    sock = lab.socket(ns.name, socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
    sock.bind((0, RTMGRP_LINK))
    sock.setblocking(False)
    return sock


def build(lab: Lab, topology: Topology) -> Network:
    """Create every namespace, link, address, route and sysctl of `topology` inside `lab`."""
    net = Network(lab=lab, topology=topology)
    lans = topology.lans()
    monitors: list[socket.socket] = []

    for name in [*topology.hosts, *lans]:
        ns = lab.namespace(name)
        for key, value in BASELINE_SYSCTLS.items():
            ns.write_sysctl(key, value)
        monitors.append(_monitor(ns, lab))
        ns.ipr.link("set", index=1, state="up")  # lo is always ifindex 1
    net.log.append(
        "harness tuning in every namespace: IPv6 off; ARP retransmit "
        f"{timing.ARP_RETRANS_MS} ms x {timing.ARP_MCAST_SOLICIT} probes "
        "(kernel default 1000 ms x 3)"
    )

    for lan_name, ports in lans.items():
        switch = lab[lan_name]
        net.lans[lan_name] = switch
        # Up, and without IFF_MULTICAST: the bridge only forwards, and with
        # multicast on it would send IGMP reports of its own into every capture.
        bridge = switch.add_link(
            BRIDGE, "bridge", br_stp_state=0, flags=IFF_UP, change=IFF_UP | IFF_MULTICAST
        )
        for n, (port_host, ifname) in enumerate(ports):
            port = f"{port_host}-{ifname}"
            port = port if len(port) <= 15 else f"port{n}"
            _veth(switch, port, lab[port_host], ifname, master=bridge, state="up")

    for (host_a, if_a), (host_b, if_b) in topology.veth_pairs():
        _veth(lab[host_a], if_a, lab[host_b], if_b)

    for host_name, host in topology.hosts.items():
        ns = lab[host_name]
        for key, setting in host.sysctls.items():
            ns.write_sysctl(key, setting)
        for ifname, iface in host.interfaces.items():
            index = ns.link_index(ifname)
            for key, value in NEIGH_SYSCTLS.items():
                ns.write_sysctl(f"net/ipv4/neigh/{ifname}/{key}", value)
            for addr in iface.addresses:
                ns.ipr.addr(
                    "add", index=index, address=str(addr.ip), prefixlen=addr.network.prefixlen
                )
            if iface.up:
                ns.ipr.link("set", index=index, state="up")

    timing.wait_until(
        lambda: _all_ready(net),
        monitors,
        timing.READY_DEADLINE_S,
        "links to come up and bridge ports to forward",
    )

    for host_name, host in topology.hosts.items():
        for spec in host.routes:
            route(lab[host_name], "add", spec)
    return net


def _veth(ns_a: NetNS, if_a: str, ns_b: NetNS, if_b: str, **attrs: Any) -> None:
    """A veth pair made inside ns_a whose peer is born directly in ns_b."""
    try:
        ns_a.add_link(if_a, "veth", peer={"ifname": if_b, "net_ns_fd": ns_b.fd}, **attrs)
    except NetlinkError as exc:
        raise TopologyError(
            f"veth {ns_a.name}.{if_a} <-> {ns_b.name}.{if_b}: {exc.args[1]} (errno {exc.code})"
        ) from None


def _all_ready(net: Network) -> bool:
    """Every link that should be up is operationally up and every bridge port forwards."""
    for host_name, host in net.topology.hosts.items():
        ns = net.lab[host_name]
        states = {
            str(link.get("ifname")): link.get("IFLA_OPERSTATE") for link in ns.ipr.get_links()
        }
        for ifname, iface in host.interfaces.items():
            if iface.up and states.get(ifname) != "UP":
                return False
    for switch in net.lans.values():
        for link in switch.ipr.get_links():
            info = link.get("IFLA_LINKINFO")
            slave = info.get("IFLA_INFO_SLAVE_DATA") if info else None
            if slave is None:
                # The bridge device's own operstate is left out on purpose: it
                # does not gate forwarding between ports, and its carrier change
                # is a non-urgent linkwatch event the kernel batches for up to 1 s.
                continue
            if link.get("IFLA_OPERSTATE") != "UP":
                return False
            if slave.get("IFLA_BRPORT_STATE") != BRPORT_STATE_FORWARDING:
                return False
    return True
