"""Verdict: compare what the claim expects with what the kernel did, and say where they differ."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from harness.observe import ArpRecord, Observation
from harness.probes import Receipt
from harness.scenario import ArpPattern, Expect, ReceiptPattern


@dataclass(frozen=True)
class Comparison:
    """One expected field next to what was observed for it."""

    field: str
    expected: str
    observed: str
    ok: bool


def _arp_matches(pattern: ArpPattern, record: ArpRecord) -> bool:
    return str(pattern.target) == record.target and (
        pattern.sender is None or str(pattern.sender) == record.sender
    )


def _receipt_matches(pattern: ReceiptPattern, receipt: Receipt) -> bool:
    return pattern.host == receipt.host and (pattern.src is None or str(pattern.src) == receipt.src)


def _same_set(
    patterns: Sequence[Any], records: Sequence[Any], fits: Callable[[Any, Any], bool]
) -> bool:
    """Every pattern matches a record and every record matches a pattern."""
    return all(any(fits(p, r) for r in records) for p in patterns) and all(
        any(fits(p, r) for p in patterns) for r in records
    )


def _listing(items: list[str]) -> str:
    return ", ".join(dict.fromkeys(items)) if items else "(none)"


def compare(expect: Expect, obs: Observation) -> list[Comparison]:
    """One Comparison per field the expectation names."""
    rows: list[Comparison] = []
    if expect.errno is not None:
        rows.append(Comparison("errno", expect.errno, obs.errno, expect.errno == obs.errno))
    for host, patterns in (expect.arp or {}).items():
        sent = obs.arp_requests_by(host)
        rows.append(
            Comparison(
                f"arp requests sent by {host}",
                _listing([str(p) for p in patterns]),
                _listing([f"who-has {r.target} tell {r.sender}" for r in sent]),
                _same_set(patterns, sent, _arp_matches),
            )
        )
    if expect.received is not None:
        got = obs.received
        rows.append(
            Comparison(
                "datagram received by",
                _listing([str(p) for p in expect.received]),
                _listing([f"{r.host} from {r.src}" for r in got]),
                _same_set(expect.received, got, _receipt_matches),
            )
        )
    return rows


def passed(rows: list[Comparison]) -> bool:
    """True when every compared field agrees."""
    return all(row.ok for row in rows)


def positives_seen(expect: Expect, obs: Observation) -> bool:
    """Everything the expectation says *does* happen has happened (used to end a case early).

    Only expectations that name at least one event qualify; a claim made only of
    absences ("no ARP", "nothing delivered") waits for the settle window.
    """
    wanted_arp = {h: p for h, p in (expect.arp or {}).items() if p}
    if not wanted_arp and not expect.received:
        return False
    if expect.errno is not None and expect.errno != obs.errno:
        return False
    for host, patterns in wanted_arp.items():
        sent = obs.arp_requests_by(host)
        if not all(any(_arp_matches(p, r) for r in sent) for p in patterns):
            return False
    return all(any(_receipt_matches(p, r) for r in obs.received) for p in expect.received or [])


def render_comparison(rows: list[Comparison]) -> str:
    """A three-column table: field, expected, observed; differing rows are marked."""
    width_f = max([len(r.field) for r in rows] + [5])
    width_e = max([len(r.expected) for r in rows] + [8])
    lines = [f"  {'field':<{width_f}}  {'expected':<{width_e}}  observed"]
    for row in rows:
        mark = "" if row.ok else "   <-- differs"
        lines.append(f"  {row.field:<{width_f}}  {row.expected:<{width_e}}  {row.observed}{mark}")
    return "\n".join(lines)


def render_trace(obs: Observation) -> str:
    """Every frame of the case on every interface, in time order."""
    records = obs.trace()
    if not records:
        return "  (no frame on any interface of any namespace)"
    width = max(len(f"{r.host}/{r.ifname}") for r in records)
    return "\n".join(
        f"  {r.t_ms:>9.3f} ms  {f'{r.host}/{r.ifname}':<{width}}  {r.direction:<3}  {r}"
        for r in records
    )
