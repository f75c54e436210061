"""Shell words: the lines, prompts, lists, variables and redirections of a listing.

What a shell does to a line before running it, as far as a published listing
needs: backslash continuations, the prompts of a transcript (`$ `, `# `,
`[root@host dir]# `, `user@host:~$ `), `;`/`&&`/`||`/`|` lists, comments,
`$VAR`/`${VAR}`/`${VAR:-default}` (a `$(mktemp -u XXXXXX)` part stands for its
template's fixed part), `sudo`, and redirections (to /dev/null: dropped;
`> FILE`: kept).  Why by hand: shlex splits words but expands nothing, and a
real shell would run the listing, which the importer never does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

# Programs a `# ` line may start with to be read as a root prompt rather than a comment.
_PROGRAMS = (
    "ip ifconfig route sysctl echo brctl tunctl arp ping tcpdump ethtool bridge iptables "
    "ip6tables nft tc sudo cat ss netstat arping traceroute nc setup_ns"
)
KNOWN_COMMANDS = frozenset(_PROGRAMS.split())
PROMPTS = (
    re.compile(r"^\[[^\]\n]*\][#$]\s?"),  # [root@cyc src]#
    re.compile(r"^[\w.-]+@[\w.-]+(?::[^\s#$]*)?\s?[#$]\s?"),  # root@ubuntu:~/#, me@box:~$
    re.compile(r"^\$\s+"),  # $ ip ...
)
# A listing comes from the internet and is read as root: every expansion is bounded, so
# that `x="$x$x"` sixteen times cannot grow a value to megabytes (issue 18).  The longest
# value the kernel's net selftests expand is a list of a few dozen addresses (under 1 KiB).
MAX_EXPANSION_CHARS = 16 << 10  # what one command's variables may add to it
MAX_EXPANDED_TOTAL = 4 << 20  # what they may add over the whole listing (a listing's size)
MAX_EXPANSION_NESTING = 16  # ${A:-${B:-...}} and ${A[${B}]} inside each other
_REDIRECT = re.compile(r"^(\d*|&)(>>|>|<)(.*)$")
ASSIGNMENT = re.compile(r"^([A-Za-z_]\w*(?:\[[^\]]*\])?)=(.*)$", re.DOTALL)


@dataclass(frozen=True)
class Call:
    """A call of one of the listing's functions: its name, arguments and where it is."""

    name: str
    line: int  # of the call
    args: tuple[str, ...]
    body: tuple[int, int]  # the first and last line of the function's body


@dataclass(frozen=True)
class Command:
    """One simple command of the listing, as the words a shell would pass to it."""

    line: int  # where it starts in the listing (1-based)
    text: str  # as written, for messages
    words: tuple[str, ...]
    redirect: str | None = None  # `> FILE` (echo 1 > /proc/sys/...)
    calls: tuple[Call, ...] = ()  # the function calls it is read in, outermost first


@dataclass(frozen=True)
class Mark:
    """A point in the listing's time order that is no command of `commands`: an act the
    reader does not pass on (a check of `$?`, a lookup whose output feeds a pipe) or a
    tear-down (a call of the listing's clean-up function, lib.sh's cleanup_ns)."""

    index: int  # it comes just before commands[index]
    line: int
    text: str
    kind: str  # "act" or "teardown"
    reason: str


@dataclass(frozen=True)
class Skipped:
    """Lines that are not translated, with why."""

    line: int
    text: str
    reason: str
    last: int = 0  # the last line of a range (command output), else 0
    at: tuple[int, int] = (0, 0)  # in time order: after this many commands and marks


@dataclass
class Listing:
    """A listing read into commands; every other line that says something is in `skipped`."""

    commands: list[Command] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    transcript: bool = False
    marks: list[Mark] = field(default_factory=list)  # in listing order


class TooMuch(ValueError):
    """The listing asks for more work than an import allows (a bound); the message says
    which bound, and the reader adds the listing's line."""


# Command substitutions whose output is known: the user's id, as root (see above).
ROOT_CHECKS = {"id -u": "0", "id -ru": "0", "id -un": "root", "whoami": "root"}


class Unknown(str):
    """A variable's value the listing does not determine; the str is why."""

    __slots__ = ()


# --------------------------------------------------------------------------- lines


def logical_lines(text: str, transcript: bool) -> list[tuple[int, str]]:
    """(first line number, text) with backslash continuations joined (and, in a script, the
    lines of a quote or `$( )` that goes on; a transcript's text has stray apostrophes).

    Linear in the listing's size: a line that goes on is kept as its parts, and whether a
    quote is still open is carried from part to part rather than read again from the
    start (a 3 MB line or a stray quote early in a long script took minutes)."""
    out: list[tuple[int, str]] = []
    pending: tuple[int, list[str], _OpenScan] | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip()
        if pending is not None:
            if transcript:
                line = re.sub(r"^\s*>\s?", "", line)  # the shell's PS2 prompt
            number, parts, scan = pending
            parts.append(" " + line.strip())
            pending = None
        else:
            parts, scan = [line], _OpenScan()
        # The joining space stops rstrip, so the last part alone holds the trailing backslashes.
        last = parts[-1]
        stripped = last.rstrip("\\")
        if (len(last) - len(stripped)) % 2 == 1:
            parts[-1] = stripped
            pending = (number, parts, scan)
            continue
        if not transcript:
            scan.feed(parts, len(parts) - 1)
            if scan.open():  # a quote or $( ) goes on over the next line
                pending = (number, parts, scan)
                continue
        out.append((number, "".join(parts)))
    if pending is not None:
        out.append((pending[0], "".join(pending[1])))
    return out


class _OpenScan:
    """Whether a quote or a `$(` is still open at the end of a line (not in a comment),
    read part by part: each part once, the state carried over."""

    def __init__(self) -> None:
        self.quote, self.depth, self.skip, self.done = "", 0, False, False
        self.previous = " "  # the character before the next part (a line's start counts as one)
        self.read = 0  # parts read so far

    def feed(self, parts: list[str], upto: int) -> None:
        """Read parts[self.read : upto + 1] (a part once read never changes)."""
        while self.read <= upto and not self.done:
            self._part(parts[self.read])
            self.read += 1

    def _part(self, line: str) -> None:
        quote, depth, i = self.quote, self.depth, 0
        if self.skip:
            i, self.skip = 1, False
        while i < len(line):
            char = line[i]
            if quote:
                if char == "\\" and quote == '"':
                    i += 1
                elif char == quote:
                    quote = ""
            elif char in "'\"":
                quote = char
            elif char == "\\":
                i += 1
            elif line.startswith("$(", i):
                depth, i = depth + 1, i + 1
            elif char == ")" and depth:
                depth -= 1
            elif char == "#" and (line[i - 1 : i] or self.previous).isspace():
                self.done = True
                break
            i += 1
        # A backslash at the end escapes the next part's first character (the joining space).
        self.skip = i > len(line)
        self.quote, self.depth = quote, depth
        self.previous = line[-1:] or self.previous

    def open(self) -> bool:
        return bool(self.quote) or self.depth > 0


def prompt(line: str) -> str | None:
    """The command after a prompt, or None when the line has no prompt."""
    for pattern in PROMPTS:
        match = pattern.match(line)
        if match and line[match.end() :].strip():
            return line[match.end() :]
    words = line.split()
    if line.startswith("#") and len(line) > 1 and not line.startswith("#!"):
        rest = line[1:].strip()
        if rest.split() and rest.split()[0] in KNOWN_COMMANDS:
            return rest
    if words and re.match(r"^\$(\w+)$", words[0]) and words[0][1:] in KNOWN_COMMANDS:
        return line.lstrip()[1:]  # `$ip rule`: a prompt glued to the command
    return None


def is_transcript(lines: list[tuple[int, str]]) -> bool:
    """A transcript has explicit prompts, or only `# CMD` lines and no plain commands."""
    stripped = [line.strip() for _, line in lines if line.strip()]
    if any(line.startswith("#!") for line in stripped[:1]):
        return False
    for line in stripped:
        for pattern in PROMPTS:
            match = pattern.match(line)
            if match and line[match.end() :].strip():
                return True
    plain = [line for line in stripped if not line.startswith("#")]
    return not plain and any(prompt(line) for line in stripped)


# --------------------------------------------------------------------------- segments


def segments(text: str) -> list[tuple[str, str]]:
    """Split at top-level `;`, `&&`, `||`, `|`, `&` -> (segment, operator after it);
    a `#` comment ends the line."""
    out: list[tuple[str, str]] = []
    current: list[str] = []
    quote = ""
    depth = 0  # $( ... ) nesting
    i = 0
    while i < len(text):
        char = text[i]
        if quote:
            current.append(char)
            if char == "\\" and quote == '"' and i + 1 < len(text):
                current.append(text[i + 1])
                i += 1
            elif char == quote:
                quote = ""
        elif char in "'\"`":
            quote = char
            current.append(char)
        elif char == "\\" and i + 1 < len(text):
            current += [char, text[i + 1]]
            i += 1
        elif text.startswith("$(", i):
            depth += 1
            current.append("$(")
            i += 1
        elif char == ")" and depth:
            depth -= 1
            current.append(char)
        elif depth:
            current.append(char)
        elif char == "#" and (not current or current[-1].isspace()):
            break
        elif text.startswith(("&&", "||", ";;"), i):
            out.append(("".join(current), text[i : i + 2]))
            current = []
            i += 1
        elif char in ";|&" and not (char == "&" and current and current[-1] == ">"):
            if char == "&" and text.startswith(">", i + 1):  # &>/dev/null
                current.append(char)
            else:
                out.append(("".join(current), char))
                current = []
        else:
            current.append(char)
        i += 1
    out.append(("".join(current), ""))
    return [(seg.strip(), op) for seg, op in out if seg.strip() or op]


# --------------------------------------------------------------------------- variables


_PLAIN_NAME = re.compile(r"[A-Za-z_]\w*|\d|[@*#?$!]")


@dataclass
class Budget:
    """What expansions have added so far, over the whole listing (see MAX_EXPANDED_TOTAL)."""

    total: int = 0


def expand(
    text: str, variables: Mapping[str, str], budget: Budget | None = None
) -> tuple[str, list[str]]:
    """`text` with $VAR, ${VAR}, ${VAR:-default} and $(mktemp ...) expanded outside single
    quotes; the second item lists why any reference could not be expanded.  TooMuch when
    the variables would add more than MAX_EXPANSION_CHARS to it."""
    counter = Budget() if budget is None else budget
    return _expand(text, variables, counter, 0, counter.total)


def _expand(
    text: str, variables: Mapping[str, str], budget: Budget, nesting: int, before: int
) -> tuple[str, list[str]]:
    if nesting > MAX_EXPANSION_NESTING:
        raise TooMuch(f"expansions nested more than {MAX_EXPANSION_NESTING} deep")
    out: list[str] = []
    problems: list[str] = []
    quote = ""
    i = 0
    while i < len(text):
        char = text[i]
        if char == "'" and quote != '"':
            quote = "" if quote == "'" else "'"
        elif char == '"' and quote != "'":
            quote = "" if quote == '"' else '"'
        if char == "`" and quote != "'":
            end = text.find("`", i + 1)
            problems.append(f"uses the output of `{text[i + 1 : end if end > 0 else None]}`")
            i = len(text) if end < 0 else end + 1
            continue
        if char != "$" or quote == "'" or i + 1 >= len(text):
            out.append(char)
            i += 1
            continue
        # Read in place (startswith and match at a position): a copy of the rest of the
        # line for each `$` made a line of many `$` quadratic.
        if text.startswith("((", i + 1):
            problems.append("uses shell arithmetic $((...))")
            i += 3
            continue
        if text.startswith("(", i + 1):
            end = _closing(text, i + 1)
            inner = text[i + 2 : end].strip()
            if inner.startswith("mktemp"):
                # A unique suffix: its fixed part (ns-XXXXXX -> ns-) stands for it.
                template = next((w for w in inner.split()[1:] if not w.startswith("-")), "")
                out.append(template.rstrip("X"))
            elif inner in ROOT_CHECKS:
                # A script's check that it runs as root (selftests: `[ "$(id -u)" -ne 0 ]`):
                # an import is proven as root, as the listing asks to be run.
                out.append(ROOT_CHECKS[inner])
            else:
                problems.append(f"uses the output of `{inner}`")
            i = end + 1
            continue
        if text.startswith("{", i + 1):
            end = _closing(text, i + 1, "{}")
            value, problem = _parameter(text[i + 2 : end], variables, budget, nesting, before)
            i = end + 1
        else:
            plain = _PLAIN_NAME.match(text, i + 1)
            if plain is None:
                out.append(char)
                i += 1
                continue
            value, problem = _value(plain.group(0), None, variables, budget, nesting, before)
            i = plain.end()
        if problem:
            problems.append(problem)
        elif value:
            budget.total += len(value)
            if budget.total - before > MAX_EXPANSION_CHARS:
                raise TooMuch(f"its variables expand to more than {MAX_EXPANSION_CHARS} characters")
            if budget.total > MAX_EXPANDED_TOTAL:
                raise TooMuch(
                    f"the listing's variables expand to more than {MAX_EXPANDED_TOTAL} "
                    "characters in all"
                )
            out.append(value)
    return "".join(out), problems


def _parameter(
    inside: str,
    variables: Mapping[str, str],
    budget: Budget,
    nesting: int,
    before: int,
) -> tuple[str | None, str | None]:
    """`${...}`: NAME, NAME[KEY] (KEY expanded) and NAME:-DEFAULT; others are named."""
    match = re.fullmatch(r"([A-Za-z_]\w*|\d+|[@*#?$!])(\[.*?\])?(?::?-(.*))?", inside, re.DOTALL)
    if match is None or inside.startswith("!"):
        return None, f"uses ${{{inside}}} (a shell expansion this importer does not follow)"
    name = match.group(1)
    if match.group(2):
        key, problems = _expand(match.group(2)[1:-1], variables, budget, nesting + 1, before)
        if problems:
            return None, problems[0]
        name = f"{name}[{key}]"
    return _value(name, match.group(3), variables, budget, nesting, before)


def _value(
    name: str,
    default: str | None,
    variables: Mapping[str, str],
    budget: Budget,
    nesting: int,
    before: int,
) -> tuple[str | None, str | None]:
    """A variable's value, or why it has none."""
    value = variables.get(name)
    if isinstance(value, Unknown):
        return None, f"uses ${name}, which {value}"
    if value is not None:
        return value, None
    if default is not None:
        # What the default's own variables add is counted there; its text is the line's.
        added = budget.total
        text = _expand(default, variables, budget, nesting + 1, before)[0]
        budget.total = added
        return text, None
    if name.isdigit() or name in "@*#":
        return None, f"uses ${name}, an argument of the script or function"
    return None, f"uses ${name}, which the listing does not set"


def _closing(text: str, start: int, pair: str = "()") -> int:
    """Index of the bracket that closes the one at `start`."""
    depth = 0
    for j in range(start, len(text)):
        depth += {pair[0]: 1, pair[1]: -1}.get(text[j], 0)
        if depth == 0:
            return j
    return len(text) - 1


def stable(value: str) -> str:
    """A name made unique by a random part, reduced to its stable part (ns1-XXXX -> ns1)."""
    return value.strip("-_.") or value


def tee_target(segment: str) -> str | None:
    """The file of `[sudo] tee [-a] FILE`, else None."""
    words = strip_sudo(segment.split())
    if words[:1] != ["tee"]:
        return None
    files = [w for w in words[1:] if not w.startswith("-")]
    return files[0] if files else None


def strip_sudo(words: list[str]) -> list[str]:
    """The command without `sudo [OPTIONS]` in front."""
    while words and words[0] == "sudo":
        words = words[1:]
        while words and words[0].startswith("-"):
            words = words[1:]
    return words


def redirections(words: list[str]) -> tuple[list[str], str | None, str | None]:
    """Drop redirections to /dev/null and between descriptors; keep `> FILE` as the target."""
    kept: list[str] = []
    target: str | None = None
    i = 0
    while i < len(words):
        match = _REDIRECT.match(words[i])
        if match is None or i == 0:
            kept.append(words[i])
            i += 1
            continue
        operator, where = match.group(2), match.group(3)
        if not where and i + 1 < len(words):
            where = words[i + 1]
            i += 1
        i += 1
        if where == "/dev/null" or where.startswith("&"):
            continue
        if operator == "<":
            return kept, None, f"reads its input from {where}"
        target = where
    return kept, target, None
