"""Comparing a case across kernels: what differs, and where the run says so (pure logic)."""

from __future__ import annotations

from pathlib import Path

from harness.case.record import CaseRecord, RunInfo
from harness.core.evidence import ActFacts, ProbeOutcome
from harness.outputs.report import write_report
from harness.outputs.summary import write_summary
from harness.runs.compare import essence, kernel_differences
from tests.unit.test_report import RECEIPT, record

UNREACHABLE = ProbeOutcome(errno="ENETUNREACH", message="sendto: unreachable", time=1000.0)


def on(kernel: str, rec: CaseRecord) -> CaseRecord:
    return rec.model_copy(update={"kernel": kernel})


def refused(rec: CaseRecord) -> CaseRecord:
    assert rec.observed is not None
    observed = rec.observed.model_copy(
        update={"acts": [ActFacts(outcome=UNREACHABLE)], "arp": [], "packets": [], "received": []}
    )
    return rec.model_copy(update={"observed": observed, "verdict": "fail"})


def test_the_same_answer_is_no_difference() -> None:
    same = [on("6.1.0", record("pass")), on("6.12.0", record("pass"))]
    assert kernel_differences(same) == []


def test_a_different_answer_is_listed_field_by_field() -> None:
    new, old = on("6.12.0", record("pass")), on("6.1.0", refused(record("pass")))
    (diff,) = kernel_differences([new, old])
    assert diff.key == "dontroute/peer-pass" and diff.runs == ["6.1.0", "6.12.0"]
    assert diff.fields["verdict"] == ["fail", "pass"]
    assert diff.fields["errno"] == ["ENETUNREACH", "ok"]
    assert diff.fields["received by"] == ["(none)", str(RECEIPT)]
    assert diff.fields["resolution requests by sender"] == [
        "(none)",
        "who-has 192.0.2.193 tell 192.0.2.224",
    ]
    assert "route lookup" not in diff.fields  # the same in both


def test_random_link_local_addresses_are_no_difference() -> None:
    assert essence(record("pass")) == essence(record("pass"))


def test_summary_and_report_show_where_kernels_differ(tmp_path: Path) -> None:
    records = [on("6.12.0", record("pass")), on("6.1.0", refused(record("pass")))]
    run = RunInfo(started="2026-01-01T00:00:00+00:00")
    summary = write_summary(tmp_path, records, run).read_text()
    section = summary[summary.index("## Where kernels differ") :]
    assert "| field | 6.1.0 | 6.12.0 |" in section
    assert "| errno | ENETUNREACH | ok |" in section
    page = write_report(tmp_path, records).read_text()
    assert "where kernels differ (1 case)" in page
    assert '<td class="mono">ENETUNREACH</td><td class="mono">ok</td>' in page


def test_repeats_name_verdict_flips_apart_from_values_that_differ(tmp_path: Path) -> None:
    from harness.runs.repeats import compare_repeats, repeat_dirs, summary_lines
    from harness.runs.store import write_results

    folders = list(repeat_dirs(tmp_path, 3))
    steady = record("pass")
    flips = [record("fail"), record("fail"), record("fail").model_copy(update={"verdict": "skip"})]
    other_answer = refused(record("refuted")).model_copy(update={"verdict": "refuted"})
    values = [record("refuted"), other_answer, record("refuted")]
    for n, folder in enumerate(folders):
        folder.mkdir()
        run = RunInfo(started="2026-01-01T00:00:00+00:00")
        write_results(folder, [steady, flips[n], values[n]], run)
    compared, found = compare_repeats(folders)
    assert compared == 3
    assert [d.key for d in found] == [
        "dontroute/peer-fail on 6.1.0-test",
        "dontroute/peer-refuted on 6.1.0-test",
    ]
    assert found[0].runs == [f.name for f in folders]
    lines = summary_lines(compared, 3, found)
    assert lines[0] == (
        "3 repeats, 3 cases (per kernel) in every one: 1 with a verdict that flips, "
        "1 more with observed values that differ"
    )
    assert lines[1:3] == [
        "VERDICT FLIPS: dontroute/peer-fail on 6.1.0-test",
        "    verdict: fail (2x); skip (1x)",
    ]
    assert "values differ: dontroute/peer-refuted on 6.1.0-test" in lines
