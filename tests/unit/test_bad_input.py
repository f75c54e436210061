"""Bad input, swept: every malformed file or argument is refused at load with one line
naming the file, the field and the problem, and exit status 2; never a traceback.

Most cases are loader-level (no root, no namespace); the few that go through
`harness run` or a pytest subprocess are marked.  Issue 12, section 4.

The tests that need root are tests/e2e/test_bad_input.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.cli import main
from harness.core.env import PROJECT_ROOT, SCENARIO_DIR
from harness.scenario import ScenarioError, load_scenario

TOPOLOGY: dict[str, Any] = {
    "hosts": {
        "a": {"interfaces": {"eth0": {"link": "b.eth0", "addresses": ["192.0.2.1/24"]}}},
        "b": {"interfaces": {"eth0": {"link": "a.eth0", "addresses": ["192.0.2.2/24"]}}},
    }
}
CASE: dict[str, Any] = {
    "id": "one",
    "title": "t",
    "probe": {"host": "a", "dst": "192.0.2.2"},
    "expect": {"errno": "ok"},
}
GOOD: dict[str, Any] = {
    "claim": "A claim.",
    "source": {"article": "x"},
    "topology": TOPOLOGY,
    "cases": [CASE],
}
LONG = "ééééééééé"  # 9 characters, 18 bytes: more than IFNAMSIZ - 1


def dump(doc: object) -> bytes:
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False).encode()


def with_case(**changes: object) -> bytes:
    """GOOD with parts of its one case replaced."""
    return dump({**GOOD, "cases": [{**CASE, **changes}]})


def with_probe(**fields: object) -> bytes:
    return with_case(probe={"host": "a", "dst": "192.0.2.2", **fields})


def with_change(**change: object) -> bytes:
    return with_case(change=[{"host": "a", **change}])


def with_interface(ifname: str = "eth0", **fields: object) -> bytes:
    """Host a's interface named `ifname` (b's link follows it), with `fields` replaced."""
    hosts = {
        "a": {"interfaces": {ifname: {"link": "b.eth0", "addresses": ["192.0.2.1/24"], **fields}}},
        "b": {"interfaces": {"eth0": {"link": f"a.{ifname}", "addresses": ["192.0.2.2/24"]}}},
    }
    return dump({**GOOD, "topology": {"hosts": hosts}})


def with_host_a(**fields: object) -> bytes:
    hosts = {"a": {**TOPOLOGY["hosts"]["a"], **fields}, "b": TOPOLOGY["hosts"]["b"]}
    return dump({**GOOD, "topology": {"hosts": hosts}})


def too_big() -> bytes:
    """30 hosts and 32 probes to the same 6 ports: within the loader's bounds (a listener
    on every other host for each port: 174), about 540 fds: more than FD_LIMIT."""
    hosts: dict[str, Any] = {
        "h0": {"interfaces": {f"e{i}": {"link": f"h{i}.e0"} for i in range(1, 30)}}
    }
    hosts |= {f"h{i}": {"interfaces": {"e0": {"link": f"h0.e{i}"}}} for i in range(1, 30)}
    steps = [
        {
            "probe": {"host": "h0", "dst": "192.0.2.1", "port": 1000, "flows": 6},
            "expect": {"errno": "ok"},
        }
        for i in range(32)
    ]
    return dump(
        {**GOOD, "topology": {"hosts": hosts}, "cases": [{"id": "a", "title": "t", "steps": steps}]}
    )


# A process limit on open files the scenario of too_big() exceeds (the loader's bounds keep
# every scenario it accepts below 1024).
FD_LIMIT = 512


def alias_bomb() -> bytes:
    """Nine to the seventh items by YAML aliases, in a field that wants a list of names."""
    lines = ["x0: &x0 [a, a, a, a, a, a, a, a, a]"]
    lines += [f"x{n}: &x{n} [{', '.join([f'*x{n - 1}'] * 9)}]" for n in range(1, 7)]
    body = dump(GOOD).decode().replace("dst: 192.0.2.2", "dst: 192.0.2.2\n    sockopts: *x6")
    return ("\n".join(lines) + "\n" + body).encode()


HOST_A = "topology.hosts.a"
IF_A = f"{HOST_A}.interfaces.eth0"
PROBE = "cases[0](one).probe"
CHANGE = "cases[0](one).change[0]"

# id: (file content, the field the message must name ("" for the file as a whole), a part
# of the problem).
BAD_FILES: dict[str, tuple[bytes, str, str]] = {
    "yaml-unclosed": (b"claim: [unclosed\ncases: []\n", "", "not valid YAML at line 2, column 6"),
    "yaml-indent": (b"claim: x\n  source: y\n cases: z\n", "", "not valid YAML at line 2"),
    "yaml-tab": (b"claim: x\ncases:\n\t- id: a\n", "", "not valid YAML at line 3, column 1"),
    "yaml-two-documents": (b"claim: x\n---\nclaim: y\n", "", "found another document"),
    "yaml-duplicate-key": (
        dump(GOOD).replace(b"claim: A claim.\n", b"claim: A claim.\nclaim: again\n"),
        "claim",
        "given twice in one mapping (lines 1 and 2)",
    ),
    "yaml-nested-too-deep": (b"claim: " + b"[" * 5000 + b"]" * 5000 + b"\n", "", "nesting"),
    "yaml-alias-bomb": (alias_bomb(), "", "YAML nodes once its aliases are expanded"),
    "binary": (bytes(range(256)) * 4, "", "not a text file (not UTF-8 at byte 128)"),
    "binary-control-characters": (
        bytes(range(32)) * 4,
        "",
        "#x0000: control characters are not allowed at position 0",
    ),
    "latin-1": ("claim: café\ncases: []\n".encode("latin-1"), "", "not UTF-8 at byte 10"),
    "utf-16": (dump(GOOD).decode().encode("utf-16"), "", "not a text file"),
    "empty": (b"", "", "empty"),
    "top-level-list": (b"- cases\n- claim\n", "", "YAML mapping at the top level, not a list"),
    "top-level-text": (b"cases\n", "", "YAML mapping at the top level, not a str"),
    "cases-a-mapping": (dump({**GOOD, "cases": {"one": CASE}}), "cases", "valid list"),
    "hosts-a-list": (dump({**GOOD, "topology": {"hosts": ["a"]}}), "topology.hosts", "dict"),
    "topology-a-number": (dump({**GOOD, "topology": 5}), "topology", "valid string"),
    "topology-file-as-scenario": (dump(TOPOLOGY), "hosts", "this is a topology, not a scenario"),
    "unknown-field": (dump({**GOOD, "claims": "x"}), "claims", "Extra inputs"),
    "unknown-probe-field": (with_probe(sockopt=["SO_DONTROUTE"]), f"{PROBE}.sockopt", "Extra"),
    "missing-claim": (dump({k: v for k, v in GOOD.items() if k != "claim"}), "claim", "required"),
    "missing-expect": (with_case(expect=None), "cases[0](one)", "a case needs 'expect' and"),
    "address-outside": (
        with_interface(addresses=["10.0.0.1/24"]),
        f"{IF_A}.addresses",
        "10.0.0.1 is outside",
    ),
    "address-v6-outside": (
        with_interface(addresses=["2001:db9::1/64"]),
        f"{IF_A}.addresses",
        "outside",
    ),
    "address-malformed": (
        with_interface(addresses=["192.0.2.300/24"]),
        f"{IF_A}.addresses[0]",
        "not a valid",
    ),
    "destination-outside": (with_probe(dst="8.8.8.8"), f"{PROBE}.dst", "8.8.8.8 is outside"),
    "route-prefix-straddles": (
        with_host_a(routes=["192.0.2.0/23 dev eth0"]),
        f"{HOST_A}.routes[0]",
        "192.0.2.0/23 is outside",
    ),
    "route-unknown-word": (
        with_host_a(routes=["198.51.100.0/24 vai 192.0.2.2"]),
        f"{HOST_A}.routes[0]",
        "unknown word 'vai'",
    ),
    "route-missing-device": (
        with_host_a(routes=["198.51.100.0/24 dev eth9"]),
        f"{HOST_A}.routes[0]",
        "no interface 'eth9'",
    ),
    "rule-without-table": (
        with_host_a(rules=["from 192.0.2.0/24 lookup"]),
        f"{HOST_A}.rules[0]",
        "'lookup' needs a value",
    ),
    "neigh-bad-lladdr": (
        with_host_a(neighbours=["192.0.2.9 lladdr zz:zz dev eth0"]),
        f"{HOST_A}.neighbours[0]",
        "not a MAC address",
    ),
    "neigh-missing-device": (
        with_host_a(neighbours=["192.0.2.9 lladdr 02:00:00:00:00:09 dev eth9"]),
        f"{HOST_A}.neighbours[0]",
        "no interface 'eth9'",
    ),
    "nexthop-missing-device": (
        with_host_a(nexthops=["id 1 via 192.0.2.2 dev eth9"]),
        f"{HOST_A}.nexthops[0]",
        "no interface 'eth9'",
    ),
    "change-route-dangling-dev": (
        with_change(route="add 198.51.100.0/24 via 192.0.2.2 dev"),
        f"{CHANGE}.route",
        "'dev' needs a value",
    ),
    "change-route-missing-device": (
        with_change(route="add 198.51.100.0/24 dev eth9"),
        f"{CHANGE}.route",
        "has no interface 'eth9'",
    ),
    "change-rule-outside": (
        with_change(rule="add from 10.0.0.0/8 table 100"),
        f"{CHANGE}.rule",
        "10.0.0.0/8 is outside",
    ),
    "change-neigh-outside": (
        with_change(neigh="add 10.0.0.9 lladdr 02:00:00:00:00:09 dev eth0"),
        f"{CHANGE}.neigh",
        "outside",
    ),
    "change-addr-outside": (
        with_change(addr="add 10.1.1.1/24 dev eth0"),
        f"{CHANGE}.addr",
        "10.1.1.1 is outside",
    ),
    "change-addr-bad-prefix": (
        with_change(addr="add 192.0.2.9/99 dev eth0"),
        f"{CHANGE}.addr",
        "bad address",
    ),
    "change-addr-missing-device": (
        with_change(addr="add 192.0.2.9/24 dev eth9"),
        f"{CHANGE}.addr",
        "no interface 'eth9'",
    ),
    "change-link-mtu-word": (
        with_change(link="set eth0 mtu abc"),
        f"{CHANGE}.link",
        "mtu 'abc' is not a number",
    ),
    "change-link-name-bytes": (
        with_change(link=f"set eth0 name {LONG}"),
        f"{CHANGE}.link",
        "18 bytes",
    ),
    "change-link-name-slash": (with_change(link="set eth0 name a/b"), f"{CHANGE}.link", "'a/b'"),
    "change-link-name-dotdot": (with_change(link="set eth0 name .."), f"{CHANGE}.link", "'..'"),
    "change-link-name-default": (
        with_change(link="set eth0 name default"),
        f"{CHANGE}.link",
        "conf/default",
    ),
    "change-link-missing-device": (
        with_change(link="set eth9 down"),
        f"{CHANGE}.link",
        "no interface 'eth9'",
    ),
    "ifname-bytes": (
        with_interface(LONG),
        f"{HOST_A}.interfaces.{LONG}",
        "is 18 bytes; Linux allows at most 15",
    ),
    "ifname-slash": (with_interface("a/b"), f"{HOST_A}.interfaces['a/b']", "letters, digits"),
    "ifname-dotdot": (with_interface(".."), f"{HOST_A}.interfaces['..']", "not '.' or '..'"),
    "ifname-default": (with_interface("default"), f"{HOST_A}.interfaces.default", "conf/default"),
    "ifname-all": (with_interface("all"), f"{HOST_A}.interfaces.all", "conf/all"),
    "link-name-slash": (with_interface(link="b.eth/0"), f"{IF_A}.link", "interface name 'eth/0'"),
    "link-to-missing-host": (with_interface(link="c.eth0"), f"{IF_A}.link", "there is no host 'c'"),
    "link-to-missing-interface": (
        with_interface(link="b.eth9"),
        f"{IF_A}.link",
        "host 'b' has no interface 'eth9'",
    ),
    "parent-missing": (
        with_interface("mv0", kind="macvlan", parent="eth7", link=None),
        f"{HOST_A}.interfaces.mv0.parent",
        "'eth7' is not an interface",
    ),
    "mac-upper-case": (with_interface(mac="02:00:00:00:00:0A"), f"{IF_A}.mac", "lower-case"),
    "host-name-upper-case": (
        dump({**GOOD, "topology": {"hosts": {"A": {}}}}),
        "topology.hosts.A",
        "lower-case",
    ),
    "sysctl-slash-dotdot": (
        with_host_a(sysctls={"net/../kernel/printk_ratelimit_burst": 11}),
        f"{HOST_A}.sysctls['net/../kernel/printk_ratelimit_burst']",
        "'..' is not a sysctl name",
    ),
    "sysctl-empty-part": (
        with_host_a(sysctls={"net.ipv4..ip_forward": 1}),
        f"{HOST_A}.sysctls['net.ipv4..ip_forward']",
        "'' is not a sysctl name",
    ),
    "sysctl-global-net-core": (
        with_host_a(sysctls={"net.core.rmem_max": 1}),
        f"{HOST_A}.sysctls['net.core.rmem_max']",
        "global to the machine",
    ),
    "sysctl-kernel": (
        with_host_a(sysctls={"kernel.printk": 1}),
        f"{HOST_A}.sysctls['kernel.printk']",
        "only net.* keys",
    ),
    "sysctl-missing-interface": (
        with_host_a(sysctls={"net.ipv4.conf.eth9.rp_filter": 1}),
        f"{HOST_A}.sysctls['net.ipv4.conf.eth9.rp_filter']",
        "no interface 'eth9'",
    ),
    "sysctl-value-a-list": (
        with_host_a(sysctls={"net.ipv4.ip_forward": [1]}),
        f"{HOST_A}.sysctls['net.ipv4.ip_forward']",
        "valid integer",
    ),
    "change-sysctl-kernel": (
        with_change(sysctl={"kernel.ns_last_pid": 1}),
        f"{CHANGE}.sysctl['kernel.ns_last_pid']",
        "only net.* keys",
    ),
    "change-sysctl-missing-interface": (
        with_change(sysctl={"net.ipv6.conf.eth9.forwarding": 1}),
        f"{CHANGE}.sysctl['net.ipv6.conf.eth9.forwarding']",
        "no interface 'eth9'",
    ),
    "errno-unknown": (
        with_case(expect={"errno": "EFOO"}),
        "cases[0](one).expect.errno",
        "'EFOO' is neither 'ok' nor an errno name",
    ),
    "fails-with-unknown": (
        with_change(route="del default", fails_with="ENOPE"),
        f"{CHANGE}.fails_with",
        "not an errno name",
    ),
    "sockopt-misspelled": (
        with_probe(sockopts=["SO_DONTROTE"]),
        f"{PROBE}.sockopts",
        "unknown socket option 'SO_DONTROTE'",
    ),
    "sockopt-unknown": (
        with_probe(sockopts=["SO_REUSEPORT"]),
        f"{PROBE}.sockopts",
        "known: SO_DONTROUTE",
    ),
    "bind-device-missing": (with_probe(bind_device=LONG), f"{PROBE}.bind_device", "no interface"),
    "bind-port-above-65535": (
        with_probe(bind=":99999"),
        f"{PROBE}.bind",
        "port 99999 is above 65535",
    ),
    "flows-past-65535": (with_probe(port=65535, flows=4), f"{PROBE}.flows", "go past port 65535"),
    "port-huge": (with_probe(port=10**30), f"{PROBE}.port", "less than or equal to 65535"),
    "duplicate-case-id": (dump({**GOOD, "cases": [CASE, CASE]}), "cases[1](one).id", "used twice"),
    "topology-missing": (
        dump({**GOOD, "topology": "no-such-topology"}),
        "topology",
        "no topology 'no-such-topology'",
    ),
    "topology-outside-its-folder": (
        dump({**GOOD, "topology": "../../scenarios/x"}),
        "topology",
        "without '.yaml' or a folder",
    ),
    "address-with-scope": (
        with_interface(addresses=["fe80::1%eth0/64"]),
        f"{IF_A}.addresses",
        "an interface's address takes no %scope",
    ),
    "vrf-table-above-u32": (
        with_host_a(
            interfaces={
                **TOPOLOGY["hosts"]["a"]["interfaces"],
                "vrf0": {"kind": "vrf", "table": 2**40},
            }
        ),
        f"{HOST_A}.interfaces.vrf0.table",
        "less than or equal to 4294967295",
    ),
    "route-table-above-u32": (
        with_host_a(routes=["198.51.100.0/24 dev eth0 table 99999999999"]),
        f"{HOST_A}.routes[0]",
        "table '99999999999' is out of range",
    ),
    "route-metric-negative": (
        with_host_a(routes=["198.51.100.0/24 dev eth0 metric -1"]),
        f"{HOST_A}.routes[0]",
        "metric '-1' is out of range",
    ),
    "route-nhid-missing": (
        with_host_a(routes=["198.51.100.0/24 nhid 7"]),
        f"{HOST_A}.routes[0]",
        "no nexthop id 7",
    ),
    "rule-priority-above-u32": (
        with_host_a(rules=["from 192.0.2.0/24 lookup 100 priority 99999999999"]),
        f"{HOST_A}.rules[0]",
        "priority '99999999999' is out of range",
    ),
    "nexthop-group-missing-id": (
        with_host_a(nexthops=["id 1 group 2/3"]),
        f"{HOST_A}.nexthops[0]",
        "no nexthop id 2",
    ),
    "larger-than-4-mib": (b"# " + b"x" * (4 << 20) + b"\ncases: []\n", "", "larger than 4 MiB"),
}


@pytest.mark.parametrize(("content", "field", "problem"), BAD_FILES.values(), ids=BAD_FILES)
def test_the_loader_names_file_field_and_problem(
    tmp_path: Path, content: bytes, field: str, problem: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_bytes(content)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    error = caught.value
    assert (error.path, error.field) == (path, field)
    assert problem in error.problem
    assert "\n" not in str(error)
    assert str(error).startswith(f"{path}: {field + ': ' if field else ''}")


@pytest.mark.parametrize(("content", "field", "problem"), BAD_FILES.values(), ids=BAD_FILES)
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


BAD_TOPOLOGIES: dict[str, tuple[bytes, str, str]] = {
    "binary": (bytes(range(256)), "", "not a text file"),
    "duplicate-host": (
        dump(TOPOLOGY).replace(b"  b:\n", b"  a:\n    interfaces: {}\n  b:\n"),
        "a",
        "given twice",
    ),
    "ifname-bytes": (
        dump({"hosts": {"a": {"interfaces": {LONG: {"kind": "dummy"}}}}}),
        f"hosts.a.interfaces.{LONG}",
        "18 bytes",
    ),
    "link-to-missing-host": (
        dump({"hosts": {"a": {"interfaces": {"eth0": {"link": "c.eth0"}}}}}),
        "hosts.a.interfaces.eth0.link",
        "there is no host 'c'",
    ),
    "sysctl-global": (
        dump({"hosts": {"a": {"sysctls": {"net.core.wmem_max": 1}}}}),
        "hosts.a.sysctls['net.core.wmem_max']",
        "global to the machine",
    ),
    "a-scenario-not-a-topology": (dump(GOOD), "cases", "this is a scenario, not a topology"),
}


@pytest.mark.parametrize(
    ("content", "field", "problem"), BAD_TOPOLOGIES.values(), ids=BAD_TOPOLOGIES
)
def test_a_bad_topology_file_is_named_with_its_field(
    tmp_path: Path, content: bytes, field: str, problem: str
) -> None:
    """A scenario naming a malformed topology file: the scenario's `topology` field, and
    the topology file with its own field and problem."""
    topologies = tmp_path / "topologies"
    topologies.mkdir()
    (topologies / "net.yaml").write_bytes(content)
    scenario = tmp_path / "s.yaml"
    scenario.write_bytes(dump({**GOOD, "topology": "net"}))
    with pytest.raises(ScenarioError) as caught:
        load_scenario(scenario, topology_dir=topologies)
    error = caught.value
    assert (error.path, error.field) == (scenario, "topology")
    assert error.problem.startswith(f"in {topologies / 'net.yaml'}: {field}: ")
    assert problem in error.problem and "\n" not in str(error)


def test_a_scenario_too_big_for_the_process_is_refused_by_list(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("resource.getrlimit", lambda _: (FD_LIMIT, FD_LIMIT))
    path = tmp_path / "big.yaml"
    path.write_bytes(too_big())
    assert main(["list", str(path)]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"harness list: {path}: cases[0](a): needs about ")
    assert "open files at once" in line


def _looping_link(tmp_path: Path) -> Path:
    link = tmp_path / "loop.yaml"
    link.symlink_to(link.name)
    return link


def _fifo(tmp_path: Path) -> Path:
    """A FIFO: opening it for reading would wait for a writer for ever."""
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    return fifo


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (lambda tmp: ["list", str(tmp / "no/such.yaml")], "no scenario file or folder"),
        (
            lambda tmp: ["list", str(_looping_link(tmp))],
            "a symbolic link to 'loop.yaml' that loops",
        ),
        (lambda tmp: ["list", str(tmp / "x.yaml::one")], "no scenario file or folder"),
        (lambda tmp: ["list", str(_fifo(tmp))], "pipe.yaml: not a regular file"),
        (lambda tmp: ["list", "/dev/zero"], "/dev/zero: not a regular file"),
        (lambda tmp: ["list", "-k", "and or ("], "-k 'and or ('"),
        (lambda tmp: ["report", str(tmp / "no-such-run")], "no run folder"),
        (lambda tmp: ["report", str(tmp)], "holds no case record"),
        (lambda tmp: ["compare", str(tmp / "a"), str(tmp / "b")], "no run folder"),
        (lambda tmp: ["compare", str(tmp), str(tmp)], "holds no case record"),
        (lambda tmp: ["show", "x", "--run", str(tmp)], "no case matches 'x'"),
        (lambda tmp: ["show", "x", "--run", str(tmp / "no-run")], "no run folder"),
    ],
    ids=[
        "missing-path",
        "looping-link",
        "case-id-in-list",
        "fifo",
        "dev-zero",
        "malformed-k",
        "report-missing",
        "report-empty",
        "compare-missing",
        "compare-empty",
        "show-empty",
        "show-missing-run",
    ],
)
def test_bad_arguments_exit_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: Callable[[Path], list[str]], says: str
) -> None:
    assert main(argv(tmp_path)) == 2
    out, err = capsys.readouterr()
    (line,) = err.splitlines()
    assert says in line and out == ""


def test_compare_of_a_folder_with_a_broken_results_file_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a/results.json").write_text("{not json")
    (tmp_path / "b").mkdir()
    assert main(["compare", str(tmp_path / "a"), str(tmp_path / "b")]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert f"{tmp_path / 'a/results.json'}: not a results file" in line


ONE_CASE = str(
    SCENARIO_DIR / "dontroute/so-dontroute-experiment-table.yaml::far-with-default-route"
)


def _pytest(*args: str, user: int | None = None) -> subprocess.CompletedProcess[str]:
    """pytest in a subprocess, from the project folder, as `user` if given."""
    become: dict[str, Any] = {}
    if user is not None:
        become = {"user": user, "group": user, "extra_groups": []}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        **become,
    )


def test_pytest_names_each_bad_file_without_a_traceback(tmp_path: Path) -> None:
    """A collection error per file, naming the file and the field (pytest exits 2 for
    collection errors: `Interrupted: N errors during collection`)."""
    chosen = ["binary", "yaml-duplicate-key", "ifname-bytes", "sysctl-global-net-core"]
    for name in chosen:
        (tmp_path / f"{name}.yaml").write_bytes(BAD_FILES[name][0])
    # Named one by one: in a folder, only YAML files with a top-level `cases:` are
    # taken for scenarios (harness/scenario/load.py is_scenario_file).
    named = [str(tmp_path / f"{name}.yaml") for name in chosen]
    done = _pytest(
        "-p",
        "no:xdist",
        "--collect-only",
        "-q",
        "--results-dir",
        str(tmp_path / "r"),
        *named,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    text = done.stdout + done.stderr
    assert "Traceback" not in text and "INTERNALERROR" not in text
    for name in chosen:
        field = BAD_FILES[name][1]
        assert f"{tmp_path / name}.yaml: {field + ': ' if field else ''}" in text


NOBODY = 65534


def _nobody_can_run(program: str) -> bool:
    """nobody can start `program`, and it can start itself (as xdist starts its workers)."""
    spawn = "import subprocess, sys; subprocess.run([sys.executable, '-V'], check=True)"
    try:
        done = subprocess.run(
            [program, "-c", spawn],
            user=NOBODY,
            group=NOBODY,
            extra_groups=[],
            capture_output=True,
            check=False,
            cwd="/",
        )
    except PermissionError:
        return False
    return done.returncode == 0


def test_a_number_of_workers_that_is_no_number_is_refused_by_the_parser(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["run", "-n", "abc", "x.yaml"])
    assert exited.value.code == 2
    assert "argument -n/--workers: 'abc': give a number" in capsys.readouterr().err
