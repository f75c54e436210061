"""Topology models: hosts, their interfaces, routes, rules, neighbours and sysctls.

What kinds of interface exist and what each needs comes from the link-kind
table (harness/scenario/link_kinds.py).
"""

from __future__ import annotations

import ipaddress
import re
import socket
from typing import Any

from pydantic import Field, ValidationInfo, field_validator, model_validator

from harness.core.validation import (
    IFNAME_MAX,
    NAME_MAX_CHARS,
    FieldError,
    IPInterface,
    Strict,
    check_allowed,
    check_ifname,
    check_name,
    sysctl_interface_problem,
    sysctl_path,
    sysctl_write_problem,
)
from harness.scenario.iplines import Neigh, Nexthop, Route, Rule, spec_devices
from harness.scenario.limits import (
    MAX_INTERFACES,
    MAX_LINES,
    MAX_NAMESPACES,
    at_most,
    neighbour_wait_problem,
    too_many,
)
from harness.scenario.link_kinds import LINK_KINDS

# The kinds other interfaces join with `master:` (their rows in harness/scenario/link_kinds.py).
_MASTERS = ("bridge", "vrf")


def bridge_port_name(host: str, ifname: str, position: int) -> str:
    """The name of a host's port on its LAN's bridge, as the builder makes it (and the
    report finds it): HOST-IFNAME, or portN where that exceeds IFNAMSIZ."""
    port = f"{host}-{ifname}"
    return port if len(port) <= IFNAME_MAX else f"port{position}"


class Interface(Strict):
    """One interface of a host.

    `lan: NAME` makes it a port on a LAN (a bridge in a namespace of its own),
    `link: HOST.IFNAME` one end of a veth pair; other kinds are named with `kind`
    (see harness/scenario/link_kinds.py): macvlan/ipvlan (`parent`, `mode`), tun, tap,
    dummy, vrf (`table`), bridge.
    """

    kind: str | None = Field(default=None, description="the link kind, when not lan/link")
    lan: str | None = Field(default=None, description="the LAN this port is on")
    link: str | None = Field(default=None, description="the other end, as HOST.IFNAME")
    parent: str | None = Field(default=None, description="macvlan/ipvlan: the lower interface")
    mode: str | None = Field(default=None, description="macvlan/ipvlan mode")
    table: int | None = Field(
        default=None, ge=1, le=0xFFFFFFFF, description="vrf: its routing table"
    )
    master: str | None = Field(default=None, description="enslave to this vrf or bridge")
    mac: str | None = Field(default=None, description="a fixed MAC address")
    addresses: list[IPInterface] = Field(default=[], description="ADDR/LEN, several allowed")
    mtu: int | None = Field(
        default=None, ge=1, le=65535, description="the link's MTU (`ip link set IF mtu N`)"
    )
    txqueuelen: int | None = Field(
        default=None,
        ge=0,
        le=0xFFFFFFFF,
        description="the link's transmit queue length (`ip link set IF txqueuelen N`)",
    )
    up: bool = Field(default=True, description="set the link up")

    @field_validator("addresses")
    @classmethod
    def _allowed(cls, value: list[IPInterface]) -> list[IPInterface]:
        for iface in value:
            if getattr(iface, "scope_id", None):
                # A scope says which link a destination is on; an address is on its own.
                raise ValueError(f"{iface}: an interface's address takes no %scope")
            check_allowed(iface.ip)
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Interface:
        if self.lan is not None and self.link is not None:
            raise ValueError("give either 'lan: NAME' or 'link: HOST.IFNAME', not both")
        if self.kind is not None and self.kind not in LINK_KINDS:
            raise ValueError(f"unknown kind {self.kind!r} (known: {', '.join(LINK_KINDS)})")
        kind = self.resolved_kind
        if kind is None:
            raise ValueError(
                "say what this interface is: 'lan: NAME', 'link: HOST.IFNAME' or "
                f"'kind: ...' (one of {', '.join(LINK_KINDS)})"
            )
        row = LINK_KINDS[kind]
        for needed in row.requires:
            if getattr(self, needed) is None:
                example = {"link": "HOST.IFNAME", "lan": "NAME", "parent": "IFNAME"}
                raise ValueError(
                    f"a {kind} needs '{needed}: {example.get(needed, 'N')}' ({row.description})"
                )
        if self.lan is not None:
            # The LAN's name labels its namespace and names its pcap files.
            try:
                check_name(self.lan, "LAN name")
            except ValueError as exc:
                raise FieldError(("lan",), str(exc)) from None
        if self.link is not None:
            host, dot, ifname = self.link.partition(".")
            if not dot or not re.fullmatch(r"[a-z][a-z0-9-]*", host):
                raise FieldError(("link",), f"{self.link!r} must be HOST.IFNAME, e.g. far.eth0")
            try:
                check_ifname(ifname)
            except ValueError as exc:
                raise FieldError(("link",), f"{self.link!r}: {exc}") from None
        if self.mode is not None and self.mode not in row.modes:
            raise ValueError(f"mode {self.mode!r} does not fit a {kind} {row.modes}")
        if self.mac is not None and not re.fullmatch(r"(?:[0-9a-f]{2}:){5}[0-9a-f]{2}", self.mac):
            raise FieldError(("mac",), f"{self.mac!r} must be lower-case aa:bb:cc:dd:ee:ff")
        return self

    @property
    def resolved_kind(self) -> str | None:
        """The kind, inferred from `lan`/`link` when not given."""
        if self.kind is not None:
            return self.kind
        return "port" if self.lan else "veth" if self.link else None

    @property
    def medium(self) -> str:
        """`lan X`, `link HOST.IF`, or the kind (with its lower interface), for a reader."""
        if self.lan:
            return f"lan {self.lan}"
        if self.link:
            return f"link {self.link}"
        return f"{self.resolved_kind}" + (f" on {self.parent}" if self.parent else "")


class Host(Strict):
    """A network namespace: its interfaces, nexthop objects, routes, rules, neighbours and
    sysctls."""

    interfaces: dict[str, Interface] = Field(default={}, description="name -> interface")
    nexthops: list[Nexthop] = Field(
        default=[], description="`ip nexthop` objects (`id N via A dev D`), added before routes"
    )
    routes: list[Route] = Field(default=[], description="`ip route` lines")
    rules: list[Rule] = Field(default=[], description="`ip rule` lines")
    neighbours: list[Neigh] = Field(default=[], description="`ip neigh` lines")
    sysctls: dict[str, int | str] = Field(default={}, description="net.* keys and values")

    @field_validator("interfaces", mode="before")
    @classmethod
    def _few_interfaces(cls, value: Any) -> Any:
        return at_most(value, MAX_INTERFACES, "interfaces", "a topology's bound")

    @field_validator("nexthops", "routes", "rules", "neighbours", "sysctls", mode="before")
    @classmethod
    def _few_lines(cls, value: Any, info: ValidationInfo) -> Any:
        return at_most(value, MAX_LINES, str(info.field_name), "one host's bound")

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
            try:
                check_ifname(name)
            except ValueError as exc:
                raise FieldError((name,), str(exc)) from None
            if (name == "lo") != (iface.resolved_kind == "loopback"):
                raise FieldError((name,), f"{name!r}: only 'lo' is the loopback interface")
        for name, iface in value.items():
            for field, ref in (("parent", iface.parent), ("master", iface.master)):
                if ref is not None and ref not in value:
                    raise FieldError((name, field), f"{ref!r} is not an interface of this host")
                if ref == name:
                    raise FieldError((name, field), f"{name!r} cannot be its own {field}")
            master = value[iface.master].resolved_kind if iface.master else None
            if master is not None and master not in _MASTERS:
                raise FieldError(
                    (name, "master"),
                    f"{iface.master!r} is a {master}: a master is a {' or a '.join(_MASTERS)}",
                )
            if master is not None and master == iface.resolved_kind:
                # br_add_if refuses a bridge port that is a bridge (ELOOP); a VRF cannot
                # enslave another L3 master (do_vrf_add_slave, EINVAL).
                raise FieldError(
                    (name, "master"), f"a {master} cannot be enslaved to another {master}"
                )
        return value

    @field_validator("sysctls")
    @classmethod
    def _per_namespace(cls, value: dict[str, int | str]) -> dict[str, int | str]:
        for key, setting in value.items():
            try:
                sysctl_path(key)
            except ValueError as exc:
                raise FieldError((key,), str(exc)) from None
            problem = sysctl_write_problem(key, setting)
            if problem:
                raise FieldError((key,), problem)
        waits = neighbour_wait_problem((key, key, setting) for key, setting in value.items())
        if waits:
            raise FieldError((waits[0],), waits[1])
        return value

    @model_validator(mode="after")
    def _devices_exist(self) -> Host:
        # A device the host does not have fails only when the namespace is built
        # (ENODEV from the route, neighbour or nexthop request, ENOENT from
        # /proc/sys/net/ipv4/conf/IF): named here, at load, instead.
        known = {*self.interfaces, "lo"}
        lines: list[tuple[str, list[Any]]] = [
            ("nexthops", list(self.nexthops)),
            ("routes", list(self.routes)),
            ("neighbours", list(self.neighbours)),
        ]
        for field, specs in lines:
            for n, spec in enumerate(specs):
                missing = [dev for dev in spec_devices(spec) if dev not in known]
                if missing:
                    raise FieldError(
                        (field, n), f"{str(spec)!r}: the host has no interface {missing[0]!r}"
                    )
        ids = {spec.id for spec in self.nexthops}
        for n, spec in enumerate(self.nexthops):
            missing_ids = [member for member, _ in spec.group if member not in ids]
            if missing_ids:
                raise FieldError(
                    ("nexthops", n), f"{str(spec)!r}: the host has no nexthop id {missing_ids[0]}"
                )
        for n, route in enumerate(self.routes):
            if route.nhid is not None and route.nhid not in ids:
                raise FieldError(
                    ("routes", n), f"{str(route)!r}: the host has no nexthop id {route.nhid}"
                )
        for key in self.sysctls:
            problem = sysctl_interface_problem(key, known)
            if problem:
                raise FieldError(("sysctls", key), problem)
        return self


class Topology(Strict):
    """Hosts, and the links and LANs between them."""

    name: str = Field(default="inline", description="its file name under fixtures/topologies/")
    description: str = Field(default="", description="what it is, for a reader")
    diagram: str = Field(default="", description="an ASCII drawing of hosts, links and addresses")
    hosts: dict[str, Host] = Field(description="host name -> its namespace")

    @field_validator("hosts", mode="before")
    @classmethod
    def _few_hosts(cls, value: Any) -> Any:
        return at_most(value, MAX_NAMESPACES, "hosts", "each is a namespace this process holds")

    @model_validator(mode="after")
    def _within_bounds(self) -> Topology:
        interfaces = [i for host in self.hosts.values() for i in host.interfaces]
        problem = too_many(interfaces, MAX_INTERFACES, "interfaces", "a topology's bound")
        if problem:
            raise FieldError(("hosts",), problem)
        namespaces = len(self.hosts) + len(self.lans())
        if namespaces > MAX_NAMESPACES:
            raise FieldError(
                ("hosts",),
                f"{len(self.hosts)} hosts and {len(self.lans())} LANs are {namespaces} "
                f"namespaces: at most {MAX_NAMESPACES} (each one this process holds)",
            )
        return self

    @model_validator(mode="after")
    def _no_bridge_loop(self) -> Topology:
        """Refuse bridges joined into a loop: LAN bridges, and host bridges whose ports are on
        LANs or veth links to other bridges.  Without STP (off by default, and the harness
        leaves it so) a broadcast would circle the loop for ever, each bridge flooding
        every copy (br_flood): a storm of gigabytes in a minute."""
        parent: dict[tuple[str, ...], tuple[str, ...]] = {}

        def root(node: tuple[str, ...]) -> tuple[str, ...]:
            while parent.setdefault(node, node) != node:
                node = parent[node]
            return node

        def bridge_of(host: str, ifname: str) -> tuple[str, ...] | None:
            interfaces = self.hosts[host].interfaces if host in self.hosts else {}
            iface = interfaces.get(ifname)
            master = interfaces.get(iface.master or "") if iface else None
            if master is not None and master.resolved_kind == "bridge":
                return ("bridge", host, str(iface and iface.master))
            return None

        for host_name, host in self.hosts.items():
            for if_name, iface in host.interfaces.items():
                bridge = bridge_of(host_name, if_name)
                if bridge is None:
                    continue
                if iface.lan is not None:
                    other: tuple[str, ...] | None = ("lan", iface.lan)
                    what = f"LAN {iface.lan!r}"
                elif iface.link is not None:
                    peer_host, _, peer_if = iface.link.partition(".")
                    other = bridge_of(peer_host, peer_if)
                    if other is not None and (peer_host, peer_if) < (host_name, if_name):
                        continue  # the pair is joined once, from its first end
                    what = f"bridge {other[2]!r} on {peer_host}" if other else ""
                else:
                    other = None
                if other is None:
                    continue
                if root(bridge) == root(other):
                    raise FieldError(
                        ("hosts", host_name, "interfaces", if_name, "master"),
                        f"bridge {iface.master!r} on {host_name} already reaches {what}: "
                        f"{if_name} would close a loop of bridges, and without STP a "
                        "broadcast would circle it for ever",
                    )
                parent[root(bridge)] = root(other)
        return self

    @model_validator(mode="after")
    def _links_agree(self) -> Topology:
        for host_name, host in self.hosts.items():
            if not re.fullmatch(r"[a-z][a-z0-9-]*", host_name) or len(host_name) > NAME_MAX_CHARS:
                raise FieldError(
                    ("hosts", host_name),
                    "a host name is lower-case letters, digits and '-', starting with a letter, "
                    f"at most {NAME_MAX_CHARS} characters",
                )
            if host_name in self.lans():
                raise FieldError(("hosts", host_name), f"{host_name!r} names both a host and a LAN")
            for if_name, iface in host.interfaces.items():
                if iface.link is None:
                    continue
                peer_host, _, peer_if = iface.link.partition(".")
                other = self.hosts.get(peer_host)
                where = ("hosts", host_name, "interfaces", if_name, "link")
                if other is None:
                    raise FieldError(where, f"{iface.link!r}: there is no host {peer_host!r}")
                if peer_if not in other.interfaces:
                    raise FieldError(
                        where, f"{iface.link!r}: host {peer_host!r} has no interface {peer_if!r}"
                    )
                back = other.interfaces[peer_if].link
                if back != f"{host_name}.{if_name}":
                    raise FieldError(
                        where,
                        f"hosts.{host_name}.interfaces.{if_name} links to {iface.link} "
                        f"but {iface.link} links to {back!r}",
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

    def lan_ports(self) -> dict[tuple[str, str], tuple[str, str]]:
        """(host, ifname) of each LAN port -> (LAN, bridge port name), and the reverse."""
        peers: dict[tuple[str, str], tuple[str, str]] = {}
        for lan, ports in self.lans().items():
            for n, (host, ifname) in enumerate(ports):
                port = bridge_port_name(host, ifname, n)
                peers[(host, ifname)] = (lan, port)
                peers[(lan, port)] = (host, ifname)
        return peers

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
            if any(n.family == socket.AF_INET6 for n in host.nexthops):
                return True
        return False

    def kernel_features(self) -> set[str]:
        """Kernel features (link kinds the kernel must be able to make) this topology needs."""
        features = {
            feature
            for h in self.hosts.values()
            for i in h.interfaces.values()
            if (feature := LINK_KINDS[str(i.resolved_kind)].feature) is not None
        }
        return features | ({"bridge"} if self.lans() else set())
