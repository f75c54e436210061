"""What this kernel can do: link kinds a topology needs, found out by trying.

A feature is available when the kernel creates the link (in a scratch
namespace that is thrown away); /proc/config.gz, when present, only adds the
config option to the reason a scenario is skipped.
"""

from __future__ import annotations

import functools
import gzip
import os
from pathlib import Path

from pyroute2.netlink.exceptions import NetlinkError

from harness.netns import Lab

CONFIG_OPTIONS = {
    "veth": "CONFIG_VETH",
    "bridge": "CONFIG_BRIDGE",
    "macvlan": "CONFIG_MACVLAN",
    "ipvlan": "CONFIG_IPVLAN",
    "tun": "CONFIG_TUN",
    "dummy": "CONFIG_DUMMY",
    "vrf": "CONFIG_NET_VRF",
}


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
def unavailable(kind: str) -> str | None:
    """None when this kernel can create `kind` links, else the reason it cannot."""
    with Lab("feature-probe") as lab:
        ns = lab.namespace("probe")
        try:
            if kind == "tun":
                with ns.entered():
                    os.close(os.open("/dev/net/tun", os.O_RDWR | os.O_CLOEXEC))
            elif kind == "veth":
                ns.add_link("probe-a", "veth", peer={"ifname": "probe-b"})
            elif kind in ("macvlan", "ipvlan"):
                ns.add_link("lower", "veth", peer={"ifname": "lower-peer"})
                ns.add_link("upper", kind, link=ns.link_index("lower"))
            elif kind == "vrf":
                ns.add_link("vrf-probe", "vrf", vrf_table=10)
            else:
                ns.add_link(f"{kind}-probe", kind)
        except (NetlinkError, OSError) as exc:
            detail = exc.args[1] if isinstance(exc, NetlinkError) else exc.strerror
            config = _config_line(CONFIG_OPTIONS.get(kind, ""))
            hint = f"; /proc/config.gz: {config}" if config else ""
            return f"this kernel cannot create {kind} links ({detail}){hint}"
    return None


def missing(kinds: set[str]) -> list[str]:
    """Reasons, one per link kind in `kinds` this kernel lacks."""
    return [reason for kind in sorted(kinds) if (reason := unavailable(kind))]
