"""A sysctl key names a per-namespace net.* setting, checked in one place for YAML and Python."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from harness.lab.netns import Lab
from harness.scenario import ScenarioError, load_scenario
from tests.conftest import needs_root

SCENARIO = {
    "claim": "A claim.",
    "source": {"article": "x"},
    "topology": "lan-with-gateway",
    "cases": [
        {
            "id": "one",
            "title": "t",
            "probe": {"host": "sender", "dst": "192.0.2.193"},
            "expect": {"errno": "ok"},
        }
    ],
}


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        ("kernel.printk", "only net.* keys belong to a network namespace"),
        ("net/../kernel/printk_ratelimit_burst", "'..' is not a sysctl name"),
        ("net.ipv4..ip_forward", "'' is not a sysctl name"),
        ("net.core.rmem_max", "global to the machine"),
        ("net.ipv4.tcp_mem", "global to the machine"),
    ],
)
def test_the_loader_refuses_keys_outside_the_namespace(
    tmp_path: Path, key: str, problem: str
) -> None:
    doc = {
        **SCENARIO,
        "cases": [
            {
                **SCENARIO["cases"][0],  # type: ignore[index]
                "change": [{"host": "sender", "sysctl": {key: 1}}],
            }
        ],
    }
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert caught.value.field == f"cases[0](one).change[0].sysctl[{key!r}]"
    assert problem in caught.value.problem


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
