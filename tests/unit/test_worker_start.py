"""What a run's controller does once for its workers: load the scenarios
(harness/scenario/bundle.py); and in a kernel matrix, boot every guest at once and start
each worker as soon as it has collected (harness/guests/matrix.py)."""

from __future__ import annotations

import ipaddress
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from harness.guests.matrix import EachAsCollected, make_gateways_at_once
from harness.scenario import load_scenario
from harness.scenario.bundle import Bundle, make

CLAIM = """\
claim: a reaches b on the link
source: {article: a test of the bundle}
topology: %s
cases:
  - id: holds
    title: a reaches b
    probe: {host: a, dst: 192.0.2.2}
    expect: {errno: ok}
"""
TOPOLOGY = """\
hosts:
  a:
    interfaces:
      eth0: {link: b.eth0, addresses: [192.0.2.1/24]}
  b:
    interfaces:
      eth0: {link: a.eth0, addresses: [192.0.2.2/24]}
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A folder with a scenario that draws its topology, one that names a topology file
    beside it, and one that does not load."""
    inline = "\n".join("  " + line for line in TOPOLOGY.splitlines())
    (tmp_path / "inline.yaml").write_text(CLAIM % ("\n" + inline))
    (tmp_path / "two-hosts.topology.yaml").write_text(TOPOLOGY)
    (tmp_path / "named.yaml").write_text(CLAIM % "./two-hosts.topology.yaml")
    (tmp_path / "broken.yaml").write_text(CLAIM % "\n  hosts: {}\n  nonsense: 1")
    return tmp_path


def test_a_file_as_loaded_is_the_controllers_scenario(folder: Path) -> None:
    loaded = Bundle(make([folder]))
    assert len(loaded) == 2  # broken.yaml is left to its worker, which reports it
    for name in ("inline.yaml", "named.yaml"):
        assert loaded.get(folder / name) == load_scenario(folder / name)
    assert loaded.get(folder / "broken.yaml") is None


def test_a_file_changed_since_or_named_otherwise_is_loaded_again(folder: Path) -> None:
    loaded = Bundle(make([folder]))
    inline, named = folder / "inline.yaml", folder / "named.yaml"
    # Same size, a later modification time: what an edit in place looks like.
    status = inline.stat()
    os.utime(inline, ns=(status.st_atime_ns, status.st_mtime_ns + 1_000_000))
    assert loaded.get(inline) is None
    status = (folder / "two-hosts.topology.yaml").stat()
    os.utime(folder / "two-hosts.topology.yaml", ns=(status.st_atime_ns, status.st_mtime_ns + 1))
    assert loaded.get(named) is None, "its topology file changed"
    (folder / "other-name.yaml").symlink_to(inline)
    assert Bundle(make([folder / "inline.yaml"])).get(folder / "other-name.yaml") is None
    assert Bundle(make([folder / "nowhere"])).get(inline) is None


def test_an_xdist_worker_collects_from_the_bundle_not_the_files(folder: Path) -> None:
    """pytest -n 1, every case deselected (xdist ignores -n with --collect-only): the
    worker's own loader is never called for a file the controller loaded, and still is
    for the one it could not."""
    (folder / "conftest.py").write_text(
        "import harness.pytest_plugin as plugin\n"
        "def pytest_configure(config):\n"
        "    if hasattr(config, 'workerinput'):\n"
        "        real = plugin.load_scenario\n"
        "        def loading(path):\n"
        f"            with open({str(folder / 'loaded-by-worker')!r}, 'a') as log:\n"
        "                log.write(f'{path.name}\\n')\n"
        "            return real(path)\n"
        "        plugin.load_scenario = loading\n"
    )
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-n",
            "1",
            "-k",
            "nothing",
            "--results-dir",
            str(folder / "run"),
            "-p",
            "no:cacheprovider",
        ],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "ERROR broken.yaml" in done.stdout, done.stdout
    assert (folder / "loaded-by-worker").read_text().split() == ["broken.yaml"]


class Node:
    """What the scheduler uses of an xdist WorkerController."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    def send_runtest_all(self) -> None:
        self.sent.append("all")

    def shutdown(self) -> None:
        self.sent.append("shutdown")


class Config:
    """What xdist's scheduler reads of the config: the gateways (--tx)."""

    def __init__(self, kernels: int) -> None:
        self.tx = [f"popen//id=kernel{n}" for n in range(kernels)]

    def getvalue(self, name: str) -> list[str]:
        assert name == "tx"
        return self.tx


def matrix(kernels: int) -> tuple[EachAsCollected, list[Node]]:
    scheduler = EachAsCollected(Config(kernels))
    nodes = [Node() for _ in range(kernels)]
    for node in nodes:
        scheduler.add_node(node)
    return scheduler, nodes


def finish(scheduler: EachAsCollected, node: Node) -> None:
    """The node has run every case but the last (xdist keeps one pending until shutdown)."""
    for index in list(scheduler.node2pending[node])[:-1]:
        scheduler.mark_test_complete(node, index)


def test_each_kernel_starts_when_it_has_collected_and_the_run_waits_for_all() -> None:
    scheduler, (host, guest) = matrix(2)
    scheduler.add_node_collection(host, ["a::1", "a::2"])
    scheduler.schedule()  # what xdist does once collection_is_completed
    assert host.sent == ["all", "shutdown"] and guest.sent == [], "the host waits for nobody"
    finish(scheduler, host)
    assert not scheduler.tests_finished, "the guest has not collected yet"
    scheduler.add_node_collection(guest, ["a::1", "a::2"])
    scheduler.schedule()
    assert host.sent == ["all", "shutdown"] and guest.sent == ["all", "shutdown"]
    assert not scheduler.tests_finished
    finish(scheduler, guest)
    assert scheduler.tests_finished


def test_a_worker_gone_before_collecting_does_not_hold_the_run() -> None:
    scheduler, (host, guest) = matrix(2)
    scheduler.add_node_collection(host, ["a::1"])
    scheduler.schedule()
    assert scheduler.remove_node(guest) is None
    assert scheduler.tests_finished


def test_every_gateway_is_made_at_once_and_xdist_takes_the_one_made_for_its_spec() -> None:
    """Three gateways that each wait for the other two (a barrier): made one after the
    other, as xdist's setup_nodes would without the hook, the first would never return."""
    barrier = threading.Barrier(3, timeout=10)

    class Group:
        def makegateway(self, spec: Any) -> str:
            barrier.wait()
            return f"gateway of {spec.id}"

    class Spec:
        def __init__(self, name: str) -> None:
            self.id = name

    group = Group()
    dsession = type("DSession", (), {"nodemanager": type("NM", (), {"group": group})()})()
    specs = [Spec(f"kernel{n}") for n in range(3)]
    make_gateways_at_once(dsession, specs)
    assert [group.makegateway(spec) for spec in specs] == [
        "gateway of kernel0",
        "gateway of kernel1",
        "gateway of kernel2",
    ]
    make_gateways_at_once(object(), specs)  # another xdist: nothing to hook, no error


def test_a_scenario_that_cannot_travel_is_left_to_its_worker(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pickling one scenario fails: the others still travel, and that one is loaded by
    its worker (no error in the controller, which would stop the whole run)."""

    def loading(path: Path) -> Any:
        scenario = load_scenario(path)
        if path.name == "inline.yaml":
            object.__setattr__(scenario, "__dict__", {**scenario.__dict__, "x": lambda: 0})
        return scenario

    monkeypatch.setattr("harness.scenario.bundle.load_scenario", loading)
    loaded = Bundle(make([folder]))
    assert loaded.get(folder / "inline.yaml") is None
    assert loaded.get(folder / "named.yaml") == load_scenario(folder / "named.yaml")


def test_a_bundle_that_does_not_unpickle_is_no_bundle(folder: Path) -> None:
    assert len(Bundle(make([folder])[:-20])) == 0
    assert Bundle(b"not a pickle").get(folder / "inline.yaml") is None


def test_a_scenario_that_pickle_would_change_is_left_to_its_worker(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Python 3.11.2 (Debian 12) pickles an IPv6Address by its integer and loses the
    scope: `fe80::2%eth0` would reach the worker as `fe80::2`.  Such a scenario stays
    out of the bundle; the others travel."""
    scoped = (CLAIM % "./two-hosts.topology.yaml").replace("dst: 192.0.2.2", "dst: fe80::2%eth0")
    (folder / "scoped.yaml").write_text(scoped)
    monkeypatch.setattr(ipaddress.IPv6Address, "__reduce__", lambda self: (type(self), (self._ip,)))
    loaded = Bundle(make([folder]))
    assert loaded.get(folder / "scoped.yaml") is None
    assert loaded.get(folder / "named.yaml") == load_scenario(folder / "named.yaml")


def test_a_bundle_from_another_python_is_no_bundle(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = make([folder])
    monkeypatch.setattr(sys, "version", "3.0.0 (elsewhere)")
    assert len(Bundle(data)) == 0
