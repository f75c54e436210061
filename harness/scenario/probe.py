"""Probe and listener models: what a case's socket does, and who listens.

A probe's socket options and send flags come from the table in
harness/sockopts.py: each valued option is a field of the probe
(`bind_device: eth1`), each switch a name in `sockopts: [...]`.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, create_model, field_validator, model_validator

from harness.sockopts import OPTIONS, SEND_FLAGS, SWITCHES, VALUED, SocketOption, misspelled
from harness.vocabulary import IPAddress, Strict, check_allowed


def parse_bind(value: str) -> tuple[str, int]:
    """'ADDR', 'ADDR:PORT', ':PORT' or '[V6]:PORT' -> (address, port)."""
    m = re.fullmatch(
        r"\[(?P<v6>[^\]]+)\](?::(?P<p6>\d+))?|(?P<a>[^:]*)(?::(?P<p>\d+))?|(?P<bare6>.*:.*)", value
    )
    if not m:
        raise ValueError(f"bind {value!r}: write ADDR, ADDR:PORT, :PORT or [IPV6]:PORT")
    address = m["v6"] or m["a"] or m["bare6"] or ""
    port = int(m["p6"] or m["p"] or 0)
    if address:
        check_allowed(address)
    return address, port


class ProbeBase(Strict):
    """A real socket in `host` doing one thing: a UDP datagram, TCP connect, ping or raw frame."""

    host: str = Field(description="the host whose socket acts")
    proto: Literal["udp", "tcp", "icmp", "raw"] = Field(
        default="udp", description="udp (sendto), tcp (connect), icmp (ping socket), raw (frame)"
    )
    dst: IPAddress = Field(description="the destination; its family decides IPv4 or IPv6")
    port: int = Field(default=9000, ge=1, le=65535, description="UDP/TCP destination port")
    sockopts: list[str] = Field(
        default=[], description=f"socket options switched on: {', '.join(SWITCHES)}"
    )
    flags: list[str] = Field(
        default=[], description=f"flags of the send call: {', '.join(SEND_FLAGS)}"
    )
    bind: str | None = Field(default=None, description="bind() first: ADDR, ADDR:PORT or :PORT")
    connect: bool = Field(
        default=False, description="UDP: connect() and send() instead of sendto()"
    )
    payload_size: int = Field(
        default=64, ge=0, le=1400, description="bytes of payload in the datagram or frame"
    )
    timeout_ms: int = Field(
        default=1000,
        ge=10,
        le=5000,
        description="TCP: TCP_USER_TIMEOUT, after which the kernel itself gives up (ETIMEDOUT)",
    )
    iface: str | None = Field(default=None, description="raw: the interface to inject on")
    eth_dst: str | None = Field(default=None, description="raw: destination MAC of the frame")
    src: IPAddress | None = Field(default=None, description="raw: source IP of the frame")

    @field_validator("dst", "src")
    @classmethod
    def _allowed(cls, value: IPAddress | None) -> IPAddress | None:
        if value is not None:
            check_allowed(value)
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
        elif self.iface or self.eth_dst or self.src:
            raise ValueError("'iface', 'eth_dst' and 'src' belong to raw probes only")
        if self.connect and self.proto != "udp":
            raise ValueError("'connect' is for UDP probes (TCP always connects)")
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

    def bind_address(self) -> tuple[str, int] | None:
        """(address, port) to bind before acting, if any."""
        return parse_bind(self.bind) if self.bind else None

    def interfaces(self) -> Iterator[tuple[str, str]]:
        """(field, interface name) of each interface of its host the probe names."""
        for option, value in self.options():
            if option.interface:
                yield option.field, str(value)
        if self.iface is not None:
            yield "iface", self.iface

    def describe(self) -> str:
        """One line, like the command an article would run."""
        opts = [o.show(v, self.family) for o, v in self.options() if o.switch]
        opts += list(self.flags)
        opts += [o.show(v, self.family) for o, v in self.options() if not o.switch]
        if self.bind:
            opts.append(f"bind {self.bind}")
        extra = f" [{', '.join(opts)}]" if opts else " [no options]"
        action = {
            "udp": "udp connect+send" if self.connect else "udp sendto",
            "tcp": "tcp connect",
            "icmp": "ping",
            "raw": f"raw frame on {self.iface} to {self.eth_dst},",
        }[self.proto]
        where = f"{self.dst}" if self.proto == "icmp" else f"{self.dst}:{self.port}"
        return f"{self.host}: {action} {where}{extra}"


if TYPE_CHECKING:  # option fields are read through the table (`options`, `option`)
    Probe = ProbeBase
else:
    Probe = create_model(
        "Probe",
        __base__=ProbeBase,
        __module__=__name__,
        __doc__=ProbeBase.__doc__,
        **{
            o.field: (o.annotation | None, Field(default=None, description=o.description))
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

    @field_validator("bind")
    @classmethod
    def _allowed(cls, value: str | None) -> str | None:
        if value is not None:
            check_allowed(value)
        return value
