"""A sysctl key names a per-namespace net.* setting, checked in one place for YAML and Python.

The tests that need root; the rest are tests/unit/test_sysctl_keys.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.lab.netns import Lab
from tests.conftest import needs_root


@needs_root
@pytest.mark.kernel
def test_the_python_api_cannot_reach_the_host(host_untouched: None) -> None:
    before = Path("/proc/sys/kernel/printk_ratelimit_burst").read_text()
    with Lab("sysctl") as lab:
        ns = lab.namespace("a")
        with pytest.raises(ValueError, match="not a sysctl name"):
            ns.write_sysctl("net/../kernel/printk_ratelimit_burst", 11)
        with pytest.raises(ValueError, match="not a sysctl name"):
            ns.read_sysctls(["net/../kernel/osrelease"])
        with pytest.raises(ValueError, match="global to the machine"):
            ns.write_sysctl("net.core.rmem_max", 1)
        ns.write_sysctl("net/ipv4/conf/lo/rp_filter", 1)  # the slash form works
        assert ns.read_sysctl("net.ipv4.conf.lo.rp_filter") == "1"
    assert Path("/proc/sys/kernel/printk_ratelimit_burst").read_text() == before
