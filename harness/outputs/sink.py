"""A sink: an output a run streams its case records into as each case finishes.

JSON lines (harness/outputs/jsonlines.py) and TAP (harness/outputs/tap.py) are
sinks; a new streamed format is one module with one class like them, and its
option in harness/pytest_plugin.py.  PATH `-` is standard output.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import IO, Protocol

from harness.case.record import CaseRecord


class Sink(Protocol):
    """Where each case record goes as its case finishes."""

    def add(self, record: CaseRecord) -> None:
        """Write one record."""

    def close(self, interrupted: bool = False) -> None:
        """Finish the output (`interrupted`: the run was cut short)."""


def open_output(path: Path | str) -> IO[str]:
    """The file at `path` for writing, line-buffered; `-` is standard output."""
    if str(path) == "-":
        return sys.stdout
    return Path(path).open("w", encoding="utf-8", buffering=1)
