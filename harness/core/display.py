"""Text from outside made safe to print: terminal, Markdown and XML see no control character.

Ids, titles, claims and messages come from scenario files and results folders
that users download; an ESC sequence in them would reach the terminal raw (it
can move the cursor, retitle the window or hide text), a NUL or a lone
surrogate breaks XML and UTF-8, and a newline in a one-line field makes one
message look like two.  Every such character is shown as its Python escape
(`\\x1b`, `\\n`, `\\u202e`) instead: visible, one line where the field is one
line, and the rest of the text unchanged.

Escaped: C0 controls, DEL and C1 controls; lone surrogates (not UTF-8,
forbidden in XML) and U+FFFE/U+FFFF (forbidden in XML 1.0); the line and
paragraph separators U+2028/U+2029 (`str.splitlines` breaks at them); and the
bidirectional overrides and isolates (U+202A-U+202E, U+2066-U+2069), which
reorder what a reader sees ("Trojan Source").  `block` keeps `\\n` and `\\t`,
for text that is several lines by design.
"""

from __future__ import annotations

import re

# What is escaped beyond the C0 range (whose ranges differ: `block` keeps tab and newline).
_BEYOND_C0 = "\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff\ufffe\uffff"
_ONE_LINE = re.compile(f"[\x00-\x1f{_BEYOND_C0}]")
_BLOCK = re.compile(f"[\x00-\x08\x0b-\x1f{_BEYOND_C0}]")
_NAMED = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def one_line(text: str) -> str:
    """`text` with every control character escaped, newlines and tabs too: one line."""
    return _ONE_LINE.sub(_escape, text)


def block(text: str) -> str:
    """`text` with every control character escaped except newline and tab (several lines)."""
    return _BLOCK.sub(_escape, text)


def markdown_cell(text: str) -> str:
    """`text` as one cell of a Markdown table: one line, `|` escaped."""
    return one_line(text).replace("|", "\\|")
