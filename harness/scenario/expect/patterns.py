"""The small languages expectations are written in: `who-has X tell Y`, `HOST from IP`,
`type T code C from IP`, frame patterns, link attributes and route lookups.

Each pattern is a model; a string form is parsed into it before validation, and
`str()` gives the form back.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from harness.core.evidence import who_has
from harness.core.validation import IPAddress, Strict, check_errno_name

_ARP_RE = re.compile(r"who-has (?P<target>\S+)(?: tell (?P<sender>\S+))?")
_RECEIPT_RE = re.compile(r"(?P<host>[a-z][a-z0-9-]*)(?: from (?P<src>\S+))?")
_ICMP_RE = re.compile(r"type (?P<type>\d+)(?: code (?P<code>\d+))?(?: from (?P<src>\S+))?")


class ArpPattern(Strict):
    """An address-resolution request as tcpdump prints it: `who-has TARGET [tell SENDER]`.

    Matches ARP requests (IPv4) and neighbour solicitations (IPv6) alike.
    """

    target: IPAddress = Field(description="the address asked for")
    sender: IPAddress | None = Field(default=None, description="the address asking")

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, value: Any) -> Any:
        if isinstance(value, str):
            m = _ARP_RE.fullmatch(value.strip())
            if not m:
                raise ValueError(
                    f"{value!r}: write a request as 'who-has IP' or 'who-has IP tell IP'"
                )
            return {"target": m["target"], "sender": m["sender"]}
        return value

    def __str__(self) -> str:
        return who_has(self.target, self.sender)


class ReceiptPattern(Strict):
    """What reached `host`'s listener (for a ping: which host answered), optionally from `src`."""

    host: str = Field(description="the host whose socket got it")
    src: IPAddress | None = Field(default=None, description="its source address")

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, value: Any) -> Any:
        if isinstance(value, str):
            m = _RECEIPT_RE.fullmatch(value.strip())
            if not m:
                raise ValueError(f"{value!r}: write a delivery as 'HOST' or 'HOST from IP'")
            return {"host": m["host"], "src": m["src"]}
        return value

    def __str__(self) -> str:
        return self.host + (f" from {self.src}" if self.src else "")


class IcmpPattern(Strict):
    """An ICMP/ICMPv6 error that reached the probing host: `type T [code C] [from IP]`."""

    type: int = Field(description="ICMP or ICMPv6 type")
    code: int | None = Field(default=None, description="its code")
    src: IPAddress | None = Field(default=None, description="who sent it")

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, value: Any) -> Any:
        if isinstance(value, str):
            m = _ICMP_RE.fullmatch(value.strip())
            if not m:
                raise ValueError(f"{value!r}: write an ICMP error as 'type T [code C] [from IP]'")
            return {"type": m["type"], "code": m["code"], "src": m["src"]}
        return value

    def __str__(self) -> str:
        code = f" code {self.code}" if self.code is not None else ""
        return f"type {self.type}{code}" + (f" from {self.src}" if self.src else "")


class PacketPattern(Strict):
    """A frame seen on the wire; every field given must match, the rest is free."""

    host: str | None = Field(default=None, description="a host, or a LAN (its switch)")
    ifname: str | None = Field(default=None, description="the interface it was seen on")
    direction: Literal["in", "out", "fd"] | None = Field(
        default=None, description="in, out, or fd: written by the kernel to a tun/tap fd"
    )
    pkttype: Literal["host", "broadcast", "multicast", "otherhost", "outgoing", "fd"] | None = (
        Field(default=None, description="the packet socket's classification of the frame")
    )
    proto: str | None = Field(default=None, description="arp, ndp, udp, tcp, icmp, icmp6, ...")
    src: IPAddress | None = Field(default=None, description="IP source (ARP: sender)")
    dst: IPAddress | None = Field(default=None, description="IP destination (ARP: target)")
    sport: int | None = Field(default=None, description="UDP/TCP source port")
    dport: int | None = Field(default=None, description="UDP/TCP destination port")
    tcp_flags: str | None = Field(
        default=None, description="as scapy prints them: S, SA, R, RA, ..."
    )
    icmp_type: int | None = Field(default=None, description="ICMP or ICMPv6 type")
    icmp_code: int | None = Field(default=None, description="ICMP or ICMPv6 code")
    tos: int | None = Field(default=None, description="IPv4 TOS byte or IPv6 traffic class")
    icmp_mtu: int | None = Field(
        default=None, description="the MTU a fragmentation-needed / packet-too-big error names"
    )
    length: int | None = Field(
        default=None, description="IP total length (IPv6: 40 plus the payload length)"
    )
    ttl: int | None = Field(default=None, ge=0, le=255, description="TTL or hop limit")
    df: bool | None = Field(default=None, description="IPv4 don't-fragment flag")
    mf: bool | None = Field(default=None, description="more-fragments flag (IPv4 or IPv6)")
    frag_offset: int | None = Field(
        default=None, ge=0, description="fragment offset in bytes (0: first or not a fragment)"
    )
    ip_id: int | None = Field(
        default=None, description="IPv4 identification, or an IPv6 fragment header's id"
    )

    def __str__(self) -> str:
        return " ".join(f"{k}={v}" for k, v in self.model_dump(exclude_none=True).items())


class SeenPattern(PacketPattern):
    """A frame that must appear; with `count`, exactly that many such frames."""

    count: int | None = Field(
        default=None,
        ge=0,
        description="exactly this many matching frames (a datagram in two fragments: 2)",
    )


# IFF_* of include/uapi/linux/if.h, named and ordered as `ip link` prints them
# (iproute2 ip/ipaddress.c print_link_flags); IFF_RUNNING is not printed itself but as
# NO-CARRIER, first, when a link is UP without it.
IFF_UP, IFF_RUNNING = 0x1, 0x40
LINK_FLAGS = (
    ("LOOPBACK", 0x8),
    ("BROADCAST", 0x2),
    ("POINTOPOINT", 0x10),
    ("MULTICAST", 0x1000),
    ("NOARP", 0x80),
    ("ALLMULTI", 0x200),
    ("PROMISC", 0x100),
    ("MASTER", 0x400),
    ("SLAVE", 0x800),
    ("DEBUG", 0x4),
    ("DYNAMIC", 0x8000),
    ("AUTOMEDIA", 0x4000),
    ("PORTSEL", 0x2000),
    ("NOTRAILERS", 0x20),
    ("UP", IFF_UP),
    ("LOWER_UP", 0x10000),
    ("DORMANT", 0x20000),
    ("ECHO", 0x40000),
)
LINK_FLAG_NAMES = ("NO-CARRIER", *(name for name, _ in LINK_FLAGS))


def link_flag_names(flags: int) -> list[str]:
    """A link's ifi_flags as `ip link` prints them, in its order."""
    carrier = ["NO-CARRIER"] if flags & IFF_UP and not flags & IFF_RUNNING else []
    return carrier + [name for name, bit in LINK_FLAGS if flags & bit]


class LinkExpectation(Strict):
    """Attributes of one link after the probe, as `ip -d link show` reports them."""

    type: Literal["ether", "none", "loopback"] | None = Field(
        default=None, description="link type: ether, none (tun: no link layer), loopback"
    )
    address: str | None = Field(
        default=None, description="exact link-layer address, or 'none' for no address at all"
    )
    address_prefix: str | None = Field(
        default=None, description="the address starts with these octets, e.g. 00:ff"
    )
    locally_administered: bool | None = Field(
        default=None, description="the address has the locally administered bit (02) set"
    )
    flags: list[str] | None = Field(
        default=None,
        description="flags that must be set, as `ip link` prints them (UP, LOWER_UP, "
        "NO-CARRIER, DORMANT, NOARP, ...)",
    )
    without_flags: list[str] | None = Field(
        default=None, description="flags, as `ip link` prints them, that must not be set"
    )
    mtu: int | None = Field(default=None, description="the link's MTU")
    txqueuelen: int | None = Field(default=None, description="the transmit queue length")

    @field_validator("flags", "without_flags")
    @classmethod
    def _known_flags(cls, value: list[str] | None) -> list[str] | None:
        for flag in value or []:
            if flag not in LINK_FLAG_NAMES:
                raise ValueError(f"unknown flag {flag!r} (known: {', '.join(LINK_FLAG_NAMES)})")
        return value

    @field_validator("address", "address_prefix")
    @classmethod
    def _mac(cls, value: str | None) -> str | None:
        if value is None or value == "none":
            return value
        octets = value.lower().split(":")
        if not all(len(o) == 2 and all(c in "0123456789abcdef" for c in o) for o in octets):
            raise ValueError(f"{value!r} is not a MAC address or prefix like 02:00:5e")
        return value.lower()


class RouteExpectation(Strict):
    """Fields of the kernel's route lookup for the probe's flow (`ip route get`)."""

    type: str | None = Field(default=None, description="unicast, local, broadcast, ...")
    dev: str | None = Field(default=None, description="the output device")
    gateway: IPAddress | None = Field(default=None, description="the next hop")
    src: IPAddress | None = Field(default=None, description="the preferred source address")
    table: int | None = Field(default=None, description="the table the lookup used")
    error: str | None = Field(default=None, description="the lookup fails with this errno name")
    exception: bool | None = Field(
        default=None,
        description="the answer comes from a route exception (`ip route get` shows `cache` "
        "with an expiry, `<redirected>` or an IPv6 cached entry): one a PMTU error or a "
        "redirect made",
    )
    redirected: bool | None = Field(
        default=None,
        description="IPv4: the exception is a redirect's (`cache <redirected>`); the kernel "
        "flags no IPv6 answer so (write `exception` and `gateway` for IPv6)",
    )
    expires: bool | None = Field(
        default=None, description="the exception has an expiry (`expires Nsec`)"
    )
    mtu: int | None = Field(
        default=None,
        ge=68,
        le=0xFFFFFFFF,
        description="the MTU the answer carries (a PMTU exception's, or the route's `mtu` metric)",
    )

    @field_validator("error")
    @classmethod
    def _errno_name(cls, value: str | None) -> str | None:
        return None if value is None else check_errno_name(value)

    @model_validator(mode="after")
    def _says_something(self) -> RouteExpectation:
        if not self.model_dump(exclude_none=True):
            raise ValueError(
                "a route expectation names at least one of type, dev, gateway, src, table, "
                "error, exception, redirected, expires, mtu"
            )
        return self


NEIGH_STATE_NAMES = (
    "INCOMPLETE",
    "REACHABLE",
    "STALE",
    "DELAY",
    "PROBE",
    "FAILED",
    "NOARP",
    "PERMANENT",
    "ABSENT",
    "PRESENT",
)
