"""Without root, every entry point says how to run it instead of failing obscurely."""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable, Generator
from pathlib import Path

import pytest

from harness.cli import main
from harness.core.env import SCENARIO_DIR
from harness.lab.netns import NamespaceError, NetNS

NOBODY = 65534
pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch to another user")


def in_child(action: Callable[[], int]) -> tuple[int, str]:
    """Run `action` in a forked child; its exit code and everything it printed.

    An exception in the child is printed (exit code 99), so a failure says why.
    """
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 99
        try:
            # pytest's capture has replaced sys.stdout; point both at the pipe.
            sys.stdout = sys.stderr = os.fdopen(write_end, "w", buffering=1)
            code = action()
        except BaseException:
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end) as output:
        text = output.read()
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), text


def as_nobody(action: Callable[[], int]) -> tuple[int, str]:
    """Run `action` in a forked child whose real, effective and saved user is nobody.

    `action` must need no module the parent has not imported yet and no file:
    nobody may be unable to read the clone or the virtual environment (both under
    /root, mode 700, in a root user's clone).
    """

    def switched() -> int:
        os.setgroups([])
        os.setresgid(NOBODY, NOBODY, NOBODY)
        os.setresuid(NOBODY, NOBODY, NOBODY)
        return action()

    return in_child(switched)


class CasesRunAsNobody:
    """pytest plugin: the cases run with the effective user and group nobody.

    Collection, which reads the scenario files, and the end of the session stay
    root, so the check does not depend on whether nobody can read the clone.
    With the effective uid nobody the process has no effective capabilities, so
    it takes the same path as an unprivileged user's pytest.
    """

    @pytest.hookimpl(wrapper=True)
    def pytest_runtestloop(self) -> Generator[None, object, object]:
        os.setegid(NOBODY)
        os.seteuid(NOBODY)
        try:
            return (yield)
        finally:
            os.seteuid(0)
            os.setegid(0)


def test_harness_run_says_how_to_run_it() -> None:
    code, text = as_nobody(lambda: main(["run"]))
    assert code == 2, text
    assert "needs root" in text and "sudo scripts/run" in text


def test_making_a_namespace_says_how_to_run_it() -> None:
    def make() -> int:
        try:
            NetNS("x")
        except NamespaceError as exc:
            print(exc, flush=True)
            return 3
        return 0

    code, text = as_nobody(make)
    assert code == 3, text
    assert "permission denied" in text and "needs root" in text


def test_pytest_skips_cases_with_the_reason(tmp_path: Path) -> None:
    scenario = SCENARIO_DIR / "dontroute/so-dontroute-experiment-table.yaml"
    options = [
        f"{scenario}::far-with-default-route",
        *("-rs", "-q", "-p", "no:cacheprovider", "-p", "no:xdist"),
        *("--results-dir", str(tmp_path)),  # nothing written to results/
    ]
    code, text = in_child(lambda: int(pytest.main(options, plugins=[CasesRunAsNobody()])))
    assert code == 0, text
    assert "1 skipped" in text and "needs root to build network namespaces" in text
