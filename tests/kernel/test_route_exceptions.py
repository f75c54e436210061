"""Expectations on the route lookup's exception state (issue 21, item 1): after a PMTU
error, `ip route get` answers from an exception with the path's MTU and an expiry, for
IPv4 and IPv6.  The twin: the harness's recorded lookup beside `ip -j route get`.

    a: eth0 192.0.2.1/24 2001:db8:1::1/64 --veth-- r: eth0 192.0.2.254/24 2001:db8:1::fe/64
                                                   r: eth1 198.51.100.254/24 2001:db8:2::fe/64
    b: eth0 198.51.100.2/24 2001:db8:2::2/64 (mtu 1300) --veth-- r: eth1 (mtu 1300)
"""

from __future__ import annotations

import select
import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.case.kernel_state import route_get
from harness.case.runner import run_case
from harness.lab.builder import build
from harness.lab.netns import Lab
from harness.scenario import Probe, Topology, load_scenario
from tests.conftest import needs_root

pytestmark = [needs_root, pytest.mark.kernel]

TOPOLOGY: dict[str, Any] = {
    "hosts": {
        "a": {
            "interfaces": {
                "eth0": {"link": "r.eth0", "addresses": ["192.0.2.1/24", "2001:db8:1::1/64"]}
            },
            "routes": ["default via 192.0.2.254", "default via 2001:db8:1::fe"],
        },
        "r": {
            "interfaces": {
                "eth0": {"link": "a.eth0", "addresses": ["192.0.2.254/24", "2001:db8:1::fe/64"]},
                "eth1": {
                    "link": "b.eth0",
                    "addresses": ["198.51.100.254/24", "2001:db8:2::fe/64"],
                    "mtu": 1300,
                },
            },
            "sysctls": {"net.ipv4.ip_forward": 1, "net.ipv6.conf.all.forwarding": 1},
        },
        "b": {
            "interfaces": {
                "eth0": {
                    "link": "r.eth1",
                    "addresses": ["198.51.100.2/24", "2001:db8:2::2/64"],
                    "mtu": 1300,
                }
            },
            "routes": ["default via 198.51.100.254", "default via 2001:db8:2::fe"],
        },
    }
}
TARGETS = {"ipv4": "198.51.100.2", "ipv6": "2001:db8:2::2"}


def _steps(dst: str, route: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "pmtu",
        "title": "a datagram too big for the path, then the lookup",
        "steps": [
            {
                "probe": {"host": "a", "dst": dst, "payload_size": 1400, "mtu_discover": "do"},
                "expect": {"errno": "ok"},
            },
            {"probe": {"host": "a", "dst": dst}, "expect": {"route": route}},
        ],
    }


@pytest.mark.usefixtures("host_untouched")
@pytest.mark.parametrize("family", ["ipv4", "ipv6"])
@pytest.mark.parametrize(
    ("route", "verdict"),
    [
        ({"exception": True, "mtu": 1300, "expires": True}, "pass"),
        ({"exception": True, "redirected": False}, "pass"),
        ({"exception": False}, "fail"),
        ({"mtu": 1400}, "fail"),
    ],
)
def test_pmtu_exception_expectations(
    tmp_path: Path, family: str, route: dict[str, Any], verdict: str
) -> None:
    if family == "ipv6" and "redirected" in route:
        route = {"exception": True}
    document = {
        "claim": "A PMTU error leaves a route exception with the path's MTU and an expiry.",
        "source": {"article": "tools/testing/selftests/net/icmp_redirect.sh (check_exception)"},
        "topology": TOPOLOGY,
        "cases": [_steps(TARGETS[family], route)],
    }
    path = tmp_path / "pmtu.yaml"
    path.write_text(yaml.safe_dump(document))
    scenario = load_scenario(path)
    record = run_case(scenario, scenario.cases[0])
    assert record.verdict == verdict, record.message


@pytest.mark.usefixtures("host_untouched")
@pytest.mark.parametrize("family", ["ipv4", "ipv6"])
def test_recorded_exception_is_ip_route_get_s(family: str) -> None:
    dst = TARGETS[family]
    with Lab("pmtu") as lab:
        net = build(lab, Topology.model_validate(TOPOLOGY), ipv6=True)
        before = route_get(net, Probe.model_validate({"host": "a", "dst": dst}))
        assert not before.exception and before.mtu is None
        af = socket.AF_INET6 if family == "ipv6" else socket.AF_INET
        sock = lab.socket("a", af, socket.SOCK_DGRAM)
        level, option = (41, 23) if family == "ipv6" else (0, 10)  # *_MTU_DISCOVER
        sock.setsockopt(level, option, 2)  # IP_PMTUDISC_DO
        sock.connect((dst, 9000))
        sock.send(bytes(1400))
        # The ICMP error reaches the connected socket as EMSGSIZE (POLLERR): the event
        # that says the exception exists now.
        waiting = select.poll()
        waiting.register(sock, select.POLLERR)
        assert waiting.poll(3000), "no PMTU error within 3 s"
        mine = route_get(net, Probe.model_validate({"host": "a", "dst": dst}))
        out = subprocess.run(
            ["nsenter", f"--net={lab['a'].path}", "ip", "-j", "route", "get", dst],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    theirs = yaml.safe_load(out)[0]
    metrics = {k: v for m in theirs.get("metrics", []) for k, v in m.items()}
    assert mine.exception and mine.mtu == metrics.get("mtu") == 1300
    # expires counts down in seconds: the two reads may be a second apart
    assert mine.expires is not None and abs(mine.expires - theirs["expires"]) <= 1
    assert mine.cache_flags == theirs.get("cache", [])


# icmp_redirect.sh's shape: h1 sends by r1, which forwards to r2 on the same LAN and
# tells h1 so (ICMP redirect, ip_forward: ip_rt_send_redirect); h1 then holds a
# redirect exception: `ip route get` shows `cache <redirected>` via r2.  Seen while
# writing it: a redirect that arrives before h1 has r2's MAC makes no exception.
REDIRECT: dict[str, Any] = {
    "hosts": {
        "h1": {
            "interfaces": {"eth0": {"lan": "lan0", "addresses": ["192.0.2.1/24"]}},
            "routes": ["default via 192.0.2.253"],
        },
        "r1": {
            "interfaces": {"eth0": {"lan": "lan0", "addresses": ["192.0.2.253/24"]}},
            "routes": ["198.51.100.0/24 via 192.0.2.254"],
            "sysctls": {"net.ipv4.ip_forward": 1},
        },
        "r2": {
            "interfaces": {
                "eth0": {"lan": "lan0", "addresses": ["192.0.2.254/24"]},
                "eth1": {"link": "h2.eth0", "addresses": ["198.51.100.254/24"]},
            },
            "sysctls": {"net.ipv4.ip_forward": 1},
        },
        "h2": {
            "interfaces": {"eth0": {"link": "r2.eth1", "addresses": ["198.51.100.2/24"]}},
            "routes": ["default via 198.51.100.254"],
        },
    }
}


@pytest.mark.usefixtures("host_untouched")
@pytest.mark.parametrize(
    ("route", "verdict"),
    [
        ({"redirected": True, "exception": True, "gateway": "192.0.2.254"}, "pass"),
        ({"redirected": False}, "fail"),
    ],
)
def test_redirect_exception_expectations(
    tmp_path: Path, route: dict[str, Any], verdict: str
) -> None:
    dst = "198.51.100.2"
    case = {
        "id": "redirect",
        "title": "h1 sends by r1, which redirects it to r2",
        # h1 takes a redirect only to a gateway its neighbour table already holds valid
        # (__ip_do_redirect: else it only resolves it, neigh_event_send), so it first
        # pings r2; its next datagram draws r1's redirect, which the act waits for.
        "steps": [
            {
                "probe": {"host": "h1", "proto": "icmp", "dst": "192.0.2.254"},
                "expect": {"errno": "ok", "neighbours": {"h1": {"192.0.2.254": "PRESENT"}}},
            },
            {
                "probe": {"host": "h1", "dst": dst},
                "expect": {
                    "errno": "ok",
                    "route": {"redirected": False, "gateway": "192.0.2.253"},
                    "seen": [{"host": "h1", "direction": "in", "proto": "icmp", "icmp_type": 5}],
                },
            },
            {"probe": {"host": "h1", "dst": dst}, "expect": {"route": route}},
        ],
    }
    document = {
        "claim": "An ICMP redirect leaves a redirected route exception via the new gateway.",
        "source": {"article": "tools/testing/selftests/net/icmp_redirect.sh (check_exception)"},
        "topology": REDIRECT,
        "cases": [case],
    }
    path = tmp_path / "redirect.yaml"
    path.write_text(yaml.safe_dump(document))
    scenario = load_scenario(path)
    record = run_case(scenario, scenario.cases[0])
    assert record.verdict == verdict, record.message
