"""A sink: an output a run streams its case records into, opened at the start.

Each format is one module of harness/outputs/ with one class like JsonLines
(jsonlines.py), Tap (tap.py) and JUnit (junit.py), and one row of FORMATS
(harness/outputs/formats.py): the pytest option and `harness run`'s flag come
from that row.  PATH `-` is standard output.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Protocol

from harness.case.record import CaseRecord, RunInfo


class Sink(Protocol):
    """Opened (constructed with its PATH) at the start of a run; a record as each case
    finishes; closed once at the end with the run and all its records."""

    def add(self, record: CaseRecord) -> None:
        """Write one record."""

    def close(self, run: RunInfo, records: Sequence[CaseRecord]) -> None:
        """Finish the output (`run.interrupted`: the run was cut short; `records`: every
        case's last record, none when no case ran)."""


def open_output(path: Path | str) -> IO[str]:
    """The file at `path` for writing, line-buffered; `-` is standard output."""
    if str(path) == "-":
        return sys.stdout
    return Path(path).open("w", encoding="utf-8", buffering=1)
