"""`ip` commands inside a namespace over netlink, meaning what iproute2 means by them.

route, nexthop, rule, neigh, addr and link set, each from a spec parsed by
harness/scenario/ipsyntax/; a refusal by the kernel is a TopologyError carrying the
errno, so that a change the claim expects to be refused can be checked.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

from pyroute2.netlink import NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE
from pyroute2.netlink.exceptions import NetlinkError
from pyroute2.netlink.rtnl import RTM_DELROUTE, RTM_NEWROUTE

from harness.lab.netns import NetNS
from harness.lab.rtnl import RTM_DELNEXTHOP, RTM_NEWNEXTHOP, nhmsg, rtmsg_nh
from harness.scenario.ipsyntax import (
    NUD_STATES,
    AddrSpec,
    LinkSetSpec,
    NeighSpec,
    NexthopSpec,
    RouteCommand,
    RouteSpec,
    RuleSpec,
)

IFF_NOARP = 0x80
IFA_F_NODAD = 0x02
NTF_PROXY = 0x08
# NLM_F_* flags as iproute2 sends them for add, replace and del.
CHANGE_FLAGS = {
    "add": NLM_F_CREATE | NLM_F_EXCL,
    "replace": NLM_F_CREATE | NLM_F_REPLACE,
    "del": 0,
}
RTM_HEADER = ("family", "dst_len", "src_len", "tos", "table", "proto", "scope", "type", "flags")
RTA_KEYS = {
    "dst": "RTA_DST",
    "gateway": "RTA_GATEWAY",
    "oif": "RTA_OIF",
    "prefsrc": "RTA_PREFSRC",
    "priority": "RTA_PRIORITY",
    "nhid": "RTA_NH_ID",
}


class TopologyError(RuntimeError):
    """The kernel refused part of the topology; says which host, which command and why."""

    def __init__(self, message: str, code: int = 0, why: str = "") -> None:
        super().__init__(message)
        self.code = code  # the errno the kernel answered, when it answered one
        self.why = why  # the kernel's own words (its extended ack, or the errno's text)
        # Which item of the topology the kernel refused (`hosts`, `a`, `routes`, 0), when a
        # topology's set-up did: the builder says (harness/lab/builder.py).
        self.item: tuple[str | int, ...] = ()


def guarded(ns: NetNS, what: str, call: Callable[[], Any]) -> None:
    try:
        call()
    except NetlinkError as exc:
        raise TopologyError(
            f"host {ns.name}: `{what}` failed: {exc.args[1]} (errno {exc.code})",
            exc.code,
            str(exc.args[1]),
        ) from None
    except OSError as exc:  # sysctl writes
        # A key this kernel does not have is netns's FileNotFoundError, which names the
        # key and has no strerror (it said "failed: None").
        why = exc.strerror or str(exc)
        raise TopologyError(
            f"host {ns.name}: `{what}` failed: {why}", exc.errno or 0, why
        ) from None


def route(ns: NetNS, command: str, spec: RouteSpec) -> None:
    """`ip route COMMAND SPEC` inside `ns`, with iproute2's defaults."""
    oif = ns.link_index(spec.dev) if spec.dev else None
    verb: RouteCommand = "add" if command == "add" else "del" if command == "del" else "replace"
    fields = spec.netlink_fields(verb, oif, ns.link_index)
    if spec.nhid is None:
        guarded(ns, f"ip route {command} {spec}", lambda: ns.ipr.route(command, **fields))
        return
    # pyroute2 0.9 has no RTA_NH_ID: the message is built from the same fields here.
    msg = _route_message(fields)
    kind = RTM_DELROUTE if verb == "del" else RTM_NEWROUTE
    guarded(
        ns, f"ip route {command} {spec}", lambda: ns.rtnl.request(kind, CHANGE_FLAGS[verb], msg)
    )


def _route_message(fields: dict[str, Any]) -> rtmsg_nh:
    """An rtmsg carrying `fields` (RouteSpec.netlink_fields) as iproute2 would: a table
    above 255 in RTA_TABLE, metrics nested in RTA_METRICS, next hops in RTA_MULTIPATH."""
    msg = rtmsg_nh()
    for key in RTM_HEADER:
        msg[key] = fields.get(key, 0)
    attrs: list[tuple[str, Any]] = [(RTA_KEYS[k], v) for k, v in fields.items() if k in RTA_KEYS]
    if fields["table"] > 255:
        msg["table"] = 0  # RT_TABLE_UNSPEC
        attrs.append(("RTA_TABLE", fields["table"]))
    if "metrics" in fields:
        attrs.append(
            (
                "RTA_METRICS",
                {"attrs": [(f"RTAX_{k.upper()}", v) for k, v in fields["metrics"].items()]},
            )
        )
    if fields.get("multipath"):
        hops = [
            {
                "flags": hop["flags"],
                "hops": hop["hops"],
                "oif": hop.get("oif", 0),
                "attrs": [("RTA_GATEWAY", hop["gateway"])] if "gateway" in hop else [],
            }
            for hop in fields["multipath"]
        ]
        attrs.append(("RTA_MULTIPATH", hops))
    msg["attrs"] = attrs
    return msg


def nexthop(ns: NetNS, command: str, spec: NexthopSpec) -> None:
    """`ip nexthop COMMAND SPEC` inside `ns` (add, replace, del)."""
    header, attrs = spec.netlink_message(ns.link_index(spec.dev) if spec.dev else None)
    msg = nhmsg()
    for key, value in header.items():
        msg[key] = value
    msg["attrs"] = attrs
    kind = RTM_DELNEXTHOP if command == "del" else RTM_NEWNEXTHOP
    guarded(
        ns,
        f"ip nexthop {command} {spec}",
        lambda: ns.rtnl.request(kind, CHANGE_FLAGS[command], msg),
    )


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
    """`ip link set ...` inside `ns` (state, name, MAC address, ARP on or off, MTU)."""
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
    if spec.mtu is not None:
        fields["mtu"] = spec.mtu
    guarded(ns, f"ip link set {spec}", lambda: ns.ipr.link("set", **fields))
    if spec.name:
        ns.renamed(spec.dev, spec.name)


APPLY: dict[str, Callable[[NetNS, str, Any], None]] = {
    "route": route,
    "nexthop": nexthop,
    "rule": rule,
    "neigh": neigh,
    "addr": addr,
    "link": link_set,
}
