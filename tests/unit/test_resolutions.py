"""The settle loop's bookkeeping of neighbour resolutions (harness/case/session.py).

A resolution a read found INCOMPLETE stays pending until the kernel's notification of
its end has been read, even when a later dump already shows the new state: the
kernel sends that notification only after the frames the entry held were sent
(tests/kernel/test_rtnl.py shows that order on the live kernel).  The
notifications here are encoded with pyroute2's ndmsg, as the kernel lays them out.
"""

from __future__ import annotations

import socket

from pyroute2.netlink.rtnl import RTM_DELNEIGH, RTM_NEWNEIGH
from pyroute2.netlink.rtnl.ndmsg import ndmsg

from harness.case.session import _Resolutions, _Resolving

INCOMPLETE, REACHABLE, FAILED = 0x01, 0x02, 0x20
ENTRY = _Resolving("sender", "198.51.100.184", "eth0")


def _news(kind: int, state: int, dst: str = "198.51.100.184") -> list[bytes]:
    msg = ndmsg()
    msg["family"] = socket.AF_INET6 if ":" in dst else socket.AF_INET
    msg["ifindex"], msg["state"] = 2, state
    msg["attrs"] = [("NDA_DST", dst)]
    msg["header"]["type"] = kind
    msg.encode()
    return [bytes(msg.data)]


def test_an_end_the_dump_shows_is_pending_until_the_kernel_announces_it() -> None:
    resolutions = _Resolutions()
    assert resolutions.read([ENTRY]) == ([ENTRY], False)
    # The dump already reads REACHABLE; the released datagram may not be sent yet.
    assert resolutions.read([]) == ([ENTRY], False)
    resolutions.news("sender", _news(RTM_NEWNEIGH, REACHABLE))
    assert resolutions.read([]) == ([], True)
    assert resolutions.read([]) == ([], False)


def test_a_failure_or_a_deletion_is_an_end_too_and_news_of_others_is_not() -> None:
    for kind, state in ((RTM_NEWNEIGH, FAILED), (RTM_DELNEIGH, INCOMPLETE)):
        resolutions = _Resolutions()
        resolutions.read([ENTRY])
        resolutions.news("peer", _news(RTM_NEWNEIGH, REACHABLE))  # another host
        resolutions.news("sender", _news(RTM_NEWNEIGH, REACHABLE, "198.51.100.1"))
        assert resolutions.read([]) == ([ENTRY], False)
        resolutions.news("sender", _news(kind, state))
        assert resolutions.read([]) == ([], True)


def test_news_read_before_a_new_resolution_of_the_same_address_does_not_end_it() -> None:
    resolutions = _Resolutions()
    resolutions.news("sender", _news(RTM_NEWNEIGH, REACHABLE))  # an earlier resolution
    assert resolutions.read([ENTRY]) == ([ENTRY], False)
    assert resolutions.read([]) == ([ENTRY], False)
    resolutions.news("sender", _news(RTM_NEWNEIGH, REACHABLE))
    assert resolutions.read([]) == ([], True)


def test_a_failed_read_is_pending_for_that_read_only() -> None:
    failed = _Resolving("sender", "neighbour read failed (timeout)", "")
    resolutions = _Resolutions()
    assert resolutions.read([failed]) == ([failed], False)
    assert resolutions.read([]) == ([], False)
