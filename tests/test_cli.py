"""The command line refuses bad input before anything runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.cli import main
from tests.conftest import needs_root

BAD = """\
claim: a claim
source: {article: none}
topology: lan-with-gateway
cases:
  - {id: a, title: t, probe: {host: sendr, dst: 192.0.2.1}, expect: {errno: ok}}
"""


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


def test_list_names_the_malformed_file_and_lists_the_rest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "scenarios"
    folder.mkdir()
    (folder / "bad.yaml").write_text(BAD)
    good = Path(__file__).parent.parent / "scenarios/dontroute/so-dontroute-experiment-table.yaml"
    (folder / "good.yaml").write_text(good.read_text())
    assert main(["list", str(folder)]) == 2
    out, err = capsys.readouterr()
    assert "good/peer-with-default-route" in out
    assert "no host 'sendr'" in err
