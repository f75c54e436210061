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
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xdist.scheduler.each import EachScheduling

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


class EachAsCollected(EachScheduling):  # type: ignore[misc]
    """xdist's `--dist each` (every case on every worker), except that a worker starts its
    cases as soon as it has collected them.  xdist's own waits until every worker has
    collected: the host's worker and the guests booted first sat idle while the slowest
    guest booted and collected (the catalogue's first case of every kernel, the host's
    included, came 96 to 100 s into the run).  Each kernel runs all of its own cases, so
    none waits for another; the run ends when every worker has collected or gone and has
    finished its cases.  A worker that replaces a dead one is still xdist's business."""

    def __init__(self, config: Any, log: Any = None) -> None:
        super().__init__(config, log)
        self._gone_uncollected = 0  # workers that died before collecting

    def add_node_collection(self, node: Any, collection: Sequence[str]) -> None:
        if self._removed2pending or node in self.node2collection:
            super().add_node_collection(node, collection)
            return
        self.node2collection[node] = list(collection)
        self.node2pending[node] = []
        # Lets xdist call schedule() now, which starts this worker (and only it).
        self.collection_is_completed = True

    def remove_node(self, node: Any) -> str | None:
        if node not in self.node2collection:
            self._gone_uncollected += 1
            self.node2pending.pop(node, None)
            return None
        crashed: str | None = super().remove_node(node)
        return crashed

    @property
    def tests_finished(self) -> bool:
        everyone = len(self.node2collection) + self._gone_uncollected >= self.numnodes
        return everyone and bool(super().tests_finished)

    def schedule(self) -> None:
        for node, pending in self.node2pending.items():
            if node in self._started or node not in self.node2collection:
                continue  # running, or still booting and collecting
            if not pending:
                pending[:] = range(len(self.node2collection[node]))
                node.send_runtest_all()
                node.shutdown()
            else:
                node.send_runtest_some(pending)
            self._started.append(node)


def make_gateways_at_once(dsession: Any, specs: Sequence[Any]) -> None:
    """Start making every kernel's gateway now, one thread each, and have xdist's own
    (sequential) setup take the one made for its spec.

    xdist makes one gateway after the other (NodeManager.setup_nodes), and execnet's
    makegateway returns only once the gateway's Python answers, which for a guest is after
    its boot: the boots added up instead of overlapping (14 + 22 + 32 s for 6.1, 6.12 and
    5.10 under TCG, and no kernel's first case before 80 s).  xdist has no hook to make
    them at once; the one it has, pytest_xdist_setupnodes, comes just before, with the
    NodeManager already made.  With another xdist (no `nodemanager.group`) nothing changes.
    """
    group = getattr(getattr(dsession, "nodemanager", None), "group", None)
    if group is None or not callable(getattr(group, "makegateway", None)):
        return
    own: Callable[[Any], Any] = group.makegateway
    pool = ThreadPoolExecutor(max_workers=max(1, len(specs)), thread_name_prefix="gateway")
    made: dict[str, Future[Any]] = {spec.id: pool.submit(own, spec) for spec in specs}
    pool.shutdown(wait=False)

    def makegateway(spec: Any = None) -> Any:
        future = made.pop(getattr(spec, "id", None) or "", None)
        return future.result() if future is not None else own(spec)

    group.makegateway = makegateway
