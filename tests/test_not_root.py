"""Without root, every entry point says how to run it instead of failing obscurely."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.cli import main
from harness.netns import NamespaceError, NetNS

NOBODY = 65534
pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch to another user")


def as_nobody(
    action: Callable[[], int], warm_up: Callable[[], object] | None = None
) -> tuple[int, str]:
    """Run `action` in a forked child whose user is nobody; its exit code and output.

    `warm_up` runs first, still as root: nobody may be unable to import modules
    the parent has not imported yet (here Python lives under /root, mode 700).
    """
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 99
        try:
            if warm_up is not None:
                warm_up()
            # pytest's capture has replaced sys.stdout; point both at the pipe.
            sys.stdout = sys.stderr = os.fdopen(write_end, "w", buffering=1)
            os.setgroups([])
            os.setresgid(NOBODY, NOBODY, NOBODY)
            os.setresuid(NOBODY, NOBODY, NOBODY)
            code = action()
            sys.stdout.flush()
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end) as output:
        text = output.read()
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), text


def test_harness_run_says_how_to_run_it() -> None:
    code, text = as_nobody(lambda: main(["run"]))
    assert code == 2
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
    assert code == 3
    assert "permission denied" in text and "needs root" in text


def test_pytest_skips_cases_with_the_reason(tmp_path: Path) -> None:
    scenario = "scenarios/dontroute/so-dontroute-experiment-table.yaml::far-with-default-route"
    options = [scenario, "-rs", "-q", "-p", "no:cacheprovider", "-p", "no:xdist"]

    def collect_as_root() -> object:
        # Imports every plugin pytest will load; writes nothing to results/.
        return pytest.main([*options, "--collect-only", "--results-dir", str(tmp_path)])

    code, text = as_nobody(lambda: int(pytest.main(options)), warm_up=collect_as_root)
    assert code == 0
    assert "1 skipped" in text and "needs root to build network namespaces" in text
