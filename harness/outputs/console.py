"""What `harness run` shows: a live progress line, then the findings.

On a terminal: one status line, redrawn in place, with the count of each
verdict so far, the case running now and an estimate of the time left; colour.
A failure or error is printed as it happens; every verdict line fits the
terminal's width (at most 120 columns): ids and titles are cut at a word, never
wrapped mid-word.
Elsewhere (CI logs, a pipe): no redrawing, no colour, and no line is ever cut
or wrapped (a log is read with grep and copied from): every case that is not a
plain pass is printed whole as it ends, and a progress line (cases done of all,
verdicts so far, seconds elapsed) every PROGRESS_EVERY_S seconds, so that a
log that stops moving shows where.
Both: at the end, every case that is not a plain pass, grouped by verdict with
failures first, then the counts per kernel; the closing paths of the run's files
are printed whole, to be copied.  Built on rich (colour, terminal detection,
live display).  Ids, kernels and reasons come from scenario files: each is one
line with its control characters escaped (display.one_line), so that no escape
sequence from a file reaches the terminal.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.live import Live
from rich.text import Text

from harness.case.record import CaseRecord, RunInfo
from harness.case.verdict import VERDICT_ORDER, VERDICTS
from harness.core.display import one_line
from harness.core.validation import version_tuple
from harness.outputs.headline import headline
from harness.runs.compare import kernel_differences

# The order findings are listed in at the end: failures first.
STYLES = {
    "pass": "green",
    "changed": "cyan",
    "refuted": "magenta",
    "fail": "bold red",
    "error": "bold yellow",
    "skip": "dim",
}
DEFAULT_WIDTH = 80
PROGRESS_EVERY_S = 5.0  # outside a terminal: how often the progress line is printed


def fit(text: str, width: int) -> str:
    """`text` cut to `width` columns at a word boundary, with an ellipsis when cut."""
    if len(text) <= width:
        return text
    cut = text[: max(width - 1, 1)]
    space = cut.rfind(" ")
    return (cut[:space] if space > width // 2 else cut).rstrip() + "…"


class RunConsole:
    """The live view of one run (see the module docstring)."""

    def __init__(
        self, console: Console | None = None, progress_every_s: float = PROGRESS_EVERY_S
    ) -> None:
        self.console = console or Console(highlight=False, soft_wrap=False)
        self.terminal = self.console.is_terminal
        self.width = min(self.console.width or DEFAULT_WIDTH, 120)
        self.counts: Counter[str] = Counter()
        self.total = 0
        self.current = ""
        self.kernels: set[str] = set()  # a run on one kernel does not name it on every line
        self.started = time.monotonic()
        self.live: Live | None = None
        self.lock = threading.Lock()  # the counts, read by the progress thread
        self.stop = threading.Event()
        self.ticker: threading.Thread | None = None
        if self.terminal:
            self.live = Live(
                self._status(), console=self.console, refresh_per_second=4, transient=True
            )
            self.live.start()
        else:
            self.ticker = threading.Thread(
                target=self._tick, args=(progress_every_s,), name="progress", daemon=True
            )
            self.ticker.start()

    def expect(self, total: int) -> None:
        """How many case runs the run will make (known once collection is done)."""
        self.total = max(self.total, total)
        self._refresh()

    def running(self, case: str) -> None:
        """A case has started."""
        self.current = one_line(case)
        self._refresh()

    def finished(self, record: CaseRecord) -> None:
        """A case has ended; printed at once when it is a failure or error (on a terminal),
        or anything but a plain pass (elsewhere); the rest at the end."""
        with self.lock:
            self.counts[record.verdict] += 1
        self.kernels.add(record.kernel)
        shown = ("fail", "error") if self.terminal else tuple(v for v in VERDICTS if v != "pass")
        if record.verdict in shown:
            self._print(self._line(record))
        self._refresh()

    def close(self, records: list[CaseRecord], interrupted: bool) -> None:
        """Stop the live line; print the findings grouped, then the counts per kernel."""
        if self.live is not None:
            self.live.stop()
            self.live = None
        if self.ticker is not None:
            self.stop.set()
            self.ticker.join(timeout=PROGRESS_EVERY_S)
            self.ticker = None
        self.kernels |= {r.kernel for r in records}
        findings = sorted(
            (r for r in records if r.verdict != "pass"),
            key=lambda r: (VERDICT_ORDER.index(r.verdict), r.key, version_tuple(r.kernel)),
        )
        if findings:
            self.console.print(Text(f"{len(findings)} not a plain pass:", style="bold"))
            for record in findings:
                self._print(self._line(record))
        for kernel in sorted({r.kernel for r in records}, key=version_tuple):
            mine = Counter(r.verdict for r in records if r.kernel == kernel)
            text = Text(f"{sum(mine.values())} cases on {one_line(kernel)}: ")
            for n, verdict in enumerate(v for v in VERDICTS if mine[v]):
                text.append(", " if n else "")
                text.append(f"{mine[verdict]} {verdict}", style=STYLES[verdict])
            self._print(text)
        if interrupted:
            self.console.print(
                Text("interrupted: the cases not reached are not counted", style="bold yellow")
            )

    # ------------------------------------------------------------------ internals

    def _line(self, record: CaseRecord) -> Text:
        """`VERDICT  scenario/case [kernel]`, then the reason on its own line; both fitted
        to a terminal, whole elsewhere."""
        label = f"{record.verdict.upper():<7} "
        kernel = f" [{record.kernel}]" if len(self.kernels) > 1 else ""
        where = one_line(f"{record.key}{kernel}")
        reason = f"        {headline(record)}"
        if self.terminal:
            where, reason = fit(where, self.width - len(label)), fit(reason, self.width)
        text = Text(label, style=STYLES[record.verdict])
        text.append(where)
        text.append("\n" + reason, style="dim")
        return text

    def _print(self, text: Text) -> None:
        """A verdict or count line: wrapped by no one outside a terminal (soft wrap: rich
        neither wraps nor crops a line longer than its width)."""
        self.console.print(text, soft_wrap=not self.terminal)

    def progress(self) -> str:
        """`progress: 12/40 cases, 2 fail, 1 refuted; 35 s elapsed` (the line printed
        every PROGRESS_EVERY_S seconds outside a terminal)."""
        with self.lock:
            counts = [f"{self.counts[v]} {v}" for v in VERDICTS if self.counts[v]]
            done = sum(self.counts.values())
        elapsed = time.monotonic() - self.started
        shown = f", {', '.join(counts)}" if counts else ""
        return f"progress: {done}/{self.total or '?'} cases{shown}; {elapsed:.0f} s elapsed"

    def _tick(self, every_s: float) -> None:
        # Bounded wait on the stop event, not a sleep: close() ends it at once.
        while not self.stop.wait(every_s):
            self.console.print(self.progress(), soft_wrap=True, markup=False)

    def _status(self) -> Text:
        done = sum(self.counts.values())
        text = Text(f"{done}/{self.total or '?'} ")
        for n, verdict in enumerate(v for v in VERDICTS if self.counts[v]):
            text.append(" " if n else "")
            text.append(f"{self.counts[verdict]} {verdict}", style=STYLES[verdict])
        elapsed = time.monotonic() - self.started
        if done and self.total > done:
            left = elapsed / done * (self.total - done)
            text.append(f"  ~{left:.0f} s left")
        if self.current:
            room = self.width - len(text.plain) - 3
            if room > 10:
                text.append("  " + fit(self.current, room), style="dim")
        return text

    def _refresh(self) -> None:
        if self.live is not None:
            self.live.update(self._status())


class Terminal:
    """The terminal view as a sink (harness/outputs/sink.py, and its Progress): the live
    view of RunConsole while the run goes, then the findings, how many cases differ between
    kernels, and the path of each of the run folder's `files`, whole, to be copied."""

    def __init__(self, run_dir: Path, files: Sequence[str]) -> None:
        self.run_dir = run_dir
        self.files = files
        self.view = RunConsole()

    def expect(self, total: int) -> None:
        """How many case runs the progress line counts to."""
        self.view.expect(total)

    def running(self, case: str) -> None:
        """The case the progress line names."""
        self.view.running(case)

    def add(self, record: CaseRecord) -> None:
        """Count the record; print it now if it is a finding (RunConsole.finished)."""
        self.view.finished(record)

    def close(self, run: RunInfo, records: Sequence[CaseRecord]) -> None:
        """Nothing when no case ran (the run folder holds no file to name)."""
        if not records:
            return
        self.view.close(list(records), run.interrupted)
        differing = kernel_differences(list(records))
        if differing:
            self.view.console.print(f"{len(differing)} cases differ between kernels")
        for name in self.files:
            self.view.console.print(f"{name}: {self.run_dir / name}", soft_wrap=True)
