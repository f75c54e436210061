"""Scenario loader: YAML files -> validated, fully resolved `Scenario` objects.

A scenario file states one claim, names its source, names (or draws) a topology
and lists cases.  Every field is checked on load; an error names the file, the
field and what is wrong, so a typo never turns into a confusing kernel error.
"""

from __future__ import annotations

import errno
import functools
import ipaddress
import re
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from harness.ipsyntax import (
    IpSyntaxError,
    NeighSpec,
    RouteSpec,
    RuleSpec,
    parse_addr,
    parse_link_set,
    parse_neigh,
    parse_route,
    parse_rule,
    parse_verb,
)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SCENARIO_DIR = PROJECT_ROOT / "scenarios"
TOPOLOGY_DIR = PROJECT_ROOT / "fixtures" / "topologies"

# The only addresses a scenario may use: documentation and benchmark ranges.
# Real-world addresses from articles are mapped onto these.
ALLOWED_NETWORKS = tuple(
    ipaddress.ip_network(n)
    for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "198.18.0.0/15", "2001:db8::/32")
)

IFNAME_MAX = 15  # IFNAMSIZ - 1


class ScenarioError(ValueError):
    """A scenario or topology file is malformed; says which file, which field and what is wrong."""

    def __init__(self, path: Path | str, field: str, problem: str) -> None:
        self.path, self.field, self.problem = Path(path), field, problem
        where = f"{self.path}: {field}: " if field else f"{self.path}: "
        super().__init__(where + problem)


def check_allowed(address: ipaddress.IPv4Address | ipaddress.IPv6Address | str) -> None:
    """Refuse any address outside the documentation and benchmark ranges."""
    addr = ipaddress.ip_address(address)
    if addr.is_unspecified:
        return
    if not any(addr in net for net in ALLOWED_NETWORKS):
        allowed = ", ".join(str(n) for n in ALLOWED_NETWORKS)
        raise ValueError(f"{addr} is outside the documentation/benchmark ranges ({allowed})")


def _parsed(parser: Callable[[str], Any], what: str) -> Callable[[Any], Any]:
    """A before-validator that turns `ip` text into a spec, with the parser's message on error."""

    def convert(value: Any) -> Any:
        if not isinstance(value, str):
            if isinstance(value, (RouteSpec, RuleSpec, NeighSpec)):
                return value
            raise ValueError(f"write a {what} as `ip` would print it, e.g. {_EXAMPLES[what]!r}")
        try:
            spec = parser(value)
        except IpSyntaxError as exc:
            raise ValueError(str(exc)) from None
        _check_spec_addresses(spec)
        return spec

    return convert


_EXAMPLES = {
    "route": "default via 192.0.2.1",
    "rule": "from 192.0.2.0/24 lookup 100",
    "neighbour": "192.0.2.9 lladdr 02:00:00:00:00:09 dev eth0",
}


def _check_spec_addresses(spec: object) -> None:
    for name in ("via", "src", "dst", "address"):
        value = getattr(spec, name, None)
        # Interfaces first: IPv4Interface is a subclass of IPv4Address.
        if isinstance(value, (ipaddress.IPv4Interface, ipaddress.IPv6Interface)):
            if name != "dst" or value.network.prefixlen:  # 0.0.0.0/0 is `default`
                check_allowed(value.ip)
            if name == "dst" and value.network.prefixlen:
                # 2001:db8::1/16 would install 2001::/16 once the kernel masks it.
                check_allowed(value.network.network_address)
        elif isinstance(value, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
            check_allowed(value)
        elif isinstance(value, (ipaddress.IPv4Network, ipaddress.IPv6Network)) and value.prefixlen:
            check_allowed(value.network_address)


Route = Annotated[RouteSpec, BeforeValidator(_parsed(parse_route, "route")), PlainSerializer(str)]
Rule = Annotated[RuleSpec, BeforeValidator(_parsed(parse_rule, "rule")), PlainSerializer(str)]
Neigh = Annotated[
    NeighSpec, BeforeValidator(_parsed(parse_neigh, "neighbour")), PlainSerializer(str)
]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPInterface = ipaddress.IPv4Interface | ipaddress.IPv6Interface


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)


# --------------------------------------------------------------------------- topology

InterfaceKind = Literal[
    "veth", "port", "macvlan", "ipvlan", "tun", "tap", "dummy", "vrf", "bridge", "loopback"
]
# What each kind needs from the kernel (checked before a case runs; missing -> skip).
KERNEL_KINDS: dict[str, str] = {
    "veth": "veth",
    "port": "bridge",
    "bridge": "bridge",
    "macvlan": "macvlan",
    "ipvlan": "ipvlan",
    "tun": "tun",
    "tap": "tun",
    "dummy": "dummy",
    "vrf": "vrf",
}


class Interface(Strict):
    """One interface of a host.

    `lan: NAME` makes it a port on a LAN (a bridge in a namespace of its own),
    `link: HOST.IFNAME` one end of a veth pair; other kinds are named with `kind`:
    macvlan/ipvlan (`parent`, `mode`), tun, tap, dummy, vrf (`table`), bridge.
    """

    kind: InterfaceKind | None = None
    lan: str | None = None
    link: str | None = Field(default=None, description="the other end, as HOST.IFNAME")
    parent: str | None = Field(default=None, description="macvlan/ipvlan: the lower interface")
    mode: str | None = None
    table: int | None = Field(default=None, description="vrf: its routing table")
    master: str | None = Field(default=None, description="enslave to this vrf or bridge")
    mac: str | None = None
    addresses: list[IPInterface] = []
    up: bool = True

    @field_validator("addresses")
    @classmethod
    def _allowed(cls, value: list[IPInterface]) -> list[IPInterface]:
        for iface in value:
            check_allowed(iface.ip)
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Interface:
        kind = self.resolved_kind
        if self.lan is not None and self.link is not None:
            raise ValueError("give either 'lan: NAME' or 'link: HOST.IFNAME', not both")
        if kind is None:
            raise ValueError(
                "say what this interface is: 'lan: NAME', 'link: HOST.IFNAME' or "
                f"'kind: ...' (one of {', '.join(get_args(InterfaceKind))})"
            )
        if kind == "veth" and self.link is None:
            raise ValueError("a veth needs 'link: HOST.IFNAME' (its other end)")
        if kind == "port" and self.lan is None:
            raise ValueError("a LAN port needs 'lan: NAME'")
        if self.link is not None and not re.fullmatch(r"[\w-]+\.[\w.-]+", self.link):
            raise ValueError(f"link {self.link!r} must be HOST.IFNAME, e.g. far.eth0")
        if kind in ("macvlan", "ipvlan") and self.parent is None:
            raise ValueError(f"a {kind} needs 'parent: IFNAME' (its lower interface)")
        modes = {
            "macvlan": ("bridge", "private", "vepa", "passthru"),
            "ipvlan": ("l2", "l3", "l3s"),
        }
        if self.mode is not None and self.mode not in modes.get(kind, ()):
            raise ValueError(f"mode {self.mode!r} does not fit a {kind} ({modes.get(kind, ())})")
        if kind == "vrf" and self.table is None:
            raise ValueError("a vrf needs 'table: N'")
        if self.mac is not None and not re.fullmatch(r"(?:[0-9a-f]{2}:){5}[0-9a-f]{2}", self.mac):
            raise ValueError(f"mac {self.mac!r} must be lower-case aa:bb:cc:dd:ee:ff")
        return self

    @property
    def resolved_kind(self) -> str | None:
        """The kind, inferred from `lan`/`link` when not given."""
        if self.kind is not None:
            return self.kind
        return "port" if self.lan else "veth" if self.link else None


class Host(Strict):
    """A network namespace: its interfaces, routes, rules, neighbours and sysctls."""

    interfaces: dict[str, Interface] = {}
    routes: list[Route] = []
    rules: list[Rule] = []
    neighbours: list[Neigh] = []
    sysctls: dict[str, int | str] = {}

    @field_validator("interfaces", mode="before")
    @classmethod
    def _loopback(cls, value: Any) -> Any:
        # `lo` exists in every namespace; listing it only adds addresses.
        if isinstance(value, dict) and isinstance(value.get("lo"), dict):
            value = {**value, "lo": {"kind": "loopback", **value["lo"]}}
        return value

    @field_validator("interfaces")
    @classmethod
    def _names(cls, value: dict[str, Interface]) -> dict[str, Interface]:
        for name, iface in value.items():
            if len(name) > IFNAME_MAX or not re.fullmatch(r"[\w.-]+", name):
                raise ValueError(
                    f"interface name {name!r} is not a valid Linux name (max 15 chars)"
                )
            if (name == "lo") != (iface.resolved_kind == "loopback"):
                raise ValueError(f"{name!r}: only 'lo' is the loopback interface")
        for name, iface in value.items():
            for ref in (iface.parent, iface.master):
                if ref is not None and ref not in value:
                    raise ValueError(f"{name!r} refers to {ref!r}, which this host does not have")
        return value

    @field_validator("sysctls")
    @classmethod
    def _net_only(cls, value: dict[str, int | str]) -> dict[str, int | str]:
        for key in value:
            if not key.startswith("net."):
                raise ValueError(f"sysctl {key!r}: only net.* keys are per namespace")
        return value


class Topology(Strict):
    """Hosts, and the links and LANs between them."""

    name: str = "inline"
    description: str = ""
    diagram: str = ""
    hosts: dict[str, Host]

    @model_validator(mode="after")
    def _links_agree(self) -> Topology:
        for host_name, host in self.hosts.items():
            if not re.fullmatch(r"[a-z][a-z0-9-]*", host_name):
                raise ValueError(f"host name {host_name!r}: lower-case letters, digits and '-'")
            if host_name in self.lans():
                raise ValueError(f"{host_name!r} names both a host and a LAN")
            for if_name, iface in host.interfaces.items():
                if iface.link is None:
                    continue
                peer_host, _, peer_if = iface.link.partition(".")
                other = self.hosts.get(peer_host)
                if other is None or peer_if not in other.interfaces:
                    raise ValueError(
                        f"hosts.{host_name}.interfaces.{if_name}.link: no interface {iface.link!r}"
                    )
                back = other.interfaces[peer_if].link
                if back != f"{host_name}.{if_name}":
                    raise ValueError(
                        f"hosts.{host_name}.interfaces.{if_name} links to {iface.link} "
                        f"but {iface.link} links to {back!r}"
                    )
        return self

    def lans(self) -> dict[str, list[tuple[str, str]]]:
        """LAN name -> its (host, interface) ports, in file order."""
        lans: dict[str, list[tuple[str, str]]] = {}
        for host_name, host in self.hosts.items():
            for if_name, iface in host.interfaces.items():
                if iface.lan is not None:
                    lans.setdefault(iface.lan, []).append((host_name, if_name))
        return lans

    def veth_pairs(self) -> list[tuple[tuple[str, str], tuple[str, str]]]:
        """Each point-to-point link once, as ((host, ifname), (host, ifname))."""
        pairs = []
        for host_name, host in self.hosts.items():
            for if_name, iface in host.interfaces.items():
                if iface.link is None:
                    continue
                peer_host, _, peer_if = iface.link.partition(".")
                if (host_name, if_name) < (peer_host, peer_if):
                    pairs.append(((host_name, if_name), (peer_host, peer_if)))
        return pairs

    def owner_of(self, address: str) -> str | None:
        """The host that has `address` on one of its interfaces."""
        addr = ipaddress.ip_address(address)
        for host_name, host in self.hosts.items():
            for iface in host.interfaces.values():
                if any(a.ip == addr for a in iface.addresses):
                    return host_name
        return None

    @property
    def uses_ipv6(self) -> bool:
        """True when any address, route or rule is IPv6 (IPv6 is then left on in every host)."""
        for host in self.hosts.values():
            if any(a.version == 6 for i in host.interfaces.values() for a in i.addresses):
                return True
            if any(r.family == socket.AF_INET6 for r in host.routes):
                return True
            if any(r.family == socket.AF_INET6 for r in host.rules):
                return True
        return False

    def kernel_kinds(self) -> set[str]:
        """Link kinds the kernel must be able to create for this topology."""
        kinds = {
            KERNEL_KINDS[k]
            for h in self.hosts.values()
            for i in h.interfaces.values()
            if (k := i.resolved_kind) in KERNEL_KINDS
        }
        return kinds | ({"bridge"} if self.lans() else set())


# --------------------------------------------------------------------------- cases

SOCKOPTS = ("SO_DONTROUTE", "IP_FREEBIND")
MSG_FLAGS = ("MSG_DONTROUTE",)
ERRNO_NAMES = frozenset(errno.errorcode.values())
_CHANGE_PARSERS: dict[str, tuple[tuple[str, ...], Callable[[str], Any]]] = {
    "route": (("add", "del", "replace"), parse_route),
    "rule": (("add", "del"), parse_rule),
    "neigh": (("add", "del", "replace"), parse_neigh),
    "addr": (("add", "del"), parse_addr),
    "link": (("set",), parse_link_set),
}


class Change(Strict):
    """A change made during a case, like one `ip` or `sysctl` command on one host.

    `route`, `rule`, `neigh`, `addr` take the words after `ip route` (etc.), verb
    first (`del default`); `link` the words after `ip link` (`set eth0 down`,
    `set eth0 name wan0`); `sysctl` a mapping of keys to values.
    """

    host: str
    route: str | None = None
    rule: str | None = None
    neigh: str | None = None
    addr: str | None = None
    link: str | None = None
    sysctl: dict[str, int | str] | None = None
    fails_with: str | None = Field(
        default=None,
        description="the claim is that the kernel refuses this change, with this errno "
        "(e.g. ENETUNREACH); the case then checks that it does",
    )

    @field_validator("fails_with")
    @classmethod
    def _errno_name(cls, value: str | None) -> str | None:
        if value is not None and value not in ERRNO_NAMES:
            raise ValueError(f"{value!r} is not an errno name such as ENETUNREACH")
        return value

    @field_validator("route", "rule", "neigh", "addr", "link")
    @classmethod
    def _parses(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None:
            verbs, parser = _CHANGE_PARSERS[str(info.field_name)]
            try:
                _, rest = parse_verb(value, verbs)
                _check_spec_addresses(parser(rest))
            except IpSyntaxError as exc:
                raise ValueError(str(exc)) from None
        return value

    @model_validator(mode="after")
    def _one_action(self) -> Change:
        given = [k for k in (*_CHANGE_PARSERS, "sysctl") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                "a change does exactly one thing: "
                "give one of route, rule, neigh, addr, link, sysctl"
            )
        for key in self.sysctl or {}:
            if not key.startswith("net."):
                raise ValueError(f"sysctl {key!r}: only net.* keys are per namespace")
        return self

    @property
    def kind(self) -> str:
        """route, rule, neigh, addr, link or sysctl."""
        return next(k for k in (*_CHANGE_PARSERS, "sysctl") if getattr(self, k) is not None)

    def parsed(self) -> tuple[str, Any]:
        """(verb, spec) of an `ip` change."""
        verbs, parser = _CHANGE_PARSERS[self.kind]
        verb, rest = parse_verb(getattr(self, self.kind), verbs)
        return verb, parser(rest)

    def __str__(self) -> str:
        if self.sysctl is not None:
            text = f"{self.host}: sysctl " + " ".join(f"{k}={v}" for k, v in self.sysctl.items())
        else:
            text = f"{self.host}: ip {self.kind} {getattr(self, self.kind)}"
        return text + (f"  (expected to fail: {self.fails_with})" if self.fails_with else "")


def _bind(value: str) -> tuple[str, int]:
    """'ADDR', 'ADDR:PORT', ':PORT' or '[V6]:PORT' -> (address, port)."""
    m = re.fullmatch(
        r"\[(?P<v6>[^\]]+)\](?::(?P<p6>\d+))?|(?P<a>[^:]*)(?::(?P<p>\d+))?|(?P<bare6>.*:.*)", value
    )
    if not m:
        raise ValueError(f"bind {value!r}: write ADDR, ADDR:PORT, :PORT or [IPV6]:PORT")
    address = m["v6"] or m["a"] or m["bare6"] or ""
    port = int(m["p6"] or m["p"] or 0)
    if address:
        check_allowed(address)
    return address, port


class Probe(Strict):
    """A real socket in `host` doing one thing: a UDP datagram, TCP connect, ping or raw frame."""

    host: str
    proto: Literal["udp", "tcp", "icmp", "raw"] = "udp"
    dst: IPAddress
    port: int = Field(default=9000, ge=1, le=65535)
    sockopts: list[str] = []
    flags: list[str] = []
    bind_device: str | None = Field(default=None, description="SO_BINDTODEVICE interface")
    unicast_if: str | None = Field(default=None, description="IP_UNICAST_IF / IPV6_UNICAST_IF")
    mark: int | None = Field(default=None, ge=0, description="SO_MARK")
    tos: int | None = Field(
        default=None, ge=0, le=255, description="IP_TOS (IPv4) or IPV6_TCLASS (IPv6)"
    )
    bind: str | None = Field(default=None, description="bind() first: ADDR, ADDR:PORT or :PORT")
    connect: bool = Field(
        default=False, description="UDP: connect() and send() instead of sendto()"
    )
    payload_size: int = Field(default=64, ge=0, le=1400)
    timeout_ms: int = Field(default=1000, ge=10, le=5000, description="TCP connect bound")
    iface: str | None = Field(default=None, description="raw: the interface to inject on")
    eth_dst: str | None = Field(default=None, description="raw: destination MAC of the frame")
    src: IPAddress | None = Field(default=None, description="raw: source IP of the frame")

    @field_validator("dst", "src")
    @classmethod
    def _allowed(cls, value: IPAddress | None) -> IPAddress | None:
        if value is not None:
            check_allowed(value)
        return value

    @field_validator("bind")
    @classmethod
    def _bind_ok(cls, value: str | None) -> str | None:
        if value is not None:
            _bind(value)
        return value

    @field_validator("sockopts")
    @classmethod
    def _known_opts(cls, value: list[str]) -> list[str]:
        for opt in value:
            if opt == "SO_BINDTODEVICE":
                raise ValueError("write SO_BINDTODEVICE as 'bind_device: IFNAME'")
            if opt in ("IP_UNICAST_IF", "IPV6_UNICAST_IF"):
                raise ValueError(f"write {opt} as 'unicast_if: IFNAME'")
            if opt == "SO_MARK":
                raise ValueError("write SO_MARK as 'mark: N'")
            if opt in ("IP_TOS", "IPV6_TCLASS"):
                raise ValueError(f"write {opt} as 'tos: N'")
            if opt not in SOCKOPTS:
                raise ValueError(f"unknown socket option {opt!r} (known: {', '.join(SOCKOPTS)})")
        return value

    @field_validator("flags")
    @classmethod
    def _known_flags(cls, value: list[str]) -> list[str]:
        for flag in value:
            if flag not in MSG_FLAGS:
                raise ValueError(f"unknown send flag {flag!r} (known: {', '.join(MSG_FLAGS)})")
        return value

    @model_validator(mode="after")
    def _fits_proto(self) -> Probe:
        if self.proto == "raw":
            if self.iface is None or self.eth_dst is None:
                raise ValueError("a raw probe needs 'iface' and 'eth_dst'")
            if self.tos is not None:
                raise ValueError("a raw probe's frame is built as given: 'tos' does not apply")
        elif self.iface or self.eth_dst or self.src:
            raise ValueError("'iface', 'eth_dst' and 'src' belong to raw probes only")
        if self.connect and self.proto != "udp":
            raise ValueError("'connect' is for UDP probes (TCP always connects)")
        if self.flags and self.proto not in ("udp", "icmp"):
            raise ValueError("send flags apply to UDP and ICMP probes")
        return self

    @property
    def family(self) -> int:
        """AF_INET or AF_INET6, from the destination."""
        return socket.AF_INET6 if self.dst.version == 6 else socket.AF_INET

    def bind_address(self) -> tuple[str, int] | None:
        """(address, port) to bind before acting, if any."""
        return _bind(self.bind) if self.bind else None

    def describe(self) -> str:
        """One line, like the command an article would run."""
        opts = [*self.sockopts, *self.flags]
        if self.bind_device:
            opts.append(f"SO_BINDTODEVICE={self.bind_device}")
        if self.unicast_if:
            opts.append(
                f"{'IPV6' if self.family == socket.AF_INET6 else 'IP'}_UNICAST_IF={self.unicast_if}"
            )
        if self.mark is not None:
            opts.append(f"SO_MARK={self.mark:#x}")
        if self.tos is not None:
            name = "IPV6_TCLASS" if self.family == socket.AF_INET6 else "IP_TOS"
            opts.append(f"{name}={self.tos:#x}")
        if self.bind:
            opts.append(f"bind {self.bind}")
        extra = f" [{', '.join(opts)}]" if opts else " [no options]"
        action = {
            "udp": "udp connect+send" if self.connect else "udp sendto",
            "tcp": "tcp connect",
            "icmp": "ping",
            "raw": f"raw frame on {self.iface} to {self.eth_dst},",
        }[self.proto]
        where = f"{self.dst}" if self.proto == "icmp" else f"{self.dst}:{self.port}"
        return f"{self.host}: {action} {where}{extra}"


class Listener(Strict):
    """A socket on a host that records what reaches it (UDP datagrams, TCP connections)."""

    host: str
    proto: Literal["udp", "tcp"] = "udp"
    port: int = Field(default=9000, ge=1, le=65535)
    bind: str | None = Field(default=None, description="address to bind; default: any")
    bind_device: str | None = Field(default=None, description="SO_BINDTODEVICE on the listener")
    ipv6: bool = False

    @field_validator("bind")
    @classmethod
    def _allowed(cls, value: str | None) -> str | None:
        if value is not None:
            check_allowed(value)
        return value


_ARP_RE = re.compile(r"who-has (?P<target>\S+)(?: tell (?P<sender>\S+))?")
_RECEIPT_RE = re.compile(r"(?P<host>[a-z][a-z0-9-]*)(?: from (?P<src>\S+))?")
_ICMP_RE = re.compile(r"type (?P<type>\d+)(?: code (?P<code>\d+))?(?: from (?P<src>\S+))?")


class ArpPattern(Strict):
    """An address-resolution request as tcpdump prints it: `who-has TARGET [tell SENDER]`.

    Matches ARP requests (IPv4) and neighbour solicitations (IPv6) alike.
    """

    target: IPAddress
    sender: IPAddress | None = None

    def __str__(self) -> str:
        return f"who-has {self.target}" + (f" tell {self.sender}" if self.sender else "")


def _arp(value: Any) -> Any:
    if isinstance(value, str):
        m = _ARP_RE.fullmatch(value.strip())
        if not m:
            raise ValueError(f"{value!r}: write a request as 'who-has IP' or 'who-has IP tell IP'")
        return {"target": m["target"], "sender": m["sender"]}
    return value


class ReceiptPattern(Strict):
    """What reached `host`'s listener (for a ping: which host answered), optionally from `src`."""

    host: str
    src: IPAddress | None = None

    def __str__(self) -> str:
        return self.host + (f" from {self.src}" if self.src else "")


def _receipt(value: Any) -> Any:
    if isinstance(value, str):
        m = _RECEIPT_RE.fullmatch(value.strip())
        if not m:
            raise ValueError(f"{value!r}: write a delivery as 'HOST' or 'HOST from IP'")
        return {"host": m["host"], "src": m["src"]}
    return value


class IcmpPattern(Strict):
    """An ICMP/ICMPv6 error that reached the probing host: `type T [code C] [from IP]`."""

    type: int
    code: int | None = None
    src: IPAddress | None = None

    def __str__(self) -> str:
        code = f" code {self.code}" if self.code is not None else ""
        return f"type {self.type}{code}" + (f" from {self.src}" if self.src else "")


def _icmp(value: Any) -> Any:
    if isinstance(value, str):
        m = _ICMP_RE.fullmatch(value.strip())
        if not m:
            raise ValueError(f"{value!r}: write an ICMP error as 'type T [code C] [from IP]'")
        return {"type": m["type"], "code": m["code"], "src": m["src"]}
    return value


class PacketPattern(Strict):
    """A frame seen on the wire; every field given must match, the rest is free."""

    host: str | None = None
    ifname: str | None = None
    direction: Literal["in", "out", "fd"] | None = Field(
        default=None, description="in, out, or fd: written by the kernel to a tun/tap fd"
    )
    pkttype: Literal["host", "broadcast", "multicast", "otherhost", "outgoing", "fd"] | None = None
    proto: str | None = Field(default=None, description="arp, ndp, udp, tcp, icmp, icmp6, ...")
    src: IPAddress | None = None
    dst: IPAddress | None = None
    sport: int | None = None
    dport: int | None = None
    tcp_flags: str | None = Field(
        default=None, description="as scapy prints them: S, SA, R, RA, ..."
    )
    icmp_type: int | None = None
    icmp_code: int | None = None
    tos: int | None = Field(default=None, description="IPv4 TOS byte or IPv6 traffic class")

    def __str__(self) -> str:
        return " ".join(f"{k}={v}" for k, v in self.model_dump(exclude_none=True).items())


LINK_FLAG_NAMES = (
    "LOOPBACK",
    "BROADCAST",
    "POINTOPOINT",
    "MULTICAST",
    "NOARP",
    "PROMISC",
    "UP",
    "LOWER_UP",
)


class LinkExpectation(Strict):
    """Attributes of one link after the probe, as `ip -d link show` reports them."""

    type: Literal["ether", "none", "loopback"] | None = Field(
        default=None, description="link type: ether, none (tun: no link layer), loopback"
    )
    address: str | None = Field(
        default=None, description="exact link-layer address, or 'none' for no address at all"
    )
    address_prefix: str | None = Field(
        default=None, description="the address starts with these octets, e.g. 00:ff"
    )
    locally_administered: bool | None = Field(
        default=None, description="the address has the locally administered bit (02) set"
    )
    flags: list[str] | None = Field(default=None, description="IFF_ flags that must be set")
    without_flags: list[str] | None = Field(
        default=None, description="IFF_ flags that must not be set"
    )
    mtu: int | None = None
    txqueuelen: int | None = None

    @field_validator("flags", "without_flags")
    @classmethod
    def _known_flags(cls, value: list[str] | None) -> list[str] | None:
        for flag in value or []:
            if flag not in LINK_FLAG_NAMES:
                raise ValueError(f"unknown flag {flag!r} (known: {', '.join(LINK_FLAG_NAMES)})")
        return value

    @field_validator("address", "address_prefix")
    @classmethod
    def _mac(cls, value: str | None) -> str | None:
        if value is None or value == "none":
            return value
        octets = value.lower().split(":")
        if not all(len(o) == 2 and all(c in "0123456789abcdef" for c in o) for o in octets):
            raise ValueError(f"{value!r} is not a MAC address or prefix like 02:00:5e")
        return value.lower()


class RouteExpectation(Strict):
    """Fields of the kernel's route lookup for the probe's flow (`ip route get`)."""

    type: str | None = None
    dev: str | None = None
    gateway: IPAddress | None = None
    src: IPAddress | None = None
    table: int | None = None
    error: str | None = Field(default=None, description="the lookup fails with this errno name")

    @field_validator("error")
    @classmethod
    def _errno_name(cls, value: str | None) -> str | None:
        if value is not None and value not in ERRNO_NAMES:
            raise ValueError(f"{value!r} is not an errno name such as ENETUNREACH")
        return value

    @model_validator(mode="after")
    def _says_something(self) -> RouteExpectation:
        if not self.model_dump(exclude_none=True):
            raise ValueError(
                "a route expectation names at least one of type, dev, gateway, src, table, error"
            )
        return self


NEIGH_STATE_NAMES = (
    "INCOMPLETE",
    "REACHABLE",
    "STALE",
    "DELAY",
    "PROBE",
    "FAILED",
    "NOARP",
    "PERMANENT",
    "ABSENT",
)


class Expect(Strict):
    """What the claim says about one probe; only the fields given are compared."""

    errno: str | None = Field(default=None, description="'ok' or an errno name such as ENETUNREACH")
    arp: dict[str, list[Annotated[ArpPattern, BeforeValidator(_arp)]]] | None = Field(
        default=None,
        description="host -> exactly the ARP requests / neighbour solicitations it sends",
    )
    received: list[Annotated[ReceiptPattern, BeforeValidator(_receipt)]] | None = Field(
        default=None, description="exactly the hosts whose listener gets the probe (ping: answers)"
    )
    src: IPAddress | None = Field(
        default=None, description="source address of the probe on the wire"
    )
    egress: str | None = Field(default=None, description="interface the probe left its host by")
    icmp: list[Annotated[IcmpPattern, BeforeValidator(_icmp)]] | None = Field(
        default=None, description="exactly the ICMP errors/redirects the probing host receives"
    )
    route: RouteExpectation | None = None
    seen: list[PacketPattern] | None = Field(default=None, description="frames that must appear")
    not_seen: list[PacketPattern] | None = Field(default=None, description="frames that must not")
    neighbours: dict[str, dict[str, str]] | None = Field(
        default=None, description="host -> {IP: STATE} after the probe (ABSENT: no entry)"
    )
    links: dict[str, dict[str, LinkExpectation]] | None = Field(
        default=None, description="host -> {interface: attributes} after the probe"
    )

    @field_validator("errno")
    @classmethod
    def _errno(cls, value: str | None) -> str | None:
        if value is not None and value != "ok" and value not in ERRNO_NAMES:
            raise ValueError(f"{value!r} is neither 'ok' nor an errno name such as ENETUNREACH")
        return value

    @field_validator("neighbours")
    @classmethod
    def _states(cls, value: dict[str, dict[str, str]] | None) -> dict[str, dict[str, str]] | None:
        for entries in (value or {}).values():
            for address, state in entries.items():
                ipaddress.ip_address(address)
                if state not in NEIGH_STATE_NAMES:
                    raise ValueError(f"{state!r}: known states are {', '.join(NEIGH_STATE_NAMES)}")
        return value

    @model_validator(mode="after")
    def _not_empty(self) -> Expect:
        if not self.model_dump(exclude_none=True):
            raise ValueError("an expectation must say something (errno, arp, received, src, ...)")
        return self


class Act(Strict):
    """Changes, then one probe, then what the claim expects of it.

    When the case is `refuted`, `kernel_does` says what this kernel does instead,
    so that a refuted claim is still a precise check of the kernel.
    """

    change: list[Change] = []
    probe: Probe
    expect: Expect
    kernel_does: Expect | None = None


class Case(Strict):
    """One run of the experiment.

    Either one act written inline (`change`, `probe`, `expect`) or several in
    `steps`, run in order on the same topology ("configure, act, change, act
    again").
    """

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    title: str
    change: list[Change] = []
    probe: Probe | None = None
    expect: Expect | None = None
    kernel_does: Expect | None = None
    steps: list[Act] | None = None
    listeners: list[Listener] | None = Field(
        default=None, description="default: one on every other host, on each probe's port"
    )
    refuted: str | None = Field(
        default=None,
        description="why the article's claim does not hold on this kernel; every act then "
        "says in `kernel_does` what the kernel does instead",
    )

    @model_validator(mode="after")
    def _one_form(self) -> Case:
        inline = (
            self.probe is not None
            or self.expect is not None
            or bool(self.change)
            or self.kernel_does is not None
        )
        if self.steps is not None and inline:
            raise ValueError("give either 'steps' or 'change'/'probe'/'expect', not both")
        if self.steps is None and (self.probe is None or self.expect is None):
            raise ValueError("a case needs 'probe' and 'expect' (or 'steps')")
        if self.steps is not None and not self.steps:
            raise ValueError("'steps' is empty")
        with_kernel = [a.kernel_does is not None for a in self.acts()]
        if self.refuted and not all(with_kernel):
            raise ValueError(
                "a refuted claim must say in 'kernel_does' what the kernel does instead"
            )
        if not self.refuted and any(with_kernel):
            raise ValueError("'kernel_does' goes with 'refuted: WHY'")
        return self

    def acts(self) -> list[Act]:
        """The acts of the case, in order."""
        if self.steps is not None:
            return list(self.steps)
        assert self.probe is not None and self.expect is not None
        return [
            Act(
                change=self.change,
                probe=self.probe,
                expect=self.expect,
                kernel_does=self.kernel_does,
            )
        ]


class Source(Strict):
    article: str
    section: str = ""


class ScenarioFile(Strict):
    """The YAML document as written."""

    claim: str
    source: Source
    topology: str | Topology
    cases: list[Case] = Field(min_length=1)


class Scenario(BaseModel):
    """A loaded scenario with its topology resolved."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    path: Path
    name: str
    claim: str
    source: Source
    topology: Topology
    cases: list[Case]

    def case(self, case_id: str) -> Case:
        """The case called `case_id`."""
        for case in self.cases:
            if case.id == case_id:
                return case
        raise KeyError(
            f"{self.path}: no case {case_id!r} (cases: {', '.join(c.id for c in self.cases)})"
        )


# --------------------------------------------------------------------------- loading


def _field_path(loc: tuple[int | str, ...], doc: Any) -> str:
    """Render a pydantic location as `cases[2](far-no-default).probe.dst`.

    Only parts that exist in the document are kept: pydantic also puts the
    names of union branches and validators into a location.  A last part that
    is not in the document is a missing field, and is named.
    """
    out = ""
    node = doc
    for position, part in enumerate(loc):
        last = position == len(loc) - 1
        if isinstance(part, int) and isinstance(node, list) and part < len(node):
            out += f"[{part}]"
            node = node[part]
            if isinstance(node, dict) and "id" in node:
                out += f"({node['id']})"
        elif isinstance(node, dict) and part in node:
            out += f".{part}" if out else str(part)
            node = node[part]
        elif last and isinstance(part, str) and re.fullmatch(r"[a-z_]+", part):
            out += f".{part}" if out else part
    return out


def _read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(path, "", f"cannot read: {exc.strerror}") from None
    try:
        # libyaml's parser when PyYAML has it: the pure-Python one made up most
        # of collection time (1.4 s for the catalogue, once per xdist worker).
        doc = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as exc:
        raise ScenarioError(path, "", f"not valid YAML: {exc}") from None
    if not isinstance(doc, dict):
        raise ScenarioError(path, "", "must be a YAML mapping at the top level")
    return doc


def _validate(model: type[BaseModel], doc: Any, path: Path) -> Any:
    try:
        return model.model_validate(doc)
    except ValidationError as exc:
        errors = exc.errors()
        # For a union (a topology name or an inline topology), pydantic reports
        # every branch; the deepest error at the first failing place that is not
        # merely "this branch wants another type" is the real one.
        first = max(
            (e for e in errors if e["loc"][:1] == errors[0]["loc"][:1]),
            key=lambda e: (len(e["loc"]), not e["type"].endswith("_type")),
        )
        message = first["msg"].removeprefix("Value error, ")
        more = len({e["loc"][:1] for e in errors}) - 1
        if more:
            message += f" (and problems in {more} more field{'s' if more > 1 else ''})"
        raise ScenarioError(path, _field_path(first["loc"], doc), message) from None


@functools.lru_cache(maxsize=64)
def load_topology(name: str, directory: Path = TOPOLOGY_DIR) -> Topology:
    """Load fixtures/topologies/NAME.yaml (cached: topologies are immutable models)."""
    path = directory / f"{name}.yaml"
    if not path.exists():
        known = sorted(p.stem for p in directory.glob("*.yaml"))
        raise FileNotFoundError(f"no topology {name!r} in {directory} (known: {', '.join(known)})")
    doc = _read_yaml(path)
    doc.setdefault("name", name)
    topology: Topology = _validate(Topology, doc, path)
    return topology


def load_scenario(path: Path | str, topology_dir: Path = TOPOLOGY_DIR) -> Scenario:
    """Load and check one scenario file, resolving its topology and cross-references."""
    path = Path(path)
    doc = _read_yaml(path)
    raw: ScenarioFile = _validate(ScenarioFile, doc, path)
    if isinstance(raw.topology, str):
        try:
            topology = load_topology(raw.topology, topology_dir)
        except FileNotFoundError as exc:
            raise ScenarioError(path, "topology", str(exc)) from None
        except ScenarioError as exc:
            raise ScenarioError(
                path, "topology", f"in {exc.path}: {exc.field}: {exc.problem}"
            ) from None
    else:
        topology = raw.topology
    _check_references(path, topology, raw.cases)
    return Scenario(
        path=path,
        name=path.stem,
        claim=raw.claim.strip(),
        source=raw.source,
        topology=topology,
        cases=raw.cases,
    )


def _check_references(path: Path, topology: Topology, cases: list[Case]) -> None:
    seen: set[str] = set()
    hosts = topology.hosts
    names = ", ".join(hosts)

    def host(where: str, name: str) -> None:
        if name not in hosts:
            raise ScenarioError(path, where, f"no host {name!r} (hosts: {names})")

    renamed: dict[str, set[str]] = {}  # names given by `link set X name Y` earlier in a case

    def interface(where: str, host_name: str, ifname: str | None) -> None:
        known = {*hosts[host_name].interfaces, "lo", *renamed.get(host_name, set())}
        if ifname is not None and ifname not in known:
            raise ScenarioError(path, where, f"host {host_name!r} has no interface {ifname!r}")

    for i, case in enumerate(cases):
        where = f"cases[{i}]({case.id})"
        if case.id in seen:
            raise ScenarioError(path, f"{where}.id", f"case id {case.id!r} is used twice")
        seen.add(case.id)
        for k, listener in enumerate(case.listeners or []):
            host(f"{where}.listeners[{k}].host", listener.host)
            interface(f"{where}.listeners[{k}].bind_device", listener.host, listener.bind_device)
        renamed.clear()
        for a, act in enumerate(case.acts()):
            at = where if case.steps is None else f"{where}.steps[{a}]"
            for j, change in enumerate(act.change):
                host(f"{at}.change[{j}].host", change.host)
                if change.link is not None:
                    new_name = change.parsed()[1].name
                    if new_name:
                        renamed.setdefault(change.host, set()).add(new_name)
            probe = act.probe
            host(f"{at}.probe.host", probe.host)
            for field in ("bind_device", "unicast_if", "iface"):
                interface(f"{at}.probe.{field}", probe.host, getattr(probe, field))
            expect = act.expect
            for name in expect.arp or {}:
                host(f"{at}.expect.arp.{name}", name)
            for name in expect.neighbours or {}:
                host(f"{at}.expect.neighbours.{name}", name)
            for key, said in (("expect", expect), ("kernel_does", act.kernel_does)):
                for name, links in ((said.links or {}) if said else {}).items():
                    host(f"{at}.{key}.links.{name}", name)
                    for ifname in links:
                        interface(f"{at}.{key}.links.{name}.{ifname}", name, ifname)
            for receipt in expect.received or []:
                host(f"{at}.expect.received", receipt.host)
            for pattern in [*(expect.seen or []), *(expect.not_seen or [])]:
                if (
                    pattern.host is not None
                    and pattern.host not in hosts
                    and (pattern.host not in topology.lans())
                ):
                    raise ScenarioError(path, f"{at}.expect", f"no host or LAN {pattern.host!r}")


def discover(paths: list[Path] | None = None) -> list[Path]:
    """Scenario files under the given files/folders (default: scenarios/), sorted."""
    found: list[Path] = []
    for root in paths or [SCENARIO_DIR]:
        if root.is_dir():
            found += sorted(root.rglob("*.yaml"))
        elif root.exists():
            found.append(root)
        else:
            raise FileNotFoundError(f"no scenario file or folder {root}")
    return found
