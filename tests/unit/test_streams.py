"""JSON lines, TAP and JUnit views of a run, from hand-made records (pure logic; no kernel)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

import pytest
from _pytest.config.argparsing import Parser
from tap.parser import Parser as TapParser

from harness import pytest_plugin
from harness.case.record import CaseRecord, RunInfo
from harness.cli import build_parser
from harness.outputs import formats
from harness.outputs.formats import Format
from harness.outputs.jsonlines import JsonLines
from harness.outputs.junit import case_element, graft, write_junit
from harness.outputs.tap import Tap
from harness.scenario import ActAnswer, ChangedIn
from harness.scenario.expect import Comparison
from tests.junit_schema import schema_errors
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
    results = [line for line in TapParser().parse_file(str(path)) if line.category == "test"]
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
    assert schema_errors(path) == []
    suite = ET.parse(path).getroot().find("testsuite")
    assert suite is not None
    assert suite.get("name") == "harness on 6.1.0-test"
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("4", "1", "1")
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert {c.get("classname") for c in cases.values()} == {"dontroute"}
    refuted = cases["peer-refuted (REFUTED)"]
    assert refuted.find("skipped") is None and refuted.find("failure") is None
    assert refuted.get("status") == "refuted"
    out = refuted.findtext("system-out") or ""
    assert "REFUTED on kernel 6.1.0-test: the kernel <does> otherwise" in out
    assert "verdict: refuted\nkernel: 6.1.0-test\nerrno: ok\n" in out
    assert "REFUTED dontroute/peer-refuted: same-subnet peer" in out  # the `show` view
    failure = cases["peer-fail"].find("failure")
    assert failure is not None
    assert failure.get("message") == "differs: errno: expected ok, observed ENETUNREACH"
    # The body is what `harness show` prints, after the line naming what differs.
    body = (failure.text or "").splitlines()
    assert body[:2] == [failure.get("message"), "FAIL dontroute/peer-fail: same-subnet peer"]
    assert any("ENETUNREACH   <-- differs" in line for line in body)
    assert cases["peer-skip"].findtext("skipped") == "no vrf here"
    assert cases["peer-pass"].findtext("system-out", "").startswith("verdict: pass\n")


def test_junit_of_every_verdict_and_a_matrix_is_valid_for_ci(tmp_path: Path) -> None:
    """Valid against the schema Jenkins and GitLab read: no property or `file` in a test
    case, no attribute on `skipped` (the writer before had all three)."""
    changed = record(
        "changed",
        changed_in=ChangedIn(version="6.2", why="renames while up", since=[ActAnswer()]),
    )
    error = record("error", observed=None, comparison=[], message="the set-up failed")
    every = [*records(), changed, error]
    path = tmp_path / "junit.xml"
    write_junit(path, every, RUN.model_copy(update={"interrupted": True}))
    assert schema_errors(path) == []
    names = [c.get("name") for c in ET.parse(path).getroot().iter("testcase")]
    assert "peer-changed (CHANGED)" in names
    older = [r.model_copy(update={"kernel": "5.10.0-test"}) for r in every]
    write_junit(path, every + older, RUN)
    assert schema_errors(path) == []
    names = [c.get("name") for c in ET.parse(path).getroot().iter("testcase")]
    assert "peer-refuted [5.10.0-test] (REFUTED)" in names


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


def canonical(element: ET.Element) -> str:
    """An element's XML without the indentation between elements."""
    return ET.canonicalize(ET.tostring(element, encoding="unicode"), strip_text=True)


PYTEST_FILE = """<?xml version="1.0" encoding="utf-8"?><testsuites name="pytest tests">\
<testsuite name="pytest" errors="0" failures="0" skipped="0" tests="3" time="1.0">\
<testcase classname="tests.test_x" name="test_plain" time="0.001" />\
<testcase classname="scen.x.yaml" name="peer-refuted" time="0.2"><properties>\
<property name="harness-node" value="scen/x.yaml::peer-refuted" /></properties></testcase>\
<testcase classname="scen.x.yaml" name="peer-fail" time="0.2"><properties>\
<property name="harness-node" value="scen/x.yaml::peer-fail" /></properties>\
<failure message="m">pytest's own</failure></testcase>\
</testsuite></testsuites>"""


def test_pytest_junitxml_gets_the_same_test_case_of_each_case(tmp_path: Path) -> None:
    """`graft`: in pytest's file, a case item's test case is replaced by the harness's
    (the one `--junit` writes); the other tests and the suite stay pytest's."""
    path = tmp_path / "pytest.xml"
    path.write_text(PYTEST_FILE)
    refuted, failed = records()[1:3]
    by_node = {"scen/x.yaml::peer-refuted": [refuted], "scen/x.yaml::peer-fail": [failed]}
    assert graft(path, by_node) == 2
    assert schema_errors(path) == []
    suite = ET.parse(path).getroot().find("testsuite")
    assert suite is not None and suite.get("name") == "pytest"
    assert (suite.get("tests"), suite.get("failures")) == ("3", "1")
    grafted = [c for c in suite.iter("testcase") if c.get("classname") == "dontroute"]
    expected = [case_element(refuted), case_element(failed)]
    assert list(map(canonical, grafted)) == list(map(canonical, expected))
    assert suite.find("testcase[@name='test_plain']") is not None


def test_graft_puts_every_kernel_of_a_node_in_place_of_its_workers_copies(
    tmp_path: Path,
) -> None:
    """--dist each (a kernel matrix): pytest writes one test case per worker; the node's
    records, one per kernel, replace them.  A marked test case without a record stays
    pytest's, unmarked (the schema allows no property in a test case)."""
    path = tmp_path / "pytest.xml"
    second_worker = (
        '<testcase classname="scen.x.yaml" name="peer-refuted" time="0.2"><properties>'
        '<property name="harness-node" value="scen/x.yaml::peer-refuted" /></properties>'
        "</testcase>"
    )
    path.write_text(PYTEST_FILE.replace("</testsuite>", second_worker + "</testsuite>"))
    refuted = records()[1]
    older = refuted.model_copy(update={"kernel": "5.10.0-test"})
    assert graft(path, {"scen/x.yaml::peer-refuted": [refuted, older]}) == 2
    assert schema_errors(path) == []
    names = [c.get("name") for c in ET.parse(path).getroot().iter("testcase")]
    assert names == [
        "test_plain",
        "peer-refuted [5.10.0-test] (REFUTED)",
        "peer-refuted [6.1.0-test] (REFUTED)",
        "peer-fail",
    ]


class Lines:
    """A made-up format: one line per case, a count at the end (the Sink protocol)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.keys: list[str] = []

    def add(self, record: CaseRecord) -> None:
        self.keys.append(record.key)

    def close(self, run: RunInfo, records: Sequence[CaseRecord]) -> None:
        self.path.write_text("\n".join([*self.keys, str(len(records))]) + "\n")


def test_a_new_format_is_one_row(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """One row of FORMATS gives `harness run` its flag, pytest its option, and the run a
    sink it opens, feeds as cases end and closes with the run (harness/outputs/formats.py)."""
    row = Format("--lines", "one line per case ('-': stdout)", Lines)
    monkeypatch.setattr(formats, "FORMATS", (*formats.FORMATS, row))  # the row alone
    args = build_parser().parse_args(["run", "--lines", "out.txt", "--junit", "j.xml"])
    assert (args.lines, args.junit) == ("out.txt", "j.xml")
    parser = Parser(_ispytest=True)  # what pytest hands pytest_addoption
    pytest_plugin.pytest_addoption(parser)
    options = parser.parse(["--lines", "l.txt", "--harness-junit", "j.xml", "--tap", "t"])
    assert (options.lines, options.harness_junit, options.tap) == ("l.txt", "j.xml", "t")
    with pytest.raises(SystemExit):
        build_parser().parse_args(["run", "--help"])
    help_text = capsys.readouterr().out
    assert "--lines PATH" in help_text and "one line per case" in help_text
    sink = row.sink(tmp_path / "l.txt")
    for rec in records():
        sink.add(rec)
    sink.close(RUN, records())
    assert (tmp_path / "l.txt").read_text().splitlines() == [r.key for r in records()] + ["4"]
