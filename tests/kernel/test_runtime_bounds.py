"""The runtime holds what the loader lets through, and ends every case within its bounds.

The tests that need root; the rest are tests/unit/test_runtime_bounds.py.
"""

from __future__ import annotations

import os
import resource
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from harness.case.runner import run_case
from harness.core import deadlines
from harness.lab import capture
from harness.lab.capture import MAX_FRAMES_PER_INTERFACE, Capture, CaptureLimit
from harness.lab.netns import Lab
from harness.runs.repeats import MAX_REPEATS
from harness.scenario import ScenarioError, load_scenario
from harness.scenario.footprint import over_limits
from harness.scenario.limits import MAX_NAMESPACES
from tests.conftest import needs_root
from tests.unit.test_runtime_bounds import (  # low_fds_taken: a fixture the tests use
    FD_SETSIZE,
    UDP_AND_TCP,
    _scenario,
    low_fds_taken,  # noqa: F401
)


@needs_root
@pytest.mark.kernel
@pytest.mark.usefixtures("low_fds_taken", "host_untouched")
def test_a_case_whose_fds_are_numbered_beyond_fd_setsize_passes(tmp_path: Path) -> None:
    """Before poll(2): "filedescriptor out of range in select()", an error verdict."""
    scenario = _scenario(tmp_path, 3, UDP_AND_TCP)
    probe = os.open(os.devnull, os.O_RDONLY)
    os.close(probe)
    assert probe > FD_SETSIZE  # the case's sockets are numbered above it too
    record = run_case(scenario, scenario.cases[0])
    assert (record.verdict, record.message) == ("pass", "")
    assert record.observed is not None
    assert [a.outcome.errno for a in record.observed.acts] == ["ok", "ok"]


@needs_root
@pytest.mark.kernel
@pytest.mark.usefixtures("low_fds_taken", "host_untouched")
def test_the_largest_lan_the_loader_allows_passes(tmp_path: Path) -> None:
    """The review's reproducer was a LAN of about 100 hosts, whose fds passed 1024 by
    themselves; the loader now stops at MAX_NAMESPACES, and the runner holds that many
    with every fd numbered above 1024."""
    scenario = _scenario(tmp_path, MAX_NAMESPACES - 1, UDP_AND_TCP)  # and the LAN's own
    assert over_limits(scenario) == []
    record = run_case(scenario, scenario.cases[0])
    assert (record.verdict, record.message) == ("pass", "")


@needs_root
@pytest.mark.kernel
@pytest.mark.usefixtures("host_untouched")
def test_a_case_past_its_budget_ends_as_an_error_in_time(tmp_path: Path) -> None:
    """h0 asks for a neighbour nobody owns with the kernel's timers stretched
    (retrans_time_ms 5 s): the act waits for the resolution's end (3 x 5 s), unless the
    budget ends it first."""
    slow = {"sysctls": {"net.ipv4.neigh.eth0.retrans_time_ms": 5000}}
    steps = [{"probe": {"host": "h0", "dst": "198.18.0.99"}, "expect": {"errno": "ok"}}]
    scenario = _scenario(tmp_path, 2, steps, **slow)
    # Long enough for the build even on a loaded machine (0.5 s ran out while the links
    # came up, with three guests under TCG beside the suite), far below the act's 15 s.
    budget = 2.0
    started = time.monotonic()
    record = run_case(scenario, scenario.cases[0], budget_s=budget)
    elapsed = time.monotonic() - started
    assert record.verdict == "error"
    assert record.message.startswith(f"the case ran past its wall-clock budget of {budget:g} s")
    assert "waiting for act 1 to settle" in record.message
    assert f"{deadlines.CASE_BUDGET_FLAG} SECONDS" in record.message
    assert "\n" not in record.message and "Traceback" not in record.message
    # The lab's teardown (closing its namespaces) comes on top of the budget.
    assert elapsed < budget + 0.5, elapsed


@needs_root
@pytest.mark.kernel
@pytest.mark.usefixtures("host_untouched")
def test_a_case_capturing_more_than_the_cap_ends_as_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """64 datagrams (the most one probe sends) seen on h0, h1 and the LAN's ports, against
    a cap lowered to 50 frames per interface: the runtime stops the case there."""
    monkeypatch.setattr(capture, "MAX_FRAMES_PER_INTERFACE", 50)
    steps = [
        {
            "probe": {"host": "h0", "dst": "198.18.0.2", "flows": 64},
            "expect": {"errno": "ok"},
        }
    ]
    scenario = _scenario(tmp_path, 2, steps)
    record = run_case(scenario, scenario.cases[0])
    assert record.verdict == "error"
    assert record.message.startswith("the case captured more than 50 frames on ")
    assert "forwarding loop or a broadcast storm" in record.message
    assert "\n" not in record.message and "Traceback" not in record.message


@needs_root
@pytest.mark.kernel
@pytest.mark.usefixtures("host_untouched")
def test_a_flood_stops_the_capture_at_its_cap() -> None:
    """Frames sent on lo as fast as a packet socket takes them, read as a case reads
    them: the capture gives up at MAX_FRAMES_PER_INTERFACE instead of holding them all
    (or reading for ever: a flood never empties the socket's queue)."""
    with Lab("flood") as lab:
        ns = lab.namespace("a")
        ns.ipr.link("set", index=ns.link_index("lo"), state="up")
        flood = Capture(lab)
        sender = lab.socket("a", socket.AF_PACKET, socket.SOCK_RAW)
        sender.bind(("lo", 0))
        # Broadcast, EtherType 0x88b5 (IEEE 802 local experimental), minimum size.
        frame = b"\xff" * 6 + bytes(6) + b"\x88\xb5" + bytes(46)
        with pytest.raises(
            CaptureLimit, match=f"more than {MAX_FRAMES_PER_INTERFACE} frames on a/lo"
        ):
            for _ in range(MAX_FRAMES_PER_INTERFACE):  # each round adds frames: bounded
                for _ in range(100):
                    sender.send(frame)
                flood.poll()
        assert len(flood.frames) == MAX_FRAMES_PER_INTERFACE + 1


@needs_root
@pytest.mark.kernel
@pytest.mark.usefixtures("host_untouched")
def test_a_host_bridging_two_ports_of_one_lan_ends_in_bounded_time_and_memory(
    tmp_path: Path,
) -> None:
    """The broadcast storm of the review (84 s, 5.9 GB, then "can't start new thread"):
    either the loader refuses the loop, or the runtime stops the case at its capture cap."""
    doc = {
        "claim": "a loop",
        "source": {"article": "issue 18", "section": "unbounded work"},
        "topology": {
            "hosts": {
                "a": {"interfaces": {"eth0": {"lan": "lan0", "addresses": ["198.18.0.1/15"]}}},
                "b": {
                    "interfaces": {
                        "br0": {"kind": "bridge"},
                        "eth0": {"lan": "lan0", "master": "br0"},
                        "eth1": {"lan": "lan0", "master": "br0"},
                    }
                },
            }
        },
        "cases": [
            {
                "id": "storm",
                "title": "a broadcast",
                "probe": {"host": "a", "dst": "198.18.255.255", "sockopts": ["SO_BROADCAST"]},
                "expect": {"errno": "ok"},
            }
        ],
    }
    path = tmp_path / "loop.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    try:
        scenario = load_scenario(path)
    except ScenarioError as refused:
        # Refused at load (one line naming the file): nothing runs.
        assert str(path) in str(refused) and "\n" not in str(refused)
        return
    started = time.monotonic()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    record = run_case(scenario, scenario.cases[0])
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert record.verdict == "error"
    assert "forwarding loop or a broadcast storm" in record.message
    assert time.monotonic() - started < 10
    assert grown_mb < 500, grown_mb


@needs_root
def test_repeat_above_the_bound_is_one_line_and_exit_2(tmp_path: Path) -> None:
    scenario = Path(__file__).parents[2] / "scenarios/dontroute/so-dontroute-experiment-table.yaml"
    command = [sys.executable, "-m", "harness", "run", str(scenario), "--repeat", "1000000000"]
    done = subprocess.run(
        [*command, "--results-dir", str(tmp_path / "r")], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"harness run: --repeat 1000000000: give at most {MAX_REPEATS}"
    ]
    assert not (tmp_path / "r").exists()
