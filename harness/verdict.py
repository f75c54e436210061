"""Verdict: compare what the claim expects with what the kernel did, and say where they differ."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from harness.observe import ArpRecord, Observation, PacketRecord
from harness.probes import Receipt
from harness.scenario import (
    ArpPattern,
    Expect,
    IcmpPattern,
    LinkExpectation,
    PacketPattern,
    Probe,
    ReceiptPattern,
)


@dataclass(frozen=True)
class Comparison:
    """One expected field next to what was observed for it."""

    field: str
    expected: str
    observed: str
    ok: bool
    probe: int = 0


def _same_ip(a: object, b: object) -> bool:
    try:
        return ipaddress.ip_address(str(a)) == ipaddress.ip_address(str(b))
    except ValueError:
        return str(a) == str(b)


def _arp_matches(pattern: ArpPattern, record: ArpRecord) -> bool:
    return _same_ip(pattern.target, record.target) and (
        pattern.sender is None or _same_ip(pattern.sender, record.sender)
    )


def _receipt_matches(pattern: ReceiptPattern, receipt: Receipt) -> bool:
    return pattern.host == receipt.host and (
        pattern.src is None or _same_ip(pattern.src, receipt.src)
    )


def _icmp_matches(pattern: IcmpPattern, record: PacketRecord) -> bool:
    return (
        pattern.type == record.icmp_type
        and (pattern.code is None or pattern.code == record.icmp_code)
        and (pattern.src is None or _same_ip(pattern.src, record.src))
    )


# How a PacketPattern field reads an ARP/NDP record.
_ARP_FIELDS = {"proto": "protocol", "src": "sender", "dst": "target"}


def packet_matches(pattern: PacketPattern, record: ArpRecord | PacketRecord) -> bool:
    """Every field the pattern gives equals the record's."""
    for name, wanted in pattern.model_dump(exclude_none=True).items():
        attr = _ARP_FIELDS.get(name, name) if isinstance(record, ArpRecord) else name
        seen = getattr(record, attr, None)
        if seen is None:
            return False
        if name in ("src", "dst"):
            if not _same_ip(wanted, seen):
                return False
        elif str(seen) != str(wanted):
            return False
    return True


def _same_set(
    patterns: Sequence[Any], records: Sequence[Any], fits: Callable[[Any, Any], bool]
) -> bool:
    """Every pattern matches a record and every record matches a pattern."""
    return all(any(fits(p, r) for r in records) for p in patterns) and all(
        any(fits(p, r) for p in patterns) for r in records
    )


def _listing(items: list[str]) -> str:
    return ", ".join(dict.fromkeys(items)) if items else "(none)"


def _errno(obs: Observation, index: int) -> str:
    return obs.errno if isinstance(obs.errno, str) else obs.errno[index]


def probe_packet(obs: Observation, probe: Probe, index: int) -> PacketRecord | None:
    """The first packet of the probe's own flow that left the probing host."""
    protos = {"udp": {"udp"}, "tcp": {"tcp"}, "icmp": {"icmp", "icmp6"}, "raw": {"udp"}}[
        probe.proto
    ]
    for record in obs.packets:
        if (
            record.probe == index
            and record.host == probe.host
            and record.direction == "out"
            and record.proto in protos
            and _same_ip(record.dst, probe.dst)
        ):
            return record
    return None


def _neighbour_state(obs: Observation, index: int, host: str, address: str) -> str:
    tables = obs.neighbours[index] if index < len(obs.neighbours) else {}
    for entry in tables.get(host, []):
        if _same_ip(entry.get("dst"), address):
            return str(entry.get("state"))
    return "ABSENT"


def compare(expect: Expect, obs: Observation, probe: Probe, index: int = 0) -> list[Comparison]:
    """One Comparison per field the expectation names, for probe number `index`."""
    rows: list[Comparison] = []

    def row(name: str, expected: str, observed: str, ok: bool) -> None:
        rows.append(Comparison(name, expected, observed, ok, index))

    if expect.errno is not None:
        seen = _errno(obs, index)
        row("errno", expect.errno, seen, expect.errno == seen)
    for host, patterns in (expect.arp or {}).items():
        sent = obs.arp_requests_by(host, index)
        row(
            f"resolution requests sent by {host}",
            _listing([str(p) for p in patterns]),
            _listing([f"who-has {r.target} tell {r.sender}" for r in sent]),
            _same_set(patterns, sent, _arp_matches),
        )
    if expect.received is not None:
        got = [r for r in obs.received if r.probe == index]
        row(
            "received by",
            _listing([str(p) for p in expect.received]),
            _listing([f"{r.host} from {r.src}" for r in got]),
            _same_set(expect.received, got, _receipt_matches),
        )
    if expect.src is not None or expect.egress is not None:
        packet = probe_packet(obs, probe, index)
        if expect.src is not None:
            seen = packet.src if packet else "(no packet left)"
            row(
                "source address on the wire",
                str(expect.src),
                seen,
                packet is not None and _same_ip(expect.src, packet.src),
            )
        if expect.egress is not None:
            seen = packet.ifname if packet else "(no packet left)"
            row(
                "left by interface",
                expect.egress,
                seen,
                packet is not None and packet.ifname == expect.egress,
            )
    if expect.icmp is not None:
        got_icmp = obs.icmp_errors_to(probe.host, index)
        row(
            f"ICMP errors to {probe.host}",
            _listing([str(p) for p in expect.icmp]),
            _listing([f"type {r.icmp_type} code {r.icmp_code} from {r.src}" for r in got_icmp]),
            _same_set(expect.icmp, got_icmp, _icmp_matches),
        )
    if expect.route is not None:
        lookup = obs.route_get[index] if index < len(obs.route_get) else {}
        for name, wanted in expect.route.model_dump(exclude_none=True).items():
            found = lookup.get(name)
            if name == "error":  # recorded as "ENETUNREACH: Network is unreachable"
                found = str(found).split(":", 1)[0] if found else None
            ok = found is not None and (
                _same_ip(wanted, found) if name in ("gateway", "src") else str(wanted) == str(found)
            )
            shown = str(found) if found is not None else lookup.get("error", "(none)")
            row(f"route lookup {name}", str(wanted), shown, ok)
    records: list[ArpRecord | PacketRecord] = [r for r in obs.trace() if r.probe == index]
    for pattern in expect.seen or []:
        hits = [r for r in records if packet_matches(pattern, r)]
        row(
            f"seen: {pattern}",
            "at least one such frame",
            f"{len(hits)}: {hits[0]}" if hits else "none",
            bool(hits),
        )
    for pattern in expect.not_seen or []:
        hits = [r for r in records if packet_matches(pattern, r)]
        row(
            f"not seen: {pattern}",
            "no such frame",
            f"{len(hits)}, first: {hits[0]} on {hits[0].host}/{hits[0].ifname}" if hits else "none",
            not hits,
        )
    for host, entries in (expect.neighbours or {}).items():
        for address, state in entries.items():
            seen = _neighbour_state(obs, index, host, address)
            row(f"neighbour {address} on {host}", state, seen, seen == state)
    states = obs.links[index] if index < len(obs.links) else {}
    for host, links in (expect.links or {}).items():
        for ifname, wanted in links.items():
            link = states.get(host, {}).get(ifname)
            for name, expected, observed, ok in _link_rows(wanted, link):
                row(f"link {host}/{ifname} {name}", expected, observed, ok)
    return rows


def _link_rows(
    wanted: LinkExpectation, link: dict[str, Any] | None
) -> list[tuple[str, str, str, bool]]:
    """(attribute, expected, observed, agrees) for each attribute the expectation names."""
    if link is None:
        return [("exists", "yes", "no such link", False)]
    address = str(link.get("address") or "")
    flags = list(link.get("flags") or [])
    rows: list[tuple[str, str, str, bool]] = []
    if wanted.type is not None:
        rows.append(("type", wanted.type, str(link.get("type")), wanted.type == link.get("type")))
    if wanted.address is not None:
        expected = "" if wanted.address == "none" else wanted.address
        rows.append(("address", wanted.address, address or "none", address == expected))
    if wanted.address_prefix is not None:
        ok = address.startswith(wanted.address_prefix)
        rows.append(("address starts with", wanted.address_prefix, address or "none", ok))
    if wanted.locally_administered is not None:
        local = bool(address) and bool(int(address[:2], 16) & 0x02)
        rows.append(
            (
                "address locally administered",
                str(wanted.locally_administered),
                f"{local} ({address or 'no address'})",
                local == wanted.locally_administered,
            )
        )
    if wanted.flags is not None:
        ok = set(wanted.flags) <= set(flags)
        rows.append(("flags include", ", ".join(wanted.flags), ", ".join(flags), ok))
    if wanted.without_flags is not None:
        ok = not set(wanted.without_flags) & set(flags)
        rows.append(("flags exclude", ", ".join(wanted.without_flags), ", ".join(flags), ok))
    for name in ("mtu", "txqueuelen"):
        value = getattr(wanted, name)
        if value is not None:
            rows.append((name, str(value), str(link.get(name)), value == link.get(name)))
    return rows


def passed(rows: list[Comparison]) -> bool:
    """True when every compared field agrees."""
    return all(row.ok for row in rows)


def positives_seen(expect: Expect, obs: Observation, probe: Probe, index: int = 0) -> bool:
    """Everything the expectation says *does* happen has happened (used to end a case early).

    Only expectations that name at least one event and no explicit absence
    qualify: an absence ("no ARP", "nothing delivered", `not_seen`) is
    established only by waiting the settle window, even next to events.
    """
    absences = [
        any(not patterns for patterns in (expect.arp or {}).values()),
        expect.received == [],
        expect.icmp == [],
        bool(expect.not_seen),
        any(s == "ABSENT" for e in (expect.neighbours or {}).values() for s in e.values()),
    ]
    if any(absences):
        return False
    wanted_arp = {h: p for h, p in (expect.arp or {}).items() if p}
    events = [
        wanted_arp,
        expect.received,
        expect.seen,
        expect.icmp,
        expect.src is not None or expect.egress is not None,
    ]
    if not any(events):
        return False
    if expect.errno is not None and expect.errno != _errno(obs, index):
        return False
    for host, patterns in wanted_arp.items():
        sent = obs.arp_requests_by(host, index)
        if not all(any(_arp_matches(p, r) for r in sent) for p in patterns):
            return False
    got = [r for r in obs.received if r.probe == index]
    if not all(any(_receipt_matches(p, r) for r in got) for p in expect.received or []):
        return False
    records = [r for r in obs.trace() if r.probe == index]
    if not all(any(packet_matches(p, r) for r in records) for p in expect.seen or []):
        return False
    icmp = obs.icmp_errors_to(probe.host, index)
    if not all(any(_icmp_matches(p, r) for r in icmp) for p in expect.icmp or []):
        return False
    return not (
        (expect.src is not None or expect.egress is not None)
        and probe_packet(obs, probe, index) is None
    )
