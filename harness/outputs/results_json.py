"""results.json: the run folder's record of every case, written once at the end.

The store (harness/runs/store.py) writes it and reads it back; this sink is its
place among the run's outputs.
"""

from __future__ import annotations

from pathlib import Path

from harness.case.record import CaseRecord, RunInfo
from harness.outputs.sink import WrittenAtClose
from harness.runs.store import drop_record_files, write_results


class ResultsJson(WrittenAtClose):
    """RUN/results.json at the close, when a case ran; the per-case record files go then."""

    def write(self, records: list[CaseRecord], run: RunInfo) -> None:
        """Write results.json, then drop the per-case copies it now holds."""
        write_results(Path(self.path), records, run)
        drop_record_files(Path(self.path))
