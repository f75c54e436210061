"""Command line: `harness run | list | bench | show | report | doctor`.

`run` is pytest with this project's plugin (so -k, -n and JUnit XML behave as
pytest users expect); `list` reads the catalogue; `bench` times cases one after
another in this process; `show` prints one case of a run, `report` rebuilds a
run's page, `doctor` checks what the catalogue needs from this machine.
"""

from __future__ import annotations

import argparse
import datetime
import difflib
import functools
import importlib
import os
import shutil
import signal
import statistics
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness import environment
from harness.compare import differences
from harness.env import PROJECT_ROOT, RESULTS_DIR, ROOT_HINT, is_root, kernel_release
from harness.importer.cli import register as register_importer
from harness.linkkinds import FEATURES
from harness.record import CaseRecord, KernelRun, RecordError, RunInfo
from harness.report import render_case_text, write_report
from harness.results import (
    latest_run,
    prune,
    read_results,
    read_run,
    run_dirs,
    write_results,
    write_summary,
)
from harness.scenario import Case, Scenario, ScenarioError, discover, load_scenario
from harness.scenario.limits import over_limits, raise_fd_limit


def _scenarios(paths: list[Path]) -> list[Scenario]:
    return [load_scenario(p) for p in discover(paths or None)]


def _needs_root(command: str) -> str:
    return (
        f"harness {command} needs root to build network namespaces: run "
        f"`sudo .venv/bin/harness {command} ...`, or `sudo scripts/run` for the whole catalogue"
    )


def cmd_run(args: argparse.Namespace) -> int:
    """Run cases through pytest, in parallel, with a verdict table at the end."""
    if not is_root():
        print(_needs_root("run"), file=sys.stderr)
        return 2
    if environment.said_once(environment.survey(), "harness run"):
        return 2  # nothing could run: said once, not once per case
    import pytest

    # FILE::CASE selects one case, as pytest's node ids do.
    files = [Path(str(p).partition("::")[0]) for p in args.paths]
    known = [str(p.relative_to(PROJECT_ROOT)) for p in discover()]
    for path in files:
        if not path.exists():
            close = difflib.get_close_matches(str(path), known, n=3, cutoff=0.3)
            print(
                f"harness run: no scenario file or folder {path}; closest: "
                f"{', '.join(close) or '(none)'} (see `harness list`)",
                file=sys.stderr,
            )
            return 2
    # Bad input is refused before anything runs: every problem named, exit 2.
    problems = []
    raise_fd_limit()
    for path in discover(files or None):
        try:
            problems += [f"{path}: {p}" for p in over_limits(load_scenario(path))]
        except ScenarioError as exc:
            problems.append(str(exc))
    for given, path in zip(args.paths, files, strict=True):
        case_id = str(given).partition("::")[2]
        if case_id and path.is_file() and not problems:
            ids = [c.id for c in load_scenario(path).cases]
            if case_id not in ids:
                close = difflib.get_close_matches(case_id, ids, n=3, cutoff=0.3)
                problems.append(
                    f"{path}: no case {case_id!r}; closest: {', '.join(close) or '(none)'}"
                )
    for problem in problems:
        print(f"harness run: {problem}", file=sys.stderr)
    if problems:
        return 2
    paths = [str(p) for p in args.paths] or [str(PROJECT_ROOT / "scenarios")]
    # A root that holds every path given, so that a file outside the project still has
    # a node id of its own (pytest names a case of an initial path outside the root
    # `::CASE`, without its file).
    rootdir = os.path.commonpath([str(PROJECT_ROOT), *(str(f.resolve()) for f in files)])
    streams = [("--json", args.json), ("--tap", args.tap), ("--harness-junit", args.junit)]
    to_stdout = any(str(value) == "-" for _, value in streams)
    argv = [
        *paths,
        "--rootdir",
        rootdir,
        "-p",
        "no:cacheprovider",
        "-n",
        str(args.workers),
        "--dist",
        "worksteal",  # cases differ in length; idle workers take over the tail
        "--pcaps",
        args.pcaps,
    ]
    # Standard output is a stream's alone when one goes there; else the harness's view.
    argv += ["-p", "no:terminal"] + ([] if to_stdout else ["--harness-console"])
    argv += [item for option, value in streams if value for item in (option, str(value))]
    if args.k:
        argv += ["-k", args.k]
    if args.results_dir:
        argv += ["--results-dir", str(args.results_dir)]
    if args.kernel_timers:
        argv.append("--kernel-timers")
    code = int(pytest.main(argv))
    if code == pytest.ExitCode.NO_TESTS_COLLECTED:
        print(
            f"harness run: no case matched {args.k or 'these paths'!r} (see `harness list`)",
            file=sys.stderr,
        )
        return 2
    return code


def _selector(expression: str | None) -> Callable[[Scenario, Case], bool]:
    """pytest's -k, for `list` and `bench` as for `run`: an expression of names (and, or,
    not), each matching when it is part of the case id, the scenario file's name or one of
    its folders, case-insensitively, as pytest matches an item's keywords."""
    if not expression:
        return lambda scenario, case: True
    # pytest's own parser and evaluator (also what `harness run -k` hands the expression to).
    from _pytest.mark.expression import Expression

    try:
        compiled = Expression.compile(expression)
    except SyntaxError as exc:  # what pytest 9 raises for a malformed expression
        raise ValueError(f"-k {expression!r}: {exc}") from None

    def selects(scenario: Scenario, case: Case) -> bool:
        names = [case.id, scenario.path.name, *scenario.path.resolve().parent.parts[-2:], "kernel"]

        def matches(name: str, /, **kwargs: object) -> bool:
            return any(name.lower() in known.lower() for known in names)

        return bool(compiled.evaluate(matches))

    return selects


def cmd_list(args: argparse.Namespace) -> int:
    """Print each scenario's claim, source and cases; name every malformed file at the end."""
    broken: list[str] = []
    selects = _selector(args.k)
    for path in discover(args.paths or None):
        try:
            scenario = load_scenario(path)
        except ScenarioError as exc:
            broken.append(str(exc))
            continue
        cases = [c for c in scenario.cases if selects(scenario, c)]
        if not cases:
            continue
        rel = (
            scenario.path.relative_to(PROJECT_ROOT)
            if scenario.path.is_relative_to(PROJECT_ROOT)
            else scenario.path
        )
        width = min(shutil.get_terminal_size().columns, 120)
        wrap = functools.partial(textwrap.fill, width=width, break_long_words=False)
        print(
            wrap(
                f"{rel}  [{scenario.source.article}: {scenario.source.section}]",
                subsequent_indent="    ",
            )
        )
        print(wrap(f"  claim: {' '.join(scenario.claim.split())}", subsequent_indent="    "))
        for case in cases:
            print(wrap(f"  - {scenario.name}/{case.id}: {case.title}", subsequent_indent="      "))
        print()
    for problem in broken:
        print(f"harness list: {problem}", file=sys.stderr)
    return 2 if broken else 0


def cmd_bench(args: argparse.Namespace) -> int:
    """Time every case `--repeat` times, one after another, setup and teardown included."""
    if not is_root():
        print(_needs_root("bench"), file=sys.stderr)
        return 2
    from harness.runner import run_case

    durations: list[float] = []
    bad: list[str] = []
    selects = _selector(args.k)
    with tempfile.TemporaryDirectory(prefix="harness-bench-") as tmp:
        for scenario in _scenarios(args.paths):
            for case in scenario.cases:
                if not selects(scenario, case):
                    continue
                for _ in range(args.repeat):
                    started = time.perf_counter()
                    record = run_case(
                        scenario, case, Path(tmp) if args.pcaps else None, pcaps="all"
                    )
                    durations.append(time.perf_counter() - started)
                    if record.verdict in ("fail", "error"):  # refuted and skip are outcomes
                        bad.append(f"{record.key}: {record.verdict}")
    if not durations:
        print("no case matched", file=sys.stderr)
        return 2
    ms = sorted(d * 1000 for d in durations)
    # "inclusive": percentiles within the runs measured (the default method
    # extrapolates, and with ten runs put p95 above the maximum).
    quart = statistics.quantiles(ms, n=20, method="inclusive") if len(ms) > 1 else [ms[0]] * 19
    print(
        f"kernel {kernel_release()}; {len(ms)} case runs, sequential, "
        f"setup and teardown included{', pcaps written' if args.pcaps else ''}"
    )
    print(
        f"per case: median {statistics.median(ms):.1f} ms, p5 {quart[0]:.1f} ms, "
        f"p95 {quart[-1]:.1f} ms, min {ms[0]:.1f} ms, max {ms[-1]:.1f} ms"
    )
    if bad:
        print(f"{len(bad)} runs failed or errored: " + "; ".join(sorted(set(bad))))
        return 1
    return 0


def _latest_run() -> Path:
    run = latest_run(RESULTS_DIR)
    if run is None:
        raise FileNotFoundError(f"no run in {RESULTS_DIR}: run `harness run` first")
    return run


def cmd_clean(args: argparse.Namespace) -> int:
    """Remove old run folders, keeping the newest `--keep`."""
    if args.keep < 0:
        print("harness clean: --keep takes a number of runs, 0 or more", file=sys.stderr)
        return 2
    sizes = {
        p: sum(f.stat().st_size for f in p.rglob("*") if f.is_file()) for p in run_dirs(RESULTS_DIR)
    }
    removed = prune(args.keep, RESULTS_DIR)
    freed = sum(sizes.get(p, 0) for p in removed)
    for path in removed:
        print(f"removed {path}")
    kept = len(run_dirs(RESULTS_DIR))
    print(f"{len(removed)} runs removed ({freed / 2**20:.1f} MB), {kept} kept in {RESULTS_DIR}")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    """Print one case of a run in full: topology, probes, expected vs observed, packets."""
    run_dir = args.run or _latest_run()
    records = read_results(run_dir)
    found = [r for r in records if args.case in r.key]
    found = [r for r in found if r.key == args.case] or found
    if len(found) != 1:
        names = [r.key for r in records]
        close = difflib.get_close_matches(args.case, names, n=5, cutoff=0.3)
        listing = [r.key for r in found] if found else close
        what = "several cases match" if found else "no case matches"
        print(
            f"harness show: {what} {args.case!r} in {run_dir}; "
            f"{'candidates' if found else 'closest'}: {', '.join(listing) or '(none)'}",
            file=sys.stderr,
        )
        return 2
    print(render_case_text(found[0]))
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    """Where two runs differ, case by case and kernel by kernel; exit 1 when they do."""
    runs = []
    for run_dir in (args.first, args.second):
        if not run_dir.is_dir():
            print(f"harness compare: no run folder {run_dir}", file=sys.stderr)
            return 2
        runs.append(read_results(run_dir))
    groups: dict[str, list[tuple[str, CaseRecord]]] = {}
    for label, records in zip((args.first.name, args.second.name), runs, strict=True):
        for record in records:
            groups.setdefault(f"{record.key} on {record.kernel}", []).append((label, record))
    only = [key for key, runs_of in groups.items() if len(runs_of) == 1]
    found = differences(groups)
    compared = len(groups) - len(only)
    print(f"{compared} cases compared ({len(only)} in only one run); {len(found)} differ")
    for diff in found:
        print(f"\n{diff.key}: {diff.title}")
        width = max(len(field) for field in diff.fields)
        for field, values in diff.fields.items():
            print(
                f"  {field:<{width}}  "
                + "  |  ".join(f"{r}: {v}" for r, v in zip(diff.runs, values, strict=True))
            )
    return 1 if found else 0


def cmd_report(args: argparse.Namespace) -> int:
    """(Re)build RUN/report.html; finish a run whose controller died from its record files."""
    run_dir: Path = args.run_dir
    if not run_dir.is_dir():
        print(f"harness report: no run folder {run_dir}", file=sys.stderr)
        return 2
    run, records = read_run(run_dir)
    if not records:
        print(
            f"harness report: {run_dir} holds no case record (records/ or results.json)",
            file=sys.stderr,
        )
        return 2
    if run is None:  # the controller never wrote its end: results.json from the records
        run = RunInfo(
            started=_started(run_dir),
            interrupted=True,
            kernels=[KernelRun(release=k) for k in sorted({r.kernel for r in records})],
        )
        print(f"{run_dir}: the run did not finish; {len(records)} case records kept")
        print(write_results(run_dir, records, run))
        print(write_summary(run_dir, records, None))
    print(write_report(run_dir, records, run))
    return 0


def _started(run_dir: Path) -> str:
    """When a run began, from its folder's name (results/<UTC time>-<id>)."""
    try:
        stamp = datetime.datetime.strptime(run_dir.name.split("-")[0], "%Y%m%dT%H%M%SZ")
    except ValueError:
        return ""
    return stamp.replace(tzinfo=datetime.UTC).isoformat()


def cmd_doctor(args: argparse.Namespace) -> int:
    """Check what the catalogue needs: root, kernel features, packages; say what will be skipped."""
    del args
    problems = 0
    print(f"kernel: {kernel_release()}")
    if not is_root():
        print(f"root: NO. {ROOT_HINT}")
        return 2
    print("root: yes")
    findings = environment.survey()
    print("environment:", *environment.lines(findings), sep="\n")
    if environment.blocking(findings):
        return 2  # no namespace to try kernel features in
    needed: dict[str, list[str]] = {}
    for scenario in _scenarios([]):
        for feature in scenario.topology.kernel_features():
            needed.setdefault(feature, []).append(scenario.name)
    from harness.kernel import unavailable

    for feature in FEATURES:
        reason = unavailable(feature)
        users = needed.get(feature, [])
        if reason is None:
            print(f"  {feature:<8} available")
        else:
            skipped = f"; skipped: {', '.join(sorted(set(users)))}" if users else ""
            print(f"  {feature:<8} MISSING: {reason}{skipped}")
    for package in ("pyroute2", "scapy", "pytest", "xdist", "pydantic", "yaml"):
        try:
            importlib.import_module(package)
        except ImportError as exc:
            problems += 1
            print(f"  python package {package}: MISSING ({exc}); run scripts/bootstrap")
    problems += sum(f.problem is not None for f in findings)
    print("ok" if not problems else f"{problems} problem(s)")
    return 2 if any(f.problem for f in findings) else 1 if problems else 0


K_HELP = (
    "only the cases this pytest -k expression selects: names joined with and, or, not; "
    "a name matches part of the case id, the scenario file or its folder"
)


def _version() -> str:
    """The harness's version, and the versions of what it stands on."""
    from importlib.metadata import PackageNotFoundError, version

    parts = []
    for package in ("harness", "pytest", "pytest-xdist", "pyroute2", "scapy", "pydantic"):
        try:
            parts.append(f"{package} {version(package)}")
        except PackageNotFoundError:
            parts.append(f"{package} (not installed)")
    python = sys.version.split()[0]
    return f"{parts[0]} ({', '.join(parts[1:])}; python {python}; kernel {kernel_release()})"


class _VersionAction(argparse.Action):
    """--version, worked out only when asked for (it reads every package's metadata)."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *args: Any) -> None:
        print(_version())
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the `harness` command."""
    parser = argparse.ArgumentParser(
        prog="harness", description="Check claims about Linux routing on the running kernel."
    )
    parser.add_argument(
        "--version", action=_VersionAction, help="the harness's version and what it runs on"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run scenarios (default: all under scenarios/)")
    run.add_argument("paths", nargs="*", type=Path, help="scenario files or folders, or FILE::CASE")
    run.add_argument("-k", help=K_HELP)
    run.add_argument("-n", "--workers", default="auto", help="parallel workers (default: auto)")
    run.add_argument(
        "--results-dir", type=Path, help="write results here instead of results/<run>/"
    )
    run.add_argument(
        "--pcaps",
        choices=["findings", "all", "none"],
        default="findings",
        help="which cases keep their pcaps: findings (fail, error, refuted, changed; the "
        "default), all, or none",
    )
    run.add_argument(
        "--json", metavar="PATH", help="each case's record as a JSON line as it ends ('-': stdout)"
    )
    run.add_argument(
        "--tap", metavar="PATH", help="TAP as the kernel selftests write it ('-': stdout)"
    )
    run.add_argument(
        "--junit",
        metavar="PATH",
        help="JUnit XML for CI test views: refuted claims listed as such, failures naming "
        "the fields that differ ('-': stdout)",
    )
    run.add_argument(
        "--kernel-timers",
        action="store_true",
        help="the slow way: the kernel's own neighbour timers and a 3 s quiet window in every "
        "case (compare with a normal run: `harness compare RUN_A RUN_B`)",
    )
    run.set_defaults(func=cmd_run)

    lst = sub.add_parser("list", help="list scenarios, their claims and cases")
    lst.add_argument("paths", nargs="*", type=Path, help="scenario files or folders")
    lst.add_argument("-k", help=K_HELP)
    lst.set_defaults(func=cmd_list)

    bench = sub.add_parser("bench", help="median wall time per case, setup and teardown included")
    bench.add_argument(
        "paths", nargs="*", type=Path, help="scenario files or folders (default: scenarios/)"
    )
    bench.add_argument("--repeat", type=int, default=5, help="runs of each case (default 5)")
    bench.add_argument("-k", help=K_HELP)
    bench.add_argument("--pcaps", action="store_true", help="also write pcaps, as a real run does")
    bench.set_defaults(func=cmd_bench)

    show = sub.add_parser("show", help="one case of a run in full (default: the latest run)")
    show.add_argument("case", help="SCENARIO/CASE, or part of it")
    show.add_argument("--run", type=Path, help="run folder (default: the latest under results/)")
    show.set_defaults(func=cmd_show)

    report = sub.add_parser("report", help="(re)build RUN/report.html")
    report.add_argument("run_dir", type=Path, help="a run folder, results/<run>")
    report.set_defaults(func=cmd_report)

    compare = sub.add_parser(
        "compare",
        help="where two runs differ (for instance a run with --kernel-timers and one without)",
    )
    compare.add_argument("first", type=Path, help="a run folder, results/<run>")
    compare.add_argument("second", type=Path, help="another run folder")
    compare.set_defaults(func=cmd_compare)

    clean = sub.add_parser("clean", help="remove old run folders under results/")
    clean.add_argument(
        "--keep", type=int, default=5, help="how many of the newest runs to keep (default 5)"
    )
    clean.set_defaults(func=cmd_clean)

    doctor = sub.add_parser("doctor", help="check root, kernel features and packages")
    doctor.set_defaults(func=cmd_doctor)
    register_importer(sub)  # `harness import` and `harness new` (harness/importer/cli.py)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `harness` console script and `python -m harness`."""
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `harness list | head` ends quietly
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (ScenarioError, RecordError, FileNotFoundError, ValueError) as exc:
        print(f"harness: {exc}", file=sys.stderr)
        return 2
