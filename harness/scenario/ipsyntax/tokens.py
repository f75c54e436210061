"""Words shared by the `ip` commands: the error, numbers, addresses, prefixes, MACs, verbs."""

from __future__ import annotations

import ipaddress
import re


class IpSyntaxError(ValueError):
    """An `ip` line this parser does not understand; the message says which word and why."""


def address(word: str, key: str, text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    try:
        return ipaddress.ip_address(word)
    except ValueError:
        raise IpSyntaxError(f"{text!r}: {key} {word!r} is not an IP address") from None


def number(word: str, key: str, text: str) -> int:
    try:
        return int(word, 0)  # 0x7 as well as 7, as iproute2 reads numbers
    except ValueError:
        raise IpSyntaxError(f"{text!r}: {key} {word!r} is not a number") from None


U32_MAX = 0xFFFFFFFF


def u32(word: str, key: str, text: str) -> int:
    """A number netlink carries in 32 unsigned bits (table, metric, priority, fwmark...):
    out of range, pyroute2 fails while packing it ("argument out of range"), at run time."""
    value = number(word, key, text)
    if not 0 <= value <= U32_MAX:
        raise IpSyntaxError(f"{text!r}: {key} {word!r} is out of range (0 to {U32_MAX})")
    return value


def dsfield(word: str, text: str) -> int:
    """A `tos`/`dsfield` value, read as iproute2 reads it: hexadecimal, 0x optional
    (rtnl_dsfield_a2n), so `tos 10` is 0x10."""
    try:
        value = int(word, 16)
    except ValueError:
        raise IpSyntaxError(
            f"{text!r}: tos {word!r} is not a hexadecimal number (names from "
            "/etc/iproute2/rt_dsfield are not supported)"
        ) from None
    if not 0 <= value <= 0xFF:
        raise IpSyntaxError(f"{text!r}: tos {word!r} does not fit in a byte")
    return value


MAC = re.compile(r"(?:[0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}")


def parse_verb(text: str, verbs: tuple[str, ...]) -> tuple[str, str]:
    """Split `VERB REST`, accepting `delete` for `del`."""
    verb, _, rest = text.strip().partition(" ")
    verb = "del" if verb == "delete" else verb
    if verb not in verbs:
        expected = ", ".join(verbs[:-1]) + f" or {verbs[-1]}" if len(verbs) > 1 else verbs[0]
        raise IpSyntaxError(f"{text!r}: starts with {verb!r}; expected {expected}")
    return verb, rest


def prefix(word: str, text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(word, strict=False)
    except ValueError as exc:
        raise IpSyntaxError(f"{text!r}: bad prefix {word!r}: {exc}") from None
