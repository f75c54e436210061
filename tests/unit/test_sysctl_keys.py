"""A sysctl key names a per-namespace net.* setting, checked in one place for YAML and Python.

The tests that need root are tests/kernel/test_sysctl_keys.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from harness.scenario import ScenarioError, load_scenario

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
