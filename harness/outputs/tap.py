"""TAP (`--tap PATH`): the kernel selftests' format, streamed, the plan at the end.

`ok N selftests: ...`, a `# SKIP` directive, `#` diagnostic lines.  Ids, titles and
messages come from scenario files: no control character is written raw
(display.one_line), so a TAP line stays one line and a terminal showing it gets no
escape sequence.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from harness.case.record import CaseRecord, RunInfo
from harness.core.display import one_line
from harness.outputs.headline import headline
from harness.outputs.sink import open_output


class Tap:
    """TAP version 13 as the kernel selftests print it, streamed; the plan comes last."""

    def __init__(self, path: Path | str) -> None:
        self.out = open_output(path)
        self.count = 0
        self.out.write("TAP version 13\n")
        self.out.flush()

    def add(self, record: CaseRecord) -> None:
        """One test point for one case on one kernel."""
        self.count += 1
        ok = "not ok" if record.verdict in ("fail", "error") else "ok"
        name = one_line(f"selftests: harness: {record.key} [{record.kernel}]")
        directive = f" # SKIP {headline(record)}" if record.verdict == "skip" else ""
        lines = [f"{ok} {self.count} {name}{directive}"]
        if record.verdict != "pass" and record.verdict != "skip":
            lines.append(f"# {record.verdict}: {headline(record)}")
        self.out.write("\n".join(lines) + "\n")
        self.out.flush()

    def close(self, run: RunInfo, records: Sequence[CaseRecord]) -> None:
        """The plan, and a bail-out line when the run was cut short."""
        del records
        if run.interrupted:
            self.out.write("Bail out! the run was interrupted\n")
        self.out.write(f"1..{self.count}\n")
        self.out.flush()
        if self.out is not sys.stdout:
            self.out.close()
