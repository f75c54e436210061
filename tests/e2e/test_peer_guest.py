"""`harness peer --kernel`: a selftest script and its scenario case run inside a booted guest
kernel beside the host, each kernel's comparison printed, then where kernels differ.  Boots
the newest cached kernel (skipped, saying why, when none is cached or qemu is missing)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli.peer import private_mounts_refused
from harness.core.env import kernel_release
from tests.conftest import needs_root
from tests.e2e.test_guests import _cached_kernel_or_skip
from tests.e2e.test_peer import fake_selftest


@needs_root
def test_peer_runs_the_script_and_its_case_in_a_guest_beside_the_host(tmp_path: Path) -> None:
    release = _cached_kernel_or_skip()
    why = private_mounts_refused()
    if why is not None:  # a chroot: the host's half refuses (tests/e2e/test_peer.py)
        pytest.skip(why)
    script, side = fake_selftest(tmp_path)
    source = script.parent
    host_had = os.path.exists("/run/netns/harness-peer-fake")
    kernels = ["--kernel", release, "--kernel", "host"]
    done = subprocess.run(
        [sys.executable, "-m", "harness", "peer", str(script), "--checks", str(side), *kernels],
        capture_output=True,
        text=True,
        timeout=600,
    )
    out = done.stdout
    assert done.returncode == 1, out + done.stderr  # "delivery fails" differs on both
    guest_part, _, host_part = out.partition(f"kernel {kernel_release()}: fake_selftest.sh")
    # The guest's own comparison: its kernel ran the script (its `ip netns add` in the
    # guest's private /run/netns) and the case.
    assert f"kernel {release}: fake_selftest.sh from a scratch copy" in guest_part, out
    assert f"kernel {release}: guest (" in guest_part
    for part in (guest_part, host_part):
        lines = {line.split("  script")[0].strip(): line for line in part.splitlines()}
        assert "script OK" in lines["Plain section: delivery works"], part
        assert "scenario pass" in lines["Plain section: delivery works"]
        assert lines["Plain section: delivery fails"].endswith("<-- differs")
        assert "1 of 2 mapped checks agree, 1 differ, 0 not compared" in part
    assert f"  {release} ({release}): 1 of 2 agree, 1 differ, 0 not compared;" in out
    assert "0 of 2 checks answer differently between kernels" in out
    # Nothing reached the host's /run/netns or the script's folder.
    assert os.path.exists("/run/netns/harness-peer-fake") == host_had is False
    assert sorted(p.name for p in source.iterdir()) == ["fake_selftest.sh", "lib.sh"]
