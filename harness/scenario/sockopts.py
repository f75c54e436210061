"""Probe options: every socket option and send flag a probe may set, one row each.

The table is read by everything that deals with options: the Probe model's
fields and checks (harness/scenario/probe.py), the one-line description of a
probe, the socket set-up (harness/lab/probes.py), and the kernel route lookup
recorded for the probe's flow (harness/case/kernel_state.py), which must be asked
with the same keys the socket's own lookup uses.

Adding an option: one row here (and its README line and a use in
tests/scenarios/vocabulary.yaml).
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import Field

# Linux values missing from Python's socket module on some builds.
IP_FREEBIND = 15
IP_UNICAST_IF = 50
IPV6_UNICAST_IF = 76
SO_MARK = 36
IP_MTU_DISCOVER = 10
IPV6_MTU_DISCOVER = 23
# IP_PMTUDISC_* and IPV6_PMTUDISC_* (linux/in.h, linux/in6.h): the same numbers.
PMTUDISC = {"dont": 0, "want": 1, "do": 2, "probe": 3, "interface": 4, "omit": 5}

SOCKET_KINDS = frozenset({"udp", "tcp", "icmp"})  # probes that have a socket of their own
# An interface's index by name, in the namespace of the socket an option is set on.
IndexOf = Callable[[str], int]
Encoder = Callable[[Any, IndexOf], int | bytes]


def _int(value: Any, index_of: IndexOf) -> int:
    del index_of
    return int(value)


def _ifname(value: Any, index_of: IndexOf) -> bytes:
    del index_of
    return str(value).encode()


def _ifindex_network_order(value: Any, index_of: IndexOf) -> bytes:
    # IP_UNICAST_IF and IPV6_UNICAST_IF take the ifindex in network byte order
    # (net/ipv4/ip_sockglue.c, net/ipv6/ipv6_sockglue.c).
    return struct.pack("!I", index_of(str(value)))


def _ip_mreqn(value: Any, index_of: IndexOf) -> bytes:
    # IP_MULTICAST_IF takes a struct ip_mreqn (group, address, ifindex): with an
    # ifindex and no address the interface is chosen by index (ip_sockglue.c).
    return struct.pack("=4s4si", bytes(4), bytes(4), index_of(str(value)))


def _ifindex(value: Any, index_of: IndexOf) -> int:
    # IPV6_MULTICAST_IF takes a plain int ifindex, in host order.
    return index_of(str(value))


def _pmtudisc(value: Any, index_of: IndexOf) -> int:
    del index_of
    return PMTUDISC[str(value)]


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
    encode_ipv6: Encoder | None = None  # when an IPv6 socket takes another form of the value
    # The attribute the kernel's own lookup is keyed by (`ip route get ... oif|mark|tos`),
    # and, when the option only steers some destinations, which (udp_sendmsg and
    # udpv6_sendmsg use the multicast interface for groups, the unicast one otherwise).
    route_get: Literal["oif", "mark", "tos"] | None = None
    route_get_for: Literal["unicast", "multicast"] | None = None
    shown_hex: bool = False
    interface: bool = False  # the value names an interface of the probing host
    protos: frozenset[str] = SOCKET_KINDS
    example: Any = None  # a value for `harness new`'s skeleton (harness/importer/skeleton.py)

    @property
    def switch(self) -> bool:
        """Written as a name in `sockopts:` rather than as a field of its own."""
        return self.annotation is None

    def name(self, family: int) -> str:
        """The option's name for a socket of `family`."""
        return (self.ipv6 if family == socket.AF_INET6 else self.ipv4)[0]

    def apply(self, sock: socket.socket, value: Any, index_of: IndexOf) -> None:
        """setsockopt() with this option's level, name and encoded value."""
        v6 = sock.family == socket.AF_INET6
        _, level, optname = self.ipv6 if v6 else self.ipv4
        encode = self.encode_ipv6 if v6 and self.encode_ipv6 is not None else self.encode
        sock.setsockopt(level, optname, encode(1 if self.switch else value, index_of))

    def steers(self, multicast: bool) -> bool:
        """The option decides the kernel's lookup for a destination of this kind."""
        if self.route_get_for is None:
            return True
        return self.route_get_for == ("multicast" if multicast else "unicast")

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
        "SO_BROADCAST",
        ("SO_BROADCAST", _SOL, socket.SO_BROADCAST),
        ("SO_BROADCAST", _SOL, socket.SO_BROADCAST),
        "sending to a broadcast address is allowed (without it: EACCES)",
        protos=frozenset({"udp", "icmp"}),
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
        example="eth0",
    ),
    SocketOption(
        "unicast_if",
        ("IP_UNICAST_IF", _IP, IP_UNICAST_IF),
        ("IPV6_UNICAST_IF", _IPV6, IPV6_UNICAST_IF),
        "IP_UNICAST_IF / IPV6_UNICAST_IF: the interface unicast packets leave by",
        annotation=str,
        encode=_ifindex_network_order,
        route_get="oif",
        route_get_for="unicast",
        interface=True,
        example="eth0",
    ),
    SocketOption(
        "multicast_if",
        ("IP_MULTICAST_IF", _IP, socket.IP_MULTICAST_IF),
        ("IPV6_MULTICAST_IF", _IPV6, socket.IPV6_MULTICAST_IF),
        "IP_MULTICAST_IF / IPV6_MULTICAST_IF: the interface multicast packets leave by",
        annotation=str,
        encode=_ip_mreqn,
        encode_ipv6=_ifindex,
        route_get="oif",
        route_get_for="multicast",
        interface=True,
        protos=frozenset({"udp"}),
        example="eth0",
    ),
    SocketOption(
        "mark",
        ("SO_MARK", _SOL, SO_MARK),
        ("SO_MARK", _SOL, SO_MARK),
        "SO_MARK: the fwmark policy rules match on",
        annotation=Annotated[int, Field(ge=0, le=0xFFFFFFFF)],
        route_get="mark",
        shown_hex=True,
        example=7,
    ),
    SocketOption(
        "tos",
        ("IP_TOS", _IP, socket.IP_TOS),
        ("IPV6_TCLASS", _IPV6, socket.IPV6_TCLASS),
        "IP_TOS (IPv4) or IPV6_TCLASS (IPv6): the TOS byte / traffic class",
        annotation=Annotated[int, Field(ge=0, le=255)],
        route_get="tos",
        shown_hex=True,
        example=16,
    ),
    SocketOption(
        "ttl",
        ("IP_TTL", _IP, socket.IP_TTL),
        ("IPV6_UNICAST_HOPS", _IPV6, socket.IPV6_UNICAST_HOPS),
        "IP_TTL (IPv4) or IPV6_UNICAST_HOPS (IPv6): the TTL / hop limit of unicast and "
        "broadcast packets (multicast packets use IP_MULTICAST_TTL, 1 by default)",
        annotation=Annotated[int, Field(ge=1, le=255)],
        example=64,
    ),
    SocketOption(
        "multicast_ttl",
        ("IP_MULTICAST_TTL", _IP, socket.IP_MULTICAST_TTL),
        ("IPV6_MULTICAST_HOPS", _IPV6, socket.IPV6_MULTICAST_HOPS),
        "IP_MULTICAST_TTL (IPv4) or IPV6_MULTICAST_HOPS (IPv6): the TTL / hop limit of "
        "multicast packets (1 by default)",
        annotation=Annotated[int, Field(ge=0, le=255)],
        protos=frozenset({"udp"}),
        example=1,
    ),
    SocketOption(
        "mtu_discover",
        ("IP_MTU_DISCOVER", _IP, IP_MTU_DISCOVER),
        ("IPV6_MTU_DISCOVER", _IPV6, IPV6_MTU_DISCOVER),
        "IP_MTU_DISCOVER / IPV6_MTU_DISCOVER: path MTU discovery mode, "
        f"{', '.join(PMTUDISC)} (`do`: DF set and a datagram above the path MTU gets "
        "EMSGSIZE; `dont`: fragmented locally, DF clear)",
        annotation=Literal["dont", "want", "do", "probe", "interface", "omit"],
        encode=_pmtudisc,
        example="do",
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
