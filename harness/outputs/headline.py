"""One line per case record: what its verdict rests on, for every output that shows one.

The terminal (harness/outputs/console.py), TAP and JUnit show the same words; no
control character of a scenario file's text gets through (display.one_line).
"""

from __future__ import annotations

from harness.case.record import CaseRecord
from harness.core.display import one_line


def differing_line(record: CaseRecord) -> str:
    """The fields where the kernel differed, in one line (empty for none)."""
    return one_line(
        "; ".join(
            f"{r.label}: expected {r.expected}, observed {r.observed}" for r in record.differing
        )
    )


def headline(record: CaseRecord) -> str:
    """One line saying what a case's verdict rests on (without the verdict's own name):
    the fields that differ, why a claim is refuted, the version change, the error."""
    return one_line(_headline(record))


def _headline(record: CaseRecord) -> str:
    first = record.message.split("\n", 1)[0]
    if record.verdict == "fail":
        return "differs: " + (differing_line(record) or first)
    if record.verdict == "refuted":
        return record.refuted
    if record.verdict == "changed" and record.changed_in is not None:
        # The verdict's message already says it: which side of the change this kernel is
        # on, then the change itself.
        return first or record.changed_in.summary()
    if record.verdict in ("error", "skip"):
        return first or record.verdict
    return "holds"
