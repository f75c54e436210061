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
import importlib
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

from harness import environment
from harness.compare import differences
from harness.env import PROJECT_ROOT, RESULTS_DIR, ROOT_HINT, is_root, kernel_release
from harness.importer.cli import register as register_importer
from harness.linkkinds import FEATURES
from harness.record import CaseRecord, KernelRun, RecordError, RunInfo
from harness.report import render_case_text, write_report
from harness.results import read_results, read_run, write_results, write_summary
from harness.scenario import Scenario, ScenarioError, discover, load_scenario
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
    argv = [
        *paths,
        "--rootdir",
        str(PROJECT_ROOT),
        "-p",
        "no:cacheprovider",
        "--harness-table",
        "-q",
        "-n",
        str(args.workers),
        "--dist",
        "worksteal",  # cases differ in length; idle workers take over the tail
    ]
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


def cmd_list(args: argparse.Namespace) -> int:
    """Print each scenario's claim, source and cases; name every malformed file at the end."""
    broken: list[str] = []
    for path in discover(args.paths or None):
        try:
            scenario = load_scenario(path)
        except ScenarioError as exc:
            broken.append(str(exc))
            continue
        if args.k and not any(
            args.k in f"{scenario.path} {scenario.name}/{c.id}" for c in scenario.cases
        ):
            continue
        rel = (
            scenario.path.relative_to(PROJECT_ROOT)
            if scenario.path.is_relative_to(PROJECT_ROOT)
            else scenario.path
        )
        print(f"{rel}  [{scenario.source.article}: {scenario.source.section}]")
        print(f"  claim: {' '.join(scenario.claim.split())}")
        for case in scenario.cases:
            print(f"  - {scenario.name}/{case.id}: {case.title}")
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
    with tempfile.TemporaryDirectory(prefix="harness-bench-") as tmp:
        for scenario in _scenarios(args.paths):
            for case in scenario.cases:
                if args.k and args.k not in f"{scenario.name}/{case.id}":
                    continue
                for _ in range(args.repeat):
                    started = time.perf_counter()
                    record = run_case(scenario, case, Path(tmp) if args.pcaps else None)
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
    runs = sorted(p for p in RESULTS_DIR.glob("*/results.json"))
    if not runs:
        raise FileNotFoundError(f"no finished run in {RESULTS_DIR}: run `harness run` first")
    return runs[-1].parent


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
    print(write_report(run_dir, records))
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


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the `harness` command."""
    parser = argparse.ArgumentParser(
        prog="harness", description="Check claims about Linux routing on the running kernel."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run scenarios (default: all under scenarios/)")
    run.add_argument("paths", nargs="*", type=Path, help="scenario files or folders, or FILE::CASE")
    run.add_argument("-k", help="only cases whose id matches this pytest -k expression")
    run.add_argument("-n", "--workers", default="auto", help="parallel workers (default: auto)")
    run.add_argument(
        "--results-dir", type=Path, help="write results here instead of results/<run>/"
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
    lst.add_argument("-k", help="only scenarios whose path or case ids contain this text")
    lst.set_defaults(func=cmd_list)

    bench = sub.add_parser("bench", help="median wall time per case, setup and teardown included")
    bench.add_argument("paths", nargs="*", type=Path)
    bench.add_argument("--repeat", type=int, default=5, help="runs of each case (default 5)")
    bench.add_argument("-k", help="only cases whose scenario/case id contains this text")
    bench.add_argument("--pcaps", action="store_true", help="also write pcaps, as a real run does")
    bench.set_defaults(func=cmd_bench)

    show = sub.add_parser("show", help="one case of a run in full (default: the latest run)")
    show.add_argument("case", help="SCENARIO/CASE, or part of it")
    show.add_argument("--run", type=Path, help="run folder (default: the latest under results/)")
    show.set_defaults(func=cmd_show)

    report = sub.add_parser("report", help="(re)build RUN/report.html")
    report.add_argument("run_dir", type=Path)
    report.set_defaults(func=cmd_report)

    compare = sub.add_parser(
        "compare",
        help="where two runs differ (for instance a run with --kernel-timers and one without)",
    )
    compare.add_argument("first", type=Path, help="a run folder, results/<run>")
    compare.add_argument("second", type=Path, help="another run folder")
    compare.set_defaults(func=cmd_compare)

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
    except (ScenarioError, RecordError, FileNotFoundError) as exc:
        print(f"harness: {exc}", file=sys.stderr)
        return 2
