"""`harness import` keeps the listing's time order (issue 20, item 2), without a kernel.

The set-up is what comes before the first act; what the listing changes after
acting becomes the skeleton's steps; each episode between tear-downs is a part
of its own (a set-up function called once per test with other arguments is
never merged); a link the listing makes is never taken for a NIC.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
import yaml

from harness.cli import main
from harness.importer import ImportFailure, import_listing
from harness.importer.episodes import act_reason
from harness.importer.translate import MAX_PARTS
from harness.importer.writer import scenario_text
from harness.scenario import Change

LISTINGS = Path(__file__).parents[1] / "listings"
EVICT = "selftest-evict-nocarrier.sh"

PAIR = """\
ip netns add a
ip netns add b
ip -n a link add veth0 type veth peer name veth1 netns b
ip -n a link set veth0 up
ip -n b link set veth1 up
ip -n a addr add 10.0.0.1/24 dev veth0
ip -n b addr add 10.0.0.2/24 dev veth1
"""


def _said(changes: Sequence[Change]) -> list[str]:
    return [str(c) for c in changes]


def test_what_follows_the_first_act_is_a_step_not_the_set_up() -> None:
    result = import_listing(
        PAIR
        + "ip -n a route add 10.9.0.0/16 via 10.0.0.2\n"
        + "ip netns exec a ping -c1 10.0.0.2\n"  # the first act: the set-up ends here
        + "ip -n b link set veth1 down\n"
        + "ip -n a route replace 10.9.0.0/16 via 10.0.0.3\n"
        + "ip netns exec a sysctl -w net.ipv4.conf.veth0.arp_ignore=1\n"
        + "ip netns exec a ping -c1 10.0.0.2\n"
        + "ip -n a addr del 10.0.0.1/24 dev veth0\n"
        + "ip netns exec a ip route get 10.9.0.1\n",
        "l.sh",
    )
    hosts = result.topology.hosts
    # The set-up as it was at the first act: veth1 up, the first route, no sysctl.
    assert hosts["b"].interfaces["veth1"].up is True
    assert result.document["hosts"]["a"]["routes"] == ["198.18.0.0/16 via 192.0.2.2"]
    assert "sysctls" not in result.document["hosts"]["a"]
    assert [c.line for c in result.setup] == [1, 2, 3, 4, 5, 6, 7, 8]
    assert [[a.line for a in s.acts] for s in result.steps] == [[9], [13], [15]]
    assert [_said(s.changes) for s in result.steps] == [
        [],
        [
            "b: ip link set veth1 down",
            "a: ip route del 198.18.0.0/16 via 192.0.2.2",
            "a: ip route add 198.18.0.0/16 via 192.0.2.3",
            "a: sysctl net.ipv4.conf.veth0.arp_ignore=1",
        ],
        ["a: ip addr del 192.0.2.1/24 dev veth0"],
    ]
    assert [[c.line for c in s.commands] for s in result.steps] == [[], [10, 11, 12], [14]]
    assert result.parts == [] and result.part == ""
    acts = {e.line: e.outcome for e in result.entries if e.outcome == "act"}
    assert acts == {9: "act", 13: "act", 15: "act"}


def test_the_skeleton_writes_the_steps_with_their_changes() -> None:
    result = import_listing(
        PAIR + "ip netns exec a ping -c1 10.0.0.2\nip -n b link set veth1 down\n"
        "ip netns exec a ping -c1 10.0.0.2\n",
        "l.sh",
    )
    text = scenario_text(result, "l", "l.sh")
    # Uncommented, the case loads as a case with two steps.
    case = "\n".join(
        line.replace("  # ", "  ", 1).split("  # ")[0].rstrip()
        for line in text.splitlines()
        if line.startswith("  #   ") or line.startswith("  # - id")
    )
    loaded = yaml.safe_load(case)
    steps = loaded[0]["steps"]
    assert [s["change"] for s in steps] == [[], [{"host": "b", "link": "set veth1 down"}]]
    assert "TODO: as line 8 `ip netns exec a ping -c1 10.0.0.2`" in text


def test_a_set_up_function_called_once_per_test_gives_one_part_per_call() -> None:
    result = import_listing((LISTINGS / EVICT).read_text(), EVICT)
    parts = result.every_part
    assert len(parts) == 3
    sysctls = [p.document["hosts"]["host"]["sysctls"] for p in parts]
    assert sysctls == [
        {"net.ipv4.conf.veth0.arp_evict_nocarrier": 1},
        {"net.ipv4.conf.veth0.arp_evict_nocarrier": 0},
        {"net.ipv4.conf.all.arp_evict_nocarrier": 0},
    ]
    for part in parts:
        # The peer's end is up in the set-up; it goes down in step 2, after the ping.
        assert part.topology.hosts["peer"].interfaces["veth1"].up is True
        assert [_said(s.changes) for s in part.steps] == [[], ["peer: ip link set veth1 down"]]
        assert [c.line for c in part.steps[1].commands] == [34]
        assert part.steps[0].acts[0].line == 28
        assert not [e for e in part.entries if "taken as a NIC" in e.reason]
        assert not [e for e in part.entries if e.outcome == "unsupported"]
    assert "(line 45)" in parts[0].part and "(line 53)" in parts[1].part


def test_identical_episodes_share_one_part() -> None:
    text = "\n".join(
        [
            "go() {",
            "  ip netns add a",
            "  ip -n a link add d0 type dummy",
            "  ip -n a addr add 10.0.0.1/24 dev d0",
            "  ip netns exec a ping -c1 10.0.0.1",
            "}",
            "cleanup() {",
            "  ip netns del a",
            "}",
            "go",
            "cleanup",
            "go",
            "cleanup",
        ]
    )
    result = import_listing(text, "l.sh")
    assert result.parts == []
    assert len(result.steps) == 1


def test_ip_netns_del_of_the_last_namespace_ends_an_episode() -> None:
    result = import_listing(
        "ip netns add a\nip -n a link add d0 type dummy\nip netns add b\n"
        "ip netns del b\n"  # one of two: the set-up goes on without b
        "ip netns exec a ping -c1 10.0.0.1\nip netns del a\n"
        "ip netns add c\nip -n c link add d1 type dummy\n",
        "l.sh",
    )
    assert [list(p.topology.hosts) for p in result.every_part] == [["a"], ["c"]]


def test_a_link_the_listing_makes_is_never_taken_for_a_nic() -> None:
    # veth1 is made (inside `ip netns exec`) in the first episode only; the second uses it
    # without making it: iproute2 would not find it, and nothing makes it a LAN port.
    result = import_listing(
        "ip netns add a\nip netns exec a ip link add veth0 type veth peer name veth1\n"
        "ip netns exec a ping -c1 10.0.0.1\nip netns del a\n"
        "ip netns add b\nip -n b link add d0 type dummy\nip -n b link set veth1 up\n",
        "l.sh",
    )
    second = result.every_part[1]
    assert "veth1" not in second.topology.hosts["b"].interfaces
    (entry,) = [e for e in second.entries if e.line == 7]
    assert entry.outcome == "unsupported"
    assert "a link the listing makes (line 2)" in entry.reason
    assert not [e for p in result.every_part for e in p.entries if "taken as a NIC" in e.reason]


def test_acts_before_anything_is_set_up_do_not_end_the_set_up() -> None:
    result = import_listing(
        "ip link help 2>&1 | grep -q vrf\n"
        "if [ $? -ne 0 ]; then exit 4; fi\n"  # a check of the tools
        + PAIR
        + "ip -n a link set veth0 mtu 1400 || exit 1\n"
        "ip -n a link add d0 type dummy\n"
        "[ $? -eq 0 ] || exit 1\n"  # the script checking its own set-up command: no act
        "ip netns exec a ping -c1 10.0.0.2\n",
        "l.sh",
    )
    assert "d0" in result.topology.hosts["a"].interfaces
    assert [[a.line for a in s.acts] for s in result.steps] == [[13]]


def test_a_set_up_function_called_again_after_an_act_without_a_tear_down_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    listing = tmp_path / "again.sh"
    listing.write_text(
        "setup() {\n  ip netns add a\n  ip -n a link add d0 type dummy\n"
        "  ip netns exec a sysctl -w $1\n}\n"
        "setup net.ipv4.ip_forward=1\nip netns exec a ping -c1 10.0.0.1\n"
        "setup net.ipv4.ip_forward=0\n"
    )
    with pytest.raises(ImportFailure, match=r"setup\(\) \(lines 2-4\) is called on line 6"):
        import_listing(listing.read_text(), "again.sh")
    assert main(["import", str(listing), "--stdout"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    (line,) = err.splitlines()
    assert "again on line 8 with other arguments" in line and line.endswith("refused")


def test_several_parts_are_written_as_name_1_name_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenarios = tmp_path / "scenarios"
    topologies = scenarios / "topologies"  # below the skeletons: they name it by path
    argv = ["import", str(LISTINGS / EVICT), "--name", "evict"]
    argv += ["--topology-dir", str(topologies), "--scenario", str(scenarios / "evict.yaml")]
    assert main(argv) == 0
    assert sorted(p.name for p in topologies.iterdir()) == [
        "evict-1.yaml",
        "evict-2.yaml",
        "evict-3.yaml",
    ]
    assert sorted(p.name for p in scenarios.iterdir() if p.is_file()) == [
        "evict-1.yaml",
        "evict-2.yaml",
        "evict-3.yaml",
    ]
    assert "topology: ./topologies/evict-2.yaml" in (scenarios / "evict-2.yaml").read_text()
    out = capsys.readouterr().out
    assert "evict-3: lines 16-64: start net.ipv4.conf.all.arp_evict_nocarrier=0 (line 61)" in out
    # A second import writes nothing over them.
    assert main(argv) == 2
    assert len(list(topologies.iterdir())) == 3


@pytest.mark.parametrize(
    ("words", "act"),
    [
        ("ping -c1 10.0.0.1", True),
        ("ip netns exec a ip -6 neigh get 2001:db8::1 dev veth1", True),
        ("ip -n a r g 10.0.0.1", True),
        ("ip route get help", False),
        ("ip netns exec sender ./udpsend2 10.0.0.1 on", True),
        ("python3 client.py", True),
        ("ip route show", False),
        ("ip -n a link set veth0 down", False),
        ("/sbin/ip link set veth0 up", False),
    ],
)
def test_what_an_act_is(words: str, act: bool) -> None:
    assert (act_reason(words.split()) is not None) == act


def test_more_parts_than_an_import_writes_are_refused() -> None:
    episode = (
        "ip netns add a\nip -n a link add d{n} type dummy\nping -c1 10.0.0.1\nip netns del a\n"
    )
    text = "".join(episode.format(n=n) for n in range(MAX_PARTS + 1))
    with pytest.raises(ImportFailure, match=f"more than {MAX_PARTS} parts"):
        import_listing(text, "l.sh")
    three = "".join(episode.format(n=n) for n in range(3))
    assert len(import_listing(three, "l.sh").every_part) == 3
