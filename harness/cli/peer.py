"""`harness peer SCRIPT`: a kernel selftest script beside the scenarios that state its checks.

The script (its path is the user's; it never enters the repository) is copied, with the
`lib.sh` beside it if there is one, into a scratch folder outside the clone and run there
as root inside `unshare --mount` with a tmpfs on /run/netns, so its `ip netns add` never
touches the host's /run/netns.  Its per-check lines (`TEST: TEXT [ OK ]`, `[FAIL]`,
`[XFAIL]`, `[SKIP]`) are read as they come, under the section headings it prints.  A side
file beside the scenarios, `SCRIPT.peer.yaml` (`scenarios/selftests/`), maps each check,
by its section and text, to the scenario case that states it; those cases then run here,
one after another.  The command prints where the two verdicts differ and the seconds per
check of both.  Exit 0 when they agree on every check, 1 when one differs, 2 on bad input.

`--kernel K` (repeatable) does the same on other kernels: each guest, booted as the matrix
boots them (harness/guests/launch.py, one at a time), runs `harness peer` itself on a copy
of the script and hands its comparison back as JSON; then a line per kernel, and each check
whose verdicts are not the same on every kernel.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from harness.cli.common import _needs_root, refuse
from harness.core.env import is_root, kernel_release

if TYPE_CHECKING:
    from harness.scenario import Scenario
    from harness.scenario.case import Case as ScenarioCase

CATALOGUE = Path(__file__).resolve().parents[2] / "scenarios" / "selftests"
MAX_LINES = 100_000  # lines of the script's output read; the rest is drained, not parsed
MAX_LINE = 4096  # characters of one line kept
MAX_CHECKS = 2_000  # checks in a side file
MAX_SIDE_BYTES = 1 << 20

# log_test's printf in the net selftests: `TEST: %-60s  [ OK ]` (some indent it).
_TEST = re.compile(r"^\s*TEST:\s+(?P<text>.*?)\s+\[\s*(?P<verdict>OK|FAIL|XFAIL|SKIP)\s*\]\s*$")
ScriptVerdict = Literal["OK", "FAIL", "XFAIL", "SKIP"]


@dataclass(frozen=True)
class ScriptCheck:
    """One check line of the script: its section, text, verdict and the seconds since the
    previous check line (or the start)."""

    section: str
    text: str
    verdict: ScriptVerdict
    seconds: float


def parse_checks(
    lines: Iterable[tuple[float, str]], sections: Iterable[str]
) -> Iterator[ScriptCheck]:
    """The check lines of a selftest's output, each under the last of the known `sections`
    headings seen before it (log_section prints one alone on a line, some scripts after
    `TEST SECTION: `); `lines` are (seconds since the start, line)."""
    headings = set(sections)
    section = ""
    last = 0.0
    for at, raw in lines:
        line = raw.rstrip("\n")[:MAX_LINE]
        found = _TEST.match(line)
        if found is not None:
            verdict: ScriptVerdict = found["verdict"]  # type: ignore[assignment]
            yield ScriptCheck(section, found["text"], verdict, at - last)
            last = at
            continue
        heading = line.strip().removeprefix("TEST SECTION:").strip()
        if heading in headings:
            section = heading


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CheckCase(_Strict):
    """A check of the script, by section and text, and the case that states it."""

    section: str = Field(default="", description="the heading the script prints before it")
    test: str = Field(min_length=1, description="the text of its `TEST:` line")
    case: str = Field(
        pattern=r"^[A-Za-z0-9._-]{1,64}/[A-Za-z0-9._-]{1,64}$",
        description="SCENARIO/CASE: the scenario file's name (beside this file) and case id",
    )


class PeerFile(_Strict):
    """`SCRIPT.peer.yaml`: which scenario case states each check of a selftest script."""

    script: str = Field(description="the script's file name")
    sections: list[str] = Field(default=[], description="the section headings it prints")
    checks: list[CheckCase] = Field(max_length=MAX_CHECKS)


def load_peer_file(path: Path) -> PeerFile:
    """The side file, validated (one line naming file, field and problem otherwise)."""
    if path.stat().st_size > MAX_SIDE_BYTES:
        raise ValueError(f"{path}: over {MAX_SIDE_BYTES} bytes")
    try:
        return PeerFile.model_validate(yaml.safe_load(path.read_text()))
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not YAML: {exc}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top)"
        raise ValueError(f"{path}: {where}: {first['msg']}") from None


def agree(script: ScriptVerdict | None, scenario: str | None) -> bool:
    """Whether a script's verdict and a case's say the same: OK is pass; FAIL or XFAIL is a
    case that does not confirm the claim (fail, refuted, changed); no line is a skip."""
    if script is None or script == "SKIP":
        return scenario in (None, "skip")
    if script == "OK":
        return scenario == "pass"
    return scenario in ("fail", "refuted", "changed")


@dataclass
class ScriptRun:
    """What the script's run gave: its checks, wall time, exit status and last lines."""

    checks: list[ScriptCheck]
    seconds: float
    returncode: int
    tail: list[str]


# /run/netns is private to the script: a tmpfs on it (or, where the host has none, on /run
# and the folder made inside), in a mount namespace of its own that nothing propagates out of.
_PRIVATE_NETNS = (
    "mount -t tmpfs harness-peer /run/netns 2>/dev/null || "
    "{ mount -t tmpfs harness-peer /run && mkdir /run/netns; } || exit 97; "
    'cd "$1" && exec bash "./$2"'
)


def private_mounts_refused() -> str | None:
    """Why the script cannot get a mount namespace whose mounts stay private, or None.
    In a chroot the root is no mount point, so unshare cannot change its propagation
    (EINVAL), and a tmpfs on /run/netns could reach the host's mounts."""
    done = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "true"],
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )
    if done.returncode == 0:
        return None
    said = " ".join(done.stderr.split())[:160] or f"exit {done.returncode}"
    return (
        f"a private mount namespace cannot be made here ({said}); the script's `ip netns` "
        "would reach this machine's /run/netns: run it on a machine or VM, not in a chroot"
    )


def run_script(script: Path, sections: list[str], timeout_s: float) -> ScriptRun:
    """Run a copy of the script (and the lib.sh beside it) from a scratch folder."""
    with tempfile.TemporaryDirectory(prefix="harness-peer-") as scratch:
        shutil.copy2(script, Path(scratch) / script.name)
        lib = script.parent / "lib.sh"
        if lib.is_file():
            shutil.copy2(lib, Path(scratch) / "lib.sh")
        argv = [
            "unshare", "--mount", "--propagation", "private", "--",
            "sh", "-c", _PRIVATE_NETNS, "sh", scratch, script.name,
        ]  # fmt: skip
        started = time.monotonic()
        proc = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            errors="replace",
            start_new_session=True,  # its process group ends with it on a timeout
        )
        assert proc.stdout is not None
        lines: list[tuple[float, str]] = []
        tail: list[str] = []
        timer = _Deadline(proc, timeout_s)
        try:
            for line in proc.stdout:
                if len(lines) < MAX_LINES:
                    lines.append((time.monotonic() - started, line))
                tail = [*tail[-9:], line.rstrip("\n")[:MAX_LINE]]
            returncode = proc.wait()
        finally:
            timer.cancel()
        seconds = time.monotonic() - started
    if timer.fired:
        tail.append(f"(ended after {timeout_s:.0f} s: --timeout)")
    return ScriptRun(list(parse_checks(lines, sections)), seconds, returncode, tail)


class _Deadline:
    """Kills the script's process group when it outlives its bound."""

    def __init__(self, proc: subprocess.Popen[str], timeout_s: float) -> None:
        self.fired = False
        self._proc = proc
        self._timer = threading.Timer(timeout_s, self._kill)
        self._timer.daemon = True
        self._timer.start()

    def _kill(self) -> None:
        self.fired = True
        with contextlib.suppress(ProcessLookupError):  # it ended just now
            os.killpg(self._proc.pid, signal.SIGKILL)

    def cancel(self) -> None:
        self._timer.cancel()


def _side_file(script: Path, given: Path | None) -> Path:
    path = given if given is not None else CATALOGUE / f"{script.name}.peer.yaml"
    if not path.is_file():
        raise FileNotFoundError(
            f"no side file {path} naming the scenario cases of {script.name}'s checks"
        )
    return path


class Row(_Strict):
    """One mapped check on one kernel: the script's verdict and the case's."""

    section: str
    test: str
    case: str
    script: ScriptVerdict | None = Field(description="None: the script printed no line")
    script_seconds: float | None
    verdict: str
    case_seconds: float
    mark: Literal["", "differs", "not compared"]


class Outcome(_Strict):
    """The comparison on one kernel, as `--json` writes it (a guest's run hands it back so)."""

    kernel: str
    rows: list[Row] = Field(max_length=MAX_CHECKS)
    unmapped: int
    script_checks: int
    script_seconds: float
    script_exit: int
    cases: int
    harness_seconds: float

    @property
    def differ(self) -> int:
        return sum(r.mark == "differs" for r in self.rows)

    @property
    def uncompared(self) -> int:
        return sum(r.mark == "not compared" for r in self.rows)

    @property
    def exit_status(self) -> int:
        """0 when they agree on every compared check; 1 when one differs or nothing was
        compared (kselftest's exit 4 is a skip: a tool missing, which is no agreement)."""
        return 1 if self.differ or not self.script_checks else 0


def _cases(side_path: Path, side: PeerFile) -> list[tuple[Scenario, ScenarioCase]]:
    from harness.scenario import load_scenario

    wanted: dict[str, list[str]] = {}
    for check in side.checks:
        name, case_id = check.case.split("/")
        wanted.setdefault(name, []).append(case_id)
    cases = []
    for name, ids in wanted.items():
        scenario = load_scenario(side_path.parent / f"{name}.yaml")
        known = {c.id: c for c in scenario.cases}
        for case_id in dict.fromkeys(ids):
            if case_id not in known:
                raise ValueError(f"{side_path}: checks: no case {name}/{case_id}")
            cases.append((scenario, known[case_id]))
    return cases


def _kernel_labels(labels: list[str] | None) -> list[tuple[str, str]]:
    """(label, release) of each `--kernel`, in order, once each; ValueError naming one that
    cannot be found (before anything runs: a typo must not cost the host's run first)."""
    from harness.guests.matrix import HOST

    found: list[tuple[str, str]] = []
    for label in dict.fromkeys(labels or [HOST]):
        if label == HOST:
            found.append((label, kernel_release()))
            continue
        from harness.guests.sources import KernelError, find_kernel

        try:
            found.append((label, find_kernel(label).release))
        except (KernelError, OSError) as exc:
            raise ValueError(f"--kernel {label}: {exc}") from None
    return found


def cmd_peer(args: argparse.Namespace) -> int:
    """Run the script and its scenarios on each kernel asked for; print where they differ."""
    if not is_root():
        print(_needs_root("peer"), file=sys.stderr)
        return 2
    script: Path = args.script
    if not script.is_file():
        return refuse("peer", f"{script}: not a file")
    try:
        kernels = _kernel_labels(args.kernel)
    except ValueError as exc:
        return refuse("peer", str(exc))
    if args.json is not None and len(kernels) > 1:
        return refuse("peer", "--json writes one kernel's comparison: give one --kernel with it")
    on_host = [label for label, _ in kernels if label == "host"]
    if on_host and (why := private_mounts_refused()) is not None:
        return refuse("peer", why)
    side_path = _side_file(script, args.checks).resolve()
    side = load_peer_file(side_path)
    cases = _cases(side_path, side)  # every case named exists, before anything runs
    outcomes: list[tuple[str, Outcome | str]] = []
    for label, release in kernels:
        if label == "host":
            outcome: Outcome | str = _peer_here(script, side, cases, args.timeout)
        else:
            outcome = _peer_on_guest(label, release, script, side_path, args.timeout)
        outcomes.append((label, outcome))
        if isinstance(outcome, str):
            print(f"kernel {release} ({label}): no comparison: {outcome}", flush=True)
    if args.json is not None and isinstance(outcomes[0][1], Outcome):
        args.json.write_text(outcomes[0][1].model_dump_json(indent=1) + "\n")
    if len(outcomes) > 1:
        _across_kernels(outcomes)
    return max(o.exit_status if isinstance(o, Outcome) else 1 for _, o in outcomes)


def _peer_here(
    script: Path, side: PeerFile, cases: list[tuple[Scenario, ScenarioCase]], timeout: float
) -> Outcome:
    """The script and the cases on the kernel this process runs on."""
    if shutil.which("ping") is None:
        # Not a refusal: a script may not ping; one that does fails its checks, which show.
        print(
            "harness peer: iputils-ping is missing and the net selftests ping: "
            "`apt-get install -y iputils-ping`",
            file=sys.stderr,
        )
    from harness.case.runner import run_case

    print(f"kernel {kernel_release()}: {script.name} from a scratch copy ...", flush=True)
    ran = run_script(script, side.sections, timeout)
    verdicts: dict[str, tuple[str, float]] = {}
    started = time.perf_counter()
    for scenario, case in cases:
        began = time.perf_counter()
        record = run_case(scenario, case)
        verdicts[f"{scenario.name}/{case.id}"] = (record.verdict, time.perf_counter() - began)
    harness_s = time.perf_counter() - started
    outcome = _compare(side, ran, verdicts, harness_s)
    _print(outcome, ran)
    return outcome


# `harness ARGV` in the guest, ARGV read from stdin: the command line itself travels on the
# guest kernel's, which is short (harness/guests/launch.py, run_python).
_IN_GUEST = "import json,sys;from harness.cli import main;sys.exit(main(json.loads(input())))"

# The guest's whole run: its boot, then the script (bounded by --timeout inside) and the
# cases one after another, which under TCG take about as long again.
GUEST_RUN_FACTOR = 2.0


def _peer_on_guest(
    label: str, release: str, script: Path, side_path: Path, timeout: float
) -> Outcome | str:
    """`harness peer` itself inside a guest of kernel `label`: the guest sees this machine's
    file system read-only (iproute2, ping, the venv and the catalogue come from it), and a
    scratch folder it may write (`--rwdir`), which holds the script's copy and hands back the
    comparison as JSON.  Inside, the script runs as on a host (its own copy in the guest's
    /tmp, a tmpfs on /run/netns in a mount namespace of its own).  The outcome, or why none."""
    from harness.guests.launch import BootError, Options, console_path, run_python
    from harness.guests.sources import KernelError, find_kernel
    from harness.guests.sources.cache import cache_dir

    # The guest's /tmp is a throw-away overlay on the host's: what it writes there never
    # comes back.  The scratch folder is a --rwdir, and outside /tmp so that its 9p mount
    # does not depend on the order of the two mounts.
    base = cache_dir().parent / "peer"
    base.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="guest-", dir=base) as scratch_name:
        scratch = Path(scratch_name)
        shutil.copy2(script, scratch / script.name)
        lib = script.parent / "lib.sh"
        if lib.is_file():
            shutil.copy2(lib, scratch / "lib.sh")
        result = scratch / "outcome.json"
        argv = [
            "peer", str(scratch / script.name),
            "--checks", str(side_path), "--timeout", str(timeout), "--json", str(result),
        ]  # fmt: skip
        options = Options(rwdirs=[scratch])
        print(f"kernel {release} ({label}): booting a guest ...", flush=True)
        try:
            run = run_python(
                label,
                ["-c", _IN_GUEST],
                options,
                timeout * GUEST_RUN_FACTOR,
                _echo,
                stdin=json.dumps(argv).encode() + b"\n",
            )
        except (BootError, KernelError) as exc:
            return str(exc).splitlines()[0].rstrip(":")
        console = console_path(find_kernel(label), options)
        if run.timed_out:
            return f"the guest's run outlived its bound ({timeout * GUEST_RUN_FACTOR:.0f} s)"
        try:
            if result.stat().st_size > MAX_SIDE_BYTES:
                return f"{result}: over {MAX_SIDE_BYTES} bytes"
            outcome = Outcome.model_validate_json(result.read_bytes())
        except OSError:
            return f"the guest's peer wrote no comparison (its console: {console})"
        except ValidationError as exc:
            return f"the guest's comparison does not read: {exc.errors()[0]['msg']}"
    print(
        f"kernel {outcome.kernel}: guest ({run.accel}), booted in {run.boot_seconds:.0f} s",
        flush=True,
    )
    return outcome


def _echo(chunk: bytes) -> None:
    """The guest's output, as it comes."""
    sys.stdout.buffer.write(chunk)
    sys.stdout.flush()


def _compare(
    side: PeerFile, ran: ScriptRun, verdicts: dict[str, tuple[str, float]], harness_s: float
) -> Outcome:
    by_key = {(c.section, c.text): c for c in ran.checks}
    mapped = {(c.section, c.test) for c in side.checks}
    rows: list[Row] = []
    for check in side.checks:
        got = by_key.get((check.section, check.test))
        verdict, seconds = verdicts[check.case]
        same = agree(got.verdict if got else None, verdict)
        # A case that skips (this kernel lacks what it needs: VRF) has no answer to hold
        # against the script's; a script that does not notice the missing feature fails
        # the check without asking the kernel either.  Neither agreement nor difference.
        # Likewise a check the script printed no line for while it printed others (its
        # iproute2 lacks a word, it skipped a section): only the case answered.
        skipped = not same and (verdict == "skip" or (got is None and bool(ran.checks)))
        rows.append(
            Row(
                section=check.section,
                test=check.test,
                case=check.case,
                script=got.verdict if got else None,
                script_seconds=got.seconds if got else None,
                verdict=verdict,
                case_seconds=seconds,
                mark="" if same else "not compared" if skipped else "differs",
            )
        )
    return Outcome(
        kernel=kernel_release(),
        rows=rows,
        unmapped=sum((c.section, c.text) not in mapped for c in ran.checks),
        script_checks=len(ran.checks),
        script_seconds=ran.seconds,
        script_exit=ran.returncode,
        cases=len(verdicts),
        harness_seconds=harness_s,
    )


def _label(section: str, test: str) -> str:
    return f"{section + ': ' if section else ''}{test}"


def _report(
    side: PeerFile, ran: ScriptRun, verdicts: dict[str, tuple[str, float]], harness_s: float
) -> int:
    """Compare, print, and the exit status."""
    outcome = _compare(side, ran, verdicts, harness_s)
    _print(outcome, ran)
    return outcome.exit_status


def _print(outcome: Outcome, ran: ScriptRun) -> None:
    """The comparison on one kernel: a line per mapped check, then the counts."""
    width = max((len(_label(r.section, r.test)) for r in outcome.rows), default=10)
    for row in outcome.rows:
        theirs = f"{row.script} {row.script_seconds:.2f} s" if row.script else "no line"
        why = "the case skips here" if row.verdict == "skip" else "the script printed no line"
        mark = {"": "", "differs": "  <-- differs", "not compared": f"  (not compared: {why})"}
        print(
            f"  {_label(row.section, row.test):<{width}}  script {theirs:<14} "
            f"scenario {row.verdict} {row.case_seconds:.3f} s ({row.case}){mark[row.mark]}"
        )
    mapped = {(r.section, r.test) for r in outcome.rows}
    for c in ran.checks:
        if (c.section, c.text) not in mapped:
            print(f"  {_label(c.section, c.text)}  script {c.verdict}: no scenario")
    if not ran.checks:
        print(f"  the script printed no check (exit {ran.returncode}); its last lines:")
        for line in ran.tail:
            print(f"    {line}")
    script_checks = outcome.script_checks
    ran_cases = sum(r.verdict != "skip" for r in {r.case: r for r in outcome.rows}.values())
    per_case = outcome.harness_seconds / (ran_cases or outcome.cases or 1)  # skips cost nothing
    per_script = ran.seconds / script_checks if script_checks else 0.0
    each = f", {per_script:.2f} s per check" if script_checks else ""
    print(
        f"script: {script_checks} checks in {ran.seconds:.1f} s{each} "
        f"(exit {ran.returncode}); scenarios: {outcome.cases} cases in "
        f"{outcome.harness_seconds:.1f} s, {per_case:.3f} s per case run"
        + (f"; {_ratio(per_script, per_case)} per check" if script_checks else "")
    )
    total = len(outcome.rows)
    print(
        f"{total - outcome.differ - outcome.uncompared} of {total} mapped checks agree, "
        f"{outcome.differ} differ, {outcome.uncompared} not compared (no answer from one side); "
        f"{outcome.unmapped} of the script's checks have no scenario"
    )
    if not ran.checks:
        print(f"nothing compared: the script printed no check (exit {ran.returncode})")


def _across_kernels(outcomes: list[tuple[str, Outcome | str]]) -> None:
    """Per kernel the counts; then each check whose verdicts are not the same on every kernel
    that gave a comparison (the script's, the scenario's, or both)."""
    print("\nacross kernels:")
    answered = [(label, o) for label, o in outcomes if isinstance(o, Outcome)]
    for label, outcome in outcomes:
        if isinstance(outcome, str):
            print(f"  {label}: no comparison ({outcome})")
            continue
        total = len(outcome.rows)
        print(
            f"  {outcome.kernel} ({label}): {total - outcome.differ - outcome.uncompared} of "
            f"{total} agree, {outcome.differ} differ, {outcome.uncompared} not compared; "
            f"script {outcome.script_checks} checks in {outcome.script_seconds:.0f} s, "
            f"scenarios {outcome.cases} cases in {outcome.harness_seconds:.0f} s"
        )
    if len(answered) < 2:
        return
    seen: dict[tuple[str, str], list[str]] = {}
    for _, outcome in answered:
        for row in outcome.rows:
            seen.setdefault((row.section, row.test), []).append(
                f"{outcome.kernel} script {row.script or 'no line'} / scenario {row.verdict}"
            )
    varying = 0
    for (section, test), per_kernel in seen.items():
        if len({v.split(" ", 1)[1] for v in per_kernel}) > 1:
            varying += 1
            print(f"  {_label(section, test)}: {'; '.join(per_kernel)}")
    print(f"  {varying} of {len(seen)} checks answer differently between kernels")


def _ratio(script_s: float, case_s: float) -> str:
    """How the scenarios' seconds per check compare with the script's, either way round."""
    if case_s <= 0 or script_s <= 0:
        return "no ratio"
    if script_s >= case_s:
        return f"the scenarios {script_s / case_s:.1f} times faster"
    return f"the scenarios {case_s / script_s:.1f} times slower"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `peer`."""
    peer = sub.add_parser(
        "peer",
        help="run a kernel selftest script beside the scenarios of its checks: where the "
        "verdicts differ, and seconds per check for both",
    )
    peer.add_argument("script", type=Path, help="the selftest script (e.g. icmp_redirect.sh)")
    peer.add_argument(
        "--checks",
        type=Path,
        help="the side file mapping its checks to cases "
        "(default: scenarios/selftests/SCRIPT.peer.yaml)",
    )
    peer.add_argument(
        "--timeout", type=float, default=1800.0, help="seconds the script may run (1800)"
    )
    peer.add_argument(
        "--kernel",
        action="append",
        metavar="KERNEL",
        help="run both on this kernel: host (the default), a cached version such as 6.1 "
        "(`harness kernels fetch`), or a kernel image's path; repeatable, one guest at a time",
    )
    peer.add_argument(
        "--json",
        type=Path,
        metavar="PATH",
        help="also write the comparison here as JSON (one kernel)",
    )
    peer.set_defaults(func=cmd_peer)
