"""What `harness run` shows in a terminal: a live progress line, then the findings.

On a terminal: one status line, redrawn in place, with the count of each
verdict so far, the case running now and an estimate of the time left; colour.
Elsewhere (CI logs, a pipe): no redrawing and no colour.  A failure or error is
printed as it happens; at the end, every case that is not a plain pass, grouped
by verdict with failures first, then the counts per kernel.  Every verdict line
fits the terminal's width (80 columns when there is none): ids and titles are
cut at a word, never wrapped mid-word; the closing paths of the run's files are
printed whole, to be copied.  Built on rich (colour, terminal detection,
live display).  Ids, kernels and reasons come from scenario files: each is one
line with its control characters escaped (display.one_line), so that no escape
sequence from a file reaches the terminal.
"""

from __future__ import annotations

import time
from collections import Counter

from rich.console import Console
from rich.live import Live
from rich.text import Text

from harness.case.record import CaseRecord
from harness.case.verdict import VERDICT_ORDER, VERDICTS
from harness.core.display import one_line
from harness.core.validation import version_tuple
from harness.outputs.headline import headline

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


def fit(text: str, width: int) -> str:
    """`text` cut to `width` columns at a word boundary, with an ellipsis when cut."""
    if len(text) <= width:
        return text
    cut = text[: max(width - 1, 1)]
    space = cut.rfind(" ")
    return (cut[:space] if space > width // 2 else cut).rstrip() + "…"


class RunConsole:
    """The live view of one run (see the module docstring)."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(highlight=False, soft_wrap=False)
        self.width = min(self.console.width or DEFAULT_WIDTH, 120)
        self.counts: Counter[str] = Counter()
        self.total = 0
        self.current = ""
        self.kernels: set[str] = set()  # a run on one kernel does not name it on every line
        self.started = time.monotonic()
        self.live: Live | None = None
        if self.console.is_terminal:
            self.live = Live(
                self._status(), console=self.console, refresh_per_second=4, transient=True
            )
            self.live.start()

    def expect(self, total: int) -> None:
        """How many case runs the run will make (known once collection is done)."""
        self.total = max(self.total, total)
        self._refresh()

    def running(self, case: str) -> None:
        """A case has started."""
        self.current = one_line(case)
        self._refresh()

    def finished(self, record: CaseRecord) -> None:
        """A case has ended; a failure or error is printed at once (the rest at the end)."""
        self.counts[record.verdict] += 1
        self.kernels.add(record.kernel)
        if record.verdict in ("fail", "error"):
            self.console.print(self._line(record))
        self._refresh()

    def close(self, records: list[CaseRecord], interrupted: bool) -> None:
        """Stop the live line; print the findings grouped, then the counts per kernel."""
        if self.live is not None:
            self.live.stop()
            self.live = None
        self.kernels |= {r.kernel for r in records}
        findings = sorted(
            (r for r in records if r.verdict != "pass"),
            key=lambda r: (VERDICT_ORDER.index(r.verdict), r.key, version_tuple(r.kernel)),
        )
        if findings:
            self.console.print(Text(f"{len(findings)} not a plain pass:", style="bold"))
            for record in findings:
                self.console.print(self._line(record))
        for kernel in sorted({r.kernel for r in records}, key=version_tuple):
            mine = Counter(r.verdict for r in records if r.kernel == kernel)
            text = Text(f"{sum(mine.values())} cases on {one_line(kernel)}: ")
            for n, verdict in enumerate(v for v in VERDICTS if mine[v]):
                text.append(", " if n else "")
                text.append(f"{mine[verdict]} {verdict}", style=STYLES[verdict])
            self.console.print(text)
        if interrupted:
            self.console.print(
                Text("interrupted: the cases not reached are not counted", style="bold yellow")
            )

    # ------------------------------------------------------------------ internals

    def _line(self, record: CaseRecord) -> Text:
        """`VERDICT  scenario/case [kernel]`, then the reason on its own line, both fitted."""
        label = f"{record.verdict.upper():<7} "
        kernel = f" [{record.kernel}]" if len(self.kernels) > 1 else ""
        where = fit(one_line(f"{record.key}{kernel}"), self.width - len(label))
        text = Text(label, style=STYLES[record.verdict])
        text.append(where)
        text.append("\n" + fit(f"        {headline(record)}", self.width), style="dim")
        return text

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
