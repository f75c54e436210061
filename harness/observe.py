"""Observation: the captured frames, the syscall's answer and the deliveries, as plain records.

This stage only describes what happened; it knows nothing of what was expected.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.l2 import ARP, Ether
from scapy.packet import Packet

from harness.capture import ARPHRD_ETHER, PKTTYPE_NAMES, Frame
from harness.probes import ProbeOutcome, Receipt

ARP_OPS = {1: "who-has", 2: "is-at"}
IP_PROTOS = {1: "icmp", 6: "tcp", 17: "udp"}


@dataclass(frozen=True)
class ArpRecord:
    """An ARP message seen on one interface of one namespace."""

    t_ms: float
    host: str
    ifname: str
    direction: str
    op: str
    target: str
    sender: str
    sender_mac: str

    def __str__(self) -> str:
        if self.op == "who-has":
            return f"ARP who-has {self.target} tell {self.sender}"
        return f"ARP {self.sender} is-at {self.sender_mac}"


@dataclass(frozen=True)
class PacketRecord:
    """A non-ARP frame seen on one interface of one namespace (IPv4 fields when it is IPv4)."""

    t_ms: float
    host: str
    ifname: str
    direction: str
    pkttype: str
    proto: str
    src: str
    dst: str
    summary: str

    def __str__(self) -> str:
        return self.summary


@dataclass
class Observation:
    """Everything the kernel did in one case, in time order, times relative to the probe."""

    errno: str
    errno_message: str
    arp: list[ArpRecord] = field(default_factory=list)
    packets: list[PacketRecord] = field(default_factory=list)
    received: list[Receipt] = field(default_factory=list)

    def arp_requests_by(self, host: str) -> list[ArpRecord]:
        """ARP requests that left `host`."""
        return [
            a for a in self.arp if a.host == host and a.direction == "out" and a.op == "who-has"
        ]

    def trace(self) -> list[ArpRecord | PacketRecord]:
        """ARP and packets merged in time order."""
        return sorted([*self.arp, *self.packets], key=lambda r: r.t_ms)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (the `observed` part of a result record)."""
        return {
            "errno": self.errno,
            "errno_message": self.errno_message,
            "arp": [asdict(a) for a in self.arp],
            "packets": [asdict(p) for p in self.packets],
            "received": [asdict(r) for r in self.received],
        }


def _dissect(frame: Frame) -> Packet:
    if frame.hatype == ARPHRD_ETHER:
        return Ether(frame.data)
    return IP(frame.data)


def _summary(pkt: Packet) -> tuple[str, str, str, str]:
    """(proto, src, dst, one-line summary) of a non-ARP frame."""
    if IP in pkt:
        ip = pkt[IP]
        proto = IP_PROTOS.get(ip.proto, str(ip.proto))
        if UDP in pkt:
            udp = pkt[UDP]
            text = f"UDP {ip.src}:{udp.sport} > {ip.dst}:{udp.dport} len {len(udp.payload)}"
        elif TCP in pkt:
            text = f"TCP {ip.src}:{pkt[TCP].sport} > {ip.dst}:{pkt[TCP].dport} [{pkt[TCP].flags}]"
        elif ICMP in pkt:
            icmp = pkt[ICMP]
            text = f"ICMP {ip.src} > {ip.dst} type {icmp.type} code {icmp.code}"
        else:
            text = f"IP {ip.src} > {ip.dst} proto {proto}"
        return proto, str(ip.src), str(ip.dst), f"{text} ttl {ip.ttl}"
    if Ether in pkt:
        eth = pkt[Ether]
        return f"0x{eth.type:04x}", str(eth.src), str(eth.dst), pkt.summary()
    return "?", "", "", pkt.summary()


def observe(frames: list[Frame], outcome: ProbeOutcome, receipts: list[Receipt]) -> Observation:
    """Turn raw captures and socket results into an Observation."""
    obs = Observation(errno=outcome.errno, errno_message=outcome.message, received=list(receipts))
    for frame in sorted(frames, key=lambda f: f.time):
        t_ms = round((frame.time - outcome.time) * 1000, 3)
        pkt = _dissect(frame)
        if ARP in pkt:
            arp = pkt[ARP]
            obs.arp.append(
                ArpRecord(
                    t_ms,
                    frame.ns,
                    frame.ifname,
                    frame.direction,
                    ARP_OPS.get(arp.op, str(arp.op)),
                    str(arp.pdst),
                    str(arp.psrc),
                    str(arp.hwsrc),
                )
            )
            continue
        proto, src, dst, text = _summary(pkt)
        obs.packets.append(
            PacketRecord(
                t_ms,
                frame.ns,
                frame.ifname,
                frame.direction,
                PKTTYPE_NAMES.get(frame.pkttype, str(frame.pkttype)),
                proto,
                src,
                dst,
                text,
            )
        )
    return obs
