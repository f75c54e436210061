"""What the harness needs from where it runs, found out by trying; each lack is one sentence.

Every case makes network namespaces and works inside them, so `harness doctor`
and the start of every run make one scratch namespace, on a thread of its own,
and try each need there the way a case uses it:

- namespaces: unshare(CLONE_NEWNET), which needs CAP_SYS_ADMIN (a container
  without --privileged lacks it, and its seccomp profile refuses unshare too);
- links: bring the namespace's loopback up (SIOCSIFFLAGS needs CAP_NET_ADMIN);
- sysctls: write a per-namespace sysctl back with the value it has (container
  engines mount /proc/sys read-only unless the container is privileged: EROFS;
  an AppArmor profile denies the write: EACCES);
- packet sockets: AF_PACKET, what every capture is (CAP_NET_RAW);
- tun: open /dev/net/tun, as a tun or tap link does.  A missing device node is
  the container's doing (`--device /dev/net/tun`), never reported as a kernel
  without the driver; a node whose open says ENODEV is the kernel's, and
  harness/lab/kernel_features.py reports that as a missing feature.

Only that thread ever refers to the scratch namespace; it steps back and ends,
and the kernel frees the namespace.  No other thread of the process leaves its
own.  Written with ctypes and ioctl rather than harness.lab.netns
and pyroute2 because pytest's controller runs this at every start and otherwise
never imports pyroute2 (about half a second).
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import socket
import struct
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harness.core.validation import errno_name
from harness.lab.linux import CLONE_NEWNET, ETH_P_ALL, IFF_UP, LIBC

SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFREQ = "16sH22x"  # struct ifreq: the name, then ifr_flags in a 24-byte union
TUN_DEVICE = "/dev/net/tun"
# Per-namespace (net/ipv4/devinet.c registers conf/all for every namespace);
# written back with the value it has, so the write changes nothing.
PROBE_SYSCTL = "/proc/sys/net/ipv4/conf/all/arp_ignore"
CAPABILITY_BITS = {"CAP_NET_ADMIN": 12, "CAP_NET_RAW": 13, "CAP_SYS_ADMIN": 21}
PRIVILEGED = "run the container with --privileged"


@dataclass(frozen=True)
class Need:
    """One thing every case needs from the environment, and how it is tried."""

    name: str
    tried: str  # what the check does, as the kernel sees it
    refused: str  # what the process may not do when the kernel says EPERM
    capability: str | None  # the capability whose lack gives EPERM
    stops_run: bool  # True: no case can run without it; False: only the cases that use it


NEEDS: dict[str, Need] = {
    n.name: n
    for n in (
        Need(
            "namespaces",
            "unshare(CLONE_NEWNET)",
            "may not create network namespaces",
            "CAP_SYS_ADMIN",
            stops_run=True,
        ),
        Need(
            "links",
            "set lo up in a new namespace (SIOCSIFFLAGS)",
            "may not configure links in its own namespaces",
            "CAP_NET_ADMIN",
            stops_run=True,
        ),
        Need(
            "sysctls",
            f"write {PROBE_SYSCTL} in a new namespace",
            "may not write sysctls in its own namespaces",
            None,
            stops_run=True,
        ),
        Need(
            "packet sockets",
            "socket(AF_PACKET) in a new namespace",
            "may not open packet sockets, with which every case captures",
            "CAP_NET_RAW",
            stops_run=True,
        ),
        Need("tun", f"open {TUN_DEVICE}", f"may not open {TUN_DEVICE}", None, stops_run=False),
    )
}


@dataclass(frozen=True)
class Problem:
    """A need the environment does not meet: what the kernel answered and what to do."""

    need: Need
    answer: str  # e.g. "unshare(CLONE_NEWNET): EPERM"
    sentence: str  # what to do, in one sentence

    def __str__(self) -> str:
        return self.sentence


@dataclass(frozen=True)
class Finding:
    """One need's outcome: met, a problem, or not tried (an earlier need failed)."""

    need: Need
    problem: Problem | None
    tried: bool = True


def in_container() -> bool:
    """True when a container engine started this process (docker, podman, systemd-nspawn, lxc)."""
    markers = ("/.dockerenv", "/run/.containerenv")
    # systemd-nspawn, podman and lxc name their kind in `container`, in lower case.
    engine = os.environ.get("container")  # noqa: SIM112
    return any(Path(m).exists() for m in markers) or bool(engine)


def effective_capabilities() -> int:
    """The CapEff mask of this process (/proc/self/status)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("CapEff:"):
            return int(line.split()[1], 16)
    return 0


def init_bounding_set() -> int | None:
    """The CapBnd mask of this PID namespace's init, which a container engine's capability
    set limits like ours (None: not readable, as under hidepid)."""
    try:
        status = Path("/proc/1/status").read_text()
    except OSError:
        return None
    masks = [int(x.split()[1], 16) for x in status.splitlines() if x.startswith("CapBnd:")]
    return masks[0] if masks else None


def _lacking(capability: str | None, capabilities: int) -> str:
    if capability is None or capabilities >> CAPABILITY_BITS[capability] & 1:
        return ""
    return f"no {capability}"


def advice(
    need: str,
    code: int,
    *,
    container: bool,
    capabilities: int,
    init_capabilities: int | None = None,
) -> str:
    """The one sentence that says what to do when `need`'s attempt failed with errno `code`.

    `init_capabilities`: the bounding set of the container's init (None: unknown).  A
    capability the container's init has and this process lacks was dropped by whoever
    started the process (setpriv, capsh, a service's bounding set), not by the container
    engine: then, as on a host, the sentence speaks of this process, not of the container.
    """
    row = NEEDS[need]
    name = errno_name(code)
    lacking = _lacking(row.capability, capabilities)
    why = lacking or (
        f"{name} although it has {row.capability}: a seccomp or LSM profile"
        if row.capability
        else name
    )
    dropped_here = bool(lacking) and (
        not container
        or (init_capabilities is not None and not _lacking(row.capability, init_capabilities))
    )
    fix = PRIVILEGED if container else "run it as root with all capabilities"
    if need == "tun":
        if code == errno.ENOENT:
            if container:
                return f"no {TUN_DEVICE} device node: add --device {TUN_DEVICE}"
            return f"no {TUN_DEVICE} device node: create it with `mknod {TUN_DEVICE} c 10 200`"
        if code in (errno.EPERM, errno.EACCES):
            if container:
                return f"{TUN_DEVICE} may not be opened here ({name}): add --device {TUN_DEVICE}"
            return f"{TUN_DEVICE} may not be opened ({name}): allow it in the device rules"
        return f"{TUN_DEVICE} cannot be opened ({name}): tun and tap cases are skipped"
    if need == "sysctls" and code in (errno.EROFS, errno.EACCES):
        what = "read-only" if code == errno.EROFS else f"not writable ({name})"
        return f"/proc/sys is {what} in a new namespace: {fix}"
    if code in (errno.EPERM, errno.EACCES) and dropped_here:
        return (
            f"this root process {row.refused} ({why}: dropped by what started it, such as "
            "setpriv, capsh or a service's capability bounding set): start it with all of "
            "root's capabilities"
        )
    if code in (errno.EPERM, errno.EACCES):
        if container:
            return f"root in this container {row.refused} ({why}): {fix}"
        # Outside a container, with the capability: a profile the process runs under.
        return f"this root process {row.refused} ({why}): run it outside that profile"
    if need == "namespaces" and code == errno.ENOSPC:
        return "the limit of network namespaces is reached (ENOSPC): raise user.max_net_namespaces"
    if need == "namespaces" and code == errno.EINVAL:
        return "this kernel has no network namespaces (EINVAL): use one built with CONFIG_NET_NS"
    if need == "packet sockets" and code == errno.EAFNOSUPPORT:
        return "this kernel has no packet sockets (EAFNOSUPPORT): use one built with CONFIG_PACKET"
    return f"{row.tried} failed with {name}: the harness cannot run here"


def _failed_with(action: Callable[[], object]) -> int:
    """0 when `action()` succeeds, else the errno it failed with."""
    try:
        action()
    except OSError as exc:
        return exc.errno or errno.EIO
    return 0


def _loopback_up() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        answer = fcntl.ioctl(sock, SIOCGIFFLAGS, struct.pack(IFREQ, b"lo", 0))
        flags = struct.unpack(IFREQ, answer)[1]
        fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack(IFREQ, b"lo", flags | IFF_UP))


def _rewrite_sysctl() -> None:
    with open(PROBE_SYSCTL, "rb") as current:  # /proc/sys resolves by this thread's namespace
        value = current.read()
    with open(PROBE_SYSCTL, "wb", buffering=0) as sysctl:
        sysctl.write(value)


def _packet_socket() -> None:
    socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL)).close()


def _open_tun() -> None:
    os.close(os.open(TUN_DEVICE, os.O_RDWR | os.O_CLOEXEC))


def _scratch_namespace_attempts(answers: dict[str, int]) -> None:
    """On a thread of its own: unshare a namespace, try each need inside it, step back."""
    here = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        if LIBC.unshare(CLONE_NEWNET) != 0:
            answers["namespaces"] = ctypes.get_errno()
            return
        answers["namespaces"] = 0
        answers["links"] = _failed_with(_loopback_up)
        answers["sysctls"] = _failed_with(_rewrite_sysctl)
        answers["packet sockets"] = _failed_with(_packet_socket)
    finally:
        LIBC.setns(here, CLONE_NEWNET)  # the thread ends next, in whichever namespace
        os.close(here)


def _tun_answer() -> int:
    code = _failed_with(_open_tun)
    # ENODEV/ENXIO: the node is there and the kernel lacks the driver
    # (harness.lab.kernel_features's word).
    return 0 if code in (errno.ENODEV, errno.ENXIO) else code


def answers() -> dict[str, int]:
    """errno per need that was tried (0: it worked); needs after a failed unshare are absent."""
    found: dict[str, int] = {}
    thread = threading.Thread(
        target=_scratch_namespace_attempts, args=(found,), name="environment check"
    )
    thread.start()
    thread.join()
    found["tun"] = _tun_answer()
    return found


def _finding(need: Need, code: int | None, container: bool, capabilities: int) -> Finding:
    if not code:
        return Finding(need, None, tried=code is not None)
    sentence = advice(
        need.name,
        code,
        container=container,
        capabilities=capabilities,
        init_capabilities=init_bounding_set() if container else None,
    )
    return Finding(need, Problem(need, f"{need.tried}: {errno_name(code)}", sentence))


def survey() -> list[Finding]:
    """Every need, tried now in a scratch namespace, with the sentence for each one not met."""
    found = answers()
    container, capabilities = in_container(), effective_capabilities()
    return [_finding(n, found.get(n.name), container, capabilities) for n in NEEDS.values()]


def problems(findings: list[Finding]) -> list[Problem]:
    """Every need not met."""
    return [f.problem for f in findings if f.problem]


def blocking(findings: list[Finding]) -> list[Problem]:
    """The problems that leave no case able to run (stop the run once, with these sentences)."""
    return [p for p in problems(findings) if p.need.stops_run]


def said_once(findings: list[Finding], who: str) -> bool:
    """Print the blocking problems (or else the others) to stderr, each once, as `who: ...`;
    True when nothing can run."""
    stopping = blocking(findings)
    for problem in stopping or problems(findings):
        print(f"{who}: {problem}", file=sys.stderr)
    return bool(stopping)


def tun_problem() -> Problem | None:
    """Why tun and tap links cannot be made here when the device node is the reason, not the
    kernel (None: the node opens, or the kernel itself lacks the driver)."""
    code = _tun_answer()
    return _finding(NEEDS["tun"], code, in_container(), effective_capabilities()).problem


def lines(findings: list[Finding]) -> list[str]:
    """`harness doctor`'s lines: each need, and the sentence of each one not met."""
    out = []
    for finding in findings:
        label = f"  {finding.need.name:<15}"
        if not finding.tried:
            out.append(f"{label}not tried (needs namespaces)")
        elif finding.problem is None:
            out.append(f"{label}ok")
        else:
            out.append(f"{label}NO: {finding.problem.sentence} [{finding.problem.answer}]")
    return out
