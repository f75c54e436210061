"""Every wait and every timer of the harness, in one place.

No stage sleeps for a fixed time.  A stage waits for an event: a netlink
notification, a packet on a capture socket, a datagram on a listener. Each
wait is bounded by a deadline.  Where a claim is that something does *not*
happen, the only interval is the settle window below, applied once per probe.
"""

from __future__ import annotations

import errno
import select
import socket
import time
from collections.abc import Callable

# A namespace's links must be up and bridge ports forwarding within this bound.
READY_DEADLINE_S = 2.0

# The kernel's ARP defaults (3 probes, 1 s apart) would make "nobody answered"
# cost 3 s.  Inside scenario namespaces only, the retransmit interval is cut so
# an unanswered neighbour turns FAILED after ARP_MCAST_SOLICIT x ARP_RETRANS_MS.
# The number of probes is left at the kernel's default, so what ARP asks for
# and how often is unchanged; the trace of every case states this tuning.
# A case where a timer could decide the answer (proxy ARP/ND, whose replies
# come after a random delay; neighbour timers the scenario sets itself) keeps
# the kernel's own timers: see harness/timers.py.
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
# harness/session.py): the loader refuses timers that imply more
# (harness/scenario/limits.py).  The kernel's defaults make 3.8 s; 30 s leaves room
# for a claim about slower timers, where 3600000 ms x 1000 probes made 41 days.
NEIGHBOUR_WAIT_MAX_S = 30.0

# The kernel answers every netlink request (an ACK, an error, or a dump's end);
# this bounds the wait for that answer all the same.
NETLINK_REPLY_DEADLINE_S = 2.0


class WaitTimeout(TimeoutError):
    """A bounded wait ran out; the message says what was awaited."""


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
    end = time.monotonic() + deadline_s
    while pending:
        left = end - time.monotonic()
        if left <= 0:
            raise WaitTimeout(f"gave up after {deadline_s:.1f}s waiting for {what}")
        readable, _, _ = select.select(list(pending), [], [], left)
        for sock in readable:
            if pending[sock](drain(sock)):
                del pending[sock]


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
