"""Probe options: every socket option and send flag a probe may set, one row each.

The table is read by everything that deals with options: the Probe model's
fields and checks (harness/scenario/probe.py), the one-line description of a
probe, the socket set-up (harness/probes.py), and the kernel route lookup
recorded for the probe's flow (harness/kernelstate.py), which must be asked
with the same keys the socket's own lookup uses.

Adding an option: one row here (and its README line and a use in
tests/scenarios/vocabulary.yaml).
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field

if TYPE_CHECKING:
    from harness.netns import NetNS

# Linux values missing from Python's socket module on some builds.
IP_FREEBIND = 15
IP_UNICAST_IF = 50
IPV6_UNICAST_IF = 76
SO_MARK = 36

SOCKET_KINDS = frozenset({"udp", "tcp", "icmp"})  # probes that have a socket of their own
Encoder = Callable[[Any, "NetNS"], int | bytes]


def _int(value: Any, ns: NetNS) -> int:
    del ns
    return int(value)


def _ifname(value: Any, ns: NetNS) -> bytes:
    del ns
    return str(value).encode()


def _ifindex_network_order(value: Any, ns: NetNS) -> bytes:
    # IP_UNICAST_IF and IPV6_UNICAST_IF take the ifindex in network byte order
    # (net/ipv4/ip_sockglue.c, net/ipv6/ipv6_sockglue.c).
    return struct.pack("!I", ns.link_index(str(value)))


@dataclass(frozen=True)
class SocketOption:
    """One socket option a probe can set before it acts."""

    field: str  # how a scenario writes it: a probe field, or a name in `sockopts: [...]`
    ipv4: tuple[str, int, int]  # (name as the man page spells it, level, optname)
    ipv6: tuple[str, int, int]
    description: str
    # None: a switch, written in `sockopts: [...]` and set to 1; else the field's type.
    annotation: Any = None
    encode: Encoder = _int
    # The attribute the kernel's own lookup is keyed by (`ip route get ... oif|mark|tos`).
    route_get: Literal["oif", "mark", "tos"] | None = None
    shown_hex: bool = False
    interface: bool = False  # the value names an interface of the probing host
    protos: frozenset[str] = SOCKET_KINDS

    @property
    def switch(self) -> bool:
        """Written as a name in `sockopts:` rather than as a field of its own."""
        return self.annotation is None

    def name(self, family: int) -> str:
        """The option's name for a socket of `family`."""
        return (self.ipv6 if family == socket.AF_INET6 else self.ipv4)[0]

    def apply(self, sock: socket.socket, value: Any, ns: NetNS) -> None:
        """setsockopt() with this option's level, name and encoded value."""
        _, level, optname = self.ipv6 if sock.family == socket.AF_INET6 else self.ipv4
        sock.setsockopt(level, optname, self.encode(1 if self.switch else value, ns))

    def show(self, value: Any, family: int) -> str:
        """`NAME` for a switch, `NAME=VALUE` otherwise, as the probe's description lists it."""
        if self.switch:
            return self.name(family)
        return (
            f"{self.name(family)}={value:#x}" if self.shown_hex else f"{self.name(family)}={value}"
        )


_SOL, _IP, _IPV6 = socket.SOL_SOCKET, socket.IPPROTO_IP, socket.IPPROTO_IPV6

OPTIONS: tuple[SocketOption, ...] = (
    SocketOption(
        "SO_DONTROUTE",
        ("SO_DONTROUTE", _SOL, socket.SO_DONTROUTE),
        ("SO_DONTROUTE", _SOL, socket.SO_DONTROUTE),
        "the socket's lookups are limited to link-scope routes (RTO_ONLINK)",
    ),
    SocketOption(
        "IP_FREEBIND",
        # inet->freebind is shared by both families: an IPv6 socket honours it too
        # (ipv6_can_nonlocal_bind), so the IPv4 level is used for both.
        ("IP_FREEBIND", _IP, IP_FREEBIND),
        ("IP_FREEBIND", _IP, IP_FREEBIND),
        "bind() may take an address the host does not have",
    ),
    SocketOption(
        "bind_device",
        ("SO_BINDTODEVICE", _SOL, socket.SO_BINDTODEVICE),
        ("SO_BINDTODEVICE", _SOL, socket.SO_BINDTODEVICE),
        "SO_BINDTODEVICE: the interface the socket is bound to",
        annotation=str,
        encode=_ifname,
        route_get="oif",
        interface=True,
    ),
    SocketOption(
        "unicast_if",
        ("IP_UNICAST_IF", _IP, IP_UNICAST_IF),
        ("IPV6_UNICAST_IF", _IPV6, IPV6_UNICAST_IF),
        "IP_UNICAST_IF / IPV6_UNICAST_IF: the interface unicast packets leave by",
        annotation=str,
        encode=_ifindex_network_order,
        route_get="oif",
        interface=True,
    ),
    SocketOption(
        "mark",
        ("SO_MARK", _SOL, SO_MARK),
        ("SO_MARK", _SOL, SO_MARK),
        "SO_MARK: the fwmark policy rules match on",
        annotation=Annotated[int, Field(ge=0, le=0xFFFFFFFF)],
        route_get="mark",
        shown_hex=True,
    ),
    SocketOption(
        "tos",
        ("IP_TOS", _IP, socket.IP_TOS),
        ("IPV6_TCLASS", _IPV6, socket.IPV6_TCLASS),
        "IP_TOS (IPv4) or IPV6_TCLASS (IPv6): the TOS byte / traffic class",
        annotation=Annotated[int, Field(ge=0, le=255)],
        route_get="tos",
        shown_hex=True,
    ),
)
SWITCHES = {o.field: o for o in OPTIONS if o.switch}
VALUED = {o.field: o for o in OPTIONS if not o.switch}


@dataclass(frozen=True)
class SendFlag:
    """A flag of one send call (send(2)'s `flags`)."""

    name: str
    value: int
    description: str
    protos: frozenset[str] = frozenset({"udp", "icmp"})


SEND_FLAGS: dict[str, SendFlag] = {
    f.name: f
    for f in (
        SendFlag(
            "MSG_DONTROUTE",
            socket.MSG_DONTROUTE,
            "this one send is limited to link-scope routes, as SO_DONTROUTE for the socket",
        ),
    )
}


def misspelled(name: str) -> str | None:
    """For a name written in `sockopts:` that is a valued option: how to write it instead."""
    for option in VALUED.values():
        if name in (option.ipv4[0], option.ipv6[0]):
            return f"write {name} as '{option.field}: VALUE'"
    return None
