"""The command line refuses bad input before anything runs.

The tests that need root are tests/e2e/test_cli.py.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli import main

BAD = """\
claim: a claim
source: {article: none}
topology: lan-with-gateway
cases:
  - {id: a, title: t, probe: {host: sendr, dst: 192.0.2.1}, expect: {errno: ok}}
"""


def test_list_names_the_malformed_file_and_lists_the_rest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "scenarios"
    folder.mkdir()
    (folder / "bad.yaml").write_text(BAD)
    good = Path(__file__).parents[2] / "scenarios/dontroute/so-dontroute-experiment-table.yaml"
    (folder / "good.yaml").write_text(good.read_text())
    assert main(["list", str(folder)]) == 2
    out, err = capsys.readouterr()
    assert "good/peer-with-default-route" in out
    assert "no host 'sendr'" in err


def _collected(*args: str) -> list[str]:
    """Node ids pytest collects for `args` (collection only: no case runs)."""
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--collect-only",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:xdist",
            "--rootdir",
            "/",
            *args,
        ],
        capture_output=True,
        text=True,
        cwd="/",
    ).stdout
    return [line for line in out.splitlines() if "::" in line]


def test_a_scenario_anywhere_is_collected_and_other_yaml_is_not(tmp_path: Path) -> None:
    good = Path(__file__).parents[2] / "scenarios/dontroute/so-dontroute-experiment-table.yaml"
    (tmp_path / "claim.yaml").write_text(good.read_text())
    (tmp_path / "ci.yaml").write_text("on: push\njobs: {test: {runs-on: x}}\n")
    (tmp_path / "net.yaml").write_text("hosts: {a: {}}\n")
    collected = _collected(str(tmp_path), "--results-dir", str(tmp_path / "r"))
    assert collected and all("claim.yaml::" in n for n in collected)
    one = _collected(
        f"{tmp_path}/claim.yaml::far-with-default-route", "--results-dir", str(tmp_path / "r")
    )
    assert [n.rsplit("::", 1)[1] for n in one] == ["far-with-default-route"]


def test_a_named_file_that_is_no_scenario_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    binary = tmp_path / "photo.yaml"
    binary.write_bytes(bytes(range(256)))
    assert main(["list", str(binary)]) == 2
    assert "not a text file" in capsys.readouterr().err


def test_latest_link_and_pruning_keep_the_newest_runs(tmp_path: Path) -> None:
    from harness.runs.store import latest_run, new_run_dir, prune, run_dirs

    made = []
    for n in range(5):
        run = tmp_path / f"20260101T00000{n}Z-00000{n}"
        (run / "records").mkdir(parents=True)
        made.append(run)
    newest = new_run_dir(tmp_path)
    (newest / "records").mkdir()
    (tmp_path / "not-a-run").mkdir()  # anything else in results/ is left alone
    assert (tmp_path / "latest").resolve() == newest.resolve()
    assert latest_run(tmp_path) == newest.resolve()
    removed = prune(3, tmp_path)
    assert removed == made[:3]
    assert run_dirs(tmp_path) == [*made[3:], newest]
    assert (tmp_path / "not-a-run").is_dir()
