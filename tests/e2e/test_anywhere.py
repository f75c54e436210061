"""A claim lives anywhere, end to end through the command line (issue 20, item 5): a
listing piped to `harness import -` outside the clone, its skeleton refused until a
case is filled in, then run; and a set-up the kernel refuses is an error naming the
topology's line in the terminal, TAP and JUnit, never a verdict."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from harness.core.env import PROJECT_ROOT
from harness.scenario.load import NO_CASE_YET
from tests.conftest import needs_root
from tests.kernel.test_setup_refused import CLAIM, TOPOLOGY
from tests.unit.test_import_anywhere import CASE, LISTING

pytestmark = [needs_root, pytest.mark.kernel]


def harness(cwd: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
        env={"PYTHONPATH": str(PROJECT_ROOT), "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
    )


def test_a_piped_listing_becomes_a_claim_next_to_its_files_and_runs(tmp_path: Path) -> None:
    done = harness(tmp_path, "import", "-", "--scenario", "claims/x.yaml", stdin=LISTING)
    assert done.returncode == 0, done.stderr
    assert "wrote claims/imported.topology.yaml (2 hosts)" in done.stdout
    unfilled = harness(tmp_path, "run", "claims/x.yaml", "-n", "0")
    assert (unfilled.returncode, unfilled.stderr.splitlines()) == (
        2,
        [f"harness run: claims/x.yaml: cases: {NO_CASE_YET}"],
    )
    skeleton = tmp_path / "claims" / "x.yaml"
    skeleton.write_text(skeleton.read_text() + CASE)
    ran = harness(tmp_path, "run", "claims/x.yaml", "-n", "0", "--results-dir", "run")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert '"verdict":"pass"' in (tmp_path / "run" / "results.json").read_text()


def test_a_refused_set_up_is_an_error_naming_its_line_in_every_output(tmp_path: Path) -> None:
    (tmp_path / "net.yaml").write_text(TOPOLOGY)
    (tmp_path / "claim.yaml").write_text(CLAIM)
    line = (
        "net.yaml:7 hosts.a.routes[0] 'default via 192.0.2.2 dev eth0 onlink': "
        "the kernel refused it: Network is down (ENETDOWN)"
    )
    args = ["run", "claim.yaml", "-n", "0", "--results-dir", "run"]
    done = harness(tmp_path, *args, "--tap", "t.tap", "--junit", "j.xml")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "1 error" in done.stdout and "fail" not in done.stdout.lower()
    tap = (tmp_path / "t.tap").read_text().splitlines()
    assert tap[1].startswith("not ok 1 ") and tap[2] == f"# error: {line}"
    (case,) = ET.parse(tmp_path / "j.xml").getroot().iter("testcase")
    (error,) = case.iter("error")
    assert error.get("message") == line
    assert list(case.iter("failure")) == []
