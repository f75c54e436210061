"""A listing's configuring commands as argv to replay with iproute2 and sysctl themselves.

The proof (harness/importer/proof.py) runs what this module makes, as root,
inside throw-away namespaces; a listing is untrusted input.  So nothing here
is ever handed to a shell: each argv is built from the words the shell reader
made (variables, functions and loops expanded), and every way `ip` has of
naming a namespace is found the way iproute2 finds it, so that it can become
the twin namespace's /proc path:

- `ip` options are matched as ip/ip.c main() matches them: in its order, an
  option being any prefix of the name (matches() in lib/utils.c), so `-n`,
  `-net` and `--netns` are all `-netns`, `-b` is `-batch`, `-f` is `-family`;
- `ip netns exec NS CMD` becomes the namespace NS for CMD (only `ip`,
  `sysctl`, ifconfig, route, brctl are run there); `ip netns add/del/set` are
  not run (the proof makes the namespaces);
- `netns NS` (ip/iplink.c: exact word, also after `peer`) and `link-netns NS`
  (any prefix not also one of `link`) in `ip link` commands.

Refused (not run; the import is then not proven): a namespace given as a PID or
a path (lib/namespace.c netns_get_fd() opens both), `-batch` (reads a file) and
`-force`, `-all` with netns, `ip monitor` (never ends), `ip vrf exec` and BPF
objects (they run or load a program), `link-netnsid` (ids the twin never set),
`sysctl -p/-f/--load/--system` (read files) and any key outside the namespace's
own net.* (harness.core.validation.sysctl_path).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from harness.core.validation import check_allowed, sysctl_path
from harness.importer import ipwords
from harness.importer.addresses import NETMASK_WORDS, AddressMap, leave_alone
from harness.importer.model import ROOT
from harness.importer.shell_words import Command, strip_sudo

# Words that load a BPF program from a file (ip link ... xdp obj FILE, route encap bpf).
_BPF_WORDS = frozenset(("xdp", "xdpgeneric", "xdpdrv", "xdpoffload", "obj", "object", "pinned"))
# sysctl (procps) short options a replay keeps: write, quiet, ignore unknown keys, and the
# printing ones; -p/-f load a file, -a/-A/-X only print.
_SYSCTL_KEPT = frozenset("wqenNb")
_SYSCTL_LONG = {"--write": "w", "--quiet": "q", "--ignore": "e", "--values": "n", "--names": "N"}
NET_TOOLS = {"ifconfig": "net-tools", "route": "net-tools", "brctl": "bridge-utils"}
PROC_SYS = "/proc/sys/"
# The kernel's largest net selftest runs a few thousand commands once its loops are
# expanded; each replayed one is a process (a few ms).
MAX_REPLAYED = 2000


class Refused(ValueError):
    """A command the proof will not run; the message says why."""


@dataclass(frozen=True)
class Step:
    """One command to run in the twin: `argv` inside listing namespace `ns` (ROOT: the
    machine's), where the words at `netns_at` are listing namespace names that become the
    twin namespace's path."""

    line: int
    text: str
    ns: str
    argv: tuple[str, ...]
    netns_at: tuple[int, ...] = ()

    def namespaces(self) -> list[str]:
        """Every listing namespace the step names (its own first)."""
        return [self.ns, *(self.argv[i] for i in self.netns_at)]


@dataclass
class Replay:
    """What a listing's commands become: steps, refusals, and tools the steps need."""

    steps: list[Step] = field(default_factory=list)
    refused: list[tuple[int, str, str]] = field(default_factory=list)  # line, text, why
    tools: dict[str, int] = field(default_factory=dict)  # ifconfig/route/brctl -> first line


def ip_option(word: str) -> tuple[str, bool] | None:
    """The `ip` option `word` stands for and whether it takes a value, as ip.c matches it
    (the importer's own table, harness/importer/ipwords.py)."""
    entry = ipwords.option(word)
    return None if entry is None else (entry.meaning, bool(entry.values))


def _namespace(name: str) -> str:
    """A listing namespace name, or Refused when iproute2 would read it as a PID or a path."""
    if not name or "/" in name or name in (".", ".."):
        raise Refused(f"namespace {name!r} is a path, not a name")
    if name.isdigit():
        raise Refused(f"namespace {name!r} would be read as a process id")
    return name


def plan(commands: Iterable[Command], amap: AddressMap) -> Replay:
    """The replay of every configuring command (ip, sysctl, `echo V > /proc/sys/net/...`,
    ifconfig, route, brctl); the rest sends, captures or shows and is not run."""
    replay = Replay()
    for command in commands:
        try:
            steps = _command(command, amap)
        except Refused as exc:
            replay.refused.append((command.line, command.text, str(exc)))
            continue
        for step in steps:
            if step.argv[0] in NET_TOOLS:
                replay.tools.setdefault(step.argv[0], step.line)
            replay.steps.append(step)
        if len(replay.steps) > MAX_REPLAYED:
            replay.refused.append((command.line, command.text, f"more than {MAX_REPLAYED} to run"))
            del replay.steps[MAX_REPLAYED:]
            break
    return replay


def _command(command: Command, amap: AddressMap) -> list[Step]:
    words = strip_sudo(list(command.words))
    if not words:
        return []
    if command.redirect is not None:
        # The shell opens the file in its own namespace, before any `ip netns exec` runs.
        while words[:1] == ["ip"] and _exec_target(words) is not None:
            words = strip_sudo(words[4:])
        return _echo(command, words, command.redirect)
    return _run(command, ROOT, words, amap, depth=0)


def _exec_target(words: list[str]) -> str | None:
    """NS of `ip netns exec NS ...` written plainly (no options), else None."""
    try:
        plain = len(words) > 4 and ipwords.ip_object(words[1]) == "netns"
        return words[3] if plain and ipwords.ip_verb("netns", words[2:]) == "exec" else None
    except ipwords.IpWordError:
        return None


def _run(command: Command, ns: str, words: list[str], amap: AddressMap, depth: int) -> list[Step]:
    name = words[0]
    if name == "ip" and depth < 8:
        return _ip(command, ns, words[1:], amap, depth)
    if name == "sysctl":
        return _sysctl(command, ns, words[1:])
    if name in NET_TOOLS:
        mapped = amap.words(words)
        _documentation_only(mapped)
        return [Step(command.line, command.text, ns, tuple(mapped))]
    return []  # sends, captures, shows, or a program of the listing's: not run


def _ip(command: Command, ns: str, args: list[str], amap: AddressMap, depth: int) -> list[Step]:
    kept: list[str] = []
    every = False
    while args and args[0].startswith("-"):
        word = args.pop(0)
        if word == "--":
            break
        option = ip_option(word)
        if option is None:
            kept.append(word)  # ip refuses it itself
            continue
        name, valued = option
        value = args.pop(0) if valued and args else None
        if name in ("-batch", "-force"):
            raise Refused(f"`ip {word}` reads commands from a file")
        if name == "-netns":
            ns = _namespace(value or "")
            continue
        every = every or name == "-all"
        kept += [word] if value is None else [word, value]
    if not args:
        return []
    try:
        obj = ipwords.ip_object(args[0])
        verb = ipwords.ip_verb(obj, args[1:]) if obj in ipwords.VERBS else ""
    except ipwords.IpWordError:
        return []  # iproute2 refuses it before acting: nothing to replay
    if obj == "netns":
        if every:
            raise Refused("`ip -all netns` acts on every namespace of the machine")
        if verb == "exec" and len(args) > 2:
            inner = _namespace(args[2])
            rest = strip_sudo(args[3:])
            return _run(command, inner, rest, amap, depth + 1) if rest else []
        return []  # add, del, set, attach: the proof makes the namespaces; the rest shows
    if obj == "monitor":
        raise Refused("`ip monitor` runs until it is stopped")
    if obj == "vrf" and len(args) > 1 and "exec".startswith(args[1]):
        raise Refused("`ip vrf exec` runs a program")
    if _BPF_WORDS.intersection(args[1:]):
        raise Refused("it loads a BPF program from a file")
    argv = ["ip", *kept, *args]
    at: list[int] = []
    if obj == "link":
        for i in range(len(kept) + 2, len(argv) - 1):
            word = argv[i]
            if word == "link-netnsid" or (
                "link-netnsid".startswith(word) and not "link-netns".startswith(word)
            ):
                raise Refused("`link-netnsid` names an id the replay never assigned")
            if word == "netns" or ("link-netns".startswith(word) and not "link".startswith(word)):
                _namespace(argv[i + 1])
                at.append(i + 1)
    mapped = amap.words(argv)
    for i in at:
        mapped[i] = argv[i]  # a namespace name is never an address
    _documentation_only(mapped, at)
    return [Step(command.line, command.text, ns, tuple(mapped), tuple(at))]


def _documentation_only(words: Sequence[str], names: Sequence[int] = ()) -> None:
    """Refused when a word is an address the import did not map onto the documentation
    ranges (a line it misread gave it none): the twin uses no other addresses either."""
    for i, word in enumerate(words):
        if i in names or (i and words[i - 1].lower() in NETMASK_WORDS):
            continue  # a namespace's name; a mask, which is no address (never mapped)
        text = word.split("/", 1)[0].split("%", 1)[0]
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            continue
        if leave_alone(address):
            continue
        try:
            check_allowed(address)
        except ValueError:
            raise Refused(
                f"{word} is outside the documentation ranges and the import mapped no "
                "address for it (a line it did not read?)"
            ) from None


def _sysctl(command: Command, ns: str, args: list[str]) -> list[Step]:
    flags: set[str] = set()
    assignments: list[str] = []
    for word in args:
        if word.startswith("--"):
            if word not in _SYSCTL_LONG:
                raise Refused(f"`sysctl {word}` is not replayed (only writes of net.* keys)")
            flags.add(_SYSCTL_LONG[word])
        elif word.startswith("-") and len(word) > 1:
            letters = set(word[1:])
            if not letters <= _SYSCTL_KEPT:
                raise Refused(f"`sysctl {word}` is not replayed (only writes of net.* keys)")
            flags |= letters
        elif "=" in word:
            key = word.split("=", 1)[0].strip()
            try:
                sysctl_path(key)
            except ValueError as exc:
                raise Refused(str(exc)) from None
            assignments.append(word)
    if not assignments:
        return []  # it reads
    options = ["-w", *(f"-{flag}" for flag in "qe" if flag in flags)]
    return [Step(command.line, command.text, ns, ("sysctl", *options, *assignments))]


def _echo(command: Command, words: list[str], target: str) -> list[Step]:
    if words[:1] != ["echo"] or not target.startswith(PROC_SYS):
        return []
    key = target[len(PROC_SYS) :].strip("/")
    try:
        sysctl_path(key)
    except ValueError as exc:
        raise Refused(str(exc)) from None
    values = words[1:]
    while values and values[0] in ("-n", "-e", "-E", "-ne", "-en"):
        values = values[1:]
    setting = f"{key}={' '.join(values)}"
    return [Step(command.line, command.text, ROOT, ("sysctl", "-q", "-w", setting))]
