"""The run report (HTML page and text view) from hand-made records and a committed real run
(pure logic; no kernel); one test drives the page in headless chromium (scripts/bootstrap dev
installs it)."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from harness.case.record import CaseRecord, KernelRun, RecordError, RunInfo
from harness.case.verdict import VERDICT_ORDER, VERDICTS
from harness.core.evidence import (
    ActFacts,
    ArpRecord,
    Observation,
    PacketRecord,
    ProbeOutcome,
    Receipt,
)
from harness.outputs.headline import headline
from harness.outputs.report import (
    MAX_ARROWS,
    render_case_text,
    sequence_svg,
    topology_svg,
    write_report,
)
from harness.outputs.report.style import CJK_CHARACTER, cjk_covered
from harness.outputs.report.svg import receipt_text
from harness.runs.store import read_results, read_run, write_results
from harness.scenario import Act, ChangedIn, Topology
from harness.scenario.expect import Comparison, Expect

# a real run of three scenarios on a real kernel, committed (tests/fuzz/test_fuzz.py mutates copies)
REAL_RUN = Path(__file__).resolve().parents[1] / "fuzz" / "results.json"
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


def run_dir(tmp_path: Path, records: list[CaseRecord], run: RunInfo | None = None) -> Path:
    write_results(tmp_path, records, run or RunInfo(started="2026-01-01T00:00:00+00:00"))
    return tmp_path


def page(tmp_path: Path, records: list[CaseRecord]) -> str:
    return write_report(run_dir(tmp_path, records)).read_text()


def arrow_titles(svg: str) -> list[str]:
    """Each arrow's hover text and its label: `TIME  FROM -> TO  (ARRIVAL)  LABEL`."""
    return [
        html.unescape(f"{title}  {label}")
        for title, label in re.findall(
            r'<g class="msg [a-z]+"><title>([^<]*)</title>.*?class="label">([^<]*)<', svg
        )
    ]


def test_report_is_one_self_contained_file(tmp_path: Path) -> None:
    path = write_report(run_dir(tmp_path, [record("pass"), record("fail")]))
    assert path == tmp_path / "report.html"
    text = path.read_text()
    assert text.startswith("<!DOCTYPE html>")
    assert "http://" not in text and "https://" not in text
    assert text.count("<script") == 1 and "<script>" in text and "src=" not in text
    assert "<link" not in text and "@import" not in text and "url(" not in text
    # one topology for the scenario, one sequence for the case that is not a plain pass
    assert "<style>" in text and text.count("<svg") == 2
    every = write_report(path.parent, every_diagram=True).read_text()
    assert every.count("<svg") == 3 and "--every-diagram</code> draws all" not in every
    assert "--every-diagram</code> draws all" in text
    assert "6.1.0-test" in text and "1 pass" in text and "1 fail" in text


def test_text_is_escaped(tmp_path: Path) -> None:
    text = page(tmp_path, [record("pass", title="<script>alert(1)</script> & more")])
    assert "<script>alert" not in text and text.count("<script>") == 1  # the page's own
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
    svg = topology_svg(record("pass").topology)
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


def test_results_json_holds_a_scenarios_shared_fields_once(tmp_path: Path) -> None:
    from harness.runs.store import write_results

    same_name = record("pass").model_copy(
        update={"case": "elsewhere", "claim": "another file of the same name says otherwise"}
    )
    records = [record("pass"), record("fail"), same_name]
    write_results(tmp_path, records, RunInfo(started="2026-01-01T00:00:00+00:00"))
    data = json.loads((tmp_path / "results.json").read_text())
    assert list(data) == ["run", "scenarios", "records"]
    assert "topology" in data["scenarios"]["dontroute"]
    assert all("topology" not in r for r in data["records"])
    # the first record in order gives the scenario's fields; others that differ keep theirs
    assert data["scenarios"]["dontroute"]["claim"] == same_name.claim
    assert sum("claim" in r for r in data["records"]) == 2
    assert read_results(tmp_path) == sorted(records, key=lambda r: r.case)


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


@pytest.fixture
def sample_run(tmp_path: Path) -> Path:
    """A run folder as a run leaves it: the committed real run's records (all pass, no
    pcaps) with this file's failing, erroring and refuted cases added, their pcaps on disk
    under the folder, all written back with the run's own writer."""
    real = tmp_path / "real"
    real.mkdir()
    shutil.copy(REAL_RUN, real / "results.json")
    run_info, records = read_run(real)
    assert run_info is not None and len(records) == 14
    made = [record("fail"), record("error", observed=None, comparison=[], message="Boom")]
    made.append(named("refuted", "peer-refuted").model_copy(update={"refuted": "it does not"}))
    made = [r.model_copy(update={"pcaps": [f"pcap/dontroute/{r.case}/eth0.pcap"]}) for r in made]
    sample = tmp_path / "sample"
    for rec in made:
        pcap = sample / rec.pcaps[0]
        pcap.parent.mkdir(parents=True)
        pcap.write_bytes(b"")
    write_results(sample, records + made, run_info)
    return sample


def test_report_on_the_sample_run(tmp_path: Path, sample_run: Path) -> None:
    run = tmp_path / "moved"  # the folder, pcaps and all, moves as one (links are relative)
    shutil.copytree(sample_run, run)
    records = read_results(run)
    text = write_report(run).read_text()
    assert len(records) == 17 and len({r.scenario for r in records}) == 4
    assert text.count('<section class="case ') == len({r.key for r in records})
    # the real run quotes Chinese articles: the page carries the CJK font, whose licence
    # notice (a CSS comment) names its authors' sites; nothing outside comments links out
    assert "SIL Open Font License" in text
    outside_comments = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    assert "http://" not in outside_comments and "https://" not in outside_comments
    failing = [r for r in records if r.verdict == "fail"]
    assert len(failing) == 1 and text.count('<section class="case fail"') == len(failing)
    assert '<section class="case error"' in text and '<section class="case refuted"' in text
    pcaps = [pcap for rec in records for pcap in rec.pcaps]
    assert len(pcaps) == 3
    for pcap in pcaps:
        assert f'href="{pcap}"' in text
    assert "(missing)" not in text


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
        "0.100 ms  sender/eth0 -> lan0/sender-eth0  (in at 0.200 ms)"
        "  NDP who-has 2001:db8::2 tell 2001:db8::1"
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
    claims = case_text.index("what the article claims (refuted):")
    assert case_text.index("received by", claims) < case_text.index("what this kernel does", claims)


# ---------------------------------------------------------------- the page as a whole


def on(kernel: str, rec: CaseRecord) -> CaseRecord:
    return rec.model_copy(update={"kernel": kernel})


def named(verdict: str, case: str) -> CaseRecord:
    return record(verdict).model_copy(update={"case": case})


def sections(text: str) -> dict[str, str]:
    """Each case section by its anchor."""
    return {
        m[1]: m[0]
        for m in re.finditer(r'<section class="case [a-z]+" id="([^"]+)".*?</section>', text, re.S)
    }


def test_the_report_places_every_verdict() -> None:
    assert sorted(VERDICT_ORDER) == sorted(VERDICTS)
    assert VERDICT_ORDER[:2] == ("fail", "error") and VERDICT_ORDER[-1] == "pass"


def test_not_a_plain_pass_lists_failures_first(tmp_path: Path) -> None:
    # named so that alphabetical order would be the wrong one
    records = [
        named("refuted", "a-refuted"),
        named("skip", "b-skip"),
        named("changed", "c-changed"),
        named("error", "d-error"),
        named("fail", "z-fail"),
        named("pass", "e-pass"),
    ]
    text = page(tmp_path, records)
    listed = text[text.index("<h2>not a plain pass") :]
    listed = listed[: listed.index("</ul>")]
    order = re.findall(r'<span class="badge ([a-z]+)">', listed)
    assert order == ["fail", "error", "changed", "refuted", "skip"]
    counts = re.findall(r'<span class="badge ([a-z]+)">1 ', text[: text.index("not a plain")])
    assert counts[: len(VERDICT_ORDER)] == list(VERDICT_ORDER)  # head counts, then filter


def test_filter_bar_and_what_it_reads(tmp_path: Path) -> None:
    text = page(tmp_path, [record("pass"), record("fail"), named("refuted", "r")])
    bar = text[text.index('<div id="filter"') :]
    bar = bar[: bar.index("</div>")]
    assert 'class="filter" hidden' in bar  # shown by the script: without it, no dead controls
    assert re.findall(r'type="checkbox" value="([a-z]+)" checked', bar) == [
        "fail",
        "refuted",
        "pass",
    ]
    assert 'type="search"' in bar
    found = sections(text)
    assert len(found) == 3
    for anchor, section in found.items():
        verdict = re.search(r'data-v="([a-z ]+)"', section)
        assert verdict is not None and verdict[1] in section.split('"')[1]
        # the summary row and the section carry the same case
        assert f'<tr data-case="{anchor}"' in text
    assert 'data-scenario="scenario-dontroute"' in text
    script = text[text.index("<script>") : text.index("</script>")]
    assert "fetch" not in script and "http" not in script


@pytest.mark.skipif(shutil.which("chromium") is None, reason="no chromium (bootstrap dev has it)")
def test_filter_runs_in_a_browser(tmp_path: Path) -> None:
    """The page's own script, driven like a reader: untick pass, then search a word."""
    records = [record("pass"), record("fail"), named("refuted", "r")]
    path = write_report(run_dir(tmp_path, records))
    text = path.read_text()
    drive = (
        '<script>document.querySelector("#filter input[value=pass]").click();'
        'var q = document.querySelector("#filter input[type=search]");'
        'q.value = "PEER-FAIL"; q.dispatchEvent(new Event("input", {bubbles: true}));</script>'
    )
    path.write_text(text.replace("</body>", drive + "</body>"))
    with tempfile.TemporaryDirectory() as profile:
        dom = subprocess.run(
            [
                "chromium",
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                f"--user-data-dir={profile}",
                "--dump-dom",
                path.as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        ).stdout
    shown = re.findall(r'<section class="case [a-z]+" id="([^"]+)"(?![^>]*hidden)', dom)
    assert shown == ["case-dontroute-peer-fail"]
    assert "1 of 3 cases shown" in dom
    assert '<div id="filter" class="filter">' in dom  # the script showed the bar


def test_chinese_text_has_a_font_wherever_the_page_is_opened(tmp_path: Path) -> None:
    chinese = record("pass", section="3 对比测试 (3.1 同网段的测试)")
    text = page(tmp_path, [chinese])
    assert "3 对比测试" in text
    style = text[text.index("<style>") : text.index("</style>")]
    # fonts the usual systems have, then the embedded subset, before the generic family
    assert '"Noto Sans CJK SC"' in style and '"Microsoft YaHei"' in style
    assert '"harness CJK subset", sans-serif' in style
    face = re.search(r"@font-face \{[^}]*\}", style)
    assert face is not None and "url(data:font/woff2;base64," in face[0]
    assert "unicode-range: U+3000-303F" in face[0] and "SIL Open Font License" in style
    # the only url( is the font's data URL: nothing is fetched
    assert style.count("url(") == 1 and "url(data:" in style
    # a page without CJK characters does not carry the font
    plain = tmp_path / "plain"
    plain.mkdir()
    assert "@font-face" not in page(plain, [record("pass")])


def test_the_embedded_font_covers_the_catalogue() -> None:
    """Every CJK character of the scenarios and topologies has a glyph in the subset
    (scripts/cjk-font rebuilds it when a new one comes in)."""
    root = Path(__file__).resolve().parents[2]
    used = {
        c
        for folder in ("scenarios", "fixtures")
        for path in (root / folder).rglob("*.yaml")
        for c in CJK_CHARACTER.findall(path.read_text(encoding="utf-8"))
    }
    assert used, "the catalogue quotes Chinese articles"
    assert used <= cjk_covered(), f"run scripts/cjk-font: {''.join(sorted(used - cjk_covered()))}"
    font = root / "harness/outputs/report/fonts/cjk-subset.woff2"
    assert font.read_bytes()[:4] == b"wOF2"
    assert "SIL OPEN FONT LICENSE Version 1.1" in (font.parent / "OFL.txt").read_text()


KERNELS = ["6.12.48", "6.1.0-41-amd64", "6.9.0"]


def test_several_kernels_one_section_per_case_and_one_column_per_kernel(tmp_path: Path) -> None:
    same = [on(k, record("pass")) for k in KERNELS]
    differing = [on(k, record("fail")) for k in KERNELS[1:]] + [on(KERNELS[0], record("fail"))]
    differing[-1] = differing[-1].model_copy(update={"verdict": "pass"})  # 6.12 passes
    run = RunInfo(
        started="2026-01-01T00:00:00+00:00",
        finished="2026-01-01T00:01:00+00:00",
        kernels=[
            KernelRun(release=KERNELS[1], label="6.1", machine="guest (tcg)"),
            KernelRun(release="5.10.0", label="5.10", machine="guest (tcg)", error="no boot"),
        ],
    )
    text = write_report(
        run_dir(tmp_path, same + differing, run), None, every_diagram=True
    ).read_text()
    header = re.search(r'<table class="summary"><tr>(.*?)</tr>', text)
    assert header is not None
    # one column per kernel, oldest first by version (6.9 before 6.12)
    assert re.findall(r'<th class="kernel">([^<]*)</th>', header[1]) == [
        "6.1.0-41-amd64",
        "6.9.0",
        "6.12.48",
    ]
    found = sections(text)
    assert len(found) == 2  # one per case, not per kernel
    agreeing = found["case-dontroute-peer-pass"]
    assert agreeing.count('class="kgroup"') == 1 and agreeing.count("<svg") == 1
    assert "on 6.1.0-41-amd64, 6.9.0, 6.12.48 <span" in agreeing
    split = found["case-dontroute-peer-fail"]
    assert split.count('class="kgroup"') == 2 and split.count("<svg") == 2
    assert "FAIL</span> on 6.1.0-41-amd64, 6.9.0 <span" in split
    assert "PASS</span> on 6.12.48</h4>" in split
    assert 'data-v="fail pass"' in split
    assert "6.1.0-41-amd64 (guest (tcg), asked as 6.1)" in text
    assert "5.10 (guest (tcg)): <pre>no boot</pre>" in text


def test_kernels_that_agree_cost_little(tmp_path: Path) -> None:
    """The page for a case on four kernels that agree is not four pages: its drawings and
    tables are there once; and the whole page stays small."""
    cases = [named("pass", f"case-{n}") for n in range(20)]
    kernels = ["5.10.0", "6.1.0", "6.12.0", "6.18.0"]
    (tmp_path / "one").mkdir()
    (tmp_path / "four").mkdir()
    one = write_report(run_dir(tmp_path / "one", cases), every_diagram=True)
    four = write_report(
        run_dir(tmp_path / "four", [on(k, c) for c in cases for k in kernels]), every_diagram=True
    )
    size_one, size_four = one.stat().st_size, four.stat().st_size
    assert four.read_text().count("<svg") == one.read_text().count("<svg") == 21
    assert size_four < 1.3 * size_one, (size_one, size_four)
    # the catalogue (326 cases) made a 4.1 MB page before this layout, 2.9 MB with it
    assert size_one < 20 * 10_000, size_one


def test_heavy_details_are_folded_unless_the_case_failed(tmp_path: Path) -> None:
    text = page(tmp_path, [record("pass"), record("fail")])
    found = sections(text)
    passing, failing = found["case-dontroute-peer-pass"], found["case-dontroute-peer-fail"]
    assert "<details><summary>trace:" in passing and "<svg" not in passing
    assert "<details open><summary>sequence:" in failing
    assert "<details><summary>trace:" in failing


def test_receipts_are_worded_for_their_protocol() -> None:
    udp = Receipt(host="b", src="192.0.2.1", sport=4000, ifname="", payload_size=8)
    assert receipt_text(udp) == "b: socket got 8 bytes from 192.0.2.1:4000"  # no "on ?"
    tcp = Receipt(host="b", src="192.0.2.1", sport=4000, dst="192.0.2.2", proto="tcp")
    assert receipt_text(tcp) == "b: accepted a connection from 192.0.2.1:4000 to 192.0.2.2"
    ping = Receipt(host="b", src="192.0.2.2", dst="a", payload_size=64, proto="icmp")
    assert receipt_text(ping) == "b: echo reply from 192.0.2.2 reached a's socket"


def _boxes(svg: str) -> list[tuple[int, str, tuple[float, float, float, float]]]:
    """(row, kind, box) of everything drawn in a sequence diagram, text boxes as the
    browser draws them in a 0.6 em monospace font with the label's 2 px halo."""
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    found: list[tuple[int, str, tuple[float, float, float, float]]] = []

    def text_box(e: ET.Element) -> tuple[float, float, float, float]:
        cls = e.get("class", "")
        size = {"time": 10.5, "headtext": 12.0}.get(cls, 11.0)
        width = len(e.text or "") * size * 0.6
        anchor = e.get("text-anchor") or {"label": "middle", "time": "end"}.get(cls, "start")
        x, y = float(e.get("x", 0)), float(e.get("y", 0))
        left = x - width / 2 if anchor == "middle" else x - width if anchor == "end" else x
        halo = 2.0 if cls == "label" else 0.0
        return (left - halo, y - 0.76 * size - halo, left + width + halo, y + 0.24 * size + halo)

    row = 0
    for e in root:
        tag = e.tag.removeprefix(ns)
        if tag == "g":  # one arrow: its row holds its line, head, dots, label and time
            row += 1
            for part in e:
                kind = part.tag.removeprefix(ns)
                if kind == "text":
                    label = part.get("class") == "label"
                    found.append((row, "label" if label else "text", text_box(part)))
                elif kind == "line":
                    x1, x2 = sorted(float(part.get(k, 0)) for k in ("x1", "x2"))
                    y = float(part.get("y1", 0))
                    found.append((row, "line", (x1, y - 0.8, x2, y + 0.8)))
                elif kind == "polygon":
                    pts = [tuple(map(float, p.split(","))) for p in part.get("points", "").split()]
                    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
                    found.append((row, "head", (min(xs), min(ys), max(xs), max(ys))))
        elif tag == "rect" and e.get("class") not in {"head", "headlan"}:
            row += 1
            x, y = float(e.get("x", 0)), float(e.get("y", 0))
            w, h = float(e.get("width", 0)), float(e.get("height", 0))
            found.append((row, "box", (x, y, x + w, y + h)))
        elif tag == "text" and e.get("class") == "boxtext":
            found.append((row, "text", text_box(e)))
    return found


def test_arrow_labels_overlap_nothing_of_another_row() -> None:
    """A label sits above its own arrow, clear of it, and clear of every other arrow,
    arrowhead, label, box and time of the diagram."""
    failed = ProbeOutcome(errno="ENETUNREACH", message="sendto: Network is unreachable", time=1.0)
    late = pkt(5.0, "sender", "eth0", "out", "udp", "UDP 192.0.2.224:40001 > 192.0.2.193:9000", 1)
    several = observed_with(
        record("pass", acts=[act("peer"), act("peer")]),
        acts=[ActFacts(outcome=OK), ActFacts(outcome=failed)],
        packets=[*PACKETS, late],
    )
    for rec in (record("pass"), record("fail"), several):
        drawn = _boxes(sequence_svg(rec))
        texts = [(row, kind, b) for row, kind, b in drawn if kind in {"label", "text"}]
        assert sum(1 for _, kind, _ in texts if kind == "label") >= OUT_FRAMES
        for row, what, box in texts:
            for other_row, kind, other in drawn:
                if other is box or (other_row == row and kind != "line"):
                    continue
                if other_row == row:  # its own arrow: a label is above the line
                    assert what != "label" or box[3] < other[1], (box, other)
                    continue
                overlap = box[0] < other[2] and other[0] < box[2]
                overlap = overlap and box[1] < other[3] and other[1] < box[3]
                assert not overlap, (row, box, other_row, kind, other)


def test_a_changed_case_says_its_change_once() -> None:
    change = ChangedIn.model_validate(
        {"version": "6.12", "why": "rules learnt DSCP", "before": [{"expect": {"errno": "ok"}}]}
    )
    message = f"this kernel (6.1.0-test) is older than 6.12: {change.summary()}"
    line = headline(record("changed", changed_in=change, message=message))
    assert line == message and line.count("rules learnt DSCP") == 1
