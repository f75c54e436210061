"""The network a listing builds, command by command, before its addresses are mapped.

Each namespace the listing names is a host; commands outside any namespace act
on the machine's own namespace, kept under the key ROOT and written as a host
of its own.  The operations follow what the kernel does with the same command:
moving a link to another namespace takes it down and flushes its addresses and
routes; renaming a link renames it in routes, neighbours, sysctl keys and
later changes; `net.ipv6.conf.default` keys reach links made (or moved in)
afterwards.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from harness.core.validation import IPInterface, check_ifname, sysctl_path, sysctl_row
from harness.importer.shell_words import Command
from harness.scenario.limits import MAX_NAMESPACES
from harness.scenario.link_kinds import LINK_KINDS

ROOT = ""  # the machine's own namespace
# From the link-kind rows: what cannot change namespace, what stands on a `parent`.
_STAYS = frozenset(k.name for k in LINK_KINDS.values() if k.netns_local)
STACKED = frozenset(k.name for k in LINK_KINDS.values() if k.role == "stacked")
_DEV_WORDS = {"dev", "oif", "iif"}


class Unsupported(Exception):
    """A command this importer cannot translate; the message says why."""


# Routes, rules and neighbours of one host, addresses of one interface: each new one is
# compared with those before it, so the work grows with the square of this.  The kernel's
# net selftests give a namespace a few dozen at most; past this a command is reported as
# not translated, and a listing of 100,000 routes still imports in seconds.
MAX_PER_HOST = 256


def room(items: list[Any], what: str) -> None:
    """Unsupported when `items` (a host's routes, an interface's addresses ...) is full."""
    if len(items) >= MAX_PER_HOST:
        raise Unsupported(f"more than {MAX_PER_HOST} {what}: not a set-up listing")


class Ignored(Exception):
    """A command with nothing to set up (it shows state, or the harness already does it)."""


@dataclass
class Address:
    """An address on an interface; `label` is an ifconfig alias (eth0:1)."""

    iface: IPInterface
    line: int
    label: str | None = None


@dataclass
class Iface:
    """An interface; kind None: a NIC the listing configures but never creates."""

    kind: str | None
    line: int
    peer: tuple[str, str] | None = None  # veth: (namespace, ifname) of the other end
    parent: str | None = None
    mode: str | None = None
    table: int | None = None
    master: str | None = None
    mac: str | None = None
    mtu: int | None = None
    txqueuelen: int | None = None
    up: bool = False
    addresses: list[Address] = field(default_factory=list)


@dataclass
class IpLine:
    """A route, rule or neighbour as `ip` words (real addresses), with its listing line."""

    words: list[str]
    line: int


@dataclass
class ChangeDraft:
    """A command a topology cannot say (it removes what the kernel made): a case's change."""

    ns: str
    kind: str  # route, rule, neigh, addr, link
    words: list[str]  # verb first
    line: int


@dataclass
class Entry:
    """A line of the import report: what happened to a command that is not simply translated."""

    line: int
    text: str
    outcome: str  # ignored, unsupported, partly, change, note
    reason: str
    last: int = 0


@dataclass
class StepDraft:
    """What the listing does after an act, up to its next act: the commands it changes the
    network with (as translated) and those changes, then the acts that follow them."""

    commands: list[Command] = field(default_factory=list)  # translated
    changes: list[ChangeDraft] = field(default_factory=list)
    acts: list[Entry] = field(default_factory=list)  # outcome "act"
    seen: list[Command] = field(default_factory=list)  # every command of it, translated or not


@dataclass
class Host:
    """One namespace of the listing."""

    line: int
    root: bool = False  # the machine's own namespace (its lo is up)
    interfaces: dict[str, Iface] = field(default_factory=dict)
    nexthops: list[IpLine] = field(default_factory=list)  # `ip nexthop` objects
    routes: list[IpLine] = field(default_factory=list)
    rules: list[IpLine] = field(default_factory=list)
    neighbours: list[IpLine] = field(default_factory=list)
    sysctls: dict[str, tuple[int | str, int]] = field(default_factory=dict)
    defaults: dict[str, tuple[int | str, int]] = field(default_factory=dict)  # conf.default
    rule_prefs: dict[int, list[int]] = field(default_factory=dict)  # family -> rule priorities

    def __post_init__(self) -> None:
        # A new namespace's lo is down until something brings it up.
        self.interfaces.setdefault("lo", Iface("loopback", self.line, up=self.root))


@dataclass
class Draft:
    """Everything the listing set up so far, plus the report."""

    hosts: dict[str, Host] = field(default_factory=dict)
    changes: list[ChangeDraft] = field(default_factory=list)
    entries: list[Entry] = field(default_factory=list)
    translated: list[int] = field(default_factory=list)
    # (namespace, conf.default key) -> the links that got its value when they appeared
    inherited: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    line: int = 0  # the command being translated
    text: str = ""
    # Every link name the listing makes somewhere (in any episode, namespace or function),
    # with the line: such a link is never taken for a NIC of the machine.
    made: dict[str, int] = field(default_factory=dict)

    def note(self, reason: str, outcome: str = "note") -> None:
        """Say something about the current command in the report."""
        self.entries.append(Entry(self.line, self.text, outcome, reason))

    def add_namespace(self, ns: str) -> None:
        """`ip netns add NS`."""
        if ns in self.hosts:
            raise Unsupported(f"namespace {ns!r} exists already")
        self._room_for_one_more()
        self.hosts[ns] = Host(self.line)

    def _room_for_one_more(self) -> None:
        # The loader's bound (a scenario holds at most MAX_NAMESPACES): past it, each
        # further namespace is a command not translated, and the draft stays small
        # (50,000 `ip netns add` lines took minutes to name their hosts).
        if sum(ns != ROOT for ns in self.hosts) >= MAX_NAMESPACES:
            raise Unsupported(
                f"more than {MAX_NAMESPACES} namespaces: a scenario holds at most that"
            )

    def host(self, ns: str) -> Host:
        """The host of namespace `ns` (the machine's own, or one the listing named)."""
        if ns not in self.hosts:
            self._room_for_one_more()
            if ns != ROOT:
                self.note(f"namespace {ns!r} is used without `ip netns add`: taken as one")
            self.hosts[ns] = Host(self.line, root=ns == ROOT)
        return self.hosts[ns]

    def iface(self, ns: str, name: str) -> Iface:
        """Interface `name` of `ns`; one the listing never made is the machine's own NIC."""
        host = self.host(ns)
        if name not in host.interfaces:
            _check_name(name)
            where = f"namespace {ns!r}" if ns != ROOT else "the machine's own namespace"
            if name in self.made:
                raise Unsupported(
                    f"{name} is a link the listing makes (line {self.made[name]}), but not in "
                    f"{where} at this point (iproute2: Cannot find device)"
                )
            self.note(
                f"{name} in {where} is not created by the listing: taken as a NIC of "
                "that machine, a port on a LAN"
            )
            host.interfaces[name] = Iface(None, self.line, up=True)
            self._arrived(ns, name)
        return host.interfaces[name]

    def check_free(self, ns: str, name: str) -> None:
        """Refuse a new link name Linux refuses, or one `ns` has already (File exists)."""
        _check_name(name)
        if name in self.host(ns).interfaces:
            raise Unsupported(f"{name} exists already in that namespace (File exists)")

    def create(self, ns: str, name: str, iface: Iface) -> None:
        """A new link `name` in `ns`."""
        self.check_free(ns, name)
        host = self.host(ns)
        host.interfaces[name] = iface
        self.made.setdefault(name, self.line)
        self._arrived(ns, name)

    def _arrived(self, ns: str, name: str) -> None:
        # The kernel copies net.ipv6.conf.default into a link's own settings only when
        # the link appears (ipv6_add_dev); the harness writes a host's sysctls after
        # making its links, so the copy is written out per link.  (IPv4's default
        # reaches existing links too, those that have not set the key themselves:
        # devinet_copy_dflt_conf.)
        host = self.hosts[ns]
        for key, (value, _) in host.defaults.items():
            own = _in_row(key, name)
            if own not in host.sysctls:
                host.sysctls[own] = (value, self.line)
                self.inherited.setdefault((ns, key), []).append(name)

    def rename(self, ns: str, old: str, new: str) -> None:
        """`ip link set OLD name NEW`."""
        _check_name(new)
        host = self.host(ns)
        if new in host.interfaces:
            raise Unsupported(f"{new} exists already in that namespace (File exists)")
        host.interfaces = {(new if k == old else k): v for k, v in host.interfaces.items()}
        renamed = host.interfaces[new]
        if renamed.peer is not None:
            self.hosts[renamed.peer[0]].interfaces[renamed.peer[1]].peer = (ns, new)
        for iface in host.interfaces.values():
            iface.parent = new if iface.parent == old else iface.parent
            iface.master = new if iface.master == old else iface.master
        for item in (*host.nexthops, *host.routes, *host.rules, *host.neighbours):
            item.words = _renamed_words(item.words, old, new)
        for change in self.changes:
            if change.ns == ns:
                change.words = _renamed_words(change.words, old, new, change.kind == "link")
        host.sysctls = {_renamed_key(k, old, new): v for k, v in host.sysctls.items()}

    def move(self, ns: str, name: str, target: str) -> None:
        """`ip link set NAME netns TARGET`: the link goes down, loses its addresses, routes,
        neighbours and master, and gets the new namespace's conf.default."""
        iface = self.iface(ns, name)
        if target == ns:
            return  # the kernel does nothing (dev_change_net_namespace)
        if iface.kind in _STAYS:
            what = {"loopback": "lo", "vrf": "a VRF"}.get(iface.kind, f"a {iface.kind}")
            raise Unsupported(f"{what} cannot change namespace (the kernel refuses)")
        if iface.kind in STACKED:
            raise Unsupported(f"a {iface.kind} moved away from its parent cannot be written")
        if name in self.host(target).interfaces:
            raise Unsupported(f"{name} exists already in namespace {target!r} (File exists)")
        if iface.addresses:
            self.note(f"moving {name} flushes its addresses, as the kernel does")
        iface.addresses, iface.up, iface.master = [], False, None
        self._forget_routes(ns, name)
        # Its per-link settings are the old namespace's; the new one makes its own.
        old = self.hosts[ns].sysctls
        stale = [k for k in old if _row(k) == name]
        for key in stale:
            default = _in_row(key, "default")
            if (ns, default) in self.inherited and name in self.inherited[(ns, default)]:
                self.inherited[(ns, default)].remove(name)
            else:
                self.note(f"{key} stays behind: the link gets {target!r}'s defaults")
            del old[key]
        del self.hosts[ns].interfaces[name]
        self.hosts[target].interfaces[name] = iface
        if iface.peer is not None:
            self.hosts[iface.peer[0]].interfaces[iface.peer[1]].peer = (target, name)
        self._arrived(target, name)

    def delete(self, ns: str, name: str) -> None:
        """`ip link del NAME` (a veth takes its peer with it)."""
        host = self.host(ns)
        if name not in host.interfaces or name == "lo":
            raise Unsupported(f"there is no {name} to delete")
        iface = host.interfaces.pop(name)
        self._forget_routes(ns, name)
        if iface.peer is not None:
            peer_ns, peer_name = iface.peer
            del self.hosts[peer_ns].interfaces[peer_name]
            self._forget_routes(peer_ns, peer_name)
        for other in host.interfaces.values():
            other.master = None if other.master == name else other.master

    def delete_namespace(self, ns: str) -> None:
        """`ip netns del NS`: its links go, and a veth's other end with them."""
        if ns == ROOT or ns not in self.hosts:
            raise Unsupported(f"there is no namespace {ns!r} to delete")
        for name in [n for n in self.hosts[ns].interfaces if n != "lo"]:
            if name in self.hosts[ns].interfaces:
                self.delete(ns, name)
        del self.hosts[ns]
        self.changes = [c for c in self.changes if c.ns != ns]

    def _forget_routes(self, ns: str, name: str) -> None:
        host = self.hosts[ns]
        ids: set[str] = set()  # nexthop objects that go, and the routes using them (nexthop.c)
        for kind in ("nexthops", "routes", "neighbours"):
            items: list[IpLine] = getattr(host, kind)
            gone = [i for i in items if _names_dev(i.words, name) or _uses(i.words, ids)]
            ids |= {i.words[i.words.index("id") + 1] for i in gone if kind == "nexthops"}
            for item in gone:
                self.note(f"the {kind[:-1]} of line {item.line} goes with {name}")
            setattr(host, kind, [i for i in items if i not in gone])

    def set_sysctl(self, ns: str, key: str, value: str) -> None:
        """`sysctl -w KEY=VALUE` (dotted or slashed key) in `ns`."""
        # The scenario loader's own check, so that a key it would refuse (net.core.rmem_max
        # is the machine's) is this line's problem, not the whole import's.
        try:
            path = sysctl_path(key)
        except ValueError as exc:
            raise Unsupported(str(exc)) from None
        key = _key(path.split("/"))
        row = _row(key)
        if row is not None and row not in ("all", "default"):
            self.iface(ns, row)
        setting: int | str = int(value) if re.fullmatch(r"-?\d+", value) else value
        host = self.host(ns)
        host.sysctls.pop(key, None)  # the last write counts, in listing order
        host.sysctls[key] = (setting, self.line)
        if row == "default" and path.startswith("net/ipv6/conf/"):
            host.defaults[key] = (setting, self.line)


def _check_name(name: str) -> None:
    try:
        check_ifname(name)
    except ValueError as exc:
        raise Unsupported(str(exc)) from None


def _names_dev(words: list[str], name: str) -> bool:
    return any(w == name and i and words[i - 1] in _DEV_WORDS for i, w in enumerate(words))


def _uses(words: list[str], ids: set[str]) -> bool:
    return any(w in ids and i and words[i - 1] == "nhid" for i, w in enumerate(words))


def _renamed_words(words: list[str], old: str, new: str, link: bool = False) -> list[str]:
    """`dev OLD` (and `iif`/`oif`; `set OLD` for a link change) -> NEW."""
    return [
        new
        if w == old and i and (words[i - 1] in _DEV_WORDS or (link and words[i - 1] == "set"))
        else w
        for i, w in enumerate(words)
    ]


def _renamed_key(key: str, old: str, new: str) -> str:
    return _in_row(key, new) if _row(key) == old else key


def _key(parts: list[str]) -> str:
    # Dotted, as listings mostly write keys; slashed where a part holds a dot (an
    # interface eth0.5), which the dotted form would split (harness.core.validation.sysctl_path).
    return "/".join(parts) if any("." in part for part in parts) else ".".join(parts)


def _row(key: str) -> str | None:
    """The interface, `all` or `default` of a per-interface key, else None."""
    try:
        return sysctl_row(key)
    except ValueError:
        return None  # a key the loader will name itself (a link name sysctl cannot hold)


def _in_row(key: str, row: str) -> str:
    """`key` for another interface (or `default`)."""
    parts = key.split("/") if "/" in key else key.split(".")
    parts[3] = row
    return _key(parts)
