"""Experiments written in Python with the fixtures from fixtures/, on the live kernel.

These say what a YAML case cannot: one socket used twice, with its option
changed in between, and the capture read directly.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable

import pytest

from harness.capture import Capture
from harness.probes import Listeners, default_listeners, open_sender, transmit
from harness.runner import settle
from harness.scenario import Expect, Probe, Topology
from harness.topology import Network

pytestmark = pytest.mark.kernel

FAR = Probe(host="sender", dst=ipaddress.IPv4Address("198.51.100.184"), sockopts=["SO_DONTROUTE"])


def test_dontroute_can_be_cleared_on_the_same_socket(
    network: Callable[[str | Topology], Network],
) -> None:
    net = network("lan-with-gateway")
    capture = Capture(net.lab)
    listeners = Listeners(net, default_listeners(net, [FAR]))
    sock = open_sender(net, FAR)

    first = transmit(sock, FAR, b"with SO_DONTROUTE")
    assert first.errno == "ENETUNREACH"

    sock.setsockopt(socket.SOL_SOCKET, socket.SO_DONTROUTE, 0)
    second = transmit(sock, FAR, b"without it")
    assert second.errno == "ok"

    expect = Expect.model_validate({"received": ["far from 192.0.2.224"]})
    obs, _why = settle(net, capture, listeners, [second], [0], expect, FAR)
    assert [(r.host, r.src, r.payload_size) for r in obs.received] == [
        ("far", "192.0.2.224", len(b"without it"))
    ]


def test_capture_sees_the_first_frame(network: Callable[[str | Topology], Network]) -> None:
    """The capture exists before the probe, so the very first frame the probe causes is in it."""
    net = network("lan-with-gateway")
    capture = Capture(net.lab)
    peer = Probe(host="sender", dst=ipaddress.IPv4Address("192.0.2.193"))
    listeners = Listeners(net, default_listeners(net, [peer]))
    outcome = transmit(open_sender(net, peer), peer, b"first")
    expect = Expect.model_validate({"received": ["peer"]})
    obs, _why = settle(net, capture, listeners, [outcome], [0], expect, peer)
    first = obs.trace()[0]
    assert (first.host, first.ifname, first.direction, str(first)) == (
        "sender",
        "eth0",
        "out",
        "ARP who-has 192.0.2.193 tell 192.0.2.224",
    )
    assert first.t_ms >= 0
