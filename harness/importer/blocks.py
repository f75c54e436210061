"""Compound shell commands of a listing: `for`, `if`, `case` (and `while`, not followed).

A block is collected whole (nested blocks included) and then read: a `for`
over listed words runs its body once per word; an `if` whose conditions are
plain tests (`[ "$X" = yes ]`, `[ -n "$X" ]`, `test ...`, with `!`) runs the
branch they select; a `case` runs the branch whose patterns match its word.
As in the shell, a variable the listing never sets is empty in a test or a
`case` word, and the reader says so.  Anything else (a command as a
condition, arithmetic) is not followed, and every line of it is listed.
"""

from __future__ import annotations

import fnmatch
import operator as op
import re
from collections import ChainMap
from collections.abc import Callable, MutableMapping

from harness.importer.shell_words import Budget, expand
from harness.importer.split import split_words

Segment = tuple[int, str, str]  # (line, text, operator after it)
OPENERS = {"for": "done", "while": "done", "until": "done", "if": "fi", "case": "esac"}
_TESTS = {"=", "==", "!="}


def first_word(text: str) -> str:
    """The first word of a segment ("" for none)."""
    words = text.split()
    return words[0] if words else ""


def closes(expected: list[str], text: str) -> bool:
    """Whether the segment `text` completes the block being read; `expected` holds the
    closing words still to come (empty before the block's first segment), and is updated.
    Segment by segment, so that reading a block stays linear in its length."""
    word = first_word(text)
    if word in OPENERS:
        expected.append(OPENERS[word])
    elif expected and word == expected[-1]:
        expected.pop()
        return not expected
    return False


def _strip(text: str, keyword: str) -> str:
    return text[len(keyword) :].strip() if first_word(text) == keyword else text


def for_loop(body: list[Segment]) -> tuple[str, str, list[Segment]] | None:
    """(variable, words text, body) of `for VAR in WORDS; do ...; done`."""
    match = re.match(r"for\s+([A-Za-z_]\w*)\s+in\s+(.*)$", body[0][1])
    if match is None:
        return None
    inner = [(n, _strip(t, "do"), op) for n, t, op in body[1:-1]]
    return match.group(1), match.group(2), [s for s in inner if s[1] or s[2] == ";;"]


def if_branches(body: list[Segment]) -> list[tuple[str | None, int, list[Segment]]]:
    """[(condition or None for `else`, its line, its segments)] of an `if ... fi` block."""
    branches: list[tuple[str | None, int, list[Segment]]] = []
    depth = 0
    condition: str | None = _strip(body[0][1], "if")
    line = body[0][0]
    current: list[Segment] = []
    for number, text, operator in body[1:-1]:
        word = first_word(text)
        if depth == 0 and word in ("elif", "else"):
            branches.append((condition, line, current))
            condition = _strip(text, "elif") if word == "elif" else None
            line, current = number, []
            text = "" if word == "elif" else _strip(text, "else")
        elif depth == 0 and word == "then":
            text = _strip(text, "then")
        else:
            depth += 1 if word in OPENERS else -1 if word in OPENERS.values() else 0
        if text or operator == ";;":  # a `;;` ends a branch of a `case` inside
            current.append((number, text, operator))
    branches.append((condition, line, current))
    return branches


def case_branches(body: list[Segment]) -> tuple[str, list[tuple[list[str], list[Segment]]]]:
    """(word, [(patterns, segments)]) of a `case WORD in PATTERN) ...;; esac` block."""
    match = re.match(r"case\s+(.*?)\s+in\b\s*(.*)$", body[0][1])
    word = match.group(1) if match else ""
    branches: list[tuple[list[str], list[Segment]]] = []
    rest = [(body[0][0], match.group(2) if match else "", body[0][2]), *body[1:-1]]
    patterns: list[str] | None = None
    alternatives = ""  # `a|b)`: the list splits a pattern at its `|`
    for number, text, operator in rest:
        if patterns is None and ")" not in text and operator == "|":
            alternatives += text + "|"
            continue
        if patterns is None and ")" in text:
            head, _, text = text.partition(")")
            head, alternatives = alternatives + head, ""
            patterns = [p.strip().strip("\"'") for p in head.strip().lstrip("(").split("|")]
            branches.append((patterns, []))
        if text.strip() and branches:
            branches[-1][1].append((number, text.strip(), operator))
        if operator == ";;":
            patterns = None
    return word, branches


# test(1)'s integer comparisons; a word that is no integer is an error there: not plain.
_NUMERIC: dict[str, Callable[[int, int], bool]] = {
    "-eq": op.eq,
    "-ne": op.ne,
    "-lt": op.lt,
    "-le": op.le,
    "-gt": op.gt,
    "-ge": op.ge,
}
_INTEGER = re.compile(r"[-+]?\d{1,18}")


def test(
    condition: str, variables: MutableMapping[str, str], budget: Budget | None = None
) -> tuple[bool | None, list[str]]:
    """The value of a plain test (None: not a plain test), and the variables it took as empty."""
    empty: list[str] = []
    for name in re.findall(r"\$\{?([A-Za-z_]\w*)", condition):
        if name not in variables:
            empty.append(name)
    # A view, not a copy: a copy of every variable for each test is quadratic.
    known = ChainMap(dict.fromkeys(empty, ""), variables)
    text, problems = expand(condition, known, budget)
    if problems:
        return None, empty
    try:
        words = split_words(text)
    except ValueError:
        return None, empty
    negate = words[:1] == ["!"]
    words = words[1:] if negate else words
    if words[:1] == ["test"]:
        words = words[1:]
    elif words[:1] in (["["], ["[["]) and words[-1:] in (["]"], ["]]"]):
        words = words[1:-1]
    else:
        return None, empty
    if len(words) == 3 and words[1] in _TESTS:
        value = (words[0] == words[2]) != (words[1] == "!=")
    elif (
        len(words) == 3 and words[1] in _NUMERIC and all(_INTEGER.fullmatch(w) for w in words[::2])
    ):
        value = _NUMERIC[words[1]](int(words[0]), int(words[2]))
    elif len(words) == 2 and words[0] in ("-n", "-z"):
        value = bool(words[1]) == (words[0] == "-n")
    elif len(words) == 1:
        value = bool(words[0])
    else:
        return None, empty
    return value != negate, empty


def case_matches(word: str, patterns: list[str]) -> bool:
    """Whether a `case` word matches one of a branch's glob patterns."""
    return any(fnmatch.fnmatchcase(word, pattern) for pattern in patterns)
