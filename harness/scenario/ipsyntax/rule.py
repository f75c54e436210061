"""`ip rule`: a policy rule as iproute2 reads it (ip/iprule.c iprule_modify), its netlink
fields, and its words as `ip rule` prints them (print_rule)."""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass
from typing import Any

from harness.scenario.ipsyntax.route import PROTOCOLS, TABLES
from harness.scenario.ipsyntax.tokens import IpSyntaxError, dsfield, number, prefix, u32

FR_ACTIONS = {"lookup": 1, "goto": 2, "nop": 3, "blackhole": 6, "unreachable": 7, "prohibit": 8}
FIB_RULE_INVERT = 0x2
PORT_MAX_MASK = 0xFFFF
DSCP_MAX_MASK = 0x3F
FLOWLABEL_MAX_MASK = 0xFFFFF
# IP protocol numbers by the names /etc/protocols gives them (iproute2's inet_proto_a2n
# asks getprotobyname; Python has no getprotobynumber for the way back, so one table).
IP_PROTOCOLS = {
    "icmp": 1,
    "igmp": 2,
    "tcp": 6,
    "udp": 17,
    "ipv6": 41,
    "gre": 47,
    "esp": 50,
    "ah": 51,
    "ipv6-icmp": 58,
    "ipip": 94,
    "sctp": 132,
    "udplite": 136,
}
_PROTOCOL_NAMES = {v: k for k, v in IP_PROTOCOLS.items()}
# DSCP names as iproute2 ships them (etc/iproute2/rt_dsfield holds DS field values, the
# DSCP shifted left by two; rtnl_dscp_a2n/n2a shift back).
DSCP_NAMES = {
    "default": 0,
    **{f"AF{c}{d}": (8 * c + 2 * d) for c in range(1, 5) for d in range(1, 4)},
    **{f"CS{c}": 8 * c for c in range(1, 8)},
    "EF": 46,
}
_DSCP_WORDS = {v: k for k, v in DSCP_NAMES.items()}


def dscp_name(value: int) -> str:
    """A DSCP as `ip rule` prints it (rtnl_dscp_n2a): its name, else its number."""
    return _DSCP_WORDS.get(value, str(value))


# Words that take a value, and the field each sets (iproute2's synonyms folded).
_RULE_VALUED = {
    "from": "from",
    "to": "to",
    "fwmark": "fwmark",
    "iif": "iif",
    "dev": "iif",
    "oif": "oif",
    "priority": "priority",
    "pref": "priority",
    "preference": "priority",
    "order": "priority",
    "table": "table",
    "lookup": "table",
    "goto": "goto",
    "tos": "tos",
    "dsfield": "tos",
    "uidrange": "uidrange",
    "ipproto": "ipproto",
    "sport": "sport",
    "dport": "dport",
    "realms": "realms",
    "protocol": "protocol",
    "proto": "protocol",
    "tun_id": "tun_id",
    "suppress_prefixlength": "suppress_prefixlength",
    "sup_pl": "suppress_prefixlength",
    "suppress_ifgroup": "suppress_ifgroup",
    "sup_group": "suppress_ifgroup",
    "dscp": "dscp",
    "flowlabel": "flowlabel",
}
_ACTION_WORDS = ("blackhole", "unreachable", "prohibit", "nop")
_RANGE = re.compile(r"(\d+)-(\d+)")


@dataclass(frozen=True)
class PortRange:
    """`sport`/`dport`: `N`, `N-M` or `N/MASK` (struct fib_rule_port_range and the
    optional FRA_*PORT_MASK; a mask is only for a single port, iprule_port_parse)."""

    start: int
    end: int
    mask: int | None = None

    def __str__(self) -> str:
        if self.start != self.end:
            return f"{self.start}-{self.end}"
        if self.mask is None or self.mask == PORT_MAX_MASK:
            return str(self.start)
        return f"{hex(self.start)}/{hex(self.mask)}"  # print_rule prints a masked port in hex


def _port_range(word: str, key: str, text: str) -> PortRange:
    start, dash, end = word.partition("-")
    if dash:
        # A range that starts after it ends is the kernel's to refuse (EINVAL,
        # fib_rule_port_range_valid), as it is for iproute2: a claim may be about that.
        return PortRange(_u16(start, key, text), _u16(end, key, text))
    port, slash, mask = word.partition("/")
    value = _u16(port, key, text)
    full = _u16(mask, f"{key} mask", text) if slash else PORT_MAX_MASK
    return PortRange(value, value, None if full == PORT_MAX_MASK else full)


def _u16(word: str, key: str, text: str) -> int:
    value = number(word, key, text)
    if not 0 <= value <= PORT_MAX_MASK:
        raise IpSyntaxError(f"{text!r}: {key} {word!r} is out of range (0 to 65535)")
    return value


def _ipproto(word: str, text: str) -> int:
    if word.isdigit():  # inet_proto_a2n: a decimal u8 first, then a name
        value = int(word)
        if value > 0xFF:
            raise IpSyntaxError(f"{text!r}: ipproto {word!r} does not fit in a byte")
        return value
    if word not in IP_PROTOCOLS:
        raise IpSyntaxError(
            f"{text!r}: ipproto {word!r} is not a protocol number or one of "
            f"{', '.join(IP_PROTOCOLS)}"
        )
    return IP_PROTOCOLS[word]


def protocol_name(number_: int) -> str:
    """An IP protocol as `ip rule` prints it (inet_proto_n2a)."""
    return _PROTOCOL_NAMES.get(number_, f"ipproto-{number_}")


def _masked(word: str, key: str, text: str, top: int) -> tuple[int, int | None]:
    value, slash, mask = word.partition("/")
    parsed = number(value, key, text)
    masked = number(mask, f"{key} mask", text) if slash else None
    for item in (parsed, masked):
        if item is not None and not 0 <= item <= top:
            raise IpSyntaxError(f"{text!r}: {key} {word!r} is out of range (0 to {hex(top)})")
    return parsed, masked


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
    l3mdev: bool = False
    uidrange: tuple[int, int] | None = None
    ipproto: int | None = None
    sport: PortRange | None = None
    dport: PortRange | None = None
    tun_id: int | None = None
    suppress_prefixlength: int | None = None
    suppress_ifgroup: int | None = None
    realms: int | None = None  # FRA_FLOW: source realm << 16 | destination realm
    protocol: int | None = None
    dscp: int | None = None
    dscp_mask: int | None = None
    flowlabel: int | None = None
    flowlabel_mask: int | None = None

    @property
    def family(self) -> int:
        """AF_INET or AF_INET6."""
        versions = {n.version for n in (self.src, self.dst) if n is not None}
        return socket.AF_INET6 if self.ipv6 or 6 in versions else socket.AF_INET

    def __str__(self) -> str:
        """The rule in iproute2's words, in the order `ip rule` prints them."""
        words = ["-6"] if self.ipv6 and not (self.src or self.dst) else []
        if self.invert:
            words.append("not")
        words += ["from", str(self.src) if self.src else "all"]
        mark = None
        if self.fwmark is not None:
            mark = hex(self.fwmark) + (f"/{hex(self.fwmask)}" if self.fwmask is not None else "")
        uids = None if self.uidrange is None else "{}-{}".format(*self.uidrange)
        # No table written, none kept: `add` looks up main then, `del` matches any table.
        lookup = self.table if self.action == "lookup" else None
        selectors: list[tuple[str, object]] = [
            ("to", self.dst),
            ("tos", None if self.tos is None else hex(self.tos)),
            ("fwmark", mark),
            ("iif", self.iif),
            ("oif", self.oif),
            ("priority", self.priority),
            ("uidrange", uids),
            ("ipproto", None if self.ipproto is None else protocol_name(self.ipproto)),
            ("sport", self.sport),
            ("dport", self.dport),
            ("tun_id", self.tun_id),
            ("lookup", lookup),
            ("suppress_prefixlength", self.suppress_prefixlength),
            ("suppress_ifgroup", self.suppress_ifgroup),
        ]
        for key, value in selectors:
            if value is not None:
                words += [key, str(value)]
        if self.l3mdev:
            words.append("l3mdev")
        if self.realms is not None:
            source, destination = self.realms >> 16, self.realms & 0xFFFF
            words += ["realms", f"{source}/{destination}" if source else str(destination)]
        if self.action == "goto":
            words += ["goto", str(self.goto)]
        elif self.action != "lookup":
            words.append(self.action)
        if self.protocol is not None:
            words += ["proto", _PROTOCOL_WORDS.get(self.protocol, str(self.protocol))]
        if self.dscp is not None:
            masked = self.dscp_mask is not None and self.dscp_mask != DSCP_MAX_MASK
            words += [
                "dscp",
                f"{hex(self.dscp)}/{hex(self.dscp_mask or 0)}" if masked else str(self.dscp),
            ]
        if self.flowlabel is not None:
            label = hex(self.flowlabel)
            if self.flowlabel_mask is not None and self.flowlabel_mask != FLOWLABEL_MAX_MASK:
                label += f"/{hex(self.flowlabel_mask)}"
            words += ["flowlabel", label]
        return " ".join(words)

    def netlink_fields(self, command: str) -> dict[str, Any]:
        """The fib_rule_hdr fields and attributes iproute2 would send."""
        fields: dict[str, Any] = {"family": self.family, "action": FR_ACTIONS[self.action]}
        if self.action == "lookup" and not self.l3mdev:
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
        for key in (
            "fwmark",
            "fwmask",
            "priority",
            "goto",
            "tos",
            "ipproto",
            "tun_id",
            "suppress_prefixlength",
            "suppress_ifgroup",
            "realms",
            "protocol",
            "dscp",
            "flowlabel",
        ):
            value = getattr(self, key)
            if value is not None:
                fields[key] = value
        if self.iif is not None:
            fields["iifname"] = self.iif
        if self.oif is not None:
            fields["oifname"] = self.oif
        if self.invert:
            fields["flags"] = FIB_RULE_INVERT
        if self.l3mdev:
            fields["l3mdev"] = 1
        if self.uidrange is not None:
            fields["uidrange"] = self.uidrange
        for key, ports in (("sport", self.sport), ("dport", self.dport)):
            if ports is not None:
                fields[key] = (ports.start, ports.end)
                if ports.mask is not None and ports.mask != PORT_MAX_MASK:
                    fields[f"{key}_mask"] = ports.mask  # iproute2 sends no full mask
        if self.dscp is not None and self.dscp_mask is not None and self.dscp_mask != DSCP_MAX_MASK:
            fields["dscp_mask"] = self.dscp_mask
        if self.flowlabel is not None:
            # iprule_flowlabel_parse: the mask is always sent, all 20 bits when not given.
            mask = self.flowlabel_mask
            fields["flowlabel_mask"] = FLOWLABEL_MAX_MASK if mask is None else mask
        return fields


_PROTOCOL_WORDS = {v: k for k, v in PROTOCOLS.items()}


def _uidrange(word: str, text: str) -> tuple[int, int]:
    match = _RANGE.fullmatch(word)  # iproute2: sscanf("%u-%u")
    if not match:
        raise IpSyntaxError(f"{text!r}: uidrange {word!r} is not START-END")
    start, end = (u32(part, "uidrange", text) for part in match.groups())
    return start, end


def _realms(word: str, text: str) -> int:
    """get_rt_realms_or_raw: a raw FRA_FLOW number, or `[SRC/]DST` (realms by number;
    `cosmos` is realm 0)."""
    if "/" not in word:
        return 0 if word == "cosmos" else u32(word, "realms", text)
    source, _, destination = word.partition("/")
    parts = [0 if w == "cosmos" else number(w, "realms", text) for w in (source, destination)]
    if not all(0 <= p <= 0xFFFF for p in parts):
        raise IpSyntaxError(f"{text!r}: realms {word!r}: a realm is 0 to 65535")
    return parts[0] << 16 | parts[1]


def _byte(word: str, key: str, text: str, names: dict[str, int]) -> int:
    value = names[word] if word in names else number(word, key, text)
    if not 0 <= value <= 0xFF:
        raise IpSyntaxError(f"{text!r}: {key} {word!r} does not fit in a byte")
    return value


def parse_rule(text: str) -> RuleSpec:
    """Parse an `ip rule add|del` selector and action (every word iprule.c knows but
    `nat`/`map-to`, which the kernel no longer has)."""
    words = text.split()
    if not words:
        raise IpSyntaxError("empty rule")
    values: dict[str, str] = {}
    action = "lookup"
    invert = ipv6 = l3mdev = False
    for _ in range(len(words)):
        if not words:
            break
        word = words.pop(0)
        if word == "-6":
            ipv6 = True
        elif word == "-4":
            ipv6 = False
        elif word == "not":
            invert = True
        elif word == "l3mdev":
            l3mdev = True
        elif word == "type" and words and words[0] in _ACTION_WORDS:
            continue  # `type unreachable` is `unreachable`
        elif word in _ACTION_WORDS:
            action = word
        elif word in ("nat", "map-to"):
            raise IpSyntaxError(
                f"{text!r}: route NAT ({word!r}) is gone from the kernel since 2.6.9; "
                "it refuses such a rule"
            )
        elif word in _RULE_VALUED:
            if not words:
                raise IpSyntaxError(f"{text!r}: {word!r} needs a value")
            key = _RULE_VALUED[word]
            if key in values:
                raise IpSyntaxError(f"{text!r}: {word!r} given twice")
            values[key] = words.pop(0)
        else:
            raise IpSyntaxError(
                f"{text!r}: unknown word {word!r} "
                f"(understood: {', '.join(sorted(_RULE_VALUED))}, not, l3mdev, "
                "blackhole, unreachable, prohibit, nop, type, -6)"
            )
    if "goto" in values:
        action = "goto"
    if l3mdev and "table" in values:
        raise IpSyntaxError(f"{text!r}: table can not be specified for l3mdev rules")
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
    dscp = dscp_mask = flowlabel = flowlabel_mask = None
    if "dscp" in values:
        word, slash, mask = values["dscp"].partition("/")
        if word in DSCP_NAMES:
            values["dscp"] = f"{DSCP_NAMES[word]}{slash}{mask}"
        dscp, dscp_mask = _masked(values["dscp"], "dscp", text, DSCP_MAX_MASK)
        dscp_mask = None if dscp_mask == DSCP_MAX_MASK else dscp_mask  # sent as none
    if "flowlabel" in values:
        flowlabel, flowlabel_mask = _masked(
            values["flowlabel"], "flowlabel", text, FLOWLABEL_MAX_MASK
        )
    length = None
    if "suppress_prefixlength" in values:
        length = number(values["suppress_prefixlength"], "suppress_prefixlength", text)
        if not 0 <= length <= 0x7FFFFFFF:  # iproute2: get_s32, and not negative
            raise IpSyntaxError(f"{text!r}: suppress_prefixlength must be 0 or more")
    tun_id = None
    if "tun_id" in values:
        tun_id = number(values["tun_id"], "tun_id", text)
        if not 0 <= tun_id < 1 << 64:
            raise IpSyntaxError(f"{text!r}: tun_id {values['tun_id']!r} is out of range")
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
        l3mdev=l3mdev,
        uidrange=_uidrange(values["uidrange"], text) if "uidrange" in values else None,
        ipproto=_ipproto(values["ipproto"], text) if "ipproto" in values else None,
        sport=_port_range(values["sport"], "sport", text) if "sport" in values else None,
        dport=_port_range(values["dport"], "dport", text) if "dport" in values else None,
        tun_id=tun_id,
        suppress_prefixlength=length,
        suppress_ifgroup=(
            _group(values["suppress_ifgroup"], text) if "suppress_ifgroup" in values else None
        ),
        realms=_realms(values["realms"], text) if "realms" in values else None,
        protocol=_byte(values["protocol"], "protocol", text, PROTOCOLS)
        if "protocol" in values
        else None,
        dscp=dscp,
        dscp_mask=dscp_mask,
        flowlabel=flowlabel,
        flowlabel_mask=flowlabel_mask,
    )


def _group(word: str, text: str) -> int:
    """rtnl_group_a2n: `default` is group 0, others by number."""
    return 0 if word == "default" else u32(word, "suppress_ifgroup", text)
