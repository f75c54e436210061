"""Experiments written in Python with the fixtures from fixtures/, on the live kernel.

These say what a YAML case cannot: one socket used twice, with its option
changed in between, and the capture read directly.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable

import pytest

from harness.case.session import CaseSession
from harness.scenario import Expect, Probe

pytestmark = pytest.mark.kernel

FAR = Probe(host="sender", dst=ipaddress.IPv4Address("198.51.100.184"), sockopts=["SO_DONTROUTE"])


def test_dontroute_can_be_cleared_on_the_same_socket(
    case_session: Callable[..., CaseSession],
) -> None:
    session = case_session("lan-with-gateway", [FAR])
    first = session.act(FAR)
    assert first.errno == "ENETUNREACH"
    session.settle()

    sock = session.sockets[0]
    assert sock is not None
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_DONTROUTE, 0)
    second = session.act(FAR, sock)
    assert second.errno == "ok"

    session.settle(Expect.model_validate({"received": ["far from 192.0.2.224"]}))
    obs = session.observation()
    assert obs.received_during(0) == []
    payload = FAR.payload_size
    assert [(r.host, r.src, r.payload_size) for r in obs.received_during(1)] == [
        ("far", "192.0.2.224", payload)
    ]


def test_capture_sees_the_first_frame(case_session: Callable[..., CaseSession]) -> None:
    """The capture exists before the probe, so the very first frame the probe causes is in it."""
    peer = Probe(host="sender", dst=ipaddress.IPv4Address("192.0.2.193"))
    session = case_session("lan-with-gateway", [peer])
    session.act(peer)
    session.settle(Expect.model_validate({"received": ["peer"]}))
    first = session.observation().trace()[0]
    assert (first.host, first.ifname, first.direction, str(first)) == (
        "sender",
        "eth0",
        "out",
        "ARP who-has 192.0.2.193 tell 192.0.2.224",
    )
    assert first.t_ms >= 0
