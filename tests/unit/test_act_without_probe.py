"""An act without a probe: it changes something, and expects nothing of a probe."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from harness.scenario import Case

CHANGE = [{"host": "a", "link": "set eth0 down"}]


def _case(**fields: Any) -> Case:
    return Case.model_validate({"id": "x", "title": "x", **fields})


def test_an_act_may_only_change_and_observe() -> None:
    case = _case(change=CHANGE, expect={"neighbours": {"a": {"192.0.2.2": "ABSENT"}}})
    assert case.acts()[0].probe is None
    steps = _case(steps=[{"change": CHANGE, "expect": {"not_seen": [{"host": "a"}]}}])
    assert steps.acts()[0].probe is None


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"change": CHANGE, "expect": {"errno": "ok"}}, "is about a probe, and this act has none"),
        ({"steps": [{"change": CHANGE, "expect": {"egress": "eth0"}}]}, "is about a probe"),
        ({"expect": {"neighbours": {"a": {"192.0.2.2": "ABSENT"}}}}, "needs a 'change'"),
        ({"change": CHANGE}, "a case needs 'expect'"),
    ],
)
def test_what_an_act_without_a_probe_cannot_say(fields: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        _case(**fields)
