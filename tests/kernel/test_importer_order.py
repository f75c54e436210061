"""An imported listing's parts and steps run on the kernel as the listing runs them.

tests/listings/selftest-evict-nocarrier.sh (the shape of the kernel's
arp_ndisc_evict_nocarrier.sh) calls its set-up function three times, each with
another `arp_evict_nocarrier` setting, and sets the peer's end down after a
ping.  Merged into one set-up (issue 20, finding 2) it built a topology with
the link already down and both settings at once, and the run failed in the
set-up.  Now each call is a part: its topology builds, with the peer's end up;
the step's change (`link set veth1 down`) applies after it and takes veth0's
carrier; and the part's own setting decides, in the kernel's
neigh_carrier_down() path, whether veth0's neighbour entry survives that.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from harness.importer import import_listing
from harness.lab.builder import build
from harness.lab.netns import Lab, NetNS
from tests.conftest import ip_json, needs_root

pytestmark = [needs_root, pytest.mark.kernel]

LISTING = Path(__file__).parents[1] / "listings" / "selftest-evict-nocarrier.sh"
CARRIER_DEADLINE_S = 5.0  # a veth's carrier follows its peer's state change at once; bounded
PEER_MAC = "02:00:00:00:00:02"


def _flags(ns: NetNS, ifname: str) -> list[str]:
    (link,) = ip_json(ns, "link", "show", "dev", ifname)
    flags: list[str] = link["flags"]
    return flags


def _neighbours(ns: NetNS, ifname: str) -> list[str]:
    return [n["dst"] for n in ip_json(ns, "neigh", "show", "dev", ifname)]


@pytest.mark.parametrize(("part", "evicted"), [(0, True), (1, False), (2, False)])
def test_each_call_is_a_part_whose_step_applies_after_its_set_up(
    host_untouched: None, part: int, evicted: bool
) -> None:
    if not Path("/proc/sys/net/ipv4/conf/all/arp_evict_nocarrier").exists():
        pytest.skip("this kernel has no arp_evict_nocarrier (Linux 5.16)")
    result = import_listing(LISTING.read_text(), LISTING.name).every_part[part]
    (key, value), *_ = result.topology.hosts["host"].sysctls.items()
    peer = result.topology.hosts["peer"].interfaces["veth1"].addresses[0].ip
    with Lab("order") as lab:
        net = build(lab, result.topology)
        for change in result.changes:
            net.apply(change)
        host = lab["host"]
        assert host.read_sysctl(key) == str(value)
        # The set-up as the listing has it at its first act: both ends up, with carrier.
        assert "LOWER_UP" in _flags(host, "veth0")
        assert "UP" in _flags(lab["peer"], "veth1")
        # A neighbour entry as the listing's ping leaves one (not permanent: evictable).
        host.ipr.neigh(
            "add", dst=str(peer), lladdr=PEER_MAC, ifindex=host.link_index("veth0"), state=0x02
        )  # NUD_REACHABLE
        assert _neighbours(host, "veth0") == [str(peer)]
        (step,) = [s for s in result.steps if s.changes]
        assert [str(c) for c in step.changes] == ["peer: ip link set veth1 down"]
        for change in step.changes:
            net.apply(change)
        assert "UP" not in _flags(lab["peer"], "veth1")
        deadline = time.monotonic() + CARRIER_DEADLINE_S
        while "NO-CARRIER" not in _flags(host, "veth0") and time.monotonic() < deadline:
            continue
        assert "NO-CARRIER" in _flags(host, "veth0")
        # neigh_carrier_down() flushes the entry only where arp_evict_nocarrier is 1.
        assert _neighbours(host, "veth0") == ([] if evicted else [str(peer)])
