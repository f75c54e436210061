"""Probe and listener models: what a case's socket does, and who listens.

A probe's socket options and send flags come from the table in
harness/scenario/sockopts.py: each valued option is a field of the probe
(`bind_device: eth1`), each switch a name in `sockopts: [...]`.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, create_model, field_validator, model_validator

from harness.core.validation import FieldError, IPAddress, Strict, check_allowed, needs_scope
from harness.scenario.sockopts import (
    OPTIONS,
    SEND_FLAGS,
    SWITCHES,
    VALUED,
    SocketOption,
    misspelled,
)

# The largest UDP payload the length fields allow (65535 - 8); what the kernel then
# accepts is its answer (IPv4: 65507 at most, EMSGSIZE above).
MAX_PAYLOAD = 65527
SOCKET_NAME = r"^[a-z][a-z0-9-]*$"


def parse_bind(value: str) -> tuple[str, int]:
    """'ADDR', 'ADDR:PORT', ':PORT' or '[V6]:PORT' -> (address, port)."""
    m = re.fullmatch(
        r"\[(?P<v6>[^\]]+)\](?::(?P<p6>\d+))?|(?P<a>[^:]*)(?::(?P<p>\d+))?|(?P<bare6>.*:.*)", value
    )
    if not m:
        raise ValueError(f"bind {value!r}: write ADDR, ADDR:PORT, :PORT or [IPV6]:PORT")
    address = m["v6"] or m["a"] or m["bare6"] or ""
    port = int(m["p6"] or m["p"] or 0)
    if port > 65535:
        raise ValueError(f"bind {value!r}: port {port} is above 65535")
    if address:
        check_allowed(address)
    return address, port


class ProbeBase(Strict):
    """A real socket in `host` doing one thing: a UDP datagram, TCP connect, ping or raw frame."""

    host: str = Field(description="the host whose socket acts")
    proto: Literal["udp", "tcp", "icmp", "raw"] = Field(
        default="udp", description="udp (sendto), tcp (connect), icmp (ping socket), raw (frame)"
    )
    dst: IPAddress = Field(
        description="the destination; its family decides IPv4 or IPv6; a link-local IPv6 "
        "address names its interface as the scope, `fe80::2%eth0`"
    )
    port: int = Field(default=9000, ge=1, le=65535, description="UDP/TCP destination port")
    sockopts: list[str] = Field(
        default=[], description=f"socket options switched on: {', '.join(SWITCHES)}"
    )
    flags: list[str] = Field(
        default=[], description=f"flags of the send call: {', '.join(SEND_FLAGS)}"
    )
    bind: str | None = Field(default=None, description="bind() first: ADDR, ADDR:PORT or :PORT")
    sport: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="the source port: bind() to it first (with bind's address, if any); "
        "raw: the frame's UDP source port (else 40000)",
        examples=[5000],
    )
    uid: int | None = Field(
        default=None,
        ge=0,
        le=0xFFFFFFFE,
        description="the socket's owner, which `ip rule ... uidrange` selects on: the "
        "kernel takes it when the socket is created (sk_uid, from the creating thread's "
        "fsuid), so the socket is created under this fsuid (setfsuid)",
        examples=[1000],
    )
    connect: bool = Field(
        default=False, description="UDP: connect() and send() instead of sendto()"
    )
    payload_size: int = Field(
        default=64,
        ge=0,
        le=MAX_PAYLOAD,
        description=f"bytes of payload in the datagram or frame (up to {MAX_PAYLOAD}; above "
        "the path MTU a datagram is fragmented or refused, as the kernel decides)",
    )
    flows: int = Field(
        default=1,
        ge=1,
        le=64,
        description="UDP: this many datagrams from the one socket, to ports port, port+1, ... "
        "(flows a multipath hash may spread)",
    )
    socket: str | None = Field(
        default=None,
        pattern=SOCKET_NAME,
        description="UDP/ping: a name for the probe's socket; a later act naming it sends on "
        "the same socket (its options set again, no new bind)",
    )
    timeout_ms: int = Field(
        default=1000,
        ge=10,
        le=5000,
        description="TCP: TCP_USER_TIMEOUT, after which the kernel itself gives up (ETIMEDOUT)",
    )
    iface: str | None = Field(default=None, description="raw: the interface to inject on")
    eth_dst: str | None = Field(default=None, description="raw: destination MAC of the frame")
    src: IPAddress | None = Field(
        default=None,
        description="raw: source IP of the frame; with `iif`: the arriving packet's source "
        "(`ip route get ... from SRC iif DEV`)",
    )
    iif: str | None = Field(
        default=None,
        description="the act's recorded lookup (`route:`) becomes the kernel's input lookup "
        "for a packet from `src` arriving on this interface of the host, as `ip route get "
        "DST from SRC iif DEV` asks it (RTA_IIF), with the probe's tos, mark, protocol and "
        "ports; the socket still sends as written",
        examples=["eth0"],
    )
    flowlabel: int | None = Field(
        default=None,
        ge=0,
        le=0xFFFFF,
        description="with `iif`, IPv6: the arriving packet's flow label (`ip route get ... "
        "flowlabel`, RTA_FLOWLABEL), which `ip -6 rule ... flowlabel` selects on",
        examples=[0xFFFFF],
    )

    @field_validator("dst")
    @classmethod
    def _allowed_destination(cls, value: IPAddress) -> IPAddress:
        check_allowed(value, "destination")
        return value

    @field_validator("src")
    @classmethod
    def _allowed_source(cls, value: IPAddress | None) -> IPAddress | None:
        if value is not None:
            check_allowed(value, "source")
        return value

    @field_validator("bind")
    @classmethod
    def _bind_ok(cls, value: str | None) -> str | None:
        if value is not None:
            parse_bind(value)
        return value

    @field_validator("sockopts")
    @classmethod
    def _known_switches(cls, value: list[str]) -> list[str]:
        for name in value:
            hint = misspelled(name)
            if hint:
                raise ValueError(hint)
            if name not in SWITCHES:
                raise ValueError(f"unknown socket option {name!r} (known: {', '.join(SWITCHES)})")
        return value

    @field_validator("flags")
    @classmethod
    def _known_flags(cls, value: list[str]) -> list[str]:
        for flag in value:
            if flag not in SEND_FLAGS:
                raise ValueError(f"unknown send flag {flag!r} (known: {', '.join(SEND_FLAGS)})")
        return value

    @model_validator(mode="after")
    def _fits_proto(self) -> ProbeBase:
        if self.proto == "raw":
            if self.iface is None or self.eth_dst is None:
                raise ValueError("a raw probe needs 'iface' and 'eth_dst'")
        elif self.iface or self.eth_dst:
            raise ValueError("'iface' and 'eth_dst' belong to raw probes only")
        self._fits_input_lookup()
        if self.sport is not None and self.bind is not None and parse_bind(self.bind)[1]:
            raise FieldError(("sport",), "the port is given twice: in 'bind' and in 'sport'")
        if self.uid is not None and self.proto == "raw":
            raise ValueError("'uid' is a socket's owner; a raw probe's frame has none")
        if self.uid is not None and self.socket is not None:
            raise ValueError(
                "'uid' is taken when a socket is created; a named socket is created once"
            )
        if self.connect and self.proto != "udp":
            raise ValueError("'connect' is for UDP probes (TCP always connects)")
        if self.flows > 1 and (self.proto != "udp" or self.connect):
            raise ValueError("'flows' is for UDP probes with sendto (not 'connect')")
        if self.port + self.flows - 1 > 65535:
            raise FieldError(
                ("flows",),
                f"{self.flows} flows from port {self.port} go past port 65535 "
                f"(to {self.port + self.flows - 1})",
            )
        if self.socket is not None and self.proto not in ("udp", "icmp"):
            raise ValueError("'socket' (one socket across acts) is for udp and icmp probes")
        if self.scope is not None and self.proto == "raw":
            raise ValueError("a raw probe's frame has no socket address: write dst without %IF")
        for option, _ in self.options():
            if self.proto not in option.protos:
                what = "a raw probe's frame is built as given" if self.proto == "raw" else ""
                raise ValueError(
                    f"{what + ': ' if what else ''}'{option.field}' does not apply to "
                    f"{self.proto} probes (only {', '.join(sorted(option.protos))})"
                )
        for flag in self.flags:
            if self.proto not in SEND_FLAGS[flag].protos:
                raise ValueError(
                    f"send flags apply to {' and '.join(sorted(SEND_FLAGS[flag].protos))} probes"
                )
        return self

    def _fits_input_lookup(self) -> None:
        """`iif` asks what iproute2's `ip route get DST from SRC iif DEV` asks: the fields
        that make no sense for a packet that arrives are refused, each by name."""
        if self.iif is None:
            if self.src is not None and self.proto != "raw":
                raise FieldError(
                    ("src",),
                    "'src' is a raw probe's frame source, or with 'iif' the source of the "
                    "packet the input lookup is for",
                )
            if self.flowlabel is not None:
                raise FieldError(
                    ("flowlabel",),
                    "'flowlabel' is the arriving packet's flow label of an input lookup: "
                    "give 'iif' and 'src' too (the probe's socket sends no flow label)",
                )
            return
        if self.proto == "raw":
            raise FieldError(("iif",), "'iif' is for udp, tcp and icmp probes (not raw)")
        # inet_rtm_getroute: an input lookup from 0.0.0.0 is a martian (EINVAL), and
        # iproute2 asks for `from` with `iif`.
        if self.src is None:
            raise FieldError(
                ("iif",),
                "an input lookup needs the arriving packet's source: add 'src' "
                "(`ip route get DST from SRC iif DEV`)",
            )
        if self.src.version != self.dst.version:
            raise FieldError(
                ("src",), f"src {self.src} and dst {self.dst} are not of one IP family"
            )
        if self.flowlabel is not None and self.dst.version != 6:
            raise FieldError(("flowlabel",), "'flowlabel' is an IPv6 header field")
        if self.bind is not None and parse_bind(self.bind)[0]:
            raise FieldError(
                ("bind",), "with 'iif' the lookup's source is 'src'; 'bind' may give a port only"
            )
        # ip_route_input_slow takes no socket owner (flowi4_uid is the netns's), and an
        # arriving packet has no output interface: these keys would not be the kernel's.
        if self.uid is not None:
            raise FieldError(
                ("uid",), "an arriving packet has no socket owner: drop 'uid' or 'iif'"
            )
        for option, _ in self.options():
            if option.route_get == "oif":
                raise FieldError(
                    (option.field,),
                    f"an input lookup ('iif') has no output interface: drop '{option.field}'",
                )
        if self.scope_steers:
            raise FieldError(
                ("dst",), "an input lookup ('iif') has no output interface: write dst without %IF"
            )

    def options(self) -> Iterator[tuple[SocketOption, Any]]:
        """(option, value) of each socket option this probe sets, in table order."""
        for option in OPTIONS:
            if option.switch:
                if option.field in self.sockopts:
                    yield option, True
            elif (value := getattr(self, option.field)) is not None:
                yield option, value

    def option(self, field: str) -> Any:
        """The value of the valued option `field` (None when not set)."""
        if field not in VALUED:
            raise KeyError(f"no valued socket option {field!r}")
        return getattr(self, field)

    def send_flags(self) -> int:
        """The flags argument of the send call."""
        value = 0
        for flag in self.flags:
            value |= SEND_FLAGS[flag].value
        return value

    @property
    def family(self) -> int:
        """AF_INET or AF_INET6, from the destination."""
        return socket.AF_INET6 if self.dst.version == 6 else socket.AF_INET

    @property
    def address(self) -> str:
        """The destination address without its scope (`fe80::2` of `fe80::2%eth0`)."""
        return str(self.dst).split("%", 1)[0]

    @property
    def scope(self) -> str | None:
        """The interface a scoped IPv6 destination names (`eth0` of `fe80::2%eth0`)."""
        return getattr(self.dst, "scope_id", None) or None

    @property
    def scope_steers(self) -> bool:
        """The scope decides the outgoing interface: the kernel uses sin6_scope_id only for
        addresses that need one (link-local, and link- or interface-local multicast)."""
        return self.scope is not None and needs_scope(self.dst)

    @property
    def multicast(self) -> bool:
        """The destination is a multicast group."""
        return self.dst.is_multicast

    def ports(self) -> list[int]:
        """The destination port of each flow."""
        return list(range(self.port, self.port + self.flows))

    def bind_address(self) -> tuple[str, int] | None:
        """(address, port) to bind before acting, if any: `bind`, and `sport` as the port."""
        address, port = parse_bind(self.bind) if self.bind else ("", 0)
        if self.sport is not None and self.proto != "raw":
            port = self.sport
        return (address, port) if self.bind or port else None

    def interfaces(self) -> Iterator[tuple[str, str]]:
        """(field, interface name) of each interface of its host the probe names."""
        if self.scope is not None:
            yield "dst", self.scope
        for option, value in self.options():
            if option.interface:
                yield option.field, str(value)
        if self.iface is not None:
            yield "iface", self.iface
        if self.iif is not None:
            yield "iif", self.iif

    def describe(self) -> str:
        """One line, like the command an article would run."""
        opts = [o.show(v, self.family) for o, v in self.options() if o.switch]
        opts += list(self.flags)
        opts += [o.show(v, self.family) for o, v in self.options() if not o.switch]
        if self.bind:
            opts.append(f"bind {self.bind}")
        if self.sport is not None:
            opts.append(f"sport {self.sport}")
        if self.uid is not None:
            opts.append(f"uid {self.uid}")
        if self.socket:
            opts.append(f"socket {self.socket}")
        if self.iif is not None:
            opts.append(f"lookup from {self.src} iif {self.iif}")
        if self.flowlabel is not None:
            opts.append(f"flowlabel {self.flowlabel:#x}")
        if self.payload_size != 64:
            opts.append(f"{self.payload_size} bytes")
        extra = f" [{', '.join(opts)}]" if opts else " [no options]"
        action = {
            "udp": "udp connect+send" if self.connect else "udp sendto",
            "tcp": "tcp connect",
            "icmp": "ping",
            "raw": f"raw frame on {self.iface} to {self.eth_dst},",
        }[self.proto]
        port = f"{self.port}-{self.port + self.flows - 1}" if self.flows > 1 else f"{self.port}"
        where = f"{self.dst}" if self.proto == "icmp" else f"{self.dst}:{port}"
        return f"{self.host}: {action} {where}{extra}"


def _examples(example: Any) -> list[Any] | None:
    """A row's example as pydantic keeps one (`FieldInfo.examples`), read by `harness new`."""
    return None if example is None else [example]


if TYPE_CHECKING:  # option fields are read through the table (`options`, `option`)
    Probe = ProbeBase
else:
    Probe = create_model(
        "Probe",
        __base__=ProbeBase,
        __module__=__name__,
        __doc__=ProbeBase.__doc__,
        **{
            o.field: (
                o.annotation | None,
                Field(default=None, description=o.description, examples=_examples(o.example)),
            )
            for o in VALUED.values()
        },
    )


class Listener(Strict):
    """A socket on a host that records what reaches it (UDP datagrams, TCP connections)."""

    host: str = Field(description="the listening host")
    proto: Literal["udp", "tcp"] = Field(default="udp", description="udp or tcp")
    port: int = Field(default=9000, ge=1, le=65535, description="the port it listens on")
    bind: str | None = Field(default=None, description="address to bind; default: any")
    bind_device: str | None = Field(default=None, description="SO_BINDTODEVICE on the listener")
    ipv6: bool = Field(default=False, description="an IPv6 socket (implied by an IPv6 bind)")
    join: list[IPAddress] = Field(
        default=[],
        description="UDP: multicast groups the socket joins (IP_ADD_MEMBERSHIP / "
        "IPV6_ADD_MEMBERSHIP); the kernel then sends an IGMP or MLD report",
    )
    join_dev: str | None = Field(
        default=None,
        description="the interface the groups are joined on (default: the kernel's choice, "
        "by a route lookup for the group)",
    )

    @field_validator("bind")
    @classmethod
    def _allowed(cls, value: str | None) -> str | None:
        if value is not None:
            check_allowed(value, "destination")
        return value

    @field_validator("join")
    @classmethod
    def _groups(cls, value: list[IPAddress]) -> list[IPAddress]:
        for group in value:
            if not group.is_multicast:
                raise ValueError(f"{group} is not a multicast group (224.0.0.0/4, ff00::/8)")
        return value

    @model_validator(mode="after")
    def _one_family(self) -> Listener:
        if self.join and self.proto != "udp":
            raise ValueError("only a UDP socket joins multicast groups")
        if self.join_dev is not None and not self.join:
            raise ValueError("'join_dev' says where to join the groups in 'join'")
        # A socket joins groups of its own family only (IP_ADD_MEMBERSHIP on AF_INET,
        # IPV6_JOIN_GROUP on AF_INET6); `v6` is itself true for any IPv6 group, so the
        # bound address is compared with each group on its own.
        if self.bind is not None:
            bound = ipaddress.ip_address(self.bind)
            for group in self.join:
                if group.version != bound.version:
                    raise FieldError(
                        ("join",),
                        f"bound to IPv{bound.version} {bound}, it cannot join "
                        f"IPv{group.version} group {group}",
                    )
        if len({g.version for g in self.join} | ({6} if self.v6 else {4})) > 1:
            raise FieldError(
                ("join",),
                "an IPv4 listener joins IPv4 groups, an IPv6 one (ipv6: true) IPv6 groups",
            )
        return self

    @property
    def v6(self) -> bool:
        """An IPv6 socket: said so, or implied by the bind address or the groups."""
        bound = self.bind is not None and ":" in self.bind
        return self.ipv6 or bound or any(g.version == 6 for g in self.join)


ListenerKey = tuple[str, Literal["udp", "tcp"], int, bool]


def listener_keys(hosts: Iterable[str], probes: Iterable[Probe]) -> Iterator[ListenerKey]:
    """(host, proto, port, IPv6) of each default listener, each once, in order."""
    seen: set[ListenerKey] = set()
    for probe in probes:
        if probe.proto == "icmp":
            continue
        proto: Literal["udp", "tcp"] = "tcp" if probe.proto == "tcp" else "udp"
        for host in hosts:
            if host == probe.host:
                continue
            for port in probe.ports():
                key = (host, proto, port, probe.dst.version == 6)
                if key not in seen:
                    seen.add(key)
                    yield key


def default_listeners(hosts: Iterable[str], probes: Iterable[Probe]) -> list[Listener]:
    """One UDP or TCP listener on every host but the prober, for each port and family of
    each probe (a probe with several flows has several ports)."""
    # Keys first, deduplicated by a set: a big case wants thousands (one per port per host).
    return [
        Listener(host=h, proto=proto, port=p, ipv6=v6)
        for h, proto, p, v6 in listener_keys(list(hosts), list(probes))
    ]
