"""A run that is stopped still accounts for every case that started (issue 12), live.

`harness run -n 2 --json -` streams each record as its case ends; the test reads
that stream (the event it waits on) and stops the run after a few cases: with
SIGTERM (what CI sends on cancel) or SIGINT the controller writes results.json
marked interrupted; after SIGKILL it writes nothing, and `harness report RUN`
finishes the run from the record files.  Either way every case that started
has a record: a real verdict if it ended, else an `error` saying the run
stopped while it ran.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from harness.case.runner import STOPPED, not_run, run_case
from harness.core.env import PROJECT_ROOT, kernel_release
from harness.runs.store import mark_running, read_run, stopped_records, write_record
from harness.scenario import load_scenario
from tests.conftest import needs_root

pytestmark = [needs_root, pytest.mark.kernel]

CASES_BEFORE_STOP = 6


# A shell starts a background job with SIGINT ignored and Python keeps an ignored
# SIGINT ignored (CI ran this test so): give the controller the default
# disposition, as a terminal's Ctrl-C finds it, before it execs the harness.
_WITH_DEFAULT_SIGINT = (
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
    "os.execv(sys.argv[1], sys.argv[1:])"
)


def _start(run_dir: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            *(sys.executable, "-c", _WITH_DEFAULT_SIGINT),
            *(sys.executable, "-m", "harness", "run", "-n", "2", "--json", "-"),
            *("--results-dir", str(run_dir), "scenarios/dontroute"),
        ],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,  # a signal for the controller alone, as `kill PID` sends it
    )


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL])
def test_a_stopped_run_accounts_for_every_case_that_started(
    tmp_path: Path, sig: signal.Signals
) -> None:
    run_dir = tmp_path / "run"
    controller = _start(run_dir)
    assert controller.stdout is not None
    streamed = []
    try:
        for line in controller.stdout:  # each line: a case that ended
            streamed.append(json.loads(line))
            if len(streamed) == CASES_BEFORE_STOP:
                os.kill(controller.pid, sig)
                break
        streamed += [json.loads(line) for line in controller.stdout]
        code = controller.wait(timeout=60)
    finally:
        if controller.poll() is None:
            os.killpg(controller.pid, signal.SIGKILL)
            controller.wait(timeout=60)
    assert len(streamed) >= CASES_BEFORE_STOP
    if sig == signal.SIGKILL:
        assert code == -signal.SIGKILL and not (run_dir / "results.json").exists()
        finished = subprocess.run(
            [sys.executable, "-m", "harness", "report", str(run_dir)],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert finished.returncode == 0, finished.stderr
    else:
        assert code == 130  # interrupted, as a shell reports Ctrl-C
    run, records = read_run(run_dir)
    assert run is not None and run.interrupted
    keys = {(r.kernel, r.scenario, r.case) for r in records}
    # every case whose end was streamed is there, with the verdict it had
    assert {(r["kernel"], r["scenario"], r["case"]): r["verdict"] for r in streamed}.items() <= {
        (r.kernel, r.scenario, r.case): r.verdict for r in records
    }.items()
    # and every case that started and did not end is there as an error saying so
    running = run_dir / "records" / ".running"
    started = {tuple(p.parts[-3:]) for p in running.glob("*/*/*")} if running.exists() else set()
    assert started <= keys
    stopped = {(r.kernel, r.scenario, r.case) for r in records if r.message == STOPPED}
    assert all(r.verdict == "error" for r in records if r.message == STOPPED)
    ended = {(r["kernel"], r["scenario"], r["case"]) for r in streamed}
    assert keys >= ended | stopped
    # Nothing else, except after SIGKILL: a worker that outlived its controller still
    # ended its case and stored the record itself.
    if sig != signal.SIGKILL:
        assert keys == ended | stopped


def test_a_stop_keeps_the_records_workers_stored_before_their_reports_arrived(
    tmp_path: Path,
) -> None:
    """A worker stores its record, then its report travels to the controller: a stop in
    between (seen with Ctrl-C of a guest's run) must not lose the case that ended."""
    scenario = load_scenario(
        PROJECT_ROOT / "scenarios/dontroute/dontroute-lookup-limited-to-link-scope.yaml"
    )
    ended, cut_short = scenario.cases[0], scenario.cases[1]
    kernel = kernel_release()
    stored = run_case(scenario, ended)
    mark_running(tmp_path, not_run(scenario, ended, kernel, STOPPED))
    write_record(tmp_path, stored)
    mark_running(tmp_path, not_run(scenario, cut_short, kernel, STOPPED))

    left = stopped_records(tmp_path, [])

    by_case = {r.case: r for r in left}
    assert set(by_case) == {ended.id, cut_short.id}
    assert by_case[ended.id] == stored  # the kernel's answer, not an error
    assert by_case[cut_short.id].verdict == "error"
    assert by_case[cut_short.id].message == STOPPED
    assert stopped_records(tmp_path, left) == []  # what the controller has is not repeated
