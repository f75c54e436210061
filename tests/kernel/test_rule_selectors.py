"""Every `ip rule` selector the parser knows means what iproute2 means, and a case's
record lists each rule as `ip rule` prints it (issue 21, item 1).

The twin: the same lines added by the harness in one lab and by the host's `ip` in
another; the kernel's tables, read back by `ip -j rule`, must be the same, and the
harness's recorded text must be `ip rule`'s own lines."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from typing import Any

import pytest

from harness.case.kernel_state import kernel_tables
from harness.lab.builder import build
from harness.lab.netlink_ip import TopologyError, rule
from harness.lab.netns import Lab, NetNS
from harness.scenario import Topology
from harness.scenario.ipsyntax import parse_rule, parse_verb
from tests.conftest import needs_root

pytestmark = [needs_root, pytest.mark.kernel]

TWO_HOSTS = Topology.model_validate(
    {
        "hosts": {
            "a": {
                "interfaces": {
                    "eth0": {"link": "b.eth0", "addresses": ["192.0.2.1/24", "2001:db8::1/64"]}
                }
            },
            "b": {
                "interfaces": {
                    "eth0": {"link": "a.eth0", "addresses": ["192.0.2.2/24", "2001:db8::2/64"]}
                }
            },
        }
    }
)

# Selectors iproute2 6.1 (the oldest `ip` the harness meets) knows.
RULE_LINES = [
    "add sport 1000-2000 dport 53 ipproto udp lookup 100",
    "add uidrange 1000-1999 lookup 101",
    "add ipproto tcp dport 443 pref 500 prohibit",
    "add from 192.0.2.0/24 sport 5000 lookup 102",
    "add from 192.0.2.7 to 198.51.100.0/24 lookup 107",
    "add -6 ipproto ipv6-icmp uidrange 0-0 lookup 103",
    "add -6 from 2001:db8::7 dport 1-65534 lookup 108",
    "add dev eth0 l3mdev pref 600",
    "add tun_id 7 lookup 104",
    "add lookup main suppress_prefixlength 0 pref 700",
    "add lookup main suppress_ifgroup default pref 701",
    "add realms 1/2 lookup 105",
    "add protocol static fwmark 0x10/0xf0 lookup 106",
    "add type unreachable iif eth0 pref 800",
    "add not to 198.51.100.0/24 goto 900 pref 850",
    "add pref 900 nop",
    "add ipproto 200 lookup 109",
    "del sport 1000-2000 dport 53 ipproto udp lookup 100",
]
# Selectors newer than iproute2 6.1 (DSCP in 6.13, flow label and masks in 6.15).
NEWER_LINES = [
    "add dscp 10 lookup 110",
    "add dscp 0x10/0x30 lookup 111",
    "add sport 0x100/0xff00 dport 53/0xffff lookup 112",
    "add -6 flowlabel 0x12345 lookup 113",
    "add -6 flowlabel 0x100/0xf00 dscp 46 lookup 114",
]


def _ip(ns: NetNS, binary: str, line: str) -> None:
    words = line.split()
    family = ["-6"] if "-6" in words else []
    subprocess.run(
        ["nsenter", f"--net={ns.path}", binary, *family, "rule", *(w for w in words if w != "-6")],
        check=True,
        capture_output=True,
    )


def _ip_rule_text(ns: NetNS, binary: str) -> list[str]:
    """`ip rule` and `ip -6 rule` as printed, one space between words, -6 before IPv6's."""
    lines = []
    for family, mark in (("-4", ""), ("-6", "-6 ")):
        out = subprocess.run(
            ["nsenter", f"--net={ns.path}", binary, family, "rule"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        lines += [mark + " ".join(line.split()) for line in out.splitlines()]
    return lines


def _ip_json(ns: NetNS, binary: str, *args: str) -> Any:
    """`ip -j ...` of this `ip`: the one that knows the selectors compared."""
    out = subprocess.run(
        ["nsenter", f"--net={ns.path}", binary, "-j", *args],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(out) if out.strip() else []


def _twin(lines: list[str], binary: str) -> None:
    with Lab("ours") as ours, Lab("iproute2") as theirs:
        net = build(ours, TWO_HOSTS, ipv6=True)
        build(theirs, TWO_HOSTS, ipv6=True)
        for line in lines:
            verb, rest = parse_verb(line, ("add", "del"))
            rule(ours["a"], verb, parse_rule(rest))
            _ip(theirs["a"], binary, line)
        for version in ("-4", "-6"):
            mine = _ip_json(ours["a"], binary, version, "rule")
            assert mine == _ip_json(theirs["a"], binary, version, "rule"), version
        # The record's text is `ip rule`'s (print_rule), for the rules iproute2 added.
        recorded = kernel_tables(net, ["a"])["a"].rules
        assert recorded == _ip_rule_text(theirs["a"], binary)


def test_rule_selectors_mean_what_iproute2_means(host_untouched: None) -> None:
    _twin(RULE_LINES, "ip")


def _ip_knows_newer_selectors() -> str | None:
    """An `ip` that knows `dscp`, `flowlabel` and port masks: $IPROUTE2_IP or the host's."""
    binary = os.environ.get("IPROUTE2_IP") or shutil.which("ip") or "ip"
    usage = subprocess.run([binary, "rule", "help"], capture_output=True, text=True).stderr
    return binary if "flowlabel" in usage and "NUMBER[/MASK]" in usage else None


def test_newer_rule_selectors_mean_what_iproute2_means(host_untouched: None) -> None:
    binary = _ip_knows_newer_selectors()
    if binary is None:
        pytest.skip("this `ip` predates dscp/flowlabel/port masks (set IPROUTE2_IP)")
    _twin(NEWER_LINES, binary)


def test_newer_rule_selectors_reach_the_kernel_and_read_back(host_untouched: None) -> None:
    """Without an `ip` that knows them: the kernel keeps what was sent, and the record
    reads it back in print_rule's words (iproute2 ip/iprule.c, 6.15 and later)."""
    with Lab("newer") as lab:
        net = build(lab, TWO_HOSTS, ipv6=True)
        try:
            for line in NEWER_LINES:
                verb, rest = parse_verb(line, ("add", "del"))
                rule(lab["a"], verb, parse_rule(rest))
        except TopologyError as exc:
            pytest.skip(f"this kernel predates the selector: {exc}")
        recorded = set(kernel_tables(net, ["a"])["a"].rules)
    for text in (
        "32765: from all lookup 110 dscp AF11",
        "32764: from all lookup 111 dscp 0x10/0x30",
        "32763: from all sport 0x100/0xff00 dport 53 lookup 112",
        "-6 32765: from all lookup 113 flowlabel 0x12345",
        "-6 32764: from all lookup 114 dscp EF flowlabel 0x100/0xf00",
    ):
        assert text in recorded, sorted(recorded)
