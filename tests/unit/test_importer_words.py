"""The importer reads `ip` as iproute2 does (abbreviations, `-net`), and translates mtu,
txqueuelen, multipath and nexthop routes, append/prepend and the flushes into the draft
as the kernel would (tests/kernel/test_importer_twin.py replays such listings with real
iproute2; here each rule on its own, without a kernel)."""

from __future__ import annotations

from harness.importer import import_listing
from tests.unit.test_importer import outcomes_of

NS = "ip netns add a\nip netns add b\nip -n a link add e0 type veth peer name e1 netns b\n"


def test_ip_net_is_netns_and_its_lines_are_not_dropped() -> None:
    result = import_listing(
        "ip netns add a\n"
        "ip -net a li add e0 type dummy\n"
        "ip -ne a l s dev e0 up\n"
        "ip --netns a a a 192.0.2.1/24 dev e0\n"
    )
    iface = result.topology.hosts["a"].interfaces["e0"]
    assert [str(a) for a in iface.addresses] == ["192.0.2.1/24"] and iface.up
    assert result.translated == 4


def test_unknown_options_objects_and_commands_are_iproute2s_errors() -> None:
    result = import_listing(
        NS + "ip -e a route add 192.0.2.0/24 dev e0\nip -n a z\nip -n a link chg e0 up\n"
    )
    found = outcomes_of(result)
    assert found[4] == ("unsupported", 'Option "-e" is unknown, try "ip -help".')
    assert found[5] == ("unsupported", 'Object "z" is unknown, try "ip help".')
    assert found[6] == ("unsupported", 'Command "chg" is unknown, try "ip link help".')


def test_mtu_and_txqueuelen_of_ip_link_and_ifconfig() -> None:
    result = import_listing(
        NS + "ip -n a link set e0 mtu 9000 txql 7\n"
        "ip netns exec b ifconfig e1 mtu 1400 txqueuelen 9\n"
        "ip -n a link set e0 mt 5\n"
    )
    hosts = result.topology.hosts
    assert (hosts["a"].interfaces["e0"].mtu, hosts["a"].interfaces["e0"].txqueuelen) == (9000, 7)
    assert (hosts["b"].interfaces["e1"].mtu, hosts["b"].interfaces["e1"].txqueuelen) == (1400, 9)
    assert outcomes_of(result)[6][0] == "unsupported"  # `mt` is no keyword: mtu is strcmp


ADDRS = (
    NS + "ip -n a link set e0 up\nip -n a link add e2 type veth peer name e3 netns b\n"
    "ip -n a link set e2 up\nip -n a addr add 192.0.2.1/24 dev e0\n"
    "ip -n a addr add 198.51.100.1/24 dev e2\n"
    "ip -n a addr add 2001:db8:1::1/64 dev e0\nip -n a addr add 2001:db8:2::1/64 dev e2\n"
)


def test_multipath_and_nexthop_routes() -> None:
    result = import_listing(
        ADDRS + "ip -n a route add 203.0.113.0/24 nexthop via 192.0.2.2 weight 3 "
        "nexthop via 198.51.100.2 dev e2\n"
        "ip -n a nexthop add id 1 via 192.0.2.2 dev e0\n"
        "ip -n a nexthop add id 2 group 1\n"
        "ip -n a route add 198.18.0.0/24 nhid 2\n"
        "ip -n a route add 198.18.1.0/24 nhid 9\n"
        "ip -n a nexthop add id 3 via 192.0.2.2\n"
    )
    host = result.topology.hosts["a"]
    assert [str(n) for n in host.nexthops] == ["id 1 via 192.0.2.2 dev e0", "id 2 group 1"]
    assert [str(r) for r in host.routes] == [
        "203.0.113.0/24 nexthop via 192.0.2.2 weight 3 nexthop via 198.51.100.2 dev e2",
        "198.18.0.0/24 nhid 2",
    ]
    found = outcomes_of(result)
    assert found[15] == ("unsupported", "nexthop id 9 does not exist (the kernel refuses it)")
    assert found[16][0] == "unsupported" and "needs `dev`" in found[16][1]


def test_append_and_prepend_join_ipv6_gateways_and_refuse_a_second_ipv4_route() -> None:
    result = import_listing(
        ADDRS + "ip -n a -6 route add 2001:db8:9::/64 via 2001:db8:1::2\n"
        "ip -n a -6 route append 2001:db8:9::/64 via 2001:db8:2::2\n"
        "ip -n a -6 ro prep 2001:db8:9::/64 via 2001:db8:2::3\n"
        "ip -n a route append 198.18.0.0/24 via 192.0.2.2\n"
        "ip -n a route append 198.18.0.0/24 via 198.51.100.2\n"
        "ip -n a -6 route append 2001:db8:8::/64 dev e0\n"
        "ip -n a -6 route append 2001:db8:8::/64 dev e2\n"
        "ip -n a -6 route append 2001:db8:9::/64 via 2001:db8:2::2\n"
    )
    assert [str(r) for r in result.topology.hosts["a"].routes] == [
        "2001:db8:9::/64 nexthop via 2001:db8:1::2 nexthop via 2001:db8:2::2 "
        "nexthop via 2001:db8:2::3",
        "198.18.0.0/24 via 192.0.2.2",
        "2001:db8:8::/64 dev e0",
    ]
    found = outcomes_of(result)
    assert found[15][0] == "unsupported" and "second IPv4 route" in found[15][1]
    assert found[17][0] == "unsupported" and "only gateway routes join" in found[17][1]
    assert found[18][0] == "unsupported" and "already (File exists)" in found[18][1]


def test_flushes_remove_what_the_draft_holds_and_name_kernel_state() -> None:
    result = import_listing(
        ADDRS + "ip -n a route add 198.18.0.0/24 via 192.0.2.2\n"
        "ip -n a route add 198.18.1.0/24 via 198.51.100.2 table 5\n"
        "ip -n a neigh add 192.0.2.9 lladdr 02:00:00:00:00:09 dev e0\n"
        "ip -n a rule add pref 10 table 5\n"
        "ip -n a route flush dev e0\n"  # line 15: IPv4 only, main table
        "ip -n a neigh flush dev e0\n"  # permanent entries stay
        "ip -n a rule flush\n"
        "ip -n a -6 addr flush dev e2\n"
        "ip -n a route flush\n"
        "ip -n a route flush table all\n"
    )
    host = result.topology.hosts["a"]
    assert [str(r) for r in host.routes] == ["198.18.1.0/24 via 198.51.100.2 table 5"]
    assert [n.dst.exploded for n in host.neighbours] == ["192.0.2.9"]
    assert host.rules == []
    assert [str(a) for a in host.interfaces["e2"].addresses] == ["198.51.100.1/24"]
    assert [(c.route, c.rule) for c in result.changes] == [
        ("del 192.0.2.0/24 dev e0", None),
        (None, "del pref 32766"),
        (None, "del pref 32767"),
    ]
    found = outcomes_of(result)
    assert found[16][0] == "ignored"
    assert found[18][0] == "partly" and "link-local" in found[18][1]
    assert found[19] == ("unsupported", '"ip route flush" requires arguments.')
    assert found[20][0] == "unsupported" and "local routes" in found[20][1]
