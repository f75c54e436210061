"""An interface's `mtu:` and `txqueuelen:` are what the kernel's link has (read back with
iproute2, an independent reader)."""

from __future__ import annotations

import pytest

from harness.lab.builder import build
from harness.lab.netns import Lab
from harness.scenario import Topology
from tests.conftest import ip_json, needs_root

pytestmark = [needs_root, pytest.mark.kernel]


def test_mtu_and_txqueuelen_are_set_on_the_link(host_untouched: None) -> None:
    topology = Topology.model_validate(
        {
            "hosts": {
                "a": {
                    "interfaces": {
                        "eth0": {
                            "link": "b.eth0",
                            "mtu": 9000,
                            "txqueuelen": 42,
                            "addresses": ["192.0.2.1/24"],
                        },
                        "br0": {"kind": "bridge", "txqueuelen": 7},
                    }
                },
                "b": {"interfaces": {"eth0": {"link": "a.eth0", "txqueuelen": 5000}}},
            }
        }
    )
    with Lab("sizes") as lab:
        build(lab, topology)
        links = {
            (host, link["ifname"]): (link["mtu"], link.get("txqlen"))
            for host in ("a", "b")
            for link in ip_json(lab[host], "link", "show")
        }
    assert links[("a", "eth0")] == (9000, 42)
    assert links[("a", "br0")][1] == 7  # a bridge has none of its own (0)
    assert links[("b", "eth0")] == (1500, 5000)  # a veth's default MTU, its own queue length
