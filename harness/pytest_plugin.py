"""pytest plugin: every case of every scenario file is a test item.

Collection, selection (-k), parallelism (-n, pytest-xdist), JUnit XML and
reporting are pytest's own; this plugin only turns YAML cases into items, runs
them through `harness.runner`, and gathers their records into one results.json
per run (each worker writes one record file per case; the controller merges).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.env import RESULTS_DIR, ROOT_HINT, is_root, kernel_release
from harness.record import CaseRecord
from harness.report import render_case_text, write_report
from harness.results import new_run_dir, read_results, write_record, write_results, write_summary
from harness.scenario import Case, Scenario, ScenarioError, load_scenario

_RUN_DIR = pytest.StashKey[Path]()
_RECORDS = pytest.StashKey[list[CaseRecord]]()  # the run's records, once merged


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("harness", "live-kernel scenario harness")
    group.addoption(
        "--results-dir",
        type=Path,
        default=None,
        help="where this run's results.json and pcaps go (default: results/<time>-<id>/)",
    )
    group.addoption(
        "--harness-table",
        action="store_true",
        help="print a verdict table of every case at the end",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "kernel: needs root and builds network namespaces on the running kernel"
    )
    workerinput: dict[str, Any] | None = getattr(config, "workerinput", None)
    if workerinput is not None:
        config.stash[_RUN_DIR] = Path(workerinput["harness_run_dir"])
        return
    chosen: Path | None = config.getoption("--results-dir", None)
    if chosen is not None:
        chosen.mkdir(parents=True, exist_ok=True)
        config.stash[_RUN_DIR] = chosen
    elif is_root():
        config.stash[_RUN_DIR] = new_run_dir(RESULTS_DIR)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist: every worker writes into the controller's run folder."""
    run_dir = node.config.stash.get(_RUN_DIR, None)
    if run_dir is not None:
        node.workerinput["harness_run_dir"] = str(run_dir)


def pytest_report_header(config: pytest.Config) -> list[str]:
    lines = [f"kernel: {kernel_release()}"]
    if not is_root():
        lines.append(f"harness: not root; scenario cases will be skipped ({ROOT_HINT})")
    run_dir = config.stash.get(_RUN_DIR, None)
    if run_dir is not None:
        lines.append(f"harness results: {run_dir}")
    return lines


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.suffix in (".yaml", ".yml") and "scenarios" in file_path.parts:
        return ScenarioFile.from_parent(parent, path=file_path)
    return None


class ScenarioFile(pytest.File):
    """A scenario YAML file; a malformed one is a collection error naming file and field."""

    def collect(self) -> Iterator[CaseItem]:
        try:
            scenario = load_scenario(self.path)
        except ScenarioError as exc:
            raise self.CollectError(str(exc)) from None
        for case in scenario.cases:
            yield CaseItem.from_parent(self, name=case.id, scenario=scenario, case=case)


class CaseFailed(Exception):
    """The kernel did not do what the claim expects; the message is the `harness show` view."""

    def __init__(self, record: CaseRecord) -> None:
        super().__init__(render_case_text(record))
        self.record = record


class CaseItem(pytest.Item):
    """One case of one scenario, run on the live kernel."""

    def __init__(self, *, scenario: Scenario, case: Case, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scenario = scenario
        self.case = case
        self.add_marker(pytest.mark.kernel)

    def runtest(self) -> None:
        run_dir = self.config.stash.get(_RUN_DIR, None)
        if not is_root():
            pytest.skip(ROOT_HINT)
        # Imported here, in the workers: the runner pulls in scapy and pyroute2
        # (about 0.5 s), which the xdist controller never needs before it starts them.
        from harness.runner import run_case

        record = run_case(self.scenario, self.case, run_dir)
        errnos = [a.outcome.errno for a in record.observed.acts] if record.observed else []
        self.user_properties += [
            ("kernel", record.kernel),
            ("verdict", record.verdict),
            ("errno", ", ".join(errnos)),
            ("article", record.article),
        ]
        if run_dir is not None:
            write_record(run_dir, record)
        if record.verdict == "skip":
            pytest.skip(record.message)
        if record.verdict == "refuted":
            pytest.xfail(f"refuted on this kernel: {record.refuted}")
        if record.verdict != "pass":
            raise CaseFailed(record)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, CaseFailed):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo, style=style))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"{self.scenario.name}::{self.case.id}: {self.case.title}"


def pytest_sessionfinish(session: pytest.Session) -> None:
    config = session.config
    if hasattr(config, "workerinput"):
        return
    run_dir = config.stash.get(_RUN_DIR, None)
    if run_dir is None:
        return
    records = read_results(run_dir) if (run_dir / "records").is_dir() else []
    config.stash[_RECORDS] = records
    if records:
        write_results(run_dir, records)
        write_summary(run_dir, records)
        write_report(run_dir, records)
    elif config.getoption("--results-dir", None) is None and not any(run_dir.iterdir()):
        run_dir.rmdir()  # a run without scenario cases leaves no empty folder


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    run_dir = config.stash.get(_RUN_DIR, None)
    records = config.stash.get(_RECORDS, [])
    if run_dir is None or not records:
        return
    tr = terminalreporter
    tr.section("harness verdicts")
    if config.getoption("--harness-table"):
        width = max(len(r.key) for r in records)
        for r in sorted(records, key=lambda r: r.key):
            tr.write_line(f"{r.verdict.upper():<5}  {r.key:<{width}}  {r.title}")
    counts = Counter(r.verdict for r in records)
    summary = ", ".join(f"{n} {v}" for v, n in sorted(counts.items()))
    tr.write_line(f"{len(records)} cases on kernel {kernel_release()}: {summary}")
    tr.write_line(f"results: {run_dir / 'results.json'}")
    tr.write_line(f"report:  {run_dir / 'report.html'}")
    tr.write_line(f"summary: {run_dir / 'summary.md'}")
