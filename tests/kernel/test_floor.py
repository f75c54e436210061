"""The floor (harness/lab/floor.py): the kernel work it times is the work a case does.

The veth request is encoded by hand, so iproute2 reads back what it made; the
floor itself has to get its datagram delivered (ARP resolved on the way), or
it raises instead of timing something else.
"""

from __future__ import annotations

import os

import pytest
from pyroute2.netlink import NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REQUEST
from pyroute2.netlink.rtnl import RTM_NEWLINK

from harness.lab.floor import floor, veth_request
from harness.lab.netns import Lab
from tests.conftest import ip_json, needs_root

pytestmark = [needs_root, pytest.mark.kernel]


def test_the_hand_encoded_veth_request_makes_the_pair_across_namespaces() -> None:
    with Lab("floor") as lab:
        a, b = lab.namespace("a"), lab.namespace("b")
        body = veth_request("left", 1000, "right", 1001, b.fd)
        flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL
        a.rtnl.send_request(RTM_NEWLINK, flags, body)
        left = [link for link in ip_json(a, "-d", "link", "show") if link["ifname"] == "left"]
        right = [link for link in ip_json(b, "-d", "link", "show") if link["ifname"] == "right"]
        assert [(link["ifindex"], link["linkinfo"]["info_kind"]) for link in left] == [
            (1000, "veth")
        ]
        assert [(link["ifindex"], link["linkinfo"]["info_kind"]) for link in right] == [
            (1001, "veth")
        ]
        assert right[0]["link_index"] == 1000  # its peer is the other end, in the other namespace
        assert not any(link["ifname"] == "right" for link in ip_json(a, "link", "show"))


def test_the_floor_delivers_its_datagram_and_times_each_part() -> None:
    times = floor()
    parts = (times.build, times.carrier, times.capture, times.delivery)
    assert all(part > 0 for part in parts)
    assert times.total == pytest.approx(sum(parts))
    assert times.teardown > 0


def test_a_floor_run_leaves_this_thread_in_its_own_namespace() -> None:
    before = os.stat("/proc/thread-self/ns/net").st_ino
    floor()
    assert os.stat("/proc/thread-self/ns/net").st_ino == before
