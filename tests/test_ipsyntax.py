"""`ip route` lines -> RouteSpec -> the netlink fields iproute2 would send (pure logic)."""

from __future__ import annotations

import socket

import pytest

from harness.ipsyntax import RouteSyntaxError, parse_route, parse_route_command, parse_rule


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
        ("default via 192.0.2.1 mtu 1400", "unknown word 'mtu'"),
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
