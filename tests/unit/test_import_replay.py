"""What the proof replays of a listing, and what it refuses (harness/importer/replay.py).

Pure: the argv built from the parsed words, no kernel.  iproute2's options are
matched as ip/ip.c main() matches them (any prefix, in its order).
"""

from __future__ import annotations

import pytest

from harness.importer import import_listing, read_listing
from harness.importer.model import ROOT
from harness.importer.replay import ip_option, plan

NET = "ip netns add a\nip netns add b\nip -n a link add v0 type veth peer name v1 netns b\n"
NET += "ip -n a addr add 10.1.0.1/24 dev v0\n"


@pytest.mark.parametrize(
    ("word", "option"),
    [
        ("-n", "-netns"),
        ("-net", "-netns"),
        ("--netns", "-netns"),
        ("-b", "-batch"),
        ("-br", "-brief"),
        ("-f", "-family"),
        ("-fo", "-force"),
        ("-c", "-color"),
        ("-col=never", "-color"),
        ("-a", "-all"),
        ("-4", "-4"),
        ("-", "-loops"),
    ],
)
def test_ip_options_match_as_ip_c_matches_them(word: str, option: str) -> None:
    found = ip_option(word)
    assert found is not None and found[0] == option


def _steps(text: str) -> list[tuple[str, tuple[str, ...], tuple[int, ...]]]:
    result = import_listing(NET + text, "l.sh")
    replay = plan(read_listing(NET + text).commands, result.address_map)
    assert replay.refused == []
    return [(s.ns, s.argv, s.netns_at) for s in replay.steps]


def test_namespaces_become_the_steps_namespace_or_slots_for_the_twins_path() -> None:
    steps = _steps("ip -net a link set v0 up\nip netns exec b ip li set v1 netns a\n")
    veth = ("ip", "link", "add", "v0", "type", "veth", "peer", "name", "v1", "netns", "b")
    assert steps[0] == ("a", veth, (10,))  # `-n a`: run there; `netns b`: the twin's b
    assert steps[1][0] == "a" and steps[1][1][:2] == ("ip", "addr")
    assert steps[1][1][3] != "10.1.0.1/24"  # addresses mapped as the topology's are
    assert steps[2] == ("a", ("ip", "link", "set", "v0", "up"), ())
    assert steps[3] == ("b", ("ip", "li", "set", "v1", "netns", "a"), (5,))
    assert len(steps) == 4  # `ip netns add` is not run: the proof makes the namespaces


def test_sysctls_are_written_with_sysctl_and_echo_becomes_sysctl() -> None:
    steps = _steps(
        "ip netns exec a sysctl -qw net.ipv4.ip_forward=1\nsysctl net.ipv4.ip_forward\n"
        "echo 1 > /proc/sys/net/ipv4/conf/all/rp_filter\n"
        "ip netns exec a echo 0 > /proc/sys/net/ipv4/ip_forward\nping -c1 10.1.0.1\n"
    )[2:]
    assert steps == [
        ("a", ("sysctl", "-w", "-q", "net.ipv4.ip_forward=1"), ()),
        (ROOT, ("sysctl", "-q", "-w", "net/ipv4/conf/all/rp_filter=1"), ()),
        (ROOT, ("sysctl", "-q", "-w", "net/ipv4/ip_forward=0"), ()),  # the shell's file
    ]


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("ip -n a link set v0 netns 1", "process id"),
        ("ip link add x type veth peer name y netns /proc/1/ns/net", "a path"),
        ("ip -n /proc/1/ns/net link set v0 up", "a path"),
        ("ip netns exec /proc/1/ns/net ip link", "a path"),
        ("ip -batch /etc/hostname", "from a file"),
        ("ip -b /etc/hostname", "from a file"),
        ("ip -force -b x", "from a file"),
        ("ip monitor", "until it is stopped"),
        ("ip mon all", "until it is stopped"),
        ("ip vrf exec red sh", "runs a program"),
        ("ip -all netns exec ip link", "every namespace"),
        ("ip -n a link set v0 xdp obj /tmp/x.o", "BPF"),
        ("ip -n a link add l0 link-netnsid 3 type veth peer name l1", "link-netnsid"),
        ("sysctl -p", "not replayed"),
        ("sysctl -p/etc/sysctl.conf", "not replayed"),
        ("sysctl --system", "not replayed"),
        ("sysctl -w kernel.x=1", "only net.* keys"),
        ("sysctl -w net.core.rmem_max=1", "global to the machine"),
        ("echo 1 > /proc/sys/kernel/sysrq", "only net.* keys"),
        ("echo 1 > /proc/sys/net/../kernel/sysrq", "not a sysctl name"),
        # An address the import never read (so never mapped) would reach the twin as is.
        ("ip -n b addr add 172.16.0.2/24 dev v1", "outside the documentation ranges"),
        ("route add -net 172.16.1.0 netmask 255.255.255.0 gw 10.1.0.9", "outside the doc"),
    ],
)
def test_what_could_reach_outside_the_twin_is_refused(line: str, why: str) -> None:
    result = import_listing(NET, "l.sh")
    replay = plan(read_listing(NET + line + "\n").commands, result.address_map)
    assert [(n, w) for n, _, w in replay.refused if why in w] == [(5, replay.refused[0][2])]
    assert all(step.line != 5 for step in replay.steps)


def test_mapped_addresses_masks_and_special_ones_are_replayed() -> None:
    lines = "ip -n b addr add 10.1.0.2/24 dev v1\nip -n a route add 224.0.0.0/4 dev v0\n"
    lines += "ifconfig v0 10.1.0.3 netmask 255.255.255.0\nip -6 -n a addr add fe80::1/64 dev v0\n"
    result = import_listing(NET + lines, "l.sh")
    replay = plan(read_listing(NET + lines).commands, result.address_map)
    assert replay.refused == []
    assert all("10.1.0.2/24" not in s.argv for s in replay.steps)  # mapped
    assert any("255.255.255.0" in s.argv for s in replay.steps)  # a mask: kept


def test_a_root_check_and_integer_tests_are_followed_as_test_1_does() -> None:
    """Selftests start with `if [ "$(id -u)" -ne 0 ]; then echo SKIP; exit $ksft_skip; fi`:
    an import is proven as root, so the branch is not taken, and nothing is left unread."""
    text = 'if [ "$(id -u)" -ne 0 ]; then\n\techo "SKIP: Need root"\n\texit 4\nfi\n'
    text += "N=3\nif [ $N -gt 2 ]; then\n" + NET + "fi\n"
    result = import_listing(text, "l.sh")
    assert [e for e in result.entries if e.outcome == "unsupported"] == []
    assert "a" in result.topology.hosts
    assert all(step.line != 2 for step in plan(result.listing.commands, result.address_map).steps)
