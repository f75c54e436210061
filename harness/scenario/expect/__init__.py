"""Expectations: what a claim says about one act, as a registry of fields.

`FIELDS` lists every field `expect:` (and `kernel_does:`) may hold, in the
order they are compared and shown.  Each is one object (harness/scenario/expect/base.py)
that compares, says whether it claims presence or absence, names the hosts it
refers to, and shows itself; the `Expect` model is made from the same list.
Adding a field: a class in events.py or state.py, a line in FIELDS, its row
in the README's vocabulary table, and a use in tests/scenarios/vocabulary.yaml.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from pydantic import Field, create_model, model_validator

from harness.core.validation import Strict
from harness.scenario.expect.base import Comparison, Evidence, ExpectField, Reference
from harness.scenario.expect.events import (
    Arp,
    Egress,
    Egresses,
    EgressOneOf,
    Icmp,
    NotSeen,
    Received,
    Seen,
    Src,
)
from harness.scenario.expect.patterns import (
    ArpPattern,
    IcmpPattern,
    LinkExpectation,
    PacketPattern,
    ReceiptPattern,
    RouteExpectation,
    SeenPattern,
)
from harness.scenario.expect.state import Errno, Links, Neighbours, Route

FIELDS: dict[str, ExpectField[Any]] = {
    f.name: f
    for f in (
        Errno(),
        Arp(),
        Received(),
        Src(),
        Egress(),
        Egresses(),
        EgressOneOf(),
        Icmp(),
        Route(),
        Seen(),
        NotSeen(),
        Neighbours(),
        Links(),
    )
}


class ExpectBase(Strict):
    """What the claim says about one act; only the fields given are compared."""

    def given(self) -> Iterator[tuple[ExpectField[Any], Any]]:
        """(field, value) of each field this expectation names, in registry order."""
        for name, field in FIELDS.items():
            value = getattr(self, name)
            if value is not None:
                yield field, value

    def value(self, name: str) -> Any:
        """The value of field `name`, None when not given."""
        if name not in FIELDS:
            raise KeyError(f"no expectation field {name!r}")
        return getattr(self, name)

    def compare(self, ev: Evidence) -> list[Comparison]:
        """One row per thing this expectation says, against the evidence."""
        return [row for field, value in self.given() for row in field.compare(value, ev)]

    def settled_by(self, ev: Evidence) -> bool:
        """Everything this expectation says happens has happened, and it claims no absence:
        the act may end now.  An absence is established only by waiting the settle window."""
        given = list(self.given())
        if any(field.claims_absence(value) for field, value in given):
            return False
        if not any(field.claims_events(value) for field, value in given):
            return False
        return all(field.happened(value, ev) for field, value in given)

    def about_the_probe(self) -> list[str]:
        """The fields given that need a probe (its answer, packets or route)."""
        return [field.name for field, _ in self.given() if field.needs_probe]

    def references(self, prober: str) -> Iterator[tuple[str, Reference]]:
        """(field name, reference) of each host or interface this expectation names."""
        for field, value in self.given():
            for ref in field.references(value, prober):
                yield field.name, ref

    def describe(self) -> str:
        """The expectation in words, one clause per field."""
        return "; ".join(field.text(value) for field, value in self.given())

    @model_validator(mode="after")
    def _not_empty(self) -> ExpectBase:
        if next(self.given(), None) is None:
            raise ValueError(f"an expectation must say something ({', '.join(FIELDS)})")
        return self


if TYPE_CHECKING:  # the fields are read through the registry (`given`, `value`)
    Expect = ExpectBase
else:
    Expect = create_model(
        "Expect",
        __base__=ExpectBase,
        __module__=__name__,
        __doc__=ExpectBase.__doc__,
        **{
            name: (
                field.annotation | None,
                Field(
                    default=None,
                    description=field.description,
                    examples=None if field.example is None else [field.example],
                ),
            )
            for name, field in FIELDS.items()
        },
    )

__all__ = [
    "FIELDS",
    "ArpPattern",
    "Comparison",
    "Evidence",
    "Expect",
    "ExpectField",
    "IcmpPattern",
    "LinkExpectation",
    "PacketPattern",
    "ReceiptPattern",
    "Reference",
    "RouteExpectation",
    "SeenPattern",
]
