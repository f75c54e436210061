"""The fuzz loop: mutants for a time budget, each input bounded in time and memory, every
outcome judged against the rule for bad input (exit 2 and one line naming the file, or
success; never a traceback, never a hang), failures kept once per kind and shrunk.

Knobs (environment): HARNESS_FUZZ_BUDGET (seconds per fuzzer, default 5),
HARNESS_FUZZ_SEED (default 18), HARNESS_FUZZ_INPUT_BOUND (seconds one input may take,
default 3; the catalogue's inputs take under 0.3 s), HARNESS_FUZZ_SHRINK (seconds to
shrink each new kind of failure, default 2), HARNESS_FUZZ_KEEP (a folder to save the
failing inputs in instead of pytest's tmp_path, which pytest prunes after three runs).
"""

from __future__ import annotations

import faulthandler
import os
import random
import re
import resource
import shutil
import signal
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

import pytest

from harness.cli import main
from harness.core.env import PROJECT_ROOT

BUDGET = float(os.environ.get("HARNESS_FUZZ_BUDGET", "5"))
SEED = int(os.environ.get("HARNESS_FUZZ_SEED", "18"))
INPUT_BOUND = float(os.environ.get("HARNESS_FUZZ_INPUT_BOUND", "3"))
# Memory one input may add to the process (the importer once reached 1.6 GB).
MEMORY_BOUND = 2 << 30
# Seconds spent shrinking each new kind of failure to a smaller reproducer.
SHRINK_BUDGET = float(os.environ.get("HARNESS_FUZZ_SHRINK", "2"))
KEEP = os.environ.get("HARNESS_FUZZ_KEEP")

# C0 controls but tab and newline, DEL, C1 controls: what a terminal may act on.
RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


class Overran(BaseException):
    """An input took longer than INPUT_BOUND (a BaseException: no `except Exception` in the
    code under test swallows it)."""


@contextmanager
def bounded(seconds: float) -> Iterator[None]:
    """Interrupt the block after `seconds` (SIGALRM: runs between Python bytecodes, and
    interrupts a blocking system call); if it is stuck in C code that never returns,
    faulthandler dumps every thread's stack and ends the process after a longer wait."""

    def alarm(signum: int, frame: FrameType | None) -> None:
        raise Overran(f"over {seconds:g} s")

    old = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    faulthandler.dump_traceback_later(seconds * 6 + 30, exit=True)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        faulthandler.cancel_dump_traceback_later()
        signal.signal(signal.SIGALRM, old)


@contextmanager
def memory_capped(extra: int = MEMORY_BOUND) -> Iterator[None]:
    """Cap this process's address space at its present size plus `extra` while the block
    runs: an input that wants gigabytes ends in MemoryError, not in the machine's swap."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    with open("/proc/self/statm") as statm:
        size = int(statm.read().split()[0]) * resource.getpagesize()
    cap = size + extra if hard == resource.RLIM_INFINITY else min(size + extra, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


@dataclass
class Outcome:
    """What one command did: its exit status, its output, or what escaped it."""

    argv: list[str]
    code: int | str | None = None
    out: str = ""
    err: str = ""
    escaped: BaseException | None = None
    where: str = ""  # the innermost project frame of `escaped`
    seconds: float = 0.0


def _project_frame(exc: BaseException) -> str:
    """file:line (function) of the innermost frame in the project, and the innermost frame
    of all when that is elsewhere (in PyYAML, pydantic, the standard library)."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if f.filename.startswith(str(PROJECT_ROOT / "harness"))]
    parts = []
    for frame in ([ours[-1]] if ours else []) + frames[-1:]:
        name = os.path.relpath(frame.filename, PROJECT_ROOT)
        if "site-packages" in name or name.startswith(".."):
            name = name.split("site-packages/")[-1].split("/lib/python3")[-1]
        text = f"{name}:{frame.lineno} ({frame.name})"
        if text not in parts:
            parts.append(text)
    return " <- ".join(reversed(parts)) if len(parts) > 1 else "".join(parts)


def run_cli(argv: list[str], capfd: pytest.CaptureFixture[str]) -> Outcome:
    """`harness ARGV` in this process, bounded in time and memory."""
    outcome = Outcome(argv)
    capfd.readouterr()
    started = time.perf_counter()
    try:
        with memory_capped(), bounded(INPUT_BOUND):
            outcome.code = main(argv)
    except SystemExit as exc:
        outcome.code = exc.code
    except (Exception, Overran) as exc:
        outcome.escaped, outcome.where = exc, _project_frame(exc)
    outcome.seconds = time.perf_counter() - started
    outcome.out, outcome.err = capfd.readouterr()
    return outcome


def shape(text: str, names: list[str]) -> str:
    """A message with what varies between mutants of one bug taken out: the files' names,
    quoted values, numbers, and the field path after the file."""
    for name in sorted(names, key=len, reverse=True):
        text = text.replace(name, "FILE")
    text = re.sub(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"", "Q", text)
    text = re.sub(r"(FILE: )[^ :]+(: )", r"\1FIELD\2", text)
    text = re.sub(r"\d+", "N", text)
    return text[:90]


def judge(
    outcome: Outcome,
    names: list[str],
    ok_codes: tuple[int, ...] = (0,),
    detail_lines: str | None = None,
) -> str | None:
    """The kind of failure, None when the outcome keeps the rule: a success (`ok_codes`),
    or exit 2 with one line on stderr naming one of `names` (plus lines starting with
    `detail_lines`, where a command lists details by design); never a traceback, never a
    raw control character in what a terminal shows."""
    if isinstance(outcome.escaped, Overran):
        return f"hang: {outcome.escaped} at {outcome.where}"
    if outcome.escaped is not None:
        return f"traceback: {type(outcome.escaped).__name__} at {outcome.where}"
    said = outcome.out + outcome.err
    if "Traceback" in said:
        return f"a traceback printed | {shape(outcome.err.strip().splitlines()[-1:][0], names)}"
    bad = RAW_CONTROL.search(said)
    if bad:
        stream = "stderr" if RAW_CONTROL.search(outcome.err) else "stdout"
        return f"raw control character on {stream} ({outcome.argv[0]})"
    lines = outcome.err.splitlines()
    if outcome.code in ok_codes:
        return None
    if outcome.code != 2:
        return f"exit {outcome.code!r} | {shape(' / '.join(lines)[:200], names)}"
    if not lines:
        return "exit 2, nothing on stderr"
    extra = [line for line in lines[1:] if not (detail_lines and line.startswith(detail_lines))]
    if extra:
        return f"exit 2, {len(lines)} lines | {shape(lines[0], names)}"
    if not any(name in lines[0] for name in names):
        return f"exit 2, the file not named | {shape(lines[0], names)}"
    return None


@dataclass
class Finding:
    """One kind of failure: the first mutant that showed it, shrunk, and how to rerun it."""

    kind: str
    mutant: int
    what: str
    saved: Path
    command: str
    count: int = 1


@dataclass
class Fuzzer:
    """Mutants of one kind of input, checked until the budget is spent.

    `make(rng)` gives the mutant's files (relative path -> bytes; the first is the mutated
    one, which shrinking cuts down) and what was changed; `check(folder)` runs the
    commands on a folder holding those files and gives the kind of failure (None: the
    rule held) and the command that shows it."""

    name: str
    make: Callable[[random.Random], tuple[dict[str, bytes], str]]
    check: Callable[[Path], tuple[str | None, str]]
    budget: float = BUDGET
    seed: int = SEED
    findings: dict[str, Finding] = field(default_factory=dict)
    mutants: int = 0
    seconds: float = 0.0

    def run(self, tmp_path: Path) -> None:
        """Mutants until the budget is spent; each new kind of failure saved and shrunk."""
        work = tmp_path / "work"
        started = time.monotonic()
        while time.monotonic() - started < self.budget:
            rng = random.Random(f"{self.seed}:{self.name}:{self.mutants}")
            files, what = self.make(rng)
            _fill(work, files)
            kind, _ = self.check(work)
            if kind is not None:
                self._keep(kind, files, what, tmp_path)
            self.mutants += 1
        self.seconds = time.monotonic() - started

    def _keep(self, kind: str, files: dict[str, bytes], what: str, tmp_path: Path) -> None:
        if kind in self.findings:
            self.findings[kind].count += 1
            return
        kept = Path(KEEP) / self.name if KEEP else tmp_path
        saved = kept / f"finding-{len(self.findings) + 1:02d}"
        files = self._shrink(kind, files, tmp_path / "shrink")
        _fill(saved, files)
        again, command = self.check(saved)
        self.findings[kind] = Finding(kind, self.mutants, what, saved, command)
        if again != kind:
            self.findings[kind].what += f" (on a second run: {again})"

    def _shrink(self, kind: str, files: dict[str, bytes], work: Path) -> dict[str, bytes]:
        """The target file cut down (chunks of lines, then of bytes) while the failure stays
        the same kind, for at most SHRINK_BUDGET seconds."""
        target = next(iter(files))
        data = files[target]
        deadline = time.monotonic() + SHRINK_BUDGET
        for unit in (b"\n", b""):
            parts = data.split(b"\n") if unit else [bytes([b]) for b in data]
            if len(parts) > 20000:
                continue
            chunk = max(len(parts) // 2, 1)
            while chunk >= 1 and time.monotonic() < deadline:
                n, changed = 0, False
                while n < len(parts) and time.monotonic() < deadline:
                    trial = parts[:n] + parts[n + chunk :]
                    _fill(work, {**files, target: unit.join(trial)})
                    if self.check(work)[0] == kind:
                        parts, changed = trial, True
                    else:
                        n += chunk
                if not changed:
                    chunk //= 2
            data = unit.join(parts)
        return {**files, target: data}

    def summary(self) -> str:
        """How many mutants, how fast, and each kind of failure with its reproducer."""
        rate = self.mutants / self.seconds if self.seconds else 0.0
        head = (
            f"fuzz {self.name}: {self.mutants} mutants in {self.seconds:.1f} s "
            f"({rate:.0f}/s), seed {self.seed} (HARNESS_FUZZ_SEED), "
            f"{len(self.findings)} kinds of failure"
        )
        lines = [head]
        for n, found in enumerate(self.findings.values(), 1):
            lines += [
                f"{n}. {found.kind}  [{found.count} mutants; first: #{found.mutant}]",
                f"   mutation: {found.what[:300]}",
                f"   saved in: {found.saved}",
                f"   rerun:    {found.command}",
            ]
        return "\n".join(lines)


def _fill(folder: Path, files: dict[str, bytes]) -> None:
    """`folder` holding exactly `files` (a fresh copy: a command may have written there)."""
    if folder.exists():
        shutil.rmtree(folder)
    for name, data in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
