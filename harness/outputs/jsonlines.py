"""JSON lines (`--json PATH`): each case's record as it finishes, one per line.

Written from the typed records (harness/case/record.py), as results.json holds them.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from harness.case.record import CaseRecord, RunInfo
from harness.outputs.sink import open_output


class JsonLines:
    """Each record as one line of JSON, written as the case finishes."""

    def __init__(self, path: Path | str) -> None:
        self.out = open_output(path)

    def add(self, record: CaseRecord) -> None:
        """Write one record."""
        self.out.write(record.to_json() + "\n")
        self.out.flush()

    def close(self, run: RunInfo, records: Sequence[CaseRecord]) -> None:
        """Close the file (not standard output); an interrupted run's lines are all there."""
        del run, records
        if self.out is not sys.stdout:
            self.out.close()
