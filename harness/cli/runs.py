"""`harness show`, `report`, `compare`, `clean`: what runs left in results/.

A run folder may be downloaded: whatever its files hold, these answer with a page, a
case or one line naming the file, the field and the problem (exit 2); what they
print is escaped (display.one_line; render_case_text for `show`).
"""

from __future__ import annotations

import argparse
import datetime
import difflib
from pathlib import Path

from harness.case.record import KernelRun, RunInfo
from harness.cli.common import refuse
from harness.core.display import one_line
from harness.core.env import RESULTS_DIR
from harness.outputs.report import render_case_text, write_report
from harness.outputs.summary import write_summary
from harness.runs.compare import by_case, differences
from harness.runs.store import (
    latest_run,
    prune,
    read_results,
    read_run,
    run_dirs,
    write_results,
)


def _latest_run() -> Path:
    run = latest_run(RESULTS_DIR)
    if run is None:
        raise FileNotFoundError(f"no run in {RESULTS_DIR}: run `harness run` first")
    return run


def cmd_clean(args: argparse.Namespace) -> int:
    """Remove old run folders, keeping the newest `--keep`."""
    if args.keep < 0:
        return refuse("clean", "--keep takes a number of runs, 0 or more")
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
    if not run_dir.is_dir():
        return refuse("show", f"no run folder {run_dir}")
    records = read_results(run_dir)
    # An exact SCENARIO/CASE, then an exact case id, win over the ids they are a part of
    # (`peer` is a case of its own even where `peer-fail` exists).
    found = (
        [r for r in records if r.key == args.case]
        or [r for r in records if r.case == args.case]
        or [r for r in records if args.case in r.key]
    )
    if len(found) != 1:
        names = [r.key for r in records]
        close = difflib.get_close_matches(args.case, names, n=5, cutoff=0.3)
        listing = [r.key for r in found] if found else close
        what = "several cases match" if found else "no case matches"
        return refuse(
            "show",
            f"{what} {args.case!r} in {run_dir}; "
            f"{'candidates' if found else 'closest'}: {', '.join(listing) or '(none)'}",
        )
    print(render_case_text(found[0], run_dir))
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    """Where two runs differ, case by case and kernel by kernel; exit 1 when they do."""
    runs = []
    for run_dir in (args.first, args.second):
        if not run_dir.is_dir():
            return refuse("compare", f"no run folder {run_dir}")
        runs.append(read_results(run_dir))
        if not runs[-1]:  # "0 cases compared, 0 differ" and exit 0 would read as agreement
            return refuse("compare", f"{run_dir} holds no case record (records/ or results.json)")
    groups = by_case(zip((args.first.name, args.second.name), runs, strict=True))
    only = [key for key, runs_of in groups.items() if len(runs_of) == 1]
    found = differences(groups)
    compared = len(groups) - len(only)
    print(f"{compared} cases compared ({len(only)} in only one run); {len(found)} differ")
    for diff in found:
        print("\n" + one_line(f"{diff.key}: {diff.title}"))
        fields = {one_line(field): values for field, values in diff.fields.items()}
        width = max(len(field) for field in fields)
        for field, values in fields.items():
            print(
                f"  {field:<{width}}  "
                + "  |  ".join(
                    one_line(f"{r}: {v}") for r, v in zip(diff.runs, values, strict=True)
                )
            )
    return 1 if found else 0


def cmd_report(args: argparse.Namespace) -> int:
    """(Re)build RUN/report.html; finish a run whose controller died from its record files."""
    run_dir: Path = args.run_dir
    if not run_dir.is_dir():
        return refuse("report", f"no run folder {run_dir}")
    run, records = read_run(run_dir)
    if not records:
        return refuse("report", f"{run_dir} holds no case record (records/ or results.json)")
    if run is None:  # the controller never wrote its end: results.json from the records
        from harness.runs.store import stopped_records

        records += stopped_records(run_dir, records)
        run = RunInfo(
            started=_started(run_dir),
            interrupted=True,
            kernels=[KernelRun(release=k) for k in sorted({r.kernel for r in records})],
        )
        print(f"{run_dir}: the run did not finish; {len(records)} case records kept")
        print(write_results(run_dir, records, run))
        print(write_summary(run_dir, records, None))
    print(write_report(run_dir, records, run, every_diagram=args.every_diagram))
    return 0


def _started(run_dir: Path) -> str:
    """When a run began, from its folder's name (results/<UTC time>-<id>)."""
    try:
        stamp = datetime.datetime.strptime(run_dir.name.split("-")[0], "%Y%m%dT%H%M%SZ")
    except ValueError:
        return ""
    return stamp.replace(tzinfo=datetime.UTC).isoformat()


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `show`, `report`, `compare` and `clean`."""
    show = sub.add_parser("show", help="one case of a run in full (default: the latest run)")
    show.add_argument("case", help="SCENARIO/CASE, or part of it")
    show.add_argument("--run", type=Path, help="run folder (default: the latest under results/)")
    show.set_defaults(func=cmd_show)

    report = sub.add_parser("report", help="(re)build RUN/report.html")
    report.add_argument("run_dir", type=Path, help="a run folder, results/<run>")
    report.add_argument(
        "--every-diagram",
        action="store_true",
        help="draw the sequence of frames for every case (by default only for the cases "
        "that are not a plain pass; a pass shows its trace)",
    )
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
