"""What a case holds of this process at once: file descriptors and network namespaces.

Checked before anything runs, so that a scenario too big for the machine's limits
is refused with the numbers, instead of failing minutes into a run with "Too many
open files".
"""

from __future__ import annotations

import resource
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING

from harness.scenario.probe import listener_keys

if TYPE_CHECKING:
    from harness.scenario.case import Case, Scenario
    from harness.scenario.topology import Topology

# Measured: a namespace costs 9 fds of this process (its ns fd, pyroute2's IPRoute
# with its event loop, the plain netlink socket, the link monitor, the packet
# capture and the neighbour-event socket); a listener, a probe and a tun/tap one each.
FDS_PER_NAMESPACE = 9
FDS_SPARE = 64  # the interpreter, pytest, xdist's channel, pcap files being written
MAX_NET_NAMESPACES = Path("/proc/sys/user/max_net_namespaces")


def raise_fd_limit() -> int:
    """Raise this process's soft limit on open files to its hard limit; the new limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def listener_count(topology: Topology, case: Case, stop_after: int | None = None) -> int:
    """How many listeners the case opens (its own, or the run's defaults); counting stops
    after `stop_after`."""
    if case.listeners is not None:
        return len(case.listeners)
    probes = [act.probe for act in case.acts() if act.probe is not None]
    return sum(1 for _ in islice(listener_keys(topology.hosts, probes), stop_after))


def case_needs(scenario: Scenario, case: Case) -> tuple[int, int]:
    """(file descriptors, network namespaces) the case holds at once."""
    topology = scenario.topology
    namespaces = len(topology.hosts) + len(topology.lans())
    listeners = listener_count(topology, case)
    devices = sum(
        1
        for host in topology.hosts.values()
        for iface in host.interfaces.values()
        if iface.resolved_kind in ("tun", "tap")
    )
    fds = FDS_PER_NAMESPACE * namespaces + listeners + len(case.acts()) + devices + FDS_SPARE
    return fds, namespaces


def over_limits(scenario: Scenario) -> list[str]:
    """One sentence per case that would exceed this process's limits (after raising the
    soft fd limit to the hard one)."""
    fd_limit = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    try:
        ns_limit = int(MAX_NET_NAMESPACES.read_text())
    except (OSError, ValueError):
        ns_limit = 0  # unknown: not checked
    problems = []
    for n, case in enumerate(scenario.cases):
        fds, namespaces = case_needs(scenario, case)
        where = f"cases[{n}]({case.id})"  # as the loader names a case
        if fds > fd_limit:
            problems.append(
                f"{where}: needs about {fds} open files at once and this process may "
                f"have {fd_limit} (ulimit -Hn): split the topology or raise the limit"
            )
        if ns_limit and namespaces > ns_limit:
            problems.append(
                f"{where}: needs {namespaces} network namespaces and "
                f"user.max_net_namespaces is {ns_limit}"
            )
    return problems
