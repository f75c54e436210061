"""What the harness needs from where it runs: each lack found on the real kernel, said once.

The tests that need root; the rest are tests/unit/test_environment.py.
"""

from __future__ import annotations

import errno
import os
import threading
from pathlib import Path

import pytest

from harness.lab import requirements
from harness.lab.requirements import in_container
from tests.conftest import needs_root
from tests.unit.test_environment import (
    ALL_CAPABILITIES,
    DROPPED,
    FIX,
    NO_TUN_NODE,
    READ_ONLY_PROC_SYS,
    SCENARIO,
    _harness,
    _without_capability,
)


@needs_root
@pytest.mark.parametrize(
    ("capability", "need", "says"),
    [
        ("sys_admin", "namespaces", "may not create network namespaces (no CAP_SYS_ADMIN:"),
        ("net_admin", "links", "may not configure links in its own namespaces (no CAP_NET_ADMIN:"),
        ("net_raw", "packet sockets", "may not open packet sockets"),
    ],
)
def test_doctor_names_a_missing_capability(capability: str, need: str, says: str) -> None:
    done = _harness(_without_capability(capability), "doctor")
    assert done.returncode == 2, done.stdout + done.stderr
    line = next(line for line in done.stdout.splitlines() if line.strip().startswith(need))
    # setpriv drops it below this machine's (or container's) init: not the container's doing.
    assert says in line and line.rstrip().endswith("EPERM]") and DROPPED in line, line
    assert "this container" not in line, line
    assert "Traceback" not in done.stdout + done.stderr


@needs_root
def test_a_run_without_cap_sys_admin_stops_once_with_the_sentence() -> None:
    done = _harness(_without_capability("sys_admin"), "run", str(SCENARIO))
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("harness run: "), done.stderr
    assert "may not create network namespaces" in lines[0] and lines[0].endswith(DROPPED)
    assert lines[0].startswith("harness run: this root process"), lines[0]
    assert done.stdout == ""


@needs_root
def test_pytest_without_cap_sys_admin_stops_once_with_the_sentence(tmp_path: Path) -> None:
    done = _harness(
        _without_capability("sys_admin"),
        *("pytest", str(SCENARIO), "-p", "no:xdist", "-p", "no:cacheprovider"),
        *("--results-dir", str(tmp_path)),
    )
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    assert output.count("may not create network namespaces") == 1, output
    assert "Traceback" not in output and "sudo" not in output and "passed" not in output
    assert list(tmp_path.iterdir()) == []  # stopped before any case


@needs_root
def test_a_read_only_proc_sys_is_named() -> None:
    done = _harness(READ_ONLY_PROC_SYS, "doctor")
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"/proc/sys is read-only in a new namespace: {FIX}" in done.stdout
    assert "[write /proc/sys/net/ipv4/conf/all/arp_ignore in a new namespace: EROFS]" in (
        done.stdout
    )


@needs_root
def test_a_missing_tun_node_is_not_a_missing_kernel_feature() -> None:
    """The kernel has the driver (the tun scenarios run here); only the node is gone."""
    expected = requirements.advice(
        "tun", errno.ENOENT, container=in_container(), capabilities=ALL_CAPABILITIES
    )
    done = _harness(NO_TUN_NODE, "doctor")
    assert done.returncode == 2, done.stdout + done.stderr
    tun_lines = [line for line in done.stdout.splitlines() if line.strip().startswith("tun")]
    # The environment's line and the kernel feature's line both name the node.
    assert len(tun_lines) == 2 and all(expected in line for line in tun_lines), tun_lines
    assert "this kernel cannot create tun" not in done.stdout


@needs_root
def test_the_check_leaves_this_thread_and_the_host_as_they_were(host_untouched: None) -> None:
    here = os.readlink("/proc/thread-self/ns/net")
    assert requirements.blocking(requirements.survey()) == []  # this suite runs, so they are met
    assert os.readlink("/proc/thread-self/ns/net") == here
    # The scratch namespace lived on a thread of its own, which has ended.
    assert "environment check" not in [t.name for t in threading.enumerate()]
