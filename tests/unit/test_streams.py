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
from harness.cli import run as run_cli
from harness.outputs import formats
from harness.outputs.formats import Format
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
    monkeypatch.setattr(formats, "FORMATS", (*formats.FORMATS, row))
    monkeypatch.setattr(run_cli, "FORMATS", formats.FORMATS)
    monkeypatch.setattr(pytest_plugin, "FORMATS", formats.FORMATS)
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
