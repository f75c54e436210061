"""A set-up the kernel refuses is an error naming the line of the topology, never a verdict
(issue 20: "a wrong set-up is never reported as a kernel's verdict"); a change the claim
says the kernel refuses (`fails_with`) stays a verdict."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.case.runner import run_case
from harness.outputs.headline import headline
from harness.scenario import load_scenario
from tests.conftest import needs_root

pytestmark = [needs_root, pytest.mark.kernel]

# Line 7 is the route: onlink skips the gateway's lookup, and the kernel then refuses a
# next hop on a link that is down (fib_check_nh_v4_gw: ENETDOWN), as in
# arp_ndisc_evict_nocarrier.sh's set-up after its `ip link set veth1 down`.
TOPOLOGY = """\
description: a default route through a link that is down
hosts:
  a:
    interfaces:
      eth0: {link: b.eth0, addresses: [192.0.2.1/24], up: false}
    routes:
      - default via 192.0.2.2 dev eth0 onlink
  b:
    interfaces:
      eth0: {link: a.eth0, addresses: [192.0.2.2/24]}
"""
CLAIM = """\
claim: a datagram reaches b
source: {article: a test}
topology: ./net.yaml
cases:
  - id: one
    title: a datagram from a to b
    probe: {host: a, dst: 192.0.2.2}
    expect: {errno: ok}
"""


def test_a_route_the_kernel_refuses_is_an_error_naming_its_line(
    tmp_path: Path, host_untouched: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "net.yaml").write_text(TOPOLOGY)
    (tmp_path / "claim.yaml").write_text(CLAIM)
    monkeypatch.chdir(tmp_path)  # paths are shown relative to where the run started
    scenario = load_scenario("claim.yaml")
    record = run_case(scenario, scenario.cases[0])
    assert record.verdict == "error"
    first = (
        "net.yaml:7 hosts.a.routes[0] 'default via 192.0.2.2 dev eth0 onlink': "
        "the kernel refused it: Network is down (ENETDOWN)"
    )
    assert record.message.splitlines()[0] == first
    assert (
        "host a: `ip route add default via 192.0.2.2 dev eth0 onlink` failed"
        in (record.message.splitlines()[1])
    )
    assert record.comparison == [] and record.observed is None
    assert headline(record) == first  # the terminal's, TAP's and JUnit's line


def test_an_inline_topologys_refused_route_names_the_scenarios_line(
    tmp_path: Path, host_untouched: None
) -> None:
    path = tmp_path / "claim.yaml"
    path.write_text(
        CLAIM.replace(
            "topology: ./net.yaml\n",
            "topology:\n"
            "  hosts:\n"
            "    a:\n"
            "      interfaces:\n"
            "        eth0: {link: b.eth0, addresses: [192.0.2.1/24]}\n"
            "      routes: [198.51.100.0/24 via 192.0.2.2, default via 203.0.113.1]\n"
            "    b:\n"
            "      interfaces:\n"
            "        eth0: {link: a.eth0, addresses: [192.0.2.2/24]}\n",
        )
    )
    scenario = load_scenario(path)
    record = run_case(scenario, scenario.cases[0])
    assert record.verdict == "error", record.message
    # No gateway on a connected subnet (fib_check_nh_v4_gw: ENETUNREACH).
    assert record.message.splitlines()[0] == (
        f"{path}:8 topology.hosts.a.routes[1] 'default via 203.0.113.1': "
        "the kernel refused it: Network is unreachable (ENETUNREACH)"
    )


def test_a_change_the_claim_says_is_refused_stays_a_verdict(
    tmp_path: Path, host_untouched: None
) -> None:
    (tmp_path / "net.yaml").write_text(TOPOLOGY.replace(", up: false", ""))
    claim = CLAIM.replace("dev eth0 onlink", "dev eth0")
    refused = "    change: [{host: a, route: add 198.51.100.0/24 via 203.0.113.1}]\n"
    (tmp_path / "claim.yaml").write_text(
        claim.replace("    probe:", refused + "    probe:")
        + claim.split("cases:\n")[1]
        .replace("id: one", "id: claimed")
        .replace("    probe:", refused.replace("}]", ", fails_with: ENETUNREACH}]") + "    probe:")
    )
    scenario = load_scenario(tmp_path / "claim.yaml")
    unclaimed, claimed = (run_case(scenario, case) for case in scenario.cases)
    # Refused although the case needs it: the kernel's answer, a row of the verdict.
    assert unclaimed.verdict == "fail"
    assert [(r.expected, r.observed) for r in unclaimed.differing] == [("ok", "ENETUNREACH")]
    assert claimed.verdict == "pass", claimed.message
