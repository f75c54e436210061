"""An import proven: the topology built by the harness against iproute2's own replay of the listing.

The harness builds the imported topology in one lab (harness.lab.builder) and
applies the changes the importer wrote; in a second lab of throw-away
namespaces, one per namespace of the listing, the listing's configuring
commands are run with iproute2, sysctl (and net-tools, bridge-utils) themselves
(harness/importer/replay.py: argv built from the parsed words, never a shell,
every namespace the twin's own).  Both are then read with `ip -j` and compared:
links (kind, up, master, veth peer, macvlan/ipvlan parent and mode, vrf table,
a fixed MAC, MTU), addresses, the routes of every table, rules, permanent and
proxy neighbours, and every sysctl the topology or the listing sets.

What the twin adds of its own, as the harness does in every namespace: lo is up,
duplicate address detection is off, each tun/tap device's fd is held open (so it
has carrier), and each NIC the listing only configures (a `lan:` port of the
topology) exists, as a veth to a bridge.  Link-local IPv6 addresses and routes
(from random MACs, or IPv6 being on) are not compared.

The proof runs in stages, so that a time-ordered import can be checked after
each of its steps: a stage is the listing commands to replay and the harness
changes to apply; stage 0 also builds the topology.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import json
import os
import shutil
import socket
import struct
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pyroute2.netlink.rtnl import (
    RTMGRP_IPV4_IFADDR,
    RTMGRP_IPV4_ROUTE,
    RTMGRP_IPV6_IFADDR,
    RTMGRP_IPV6_ROUTE,
    RTMGRP_LINK,
)

from harness.core import deadlines
from harness.core.display import one_line
from harness.core.validation import sysctl_path
from harness.importer.dump_check import IP_READS, dump_differences
from harness.importer.model import ROOT
from harness.importer.replay import MAX_REPLAYED, NET_TOOLS, Replay, Step, plan
from harness.importer.shell_words import Command
from harness.importer.translate import ImportResult
from harness.lab.builder import BRIDGE, build
from harness.lab.kernel_features import missing
from harness.lab.link_makers import IFF_NO_PI, IFF_TAP, IFF_TUN, TUNSETIFF
from harness.lab.netlink_ip import TopologyError
from harness.lab.netns import Lab, NetNS
from harness.lab.network import Network, linkwatch_caught_up
from harness.lab.requirements import effective_capabilities
from harness.scenario import Change, Topology, bridge_port_name
from harness.scenario.ipsyntax import ROUTE_TYPES

# A clean environment for every process the proof starts: no locale in the output, no
# PATH of the caller's (a listing is run as root).
ENV = {"LC_ALL": "C", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
STEP_TIMEOUT_S = 5.0  # one `ip` or `sysctl`: milliseconds; a stuck one is killed
REPLAY_BUDGET_S = 60.0  # the whole replay (MAX_REPLAYED commands of a few ms each)
# After the replay: carriers (linkwatch batches a non-urgent change for up to 1 s) and
# the routes of new IPv6 addresses follow the commands a moment later.  Waited for on
# netlink events only while the two sides still differ.
SETTLE_S = 1.0
CAP_NET_ADMIN, CAP_SYS_ADMIN = 12, 21
_EVENTS = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR | RTMGRP_IPV4_ROUTE
_EVENTS |= RTMGRP_IPV6_ROUTE
MACHINE = "(machine)"  # the twin of the machine's own namespace, when no host stands for it
EMPTY = "(new namespace)"  # what a namespace holds before anything is done in it


class CannotProve(Exception):
    """The import cannot be proven here or at all; the message is one sentence saying why."""


@dataclass(frozen=True)
class Difference:
    """One thing the topology and iproute2's replay of the listing disagree on."""

    host: str
    what: str  # link, mtu, address, route, rule, neighbour, sysctl, host, build, change
    listing: str  # what the replay has ("" = nothing)
    topology: str  # what the harness built ("" = nothing)
    line: int | None = None  # the listing's line that made the listing's side
    stage: int = 0

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line else ""
        if self.what == "dump":  # the pasted state against the built namespace
            return f"{where}{self.host}: {self.topology}"
        ours = f"`{self.topology}`" if self.topology else "nothing"
        theirs = f"`{self.listing}`" if self.listing else "nothing"
        return f"{where}{self.host}: {self.what}: the listing makes {theirs}, the topology {ours}"


@dataclass(frozen=True)
class Stage:
    """Listing commands to replay, and the harness changes that stand for them."""

    commands: Sequence[Command]
    changes: Sequence[Change]


@dataclass
class Proof:
    """What the comparison found."""

    differences: list[Difference]
    replayed: int  # commands run
    seconds: float
    hosts: int
    failed: list[str] = field(default_factory=list)  # commands iproute2 itself refused

    @property
    def proven(self) -> bool:
        """The topology is what the listing builds."""
        return not self.differences


def not_proven_header(problems: list[str]) -> str:
    """YAML comment lines for a file written although the import is not proven."""
    lines = ["# NOT PROVEN: this is not what the listing builds, as iproute2's replay of it shows:"]
    lines += [f"#   {one_line(problem)}" for problem in problems]
    return "\n".join(lines) + "\n"


def stages_of(result: ImportResult) -> list[Stage]:
    """The set-up (every command before the first act, translated or not, against the
    topology and its changes), then each step (its commands against its changes)."""
    return [
        Stage(result.setup_seen, result.changes),
        *(Stage(step.seen, step.changes) for step in result.steps),
    ]


def prove(result: ImportResult, stages: Sequence[Stage] | None = None) -> Proof:
    """Build the topology, replay the listing in a twin, compare after each stage;
    CannotProve when that is not possible (the message says why, in one sentence)."""
    started = time.monotonic()
    stages = stages_of(result) if stages is None else stages
    replays = [plan(stage.commands, result.address_map) for stage in stages]
    _check_can_prove(result, replays)
    differences: list[Difference] = []
    replayed = 0
    failed: list[str] = []
    with Lab("import-topology") as ours, Lab("import-twin") as twin:
        try:
            net = build(ours, result.topology)
        except TopologyError as exc:
            return Proof([Difference("topology", "build", "", str(exc))], 0, 0.0, 0)
        except deadlines.WaitTimeout as exc:  # the build's bounded waits (links, DAD)
            raise CannotProve(f"the harness could not build the topology here: {exc}") from None
        twins = _Twin(twin, result, [s for r in replays for s in r.steps], started)
        for number, (stage, replay) in enumerate(zip(stages, replays, strict=True)):
            for change in stage.changes:
                try:
                    net.apply(change)
                except (TopologyError, OSError) as exc:
                    differences.append(
                        Difference(change.host, "change", "", f"{change}: {exc}", stage=number)
                    )
            with contextlib.suppress(deadlines.WaitTimeout):
                net.wait_links_settled()
            failed += twins.run(replay.steps)
            replayed += len(replay.steps)
            found = twins.compare(net, replay.steps, number)
            differences += found
            if found:
                break  # the later stages start from a state that differs already
        if result.dump is not None:
            differences += _dump_differences(result, net)
    seconds = time.monotonic() - started
    return Proof(differences, replayed, seconds, len(result.topology.hosts), failed)


def _dump_differences(result: ImportResult, net: Network) -> list[Difference]:
    """A pasted `ip ... show` is also compared with the built namespace itself: the
    replay of the commands made from a dump proves the topology, not the reading of it.
    Read again only on news from that namespace (IPv6 address routes follow the address,
    from addrconf's work queue), for at most SETTLE_S."""
    assert result.dump is not None
    host = result.host_names.get(ROOT)
    if host is None:
        return []
    ns, monitor = net.lab[host], net.monitors[host]
    waiting = deadlines.Readable([monitor])
    end = time.monotonic() + SETTLE_S
    while True:
        deadlines.drain(monitor)
        reads = {key: _ip_reads(ns, args) for key, args in IP_READS.items()}
        found = dump_differences(result.dump, reads)
        left = end - time.monotonic()
        if not found or left <= 0:
            return [Difference(host, "dump", "", said) for said in found]
        waiting.wait(left)


def _ip_reads(ns: NetNS, args: tuple[str, ...]) -> Any:
    out = _ip_out(ns, ["-j", *args])
    return json.loads(out) if out.strip() else []


def _ip_out(ns: NetNS, args: list[str], commands: str | None = None) -> str:
    """What our own `ip ARGS` prints in `ns` (`commands` on its standard input, for
    -batch -); bounded, in a clean environment."""
    return subprocess.run(
        ["nsenter", f"--net={ns.path}", "ip", *args],
        input=commands,
        stdin=subprocess.DEVNULL if commands is None else None,
        capture_output=True,
        text=True,
        env=ENV,
        timeout=STEP_TIMEOUT_S,
        check=True,
    ).stdout


def _check_can_prove(result: ImportResult, replays: list[Replay]) -> None:
    refused = [r for replay in replays for r in replay.refused]
    if refused:
        line, text, why = refused[0]
        more = f" (and {len(refused) - 1} more lines)" if len(refused) > 1 else ""
        raise CannotProve(
            f"line {line} (`{' '.join(text.split())[:60]}`) is not replayed: {why}{more}; "
            "the import cannot be proven"
        )
    # A line the importer could not read (a variable it cannot know, a program it does not
    # translate) may change what the listing builds, and the replay cannot run what the
    # reader could not expand: the two sides would agree by both lacking it.
    unread = [e for e in result.entries if e.outcome == "unsupported"]
    if unread:
        first = unread[0]
        more = f" (and {len(unread) - 1} more)" if len(unread) > 1 else ""
        raise CannotProve(
            f"line {first.line} (`{' '.join(first.text.split())[:60]}`) was not translated "
            f"({first.reason}){more}: what it does cannot be proven; the import cannot be "
            "proven"
        )
    capabilities = effective_capabilities()
    if not all(capabilities >> cap & 1 for cap in (CAP_NET_ADMIN, CAP_SYS_ADMIN)):
        raise CannotProve(
            "proving an import needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN) to make "
            "throw-away namespaces; run it with sudo"
        )
    for tool, package in (("ip", "iproute2"), ("nsenter", "util-linux"), ("sysctl", "procps")):
        if shutil.which(tool, path=ENV["PATH"]) is None:
            raise CannotProve(f"proving an import needs `{tool}` ({package}), not installed here")
    for replay in replays:
        for tool, line in replay.tools.items():
            if shutil.which(tool, path=ENV["PATH"]) is None:
                raise CannotProve(
                    f"line {line} uses `{tool}`, whose package {NET_TOOLS[tool]} is not "
                    "installed: the import cannot be proven without replaying it"
                )
    reasons = missing(result.topology.kernel_features())
    if reasons:
        raise CannotProve(f"{reasons[0]}: the import cannot be proven on this kernel")


class _Twin:
    """The twin lab: one namespace per namespace of the listing, run and read."""

    def __init__(self, lab: Lab, result: ImportResult, steps: list[Step], started: float) -> None:
        self.lab, self.result, self.started = lab, result, started
        self.monitors: dict[str, socket.socket] = {}
        self.held = False
        for listing_ns in dict.fromkeys(
            [*result.host_names, ROOT, *(n for s in steps for n in s.namespaces())]
        ):
            name = self.name_of(listing_ns)
            if name in lab.namespaces:
                continue
            ns = lab.namespace(name)
            # What the harness does in every namespace (harness/lab/builder.py): lo up; and
            # IPv6 addresses usable at once (it adds them without DAD).
            _run(ns, ["ip", "link", "set", "lo", "up"])
            ns.write_sysctls(
                {f"net/ipv6/conf/{k}/accept_dad": 0 for k in ("all", "default")},
                skip_missing=True,
            )
            sock = ns.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
            lab.defer(sock.close)
            sock.bind((0, _EVENTS))
            sock.setblocking(False)
            self.monitors[name] = sock
        self._nics()
        _run(lab.namespace(EMPTY), ["ip", "link", "set", "lo", "up"])  # what to compare with

    def name_of(self, listing_ns: str) -> str:
        """The twin namespace of a listing namespace: named as the host it became."""
        host = self.result.host_names.get(listing_ns)
        if host is not None:
            return host
        return MACHINE if listing_ns == ROOT else f"(namespace {listing_ns})"

    def _nics(self) -> None:
        """The NICs the listing only configures: veths to a bridge, as the harness makes them."""
        for lan, ports in self.result.topology.lans().items():
            switch = self.lab.namespace(lan)
            _run(switch, ["ip", "link", "add", BRIDGE, "up", "type", "bridge", "stp_state", "0"])
            for n, (host, ifname) in enumerate(ports):
                port = bridge_port_name(host, ifname, n)
                peer = self.lab[host].path
                _run(switch, ["ip", "link", "add", port, "type", "veth", "peer", "name", ifname])
                _run(switch, ["ip", "link", "set", ifname, "netns", peer, "up"])
                _run(switch, ["ip", "link", "set", port, "master", BRIDGE, "up"])

    def run(self, steps: list[Step]) -> list[str]:
        """Run the steps in order; what iproute2 refused, one line each."""
        failed = []
        for step in steps:
            if time.monotonic() - self.started > REPLAY_BUDGET_S:
                raise CannotProve(
                    f"replaying the listing took more than {REPLAY_BUDGET_S:.0f} s "
                    f"(at most {MAX_REPLAYED} commands are replayed): the import is not proven"
                )
            argv = list(step.argv)
            for i in step.netns_at:
                argv[i] = self.lab[self.name_of(argv[i])].path
            problem = _run(self.lab[self.name_of(step.ns)], argv, check=False)
            if problem:
                failed.append(f"line {step.line}: `{' '.join(step.argv)}`: {problem}")
        if not self.held:  # the devices exist now: hold them as the harness holds its own
            self.held = True
            self._hold_tuntap()
        return failed

    def _hold_tuntap(self) -> None:
        for host_name, host in self.result.topology.hosts.items():
            ns = self.lab[host_name]
            ns.forget_names()
            names = set(ns.interface_names().values())
            for ifname, iface in host.interfaces.items():
                kind = iface.resolved_kind
                if kind in ("tun", "tap") and ifname in names:
                    with contextlib.suppress(OSError):  # not a tun device of that kind
                        self.lab.defer(os.close, _attach_tun(ns, ifname, str(kind)))

    def compare(self, net: Network, steps: list[Step], stage: int) -> list[Difference]:
        """Both sides read and compared, again on news from either while they differ."""
        with contextlib.suppress(deadlines.WaitTimeout):
            deadlines.wait_each(
                {
                    sock: functools.partial(linkwatch_caught_up, self.lab[name])
                    for name, sock in self.monitors.items()
                },
                deadlines.READY_DEADLINE_S,
                "the replayed links to settle",
            )
        keys = _sysctl_keys(self.result, steps, self.name_of)
        sockets = [*self.monitors.values(), *net.monitors.values()]
        waiting = deadlines.Readable(sockets)
        end = time.monotonic() + SETTLE_S
        while True:
            for sock in sockets:
                deadlines.drain(sock)
            found = self._differences(net, keys, steps, stage)
            left = end - time.monotonic()
            if not found or left <= 0:
                return found
            waiting.wait(left)  # something changed on one side: read both again

    def _differences(
        self, net: Network, keys: dict[str, set[str]], steps: list[Step], stage: int
    ) -> list[Difference]:
        topology = self.result.topology
        hosts = list(topology.hosts)
        ours = _state(net.lab, hosts, topology, keys)
        lans = topology.lans()
        extra = [n for n in self.lab.namespaces if n not in hosts and n not in lans and n != EMPTY]
        theirs = _state(self.lab, [*hosts, *extra], topology, keys)
        found: list[Difference] = []
        for host in hosts:
            line = _line_finder(steps, host, self.name_of)
            found += _host_differences(host, ours[host], theirs[host], line, stage)
        for host in extra:
            # A namespace the topology has no host for: all it holds beyond what a new
            # namespace holds is a difference.
            empty = _state(self.lab, [EMPTY], topology, {EMPTY: keys.get(host, set())})[EMPTY]
            line = _line_finder(steps, host, self.name_of)
            found += _host_differences(host, empty, theirs[host], line, stage)
        return found


def _run(ns: NetNS, argv: list[str], check: bool = True) -> str:
    """Run argv inside `ns` (no shell, a clean environment, bounded); "" or why it failed."""
    try:
        done = subprocess.run(
            ["nsenter", f"--net={ns.path}", *argv],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
            env=ENV,
            timeout=STEP_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        problem = f"killed after {STEP_TIMEOUT_S:.0f} s"
    else:
        if done.returncode == 0:
            return ""
        problem = " ".join(done.stderr.split())[:200] or f"exit status {done.returncode}"
    if check:
        raise CannotProve(f"the proof's own `{' '.join(argv)}` failed: {problem}")
    return problem


def _attach_tun(ns: NetNS, ifname: str, kind: str) -> int:
    """Open the persistent device `ip tuntap add` made, as the harness holds its own."""
    with ns.entered():
        fd = os.open("/dev/net/tun", os.O_RDWR | os.O_CLOEXEC)
    flags = (IFF_TUN if kind == "tun" else IFF_TAP) | IFF_NO_PI
    try:
        fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", ifname.encode(), flags))
    except OSError:
        os.close(fd)
        raise
    return fd


def _sysctl_keys(
    result: ImportResult, steps: list[Step], name_of: Callable[[str], str]
) -> dict[str, set[str]]:
    """Host -> the sysctls to compare: the topology's, its changes', and the listing's."""
    keys: dict[str, set[str]] = {
        host: set(spec.sysctls) for host, spec in result.topology.hosts.items()
    }
    for change in result.changes:
        keys.setdefault(change.host, set()).update(change.sysctl or {})
    for step in steps:
        if step.argv[0] == "sysctl":
            for word in step.argv:
                if "=" in word:
                    keys.setdefault(name_of(step.ns), set()).add(word.split("=", 1)[0].strip())
    return keys


# --------------------------------------------------------------------------- reading


# What is read of each namespace, per family: one `ip -batch` of our own (not the listing's).
READS = (
    "link show",
    "addr show",
    "route show table all",
    "rule show",
    "neigh show nud permanent",
    "neigh show proxy",
)


def ip_json(ns: NetNS, family: str) -> dict[str, list[Any]]:
    """iproute2's JSON view of a namespace, for `family` (-4, -6): READS -> its objects."""
    out = _ip_out(ns, ["-j", "-d", family, "-batch", "-"], "\n".join(READS) + "\n")
    decoder, at = json.JSONDecoder(), 0
    found: list[Any] = []
    while len(found) < len(READS):
        while at < len(out) and out[at].isspace():
            at += 1
        value, at = decoder.raw_decode(out, at)
        found.append(value)
    return dict(zip(READS, found, strict=True))


def _peers(lab: Lab, hosts: list[str]) -> dict[tuple[str, int], str]:
    """(host, netnsid) -> the namespace that id names in that host's namespace."""
    ids = {}
    for a in hosts:
        for b in lab.namespaces:
            if a != b:
                nsid = lab[a].ipr.get_netnsid(fd=lab[b].fd)
                if nsid and nsid.get("nsid") is not None and nsid["nsid"] >= 0:
                    ids[(a, nsid["nsid"])] = b
    return ids


def _ipv6_own(item: dict[str, Any]) -> bool:
    """What the kernel makes by itself once IPv6 is on (link-local, multicast, ::1)."""
    dst = str(item.get("dst", item.get("local", "")))
    return dst.startswith(("fe80:", "ff00::")) or dst in ("::1", "::1/128")


def _state(
    lab: Lab, hosts: list[str], topology: Topology, keys: dict[str, set[str]]
) -> dict[str, dict[str, dict[str, str]]]:
    """Host -> part -> {item key: how it reads}, from `ip -j` in each namespace."""
    ids = _peers(lab, hosts)
    dumps = {h: {f: ip_json(lab[h], f) for f in ("-4", "-6")} for h in {*hosts, *ids.values()}}
    names = {h: {x["ifindex"]: x["ifname"] for x in dumps[h]["-4"]["link show"]} for h in dumps}
    seen: dict[str, dict[str, dict[str, str]]] = {}
    for host in hosts:
        ns, dump = lab[host], dumps[host]
        spec = topology.hosts.get(host)
        links: dict[str, str] = {}
        for link in dump["-4"]["link show"]:
            if link["ifname"] == "lo":
                continue
            info = link.get("linkinfo", {})
            data = info.get("info_data", {})
            kind = data.get("type") if info.get("info_kind") == "tun" else info.get("info_kind")
            attrs = {"kind": kind or "device", "state": "up" if "UP" in link["flags"] else "down"}
            attrs["mtu"] = link.get("mtu")
            if link.get("master"):
                attrs["master"] = link["master"]
            if kind == "veth":
                netnsid = link.get("link_netnsid")
                other = host if netnsid is None else ids.get((host, netnsid), "?")
                where = names.get(other, {})
                attrs["peer"] = f"{other}.{where.get(link.get('link_index'), link.get('link'))}"
            if kind in ("macvlan", "ipvlan"):
                attrs["parent"], attrs["mode"] = link.get("link"), data.get("mode")
            if kind == "vrf":
                attrs["table"] = data.get("table")
            iface = spec.interfaces.get(link["ifname"]) if spec is not None else None
            if iface is not None and iface.mac:
                attrs["mac"] = link.get("address")
            for attr, value in attrs.items():
                links[f"{link['ifname']} {attr}"] = str(value)
        families = list(dump.values())
        addresses = {
            f"{i['local']}/{i['prefixlen']} dev {a['ifname']}": "secondary"
            if i.get("secondary")
            else "primary"
            for d in families
            for a in d["addr show"]
            for i in a.get("addr_info", [])
            if not _ipv6_own(i)
        }
        routes = {
            _route_text(r): ""
            for d in families
            for r in d["route show table all"]
            if not _ipv6_own(r)
        }
        rules = {_words(r): "" for d in families for r in d["rule show"]}
        neighbours = {
            _words(n): ""
            for d in families
            for n in [*d["neigh show nud permanent"], *d["neigh show proxy"]]
        }
        wanted = set(keys.get(host, ()))
        # A conf.default key reaches the links made after it: read it on every link too
        # (slash form: a link name may hold a dot).
        link_names = {key.split(" ")[0] for key in links}
        wanted |= {
            sysctl_path(k).replace("/default/", f"/{i}/")
            for k in list(wanted)
            if "/conf/default/" in sysctl_path(k)
            for i in link_names
        }
        values = ns.read_sysctls(sorted(wanted))
        sysctls = {k: values.get(k, "(no such key)") for k in wanted}
        seen[host] = {
            "link": links,
            "address": addresses,
            "route": routes,
            "rule": rules,
            "neighbour": neighbours,
            "sysctl": sysctls,
        }
    return seen


def _words(item: dict[str, Any]) -> str:
    """An `ip -j` object as `key value` words, in a fixed order."""
    return " ".join(
        f"{k} {json.dumps(v) if isinstance(v, (list, dict)) else v}"
        for k, v in sorted(item.items())
    )


def _route_text(route: dict[str, Any]) -> str:
    """A route as `ip route` would write it, near enough to read and to compare."""
    route = dict(route)
    kind = str(route.pop("type", "unicast"))
    head = [kind] if kind != "unicast" else []
    head.append(str(route.pop("dst", "default")))
    return " ".join([*head, _words(route)]).strip()


def _line_finder(
    steps: list[Step], host: str, name_of: Callable[[str], str]
) -> Callable[..., int | None]:
    """The last listing line run in `host` whose words hold all of `tokens`."""
    mine = [s for s in steps if name_of(s.ns) == host]

    def find(tokens: list[str], first: bool = False) -> int | None:
        for step in mine if first else reversed(mine):
            # KEY=VALUE holds KEY; ADDR/LEN holds ADDR (a host route's dst, a local route).
            words = {*step.argv, *(w.split("=", 1)[0] for w in step.argv)}
            words |= {w.split("/", 1)[0] for w in step.argv if "=" not in w}
            if all(t in words for t in tokens):
                return step.line
        return None

    return find


def _host_differences(
    host: str,
    ours: dict[str, dict[str, str]],
    theirs: dict[str, dict[str, str]],
    line: Callable[..., int | None],
    stage: int,
) -> list[Difference]:
    found = []
    for part in ours:
        mine, other = ours[part], theirs[part]
        if part == "link":  # a link only one side has: one difference, all it is
            for name in sorted(_names(mine) ^ _names(other)):
                side = other if name in _names(other) else mine
                said = ", ".join(
                    f"{k.split(' ', 1)[1]} {v}" for k, v in side.items() if k.startswith(f"{name} ")
                )
                listing, topology = (
                    (f"{name}: {said}", "") if side is other else ("", f"{name}: {said}")
                )
                found.append(Difference(host, "link", listing, topology, line([name], True), stage))
            gone = _names(mine) ^ _names(other)
            mine = {k: v for k, v in mine.items() if k.split(" ")[0] not in gone}
            other = {k: v for k, v in other.items() if k.split(" ")[0] not in gone}
        for key in sorted(set(mine) | set(other)):
            if mine.get(key) == other.get(key):
                continue
            what = part
            if part == "link":
                what = "mtu" if key.endswith(" mtu") else "link"
            listing = f"{key} {other[key]}".strip() if key in other else ""
            topology = f"{key} {mine[key]}".strip() if key in mine else ""
            if part == "sysctl":
                listing = f"{key}={other[key]}" if key in other else ""
                topology = f"{key}={mine[key]}" if key in mine else ""
            found.append(Difference(host, what, listing, topology, line(_tokens(part, key)), stage))
    return found


def _names(links: dict[str, str]) -> set[str]:
    return {key.split(" ")[0] for key in links}


def _tokens(part: str, key: str) -> list[str]:
    """Words the listing's command for an item holds (to find its line), or none."""
    words = key.split(" ")
    if part in ("link", "address", "sysctl"):
        return words[:1]  # the link's name, ADDR/LEN, the key
    if part == "route":
        return [words[1] if words[0] in ROUTE_TYPES else words[0]]
    for name in ("dst", "src"):  # a neighbour's address, a rule's selector
        if name in words[:-1]:
            return [words[words.index(name) + 1]]
    return ["\0"]  # nothing to look for
