"""What the tests compare to prove a run left the host as it found it.

Read with iproute2 on purpose: an independent tool, the one a user would use
to check by hand.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from harness.lab.netns import NamespaceId, namespace_id

_COMMANDS = {
    "netns": ["ip", "netns", "list"],
    "links": ["ip", "-d", "link", "show"],
    "addresses": ["ip", "addr", "show"],
    "routes4": ["ip", "-4", "route", "show", "table", "all"],
    "routes6": ["ip", "-6", "route", "show", "table", "all"],
    "rules4": ["ip", "-4", "rule", "show"],
    "rules6": ["ip", "-6", "rule", "show"],
}
# Lifetimes of dynamic addresses and RA routes count down by themselves.
_VOLATILE = re.compile(r"(valid_lft|preferred_lft|expires) \S+")


def snapshot() -> dict[str, str]:
    """The root namespace's links, addresses, routes, rules and net.ipv4 sysctls, as text."""
    state = {
        name: _VOLATILE.sub(
            r"\1 _", subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        )
        for name, cmd in _COMMANDS.items()
    }
    sysctls = []
    for path in sorted(Path("/proc/sys/net/ipv4").rglob("*")):
        if path.is_file():
            try:
                sysctls.append(f"{path}={path.read_text().strip()}")
            except OSError:
                continue  # write-only entries such as route/flush
    state["sysctl net.ipv4"] = "\n".join(sysctls)
    return state


def differences(before: dict[str, str], after: dict[str, str]) -> dict[str, tuple[str, str]]:
    """The parts of two snapshots that differ."""
    return {k: (before[k], after[k]) for k in before if before[k] != after.get(k)}


def namespace_references(namespaces: set[NamespaceId]) -> list[str]:
    """Every process fd, /proc/PID/ns/net link or nsfs mount that still refers to these namespaces.

    A namespace nothing refers to is destroyed by the kernel, links and all.
    Inode numbers are recycled at once, so a match by inode is confirmed by cookie.
    """
    by_inode = {ns.inode: ns for ns in namespaces}
    found: list[str] = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        links = [f"/proc/{pid}/ns/net"]
        try:
            links += [f"/proc/{pid}/fd/{fd}" for fd in os.listdir(f"/proc/{pid}/fd")]
        except OSError:
            continue  # the process ended meanwhile
        for link in links:
            match = _NET_LINK.fullmatch(_readlink(link))
            if match and int(match[1]) in by_inode and _same(link, by_inode[int(match[1])]):
                found.append(link)
        try:
            mounts = Path(f"/proc/{pid}/mountinfo").read_text()
        except OSError:
            continue
        found += [f"nsfs mount in {pid}: net:[{i}]" for i in by_inode if f"net:[{i}]" in mounts]
    return found


_NET_LINK = re.compile(r"net:\[(\d+)\]")


def _readlink(path: str) -> str:
    try:
        return os.readlink(path)
    except OSError:
        return ""


def _same(link: str, expected: NamespaceId) -> bool:
    try:
        fd = os.open(link, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False  # closed meanwhile
    try:
        return namespace_id(fd) == expected
    finally:
        os.close(fd)
