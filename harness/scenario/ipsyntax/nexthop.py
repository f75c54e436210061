"""`ip nexthop`: nexthop objects (Linux 5.3+), as iproute2's ipnexthop.c reads them.

A nexthop object is a gateway (`via A dev D`), a device, a blackhole, or a
group of other nexthop objects with weights; a route uses one with `nhid ID`.
"""

from __future__ import annotations

import ipaddress
import socket
import struct
from dataclasses import dataclass
from typing import Any

from harness.scenario.ipsyntax.route import PROTOCOLS, RTNH_F_ONLINK, WEIGHT_MAX
from harness.scenario.ipsyntax.tokens import IpSyntaxError, address, number, parse_verb, u32

NEXTHOP_GRP = struct.Struct("=IBxH")  # struct nexthop_grp: id, weight - 1, reserved


@dataclass(frozen=True)
class NexthopSpec:
    """One nexthop object as `ip nexthop` describes it."""

    id: int | None
    family: int = socket.AF_UNSPEC  # as iproute2 settles it while reading the words
    via: ipaddress.IPv4Address | ipaddress.IPv6Address | None = None
    dev: str | None = None
    blackhole: bool = False
    onlink: bool = False
    group: tuple[tuple[int, int], ...] = ()  # (id, weight)
    proto: str | None = None

    def __str__(self) -> str:
        words = ["id", str(self.id)] if self.id is not None else []
        if self.group:
            members = (f"{i},{w}" if w != 1 else str(i) for i, w in self.group)
            words += ["group", "/".join(members)]
        words += ["via", str(self.via)] if self.via is not None else []
        words += ["dev", self.dev] if self.dev is not None else []
        words += ["blackhole"] if self.blackhole else []
        words += ["onlink"] if self.onlink else []
        words += ["proto", self.proto] if self.proto is not None else []
        return " ".join(words)

    def netlink_message(self, oif: int | None) -> tuple[dict[str, int], list[tuple[str, Any]]]:
        """(nhmsg fields, NHA_* attributes) as iproute2's ipnh_modify sends them."""
        header = {
            "family": self.family,
            "scope": 0,
            "protocol": PROTOCOLS[self.proto] if self.proto else 0,
            "flags": RTNH_F_ONLINK if self.onlink else 0,
        }
        attrs: list[tuple[str, Any]] = []
        if self.id is not None:
            attrs.append(("NHA_ID", self.id))
        if oif is not None:
            attrs.append(("NHA_OIF", oif))
        if self.via is not None:
            attrs.append(("NHA_GATEWAY", str(self.via)))
        if self.blackhole:
            attrs.append(("NHA_BLACKHOLE", True))
        if self.group:
            packed = b"".join(NEXTHOP_GRP.pack(i, w - 1, 0) for i, w in self.group)
            attrs.append(("NHA_GROUP", packed))
        return header, attrs


def parse_nexthop(text: str) -> NexthopSpec:
    """Parse `[-4|-6] id ID { via A [dev D] | dev D | blackhole | group ID[,W]/... }
    [onlink] [proto P]`; the family is settled as iproute2 settles it, word by word
    (`dev` or `blackhole` first means IPv4, so `dev eth0 via 2001:db8::1` is a mismatch)."""
    words = text.split()
    family = socket.AF_UNSPEC
    if words and words[0] in ("-4", "-6"):
        family = socket.AF_INET6 if words.pop(0) == "-6" else socket.AF_INET
    if not words:
        raise IpSyntaxError("empty nexthop")
    values: dict[str, Any] = {}
    flags: set[str] = set()
    while words:
        word = words.pop(0)
        if word in ("blackhole", "onlink"):
            flags.add(word)
            if word == "blackhole" and family == socket.AF_UNSPEC:
                family = socket.AF_INET
            continue
        if word not in ("id", "via", "dev", "group", "proto", "protocol"):
            raise IpSyntaxError(
                f"{text!r}: unknown word {word!r} "
                "(understood: id, via, dev, group, blackhole, onlink, proto)"
            )
        if not words:
            raise IpSyntaxError(f"{text!r}: {word!r} needs a value")
        key = "proto" if word == "protocol" else word
        if key in values:
            raise IpSyntaxError(f"{text!r}: {word!r} given twice")
        value = words.pop(0)
        if key == "via":
            gateway = address(value, "via", text)
            gateway_family = socket.AF_INET6 if gateway.version == 6 else socket.AF_INET
            if family not in (socket.AF_UNSPEC, gateway_family):
                raise IpSyntaxError(f"{text!r}: via {value}: address family mismatch")
            family = gateway_family
            values[key] = gateway
        else:
            if key == "dev" and family == socket.AF_UNSPEC:
                family = socket.AF_INET
            values[key] = value
    proto = values.get("proto")
    if proto is not None and proto not in PROTOCOLS:
        raise IpSyntaxError(f"{text!r}: unknown proto {proto!r} (known: {', '.join(PROTOCOLS)})")
    nh_id = number(values["id"], "id", text) if "id" in values else None
    if nh_id is not None and not 0 < nh_id <= 0xFFFFFFFF:
        raise IpSyntaxError(f"{text!r}: id {nh_id} is out of range (1 to 4294967295)")
    return NexthopSpec(
        id=nh_id,
        family=family,
        via=values.get("via"),
        dev=values.get("dev"),
        blackhole="blackhole" in flags,
        onlink="onlink" in flags,
        group=_group(values["group"], text) if "group" in values else (),
        proto=proto,
    )


def parse_nexthop_command(text: str) -> tuple[str, NexthopSpec]:
    """Parse `add|replace|del NEXTHOP` as written after `ip nexthop`."""
    verb, rest = parse_verb(text, ("add", "del", "replace"))
    return verb, parse_nexthop(rest)


def _group(word: str, text: str) -> tuple[tuple[int, int], ...]:
    """`ID[,WEIGHT]/ID[,WEIGHT]/...` (iproute2's add_nh_group_attr)."""
    members = []
    for part in word.split("/"):
        nh_id, _, weight = part.partition(",")
        value = u32(nh_id, "group id", text)
        share = number(weight, "group weight", text) if weight else 1
        if not 1 <= share <= WEIGHT_MAX:
            raise IpSyntaxError(f"{text!r}: group weight {share} is out of range (1 to 256)")
        members.append((value, share))
    return tuple(members)
