"""Observation: the captured frames, the syscall's answer and the deliveries, as plain records.

This stage only describes what happened; it knows nothing of what was expected.
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from scapy.layers.inet import ICMP, IP, TCP, UDP, IPerror
from scapy.layers.inet6 import (
    ICMPv6DestUnreach,
    ICMPv6EchoReply,
    ICMPv6EchoRequest,
    ICMPv6ND_NA,
    ICMPv6ND_NS,
    ICMPv6ND_Redirect,
    ICMPv6PacketTooBig,
    ICMPv6ParamProblem,
    ICMPv6TimeExceeded,
    IPerror6,
    IPv6,
)
from scapy.layers.l2 import ARP, Ether
from scapy.packet import Packet

from harness.capture import ETHERNET_FRAMED, PKTTYPE_NAMES, Frame
from harness.probes import ProbeOutcome, Receipt

ARP_OPS = {1: "who-has", 2: "is-at"}
IP_PROTOS = {1: "icmp", 6: "tcp", 17: "udp", 58: "icmp6"}
ICMP4_ERRORS = {3, 4, 5, 11, 12}  # unreachable, source quench, redirect, time exceeded, param
ICMP6_ERRORS = (
    ICMPv6DestUnreach,
    ICMPv6PacketTooBig,
    ICMPv6TimeExceeded,
    ICMPv6ParamProblem,
    ICMPv6ND_Redirect,
)


@dataclass(frozen=True)
class ArpRecord:
    """An address-resolution message (ARP, or IPv6 neighbour discovery) on one interface."""

    t_ms: float
    host: str
    ifname: str
    direction: str
    op: str  # who-has (ARP request / neighbour solicitation) or is-at (reply / advertisement)
    target: str
    sender: str
    sender_mac: str
    protocol: str = "arp"  # or "ndp"
    pkttype: str = ""
    probe: int = 0

    def __str__(self) -> str:
        kind = "ARP" if self.protocol == "arp" else "NDP"
        if self.op == "who-has":
            return f"{kind} who-has {self.target} tell {self.sender}"
        # An ARP reply announces its sender; a neighbour advertisement its target.
        owner = self.sender if self.protocol == "arp" else self.target
        return f"{kind} {owner} is-at {self.sender_mac}"


@dataclass(frozen=True)
class PacketRecord:
    """A frame other than address resolution on one interface (IP fields when it is IP)."""

    t_ms: float
    host: str
    ifname: str
    direction: str
    pkttype: str
    proto: str
    src: str
    dst: str
    summary: str
    sport: int | None = None
    dport: int | None = None
    tcp_flags: str | None = None
    icmp_type: int | None = None
    icmp_code: int | None = None
    about: str | None = None  # for an ICMP error: the packet it is about
    tos: int | None = None  # IPv4 TOS byte or IPv6 traffic class
    probe: int = 0

    def __str__(self) -> str:
        return self.summary

    @property
    def is_icmp_error(self) -> bool:
        """An ICMP/ICMPv6 error or redirect."""
        if self.proto == "icmp":
            return self.icmp_type in ICMP4_ERRORS
        return self.proto == "icmp6" and self.about is not None


@dataclass
class Observation:
    """Everything the kernel did in one case, in time order, times relative to the first probe."""

    errno: str | list[str]
    errno_message: str | list[str]
    local: str | list[str] = ""
    arp: list[ArpRecord] = field(default_factory=list)
    packets: list[PacketRecord] = field(default_factory=list)
    received: list[Receipt] = field(default_factory=list)
    # Kernel state read over netlink, per probe: `ip route get` for the probe's flow.
    route_get: list[dict[str, Any]] = field(default_factory=list)
    # Just before each probe: every host's routes and rules, in `ip` words.
    tables: list[dict[str, dict[str, list[str]]]] = field(default_factory=list)
    # After each probe: every host's neighbour table.  After the case: the sysctls.
    neighbours: list[dict[str, list[dict[str, str]]]] = field(default_factory=list)
    # After each probe: every host's links (type, address, flags, MTU, queue length).
    links: list[dict[str, dict[str, dict[str, Any]]]] = field(default_factory=list)
    sysctls: dict[str, dict[str, str]] = field(default_factory=dict)
    # Each change of the case and what the kernel answered ("ok" or an errno name).
    changes: list[dict[str, Any]] = field(default_factory=list)

    def arp_requests_by(self, host: str, probe: int | None = None) -> list[ArpRecord]:
        """Resolution requests (ARP who-has, neighbour solicitations) that left `host`."""
        return [
            a
            for a in self.arp
            if a.host == host
            and a.direction == "out"
            and a.op == "who-has"
            and (probe is None or a.probe == probe)
        ]

    def icmp_errors_to(self, host: str, probe: int | None = None) -> list[PacketRecord]:
        """ICMP errors and redirects that arrived at `host`."""
        return [
            p
            for p in self.packets
            if p.host == host
            and p.direction == "in"
            and p.is_icmp_error
            and (probe is None or p.probe == probe)
        ]

    def trace(self) -> list[ArpRecord | PacketRecord]:
        """Address resolution and packets merged in time order."""
        return sorted([*self.arp, *self.packets], key=lambda r: r.t_ms)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (the `observed` part of a result record)."""
        return {
            "errno": self.errno,
            "errno_message": self.errno_message,
            "local": self.local,
            "arp": [asdict(a) for a in self.arp],
            "packets": [asdict(p) for p in self.packets],
            "received": [asdict(r) for r in self.received],
            "route_get": self.route_get,
            "tables": self.tables,
            "neighbours": self.neighbours,
            "links": self.links,
            "sysctls": self.sysctls,
            "changes": self.changes,
        }


def _dissect(frame: Frame) -> Packet:
    if frame.hatype in ETHERNET_FRAMED:
        return Ether(frame.data)
    version = frame.data[0] >> 4 if frame.data else 4
    return IPv6(frame.data) if version == 6 else IP(frame.data)


def _transport(pkt: Packet, src: str, dst: str) -> tuple[str, dict[str, Any]]:
    """(summary text, extra fields) for the transport layer of an IP packet."""
    # ICMP first: an ICMP error quotes the offending packet, and scapy's quoted
    # layers (TCPerror, and UDP inside an ICMPv6 redirected header) would
    # otherwise make the error look like TCP or UDP.
    if ICMP in pkt:
        icmp = pkt[ICMP]
        about = _about(pkt[IPerror]) if IPerror in pkt else None
        text = f"ICMP {src} > {dst} type {icmp.type} code {icmp.code}"
        return (
            text + (f" about [{about}]" if about else ""),
            {"icmp_type": int(icmp.type), "icmp_code": int(icmp.code), "about": about},
        )
    for layer in (*ICMP6_ERRORS, ICMPv6EchoRequest, ICMPv6EchoReply):
        if layer in pkt:
            icmp6 = pkt[layer]
            about = _about(pkt[IPerror6]) if IPerror6 in pkt else None
            if layer is ICMPv6ND_Redirect:
                about = about or f"redirect for {icmp6.dst} to {icmp6.tgt}"
            text = f"ICMP6 {src} > {dst} type {icmp6.type} code {icmp6.code}"
            return (
                text + (f" about [{about}]" if about else ""),
                {"icmp_type": int(icmp6.type), "icmp_code": int(icmp6.code), "about": about},
            )
    if TCP in pkt:
        tcp = pkt[TCP]
        flags = str(tcp.flags)
        return (
            f"TCP {src}:{tcp.sport} > {dst}:{tcp.dport} [{flags}]",
            {"sport": tcp.sport, "dport": tcp.dport, "tcp_flags": flags},
        )
    if UDP in pkt and IPerror not in pkt and IPerror6 not in pkt:
        udp = pkt[UDP]
        return (
            f"UDP {src}:{udp.sport} > {dst}:{udp.dport} len {len(udp.payload)}",
            {"sport": udp.sport, "dport": udp.dport},
        )
    return "", {}


def _about(inner: Packet) -> str:
    """The packet an ICMP error quotes, in one line."""
    proto = IP_PROTOS.get(getattr(inner, "proto", getattr(inner, "nh", -1)), "ip")
    text = f"{proto} {inner.src} > {inner.dst}"
    if inner.payload and hasattr(inner.payload, "dport"):
        text += f" port {inner.payload.dport}"
    return text


def _pkttype(frame: Frame) -> str:
    return PKTTYPE_NAMES.get(frame.pkttype, str(frame.pkttype))


def _header(frame: Frame) -> tuple[float, str, str, str]:
    """(t_ms, host, ifname, direction) of a record; observe() fills in the time."""
    return (0.0, frame.ns, frame.ifname, frame.direction)


def _packet(frame: Frame, pkt: Packet) -> PacketRecord:
    pkttype = _pkttype(frame)
    ip = pkt.getlayer(IP) or pkt.getlayer(IPv6)
    if ip is None:
        eth = pkt.getlayer(Ether)
        kind = f"0x{eth.type:04x}" if eth is not None else "?"
        src, dst = (str(eth.src), str(eth.dst)) if eth else ("", "")
        return PacketRecord(*_header(frame), pkttype, kind, src, dst, pkt.summary())
    src, dst = str(ip.src), str(ip.dst)
    number = ip.proto if IP in pkt else ip.nh
    proto = IP_PROTOS.get(number, str(number))
    text, extra = _transport(pkt, src, dst)
    if not text:
        text = f"{'IP' if IP in pkt else 'IP6'} {src} > {dst} proto {proto}"
    hops, tos = (ip.ttl, ip.tos) if IP in pkt else (ip.hlim, ip.tc)
    summary = f"{text} ttl {hops}" + (f" tos {tos:#x}" if tos else "")
    return PacketRecord(*_header(frame), pkttype, proto, src, dst, summary, tos=tos, **extra)


def _resolution(frame: Frame, pkt: Packet) -> ArpRecord | None:
    if ARP in pkt:
        arp = pkt[ARP]
        op = ARP_OPS.get(arp.op, str(arp.op))
        return ArpRecord(
            *_header(frame),
            op,
            str(arp.pdst),
            str(arp.psrc),
            str(arp.hwsrc),
            "arp",
            _pkttype(frame),
        )
    mac = str(pkt[Ether].src) if Ether in pkt else ""
    for layer, op in ((ICMPv6ND_NS, "who-has"), (ICMPv6ND_NA, "is-at")):
        if layer in pkt:
            return ArpRecord(
                *_header(frame),
                op,
                str(pkt[layer].tgt),
                str(pkt[IPv6].src),
                mac,
                "ndp",
                _pkttype(frame),
            )
    return None


def observe(
    frames: list[Frame],
    outcomes: list[ProbeOutcome],
    receipts: list[Receipt],
    windows: list[int] | None = None,
) -> Observation:
    """Turn raw captures and socket results into an Observation.

    `windows[i]` is the index of the first frame captured after probe i acted;
    frames are attributed to the latest probe that acted before them, and those
    captured before the first probe to none (probe -1): they stay in the trace.
    """
    single = len(outcomes) == 1
    obs = Observation(
        errno=outcomes[0].errno if single else [o.errno for o in outcomes],
        errno_message=outcomes[0].message if single else [o.message for o in outcomes],
        local=outcomes[0].local if single else [o.local for o in outcomes],
        received=list(receipts),
    )
    starts = windows or [0]
    t0 = outcomes[0].time
    for index, frame in enumerate(frames):
        # Frames from before the first probe (set-up leftovers) belong to none: -1.
        probe = max((i for i, start in enumerate(starts) if start <= index), default=-1)
        record = replace(_describe(frame), t_ms=round((frame.time - t0) * 1000, 3), probe=probe)
        if isinstance(record, ArpRecord):
            obs.arp.append(record)
        else:
            obs.packets.append(record)
    obs.arp.sort(key=lambda r: r.t_ms)
    obs.packets.sort(key=lambda r: r.t_ms)
    return obs


@functools.lru_cache(maxsize=8192)
def _describe(frame: Frame) -> ArpRecord | PacketRecord:
    """A frame's record, without its time and probe.

    Cached: a case is observed again at each wake-up while it settles, and
    dissecting every frame with scapy each time was most of that cost.
    """
    pkt = _dissect(frame)
    return _resolution(frame, pkt) or _packet(frame, pkt)
