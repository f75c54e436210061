# PYTHON_ARGCOMPLETE_OK (argcomplete's global completion looks for this mark)
"""Command line: `harness run | list | bench | peer | show | report | compare | clean | doctor`,
`harness kernels fetch|list`, `harness import | new`, `harness completion | man`.

`run` is pytest with this project's plugin (so -k, -n and JUnit XML behave as
pytest users expect); `list` reads the catalogue; `bench` times cases one after
another in this process; `show` prints one case of a run, `report` rebuilds a
run's page, `doctor` checks what the catalogue needs from this machine.
"""

from __future__ import annotations

import argparse
import signal
import sys
from typing import Any

from harness.case.record import RecordError
from harness.cli import bench, catalogue, completion, doctor, peer, run, runs
from harness.core.display import one_line
from harness.core.env import DISTRIBUTION, kernel_release
from harness.core.run_folder import RunFolderError
from harness.guests.kernels_command import add_subcommands as register_kernels
from harness.importer.import_command import register as register_importer
from harness.scenario import ScenarioError


def _version() -> str:
    """The harness's version, and the versions of what it stands on."""
    from importlib.metadata import PackageNotFoundError, version

    parts = []
    for package in (DISTRIBUTION, "pytest", "pytest-xdist", "pyroute2", "scapy", "pydantic"):
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

    for verbs in (run, catalogue, bench, peer, runs, doctor):
        verbs.register(sub)
    register_kernels(sub)  # `harness kernels fetch|list` (harness/guests/kernels_command.py)
    # `harness import` and `harness new` (harness/importer/import_command.py)
    register_importer(sub)
    completion.register(sub)  # `harness completion` and `harness man`, derived from this parser
    parser.set_defaults(root_parser=parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `harness` console script and `python -m harness`."""
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `harness list | head` ends quietly
    parser = build_parser()
    completion.autocomplete(parser)  # the shell asking for completions: answered, and exit
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except (ScenarioError, RecordError, RunFolderError, FileNotFoundError, ValueError) as exc:
        # The message may quote a downloaded file: one line, no control character raw.
        print(one_line(f"harness: {exc}"), file=sys.stderr)
        return 2
