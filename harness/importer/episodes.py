"""A listing's time order: its episodes, each a set-up, then acts and the changes between them.

The rule, applied to the commands in the order a shell would run them:

* An **act** sends traffic or checks a result: `ping`, `ping6`, `arping`, `nc`,
  `ncat`, `socat`, `traceroute`, `tracepath`, `mausezahn`, `ndisc6`, `iperf`, `curl`
  ... (_TRAFFIC); a lookup of the kernel's answer, `ip route get` and `ip neigh
  get`; the article's own program (`./prog`, a path, `python3 script.py`), also
  under `ip netns exec NS`, also when its output feeds a pipe (`ip route get ... |
  grep -q`).  A test of `$?` (`if [ $? -ne 0 ]`, `log_test $? 0 ...`, `ret=$?`)
  checks the command before it: it is an act unless that command is one a set-up
  script checks itself (`ip`, `sysctl`, `ifconfig`, ... other than a lookup).
* The **set-up** of an episode is what comes before its first act; acts that come
  before anything is set up (a script checking its tools: `ip link help | grep -q
  vrf`, then `$?`) do not end it.  The set-up is the topology (and the changes a
  topology cannot say, applied before the case).
* After the first act, what the listing changes (a link set down or up, a route
  replaced, a sysctl flipped, an address deleted) up to the next act is one
  **step**: the changes of the skeleton's `steps:` entry, whose probe is that
  next act (a TODO: the listing's own program or ping is the reader's to say).
* An **episode** ends where the listing tears its namespaces down: a call of its
  tear-down function (a name with clean, teardown, destroy ...) or lib.sh's
  `cleanup_ns`, or `ip netns del` of its last namespace.  The next episode
  starts from nothing, so a set-up function called once per test with other
  arguments gives one episode (one imported part) per call, never a merge.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.importer import ipwords
from harness.importer.iplink import command_of
from harness.importer.model import (
    ROOT,
    ChangeDraft,
    Draft,
    Entry,
    Host,
    Iface,
    Ignored,
    StepDraft,
    Unsupported,
)
from harness.importer.shell_words import Call, Command, Listing, Mark, Skipped
from harness.scenario.limits import MAX_ACTS, MAX_CHANGES

# A case holds MAX_ACTS acts of MAX_CHANGES changes each; past that the listing's commands
# are reported, not read (each costs a copy of the draft).
MAX_STEP_COMMANDS = MAX_ACTS * MAX_CHANGES

_TRAFFIC = (
    "ping ping6 arping nc ncat netcat socat traceroute traceroute6 tracepath tracepath6 "
    "mausezahn mz ndisc6 rdisc6 hping3 nping iperf iperf3 curl wget ssh telnet dig nslookup"
)
TRAFFIC = frozenset(_TRAFFIC.split())
# What runs an article's program (its script is the next word).
_INTERPRETERS = frozenset(("python", "python2", "python3", "perl", "ruby", "node"))
# Programs a set-up script runs and may check with `$?` itself: such a check is no act.
_SETUP_PROGRAMS = (
    "ip ifconfig route sysctl brctl bridge tc ethtool iptables ip6tables nft modprobe "
    "echo setup_ns tunctl arp"
)
SETUP_PROGRAMS = frozenset(_SETUP_PROGRAMS.split())
_LOOKUPS = {("route", "get"), ("neigh", "get")}
_VERBS_READ = ("netns", "link", "route", "neigh", "tuntap")  # objects whose command matters
MAX_WRAPPERS = 8  # `ip netns exec A ip netns exec B ...` in each other, at most


def _ip_words(words: Sequence[str]) -> tuple[str, str, tuple[str, ...]] | None:
    """(object, command, the words after it) of an `ip` command, abbreviations resolved;
    None when it is no `ip` command this can read."""
    try:  # iproute2's own matching (harness/importer/ipwords.py)
        rest = ipwords.split_options(words[1:])[1]
        if not rest:
            return None
        obj = ipwords.ip_object(rest[0])
        obj = "neigh" if obj == "neighbor" else obj
        verb = command_of(obj, rest[1:]) if obj in _VERBS_READ else ""
    except (ipwords.IpWordError, Unsupported, KeyError):
        return None
    return obj, verb, tuple(rest[2:])


@functools.lru_cache(maxsize=4096)
def _read(
    words: tuple[str, ...],
) -> tuple[tuple[str, ...], tuple[str, str, tuple[str, ...]] | None]:
    """The command inside any `ip netns exec NS`, and its `ip` object and command (None
    when it is no `ip` command): once per distinct command, as loops and functions
    repeat theirs."""
    parts = _ip_words(words) if words[:1] == ("ip",) else None
    for _ in range(MAX_WRAPPERS):
        if parts is None or parts[:2] != ("netns", "exec") or len(parts[2]) < 2:
            break
        words = tuple(parts[2][1:])
        parts = _ip_words(words) if words[:1] == ("ip",) else None
    return words, parts


def act_reason(words: Sequence[str]) -> str | None:
    """Why the command is an act (it sends traffic, looks an answer up, runs the article's
    program), or None: it sets up, changes or shows."""
    words, parts = _read(tuple(words))
    if not words:
        return None
    name = words[0]
    base = name.rsplit("/", 1)[-1]
    if base in TRAFFIC:
        return "sends traffic"
    if name == "ip":
        if parts is not None and parts[:2] in _LOOKUPS and "help" not in parts[2]:
            return f"looks the kernel's answer up (`ip {parts[0]} get`)"
        return None
    if "/" in name and base not in SETUP_PROGRAMS:
        return "runs the article's own program"
    if name in _INTERPRETERS and len(words) > 1:
        return "runs the article's own program"
    return None


def tests_result(text: str) -> bool:
    """Whether the text reads `$?`: it checks the result of the command before it."""
    return "$?" in text or "${?}" in text


def checked_by_setup(words: Sequence[str]) -> bool:
    """Whether a `$?` test after this command is a set-up script checking its own command
    (`ip link add ...; [ $? -eq 0 ] || exit`), not an act."""
    words = _read(tuple(words))[0]
    return bool(words) and words[0] in SETUP_PROGRAMS and act_reason(words) is None


def is_teardown(words: Sequence[str]) -> str | None:
    """The namespace `ip netns del NS` deletes ("*" for `ip -all netns del`), else None."""
    words, parts = _read(tuple(words))
    if parts is None or parts[:2] != ("netns", "delete"):
        return None
    everything = any(w == "-all" or w == "-a" for w in words[1:3])
    return "*" if everything or not parts[2] else parts[2][0]


# --------------------------------------------------------------------------- a step's changes

# How a change of one interface field is said after `ip link set DEV` (Change.link); a field
# not here (kind, peer, parent ...) changes only by making the link again, which no
# change can.  `mtu` is said when the draft has the field.
_SAID: dict[str, Callable[[Any], list[str]]] = {
    "up": lambda up: ["up" if up else "down"],
    "mac": lambda mac: ["address", mac] if mac else [],
    "master": lambda master: ["master", master] if master else ["nomaster"],
    "mtu": lambda mtu: ["mtu", str(mtu)] if mtu is not None else [],
}
_KEPT = {"line", "addresses"}  # not the link's state


def changes_between(before: dict[str, Host], draft: Draft) -> list[ChangeDraft]:
    """The changes that turn the hosts `before` into the draft's hosts, as a case's `change:`
    says them; Unsupported (why) when one cannot be said (a namespace or link made or
    deleted, a link moved).  `before` is not changed."""
    after = draft.hosts
    if set(before) != set(after):
        raise Unsupported("a case's change cannot make or delete a namespace")
    out, before = _renamed(before, after, draft.line)
    for ns, host in after.items():
        old = before[ns]
        for name, iface in host.interfaces.items():
            out += _link(ns, name, old.interfaces[name], iface, draft.line)
        for kind, attr in (("route", "routes"), ("rule", "rules"), ("neigh", "neighbours")):
            was = [tuple(i.words) for i in getattr(old, attr)]
            now = [tuple(i.words) for i in getattr(host, attr)]
            out += [ChangeDraft(ns, kind, ["del", *w], draft.line) for w in was if w not in now]
            out += [ChangeDraft(ns, kind, ["add", *w], draft.line) for w in now if w not in was]
        gone = [key for key in old.sysctls if key not in host.sysctls]
        if gone:
            raise Unsupported(f"{gone[0]} goes with its link: a case's change cannot say that")
        for key, (value, _) in host.sysctls.items():
            if key not in old.sysctls or old.sysctls[key][0] != value:
                out.append(ChangeDraft(ns, "sysctl", [key, str(value)], draft.line))
    return out


def _renamed(
    before: dict[str, Host], after: dict[str, Host], line: int
) -> tuple[list[ChangeDraft], dict[str, Host]]:
    """`ip link set OLD name NEW` (the one way a link's name changes in place), said, and
    the hosts `before` with it applied (routes and keys follow the name, as in the
    kernel); Unsupported when links were made, deleted or moved."""
    out: list[ChangeDraft] = []
    renamed: Draft | None = None
    for ns, host in after.items():
        gone = [n for n in before[ns].interfaces if n not in host.interfaces]
        new = [n for n in host.interfaces if n not in before[ns].interfaces]
        if not gone and not new:
            continue
        if len(gone) != 1 or len(new) != 1:
            raise Unsupported("a case's change cannot make, delete or move a link")
        renamed = renamed or Draft(hosts=copy.deepcopy(before))
        renamed.rename(ns, gone[0], new[0])
        out.append(ChangeDraft(ns, "link", ["set", gone[0], "name", new[0]], line))
    return out, before if renamed is None else renamed.hosts


def _link(ns: str, name: str, old: Iface, new: Iface, line: int) -> list[ChangeDraft]:
    out: list[ChangeDraft] = []
    for item in dataclasses.fields(new):
        was, now = getattr(old, item.name), getattr(new, item.name)
        if item.name in _KEPT or was == now:
            continue
        said = _SAID.get(item.name, lambda _: [])(now)
        if not said:
            raise Unsupported(f"{name}'s {item.name} changes: a case's change cannot say that")
        out.append(ChangeDraft(ns, "link", ["set", name, *said], line))
    was_addresses = [str(a.iface) for a in old.addresses]
    now_addresses = [str(a.iface) for a in new.addresses]
    out += [
        ChangeDraft(ns, "addr", ["del", a, "dev", name], line)
        for a in was_addresses
        if a not in now_addresses
    ]
    out += [
        ChangeDraft(ns, "addr", ["add", a, "dev", name], line)
        for a in now_addresses
        if a not in was_addresses
    ]
    return out


# --------------------------------------------------------------------------- episodes


class Refused(ValueError):
    """A shape of listing this cannot split without merging; the message says which
    function and lines."""


@dataclass
class Episode:
    """The commands up to a tear-down, translated: the draft holds the state at the first act
    (the set-up), the steps what the listing changed after it."""

    draft: Draft
    setup: list[Command] = field(default_factory=list)  # translated, before the first act
    seen: list[Command] = field(default_factory=list)  # every command before it, translated or not
    steps: list[StepDraft] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)  # of every command and mark in it
    calls: dict[str, Call] = field(default_factory=dict)  # function -> its first call here
    before: dict[str, Host] | None = None  # the set-up, kept when the first act comes
    skipped: list[Skipped] = field(default_factory=list)  # the reader's, in this episode
    set_up_changes: int = 0  # how many of draft.changes the set-up made

    @property
    def acted(self) -> bool:
        return bool(self.steps)

    @property
    def empty(self) -> bool:
        return not self.setup and not self.steps


Translator = Callable[[Draft, Command], None]


@dataclass
class _Splitter:
    translate: Translator
    made: dict[str, int]
    done: list[Episode] = field(default_factory=list)
    current: Episode | None = None
    step_commands: int = 0
    # Commands after an act that no step holds yet (not translated, or no change): they
    # go to the step they happened in, for the proof to replay.
    pending: list[Command] = field(default_factory=list)

    def flush(self, step: StepDraft) -> None:
        step.seen += self.pending
        self.pending = []

    def episode(self) -> Episode:
        if self.current is None:
            self.current = Episode(Draft(made=self.made))
        return self.current

    def end(self) -> None:
        """The listing tears its namespaces down: what follows starts from nothing."""
        if self.current is not None:
            if self.current.steps:
                self.flush(self.current.steps[-1])
            self.done.append(self.current)
        self.current, self.step_commands, self.pending = None, 0, []

    def mark(self, mark: Mark) -> None:
        episode = self.episode()
        episode.lines.append(mark.line)
        if mark.kind == "teardown":  # the reader reports the line itself
            self.end()
        else:
            self.act(Entry(mark.line, mark.text, "act", mark.reason))

    def act(self, entry: Entry) -> None:
        episode = self.episode()
        draft = episode.draft
        if not episode.setup:
            entry.outcome, entry.reason = "ignored", f"{entry.reason}, before anything is set up"
            draft.entries.append(entry)
            return
        if not episode.steps:  # the first act: the set-up is what the draft holds now
            episode.before = copy.deepcopy(draft.hosts)
            episode.set_up_changes = len(draft.changes)
            episode.steps.append(StepDraft())
        elif episode.steps[-1].commands and len(episode.steps) >= MAX_ACTS:
            entry.outcome = "unsupported"
            entry.reason += f": past the {MAX_ACTS} steps a case holds"
            draft.entries.append(entry)
            return
        self.flush(episode.steps[-1])
        entry.reason = f"{entry.reason}: the probe of step {len(episode.steps)}"
        episode.steps[-1].acts.append(entry)
        draft.entries.append(entry)

    def command(self, command: Command) -> None:
        episode = self.episode()
        episode.lines.append(command.line)
        why = act_reason(command.words)
        if why is not None:
            self.act(Entry(command.line, command.text, "act", why))
            return
        gone = is_teardown(command.words)
        if gone is not None:
            self.netns_del(episode, command, gone)
            return
        if not episode.steps:
            episode.seen.append(command)
            for call in command.calls:
                episode.calls.setdefault(call.name, call)
            if self._translated(episode.draft, command):
                episode.setup.append(command)
            return
        self.step(episode, command)

    def netns_del(self, episode: Episode, command: Command, ns: str) -> None:
        """`ip netns del NS`: the namespace goes; the episode ends with the last one."""
        draft = episode.draft
        draft.line, draft.text = command.line, command.text
        deleted = [n for n in draft.hosts if n != ROOT and ns in ("*", n)]
        if not deleted:
            draft.note(f"there is no namespace {ns!r} to delete", "unsupported")
        elif any(n != ROOT and n not in deleted for n in draft.hosts):
            if episode.steps:
                draft.note("a case's change cannot delete a namespace", "unsupported")
                return
            for name in deleted:
                draft.delete_namespace(name)
            episode.setup.append(command)
            draft.translated.append(command.line)
        else:
            draft.note("a tear-down: what follows starts from nothing", "ignored")
            self.end()

    def _translated(self, draft: Draft, command: Command) -> bool:
        draft.line, draft.text = command.line, command.text
        try:
            self.translate(draft, command)
        except Ignored as exc:
            draft.note(str(exc), "ignored")
            return False
        except Unsupported as exc:
            draft.note(str(exc), "unsupported")
            return False
        draft.translated.append(command.line)
        return True

    def step(self, episode: Episode, command: Command) -> None:
        """A command after the first act: its changes, in the current step or a new one."""
        draft = episode.draft
        draft.line, draft.text = command.line, command.text
        self.step_commands += 1
        self.pending.append(command)
        if self.step_commands > MAX_STEP_COMMANDS or (
            episode.steps[-1].acts and len(episode.steps) >= MAX_ACTS
        ):
            draft.note(f"past the {MAX_ACTS} steps a case holds: not read", "unsupported")
            return
        self._repeated(episode, command)
        before, known = copy.deepcopy(draft.hosts), len(draft.changes)
        if not self._translated(draft, command):
            return
        try:
            changes = changes_between(before, draft) + draft.changes[known:]
        except Unsupported as exc:
            draft.hosts = before
            draft.translated.remove(command.line)
            draft.note(f"after the act on line {_first_act(episode)}: {exc}", "unsupported")
            return
        finally:
            del draft.changes[known:]
        step = episode.steps[-1]
        if step.acts:
            step = StepDraft()
            episode.steps.append(step)
        if len(step.changes) + len(changes) > MAX_CHANGES:
            draft.note(f"more than {MAX_CHANGES} changes in one step: not read", "unsupported")
            draft.hosts = before
            return
        self.flush(step)
        step.commands.append(command)
        step.changes += changes
        if changes:
            said = "; ".join(" ".join([c.kind, *c.words]) for c in changes)
            draft.note(
                f"after the act on line {_first_act(episode)}: step {len(episode.steps)}"
                f" changes {said}",
                "change",
            )

    def _repeated(self, episode: Episode, command: Command) -> None:
        """Refused: a function that made this episode's set-up, called again with other
        arguments after an act without a tear-down, builds again (no change can say that,
        and merging the calls would be a state no run of the listing has)."""
        parts = _read(command.words)[1]
        if parts is None or parts[:2] not in (("netns", "add"), ("link", "add")):
            return
        for call in command.calls:
            first = episode.calls.get(call.name)
            if first is not None and first.args != call.args:
                raise Refused(
                    f"{call.name}() (lines {call.body[0]}-{call.body[1]}) is called on line "
                    f"{first.line} and again on line {call.line} with other arguments, after "
                    f"the act on line {_first_act(episode)} and without a tear-down between: "
                    "its calls would merge into one set-up, which no run of the listing has"
                )


def _first_act(episode: Episode) -> int:
    return episode.steps[0].acts[0].line if episode.steps and episode.steps[0].acts else 0


def split(listing: Listing, translate: Translator) -> list[Episode]:
    """The listing's episodes, in order, each translated with `translate` (one command into
    a draft; Ignored or Unsupported say why not), each with the lines the reader skipped
    while in it.  Refused (its message names the function and lines) for a set-up
    function called again without a tear-down."""
    splitter = _Splitter(translate, _made(listing, translate))
    skipped = sorted(listing.skipped, key=lambda s: s.at)
    marks = list(listing.marks)
    done = 0  # skipped lines handed to an episode

    def until(position: tuple[int, int]) -> None:
        nonlocal done
        while done < len(skipped) and skipped[done].at <= position:
            splitter.episode().skipped.append(skipped[done])
            done += 1

    j = 0
    for index, command in enumerate([*listing.commands, None]):
        while j < len(marks) and (command is None or marks[j].index <= index):
            until((marks[j].index, j))
            splitter.mark(marks[j])
            j += 1
        until((index, len(marks)) if command is not None else (1 << 62, 1 << 62))
        if command is not None:
            splitter.command(command)
    splitter.end()
    return splitter.done


def _made(listing: Listing, translate: Translator) -> dict[str, int]:
    """Every link name the listing makes, wherever (read once through a scratch draft)."""
    scratch = Draft()
    for command in listing.commands:
        words, parts = _read(command.words)
        makes = parts is not None and parts[0] in ("link", "tuntap") and parts[1] == "add"
        if not makes and words[:1] != ("brctl",):
            continue  # only these make links (the rest would double the import's time)
        scratch.line, scratch.text = command.line, command.text
        with contextlib.suppress(Ignored, Unsupported):
            translate(scratch, command)
    return scratch.made
