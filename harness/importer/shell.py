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
from collections import ChainMap
from dataclasses import dataclass, field

from harness.importer import blocks, episodes
from harness.importer.blocks import Segment
from harness.importer.shell_words import (
    ASSIGNMENT,
    Budget,
    Call,
    Command,
    Listing,
    Mark,
    Skipped,
    TooMuch,
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
from harness.importer.split import split_words

# Bounds on reading a listing, which comes from the internet and is read as root (issue
# 18): the reader follows loops and calls as a shell would, so without them a loop over
# 2^30 words or 10^8 calls never ends.  A step is a command read (in a loop or a function
# as often as the shell would run it), a line recorded as not translated, a loop round
# or a call.  The kernel's net selftests, every set-up function read in place, take a few
# thousand steps (tests/listings/ at most about 200); an import of MAX_STEPS takes a few seconds.
MAX_STEPS = 100_000
# A `for` over more words is no set-up listing (selftests loop over a few dozen at most).
MAX_LOOP_WORDS = 4096
# Blocks inside blocks and calls inside calls, together: selftests nest five or six deep;
# each level is a few Python frames, so 64 stays far below Python's recursion limit (1000).
MAX_DEPTH = 64

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
    # a compound command being read, with the closing words it still expects
    block: tuple[str, int, list[Segment], list[str]] | None = None
    collecting: _Function | None = None  # a function body being read
    depth: int = 0  # its braces
    pending: _Function | None = None  # `name()` seen, `{` expected
    calls: int = 0  # nesting of function calls being read
    output: list[tuple[int, str]] = field(default_factory=list)
    heredoc: tuple[str, int] | None = None  # (delimiter, line) being skipped
    loops: list[str] = field(default_factory=list)  # `VAR=value` of each loop being run
    steps: int = 0  # see MAX_STEPS
    level: int = 0  # blocks and calls being run inside each other (see MAX_DEPTH)
    at: int = 0  # the line being read, for a refusal
    budget: Budget = field(default_factory=Budget)  # what expansions added (words.py)
    stack: list[Call] = field(default_factory=list)  # the function calls being read
    last: tuple[int, tuple[str, ...]] = (0, ())  # the last command read: a `$?` tests it

    def mark(self, line: int, text: str, kind: str, reason: str) -> None:
        """An act or a tear-down at this point of the listing's time order."""
        index = len(self.listing.commands)
        self.listing.marks.append(Mark(index, line, text, kind, reason))

    def tested(self, number: int, text: str) -> bool:
        """A test of `$?` at this point: an act unless it checks a set-up command."""
        line, words = self.last
        if not episodes.tests_result(text) or episodes.checked_by_setup(words):
            return False
        what = f"the result of line {line}" if line else "a result"
        self.mark(number, text, "act", f"checks {what} (`$?`)")
        return True

    def step(self) -> None:
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise TooMuch(
                f"more than {MAX_STEPS} steps (commands, loop rounds and calls, as a shell "
                "would run them)"
            )

    def enter(self, what: str) -> None:
        """One level deeper (a block or a call); TooMuch past MAX_DEPTH."""
        self.level += 1
        if self.level > MAX_DEPTH:
            raise TooMuch(f"{what} nested more than {MAX_DEPTH} deep (blocks and calls)")

    def skip(self, line: int, text: str, reason: str) -> None:
        self.step()
        where = f" (for {', '.join(self.loops)})" if self.loops else ""
        self.listing.skipped.append(Skipped(line, text, reason + where, at=self.position()))

    def position(self) -> tuple[int, int]:
        """Where the listing is in its time order: commands and marks read so far."""
        return len(self.listing.commands), len(self.listing.marks)

    def flush_output(self) -> None:
        if self.output:
            first, last = self.output[0][0], self.output[-1][0]
            text = self.output[0][1].strip()[:60]
            self.listing.skipped.append(
                Skipped(
                    first,
                    text,
                    "not a command (text, or a command's output)",
                    last,
                    self.position(),
                )
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
        self.at = number
        self.step()
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
        if self.block is not None:
            kind, start, body, expected = self.block
            body.append((number, text, operator))
            if blocks.closes(expected, text):
                self.block = None
                self.run_block(kind, start, body)
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
        if blocks.first_word(text) in blocks.OPENERS:
            closing: list[str] = []
            blocks.closes(closing, text)
            self.block = (blocks.first_word(text), number, [(number, text, operator)], closing)
            return
        if operator == "|":
            self.piped(number, text)
            return
        if operator == "&":
            self.skip(number, text, "runs in the background")
            return
        self.simple(number, text)

    def piped(self, number: int, text: str) -> None:
        """A command whose output feeds a pipe: not read, but an act when it is one."""
        expanded, problems = expand(text, self.variables, self.budget)
        try:
            words = tuple(strip_sudo(split_words(expanded)))
        except ValueError:
            words = ()
        why = episodes.act_reason(words) if words and not problems else None
        if why is not None:
            self.mark(number, text, "act", f"{why}; its output feeds a pipe")
        self.last = (number, words)
        self.skip(number, text, "feeds a pipe")

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
            reason = f"calls the listing's tear-down function {function.name}()"
            self.skip(number, text, reason)  # before the mark: the episode it ends owns it
            self.mark(number, text, "teardown", reason)
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
        self.at = number
        self.enter(f"the call of {function.name}() is")
        span = (body[0][0], body[-1][0]) if body else (function.line, function.line)
        self.stack.append(Call(function.name, number, tuple(args), span))
        try:
            for line, body_text, operator in body:
                self.segment(line, body_text, operator)
        finally:
            self.stack.pop()
            self.calls -= 1
            self.level -= 1
            for key, value in saved.items():
                self.variables.pop(key, None)
                if value is not None:
                    self.variables[key] = value

    def skip_all(self, body: list[Segment], reason: str) -> None:
        for number, text, _ in body:
            if text and text not in (";;", "do", "done", "then", "else", "fi", "esac"):
                self.skip(number, text, reason)

    def run(self, body: list[Segment]) -> None:
        for number, text, operator in body:
            self.segment(number, text, operator)

    def run_block(self, kind: str, start: int, body: list[Segment]) -> None:
        """A complete `for`, `if`, `case` or `while` (see harness/importer/blocks.py)."""
        self.at = start
        self.enter(f"the `{kind}` is")
        try:
            self.run_kind(kind, start, body)
        finally:
            self.level -= 1

    def run_kind(self, kind: str, start: int, body: list[Segment]) -> None:
        if kind == "for":
            self.run_for(start, body)
        elif kind == "if" and body[0][2] not in ("&&", "||", "|"):
            self.run_if(start, body)
        elif kind == "case":
            self.run_case(start, body)
        else:
            self.skip_all(body, f"inside the `{kind}` of line {start}: not followed")

    def run_for(self, start: int, body: list[Segment]) -> None:
        """`for VAR in WORDS; do ...; done`: the body once per word."""
        loop = blocks.for_loop(body)
        values, problems = (
            expand(loop[1], self.variables, self.budget) if loop else ("", ["no list"])
        )
        if loop is None or problems:
            why = problems[0].removeprefix("uses ") if loop else "loops over no listed words"
            self.skip_all(body, f"in the `for` of line {start}, which {why}: not followed")
            return
        try:
            words = split_words(values)
        except ValueError as exc:
            why = f"whose words cannot be split ({exc})"
            self.skip_all(body, f"in the `for` of line {start}, {why}: not followed")
            return
        if len(words) > MAX_LOOP_WORDS:
            self.at = start
            raise TooMuch(f"the `for` loops over more than {MAX_LOOP_WORDS} words")
        for value in words:
            self.step()
            self.variables[loop[0]] = value
            self.loops.append(f"{loop[0]}={value}")
            try:
                self.run(loop[2])
            finally:
                self.loops.pop()

    def run_if(self, start: int, body: list[Segment]) -> None:
        """`if [ TEST ]; then ...; elif ...; else ...; fi`: the branch the tests select."""
        chosen: int | None = None
        branches = blocks.if_branches(body)
        for index, (condition, line, _) in enumerate(branches):
            if condition is None:
                chosen = index
                break
            value, empty = blocks.test(condition, self.variables, self.budget)
            if value is None:
                self.unfollowed_if(start, line, condition, body)
                return
            for name in empty:
                self.skip(line, condition, f"shell: ${name} is not set: taken as empty")
            if value:
                chosen = index
                break
        for index, (_, _, branch) in enumerate(branches):
            if index == chosen:
                self.run(branch)
            else:
                self.skip_all(branch, f"in a branch not taken of the `if` of line {start}")

    def unfollowed_if(self, start: int, line: int, condition: str, body: list[Segment]) -> None:
        """An `if` whose condition is no plain test: its branches are not followed; a
        condition that checks `$?` or runs an act is an act itself."""
        reason = f"in the `if` of line {start}, whose condition is no plain test"
        if self.tested(line, condition):
            reason = f"in the `if` of line {start}, which checks `$?` (an act)"
        else:
            expanded, problems = expand(condition, self.variables, self.budget)
            try:
                words = [w for w in split_words(expanded) if w != "!"]
            except ValueError:
                words = []
            why = episodes.act_reason(strip_sudo(words)) if words and not problems else None
            if why is not None:
                self.mark(line, condition, "act", why)
                reason = f"in the `if` of line {start}, whose condition is an act ({why})"
            self.last = (line, tuple(words))
        self.skip_all(body, f"{reason}: not followed")

    def run_case(self, start: int, body: list[Segment]) -> None:
        """`case WORD in PATTERN) ...;; esac`: the first branch whose pattern matches."""
        word, branches = blocks.case_branches(body)
        value, empty = blocks.test(f"[ -n {word} ]", self.variables, self.budget)
        known = ChainMap(dict.fromkeys(empty, ""), self.variables)
        text = expand(word, known, self.budget)[0].strip("\"'")
        if value is None:
            self.skip_all(body, f"in the `case` of line {start}, whose word is unknown")
            return
        chosen = next((i for i, (p, _) in enumerate(branches) if blocks.case_matches(text, p)), -1)
        for index, (_, branch) in enumerate(branches):
            if index == chosen:
                self.run(branch)
            else:
                self.skip_all(branch, f"in a branch not taken of the `case` of line {start}")

    def simple(self, number: int, text: str) -> None:
        if text.startswith("do ") or text.startswith("then "):
            text = text.split(None, 1)[1]
        expanded, problems = expand(text, self.variables, self.budget)
        try:
            words = split_words(expanded)
        except ValueError as exc:
            self.skip(number, text, f"cannot be split into words ({exc})")
            return
        words = strip_sudo(words)
        if not words:
            return
        if self.tested(number, text) and problems:
            return  # the act's own entry names the line
        self.last = (number, tuple(words))
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
            if name in ("cleanup_ns", "cleanup_all_ns"):
                self.mark(number, text, "teardown", f"tears namespaces down ({name}, lib.sh)")
        else:
            self.command(Command(number, text, tuple(words), redirect))

    def command(self, command: Command) -> None:
        """A simple command for the translation, with the calls it is read in."""
        if self.stack:
            command = Command(
                command.line, command.text, command.words, command.redirect, tuple(self.stack)
            )
        self.listing.commands.append(command)
        self.last = (command.line, command.words)

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
            self.command(Command(number, text, ("ip", "netns", "add", value)))
            self.command(Command(number, text, ("ip", "-n", value, "link", "set", "lo", "up")))


def read_listing(text: str, transcript: bool | None = None) -> Listing:
    """The listing's commands, in order, and every line that is not one (with why).
    TooMuch, naming the line, when reading it would pass a bound (MAX_STEPS, ...).
    `transcript`: its shape, when the caller knows it (None: read from the text)."""
    if transcript is None:
        transcript = is_transcript(logical_lines(text, True))
    reader = _Reader(transcript)
    reader.listing.transcript = transcript
    try:
        _read(reader, text)
    except TooMuch as exc:
        raise TooMuch(f"line {reader.at}: {exc}: refused") from None
    reader.listing.skipped.sort(key=lambda s: s.line)
    return reader.listing


def _read(reader: _Reader, text: str) -> None:
    for number, line in logical_lines(text, reader.transcript):
        reader.at = number
        reader.feed(number, line)
    reader.flush_output()
    if reader.heredoc is not None:
        reader.skip(reader.heredoc[1], "<<", "a here-document that never ends")
    for function in list(reader.functions.values()):
        if function.called or function.teardown or not function.body:
            continue
        if any(re.search(r"\$\{?[1-9@*#]", text) for _, text, _ in function.body):
            reason = f"in {function.name}(), which takes arguments and is never called"
            reader.skip_all(function.body, f"{reason}: not read")
        else:
            reader.call(function, [], function.line, f"{function.name}()", never=True)
    if reader.block is not None:
        kind, start, body, _ = reader.block
        reader.skip(start, body[0][1], f"a `{kind}` that is never closed")
