"""`harness run`: pytest with this project's plugin, a kernel matrix, the views."""

from __future__ import annotations

import argparse
import difflib
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

from harness.case.record import PCAP_POLICIES
from harness.cli.common import K_HELP, _needs_root, _selector, refuse
from harness.core import deadlines, run_folder
from harness.core.env import IN_CLONE, PROJECT_ROOT, SCENARIO_DIR, given_path, is_root, shown
from harness.lab import requirements
from harness.outputs import formats
from harness.scenario import ScenarioError, discover, load_scenario
from harness.scenario.footprint import over_limits, raise_fd_limit

# The paths given to `harness run` are data, whoever wrote them: pytest would import a
# conftest.py beside them (and above), read a pytest.ini/tox.ini/pyproject.toml there (its
# addopts and pythonpath load plugins), import __init__.py and test_*.py, and run the
# doctests of test*.txt.  None of that happens: pytest reads no configuration file (-c
# /dev/null; the project's own is the options below), loads no conftest.py, and only this
# project's plugin collects (scenario YAML files; harness/data_only.py hides the rest).
# Plain `pytest` keeps pytest's rules (README, "Running scenarios you downloaded").
DATA_ONLY = (
    "-c",
    os.devnull,
    "--noconftest",
    "-p",
    "no:python",
    "-p",
    "no:doctest",
    "-p",
    "harness.data_only",
)


def cmd_run(args: argparse.Namespace) -> int:
    """Run cases through pytest, in parallel, with a verdict table at the end."""
    if not is_root():
        print(_needs_root("run"), file=sys.stderr)
        return 2
    if args.repeat < 1:
        print(f"harness run: --repeat {args.repeat}: give 1 or more", file=sys.stderr)
        return 2
    if requirements.said_once(requirements.survey(), "harness run"):
        return 2  # nothing could run: said once, not once per case
    import pytest

    # Checked here, before pytest: under xdist a malformed -k reaches only the workers,
    # which all fail to collect ("INTERNALERROR ... no active workers").
    _selector(args.k)
    kernels = args.kernel or []
    for label in kernels:
        if problem := _kernel_problem(label):
            print(f"harness run: --kernel {label}: {problem}", file=sys.stderr)
            return 2

    # FILE::CASE selects one case, as pytest's node ids do.  Installed, a path of the
    # shipped catalogue (as `harness list` names it) is that file.
    args.paths = [
        Path(str(given_path(Path(file))) + sep + case)
        for file, sep, case in (str(p).partition("::") for p in args.paths)
    ]
    files = [Path(str(p).partition("::")[0]) for p in args.paths]
    known = [shown(p) for p in discover()]
    for path in files:
        if not path.exists() and not path.is_symlink():  # a broken link: discover says why
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
        refuse("run", problem)
    if problems:
        return 2
    if args.repeat > 1:
        return _repeat(args)
    paths = [str(p) for p in args.paths] or [str(SCENARIO_DIR)]
    # A root that holds every path given, so that a file outside the project still has
    # a node id of its own (pytest names a case of an initial path outside the root
    # `::CASE`, without its file).  Installed, the shipped catalogue's folder stands for
    # the clone's top, and the folder the command runs in does for files of one's own.
    given = [f.resolve() for f in files]
    shipped = all(f.is_relative_to(PROJECT_ROOT) for f in given)
    top = PROJECT_ROOT if IN_CLONE or shipped else Path.cwd()
    rootdir = os.path.commonpath([str(top), *map(str, given)])
    streams = [(output.pytest_option, getattr(args, output.dest)) for output in formats.FORMATS]
    to_stdout = any(str(value) == "-" for _, value in streams)
    argv = [
        *paths,
        "--rootdir",
        rootdir,
        *DATA_ONLY,
        # No .pytest_cache: its folder would be the rootdir above (the clone, a downloaded
        # folder, `/`), and a run writes nothing outside its run folder.  Plain pytest
        # keeps its cache (--lf, --sw).
        "-p",
        "no:cacheprovider",
        # No assertion rewriting of the harness's own modules (pytest rewrites a plugin's
        # package at each import when no rewritten .pyc can be kept, a guest's read-only
        # mount included): a case's failure is its record, not an assert's introspection.
        "--assert=plain",
        "--pcaps",
        args.pcaps,
    ]
    if kernels and kernels != ["host"]:
        # A matrix: one worker per kernel (harness/guests/matrix.py), every case on each.
        argv += [item for label in kernels for item in ("--kernel", label)]
    else:
        # Cases differ in length: idle workers take over the tail.
        argv += ["-n", str(args.workers), "--dist", "worksteal"]
    # Standard output is a stream's alone when one goes there; else the harness's view.
    argv += ["-p", "no:terminal"] + ([] if to_stdout else ["--harness-console"])
    argv += [item for option, value in streams if value for item in (option, str(value))]
    if args.k:
        argv += ["-k", args.k]
    if args.results_dir:
        argv += ["--results-dir", str(args.results_dir)]
    if args.kernel_timers:
        argv.append("--kernel-timers")
    argv += ["--case-timeout", str(args.case_timeout)]
    code = int(pytest.main(argv))
    if code == pytest.ExitCode.NO_TESTS_COLLECTED:
        print(
            f"harness run: no case matched {args.k or 'these paths'!r} (see `harness list`)",
            file=sys.stderr,
        )
        return 2
    if code == pytest.ExitCode.USAGE_ERROR:
        return 2  # pytest has said what; bad input is exit 2 here as everywhere
    if code == pytest.ExitCode.INTERRUPTED:
        return 130  # as a shell reports Ctrl-C; pytest's own 2 is this command's "bad input"
    return code


def _repeat(args: argparse.Namespace) -> int:
    """`--repeat N`: N whole runs, one after another, then every case whose answer differs."""
    from harness.runs.repeats import MAX_REPEATS, compare_repeats, repeat_dirs, summary_lines
    from harness.runs.store import new_run_dir, read_run

    if args.repeat > MAX_REPEATS:
        print(f"harness run: --repeat {args.repeat}: give at most {MAX_REPEATS}", file=sys.stderr)
        return 2
    if any(getattr(args, output.dest) for output in formats.FORMATS):
        *most, last = [output.flag for output in formats.FORMATS]
        print(
            "harness run: --repeat writes each repeat's own results; it takes no "
            f"{', '.join(most)} or {last}",
            file=sys.stderr,
        )
        return 2
    run_dir = args.results_dir or new_run_dir()
    run_folder.refuse_links(run_dir)  # RunFolderError: one line from harness.cli.main
    child = [sys.executable, "-m", "harness", "run", *(str(p) for p in args.paths)]
    child += ["-n", str(args.workers), "--pcaps", args.pcaps]
    child += [item for label in args.kernel or [] for item in ("--kernel", label)]
    child += ["-k", args.k] if args.k else []
    child += ["--kernel-timers"] if args.kernel_timers else []
    child += ["--case-timeout", str(args.case_timeout)]
    ran: list[Path] = []
    worst = 0
    try:
        for n, folder in enumerate(repeat_dirs(run_dir, args.repeat), 1):
            log = folder.with_suffix(".log")
            with os.fdopen(run_folder.open_log(run_dir, log.name), "wb") as out:
                code = subprocess.call(
                    [*child, "--results-dir", str(folder)], stdout=out, stderr=subprocess.STDOUT
                )
            ran.append(folder)
            worst = max(worst, code)
            _, records = read_run(folder) if folder.is_dir() else (None, [])
            counts = Counter(r.verdict for r in records)
            print(
                f"repeat {n}/{args.repeat}: exit {code}, "
                + ", ".join(f"{v} {c}" for v, c in sorted(counts.items()))
                + f" ({log})",
                flush=True,
            )
            if code == 2:  # bad input or an environment that cannot run: same next time
                return 2
    except KeyboardInterrupt:
        print(f"harness run: interrupted after {len(ran)} repeats", file=sys.stderr)
    compared, found = compare_repeats(ran)
    lines = summary_lines(compared, len(ran), found)
    run_folder.write_text(run_dir, "repeats.md", "\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"repeats.md: {run_dir / 'repeats.md'}")
    flips = any("verdict" in d.fields for d in found)
    return 1 if flips or worst else 0


def _kernel_problem(label: str) -> str | None:
    """Why `--kernel label` cannot run (no such cached kernel or image), or None."""
    from harness.guests.matrix import HOST
    from harness.guests.sources import KernelError, find_kernel

    if label == HOST:
        return None
    try:
        find_kernel(label)
    except (KernelError, OSError) as exc:
        return str(exc)
    return None


def _workers(value: str) -> str:
    """-n as pytest-xdist reads it (a number, auto, logical), checked by our parser so that a
    typo is one line of `harness run`'s usage, not pytest's whole usage text."""
    if value in ("auto", "logical") or (value.isdigit() and int(value) >= 0):
        return value
    raise argparse.ArgumentTypeError(f"{value!r}: give a number of workers, auto or logical")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `run`."""
    run = sub.add_parser(
        "run",
        help="run scenarios (default: the catalogue: the clone's scenarios/, or the shipped one)",
    )
    run.add_argument("paths", nargs="*", type=Path, help="scenario files or folders, or FILE::CASE")
    run.add_argument("-k", help=K_HELP)
    run.add_argument(
        "-n",
        "--workers",
        default="auto",
        type=_workers,
        help="parallel workers: a number, auto or logical (default: auto)",
    )
    run.add_argument(
        "--results-dir",
        type=Path,
        help="write results here instead of results/<run>/ (the clone's; installed, the "
        "current folder's)",
    )
    run.add_argument(
        "--pcaps",
        choices=PCAP_POLICIES,
        default="findings",
        help="which cases keep their pcaps: findings (fail, error, refuted, changed; the "
        "default), all, or none",
    )
    for output in formats.FORMATS:  # --json, --tap, --junit
        run.add_argument(output.flag, metavar="PATH", help=output.help)
    run.add_argument(
        "--kernel",
        action="append",
        metavar="KERNEL",
        help="run on this kernel: host, a cached version such as 6.1 (`harness kernels "
        "fetch`), or a kernel image's path (its modules in lib/modules/RELEASE beside it); "
        "repeat it for a matrix, one column per kernel",
    )
    run.add_argument(
        "--kernel-timers",
        action="store_true",
        help="the slow way: the kernel's own neighbour timers and a 3 s quiet window in every "
        "case (compare with a normal run: `harness compare RUN_A RUN_B`)",
    )
    run.add_argument(
        "--repeat",
        type=int,
        default=1,
        metavar="N",
        help="run N times (up to 10000), each a whole run of its own (RUN/repeat-NNN/), then list "
        "every case whose verdict (exit 1) or observed values differ between the repeats",
    )
    run.add_argument(
        "--case-timeout",
        type=deadlines.seconds_above_zero,
        default=deadlines.CASE_BUDGET_S,
        metavar="SECONDS",
        help="end a case still running after this long as an error, its lab torn down "
        f"(default: {deadlines.CASE_BUDGET_S:g})",
    )
    run.set_defaults(func=cmd_run)
