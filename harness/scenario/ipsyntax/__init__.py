"""`ip` syntax (route, nexthop, rule, neigh, addr, link set): article lines -> specs -> netlink.

Why by hand: pyroute2 has no parser for iproute2's text syntax, and its own
defaults differ from iproute2's (it stamps `proto static` and scope universe on
a device route, and fills fields on delete that stop it from matching a
`proto kernel` route).  Users copy `ip` lines from articles, so a scenario must
mean exactly what iproute2 would do with the same line; the defaults below are
the ones iproute2 applies, and tests/kernel/test_topology.py checks each construct by
running iproute2 on a twin namespace and comparing the kernel's tables.
"""

from __future__ import annotations

from harness.scenario.ipsyntax.neigh import (
    NUD_STATES,
    AddrSpec,
    LinkSetSpec,
    NeighSpec,
    parse_addr,
    parse_link_set,
    parse_neigh,
)
from harness.scenario.ipsyntax.nexthop import NexthopSpec, parse_nexthop, parse_nexthop_command
from harness.scenario.ipsyntax.route import (
    METRICS,
    PROTOCOLS,
    ROUTE_TYPES,
    SCOPES,
    TABLES,
    NextHop,
    RouteCommand,
    RouteSpec,
    parse_route,
    parse_route_command,
)
from harness.scenario.ipsyntax.rule import (
    FR_ACTIONS,
    PortRange,
    RuleSpec,
    dscp_name,
    parse_rule,
    protocol_name,
)
from harness.scenario.ipsyntax.tokens import IpSyntaxError, parse_verb

RouteSyntaxError = IpSyntaxError

__all__ = [
    "FR_ACTIONS",
    "METRICS",
    "NUD_STATES",
    "PROTOCOLS",
    "ROUTE_TYPES",
    "SCOPES",
    "TABLES",
    "AddrSpec",
    "IpSyntaxError",
    "LinkSetSpec",
    "NeighSpec",
    "NextHop",
    "NexthopSpec",
    "PortRange",
    "RouteCommand",
    "RouteSpec",
    "RouteSyntaxError",
    "RuleSpec",
    "dscp_name",
    "parse_addr",
    "parse_link_set",
    "parse_neigh",
    "parse_nexthop",
    "parse_nexthop_command",
    "parse_route",
    "parse_route_command",
    "parse_rule",
    "parse_verb",
    "protocol_name",
]
