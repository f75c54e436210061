"""`harness peer --kernel`: the option, its refusals, and the comparison across kernels (the
guest runs themselves: tests/e2e/test_peer_guest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.cli import build_parser, main
from harness.cli import peer as peer_cli
from harness.cli.peer import Outcome, Row, _across_kernels, _kernel_labels
from harness.core.env import kernel_release


@pytest.fixture
def as_root(monkeypatch: pytest.MonkeyPatch) -> None:
    """The refusals come before anything needs root's powers; pass the first check."""
    monkeypatch.setattr(peer_cli, "is_root", lambda: True)


@pytest.fixture
def script(tmp_path: Path) -> Path:
    path = tmp_path / "icmp_redirect.sh"
    path.write_text("#!/bin/bash\n")
    return path


def test_kernel_is_repeatable_and_defaults_to_none() -> None:
    parser = build_parser()
    args = parser.parse_args(["peer", "x.sh", "--kernel", "host", "--kernel", "6.1"])
    assert args.kernel == ["host", "6.1"]
    assert parser.parse_args(["peer", "x.sh"]).kernel is None


def test_no_kernel_is_the_host_once() -> None:
    assert _kernel_labels(None) == [("host", kernel_release())]
    assert _kernel_labels(["host", "host"]) == [("host", kernel_release())]


def test_an_unknown_kernel_is_refused_before_anything_runs(
    as_root: None,
    script: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path / "empty-cache"))
    assert main(["peer", str(script), "--kernel", "host", "--kernel", "9.99"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("harness peer: --kernel 9.99: ") and err.count("\n") == 1, err


def test_json_with_two_kernels_is_refused(
    as_root: None,
    script: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(
        peer_cli, "_kernel_labels", lambda labels: [("host", "a"), ("6.1", "6.1.0-57-amd64")]
    )
    out = tmp_path / "o.json"
    assert main(["peer", str(script), "--json", str(out), "--kernel", "6.1"]) == 2
    assert capsys.readouterr().err == (
        "harness peer: --json writes one kernel's comparison: give one --kernel with it\n"
    )
    assert not out.exists()


def _outcome(kernel: str, script: str, verdict: str, mark: str = "") -> Outcome:
    row = Row(
        section="IPv4 FIB rule tests",
        test="rule4 check: dscp no redirect to table",
        case="fib-rule-ipv4/dscp-no-redirect",
        script=script,  # type: ignore[arg-type]
        script_seconds=0.1,
        verdict=verdict,
        case_seconds=0.2,
        mark=mark,  # type: ignore[arg-type]
    )
    same = Row(
        **{
            **row.model_dump(),
            "test": "rule4 check: oif redirect to table",
            "script": "OK",
            "verdict": "pass",
            "mark": "",
        }
    )
    return Outcome(
        kernel=kernel,
        rows=[row, same],
        unmapped=0,
        script_checks=2,
        script_seconds=3.0,
        script_exit=0,
        cases=2,
        harness_seconds=1.0,
    )


def test_an_outcome_survives_its_json_and_says_its_exit_status() -> None:
    agreeing = _outcome("6.1.0-57-amd64", "FAIL", "changed")
    assert Outcome.model_validate_json(agreeing.model_dump_json()) == agreeing
    assert agreeing.exit_status == 0
    assert _outcome("x", "OK", "fail", "differs").exit_status == 1
    assert _outcome("x", "FAIL", "skip", "not compared").exit_status == 0
    silent = Outcome(**{**agreeing.model_dump(), "script_checks": 0})
    assert silent.exit_status == 1  # nothing compared is no agreement


def test_across_kernels_names_each_check_that_answers_differently(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _across_kernels(
        [
            ("6.1", _outcome("6.1.0-57-amd64", "FAIL", "changed")),
            ("host", _outcome("6.18.0", "OK", "pass")),
            ("6.12", "qemu ended before Python started"),
        ]
    )
    out = capsys.readouterr().out
    assert "  6.1.0-57-amd64 (6.1): 2 of 2 agree, 0 differ, 0 not compared;" in out
    assert "  6.12: no comparison (qemu ended before Python started)" in out
    assert (
        "  IPv4 FIB rule tests: rule4 check: dscp no redirect to table: 6.1.0-57-amd64 "
        "script FAIL / scenario changed; 6.18.0 script OK / scenario pass"
    ) in out
    assert "oif redirect to table:" not in out  # the same on both kernels
    assert "1 of 2 checks answer differently between kernels" in out
