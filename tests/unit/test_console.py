"""The view of `harness run`: on a terminal fitted to 80 columns, findings grouped, failures
first; in a log (no terminal) every line whole, findings as they end, a progress line."""

from __future__ import annotations

import io
import re
import threading

from rich.console import Console

from harness.case.record import CaseRecord
from harness.outputs.console import RunConsole, fit
from harness.scenario.expect import Comparison
from tests.unit.test_report import record

ESCAPES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\r")
LONG_REASON = " ".join(["a reason"] * 30)


def test_fit_cuts_at_a_word_and_marks_the_cut() -> None:
    assert fit("short", 80) == "short"
    cut = fit("a claim about routing that is far too long for the space given", 30)
    assert len(cut) <= 30 and cut.endswith("…") and not cut.endswith(" …")
    assert cut == "a claim about routing that…"


def _records() -> list[CaseRecord]:
    failed = record("fail", title="x" * 200).model_copy(
        update={
            "case": "peer-fail-" + "long-" * 30 + "id",
            "comparison": [
                Comparison(field="errno", label="errno", expected="ok", observed="EPERM", ok=False)
            ],
        }
    )
    return [record("pass"), record("refuted", refuted=LONG_REASON), failed]


def test_on_a_terminal_findings_fit_80_columns_and_are_grouped_failures_first() -> None:
    out = io.StringIO()
    view = RunConsole(Console(file=out, width=80, force_terminal=True, color_system=None))
    records = _records()
    view.expect(3)
    for rec in records:
        view.finished(rec)
    view.close(records, interrupted=False)
    lines = ESCAPES.sub("", out.getvalue()).splitlines()
    printed = [line for line in lines if not line.startswith(("0/", "1/", "2/", "3/"))]
    assert max(len(line) for line in printed) <= 80
    # the failure is printed when it happens (the refuted claim only at the end), then
    # again first in the closing list
    assert printed[0].startswith("FAIL    dontroute/peer-fail") and printed[0].endswith("…")
    end = printed.index("2 not a plain pass:")
    assert not any(line.startswith("REFUTED") for line in printed[:end])
    assert printed[end + 1].startswith("FAIL") and printed[end + 3].startswith("REFUTED")
    assert printed[-1] == "3 cases on 6.1.0-test: 1 pass, 1 refuted, 1 fail"


def test_in_a_log_no_line_is_cut_and_every_finding_is_printed_as_it_ends() -> None:
    out = io.StringIO()
    # 80 columns, as rich assumes for a pipe: no line may be cut or wrapped to it
    view = RunConsole(Console(file=out, width=80, force_terminal=False, color_system=None))
    records = _records()
    view.expect(3)
    seen_before_close = []
    for rec in records:
        view.finished(rec)
        seen_before_close.append(out.getvalue())
    view.close(records, interrupted=False)
    text = out.getvalue()
    assert "…" not in text and "..." not in text and "\x1b" not in text
    failed, refuted = records[2], records[1]
    # each finding, whole, on one line, as soon as it ended (pass: not printed)
    assert "REFUTED dontroute/peer-refuted" in seen_before_close[1].splitlines()
    assert f"        {LONG_REASON}" in seen_before_close[1].splitlines()
    assert f"FAIL    {failed.key}" in seen_before_close[2].splitlines()
    assert "peer-pass" not in seen_before_close[2]
    assert refuted.key in seen_before_close[1] and "errno: expected ok" in seen_before_close[2]
    # then grouped again at the end, failures first, and the counts
    lines = text.splitlines()
    end = lines.index("2 not a plain pass:")
    assert lines[end + 1] == f"FAIL    {failed.key}" and lines[end + 3].startswith("REFUTED")
    assert lines[-1] == "3 cases on 6.1.0-test: 1 pass, 1 refuted, 1 fail"


def test_in_a_log_the_counts_of_a_long_kernel_name_stay_on_one_line() -> None:
    out = io.StringIO()
    view = RunConsole(Console(file=out, width=80, force_terminal=False, color_system=None))
    kernel = "6.18.44-" + "long-release-name-" * 4 + "amd64"
    records = [record(v, kernel=kernel) for v in ("pass", "fail", "error", "skip")]
    view.close(records, interrupted=False)
    assert out.getvalue().splitlines()[-1] == (
        f"4 cases on {kernel}: 1 pass, 1 fail, 1 error, 1 skip"
    )


class _Lines(io.StringIO):
    """A log that says when a progress line has been written to it."""

    def __init__(self) -> None:
        super().__init__()
        self.progress = threading.Event()

    def write(self, text: str) -> int:
        if text.startswith("progress: "):
            self.progress.set()
        return super().write(text)


def test_in_a_log_a_progress_line_comes_every_few_seconds() -> None:
    out = _Lines()
    view = RunConsole(
        Console(file=out, width=80, force_terminal=False, color_system=None),
        progress_every_s=0.05,
    )
    view.expect(3)
    view.finished(record("pass"))
    view.finished(record("fail"))
    try:
        assert out.progress.wait(timeout=10), out.getvalue()
    finally:
        view.close([record("pass"), record("fail")], interrupted=False)
    line = next(x for x in out.getvalue().splitlines() if x.startswith("progress: "))
    assert re.fullmatch(r"progress: 2/3 cases, 1 pass, 1 fail; \d+ s elapsed", line), line
    assert view.ticker is None  # close() ended the thread


def test_on_a_terminal_there_is_no_progress_line_but_the_live_one() -> None:
    view = RunConsole(Console(file=io.StringIO(), force_terminal=True, color_system=None))
    assert view.ticker is None and view.live is not None
    view.close([], interrupted=False)
