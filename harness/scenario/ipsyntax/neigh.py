"""`ip neigh`, `ip addr` and `ip link set`: neighbour entries, addresses and link settings."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from harness.core.validation import check_ifname
from harness.scenario.ipsyntax.tokens import MAC, IpSyntaxError, address, number

NUD_STATES = {
    "incomplete": 0x01,
    "reachable": 0x02,
    "stale": 0x04,
    "delay": 0x08,
    "probe": 0x10,
    "failed": 0x20,
    "noarp": 0x40,
    "permanent": 0x80,
    "none": 0x00,
}


@dataclass(frozen=True)
class NeighSpec:
    """A neighbour entry as `ip neigh` describes it."""

    dst: ipaddress.IPv4Address | ipaddress.IPv6Address
    dev: str
    lladdr: str | None = None
    nud: str = "permanent"
    proxy: bool = False  # `ip neigh add proxy ADDR dev IF`: answer ARP/ND for ADDR

    def __str__(self) -> str:
        if self.proxy:
            return f"proxy {self.dst} dev {self.dev}"
        mac = f" lladdr {self.lladdr}" if self.lladdr else ""
        return f"{self.dst}{mac} dev {self.dev} nud {self.nud}"


def parse_neigh(text: str) -> NeighSpec:
    """Parse `[proxy] ADDR [lladdr MAC] dev IF [nud STATE]` (iproute2's default: permanent)."""
    words = text.split()
    proxy = bool(words) and words[0] == "proxy"
    if proxy:
        words.pop(0)
    if not words:
        raise IpSyntaxError(f"{text!r}: a neighbour address must come first")
    dst = address(words.pop(0), "neighbour", text)
    values: dict[str, str] = {}
    while words:
        word = words.pop(0)
        if word not in ("lladdr", "dev", "nud"):
            raise IpSyntaxError(f"{text!r}: unknown word {word!r} (understood: lladdr, dev, nud)")
        if not words:
            raise IpSyntaxError(f"{text!r}: {word!r} needs a value")
        values[word] = words.pop(0)
    if "dev" not in values:
        raise IpSyntaxError(f"{text!r}: a neighbour needs 'dev IFNAME'")
    nud = values.get("nud", "permanent")
    if nud not in NUD_STATES:
        raise IpSyntaxError(f"{text!r}: unknown nud {nud!r} (known: {', '.join(NUD_STATES)})")
    mac = values.get("lladdr")
    if mac is not None and not MAC.fullmatch(mac):
        raise IpSyntaxError(f"{text!r}: lladdr {mac!r} is not a MAC address")
    if proxy and (mac or "nud" in values):
        raise IpSyntaxError(f"{text!r}: a proxy entry takes no lladdr or nud")
    return NeighSpec(dst=dst, dev=values["dev"], lladdr=mac, nud=nud, proxy=proxy)


# --------------------------------------------------------------------------- ip addr


@dataclass(frozen=True)
class AddrSpec:
    """An address on an interface: `ADDR/LEN dev IF`."""

    address: ipaddress.IPv4Interface | ipaddress.IPv6Interface
    dev: str

    def __str__(self) -> str:
        return f"{self.address} dev {self.dev}"


def parse_addr(text: str) -> AddrSpec:
    """Parse `ADDR/LEN dev IF`."""
    words = text.split()
    if len(words) != 3 or words[1] != "dev":
        raise IpSyntaxError(f"{text!r}: write an address as 'ADDR/LEN dev IFNAME'")
    try:
        address = ipaddress.ip_interface(words[0])
    except ValueError as exc:
        raise IpSyntaxError(f"{text!r}: bad address {words[0]!r}: {exc}") from None
    return AddrSpec(address=address, dev=words[2])


# --------------------------------------------------------------------------- ip link set


@dataclass(frozen=True)
class LinkSetSpec:
    """`ip link set IF up|down|name NEW|address MAC|arp on|off|mtu N`."""

    dev: str
    state: str | None = None
    name: str | None = None
    address: str | None = None
    arp: bool | None = None
    mtu: int | None = None

    def __str__(self) -> str:
        words = [self.dev]
        if self.state:
            words.append(self.state)
        if self.name:
            words += ["name", self.name]
        if self.address:
            words += ["address", self.address]
        if self.arp is not None:
            words += ["arp", "on" if self.arp else "off"]
        if self.mtu is not None:
            words += ["mtu", str(self.mtu)]
        return " ".join(words)


def parse_link_set(text: str) -> LinkSetSpec:
    """Parse the words after `ip link set`."""
    words = text.split()
    if not words:
        raise IpSyntaxError("empty link command")
    dev = words.pop(0)
    state = name = address = None
    arp: bool | None = None
    mtu: int | None = None
    while words:
        word = words.pop(0)
        if word in ("up", "down"):
            state = word
            continue
        if word not in ("name", "address", "arp", "mtu"):
            raise IpSyntaxError(
                f"{text!r}: unknown word {word!r} (understood: up, down, name, address, arp, mtu)"
            )
        if not words:
            raise IpSyntaxError(f"{text!r}: {word!r} needs a value")
        value = words.pop(0)
        if word == "name":
            try:
                name = check_ifname(value)
            except ValueError as exc:
                raise IpSyntaxError(f"{text!r}: {exc}") from None
        elif word == "address":
            if not MAC.fullmatch(value):
                raise IpSyntaxError(f"{text!r}: {value!r} is not a MAC address")
            address = value
        elif word == "mtu":
            mtu = number(value, "mtu", text)
            if not 0 <= mtu <= 0xFFFFFFFF:
                raise IpSyntaxError(f"{text!r}: mtu {value!r} is out of range")
        else:
            if value not in ("on", "off"):
                raise IpSyntaxError(f"{text!r}: arp takes 'on' or 'off'")
            arp = value == "on"
    if state is None and name is None and address is None and arp is None and mtu is None:
        raise IpSyntaxError(f"{text!r}: says nothing to change")
    return LinkSetSpec(dev=dev, state=state, name=name, address=address, arp=arp, mtu=mtu)
