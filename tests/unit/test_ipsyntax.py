"""`ip route` lines -> RouteSpec -> the netlink fields iproute2 would send (pure logic)."""

from __future__ import annotations

import socket

import pytest

from harness.scenario.ipsyntax import (
    RouteSyntaxError,
    parse_link_set,
    parse_nexthop,
    parse_route,
    parse_route_command,
    parse_rule,
)


def test_default_via_gateway() -> None:
    spec = parse_route("default via 192.0.2.1")
    fields = spec.netlink_fields("add", oif=None)
    assert fields == {
        "family": socket.AF_INET,
        "dst_len": 0,
        "table": 254,
        "gateway": "192.0.2.1",
        "scope": 0,
        "proto": 3,
        "type": 1,
    }


def test_device_route_gets_link_scope_like_iproute2() -> None:
    fields = parse_route("203.0.113.0/24 dev eth0 src 192.0.2.1").netlink_fields("add", oif=7)
    assert fields["scope"] == 253
    assert fields["oif"] == 7
    assert fields["prefsrc"] == "192.0.2.1"
    assert (fields["dst"], fields["dst_len"]) == ("203.0.113.0", 24)


def test_local_route_goes_to_local_table_with_host_scope() -> None:
    fields = parse_route("local 198.18.0.1 dev eth0").netlink_fields("add", oif=2)
    assert (fields["type"], fields["table"], fields["scope"], fields["dst_len"]) == (
        2,
        255,
        254,
        32,
    )


def test_delete_leaves_protocol_scope_and_type_open() -> None:
    # A kernel-made subnet route has proto kernel; a delete must still match it.
    fields = parse_route("192.0.2.0/24 dev eth0").netlink_fields("del", oif=2)
    assert (fields["proto"], fields["scope"], fields["type"]) == (0, 255, 0)


@pytest.mark.parametrize(
    "line",
    [
        "unreachable 198.51.100.0/24",
        "blackhole default",
        "prohibit 203.0.113.7",
        "throw 198.18.0.0/15 table 100",
    ],
)
def test_route_types(line: str) -> None:
    spec = parse_route(line)
    assert str(spec).split()[0] == line.split()[0]


def test_onlink_and_metric_and_table() -> None:
    spec = parse_route("default via 203.0.113.1 dev eth0 onlink metric 10 table 100")
    fields = spec.netlink_fields("add", oif=3)
    assert (fields["flags"], fields["priority"], fields["table"]) == (4, 10, 100)
    assert str(spec) == "default via 203.0.113.1 dev eth0 metric 10 table 100 onlink"


def test_ipv6_family() -> None:
    assert parse_route("2001:db8::/64 dev eth0").family == socket.AF_INET6


def test_command_verbs() -> None:
    assert parse_route_command("del default")[0] == "del"
    assert parse_route_command("delete default")[0] == "del"


@pytest.mark.parametrize(
    ("line", "complaint"),
    [
        ("", "empty route"),
        ("default via", "'via' needs a value"),
        ("default via gateway", "via 'gateway' is not an IP address"),
        ("192.0.2.300/24 dev eth0", "bad destination"),
        ("default via 192.0.2.1 realms 3", "unknown word 'realms'"),
        ("default via 192.0.2.1 mtu", "'mtu' needs a value"),
        ("default via 192.0.2.1 mtu lock", "'mtu' needs a value"),
        ("default via 192.0.2.1 hoplimit 256", "hoplimit '256' is out of range"),
        ("default via 192.0.2.1 advmss many", "advmss 'many' is not a number"),
        ("default nexthop", "a nexthop needs 'via ADDRESS' or 'dev IFNAME'"),
        ("default nexthop via 192.0.2.1 weight 0", "weight 0 is out of range"),
        ("default nexthop via 192.0.2.1 weight 257", "weight 257 is out of range"),
        ("default nexthop via 192.0.2.1 metric 5", "unknown word 'metric' in a nexthop"),
        ("default nexthop dev eth0 onlink", "'onlink' only makes sense with 'via'"),
        ("198.51.100.0/24 nexthop via 2001:db8::1", "mixes IPv4 and IPv6"),
        ("198.51.100.0/24 nhid none", "nhid 'none' is not a number"),
        ("default scope galaxy", "unknown scope 'galaxy'"),
        ("default dev eth0 onlink", "'onlink' only makes sense with 'via'"),
        ("default via 192.0.2.1 via 192.0.2.2", "'via' given twice"),
        ("2001:db8::/64 via 192.0.2.1", "mixes IPv4 and IPv6"),
    ],
)
def test_errors_say_what_is_wrong(line: str, complaint: str) -> None:
    with pytest.raises(RouteSyntaxError, match=complaint):
        parse_route(line)


def test_command_must_start_with_a_verb() -> None:
    with pytest.raises(RouteSyntaxError, match="expected add, del or replace"):
        parse_route_command("flush all")


def test_ipv6_default_written_with_dash_6() -> None:
    spec = parse_route("-6 default")
    assert spec.family == socket.AF_INET6
    assert str(spec) == "-6 default"
    assert parse_route(str(spec)) == spec


def test_a_destination_keeps_its_host_bits_for_the_kernel_to_judge() -> None:
    """iproute2 sends 192.0.2.160/24 as written; the kernel, not the parser, refuses it."""
    spec = parse_route("192.0.2.160/24 dev eth0")
    fields = spec.netlink_fields("add", oif=7)
    assert (fields["dst"], fields["dst_len"]) == ("192.0.2.160", 24)
    assert str(spec) == "192.0.2.160/24 dev eth0"
    assert parse_route("2001:db8::160/64 dev eth0").netlink_fields("add", 7)["dst"] == (
        "2001:db8::160"
    )


def test_tos_is_hexadecimal_as_iproute2_reads_it() -> None:
    """`ip route add ... tos 10` and `ip rule add tos 10` mean 0x10 (rtnl_dsfield_a2n)."""
    assert parse_route("198.51.100.0/24 dev eth0 tos 10").netlink_fields("add", 7)["tos"] == 0x10
    assert parse_route("198.51.100.0/24 dev eth0 dsfield 0x10").tos == 0x10
    assert parse_rule("tos 10 lookup 100").netlink_fields("add")["tos"] == 0x10
    assert str(parse_rule("tos 10 lookup 100")) == "from all tos 0x10 lookup 100"


def test_route_metrics_and_lock_as_iproute2_sends_them() -> None:
    """`mtu lock N` sets the value and its bit in RTAX_LOCK (1 << RTAX_MTU)."""
    spec = parse_route("198.51.100.0/24 via 192.0.2.1 mtu lock 1300 advmss 1200 hoplimit 3")
    fields = spec.netlink_fields("add", oif=None)
    assert fields["metrics"] == {"mtu": 1300, "advmss": 1200, "hoplimit": 3, "lock": 1 << 2}
    assert str(spec) == "198.51.100.0/24 via 192.0.2.1 mtu lock 1300 advmss 1200 hoplimit 3"
    assert parse_route(str(spec)) == spec
    assert (
        "lock"
        not in parse_route("default via 192.0.2.1 mtu 1400").netlink_fields("add", None)["metrics"]
    )


def test_multipath_next_hops_with_weights() -> None:
    """Each `nexthop` is an rtnexthop: weight W is sent as rtnh_hops W - 1; the route has no
    gateway of its own, so its scope is universe."""
    spec = parse_route(
        "default nexthop via 192.0.2.1 dev eth0 weight 3 nexthop via 203.0.113.1 dev eth1 onlink"
    )
    fields = spec.netlink_fields("add", None, {"eth0": 2, "eth1": 3}.__getitem__)
    assert fields["multipath"] == [
        {"hops": 2, "flags": 0, "oif": 2, "gateway": "192.0.2.1"},
        {"hops": 0, "flags": 4, "oif": 3, "gateway": "203.0.113.1"},
    ]
    assert fields["scope"] == 0
    assert parse_route(str(spec)) == spec


def test_route_on_a_nexthop_object() -> None:
    spec = parse_route("198.51.100.0/24 nhid 10")
    fields = spec.netlink_fields("add", oif=None)
    assert (fields["nhid"], fields["scope"]) == (10, 0)
    assert str(spec) == "198.51.100.0/24 nhid 10"


def test_nexthop_objects_as_ipnexthop_reads_them() -> None:
    gateway = parse_nexthop("id 1 via 2001:db8::2 dev eth0")
    assert (gateway.family, gateway.id, str(gateway.via)) == (socket.AF_INET6, 1, "2001:db8::2")
    group = parse_nexthop("id 10 group 1/2,3")
    assert group.group == ((1, 1), (2, 3))
    assert str(group) == "id 10 group 1/2,3"
    header, attrs = group.netlink_message(oif=None)
    assert header["family"] == socket.AF_UNSPEC
    assert dict(attrs)["NHA_GROUP"] == bytes.fromhex("01000000 00000000 02000000 02000000")
    assert parse_nexthop("id 4 blackhole").family == socket.AF_INET


@pytest.mark.parametrize(
    ("line", "complaint"),
    [
        ("id 1 dev eth0 via 2001:db8::1", "address family mismatch"),
        ("id 1 via", "'via' needs a value"),
        ("id 0 blackhole", "id 0 is out of range"),
        ("id 2 group 1/2,0", "group weight 0 is out of range"),
        ("id 2 gateway 192.0.2.1", "unknown word 'gateway'"),
    ],
)
def test_nexthop_errors_say_what_is_wrong(line: str, complaint: str) -> None:
    with pytest.raises(RouteSyntaxError, match=complaint):
        parse_nexthop(line)


def test_link_set_mtu() -> None:
    spec = parse_link_set("eth0 mtu 1400")
    assert spec.mtu == 1400
    assert str(spec) == "eth0 mtu 1400"


@pytest.mark.parametrize(
    ("line", "fields"),
    [
        ("sport 1000-2000 lookup 100", {"sport": (1000, 2000), "table": 100}),
        ("dport 53/0xff00 lookup 100", {"dport": (53, 53), "dport_mask": 0xFF00}),
        ("dport 53/0xffff lookup 100", {"dport": (53, 53)}),  # iproute2 sends no full mask
        ("ipproto udp uidrange 1000-1999", {"ipproto": 17, "uidrange": (1000, 1999)}),
        ("ipproto 58", {"ipproto": 58}),
        ("l3mdev pref 1000", {"l3mdev": 1, "priority": 1000}),
        ("realms 1/2", {"realms": 0x10002}),
        ("realms 7", {"realms": 7}),
        ("suppress_ifgroup default", {"suppress_ifgroup": 0}),
        ("proto static", {"protocol": 4}),
        ("-6 flowlabel 0x12345", {"flowlabel": 0x12345, "flowlabel_mask": 0xFFFFF}),
        ("dscp 46/0x3f", {"dscp": 46}),
        ("dev eth0 type prohibit", {"iifname": "eth0", "action": 8}),
    ],
)
def test_rule_selectors_as_iproute2_sends_them(line: str, fields: dict[str, object]) -> None:
    """iprule_modify's encoding, word by word; str() reads back to the same rule."""
    spec = parse_rule(line)
    sent = spec.netlink_fields("add")
    assert {k: sent.get(k) for k in fields} == fields
    assert {"sport_mask", "dport_mask", "dscp_mask"} & set(sent) <= set(fields)
    assert parse_rule(str(spec)) == spec


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("sport 70000", "out of range"),
        ("uidrange 1000", "is not START-END"),
        ("ipproto nosuch", "is not a protocol number"),
        ("l3mdev lookup 100", "table can not be specified for l3mdev"),
        ("nat 192.0.2.1", "route NAT"),
        ("flowlabel 0x100000", "out of range"),
        ("sport", "needs a value"),
    ],
)
def test_rule_selector_mistakes_are_named(line: str, problem: str) -> None:
    with pytest.raises(RouteSyntaxError, match=problem):
        parse_rule(line)
