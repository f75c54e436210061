"""The Python API acts inside its namespaces whichever thread calls it (issue 18, finding 2).

pyroute2 0.9 opens one netlink socket per thread, lazily, in the namespace the
calling thread is in at that moment.  Each test calls the API from a
`threading.Thread` or a `ThreadPoolExecutor` worker that stands in a *decoy*
namespace (a scratch one of the lab, never the host's: were the guard to
regress, the stray veth or route lands there, not in the root namespace), then
reads the harness namespace and the decoy with iproute2 (`nsenter ... ip -j`),
independently of the harness: the change is in the harness namespace and
nowhere else.
"""

from __future__ import annotations

import functools
import socket
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from threading import Thread
from typing import Any, TypeVar

import pytest

from harness.case.session import CaseSession
from harness.lab.netns import NamespaceError, NetNS
from harness.scenario import Change
from tests.conftest import ip_json, needs_root

pytestmark = [needs_root, pytest.mark.kernel]

T = TypeVar("T")
Runner = Callable[[NetNS, Callable[[], T]], T]

ROUTE = "203.0.113.0/24"
NEIGH = "192.0.2.77"
NEIGH_MAC = "02:00:00:00:00:77"


def in_thread(decoy: NetNS, call: Callable[[], T]) -> T:
    """`call()` on a new threading.Thread standing in `decoy`; its result or its exception."""
    answer: list[T] = []
    failure: list[BaseException] = []

    def body() -> None:
        try:
            with decoy.entered():
                answer.append(call())
        except BaseException as exc:  # handed to the caller's thread
            failure.append(exc)

    thread = Thread(target=body, name="api from a thread")
    thread.start()
    thread.join(timeout=30)
    assert not thread.is_alive(), "the call did not end within 30 s"
    if failure:
        raise failure[0]
    return answer[0]


def in_executor(decoy: NetNS, call: Callable[[], T]) -> T:
    """`call()` on a ThreadPoolExecutor worker standing in `decoy`."""

    def body() -> T:
        with decoy.entered():
            return call()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(body).result(timeout=30)


RUNNERS = pytest.mark.parametrize("run", [in_thread, in_executor], ids=["thread", "executor"])


def state(ns: NetNS) -> dict[str, Any]:
    """Links, routes of every table and neighbours, as iproute2 reads them."""
    return {
        "links": [link["ifname"] for link in ip_json(ns, "link", "show")],
        "routes4": ip_json(ns, "-4", "route", "show", "table", "all"),
        "routes6": ip_json(ns, "-6", "route", "show", "table", "all"),
        "neighbours": ip_json(ns, "neigh", "show"),
    }


@pytest.fixture
def session(case_session: Callable[..., CaseSession]) -> CaseSession:
    """lan-with-gateway, no probes."""
    return case_session("lan-with-gateway", [])


@dataclass
class Decoy:
    """The namespace the calling threads stand in, and what iproute2 read there at first."""

    ns: NetNS
    before: dict[str, Any]


@pytest.fixture
def decoy(session: CaseSession, host_untouched: None) -> Decoy:
    """A scratch namespace that looks like the sender where it matters: an eth0 with the
    sender's ifindex and address, so a call that reached it by mistake would succeed
    there silently (as in the root namespace of the report) instead of failing."""
    sender = session.net.host("sender")
    ns = session.net.lab.namespace("decoy")
    # Without IPv6, nothing in it changes by itself after the first reading (no
    # link-local route that addrconf adds a moment after the carrier comes up).
    ns.write_sysctls({"net.ipv6.conf.all.disable_ipv6": 1, "net.ipv6.conf.default.disable_ipv6": 1})
    for words in [
        f"link add eth0 index {sender.link_index('eth0')} type veth peer name eth0p index 999",
        "addr add 192.0.2.224/24 dev eth0",
        "link set eth0p up",
        "link set eth0 up",
    ]:
        subprocess.run(["nsenter", f"--net={ns.path}", "ip", *words.split()], check=True)
    return Decoy(ns, state(ns))


def _routes(ns: NetNS) -> list[str]:
    return [route["dst"] for route in ip_json(ns, "route", "show")]


def _neighbours(ns: NetNS) -> list[tuple[str, str]]:
    return [(n["dst"], n.get("lladdr")) for n in ip_json(ns, "neigh", "show", "dev", "eth0")]


def _udp_sockets(ns: NetNS) -> list[str]:
    """Local addresses of the namespace's UDP sockets, as ss(8) lists them."""
    out = subprocess.run(
        ["nsenter", f"--net={ns.path}", "ss", "-Hnuan"], capture_output=True, text=True, check=True
    ).stdout
    return [line.split()[3] for line in out.splitlines()]


def _mtu(ns: NetNS, ifname: str) -> int:
    return int(ip_json(ns, "link", "show", "dev", ifname)[0]["mtu"])


@RUNNERS
def test_add_link(run: Runner[int], session: CaseSession, decoy: Decoy) -> None:
    sender = session.net.host("sender")
    index = run(decoy.ns, lambda: sender.add_link("thr0", "veth", peer={"ifname": "thr1"}))
    links = {link["ifname"]: link["ifindex"] for link in ip_json(sender, "link", "show")}
    assert links["thr0"] == index and "thr1" in links
    assert state(decoy.ns) == decoy.before


@RUNNERS
def test_route_neigh_and_link_set_through_ipr(
    run: Runner[Any], session: CaseSession, decoy: Decoy
) -> None:
    sender = session.net.host("sender")
    eth0 = sender.link_index("eth0")
    run(decoy.ns, lambda: sender.ipr.route("add", dst=ROUTE, gateway="192.0.2.1"))
    run(
        decoy.ns,
        lambda: sender.ipr.neigh(
            "add", dst=NEIGH, lladdr=NEIGH_MAC, ifindex=eth0, state="permanent"
        ),
    )
    run(decoy.ns, lambda: sender.ipr.link("set", index=eth0, mtu=1400))
    assert ROUTE in _routes(sender)
    assert (NEIGH, NEIGH_MAC) in _neighbours(sender)
    assert _mtu(sender, "eth0") == 1400
    assert state(decoy.ns) == decoy.before


@RUNNERS
def test_changes_through_case_session_apply(
    run: Runner[Any], session: CaseSession, decoy: Decoy
) -> None:
    changes = [
        Change(host="sender", route=f"add {ROUTE} via 192.0.2.1"),
        Change(host="sender", neigh=f"add {NEIGH} lladdr {NEIGH_MAC} dev eth0"),
        Change(host="sender", link="set eth0 mtu 1400"),
    ]
    for change in changes:
        outcome = run(decoy.ns, functools.partial(session.apply, change))
        assert outcome.errno == "ok", outcome
    sender = session.net.host("sender")
    assert ROUTE in _routes(sender)
    assert (NEIGH, NEIGH_MAC) in _neighbours(sender)
    assert _mtu(sender, "eth0") == 1400
    assert state(decoy.ns) == decoy.before


def test_many_workers_at_once(session: CaseSession, decoy: Decoy) -> None:
    """Four workers, each with its own per-thread socket, add eight routes."""
    sender = session.net.host("sender")
    routes = [f"198.18.{i}.0/24" for i in range(8)]

    def add(dst: str) -> None:
        with decoy.ns.entered():
            sender.ipr.route("add", dst=dst, gateway="192.0.2.1")

    with ThreadPoolExecutor(max_workers=4) as pool:
        for done in [pool.submit(add, dst) for dst in routes]:
            done.result(timeout=30)
    assert set(routes) <= set(_routes(sender))
    assert state(decoy.ns) == decoy.before


@RUNNERS
def test_sysctls_and_sockets(run: Runner[Any], session: CaseSession, decoy: Decoy) -> None:
    """These enter the namespace on the calling thread themselves (setns is per thread)."""
    sender = session.net.host("sender")
    run(decoy.ns, lambda: sender.write_sysctl("net.ipv4.ip_forward", 1))
    assert run(decoy.ns, lambda: sender.read_sysctl("net.ipv4.ip_forward")) == "1"
    assert decoy.ns.read_sysctl("net.ipv4.ip_forward") == "0"
    sock = run(
        decoy.ns, lambda: session.net.lab.socket("sender", socket.AF_INET, socket.SOCK_DGRAM)
    )
    sock.bind(("192.0.2.224", 0))
    port = sock.getsockname()[1]
    assert f"192.0.2.224:{port}" in _udp_sockets(sender)
    assert f"192.0.2.224:{port}" not in _udp_sockets(decoy.ns)


@RUNNERS
def test_a_closed_namespace_refuses_every_thread(run: Runner[Any], decoy: Decoy) -> None:
    """After close, the namespace's fd number may name another namespace: nothing may use it.

    `ipr.fileno()` opens the thread's socket without pyroute2's own check for a
    closed object, so only the harness's refusal stands between it and the decoy.
    """
    gone = NetNS("gone")
    gone.close()
    with pytest.raises(OSError):  # pyroute2: EBADF
        run(decoy.ns, lambda: gone.ipr.link("add", ifname="thr0", kind="veth", peer="thr1"))
    for call in (lambda: gone.ipr.fileno(), lambda: gone.read_sysctl("net.ipv4.ip_forward")):
        with pytest.raises(NamespaceError, match="namespace 'gone' is closed"):
            run(decoy.ns, call)
    assert state(decoy.ns) == decoy.before
