"""JSON lines, TAP and JUnit views of a run, from hand-made records (pure logic; no kernel)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from tap.parser import Parser

from harness.case.record import CaseRecord, RunInfo
from harness.outputs.jsonlines import JsonLines
from harness.outputs.junit import write_junit
from harness.outputs.tap import Tap
from harness.scenario.expect import Comparison
from tests.unit.test_report import record

RUN = RunInfo(started="2026-01-01T00:00:00+00:00", finished="2026-01-01T00:00:10+00:00")


def records() -> list[CaseRecord]:
    refuted = record("refuted", refuted="the kernel <does> otherwise")
    failed = record("fail").model_copy(
        update={
            "comparison": [
                Comparison(
                    field="errno", label="errno", expected="ok", observed="ENETUNREACH", ok=False
                )
            ]
        }
    )
    skipped = record("skip", observed=None, comparison=[], message="no vrf here\nmore")
    return [record("pass"), refuted, failed, skipped]


def test_tap_is_what_a_tap_parser_reads(tmp_path: Path) -> None:
    path = tmp_path / "run.tap"
    tap = Tap(path)
    for rec in records():
        tap.add(rec)
    tap.close(RUN, records())
    results = [line for line in Parser().parse_file(str(path)) if line.category == "test"]
    assert [(r.number, r.ok, r.skip) for r in results] == [
        (1, True, False),
        (2, True, False),
        (3, False, False),
        (4, True, True),
    ]
    text = path.read_text()
    assert text.startswith("TAP version 13\n") and text.endswith("1..4\n")
    assert "# refuted: the kernel <does> otherwise" in text
    assert "# fail: differs: errno: expected ok, observed ENETUNREACH" in text


def test_json_lines_are_the_records(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    stream = JsonLines(path)
    for rec in records():
        stream.add(rec)
    stream.close(RUN, records())
    lines = path.read_text().splitlines()
    assert [CaseRecord.model_validate(json.loads(line)) for line in lines] == records()


def test_junit_lists_findings_as_such_and_names_differing_fields(tmp_path: Path) -> None:
    path = tmp_path / "junit.xml"
    write_junit(path, records(), RUN)
    suite = ET.parse(path).getroot().find("testsuite")
    assert suite is not None
    assert suite.get("name") == "harness on 6.1.0-test"
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("4", "1", "1")
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert {c.get("classname") for c in cases.values()} == {"dontroute"}
    refuted = cases["peer-refuted"]
    assert refuted.find("skipped") is None and refuted.find("failure") is None
    assert "REFUTED on kernel 6.1.0-test: the kernel <does> otherwise" in (
        refuted.findtext("system-out") or ""
    )
    finding = {p.get("name"): p.get("value") for p in refuted.iter("property")}
    assert finding["verdict"] == "refuted" and finding["errno"] == "ok"
    failure = cases["peer-fail"].find("failure")
    assert failure is not None
    assert failure.get("message") == "differs: errno: expected ok, observed ENETUNREACH"
    skipped = cases["peer-skip"].find("skipped")
    assert skipped is not None and skipped.get("message") == "no vrf here"


def test_junit_of_a_matrix_has_a_suite_per_kernel_and_the_kernel_in_each_name(
    tmp_path: Path,
) -> None:
    path = tmp_path / "junit.xml"
    older = [r.model_copy(update={"kernel": "5.10.0-test"}) for r in records()]
    write_junit(path, records() + older, RUN)
    suites = {s.get("name"): s for s in ET.parse(path).getroot().iter("testsuite")}
    assert set(suites) == {"harness on 6.1.0-test", "harness on 5.10.0-test"}
    names = {c.get("name") for c in suites["harness on 5.10.0-test"].iter("testcase")}
    assert "peer-fail [5.10.0-test]" in names and len(names) == 4
