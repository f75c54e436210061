"""A scenario from the internet is data: the loader bounds what it may ask for (issue 18).

Each bad input is refused at load with one line naming the file, the field and the
problem, `harness list` exits 2, and nothing is built or waited for first: YAML
aliases that expand to a huge document, more acts, cases, hosts, interfaces or
listeners than one process can hold, neighbour timers that would hold an act for
days, bridges joined into a loop, keys the kernel lets nobody write or read back,
and text that would act on a terminal.  No root, no namespace.
"""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from harness.cli import main
from harness.core import deadlines
from harness.lab.netlink_ip import TopologyError, guarded
from harness.scenario import ScenarioError, discover, footprint, limits, load_scenario
from tests.unit.test_bad_input import (
    CASE,
    CHANGE,
    GOOD,
    HOST_A,
    IF_A,
    TOPOLOGY,
    dump,
    with_case,
    with_change,
    with_host_a,
    with_interface,
)

TOP = "topology"


def alias_bomb() -> bytes:
    """1.9 kB: 40 cases x 40 steps x 40 changes by aliases (64,000 changes, each a
    route the kernel would be asked for), the shape of the review's reproducer."""
    change = "{host: a, route: add 198.51.100.0/24 via 192.0.2.2, fails_with: EEXIST}"
    text = dump({k: v for k, v in GOOD.items() if k != "cases"}).decode()
    text += "cases:\n- id: c0\n  title: t\n  steps: &s\n  - change: &ch\n"
    text += f"    - &one {change}\n" + "    - *one\n" * 39
    text += "    probe: &p {host: a, dst: 192.0.2.2}\n    expect: &e {errno: ok}\n"
    text += "  - {change: *ch, probe: *p, expect: *e}\n" * 39
    text += "".join(f"- {{id: c{i}, title: t, steps: *s}}\n" for i in range(1, 40))
    return text.encode()


def steps(count: int, host: str = "a") -> list[dict[str, Any]]:
    return [{"probe": {"host": host, "dst": "192.0.2.2"}, "expect": {"errno": "ok"}}] * count


def star(hosts: int, lans: int = 0) -> dict[str, Any]:
    """Host h0 linked to h1..h(N-1), and `lans` LANs with one port of h0 each."""
    h0: dict[str, Any] = {f"e{i}": {"link": f"h{i}.e0"} for i in range(1, hosts)}
    h0 |= {f"l{i}": {"lan": f"lan{i}"} for i in range(lans)}
    topology = {"h0": {"interfaces": h0}}
    return topology | {
        f"h{i}": {"interfaces": {"e0": {"link": f"h0.e{i}"}}} for i in range(1, hosts)
    }


def with_topology(hosts: dict[str, Any], **case: Any) -> bytes:
    probe = {"host": next(iter(hosts)), "dst": "192.0.2.2"}
    return dump({**GOOD, TOP: {"hosts": hosts}, "cases": [{**CASE, "probe": probe, **case}]})


def a_with(interfaces: dict[str, Any], b: dict[str, Any] | None = None) -> bytes:
    """Hosts a (with `interfaces` besides eth0) and b (eth0, and `b`)."""
    a_if = {**TOPOLOGY["hosts"]["a"]["interfaces"], **interfaces}
    b_if = {**TOPOLOGY["hosts"]["b"]["interfaces"], **(b or {})}
    hosts = {"a": {"interfaces": a_if}, "b": {"interfaces": b_if}}
    return dump({**GOOD, TOP: {"hosts": hosts}})


def neigh(**sysctls: object) -> bytes:
    return with_host_a(sysctls={f"net.ipv4.neigh.eth0.{k}": v for k, v in sysctls.items()})


def lines(text: str) -> bytes:
    """GOOD with `text` in place of its first case's `title: t` line (YAML as written)."""
    return dump(GOOD).replace(b"  title: t\n", text.encode(), 1)


STEPS = "cases[0](one).steps"
RETRANS = f"{HOST_A}.sysctls['net.ipv4.neigh.eth0.retrans_time_ms']"
MASTER = f"{HOST_A}.interfaces"

# id: (file content, the field the message must name ("" for the file), part of the problem)
BAD: dict[str, tuple[bytes, str, str]] = {
    # 1. expanded size
    "alias-bomb-cases-steps-changes": (alias_bomb(), "", "YAML nodes once its aliases"),
    "alias-holds-itself": (
        dump(GOOD).replace(b"claim: A claim.", b"claim: &a [*a]"),
        "",
        "refers to a node that holds it",
    ),
    # 2. acts, cases, changes
    "steps-over-bound": (
        with_case(steps=steps(limits.MAX_ACTS + 1), probe=None, expect=None),
        STEPS,
        f"{limits.MAX_ACTS + 1} steps: at most {limits.MAX_ACTS}",
    ),
    "cases-over-bound": (
        dump({**GOOD, "cases": [{**CASE, "id": f"c{i}"} for i in range(limits.MAX_CASES + 1)]}),
        "cases",
        f"at most {limits.MAX_CASES}",
    ),
    "changes-over-bound": (
        with_case(change=[{"host": "a", "route": "del default"}] * (limits.MAX_CHANGES + 1)),
        "cases[0](one).change",
        f"at most {limits.MAX_CHANGES}",
    ),
    "routes-over-bound": (
        with_host_a(routes=["198.51.100.0/24 dev eth0"] * (limits.MAX_LINES + 1)),
        f"{HOST_A}.routes",
        f"at most {limits.MAX_LINES}",
    ),
    # 4. what one process holds
    "hosts-over-bound": (
        with_topology(star(2000)),
        f"{TOP}.hosts",
        f"2000 hosts: at most {limits.MAX_NAMESPACES}",
    ),
    "hosts-and-lans-over-bound": (
        with_topology(star(40, lans=30)),
        f"{TOP}.hosts",
        f"40 hosts and 30 LANs are 70 namespaces: at most {limits.MAX_NAMESPACES}",
    ),
    "interfaces-over-bound": (
        with_topology({"a": {"interfaces": {f"d{i}": {"kind": "dummy"} for i in range(129)}}}),
        f"{TOP}.hosts.a.interfaces",
        f"at most {limits.MAX_INTERFACES}",
    ),
    "interfaces-over-bound-in-all": (
        with_topology(
            {
                f"h{n}": {"interfaces": {f"d{i}": {"kind": "dummy"} for i in range(50)}}
                for n in range(3)
            }
        ),
        f"{TOP}.hosts",
        f"150 interfaces: at most {limits.MAX_INTERFACES}",
    ),
    "default-listeners-over-bound": (
        # 63 other hosts x 4 flows: 252 listeners, one per port per host
        with_topology(star(64), probe={"host": "h0", "dst": "192.0.2.2", "flows": 4}),
        "cases[0](one)",
        f"opens more than {limits.MAX_LISTENERS} listeners",
    ),
    "given-listeners-over-bound": (
        with_case(listeners=[{"host": "b", "port": 1000 + i} for i in range(193)]),
        "cases[0](one).listeners",
        f"at most {limits.MAX_LISTENERS}",
    ),
    # 3. neighbour timers
    "retrans-time-ms-an-hour": (neigh(retrans_time_ms=3600000), RETRANS, "hold an act 10801 s"),
    "mcast-solicit-1000": (
        neigh(mcast_solicit=1000),
        f"{HOST_A}.sysctls['net.ipv4.neigh.eth0.mcast_solicit']",
        "hold an act 1001 s",
    ),
    "both-names-the-larger": (
        neigh(retrans_time_ms=3600000, mcast_solicit=1000),
        RETRANS,
        "3600001 s",
    ),
    "retrans-time-in-user-hz": (
        with_host_a(sysctls={"net.ipv6.neigh.default.retrans_time": 100000}),
        f"{HOST_A}.sysctls['net.ipv6.neigh.default.retrans_time']",
        "on default would hold an act 3001 s",
    ),
    "app-solicit": (
        neigh(app_solicit=100),
        f"{HOST_A}.sysctls['net.ipv4.neigh.eth0.app_solicit']",
        f"a case waits at most {deadlines.NEIGHBOUR_WAIT_MAX_S:.0f} s",
    ),
    "proxy-delay": (
        neigh(proxy_delay=360000),
        f"{HOST_A}.sysctls['net.ipv4.neigh.eth0.proxy_delay']",
        "hold an act 3603 s",
    ),
    "default-row-with-interface-row": (
        with_host_a(
            sysctls={
                "net.ipv4.neigh.default.mcast_solicit": 20,
                "net.ipv4.neigh.eth0.retrans_time_ms": 2000,
            }
        ),
        f"{HOST_A}.sysctls['net.ipv4.neigh.default.mcast_solicit']",
        "on eth0 would hold an act 41 s",
    ),
    "timer-a-word": (neigh(retrans_time_ms="soon"), RETRANS, "'soon' is not a whole number"),
    "change-timer": (
        with_change(sysctl={"net.ipv4.neigh.eth0.retrans_time_ms": 3600000}),
        f"{CHANGE}.sysctl['net.ipv4.neigh.eth0.retrans_time_ms']",
        "hold an act 10801 s",
    ),
    "change-with-topology-timer": (
        dump(
            {
                **GOOD,
                TOP: {
                    "hosts": {
                        "a": {
                            **TOPOLOGY["hosts"]["a"],
                            "sysctls": {"net.ipv4.neigh.eth0.mcast_solicit": 10},
                        },
                        "b": TOPOLOGY["hosts"]["b"],
                    }
                },
                "cases": [
                    {
                        **CASE,
                        "change": [
                            {"host": "a", "sysctl": {"net.ipv4.neigh.eth0.retrans_time_ms": 5000}}
                        ],
                    }
                ],
            }
        ),
        f"{CHANGE}.sysctl['net.ipv4.neigh.eth0.retrans_time_ms']",
        "hold an act 51 s",
    ),
    # 5. bridge loops
    "bridge-two-ports-on-one-lan": (
        a_with(
            {
                "p0": {"lan": "l", "master": "br0"},
                "p1": {"lan": "l", "master": "br0"},
                "br0": {"kind": "bridge"},
            },
            {"p0": {"lan": "l"}},
        ),
        f"{MASTER}.p1.master",
        "bridge 'br0' on a already reaches LAN 'l': p1 would close a loop",
    ),
    "bridge-both-ends-of-a-veth": (
        a_with(
            {
                "v0": {"link": "a.v1", "master": "br0"},
                "v1": {"link": "a.v0", "master": "br0"},
                "br0": {"kind": "bridge"},
            }
        ),
        f"{MASTER}.v0.master",
        "already reaches bridge 'br0' on a",
    ),
    "bridges-on-two-hosts-two-lans": (
        a_with(
            {
                "p0": {"lan": "x", "master": "br0"},
                "p1": {"lan": "y", "master": "br0"},
                "br0": {"kind": "bridge"},
            },
            {
                "p0": {"lan": "x", "master": "br0"},
                "p1": {"lan": "y", "master": "br0"},
                "br0": {"kind": "bridge"},
            },
        ),
        f"{TOP}.hosts.b.interfaces.p1.master",
        "bridge 'br0' on b already reaches LAN 'y'",
    ),
    # 6. messages
    "interface-name-a-number": (
        with_interface("IFNAME", link="b.eth0").replace(b"IFNAME:", b"10:"),
        f"{HOST_A}.interfaces.10",
        "the key 10 is read by YAML as a number (10), and a name is text",
    ),
    "interface-name-yes": (
        with_interface("IFNAME", link="b.eth0").replace(b"IFNAME:", b"yes:"),
        f"{HOST_A}.interfaces.yes",
        "the key yes is read by YAML as a boolean (True)",
    ),
    "integer-of-5000-digits": (
        dump(GOOD).replace(b"dst: 192.0.2.2", b"dst: 192.0.2.2\n    port: " + b"9" * 5000),
        "cases[0](one).probe.port",
        "exceeded maximum size",
    ),
    "sysctl-write-only": (
        with_host_a(sysctls={"net.ipv4.route.flush": 1}),
        f"{HOST_A}.sysctls['net.ipv4.route.flush']",
        "is write-only: the harness reads back every key it sets",
    ),
    "change-sysctl-write-only": (
        with_change(sysctl={"net/ipv6/route/flush": 1}),
        f"{CHANGE}.sysctl['net/ipv6/route/flush']",
        "write-only",
    ),
    "sysctl-read-only": (
        with_host_a(sysctls={"net.ipv4.conf.eth0.mc_forwarding": 1}),
        f"{HOST_A}.sysctls['net.ipv4.conf.eth0.mc_forwarding']",
        "read-only: the kernel refuses any write (EACCES)",
    ),
    "sysctl-value-two-lines": (
        with_host_a(sysctls={"net.ipv4.ip_forward": "1\n0"}),
        f"{HOST_A}.sysctls['net.ipv4.ip_forward']",
        "a value is one line",
    ),
    "master-itself": (with_interface(master="eth0"), f"{IF_A}.master", "cannot be its own master"),
    "master-not-a-bridge": (
        a_with({"d0": {"kind": "dummy"}, "d1": {"kind": "dummy", "master": "d0"}}),
        f"{MASTER}.d1.master",
        "'d0' is a dummy: a master is a bridge or a vrf",
    ),
    "bridge-in-a-bridge": (
        a_with({"br0": {"kind": "bridge"}, "br1": {"kind": "bridge", "master": "br0"}}),
        f"{MASTER}.br1.master",
        "a bridge cannot be enslaved to another bridge",
    ),
    "escape-in-claim": (
        dump({**GOOD, "claim": "red \x1b[31m text"}),
        "claim",
        "holds the control character '\\x1b' at position 4",
    ),
    "escape-in-title": (with_case(title="t\x1b[2J"), "cases[0](one).title", "'\\x1b'"),
    "carriage-return-in-title": (with_case(title="ok\rFAIL"), "cases[0](one).title", "'\\r'"),
    "nul-in-source": (
        dump({**GOOD, "source": {"article": "a\x00b"}}),
        "source.article",
        "'\\x00'",
    ),
    "c1-control-in-refuted": (
        with_case(refuted="x\x9by"),
        "cases[0](one).refuted",
        "'\\x9b'",
    ),
    "bidi-override-in-claim": (dump({**GOOD, "claim": "a\u202eb"}), "claim", "'\\u202e'"),
    "del-in-a-key": (
        with_host_a(sysctls={"net.ipv4.ip_forward\x7f": 1}),
        f"{HOST_A}.sysctls['net.ipv4.ip_forward\\x7f']",
        "'\\x7f'",
    ),
    "newline-in-title": (
        with_case(title="first\nsecond"),
        "cases[0](one).title",
        "a title is one line",
    ),
}


@pytest.mark.parametrize(("content", "field", "problem"), BAD.values(), ids=BAD)
def test_the_loader_refuses_in_one_line(
    tmp_path: Path, content: bytes, field: str, problem: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_bytes(content)
    start = time.monotonic()
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert time.monotonic() - start < 10  # the alias bomb took 100 s before any bound
    error = caught.value
    assert (error.path, error.field) == (path, field)
    assert problem in error.problem
    assert "\n" not in str(error)


@pytest.mark.parametrize(("content", "field", "problem"), BAD.values(), ids=BAD)
def test_harness_list_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, field: str, problem: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_bytes(content)
    assert main(["list", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    (line,) = err.splitlines()
    assert line.startswith(f"harness list: {path}: {field + ': ' if field else ''}")
    assert problem in line and "Traceback" not in line


GOOD_FILES: dict[str, bytes] = {
    # The kernel's defaults, and timers within the bound: loaded as before.
    "neighbour-timers-sane": neigh(retrans_time_ms=1000, mcast_solicit=3, proxy_delay=80),
    "neighbour-timers-slower": neigh(retrans_time_ms=5000, mcast_solicit=5),
    "neighbour-timers-not-waited-for": neigh(
        base_reachable_time_ms=3600000, delay_first_probe_time=3600, locktime=360000
    ),
    "read-only-sysctl-refusal-claimed": with_change(
        sysctl={"net.ipv4.conf.eth0.mc_forwarding": 1}, fails_with="EACCES"
    ),
    "quoted-numeric-interface-name": with_interface("10", link="b.eth0"),
    "tab-and-newline-in-claim": dump({**GOOD, "claim": "line one\n\tline two"}),
    "bridge-with-a-lan-and-a-veth": a_with(
        {
            "p0": {"lan": "l", "master": "br0"},
            "v0": {"link": "b.v0", "master": "br0"},
            "br0": {"kind": "bridge"},
        },
        {"p0": {"lan": "l"}, "v0": {"link": "a.v0"}},
    ),
    "bridges-on-two-hosts-one-lan": a_with(
        {"p0": {"lan": "x", "master": "br0"}, "br0": {"kind": "bridge"}},
        {"p0": {"lan": "x", "master": "br0"}, "br0": {"kind": "bridge"}},
    ),
    "bridge-in-a-vrf": a_with(
        {"br0": {"kind": "bridge", "master": "vrf0"}, "vrf0": {"kind": "vrf", "table": 10}}
    ),
    "at-the-bounds": with_topology(
        star(limits.MAX_NAMESPACES),
        steps=steps(limits.MAX_ACTS, host="h0"),
        probe=None,
        expect=None,
    ),
}


@pytest.mark.parametrize("content", GOOD_FILES.values(), ids=GOOD_FILES)
def test_what_is_within_the_bounds_loads(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "good.yaml"
    path.write_bytes(content)
    assert load_scenario(path).cases


def test_a_scenario_within_the_bounds_holds_fewer_than_1024_fds() -> None:
    """The bounds' sum, as footprint.case_needs counts (every interface a tun/tap)."""
    fds = (
        footprint.FDS_PER_NAMESPACE * limits.MAX_NAMESPACES
        + limits.MAX_LISTENERS
        + limits.MAX_ACTS
        + limits.MAX_INTERFACES
        + footprint.FDS_SPARE
    )
    assert fds < 1024


def test_the_catalogue_is_far_within_the_bounds() -> None:
    """Every catalogue file loads, and its largest case needs under half the fd bound."""
    largest = 0
    for path in discover():
        scenario = load_scenario(path)
        largest = max(largest, *(footprint.case_needs(scenario, c)[0] for c in scenario.cases))
    assert 0 < largest < 512


def test_a_sysctl_key_the_kernel_has_not_is_named_at_run_time() -> None:
    """netns.write_sysctls says which key a namespace lacks (a FileNotFoundError without
    strerror); the builder's error carried 'failed: None'."""

    def write() -> None:
        raise FileNotFoundError("sysctl 'net.ipv4.no_such_key' does not exist in namespace 'a'")

    with pytest.raises(TopologyError) as caught:
        guarded(SimpleNamespace(name="a"), "sysctl net.ipv4.no_such_key=1", write)  # type: ignore[arg-type]
    assert str(caught.value) == (
        "host a: `sysctl net.ipv4.no_such_key=1` failed: "
        "sysctl 'net.ipv4.no_such_key' does not exist in namespace 'a'"
    )
