"""The command line refuses bad input before anything runs.

The tests that need root; the rest are tests/unit/test_cli.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.cli import main
from tests.conftest import needs_root
from tests.unit.test_cli import BAD


@needs_root  # the root check comes first
def test_run_refuses_a_malformed_scenario_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "scenarios"
    folder.mkdir()
    (folder / "bad.yaml").write_text(BAD)
    assert main(["run", str(folder)]) == 2
    err = capsys.readouterr().err
    assert "bad.yaml: cases[0](a).probe.host: no host 'sendr'" in err
