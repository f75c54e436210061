"""Netlink on the hot path: link, neighbour, route and rule state read over a plain socket.

Why not pyroute2's IPRoute for these reads: pyroute2 0.9 runs every request
through an asyncio event loop and decodes every attribute of every message.  A
link dump of a namespace with four links cost 1.4 ms that way and 0.03 ms on a
plain socket with the three attributes we use decoded; a case reads link and
neighbour state about twenty times (readiness, settling, names, tables),
which made pyroute2 a third of a case's time.  So:

- link, address and neighbour dumps are decoded here, and only the few fields
  the harness reads (name, flags, operstate, bridge port state; address, flags,
  scope; destination, state, lladdr);
- route and rule dumps are decoded with pyroute2's own message classes
  (`MarshalRtnl`), so they read exactly like IPRoute's answers;
- setting a link up or down and adding or deleting an address (a case makes
  about twelve such requests) are `ifinfmsg`s and `ifaddrmsg`s encoded by pyroute2;
- every request that carries more of `ip`'s vocabulary (link creation, routes,
  rules, neighbours) still goes through IPRoute, whose request filters know it;
  except what pyroute2 0.9 has no message or attribute for: nexthop objects
  (RTM_NEWNEXTHOP, `nhmsg` below) and a route's RTA_NH_ID (`rtmsg_nh`), both
  encoded with pyroute2's own nlmsg machinery and sent here; so are rules (the
  selectors after FRA_DPORT_RANGE, `fibmsg_all`) and `ip route get` (RTA_UID,
  RTA_IP_PROTO and the ports, which rules select on).
"""

from __future__ import annotations

import errno
import ipaddress
import itertools
import os
import socket
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from pyroute2.netlink import (
    NLM_F_ACK,
    NLM_F_CREATE,
    NLM_F_DUMP,
    NLM_F_EXCL,
    NLM_F_REQUEST,
    nlmsg,
)
from pyroute2.netlink.exceptions import NetlinkError
from pyroute2.netlink.rtnl import (
    RTM_DELADDR,
    RTM_DELNEIGH,
    RTM_DELRULE,
    RTM_GETADDR,
    RTM_GETLINK,
    RTM_GETNEIGH,
    RTM_GETROUTE,
    RTM_GETRULE,
    RTM_NEWADDR,
    RTM_NEWLINK,
    RTM_NEWNEIGH,
    RTM_NEWROUTE,
    RTM_NEWRULE,
)
from pyroute2.netlink.rtnl.fibmsg import fibmsg
from pyroute2.netlink.rtnl.ifaddrmsg import ifaddrmsg
from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg
from pyroute2.netlink.rtnl.marshal import MarshalRtnl
from pyroute2.netlink.rtnl.rtmsg import rtmsg_base

from harness.core import deadlines
from harness.lab.linux import IFF_UP

NLMSG_ERROR, NLMSG_DONE = 2, 3
RT_TABLE_UNSPEC = 0
# fib_rule_hdr fields, and the attribute each other rule field is sent as.
_RULE_HEADER = ("family", "dst_len", "src_len", "tos", "action", "flags")
_RULE_ATTRIBUTES = {
    "src": "FRA_SRC",
    "dst": "FRA_DST",
    "iifname": "FRA_IIFNAME",
    "oifname": "FRA_OIFNAME",
    "goto": "FRA_GOTO",
    "priority": "FRA_PRIORITY",
    "fwmark": "FRA_FWMARK",
    "fwmask": "FRA_FWMASK",
    "l3mdev": "FRA_L3MDEV",
    "ipproto": "FRA_IP_PROTO",
    "tun_id": "FRA_TUN_ID",
    "suppress_prefixlength": "FRA_SUPPRESS_PREFIXLEN",
    "suppress_ifgroup": "FRA_SUPPRESS_IFGROUP",
    "realms": "FRA_FLOW",
    "protocol": "FRA_PROTOCOL",
    "sport_mask": "FRA_SPORT_MASK",
    "dport_mask": "FRA_DPORT_MASK",
    "dscp": "FRA_DSCP",
    "dscp_mask": "FRA_DSCP_MASK",
    "flowlabel": "FRA_FLOWLABEL",
    "flowlabel_mask": "FRA_FLOWLABEL_MASK",
}
# Ranges: struct fib_rule_uid_range / fib_rule_port_range, which pyroute2 writes "start:end".
_RULE_RANGES = {"uidrange": "FRA_UID_RANGE", "sport": "FRA_SPORT_RANGE", "dport": "FRA_DPORT_RANGE"}

NLMSG_HDR = struct.Struct("=IHHII")  # length, type, flags, sequence, port id
IFINFOMSG = struct.Struct("=BxHiII")  # family, type, index, flags, change
NDMSG = struct.Struct("=BxxxiHBB")  # family, ifindex, state, flags, type
IFADDRMSG = struct.Struct("=BBBBi")  # family, prefix length, flags, scope, index
RTGENMSG = struct.Struct("=Bxxx")
# rtmsg: family, dst and src lengths, tos, table, protocol, scope, type, flags
RTMSG = struct.Struct("=BBBBBBBBI")
NLA_HDR = struct.Struct("=HH")
NLA_TYPE_MASK = 0x3FFF  # without NLA_F_NESTED and NLA_F_NET_BYTEORDER
IFLA_ADDRESS, IFLA_IFNAME, IFLA_MTU, IFLA_TXQLEN, IFLA_OPERSTATE, IFLA_LINKINFO = (
    1,
    3,
    4,
    13,
    16,
    18,
)
IFLA_INFO_SLAVE_KIND, IFLA_INFO_SLAVE_DATA = 4, 5
NLM_F_DUMP_INTR = 0x10  # the dump changed while it was read: read it again
DUMP_ATTEMPTS = 3
IFLA_BRPORT_STATE = 1
NDA_DST, NDA_LLADDR = 1, 2
IFA_ADDRESS, IFA_FLAGS = 1, 8
RTA_DST, RTA_TABLE = 1, 15
RT_TABLE_LOCAL, RTPROT_KERNEL = 255, 2
LINK_MADE = (b"\xfe\x80", b"\xff\x00")  # IPv6 fe80::/64 and ff00::/8, made for every link
# IF_OPER_* in include/uapi/linux/if.h, named as pyroute2 and iproute2 name them.
OPERSTATES = ("UNKNOWN", "NOTPRESENT", "DOWN", "LOWERLAYERDOWN", "TESTING", "DORMANT", "UP")
IPInterface = ipaddress.IPv4Interface | ipaddress.IPv6Interface
RECV_SIZE = 1 << 16  # a netlink dump skb holds at most 32 KiB of messages
# linux/rtnetlink.h: nexthop objects (since 5.3), not in pyroute2 0.9's tables.
RTM_NEWNEXTHOP, RTM_DELNEXTHOP = 104, 105


class rtmsg_nh(rtmsg_base, nlmsg):  # type: ignore[misc]  # pyroute2 is untyped
    """pyroute2's route message with the attributes after RTA_EXPIRES, up to RTA_FLOWLABEL
    (31): a route that uses a nexthop object names it in RTA_NH_ID.

    A sibling of pyroute2's `rtmsg`, not a subclass: pyroute2 compiles a message's
    attribute table once per class and a subclass would inherit the parent's flag
    (seen: after one IPRoute route request, RTA_NH_ID was silently left out, ENODEV).
    """

    nla_map = (
        *rtmsg_base.nla_map,
        ("RTA_PAD", "hex"),
        ("RTA_UID", "uint32"),
        ("RTA_TTL_PROPAGATE", "uint8"),
        ("RTA_IP_PROTO", "uint8"),
        ("RTA_SPORT", "be16"),
        ("RTA_DPORT", "be16"),
        ("RTA_NH_ID", "uint32"),
        ("RTA_FLOWLABEL", "be32"),  # an IPv6 `ip route get ... flowlabel` (RTA_FLOWLABEL)
    )


class fibmsg_all(nlmsg):  # type: ignore[misc]  # pyroute2 is untyped
    """pyroute2's rule message with the attributes after FRA_DPORT_RANGE (linux/fib_rules.h):
    DSCP (6.13), flow label (6.15), port and DSCP masks (6.15).  A sibling of `fibmsg`,
    for the reason `rtmsg_nh` is one."""

    prefix = "FRA_"
    fields = fibmsg.fields
    nla_map = (
        *fibmsg.nla_map,
        (25, "FRA_DSCP", "uint8"),
        (26, "FRA_FLOWLABEL", "be32"),
        (27, "FRA_FLOWLABEL_MASK", "be32"),
        (28, "FRA_SPORT_MASK", "uint16"),
        (29, "FRA_DPORT_MASK", "uint16"),
        (30, "FRA_DSCP_MASK", "uint8"),
    )
    uid_range = fibmsg.uid_range
    port_range = fibmsg.port_range


class nhmsg(nlmsg):  # type: ignore[misc]  # pyroute2 is untyped
    """struct nhmsg and the NHA_* attributes of include/uapi/linux/nexthop.h."""

    fields = (
        ("family", "B"),
        ("scope", "B"),
        ("protocol", "B"),
        ("resvd", "B"),
        ("flags", "I"),
    )
    nla_map = (
        ("NHA_UNSPEC", "none"),
        ("NHA_ID", "uint32"),
        ("NHA_GROUP", "cdata"),  # struct nexthop_grp[]: u32 id, u8 weight - 1, 3 bytes
        ("NHA_GROUP_TYPE", "uint16"),
        ("NHA_BLACKHOLE", "flag"),
        ("NHA_OIF", "uint32"),
        ("NHA_GATEWAY", "target"),
    )


@dataclass(frozen=True)
class LinkState:
    """What the harness reads of a link: who it is and whether it is up."""

    index: int
    name: str
    flags: int
    operstate: str
    brport_state: int | None  # set when the link is a port of a bridge
    hardware_type: int = 0  # ifi_type, an ARPHRD_* value
    address: str = ""  # link-layer address; empty when the device has none (tun)
    mtu: int = 0
    txqueuelen: int = 0


@dataclass(frozen=True)
class NeighbourState:
    """One neighbour entry (ARP or ND)."""

    ifindex: int
    dst: str
    state: int
    flags: int
    lladdr: str


@dataclass(frozen=True)
class AddressState:
    """One address of a link, with its flags (IFA_F_*) and scope."""

    index: int
    address: str
    prefixlen: int
    flags: int
    scope: int


def _attributes(
    data: bytes | memoryview, offset: int, end: int
) -> Iterator[tuple[int, memoryview]]:
    """(type, payload) of each netlink attribute in data[offset:end]."""
    view = memoryview(data)
    while offset + 4 <= end:
        length, kind = NLA_HDR.unpack_from(view, offset)
        if length < 4:
            return
        yield kind & NLA_TYPE_MASK, view[offset + 4 : offset + length]
        offset += (length + 3) & ~3


def _address(data: bytes, start: int, end: int) -> AddressState:
    _family, prefixlen, flags, scope, index = IFADDRMSG.unpack_from(data, start)
    address = ""
    for kind, payload in _attributes(data, start + IFADDRMSG.size, end):
        if kind == IFA_ADDRESS:
            address = str(ipaddress.ip_address(bytes(payload)))
        elif kind == IFA_FLAGS:  # all 32 bits; the header holds the low 8
            (flags,) = struct.unpack_from("=I", payload)
    return AddressState(index, address, prefixlen, flags, scope)


def _neighbour(data: bytes, start: int, end: int) -> NeighbourState:
    _family, ifindex, state, flags, _type = NDMSG.unpack_from(data, start)
    dst, lladdr = "", ""
    for kind, payload in _attributes(data, start + NDMSG.size, end):
        if kind == NDA_DST:
            dst = str(ipaddress.ip_address(bytes(payload)))
        elif kind == NDA_LLADDR:
            lladdr = ":".join(f"{b:02x}" for b in payload)
    return NeighbourState(ifindex, dst, state, flags, lladdr)


def _messages(data: bytes) -> Iterator[tuple[int, int, int, int, int]]:
    """(offset, length, type, flags, sequence) of each netlink message in one datagram."""
    offset = 0
    while offset + NLMSG_HDR.size <= len(data):
        length, kind, flags, sequence, _port = NLMSG_HDR.unpack_from(data, offset)
        if length < NLMSG_HDR.size:
            return
        yield offset, length, kind, flags, sequence
        offset += (length + 3) & ~3


def new_addresses(datagrams: list[bytes]) -> list[AddressState]:
    """The addresses announced (RTM_NEWADDR) in notifications read off a monitor socket."""
    return [
        _address(data, offset + NLMSG_HDR.size, offset + length)
        for data in datagrams
        for offset, length, kind, _flags, _sequence in _messages(data)
        if kind == RTM_NEWADDR
    ]


def neighbour_news(datagrams: list[bytes]) -> list[tuple[bool, NeighbourState]]:
    """The neighbour entries announced in notifications read off a monitor socket, in
    order, each with whether it was deleted (RTM_DELNEIGH) rather than updated."""
    return [
        (kind == RTM_DELNEIGH, _neighbour(data, offset + NLMSG_HDR.size, offset + length))
        for data in datagrams
        for offset, length, kind, _flags, _sequence in _messages(data)
        if kind in (RTM_NEWNEIGH, RTM_DELNEIGH)
    ]


def _not_the_kernels_own(data: bytes, start: int, end: int) -> bool:
    """Whether a route message is one the harness records: not a local-table entry the
    kernel made for an address (protocol kernel), not an IPv6 route whose destination
    starts fe80: or ff00: (link-local and multicast, made for every link)."""
    family, _dst_len, _src_len, _tos, table, protocol, *_ = RTMSG.unpack_from(data, start)
    for kind, payload in _attributes(data, start + RTMSG.size, end):
        if kind == RTA_TABLE:
            (table,) = struct.unpack_from("=I", payload)
        elif kind == RTA_DST and family == socket.AF_INET6 and bytes(payload[:2]) in LINK_MADE:
            return False
    return not (table == RT_TABLE_LOCAL and protocol == RTPROT_KERNEL)


def _bridge_port_state(linkinfo: memoryview) -> int | None:
    """IFLA_BRPORT_STATE, when IFLA_LINKINFO says the link is a bridge's port (attribute 1
    of the port data means something else for a bond's or a VRF's port)."""
    info = dict(_attributes(linkinfo, 0, len(linkinfo)))
    port_kind = info.get(IFLA_INFO_SLAVE_KIND)
    port_data = info.get(IFLA_INFO_SLAVE_DATA)
    if port_kind is None or port_data is None or _string(port_kind) != "bridge":
        return None
    for kind, payload in _attributes(port_data, 0, len(port_data)):
        if kind == IFLA_BRPORT_STATE:
            return payload[0]
    return None


def _string(payload: memoryview) -> str:
    return bytes(payload).split(b"\0", 1)[0].decode()


class Rtnl:
    """Synchronous rtnetlink requests on one NETLINK_ROUTE socket of a namespace."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock  # made inside the namespace it is to speak for
        self.sock.bind((0, 0))
        self.sock.settimeout(deadlines.NETLINK_REPLY_DEADLINE_S)
        self._sequence = itertools.count(1)
        self._marshal = MarshalRtnl()
        # Route dumps decoded with RTA_NH_ID known (a route on a nexthop object).
        # Rule dumps decoded with the selectors newer than pyroute2 0.9 (DSCP, flow label, masks).
        self._marshal.msg_map = {
            **self._marshal.msg_map,
            RTM_NEWROUTE: rtmsg_nh,
            RTM_NEWRULE: fibmsg_all,
        }

    def _send(self, kind: int, flags: int, body: bytes) -> int:
        sequence = next(self._sequence)
        self.sock.send(NLMSG_HDR.pack(NLMSG_HDR.size + len(body), kind, flags, sequence, 0) + body)
        return sequence

    def _replies(self, sequence: int) -> Iterator[tuple[int, int, bytes, int]]:
        """(type, flags, buffer, offset) of each reply message, until DONE or the ACK.

        Raises NetlinkError for an error reply, and for a dump that ended in error
        (NLMSG_DONE carries the dump's status).
        """
        while True:
            try:
                data = self.sock.recv(RECV_SIZE)
            except TimeoutError:
                raise deadlines.WaitTimeout(
                    f"no netlink answer to request {sequence} within "
                    f"{deadlines.NETLINK_REPLY_DEADLINE_S:.1f}s"
                ) from None
            for offset, length, kind, flags, seq in _messages(data):
                if seq != sequence:
                    continue  # left over from an earlier request
                if kind in (NLMSG_DONE, NLMSG_ERROR):
                    code = 0
                    if length >= NLMSG_HDR.size + 4:
                        (code,) = struct.unpack_from("=i", data, offset + NLMSG_HDR.size)
                    if code < 0:
                        raise NetlinkError(-code, os.strerror(-code))
                    return  # the end of a dump, or the ACK of a change
                yield kind, flags, data, offset

    def _dump(self, kind: int, body: bytes) -> list[tuple[bytes, int, int]]:
        """(buffer, start of the message body, end of the message) of each dumped message;
        a dump the kernel marks as interrupted (the table changed meanwhile) is read again."""
        for _ in range(DUMP_ATTEMPTS):
            messages, interrupted = [], False
            for _kind, flags, data, offset in self._replies(
                self._send(kind, NLM_F_REQUEST | NLM_F_DUMP, body)
            ):
                (length,) = struct.unpack_from("=I", data, offset)
                messages.append((data, offset + NLMSG_HDR.size, offset + length))
                interrupted |= bool(flags & NLM_F_DUMP_INTR)
            if not interrupted:
                return messages
        raise NetlinkError(
            errno.EINTR, f"dump {kind} changed while read, {DUMP_ATTEMPTS} times in a row"
        )

    def links(self) -> list[LinkState]:
        """Every link of the namespace (`ip link show`), with the fields the harness reads."""
        links = []
        for data, start, end in self._dump(RTM_GETLINK, IFINFOMSG.pack(0, 0, 0, 0, 0)):
            _family, hardware_type, index, flags, _change = IFINFOMSG.unpack_from(data, start)
            name, operstate, brport_state, address, mtu, txqueuelen = "", 0, None, "", 0, 0
            for kind, payload in _attributes(data, start + IFINFOMSG.size, end):
                if kind == IFLA_IFNAME:
                    name = _string(payload)
                elif kind == IFLA_ADDRESS:
                    address = ":".join(f"{b:02x}" for b in payload)
                elif kind == IFLA_MTU:
                    (mtu,) = struct.unpack_from("=I", payload)
                elif kind == IFLA_TXQLEN:
                    (txqueuelen,) = struct.unpack_from("=I", payload)
                elif kind == IFLA_OPERSTATE:
                    operstate = payload[0]
                elif kind == IFLA_LINKINFO:
                    brport_state = _bridge_port_state(payload)
            state = OPERSTATES[operstate] if operstate < len(OPERSTATES) else str(operstate)
            links.append(
                LinkState(
                    index, name, flags, state, brport_state, hardware_type, address, mtu, txqueuelen
                )
            )
        return links

    def neighbours(self, family: int = socket.AF_UNSPEC) -> list[NeighbourState]:
        """Every neighbour entry, NOARP ones (multicast, loopback) included as pyroute2's
        get_neighbours() lists them; proxy entries are not part of this dump."""
        body = NDMSG.pack(family, 0, 0, 0, 0)
        return [_neighbour(data, start, end) for data, start, end in self._dump(RTM_GETNEIGH, body)]

    def addresses(self, family: int) -> list[AddressState]:
        """Every address of the namespace (`ip addr show`) with its flags."""
        body = IFADDRMSG.pack(family, 0, 0, 0, 0)
        return [_address(data, start, end) for data, start, end in self._dump(RTM_GETADDR, body)]

    def _decoded(
        self, kind: int, family: int, keep: Callable[[bytes, int, int], bool] | None = None
    ) -> list[Any]:
        """A route or rule dump, decoded by pyroute2's message classes; `keep` (the
        message's data, start and end of its body) leaves the others undecoded."""
        messages: list[Any] = []
        body = RTGENMSG.pack(family) + bytes(8)  # rtmsg and fib_rule_hdr are both 12 bytes
        for data, start, end in self._dump(kind, body):
            if keep is None or keep(data, start, end):
                messages += self._marshal.parse(data[start - NLMSG_HDR.size : end])
        return messages

    def routes(self, family: int, own: bool = True) -> list[Any]:
        """Every route of every table (`ip route show table all`), as pyroute2 `rtmsg`s;
        `own=False` leaves out those the kernel makes for addresses and links (local
        table entries of protocol kernel, IPv6 fe80::/ff00:: prefixes) before they are
        decoded: decoding is most of a dump's cost, and a case has dozens of those."""
        return self._decoded(RTM_GETROUTE, family, None if own else _not_the_kernels_own)

    def route_get(self, family: int, flags: int, fields: dict[str, Any]) -> Any:
        """`ip route get`: the kernel's answer (an rtmsg) for one flow, asked as iproute2
        asks (iproute.c iproute_get): the addresses at full length, tos in the header, and
        the flow's mark, uid, protocol and ports as attributes; NetlinkError if it has none.
        `fields`: dst, src, iif, oif, mark, uid, ipproto, sport, dport, flowlabel, tos
        (pyroute2 0.9's own `route("get")` sends no uid, protocol or ports, which rules can
        select on); with iif the kernel answers its input lookup, as `ip route get ... iif`."""
        msg = rtmsg_nh()
        msg["family"] = family
        msg["flags"] = flags
        msg["tos"] = fields.get("tos", 0)
        bits = 128 if family == socket.AF_INET6 else 32
        msg["dst_len"] = bits
        msg["src_len"] = bits if "src" in fields else 0
        msg["attrs"] = [
            (attr, fields[key])
            for key, attr in (
                ("dst", "RTA_DST"),
                ("src", "RTA_SRC"),
                ("iif", "RTA_IIF"),
                ("oif", "RTA_OIF"),
                ("mark", "RTA_MARK"),
                ("uid", "RTA_UID"),
                ("ipproto", "RTA_IP_PROTO"),
                ("sport", "RTA_SPORT"),
                ("dport", "RTA_DPORT"),
                ("flowlabel", "RTA_FLOWLABEL"),
            )
            if key in fields
        ]
        msg.encode()
        body = bytes(msg.data[NLMSG_HDR.size :])
        answers: list[Any] = []
        for _kind, _flags, data, offset in self._replies(
            self._send(RTM_GETROUTE, NLM_F_REQUEST | NLM_F_ACK, body)
        ):
            (length,) = struct.unpack_from("=I", data, offset)
            answers += self._marshal.parse(data[offset : offset + length])
        return answers[0]

    def rules(self, family: int) -> list[Any]:
        """Every policy rule (`ip rule show`), as pyroute2 `fibmsg`s."""
        return self._decoded(RTM_GETRULE, family)

    def request(self, kind: int, flags: int, msg: Any) -> None:
        """Send one pyroute2-encoded message that changes something; wait for its ACK
        (NetlinkError with the kernel's errno when it refuses)."""
        self._request(kind, flags, msg)

    def _request(self, kind: int, flags: int, msg: Any) -> None:
        """Send one pyroute2-encoded message that changes something; wait for its ACK."""
        msg.encode()
        body = bytes(msg.data[NLMSG_HDR.size :])  # the header is ours to write
        for _ in self._replies(self._send(kind, NLM_F_REQUEST | NLM_F_ACK | flags, body)):
            pass

    def send_request(self, kind: int, flags: int, body: bytes) -> None:
        """Send one message whose body is encoded already; wait for its ACK."""
        for _ in self._replies(self._send(kind, flags, body)):
            pass

    def set_link(self, index: int, up: bool) -> None:
        """`ip link set dev INDEX up|down`."""
        msg = ifinfmsg()
        msg["index"] = index
        msg["flags"] = IFF_UP if up else 0
        msg["change"] = IFF_UP
        self._request(RTM_NEWLINK, 0, msg)

    def address(self, command: str, index: int, address: IPInterface, flags: int = 0) -> None:
        """`ip addr add|del ADDRESS/LEN dev INDEX`, with the attributes iproute2 sends:
        IFA_LOCAL and IFA_ADDRESS both the address, scope global, no broadcast."""
        msg = ifaddrmsg()
        msg["family"] = socket.AF_INET if address.version == 4 else socket.AF_INET6
        msg["prefixlen"] = address.network.prefixlen
        msg["flags"] = flags
        msg["scope"] = 0
        msg["index"] = index
        msg["attrs"] = [("IFA_LOCAL", str(address.ip)), ("IFA_ADDRESS", str(address.ip))]
        if command == "add":
            self._request(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, msg)
        elif command == "del":
            self._request(RTM_DELADDR, 0, msg)
        else:
            raise ValueError(f"ip addr {command}: only add and del are supported")

    def rule(self, command: str, fields: dict[str, Any]) -> None:
        """`ip rule add|del`, encoded as iproute2 encodes it (iprule.c): a table below 256
        in the header, a larger one in FRA_TABLE; and no priority unless one is given, so
        that the kernel picks it as it does for iproute2 (pyroute2's IPRoute would add
        priority 32000 to a rule that names none)."""
        msg = fibmsg_all()
        for name in _RULE_HEADER:
            msg[name] = fields.get(name, 0)
        table = fields.get("table")
        msg["table"] = table if table is not None and table < 256 else RT_TABLE_UNSPEC
        attrs: list[tuple[str, Any]] = [
            (attr, fields[name]) for name, attr in _RULE_ATTRIBUTES.items() if name in fields
        ]
        attrs += [
            (attr, "{}:{}".format(*fields[name]))
            for name, attr in _RULE_RANGES.items()
            if name in fields
        ]
        if table is not None and table >= 256:
            attrs.append(("FRA_TABLE", table))
        msg["attrs"] = attrs
        if command == "add":
            self._request(RTM_NEWRULE, NLM_F_CREATE | NLM_F_EXCL, msg)
        elif command == "del":
            self._request(RTM_DELRULE, 0, msg)
        else:
            raise ValueError(f"ip rule {command}: only add and del are supported")

    def close(self) -> None:
        self.sock.close()
