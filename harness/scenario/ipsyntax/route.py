"""`ip route`: a route as iproute2 reads it, and the netlink fields iproute2 would send."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from harness.scenario.ipsyntax.tokens import (
    IpSyntaxError,
    address,
    dsfield,
    number,
    parse_verb,
    u32,
)

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
# Route metrics (RTAX_* in linux/rtnetlink.h) a route line may set, in iproute2's words;
# each may be written `NAME lock N`, which sets its bit in RTAX_LOCK.
METRICS = {"mtu": 2, "advmss": 8, "hoplimit": 10}
METRIC_MAX = {"mtu": 0xFFFFFFFF, "advmss": 0xFFFFFFFF, "hoplimit": 255}
WEIGHT_MAX = 256  # iproute2: `weight` 1..256, sent as rtnh_hops = weight - 1


@dataclass(frozen=True)
class NextHop:
    """One next hop of a multipath route: `nexthop [via A] [dev D] [weight W] [onlink]`."""

    via: ipaddress.IPv4Address | ipaddress.IPv6Address | None = None
    dev: str | None = None
    weight: int = 1
    onlink: bool = False

    def __str__(self) -> str:
        words = ["nexthop"]
        words += ["via", str(self.via)] if self.via is not None else []
        words += ["dev", self.dev] if self.dev is not None else []
        words += ["weight", str(self.weight)] if self.weight != 1 else []
        return " ".join(words + (["onlink"] if self.onlink else []))

    def netlink_fields(self, oif: int | None) -> dict[str, Any]:
        """One rtnexthop of RTA_MULTIPATH as iproute2 sends it (parse_one_nh)."""
        hop: dict[str, Any] = {
            "hops": self.weight - 1,
            "flags": RTNH_F_ONLINK if self.onlink else 0,
        }
        if oif is not None:
            hop["oif"] = oif
        if self.via is not None:
            hop["gateway"] = str(self.via)
        return hop


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
    # Route metrics (`mtu [lock] N`, `advmss`, `hoplimit`) and the ones written with `lock`.
    metrics: tuple[tuple[str, int], ...] = ()
    locked: frozenset[str] = frozenset()
    nexthops: tuple[NextHop, ...] = ()  # multipath: `nexthop ... nexthop ...`
    nhid: int | None = None  # a nexthop object (`ip nexthop add id N ...`)
    family_hint: int = field(default=socket.AF_INET, compare=False)

    @property
    def family(self) -> int:
        """AF_INET or AF_INET6, from the destination, gateway, source or a next hop's gateway."""
        hops = tuple(h.via for h in self.nexthops)
        for addr in (self.dst, self.via, self.src, *hops):
            if addr is not None:
                return socket.AF_INET6 if addr.version == 6 else socket.AF_INET
        return self.family_hint

    def __str__(self) -> str:
        explicit = self.dst or self.via or self.src or any(h.via for h in self.nexthops)
        implicit_v6 = self.family == socket.AF_INET6 and not explicit
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
            ("nhid", self.nhid),
        ):
            if value is not None:
                words += [key, str(value)]
        for name, amount in self.metrics:
            words += [name, "lock", str(amount)] if name in self.locked else [name, str(amount)]
        if self.table is not None:
            names = {v: k for k, v in TABLES.items()}
            words += ["table", names.get(self.table, str(self.table))]
        if self.onlink:
            words.append("onlink")
        return " ".join(words + [str(hop) for hop in self.nexthops])

    def netlink_fields(
        self,
        command: RouteCommand,
        oif: int | None,
        index: Callable[[str], int] | None = None,
    ) -> dict[str, Any]:
        """The rtmsg fields and attributes iproute2 would send for this route (`index`
        names the interfaces of multipath next hops).  `nhid` is not a pyroute2 key:
        harness/lab/netlink_ip.py sends it as RTA_NH_ID."""
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
        if self.metrics:
            # iproute2 sends RTAX_LOCK only when something is locked, after the values.
            fields["metrics"] = dict(self.metrics)
            lock = sum(1 << METRICS[name] for name in self.locked)
            if lock:
                fields["metrics"]["lock"] = lock
        if self.nexthops:
            fields["multipath"] = [
                hop.netlink_fields(
                    index(hop.dev) if index is not None and hop.dev is not None else None
                )
                for hop in self.nexthops
            ]
        if self.nhid is not None:
            fields["nhid"] = self.nhid
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
        # a unicast route without gateway, next hops or nexthop object, universe otherwise.
        if self.type == "local":
            return SCOPES["host"]
        if self.type in ("broadcast", "multicast", "anycast"):
            return SCOPES["link"]
        if self.type == "unicast" and self.via is None and not self.nexthops and self.nhid is None:
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
    "nhid",
    *METRICS,
}
_UNDERSTOOD = ", ".join(sorted(_VALUED)) + ", onlink, nexthop"


def parse_route(text: str) -> RouteSpec:
    """Parse `[TYPE] PREFIX|default [via A] [dev D] [scope S] [src A] [table T] [metric N]
    [mtu [lock] N] [advmss [lock] N] [hoplimit [lock] N] [nhid ID] [onlink]
    [nexthop [via A] [dev D] [weight W] [onlink] ...]`."""
    words = text.split()
    family_hint = socket.AF_INET
    if words and words[0] in ("-4", "-6"):  # as in `ip -6 route del default`
        family_hint = socket.AF_INET6 if words.pop(0) == "-6" else socket.AF_INET
    if not words:
        raise IpSyntaxError("empty route")
    route_type = "unicast"
    if words[0] in ROUTE_TYPES:
        route_type = words.pop(0)
    if not words:
        raise IpSyntaxError(f"{text!r}: a destination prefix or 'default' must follow")
    prefix = words.pop(0)
    dst = None if prefix == "default" else _destination(prefix, text)
    values: dict[str, str] = {}
    locked: set[str] = set()
    onlink = False
    for word in _until_nexthop(words):
        if word == "onlink":
            onlink = True
            continue
        if word not in _VALUED:
            raise IpSyntaxError(f"{text!r}: unknown word {word!r} (understood: {_UNDERSTOOD})")
        if word in METRICS and words and words[0] == "lock":
            words.pop(0)
            locked.add(word)
        if not words:
            raise IpSyntaxError(f"{text!r}: {word!r} needs a value")
        key = {"protocol": "proto", "preference": "metric", "dsfield": "tos"}.get(word, word)
        if key in values:
            raise IpSyntaxError(f"{text!r}: {word!r} given twice")
        values[key] = words.pop(0)
    nexthops = _nexthops(words, text)

    scope = values.get("scope")
    if scope is not None and scope not in SCOPES:
        raise IpSyntaxError(f"{text!r}: unknown scope {scope!r} (known: {', '.join(SCOPES)})")
    proto = values.get("proto")
    if proto is not None and proto not in PROTOCOLS:
        raise IpSyntaxError(f"{text!r}: unknown proto {proto!r} (known: {', '.join(PROTOCOLS)})")
    table: int | None = None
    if "table" in values:
        table = TABLES.get(values["table"]) or u32(values["table"], "table", text)
    metric = u32(values["metric"], "metric", text) if "metric" in values else None
    tos = dsfield(values["tos"], text) if "tos" in values else None
    metrics = tuple(
        (name, _bounded(values[name], name, METRIC_MAX[name], text))
        for name in METRICS
        if name in values
    )
    spec = RouteSpec(
        dst=dst,
        type=route_type,
        via=address(values["via"], "via", text) if "via" in values else None,
        dev=values.get("dev"),
        scope=scope,
        src=address(values["src"], "src", text) if "src" in values else None,
        table=table,
        metric=metric,
        tos=tos,
        proto=proto,
        onlink=onlink,
        metrics=metrics,
        locked=frozenset(locked),
        nexthops=nexthops,
        nhid=_bounded(values["nhid"], "nhid", 0xFFFFFFFF, text) if "nhid" in values else None,
        family_hint=family_hint,
    )
    hops = [h.via for h in nexthops]
    versions = {a.version for a in (spec.dst, spec.via, spec.src, *hops) if a is not None}
    if len(versions) > 1:
        raise IpSyntaxError(f"{text!r}: mixes IPv4 and IPv6 addresses")
    if onlink and spec.via is None:
        raise IpSyntaxError(f"{text!r}: 'onlink' only makes sense with 'via'")
    # `nhid` or `nexthop` next to `via`/`dev` is sent as iproute2 sends it: the kernel
    # answers (EINVAL), and a claim may be about that answer.
    return spec


def _until_nexthop(words: list[str]) -> Iterator[str]:
    """Pop the words of one group of a route line, up to the next `nexthop` (the caller
    pops a word's value itself, between two of these)."""
    while words and words[0] != "nexthop":
        yield words.pop(0)


def _bounded(word: str, key: str, maximum: int, text: str) -> int:
    value = number(word, key, text)
    if not 0 <= value <= maximum:
        raise IpSyntaxError(f"{text!r}: {key} {word!r} is out of range (0 to {maximum})")
    return value


def _nexthops(words: list[str], text: str) -> tuple[NextHop, ...]:
    """The `nexthop ...` groups at the end of a route line (iproute2 reads every word after
    the first `nexthop` as next hops)."""
    hops: list[NextHop] = []
    while words:
        words.pop(0)  # "nexthop"
        values: dict[str, str] = {}
        onlink = False
        for word in _until_nexthop(words):
            if word == "onlink":
                onlink = True
                continue
            if word not in ("via", "dev", "weight"):
                raise IpSyntaxError(
                    f"{text!r}: unknown word {word!r} in a nexthop "
                    "(understood: via, dev, weight, onlink)"
                )
            if not words or words[0] == "nexthop":
                raise IpSyntaxError(f"{text!r}: {word!r} needs a value")
            if word in values:
                raise IpSyntaxError(f"{text!r}: {word!r} given twice in one nexthop")
            values[word] = words.pop(0)
        weight = number(values["weight"], "weight", text) if "weight" in values else 1
        if not 1 <= weight <= WEIGHT_MAX:
            raise IpSyntaxError(f"{text!r}: weight {weight} is out of range (1 to {WEIGHT_MAX})")
        via = address(values["via"], "via", text) if "via" in values else None
        if via is None and "dev" not in values:
            raise IpSyntaxError(f"{text!r}: a nexthop needs 'via ADDRESS' or 'dev IFNAME'")
        if onlink and via is None:
            raise IpSyntaxError(f"{text!r}: 'onlink' only makes sense with 'via'")
        hops.append(NextHop(via=via, dev=values.get("dev"), weight=weight, onlink=onlink))
    return tuple(hops)


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
        raise IpSyntaxError(f"{text!r}: bad destination {word!r}: {exc}") from None
