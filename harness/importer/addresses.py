"""Real-world addresses -> the documentation and benchmark ranges, consistently.

A listing's subnets are mapped block by block: an IPv4 subnet of /24 or
longer is mapped with the /24 around it, a shorter one (down to /15) as a
whole; an IPv6 subnet with the /48 around it, a shorter one (down to /32) as a
whole.  The same real block always lands on the same documentation block, and
what lies inside it keeps its place there: 192.168.1.3/24 becomes
192.0.2.3/24, its gateway 192.168.1.1 becomes 192.0.2.1.  Addresses already in
the allowed ranges are kept, and their blocks are not handed out again.
Loopback, IPv6 link-local, multicast and unspecified addresses are left as they
are (the scenario loader decides whether a field may hold them).
"""

from __future__ import annotations

import ipaddress
import itertools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from harness.core.validation import ALLOWED_NETWORKS, IPAddress, IPInterface

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# Small blocks go to the three /24 documentation networks first (the ones readers
# know), then to /24s of the benchmark range; larger blocks to the benchmark range.
_V4_SMALL = [ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24")]
_V4_LARGE = ipaddress.IPv4Network("198.18.0.0/15")
_V6 = ipaddress.IPv6Network("2001:db8::/32")
_UNIT = {4: 24, 6: 48}  # blocks of this length or longer are mapped with the block around them
_LARGEST: dict[int, Network] = {4: _V4_LARGE, 6: _V6}
NETMASK_WORDS = {"netmask", "genmask", "mask"}
_ADDRESS_WORD = re.compile(r"([0-9A-Fa-f:.]+)(/\d+)?")
# Distinct blocks a listing may need mapped.  Placing one checks it against every block
# placed before, so the work grows with the square of this; the kernel's net selftests use
# a few dozen subnets, and the IPv4 ranges hold 515 blocks of /24 in all.
MAX_BLOCKS = 256


class MappingError(ValueError):
    """The listing needs more or larger subnets than the allowed ranges hold."""


@dataclass(frozen=True)
class Block:
    """One real-world block and the documentation block it is mapped onto."""

    real: Network
    doc: Network
    line: int  # where the listing first uses it


def leave_alone(address: IPAddress) -> bool:
    """Addresses that are not mapped: loopback, IPv6 link-local, multicast, unspecified,
    broadcast.  (IPv4 link-local 169.254/16 is mapped: scripts use it as any subnet.)"""
    return (
        address.is_loopback
        or (address.is_link_local and address.version == 6)
        or address.is_multicast
        or address.is_unspecified
        or address == ipaddress.IPv4Address("255.255.255.255")
    )


def _within(inner: Network, outer: Network) -> bool:
    if isinstance(inner, ipaddress.IPv4Network) and isinstance(outer, ipaddress.IPv4Network):
        return inner.subnet_of(outer)
    if isinstance(inner, ipaddress.IPv6Network) and isinstance(outer, ipaddress.IPv6Network):
        return inner.subnet_of(outer)
    return False


def _overlap(a: Network, b: Network) -> bool:
    return _within(a, b) or _within(b, a)


def _allowed(network: Network) -> bool:
    """Whether all of `network` lies in an allowed range."""
    return any(_within(network, n) for n in ALLOWED_NETWORKS)


class AddressMap:
    """The mapping of one listing; `lines()` says it in words for the file's comment."""

    def __init__(self, blocks: list[Block], kept: list[tuple[Network, int]]) -> None:
        self.blocks = blocks
        self.kept = kept

    def address(self, address: IPAddress) -> IPAddress:
        """Where `address` goes (itself when it is not in a mapped block)."""
        for block in self.blocks:
            if address.version == block.real.version and address in block.real:
                offset = int(address) - int(block.real.network_address)
                return ipaddress.ip_address(int(block.doc.network_address) + offset)
        return address

    def interface(self, iface: IPInterface) -> IPInterface:
        """ADDR/LEN with ADDR mapped and LEN kept."""
        return ipaddress.ip_interface(f"{self.address(iface.ip)}/{iface.network.prefixlen}")

    def word(self, word: str) -> str:
        """A command's word with its address (ADDR or ADDR/LEN) mapped; other words unchanged."""
        match = _ADDRESS_WORD.fullmatch(word)
        if match is None:
            return word
        try:
            address = ipaddress.ip_address(match.group(1))
        except ValueError:
            return word
        return f"{self.address(address)}{match.group(2) or ''}"

    def words(self, words: Sequence[str]) -> list[str]:
        """Each word mapped, except the value of a `netmask` (a mask is not an address)."""
        return [
            w if i and words[i - 1].lower() in NETMASK_WORDS else self.word(w)
            for i, w in enumerate(words)
        ]

    def lines(self) -> list[str]:
        """The mapping, one block per line, for a reader."""
        out = [f"{b.real} -> {b.doc} (first on line {b.line})" for b in self.blocks]
        out += [f"{n} kept: already a documentation range (line {line})" for n, line in self.kept]
        return out or ["(the listing has no addresses)"]


def plan(items: Iterable[tuple[IPInterface, int]]) -> AddressMap:
    """The mapping for these addresses (each with its prefix length and listing line)."""
    units: list[tuple[Network, int]] = []
    kept: list[tuple[Network, int]] = []
    for iface, line in items:
        network = iface.network
        unit_len = _UNIT[network.version]
        unit = network if network.prefixlen < unit_len else network.supernet(new_prefix=unit_len)
        if _allowed(unit):
            if all(not _overlap(unit, n) for n, _ in kept):
                kept.append((unit, line))
        elif not leave_alone(iface.ip):
            units.append((unit, line))
    # Each block once, at its first line (a listing of 20,000 addresses in a few blocks
    # compared every address with every other before).
    distinct: dict[Network, int] = {}
    for unit, line in units:
        distinct.setdefault(unit, line)
        if len(distinct) > MAX_BLOCKS:
            raise MappingError(
                f"line {line}: more than {MAX_BLOCKS} subnets to map: not a set-up listing"
            )
    # A block inside a larger one is mapped with it (so a /24 inside a routed /16 stays inside).
    outer = [
        (u, line)
        for u, line in distinct.items()
        if not any(o != u and _within(u, o) for o in distinct)
    ]
    first: dict[Network, int] = dict(outer)
    taken = [n for n, _ in kept]
    blocks: list[Block] = []
    # Largest first, so that a /16 still finds room after the /24s are placed.
    for unit in sorted(first, key=lambda u: (u.prefixlen >= _UNIT[u.version], u.prefixlen)):
        doc = _place(unit, taken, first[unit])
        taken.append(doc)
        blocks.append(Block(unit, doc, first[unit]))
    blocks.sort(key=lambda b: (b.line, b.real.version))
    return AddressMap(blocks, kept)


def _place(unit: Network, taken: list[Network], line: int) -> Network:
    """A free documentation block of the same size as `unit`."""
    largest = _LARGEST[unit.version]
    if unit.prefixlen < largest.prefixlen:
        raise MappingError(
            f"line {line}: {unit} is larger than the largest allowed range ({largest}); "
            "write the listing with a smaller netmask or prefix"
        )
    small = _V4_SMALL if unit.version == 4 and unit.prefixlen == 24 else []
    # Lazily: 2001:db8::/32 holds 65,536 blocks of /48, and at most len(taken) are in use.
    for candidate in itertools.chain(small, largest.subnets(new_prefix=unit.prefixlen)):
        if all(not _overlap(candidate, t) for t in taken):
            return candidate
    raise MappingError(
        f"line {line}: no room left for {unit}: the listing needs more "
        f"{'IPv4' if unit.version == 4 else 'IPv6'} subnets than the documentation ranges hold"
    )
