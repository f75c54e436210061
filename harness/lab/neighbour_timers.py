"""Which timers a case runs with: the harness's fast ones, or the kernel's own.

The harness shortens ARP/ND retransmits (20 ms instead of 1 s), answers proxy
ARP/ND at once (proxy_delay 0 instead of a random delay below 0.8 s) and ends
an act after a 30 ms quiet window.  That is honest only where no answer can
hinge on those timers.  The rule:

- a case keeps the kernel's own neighbour timers when any host has proxy
  ARP/ND (a proxy_arp / proxy_ndp sysctl, a proxy neighbour entry) or sets a
  neighbour timer itself (any `neigh` sysctl), in its topology or its changes:
  there, when a reply comes decides what the kernel does;
- the quiet window never ends an act while a resolution is pending, and a
  pending resolution is waited for as long as the kernel's own timers allow
  (harness/case/session.py);
- `--kernel-timers` runs every case the slow way (kernel defaults everywhere,
  a 3 s quiet window), and `harness compare` shows where the two ways differ:
  any difference is a defect of the fast way.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from harness.core import deadlines
from harness.scenario import Case, Topology

MODE_VARIABLE = "HARNESS_TIMERS"  # "kernel": the slow way, for every case of the process
_TIMER_KEYS = ("proxy_arp", "proxy_ndp", "/neigh/", ".neigh.")


@dataclass(frozen=True)
class Timers:
    """The timers one case runs with."""

    fast_neighbours: bool  # the harness's ARP/ND retransmit and proxy delay
    quiet_s: float
    deadline_s: float
    why: str  # for the case's notes

    @property
    def note(self) -> str:
        """What the case's notes say about its timers."""
        if self.fast_neighbours:
            return (
                f"timers: ARP/ND retransmit {deadlines.ARP_RETRANS_MS} ms x "
                f"{deadlines.ARP_MCAST_SOLICIT} probes (kernel default 1000 ms x 3), "
                "proxy_delay 0, "
                f"acts end after {self.quiet_s * 1000:.0f} ms without news"
            )
        return (
            f"timers: the kernel's own neighbour timers ({self.why}), acts end after "
            f"{self.quiet_s * 1000:.0f} ms without news"
        )


FAST = Timers(True, deadlines.SETTLE_QUIET_S, deadlines.SETTLE_DEADLINE_S, "")


def kernel_timers_everywhere() -> bool:
    """This process runs every case the slow way (`--kernel-timers`)."""
    return os.environ.get(MODE_VARIABLE) == "kernel"


def _decided_by_timers(topology: Topology, case: Case) -> str:
    """Why a timer could decide this case's answer; empty when none could."""
    for name, host in topology.hosts.items():
        if any(n.proxy for n in host.neighbours):
            return f"{name} has a proxy neighbour entry"
        for key in host.sysctls:
            if any(k in key for k in _TIMER_KEYS):
                return f"{name} sets {key}"
    for act in case.acts():
        for change in act.change:
            for key in change.sysctl or {}:
                if any(k in key for k in _TIMER_KEYS):
                    return f"a change sets {key} on {change.host}"
            if change.neigh is not None and "proxy" in change.neigh.split():
                return f"a change adds a proxy neighbour entry on {change.host}"
    return ""


def for_case(topology: Topology, case: Case) -> Timers:
    """The timers `case` runs with in this process."""
    if kernel_timers_everywhere():
        return Timers(
            False,
            deadlines.KERNEL_TIMERS_QUIET_S,
            deadlines.KERNEL_TIMERS_DEADLINE_S,
            "--kernel-timers",
        )
    why = _decided_by_timers(topology, case)
    if why:
        return Timers(False, deadlines.SETTLE_QUIET_S, deadlines.SETTLE_DEADLINE_S, why)
    return FAST
