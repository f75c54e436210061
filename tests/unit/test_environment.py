"""What the harness needs from where it runs: each lack found on the real kernel, said once.

The failures are made for real, the way a container engine makes them: a
capability taken out of the bounding set before exec (`setpriv`, as
`docker run` without --privileged does), /proc/sys bind-mounted read-only and
/dev/net covered by an empty tmpfs in a private mount namespace (what a
container without --privileged and without --device /dev/net/tun sees).
Each command runs in a child process; nothing changes for the rest of the suite.

The tests that need root are tests/kernel/test_environment.py.
"""

from __future__ import annotations

import errno
import os
import shlex
import subprocess
import sys

import pytest

from harness.core.env import PROJECT_ROOT, SCENARIO_DIR
from harness.lab.requirements import NEEDS, PRIVILEGED, advice, in_container

ALL_CAPABILITIES = (1 << 41) - 1
SCENARIO = SCENARIO_DIR / "dontroute/so-dontroute-experiment-table.yaml"
# What the sentence says to do here: this suite runs on hosts and in containers.
FIX = PRIVILEGED if in_container() else "run it as root with all capabilities"
# ... and for a capability setpriv took away here: the container's own init (if any) still
# has it, so the container is not the cause, on a host or in a privileged container.
DROPPED = (
    "dropped by what started it, such as setpriv, capsh or a service's capability bounding "
    "set): start it with all of root's capabilities"
)


def _without(capability: int) -> int:
    return ALL_CAPABILITIES & ~(1 << capability)


# --- the sentence for each answer (pure) ---------------------------------------------------


@pytest.mark.parametrize(
    ("need", "code", "container", "capabilities", "sentence"),
    [
        (
            "namespaces",
            errno.EPERM,
            True,
            _without(21),
            "root in this container may not create network namespaces (no CAP_SYS_ADMIN): "
            "run the container with --privileged",
        ),
        (
            "namespaces",
            errno.EPERM,
            False,
            _without(21),
            "this root process may not create network namespaces (no CAP_SYS_ADMIN: " + DROPPED,
        ),
        (
            "namespaces",
            errno.EPERM,
            False,
            ALL_CAPABILITIES,
            "this root process may not create network namespaces (EPERM although it has "
            "CAP_SYS_ADMIN: a seccomp or LSM profile): run it outside that profile",
        ),
        (
            "namespaces",
            errno.EPERM,
            True,
            ALL_CAPABILITIES,
            "root in this container may not create network namespaces (EPERM although it "
            "has CAP_SYS_ADMIN: a seccomp or LSM profile): run the container with --privileged",
        ),
        (
            "links",
            errno.EPERM,
            True,
            _without(12),
            "root in this container may not configure links in its own namespaces "
            "(no CAP_NET_ADMIN): run the container with --privileged",
        ),
        (
            "sysctls",
            errno.EROFS,
            True,
            ALL_CAPABILITIES,
            "/proc/sys is read-only in a new namespace: run the container with --privileged",
        ),
        (
            "sysctls",
            errno.EACCES,
            True,
            ALL_CAPABILITIES,
            "/proc/sys is not writable (EACCES) in a new namespace: "
            "run the container with --privileged",
        ),
        (
            "packet sockets",
            errno.EPERM,
            True,
            _without(13),
            "root in this container may not open packet sockets, with which every case "
            "captures (no CAP_NET_RAW): run the container with --privileged",
        ),
        (
            "packet sockets",
            errno.EAFNOSUPPORT,
            False,
            ALL_CAPABILITIES,
            "this kernel has no packet sockets (EAFNOSUPPORT): use one built with CONFIG_PACKET",
        ),
        (
            "tun",
            errno.ENOENT,
            True,
            ALL_CAPABILITIES,
            "no /dev/net/tun device node: add --device /dev/net/tun",
        ),
        (
            "tun",
            errno.EPERM,
            True,
            ALL_CAPABILITIES,
            "/dev/net/tun may not be opened here (EPERM): add --device /dev/net/tun",
        ),
        (
            "tun",
            errno.ENOENT,
            False,
            ALL_CAPABILITIES,
            "no /dev/net/tun device node: create it with `mknod /dev/net/tun c 10 200`",
        ),
        (
            "namespaces",
            errno.ENOSPC,
            False,
            ALL_CAPABILITIES,
            "the limit of network namespaces is reached (ENOSPC): raise user.max_net_namespaces",
        ),
    ],
)
def test_each_answer_has_its_sentence(
    need: str, code: int, container: bool, capabilities: int, sentence: str
) -> None:
    assert advice(need, code, container=container, capabilities=capabilities) == sentence


@pytest.mark.parametrize(
    ("init", "begins", "ends"),
    [
        # The container's init lacks it too: the container engine took it away.
        (_without(21), "root in this container may not", PRIVILEGED),
        # Unknown (/proc/1 hidden): the container is the likelier cause.
        (None, "root in this container may not", PRIVILEGED),
        # The container's init has it: whoever started this process dropped it.
        (ALL_CAPABILITIES, "this root process may not", "all of root's capabilities"),
    ],
)
def test_a_capability_dropped_below_the_containers_is_not_the_containers(
    init: int | None, begins: str, ends: str
) -> None:
    sentence = advice(
        "namespaces", errno.EPERM, container=True, capabilities=_without(21), init_capabilities=init
    )
    assert sentence.startswith(begins) and sentence.endswith(ends), sentence


def test_every_sentence_is_one_sentence_that_says_what_to_do() -> None:
    for need in NEEDS:
        for code in (errno.EPERM, errno.EACCES, errno.EROFS, errno.ENOENT, errno.EINVAL):
            for container in (True, False):
                text = advice(need, code, container=container, capabilities=0)
                assert "\n" not in text and text.count(": ") >= 1, text
                assert "sudo" not in text, text  # the user is root already


def test_only_the_tun_device_lets_other_cases_run() -> None:
    assert [n.name for n in NEEDS.values() if not n.stops_run] == ["tun"]


# --- the same on the real kernel -----------------------------------------------------------


def _harness(shell_prefix: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m harness ARGS` (or `python -m pytest` with args[0] == "pytest") under
    `shell_prefix`, a command that changes the environment and then execs the rest."""
    module = ["-m", "pytest", *args[1:]] if args[0] == "pytest" else ["-m", "harness", *args]
    command = shlex.join([sys.executable, *module])
    return subprocess.run(
        ["sh", "-c", f"{shell_prefix} {command}"],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        timeout=120,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )


def _without_capability(name: str) -> str:
    # Out of the bounding set before exec: root's new program cannot have it (what a
    # container engine's capability set does).
    return f"setpriv --bounding-set=-{name} --inh-caps=-{name} --"


# A mount namespace of its own where /proc/sys is read-only, as container engines
# mount it.  Only /proc (or /dev) is made private, not /: in a chroot, / is no
# mount point and cannot be; a mount under a private one never reaches the host.
READ_ONLY_PROC_SYS = (
    "unshare --mount --propagation unchanged sh -c 'mount --make-rprivate /proc "
    "&& mount --bind /proc/sys /proc/sys && mount -o remount,bind,ro /proc/sys "
    '&& exec "$@"\' sh'
)
# ... and one where /dev/net is empty: no tun device node.
NO_TUN_NODE = (
    "unshare --mount --propagation unchanged sh -c 'mount --make-rprivate /dev "
    '&& mount -t tmpfs -o size=4k none /dev/net && exec "$@"\' sh'
)
