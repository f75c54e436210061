"""The namespace lifecycle cannot leak: normal close, failed setup, Ctrl-C and SIGKILL."""

from __future__ import annotations

import json
import select
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from harness.case.runner import run_case
from harness.core.env import SCENARIO_DIR
from harness.lab.builder import build
from harness.lab.netlink_ip import TopologyError
from harness.lab.netns import Lab, NamespaceId
from harness.scenario import Topology, load_scenario, load_topology
from tests.conftest import needs_root
from tests.rootstate import differences, namespace_references, snapshot

pytestmark = [needs_root, pytest.mark.kernel]
PROJECT = Path(__file__).resolve().parents[2]


def test_lab_close_releases_every_namespace(host_untouched: None) -> None:
    with Lab("close") as lab:
        build(lab, load_topology("lan-with-gateway"))
        made = lab.created()
        assert len(made) == 5  # sender, peer, gw, far and the lan0 switch
        assert namespace_references(made), "while open, the lab must hold its namespaces"
    assert namespace_references(made) == []


def test_nothing_is_created_in_the_root_namespace() -> None:
    before = snapshot()
    with Lab("root") as lab:
        build(lab, load_topology("lan-with-gateway"))
        assert differences(before, snapshot()) == {}, "a link, route or sysctl appeared in root"


def _failing_topology() -> Topology:
    """A topology the kernel refuses half-way: the gateway is on no connected subnet."""
    doc = load_topology("lan-with-gateway").model_dump()
    doc["hosts"]["sender"]["routes"] = ["default via 203.0.113.1"]
    return Topology.model_validate(doc)


def test_setup_failing_half_way_leaves_nothing(host_untouched: None) -> None:
    lab = Lab("fails")
    with pytest.raises(TopologyError, match=r"sender: `ip route add default via 203.0.113.1`"), lab:
        build(lab, _failing_topology())
    assert lab.namespaces == {}
    # The links and namespaces existed when the route failed; all must be gone.
    assert len(lab.created()) == 5
    assert namespace_references(lab.created()) == []


def test_a_setup_the_kernel_refuses_is_an_error_not_its_answer(host_untouched: None) -> None:
    # Issue 20: a wrong set-up is never a verdict on the claim; the line it names is
    # tests/kernel/test_setup_refused.py's.
    scenario = load_scenario(SCENARIO_DIR / "dontroute" / "so-dontroute-experiment-table.yaml")
    broken = scenario.model_copy(update={"topology": _failing_topology()})
    record = run_case(broken, broken.cases[0])
    assert record.verdict == "error"
    first, command, _ = record.message.split("\n")
    # The topology was swapped in memory: the line is the file's, the route the swap's.
    assert " hosts.sender.routes[0] " in first
    assert first.endswith(": the kernel refused it: Network is unreachable (ENETUNREACH)")
    assert "sender: `ip route add default via 203.0.113.1` failed: Network is unreachable" in (
        command
    )
    assert record.comparison == []


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start_mid_case() -> tuple[subprocess.Popen[str], set[NamespaceId]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.hold_case"],
        cwd=PROJECT,
        text=True,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        # As in a terminal: a job started in the background by a non-interactive
        # shell (CI, nohup) inherits SIGINT ignored, and Python then never raises
        # KeyboardInterrupt.
        preexec_fn=_default_sigint,
    )
    assert proc.stdout is not None
    # The child prints once it is mid-case; bounded, so a hung helper fails the test.
    ready, _, _ = select.select([proc.stdout], [], [], 20)
    if not ready:
        proc.kill()
        raise AssertionError("helper did not reach the middle of its case within 20 s")
    line = proc.stdout.readline()
    if not line:
        raise AssertionError(f"helper died before the case started: {proc.communicate()[1]}")
    made = {NamespaceId(**ns) for ns in json.loads(line)["namespaces"]}
    assert len(made) == 5
    assert namespace_references(made), "the helper must hold its namespaces while mid-case"
    return proc, made


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["SIGKILL", "Ctrl-C"])
def test_a_killed_run_leaves_nothing(sig: signal.Signals) -> None:
    before = snapshot()
    proc, made = _start_mid_case()
    proc.send_signal(sig)
    # wait(), not communicate(): closing its stdin would let the helper's read()
    # end at EOF before the signal is handled, and exit normally.
    proc.wait(timeout=10)
    proc.communicate(timeout=10)  # only collects what it printed and closes the pipes
    assert proc.returncode != 0
    assert namespace_references(made) == []
    assert differences(before, snapshot()) == {}
