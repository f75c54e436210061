"""`ip ... show` output pasted into a listing (a Q&A answer) -> the state it shows.

A block of output is recognised by the command line that printed it, when the
listing has one (`$ ip -6 route show table 100`: kind, family and table), else
by the shape of its lines.  The formats are iproute2's own print functions:
print_linkinfo and print_addrinfo (ip/ipaddress.c, `-br` too), print_route
(ip/iproute.c, multipath `nexthop` lines after a tab), print_rule
(ip/iprule.c, `PREF:\\tSELECTOR ACTION`) and print_neigh (ip/ipneigh.c, the NUD
state last).  Parsed only: what the state means for a topology is
harness/importer/dump_setup.py's business.
"""

from __future__ import annotations

import dataclasses
import functools
import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any

from harness.importer.ipwords import IpWordError, ip_object, ip_verb, split_options
from harness.importer.model import Entry
from harness.importer.shell import MAX_STEPS
from harness.importer.shell_words import KNOWN_COMMANDS, TooMuch, prompt, strip_sudo
from harness.importer.split import split_words

# A dump of more lines than a listing may have commands is no Q&A answer (shell.py's bound).
MAX_DUMP_LINES = MAX_STEPS
KINDS = ("address", "link", "route", "rule", "neighbour")
_OBJECT_KIND = {"address": "address", "link": "link", "route": "route", "rule": "rule"}
_OBJECT_KIND |= {"neighbor": "neighbour", "neighbour": "neighbour"}
_NUD = "PERMANENT NOARP REACHABLE STALE DELAY PROBE FAILED INCOMPLETE NONE"
NUD_SHOWN = frozenset(_NUD.split())
_OPERSTATES = "UP DOWN UNKNOWN LOWERLAYERDOWN DORMANT NOTPRESENT TESTING"
_ROUTE_TYPES = "unicast local broadcast anycast multicast blackhole unreachable prohibit throw nat"
ROUTE_TYPES = frozenset(_ROUTE_TYPES.split())

# The shapes of the lines, for output pasted without its command line.
_LINK_HEADER = re.compile(r"^(\d+):\s+(\S+?):\s+<([^>]*)>(.*)$")
_ADDR_LINE = re.compile(r"^\s+(inet6?)\s+(\S+)(.*)$")
_ONELINE_ADDR = re.compile(r"^(\d+):\s+(\S+)\s+(inet6?)\s+(\S+)(.*?)(?:\\.*)?$")
_BRIEF = re.compile(rf"^(\S+)\s+({'|'.join(_OPERSTATES.split())})(\s+.*)?$")
_RULE = re.compile(r"^(\d+):\s+(.*)$")
_HEX = r"(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9a-fA-F]*:[0-9a-fA-F:.]*)"  # an address
_NEIGH = re.compile(rf"^({_HEX})\s+dev\s+\S+(\s.*)?\s({'|'.join(NUD_SHOWN)}|proxy)\s*$")
_ROUTE_START = re.compile(rf"^(?:(?:{'|'.join(ROUTE_TYPES)})\s+)?(default|{_HEX}(?:/\d+)?)(\s|$)")


@dataclass
class Link:
    """A link as `ip link`/`ip addr`/`ip -br` print it."""

    name: str
    line: int
    at: str | None = None  # after `@`: `ifN` (a peer in another namespace) or a link's name
    flags: frozenset[str] = frozenset()
    mtu: int | None = None
    master: str | None = None
    mac: str | None = None
    kind: str | None = None  # from `ip -d link`
    details: list[str] = field(default_factory=list)  # the kind line's words (`ip -d`)

    @property
    def up(self) -> bool:
        """IFF_UP, as the flags between < > show it."""
        return "UP" in self.flags


@dataclass
class Addr:
    """An address line: `inet ADDR/LEN [peer P/LEN] [brd B] scope S [FLAGS] [LABEL]`."""

    dev: str
    iface: Any  # IPv4Interface | IPv6Interface
    line: int
    text: str
    peer: str | None = None
    brd: str | None = None
    scope: str = "global"
    flags: frozenset[str] = frozenset()
    label: str | None = None
    dynamic: bool = False  # valid_lft not forever


@dataclass
class Route:
    """A route line (and its `nexthop` lines) as `ip route` prints it."""

    family: int
    table: str  # main unless the command or the line says another
    words: list[str]  # as printed, without `table T`
    line: int
    text: str
    nexthops: list[list[str]] = field(default_factory=list)

    @property
    def kind(self) -> str:
        """The route type (unicast when the line names none)."""
        return self.words[0] if self.words[0] in ROUTE_TYPES else "unicast"

    @property
    def dst(self) -> str:
        """The destination as printed (`default`, a prefix or an address)."""
        return self.words[1] if self.words[0] in ROUTE_TYPES else self.words[0]

    def value(self, key: str) -> str | None:
        """The word after `key` (`via`, `dev`, `proto`, ...), if the line has it."""
        words = self.words
        for i, word in enumerate(words[:-1]):
            if word == key:
                return words[i + 1]
        return None


@dataclass
class Rule:
    """A rule line: `PREF:\\tSELECTOR ACTION`."""

    family: int
    pref: int
    words: list[str]
    line: int
    text: str


@dataclass
class Neigh:
    """A neighbour line: `ADDR dev IF [lladdr MAC] [router] [proxy] STATE`."""

    address: str
    dev: str
    line: int
    text: str
    lladdr: str | None
    state: str  # the NUD state printed last (or `proxy`)
    flags: frozenset[str] = frozenset()

    @property
    def family(self) -> int:
        """4 or 6, from the address."""
        return 6 if ":" in self.address else 4


@dataclass
class Block:
    """One dump: the command line (when pasted) and the output lines read as its kind."""

    kind: str  # one of KINDS
    first: int  # the first output line
    last: int
    command: int | None = None  # the line of the command that printed it
    family: int | None = None  # `-4`/`-6` (None: both)
    table: str | None = None  # `ip route show table T` (None: main)
    dev: str | None = None  # `ip addr show dev X` (only X shown)
    brief: bool = False


@dataclass
class DumpState:
    """Everything the listing's dumps show (the machine's own namespace: a dump names none)."""

    blocks: list[Block] = field(default_factory=list)
    links: dict[str, Link] = field(default_factory=dict)
    addresses: list[Addr] = field(default_factory=list)
    routes: list[Route] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)
    neighbours: list[Neigh] = field(default_factory=list)
    entries: list[Entry] = field(default_factory=list)  # lines not read, and why

    def shown(self, kind: str) -> list[Block]:
        """The blocks of one kind (`ip addr` shows links too)."""
        return [b for b in self.blocks if b.kind == kind]


# --------------------------------------------------------------------------- finding blocks


def show_command(text: str) -> Block | None:
    """The dump a command line announces (`ip -6 r show table 100`, `sudo ip a`), else None."""
    found = _announced(text)
    return None if found is None else dataclasses.replace(found)  # the caller fills it in


# A listing repeats its lines (loops, functions pasted out): each distinct one read once.
@functools.lru_cache(maxsize=4096)
def _announced(text: str) -> Block | None:
    try:
        words = strip_sudo(split_words(text))
    except ValueError:
        return None
    if words[:1] != ["ip"]:
        return None
    # iproute2's own matching (harness/importer/ipwords.py): `ip l s` is `link set`, not a
    # show, and `ip -net a ...` names another namespace.
    family: int | None = None
    brief = False
    try:
        options, words = split_options(words[1:])
        for option, value in options:
            if option in ("-4", "-6"):
                family = int(option[1])
            elif option == "-brief":
                brief = True
            elif option == "-family":
                family = {"inet": 4, "inet6": 6}.get(value or "")
            elif option in ("-netns", "-batch", "-all"):
                return None  # another namespace's state (or not one dump): not the machine's
        if not words:
            return None
        obj = ip_object(words[0])
        kind = _OBJECT_KIND.get(obj)
        if kind is None or ip_verb(obj, words[1:]) not in ("show", "list", "lst"):
            return None
    except IpWordError:
        return None
    block = Block(kind, 0, 0, family=family, brief=brief)
    rest = words[2:]
    for i, word in enumerate(rest[:-1]):
        if word == "table" and kind in ("route", "rule"):
            block.table = rest[i + 1]
        elif word == "dev":
            block.dev = rest[i + 1]
    if kind in ("address", "link") and rest and rest[0] not in ("dev", "up", "type"):
        block.dev = rest[0]  # `ip addr show eth0`
    return block


def _shape(line: str) -> str | None:
    """The kind of dump a line looks like (without a command line), else None."""
    if _LINK_HEADER.match(line) or _ONELINE_ADDR.match(line):
        return "address"
    if _RULE.match(line) and re.match(r"^\d+:\s+(not\s+)?from\s", line):
        return "rule"
    if _NEIGH.match(line):
        return "neighbour"
    if _BRIEF.match(line) and not _ROUTE_START.match(line):
        return "brief"
    if _ROUTE_START.match(line) and (
        " dev " in line or " via " in line or line.split()[0] in ROUTE_TYPES
    ):
        return "route"
    return None


_FIRST_WORD = re.compile(r"^[$#>\s]*(?:sudo\s+(?:-\S+\s+)*)?([^\s;&|]+)")


@functools.lru_cache(maxsize=4096)
def _commandish(line: str) -> bool:
    """Whether a line reads as a command (`$ip -n a rule`, `sudo tc ...`), prompt or not."""
    try:
        words = strip_sudo(split_words(line.lstrip("$#> ")))
    except ValueError:
        return False
    return bool(words) and words[0] in KNOWN_COMMANDS


def find_blocks(text: str) -> list[Block]:
    """The dumps of a listing, with their lines (command line included, when pasted).
    TooMuch when the dumps have more than MAX_DUMP_LINES lines."""
    blocks: list[Block] = []
    current: Block | None = None
    foreign = False  # in the output of a command that shows no state of the machine's own
    lines = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        command = prompt(stripped) if stripped else None
        said = command if command is not None else stripped
        # Split into words only what starts like a command (a dump line never does).
        first = _FIRST_WORD.match(said)
        maybe = first is not None and first.group(1) in KNOWN_COMMANDS
        announced = show_command(said) if maybe else None
        if announced is not None:
            announced.command, announced.first, announced.last = number, number + 1, number
            current, foreign = announced, False
            blocks.append(current)
            continue
        if not stripped:
            current, foreign = None, False
            continue
        if command is not None or (maybe and _commandish(stripped)):
            # Another command's output (`ip -n NS route`, `ip route get`, `$ip rule`):
            # not the machine's state, up to the next blank line or command.
            current, foreign = None, True
            continue
        if foreign:
            continue
        shape = _shape(raw.rstrip())
        indented = raw.startswith((" ", "\t"))
        if current is not None and (current.command is not None or current.brief):
            # Output goes on while its lines look like output; a line that does not (the
            # next command of a script) ends it and is left to the shell reader.
            if indented or shape is not None:
                current.last = number
            else:
                current = None
                continue
        elif current is not None and (indented or shape == current.kind):
            current.last = number
        elif shape is not None:
            kind = "address" if shape == "brief" else shape
            current = Block(kind, number, number, brief=shape == "brief")
            blocks.append(current)
        else:
            current = None
            continue
        lines += 1
        if lines > MAX_DUMP_LINES:
            raise TooMuch(
                f"line {number}: more than {MAX_DUMP_LINES} lines of `ip` output: refused"
            )
    return [b for b in blocks if b.last >= b.first or b.command is not None]


# --------------------------------------------------------------------------- parsing


def read_dumps(text: str) -> DumpState:
    """Every dump of the listing, parsed; a line that is not read is an entry saying why."""
    state = DumpState()
    lines = text.splitlines()
    for block in find_blocks(text):
        if block.last < block.first:
            continue  # a show command with no output pasted: a command, read as such
        state.blocks.append(block)
        reader = _READERS["brief" if block.brief else block.kind]
        previous: Any = None
        for number in range(block.first, block.last + 1):
            line = lines[number - 1].rstrip()
            try:
                previous = reader(state, block, number, line, previous)
            except (ValueError, IndexError) as exc:
                reason = str(exc) if isinstance(exc, _NotRead) else "not read as `ip` output"
                state.entries.append(Entry(number, line.strip()[:80], "unsupported", reason))
    return state


class _NotRead(ValueError):
    """A dump line this reader does not take; the message says why."""


def _link_header(state: DumpState, number: int, match: re.Match[str]) -> Link:
    name, at = match.group(2), None
    if "@" in name:
        name, at = name.split("@", 1)
    words = match.group(4).split()
    link = state.links.get(name) or Link(name, number)
    link.at, link.flags = at, frozenset(match.group(3).split(","))
    for i, word in enumerate(words[:-1]):
        if word == "mtu":
            link.mtu = int(words[i + 1])
        elif word == "master":
            link.master = words[i + 1]
    state.links.setdefault(name, link)
    return link


def _address_line(state: DumpState, block: Block, number: int, line: str, previous: Any) -> Any:
    header = _LINK_HEADER.match(line)
    if header:
        return _link_header(state, number, header)
    oneline = _ONELINE_ADDR.match(line)
    if oneline:  # `ip -o addr`: `N: IF    inet ...\       valid_lft ...`
        dev = oneline.group(2).split("@")[0]
        state.links.setdefault(dev, Link(dev, number))
        rest = oneline.group(5)
        dynamic = "valid_lft" in line and "valid_lft forever" not in line
        _address(state, dev, number, line, oneline.group(3), oneline.group(4), rest, dynamic)
        return state.links[dev]
    stripped = line.strip()
    address = _ADDR_LINE.match(line)
    if address and isinstance(previous, Link):
        family, local, rest = address.groups()
        _address(state, previous.name, number, line, family, local, rest, False)
        return previous
    if stripped.startswith("valid_lft") and isinstance(previous, Link):
        if not stripped.startswith("valid_lft forever") and state.addresses:
            state.addresses[-1].dynamic = True
        return previous
    if stripped.startswith("link/") and isinstance(previous, Link):
        words = stripped.split()
        if len(words) > 1 and re.fullmatch(r"[0-9a-f]{2}(:[0-9a-f]{2}){5}", words[1]):
            previous.mac = words[1]
        return previous
    if isinstance(previous, Link) and line.startswith("    ") and stripped.split()[0] != "altname":
        if previous.kind is None and not previous.details:  # `ip -d`: the kind's line first
            previous.details = stripped.split()
            previous.kind = previous.details[0]
        return previous
    if stripped.split()[0] in ("altname", "prop"):
        return previous
    raise _NotRead("not read as `ip addr`/`ip link` output")


def _address(
    state: DumpState,
    dev: str,
    number: int,
    line: str,
    family: str,
    local: str,
    rest: str,
    dyn: bool,
) -> None:
    try:
        iface = ipaddress.ip_interface(local)
    except ValueError:
        raise _NotRead(f"{local!r} is not an address") from None
    if (iface.version == 6) != (family == "inet6"):
        raise _NotRead(f"{local} is not an {family} address")
    words = rest.split()
    addr = Addr(dev, iface, number, line.strip(), dynamic=dyn)
    flags: set[str] = set()
    i = 0
    while i < len(words):
        word = words[i]
        if word in ("peer", "brd", "scope", "metric", "proto", "any", "mcast") and i + 1 < len(
            words
        ):
            if word == "peer":
                addr.peer = words[i + 1]
            elif word == "brd":
                addr.brd = words[i + 1]
            elif word == "scope":
                addr.scope = words[i + 1]
            else:
                flags.add(f"{word} {words[i + 1]}")
            i += 2
            continue
        if word.startswith("/") and addr.peer is not None:  # `peer P/LEN`
            addr.peer += word
        elif re.fullmatch(r"[a-z][\w-]*", word) and word not in (dev,) and ":" not in word:
            flags.add(word)
        else:
            addr.label = word  # the label is printed last (br0:1)
        i += 1
    flags.discard(dev)  # the label, when it is the link's name (the default)
    if addr.label == dev:
        addr.label = None
    addr.flags = frozenset(flags)
    state.addresses.append(addr)


def _brief_line(state: DumpState, block: Block, number: int, line: str, previous: Any) -> Any:
    match = _BRIEF.match(line)
    if match is None:
        raise _NotRead("not read as `ip -br` output")
    name, at = match.group(1), None
    if "@" in name:
        name, at = name.split("@", 1)
    link = state.links.get(name) or Link(name, number, at=at)
    state.links.setdefault(name, link)
    words = (match.group(3) or "").split()
    operstate = match.group(2)
    for word in words:
        if word.startswith("<") and word.endswith(">"):  # `ip -br link`: the flags
            link.flags = frozenset(word[1:-1].split(","))
        elif re.fullmatch(r"[0-9a-f]{2}(:[0-9a-f]{2}){5}", word):
            link.mac = word
        else:
            iface = _interface(word)
            family = "inet6" if iface.version == 6 else "inet"
            _address(state, name, number, line, family, word, "", False)
    if not link.flags:
        # `ip -br addr` prints the operational state only: UP/UNKNOWN mean IFF_UP; DOWN is
        # also printed for an up link without carrier, but a pasted NIC is taken as it reads.
        link.flags = frozenset({"UP"}) if operstate in ("UP", "UNKNOWN") else frozenset()
    return link


def _interface(word: str) -> Any:
    try:
        return ipaddress.ip_interface(word)
    except ValueError:
        raise _NotRead(f"{word!r} is not an address") from None


def _route_line(state: DumpState, block: Block, number: int, line: str, previous: Any) -> Any:
    words = line.split()
    if words[0] == "nexthop" and isinstance(previous, Route):
        previous.nexthops.append(words[1:])
        return previous
    if words[0] == "cache" or words[:2] == ["Error:", "ipv4:"]:
        raise _NotRead("a route cache entry (not set up)")
    if not _ROUTE_START.match(line.strip()):
        raise _NotRead("not read as `ip route` output")
    table = block.table if block.table not in (None, "all") else "main"
    if "table" in words[:-1]:
        at = words.index("table")
        table = words[at + 1]
        del words[at : at + 2]
    if table == "254":
        table = "main"
    route = Route(_route_family(block, words), table, words, number, line.strip())
    state.routes.append(route)
    return route


def _route_family(block: Block, words: list[str]) -> int:
    for i, word in enumerate(words):
        if i in (0, 1) or (i and words[i - 1] in ("via", "src", "from")):
            head = word.split("/")[0]
            try:
                return ipaddress.ip_address(head).version
            except ValueError:
                continue
    return block.family or 4


def _rule_line(state: DumpState, block: Block, number: int, line: str, previous: Any) -> Any:
    match = _RULE.match(line.strip())
    if match is None:
        raise _NotRead("not read as `ip rule` output")
    words = [w for w in match.group(2).split() if w not in ("[detached]", "[unresolved]")]
    family = block.family or 4  # iprule.c: `ip rule` alone lists IPv4
    for word in words:
        if ":" in word.split("/")[0]:
            family = 6
    rule = Rule(family, int(match.group(1)), words, number, line.strip())
    state.rules.append(rule)
    return rule


def _neigh_line(state: DumpState, block: Block, number: int, line: str, previous: Any) -> Any:
    words = line.split()
    if len(words) < 3 or words[1] != "dev":
        raise _NotRead("not read as `ip neigh` output")
    lladdr = words[words.index("lladdr") + 1] if "lladdr" in words[:-1] else None
    state_word = words[-1]
    if state_word not in NUD_SHOWN and state_word != "proxy":
        raise _NotRead("not read as `ip neigh` output (no NUD state last)")
    flags = frozenset(w for w in words[3:-1] if w in ("router", "proxy", "extern_learn"))
    neigh = Neigh(words[0], words[2], number, line.strip(), lladdr, state_word, flags)
    ipaddress.ip_address(neigh.address)
    state.neighbours.append(neigh)
    return neigh


_READERS = {
    "address": _address_line,
    "link": _address_line,
    "brief": _brief_line,
    "route": _route_line,
    "rule": _rule_line,
    "neighbour": _neigh_line,
}


def without_dumps(text: str, state: DumpState) -> str:
    """The listing with its dumps' lines (command lines too) blank, for the shell reader:
    the line numbers stay, and what was read as state is not read again as commands."""
    lines = text.splitlines()
    for block in state.blocks:
        start = block.command or block.first
        for number in range(start, block.last + 1):
            lines[number - 1] = ""
    return "\n".join(lines)
