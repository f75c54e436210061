"""A listing -> a validated topology, the changes it cannot say, and a report of every line.

The listing is read in its time order (harness/importer/episodes.py): each
episode (up to a tear-down) is one part; its set-up (what comes before its first
act) becomes the topology, and what it changes after acting becomes the
skeleton's steps.  Commands are translated one by one into a draft
(harness/importer/model.py) with the listing's own addresses; then the
addresses are mapped onto the documentation ranges
(harness/importer/addresses.py), every route, rule, neighbour and address is
checked with the scenario loader's own parsers, and the whole is validated as a
`Topology`.  A line that does not survive a step is reported with its line
number and why, never dropped silently.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from harness.core.validation import IPInterface, check_allowed
from harness.importer import episodes, iproute, nettools
from harness.importer.addresses import AddressMap, MappingError, plan
from harness.importer.dump_check import mapped
from harness.importer.dump_setup import setup_commands
from harness.importer.dumps import DumpState, read_dumps, without_dumps
from harness.importer.model import (
    ROOT,
    ChangeDraft,
    Draft,
    Entry,
    Iface,
    Ignored,
    StepDraft,
    Unsupported,
)
from harness.importer.shell import read_listing
from harness.importer.shell_words import (
    Call,
    Command,
    Listing,
    Skipped,
    TooMuch,
    is_transcript,
    logical_lines,
)
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
# Parts (episodes that differ) one import writes, a topology and a skeleton each: a selftest
# runs a few set-ups (arp_ndisc_evict_nocarrier.sh: six); past this, files by the hundred.
MAX_PARTS = 16
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
    r"|in the `if` of line \d+, (which checks `\$\?`|whose condition is an act)"
)


class ImportFailure(ValueError):
    """The listing gives nothing usable, or cannot be mapped; the message says why, and
    `entries` what became of each line."""

    def __init__(self, message: str, entries: list[Entry]) -> None:
        super().__init__(message)
        self.entries = entries


@dataclass
class Step:
    """One entry of the skeleton's `steps`: what the listing changed after an act (its
    commands, as translated, and the same as a case's changes), then the acts that follow
    (the step's probe, for the reader to write)."""

    commands: list[Command]
    changes: list[Change]
    acts: list[Entry]
    seen: list[Command] = field(default_factory=list)  # translated or not: what the proof replays


@dataclass
class ImportResult:
    """What a listing (one part of it, when it has several) translates to."""

    topology: Topology
    document: dict[str, Any]  # the topology as written (hosts ...)
    changes: list[Change]  # what a topology cannot say, applied after the set-up, before acts
    address_map: AddressMap
    host_names: dict[str, str]  # listing namespace (ROOT: the machine's own) -> host
    lans: dict[str, list[str]]  # LAN -> HOST.IF ports made for NICs the listing never created
    entries: list[Entry]
    translated: int  # commands translated (fully or in part)
    listing: Listing
    setup: list[Command] = field(default_factory=list)  # translated, before the first act
    steps: list[Step] = field(default_factory=list)  # after it, in order
    # Every command of the set-up and of each step, translated or not: what the proof
    # replays (harness/importer/proof.py), so a line the importer misread still counts.
    setup_seen: list[Command] = field(default_factory=list)
    part: str = ""  # which lines and calls of the listing, when it has several parts
    parts: list[ImportResult] = field(default_factory=list)  # the further parts, in order
    # What `ip ... show` output in the listing shows (addresses mapped; see dump_check.py),
    # and the commands made from it (also in `listing.commands`, at the dump's lines).
    dump: DumpState | None = None
    synthesized: list[Command] = field(default_factory=list)

    @property
    def every_part(self) -> list[ImportResult]:
        """This part and the further ones, in listing order."""
        return [self, *self.parts]


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


def _translator(shown: frozenset[Command]) -> episodes.Translator:
    """`_one`, except that a command made from a dump that finds its object made already
    is no failure: a dump shows what the commands before it set up."""

    def translate(draft: Draft, command: Command) -> None:
        try:
            _one(draft, command)
        except Unsupported as exc:
            if command in shown and "File exists" in str(exc):
                raise Ignored("set up already by the listing's commands") from None
            if shown and "File exists" in str(exc):
                # The dumps' commands stand where the first dump is: a command between two
                # dumps finds what the later dump shows made already (as iproute2 would
                # refuse it, it changes nothing).
                raise Ignored(f"set up already from the pasted output ({exc})") from None
            raise

    return translate


def _report(draft: Draft, skipped_lines: list[Skipped]) -> None:
    """The draft's entries, with the lines the reader skipped and the notes on the whole."""
    for skipped in skipped_lines:
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


def _items(draft: Draft, steps: list[StepDraft]) -> Iterator[tuple[IPInterface, int]]:
    """Every address the draft and its steps use, with its prefix length, for the plan."""
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
    for change in [*draft.changes, *(c for step in steps for c in step.changes)]:
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
    """Translate a listing (its text) into a topology and a skeleton's steps, one part per
    episode that differs (harness/importer/episodes.py); ImportFailure when nothing usable
    remains, when the listing's shape cannot be split without merging, or when reading it
    would pass one of the reader's bounds (harness/importer/shell.py)."""
    try:
        dumps = read_dumps(text)
        # Its prompts say how the rest is read, also where the dumps' command lines were.
        shape = is_transcript(logical_lines(text, True))
        listing = read_listing(without_dumps(text, dumps), shape)
        setup = setup_commands(dumps)
        if dumps.blocks:
            _insert(listing, setup.commands, min(b.command or b.first for b in dumps.blocks))
        found = episodes.split(listing, _translator(frozenset(setup.commands)))
    except TooMuch as exc:
        raise ImportFailure(f"{source}: {exc}", []) from None
    except episodes.Refused as exc:
        raise ImportFailure(f"{source}: {exc}: refused", []) from None
    parts: list[ImportResult] = []
    said = list(setup.entries)  # what the dump reader says of the dumps' lines
    seen: dict[str, ImportResult] = {}
    left: list[Entry] = []  # what episodes with nothing to set up report, for a neighbour
    for episode in found:
        shows = bool(setup.commands) and any(c in setup.commands for c in episode.seen)
        if shows:
            episode.draft.entries += said
            said = []
        _report(episode.draft, episode.skipped)
        try:
            part = _part(episode, listing, source)
            if shows:
                part.dump = mapped(setup.state, part.address_map)
                part.synthesized = setup.commands
        except _Empty:
            left += episode.draft.entries
            continue
        key = _same(part)
        if key in seen:  # an identical episode shares the part of the first
            seen[key].part += f"; {part.part}"
            continue
        seen[key] = part
        parts.append(part)
        if len(parts) > MAX_PARTS:
            raise ImportFailure(
                f"{source}: more than {MAX_PARTS} parts (episodes between tear-downs that "
                f"differ, the last from {part.part}): import a piece of the listing",
                [],
            )
        part.entries += left
        left = []
    if not parts:
        raise ImportFailure(
            f"{source}: nothing in it sets up a network this importer can write", left
        )
    parts[-1].entries += left
    for part in parts:
        part.entries = _compact(sorted(part.entries, key=lambda e: e.line))
    first = parts[0]
    if len(parts) == 1:
        first.part = ""
    first.parts = parts[1:]
    return first


def _insert(listing: Listing, made: list[Command], line: int) -> None:
    """The commands made from the dumps, where the first dump stands (links, then
    addresses, ...); the time-order marks and skipped lines after it move along."""
    at = next((i for i, c in enumerate(listing.commands) if c.line >= line), len(listing.commands))
    listing.commands[at:at] = made
    listing.marks = [
        dataclasses.replace(m, index=m.index + len(made)) if m.index >= at else m
        for m in listing.marks
    ]
    listing.skipped = [
        dataclasses.replace(s, at=(s.at[0] + len(made), s.at[1])) if s.at[0] >= at else s
        for s in listing.skipped
    ]


class _Empty(Exception):
    """An episode with nothing a topology can say (a clean-up's leftovers)."""


def _same(part: ImportResult) -> str:
    """What two parts must share to be one: the topology, the changes and the steps."""
    steps = [([str(c) for c in s.changes], [a.text for a in s.acts]) for s in part.steps]
    return repr((part.document, [str(c) for c in part.changes], steps))


def _description(episode: episodes.Episode) -> str:
    """Which lines of the listing, and which calls with arguments, make this part."""
    calls: list[Call] = []
    for command in episode.setup:
        calls += [c for c in command.calls if c.args and c not in calls]
    lines = f"lines {min(episode.lines)}-{max(episode.lines)}" if episode.lines else ""
    said = ", ".join(f"{c.name} {' '.join(c.args)} (line {c.line})" for c in calls)
    return f"{lines}: {said}" if said else lines


def _part(episode: episodes.Episode, listing: Listing, source: str) -> ImportResult:
    """One episode as an ImportResult; _Empty when it sets up nothing."""
    draft = episode.draft
    if not episode.setup:
        raise _Empty
    if episode.steps:  # the set-up is the state at the first act
        draft = _at_first_act(episode)
    names = _host_names(draft)
    try:
        amap = plan(_items(draft, episode.steps))
    except MappingError as exc:
        raise ImportFailure(f"{source}: {exc}", draft.entries) from None
    lans = _lans(draft, names, amap)
    ctx = {"names": names, "amap": amap, "lans": lans}
    document: dict[str, Any] = {
        "hosts": {names[ns]: _host_doc(draft, ns, ctx) for ns in draft.hosts}
    }
    changes = _changes(draft, draft.changes, names, amap)
    steps = [
        Step(step.commands, _changes(draft, step.changes, names, amap), step.acts, step.seen)
        for step in episode.steps
    ]
    draft.entries.sort(key=lambda e: e.line)
    if not document["hosts"] or not _usable(document):
        raise _Empty
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
        setup=episode.setup,
        setup_seen=episode.seen,
        steps=steps,
        part=_description(episode),
    )


def _at_first_act(episode: episodes.Episode) -> Draft:
    """The episode's draft as it was at its first act (the steps changed it since)."""
    draft = episode.draft
    assert episode.before is not None
    return Draft(
        hosts=episode.before,
        changes=draft.changes[: episode.set_up_changes],
        entries=draft.entries,
        translated=draft.translated,
        inherited=draft.inherited,
    )


def _changes(
    draft: Draft, drafts: list[ChangeDraft], names: dict[str, str], amap: AddressMap
) -> list[Change]:
    """Changes as a case says them, addresses mapped; one that does not load is reported."""
    out: list[Change] = []
    for change in drafts:
        if change.kind == "sysctl":
            key, value = change.words
            fields: dict[str, Any] = {
                "host": names[change.ns],
                "sysctl": {key: int(value) if re.fullmatch(r"-?\d+", value) else value},
            }
        else:
            fields = {"host": names[change.ns], change.kind: " ".join(amap.words(change.words))}
        _checked(draft, change.line, str(fields), lambda f=fields: out.append(Change(**f)))
    return out
