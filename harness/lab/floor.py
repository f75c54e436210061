"""The floor: the kernel's own work for a typical case, done as directly as Python allows.

A typical case of the catalogue is two hosts on one link: two anonymous
namespaces, a veth pair between them, an address on each end, the links up,
the carrier through linkwatch, a packet socket open in each namespace, and
one UDP datagram sent from one host to the other, which has the kernel resolve
the peer with ARP before it delivers it.  `floor()` does exactly that, in one
thread, with plain syscalls: unshare(CLONE_NEWNET), one plain NETLINK_ROUTE
socket per namespace (the veth request encoded here, the rest by `Rtnl`), no
pyroute2 IPRoute, no scenario, no record.  What it measures is what the kernel
takes for that work plus the least Python can add; `harness bench` prints the
harness's median per case beside it, as a ratio.

Closing the packet sockets is timed apart (`teardown`): packet_release() waits
for an RCU grace period (synchronize_net), which the harness takes off the
case's critical path (harness/lab/capture.py), and the namespaces' destruction
(cleanup_net) runs in a kernel work queue after the last reference goes.
IPv6 is switched off in both namespaces, as the builder does for an IPv4 case,
so that DAD and MLD reports add no work of their own.
"""

from __future__ import annotations

import functools
import ipaddress
import os
import select
import socket
import struct
import time
from dataclasses import dataclass

from pyroute2.netlink import NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REQUEST
from pyroute2.netlink.rtnl import RTM_NEWLINK, RTMGRP_LINK

from harness.core import deadlines
from harness.lab.linux import CLONE_NEWNET, ETH_P_ALL, LIBC
from harness.lab.netns import _THREAD_NS, _check, _inside, _setns
from harness.lab.rtnl import IFINFOMSG, NLA_HDR, Rtnl

IFLA_IFNAME = 3
IFLA_LINKINFO = 18
IFLA_NET_NS_FD = 28
IFLA_INFO_KIND = 1
IFLA_INFO_DATA = 2
VETH_INFO_PEER = 1
NLA_F_NESTED = 0x8000
ADDRESSES = (ipaddress.ip_interface("192.0.2.1/24"), ipaddress.ip_interface("192.0.2.2/24"))
PORT = 9  # discard: a listener is bound to it in the receiving namespace
VETH_INDEX = (1000, 1001)  # chosen, as netns.NetNS.add_link does (never equal ifindexes)


@dataclass(frozen=True)
class FloorTimes:
    """One run of the floor, in seconds."""

    build: float  # namespaces, veth pair, addresses, links up
    carrier: float  # until both ends are operationally up (linkwatch)
    capture: float  # a packet socket opened in each namespace
    delivery: float  # sendto() until the datagram is read on the other side
    teardown: float  # closing everything (packet_release's grace period): off the floor

    @property
    def total(self) -> float:
        """The floor of one case: everything but the teardown."""
        return self.build + self.carrier + self.capture + self.delivery


def _nla(kind: int, payload: bytes) -> bytes:
    size = NLA_HDR.size + len(payload)
    return NLA_HDR.pack(size, kind) + payload + b"\0" * (-size % 4)


def veth_request(name: str, index: int, peer: str, peer_index: int, peer_fd: int) -> bytes:
    """The body of RTM_NEWLINK for `ip link add NAME type veth peer name PEER netns FD`
    (rtnl_newlink -> veth_newlink), with both ifindexes chosen."""
    peer_info = IFINFOMSG.pack(socket.AF_UNSPEC, 0, peer_index, 0, 0)
    peer_info += _nla(IFLA_IFNAME, peer.encode() + b"\0")
    peer_info += _nla(IFLA_NET_NS_FD, struct.pack("=I", peer_fd))
    info = _nla(IFLA_INFO_KIND, b"veth\0")
    info += _nla(IFLA_INFO_DATA | NLA_F_NESTED, _nla(VETH_INFO_PEER | NLA_F_NESTED, peer_info))
    body = IFINFOMSG.pack(socket.AF_UNSPEC, 0, index, 0, 0)
    return (
        body + _nla(IFLA_IFNAME, name.encode() + b"\0") + _nla(IFLA_LINKINFO | NLA_F_NESTED, info)
    )


def _namespace() -> int:
    """A new anonymous namespace: its fd; this thread is back where it was."""
    here = os.open(_THREAD_NS, os.O_RDONLY | os.O_CLOEXEC)
    try:
        _check(LIBC.unshare(CLONE_NEWNET), "unshare(CLONE_NEWNET)")
        try:
            return os.open(_THREAD_NS, os.O_RDONLY | os.O_CLOEXEC)
        finally:
            _setns(here)
    finally:
        os.close(here)


def _write(path: str, value: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, value.encode())
    finally:
        os.close(fd)


def floor() -> FloorTimes:
    """Run the typical case's kernel work once; its times (see the module docstring)."""
    opened: list[socket.socket] = []
    fds: list[int] = []
    try:
        start = time.perf_counter()
        fds += [_namespace(), _namespace()]
        rtnl: list[Rtnl] = []
        monitors: list[socket.socket] = []
        for fd in fds:
            with _inside(fd):
                for scope in ("all", "default"):
                    _write(f"/proc/sys/net/ipv6/conf/{scope}/disable_ipv6", "1")
                rtnl.append(Rtnl(socket.socket(socket.AF_NETLINK, socket.SOCK_RAW)))
                monitor = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW)
                monitor.bind((0, RTMGRP_LINK))
                monitor.setblocking(False)
                monitors.append(monitor)
        opened += [r.sock for r in rtnl] + monitors
        body = veth_request("eth0", VETH_INDEX[0], "eth0", VETH_INDEX[1], fds[1])
        rtnl[0].send_request(
            RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, body
        )
        for side in (0, 1):
            rtnl[side].address("add", VETH_INDEX[side], ADDRESSES[side])
            rtnl[side].set_link(VETH_INDEX[side], up=True)
        built = time.perf_counter()
        _wait_carrier(rtnl, monitors)
        carried = time.perf_counter()
        captures = []
        for fd in fds:
            with _inside(fd):
                captures.append(
                    socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
                )
        opened += captures
        with _inside(fds[1]):
            listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        opened.append(listener)
        listener.bind((str(ADDRESSES[1].ip), PORT))
        with _inside(fds[0]):
            sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        opened.append(sender)
        captured = time.perf_counter()
        sender.sendto(b"floor", (str(ADDRESSES[1].ip), PORT))
        if not select.select([listener], [], [], deadlines.READY_DEADLINE_S)[0]:
            raise deadlines.WaitTimeout("the floor's datagram was not delivered")
        listener.recv(64)
        delivered = time.perf_counter()
    finally:
        closing = time.perf_counter()
        for sock in opened:
            sock.close()
        for fd in fds:
            os.close(fd)
        ended = time.perf_counter()
    return FloorTimes(
        build=built - start,
        carrier=carried - built,
        capture=captured - carried,
        delivery=delivered - captured,
        teardown=ended - closing,
    )


def _wait_carrier(rtnl: list[Rtnl], monitors: list[socket.socket]) -> None:
    """Until both veth ends are up with carrier: woken by the link notifications."""

    def up(side: int, events: list[bytes]) -> bool:
        # What the builder waits for too (network.ready_in): operstate UP.
        del events  # the link table is read again instead
        states = {link.index: link.operstate for link in rtnl[side].links()}
        return states.get(VETH_INDEX[side]) == "UP"

    deadlines.wait_each(
        {monitors[side]: functools.partial(up, side) for side in (0, 1)},
        deadlines.READY_DEADLINE_S,
        "the floor's veth pair to get carrier",
    )
