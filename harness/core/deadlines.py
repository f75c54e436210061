"""Every wait and every timer of the harness, in one place.

No stage sleeps for a fixed time.  A stage waits for an event: a netlink
notification, a packet on a capture socket, a datagram on a listener. Each
wait is bounded by a deadline.  Where a claim is that something does *not*
happen, the only interval is the settle window below, applied once per probe.
"""

from __future__ import annotations

import argparse
import contextvars
import errno
import math
import select
import socket
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Generic, Protocol, TypeVar

# A namespace's links must be up and bridge ports forwarding within this bound.
READY_DEADLINE_S = 2.0

# The kernel's ARP defaults (3 probes, 1 s apart) would make "nobody answered"
# cost 3 s.  Inside scenario namespaces only, the retransmit interval is cut so
# an unanswered neighbour turns FAILED after ARP_MCAST_SOLICIT x ARP_RETRANS_MS.
# The number of probes is left at the kernel's default, so what ARP asks for
# and how often is unchanged; the trace of every case states this tuning.
# A case where a timer could decide the answer (proxy ARP/ND, whose replies
# come after a random delay; neighbour timers the scenario sets itself) keeps
# the kernel's own timers: see harness/lab/neighbour_timers.py.
ARP_RETRANS_MS = 20
ARP_MCAST_SOLICIT = 3

# After a probe, the case is settled when no neighbour entry is still being
# resolved and neither a frame nor a neighbour change has been seen for
# SETTLE_QUIET_S; it ends earlier when
# everything the expectation asks for has been seen, or at once when the
# syscall failed and nothing at all was sent.  SETTLE_DEADLINE_S bounds it,
# stretched to the kernel's own timers for a resolution still pending.
SETTLE_QUIET_S = 0.03
SETTLE_DEADLINE_S = 1.5
# The slow, obviously-correct way, for checking the fast one (`--kernel-timers`):
# the kernel's default neighbour timers everywhere, and a quiet window longer
# than any kernel timer a case involves (ARP/ND retransmit 1 s, proxy delay 0.8 s).
KERNEL_TIMERS_QUIET_S = 3.0
KERNEL_TIMERS_DEADLINE_S = 8.0
# The longest a scenario's own neighbour timers may make one pending resolution
# hold an act ((mcast_solicit + app_solicit) x retrans_time + proxy_delay, see
# harness/case/session.py): the loader refuses timers that imply more
# (harness/scenario/limits.py).  The kernel's defaults make 3.8 s; 30 s leaves room
# for a claim about slower timers, where 3600000 ms x 1000 probes made 41 days.
NEIGHBOUR_WAIT_MAX_S = 30.0

# The kernel answers every netlink request (an ACK, an error, or a dump's end);
# this bounds the wait for that answer all the same.
NETLINK_REPLY_DEADLINE_S = 2.0

# One case's wall-clock budget, set-up and every act together (`harness run
# --case-timeout`).  Each wait above is bounded on its own; this caps their sum,
# so that no scenario (a hundred acts, each to its deadline) holds a worker for
# long.  Measured: the catalogue's longest case takes 0.9 s (`harness bench`),
# about 6 s with --kernel-timers (no case has more than 3 acts: at most 24 s by
# KERNEL_TIMERS_DEADLINE_S).  The loader's bounds (harness/scenario/limits.py: 32
# acts, 64 namespaces) still let a legitimate case run longer, most of all with
# --kernel-timers (32 acts x 8 s); such a case ends as an `error` naming the flag
# that lifts the budget, never as a verdict.
CASE_BUDGET_S = 120.0
CASE_BUDGET_FLAG = "--case-timeout"


class _HasFileno(Protocol):
    def fileno(self) -> int: ...


Source = TypeVar("Source", bound=int | _HasFileno)


class WaitTimeout(TimeoutError):
    """A bounded wait ran out; the message says what was awaited."""


class BudgetExceeded(Exception):
    """The case under way ran past its wall-clock budget; the message names it and the flag."""


# (monotonic end, seconds) of the case under way; unset: no budget (the Python API).
_budget: contextvars.ContextVar[tuple[float, float] | None] = contextvars.ContextVar(
    "case_budget", default=None
)


@contextmanager
def case_budget(seconds: float | None) -> Iterator[None]:
    """Within this block, every wait of the harness ends by `seconds` from now (None: no
    budget); one that would go past it raises BudgetExceeded."""
    token = _budget.set(None if seconds is None else (time.monotonic() + seconds, seconds))
    try:
        yield
    finally:
        _budget.reset(token)


def seconds_above_zero(value: str) -> float:
    """A budget as `--case-timeout` takes it (an argparse type: a bad one is one line)."""
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds) or seconds <= 0:
        raise argparse.ArgumentTypeError(f"{value!r}: give a number of seconds above 0")
    return seconds


def bound(wait_s: float, what: str) -> float:
    """`wait_s`, cut to what is left of the case's budget; BudgetExceeded, naming `what` the
    case was doing, when nothing is left."""
    budget = _budget.get()
    if budget is None:
        return wait_s
    end, seconds = budget
    left = end - time.monotonic()
    if left <= 0:
        raise BudgetExceeded(
            f"the case ran past its wall-clock budget of {seconds:g} s while {what} "
            f"(harness run {CASE_BUDGET_FLAG} SECONDS sets it)"
        )
    return min(wait_s, left)


def within_budget(what: str) -> None:
    """BudgetExceeded, naming `what` the case is about to do, when its budget is spent."""
    bound(0.0, what)


class Readable(Generic[Source]):
    """Sources (sockets, or plain fds) to wait on until one has something to read.

    poll(2), not select(2): select's fd sets stop at FD_SETSIZE (1024), and a
    process holding many fds (a hundred namespaces, before the loader bounded
    them; a long-lived Python API user) gets fds numbered beyond that
    ("filedescriptor out of range in select()").
    """

    def __init__(self, sources: Iterable[Source]) -> None:
        self._poller = select.poll()
        self._by_fd: dict[int, Source] = {}
        self._fds: dict[Source, int] = {}
        for source in sources:
            fd = source if isinstance(source, int) else source.fileno()
            self._by_fd[fd], self._fds[source] = source, fd
            self._poller.register(fd, select.POLLIN)

    def remove(self, source: Source) -> None:
        """No longer wake on `source`."""
        fd = self._fds.pop(source)
        del self._by_fd[fd]
        self._poller.unregister(fd)

    def wait(self, timeout_s: float) -> list[Source]:
        """Those with something to read (or an error or hang-up, as select reports them)
        within `timeout_s`; none when it ran out."""
        # poll takes milliseconds; rounded up, so that a wait of 0.4 ms does not spin.
        ready = self._poller.poll(max(0, math.ceil(timeout_s * 1000)))
        return [self._by_fd[fd] for fd, _ in ready if fd in self._by_fd]


def wait_each(
    checks: dict[socket.socket, Callable[[list[bytes]], bool]], deadline_s: float, what: str
) -> None:
    """Wait until every condition holds; each is re-checked when its own socket has news.

    The sockets are event sources (a netlink group per namespace).  A condition
    is called with what its socket carried since the last call (nothing, the
    first time), and may re-read the state as well.  Bounded by `deadline_s` for
    all of them together.
    """
    pending = {sock: done for sock, done in checks.items() if not done([])}
    waiting = Readable(pending)
    end = time.monotonic() + deadline_s
    while pending:
        left = end - time.monotonic()
        if left <= 0:
            raise WaitTimeout(f"gave up after {deadline_s:.1f}s waiting for {what}")
        for sock in waiting.wait(bound(left, f"waiting for {what}")):
            if pending[sock](drain(sock)):
                del pending[sock]
                waiting.remove(sock)


def drain(sock: socket.socket) -> list[bytes]:
    """Read whatever is queued on a non-blocking event socket.

    A netlink socket whose buffer overflowed reports ENOBUFS once: notifications
    were lost.  That is news too; the conditions re-read the state, and one that
    can only learn from notifications runs into its deadline and says so.
    """
    received = []
    while True:
        try:
            received.append(sock.recv(65536, socket.MSG_DONTWAIT))
        except (BlockingIOError, InterruptedError):
            return received
        except OSError as exc:
            if exc.errno != errno.ENOBUFS:
                raise
