"""A listing -> a validated topology, the changes it cannot say, and a report of every line.

Commands are translated one by one into a draft (harness/importer/model.py)
with the listing's own addresses; then the addresses are mapped onto the
documentation ranges (harness/importer/addresses.py), every route, rule,
neighbour and address is checked with the scenario loader's own parsers, and
the whole is validated as a `Topology`.  A line that does not survive a step
is reported with its line number and why, never dropped silently.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from harness.core.validation import IPInterface, check_allowed
from harness.importer import iproute, nettools
from harness.importer.addresses import AddressMap, MappingError, plan
from harness.importer.model import (
    ROOT,
    Draft,
    Entry,
    Iface,
    Ignored,
    Unsupported,
)
from harness.importer.shell import read_listing
from harness.importer.shell_words import Command, Listing, TooMuch
from harness.scenario import Change, ScenarioError, Topology, validate
from harness.scenario.iplines import check_spec_addresses
from harness.scenario.ipsyntax import (
    IpSyntaxError,
    parse_addr,
    parse_neigh,
    parse_nexthop,
    parse_route,
    parse_rule,
)

ROOT_HOST = "host"  # what the machine's own namespace is called in the topology
_SHOWS = {
    "ping": "sends traffic (a case's probe, not set-up)",
    "ping6": "sends traffic (a case's probe, not set-up)",
    "arping": "sends traffic (a case's probe, not set-up)",
    "traceroute": "sends traffic (a case's probe, not set-up)",
    "nc": "sends traffic (a case's probe, not set-up)",
    "tcpdump": "captures (the harness captures every interface)",
    "ss": "shows state",
    "netstat": "shows state",
    "uname": "shows state",
    "cat": "shows state",
    "hostname": "shows state",
    "ip6tables-save": "shows state",
    "iptables-save": "shows state",
}
# What the shell reader skipped on purpose (the rest it could not follow).
_SHELL_IGNORED = re.compile(
    r"not a command|in a branch not taken|shell:|calls the listing's|in the tear-down function"
    r"|in \S+\(\), which takes arguments and is never called"
)


class ImportFailure(ValueError):
    """The listing gives nothing usable, or cannot be mapped; the message says why, and
    `entries` what became of each line."""

    def __init__(self, message: str, entries: list[Entry]) -> None:
        super().__init__(message)
        self.entries = entries


@dataclass
class ImportResult:
    """What a listing translates to."""

    topology: Topology
    document: dict[str, Any]  # the topology as written (hosts ...)
    changes: list[Change]  # what a topology cannot say, for a case's `change:`
    address_map: AddressMap
    host_names: dict[str, str]  # listing namespace (ROOT: the machine's own) -> host
    lans: dict[str, list[str]]  # LAN -> HOST.IF ports made for NICs the listing never created
    entries: list[Entry]
    translated: int  # commands translated (fully or in part)
    listing: Listing


def dispatch(draft: Draft, ns: str, words: list[str], redirect: str | None = None) -> None:
    """Translate one command's words, run in namespace `ns`."""
    name = words[0]
    if name == "ip":
        iproute.ip(draft, ns, words[1:], dispatch)
    elif name == "echo" and redirect is not None:
        if ns != ROOT:
            raise Unsupported("the shell opens the redirected file before the namespace is entered")
        nettools.echo(draft, ns, words, redirect)
    elif name == "ifconfig":
        nettools.ifconfig(draft, ns, words[1:])
    elif name == "route":
        nettools.route(draft, ns, words[1:])
    elif name == "sysctl":
        nettools.sysctl(draft, ns, words[1:])
    elif name == "brctl":
        nettools.brctl(draft, ns, words[1:])
    elif name in _SHOWS:
        raise Ignored(_SHOWS[name])
    elif name[:1].isupper() and name.lower() in ("ip", "route", "ifconfig", "sysctl"):
        raise Unsupported(
            f"`{name}` is not a command; commands are case-sensitive (`{name.lower()}`?)"
        )
    else:
        raise Unsupported(f"`{name}` is not a set-up command this importer knows")


def _translate(listing: Listing) -> Draft:
    draft = Draft()
    for command in listing.commands:
        draft.line, draft.text = command.line, command.text
        try:
            _one(draft, command)
            draft.translated.append(command.line)
        except Ignored as exc:
            draft.note(str(exc), "ignored")
        except Unsupported as exc:
            draft.note(str(exc), "unsupported")
    for skipped in listing.skipped:
        outcome = "ignored" if _SHELL_IGNORED.match(skipped.reason) else "unsupported"
        draft.entries.append(
            Entry(skipped.line, skipped.text, outcome, skipped.reason, skipped.last)
        )
    for (ns, key), links in draft.inherited.items():
        value, line = draft.hosts[ns].defaults[key]
        where = f" in {ns}" if ns != ROOT else ""
        reason = (
            f"{key} = {value}{where} reaches the links made after it: written as their own "
            f"keys ({', '.join(links)}), since the harness sets sysctls after making links"
        )
        draft.entries.append(Entry(line, f"sysctl {key}={value}", "note", reason))
    down = [(ns, host.line) for ns, host in draft.hosts.items() if not host.interfaces["lo"].up]
    if down:
        reason = "lo is up in every harness namespace; the listing leaves it down in " + ", ".join(
            ns for ns, _ in down
        )
        draft.entries.append(Entry(down[0][1], f"ip netns add {down[0][0]}", "note", reason))
    unique = {(e.line, e.text, e.outcome, e.reason): e for e in draft.entries}
    draft.entries = _compact(sorted(unique.values(), key=lambda e: e.line))
    return draft


def _compact(entries: list[Entry]) -> list[Entry]:
    """Neighbouring entries that say the same (a loop's rounds too) as one range of lines."""
    out: list[Entry] = []
    rounds: list[list[str]] = []
    for entry in entries:
        reason, _, loop = entry.reason.partition(" (for ")
        previous = out[-1] if out else None
        if previous and previous.outcome == entry.outcome and previous.reason == reason:
            previous.last = max(previous.last, entry.last, entry.line)
            if loop and loop.rstrip(")") not in rounds[-1]:
                rounds[-1].append(loop.rstrip(")"))
            continue
        out.append(Entry(entry.line, entry.text, entry.outcome, reason, entry.last))
        rounds.append([loop.rstrip(")")] if loop else [])
    for entry, seen in zip(out, rounds, strict=True):
        if seen:
            entry.reason += f" (for {'; '.join(seen)})"
    return out


def _one(draft: Draft, command: Command) -> None:
    # A redirection belongs to the shell running the whole command: with
    # `ip netns exec NS echo 1 > /proc/sys/...` the machine's own file is written.
    words = list(command.words)
    exec_echo = words[:3] == ["ip", "netns", "exec"] and words[4:5] == ["echo"]
    if command.redirect is not None and exec_echo:
        draft.note(
            "the shell opens the redirected file before `ip netns exec` runs: "
            "this writes the machine's own namespace's setting"
        )
        words = words[4:]
    dispatch(draft, ROOT, words, command.redirect)


def _host_names(draft: Draft) -> dict[str, str]:
    names: dict[str, str] = {}
    for ns in draft.hosts:
        base = ROOT_HOST if ns == ROOT else _sanitised(ns)
        name, n = base, 2
        while name in names.values():
            name, n = f"{base}-{n}", n + 1
        names[ns] = name
    return names


def _sanitised(ns: str) -> str:
    name = "-".join(
        part
        for part in "".join(c if c.isascii() and c.isalnum() else "-" for c in ns.lower()).split(
            "-"
        )
        if part
    )
    return name if name[:1].isalpha() else f"ns-{name}" if name else "ns"


def _items(draft: Draft) -> Iterator[tuple[IPInterface, int]]:
    """Every address the draft uses, with its prefix length, for the address plan."""
    for host in draft.hosts.values():
        for iface in host.interfaces.values():
            for address in iface.addresses:
                yield address.iface, address.line
        specs: list[tuple[Any, int]] = [
            (parse_route(" ".join(r.words)), r.line) for r in host.routes
        ]
        specs += [
            (hop, r.line) for r, s in zip(host.routes, specs, strict=True) for hop in s[0].nexthops
        ]
        specs += [(parse_nexthop(" ".join(n.words)), n.line) for n in host.nexthops]
        specs += [(parse_rule(" ".join(r.words)), r.line) for r in host.rules]
        specs += [(parse_neigh(" ".join(n.words)), n.line) for n in host.neighbours]
        yield from _spec_items(specs)
    for change in draft.changes:
        parser = {
            "route": parse_route,
            "rule": parse_rule,
            "neigh": parse_neigh,
            "addr": parse_addr,
        }
        if change.kind in parser:
            yield from _spec_items([(parser[change.kind](" ".join(change.words[1:])), change.line)])


def _spec_items(specs: list[tuple[Any, int]]) -> Iterator[tuple[IPInterface, int]]:
    for spec, line in specs:
        for name in ("dst", "src", "via", "address"):
            value = getattr(spec, name, None)
            if value is None:
                continue
            if isinstance(value, (ipaddress.IPv4Network, ipaddress.IPv6Network)):
                yield ipaddress.ip_interface(str(value)), line
            elif isinstance(value, (ipaddress.IPv4Interface, ipaddress.IPv6Interface)):
                if not (name == "dst" and value.network.prefixlen == 0):
                    yield value, line
            else:
                yield ipaddress.ip_interface(str(value)), line


def _lans(draft: Draft, names: dict[str, str], amap: AddressMap) -> dict[tuple[str, str], str]:
    """A LAN for each group of NICs the listing never created: NICs with addresses in a
    common subnet share one."""
    groups: list[tuple[set[Any], list[tuple[str, str]]]] = []
    for ns, host in draft.hosts.items():
        for ifname, iface in host.interfaces.items():
            if iface.kind is not None:
                continue
            nets = {amap.interface(a.iface).network for a in iface.addresses}
            group = next((g for g in groups if nets & g[0]), None)
            if group is None:
                groups.append((set(nets), [(ns, ifname)]))
            else:
                group[0].update(nets)
                group[1].append((ns, ifname))
    taken = set(names.values())
    lans: dict[tuple[str, str], str] = {}
    number = 0
    for _, ports in groups:
        while f"lan{number}" in taken:
            number += 1
        for port in ports:
            lans[port] = f"lan{number}"
        number += 1
    return lans


def _checked(draft: Draft, line: int, what: str, check: Any) -> bool:
    """Run a check of a mapped item; on failure report the line as not translated."""
    try:
        check()
    except ValidationError as exc:
        problem = exc.errors()[0]["msg"].removeprefix("Value error, ")
        draft.entries.append(Entry(line, what, "unsupported", f"after mapping: {problem}"))
        return False
    except (ValueError, IpSyntaxError) as exc:
        draft.entries.append(Entry(line, what, "unsupported", f"after mapping: {exc}"))
        return False
    return True


def _interface_doc(
    draft: Draft, ns: str, name: str, iface: Iface, ctx: dict[str, Any]
) -> dict[str, Any]:
    names, amap, lans = ctx["names"], ctx["amap"], ctx["lans"]
    doc: dict[str, Any] = {}
    if iface.kind is None:
        doc["lan"] = lans[(ns, name)]
    elif iface.kind == "veth":
        assert iface.peer is not None
        doc["link"] = f"{names[iface.peer[0]]}.{iface.peer[1]}"
    elif iface.kind != "loopback":
        doc["kind"] = iface.kind
    for key in ("parent", "mode", "table", "master", "mac", "mtu", "txqueuelen"):
        if getattr(iface, key) is not None:
            doc[key] = getattr(iface, key)
    addresses = []
    for address in iface.addresses:
        mapped = amap.interface(address.iface)
        if _checked(draft, address.line, f"{name} {mapped}", lambda m=mapped: check_allowed(m.ip)):
            addresses.append(str(mapped))
    if addresses:
        doc["addresses"] = addresses
    if not iface.up and iface.kind != "loopback":
        doc["up"] = False
    return doc


def _host_doc(draft: Draft, ns: str, ctx: dict[str, Any]) -> dict[str, Any]:
    host, amap = draft.hosts[ns], ctx["amap"]
    doc: dict[str, Any] = {}
    interfaces = {}
    for name, iface in host.interfaces.items():
        iface_doc = _interface_doc(draft, ns, name, iface, ctx)
        if name != "lo" or iface_doc:
            interfaces[name] = iface_doc
    if interfaces:
        doc["interfaces"] = interfaces
    for key, items, parser in (
        ("nexthops", host.nexthops, parse_nexthop),
        ("routes", host.routes, parse_route),
        ("rules", host.rules, parse_rule),
        ("neighbours", host.neighbours, parse_neigh),
    ):
        lines = []
        for item in items:
            text = " ".join(amap.words(item.words))
            if _checked(
                draft, item.line, text, lambda t=text, p=parser: check_spec_addresses(p(t))
            ):
                lines.append(text)
        if lines:
            doc[key] = lines
    sysctls = {key: value for key, (value, _) in host.sysctls.items()}
    if sysctls:
        doc["sysctls"] = sysctls
    return doc


def _usable(document: dict[str, Any]) -> bool:
    return any(
        set(host) - {"interfaces"} or set(host.get("interfaces", {})) - {"lo"}
        for host in document["hosts"].values()
    )


def import_listing(text: str, source: str = "listing") -> ImportResult:
    """Translate a listing (its text) into a topology; ImportFailure when nothing usable remains
    or reading it would pass one of the reader's bounds (harness/importer/shell.py)."""
    try:
        listing = read_listing(text)
    except TooMuch as exc:
        raise ImportFailure(f"{source}: {exc}", []) from None
    draft = _translate(listing)
    names = _host_names(draft)
    try:
        amap = plan(_items(draft))
    except MappingError as exc:
        raise ImportFailure(f"{source}: {exc}", draft.entries) from None
    lans = _lans(draft, names, amap)
    ctx = {"names": names, "amap": amap, "lans": lans}
    document: dict[str, Any] = {
        "hosts": {names[ns]: _host_doc(draft, ns, ctx) for ns in draft.hosts}
    }
    changes: list[Change] = []
    for change in draft.changes:
        said = " ".join(amap.words(change.words))
        fields = {"host": names[change.ns], change.kind: said}
        _checked(draft, change.line, str(fields), lambda f=fields: changes.append(Change(**f)))
    draft.entries.sort(key=lambda e: e.line)
    if not document["hosts"] or not _usable(document):
        raise ImportFailure(
            f"{source}: nothing in it sets up a network this importer can write", draft.entries
        )
    try:
        topology: Topology = validate(Topology, document, Path(source))
    except ScenarioError as exc:
        problem = f"the translation does not load: {exc.field}: {exc.problem}"
        raise ImportFailure(f"{source}: {problem}", draft.entries) from None
    ports: dict[str, list[str]] = {}
    for (ns, ifname), lan in lans.items():
        ports.setdefault(lan, []).append(f"{names[ns]}.{ifname}")
    return ImportResult(
        topology=topology,
        document=document,
        changes=changes,
        address_map=amap,
        host_names=names,
        lans=ports,
        entries=draft.entries,
        translated=len(set(draft.translated)),
        listing=listing,
    )
