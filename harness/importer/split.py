"""Shell words as shlex.split makes them (POSIX rules, no comments), in linear time.

shlex grows each word one character at a time (`token = token + char`, quadratic in
CPython for a token held by an object), which made a 3 MB word of a listing take minutes
(issue 18).  The rules are shlex's: blanks are space, tab, CR and LF; '...' keeps
everything; in "..." a backslash escapes only `"` and itself; outside quotes it escapes
any character; the same ValueError messages for an open quote or a trailing backslash.
tests/unit/test_importer_bounds.py compares the two on random lines.
"""

from __future__ import annotations

import re

_WORD_RUN = re.compile(r"[^ \t\r\n'\"\\]+")
_QUOTED_RUN = re.compile(r'[^"\\]+')
_BLANKS = " \t\r\n"  # shlex's whitespace in POSIX mode


def split_words(text: str) -> list[str]:
    """`shlex.split(text)`, in linear time (see the module's docstring)."""
    words: list[str] = []
    token: list[str] = []
    in_word = False  # a word has begun (`''` is a word, though empty)
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char in _BLANKS:
            if in_word:
                words.append("".join(token))
                token, in_word = [], False
            i += 1
            continue
        in_word = True
        if char == "'":
            end = text.find("'", i + 1)
            if end < 0:
                raise ValueError("No closing quotation")
            token.append(text[i + 1 : end])
            i = end + 1
        elif char == '"':
            i = _double_quoted(text, i + 1, token)
        elif char == "\\":
            if i + 1 >= n:
                raise ValueError("No escaped character")
            token.append(text[i + 1])
            i += 2
        else:
            run = _WORD_RUN.match(text, i)
            assert run is not None
            token.append(run.group(0))
            i = run.end()
    if in_word:
        words.append("".join(token))
    return words


def _double_quoted(text: str, i: int, token: list[str]) -> int:
    """Read a "..." from just after its opening quote into `token`; the index after it.
    A backslash escapes only `"` and itself there, as in shlex."""
    n = len(text)
    while True:
        if i >= n:
            raise ValueError("No closing quotation")
        char = text[i]
        if char == '"':
            return i + 1
        if char == "\\":
            if i + 1 >= n:
                raise ValueError("No escaped character")
            escaped = text[i + 1]
            token.append(escaped if escaped in '"\\' else "\\" + escaped)
            i += 2
        else:
            run = _QUOTED_RUN.match(text, i)
            assert run is not None
            token.append(run.group(0))
            i = run.end()
