"""The run as the report reads it: cases across kernels, scenarios, and the verdict order.

A run holds one record per case and kernel.  The page shows one section per
case whatever the number of kernels, and inside it one drawing per distinct
answer: `CaseView.answers` groups a case's records by what the kernel answered
(compare.essence, the reduction "where kernels differ" uses).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.case.record import CaseRecord
from harness.case.verdict import VERDICT_ORDER, VERDICTS
from harness.core.validation import version_tuple
from harness.outputs.report.svg import escape
from harness.runs.compare import essence

# Failures first: the order of every list, count and filter on the page.
FAILING = frozenset({"fail", "error"})


def verdict_rank(verdict: str) -> int:
    """Where a verdict comes in VERDICT_ORDER (an unknown one last)."""
    return VERDICT_ORDER.index(verdict) if verdict in VERDICT_ORDER else len(VERDICT_ORDER)


def kernel_order(kernels: Iterable[str]) -> list[str]:
    """Kernel releases oldest first, by version (6.9 before 6.12), then by name."""
    return sorted(set(kernels), key=lambda k: (version_tuple(k), k))


def _slug(prefix: str, text: str) -> str:
    return prefix + re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-")


@dataclass(frozen=True)
class CaseView:
    """One case of the run: its record on each kernel, oldest kernel first."""

    key: str
    anchor: str
    records: list[CaseRecord]

    @property
    def first(self) -> CaseRecord:
        """The record the case's plan (title, changes, probe) is read from."""
        return self.records[0]

    @property
    def verdicts(self) -> list[str]:
        """Its distinct verdicts, failures first."""
        return sorted({r.verdict for r in self.records}, key=verdict_rank)

    @property
    def worst(self) -> str:
        """The verdict that decides where the case is listed and how it is marked."""
        return self.verdicts[0]

    def answers(self) -> list[list[CaseRecord]]:
        """The records grouped by what the kernel answered, in kernel order."""
        groups: dict[tuple[tuple[str, str], ...], list[CaseRecord]] = {}
        for rec in self.records:
            groups.setdefault(tuple(essence(rec).items()), []).append(rec)
        return list(groups.values())


@dataclass(frozen=True)
class Page:
    """What every part of the page needs to know about the run."""

    run_dir: Path
    multi: bool  # several kernels
    common_notes: frozenset[str]  # notes every record has: said once, at the top
    # Sequence diagrams for every case, or (the default) for the cases that are not a
    # plain pass: drawn for all, they were 40 % of the page.
    every_diagram: bool = False


@dataclass(frozen=True)
class ScenarioView:
    """One scenario: its cases, and the anchor of its section."""

    name: str
    anchor: str
    cases: list[CaseView]


def group_records(records: Sequence[CaseRecord]) -> tuple[list[str], list[ScenarioView]]:
    """The run's kernels (oldest first) and its scenarios with their cases, in name order."""
    kernels = kernel_order(r.kernel for r in records)
    by_key: dict[str, list[CaseRecord]] = {}
    for rec in sorted(records, key=lambda r: (r.scenario, r.case)):
        by_key.setdefault(rec.key, []).append(rec)
    scenarios: dict[str, list[CaseView]] = {}
    taken: set[str] = set()
    for key, recs in by_key.items():
        recs.sort(key=lambda r: kernels.index(r.kernel))
        anchor = base = _slug("case-", key)
        n = 2
        while anchor in taken:  # two keys that differ only in punctuation
            anchor, n = f"{base}-{n}", n + 1
        taken.add(anchor)
        scenarios.setdefault(recs[0].scenario, []).append(CaseView(key, anchor, recs))
    views = [
        ScenarioView(name, _slug("scenario-", name), cases) for name, cases in scenarios.items()
    ]
    return kernels, views


def badge(verdict: str, text: str = "") -> str:
    """A verdict as a coloured label (`text`, else the verdict in capitals), escaped."""
    cls = verdict if verdict in VERDICTS else "other"
    return f'<span class="badge {cls}">{escape(text or verdict.upper() or "?")}</span>'


def case_attrs(view: CaseView) -> str:
    """What the filter reads: the case an element belongs to, and the case's verdicts."""
    return f'data-case="{view.anchor}" data-v="{" ".join(view.verdicts)}"'


def kernel_verdicts(view: CaseView) -> str:
    """`6.1.0: PASS  6.12.0: FAIL`, for a case on several kernels."""
    return "".join(
        f'<span class="kv">{escape(r.kernel)} {badge(r.verdict)}</span>' for r in view.records
    )
