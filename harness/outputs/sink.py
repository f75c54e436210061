"""A sink: an output a run streams its case records into, opened at the start.

Every output of a run is one: the formats asked for by a flag, each one module
of harness/outputs/ with one class like JsonLines (jsonlines.py), Tap (tap.py)
and JUnit (junit.py) and one row of FORMATS (harness/outputs/formats.py), from
which the pytest option and `harness run`'s flag come (PATH `-` is standard
output); the run folder's files every run writes, one row of RUN_FILES each
(results.json, report.html, summary.md); and the terminal view (console.py).
formats.open_outputs opens them all, in one place.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Protocol, runtime_checkable

from harness.case.record import CaseRecord, RunInfo


class Sink(Protocol):
    """Opened (constructed with its PATH) at the start of a run; a record as each case
    finishes; closed once at the end with the run and all its records."""

    def add(self, record: CaseRecord) -> None:
        """Write one record."""

    def close(self, run: RunInfo, records: Sequence[CaseRecord]) -> None:
        """Finish the output (`run.interrupted`: the run was cut short; `records`: every
        case's last record, none when no case ran)."""


class WrittenAtClose:
    """A sink that writes its file once, at the close, from every record, and nothing when
    no case ran: `write` says how (report.html, summary.md, results.json, JUnit)."""

    def __init__(self, path: Path | str) -> None:
        self.path = path  # the run folder for the run's own files

    def add(self, record: CaseRecord) -> None:
        """Nothing before the close: the file needs every record."""
        del record

    def close(self, run: RunInfo, records: Sequence[CaseRecord]) -> None:
        """Write the file, if any case ran."""
        if records:
            self.write(list(records), run)

    def write(self, records: list[CaseRecord], run: RunInfo) -> None:
        """Write the file from every record of the run."""
        raise NotImplementedError


def open_output(path: Path | str) -> IO[str]:
    """The file at `path` for writing, line-buffered; `-` is standard output."""
    if str(path) == "-":
        return sys.stdout
    return Path(path).open("w", encoding="utf-8", buffering=1)


@runtime_checkable
class Progress(Protocol):
    """A sink that also shows a run's progress (the terminal view): told how many case
    runs to expect, and which case starts, before any record arrives."""

    def expect(self, total: int) -> None:
        """The run will make `total` case runs (known once collection is done)."""

    def running(self, case: str) -> None:
        """`case` has started."""
