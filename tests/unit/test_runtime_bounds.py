"""The runtime holds what the loader lets through, and ends every case within its bounds.

- fds numbered beyond select()'s FD_SETSIZE (1024) work: the waits use poll(2);
- a case past its wall-clock budget (`--case-timeout`) ends as an error, its lab gone;
- a case capturing more than the harness keeps ends as an error saying so;
- `--repeat` is bounded and lazy.

The tests that need root are tests/kernel/test_runtime_bounds.py.
"""

from __future__ import annotations

import os
import resource
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.cli import main
from harness.core import deadlines
from harness.runs.repeats import MAX_REPEATS, repeat_dirs
from harness.scenario import Scenario, load_scenario

FD_SETSIZE = 1024
LAN = "198.18.0.0/15"  # benchmarking addresses: never the host's


def _scenario(tmp_path: Path, hosts: int, steps: list[dict[str, Any]], **h0: Any) -> Scenario:
    """`hosts` hosts h0, h1, ... on one LAN (198.18.0.1, .2, ...), h0 with the extra
    settings `h0`, and one case of `steps`."""
    topology: dict[str, dict[str, Any]] = {
        f"h{n}": {"interfaces": {"eth0": {"lan": "lan0", "addresses": [f"198.18.0.{n + 1}/15"]}}}
        for n in range(hosts)
    }
    for key, value in h0.items():
        topology["h0"].setdefault(key, {}).update(value)
    doc = {
        "claim": "the runtime's bounds",
        "source": {"article": "issue 18", "section": "unbounded work"},
        "topology": {"hosts": topology},
        "cases": [{"id": "case", "title": "bounds", "steps": steps}],
    }
    path = tmp_path / "bounds.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return load_scenario(path)


UDP_AND_TCP = [
    {
        "probe": {"host": "h0", "dst": "198.18.0.2"},
        "expect": {"errno": "ok", "received": ["h1 from 198.18.0.1"]},
    },
    {
        "probe": {"host": "h0", "proto": "tcp", "dst": "198.18.0.2"},
        "expect": {"errno": "ok", "received": ["h1 from 198.18.0.1"]},
    },
]


@pytest.fixture
def low_fds_taken() -> Iterator[None]:
    """Every fd number up to past FD_SETSIZE held, so the case's own fds come after."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < 4 * FD_SETSIZE:
        pytest.skip(f"needs a hard fd limit of {4 * FD_SETSIZE} (ulimit -Hn is {hard})")
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    held = [os.open(os.devnull, os.O_RDONLY) for _ in range(FD_SETSIZE + 64)]
    try:
        yield
    finally:
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_the_budget_cuts_every_wait_and_says_what_was_under_way() -> None:
    with deadlines.case_budget(0.05):
        assert deadlines.bound(10.0, "x") <= 0.05
        waiting: deadlines.Readable[int] = deadlines.Readable([])
        waiting.wait(deadlines.bound(10.0, "x"))  # the budget's end, not 10 s
        with pytest.raises(deadlines.BudgetExceeded, match=r"budget of 0\.05 s while building"):
            deadlines.within_budget("building")
    assert deadlines.bound(10.0, "x") == 10.0  # outside a case: no budget


def test_readable_wakes_on_fds_beyond_fd_setsize(low_fds_taken: None) -> None:
    reader, writer = os.pipe()
    try:
        assert reader > FD_SETSIZE
        waiting = deadlines.Readable([reader])
        assert waiting.wait(0.01) == []
        os.write(writer, b"x")
        assert waiting.wait(1.0) == [reader]
    finally:
        os.close(reader)
        os.close(writer)


def test_repeat_dirs_are_lazy_and_bounded(tmp_path: Path) -> None:
    folders = repeat_dirs(tmp_path, MAX_REPEATS)  # built one at a time, not as a list
    assert not isinstance(folders, list | tuple)
    assert next(folders) == tmp_path / "repeat-001"
    with pytest.raises(ValueError, match=f"give 1 to {MAX_REPEATS}"):
        repeat_dirs(tmp_path, MAX_REPEATS + 1)


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "soon"])
def test_case_timeout_takes_only_seconds_above_zero(
    value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # In this process: the parser refuses before anything runs (a child process costs a
    # second of imports for each value).
    with pytest.raises(SystemExit) as done:
        main(["run", "--case-timeout", value])
    assert done.value.code == 2
    err = capsys.readouterr().err
    assert err.splitlines()[-1].endswith(f"{value!r}: give a number of seconds above 0")
