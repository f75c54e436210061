"""pytest plugin: every case of every scenario file is a test item.

Collection, selection (-k, --lf, --sw), parallelism (-n, pytest-xdist), JUnit
XML and reporting are pytest's own; this plugin turns YAML cases into items and
runs them through `harness.case.runner`.  A refuted or changed claim is a test
that passes (the kernel did what the case records; the exit status is as for
a pass) with an outcome of its own in pytest's words: REFUTED or CHANGED in
`-v`, R or C in the progress line, "2 refuted, 1 changed" in the closing line
(pytest_report_teststatus).  pytest's --junitxml file gets the harness's test
case of each case (harness/outputs/junit.py, `graft`).  Each case's record travels with its test
report (an attribute pytest and xdist carry from worker to controller), so the
controller alone keeps the records: it stores each as it arrives
(records/KERNEL/SCENARIO/CASE.json), gives a case whose worker crashed an
`error` record, and hands each record to the run's outputs (every one a sink,
opened in one place: harness/outputs/formats.py), which at the end write
results.json, summary.md, report.html and the formats asked for, marked
interrupted when the run did not get to every case.
"""

from __future__ import annotations

import datetime
import os
import shlex
import sys
import time
from collections import Counter
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from _pytest.mark.expression import Expression

from harness.case.record import PCAP_POLICIES, CaseRecord, RecordError, RunInfo
from harness.core.deadlines import CASE_BUDGET_FLAG, CASE_BUDGET_S, seconds_above_zero
from harness.core.env import RESULTS_DIR, ROOT_HINT, is_root, kernel_release
from harness.core.run_folder import refuse_links
from harness.core.validation import version_tuple
from harness.lab import requirements
from harness.lab.neighbour_timers import MODE_VARIABLE
from harness.outputs import formats
from harness.outputs.junit import NODE_PROPERTY, graft, shown
from harness.runs.compare import kernel_differences
from harness.runs.stopping import hold_signals, raise_if_signalled, stop_on_signals
from harness.runs.store import mark_running, new_run_dir, write_record
from harness.scenario import Case, Scenario, ScenarioError, is_scenario_file, load_scenario
from harness.scenario.footprint import over_limits, raise_fd_limit

_RUN_DIR = pytest.StashKey[Path]()
_BUNDLE = pytest.StashKey[bytes]()  # the controller's: what it hands each worker
BUNDLE_INPUT = "harness_scenarios"  # the bundle's key in xdist's workerinput
if TYPE_CHECKING:
    from harness.guests.matrix import Gateway
    from harness.scenario.bundle import Bundle
# A kernel matrix's kernels.  harness/guests/ is imported where the controller uses it:
# a worker (a guest's above all) never does.
_GATEWAYS: pytest.StashKey[list[Gateway]] = pytest.StashKey()
_LOADED: pytest.StashKey[Bundle] = pytest.StashKey()  # a worker's: its controller's scenarios
RECORD_ATTRIBUTE = "harness_record"  # the record (JSON) a case's call report carries
VERDICT_ATTRIBUTE = "harness_verdict"  # and its verdict, for pytest_report_teststatus
# A claim the kernel answers otherwise, in pytest's words: category, letter, word (-v).
FINDING_WORDS = {"refuted": ("R", "REFUTED"), "changed": ("C", "CHANGED")}


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
    group.addoption(
        "--pcaps",
        choices=PCAP_POLICIES,
        default="findings",
        help="which cases keep their pcaps in the run folder: findings (fail, error, refuted, "
        "changed; the default), all, or none",
    )
    for output in formats.FORMATS:  # --json, --tap, --harness-junit
        group.addoption(output.pytest_option, metavar="PATH", help=output.help)
    group.addoption(
        "--harness-console",
        action="store_true",
        help="the harness's own terminal view (as `harness run` shows it): a live progress "
        "line, findings grouped at the end, 80 columns; use with -p no:terminal",
    )
    group.addoption(
        "--kernel",
        action="append",
        default=[],
        metavar="KERNEL",
        help="run every case on this kernel too: host, a cached version (6.1; `harness kernels "
        "fetch`) or a kernel image's path; repeat it for a matrix (one worker per kernel)",
    )
    group.addoption(
        "--kernel-timers",
        action="store_true",
        help="run every case the slow way: the kernel's own neighbour timers and a 3 s quiet "
        "window (to check that the fast way gives the same answers: `harness compare`)",
    )
    group.addoption(
        CASE_BUDGET_FLAG,
        type=seconds_above_zero,
        default=CASE_BUDGET_S,
        metavar="SECONDS",
        help=f"end a case still running after this long as an error (default: {CASE_BUDGET_S:g})",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> None:
    """A kernel matrix (--kernel ...): one xdist gateway per kernel, every case on each."""
    labels: list[str] = config.getoption("--kernel", [])
    if hasattr(config, "workerinput") or not labels:
        return
    from harness.guests.matrix import HOST, gateways
    from harness.guests.sources import KernelError, find_kernel

    if labels == [HOST]:
        return
    if config.getoption("numprocesses", None):
        raise pytest.UsageError("--kernel runs one worker per kernel: leave out -n")
    for label in labels:  # before the run folder is made: a typo leaves no empty one
        if label != HOST:
            try:
                find_kernel(label)
            except (KernelError, OSError) as exc:
                raise pytest.UsageError(f"--kernel {label}: {exc}") from None
    run_dir = _run_dir(config)
    if run_dir is None:
        raise pytest.UsageError(f"--kernel boots kernels and builds namespaces: {ROOT_HINT}")
    try:
        found = gateways(labels, run_dir)
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[_GATEWAYS] = found
    config.option.tx = [g.spec for g in found]
    config.option.dist = "each"


def _run_dir(config: pytest.Config) -> Path | None:
    """This run's folder, made the first time it is asked for (None: not root, no folder)."""
    if _RUN_DIR not in config.stash:
        chosen: Path | None = config.getoption("--results-dir", None)
        if chosen is not None:
            try:
                chosen.mkdir(parents=True, exist_ok=True)
                refuse_links(chosen)  # before any case runs, not at each write
            except OSError as exc:
                raise pytest.UsageError(f"--results-dir {chosen}: {exc.strerror or exc}") from None
            config.stash[_RUN_DIR] = chosen
        elif is_root():
            config.stash[_RUN_DIR] = new_run_dir(RESULTS_DIR)
    return config.stash.get(_RUN_DIR, None)


def _check_arguments(config: pytest.Config) -> None:
    """Usage errors now, not INTERNALERROR: under xdist only the workers read -k (and all
    fail to collect), and the outputs' paths (--json, --tap, ...) are opened at the start or
    the end."""
    keyword = config.getoption("keyword", "")
    try:
        if keyword:
            Expression.compile(keyword)  # pytest's own parser of -k
    except SyntaxError as exc:
        raise pytest.UsageError(f"-k {keyword!r}: {exc}") from None
    for option in (output.pytest_option for output in formats.FORMATS):
        path = Path(str(config.getoption(option, None) or "-"))
        if str(path) != "-" and (path.is_dir() or not path.parent.is_dir()):
            why = "a folder, not a file" if path.is_dir() else f"no folder {path.parent}"
            raise pytest.UsageError(f"{option} {path}: {why}")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "kernel: needs root and builds network namespaces on the running kernel"
    )
    raise_fd_limit()  # every namespace of a case holds a few fds of this process
    if config.getoption("--kernel-timers", False):
        os.environ[MODE_VARIABLE] = "kernel"  # the workers inherit it
    workerinput: dict[str, Any] | None = getattr(config, "workerinput", None)
    if workerinput is not None:
        if workerinput.get("harness_run_dir"):
            config.stash[_RUN_DIR] = Path(workerinput["harness_run_dir"])
        if isinstance(data := workerinput.get(BUNDLE_INPUT), bytes):
            from harness.scenario.bundle import Bundle

            config.stash[_LOADED] = Bundle(data)
        return
    _check_arguments(config)
    # Root whose environment cannot make or use namespaces (a container without
    # --privileged): one sentence and exit 2 now, not a traceback per case.
    if is_root() and (stopping := requirements.blocking(requirements.survey())):
        pytest.exit("; ".join(map(str, stopping)), returncode=2)
    run_dir = _run_dir(config)
    if run_dir is not None:
        try:
            run = HarnessRun(config, run_dir)
        except OSError as exc:  # an output (--json, --tap) opened: a folder, no permission
            raise pytest.UsageError(f"{exc.filename}: {exc.strerror}") from None
        config.pluginmanager.register(run, "harness-run")
        stop_on_signals()


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist: every worker writes its pcaps into the controller's run folder, and takes
    the scenarios the controller loaded once (harness/scenario/bundle.py)."""
    config = node.config
    run_dir = config.stash.get(_RUN_DIR, None)
    if run_dir is not None:
        node.workerinput["harness_run_dir"] = str(run_dir)
    if _BUNDLE not in config.stash:
        from harness.scenario import bundle

        # The paths pytest collects from (the command line's, else testpaths), as pytest
        # names them: absolute, FILE::CASE's file.
        given = [config.invocation_params.dir / str(arg).partition("::")[0] for arg in config.args]
        config.stash[_BUNDLE] = bundle.make(Path(os.path.abspath(p)) for p in given)
    node.workerinput[BUNDLE_INPUT] = config.stash[_BUNDLE]


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_setupnodes(config: pytest.Config, specs: list[Any]) -> None:
    """A kernel matrix: every guest boots at once, not one after the other."""
    if _GATEWAYS in config.stash:
        from harness.guests.matrix import make_gateways_at_once

        make_gateways_at_once(config.pluginmanager.getplugin("dsession"), specs)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """A kernel matrix: each kernel's worker starts its cases as soon as it has collected
    them, not once every guest has booted and collected (harness/guests/matrix.py)."""
    if _GATEWAYS not in config.stash:
        return None  # xdist's own for --dist
    from harness.guests.matrix import EachAsCollected

    return EachAsCollected(config, log)


def pytest_report_header(config: pytest.Config) -> list[str]:
    lines = [f"kernel: {kernel_release()}"]
    if not is_root():
        lines.append(f"harness: not root; scenario cases will be skipped ({ROOT_HINT})")
    elif (tun := requirements.tun_problem()) is not None:
        lines.append(f"harness: {tun}; tun and tap cases will be skipped")
    run_dir = config.stash.get(_RUN_DIR, None)
    if run_dir is not None:
        lines.append(f"harness results: {run_dir}")
    return lines


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    """A YAML file named on the command line is a scenario (or a clear error); one found
    in a folder is when it has a top-level `cases:` key, wherever it lives."""
    named = file_path.suffix in (".yaml", ".yml") and parent.session.isinitpath(file_path)
    if named or is_scenario_file(file_path):
        # A file outside the rootdir: pytest would name it by its path below the initial
        # path given (the file itself: "", its cases `::CASE`); its real path instead,
        # which --lf, -k and a CI's JUnit view can use.
        root = parent.config.rootpath
        outside = not file_path.is_relative_to(root)
        nodeid = str(file_path.absolute()) if outside else None
        return ScenarioFile.from_parent(parent, path=file_path, nodeid=nodeid)
    return None


class ScenarioFile(pytest.File):
    """A scenario YAML file; a malformed one is a collection error naming file and field."""

    def collect(self) -> Iterator[CaseItem]:
        loaded = self.config.stash.get(_LOADED, None)
        scenario = loaded.get(self.path) if loaded is not None else None
        try:
            scenario = scenario or load_scenario(self.path)
        except ScenarioError as exc:
            raise self.CollectError(str(exc)) from None
        too_big = over_limits(scenario)
        if too_big:
            raise self.CollectError(f"{self.path}: {'; '.join(too_big)}")
        for case in scenario.cases:
            yield CaseItem.from_parent(self, name=case.id, scenario=scenario, case=case)


class CaseFailed(Exception):
    """The kernel did not do what the claim expects; the message is the `harness show` view,
    after a first line naming the fields that differ (what CI test views show first)."""

    def __init__(self, record: CaseRecord) -> None:
        super().__init__(shown(record))
        self.record = record


class CaseItem(pytest.Item):
    """One case of one scenario, run on the live kernel."""

    def __init__(self, *, scenario: Scenario, case: Case, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scenario = scenario
        self.case = case
        self.record: CaseRecord | None = None
        self.add_marker(pytest.mark.kernel)

    def runtest(self) -> None:
        # Imported here, in the workers: the runner pulls in scapy and pyroute2
        # (about 0.5 s), which the xdist controller never needs before it starts them.
        from harness.case.runner import STOPPED, not_run, run_case

        run_dir = self.config.stash.get(_RUN_DIR, None)
        guest_error = os.environ.get("HARNESS_GUEST_ERROR")
        if guest_error is not None:
            # The launcher could not boot this worker's kernel and runs it on the host
            # instead: every case is an error of that kernel, saying why (stored, as
            # every record a worker carries is: `harness report` after a kill reads it).
            kernel = os.environ.get("HARNESS_GUEST_KERNEL", "?")
            self.record = not_run(self.scenario, self.case, kernel, guest_error)
            if run_dir is not None:
                write_record(run_dir, self.record)
            raise CaseFailed(self.record)
        if not is_root():
            pytest.skip(ROOT_HINT)
        stopped = not_run(self.scenario, self.case, kernel_release(), STOPPED)
        marker = mark_running(run_dir, stopped) if run_dir is not None else None
        pcaps, budget = self.config.getoption("--pcaps"), self.config.getoption(CASE_BUDGET_FLAG)
        record = run_case(self.scenario, self.case, run_dir, pcaps, budget)
        self.record = record
        if run_dir is not None and marker is not None:
            # Stored here, not only by the controller: a controller killed now would
            # never receive it.  Then the marker goes: the case has its record.
            write_record(run_dir, record)
            marker.unlink(missing_ok=True)
        if record.verdict == "skip":
            pytest.skip(record.message)
        # A refuted or changed claim is a finding, and the kernel did exactly what the
        # case records: the test passes, with an outcome of its own (REFUTED, CHANGED:
        # pytest_report_teststatus), rather than hiding among skips as an xfail would in
        # CI test views, or failing the run.
        if record.verdict in ("fail", "error"):
            raise CaseFailed(record)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, CaseFailed):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo, style=style))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"{self.scenario.name}::{self.case.id}: {self.case.title}"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """The call report of a case carries its record (xdist sends it to the controller)."""
    report = yield
    record = getattr(item, "record", None)
    if call.when == "call" and isinstance(record, CaseRecord):
        setattr(report, RECORD_ATTRIBUTE, record.to_json())
        setattr(report, VERDICT_ATTRIBUTE, record.verdict)
        # pytest's --junitxml writes it as a property of the item's test case: the mark
        # HarnessRun's `graft` replaces that test case by (harness/outputs/junit.py).
        if (NODE_PROPERTY, item.nodeid) not in item.user_properties:
            item.user_properties.append((NODE_PROPERTY, item.nodeid))
            report.user_properties = list(item.user_properties)
    return report


def pytest_report_teststatus(
    report: pytest.TestReport, config: pytest.Config
) -> tuple[str, str, tuple[str, dict[str, bool]]] | None:
    """A refuted or changed claim in pytest's words: its own category (counted in the
    closing line), letter and word; the report's outcome stays `passed` (exit status)."""
    del config
    verdict = getattr(report, VERDICT_ATTRIBUTE, None)
    if report.when == "call" and report.passed and verdict in FINDING_WORDS:
        letter, word = FINDING_WORDS[verdict]
        return verdict, letter, (word, {"yellow": True})
    return None


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


class HarnessRun:
    """The controller's side of a run: records as they arrive, and the run's files at the end."""

    def __init__(self, config: pytest.Config, run_dir: Path) -> None:
        self.config = config
        self.run_dir = run_dir
        self.started = _now()
        self.clock = time.monotonic()
        self.ended: dict[str, tuple[float, float]] = {}  # kernel: its first and last case's end
        self.records: dict[tuple[str, str, str], CaseRecord] = {}
        self.by_node: dict[str, list[CaseRecord]] = {}  # for pytest's --junitxml (graft)
        # Every output of the run (harness/outputs/formats.py), opened now.
        self.outputs = formats.open_outputs(
            run_dir,
            lambda option: config.getoption(option, None),
            terminal=config.getoption("--harness-console", False),
        )
        self.expected = 0  # case runs to come, once collection tells
        self.gateways = config.stash.get(_GATEWAYS, [])
        self.each = config.getoption("dist", "no") == "each"  # every node runs every case

    def _keep(self, record: CaseRecord, stored: bool = False) -> None:
        """A record that arrived (`stored`: its worker wrote its file) or that this
        controller made (a crashed worker's case, a case a stop cut short)."""
        self.records[(record.kernel, record.scenario, record.case)] = record
        now = round(time.monotonic() - self.clock, 2)
        self.ended[record.kernel] = (self.ended.get(record.kernel, (now, now))[0], now)
        if not stored:
            write_record(self.run_dir, record)
        self.outputs.add(record)

    def _expect(self, total: int) -> None:
        self.expected = max(self.expected, total)
        for view in self.outputs.progress:
            view.expect(self.expected)

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        if session.items:
            self._expect(len(session.items))

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        self._expect(self.expected + len(ids) if self.each else len(ids))

    def pytest_runtest_logstart(self, nodeid: str, location: tuple[str, int | None, str]) -> None:
        for view in self.outputs.progress:
            view.running(nodeid.rsplit("/", 1)[-1])

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        carried = getattr(report, RECORD_ATTRIBUTE, None)
        if isinstance(carried, str):
            record = CaseRecord.from_json(carried, f"the report of {report.nodeid}")
            self.by_node.setdefault(report.nodeid, []).append(record)
            self._keep(record, stored=True)
        elif report.failed and report.when not in ("setup", "call", "teardown"):
            # xdist's report for a case whose worker died while running it.
            node = getattr(report, "node", None)
            worker = getattr(getattr(node, "gateway", None), "id", None)
            kernel = next((g.release for g in self.gateways if g.id == worker), kernel_release())
            crashed = _crash_record(report, kernel)
            if crashed is not None:
                self._keep(crashed)
        raise_if_signalled()

    @pytest.hookimpl(wrapper=True)
    def pytest_sessionfinish(
        self, session: pytest.Session, exitstatus: int
    ) -> Generator[None, None, None]:
        # After every other plugin's sessionfinish, xdist's included: its workers have
        # been stopped, so none stores a record once the run's files are written.
        hold_signals()
        yield
        self._finish(session, exitstatus)

    def _finish(self, session: pytest.Session, exitstatus: int) -> None:
        interrupted = exitstatus == pytest.ExitCode.INTERRUPTED or bool(session.shouldstop)
        if interrupted:
            from harness.runs.store import stopped_records

            for record in stopped_records(self.run_dir, list(self.records.values())):
                self._keep(record)
        records = list(self.records.values())
        from harness.guests.matrix import kernel_run, seen_kernel_run

        run = RunInfo(
            started=self.started,
            finished=_now(),
            interrupted=interrupted,
            kernels=[kernel_run(g, self.ended.get(g.release)) for g in self.gateways]
            or [seen_kernel_run(k, self.ended[k]) for k in sorted(self.ended, key=version_tuple)],
            command=invoked_command(sys.argv, self.config.invocation_params.args),
        )
        self.outputs.close(run, records)
        xmlpath = self.config.getoption("xmlpath", None)  # pytest's --junitxml, written now
        if xmlpath and self.by_node:
            junitxml = Path(os.path.expandvars(xmlpath)).expanduser()
            if junitxml.is_file():
                graft(junitxml, self.by_node)
        if not records:
            if interrupted:
                print("interrupted before any case ran: nothing to record", file=sys.stderr)
            if self.config.getoption("--results-dir", None) is None and not any(
                self.run_dir.iterdir()
            ):
                self.run_dir.rmdir()  # a run without scenario cases leaves no empty folder

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        records = sorted(self.records.values(), key=lambda r: (r.key, r.kernel))
        if not records:
            return
        tr = terminalreporter
        tr.section("harness verdicts")
        if self.config.getoption("--harness-table"):
            width = max(len(r.key) for r in records)
            for r in records:
                tr.write_line(f"{r.verdict.upper():<7}  {r.key:<{width}}  {r.title}")
        for kernel in sorted({r.kernel for r in records}, key=version_tuple):
            mine = [r for r in records if r.kernel == kernel]
            counts = Counter(r.verdict for r in mine)
            summary = ", ".join(f"{n} {v}" for v, n in sorted(counts.items()))
            tr.write_line(f"{len(mine)} cases on kernel {kernel}: {summary}")
        differing = kernel_differences(records)
        if differing:
            tr.write_line(
                f"{len(differing)} cases differ between kernels: see 'Where kernels differ' "
                "in the summary"
            )
        for file in formats.RUN_FILES:  # results: ..., report:  ..., summary: ...
            tr.write_line(f"{Path(file.name).stem + ':':<8} {self.run_dir / file.name}")


def invoked_command(argv: list[str], pytest_args: tuple[str, ...] | list[str]) -> str:
    """The command that reruns this run, shell-quoted, as it was typed: the program and its
    arguments (`harness run ...`, `pytest ...`; `python -m X` stays so), not the arguments
    `harness run` hands pytest; pytest's arguments when there is no command line."""
    if not argv or not argv[0]:
        return shlex.join(["pytest", *pytest_args])
    head = [argv[0]]
    if Path(argv[0]).name == "__main__.py":  # python -m pytest, python -m harness
        head = [sys.executable, "-m", Path(argv[0]).parent.name]
    return shlex.join([*head, *argv[1:]])


def _crash_record(report: pytest.TestReport, kernel: str) -> CaseRecord | None:
    """An `error` record for a case whose worker died while running it (None: not a case)."""
    path, _, case_id = report.nodeid.partition("::")
    try:
        scenario = load_scenario(path)
        case = scenario.case(case_id)
    except (ScenarioError, RecordError, KeyError, OSError):
        return None
    from harness.case.runner import not_run

    return not_run(
        scenario, case, kernel, f"the process running this case died: {report.longreprtext}"
    )
