"""The keeper: the process that makes sure nothing of a guest outlives its launcher.

vng runs `sh -c virtme-run ...`, which forks qemu: three levels, none of which
dies with its parent.  The keeper is forked before anything else, in a session
of its own so that Ctrl-C does not reach it, and as a child subreaper so that
orphans come back to it.  It starts vng in a process group of its own and waits
for either vng's end or the launcher's (a pipe only the launcher holds, closed by
the kernel when the launcher dies, SIGKILL included); then it kills the group,
reaps every process and removes the scratch directory (vng's TMPDIR).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import NamedTuple

from harness.lab.linux import LIBC

PR_SET_CHILD_SUBREAPER = 36
VENV_BIN = Path(sys.executable).parent  # the venv the launcher runs from: vng, virtme-run

SCRATCH_PREFIX = "harness-guest-"


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGPIPE)


def _default_stop_signals() -> None:
    for sig in STOP_SIGNALS:
        signal.signal(sig, signal.SIG_DFL)


def sweep_scratch() -> None:
    """Remove the scratch directories of keepers that are gone (each holds a lock on its own)."""
    for scratch in Path(tempfile.gettempdir()).glob(f"{SCRATCH_PREFIX}*"):
        try:
            with open(scratch / ".keeper") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            continue  # a live keeper's, or not ours
        shutil.rmtree(scratch, ignore_errors=True)


class _Guest(NamedTuple):
    """What the keeper starts: vng's command line, its pipes and console, its environment."""

    command: list[str]
    stdin: int
    stdout: int
    console: int
    env: dict[str, str]


class Keeper:
    """The process that kills vng's whole process group when vng or the launcher ends."""

    def __init__(self, command: list[str], stdin: int, stdout: int, console: int) -> None:
        sweep_scratch()
        # Made under a name the sweep passes over, locked, and only then given its
        # sweepable name: another launcher's sweep never finds it unlocked.  The
        # keeper's copy of the fd holds the lock.
        making = Path(tempfile.mkdtemp(prefix=f".{SCRATCH_PREFIX}new-"))
        lock = os.open(making / ".keeper", os.O_WRONLY | os.O_CREAT, 0o600)
        fcntl.flock(lock, fcntl.LOCK_EX)
        self.scratch = str(making.with_name(making.name.removeprefix(".").replace("new-", "", 1)))
        making.rename(self.scratch)
        env = {
            **os.environ,
            "TMPDIR": self.scratch,
            "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        }
        life_read, self._life = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:  # the keeper
            try:
                os.close(self._life)
                self._keep(_Guest(command, stdin, stdout, console, env), life_read)
            finally:
                os._exit(0)
        os.close(life_read)
        os.close(lock)
        fcntl.fcntl(self._life, fcntl.F_SETFD, fcntl.FD_CLOEXEC)

    def _keep(self, guest: _Guest, life: int) -> None:
        # The scratch directory's lock (taken in __init__) is held until the
        # keeper ends, however: one whose lock is free belongs to no one, and the
        # next launcher removes it.
        os.setsid()  # Ctrl-C in the terminal reaches the launcher, not the keeper
        for sig in STOP_SIGNALS:
            signal.signal(sig, signal.SIG_IGN)
        LIBC.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        # Let go of the execnet pipes: the controller must see the channel
        # close when the launcher dies, whatever the keeper is doing.
        null = os.open(os.devnull, os.O_RDWR)
        os.dup2(null, 0)
        os.dup2(null, 1)
        try:
            self._supervise(guest, life)
        finally:
            shutil.rmtree(self.scratch, ignore_errors=True)

    def _supervise(self, guest: _Guest, life: int) -> None:
        command, stdin, stdout, console, env = guest

        def say(line: str) -> None:
            with contextlib.suppress(OSError):
                os.write(console, f"harness keeper: {line}\n".encode())

        try:
            vng = subprocess.Popen(
                command,
                stdin=stdin,
                stdout=stdout,
                stderr=console,
                env=env,
                process_group=0,
                restore_signals=True,
                # The keeper ignores these; vng and qemu must not inherit that.
                preexec_fn=_default_stop_signals,
            )
        except OSError as exc:
            say(f"cannot start {command[0]}: {exc}")
            return
        os.close(stdin)
        os.close(stdout)
        vng_exit = os.pidfd_open(vng.pid)
        ready, _, _ = select.select([life, vng_exit], [], [])
        say("vng ended" if vng_exit in ready else "the launcher ended: killing the guest")
        with contextlib.suppress(ProcessLookupError):
            os.killpg(vng.pid, signal.SIGKILL)

        # Reap vng and whatever was orphaned to us (qemu, virtme-run); bounded,
        # as a process in uninterruptible sleep could make us wait forever.
        def give_up(signum: int, frame: object) -> None:
            raise TimeoutError

        signal.signal(signal.SIGALRM, give_up)
        signal.alarm(20)
        try:
            while True:
                os.waitpid(-1, 0)
        except ChildProcessError:
            say("every process of the guest has ended")
        except TimeoutError:
            say("some process of the guest did not end within 20 s after SIGKILL")
        finally:
            signal.alarm(0)
            os.close(console)

    def stop(self) -> None:
        """Kill the guest and wait until the keeper has cleaned up (bounded)."""
        keeper_exit = os.pidfd_open(self.pid)
        with contextlib.suppress(OSError):
            os.close(self._life)
        # The keeper reaps within 20 s of SIGKILL (its own bound), then removes
        # the scratch directory.
        select.select([keeper_exit], [], [], 25)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.pid, os.WNOHANG)
        os.close(keeper_exit)
