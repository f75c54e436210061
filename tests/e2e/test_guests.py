"""Guest kernels: apt configuration, version choice, kernel lookup, the launcher's commands.

The tests that need root or boot a guest kernel; the rest are tests/unit/test_guests.py.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness.guests.sources.cache import cached_kernels
from harness.runs.store import read_results
from tests.conftest import needs_root
from tests.unit.test_guests import PROJECT


@needs_root
def test_a_worker_of_a_kernel_that_did_not_boot_errors_every_case(tmp_path: Path) -> None:
    """The launcher's fallback: a host worker whose every case is an error record of the
    kernel that did not boot, with the reason."""
    scenario = PROJECT / "scenarios/dontroute/so-dontroute-experiment-table.yaml"
    env = {
        **os.environ,
        "HARNESS_GUEST_KERNEL": "6.1.0-57-amd64",
        "HARNESS_GUEST_ERROR": "qemu ended before Python started",
    }
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:xdist",
            "-q",
            "--results-dir",
            str(tmp_path),
            f"{scenario}::far-with-default-route",
            f"{scenario}::peer-with-default-route",
        ],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "2 failed" in done.stdout, done.stdout
    records = read_results(tmp_path)
    assert {(r.kernel, r.verdict) for r in records} == {("6.1.0-57-amd64", "error")}
    assert all(r.message == "qemu ended before Python started" for r in records)


def _cached_kernel_or_skip() -> str:
    if shutil.which("qemu-system-x86_64") is None:
        pytest.skip("no qemu-system-x86_64 (Debian: qemu-system-x86) to boot a guest")
    if shutil.which("busybox") is None or shutil.which("depmod") is None:
        pytest.skip("virtme-ng needs busybox-static and kmod to boot a guest")
    kernels = cached_kernels()
    if not kernels:
        pytest.skip("no cached kernel to boot: `harness kernels fetch 6.1`")
    return kernels[-1].release


def test_a_guest_kernel_serves_an_execnet_gateway(tmp_path: Path) -> None:
    import execnet

    release = _cached_kernel_or_skip()
    status = tmp_path / "status.json"
    python = (
        f"{sys.executable} -m harness.guests.launch --rwdir {tmp_path} "
        f"--status {status} --console {tmp_path / 'console.log'} {release}"
    )
    gateway = execnet.makegateway(f"popen//python={python}")
    try:
        channel = gateway.remote_exec(
            "import os; channel.send((os.uname().release, dict(os.environ))); "
            "channel.send(channel.receive()[::-1])"
        )
        guest_release, env = channel.receive(timeout=60)
        payload = bytes(range(256)) * 16  # every byte value, through the relay both ways
        channel.send(payload)
        assert channel.receive(timeout=60) == payload[::-1]
    finally:
        gateway.exit()
    assert "HARNESS_GUEST_ERROR" not in env, env.get("HARNESS_GUEST_ERROR")
    assert (guest_release, env["HARNESS_GUEST_KERNEL"]) == (release, release)
    assert env["HARNESS_GUEST_ACCEL"] in ("kvm", "tcg")
    assert json.loads(status.read_text())["boot_seconds"] > 0
