"""`ip` commands inside a namespace over netlink, meaning what iproute2 means by them.

route, rule, neigh, addr and link set, each from a spec parsed by
harness/ipsyntax.py; a refusal by the kernel is a TopologyError carrying the
errno, so that a change the claim expects to be refused can be checked.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

from pyroute2.netlink.exceptions import NetlinkError

from harness.ipsyntax import NUD_STATES, AddrSpec, LinkSetSpec, NeighSpec, RouteSpec, RuleSpec
from harness.netns import NetNS

IFF_NOARP = 0x80
IFA_F_NODAD = 0x02
NTF_PROXY = 0x08


class TopologyError(RuntimeError):
    """The kernel refused part of the topology; says which host, which command and why."""

    def __init__(self, message: str, code: int = 0) -> None:
        super().__init__(message)
        self.code = code  # the errno the kernel answered, when it answered one


def guarded(ns: NetNS, what: str, call: Callable[[], Any]) -> None:
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
    guarded(ns, f"ip route {command} {spec}", lambda: ns.ipr.route(command, **fields))


def rule(ns: NetNS, command: str, spec: RuleSpec) -> None:
    """`ip rule COMMAND SPEC` inside `ns`."""
    fields = spec.netlink_fields(command)
    guarded(ns, f"ip rule {command} {spec}", lambda: ns.rtnl.rule(command, fields))


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
    guarded(ns, f"ip neigh {command} {spec}", lambda: ns.ipr.neigh(command, **fields))


def addr(ns: NetNS, command: str, spec: AddrSpec) -> None:
    """`ip addr COMMAND SPEC` inside `ns`; IPv6 addresses skip duplicate address detection."""
    index = ns.link_index(spec.dev)
    flags = IFA_F_NODAD if spec.address.version == 6 else 0
    guarded(
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
    guarded(ns, f"ip link set {spec}", lambda: ns.ipr.link("set", **fields))
    if spec.name:
        ns.renamed(spec.dev, spec.name)


APPLY: dict[str, Callable[[NetNS, str, Any], None]] = {
    "route": route,
    "rule": rule,
    "neigh": neigh,
    "addr": addr,
    "link": link_set,
}
