"""One rule for every name that becomes a path (issue 18): LANs, scenario files, case ids.

The tests that need root; the rest are tests/unit/test_names.py.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from harness.core.env import PROJECT_ROOT
from tests.conftest import needs_root
from tests.unit.test_bad_input import CASE, dump
from tests.unit.test_names import with_lan


@needs_root
def test_a_run_of_a_lan_path_writes_nothing_outside(tmp_path: Path) -> None:
    """The review's reproducer: before, a failing case of this file wrote its pcaps to
    ../../elsewhere/, truncating files of that name."""
    doc = with_lan("../../elsewhere/LAN")
    doc["cases"] = [{**CASE, "expect": {"errno": "ENETUNREACH"}}]  # fails: pcaps kept
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "claim.yaml").write_bytes(dump(doc))
    run = str(tmp_path / "run")
    done = subprocess.run(
        [sys.executable, "-m", "harness", "run", str(bundle), "-n", "0", "--results-dir", run],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=PROJECT_ROOT,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "LAN name" in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle"]
