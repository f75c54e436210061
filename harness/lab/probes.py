"""Probes: real sockets inside the namespaces, doing what an article's test program did.

The sender sets the socket options the case names and acts (sendto, connect,
ping, a raw frame); the errno (or `ok`) is the kernel's answer.  Listeners on
the other hosts record every datagram or connection that reaches a socket.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import ipaddress
import math
import os
import select
import socket
import struct
import time
from collections.abc import Iterator

from scapy.layers.inet import IP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether

from harness.core import deadlines
from harness.core.evidence import ProbeOutcome, Receipt
from harness.core.validation import errno_name
from harness.lab.linux import LIBC
from harness.lab.netlink_ip import TopologyError
from harness.lab.netns import NetNS
from harness.lab.network import Network
from harness.scenario import Listener, Probe
from harness.scenario.probe import default_listeners as scenario_default_listeners

# Linux values missing from Python's socket module on some builds.
IP_PKTINFO = 8
IPV6_RECVPKTINFO = 49
IPV6_PKTINFO = 50
TCP_USER_TIMEOUT = 18
ICMP_ECHO_REQUEST = 8
ICMPV6_ECHO_REQUEST = 128

# A TCP connect whose SYN is never answered: TCP_USER_TIMEOUT lets the kernel
# itself give up with ETIMEDOUT at its first retransmission timer (1 s);
# this bound covers that and then some.
TCP_OUTCOME_BOUND_S = 2.5


def _fail(where: str, exc: OSError, started: float) -> ProbeOutcome:
    return ProbeOutcome(
        errno=errno_name(exc.errno or 0), message=f"{where}: {exc.strerror}", time=started
    )


def _sockaddr(ns: NetNS, probe: Probe, port: int) -> tuple[str, int] | tuple[str, int, int, int]:
    """The destination as the socket API takes it; a scoped IPv6 address with the scope
    as an ifindex of the probe's namespace (Python would resolve a name in ours)."""
    if probe.family != socket.AF_INET6:
        return (probe.address, port)
    scope = ns.link_index(probe.scope) if probe.scope is not None else 0
    return (probe.address, port, 0, scope)


LIBC.setfsuid.argtypes = [ctypes.c_uint]
NO_UID = 0xFFFFFFFF  # setfsuid(-1) changes nothing and answers the current fsuid


@contextlib.contextmanager
def fsuid(uid: int | None) -> Iterator[None]:
    """Run the block with this thread's fsuid set to `uid` (None: unchanged).

    A socket's owner (sk->sk_uid, which `ip rule ... uidrange` and RTA_UID match) is the
    socket inode's owner, the creating task's fsuid (net/socket.c sock_alloc, then
    sock_init_data_uid); the fsuid is per thread (setfsuid(2) is a raw system call, not
    one glibc makes every thread share), so nothing else of the harness runs under it."""
    if uid is None:
        yield
        return
    before = LIBC.setfsuid(uid)
    try:
        if LIBC.setfsuid(NO_UID) != uid:  # setfsuid reports no errors: read it back
            raise OSError(errno.EPERM, f"setfsuid({uid}) did not take")
        yield
    finally:
        LIBC.setfsuid(before)


def open_sender(net: Network, probe: Probe) -> socket.socket:
    """The probe's socket in its host, with every socket option the probe names set
    (harness/scenario/sockopts.py), bound where the probe says."""
    ns = net.host(probe.host)
    if probe.proto == "raw":
        sock = net.lab.socket(probe.host, socket.AF_PACKET, socket.SOCK_RAW)
        sock.bind((str(probe.iface), 0))
        return sock
    family = probe.family
    kind, proto = {
        "udp": (socket.SOCK_DGRAM, 0),
        "tcp": (socket.SOCK_STREAM, 0),
        "icmp": (
            socket.SOCK_DGRAM,
            socket.IPPROTO_ICMPV6 if family == socket.AF_INET6 else socket.IPPROTO_ICMP,
        ),
    }[probe.proto]
    with fsuid(probe.uid):
        sock = net.lab.socket(probe.host, family, kind, proto)
    for option, value in probe.options():
        option.apply(sock, value, ns.link_index)
    if probe.proto == "tcp":
        sock.setsockopt(socket.IPPROTO_TCP, TCP_USER_TIMEOUT, probe.timeout_ms)
    bind = probe.bind_address()
    if bind is not None:
        sock.bind(bind)
    return sock


def act(
    net: Network, probe: Probe, payload: bytes, sock: socket.socket | None = None
) -> tuple[ProbeOutcome, socket.socket | None]:
    """Do the probe's one action on `sock`, or on a socket opened for it; the outcome and
    the socket (None when setting the socket up already failed: that answer is the outcome).

    `sock` is an earlier act's socket: as it is (the Python API changes it by hand), or,
    for a probe that names its socket (`socket: NAME` in a scenario), with this probe's
    options set on it again."""
    started = time.time()
    if sock is None:
        try:
            sock = open_sender(net, probe)
        except OSError as exc:
            return _fail("socket setup (setsockopt/bind)", exc, started), None
    elif probe.socket is not None:
        try:
            for option, value in probe.options():
                option.apply(sock, value, net.host(probe.host).link_index)
        except OSError as exc:
            return _fail("setsockopt on the socket of an earlier act", exc, started), sock
    if probe.proto == "tcp":
        return _tcp_connect(sock, probe, net.host(probe.host)), sock
    if probe.proto == "raw":
        return _raw_frame(net.host(probe.host), sock, probe, payload), sock
    return transmit(sock, probe, payload, net.host(probe.host)), sock


def transmit(sock: socket.socket, probe: Probe, payload: bytes, ns: NetNS) -> ProbeOutcome:
    """UDP or ping: send once per flow with the probe's flags (connect first when the probe
    says so and the socket is not yet connected there)."""
    flags = probe.send_flags()
    if probe.proto == "icmp":
        payload = _echo_request(probe, payload)
    started = time.time()
    dst = _sockaddr(ns, probe, probe.port if probe.proto == "udp" else 0)
    try:
        if probe.connect and not _connected_to(sock, probe):
            sock.connect(dst)
    except OSError as exc:
        return _fail("connect", exc, started)
    for port in probe.ports() if probe.proto == "udp" else [0]:
        try:
            if probe.connect:
                sock.send(payload, flags)
            else:
                sock.sendto(payload, flags, _sockaddr(ns, probe, port))
        except OSError as exc:
            return _fail("send" if probe.connect else "sendto", exc, started)
    verb = "connect+send" if probe.connect else "sendto"
    count = f"{probe.flows} datagrams of " if probe.flows > 1 else ""
    return ProbeOutcome(
        errno="ok",
        message=f"{verb}: {count}{len(payload)} bytes accepted",
        time=started,
        local=_local(sock),
    )


def _connected_to(sock: socket.socket, probe: Probe) -> bool:
    """The socket (of an earlier act) is connected to the probe's destination already."""
    try:
        peer = sock.getpeername()
    except OSError:
        return False
    return _plain(str(peer[0])) == _plain(probe.address) and peer[1] == probe.port


def _echo_request(probe: Probe, payload: bytes) -> bytes:
    # A ping socket takes the ICMP header from us; the kernel sets the id.
    kind = ICMPV6_ECHO_REQUEST if probe.family == socket.AF_INET6 else ICMP_ECHO_REQUEST
    return struct.pack("!BBHHH", kind, 0, 0, 0, 1) + payload


def _tcp_connect(sock: socket.socket, probe: Probe, ns: NetNS) -> ProbeOutcome:
    sock.setblocking(False)
    started = time.time()
    code = sock.connect_ex(_sockaddr(ns, probe, probe.port))
    if code not in (0, errno.EINPROGRESS):
        return _refused(code, started)
    # poll(2), not select(2): the socket's fd may be numbered beyond FD_SETSIZE (1024).
    waiting = select.poll()
    waiting.register(sock, select.POLLOUT)
    bound = deadlines.bound(TCP_OUTCOME_BOUND_S, "waiting for a TCP connect's outcome")
    if not waiting.poll(math.ceil(bound * 1000)):
        deadlines.within_budget("waiting for a TCP connect's outcome")
        return ProbeOutcome(
            errno="EINPROGRESS",
            message="connect: no answer and no error from the kernel within "
            f"{TCP_OUTCOME_BOUND_S}s",
            time=started,
        )
    code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
    if code:
        return _refused(code, started)
    return ProbeOutcome(
        errno="ok", message="connect: established", time=started, local=_local(sock)
    )


def _refused(code: int, started: float) -> ProbeOutcome:
    return ProbeOutcome(
        errno=errno_name(code), message=f"connect: {os.strerror(code)}", time=started
    )


def _raw_frame(ns: NetNS, sock: socket.socket, probe: Probe, payload: bytes) -> ProbeOutcome:
    """Inject an Ethernet frame built with scapy on the probe's interface."""
    link = ns.ipr.link("get", index=ns.link_index(str(probe.iface)))[0]
    mac = link.get("IFLA_ADDRESS")
    src = probe.src or _first_address(ns, str(probe.iface), probe.dst.version)
    layer3 = IP if probe.dst.version == 4 else IPv6
    frame = (
        Ether(src=mac, dst=probe.eth_dst)
        / layer3(src=str(src), dst=probe.address)
        / UDP(sport=probe.sport or 40000, dport=probe.port)
        / payload
    )
    started = time.time()
    try:
        sock.send(bytes(frame))
    except OSError as exc:
        return _fail("send (packet socket)", exc, started)
    return ProbeOutcome(
        errno="ok", message=f"raw frame of {len(frame)} bytes sent from {mac}", time=started
    )


def _first_address(ns: NetNS, ifname: str, version: int) -> str:
    family = socket.AF_INET if version == 4 else socket.AF_INET6
    for entry in ns.ipr.get_addr(family=family, index=ns.link_index(ifname)):
        return str(entry.get("IFA_ADDRESS"))
    return "0.0.0.0" if version == 4 else "::"


def _local(sock: socket.socket) -> str:
    try:
        return str(sock.getsockname()[0])
    except OSError:
        return ""


def payload_for(case_key: str, size: int) -> bytes:
    """A payload that names the case, padded to `size` bytes."""
    marker = f"harness {case_key} {os.getpid()} ".encode()
    return (marker * (size // max(len(marker), 1) + 1))[:size]


def default_listeners(net: Network, probes: list[Probe]) -> list[Listener]:
    """The listeners a case gets when it names none (harness.scenario.default_listeners)."""
    return scenario_default_listeners(net.topology.hosts, probes)


class Listeners:
    """The sockets that record what reaches the hosts; also collect ping replies."""

    def __init__(self, net: Network, listeners: list[Listener]) -> None:
        self._net = net
        self._sockets: list[tuple[Listener, socket.socket]] = []
        self._pingers: list[tuple[str, socket.socket]] = []
        self.receipts: list[Receipt] = []
        self.current_act = 0  # receipts are attributed to the act (probe) under way
        for listener in listeners:
            self._sockets.append((listener, self._open(listener)))

    def _open(self, listener: Listener) -> socket.socket:
        v6 = listener.v6
        family = socket.AF_INET6 if v6 else socket.AF_INET
        kind = socket.SOCK_STREAM if listener.proto == "tcp" else socket.SOCK_DGRAM
        sock = self._net.lab.socket(listener.host, family, kind)
        if v6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            if kind == socket.SOCK_DGRAM:
                sock.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVPKTINFO, 1)
        elif kind == socket.SOCK_DGRAM:
            sock.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if listener.bind_device:
            sock.setsockopt(
                socket.SOL_SOCKET, socket.SO_BINDTODEVICE, listener.bind_device.encode()
            )
        sock.bind((listener.bind or ("::" if v6 else "0.0.0.0"), listener.port))
        if listener.join:
            self._join(listener, sock)
        if kind == socket.SOCK_STREAM:
            sock.listen(16)
        sock.setblocking(False)
        return sock

    def _join(self, listener: Listener, sock: socket.socket) -> None:
        """IP_ADD_MEMBERSHIP / IPV6_ADD_MEMBERSHIP for each group; a refusal is the kernel's
        answer to the set-up (TopologyError with its errno), as for a route it refuses."""
        ns = self._net.host(listener.host)
        index = ns.link_index(listener.join_dev) if listener.join_dev else 0
        if not listener.v6:
            # The IGMPv3 report a join sends is repeated after a random delay of up to
            # igmpv3_unsolicited_report_interval (1 s); pushed a day away, as MLD's is by
            # the builder, so the repeat cannot land inside a case.
            ns.write_sysctls(
                {
                    f"net/ipv4/conf/{name}/igmp{v}_unsolicited_report_interval": 86_400_000
                    for name in ns.interface_names().values()
                    for v in ("v2", "v3")
                }
            )
        for group in listener.join:
            if group.version == 6:
                level, option = socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP
                request = group.packed + struct.pack("=i", index)
            else:
                level, option = socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP
                request = struct.pack("=4s4si", group.packed, bytes(4), index)
            try:
                sock.setsockopt(level, option, request)
            except OSError as exc:
                raise TopologyError(
                    f"host {listener.host}: joining {group} failed: {exc.strerror}", exc.errno or 0
                ) from None

    def watch_replies(self, host: str, sock: socket.socket) -> None:
        """Also collect echo replies arriving on a ping socket of `host`."""
        sock.setblocking(False)
        self._pingers.append((host, sock))

    def sockets(self) -> list[socket.socket]:
        """Every socket to wake on."""
        return [s for _, s in self._sockets] + [s for _, s in self._pingers]

    def poll(self) -> int:
        """Move everything queued into `receipts`; return how many were new."""
        before = len(self.receipts)
        for listener, sock in self._sockets:
            if listener.proto == "tcp":
                self._accept(listener, sock)
            else:
                self._datagrams(listener, sock)
        for host, sock in self._pingers:
            self._replies(host, sock)
        return len(self.receipts) - before

    def _accept(self, listener: Listener, sock: socket.socket) -> None:
        while True:
            try:
                conn, peer = sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            with conn:
                local = conn.getsockname()
                self.receipts.append(
                    Receipt(
                        host=listener.host,
                        src=_plain(peer[0]),
                        sport=peer[1],
                        dst=_plain(local[0]),
                        proto="tcp",
                        act=self.current_act,
                    )
                )

    def _datagrams(self, listener: Listener, sock: socket.socket) -> None:
        while True:
            try:
                data, ancdata, _flags, peer = sock.recvmsg(65535, socket.CMSG_SPACE(20))
            except (BlockingIOError, InterruptedError):
                return
            ifname, dst = "", ""
            names = self._net.host(listener.host).interface_names()
            for level, kind, payload in ancdata:
                if level == socket.IPPROTO_IP and kind == IP_PKTINFO:
                    ifindex, _spec_dst, address = struct.unpack("i4s4s", payload[:12])
                    dst, ifname = socket.inet_ntoa(address), names.get(ifindex, str(ifindex))
                elif level == socket.IPPROTO_IPV6 and kind == IPV6_PKTINFO:
                    address, ifindex = struct.unpack("16si", payload[:20])
                    dst = socket.inet_ntop(socket.AF_INET6, address)
                    ifname = names.get(ifindex, str(ifindex))
            self.receipts.append(
                Receipt(
                    host=listener.host,
                    src=_plain(peer[0]),
                    sport=peer[1],
                    dst=dst,
                    ifname=ifname,
                    payload_size=len(data),
                    act=self.current_act,
                )
            )

    def _replies(self, host: str, sock: socket.socket) -> None:
        while True:
            try:
                data, peer = sock.recvfrom(65535)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return  # an ICMP error queued on the socket; the capture shows it
            replier = self._net.topology.owner_of(_plain(peer[0])) or _plain(peer[0])
            self.receipts.append(
                Receipt(
                    host=replier,
                    src=_plain(peer[0]),
                    dst=host,
                    payload_size=len(data),
                    proto="icmp",
                    act=self.current_act,
                )
            )


def _plain(address: str) -> str:
    """Drop a scope id and v4-mapping from an address for comparison."""
    address = address.split("%", 1)[0]
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        return str(ip.ipv4_mapped)
    return str(ip)
