"""What an expectation field is: one object that compares, knows whether it claims that
something happens or that something does not, names the hosts it refers to, and
shows itself.  The comparison, the early end of a case, the loader's reference
check and the report all iterate over the fields (harness/scenario/expect/__init__.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any, ClassVar, Generic, TypeVar

from harness.core.evidence import ActFacts, Fact, Observation, PacketRecord
from harness.core.validation import same_ip

T = TypeVar("T")


class Comparison(Fact):
    """One expected value next to what was observed for it."""

    field: str  # the expectation field: errno, arp, received, ...
    label: str  # what was compared, for a reader
    expected: str
    observed: str
    ok: bool
    act: int = 0


# The protocols a probe's own packet can be of, by the probe's kind.
PROBE_PROTOS = {
    "udp": frozenset({"udp"}),
    "tcp": frozenset({"tcp"}),
    "icmp": frozenset({"icmp", "icmp6"}),
    "raw": frozenset({"udp"}),
}


@dataclass(frozen=True)
class Evidence:
    """What one act's expectation is compared with: the observation, and who probed what."""

    obs: Observation
    act: int
    prober: str  # the probing host
    dst: str  # the probe's destination
    proto: str  # udp, tcp, icmp or raw

    @property
    def facts(self) -> ActFacts | None:
        """This act's own facts (route lookup, outcome, neighbours, links)."""
        return self.obs.acts[self.act] if self.act < len(self.obs.acts) else None

    @cached_property
    def probe_packet(self) -> PacketRecord | None:
        """The first packet of the probe's own flow that left the probing host."""
        return self.obs.first_packet(self.prober, self.dst, PROBE_PROTOS[self.proto], self.act)

    @cached_property
    def probe_packets(self) -> list[PacketRecord]:
        """Every packet of the probe's flows (and their fragments) that left the probing host."""
        protos = PROBE_PROTOS[self.proto]
        return [
            p
            for p in self.obs.packets
            if p.act == self.act
            and p.host == self.prober
            and p.direction == "out"
            and p.proto in protos
            and same_ip(p.dst, self.dst)
        ]


@dataclass(frozen=True)
class Reference:
    """A host (or LAN) and perhaps one of its interfaces that an expectation names."""

    where: str  # the place in the expectation, after the field name: `.sender`, `[0]`
    host: str
    ifname: str | None = None
    lan_allowed: bool = False  # frame patterns may name a LAN's switch


class ExpectField(Generic[T]):
    """One field of `expect:` (and `kernel_does:`); subclasses fill in the class attributes."""

    name: ClassVar[str]
    annotation: ClassVar[Any]  # the value's type, as the loader validates it
    description: ClassVar[str]
    example: ClassVar[Any] = None  # a value for `harness new`'s skeleton
    # The field is about the probe (its answer, its packets, its route): an act without
    # a probe cannot have it.  Fields about the kernel's state and the frames on the
    # wire say False.
    needs_probe: ClassVar[bool] = True

    def compare(self, wanted: T, ev: Evidence) -> list[Comparison]:
        """One row per thing the value says, against what was observed."""
        raise NotImplementedError

    def claims_absence(self, wanted: T) -> bool:
        """The value says something does *not* happen: only waiting establishes that."""
        del wanted
        return False

    def claims_events(self, wanted: T) -> bool:
        """The value names at least one event that is awaited (a frame, a delivery)."""
        del wanted
        return False

    def happened(self, wanted: T, ev: Evidence) -> bool:
        """Everything the value says happens has happened (so the act may end early)."""
        del wanted, ev
        return True

    def references(self, wanted: T, prober: str) -> Iterator[Reference]:
        """The hosts and interfaces the value names, for the loader to check."""
        del wanted, prober
        return iter(())

    def text(self, wanted: T) -> str:
        """The value as a reader would write it."""
        return f"{self.name}: {wanted}"

    def row(self, label: str, expected: str, observed: str, ok: bool, act: int) -> Comparison:
        """A comparison row of this field."""
        return Comparison(
            field=self.name, label=label, expected=expected, observed=observed, ok=ok, act=act
        )


def listing(items: list[str]) -> str:
    """Items joined once each, or `(none)`."""
    return ", ".join(dict.fromkeys(items)) if items else "(none)"
