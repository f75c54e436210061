"""Shell listings as articles and test scripts publish them -> simple commands, as words.

Parsed, never executed.  Two shapes are read: a *transcript* (prompts such as
`$ `, `# `, `[root@host dir]# `, `user@host:~$ `, with the commands' output in
between) and a *script* (every line a command; `#` starts a comment).  What a
shell would do before running a command is done here as far as a listing
needs it: line continuations, `;`/`&&`/`||` lists, comments, `sudo`,
redirections, variable assignments and `$VAR`/`${VAR}` references (a name made
unique with `$(mktemp -u XXXXXX)` becomes its stable prefix), `for` loops over
literal words, and the bodies of set-up functions read in place.  lib.sh's
`setup_ns A B` (the kernel selftests' helper) is read as the `ip netns add` and
`ip -n NS link set lo up` it runs.  Anything this cannot follow (conditionals,
command output, function arguments, here-documents) is listed with its line,
never dropped silently.

Why by hand: shlex splits words but knows neither variables nor the structure
of a script; a real shell would run the listing, which the importer never does.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

from harness.importer.words import (
    ASSIGNMENT,
    Command,
    Listing,
    Skipped,
    Unknown,
    expand,
    is_transcript,
    logical_lines,
    prompt,
    redirections,
    segments,
    stable,
    strip_sudo,
    tee_target,
)

# Shell builtins and helpers that change no network state.
_NO_NETWORK = {
    "set": "sets shell options",
    "trap": "installs a shell trap",
    "source": "reads another script (not part of the listing)",
    ".": "reads another script (not part of the listing)",
    "shopt": "sets shell options",
    "exit": "ends the script",
    "return": "returns from a function",
    "sleep": "waits",
    "wait": "waits for background jobs",
    "true": "does nothing",
    ":": "does nothing",
    "echo": "prints text",
    "printf": "prints text",
    "cd": "changes directory",
    "shift": "shifts arguments",
    "unset": "unsets a variable",
    "defer": "registers a clean-up (lib.sh)",
    "cleanup_ns": "tears namespaces down (lib.sh)",
    "cleanup_all_ns": "tears namespaces down (lib.sh)",
}
_TEARDOWN = re.compile(r"clean|teardown|tear_down|destroy|_exit$|^exit_", re.IGNORECASE)
_FUNCTION = re.compile(
    r"^(?:function\s+)?([A-Za-z_][\w-]*)\s*\(\s*\)\s*(\{)?$|^function\s+(\w+)\s*(\{)?$"
)
_BLOCKS = {"if": "fi", "while": "done", "until": "done", "case": "esac"}


# --------------------------------------------------------------------------- reading


@dataclass
class _Function:
    """A shell function of the listing: its body is read where it is called (with its
    arguments), or at the end of the listing if it is never called."""

    name: str
    line: int
    teardown: bool
    body: list[tuple[int, str, str]] = field(default_factory=list)  # (line, text, operator)
    called: bool = False


@dataclass
class _Reader:
    transcript: bool
    listing: Listing = field(default_factory=Listing)
    variables: dict[str, str] = field(default_factory=dict)
    functions: dict[str, _Function] = field(default_factory=dict)
    # open compound commands: (keyword, line, body of a `for`), innermost last
    blocks: list[tuple[str, int, list[tuple[int, str]]]] = field(default_factory=list)
    collecting: _Function | None = None  # a function body being read
    depth: int = 0  # its braces
    pending: _Function | None = None  # `name()` seen, `{` expected
    calls: int = 0  # nesting of function calls being read
    output: list[tuple[int, str]] = field(default_factory=list)
    heredoc: tuple[str, int] | None = None  # (delimiter, line) being skipped

    def skip(self, line: int, text: str, reason: str) -> None:
        self.listing.skipped.append(Skipped(line, text, reason))

    def flush_output(self) -> None:
        if self.output:
            first, last = self.output[0][0], self.output[-1][0]
            text = self.output[0][1].strip()[:60]
            self.listing.skipped.append(
                Skipped(first, text, "not a command (text, or a command's output)", last)
            )
            self.output = []

    def feed(self, number: int, line: str) -> None:
        if self.heredoc is not None:
            if line.strip() == self.heredoc[0]:
                self.heredoc = None
            return
        stripped = line.strip()
        if not stripped:
            return
        if self.transcript:
            command = prompt(stripped)
            if command is None:
                if not stripped.startswith("#"):
                    self.output.append((number, stripped))
                return
            self.flush_output()
            stripped = command
        elif stripped.startswith("#"):
            return
        heredoc = re.search(r"<<-?\s*['\"]?(\w+)", stripped)
        if heredoc:
            self.heredoc = (heredoc.group(1), number)
            self.skip(number, stripped, "a here-document (its text is not read)")
            return
        parts = segments(stripped)
        i = 0
        while i < len(parts):
            segment, operator = parts[i]
            target = tee_target(parts[i + 1][0]) if operator == "|" and i + 1 < len(parts) else None
            if target is not None and segment.split()[:1] == ["echo"]:
                # `echo 1 | sudo tee /proc/sys/...`: the same as `echo 1 > /proc/sys/...`
                self.segment(number, f"{segment} > {target}", parts[i + 1][1])
                i += 2
                continue
            self.segment(number, segment, operator)
            i += 1

    def segment(self, number: int, text: str, operator: str) -> None:
        """One `;`-separated part: structure keywords first, then a simple command."""
        if self.collecting is not None:
            self.depth += {"{": 1, "}": -1}.get(text, 0)
            if self.depth == 0:
                self.defined(self.collecting)
                self.collecting = None
            else:
                self.collecting.body.append((number, text, operator))
            return
        if self.pending is not None:
            function, self.pending = self.pending, None
            if text == "{":
                self.collecting, self.depth = function, 1
                return
        if self.blocks and self.blocks[-1][0] == "for":
            self.collect_for(number, text, operator)
            return
        if self.blocks:  # inside if/while/case: not followed
            keyword, start, _ = self.blocks[-1]
            first = text.split()[0] if text.split() else ""
            if first in _BLOCKS:
                self.blocks.append((first, number, []))
            elif first == _BLOCKS[keyword]:
                self.blocks.pop()
            if text and first not in ("then", "do", "else", "fi", "done", "esac"):
                self.skip(number, text, f"inside the `{keyword}` of line {start}: not followed")
            return
        match = _FUNCTION.match(text)
        if match:
            name = match.group(1) or match.group(3)
            function = _Function(name, number, bool(_TEARDOWN.search(name)))
            if match.group(2) or match.group(4):
                self.collecting, self.depth = function, 1
            else:
                self.pending = function
            return
        first = text.split()[0] if text.split() else ""
        if first == "for":
            self.blocks.append(("for", number, [(number, text)]))
            return
        if first in _BLOCKS:
            self.blocks.append((first, number, []))
            self.skip(number, text, f"a shell `{first}`: conditional commands are not followed")
            return
        if operator == "|":
            self.skip(number, text, "feeds a pipe")
            return
        if operator == "&":
            self.skip(number, text, "runs in the background")
            return
        self.simple(number, text)

    def defined(self, function: _Function) -> None:
        self.functions[function.name] = function
        if function.teardown:
            for number, text, _ in function.body:
                reason = f"in the tear-down function {function.name}() of line {function.line}"
                self.skip(number, text, reason)

    def call(
        self, function: _Function, args: list[str], number: int, text: str, never: bool = False
    ) -> None:
        """Read a function's body with its arguments as $1, $2, ..."""
        if function.teardown:
            self.skip(number, text, f"calls the listing's tear-down function {function.name}()")
            return
        if self.calls > 8:
            self.skip(number, text, f"calls {function.name}() recursively: not followed")
            return
        body = function.body
        lines = f"lines {body[0][0]}-{body[-1][0]}" if body else "nothing"
        how = "is never called: its" if never else "is called here: its"
        reason = f"calls the listing's function: {function.name}() {how} {lines} are read"
        self.skip(number, text, reason)
        function.called = True
        saved = {k: self.variables.get(k) for k in ("@", "*", "#", *map(str, range(1, 10)))}
        for key in saved:
            self.variables.pop(key, None)
        self.variables.update({str(i): arg for i, arg in enumerate(args, start=1)})
        self.variables.update({"@": " ".join(args), "*": " ".join(args), "#": str(len(args))})
        self.calls += 1
        try:
            for line, body_text, operator in body:
                self.segment(line, body_text, operator)
        finally:
            self.calls -= 1
            for key, value in saved.items():
                self.variables.pop(key, None)
                if value is not None:
                    self.variables[key] = value

    def collect_for(self, number: int, text: str, operator: str) -> None:
        keyword, start, body = self.blocks[-1]
        first = text.split()[0] if text.split() else ""
        body.append((number, text))
        nested = sum(1 for _, t in body if t.split()[:1] in (["for"], ["while"], ["until"]))
        closed = sum(1 for _, t in body if t.split()[:1] == ["done"])
        del keyword, operator
        if first == "done" and closed == nested:
            self.blocks.pop()
            self.run_for(start, body)

    def run_for(self, start: int, body: list[tuple[int, str]]) -> None:
        """`for VAR in WORDS; do ...; done`: the body once per word."""
        header = body[0][1]
        match = re.match(r"for\s+([A-Za-z_]\w*)\s+in\s+(.*)$", header)
        if match is None:
            self.skip(start, header, "a `for` loop over something other than listed words")
            return
        values_text, problems = expand(match.group(2), self.variables)
        inner = body[1:-1]
        if inner and inner[0][1].startswith("do"):
            inner[0] = (inner[0][0], inner[0][1][2:].strip())
        if problems:
            self.skip(start, header, f"a `for` loop that {problems[0].removeprefix('uses ')}")
            return
        for value in shlex.split(values_text):
            self.variables[match.group(1)] = value
            for number, text in inner:
                if text:
                    self.segment(number, text, "")

    def simple(self, number: int, text: str) -> None:
        if text.startswith("do ") or text.startswith("then "):
            text = text.split(None, 1)[1]
        expanded, problems = expand(text, self.variables)
        try:
            words = shlex.split(expanded)
        except ValueError as exc:
            self.skip(number, text, f"cannot be split into words ({exc})")
            return
        words = strip_sudo(words)
        if not words:
            return
        if words[0] in ("readonly", "export", "local", "declare", "typeset"):
            words = [w for w in words[1:] if not w.startswith("-")]
            if not words or all(ASSIGNMENT.match(w) or w.isidentifier() for w in words):
                for word in words:
                    self.assign(number, word, problems)
                return
        if all(ASSIGNMENT.match(w) for w in words):
            for word in words:
                self.assign(number, word, problems)
            return
        if problems:
            self.skip(number, text, problems[0])
            return
        words, redirect, problem = redirections(words)
        if problem:
            self.skip(number, text, problem)
            return
        name = words[0]
        if name in self.functions:
            self.call(self.functions[name], words[1:], number, text)
        elif name == "setup_ns":
            self.setup_ns(number, text, words[1:])
        elif name in _NO_NETWORK and not (name == "echo" and redirect):
            self.skip(number, text, f"shell: {_NO_NETWORK[name]}")
        else:
            self.listing.commands.append(Command(number, text, tuple(words), redirect))

    def assign(self, number: int, word: str, problems: list[str]) -> None:
        match = ASSIGNMENT.match(word)
        if match is None:
            self.variables[word] = Unknown(f"is declared without a value on line {number}")
            return
        name, value = match.groups()
        if problems:
            source = problems[0].removeprefix("uses ")
            self.variables[name] = Unknown(f"is set from {source} on line {number}")
        else:
            self.variables[name] = stable(value) if value.endswith(("-", "_")) else value

    def setup_ns(self, number: int, text: str, names: list[str]) -> None:
        """lib.sh's `setup_ns NAME...`: a namespace per name (its variable holds the
        name), with lo up."""
        for name in names:
            value = name.lower()
            self.variables[name] = value
            self.listing.commands.append(Command(number, text, ("ip", "netns", "add", value)))
            self.listing.commands.append(
                Command(number, text, ("ip", "-n", value, "link", "set", "lo", "up"))
            )


def read_listing(text: str) -> Listing:
    """The listing's commands, in order, and every line that is not one (with why)."""
    transcript = is_transcript(logical_lines(text, False))
    reader = _Reader(transcript)
    reader.listing.transcript = transcript
    for number, line in logical_lines(text, transcript):
        reader.feed(number, line)
    reader.flush_output()
    if reader.heredoc is not None:
        reader.skip(reader.heredoc[1], "<<", "a here-document that never ends")
    for function in list(reader.functions.values()):
        if not function.called and not function.teardown and function.body:
            reader.call(function, [], function.line, f"{function.name}()", never=True)
    for keyword, start, body in reader.blocks:
        first = body[0][1] if body else keyword
        reader.skip(start, first, f"a `{keyword}` that is never closed")
    reader.listing.skipped.sort(key=lambda s: s.line)
    return reader.listing
