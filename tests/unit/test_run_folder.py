"""Every file the harness writes stays inside its run folder and no link is written through
(issue 18: a downloaded results folder, or a --results-dir holding links, runs as root)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.case.record import RunInfo
from harness.core import run_folder
from harness.core.run_folder import RunFolderError
from harness.lab.capture import Capture, Frame
from harness.outputs.report import write_report
from harness.outputs.summary import write_summary
from harness.runs.store import mark_running, write_record, write_results
from tests.unit.test_report import record

ROOT = Path(__file__).resolve().parents[2]


def _capture() -> Capture:
    """A capture holding one frame, without opening packet sockets (only its writers run)."""
    capture = Capture.__new__(Capture)
    capture.frames = [Frame("lan0", "a-eth0", 0, 1, 1.5, bytes(60))]
    return capture


WRITERS: dict[str, tuple[str, Callable[[Path], object]]] = {
    "record": (
        "records/6.1.0-test/dontroute/peer-pass.json",
        lambda d: write_record(d, record()),
    ),
    "running marker": (
        "records/.running/6.1.0-test/dontroute/peer-pass",
        lambda d: mark_running(d, record()),
    ),
    "results.json": (
        "results.json",
        lambda d: write_results(d, [record()], RunInfo(started="2026-01-01T00:00:00+00:00")),
    ),
    "summary.md": ("summary.md", lambda d: write_summary(d, [record()])),
    "report.html": ("report.html", lambda d: write_report(d, [record()])),
    "pcap": (
        "pcap/k/s/c/lan0-a-eth0.pcap",
        lambda d: _capture().write_pcaps(d, Path("pcap/k/s/c")),
    ),
    "pcapng": (
        "pcap/k/s/c.pcapng",
        lambda d: _capture().write_pcapng(d, Path("pcap/k/s/c.pcapng")),
    ),
}


@pytest.mark.parametrize("writer", WRITERS)
def test_each_writer_writes_inside_the_run_folder(tmp_path: Path, writer: str) -> None:
    relative, write = WRITERS[writer]
    write(tmp_path)
    written = tmp_path / relative
    assert written.is_file() and not written.is_symlink()
    assert written.stat().st_size > 0
    assert not [p for p in tmp_path.rglob(".*.tmp*")], "a temporary file was left"


@pytest.mark.parametrize("writer", WRITERS)
def test_no_writer_follows_a_link_at_its_file(tmp_path: Path, writer: str) -> None:
    relative, write = WRITERS[writer]
    run, outside = tmp_path / "run", tmp_path / "outside"
    run.mkdir()
    outside.mkdir()
    target = outside / "victim"
    target.write_text("keep me")
    link = run / relative
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(target)
    with pytest.raises(RunFolderError, match="symbolic link"):
        write(run)
    assert target.read_text() == "keep me"
    assert link.is_symlink()


@pytest.mark.parametrize("writer", [w for w, (rel, _) in WRITERS.items() if "/" in rel])
def test_no_writer_follows_a_link_at_a_folder(tmp_path: Path, writer: str) -> None:
    relative, write = WRITERS[writer]
    run, outside = tmp_path / "run", tmp_path / "outside"
    run.mkdir()
    outside.mkdir()
    (run / Path(relative).parts[0]).symlink_to(outside)
    with pytest.raises(RunFolderError, match="symbolic link"):
        write(run)
    assert list(outside.iterdir()) == []


def test_a_dangling_link_is_not_created_through(tmp_path: Path) -> None:
    (tmp_path / "summary.md").symlink_to(tmp_path / "elsewhere.md")
    with pytest.raises(RunFolderError):
        write_summary(tmp_path, [record()])
    assert not (tmp_path / "elsewhere.md").exists()


@pytest.mark.parametrize("relative", ["../x", "/etc/x", "a/../../x", "", "a/\0b"])
def test_a_path_out_of_the_folder_is_refused(tmp_path: Path, relative: str) -> None:
    run = tmp_path / "run"
    run.mkdir()
    with pytest.raises(RunFolderError):
        run_folder.write_text(run, relative, "x")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_a_fifo_or_folder_at_the_name_is_refused(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "summary.md")
    (tmp_path / "report.html").mkdir()
    with pytest.raises(RunFolderError, match="not a regular file"):
        write_summary(tmp_path, [record()])
    with pytest.raises(RunFolderError, match="not a regular file"):
        write_report(tmp_path, [record()])


def test_report_of_a_folder_with_a_link_says_so_in_one_line(tmp_path: Path) -> None:
    write_results(tmp_path, [record()], RunInfo(started="2026-01-01T00:00:00+00:00"))
    victim = tmp_path.parent / f"{tmp_path.name}-victim"
    victim.write_text("keep me")
    (tmp_path / "report.html").symlink_to(victim)
    done = subprocess.run(
        [sys.executable, "-m", "harness", "report", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert done.returncode == 2
    assert len(done.stderr.splitlines()) == 1, done.stderr
    assert "symbolic link" in done.stderr and "Traceback" not in done.stderr
    assert victim.read_text() == "keep me"
