"""Observation: captured frames as typed records (harness/core/evidence.py), dissected with scapy.

This stage only describes what happened; it knows nothing of what was expected.
"""

from __future__ import annotations

import functools
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
    IPv6ExtHdrFragment,
)
from scapy.layers.l2 import ARP, Ether
from scapy.packet import Packet

from harness.core.evidence import ArpRecord, FrameRecord, PacketRecord
from harness.lab.capture import ETHERNET_FRAMED, PKTTYPE_NAMES, Frame

ARP_OPS = {1: "who-has", 2: "is-at"}
IP_PROTOS = {1: "icmp", 6: "tcp", 17: "udp", 58: "icmp6"}
ICMP6_ERRORS = (
    ICMPv6DestUnreach,
    ICMPv6PacketTooBig,
    ICMPv6TimeExceeded,
    ICMPv6ParamProblem,
    ICMPv6ND_Redirect,
)


def _dissect(hatype: int, data: bytes) -> Packet:
    if hatype in ETHERNET_FRAMED:
        return Ether(data)
    version = data[0] >> 4 if data else 4
    return IPv6(data) if version == 6 else IP(data)


def _transport(pkt: Packet, src: str, dst: str) -> tuple[str, dict[str, Any]]:
    """(summary text, extra fields) for the transport layer of an IP packet."""
    # ICMP first: an ICMP error quotes the offending packet, and scapy's quoted
    # layers (TCPerror, and UDP inside an ICMPv6 redirected header) would
    # otherwise make the error look like TCP or UDP.
    if ICMP in pkt:
        icmp = pkt[ICMP]
        about = _about(pkt[IPerror]) if IPerror in pkt else None
        text = f"ICMP {src} > {dst} type {icmp.type} code {icmp.code}"
        mtu = int(icmp.nexthopmtu) if (icmp.type, icmp.code) == (3, 4) else None
        text += f" mtu {mtu}" if mtu is not None else ""
        return (
            text + (f" about [{about}]" if about else ""),
            {
                "icmp_type": int(icmp.type),
                "icmp_code": int(icmp.code),
                "about": about,
                "icmp_mtu": mtu,
            },
        )
    for layer in (*ICMP6_ERRORS, ICMPv6EchoRequest, ICMPv6EchoReply):
        if layer in pkt:
            icmp6 = pkt[layer]
            about = _about(pkt[IPerror6]) if IPerror6 in pkt else None
            if layer is ICMPv6ND_Redirect:
                about = about or f"redirect for {icmp6.dst} to {icmp6.tgt}"
            text = f"ICMP6 {src} > {dst} type {icmp6.type} code {icmp6.code}"
            mtu = int(icmp6.mtu) if layer is ICMPv6PacketTooBig else None
            text += f" mtu {mtu}" if mtu is not None else ""
            return (
                text + (f" about [{about}]" if about else ""),
                {
                    "icmp_type": int(icmp6.type),
                    "icmp_code": int(icmp6.code),
                    "about": about,
                    "icmp_mtu": mtu,
                },
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


def _where(frame: Frame) -> dict[str, Any]:
    """The fields every record takes from its frame: host, interface, direction, pkttype."""
    return {
        "host": frame.ns,
        "ifname": frame.ifname,
        "direction": frame.direction,
        "pkttype": _pkttype(frame),
    }


# A record's own fields before `_where` fills them in from the frame (frame_records).
_NOWHERE: dict[str, Any] = {"host": "", "ifname": "", "direction": "", "pkttype": ""}


def _packet(pkt: Packet) -> PacketRecord:
    ip = pkt.getlayer(IP) or pkt.getlayer(IPv6)
    if ip is None:
        eth = pkt.getlayer(Ether)
        kind = f"0x{eth.type:04x}" if eth is not None else "?"
        src, dst = (str(eth.src), str(eth.dst)) if eth else ("", "")
        return PacketRecord(**_NOWHERE, proto=kind, src=src, dst=dst, summary=pkt.summary())
    src, dst = str(ip.src), str(ip.dst)
    header = _ip_header(pkt)
    number = ip.proto if IP in pkt else ip.nh
    if IPv6ExtHdrFragment in pkt:
        number = pkt[IPv6ExtHdrFragment].nh  # the fragmented packet's own protocol
    proto = IP_PROTOS.get(number, str(number))
    # A fragment after the first carries no transport header (scapy leaves it Raw).
    text, extra = _transport(pkt, src, dst)
    if not text:
        text = f"{'IP' if IP in pkt else 'IP6'} {src} > {dst} proto {proto}"
    tos = ip.tos if IP in pkt else ip.tc
    summary = f"{text} ttl {header['ttl']}" + (f" tos {tos:#x}" if tos else "")
    if header["mf"] or header["frag_offset"]:
        # As tcpdump says it, in words: which datagram, where this piece starts, more to come.
        more = " MF" if header["mf"] else ""
        summary += f" frag id {header['ip_id']} offset {header['frag_offset']}{more}"
    return PacketRecord(
        **_NOWHERE,
        proto=proto,
        src=src,
        dst=dst,
        summary=summary,
        tos=tos,
        **header,
        **extra,
    )


def _ip_header(pkt: Packet) -> dict[str, Any]:
    """Length, TTL/hop limit, DF, MF, fragment offset (bytes) and identification."""
    if IP in pkt:
        ip = pkt[IP]
        return {
            "length": int(ip.len),
            "ttl": int(ip.ttl),
            "df": bool(ip.flags.DF),
            "mf": bool(ip.flags.MF),
            "frag_offset": int(ip.frag) * 8,
            "ip_id": int(ip.id),
        }
    ip6 = pkt[IPv6]
    fragment = pkt.getlayer(IPv6ExtHdrFragment)
    return {
        "length": int(ip6.plen) + 40,
        "ttl": int(ip6.hlim),
        "df": None,  # IPv6 has no DF: routers never fragment
        "mf": bool(fragment.m) if fragment is not None else False,
        "frag_offset": int(fragment.offset) * 8 if fragment is not None else 0,
        "ip_id": int(fragment.id) if fragment is not None else None,
    }


def _resolution(pkt: Packet) -> ArpRecord | None:
    if ARP in pkt:
        arp = pkt[ARP]
        return ArpRecord(
            **_NOWHERE,
            op=ARP_OPS.get(arp.op, str(arp.op)),
            target=str(arp.pdst),
            sender=str(arp.psrc),
            sender_mac=str(arp.hwsrc),
            protocol="arp",
        )
    mac = str(pkt[Ether].src) if Ether in pkt else ""
    for layer, op in ((ICMPv6ND_NS, "who-has"), (ICMPv6ND_NA, "is-at")):
        if layer in pkt:
            return ArpRecord(
                **_NOWHERE,
                op=op,
                target=str(pkt[layer].tgt),
                sender=str(pkt[IPv6].src),
                sender_mac=mac,
                protocol="ndp",
            )
    return None


def frame_records(
    frames: list[Frame], t0: float, windows: list[int]
) -> tuple[list[ArpRecord], list[PacketRecord]]:
    """The captured frames as records, each in time order, with times relative to `t0`.

    `windows[i]` is the index of the first frame captured after act i's probe;
    a frame belongs to the latest act whose probe came before it, and frames
    captured before the first probe to none (act -1): they stay in the trace.
    """
    arp: list[ArpRecord] = []
    packets: list[PacketRecord] = []
    for index, frame in enumerate(frames):
        act = max((i for i, start in enumerate(windows) if start <= index), default=-1)
        record = _describe(frame.hatype, frame.data).model_copy(
            update={**_where(frame), "t_ms": round((frame.time - t0) * 1000, 3), "act": act}
        )
        if isinstance(record, ArpRecord):
            arp.append(record)
        else:
            packets.append(record)
    arp.sort(key=lambda r: r.t_ms)
    packets.sort(key=lambda r: r.t_ms)
    return arp, packets


@functools.lru_cache(maxsize=8192)
def _describe(hatype: int, data: bytes) -> FrameRecord:
    """What a frame's bytes say, without where and when it was seen.

    Cached: a case is observed again at each wake-up while it settles, and one frame
    is seen on every interface it crosses (a bridged frame on four or five);
    dissecting it with scapy each time was most of that cost.
    """
    pkt = _dissect(hatype, data)
    return _resolution(pkt) or _packet(pkt)
