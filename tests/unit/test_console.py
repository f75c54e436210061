"""The terminal view of `harness run`: 80 columns, findings grouped, failures first."""

from __future__ import annotations

import io

from rich.console import Console

from harness.outputs.console import RunConsole, fit
from harness.scenario.expect import Comparison
from tests.unit.test_report import record


def test_fit_cuts_at_a_word_and_marks_the_cut() -> None:
    assert fit("short", 80) == "short"
    cut = fit("a claim about routing that is far too long for the space given", 30)
    assert len(cut) <= 30 and cut.endswith("…") and not cut.endswith(" …")
    assert cut == "a claim about routing that…"


def test_findings_are_grouped_at_the_end_failures_first_within_80_columns() -> None:
    out = io.StringIO()
    view = RunConsole(Console(file=out, width=80, force_terminal=False, color_system=None))
    long_title = "x" * 200
    failed = record("fail", title=long_title).model_copy(
        update={
            "comparison": [
                Comparison(field="errno", label="errno", expected="ok", observed="EPERM", ok=False)
            ]
        }
    )
    refuted = record("refuted", refuted="a reason " * 30)
    records = [record("pass"), refuted, failed]
    view.expect(3)
    for rec in records:
        view.finished(rec)
    view.close(records, interrupted=False)
    lines = out.getvalue().splitlines()
    assert max(len(line) for line in lines) <= 80
    # the failure is printed when it happens, then again first in the closing list
    assert lines[0].startswith("FAIL    dontroute/peer-fail")
    end = lines.index("2 not a plain pass:")
    assert lines[end + 1].startswith("FAIL") and lines[end + 3].startswith("REFUTED")
    assert lines[-1] == "3 cases on 6.1.0-test: 1 pass, 1 refuted, 1 fail"
