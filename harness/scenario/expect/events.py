"""Expectation fields about events on the wire and at the sockets.

Each names things that happen (a request sent, a datagram delivered, a frame
seen) or, as an empty list or `not_seen`, that something does not happen.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, ClassVar

from harness.core.evidence import ArpRecord, FrameRecord, PacketRecord, Receipt
from harness.core.validation import IPAddress, same_ip
from harness.scenario.expect.base import Comparison, Evidence, ExpectField, Reference, listing
from harness.scenario.expect.patterns import (
    ArpPattern,
    IcmpPattern,
    PacketPattern,
    ReceiptPattern,
    SeenPattern,
)


def _same_set(
    patterns: Sequence[Any], records: Sequence[Any], fits: Callable[[Any, Any], bool]
) -> bool:
    """Every pattern matches a record and every record matches a pattern."""
    return all(any(fits(p, r) for r in records) for p in patterns) and all(
        any(fits(p, r) for p in patterns) for r in records
    )


def _all_seen(
    patterns: Sequence[Any], records: Sequence[Any], fits: Callable[[Any, Any], bool]
) -> bool:
    return all(any(fits(p, r) for r in records) for p in patterns)


def arp_matches(pattern: ArpPattern, record: ArpRecord) -> bool:
    """The request is for the pattern's target (and from its sender, when it names one)."""
    return same_ip(pattern.target, record.target) and (
        pattern.sender is None or same_ip(pattern.sender, record.sender)
    )


def receipt_matches(pattern: ReceiptPattern, receipt: Receipt) -> bool:
    """The delivery is to the pattern's host (and from its source, when it names one)."""
    return pattern.host == receipt.host and (
        pattern.src is None or same_ip(pattern.src, receipt.src)
    )


def icmp_matches(pattern: IcmpPattern, record: PacketRecord) -> bool:
    """The ICMP message has the pattern's type (and code and source, when named)."""
    return (
        pattern.type == record.icmp_type
        and (pattern.code is None or pattern.code == record.icmp_code)
        and (pattern.src is None or same_ip(pattern.src, record.src))
    )


# How a PacketPattern field reads an ARP/NDP record.
_ARP_FIELDS = {"proto": "protocol", "src": "sender", "dst": "target"}


def packet_matches(pattern: PacketPattern, record: FrameRecord) -> bool:
    """Every field the pattern gives equals the record's (`count` is about the frames)."""
    for name, wanted in pattern.model_dump(exclude_none=True, exclude={"count"}).items():
        attr = _ARP_FIELDS.get(name, name) if isinstance(record, ArpRecord) else name
        seen = getattr(record, attr, None)
        if seen is None:
            return False
        if name in ("src", "dst"):
            if not same_ip(wanted, seen):
                return False
        elif str(seen) != str(wanted):
            return False
    return True


class Arp(ExpectField[dict[str, list[ArpPattern]]]):
    name = "arp"
    needs_probe = False
    example: ClassVar[Any] = {"a": ["who-has 192.0.2.2 tell 192.0.2.1"]}
    annotation = dict[str, list[ArpPattern]]
    description = "host -> exactly the ARP requests / neighbour solicitations it sends"

    def compare(self, wanted: dict[str, list[ArpPattern]], ev: Evidence) -> list[Comparison]:
        rows = []
        for host, patterns in wanted.items():
            sent = ev.obs.arp_requests_by(host, ev.act)
            rows.append(
                self.row(
                    f"resolution requests sent by {host}",
                    listing([str(p) for p in patterns]),
                    listing([r.request for r in sent]),
                    _same_set(patterns, sent, arp_matches),
                    ev.act,
                )
            )
        return rows

    def claims_absence(self, wanted: dict[str, list[ArpPattern]]) -> bool:
        return any(not patterns for patterns in wanted.values())

    def claims_events(self, wanted: dict[str, list[ArpPattern]]) -> bool:
        return any(patterns for patterns in wanted.values())

    def happened(self, wanted: dict[str, list[ArpPattern]], ev: Evidence) -> bool:
        return all(
            _all_seen(patterns, ev.obs.arp_requests_by(host, ev.act), arp_matches)
            for host, patterns in wanted.items()
        )

    def references(self, wanted: dict[str, list[ArpPattern]], prober: str) -> Iterator[Reference]:
        return (Reference(f".{host}", host) for host in wanted)

    def text(self, wanted: dict[str, list[ArpPattern]]) -> str:
        return "; ".join(
            f"{host} asks {listing([str(p) for p in patterns])}"
            for host, patterns in wanted.items()
        )


class Received(ExpectField[list[ReceiptPattern]]):
    name = "received"
    annotation = list[ReceiptPattern]
    description = "exactly the hosts whose listener gets the probe (ping: the hosts that answer)"

    def compare(self, wanted: list[ReceiptPattern], ev: Evidence) -> list[Comparison]:
        got = ev.obs.received_during(ev.act)
        return [
            self.row(
                "received by",
                listing([str(p) for p in wanted]),
                listing([str(r) for r in got]),
                _same_set(wanted, got, receipt_matches),
                ev.act,
            )
        ]

    def claims_absence(self, wanted: list[ReceiptPattern]) -> bool:
        return not wanted

    def claims_events(self, wanted: list[ReceiptPattern]) -> bool:
        return bool(wanted)

    def happened(self, wanted: list[ReceiptPattern], ev: Evidence) -> bool:
        return _all_seen(wanted, ev.obs.received_during(ev.act), receipt_matches)

    def references(self, wanted: list[ReceiptPattern], prober: str) -> Iterator[Reference]:
        return (Reference(f"[{n}]", p.host) for n, p in enumerate(wanted))

    def text(self, wanted: list[ReceiptPattern]) -> str:
        return (
            f"delivered to {listing([str(p) for p in wanted])}" if wanted else "delivered nowhere"
        )


class Src(ExpectField[IPAddress]):
    name = "src"
    example: ClassVar[Any] = "192.0.2.1"
    annotation = IPAddress
    description = "source address of the probe's packet on the wire"

    def compare(self, wanted: IPAddress, ev: Evidence) -> list[Comparison]:
        packet = ev.probe_packet
        return [
            self.row(
                "source address on the wire",
                str(wanted),
                packet.src if packet else "(no packet left)",
                packet is not None and same_ip(wanted, packet.src),
                ev.act,
            )
        ]

    def claims_events(self, wanted: IPAddress) -> bool:
        return True

    def happened(self, wanted: IPAddress, ev: Evidence) -> bool:
        return ev.probe_packet is not None

    def text(self, wanted: IPAddress) -> str:
        return f"source address {wanted}"


class Egress(ExpectField[str]):
    name = "egress"
    example: ClassVar[Any] = "eth0"
    annotation = str
    description = "the interface the probe's packet left its host by"

    def compare(self, wanted: str, ev: Evidence) -> list[Comparison]:
        packet = ev.probe_packet
        return [
            self.row(
                "left by interface",
                wanted,
                packet.ifname if packet else "(no packet left)",
                packet is not None and packet.ifname == wanted,
                ev.act,
            )
        ]

    def claims_events(self, wanted: str) -> bool:
        return True

    def happened(self, wanted: str, ev: Evidence) -> bool:
        return ev.probe_packet is not None

    def references(self, wanted: str, prober: str) -> Iterator[Reference]:
        return iter([Reference("", prober, wanted)])

    def text(self, wanted: str) -> str:
        return f"leaves by {wanted}"


def _egress_names(ev: Evidence) -> list[str]:
    return sorted({p.ifname for p in ev.probe_packets})


class Egresses(ExpectField[list[str]]):
    name = "egresses"
    example: ClassVar[Any] = ["eth0"]
    annotation = list[str]
    description = "exactly the set of interfaces the probe's packets (every flow) left its host by"

    def compare(self, wanted: list[str], ev: Evidence) -> list[Comparison]:
        seen = _egress_names(ev)
        return [
            self.row(
                "left by interfaces",
                listing(sorted(wanted)),
                listing(seen),
                set(seen) == set(wanted),
                ev.act,
            )
        ]

    def claims_absence(self, wanted: list[str]) -> bool:
        return True  # no packet by any other interface: only waiting establishes that

    def claims_events(self, wanted: list[str]) -> bool:
        return bool(wanted)

    def happened(self, wanted: list[str], ev: Evidence) -> bool:
        return set(wanted) <= set(_egress_names(ev))

    def references(self, wanted: list[str], prober: str) -> Iterator[Reference]:
        return (Reference(f"[{n}]", prober, ifname) for n, ifname in enumerate(wanted))

    def text(self, wanted: list[str]) -> str:
        return f"leaves by exactly {listing(sorted(wanted))}"


class EgressOneOf(ExpectField[list[str]]):
    name = "egress_one_of"
    example: ClassVar[Any] = ["eth0", "eth1"]
    annotation = list[str]
    description = (
        "every packet of the probe (every flow) left its host by one and the same "
        "interface, one of these (which one may depend on a hash)"
    )

    def compare(self, wanted: list[str], ev: Evidence) -> list[Comparison]:
        seen = _egress_names(ev)
        return [
            self.row(
                "left by one interface of",
                " or ".join(wanted),
                listing(seen),
                len(seen) == 1 and seen[0] in wanted,
                ev.act,
            )
        ]

    def claims_absence(self, wanted: list[str]) -> bool:
        return True  # no packet by a second interface: only waiting establishes that

    def claims_events(self, wanted: list[str]) -> bool:
        return True

    def happened(self, wanted: list[str], ev: Evidence) -> bool:
        return bool(ev.probe_packets)

    def references(self, wanted: list[str], prober: str) -> Iterator[Reference]:
        return (Reference(f"[{n}]", prober, ifname) for n, ifname in enumerate(wanted))

    def text(self, wanted: list[str]) -> str:
        return f"leaves by one of {' or '.join(wanted)}, the same for every packet"


class Icmp(ExpectField[list[IcmpPattern]]):
    name = "icmp"
    example: ClassVar[Any] = ["type 3 code 1 from 192.0.2.2"]
    annotation = list[IcmpPattern]
    description = "exactly the ICMP errors and redirects the probing host receives"

    def compare(self, wanted: list[IcmpPattern], ev: Evidence) -> list[Comparison]:
        got = ev.obs.icmp_errors_to(ev.prober, ev.act)
        return [
            self.row(
                f"ICMP errors to {ev.prober}",
                listing([str(p) for p in wanted]),
                listing([f"type {r.icmp_type} code {r.icmp_code} from {r.src}" for r in got]),
                _same_set(wanted, got, icmp_matches),
                ev.act,
            )
        ]

    def claims_absence(self, wanted: list[IcmpPattern]) -> bool:
        return not wanted

    def claims_events(self, wanted: list[IcmpPattern]) -> bool:
        return bool(wanted)

    def happened(self, wanted: list[IcmpPattern], ev: Evidence) -> bool:
        return _all_seen(wanted, ev.obs.icmp_errors_to(ev.prober, ev.act), icmp_matches)

    def text(self, wanted: list[IcmpPattern]) -> str:
        if not wanted:
            return "no ICMP error reaches the prober"
        return f"ICMP errors to the prober: {listing([str(p) for p in wanted])}"


def _pattern_references(patterns: Sequence[PacketPattern]) -> Iterator[Reference]:
    for n, pattern in enumerate(patterns):
        if pattern.host is not None:
            yield Reference(f"[{n}]", pattern.host, None, lan_allowed=True)


class Seen(ExpectField[list[SeenPattern]]):
    name = "seen"
    needs_probe = False
    example: ClassVar[Any] = [{"host": "b", "ifname": "eth0", "direction": "in", "proto": "udp"}]
    annotation = list[SeenPattern]
    description = (
        "frames that must appear (every field given must match; `count`: exactly that many)"
    )

    def compare(self, wanted: list[SeenPattern], ev: Evidence) -> list[Comparison]:
        records = ev.obs.trace(ev.act)
        rows = []
        for pattern in wanted:
            hits = [r for r in records if packet_matches(pattern, r)]
            found = f"{len(hits)}: {hits[0]}" if hits else "none"
            if pattern.count is None:
                rows.append(
                    self.row(
                        f"seen: {pattern}", "at least one such frame", found, bool(hits), ev.act
                    )
                )
            else:
                frames = "frame" if pattern.count == 1 else "frames"
                rows.append(
                    self.row(
                        f"seen: {pattern}",
                        f"exactly {pattern.count} such {frames}",
                        found,
                        len(hits) == pattern.count,
                        ev.act,
                    )
                )
        return rows

    def claims_absence(self, wanted: list[SeenPattern]) -> bool:
        # "Exactly N" is established only once no further one can come.
        return any(pattern.count is not None for pattern in wanted)

    def claims_events(self, wanted: list[SeenPattern]) -> bool:
        return any(pattern.count != 0 for pattern in wanted)

    def happened(self, wanted: list[SeenPattern], ev: Evidence) -> bool:
        return _all_seen(wanted, ev.obs.trace(ev.act), packet_matches)

    def references(self, wanted: list[SeenPattern], prober: str) -> Iterator[Reference]:
        return _pattern_references(wanted)

    def text(self, wanted: list[SeenPattern]) -> str:
        return "frames seen: " + "; ".join(str(p) for p in wanted)


class NotSeen(ExpectField[list[PacketPattern]]):
    name = "not_seen"
    needs_probe = False
    example: ClassVar[Any] = [{"host": "a", "proto": "arp"}]
    annotation = list[PacketPattern]
    description = "frames that must not appear"

    def compare(self, wanted: list[PacketPattern], ev: Evidence) -> list[Comparison]:
        records = ev.obs.trace(ev.act)
        rows = []
        for pattern in wanted:
            hits = [r for r in records if packet_matches(pattern, r)]
            rows.append(
                self.row(
                    f"not seen: {pattern}",
                    "no such frame",
                    f"{len(hits)}, first: {hits[0]} on {hits[0].host}/{hits[0].ifname}"
                    if hits
                    else "none",
                    not hits,
                    ev.act,
                )
            )
        return rows

    def claims_absence(self, wanted: list[PacketPattern]) -> bool:
        return bool(wanted)

    def references(self, wanted: list[PacketPattern], prober: str) -> Iterator[Reference]:
        return _pattern_references(wanted)

    def text(self, wanted: list[PacketPattern]) -> str:
        return "no frame: " + "; ".join(str(p) for p in wanted)
