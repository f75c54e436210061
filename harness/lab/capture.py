"""Capture: one packet socket per namespace, open before the probe acts, drained afterwards.

Why not scapy's `sniff`/`AsyncSniffer`: they read from a thread that may not
be running yet when the first packet goes by (scapy issue 3208).  Here the
AF_PACKET socket itself is the capture: once it exists, the kernel queues
every frame of every interface of its namespace into it, outgoing ones
included, stamped with the kernel's time.  Nothing runs in the background, and
the harness reads the queue when it wants.  scapy is used for what it is good at:
dissecting the frames and writing pcaps.
"""

from __future__ import annotations

import os
import socket
import struct
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from pyroute2.netlink.rtnl import RTMGRP_NEIGH
from scapy.utils import PcapWriter, RawPcapNgWriter

from harness.core import run_folder
from harness.lab.linux import ETH_P_ALL
from harness.lab.netns import Lab, NetNS

SO_TIMESTAMPNS = 35  # also SCM_TIMESTAMPNS
RCVBUF = 4 << 20
SNAPLEN = 14 + 65535  # an Ethernet header and the largest IP packet (a datagram on lo)

PKTTYPE_NAMES = {0: "host", 1: "broadcast", 2: "multicast", 3: "otherhost", 4: "outgoing", -1: "fd"}
PKTTYPE_FD = -1  # read by the harness from a tun/tap device's file descriptor
ARPHRD_ETHER = 1
ARPHRD_LOOPBACK = 772  # lo: frames carry an Ethernet header too
ARPHRD_NONE = 0xFFFE
ETHERNET_FRAMED = (ARPHRD_ETHER, ARPHRD_LOOPBACK)
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101

# What one case may capture.  The catalogue's busiest interface sees 18 frames in a
# case, its busiest case 71; the largest probe the loader allows (64 flows of a
# 65,507-byte datagram, fragmented) is about 2,900 frames and 4 MB on each interface
# it crosses.  A forwarding loop or a broadcast storm (a host bridging two ports of
# one LAN) passes any bound within a second: the case ends there, as an error, and
# memory (every frame is held until the case is judged) stays bounded.
MAX_FRAMES_PER_INTERFACE = 20_000
MAX_BYTES_PER_INTERFACE = 32 << 20
MAX_FRAMES_PER_CASE = 100_000
MAX_BYTES_PER_CASE = 128 << 20
# Packet sockets closed at once (one thread each); more are closed in turns.
MAX_CLOSING_THREADS = 32


@dataclass(frozen=True)
class Frame:
    """One frame as a packet socket saw it."""

    ns: str
    ifname: str
    pkttype: int
    hatype: int
    time: float
    data: bytes

    @property
    def direction(self) -> str:
        """`out` for frames this namespace sent, `in` for frames it received, `fd` for frames
        the kernel handed to a tun/tap file descriptor the harness holds."""
        return "out" if self.pkttype == 4 else "fd" if self.pkttype == PKTTYPE_FD else "in"


class CaptureLimit(Exception):
    """The case captured more than the harness holds (MAX_* above); the message says where."""


def _closing(sockets: list[socket.socket]) -> list[threading.Thread]:
    """Start closing packet sockets, in up to MAX_CLOSING_THREADS threads.

    packet_release() waits for an RCU grace period (synchronize_net), about 14 ms
    here; closed one after another, five sockets cost 70 ms, closed together one
    grace period.  Measured: 72 ms serial, 14 ms concurrent, for five.  A case
    with a thousand namespaces must not start a thousand threads at once.
    """

    def close_all(some: list[socket.socket]) -> None:
        for sock in some:
            sock.close()

    threads = [
        threading.Thread(target=close_all, args=(sockets[n::MAX_CLOSING_THREADS],))
        for n in range(min(len(sockets), MAX_CLOSING_THREADS))
    ]
    for thread in threads:
        thread.start()
    return threads


class Capture:
    """Packet sockets on every namespace of a lab, plus neighbour-event sockets to wake on."""

    def __init__(
        self, lab: Lab, device_fds: dict[tuple[str, str], tuple[int, bool]] | None = None
    ) -> None:
        """Open a packet socket in every namespace of `lab`.

        `device_fds` maps (namespace, tun/tap name) to (fd, is_tap): what the kernel
        writes to those fds is read like a capture.
        """
        self.frames: list[Frame] = []
        self._bytes = 0  # in `frames`
        self._per_interface: dict[tuple[str, str], tuple[int, int]] = {}  # frames, bytes
        self._device_fds = dict(device_fds or {})
        self._sockets: dict[str, socket.socket] = {}
        self._closers: list[threading.Thread] = []
        # Per namespace: RTM_NEWNEIGH/RTM_DELNEIGH notifications (harness/case/session.py).
        self.neighbour_events: dict[str, socket.socket] = {}
        lab.defer(self._release)
        for name, ns in lab.namespaces.items():
            self._sockets[name] = self._open(ns)
            events = lab.socket(name, socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
            events.bind((0, RTMGRP_NEIGH))
            events.setblocking(False)
            self.neighbour_events[name] = events

    @staticmethod
    def _open(ns: NetNS) -> socket.socket:
        sock = ns.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        sock.setblocking(False)
        return sock

    def finish(self) -> None:
        """Read what is left and start closing the packet sockets.

        The closes (one RCU grace period, ~14 ms) then run while the case ends
        and the next one is built; the lab's teardown does not wait for them.
        They stay this process's sockets until closed, so a kill still frees
        everything, and the interpreter waits for the threads before exiting.
        """
        self.poll()
        if not self._closers:
            self._closers = _closing(list(self._sockets.values()))

    def _release(self) -> None:
        if not self._closers:  # the case ended early (an error): close and wait here
            for thread in _closing(list(self._sockets.values())):
                thread.join(timeout=5)  # one RCU grace period each, ~14 ms

    def sockets(self) -> list[socket.socket]:
        """The capture sockets, to wake on."""
        return list(self._sockets.values())

    def fds(self) -> list[int]:
        """The tun/tap fds, to wake on."""
        return [fd for fd, _ in self._device_fds.values()]

    def poll(self) -> int:
        """Move every queued frame into `frames`; return how many were new."""
        before = len(self.frames)
        for ns_name, sock in self._sockets.items():
            while True:
                try:
                    data, ancdata, _flags, addr = sock.recvmsg(SNAPLEN, socket.CMSG_SPACE(16))
                except (BlockingIOError, InterruptedError):
                    break
                stamp = 0.0
                for level, kind, payload in ancdata:
                    if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                        sec, nsec = struct.unpack("qq", payload[:16])
                        stamp = sec + nsec / 1e9
                # CPython resolves the ifindex with an ioctl on this socket, i.e. in its namespace.
                ifname, _proto, pkttype, hatype = addr[0], addr[1], addr[2], addr[3]
                self._keep(Frame(ns_name, ifname, pkttype, hatype, stamp, data))
        for (ns_name, ifname), (fd, is_tap) in self._device_fds.items():
            while True:
                try:
                    data = os.read(fd, SNAPLEN)
                except (BlockingIOError, InterruptedError):
                    break
                hatype = ARPHRD_ETHER if is_tap else ARPHRD_NONE
                self._keep(Frame(ns_name, ifname, PKTTYPE_FD, hatype, time.time(), data))
        return len(self.frames) - before

    def _keep(self, frame: Frame) -> None:
        """Add `frame`; CaptureLimit past the case's or the interface's bound.  (The loops
        above end with it too: in a storm the socket's queue never runs empty.)"""
        key = (frame.ns, frame.ifname)
        frames, size = self._per_interface.get(key, (0, 0))
        frames, size = frames + 1, size + len(frame.data)
        self._per_interface[key] = (frames, size)
        self.frames.append(frame)
        self._bytes += len(frame.data)
        where = f"{frame.ns}/{frame.ifname}"
        for seen, limit, what in (
            (frames, MAX_FRAMES_PER_INTERFACE, "frames on " + where),
            (size, MAX_BYTES_PER_INTERFACE, "bytes on " + where),
            (len(self.frames), MAX_FRAMES_PER_CASE, "frames in all"),
            (self._bytes, MAX_BYTES_PER_CASE, "bytes in all"),
        ):
            if seen > limit:
                raise CaptureLimit(
                    f"the case captured more than {limit} {what}, the most the harness "
                    "keeps of one case (harness/lab/capture.py): a forwarding loop or a "
                    "broadcast storm? The case was stopped there"
                )

    def write_pcapng(self, run_dir: Path, relative: Path) -> Path | None:
        """The whole case in one pcapng, RUN/RELATIVE: an interface block per
        NAMESPACE/IFNAME, in time order."""
        if not self.frames:
            return None
        # scapy's raw writer takes the bytes as captured; its Packet-level writer
        # would need every frame dissected first (a quarter of a millisecond each)
        # only to learn the link type, which the capture already knows.
        with (
            run_folder.replacing(run_dir, relative) as path,
            RawPcapNgWriter(str(path)) as writer,
        ):
            writer.linktype = LINKTYPE_ETHERNET  # the section's first, unnamed interface
            writer.write_header(None)
            for frame in sorted(self.frames, key=lambda f: f.time):
                suffix = " (fd)" if frame.pkttype == PKTTYPE_FD else ""
                # The method write_packet() ends in; it is the one that takes the
                # link type, interface name and direction as arguments.
                writer._write_packet(
                    frame.data,
                    linktype=_linktype(frame),
                    sec=frame.time,
                    ifname=f"{frame.ns}/{frame.ifname}{suffix}".encode(),
                    direction=2 if frame.direction == "out" else 1,
                )
        return run_dir / relative

    def write_pcaps(self, run_dir: Path, folder: Path) -> list[Path]:
        """One pcap per interface that saw traffic, RUN/FOLDER/NAMESPACE-IFNAME.pcap (no
        folder at all when nothing was captured)."""
        if self.frames:
            run_folder.make_folder(run_dir, folder)
        groups: dict[tuple[str, str, bool], list[Frame]] = {}
        for frame in self.frames:
            key = (frame.ns, frame.ifname, frame.pkttype == PKTTYPE_FD)
            groups.setdefault(key, []).append(frame)
        paths = []
        for (ns_name, ifname, from_fd), frames in sorted(groups.items()):
            suffix = "-fd" if from_fd else ""
            relative = folder / f"{ns_name}-{ifname}{suffix}.pcap"
            linktype = _linktype(frames[0])
            with (
                run_folder.replacing(run_dir, relative) as path,
                PcapWriter(str(path), linktype=linktype, sync=False, nano=True) as writer,
            ):
                # write_packet() (unlike write()) does not emit the file header by itself.
                writer.write_header(None)
                for frame in frames:
                    sec = int(frame.time)
                    writer.write_packet(frame.data, sec=sec, usec=round((frame.time - sec) * 1e9))
            paths.append(run_dir / relative)
        return paths


def _linktype(frame: Frame) -> int:
    return LINKTYPE_ETHERNET if frame.hatype in ETHERNET_FRAMED else LINKTYPE_RAW
