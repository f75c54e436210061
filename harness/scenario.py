"""Scenario loader: YAML files -> validated, fully resolved `Scenario` objects.

A scenario file states one claim, names its source, names (or draws) a topology
and lists cases.  Every field is checked on load; an error names the file, the
field and what is wrong, so a typo never turns into a confusing kernel error.
"""

from __future__ import annotations

import errno
import ipaddress
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    field_validator,
    model_validator,
)

from harness.routes import (
    RouteCommand,
    RouteSpec,
    RouteSyntaxError,
    parse_route,
    parse_route_command,
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


def _route(value: Any) -> RouteSpec:
    if isinstance(value, RouteSpec):
        return value
    if not isinstance(value, str):
        raise ValueError(
            "a route is written as `ip route` would print it, e.g. 'default via 192.0.2.1'"
        )
    try:
        spec = parse_route(value)
    except RouteSyntaxError as exc:
        raise ValueError(str(exc)) from None
    for addr in (spec.via, spec.src):
        if addr is not None:
            check_allowed(addr)
    if spec.dst is not None and spec.dst.prefixlen > 0:
        check_allowed(spec.dst.network_address)
    return spec


Route = Annotated[RouteSpec, BeforeValidator(_route), PlainSerializer(str)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)


# --------------------------------------------------------------------------- topology


class Interface(Strict):
    """One interface of a host: a port on a LAN (bridge) or one end of a veth pair."""

    lan: str | None = None
    link: str | None = Field(default=None, description="the other end, as HOST.IFNAME")
    addresses: list[ipaddress.IPv4Interface] = []
    up: bool = True

    @field_validator("addresses")
    @classmethod
    def _allowed(cls, value: list[ipaddress.IPv4Interface]) -> list[ipaddress.IPv4Interface]:
        for iface in value:
            check_allowed(iface.ip)
        return value

    @model_validator(mode="after")
    def _one_medium(self) -> Interface:
        if (self.lan is None) == (self.link is None):
            raise ValueError("give exactly one of 'lan: NAME' or 'link: HOST.IFNAME'")
        if self.link is not None and not re.fullmatch(r"[\w-]+\.[\w.-]+", self.link):
            raise ValueError(f"link {self.link!r} must be HOST.IFNAME, e.g. far.eth0")
        return self


class Host(Strict):
    """A network namespace: its interfaces, routes and sysctls."""

    interfaces: dict[str, Interface] = {}
    routes: list[Route] = []
    sysctls: dict[str, int | str] = {}

    @field_validator("interfaces")
    @classmethod
    def _names(cls, value: dict[str, Interface]) -> dict[str, Interface]:
        for name in value:
            if len(name) > IFNAME_MAX or not re.fullmatch(r"[\w.-]+", name) or name == "lo":
                raise ValueError(
                    f"interface name {name!r} is not a valid Linux name (max 15 chars)"
                )
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


# --------------------------------------------------------------------------- cases

SOCKOPTS = ("SO_DONTROUTE", "SO_BINDTODEVICE")
MSG_FLAGS = ("MSG_DONTROUTE",)
ERRNO_NAMES = frozenset(errno.errorcode.values())


class Change(Strict):
    """A change to the topology made before the probe, like one `ip`/`sysctl` command."""

    host: str
    route: str | None = Field(default=None, description="`ip route` words: add|del|replace ROUTE")
    sysctl: dict[str, int | str] | None = None

    @field_validator("route")
    @classmethod
    def _parse(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                _, spec = parse_route_command(value)
            except RouteSyntaxError as exc:
                raise ValueError(str(exc)) from None
            _route(str(spec))
        return value

    @model_validator(mode="after")
    def _one_action(self) -> Change:
        if (self.route is None) == (self.sysctl is None):
            raise ValueError("a change does exactly one thing: give 'route' or 'sysctl'")
        return self

    def route_command(self) -> tuple[RouteCommand, RouteSpec]:
        """The parsed route command (only when this change is a route change)."""
        assert self.route is not None
        return parse_route_command(self.route)

    def __str__(self) -> str:
        if self.route is not None:
            return f"{self.host}: ip route {self.route}"
        assert self.sysctl is not None
        return f"{self.host}: sysctl " + " ".join(f"{k}={v}" for k, v in self.sysctl.items())


class Probe(Strict):
    """A real socket in `host` that sends one datagram to dst:port."""

    host: str
    proto: Literal["udp"] = "udp"
    dst: ipaddress.IPv4Address
    port: int = Field(default=9000, ge=1, le=65535)
    sockopts: list[str] = []
    flags: list[str] = []
    bind_device: str | None = Field(default=None, description="SO_BINDTODEVICE interface name")
    payload_size: int = Field(default=64, ge=0, le=1400)

    @field_validator("dst")
    @classmethod
    def _allowed(cls, value: ipaddress.IPv4Address) -> ipaddress.IPv4Address:
        check_allowed(value)
        return value

    @field_validator("sockopts")
    @classmethod
    def _known_opts(cls, value: list[str]) -> list[str]:
        for opt in value:
            if opt not in SOCKOPTS:
                raise ValueError(f"unknown socket option {opt!r} (known: {', '.join(SOCKOPTS)})")
            if opt == "SO_BINDTODEVICE":
                raise ValueError("write SO_BINDTODEVICE as 'bind_device: IFNAME'")
        return value

    @field_validator("flags")
    @classmethod
    def _known_flags(cls, value: list[str]) -> list[str]:
        for flag in value:
            if flag not in MSG_FLAGS:
                raise ValueError(f"unknown send flag {flag!r} (known: {', '.join(MSG_FLAGS)})")
        return value

    def describe(self) -> str:
        """One line, like the command an article would run."""
        opts = [*self.sockopts, *self.flags]
        if self.bind_device:
            opts.append(f"SO_BINDTODEVICE={self.bind_device}")
        extra = f" [{', '.join(opts)}]" if opts else " [no options]"
        return f"{self.host}: {self.proto} sendto {self.dst}:{self.port}{extra}"


_ARP_RE = re.compile(r"who-has (?P<target>\S+)(?: tell (?P<sender>\S+))?")
_RECEIPT_RE = re.compile(r"(?P<host>[a-z][a-z0-9-]*)(?: from (?P<src>\S+))?")


class ArpPattern(Strict):
    """An ARP request as tcpdump prints it: `who-has TARGET [tell SENDER]`."""

    target: ipaddress.IPv4Address
    sender: ipaddress.IPv4Address | None = None

    def __str__(self) -> str:
        return f"who-has {self.target}" + (f" tell {self.sender}" if self.sender else "")


def _arp(value: Any) -> Any:
    if isinstance(value, str):
        m = _ARP_RE.fullmatch(value.strip())
        if not m:
            raise ValueError(
                f"{value!r}: write an ARP request as 'who-has IP' or 'who-has IP tell IP'"
            )
        return {"target": m["target"], "sender": m["sender"]}
    return value


class ReceiptPattern(Strict):
    """A datagram delivered to `host`'s listener, optionally from a given source address."""

    host: str
    src: ipaddress.IPv4Address | None = None

    def __str__(self) -> str:
        return self.host + (f" from {self.src}" if self.src else "")


def _receipt(value: Any) -> Any:
    if isinstance(value, str):
        m = _RECEIPT_RE.fullmatch(value.strip())
        if not m:
            raise ValueError(f"{value!r}: write a delivery as 'HOST' or 'HOST from IP'")
        return {"host": m["host"], "src": m["src"]}
    return value


class Expect(Strict):
    """What the claim says; only the fields given are compared."""

    errno: str | None = Field(default=None, description="'ok' or an errno name such as ENETUNREACH")
    arp: dict[str, list[Annotated[ArpPattern, BeforeValidator(_arp)]]] | None = Field(
        default=None, description="host -> exactly the ARP requests it sends ([] for none)"
    )
    received: list[Annotated[ReceiptPattern, BeforeValidator(_receipt)]] | None = Field(
        default=None, description="exactly the hosts whose listener gets the datagram"
    )

    @field_validator("errno")
    @classmethod
    def _errno(cls, value: str | None) -> str | None:
        if value is not None and value != "ok" and value not in ERRNO_NAMES:
            raise ValueError(f"{value!r} is neither 'ok' nor an errno name such as ENETUNREACH")
        return value

    @model_validator(mode="after")
    def _not_empty(self) -> Expect:
        if self.errno is None and self.arp is None and self.received is None:
            raise ValueError("an expectation must say something: errno, arp or received")
        return self


class Case(Strict):
    """One run of the experiment: changes, one probe, and what the claim expects."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    title: str
    change: list[Change] = []
    probe: Probe
    expect: Expect


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
    """Render a pydantic location as `cases[2](far-no-default).probe.dst`."""
    out = ""
    node = doc
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
            if isinstance(node, list) and part < len(node):
                node = node[part]
                if isinstance(node, dict) and "id" in node:
                    out += f"({node['id']})"
            continue
        if part.startswith(("function-", "str", "model", "union")) or part in ("Topology",):
            continue
        out += f".{part}" if out else str(part)
        node = node.get(part) if isinstance(node, dict) else None
    return out


def _read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(path, "", f"cannot read: {exc.strerror}") from None
    try:
        doc = yaml.safe_load(text)
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


def load_topology(name: str, directory: Path = TOPOLOGY_DIR) -> Topology:
    """Load fixtures/topologies/NAME.yaml."""
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
    for i, case in enumerate(cases):
        where = f"cases[{i}]({case.id})"
        if case.id in seen:
            raise ScenarioError(path, f"{where}.id", f"case id {case.id!r} is used twice")
        seen.add(case.id)
        for j, change in enumerate(case.change):
            if change.host not in hosts:
                raise ScenarioError(
                    path, f"{where}.change[{j}].host", f"no host {change.host!r} (hosts: {names})"
                )
        probe = case.probe
        if probe.host not in hosts:
            raise ScenarioError(
                path, f"{where}.probe.host", f"no host {probe.host!r} (hosts: {names})"
            )
        if probe.bind_device and probe.bind_device not in hosts[probe.host].interfaces:
            raise ScenarioError(
                path,
                f"{where}.probe.bind_device",
                f"host {probe.host!r} has no interface {probe.bind_device!r}",
            )
        expect = case.expect
        for host in expect.arp or {}:
            if host not in hosts:
                raise ScenarioError(
                    path, f"{where}.expect.arp.{host}", f"no host {host!r} (hosts: {names})"
                )
        for receipt in expect.received or []:
            if receipt.host not in hosts:
                raise ScenarioError(
                    path, f"{where}.expect.received", f"no host {receipt.host!r} (hosts: {names})"
                )


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
