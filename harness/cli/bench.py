"""`harness bench`: how long cases take, on this kernel or across a kernel matrix.

Without `--kernel`, every case runs `--repeat` times one after another in this
process: the time of one case, set-up and teardown included; beside its median,
the floor (harness/lab/floor.py: the kernel's own work for a two-host case,
done as directly as Python allows) and the ratio of the two.  With `--kernel`,
the whole matrix runs `--repeat` times as `harness run --kernel ...` does (a
fresh command each time, guests booted each time), and the figures come from
each run's own record of its kernels (`KernelRun`): boot, when the first and
the last case ended on each kernel, and the run's wall time.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from harness.case.record import KernelRun, RecordError
from harness.cli.common import K_HELP, _needs_root, _scenarios, _selector
from harness.core.display import one_line
from harness.core.env import is_root, kernel_release
from harness.runs.store import read_run

if TYPE_CHECKING:  # imported where it runs: pyroute2 is not for every command
    from harness.lab.floor import FloorTimes


def _spread(values: Sequence[float], unit: str = "s") -> str:
    """`median (min to max)`, or the one value."""
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.1f} {unit}"
    return f"{statistics.median(values):.1f} {unit} ({min(values):.1f} to {max(values):.1f})"


def _machine(kernel: KernelRun) -> str:
    """`host` or `guest (tcg)`: the machine without its boot time."""
    head = kernel.machine.split(",")[0]
    return head if head == kernel.machine else head + ")"


def cmd_bench(args: argparse.Namespace) -> int:
    """Time every case, or the whole matrix, `--repeat` times."""
    if not is_root():
        print(_needs_root("bench"), file=sys.stderr)
        return 2
    if args.kernel:
        return _bench_matrix(args)
    from harness.case.runner import run_case

    durations: list[float] = []
    bad: list[str] = []
    selects = _selector(args.k)
    floors = _floor_runs(FLOOR_RUNS)
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
    print(_floor_line(floors, statistics.median(ms)))
    if bad:
        print(one_line(f"{len(bad)} runs failed or errored: " + "; ".join(sorted(set(bad)))))
        return 1
    return 0


# Runs of the floor before the cases: about 25 ms each with its teardown.
FLOOR_RUNS = 20


def _floor_runs(runs: int) -> list[FloorTimes]:
    from harness.lab.floor import floor

    return [floor() for _ in range(runs)]


def _floor_line(floors: list[FloorTimes], case_median_ms: float) -> str:
    """The floor's median and its parts, and the harness's median as a multiple of it."""

    def median_ms(part: str) -> float:
        return float(statistics.median(getattr(f, part) * 1000 for f in floors))

    total = median_ms("total")
    parts = ", ".join(
        f"{part} {median_ms(part):.2f} ms" for part in ("build", "carrier", "capture", "delivery")
    )
    return (
        f"floor (the kernel's own work for a two-host case, harness/lab/floor.py), "
        f"{len(floors)} runs: median {total:.1f} ms ({parts}; closing its packet sockets "
        f"{median_ms('teardown'):.1f} ms more, off the case's critical path); "
        f"the harness's median is {case_median_ms / total:.1f} times the floor"
    )


def _bench_matrix(args: argparse.Namespace) -> int:
    """Run the matrix `--repeat` times; per kernel: boot, first and last case; the wall."""
    command = [sys.executable, "-m", "harness", "run", *(str(p) for p in args.paths)]
    command += [item for label in args.kernel for item in ("--kernel", label)]
    if args.k:
        command += ["-k", args.k]
    walls: list[float] = []
    kernels: dict[str, list[KernelRun]] = {}
    counts: dict[str, int] = {}
    failed: list[str] = []
    with tempfile.TemporaryDirectory(prefix="harness-bench-") as tmp:
        for n in range(args.repeat):
            run_dir = Path(tmp) / f"run{n + 1}"
            log = Path(tmp) / f"run{n + 1}.log"
            started = time.perf_counter()
            with log.open("wb") as out:
                code = subprocess.call(
                    [*command, "--results-dir", str(run_dir)], stdout=out, stderr=out
                )
            wall = time.perf_counter() - started
            try:
                run, records = read_run(run_dir)
            except (OSError, RecordError) as exc:
                run, records = None, []
                failed.append(f"run {n + 1}: no results ({exc})")
            if run is None:
                tail = log.read_text(errors="replace").strip().splitlines()[-3:]
                print(
                    f"harness bench: run {n + 1} ended {code} with no results: " + " | ".join(tail)
                )
                return 1
            walls.append(wall)
            for kernel in run.kernels:
                kernels.setdefault(kernel.release, []).append(kernel)
                if kernel.error:
                    failed.append(f"run {n + 1}: {kernel.release} did not come up")
            for record in records:
                counts[record.kernel] = counts.get(record.kernel, 0) + 1
                if record.verdict in ("fail", "error"):
                    failed.append(f"run {n + 1}: {record.kernel} {record.key}: {record.verdict}")
            print(f"run {n + 1}: {wall:.1f} s wall, exit {code}", flush=True)
    print(
        f"{args.repeat} runs of `harness run {' '.join(command[4:])}`; "
        "times from each run's start; median (min to max)"
    )
    host_span: list[float] = []
    rows = []
    for release, seen in kernels.items():
        first = [k.first_case_seconds for k in seen if k.first_case_seconds is not None]
        last = [k.last_case_seconds for k in seen if k.last_case_seconds is not None]
        span = [
            k.last_case_seconds - k.first_case_seconds
            for k in seen
            if k.first_case_seconds is not None and k.last_case_seconds is not None
        ]
        if seen[0].machine == "host":
            host_span = span
        boot = [k.boot_seconds for k in seen if k.boot_seconds is not None]
        rows.append((release, _machine(seen[0]), boot, first, last, span))
    for release, machine, boot, first, last, span in rows:
        ratio = ""
        if host_span and span and statistics.median(host_span) > 0:
            ratio = f", {statistics.median(span) / statistics.median(host_span):.1f}x the host"
        print(
            f"{release} [{machine}], {counts.get(release, 0) // args.repeat} cases: boot "
            f"{_spread(boot)}; first case ended {_spread(first)}; last case ended "
            f"{_spread(last)}; first to last case {_spread(span)}{ratio}"
        )
    print(f"whole matrix, wall: {_spread(walls)}")
    if failed:
        print(one_line(f"{len(failed)} failed or errored: " + "; ".join(failed[:10])))
        return 1
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `bench`."""
    bench = sub.add_parser(
        "bench",
        help="time cases (median per case, beside the floor: the kernel's own work for a "
        "two-host case), or a kernel matrix (--kernel): boot, first and last case per kernel, wall",
    )
    bench.add_argument(
        "paths", nargs="*", type=Path, help="scenario files or folders (default: scenarios/)"
    )
    bench.add_argument("--repeat", type=int, default=5, help="runs (default 5)")
    bench.add_argument("-k", help=K_HELP)
    bench.add_argument(
        "--pcaps", action="store_true", help="also write pcaps, as a real run does (one kernel)"
    )
    bench.add_argument(
        "--kernel",
        action="append",
        metavar="KERNEL",
        help="time the matrix `harness run --kernel ...` instead, as a whole, once per repeat",
    )
    bench.set_defaults(func=cmd_bench)
