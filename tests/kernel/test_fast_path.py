"""The fast way gives the slow way's answers (issue 14), on the live kernel.

A sample of the catalogue runs twice with `harness run -n 2`, so that two
cases always run side by side (and the rest of this suite runs beside them
under `pytest -n`): once as every run does (20 ms ARP/ND retransmits, the 30 ms
quiet window), once with `--kernel-timers` (the kernel's default neighbour
timers everywhere and a 3 s quiet window).  `harness compare`'s own comparison
must find no difference in verdict, errno, ARP/ND requests and replies,
deliveries or ICMP errors.  The sample holds the kinds of case a fast ending
could get wrong: claims that nothing is resolved or delivered (SO_DONTROUTE
lookups that fail or ask ARP for an address nobody has), a proxy reply that
comes up to 0.8 s late (issue 14's reproduction), proxy ARP and proxy NDP, and
ICMP errors that the kernel sends back a moment after the datagram.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from harness.case.record import CaseRecord
from harness.core.env import PROJECT_ROOT
from harness.runs.compare import differences
from harness.runs.store import read_results
from tests.conftest import needs_root

pytestmark = [needs_root, pytest.mark.kernel]

SAMPLE = [
    "tests/races/delayed-proxy-arp.yaml",
    "scenarios/dontroute/dontroute-lookup-limited-to-link-scope.yaml",
    "scenarios/dontroute/dontroute-lookup-limited-to-link-scope-ipv6.yaml",
    "scenarios/bindtodevice/proxy-arp-gateway-pulls-on-link-traffic.yaml",
    "scenarios/bindtodevice/proxy-arp-gateway-pulls-on-link-traffic-ipv6.yaml",
    "scenarios/ip-layer/connected-udp-socket-reports-port-unreachable.yaml",
]


def _run(results: Path, *extra: str) -> list[CaseRecord]:
    done = subprocess.run(
        [
            *(sys.executable, "-m", "harness", "run", "-n", "2", "--pcaps", "none"),
            *("--results-dir", str(results), *extra, *SAMPLE),
        ],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return read_results(results)


def test_the_fast_way_gives_the_answers_of_the_kernels_own_timers(tmp_path: Path) -> None:
    fast = _run(tmp_path / "fast")
    slow = _run(tmp_path / "slow", "--kernel-timers")
    groups: dict[str, list[tuple[str, CaseRecord]]] = {}
    for label, records in (("fast", fast), ("slow", slow)):
        for record in records:
            groups.setdefault(record.key, []).append((label, record))
    assert len(fast) == len(slow) == len(groups) >= 15
    assert all(r.verdict in ("pass", "refuted", "changed") for r in fast)
    found = differences(groups)
    assert not found, "\n".join(f"{d.key}: {d.fields}" for d in found)
    # Each way ran as it says: the slow one on the kernel's timers and a 3 s quiet window.
    slow_note = (
        "timers: the kernel's own neighbour timers (--kernel-timers), acts end after 3000 ms"
    )
    assert all(any(n.startswith(slow_note) for n in r.notes) for r in slow)
    assert not any(any(n.startswith(slow_note) for n in r.notes) for r in fast)
