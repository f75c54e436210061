"""`ip` command syntax (route, rule, neigh, addr, link set): article lines -> specs -> netlink.

Why by hand: pyroute2 has no parser for iproute2's text syntax, and its own
defaults differ from iproute2's (it stamps `proto static` and scope universe on
a device route, and fills fields on delete that stop it from matching a
`proto kernel` route).  Users copy `ip` lines from articles, so a scenario must
mean exactly what iproute2 would do with the same line; the defaults below are
the ones iproute2 applies, and tests/test_topology.py checks each construct by
running iproute2 on a twin namespace and comparing the kernel's tables.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass, field
from typing import Any, Literal

RouteCommand = Literal["add", "del", "replace"]

# rtnetlink constants (linux/rtnetlink.h); names as `ip route` prints them.
ROUTE_TYPES = {
    "unicast": 1,
    "local": 2,
    "broadcast": 3,
    "anycast": 4,
    "multicast": 5,
    "blackhole": 6,
    "unreachable": 7,
    "prohibit": 8,
    "throw": 9,
}
SCOPES = {"global": 0, "universe": 0, "site": 200, "link": 253, "host": 254, "nowhere": 255}
TABLES = {"main": 254, "local": 255, "default": 253}
PROTOCOLS = {"kernel": 2, "boot": 3, "static": 4}
RTNH_F_ONLINK = 4


class IpSyntaxError(ValueError):
    """An `ip` line this parser does not understand; the message says which word and why."""


RouteSyntaxError = IpSyntaxError


@dataclass(frozen=True)
class RouteSpec:
    """One route as `ip route` describes it."""

    # None: `default`; kept as written, so 192.0.2.160/24 keeps its host bits
    dst: ipaddress.IPv4Interface | ipaddress.IPv6Interface | None
    type: str = "unicast"
    via: ipaddress.IPv4Address | ipaddress.IPv6Address | None = None
    dev: str | None = None
    scope: str | None = None
    src: ipaddress.IPv4Address | ipaddress.IPv6Address | None = None
    table: int | None = None
    metric: int | None = None
    tos: int | None = None  # `tos`/`dsfield`: the route matches only flows with this TOS
    proto: str | None = None
    onlink: bool = False
    family_hint: int = field(default=socket.AF_INET, compare=False)

    @property
    def family(self) -> int:
        """AF_INET or AF_INET6, from the destination, gateway or source."""
        for addr in (self.dst, self.via, self.src):
            if addr is not None:
                return socket.AF_INET6 if addr.version == 6 else socket.AF_INET
        return self.family_hint

    def __str__(self) -> str:
        implicit_v6 = self.family == socket.AF_INET6 and not (self.dst or self.via or self.src)
        words = ["-6"] if implicit_v6 else []
        words += [] if self.type == "unicast" else [self.type]
        words.append("default" if self.dst is None else str(self.dst))
        for key, value in (
            ("via", self.via),
            ("dev", self.dev),
            ("scope", self.scope),
            ("src", self.src),
            ("metric", self.metric),
            ("tos", None if self.tos is None else hex(self.tos)),
            ("proto", self.proto),
        ):
            if value is not None:
                words += [key, str(value)]
        if self.table is not None:
            names = {v: k for k, v in TABLES.items()}
            words += ["table", names.get(self.table, str(self.table))]
        if self.onlink:
            words.append("onlink")
        return " ".join(words)

    def netlink_fields(self, command: RouteCommand, oif: int | None) -> dict[str, Any]:
        """The rtmsg fields and attributes iproute2 would send for this route."""
        fields: dict[str, Any] = {
            "family": self.family,
            "dst_len": 0 if self.dst is None else self.dst.network.prefixlen,
            "table": self.table if self.table is not None else self._default_table(),
        }
        if self.dst is not None:
            # As written, host bits included, as iproute2 sends it: the kernel
            # refuses 192.0.2.160/24 for IPv4 and masks 2001:db8::160/64 for IPv6.
            fields["dst"] = str(self.dst.ip)
        if self.via is not None:
            fields["gateway"] = str(self.via)
        if oif is not None:
            fields["oif"] = oif
        if self.src is not None:
            fields["prefsrc"] = str(self.src)
        if self.metric is not None:
            fields["priority"] = self.metric
        if self.tos is not None:
            fields["tos"] = self.tos
        if self.onlink:
            fields["flags"] = RTNH_F_ONLINK
        if command == "del":
            # iproute2 deletes with scope NOWHERE and protocol/type unspecified, so the
            # kernel (fib_table_delete) matches whatever route has this prefix.
            fields["scope"] = SCOPES[self.scope] if self.scope else SCOPES["nowhere"]
            fields["proto"] = PROTOCOLS[self.proto] if self.proto else 0
            fields["type"] = ROUTE_TYPES[self.type] if self.type != "unicast" else 0
        else:
            fields["scope"] = SCOPES[self.scope] if self.scope else self._default_scope()
            fields["proto"] = PROTOCOLS[self.proto] if self.proto else PROTOCOLS["boot"]
            fields["type"] = ROUTE_TYPES[self.type]
        return fields

    def _default_table(self) -> int:
        # iproute2: local, broadcast and nat routes go to the local table.
        return TABLES["local"] if self.type in ("local", "broadcast", "nat") else TABLES["main"]

    def _default_scope(self) -> int:
        # iproute2: host for local, link for broadcast/multicast/anycast and for
        # a unicast route without gateway, universe otherwise.
        if self.type == "local":
            return SCOPES["host"]
        if self.type in ("broadcast", "multicast", "anycast"):
            return SCOPES["link"]
        if self.type == "unicast" and self.via is None:
            return SCOPES["link"]
        return SCOPES["global"]


_VALUED = {
    "via",
    "dev",
    "scope",
    "src",
    "table",
    "metric",
    "preference",
    "proto",
    "protocol",
    "tos",
    "dsfield",
}


def parse_route(text: str) -> RouteSpec:
    """Parse `[TYPE] PREFIX|default [via A] [dev D] [scope S] [src A] [table T] [metric N] ...`."""
    words = text.split()
    family_hint = socket.AF_INET
    if words and words[0] in ("-4", "-6"):  # as in `ip -6 route del default`
        family_hint = socket.AF_INET6 if words.pop(0) == "-6" else socket.AF_INET
    if not words:
        raise RouteSyntaxError("empty route")
    route_type = "unicast"
    if words[0] in ROUTE_TYPES:
        route_type = words.pop(0)
    if not words:
        raise RouteSyntaxError(f"{text!r}: a destination prefix or 'default' must follow")
    prefix = words.pop(0)
    dst = None if prefix == "default" else _destination(prefix, text)
    values: dict[str, str] = {}
    onlink = False
    while words:
        word = words.pop(0)
        if word == "onlink":
            onlink = True
            continue
        if word not in _VALUED:
            raise RouteSyntaxError(
                f"{text!r}: unknown word {word!r} "
                f"(understood: {', '.join(sorted(_VALUED))}, onlink)"
            )
        if not words:
            raise RouteSyntaxError(f"{text!r}: {word!r} needs a value")
        key = {"protocol": "proto", "preference": "metric", "dsfield": "tos"}.get(word, word)
        if key in values:
            raise RouteSyntaxError(f"{text!r}: {word!r} given twice")
        values[key] = words.pop(0)

    scope = values.get("scope")
    if scope is not None and scope not in SCOPES:
        raise RouteSyntaxError(f"{text!r}: unknown scope {scope!r} (known: {', '.join(SCOPES)})")
    proto = values.get("proto")
    if proto is not None and proto not in PROTOCOLS:
        raise RouteSyntaxError(f"{text!r}: unknown proto {proto!r} (known: {', '.join(PROTOCOLS)})")
    table: int | None = None
    if "table" in values:
        table = TABLES.get(values["table"]) or _int(values["table"], "table", text)
    metric = _int(values["metric"], "metric", text) if "metric" in values else None
    tos = _dsfield(values["tos"], text) if "tos" in values else None
    spec = RouteSpec(
        dst=dst,
        type=route_type,
        via=_address(values["via"], "via", text) if "via" in values else None,
        dev=values.get("dev"),
        scope=scope,
        src=_address(values["src"], "src", text) if "src" in values else None,
        table=table,
        metric=metric,
        tos=tos,
        proto=proto,
        onlink=onlink,
        family_hint=family_hint,
    )
    versions = {a.version for a in (spec.dst, spec.via, spec.src) if a is not None}
    if len(versions) > 1:
        raise RouteSyntaxError(f"{text!r}: mixes IPv4 and IPv6 addresses")
    if onlink and spec.via is None:
        raise RouteSyntaxError(f"{text!r}: 'onlink' only makes sense with 'via'")
    return spec


def parse_route_command(text: str) -> tuple[RouteCommand, RouteSpec]:
    """Parse `add|del|replace ROUTE` as written after `ip route`."""
    verb, rest = parse_verb(text, ("add", "del", "replace"))
    command: RouteCommand = "add" if verb == "add" else "del" if verb == "del" else "replace"
    return command, parse_route(rest)


def _destination(word: str, text: str) -> ipaddress.IPv4Interface | ipaddress.IPv6Interface:
    """A route's destination prefix, kept as written: host bits set past the
    prefix length are the kernel's to refuse or mask, not the parser's."""
    try:
        return ipaddress.ip_interface(word)
    except ValueError as exc:
        raise RouteSyntaxError(f"{text!r}: bad destination {word!r}: {exc}") from None


def _address(word: str, key: str, text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    try:
        return ipaddress.ip_address(word)
    except ValueError:
        raise RouteSyntaxError(f"{text!r}: {key} {word!r} is not an IP address") from None


def _int(word: str, key: str, text: str) -> int:
    try:
        return int(word, 0)  # 0x7 as well as 7, as iproute2 reads numbers
    except ValueError:
        raise RouteSyntaxError(f"{text!r}: {key} {word!r} is not a number") from None


def _dsfield(word: str, text: str) -> int:
    """A `tos`/`dsfield` value, read as iproute2 reads it: hexadecimal, 0x optional
    (rtnl_dsfield_a2n), so `tos 10` is 0x10."""
    try:
        value = int(word, 16)
    except ValueError:
        raise IpSyntaxError(
            f"{text!r}: tos {word!r} is not a hexadecimal number (names from "
            "/etc/iproute2/rt_dsfield are not supported)"
        ) from None
    if not 0 <= value <= 0xFF:
        raise IpSyntaxError(f"{text!r}: tos {word!r} does not fit in a byte")
    return value


# --------------------------------------------------------------------------- ip rule

FR_ACTIONS = {"lookup": 1, "goto": 2, "nop": 3, "blackhole": 6, "unreachable": 7, "prohibit": 8}
FIB_RULE_INVERT = 0x2
_RULE_VALUED = {
    "from",
    "to",
    "fwmark",
    "iif",
    "oif",
    "priority",
    "pref",
    "preference",
    "order",
    "table",
    "lookup",
    "goto",
    "tos",
    "dsfield",
}


@dataclass(frozen=True)
class RuleSpec:
    """One policy rule as `ip rule` describes it."""

    src: ipaddress.IPv4Network | ipaddress.IPv6Network | None = None
    dst: ipaddress.IPv4Network | ipaddress.IPv6Network | None = None
    fwmark: int | None = None
    fwmask: int | None = None
    iif: str | None = None
    oif: str | None = None
    priority: int | None = None
    table: int | None = None
    action: str = "lookup"
    goto: int | None = None
    tos: int | None = None
    invert: bool = False
    ipv6: bool = False

    @property
    def family(self) -> int:
        """AF_INET or AF_INET6."""
        versions = {n.version for n in (self.src, self.dst) if n is not None}
        return socket.AF_INET6 if self.ipv6 or 6 in versions else socket.AF_INET

    def __str__(self) -> str:
        words = ["-6"] if self.ipv6 and not (self.src or self.dst) else []
        if self.invert:
            words.append("not")
        words += ["from", str(self.src) if self.src else "all"]
        for key, value in (
            ("to", self.dst),
            ("iif", self.iif),
            ("oif", self.oif),
            ("tos", None if self.tos is None else hex(self.tos)),
            ("priority", self.priority),
        ):
            if value is not None:
                words += [key, str(value)]
        if self.fwmark is not None:
            mark = hex(self.fwmark) + (f"/{hex(self.fwmask)}" if self.fwmask is not None else "")
            words += ["fwmark", mark]
        if self.action == "lookup":
            words += ["lookup", str(self.table if self.table is not None else "main")]
        elif self.action == "goto":
            words += ["goto", str(self.goto)]
        else:
            words.append(self.action)
        return " ".join(words)

    def netlink_fields(self, command: str) -> dict[str, Any]:
        """The fib_rule_hdr fields and attributes iproute2 would send."""
        fields: dict[str, Any] = {"family": self.family, "action": FR_ACTIONS[self.action]}
        if self.action == "lookup":
            # iproute2: a lookup rule without a table looks up main (on add).
            table = (
                self.table
                if self.table is not None
                else (TABLES["main"] if command == "add" else None)
            )
            if table is not None:
                fields["table"] = table
        if self.src is not None:
            fields["src"] = str(self.src.network_address)
            fields["src_len"] = self.src.prefixlen
        if self.dst is not None:
            fields["dst"] = str(self.dst.network_address)
            fields["dst_len"] = self.dst.prefixlen
        if self.fwmark is not None:
            fields["fwmark"] = self.fwmark
        if self.fwmask is not None:
            fields["fwmask"] = self.fwmask
        if self.iif is not None:
            fields["iifname"] = self.iif
        if self.oif is not None:
            fields["oifname"] = self.oif
        if self.priority is not None:
            fields["priority"] = self.priority
        if self.goto is not None:
            fields["goto"] = self.goto
        if self.tos is not None:
            fields["tos"] = self.tos
        if self.invert:
            fields["flags"] = FIB_RULE_INVERT
        return fields


def parse_rule(text: str) -> RuleSpec:
    """Parse `[-6] [not] [from P] [to P] [fwmark M/M] [iif I] [oif I] [pref N] [lookup T]`."""
    words = text.split()
    if not words:
        raise IpSyntaxError("empty rule")
    values: dict[str, str] = {}
    action = "lookup"
    invert = ipv6 = False
    while words:
        word = words.pop(0)
        if word == "-6":
            ipv6 = True
        elif word == "-4":
            ipv6 = False
        elif word == "not":
            invert = True
        elif word in ("blackhole", "unreachable", "prohibit", "nop"):
            action = word
        elif word in _RULE_VALUED:
            if not words:
                raise IpSyntaxError(f"{text!r}: {word!r} needs a value")
            key = {
                "pref": "priority",
                "preference": "priority",
                "order": "priority",
                "lookup": "table",
                "dsfield": "tos",
            }.get(word, word)
            if key in values:
                raise IpSyntaxError(f"{text!r}: {word!r} given twice")
            values[key] = words.pop(0)
        else:
            raise IpSyntaxError(
                f"{text!r}: unknown word {word!r} "
                f"(understood: {', '.join(sorted(_RULE_VALUED))}, not, blackhole, unreachable, "
                "prohibit, nop, -6)"
            )
    if "goto" in values:
        action = "goto"
    fwmark = fwmask = None
    if "fwmark" in values:
        mark, _, mask = values["fwmark"].partition("/")
        fwmark = _int(mark, "fwmark", text)
        fwmask = _int(mask, "fwmark mask", text) if mask else None
    table = None
    if "table" in values:
        table = TABLES.get(values["table"]) or _int(values["table"], "table", text)
    src = None if values.get("from", "all") == "all" else _prefix(values["from"], text)
    dst = None if values.get("to", "all") == "all" else _prefix(values["to"], text)
    versions = {n.version for n in (src, dst) if n is not None}
    if len(versions) > 1:
        raise IpSyntaxError(f"{text!r}: mixes IPv4 and IPv6 prefixes")
    return RuleSpec(
        src=src,
        dst=dst,
        fwmark=fwmark,
        fwmask=fwmask,
        iif=values.get("iif"),
        oif=values.get("oif"),
        priority=_int(values["priority"], "priority", text) if "priority" in values else None,
        table=table,
        action=action,
        goto=_int(values["goto"], "goto", text) if "goto" in values else None,
        tos=_dsfield(values["tos"], text) if "tos" in values else None,
        invert=invert,
        ipv6=ipv6 or 6 in versions,
    )


# --------------------------------------------------------------------------- ip neigh

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
    dst = _address(words.pop(0), "neighbour", text)
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
    if mac is not None and not _MAC.fullmatch(mac):
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
    """`ip link set IF up|down|name NEW|address MAC|arp on|off`."""

    dev: str
    state: str | None = None
    name: str | None = None
    address: str | None = None
    arp: bool | None = None

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
        return " ".join(words)


def parse_link_set(text: str) -> LinkSetSpec:
    """Parse the words after `ip link set`."""
    words = text.split()
    if not words:
        raise IpSyntaxError("empty link command")
    dev = words.pop(0)
    state = name = address = None
    arp: bool | None = None
    while words:
        word = words.pop(0)
        if word in ("up", "down"):
            state = word
            continue
        if word not in ("name", "address", "arp"):
            raise IpSyntaxError(
                f"{text!r}: unknown word {word!r} (understood: up, down, name, address, arp)"
            )
        if not words:
            raise IpSyntaxError(f"{text!r}: {word!r} needs a value")
        value = words.pop(0)
        if word == "name":
            name = value
        elif word == "address":
            if not _MAC.fullmatch(value):
                raise IpSyntaxError(f"{text!r}: {value!r} is not a MAC address")
            address = value
        else:
            if value not in ("on", "off"):
                raise IpSyntaxError(f"{text!r}: arp takes 'on' or 'off'")
            arp = value == "on"
    if state is None and name is None and address is None and arp is None:
        raise IpSyntaxError(f"{text!r}: says nothing to change")
    return LinkSetSpec(dev=dev, state=state, name=name, address=address, arp=arp)


_MAC = re.compile(r"(?:[0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}")


def parse_verb(text: str, verbs: tuple[str, ...]) -> tuple[str, str]:
    """Split `VERB REST`, accepting `delete` for `del`."""
    verb, _, rest = text.strip().partition(" ")
    verb = "del" if verb == "delete" else verb
    if verb not in verbs:
        expected = ", ".join(verbs[:-1]) + f" or {verbs[-1]}" if len(verbs) > 1 else verbs[0]
        raise IpSyntaxError(f"{text!r}: starts with {verb!r}; expected {expected}")
    return verb, rest


def _prefix(word: str, text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(word, strict=False)
    except ValueError as exc:
        raise IpSyntaxError(f"{text!r}: bad prefix {word!r}: {exc}") from None
