"""The run report (HTML page and text view) from hand-made records (pure logic; no kernel)."""

from __future__ import annotations

import html
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from harness.expect import Comparison, Expect
from harness.facts import ActFacts, ArpRecord, Observation, PacketRecord, ProbeOutcome, Receipt
from harness.record import CaseRecord, RecordError, RunInfo
from harness.report import (
    MAX_ARROWS,
    render_case_text,
    sequence_svg,
    topology_svg,
    write_report,
)
from harness.results import read_results, write_results
from harness.scenario import Act, Topology

SAMPLE_RUN = Path("/tmp/sample/results")
SENDER_MAC = "02:00:00:00:00:01"
PEER_MAC = "02:00:00:00:00:02"
UDP = "UDP 192.0.2.224:40000 > 192.0.2.193:9000 len 8 ttl 64"
ICMP = "ICMP 198.51.100.1 > 198.51.100.184 type 3 code 1 ttl 64"

TOPOLOGY: dict[str, Any] = {
    "name": "lan-with-gateway",
    "hosts": {
        "sender": {
            "interfaces": {"eth0": {"lan": "lan0", "link": None, "addresses": ["192.0.2.224/24"]}},
            "routes": ["default via 192.0.2.1"],
            "sysctls": {},
        },
        "peer": {
            "interfaces": {"eth0": {"lan": "lan0", "link": None, "addresses": ["192.0.2.193/24"]}},
            "routes": [],
            "sysctls": {},
        },
        "gw": {
            "interfaces": {
                "eth0": {"lan": "lan0", "link": None, "addresses": ["192.0.2.1/24"]},
                "eth1": {"lan": None, "link": "far.eth0", "addresses": ["198.51.100.1/24"]},
            },
            "routes": [],
            "sysctls": {"net.ipv4.ip_forward": 1},
        },
        "far": {
            "interfaces": {
                "eth0": {"lan": None, "link": "gw.eth1", "addresses": ["198.51.100.184/24"]}
            },
            "routes": ["default via 198.51.100.1"],
            "sysctls": {},
        },
    },
}


def arp(t: float, ns: str, ifname: str, direction: str, op: str) -> ArpRecord:
    """The sender's request for the peer, or the peer's reply to it."""
    request = op == "who-has"
    return ArpRecord(
        t_ms=t,
        host=ns,
        ifname=ifname,
        direction=direction,
        op=op,
        target="192.0.2.193" if request else "192.0.2.224",
        sender="192.0.2.224" if request else "192.0.2.193",
        sender_mac=SENDER_MAC if request else PEER_MAC,
    )


def pkt(
    t: float, ns: str, ifname: str, direction: str, proto: str, text: str, act: int = 0
) -> PacketRecord:
    return PacketRecord(
        t_ms=t,
        host=ns,
        ifname=ifname,
        direction=direction,
        pkttype="outgoing" if direction == "out" else "host",
        proto=proto,
        src="",
        dst="",
        summary=text,
        act=act,
    )


# ARP through the bridge namespace and back, the datagram to peer, and an ICMP
# message from gw that no capture saw arriving.
ARP = [
    arp(0.010, "sender", "eth0", "out", "who-has"),
    arp(0.011, "lan0", "sender-eth0", "in", "who-has"),
    arp(0.011, "lan0", "br0", "in", "who-has"),
    arp(0.020, "lan0", "peer-eth0", "out", "who-has"),
    arp(0.021, "peer", "eth0", "in", "who-has"),
    arp(0.020, "lan0", "gw-eth0", "out", "who-has"),
    arp(0.021, "gw", "eth0", "in", "who-has"),
    arp(0.030, "peer", "eth0", "out", "is-at"),
    arp(0.031, "lan0", "peer-eth0", "in", "is-at"),
    arp(0.040, "lan0", "sender-eth0", "out", "is-at"),
    arp(0.041, "sender", "eth0", "in", "is-at"),
]
PACKETS = [
    pkt(0.050, "sender", "eth0", "out", "udp", UDP),
    pkt(0.051, "lan0", "sender-eth0", "in", "udp", UDP),
    pkt(0.060, "lan0", "peer-eth0", "out", "udp", UDP),
    pkt(0.061, "peer", "eth0", "in", "udp", UDP),
    pkt(0.070, "gw", "eth1", "out", "icmp", ICMP),
]
OUT_FRAMES = sum(1 for f in ARP if f.direction == "out") + sum(
    1 for p in PACKETS if p.direction == "out"
)
OK = ProbeOutcome(errno="ok", message="sendto: 8 bytes accepted", time=1000.0)
RECEIPT = Receipt(
    host="peer", src="192.0.2.224", sport=40000, dst="192.0.2.193", ifname="eth0", payload_size=8
)
PROBE = {"host": "sender", "dst": "192.0.2.193", "sockopts": ["SO_DONTROUTE"]}


def act(receiver: str, **probe: Any) -> Act:
    return Act.model_validate(
        {
            "change": [{"host": "sender", "route": "del default"}],
            "probe": {**PROBE, **probe},
            "expect": {"errno": "ok", "received": [f"{receiver} from 192.0.2.224"]},
        }
    )


def record(verdict: str = "pass", title: str = "same-subnet peer", **extra: Any) -> CaseRecord:
    ok = verdict == "pass"
    expected_receiver = "peer" if ok else "far"
    fields: dict[str, Any] = {
        "scenario": "dontroute",
        "case": f"peer-{verdict}",
        "file": "scenarios/dontroute/x.yaml",
        "title": title,
        "claim": "SO_DONTROUTE keeps the route lookup",
        "article": "so_dontroute-experiment.zh.txt",
        "section": "3.1",
        "kernel": "6.1.0-test",
        "verdict": verdict,
        "topology": Topology.model_validate(TOPOLOGY),
        "acts": [act(expected_receiver)],
        "observed": Observation(
            acts=[ActFacts(outcome=OK)], arp=ARP, packets=PACKETS, received=[RECEIPT]
        ),
        "comparison": [
            Comparison(field="errno", label="errno", expected="ok", observed="ok", ok=True),
            Comparison(
                field="received",
                label="received by",
                expected=f"{expected_receiver} from 192.0.2.224",
                observed="peer from 192.0.2.224",
                ok=ok,
            ),
        ],
        "pcaps": [f"pcap/dontroute/peer-{verdict}/sender-eth0.pcap"],
    }
    return CaseRecord(**{**fields, **extra})


def observed_with(rec: CaseRecord, **update: Any) -> CaseRecord:
    assert rec.observed is not None
    return rec.model_copy(update={"observed": rec.observed.model_copy(update=update)})


def run_dir(tmp_path: Path, records: list[CaseRecord]) -> Path:
    write_results(tmp_path, records, RunInfo(started="2026-01-01T00:00:00+00:00"))
    return tmp_path


def page(tmp_path: Path, records: list[CaseRecord]) -> str:
    return write_report(run_dir(tmp_path, records)).read_text()


def arrow_titles(svg: str) -> list[str]:
    return [html.unescape(t) for t in re.findall(r'<g class="msg [a-z]+"><title>([^<]*)<', svg)]


def test_report_is_one_self_contained_file(tmp_path: Path) -> None:
    path = write_report(run_dir(tmp_path, [record("pass"), record("fail")]))
    assert path == tmp_path / "report.html"
    text = path.read_text()
    assert text.startswith("<!DOCTYPE html>")
    assert "http://" not in text and "https://" not in text
    assert "<script" not in text and "src=" not in text
    assert "<link" not in text and "@import" not in text and "url(" not in text
    assert "<style>" in text and text.count("<svg") == 4  # topology + sequence per case
    assert "6.1.0-test" in text and "1 pass" in text and "1 fail" in text


def test_text_is_escaped(tmp_path: Path) -> None:
    text = page(tmp_path, [record("pass", title="<script>alert(1)</script> & more")])
    assert "<script>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in text


def test_summary_links_each_case_to_its_section(tmp_path: Path) -> None:
    text = page(tmp_path, [record("pass"), record("fail")])
    for anchor in re.findall(r'<section class="case [a-z]+" id="([^"]+)"', text):
        assert f'href="#{anchor}"' in text
    assert "so_dontroute-experiment.zh.txt 3.1" in text


def test_sequence_has_one_arrow_per_frame_leaving_a_namespace() -> None:
    svg = sequence_svg(record("pass"))
    titles = arrow_titles(svg)
    assert len(titles) == OUT_FRAMES
    # receivers are the other ends the topology names: the bridge port, then the host
    assert any("sender/eth0 -> lan0/sender-eth0" in t and "who-has" in t for t in titles)
    assert any("lan0/gw-eth0 -> gw/eth0" in t for t in titles)
    assert any("lan0/peer-eth0 -> peer/eth0" in t and "UDP" in t for t in titles)
    # a frame nobody was seen receiving ends at a stub
    assert any("gw/eth1 -> (not seen arriving anywhere)" in t and "ICMP" in t for t in titles)
    assert "udp sendto 192.0.2.193:9000 [SO_DONTROUTE] -&gt; ok" in svg


def test_lifelines_put_the_lan_among_its_hosts() -> None:
    names = re.findall(r'class="headtext">([^<]*)<', sequence_svg(record("pass")))
    assert names[0] == "sender"
    assert set(names) == {"sender", "peer", "lan0 (bridge)", "gw"}  # far saw nothing
    assert names.index("sender") < names.index("lan0 (bridge)") < names.index("gw")


def test_arrows_without_topology_go_to_the_nearest_arrival() -> None:
    bare = Topology.model_validate({"hosts": {h: {} for h in TOPOLOGY["hosts"]}})
    rec = record("pass", topology=bare)
    titles = arrow_titles(sequence_svg(rec))
    assert len(titles) == OUT_FRAMES
    assert any("sender/eth0 -> lan0/" in t and "who-has" in t for t in titles)
    assert any("peer/eth0 -> lan0/peer-eth0" in t and "is-at" in t for t in titles)


def test_long_traces_are_capped() -> None:
    many = [pkt(0.1 + n / 100, "sender", "eth0", "out", "udp", f"{UDP} #{n}") for n in range(75)]
    svg = sequence_svg(observed_with(record("pass"), packets=many))
    assert len(arrow_titles(svg)) == MAX_ARROWS
    arp_out = sum(1 for f in ARP if f.direction == "out")
    assert f"{arp_out + 75 - MAX_ARROWS} more frame(s) not drawn" in svg


def test_failing_case_is_marked(tmp_path: Path) -> None:
    text = page(tmp_path, [record("pass"), record("fail")])
    section = text[text.index('<section class="case fail"') :]
    section = section[: section.index("</section>")]
    assert 'class="banner"' in section and "received by" in section
    assert '<tr class="bad">' in section
    assert 'class="figure failing"' in section
    assert "far: expected a datagram from 192.0.2.224, got none" in section
    assert "(not expected)" in section  # peer got it instead
    passing = text[text.index('<section class="case pass"') :]
    assert 'class="banner"' not in passing[: passing.index("</section>")]


def test_pcaps_are_linked_relative_to_the_report(tmp_path: Path) -> None:
    pcap = tmp_path / "pcap/dontroute/peer-pass/sender-eth0.pcap"
    pcap.parent.mkdir(parents=True)
    pcap.write_bytes(b"")
    text = page(tmp_path, [record("pass"), record("fail")])
    assert '<a href="pcap/dontroute/peer-pass/sender-eth0.pcap">sender-eth0.pcap</a></li>' in text
    assert "sender-eth0.pcap</a> <span" in text  # peer-fail's pcap is missing


def test_topology_svg_draws_hosts_lan_and_link() -> None:
    svg = topology_svg(record("pass"))
    assert svg.count('class="hostbox"') == 4
    assert svg.count('class="lanbar"') == 1 and svg.count('class="veth"') == 1
    assert "192.0.2.224/24" in svg and "lan0 (bridge)" in svg


def test_records_read_back_as_written(tmp_path: Path) -> None:
    records = [record("pass"), record("fail")]
    assert read_results(run_dir(tmp_path, records)) == sorted(records, key=lambda r: r.case)


def test_an_error_record_renders_without_an_observation(tmp_path: Path) -> None:
    error = record("error", observed=None, comparison=[], message="Boom: <oops>")
    text = page(tmp_path, [error])
    assert "Boom: &lt;oops&gt;" in text and "1 error" in text
    assert "ERROR dontroute/peer-error" in render_case_text(error)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda r: r.pop("verdict"), "verdict"),
        (lambda r: r.update(verdict="maybe"), "verdict"),
        (lambda r: r["observed"]["packets"][0].update(probe=0), "observed.packets.0.probe"),
        (lambda r: r["acts"][0]["probe"].update(dst="10.0.0.1"), "acts.0.probe.dst"),
    ],
)
def test_a_malformed_record_is_refused_with_its_field(
    tmp_path: Path, change: Any, field: str
) -> None:
    data = json.loads(record("fail").to_json())
    change(data)
    good = json.loads(record("pass").to_json())
    (tmp_path / "results.json").write_text(
        json.dumps({"run": {"started": "2026-01-01T00:00:00+00:00"}, "records": [good, data]})
    )
    with pytest.raises(RecordError) as caught:
        read_results(tmp_path)
    assert caught.value.where == f"{tmp_path / 'results.json'}: record 2"
    assert caught.value.field == field


def test_case_text_has_topology_and_the_differing_field() -> None:
    text = render_case_text(record("fail"))
    assert text.startswith("FAIL dontroute/peer-fail: same-subnet peer")
    assert "topology: lan-with-gateway" in text
    assert "sender  eth0   lan lan0" in text and "192.0.2.224/24" in text
    assert "route  default via 192.0.2.1" in text
    assert "eth1   link far.eth0" in text and "sysctl net.ipv4.ip_forward=1" in text
    assert "lan0    bridge: sender.eth0, peer.eth0, gw.eth0" in text
    assert "change: sender: ip route del default" in text
    assert "probe: sender: udp sendto 192.0.2.193:9000 [SO_DONTROUTE] -> ok" in text
    differing = [line for line in text.splitlines() if line.endswith("<-- differs")]
    assert len(differing) == 1 and "received by" in differing[0]
    # the trace is in time order across every interface
    times = [float(m) for m in re.findall(r"^\s+(\d+\.\d+) ms", text, re.MULTILINE)]
    assert len(times) == len(ARP) + len(PACKETS) and times == sorted(times)


@pytest.mark.skipif(not (SAMPLE_RUN / "results.json").is_file(), reason="no sample run")
def test_report_on_the_sample_run(tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(SAMPLE_RUN, run)
    records = read_results(run)
    text = write_report(run).read_text()
    assert text.count('<section class="case ') == len(records)
    assert "http://" not in text and "https://" not in text
    failing = [r for r in records if r.verdict == "fail"]
    assert text.count('<section class="case fail"') == len(failing)
    for rec in records:
        for pcap in rec.pcaps:
            assert f'href="{pcap}"' in text


def test_several_probes_get_one_syscall_box_each() -> None:
    failed = ProbeOutcome(errno="ENETUNREACH", message="sendto: Network is unreachable", time=1.0)
    late = pkt(5.0, "sender", "eth0", "out", "udp", "UDP 192.0.2.224:40001 > 192.0.2.193:9000", 1)
    rec = record("pass", acts=[act("peer"), act("peer")])
    rec = observed_with(
        rec, acts=[ActFacts(outcome=OK), ActFacts(outcome=failed)], packets=[*PACKETS, late]
    )
    svg = sequence_svg(rec)
    first, second = svg.index("probe 1 -&gt; ok"), svg.index("probe 2 -&gt; ENETUNREACH")
    icmp = svg.index(html.escape(ICMP))  # the last frame of probe 1
    assert first < svg.index("ARP who-has") < icmp < second < svg.index(":40001")
    text = render_case_text(rec)
    assert "-> probe 1: ok (sendto: 8 bytes accepted); probe 2: ENETUNREACH" in text


def test_neighbour_discovery_is_drawn_like_arp() -> None:
    ns: dict[str, Any] = {
        "op": "who-has",
        "target": "2001:db8::2",
        "sender": "2001:db8::1",
        "protocol": "ndp",
    }
    solicitations = [
        ArpRecord(**ns, t_ms=0.1, host="sender", ifname="eth0", direction="out"),
        ArpRecord(**ns, t_ms=0.2, host="lan0", ifname="sender-eth0", direction="in"),
    ]
    rec = observed_with(record("pass"), arp=solicitations, packets=[])
    titles = arrow_titles(sequence_svg(rec))
    assert titles == [
        "0.100 ms  sender/eth0 -> lan0/sender-eth0  NDP who-has 2001:db8::2 tell 2001:db8::1"
        "  (in at 0.200 ms)"
    ]


def test_refuted_claim_is_shown_as_a_finding(tmp_path: Path) -> None:
    kernel_does = Expect.model_validate({"arp": {"sender": ["who-has 192.0.2.193"]}})
    refuted_act = act("peer").model_copy(update={"kernel_does": kernel_does})
    rec = record(
        "refuted",
        refuted="the kernel <does> ARP for the peer",
        acts=[refuted_act],
        article_comparison=[
            Comparison(
                field="received", label="received by", expected="(none)", observed="peer", ok=False
            )
        ],
    )
    text = page(tmp_path, [rec])
    assert '<section class="case refuted"' in text and "1 refuted" in text
    assert 'class="refuted-note"' in text and "the kernel &lt;does&gt; ARP" in text
    assert 'class="banner"' not in text  # a finding, not a failure
    case_text = render_case_text(rec)
    assert "refuted: the kernel <does> ARP for the peer" in case_text
    assert "kernel does: sender asks who-has 192.0.2.193" in case_text
    assert "what the kernel does instead</b>: sender asks who-has 192.0.2.193" in text
    assert "what the article claims (refuted)" in text
    claims = case_text.index("what the article claims:")
    assert case_text.index("received by", claims) < case_text.index("what this kernel does", claims)
