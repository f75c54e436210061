"""`ip rule`: a policy rule as iproute2 reads it, and its netlink fields."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from typing import Any

from harness.scenario.ipsyntax.route import TABLES
from harness.scenario.ipsyntax.tokens import IpSyntaxError, dsfield, prefix, u32

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
        fwmark = u32(mark, "fwmark", text)
        fwmask = u32(mask, "fwmark mask", text) if mask else None
    table = None
    if "table" in values:
        table = TABLES.get(values["table"]) or u32(values["table"], "table", text)
    src = None if values.get("from", "all") == "all" else prefix(values["from"], text)
    dst = None if values.get("to", "all") == "all" else prefix(values["to"], text)
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
        priority=u32(values["priority"], "priority", text) if "priority" in values else None,
        table=table,
        action=action,
        goto=u32(values["goto"], "goto", text) if "goto" in values else None,
        tos=dsfield(values["tos"], text) if "tos" in values else None,
        invert=invert,
        ipv6=ipv6 or 6 in versions,
    )
