"""Observation and verdict logic on hand-made frames (pure logic; claims no kernel behaviour)."""

from __future__ import annotations

import pytest
from scapy.layers.inet import IP, UDP, fragment
from scapy.layers.l2 import ARP, Ether

from harness.case.observe import frame_records
from harness.case.verdict import passed
from harness.core.evidence import ActFacts, LinkAttrs, Observation, ProbeOutcome, Receipt
from harness.lab.capture import ARPHRD_ETHER, Frame
from harness.scenario import Case
from harness.scenario.expect import Comparison, Evidence, Expect

T0 = 1000.0
SENDER_MAC = "02:00:00:00:00:01"
# Every frame names its destination MAC: left out, scapy would resolve it through
# the host's own routing table, sending ARP from the root namespace.


def frame(ns: str, pkttype: int, pkt: object, dt: float) -> Frame:
    return Frame(ns, "eth0", pkttype, ARPHRD_ETHER, T0 + dt, bytes(pkt))  # type: ignore[call-overload]


ARP_REQUEST = Ether(src=SENDER_MAC, dst="ff:ff:ff:ff:ff:ff") / ARP(
    op=1, psrc="192.0.2.224", pdst="192.0.2.193", hwsrc=SENDER_MAC
)
DATAGRAM = (
    Ether(src=SENDER_MAC, dst="02:00:00:00:00:02")
    / IP(src="192.0.2.224", dst="192.0.2.193")
    / UDP(sport=40000, dport=9000)
    / (b"x" * 8)
)

FRAMES = [
    frame("peer", 0, DATAGRAM, 0.0003),  # out of order on purpose: observe sorts by time
    frame("sender", 4, ARP_REQUEST, 0.0001),
    frame("peer", 1, ARP_REQUEST, 0.0002),
    frame("sender", 4, DATAGRAM, 0.00025),
]
OK = ProbeOutcome(errno="ok", message="sendto: 8 bytes accepted", time=T0)
RECEIPT = Receipt(
    host="peer", src="192.0.2.224", sport=40000, dst="192.0.2.193", ifname="eth0", payload_size=8
)


def observe(
    frames: list[Frame],
    outcome: ProbeOutcome,
    receipts: list[Receipt],
    links: dict[str, dict[str, LinkAttrs]] | None = None,
) -> Observation:
    """The observation of one act (a sender probing 192.0.2.193) from hand-made frames."""
    arp, packets = frame_records(frames, outcome.time, [0])
    act = ActFacts(outcome=outcome, links=links or {})
    return Observation(acts=[act], arp=arp, packets=packets, received=receipts)


def evidence(obs: Observation) -> Evidence:
    return Evidence(obs, 0, "sender", "192.0.2.193", "udp")


def compare(expect: Expect, obs: Observation) -> list[Comparison]:
    return expect.compare(evidence(obs))


def positives_seen(expect: Expect, obs: Observation) -> bool:
    return expect.settled_by(evidence(obs))


def test_observe_dissects_and_orders() -> None:
    obs = observe(FRAMES, OK, [RECEIPT])
    assert [(a.host, a.direction, a.target, a.sender) for a in obs.arp] == [
        ("sender", "out", "192.0.2.193", "192.0.2.224"),
        ("peer", "in", "192.0.2.193", "192.0.2.224"),
    ]
    assert [(p.host, p.direction, p.proto, p.src, p.dst) for p in obs.packets] == [
        ("sender", "out", "udp", "192.0.2.224", "192.0.2.193"),
        ("peer", "in", "udp", "192.0.2.224", "192.0.2.193"),
    ]
    assert obs.packets[0].t_ms == 0.25
    assert [r.host for r in obs.arp_requests_by("sender")] == ["sender"]
    assert obs.arp_requests_by("peer") == []  # peer only received it


def test_matching_expectation_passes() -> None:
    obs = observe(FRAMES, OK, [RECEIPT])
    expect = Expect.model_validate(
        {
            "errno": "ok",
            "arp": {"sender": ["who-has 192.0.2.193"]},
            "received": ["peer from 192.0.2.224"],
        }
    )
    rows = compare(expect, obs)
    assert passed(rows)
    assert positives_seen(expect, obs)


def test_mismatch_is_reported_field_by_field() -> None:
    obs = observe(FRAMES, OK, [RECEIPT])
    expect = Expect.model_validate({"errno": "ENETUNREACH", "arp": {"sender": []}, "received": []})
    rows = compare(expect, obs)
    assert not passed(rows)
    assert [(r.label, r.ok) for r in rows] == [
        ("errno", False),
        ("resolution requests sent by sender", False),
        ("received by", False),
    ]
    assert [(r.expected, r.observed) for r in rows[:1]] == [("ENETUNREACH", "ok")]
    assert "who-has 192.0.2.193 tell 192.0.2.224" in rows[1].observed


def test_sets_are_exact_both_ways() -> None:
    obs = observe(FRAMES, OK, [RECEIPT])
    extra = Expect.model_validate({"arp": {"sender": ["who-has 192.0.2.193", "who-has 192.0.2.1"]}})
    assert not passed(compare(extra, obs))  # an expected request that never left
    wrong_sender = Expect.model_validate(
        {"arp": {"sender": ["who-has 192.0.2.193 tell 192.0.2.9"]}}
    )
    assert not passed(compare(wrong_sender, obs))


def test_absence_only_claims_never_end_early() -> None:
    failed = ProbeOutcome(errno="ENETUNREACH", message="sendto: Network is unreachable", time=T0)
    obs = observe([], failed, [])
    expect = Expect.model_validate({"errno": "ENETUNREACH", "received": []})
    assert passed(compare(expect, obs))
    assert not positives_seen(expect, obs)


def test_an_absence_next_to_events_still_waits_the_window() -> None:
    obs = observe(FRAMES, OK, [RECEIPT])
    only_events = Expect.model_validate({"received": ["peer"]})
    with_absence = Expect.model_validate({"received": ["peer"], "arp": {"peer": []}})
    assert positives_seen(only_events, obs)
    assert not positives_seen(with_absence, obs)


def test_icmpv6_redirect_is_icmp_not_the_udp_it_quotes() -> None:
    from scapy.layers.inet6 import ICMPv6ND_Redirect, ICMPv6NDOptRedirectedHdr, IPv6

    quoted = IPv6(src="2001:db8::1", dst="2001:db8:1::9") / UDP(sport=1, dport=9000)
    redirect = (
        Ether(src="02:00:00:00:00:02", dst=SENDER_MAC)
        / IPv6(src="fe80::2", dst="2001:db8::1")
        / ICMPv6ND_Redirect(tgt="fe80::3", dst="2001:db8:1::9")
        / ICMPv6NDOptRedirectedHdr(pkt=quoted)
    )
    obs = observe([frame("sender", 0, redirect, 0.001)], OK, [])
    assert [(p.proto, p.icmp_type) for p in obs.packets] == [("icmp6", 137)]


TUN = LinkAttrs(
    type="none",
    address="",
    flags=["POINTOPOINT", "MULTICAST", "NOARP", "UP", "LOWER_UP"],
    mtu=1500,
    txqueuelen=500,
)
TAP = TUN.model_copy(
    update={"type": "ether", "address": "1a:18:55:46:ba:d8", "flags": ["BROADCAST", "MULTICAST"]}
)


def test_link_attributes_are_compared_one_row_each() -> None:
    obs = observe(FRAMES, OK, [RECEIPT], {"sender": {"tun0": TUN, "tap0": TAP}})
    expect = Expect.model_validate(
        {
            "links": {
                "sender": {
                    "tun0": {
                        "type": "none",
                        "address": "none",
                        "flags": ["POINTOPOINT", "NOARP"],
                        "without_flags": ["BROADCAST"],
                        "mtu": 1500,
                        "txqueuelen": 10,
                    },
                    "tap0": {"address_prefix": "00:ff", "locally_administered": True},
                    "eth9": {"mtu": 1500},
                }
            }
        }
    )
    rows = {row.label: row for row in compare(expect, obs)}
    assert [name for name, row in rows.items() if not row.ok] == [
        "link sender/tun0 txqueuelen",
        "link sender/tap0 address starts with",
        "link sender/eth9 exists",
    ]
    assert rows["link sender/tun0 txqueuelen"].observed == "500"
    assert rows["link sender/tap0 address locally administered"].ok  # 0x1a has bit 0x02


def test_a_refused_change_is_a_row_whether_or_not_the_claim_expects_it() -> None:
    from harness.case.verdict import judge
    from harness.core.evidence import ChangeOutcome
    from harness.scenario import Case

    case = Case.model_validate(
        {
            "id": "rename",
            "title": "rename an interface that is up, then send",
            "change": [
                {"host": "sender", "link": "set eth0 name lan0"},
                {"host": "sender", "route": "add 198.51.100.0/24 dev eth0", "fails_with": "EEXIST"},
            ],
            "probe": {"host": "sender", "dst": "192.0.2.193"},
            "expect": {"errno": "ok"},
        }
    )
    answers = [
        ChangeOutcome(host="sender", command="ip link set eth0 name lan0", errno="EBUSY"),
        ChangeOutcome(host="sender", command="ip route add ...", errno="EEXIST"),
    ]
    obs = observe(FRAMES, OK, [RECEIPT]).model_copy(
        update={"acts": [ActFacts(outcome=OK, changes=answers)]}
    )
    judgement = judge(case, obs)
    assert judgement.verdict == "fail"  # the kernel's answer, not a harness error
    assert [(r.field, r.expected, r.observed, r.ok) for r in judgement.comparison] == [
        ("change", "ok", "EBUSY", False),
        ("change", "EEXIST", "EEXIST", True),
        ("errno", "ok", "ok", True),
    ]


def _changed_case(version: dict[str, str]) -> Case:
    """A claim that the peer is unreachable, which kernels on the recorded side of a
    made-up change (`version`: its version, and `from` for a window) do not hold: they
    deliver."""
    return Case.model_validate(
        {
            "id": "peer",
            "title": "the peer is reached",
            "probe": {"host": "sender", "dst": "192.0.2.193"},
            "expect": {"errno": "ENETUNREACH"},
            "changed_in": {
                **version,
                "why": "a made-up change for this test",
                "before": [{"expect": {"errno": "ok", "received": ["peer"]}}],
            },
        }
    )


def test_a_claim_that_changed_at_a_version_is_judged_by_the_kernel_s_side() -> None:
    from harness.case.verdict import judge

    case = _changed_case({"version": "6.2"})
    obs = observe(FRAMES, OK, [RECEIPT])  # errno ok, peer got it
    old = judge(case, obs, "6.1.0-41-amd64")
    assert old.verdict == "changed" and "older than 6.2" in old.message
    assert not all(row.ok for row in old.article_comparison)  # the claim itself does not hold
    assert judge(case, obs, "6.12.57+deb13-amd64").verdict == "fail"  # the claim applies there
    assert judge(case, obs, "6.2").verdict == "fail"  # 6.2 is the first new one


def test_a_behaviour_one_version_brought_and_a_later_one_took_away() -> None:
    """`from` bounds a `before` side from below: only kernels in [from, version) are on it
    (fib_rule_tests.sh's `dscp 0x0f/0x0f`: 6.12 to 6.14 drop the mask); older ones and
    newer ones answer as the claim says."""
    from harness.case.verdict import judge

    case = _changed_case({"version": "6.15", "from": "6.12"})
    obs = observe(FRAMES, OK, [RECEIPT])  # errno ok, peer got it
    middle = judge(case, obs, "6.12.57+deb13-amd64")
    assert middle.verdict == "changed" and "older than 6.15" in middle.message
    assert "changed in 6.12 and again in 6.15" in middle.message
    for release in ("6.1.0-41-amd64", "6.11", "6.15", "6.18.44"):
        assert judge(case, obs, release).verdict == "fail"  # the claim applies there


def test_from_without_before_or_not_before_the_version_is_refused() -> None:
    from harness.scenario import Case

    base = {"id": "c", "title": "t", "probe": {"host": "a", "dst": "192.0.2.1"}}
    for change, words in (
        ({"version": "6.15", "from": "6.15", "before": [{}]}, r"'from' \(6.15\) must come before"),
        ({"version": "6.15", "from": "6.12", "since": [{}]}, "with 'since', leave it out"),
    ):
        with pytest.raises(ValueError, match=words):
            Case.model_validate(
                {**base, "expect": {"errno": "ok"}, "changed_in": {"why": "w", **change}}
            )


def _fragments(payload: int, mtu: int, ifname: str = "eth0") -> list[Frame]:
    """A UDP datagram from the sender cut into fragments for `mtu`, as it leaves `ifname`."""
    datagram = (
        IP(src="192.0.2.224", dst="192.0.2.193", id=0x1234)
        / UDP(sport=40000, dport=9000)
        / (b"x" * payload)
    )
    pieces = fragment(datagram, mtu - 20)  # type: ignore[no-untyped-call]
    mac = Ether(src=SENDER_MAC, dst="02:00:00:00:00:02")
    return [
        Frame("sender", ifname, 4, ARPHRD_ETHER, T0 + 0.0001 * (n + 1), bytes(mac / piece))
        for n, piece in enumerate(pieces)
    ]


def test_fragments_are_dissected_with_their_ip_header() -> None:
    """A fragment after the first has no UDP header: it is still the datagram's (proto udp),
    with its offset in bytes, MF and the identification, and the summary says so."""
    obs = observe(_fragments(2000, 1300), OK, [])
    first, second = obs.packets
    assert (first.proto, first.sport, first.mf, first.frag_offset, first.length) == (
        "udp",
        40000,
        True,
        0,
        1300,
    )
    assert (second.proto, second.sport, second.mf, second.frag_offset, second.length) == (
        "udp",
        None,
        False,
        1280,
        748,
    )
    assert (first.ip_id, second.ip_id, first.df, first.ttl) == (0x1234, 0x1234, False, 64)
    assert str(second).endswith("frag id 4660 offset 1280")
    assert "offset 0 MF" in str(first)


def test_seen_with_count_is_exact_and_waits_the_window() -> None:
    obs = observe(_fragments(2000, 1300), OK, [])
    two = Expect.model_validate({"seen": [{"host": "sender", "proto": "udp", "count": 2}]})
    three = Expect.model_validate({"seen": [{"host": "sender", "proto": "udp", "count": 3}]})
    assert passed(compare(two, obs))
    assert not passed(compare(three, obs))
    assert not two.settled_by(evidence(obs))  # "exactly" is known only after the window


def test_egresses_are_the_set_of_every_flow_s_interface() -> None:
    frames = _fragments(100, 1500, "eth0") + _fragments(100, 1500, "eth1")
    obs = observe(frames, OK, [])
    assert passed(compare(Expect.model_validate({"egresses": ["eth1", "eth0"]}), obs))
    assert not passed(compare(Expect.model_validate({"egresses": ["eth0"]}), obs))
    assert not passed(compare(Expect.model_validate({"egress_one_of": ["eth0", "eth1"]}), obs))
    one = observe(_fragments(100, 1500, "eth1"), OK, [])
    assert passed(compare(Expect.model_validate({"egress_one_of": ["eth0", "eth1"]}), one))
