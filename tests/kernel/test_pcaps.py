"""A case's pcaps hold the frames the verdict was based on, with valid checksums."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from scapy.layers.inet import IP, UDP
from scapy.utils import rdpcap

from harness.case.runner import run_case
from harness.core.env import SCENARIO_DIR
from harness.scenario import load_scenario
from tests.conftest import needs_root

pytestmark = [needs_root, pytest.mark.kernel]


def test_pcaps_match_the_trace_and_checksums_are_valid(tmp_path: Path) -> None:
    scenario = load_scenario(SCENARIO_DIR / "dontroute" / "so-dontroute-experiment-table.yaml")
    record = run_case(
        scenario, scenario.case("control-far-with-default-route"), tmp_path, pcaps="all"
    )
    assert record.verdict == "pass" and record.observed is not None
    observed = record.observed
    whole, *per_interface = record.pcaps
    assert whole == (
        f"pcap/{record.kernel}/so-dontroute-experiment-table/control-far-with-default-route.pcapng"
    )
    everything = rdpcap(str(tmp_path / whole))
    assert len(everything) == len(observed.arp) + len(observed.packets)
    assert {p.sniffed_on for p in everything} >= {"sender/eth0", "far/eth0", "lan0/gw-eth0"}
    for relative in per_interface:
        path = tmp_path / relative
        host, _, ifname = path.stem.partition("-")
        frames = rdpcap(str(path))
        in_trace = [r for r in observed.trace() if r.host == host and r.ifname == ifname]
        assert len(frames) == len(in_trace), path.name
        for frame in frames:
            if UDP in frame:
                sent = frame[UDP].chksum
                frame[UDP].chksum = None  # scapy recomputes it when rebuilt
                assert IP(bytes(frame[IP]))[UDP].chksum == sent, f"{path.name}: UDP checksum"
        if shutil.which("tshark"):
            out = subprocess.run(
                ["tshark", "-r", str(path)], capture_output=True, text=True, check=True
            ).stdout
            assert len(out.splitlines()) == len(frames), f"tshark reads {path.name} differently"
    assert any("sender-eth0" in p for p in record.pcaps)


def test_a_passing_case_keeps_no_pcap_by_default(tmp_path: Path) -> None:
    scenario = load_scenario(SCENARIO_DIR / "dontroute" / "so-dontroute-experiment-table.yaml")
    record = run_case(scenario, scenario.case("control-far-with-default-route"), tmp_path)
    assert record.verdict == "pass" and record.pcaps == []
    assert not (tmp_path / "pcap").exists()  # no empty folders either
