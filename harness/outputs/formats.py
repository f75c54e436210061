"""Every output of a run: one row each, and the one place they are opened.

FORMATS: the outputs a run can be asked for.  A row names `harness run`'s flag,
the pytest option it becomes (the same unless pytest has one of that name), the
help both show, and the sink class (harness/outputs/sink.py) that writes it.
harness/pytest_plugin.py adds the options from these rows; harness/cli/run.py
adds the flags.

RUN_FILES: the files every run writes into its folder (when a case ran), each
a file name and the sink class that writes it, given the folder.

open_outputs opens every sink of a run from these rows (and the terminal view,
when asked), and RunOutputs hands each of them the records and the close.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.case.record import CaseRecord, RunInfo
from harness.outputs.sink import Progress, Sink
from harness.runs.store import REPORT_NAME, RESULTS_NAME, SUMMARY_NAME


def _later(module: str, name: str) -> Callable[..., Any]:
    """The sink class `module.name`, imported when a run opens it: a worker (a guest's
    above all, where Python runs some 80 times slower under TCG) adds the options these
    rows give but never opens a sink, and the report and the terminal view (rich) were
    a fifth of its imports."""

    def open_sink(*args: Any) -> Any:
        return getattr(importlib.import_module(module), name)(*args)

    open_sink.__qualname__ = f"{module}.{name}"
    return open_sink


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
        _later("harness.outputs.jsonlines", "JsonLines"),
    ),
    Format(
        "--tap",
        "write TAP in the kernel selftests' style as cases finish ('-': stdout)",
        _later("harness.outputs.tap", "Tap"),
    ),
    Format(
        "--junit",
        "write JUnit XML at the end: a suite per kernel, classname the scenario, refuted and "
        "changed claims as passed tests named so (REFUTED, CHANGED) with the kernel's answer "
        "in their output, a failure's body the `show` view ('-': stdout)",
        _later("harness.outputs.junit", "JUnit"),
        option="--harness-junit",
    ),
)


@dataclass(frozen=True)
class RunFile:
    """A file every run writes into its folder: its name and the sink that writes it."""

    name: str
    sink: Callable[[Path], Sink]  # given the run folder


# In the order they are written, and named at the end of a run (the terminal view, and
# pytest's closing section).
RUN_FILES = (
    RunFile(RESULTS_NAME, _later("harness.outputs.results_json", "ResultsJson")),
    RunFile(REPORT_NAME, _later("harness.outputs.report", "Report")),
    RunFile(SUMMARY_NAME, _later("harness.outputs.summary", "Summary")),
)


class RunOutputs:
    """Every sink of one run, as one: each record to each sink, then each sink closed, in
    the order opened (the formats asked for, the run folder's files, the terminal view,
    which names those files last)."""

    def __init__(self, sinks: Sequence[Sink]) -> None:
        self.sinks = list(sinks)
        self.progress = [sink for sink in self.sinks if isinstance(sink, Progress)]

    def add(self, record: CaseRecord) -> None:
        """Hand one record to every sink."""
        for sink in self.sinks:
            sink.add(record)

    def close(self, run: RunInfo, records: Sequence[CaseRecord]) -> None:
        """Close every sink with the run and all its records."""
        for sink in self.sinks:
            sink.close(run, records)


def open_outputs(
    run_dir: Path, asked: Callable[[str], Path | str | None], terminal: bool = False
) -> RunOutputs:
    """Every output of a run in `run_dir`, opened now: each format whose pytest option
    `asked` gives a PATH for, each of RUN_FILES, and the terminal view when `terminal`.
    OSError when a PATH cannot be opened (a folder, no permission)."""
    sinks: list[Sink] = [
        output.sink(path) for output in FORMATS if (path := asked(output.pytest_option))
    ]
    sinks += [file.sink(run_dir) for file in RUN_FILES]
    if terminal:
        from harness.outputs.console import Terminal  # rich: the controller's only

        sinks.append(Terminal(run_dir, [file.name for file in RUN_FILES]))
    return RunOutputs(sinks)
