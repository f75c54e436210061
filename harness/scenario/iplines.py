"""`ip` lines as scenario fields: parsed with harness/ipsyntax.py, addresses checked.

A route, rule or neighbour is written as `ip` would print it; the loader
turns it into a spec and refuses any address outside the documentation ranges,
also one that only masking would move outside them.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

from harness.ipsyntax import (
    IpSyntaxError,
    NeighSpec,
    RouteSpec,
    RuleSpec,
    parse_neigh,
    parse_route,
    parse_rule,
)
from harness.vocabulary import check_allowed

_EXAMPLES = {
    "route": "default via 192.0.2.1",
    "rule": "from 192.0.2.0/24 lookup 100",
    "neighbour": "192.0.2.9 lladdr 02:00:00:00:00:09 dev eth0",
}


def check_spec_addresses(spec: object) -> None:
    """Refuse a spec whose addresses (via, src, dst, address) leave the allowed ranges."""
    for name in ("via", "src", "dst", "address"):
        value = getattr(spec, name, None)
        # Interfaces first: IPv4Interface is a subclass of IPv4Address.
        if isinstance(value, (ipaddress.IPv4Interface, ipaddress.IPv6Interface)):
            if name != "dst" or value.network.prefixlen:  # 0.0.0.0/0 is `default`
                check_allowed(value.ip)
            if name == "dst" and value.network.prefixlen:
                # 2001:db8::1/16 would install 2001::/16 once the kernel masks it.
                check_allowed(value.network.network_address)
        elif isinstance(value, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
            check_allowed(value)
        elif isinstance(value, (ipaddress.IPv4Network, ipaddress.IPv6Network)) and value.prefixlen:
            check_allowed(value.network_address)


def _parsed(parser: Callable[[str], Any], what: str) -> Callable[[Any], Any]:
    """A before-validator that turns `ip` text into a spec, with the parser's message on error."""

    def convert(value: Any) -> Any:
        if not isinstance(value, str):
            if isinstance(value, (RouteSpec, RuleSpec, NeighSpec)):
                return value
            raise ValueError(f"write a {what} as `ip` would print it, e.g. {_EXAMPLES[what]!r}")
        try:
            spec = parser(value)
        except IpSyntaxError as exc:
            raise ValueError(str(exc)) from None
        check_spec_addresses(spec)
        return spec

    return convert


Route = Annotated[RouteSpec, BeforeValidator(_parsed(parse_route, "route")), PlainSerializer(str)]
Rule = Annotated[RuleSpec, BeforeValidator(_parsed(parse_rule, "rule")), PlainSerializer(str)]
Neigh = Annotated[
    NeighSpec, BeforeValidator(_parsed(parse_neigh, "neighbour")), PlainSerializer(str)
]
