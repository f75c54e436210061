"""A results folder from the internet is data: `report`, `show` and `compare` answer every
corrupted one with one line naming file, field and problem (exit 2), never a traceback or
a hang; nothing read from it reaches a terminal, Markdown, TAP or XML with a control
character raw (harness/core/display.py).  Mutants of a real run's folder:
tests/fuzz/test_results_mutants.py."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from harness.case.record import CaseRecord, RunInfo
from harness.cli import main
from harness.core.display import block, markdown_cell, one_line
from harness.outputs.console import RunConsole
from harness.outputs.junit import write_junit
from harness.outputs.summary import write_summary
from harness.outputs.tap import Tap
from harness.runs.store import RESULTS_MAX_BYTES, write_record, write_results
from tests.junit_schema import schema_errors
from tests.unit.test_report import record

PROJECT = Path(__file__).parents[2]
STARTED = "2026-01-01T00:00:00+00:00"
# What a hostile file puts in a text field: a colour, a terminal title, a screen clear,
# a newline, a NUL, a C1 CSI, a bidi override and U+FFFF (not XML).  A lone surrogate
# cannot be in a record at all: results.json holding one is refused (CORRUPTED_JSON).
NASTY = "\x1b[31mred\x1b]0;title\x07\x1b[2J\nsecond line\x00\x9b\u202e\uffff|cell"
RAW = ("\x1b", "\x00", "\x07", "\x9b", "\u202e", "\uffff")


def harness(*argv: str) -> tuple[int, str, str]:
    """`harness ARGV` in this process: exit status, standard output, standard error.
    An exception escaping main (a traceback for the user) fails the test that called it."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def refused(code: int, err: str, *words: str) -> None:
    """Exit 2 with one line on standard error that says each of `words`."""
    assert code == 2, err
    assert len(err.splitlines()) == 1 and err.endswith("\n"), err
    assert "Traceback" not in err
    for word in words:
        assert word in err, (word, err)


@pytest.fixture
def reference(tmp_path: Path) -> Path:
    """A good run folder (two records) to corrupt a copy of, and to compare it with."""
    folder = tmp_path / "reference"
    folder.mkdir()
    write_results(folder, [record("pass"), record("fail")], RunInfo(started=STARTED))
    return folder


def good_results(reference: Path) -> dict[str, Any]:
    """The reference run's results.json, parsed."""
    return dict(json.loads((reference / "results.json").read_text()))


def each_verb(folder: Path, reference: Path) -> Iterator[tuple[str, tuple[int, str, str]]]:
    """`report`, `show` and `compare` on `folder`, each with its answer."""
    yield "report", harness("report", str(folder))
    yield "show", harness("show", "dontroute/peer-pass", "--run", str(folder))
    yield "compare", harness("compare", str(folder), str(reference))


def _set(path: list[Any], value: Any) -> Callable[[dict[str, Any]], None]:
    def change(doc: dict[str, Any]) -> None:
        node = doc
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = value

    return change


CORRUPTED_JSON: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    # The review's reproducer: a non-mapping under `scenarios` (a TypeError traceback).
    "scenarios-a-list": (_set(["scenarios"], [1, 2]), "scenarios: not a mapping"),
    "a-scenario-a-number": (_set(["scenarios", "dontroute"], 5), "scenarios.dontroute: not a"),
    "a-scenario-unknown-field": (
        _set(["scenarios", "dontroute", "zz"], 1),
        "scenarios.dontroute.zz: not one of",
    ),
    "records-a-mapping": (_set(["records"], {"a": 1}), "records: missing, or not a list"),
    "no-records": (lambda doc: doc.pop("records"), "records: missing"),
    "a-record-a-string": (_set(["records", 0], "x"), "record 1: not a JSON object"),
    "a-record-scenario-a-list": (_set(["records", 0, "scenario"], ["x"]), "record 1: scenario:"),
    "verdict-a-number": (_set(["records", 1, "verdict"], 5), "record 2: verdict:"),
    "topology-a-string": (_set(["scenarios", "dontroute", "topology"], "x"), "topology:"),
    "run-a-list": (_set(["run"], []), "run: "),
    "run-kernels-wrong": (_set(["run", "kernels"], [{"release": 1}]), "run.kernels.0.release"),
    "unknown-top-field": (_set(["zz"], 1), "zz: unknown field"),
    # json.dumps writes it as the escape \ud800: no UTF-8 for it (the report failed so).
    "a-lone-surrogate": (_set(["records", 0, "title"], "a\ud800"), "hex escape at line 1"),
    "a-field-named-with-esc": (_set(["records", 0, "\x1b[2Jx\ny"], 1), "record 1: \\x1b[2Jx\\ny"),
}


@pytest.mark.parametrize("corrupt", CORRUPTED_JSON, ids=list(CORRUPTED_JSON))
def test_a_corrupted_results_json_gets_one_line(
    tmp_path: Path, reference: Path, corrupt: str
) -> None:
    change, says = CORRUPTED_JSON[corrupt]
    doc = good_results(reference)
    change(doc)
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "results.json").write_text(json.dumps(doc))
    for _verb, (code, _, err) in each_verb(folder, reference):
        refused(code, err, str(folder / "results.json"), says)


BROKEN_BYTES: dict[str, tuple[Callable[[bytes], bytes], str]] = {
    "truncated": (lambda b: b[: len(b) // 2], "not a results file: "),
    "empty": (lambda b: b"", "not a results file: "),
    "not-utf8": (lambda b: b"\xff\xfe\xfd" + b, "not a results file: "),
    "nested-deeply": (lambda b: b"[" * 200_000 + b"]" * 200_000, "recursion limit exceeded"),
    "a-5000-digit-number": (lambda b: b'{"run": ' + b"9" * 5000 + b"}", "number out of range"),
    "a-json-array": (lambda b: b"[]", "not a JSON object"),
}


@pytest.mark.parametrize("broken", BROKEN_BYTES, ids=list(BROKEN_BYTES))
def test_a_results_json_that_is_no_json_object_gets_one_line(
    tmp_path: Path, reference: Path, broken: str
) -> None:
    change, says = BROKEN_BYTES[broken]
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "results.json").write_bytes(change(json.dumps(good_results(reference)).encode()))
    for _verb, (code, _, err) in each_verb(folder, reference):
        refused(code, err, str(folder / "results.json"), says)


def test_a_huge_results_json_is_refused_before_it_is_read(tmp_path: Path, reference: Path) -> None:
    folder = tmp_path / "run"
    folder.mkdir()
    with (folder / "results.json").open("wb") as sparse:  # no disk used: a hole
        sparse.truncate(RESULTS_MAX_BYTES + 1)
    started = time.monotonic()
    for _verb, (code, _, err) in each_verb(folder, reference):
        refused(code, err, "results.json", f"larger than {RESULTS_MAX_BYTES >> 20} MiB")
    assert time.monotonic() - started < 10


def test_a_symlinked_results_json_is_not_followed(tmp_path: Path, reference: Path) -> None:
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "results.json").symlink_to(reference / "results.json")
    for _verb, (code, _, err) in each_verb(folder, reference):
        refused(code, err, "results.json: a symbolic link, not a regular file")


def test_a_results_json_that_is_a_folder_gets_one_line(tmp_path: Path, reference: Path) -> None:
    folder = tmp_path / "run"
    (folder / "results.json").mkdir(parents=True)
    for _verb, (code, _, err) in each_verb(folder, reference):
        refused(code, err, "results.json: not a regular file")


def test_a_fifo_for_results_json_or_a_record_does_not_hang(tmp_path: Path) -> None:
    """A FIFO waits for a writer for ever if opened plainly: in a child, with a bound."""
    one = tmp_path / "fifo-results"
    one.mkdir()
    os.mkfifo(one / "results.json")
    two = tmp_path / "fifo-record"
    write_record(two, record("pass"))
    os.mkfifo(two / "records/6.1.0-test/dontroute/peer-fail.json")
    three = tmp_path / "fifo-marker"  # a case marked running (`report` reads the marker)
    write_record(three, record("pass"))
    marker = three / "records/.running/6.1.0-test/dontroute/peer-x"
    marker.parent.mkdir(parents=True)
    os.mkfifo(marker)
    calls = [
        (["report", str(one)], "results.json"),
        (["show", "p", "--run", str(one)], "results.json"),
        (["report", str(two)], "peer-fail.json"),
        (["show", "p", "--run", str(two)], "peer-fail.json"),
        (["report", str(three)], "peer-x"),
    ]
    # One child for all: `main` on each, its exit status and standard error as JSON.
    script = (
        "import contextlib, io, json, sys\n"
        "from harness.cli import main\n"
        "for argv in json.loads(sys.argv[1]):\n"
        "    err = io.StringIO()\n"
        "    with contextlib.redirect_stderr(err):\n"
        "        code = main(argv)\n"
        "    print(json.dumps([code, err.getvalue()]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, json.dumps([argv for argv, _ in calls])],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=PROJECT,
    )
    answers = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(answers) == len(calls), done.stderr
    for (code, err), (_, name) in zip(answers, calls, strict=True):
        refused(code, err, name, "not a regular file")


def test_corrupted_record_files_of_an_unfinished_run_get_one_line(tmp_path: Path) -> None:
    """A run without results.json is read from records/: the same checks hold there."""
    folder = tmp_path / "run"
    path = write_record(folder, record("pass"))
    path.write_text('{"scenario": {"a": 1}}')
    code, _, err = harness("report", str(folder))
    refused(code, err, str(path), "scenario: Input should be a valid string")
    path.unlink()
    path.symlink_to("/etc/passwd")
    code, _, err = harness("report", str(folder))
    refused(code, err, str(path), "a symbolic link")
    path.unlink()
    outside = tmp_path / "outside"
    (outside / "dontroute").mkdir(parents=True)
    (outside / "dontroute/peer-pass.json").write_text(record("pass").to_json())
    shutil.rmtree(folder / "records")
    (folder / "records").mkdir()
    (folder / "records/6.1.0-test").symlink_to(outside)
    code, _, err = harness("report", str(folder))
    refused(code, err, "a symbolic link out of records/")


# ---------------------------------------------------------------- control characters


def test_the_escapes() -> None:
    assert one_line("a\x1b[31mb\nc\td\x00\x7f\x9b\u2028\u202e\ud800\uffff") == (
        "a\\x1b[31mb\\nc\\td\\x00\\x7f\\x9b\\u2028\\u202e\\ud800\\uffff"
    )
    assert block("a\nb\tc\r\x1b") == "a\nb\tc\\r\\x1b"
    assert markdown_cell("a|b\nc") == "a\\|b\\nc"
    plain = "同网段的测试 SO_DONTROUTE, ok (sendto: 64 bytes) → é"
    assert one_line(plain) == block(plain) == plain  # the look of ordinary text is kept


def nasty_record(verdict: str = "fail") -> CaseRecord:
    return record(
        verdict,
        title=NASTY,
        case="peer\x1b[2J\nx",
        claim=NASTY,
        article=NASTY,
        kernel="6.1\x1b[0m",
        message=NASTY,
        refuted=NASTY if verdict == "refuted" else "",
        notes=[NASTY],
    )


def test_show_escapes_every_field_and_keeps_one_line_fields_one_line(tmp_path: Path) -> None:
    write_results(tmp_path, [nasty_record()], RunInfo(started=STARTED))
    code, out, err = harness("show", "dontroute/peer", "--run", str(tmp_path))
    assert code == 0, err
    assert not any(c in out for c in RAW)
    first = out.splitlines()[0]
    assert first.startswith("FAIL dontroute/peer\\x1b[2J\\nx: \\x1b[31mred")
    assert any(
        line.startswith("note: \\x1b[31mred") and line.endswith("|cell")
        for line in out.splitlines()
    )


def test_show_and_compare_refusals_are_one_line(tmp_path: Path) -> None:
    write_results(tmp_path, [nasty_record()], RunInfo(started=STARTED))
    code, _, err = harness("show", "no\x1b[2Jsuch\ncase", "--run", str(tmp_path))
    refused(code, err, "no case matches", "\\x1b[2J", "closest: dontroute/peer\\x1b[2J\\nx")
    other = tmp_path / "other"
    other.mkdir()
    write_results(
        other, [nasty_record().model_copy(update={"verdict": "pass"})], RunInfo(started=STARTED)
    )
    code, out, _ = harness("compare", str(tmp_path), str(other))
    assert code == 1 and not any(c in out for c in RAW)
    assert "dontroute/peer\\x1b[2J\\nx on 6.1\\x1b[0m: \\x1b[31mred" in out


def test_list_refuses_control_characters_in_titles_and_articles(tmp_path: Path) -> None:
    """The loader refuses control characters in any text of a scenario (so the catalogue
    never shows one); its refusal quotes them escaped, on one line."""
    text = (PROJECT / "scenarios/dontroute/so-dontroute-experiment-table.yaml").read_text()
    text = text.replace("article: so_dontroute-experiment.zh.txt", r'article: "a\e]0;t\a|b"')
    text = text.replace(
        "title: same-subnet peer, default route present, SO_DONTROUTE on",
        r'title: "same-subnet \e[31mRED\e[0m peer\nsecond line\0nul"',
    )
    (tmp_path / "esc.yaml").write_text(text)
    code, out, err = harness("list", str(tmp_path / "esc.yaml"))
    assert code == 2 and out == ""
    assert len(err.splitlines()) == 1 and not any(c in err for c in RAW)
    assert "control character" in err


def test_an_error_message_quoting_a_file_is_one_line(tmp_path: Path) -> None:
    text = (PROJECT / "scenarios/dontroute/so-dontroute-experiment-table.yaml").read_text()
    (tmp_path / "bad.yaml").write_text(
        text.replace("id: peer-with-default-route", r'id: "peer\e[2J\nwith"')
    )
    for verb in ("list", "run") if os.geteuid() == 0 else ("list",):  # run: root first
        code, out, err = harness(verb, str(tmp_path / "bad.yaml"))
        refused(code, err, "bad.yaml", "\\x1b[2J\\nwith")
        assert not any(c in out + err for c in RAW)


def test_the_console_escapes_what_it_prints() -> None:
    stream = io.StringIO()
    view = RunConsole(Console(file=stream, width=200, force_terminal=False, highlight=False))
    view.running("dontroute/peer\x1b[2J")
    assert "\x1b" not in view.current
    rec = nasty_record()
    view.finished(rec)
    view.close([rec, nasty_record("refuted")], interrupted=False)
    text = stream.getvalue()
    assert not any(c in text for c in RAW)
    assert "FAIL    dontroute/peer\\x1b[2J\\nx" in text


def test_summary_keeps_table_cells_and_escapes(tmp_path: Path) -> None:
    records = [nasty_record(), nasty_record("refuted"), nasty_record("skip")]
    text = write_summary(tmp_path, records, RunInfo(started=STARTED)).read_text()
    assert not any(c in text for c in RAW)
    rows = [line for line in text.splitlines() if line.startswith("| ") and "dontroute" in line]
    assert len(rows) == 1
    # article (section) | claim (scenario) | one kernel | cases: 4 cells, no more
    cells = [c for c in rows[0].replace("\\|", "").split("|")][1:-1]
    assert len(cells) == 4, rows[0]
    refuted = [line for line in text.splitlines() if line.startswith("- `dontroute/peer")]
    assert len(refuted) == 3 and all("\\x1b" in line for line in refuted)


def test_tap_and_junit_escape_and_junit_stays_xml(tmp_path: Path) -> None:
    records = [nasty_record(v) for v in ("fail", "error", "skip", "refuted", "pass")]
    records = [r.model_copy(update={"case": f"{r.case}-{r.verdict}"}) for r in records]
    tap = Tap(tmp_path / "t.tap")
    for rec in records:
        tap.add(rec)
    tap.close(RunInfo(started=STARTED), records)
    lines = (tmp_path / "t.tap").read_text().splitlines()
    assert not any(c in "\n".join(lines) for c in RAW)
    assert len(lines) == 1 + 5 + 3 + 1  # version, 5 points, 3 diagnostics (not pass, skip), plan
    assert lines[1].startswith("not ok 1 selftests: harness: dontroute/peer\\x1b[2J\\nx-fail")
    write_junit(tmp_path / "j.xml", records, RunInfo(started=STARTED))
    raw = (tmp_path / "j.xml").read_text()
    assert not any(c in raw for c in RAW)
    root = ET.fromstring(raw)  # well-formed XML 1.0
    assert schema_errors(tmp_path / "j.xml") == []  # and what CI servers read
    names = [case.get("name") for case in root.iter("testcase")]
    assert "peer\\x1b[2J\\nx-fail" in names
    failure = next(root.iter("failure"))
    assert failure.text is not None and "second line" in failure.text


def test_the_html_report_escapes_markup_and_control_characters(tmp_path: Path) -> None:
    rec = nasty_record().model_copy(update={"title": "<script>alert(1)</script>" + NASTY})
    write_results(tmp_path, [rec], RunInfo(started=STARTED))
    code, _, err = harness("report", str(tmp_path))
    assert code == 0, err
    page = (tmp_path / "report.html").read_text()
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)" in page
    assert not any(c in page for c in RAW) and "\\x1b[31mred" in page


def test_a_running_marker_never_names_a_file_to_read(tmp_path: Path) -> None:
    """A marker holds the stopped case's record; before, it held the scenario file's path,
    and `harness report` of a downloaded folder loaded whatever file it named."""
    write_record(tmp_path, record("pass"))
    secret = tmp_path.parent / f"{tmp_path.name}-secret.yaml"
    secret.write_text("claim: secret\ncases: []\n")
    marker = tmp_path / "records/.running/6.1.0-test/dontroute/peer-x"
    marker.parent.mkdir(parents=True)
    marker.write_text(str(secret))
    code, _, err = harness("report", str(tmp_path))
    refused(code, err, "peer-x")
    assert not (tmp_path / "report.html").exists()


def test_show_takes_an_exact_case_id_over_the_ids_it_is_part_of(tmp_path: Path) -> None:
    """`peer` exists, and is a part of `peer-fail`: before, 'several cases match' (issue 21)."""
    exact = record("pass").model_copy(update={"case": "peer"})
    write_results(tmp_path, [exact, record("fail")], RunInfo(started=STARTED))
    for given in ("peer", "dontroute/peer"):
        code, out, err = harness("show", given, "--run", str(tmp_path))
        assert code == 0, err
        assert out.splitlines()[0] == "PASS dontroute/peer: same-subnet peer"
    code, _, err = harness("show", "pee", "--run", str(tmp_path))
    refused(code, err, "several cases match", "dontroute/peer", "dontroute/peer-fail")
