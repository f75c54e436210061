"""What the harness needs from where it runs: each lack found on the real kernel, said once.

The failures are made for real, the way a container engine makes them: a
capability taken out of the bounding set before exec (`setpriv`, as
`docker run` without --privileged does), /proc/sys bind-mounted read-only and
/dev/net covered by an empty tmpfs in a private mount namespace (what a
container without --privileged and without --device /dev/net/tun sees).
Each command runs in a child process; nothing changes for the rest of the suite.
"""

from __future__ import annotations

import errno
import os
import shlex
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from harness.core.env import PROJECT_ROOT, SCENARIO_DIR
from harness.lab import requirements
from harness.lab.requirements import NEEDS, PRIVILEGED, advice, in_container
from tests.conftest import needs_root

ALL_CAPABILITIES = (1 << 41) - 1
SCENARIO = SCENARIO_DIR / "dontroute/so-dontroute-experiment-table.yaml"
# What the sentence says to do here: this suite runs on hosts and in containers.
FIX = PRIVILEGED if in_container() else "run it as root with all capabilities"


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
            "this root process may not create network namespaces (no CAP_SYS_ADMIN): "
            "run it as root with all capabilities",
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


@needs_root
@pytest.mark.parametrize(
    ("capability", "need", "says"),
    [
        ("sys_admin", "namespaces", "may not create network namespaces (no CAP_SYS_ADMIN)"),
        ("net_admin", "links", "may not configure links in its own namespaces (no CAP_NET_ADMIN)"),
        ("net_raw", "packet sockets", "may not open packet sockets"),
    ],
)
def test_doctor_names_a_missing_capability(capability: str, need: str, says: str) -> None:
    done = _harness(_without_capability(capability), "doctor")
    assert done.returncode == 2, done.stdout + done.stderr
    line = next(line for line in done.stdout.splitlines() if line.strip().startswith(need))
    assert says in line and line.rstrip().endswith("EPERM]") and FIX in line, line
    assert "Traceback" not in done.stdout + done.stderr


@needs_root
def test_a_run_without_cap_sys_admin_stops_once_with_the_sentence() -> None:
    done = _harness(_without_capability("sys_admin"), "run", str(SCENARIO))
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("harness run: "), done.stderr
    assert "may not create network namespaces" in lines[0] and lines[0].endswith(FIX)
    assert done.stdout == ""


@needs_root
def test_pytest_without_cap_sys_admin_stops_once_with_the_sentence(tmp_path: Path) -> None:
    done = _harness(
        _without_capability("sys_admin"),
        *("pytest", str(SCENARIO), "-p", "no:xdist", "-p", "no:cacheprovider"),
        *("--results-dir", str(tmp_path)),
    )
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    assert output.count("may not create network namespaces") == 1, output
    assert "Traceback" not in output and "sudo" not in output and "passed" not in output
    assert list(tmp_path.iterdir()) == []  # stopped before any case


@needs_root
def test_a_read_only_proc_sys_is_named() -> None:
    done = _harness(READ_ONLY_PROC_SYS, "doctor")
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"/proc/sys is read-only in a new namespace: {FIX}" in done.stdout
    assert "[write /proc/sys/net/ipv4/conf/all/arp_ignore in a new namespace: EROFS]" in (
        done.stdout
    )


@needs_root
def test_a_missing_tun_node_is_not_a_missing_kernel_feature() -> None:
    """The kernel has the driver (the tun scenarios run here); only the node is gone."""
    expected = requirements.advice(
        "tun", errno.ENOENT, container=in_container(), capabilities=ALL_CAPABILITIES
    )
    done = _harness(NO_TUN_NODE, "doctor")
    assert done.returncode == 2, done.stdout + done.stderr
    tun_lines = [line for line in done.stdout.splitlines() if line.strip().startswith("tun")]
    # The environment's line and the kernel feature's line both name the node.
    assert len(tun_lines) == 2 and all(expected in line for line in tun_lines), tun_lines
    assert "this kernel cannot create tun" not in done.stdout


@needs_root
def test_the_check_leaves_this_thread_and_the_host_as_they_were(host_untouched: None) -> None:
    here = os.readlink("/proc/thread-self/ns/net")
    assert requirements.blocking(requirements.survey()) == []  # this suite runs, so they are met
    assert os.readlink("/proc/thread-self/ns/net") == here
    # The scratch namespace lived on a thread of its own, which has ended.
    assert "environment check" not in [t.name for t in threading.enumerate()]
