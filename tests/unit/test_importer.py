"""`harness import` and `harness new` without a kernel: how listings are read, translated,
mapped and reported, and what the command line writes.  (That a written topology builds what
its listing builds is tests/kernel/test_importer_twin.py, on the live kernel.)"""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest
import yaml

from harness.cli import main
from harness.importer import (
    ImportFailure,
    ImportResult,
    MappingError,
    import_listing,
    read_listing,
)
from harness.importer.addresses import plan
from harness.importer.skeleton import new_scenario_text
from harness.scenario import (
    Case,
    Change,
    ChangedIn,
    Host,
    Interface,
    Listener,
    Probe,
    load_scenario,
    load_topology,
)
from harness.scenario.expect import Expect

# The translation and the files written; the proof is the kernel tests'.
pytestmark = pytest.mark.usefixtures("translation_only")

LISTINGS = Path(__file__).parents[1] / "listings"


def outcomes(text: str) -> dict[int, tuple[str, str]]:
    """line -> (outcome, reason) of every reported line of an import (ranges spread out)."""
    return outcomes_of(import_listing(text))


# --------------------------------------------------------------------------- reading listings


def test_a_transcript_keeps_the_prompted_commands_and_names_the_rest() -> None:
    listing = read_listing(
        "some text\n"
        "[root@cyc src]# route del default\n"
        "Kernel IP routing table\n"
        "root@ubuntu:~/# ip route show\n"
        "default via 10.0.0.1 dev ens33\n"
        "$ sudo ip link set eth0 up\n"
        "$ip rule\n"
    )
    assert listing.transcript
    assert [c.words for c in listing.commands] == [
        ("route", "del", "default"),
        ("ip", "route", "show"),
        ("ip", "link", "set", "eth0", "up"),
        ("ip", "rule"),
    ]
    assert [(s.line, s.reason.split(" (")[0]) for s in listing.skipped] == [
        (1, "not a command"),
        (3, "not a command"),
        (5, "not a command"),
    ]


def test_root_prompt_lines_alone_are_commands_but_comments_in_a_script_are_not() -> None:
    assert [c.words[:3] for c in read_listing("# ip netns add a\n# ip netns add b\n").commands] == [
        ("ip", "netns", "add"),
        ("ip", "netns", "add"),
    ]
    script = read_listing("# ip netns add a\nip netns add b\n")
    assert [c.words for c in script.commands] == [("ip", "netns", "add", "b")]


def test_shell_words_continuations_lists_and_redirections() -> None:
    listing = read_listing(
        "ip link add veth0 \\\n  type veth peer name veth1  # a pair\n"
        "ip netns add x 2>/dev/null || true; ip netns add y && ip netns add z\n"
        "echo 1 > /proc/sys/net/ipv4/ip_forward\n"
        "echo 1 | sudo tee /proc/sys/net/ipv4/conf/all/forwarding >/dev/null\n"
    )
    assert [(c.line, c.words, c.redirect) for c in listing.commands] == [
        (1, ("ip", "link", "add", "veth0", "type", "veth", "peer", "name", "veth1"), None),
        (3, ("ip", "netns", "add", "x"), None),
        (3, ("ip", "netns", "add", "y"), None),
        (3, ("ip", "netns", "add", "z"), None),
        (4, ("echo", "1"), "/proc/sys/net/ipv4/ip_forward"),
        (5, ("echo", "1"), "/proc/sys/net/ipv4/conf/all/forwarding"),
    ]


def test_variables_mktemp_names_loops_and_function_arguments() -> None:
    listing = read_listing(
        'ns1="ns1-$(mktemp -u XXXXXX)"\n'
        'readonly NETNS="ns-$(mktemp -u XXXXXX)"\n'
        'IP="ip -netns $ns1"\n'
        "create_ns()\n{\n\tlocal ns=$1\n\tip netns add ${ns}\n}\n"
        "for n in a b; do create_ns $n; done\n"
        "$IP link set lo up\n"
        'ip netns exec "${NETNS}" ip link set ${DEV:-eth0} up\n'
    )
    assert [c.words for c in listing.commands] == [
        ("ip", "netns", "add", "a"),
        ("ip", "netns", "add", "b"),
        ("ip", "-netns", "ns1", "link", "set", "lo", "up"),
        ("ip", "netns", "exec", "ns", "ip", "link", "set", "eth0", "up"),
    ]


def test_what_the_reader_cannot_follow_is_named_with_its_line() -> None:
    listing = read_listing(
        "ns=$(ip netns identify)\n"
        "ip netns add $ns\n"
        "ip link set $1 up\n"
        "if ip netns add p; then\n  ip netns add q\nfi\n"
        "cat <<EOF\nip netns add r\nEOF\n"
        "teardown() {\n  ip netns del q\n}\n"
    )
    assert listing.commands == []
    reasons = {s.line: s.reason for s in listing.skipped}
    assert reasons[2].startswith("uses $ns, which is set from the output of `ip netns identify`")
    assert reasons[3] == "uses $1, an argument of the script or function"
    not_followed = "in the `if` of line 4, whose condition is no plain test: not followed"
    assert reasons[4] == reasons[5] == not_followed
    assert reasons[7] == "a here-document (its text is not read)"
    assert reasons[11] == "in the tear-down function teardown() of line 10"


def test_plain_tests_and_case_select_their_branch() -> None:
    listing = read_listing(
        "WITH_VRF=no\n"
        'if [ "${WITH_VRF}" = "yes" ]; then\n  ip link add red type vrf table 10\n'
        'elif [ -n "$UNSET" ]; then\n  ip netns add x\nelse\n  ip link add br0 type bridge\nfi\n'
        "for ns in h1 r1; do\n"
        '  case "${ns}" in\n'
        "  h[12]) ip netns exec $ns sysctl -w net.ipv4.conf.all.accept_redirects=1\n"
        "     ;;\n"
        "  r*|x) ip netns exec $ns sysctl -w net.ipv4.ip_forward=1 ;;\n"
        "  esac\n"
        "done\n"
    )
    assert [c.words[-1] for c in listing.commands] == [
        "bridge",
        "net.ipv4.conf.all.accept_redirects=1",
        "net.ipv4.ip_forward=1",
    ]
    reasons = {(s.line, s.reason) for s in listing.skipped}
    assert (3, "in a branch not taken of the `if` of line 2") in reasons
    assert (4, "shell: $UNSET is not set: taken as empty") in reasons


def test_arrays_multi_line_quotes_and_helpers_that_are_never_called() -> None:
    listing = read_listing(
        "declare -A NETIFS\nNETIFS[p1]=veth1\nNETIFS[p2]=veth2\n"
        "get_addr()\n{\n\tlocal dev=$1\n\tip -br addr show dev $dev | awk '{\n"
        "\t\tprint $3\n\t}'\n}\n"
        "for n in 1 2; do ip link set ${NETIFS[p${n}]} up; done\n"
        "ip link set ${NETIFS[p1]/veth/eth} down\n"
    )
    assert [c.words for c in listing.commands] == [
        ("ip", "link", "set", "veth1", "up"),
        ("ip", "link", "set", "veth2", "up"),
    ]
    reasons = {s.line: s.reason for s in listing.skipped}
    assert (
        reasons[6]
        == reasons[7]
        == "in get_addr(), which takes arguments and is never called: not read"
    )
    assert reasons[12].startswith("uses ${NETIFS[p1]/veth/eth} (a shell expansion")


def test_lib_sh_setup_ns_makes_namespaces_with_lo_up() -> None:
    words = [c.words for c in read_listing("setup_ns NS1 NS2\nip -n $NS1 addr\n").commands]
    assert words[:2] == [
        ("ip", "netns", "add", "ns1"),
        ("ip", "-n", "ns1", "link", "set", "lo", "up"),
    ]
    assert words[-1] == ("ip", "-n", "ns1", "addr")


# --------------------------------------------------------------------------- translating


def test_the_seeds_commands_are_translated_or_named() -> None:
    """The commands quoted in the seed articles, as published (translation artefacts too)."""
    said = outcomes(
        "ifconfig eth0 192.168.1.3 netmask 255.255.255.0 up\n"
        "ip route add default via 10.0.0.1\n"
        "route add -host 119.75.217.56 gw 192.168.1.5\n"
        "ip route add 1.2.3.4/32 dev eth2\n"
        "ip route del table local local 4.3.2.1/32 dev eth0\n"
        "sudo ip rule add fwmark 3 table local\n"
        "route del default\n"
        "ifconfig\n"
        "route\n"
        "Route add-host 119.75.217.56 GW 1.2.3.5\n"
        "IP Route del Table Local local 4.3.2.1/32 Dev eth0\n"
        "./udpsend2 202.115.26.193 on\n"
    )
    assert said[2] == (
        "unsupported",
        "the kernel refuses it here: 10.0.0.1 is on no subnet this host reaches directly yet "
        "(Network is unreachable)",
    )
    assert said[5][0] == "change" and said[7][0] == "change"
    assert said[8] == ("ignored", "shows state") and said[9] == ("ignored", "shows state")
    assert said[10] == (
        "unsupported",
        "`Route` is not a command; commands are case-sensitive (`route`?)",
    )
    assert said[11][0] == "unsupported"
    assert said[12] == ("act", "runs the article's own program: the probe of step 1")
    result = import_listing(
        "ifconfig eth0 192.168.1.3 netmask 255.255.255.0 up\n"
        "route add -host 119.75.217.56 gw 192.168.1.5\n"
        "route del default\n"
    )
    host = result.topology.hosts["host"]
    assert [str(r) for r in host.routes] == ["198.51.100.56/32 via 192.0.2.5"]
    assert [str(c) for c in result.changes] == ["host: ip route del default"]


def test_the_machines_own_namespace_is_a_host_of_its_own() -> None:
    result = import_listing(
        "ip link add veth0 type veth peer name veth1\n"
        "ip netns add blue\n"
        "ip link set veth1 netns blue\n"
        "ip addr add 10.1.1.1/24 dev veth0\n"
        "ip link set veth0 up\n"
        "echo 1 > /proc/sys/net/ipv4/ip_forward\n"
    )
    assert result.host_names == {"": "host", "blue": "blue"}
    host = result.topology.hosts["host"]
    assert host.interfaces["veth0"].link == "blue.veth1" and host.interfaces["veth0"].up
    assert result.topology.hosts["blue"].interfaces["veth1"].up is False
    assert host.sysctls == {"net.ipv4.ip_forward": 1}


def test_net_tools_read_as_the_kernel_makes_them() -> None:
    result = import_listing(
        "ip netns add a\n"
        "ip -n a link add eth0 type veth peer name eth1\n"
        "ip netns exec a ifconfig eth0 192.168.7.3\n"  # classful: /24, and up
        "ip netns exec a ifconfig eth0:1 192.168.8.3 netmask 255.255.255.0\n"
        "ip netns exec a ifconfig eth0 192.168.7.4 netmask 255.255.255.0\n"  # replaces .3
        "ip netns exec a route add -net 172.16.0.0 netmask 255.255.0.0 gw 192.168.7.1 metric 5\n"
        "ip netns exec a route add -net 172.17.0.0/16 reject\n"
        "ip netns exec a route add -net 172.18.0.0 gw 192.168.7.1\n"
    )
    eth0 = result.topology.hosts["a"].interfaces["eth0"]
    assert [str(a) for a in eth0.addresses] == ["192.0.2.4/24", "198.51.100.3/24"]
    assert eth0.up and not result.topology.hosts["a"].interfaces["eth1"].up
    assert [str(r) for r in result.topology.hosts["a"].routes] == [
        "198.18.0.0/16 via 192.0.2.1 metric 5",
        "unreachable 198.19.0.0/16 scope host",
    ]
    assert outcomes_of(result)[8][0] == "unsupported"  # -net without a netmask


def outcomes_of(result: ImportResult) -> dict[int, tuple[str, str]]:
    """line -> (outcome, reason) of every reported line of an import (ranges spread out)."""
    return {
        line: (e.outcome, e.reason)
        for e in result.entries
        for line in range(e.line, max(e.line, e.last) + 1)
    }


def test_moves_renames_deletes_and_defaults_follow_the_kernel() -> None:
    result = import_listing(
        "ip netns add a\nip netns add b\n"
        "ip netns exec b sysctl -w net.ipv4.conf.default.rp_filter=2\n"  # reaches links itself
        "ip netns exec b sysctl -w net.ipv6.conf.default.hop_limit=32\n"  # only new ones
        "ip -n a link add x0 type veth peer name x1\n"
        "ip -n a addr add 10.0.0.1/24 dev x1\n"
        "ip -n a link set x1 netns b name eth0 up\n"  # flushed, renamed, up, b's default
        "ip -n b route add 10.9.0.0/16 dev eth0\n"
        "ip -n b link set eth0 name wan0\n"
        "ip -n a link add y0 type veth peer name y1\n"
        "ip -n a link del y1\n"
    )
    b = result.topology.hosts["b"]
    assert list(b.interfaces) == ["wan0"] and b.interfaces["wan0"].addresses == []
    assert b.interfaces["wan0"].link == "a.x0" and b.interfaces["wan0"].up
    assert [str(r) for r in b.routes] == ["198.18.0.0/16 dev wan0"]
    assert b.sysctls == {
        "net.ipv4.conf.default.rp_filter": 2,
        "net.ipv6.conf.default.hop_limit": 32,
        "net.ipv6.conf.wan0.hop_limit": 32,
    }
    assert list(result.topology.hosts["a"].interfaces) == ["x0"]


def test_rules_without_pref_get_the_kernels_and_deletes_of_kernel_state_become_changes() -> None:
    result = import_listing(
        "ip netns add a\n"
        "ip -n a rule add fwmark 1 table 10\n"
        "ip -n a rule add fwmark 2 table 20\n"
        "ip -n a rule add pref 100 from 10.0.0.0/16 table 30\n"
        "ip -n a rule add fwmark 3 table 40\n"
        "ip -n a rule del fwmark 2\n"
        "ip -n a rule del pref 0\n"
    )
    rules = [str(r) for r in result.topology.hosts["a"].rules]
    assert [r.split("priority ")[1].split()[0] for r in rules] == ["32765", "100", "99"]
    assert [c.command for c in result.changes] == ["ip rule del pref 0"]


def test_nothing_usable_and_too_large_subnets_are_refused() -> None:
    with pytest.raises(ImportFailure, match="nothing in it sets up a network") as caught:
        import_listing("ping 10.0.0.1\ngcc -o x x.c\n", "l.txt")
    assert [(e.line, e.outcome) for e in caught.value.entries] == [
        (1, "ignored"),
        (2, "unsupported"),
    ]
    with pytest.raises(ImportFailure, match=r"10\.0\.0\.0/8 is larger than the largest"):
        import_listing("ip link add a type veth peer name b\nifconfig a 10.1.2.3\n")


# --------------------------------------------------------------------------- addresses


def _i(text: str) -> ipaddress.IPv4Interface | ipaddress.IPv6Interface:
    return ipaddress.ip_interface(text)


def test_address_mapping_is_consistent_and_keeps_host_parts() -> None:
    amap = plan(
        [
            (_i("192.168.1.3/24"), 1),
            (_i("10.20.3.4/16"), 2),
            (_i("10.20.5.0/24"), 3),  # inside the /16: mapped with it
            (_i("192.0.2.7/24"), 4),  # a documentation range: kept, and not handed out
            (_i("fd00:20::4/64"), 5),
            (_i("127.0.0.1/8"), 6),
        ]
    )
    assert amap.word("192.168.1.77") == "198.51.100.77"
    assert amap.word("10.20.5.9/24") == "198.18.5.9/24"
    assert amap.word("192.0.2.7") == "192.0.2.7" and amap.word("127.0.0.1") == "127.0.0.1"
    assert amap.word("fd00:20::fe/64") == "2001:db8::fe/64"
    words = ["ifconfig", "eth0", "192.168.1.3", "netmask", "255.255.255.0"]
    assert amap.words(words) == [*words[:2], "198.51.100.3", *words[3:]]
    assert "192.168.1.0/24 -> 198.51.100.0/24 (first on line 1)" in amap.lines()


def test_more_subnets_than_the_ranges_hold_are_refused() -> None:
    plan([(_i(f"10.{n}.0.1/16"), n) for n in range(2)])  # 198.18.0.0/16 and 198.19.0.0/16
    with pytest.raises(MappingError, match=r"no room left for 10\.2\.0\.0/16"):
        plan([(_i(f"10.{n}.0.1/16"), n) for n in range(3)])
    with pytest.raises(MappingError, match="fd00::/16 is larger"):
        plan([(_i("fd00::1/16"), 1)])


# --------------------------------------------------------------------------- the command line


def test_import_writes_a_topology_that_loads_and_a_skeleton_and_never_overwrites(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    listing = LISTINGS / "selftest-router.sh"
    skeleton = tmp_path / "router-claim.yaml"  # the topology goes below its folder
    argv = ["import", str(listing), "--name", "router", "--topology-dir", str(tmp_path)]
    argv += ["--scenario", str(skeleton)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert f"wrote {tmp_path / 'router.yaml'} (3 hosts)" in out
    assert "line 54" not in out  # `ip -n $ns2 link set veth2 mtu 1400` is translated
    topology = load_topology("router", tmp_path)
    assert set(topology.hosts) == {"ns1", "ns2", "rtr"}
    assert topology.hosts["ns2"].interfaces["veth2"].mtu == 1400
    text = (tmp_path / "router.yaml").read_text()
    assert "#   172.16.1.0/24 -> 192.0.2.0/24 (first on line 34)" in text
    doc = yaml.safe_load(skeleton.read_text())
    assert doc["topology"] == "./router.yaml" and doc["source"]["article"] == "selftest-router.sh"
    assert doc["cases"] is None  # the example case is commented out: to fill in
    assert main(argv) == 2
    assert "exists already" in capsys.readouterr().err


def test_import_refuses_a_listing_with_nothing_usable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    listing = tmp_path / "l.txt"
    listing.write_text("uname -a\nfrobnicate eth0\n")
    assert main(["import", str(listing), "--stdout"]) == 2
    err = capsys.readouterr().err
    assert "nothing in it sets up a network" in err
    assert "line 2: `frobnicate eth0`: `frobnicate` is not a set-up command" in err
    assert main(["import", str(tmp_path / "missing.txt")]) == 2


def test_new_writes_a_skeleton_that_loads_names_every_field_and_is_never_overwritten(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "my-claim.yaml"
    assert main(["new", str(path)]) == 0
    scenario = load_scenario(path)
    assert [c.id for c in scenario.cases] == ["example-a-reaches-b"]
    text = path.read_text()
    for model in (Case, Change, Probe, Listener, ChangedIn, Interface, Host, Expect):
        missing = [f for f in model.model_fields if f"{f}:" not in text]
        assert missing == [], f"{model.__name__} fields missing from the skeleton"
    assert main(["new", str(path)]) == 2
    assert "exists already" in capsys.readouterr().err
    assert main(["new", "Bad Name"]) == 2
    assert new_scenario_text("x", path).startswith("# x: one claim")
    assert f"#   harness run {path}" in text.splitlines()


def test_a_machine_global_sysctl_is_one_unsupported_line_not_a_failed_import() -> None:
    result = import_listing(
        "ip netns add a\n"
        "ip -n a link add eth0 type veth peer name eth1\n"
        "ip netns exec a sysctl -w net.core.rmem_max=8388608\n"
        "ip netns exec a sysctl -w net.ipv4.ip_forward=1\n"
    )
    assert result.topology.hosts["a"].sysctls == {"net.ipv4.ip_forward": 1}
    outcome, reason = outcomes_of(result)[3]
    assert outcome == "unsupported" and "global to the machine" in reason


def test_a_macvlans_own_sysctl_is_part_of_the_topology_not_a_change() -> None:
    """The builder writes a host's sysctls once all its links exist (macvlan included)."""
    result = import_listing(
        "ip netns add h\n"
        "ip -n h link add eth0 type veth peer name eth1\n"
        "ip -n h link add link eth0 name mv0 type macvlan mode bridge\n"
        "ip netns exec h sysctl -w net.ipv4.conf.mv0.arp_ignore=1\n"
    )
    assert result.topology.hosts["h"].sysctls == {"net.ipv4.conf.mv0.arp_ignore": 1}
    assert result.changes == []


def test_an_interface_name_with_a_dot_stays_one_name_in_its_sysctls() -> None:
    """/proc/sys/net/ipv4/conf/eth0.5/rp_filter is about eth0.5, not about an eth0 (the
    slash form keeps the dot), through a rename and a move with conf.default."""
    result = import_listing(
        "ip link add eth0.5 type veth peer name x1\n"
        "echo 2 > /proc/sys/net/ipv4/conf/eth0.5/rp_filter\n"
        "sysctl -w net/ipv4/conf/eth0.5/arp_ignore=1\n"
        "ip link set eth0.5 name wan.7\n"
        "ip netns add b\n"
        "ip netns exec b sysctl -w net.ipv6.conf.default.hop_limit=32\n"
        "ip link set x1 netns b name x1.9\n"
    )
    host, b = result.topology.hosts["host"], result.topology.hosts["b"]
    assert list(host.interfaces) == ["wan.7"]
    assert host.sysctls == {
        "net/ipv4/conf/wan.7/rp_filter": 2,
        "net/ipv4/conf/wan.7/arp_ignore": 1,
    }
    assert b.sysctls == {
        "net.ipv6.conf.default.hop_limit": 32,
        "net/ipv6/conf/x1.9/hop_limit": 32,
    }


def test_a_veth_whose_peer_name_is_taken_makes_neither_end() -> None:
    """The kernel makes both ends or none (veth_newlink fails as a whole: File exists)."""
    result = import_listing(
        "ip netns add a\n"
        "ip -n a link add y type veth peer name z\n"
        "ip -n a link add x type veth peer name y\n"
    )
    assert list(result.topology.hosts["a"].interfaces) == ["y", "z"]
    outcome, reason = outcomes_of(result)[3]
    assert outcome == "unsupported" and "y exists already" in reason


def test_a_neighbours_device_keeps_its_case_and_only_the_mac_is_lowercased() -> None:
    result = import_listing(
        "ip netns add a\n"
        "ip -n a link add Eth0 type veth peer name eth1\n"
        "ip -n a addr add 10.0.0.1/24 dev Eth0\n"
        "ip -n a neigh add 10.0.0.2 lladdr AA:BB:CC:00:00:01 dev Eth0 nud permanent\n"
    )
    a = result.topology.hosts["a"]
    assert list(a.interfaces) == ["Eth0", "eth1"]
    assert [str(n) for n in a.neighbours] == [
        "192.0.2.2 lladdr aa:bb:cc:00:00:01 dev Eth0 nud permanent"
    ]
