"""A probe's `uid` and `sport`: what they bind, and the mistakes named (issue 21, item 1)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from harness.scenario import Probe


def test_sport_is_the_port_bound_with_bind_s_address() -> None:
    assert Probe.model_validate(
        {"host": "a", "dst": "192.0.2.2", "sport": 5000}
    ).bind_address() == (
        "",
        5000,
    )
    probe = Probe.model_validate(
        {"host": "a", "dst": "192.0.2.2", "bind": "192.0.2.1", "sport": 5000, "uid": 1000}
    )
    assert probe.bind_address() == ("192.0.2.1", 5000)
    assert "sport 5000" in probe.describe() and "uid 1000" in probe.describe()


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"bind": ":4000", "sport": 5000}, "the port is given twice"),
        ({"proto": "raw", "iface": "eth0", "eth_dst": "02:00:00:00:00:01", "uid": 1}, "raw"),
        ({"uid": 1000, "socket": "s"}, "taken when a socket is created"),
        ({"uid": -1}, "greater than or equal to 0"),
        ({"sport": 70000}, "less than or equal to 65535"),
    ],
)
def test_owner_and_port_mistakes_are_named(fields: dict[str, object], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        Probe.model_validate({"host": "a", "dst": "192.0.2.2", **fields})
