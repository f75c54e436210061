"""`harness list` and `harness bench`: reading and timing the catalogue."""

from __future__ import annotations

import argparse
import functools
import shutil
import statistics
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from harness.cli.common import K_HELP, _needs_root, _scenarios, _selector
from harness.env import PROJECT_ROOT, is_root, kernel_release
from harness.scenario import ScenarioError, discover, load_scenario


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


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `list` and `bench`."""
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
