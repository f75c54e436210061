"""The link-kind rows (the scenario language) and the lab's makers agree, kind by kind;
the lab's table of Linux constants holds the kernel's values.

Pure reading of the two tables (no kernel): a row without its maker would fail only
when a topology first uses it, a feature without its try only in `harness doctor`.
"""

from __future__ import annotations

from harness.lab.link_makers import MAKERS, TRIES
from harness.scenario.link_kinds import FEATURES, LINK_KINDS


def test_every_local_and_stacked_kind_has_a_maker() -> None:
    made_here = {k.name for k in LINK_KINDS.values() if k.role in ("local", "stacked")}
    assert set(MAKERS) == made_here


def test_every_feature_has_a_try_and_a_row() -> None:
    assert set(TRIES) == set(FEATURES)
    assert {k.feature for k in LINK_KINDS.values() if k.feature} == set(FEATURES)


def test_the_linux_constants_are_the_kernels() -> None:
    """harness/lab/linux.py against pyroute2's flags and, where Python has them, os and socket."""
    import os
    import socket

    from pyroute2.netlink.rtnl import ifinfmsg

    from harness.lab import linux

    assert (linux.IFF_UP, linux.IFF_MULTICAST, linux.IFF_LOWER_UP) == (
        ifinfmsg.IFF_UP,
        ifinfmsg.IFF_MULTICAST,
        ifinfmsg.IFF_LOWER_UP,
    )
    assert getattr(os, "CLONE_NEWNET", linux.CLONE_NEWNET) == linux.CLONE_NEWNET
    assert getattr(socket, "ETH_P_ALL", linux.ETH_P_ALL) == linux.ETH_P_ALL


def test_the_importer_reads_its_link_kinds_from_the_rows() -> None:
    """`harness import` translates exactly the kinds that have a row, as a listing makes
    them: a new row with `made_with` is a kind the importer knows, with nothing else to
    edit (issue 19); the kinds of today are among them."""
    from harness.importer.iplink import _LINK_KINDS
    from harness.importer.model import _STAYS, STACKED
    from harness.scenario.link_kinds import LINK_KINDS, TUNTAP_KINDS

    rows = LINK_KINDS.values()
    assert {k.name for k in rows if k.made_with == "ip link add"} == _LINK_KINDS
    assert {k.name for k in rows if k.made_with == "ip tuntap add"} == TUNTAP_KINDS
    assert {k.name for k in rows if k.netns_local} == _STAYS
    assert {k.name for k in rows if k.role == "stacked"} == STACKED
    assert {"bridge", "dummy", "ipvlan", "macvlan", "veth", "vrf"} <= _LINK_KINDS
    assert {"tap", "tun"} <= TUNTAP_KINDS
    assert {"bridge", "loopback", "vrf"} <= _STAYS
