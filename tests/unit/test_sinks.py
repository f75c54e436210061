"""Every output of a run is a sink opened in one place (harness/outputs/formats.py): a new
output is one module and one row, and the run's machinery (the plugin's controller,
`harness run`'s flags, pytest's closing section, the terminal view) finds it from the row
alone.  A real recorded run's records (tests/fuzz/results.json), no kernel."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from harness import pytest_plugin
from harness.case.record import CaseRecord, RunInfo
from harness.cli import build_parser
from harness.outputs import formats
from harness.outputs.formats import Format, RunFile
from harness.runs.store import read_run

pytest_plugins = ["pytester"]

# a real run of three scenarios on a real kernel, committed (tests/fuzz/ mutates copies)
REAL_RUN = Path(__file__).resolve().parents[1] / "fuzz"


class Counted:
    """A fake output: what it was opened with, every record it was given, every close."""

    opened: list[Counted] = []  # noqa: RUF012 (every instance, in the order opened)

    def __init__(self, where: Path | str) -> None:
        self.where = where
        self.added: list[CaseRecord] = []
        self.closed: list[tuple[RunInfo, list[CaseRecord]]] = []
        Counted.opened.append(self)

    def add(self, record: CaseRecord) -> None:
        self.added.append(record)

    def close(self, run: RunInfo, records: Sequence[CaseRecord]) -> None:
        self.closed.append((run, list(records)))


class Lines:
    """A fake terminal section: what pytest_terminal_summary writes."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def section(self, title: str) -> None:
        self.lines.append(f"== {title}")

    def write_line(self, line: str) -> None:
        self.lines.append(line)


def _run(pytester: pytest.Pytester, records: list[CaseRecord], *args: str) -> Any:
    """The plugin's controller of a run given `args`, fed `records` as xdist's reports carry
    them, then finished as pytest finishes a run."""
    config = pytester.parseconfig(*args)
    run_dir = Path(str(config.getoption("--results-dir")))
    run_dir.mkdir()
    controller = pytest_plugin.HarnessRun(config, run_dir)
    for record in records:
        nodeid = f"{record.file}::{record.case}"
        report = pytest.TestReport(nodeid, (record.file, None, ""), {}, "passed", None, "call")
        setattr(report, pytest_plugin.RECORD_ATTRIBUTE, record.to_json())
        controller.pytest_runtest_logreport(report)
    controller._finish(pytest.Session.from_config(config), pytest.ExitCode.OK)
    return controller


def test_a_new_output_is_one_row_and_reaches_add_and_close(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    recorded_run, records = read_run(REAL_RUN)
    assert recorded_run is not None and len(records) > 1
    monkeypatch.setattr(Counted, "opened", [])
    asked = Format("--counted", "count the cases ('-': stdout)", Counted)
    every_run = RunFile("counted.txt", Counted)
    # The two rows, and no other change.
    monkeypatch.setattr(formats, "FORMATS", (*formats.FORMATS, asked))
    monkeypatch.setattr(formats, "RUN_FILES", (*formats.RUN_FILES, every_run))

    args = build_parser().parse_args(["run", "--counted", "c.txt"])
    assert args.counted == "c.txt"  # `harness run` has the flag
    run_dir = tmp_path / "run"
    controller = _run(
        pytester,
        records,
        "--results-dir",
        str(run_dir),
        "--counted",
        str(tmp_path / "c.txt"),
        "--harness-console",
    )

    by_flag, in_folder = Counted.opened
    assert by_flag.where == str(tmp_path / "c.txt")
    assert in_folder.where == run_dir
    for sink in Counted.opened:
        assert sink.added == records  # each record once, as it arrived
        [(run, closed)] = sink.closed  # closed once, with the run and every record
        assert closed == records and not run.interrupted
        assert run.kernels[0].release == records[0].kernel
    # The files every run writes are written as before, from their rows.
    assert sorted(p.name for p in run_dir.iterdir()) == [
        "report.html",
        "results.json",
        "summary.md",
    ]
    assert read_run(run_dir)[1] == sorted(records, key=lambda r: (r.scenario, r.case, r.kernel))
    # The terminal view and pytest's closing section name the new file with the others.
    shown = capsys.readouterr().out.splitlines()
    named = [line for line in shown if line.startswith(("results.json:", "report.html:"))]
    named += [line for line in shown if line.startswith(("summary.md:", "counted.txt:"))]
    assert named == [f"{f.name}: {run_dir / f.name}" for f in formats.RUN_FILES]
    section = Lines()
    controller.pytest_terminal_summary(section)
    assert section.lines[-4:] == [
        f"results: {run_dir / 'results.json'}",
        f"report:  {run_dir / 'report.html'}",
        f"summary: {run_dir / 'summary.md'}",
        f"counted: {run_dir / 'counted.txt'}",
    ]


def test_a_run_without_cases_closes_every_sink_and_writes_no_file(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(Counted, "opened", [])
    monkeypatch.setattr(formats, "RUN_FILES", (*formats.RUN_FILES, RunFile("c.txt", Counted)))
    run_dir = tmp_path / "run"
    _run(pytester, [], "--results-dir", str(run_dir))
    [sink] = Counted.opened
    assert sink.added == [] and [records for _, records in sink.closed] == [[]]
    assert list(run_dir.iterdir()) == []  # --results-dir given: the folder stays, empty
