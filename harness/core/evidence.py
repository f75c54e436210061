"""Evidence: what the kernel did in one case, as typed records.

The stages that observe (lab/probes, lab/capture, case/observe, case/kernel_state) produce
these types; the verdict, results.json, `harness show` and the report read the
same types back (results.json is validated against them when it is read).
Nothing here acts on a namespace.

Times are milliseconds from the first probe's syscall.  Every frame, delivery
and reading belongs to an act: the act (probe) that was the latest to run when
it was captured; frames from before the first probe belong to act -1.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from harness.core.validation import same_ip


class Fact(BaseModel):
    """A frozen, typed fact; unknown keys are refused when a record is read back."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def who_has(target: object, sender: object | None = None) -> str:
    """An address-resolution request as tcpdump words it (the one place this wording lives)."""
    return f"who-has {target}" + (f" tell {sender}" if sender else "")


# ---------------------------------------------------------------- the syscall and the sockets


NO_PROBE = "no probe"  # the outcome of an act that only changed and observed


class ProbeOutcome(Fact):
    """What the kernel answered to the probe's syscalls."""

    errno: str  # "ok", an errno name, or NO_PROBE
    message: str
    time: float  # wall clock just before the first syscall, on the capture clock
    local: str = ""  # the socket's local address afterwards, where the kernel chose one


class Receipt(Fact):
    """A datagram, connection or echo reply that reached a socket."""

    host: str
    src: str
    sport: int = 0
    dst: str = ""
    ifname: str = ""  # empty where the socket API does not say (TCP accept, ping replies)
    payload_size: int = 0
    proto: str = "udp"
    act: int = 0

    def __str__(self) -> str:
        return f"{self.host} from {self.src}"


class ChangeOutcome(Fact):
    """One change of the case (`ip ...` or sysctl) and the kernel's answer to it."""

    host: str
    command: str  # as a reader would type it: `ip route del default`
    errno: str  # "ok" or the errno name the kernel refused it with
    message: str = ""  # the kernel's words, when it refused


# ---------------------------------------------------------------- frames


class ArpRecord(Fact):
    """An address-resolution message (ARP, or IPv6 neighbour discovery) on one interface."""

    t_ms: float = 0.0
    host: str
    ifname: str
    direction: str
    op: str  # who-has (ARP request / neighbour solicitation) or is-at (reply / advertisement)
    target: str
    sender: str
    sender_mac: str = ""
    protocol: Literal["arp", "ndp"] = "arp"
    pkttype: str = ""
    act: int = 0

    @property
    def request(self) -> str:
        """`who-has TARGET tell SENDER` for a request."""
        return who_has(self.target, self.sender)

    def __str__(self) -> str:
        kind = "ARP" if self.protocol == "arp" else "NDP"
        if self.op == "who-has":
            return f"{kind} {self.request}"
        # An ARP reply announces its sender; a neighbour advertisement its target.
        owner = self.sender if self.protocol == "arp" else self.target
        return f"{kind} {owner} is-at {self.sender_mac}"


ICMP4_ERRORS = frozenset({3, 4, 5, 11, 12})  # unreachable, quench, redirect, time exceeded, param


class PacketRecord(Fact):
    """A frame other than address resolution on one interface (IP fields when it is IP)."""

    t_ms: float = 0.0
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
    icmp_mtu: int | None = None  # fragmentation needed / packet too big: the next-hop MTU
    tos: int | None = None  # IPv4 TOS byte or IPv6 traffic class
    # The IP header: total length (IPv6: the 40-byte header plus its payload length),
    # TTL or hop limit, don't-fragment (IPv4 only), more-fragments, fragment offset in
    # bytes and identification (IPv6: from the fragment header, when there is one).
    length: int | None = None
    ttl: int | None = None
    df: bool | None = None
    mf: bool | None = None
    frag_offset: int | None = None
    ip_id: int | None = None
    act: int = 0

    def __str__(self) -> str:
        return self.summary

    @property
    def is_icmp_error(self) -> bool:
        """An ICMP/ICMPv6 error or redirect."""
        if self.proto == "icmp":
            return self.icmp_type in ICMP4_ERRORS
        return self.proto == "icmp6" and self.about is not None


FrameRecord = ArpRecord | PacketRecord


# ---------------------------------------------------------------- kernel state


class RouteLookup(Fact):
    """The kernel's own route lookup for a probe's flow, as `ip route get` asks it."""

    query: str
    type: str | None = None
    dev: str | None = None
    gateway: str | None = None
    src: str | None = None
    table: int | None = None
    error: str | None = None  # "ENETUNREACH: Network is unreachable"
    # The route's exception state, as `ip route get` prints it after `cache`: the
    # answer is a cloned entry (RTM_F_CLONED: every IPv4 answer; an IPv6 RTF_CACHE
    # exception), its IPv4 cache flags (`redirected`, ...), the seconds until the
    # exception expires, and the MTU in its metrics (a PMTU exception's).
    cloned: bool = False
    # An IPv4 next-hop exception (a PMTU or a redirect, each with an expiry) or an IPv6
    # RTF_CACHE entry answered the lookup.
    exception: bool = False
    cache_flags: list[str] = []
    expires: int | None = None
    mtu: int | None = None

    @property
    def error_name(self) -> str | None:
        """The errno name of a failed lookup."""
        return self.error.split(":", 1)[0] if self.error else None

    def answer(self) -> str:
        """The lookup's answer in `ip route get` words, or its error."""
        if self.error:
            return self.error
        fields = ("type", "dev", "gateway", "src", "table")
        words = [f"{k} {getattr(self, k)}" for k in fields if getattr(self, k) is not None]
        if self.cache_flags:
            words.append(f"cache <{','.join(self.cache_flags)}>")
        if self.expires is not None:
            words.append(f"expires {self.expires}sec")
        if self.mtu is not None:
            words.append(f"mtu {self.mtu}")
        return " ".join(words)


class HostTables(Fact):
    """A host's routes (every table) and rules, in `ip` words."""

    routes: list[str] = []
    rules: list[str] = []


class NeighbourEntry(Fact):
    """One neighbour entry, like a line of `ip neigh show`."""

    dst: str
    state: str
    lladdr: str = ""
    dev: str = ""


class LinkAttrs(Fact):
    """A link as `ip -d link show` reports it."""

    type: str
    address: str = ""  # empty when the device has no link-layer address (tun)
    flags: list[str] = []
    mtu: int = 0
    txqueuelen: int = 0


# ---------------------------------------------------------------- one act, one case


class ActFacts(Fact):
    """What happened at one act: its changes, the kernel's route lookup, the probe's
    answer, why the act ended, and the neighbour tables and links afterwards."""

    outcome: ProbeOutcome
    changes: list[ChangeOutcome] = []
    route: RouteLookup | None = None
    tables: dict[str, HostTables] = {}  # before the probe: prober's and changed hosts'
    neighbours: dict[str, list[NeighbourEntry]] = {}  # after the act settled
    links: dict[str, dict[str, LinkAttrs]] = {}  # after the act settled
    settled: str = ""  # why the act was considered over
    # The neighbour entries (not NOARP or PERMANENT) each host held when that was
    # decided, as `dst STATE dev`: what "none being resolved" rested on.
    settle_read: dict[str, list[str]] = {}


class Observation(Fact):
    """Everything the kernel did in one case."""

    acts: list[ActFacts]
    arp: list[ArpRecord] = []
    packets: list[PacketRecord] = []
    received: list[Receipt] = []
    sysctls: dict[str, dict[str, str]] = {}  # per host, after the case

    def trace(self, act: int | None = None) -> list[FrameRecord]:
        """Address resolution and packets merged in time order (of one act, when given)."""
        records: list[FrameRecord] = [*self.arp, *self.packets]
        if act is not None:
            records = [r for r in records if r.act == act]
        return sorted(records, key=lambda r: r.t_ms)

    def arp_requests_by(self, host: str, act: int | None = None) -> list[ArpRecord]:
        """Resolution requests (ARP who-has, neighbour solicitations) that left `host`."""
        return [
            a
            for a in self.arp
            if a.host == host
            and a.direction == "out"
            and a.op == "who-has"
            and (act is None or a.act == act)
        ]

    def icmp_errors_to(self, host: str, act: int | None = None) -> list[PacketRecord]:
        """ICMP errors and redirects that arrived at `host`."""
        return [
            p
            for p in self.packets
            if p.host == host
            and p.direction == "in"
            and p.is_icmp_error
            and (act is None or p.act == act)
        ]

    def received_during(self, act: int) -> list[Receipt]:
        """What reached the listeners (or answered a ping) during act `act`."""
        return [r for r in self.received if r.act == act]

    def first_packet(
        self, host: str, dst: str, protos: frozenset[str], act: int
    ) -> PacketRecord | None:
        """The first packet of a flow to `dst` that left `host` during act `act`."""
        for record in self.packets:
            if (
                record.act == act
                and record.host == host
                and record.direction == "out"
                and record.proto in protos
                and same_ip(record.dst, dst)
            ):
                return record
        return None

    def neighbour_state(self, act: int, host: str, address: str) -> str:
        """The state of `host`'s entry for `address` after act `act`; ABSENT when none."""
        if act >= len(self.acts):
            return "ABSENT"
        for entry in self.acts[act].neighbours.get(host, []):
            if same_ip(entry.dst, address):
                return entry.state
        return "ABSENT"
