"""A case session: one case's live state on the kernel, and what each act did.

The session owns the built topology, the captures (open before anything
happens) and the listeners.  A case is a sequence of `apply(change)`,
`act(probe)` and `settle(expect)`; `finish()` gives the Observation.  The
runner only sequences these calls; a pytest test can make the same calls
(fixtures/lab.py, `case_session`).
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyroute2.netlink.exceptions import NetlinkError

from harness.case.kernel_state import (
    kernel_tables,
    route_get,
    state_after_act,
    state_name,
    watched_sysctls,
)
from harness.case.observe import frame_records
from harness.core import deadlines
from harness.core.evidence import (
    NO_PROBE,
    ActFacts,
    ChangeOutcome,
    HostTables,
    Observation,
    ProbeOutcome,
    RouteLookup,
)
from harness.core.validation import errno_name
from harness.lab.builder import build
from harness.lab.capture import Capture
from harness.lab.neighbour_timers import FAST, Timers
from harness.lab.netlink_ip import TopologyError
from harness.lab.netns import Lab
from harness.lab.network import Network
from harness.lab.probes import Listeners, act, default_listeners, payload_for
from harness.lab.rtnl import neighbour_news
from harness.scenario import Change, Listener, Probe, Topology
from harness.scenario.expect import Evidence, Expect
from harness.scenario.ipsyntax import NUD_STATES

# Only an INCOMPLETE neighbour holds frames back (in its arp_queue); DELAY and
# PROBE entries are still used for sending while they are re-confirmed.
NUD_INCOMPLETE = NUD_STATES["incomplete"]
NUD_NOARP, NUD_PERMANENT = NUD_STATES["noarp"], NUD_STATES["permanent"]
# The longest a neighbour may hold back a proxied answer: proxy_delay is a random
# delay below the interface's setting, 0.8 s by default (pneigh_enqueue).
PROXY_DELAY_MAX_S = 0.8


@dataclass(frozen=True)
class _Resolving:
    """A neighbour entry a read found INCOMPLETE (dev empty: the read itself failed)."""

    host: str
    dst: str
    dev: str

    def __str__(self) -> str:
        return f"{self.host}: {self.dst} on {self.dev}" if self.dev else f"{self.host}: {self.dst}"


class _Resolutions:
    """The neighbour resolutions an act has seen under way, until the kernel announces
    that each has ended.

    A dump shows an entry's new state as soon as __neigh_update() sets it, but the
    frames queued behind the entry are passed on (or, on failure, reported by
    neigh_invalidate()) after that, and only then is RTM_NEWNEIGH sent
    (net/core/neighbour.c, neigh_update_notify()).  So an entry whose end a dump
    shows is still pending until its notification has been read: after it, the
    frames it released are in the capture sockets.
    """

    def __init__(self) -> None:
        self._seen: dict[tuple[str, str], _Resolving] = {}
        self._ended: dict[tuple[str, str], bool] = {}  # (host, dst): the last news was an end

    def read(self, incomplete: list[_Resolving]) -> tuple[list[_Resolving], bool]:
        """Given a neighbour read's INCOMPLETE entries: every resolution still pending
        (those plus the ended ones whose notification is not read yet), and whether
        one has been announced as ended since the last read."""
        for item in incomplete:
            if item.dev:  # not a failed read
                self._seen[item.host, item.dst] = item
                self._ended.pop((item.host, item.dst), None)
        still = {(item.host, item.dst) for item in incomplete}
        ended = [key for key in self._seen if key not in still and self._ended.get(key)]
        for key in ended:
            del self._seen[key]
        unannounced = [item for key, item in self._seen.items() if key not in still]
        return incomplete + unannounced, bool(ended)

    def news(self, host: str, datagrams: list[bytes]) -> None:
        """Take in the notifications read off `host`'s neighbour monitor socket."""
        for deleted, entry in neighbour_news(datagrams):
            self._ended[host, entry.dst] = deleted or not entry.state & NUD_INCOMPLETE


@dataclass
class _Act:
    """The act under way: what is known of it before it has settled."""

    probe: Probe | None  # None: the act only changed and observes
    outcome: ProbeOutcome
    route: RouteLookup | None
    tables: dict[str, HostTables]
    changes: list[ChangeOutcome]
    window: int  # index of the first frame captured after the probe acted


@dataclass
class CaseSession:
    """One case on the live kernel; see the module docstring."""

    net: Network
    capture: Capture
    listeners: Listeners
    label: str = "case"
    timers: Timers = FAST
    record_links: bool = True  # read every link after each act (for a `links` expectation)
    acts: list[ActFacts] = field(default_factory=list)
    _current: _Act | None = None
    _changes: list[ChangeOutcome] = field(default_factory=list)
    _touched: set[str] = field(default_factory=set)
    _changed_sysctls: set[str] = field(default_factory=set)
    _links_changed: bool = False
    _windows: list[int] = field(default_factory=list)  # first frame of each act
    # The neighbour entries the latest settle decision read, per host.
    _read: dict[str, list[str]] = field(default_factory=dict)
    # Frames captured when the latest act was found settled: the observation ends
    # there (later frames still go into the pcaps).
    _judged: int | None = None
    # The socket each act's probe used (None where setting it up failed).
    sockets: list[socket.socket | None] = field(default_factory=list)

    @classmethod
    def start(
        cls,
        lab: Lab,
        topology: Topology,
        probes: list[Probe],
        listeners: list[Listener] | None = None,
        ipv6: bool | None = None,
        timers: Timers = FAST,
    ) -> CaseSession:
        """Build `topology` in `lab`, open the captures, and start the listeners
        (`listeners`, or by default one on every other host for each probe's port)."""
        if ipv6 is None:
            ipv6 = topology.uses_ipv6 or any(p.dst.version == 6 for p in probes)
        net = build(lab, topology, ipv6, timers.fast_neighbours)
        net.log.append(timers.note)
        taps = {
            k: (fd, topology.hosts[k[0]].interfaces[k[1]].resolved_kind == "tap")
            for k, fd in net.tun_fds.items()
        }
        capture = Capture(lab, taps)
        wanted = listeners if listeners is not None else default_listeners(net, probes)
        return cls(net, capture, Listeners(net, wanted), lab.label, timers=timers)

    def apply(self, change: Change) -> ChangeOutcome:
        """Apply one change; the kernel's answer is recorded, "ok" or the errno it refused
        the change with (never raised: what the kernel answers is for the verdict)."""
        self._touched.add(change.host)
        self._changed_sysctls.update(change.sysctl or {})
        self._links_changed |= change.link is not None
        try:
            self.net.apply(change)
            outcome = ChangeOutcome(host=change.host, command=change.command, errno="ok")
        except TopologyError as exc:
            outcome = ChangeOutcome(
                host=change.host,
                command=change.command,
                errno=errno_name(exc.code),
                message=str(exc),
            )
        self._changes.append(outcome)
        return outcome

    def act(self, probe: Probe | None, sock: socket.socket | None = None) -> ProbeOutcome:
        """Do the probe's one action, with the kernel's route lookup and tables just before;
        on `sock` when given (a socket of an earlier act, its options changed), else on a
        socket opened with the probe's options.  Without a probe the act only observes
        what its changes did: the tables of the hosts they touched, then the settling."""
        if self._current is not None:
            self.settle()
        if self._links_changed:
            self.net.wait_links_settled()
            self._links_changed = False
        index = len(self.acts)
        deadlines.within_budget(f"starting act {index + 1}")
        # What came before belongs to the previous act.
        self.capture.poll()
        self.listeners.poll()
        self.listeners.current_act = index
        self._windows.append(len(self.capture.frames))
        if probe is None:
            tables = kernel_tables(self.net, sorted(self._touched))
            outcome = ProbeOutcome(errno=NO_PROBE, message="the act only changes", time=time.time())
            self._current = _Act(None, outcome, None, tables, self._changes, self._windows[-1])
            self._changes = []
            self.sockets.append(None)
            return outcome
        route = route_get(self.net, probe)
        tables = kernel_tables(self.net, sorted({probe.host, *self._touched}))
        payload = payload_for(f"{self.label} {index}", probe.payload_size)
        outcome, used = act(self.net, probe, payload, sock)
        self.sockets.append(used)
        if used is not None and used is not sock and probe.proto == "icmp":
            self.listeners.watch_replies(probe.host, used)
        self._current = _Act(probe, outcome, route, tables, self._changes, self._windows[-1])
        self._changes = []
        return outcome

    def observation(self) -> Observation:
        """Everything observed so far (the act under way with what is known of it)."""
        acts = list(self.acts)
        if self._current is not None:
            acts.append(self._facts(self._current))
        if not acts:
            return Observation(acts=[])
        frames = self.capture.frames
        if self._current is None and self._judged is not None:
            frames = frames[: self._judged]
        arp, packets = frame_records(frames, acts[0].outcome.time, self._windows)
        return Observation(
            acts=acts, arp=arp, packets=packets, received=list(self.listeners.receipts)
        )

    def settle(self, expect: Expect | None = None) -> str:
        """Wait until the act under way has finished (see `_settle`), then read the
        neighbour tables and links; return why it was considered finished."""
        current = self._current
        assert current is not None, "settle() follows act()"
        reason = self._settle(current, expect)
        self._judged = len(self.capture.frames)
        self.acts.append(
            self._facts(current).model_copy(
                update={
                    "settled": reason,
                    "settle_read": self._read,
                    **state_after_act(self.net, self.record_links),
                }
            )
        )
        self._current = None
        return reason

    def finish(self) -> Observation:
        """Settle what is under way, read the sysctls, and give the case's Observation."""
        if self._current is not None:
            self.settle()
        self.capture.finish()
        observation = self.observation()
        sysctls = watched_sysctls(self.net, self._changed_sysctls)
        return observation.model_copy(update={"sysctls": sysctls})

    def write_pcaps(self, run_dir: Path, folder: Path) -> list[Path]:
        """RUN/FOLDER.pcapng with the whole case, and one pcap per interface in RUN/FOLDER/
        (FOLDER relative to the run folder: harness/core/run_folder.py writes them)."""
        whole = self.capture.write_pcapng(run_dir, folder.with_name(f"{folder.name}.pcapng"))
        return ([whole] if whole else []) + self.capture.write_pcaps(run_dir, folder)

    @property
    def notes(self) -> list[str]:
        """What the builder says about the topology (tuning, checksums)."""
        return list(self.net.log)

    # ------------------------------------------------------------ internals

    @staticmethod
    def _facts(current: _Act) -> ActFacts:
        return ActFacts(
            outcome=current.outcome,
            changes=current.changes,
            route=current.route,
            tables=current.tables,
        )

    def _neighbour_read(self) -> tuple[dict[str, list[str]], list[_Resolving]]:
        """Every host's resolving neighbour entries, as `dst STATE dev`, and those still
        being resolved (INCOMPLETE: frames may be queued behind them).

        A read that fails (a dump interrupted three times, no answer) names itself as
        pending: it can never count as "none being resolved".
        """
        seen: dict[str, list[str]] = {}
        pending: list[_Resolving] = []
        for host in self.net.topology.hosts:
            ns = self.net.host(host)
            try:
                entries = ns.rtnl.neighbours()
            except (NetlinkError, deadlines.WaitTimeout) as exc:
                seen[host] = [f"(read failed: {exc})"]
                pending.append(_Resolving(host, f"neighbour read failed ({exc})", ""))
                continue
            names = ns.interface_names()
            seen[host] = []
            for entry in entries:
                if entry.state & (NUD_NOARP | NUD_PERMANENT):
                    continue  # multicast, loopback, static: never resolved
                dev = names.get(entry.ifindex, str(entry.ifindex))
                seen[host].append(f"{entry.dst} {state_name(entry.state)} {dev}")
                if entry.state & NUD_INCOMPLETE:
                    pending.append(_Resolving(host, str(entry.dst), dev))
        return seen, pending

    def _resolution_bound(self, pending: list[_Resolving]) -> float:
        """How long, by the kernel's own timers, the pending resolutions can last: each
        interface's (mcast_solicit + app_solicit) x retrans_time_ms, read from the
        namespace, plus proxy_delay for a reply by proxy (neigh_timer_handler)."""
        longest = 0.0
        for item in pending:
            if not item.dev:
                continue
            family = "ipv6" if ":" in item.dst else "ipv4"
            conf = f"net/{family}/neigh/{item.dev}"
            keys = [f"{conf}/{k}" for k in ("retrans_time_ms", "mcast_solicit", "app_solicit")]
            values = self.net.host(item.host).read_sysctls(keys)
            retrans = int(values.get(keys[0], "1000")) / 1000
            probes = int(values.get(keys[1], "3")) + int(values.get(keys[2], "0"))
            longest = max(longest, retrans * probes + PROXY_DELAY_MAX_S)
        return longest

    def _settle(self, current: _Act, expect: Expect | None) -> str:
        """Collect frames and deliveries until the act's outcome is determined; say why.

        It ends at once when the syscall failed and nothing was sent; when
        everything the expectation says happens has been seen and no neighbour
        entry is still being resolved (frames may be queued behind one); or
        after deadlines.SETTLE_QUIET_S without a new frame, delivery or neighbour
        change, with none being resolved.  A resolution counts as being resolved
        until the kernel's notification of its end has been read (`_Resolutions`):
        its reply, the frames it releases from the entry's arp_queue, or the ICMP
        error of a FAILED entry may not be read before that.  The act ends at the latest after
        deadlines.SETTLE_DEADLINE_S, or after the longest a pending resolution can
        last by the kernel's own timers, whichever is later.
        """
        capture, listeners = self.capture, self.listeners
        index = len(self.acts)
        events = {sock: host for host, sock in capture.neighbour_events.items()}
        wake: deadlines.Readable[Any] = deadlines.Readable(
            [*capture.sockets(), *capture.fds(), *listeners.sockets(), *events]
        )
        start = last_new = time.monotonic()
        quiet = self.timers.quiet_s
        deadline = start + self.timers.deadline_s
        resolutions = _Resolutions()
        while True:
            if capture.poll() + listeners.poll():
                last_new = time.monotonic()
            now = time.monotonic()
            self._read, incomplete = self._neighbour_read()
            pending, ended = resolutions.read(incomplete)
            if ended:  # the frames it released are read at the next poll
                last_new = now
            if pending:
                deadline = max(deadline, start + self._resolution_bound(pending))
            if not pending:
                probe = current.probe
                if (
                    probe is not None
                    and current.outcome.errno != "ok"
                    and len(capture.frames) == current.window
                ):
                    return "the syscall failed and nothing was sent"
                if expect is not None and expect.settled_by(
                    Evidence(
                        self.observation(),
                        index,
                        probe.host if probe else "",
                        str(probe.dst) if probe else "",
                        probe.proto if probe else "udp",
                    )
                ):
                    return "everything the claim expects to happen was seen"
                if now - last_new >= quiet:
                    return (
                        f"no frame or neighbour change for {quiet * 1000:.0f} ms, "
                        "none being resolved"
                    )
            if now >= deadline:
                still = ", ".join(map(str, pending)) or "nothing"
                return (
                    f"deadline reached after {now - start:.2f} s (the kernel's own timers for "
                    f"what was pending); still resolving: {still}"
                )
            if pending:
                # Only a neighbour change (or a frame) can end the act now: wait for one.
                timeout = deadline - now
            else:
                timeout = min(max(quiet - (now - last_new), 0.001), deadline - now)
            timeout = deadlines.bound(timeout, f"waiting for act {index + 1} to settle")
            for sock in wake.wait(timeout):
                if sock in events:
                    # A neighbour changing state is activity too: a FAILED entry drops
                    # its queue and the kernel then reports the failure (ICMP on lo).
                    resolutions.news(events[sock], deadlines.drain(sock))
                    last_new = time.monotonic()
