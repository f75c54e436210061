"""Probes: real sockets inside the namespaces, doing what an article's test program did.

The sender sets the socket options the case names and calls sendto(); the
errno (or `ok`) is the kernel's answer.  Listeners on the other hosts record
every datagram that reaches a socket, with the address it came from.
"""

from __future__ import annotations

import errno
import os
import socket
import struct
import time
from dataclasses import dataclass

from harness.scenario import Probe
from harness.topology import Network

IP_PKTINFO = 8  # Linux value; socket.IP_PKTINFO is missing on some Python builds


@dataclass(frozen=True)
class ProbeOutcome:
    """What the kernel answered to the probe's syscall."""

    errno: str  # "ok" or an errno name
    message: str
    time: float  # wall clock just before the syscall, on the capture clock


@dataclass(frozen=True)
class Receipt:
    """A datagram delivered to a listener socket."""

    host: str
    src: str
    sport: int
    dst: str
    ifname: str
    payload_size: int


def errno_name(code: int) -> str:
    """ENETUNREACH for 101, etc."""
    return errno.errorcode.get(code, f"E{code}")


def open_sender(net: Network, probe: Probe) -> socket.socket:
    """A UDP socket in the probe's host with the probe's socket options set."""
    sock = net.lab.socket(probe.host, socket.AF_INET, socket.SOCK_DGRAM)
    if "SO_DONTROUTE" in probe.sockopts:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_DONTROUTE, 1)
    if probe.bind_device:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, probe.bind_device.encode())
    return sock


def transmit(sock: socket.socket, probe: Probe, payload: bytes) -> ProbeOutcome:
    """sendto() once, with the probe's send flags; the kernel's answer as an outcome."""
    flags = socket.MSG_DONTROUTE if "MSG_DONTROUTE" in probe.flags else 0
    started = time.time()
    try:
        sock.sendto(payload, flags, (str(probe.dst), probe.port))
    except OSError as exc:
        return ProbeOutcome(errno_name(exc.errno or 0), f"sendto: {exc.strerror}", started)
    return ProbeOutcome("ok", f"sendto: {len(payload)} bytes accepted", started)


def send(net: Network, probe: Probe, payload: bytes) -> ProbeOutcome:
    """Open the probe's socket and send one datagram (the whole probe of a YAML case)."""
    try:
        sock = open_sender(net, probe)
    except OSError as exc:
        return ProbeOutcome(errno_name(exc.errno or 0), f"setsockopt: {exc.strerror}", time.time())
    return transmit(sock, probe, payload)


class Listeners:
    """A UDP socket bound to 0.0.0.0:port on every host but the sender."""

    def __init__(self, net: Network, probe: Probe) -> None:
        self._net = net
        self._sockets: dict[str, socket.socket] = {}
        self.receipts: list[Receipt] = []
        for host in net.topology.hosts:
            if host == probe.host:
                continue
            sock = net.lab.socket(host, socket.AF_INET, socket.SOCK_DGRAM)
            sock.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
            sock.bind(("0.0.0.0", probe.port))
            sock.setblocking(False)
            self._sockets[host] = sock

    def sockets(self) -> list[socket.socket]:
        """The listener sockets, for select()."""
        return list(self._sockets.values())

    def poll(self) -> int:
        """Move every queued datagram into `receipts`; return how many were new."""
        before = len(self.receipts)
        for host, sock in self._sockets.items():
            while True:
                try:
                    data, ancdata, _flags, (src, sport) = sock.recvmsg(65535, socket.CMSG_SPACE(12))
                except (BlockingIOError, InterruptedError):
                    break
                ifname, dst = "?", "?"
                for level, kind, payload in ancdata:
                    if level == socket.IPPROTO_IP and kind == IP_PKTINFO:
                        ifindex, _spec_dst, addr = struct.unpack("i4s4s", payload[:12])
                        dst = socket.inet_ntoa(addr)
                        ifname = self._net.host(host).interface_names().get(ifindex, str(ifindex))
                self.receipts.append(Receipt(host, src, sport, dst, ifname, len(data)))
        return len(self.receipts) - before


def payload_for(case_key: str, size: int) -> bytes:
    """A payload that names the case, padded to `size` bytes."""
    marker = f"harness {case_key} {os.getpid()} ".encode()
    return (marker * (size // max(len(marker), 1) + 1))[:size]
