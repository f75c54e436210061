"""Every output format a run can be asked for: one row each.

A row names `harness run`'s flag, the pytest option it becomes (the same unless
pytest has one of that name), the help both show, and the sink class
(harness/outputs/sink.py) that writes it.  harness/pytest_plugin.py adds the
options and opens the sinks from these rows; harness/cli/run.py adds the flags.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harness.outputs.jsonlines import JsonLines
from harness.outputs.junit import JUnit
from harness.outputs.sink import Sink
from harness.outputs.tap import Tap


@dataclass(frozen=True)
class Format:
    """One output format: the flag that asks for it and the sink that writes it."""

    flag: str  # `harness run`'s, e.g. --json
    help: str
    sink: Callable[[Path | str], Sink]
    option: str = ""  # the pytest option, when not `flag` (pytest has --junit-xml)

    @property
    def pytest_option(self) -> str:
        return self.option or self.flag

    @property
    def dest(self) -> str:
        """The attribute argparse gives `flag` (--json: json)."""
        return self.flag.lstrip("-").replace("-", "_")


FORMATS = (
    Format(
        "--json",
        "write each case's record as a line of JSON as it finishes ('-': stdout)",
        JsonLines,
    ),
    Format(
        "--tap",
        "write TAP in the kernel selftests' style as cases finish ('-': stdout)",
        Tap,
    ),
    Format(
        "--junit",
        "write JUnit XML at the end: a suite per kernel, classname the scenario, refuted and "
        "changed claims as passed tests named so (REFUTED, CHANGED) with the kernel's answer "
        "in their output, a failure's body the `show` view ('-': stdout)",
        JUnit,
        option="--harness-junit",
    ),
)
