"""Bad input, swept: every malformed file or argument is refused at load with one line.

The tests that need root; the rest are tests/unit/test_bad_input.py.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.cli import main
from harness.core.env import SCENARIO_DIR
from tests.conftest import needs_root
from tests.unit.test_bad_input import (
    FD_LIMIT,
    NOBODY,
    ONE_CASE,
    _looping_link,
    _nobody_can_run,
    _pytest,
    too_big,
)


@needs_root  # `harness run` checks root first
@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (lambda tmp: [str(_looping_link(tmp))], "a symbolic link to 'loop.yaml' that loops"),
        (lambda tmp: ["-k", "and or (", str(SCENARIO_DIR / "dontroute")], "-k 'and or ('"),
        (lambda tmp: ["--kernel", "9.99", str(SCENARIO_DIR / "dontroute")], "--kernel 9.99"),
        (lambda tmp: [str(tmp / "big.yaml")], "big.yaml: cases[0](a): needs about"),
        (lambda tmp: [str(tmp / "bad.yaml")], "bad.yaml: not a text file"),
        (lambda tmp: ["--json", str(tmp / "no/x.json"), ONE_CASE], "--json"),
        (lambda tmp: ["--tap", str(tmp), ONE_CASE], "a folder, not a file"),
        (lambda tmp: ["--junit", str(tmp / "no/j.xml"), ONE_CASE], "no folder"),
    ],
    ids=[
        "looping-link",
        "malformed-k",
        "unknown-kernel",
        "too-big",
        "binary",
        "json-in-no-folder",
        "tap-a-folder",
        "junit-in-no-folder",
    ],
)
def test_harness_run_refuses_before_anything_runs(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    argv: Callable[[Path], list[str]],
    says: str,
) -> None:
    monkeypatch.setattr("resource.getrlimit", lambda _: (FD_LIMIT, FD_LIMIT))
    (tmp_path / "big.yaml").write_bytes(too_big())
    (tmp_path / "bad.yaml").write_bytes(bytes(range(256)))
    assert main(["run", "-n", "1", "--results-dir", str(tmp_path / "r"), *argv(tmp_path)]) == 2
    out, err = capsys.readouterr()
    assert says in out + err and "Traceback" not in out + err
    assert not (tmp_path / "r").exists()  # refused before a run folder was made


@needs_root
def test_harness_run_refuses_a_results_folder_it_cannot_make(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["run", "-n", "1", "--results-dir", "/proc/harness-x", ONE_CASE]) == 2
    out, err = capsys.readouterr()
    assert "--results-dir /proc/harness-x" in out + err and "INTERNALERROR" not in out + err


@needs_root  # to become nobody
def test_pytest_n_2_as_a_user_skips_every_case() -> None:
    """Not root: every case is skipped with the reason (the issue saw INTERNALERROR KeyError
    'harness_run_dir' from the xdist workers)."""
    if not _nobody_can_run(sys.executable):
        pytest.skip(f"nobody cannot start {sys.executable}, or it cannot start itself")
    done = _pytest("-n", "2", "-q", "-rs", str(SCENARIO_DIR / "dontroute"), user=NOBODY)
    text = done.stdout + done.stderr
    assert done.returncode == 0, text
    assert "INTERNALERROR" not in text and "needs root to build network namespaces" in text
