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
"""

from __future__ import annotations

import argparse
import contextlib
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
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from harness.cli.common import _needs_root, refuse
from harness.core.env import is_root, kernel_release

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


def cmd_peer(args: argparse.Namespace) -> int:
    """Run the script and its scenarios on this kernel; print where they differ."""
    if not is_root():
        print(_needs_root("peer"), file=sys.stderr)
        return 2
    script: Path = args.script
    if not script.is_file():
        return refuse("peer", f"{script}: not a file")
    why = private_mounts_refused()
    if why is not None:
        return refuse("peer", why)
    side_path = _side_file(script, args.checks)
    side = load_peer_file(side_path)
    if shutil.which("ping") is None:
        # Not a refusal: a script may not ping; one that does fails its checks, which show.
        print(
            "harness peer: iputils-ping is missing and the net selftests ping: "
            "`apt-get install -y iputils-ping`",
            file=sys.stderr,
        )
    from harness.case.runner import run_case
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

    print(f"kernel {kernel_release()}: {script.name} from a scratch copy ...", flush=True)
    ran = run_script(script, side.sections, args.timeout)
    verdicts: dict[str, tuple[str, float]] = {}
    started = time.perf_counter()
    for scenario, case in cases:
        began = time.perf_counter()
        record = run_case(scenario, case)
        verdicts[f"{scenario.name}/{case.id}"] = (record.verdict, time.perf_counter() - began)
    harness_s = time.perf_counter() - started
    return _report(side, ran, verdicts, harness_s)


def _report(
    side: PeerFile, ran: ScriptRun, verdicts: dict[str, tuple[str, float]], harness_s: float
) -> int:
    by_key = {(c.section, c.text): c for c in ran.checks}
    mapped = {(c.section, c.test) for c in side.checks}
    rows: list[tuple[str, str, str, str, str]] = []
    differ = uncompared = 0
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
        uncompared += skipped
        differ += not same and not skipped
        why = "the case skips here" if verdict == "skip" else "the script printed no line"
        mark = "" if same else f"  (not compared: {why})" if skipped else "  <-- differs"
        rows.append(
            (
                f"{check.section + ': ' if check.section else ''}{check.test}",
                f"{got.verdict} {got.seconds:.2f} s" if got else "no line",
                f"{verdict} {seconds:.3f} s ({check.case})",
                mark,
                "",
            )
        )
    width = max((len(r[0]) for r in rows), default=10)
    for label, theirs, ours, mark, _ in rows:
        print(f"  {label:<{width}}  script {theirs:<14} scenario {ours}{mark}")
    unmapped = [c for c in ran.checks if (c.section, c.text) not in mapped]
    for c in unmapped:
        print(f"  {c.section + ': ' if c.section else ''}{c.text}  script {c.verdict}: no scenario")
    if not ran.checks:
        print(f"  the script printed no check (exit {ran.returncode}); its last lines:")
        for line in ran.tail:
            print(f"    {line}")
    script_checks = len(ran.checks)
    cases = len(verdicts)
    ran_cases = sum(verdict != "skip" for verdict, _ in verdicts.values()) or cases
    per_script = ran.seconds / script_checks if script_checks else float("nan")
    per_case = harness_s / ran_cases if ran_cases else float("nan")  # skips cost nothing
    print(
        f"script: {script_checks} checks in {ran.seconds:.1f} s, {per_script:.2f} s per check "
        f"(exit {ran.returncode}); scenarios: {cases} cases in {harness_s:.1f} s, "
        f"{per_case:.3f} s per case run"
        + (f"; {_ratio(per_script, per_case)} per check" if script_checks else "")
    )
    print(
        f"{len(side.checks) - differ - uncompared} of {len(side.checks)} mapped checks agree, "
        f"{differ} differ, {uncompared} not compared (no answer from one side); "
        f"{len(unmapped)} of the script's checks have no scenario"
    )
    if not ran.checks:
        # kselftest's exit 4 is a skip (a tool missing: nettest, a newer iproute2): nothing
        # was compared, which is no agreement.
        print(f"nothing compared: the script printed no check (exit {ran.returncode})")
        return 1
    return 1 if differ else 0


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
    peer.set_defaults(func=cmd_peer)
