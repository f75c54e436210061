"""What this kernel can do: the kernel features a topology needs, found out by trying.

A feature is available when the kernel creates the link (in a scratch
namespace that is thrown away), as harness/lab/link_makers.py tries it;
/proc/config.gz, when present, only adds the config option to the reason a
scenario is skipped.  A tun link that cannot be made because /dev/net/tun is
missing or closed to this container is the environment's doing, not the
kernel's: its reason is harness.lab.requirements's sentence.
"""

from __future__ import annotations

import functools
import gzip
from pathlib import Path

from pyroute2.netlink.exceptions import NetlinkError

from harness.lab.link_makers import TRIES
from harness.lab.netns import Lab
from harness.lab.requirements import tun_problem
from harness.scenario.link_kinds import FEATURES


def _config_line(option: str) -> str | None:
    path = Path("/proc/config.gz")
    if not path.exists():
        return None
    with gzip.open(path, "rt") as config:
        for line in config:
            if line.startswith((f"{option}=", f"# {option} is not set")):
                return line.strip()
    return None


@functools.cache
def unavailable(feature: str) -> str | None:
    """None when this kernel can create `feature` links, else the reason it cannot."""
    row = FEATURES[feature]
    if feature == "tun" and (node := tun_problem()) is not None:
        return node.sentence  # the device node, not the driver
    with Lab("feature-probe") as lab:
        ns = lab.namespace("probe")
        try:
            TRIES[feature](ns)
        except (NetlinkError, OSError) as exc:
            detail = exc.args[1] if isinstance(exc, NetlinkError) else exc.strerror
            config = _config_line(row.config or "")
            hint = f"; /proc/config.gz: {config}" if config else ""
            return f"this kernel cannot create {feature} links ({detail}){hint}"
    return None


def missing(features: set[str]) -> list[str]:
    """Reasons, one per kernel feature in `features` this kernel lacks."""
    return [reason for feature in sorted(features) if (reason := unavailable(feature))]
