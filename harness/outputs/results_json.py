"""results.json: the run folder's record of every case, written once at the end.

The store (harness/runs/store.py) writes it and reads it back; this sink is its
place among the run's outputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from harness.case.record import CaseRecord, RunInfo
from harness.runs.store import drop_record_files, write_results


class ResultsJson:
    """RUN/results.json at the close, when a case ran; the per-case record files go then."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir

    def add(self, record: CaseRecord) -> None:
        """Nothing yet: each record is already stored as it arrives (store.write_record)."""
        del record

    def close(self, run: RunInfo, records: Sequence[CaseRecord]) -> None:
        """Write results.json, then drop the per-case copies it now holds."""
        if records:
            write_results(self.run_dir, list(records), run)
            drop_record_files(self.run_dir)
