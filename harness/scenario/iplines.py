"""`ip` lines as scenario fields: parsed with harness/scenario/ipsyntax/, addresses checked.

A route, nexthop object, rule or neighbour is written as `ip` would print it; the loader
turns it into a spec and refuses any address outside the documentation ranges,
also one that only masking would move outside them.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

from harness.core.validation import AddressRole, check_allowed, check_allowed_network
from harness.scenario.ipsyntax import (
    AddrSpec,
    IpSyntaxError,
    NeighSpec,
    NexthopSpec,
    RouteSpec,
    RuleSpec,
    parse_neigh,
    parse_nexthop,
    parse_route,
    parse_rule,
)

_EXAMPLES = {
    "route": "default via 192.0.2.1",
    "rule": "from 192.0.2.0/24 lookup 100",
    "neighbour": "192.0.2.9 lladdr 02:00:00:00:00:09 dev eth0",
    "nexthop": "id 1 via 192.0.2.1 dev eth0",
}


# What each address of a spec is, for the address policy (harness/core/validation.py):
# a neighbour's `dst` and an interface's `address` are a host's own addresses.
_ROLES: dict[str, AddressRole] = {"via": "gateway", "src": "source", "dst": "destination"}


def check_spec_addresses(spec: object) -> None:
    """Refuse a spec whose addresses (via, src, dst, address, next hops) leave the allowed
    ranges: a route's or rule's destination may be a multicast prefix, nothing else may."""
    own = isinstance(spec, (NeighSpec, AddrSpec))
    for name in ("via", "src", "dst", "address"):
        value = getattr(spec, name, None)
        role: AddressRole = "address" if own else _ROLES.get(name, "address")
        # Interfaces first: IPv4Interface is a subclass of IPv4Address.
        if isinstance(value, (ipaddress.IPv4Interface, ipaddress.IPv6Interface)):
            if name != "dst" or value.network.prefixlen:  # 0.0.0.0/0 is `default`
                check_allowed(value.ip, role)
            if name == "dst":
                # 2001:db8::1/16 would install 2001::/16 once the kernel masks it.
                check_allowed_network(value.network, role)
        elif isinstance(value, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
            check_allowed(value, role)
        elif isinstance(value, (ipaddress.IPv4Network, ipaddress.IPv6Network)):
            check_allowed_network(value, role)
    for hop in getattr(spec, "nexthops", ()):
        check_spec_addresses(hop)  # multipath next hops: `via` is a gateway


def spec_devices(spec: object) -> list[str]:
    """The interfaces an `ip` line sends to (`dev`, each multipath next hop's `dev`, `link
    set DEV`); a rule's iif/oif are left out: the kernel keeps a rule for a device that
    is not there (`iif X [detached]`)."""
    if isinstance(spec, RuleSpec):
        return []
    devices = [dev for dev in [getattr(spec, "dev", None)] if isinstance(dev, str)]
    return devices + [hop.dev for hop in getattr(spec, "nexthops", ()) if hop.dev]


def _parsed(parser: Callable[[str], Any], what: str) -> Callable[[Any], Any]:
    """A before-validator that turns `ip` text into a spec, with the parser's message on error."""

    def convert(value: Any) -> Any:
        if not isinstance(value, str):
            if isinstance(value, (RouteSpec, RuleSpec, NeighSpec, NexthopSpec)):
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
Nexthop = Annotated[
    NexthopSpec, BeforeValidator(_parsed(parse_nexthop, "nexthop")), PlainSerializer(str)
]
Neigh = Annotated[
    NeighSpec, BeforeValidator(_parsed(parse_neigh, "neighbour")), PlainSerializer(str)
]
