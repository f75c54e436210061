"""A kernel matrix: the same cases on several kernels at once, one xdist worker per kernel.

`--kernel host --kernel 6.1 --kernel /path/to/bzImage` becomes pytest-xdist's
`--dist each` with one gateway per kernel: the host's is a plain `popen`, a
guest's is `popen//python=harness-guest ... KERNEL` (harness/guests/launch.py),
whose "python" boots the kernel with virtme-ng and runs the worker inside it.
Every case then runs once on every kernel, and its record carries the kernel
it ran on.  What the launcher found out (KVM or TCG, boot time, a guest that did
not come up) is in RUN/guests/<release>.json, and becomes the run's KernelRun.
"""

from __future__ import annotations

import json
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from harness.case.record import KernelRun
from harness.core.env import kernel_release
from harness.guests.sources import KernelError, find_kernel

HOST = "host"
LAUNCHER = Path(sys.executable).parent / "harness-guest"


@dataclass(frozen=True)
class Gateway:
    """One kernel of the matrix and the xdist gateway that runs its worker."""

    label: str  # as asked: host, 6.1, a path
    release: str  # `uname -r` of that kernel
    spec: str  # the xdist --tx spec
    status: Path | None  # where the launcher says what happened (guests only)

    @property
    def id(self) -> str:
        """The gateway's (and worker's) id."""
        return self.spec.rsplit("//id=", 1)[-1]


def gateways(labels: list[str], run_dir: Path) -> list[Gateway]:
    """The gateways for `labels`; ValueError naming a kernel that cannot be found."""
    found: list[Gateway] = []
    for n, label in enumerate(dict.fromkeys(labels)):
        if label == HOST:
            found.append(Gateway(label, kernel_release(), f"popen//id=kernel{n}", None))
            continue
        try:
            kernel = find_kernel(label)
        except KernelError as exc:
            raise ValueError(f"--kernel {label}: {exc}") from None
        guests = run_dir / "guests"
        status = guests / f"{kernel.release}.json"
        python = shlex.join(
            [
                str(LAUNCHER),
                "--status",
                str(status),
                "--console",
                str(guests / f"{kernel.release}.console"),
                "--rwdir",
                str(run_dir),
                label,
            ]
        )
        found.append(
            Gateway(label, kernel.release, f"popen//python={python}//id=kernel{n}", status)
        )
    return found


def seen_kernel_run(release: str, ended: tuple[float, float]) -> KernelRun:
    """A kernel that answered without a `--kernel` of this run: this machine's own, or
    another machine's that `pytest --tx ssh=...` reached (its release is not this one's)."""
    here = release == kernel_release()
    return KernelRun(
        release=release,
        label="host" if here else release,
        machine="host" if here else "another machine (an execnet gateway)",
        first_case_seconds=ended[0],
        last_case_seconds=ended[1],
    )


def kernel_run(gateway: Gateway, ended: tuple[float, float] | None = None) -> KernelRun:
    """What a kernel of the matrix was: host or guest, KVM or TCG, whether it came up, and
    when (`ended`: its first and last case's end, in seconds from the run's start)."""
    first, last = ended if ended is not None else (None, None)
    if gateway.status is None:
        return KernelRun(
            release=gateway.release,
            label=gateway.label,
            machine="host",
            first_case_seconds=first,
            last_case_seconds=last,
        )
    try:
        status = json.loads(gateway.status.read_text())
    except (OSError, ValueError):
        status = {}
    accel = status.get("accel", "?")
    boot = status.get("boot_seconds")
    machine = f"guest ({accel}" + (f", booted in {boot:.0f} s)" if boot else ")")
    return KernelRun(
        release=gateway.release,
        label=gateway.label,
        machine=machine,
        error=str(status.get("error", "")),
        boot_seconds=boot,
        first_case_seconds=first,
        last_case_seconds=last,
    )
