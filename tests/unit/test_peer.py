"""`harness peer`: reading a selftest's check lines, and the side file that maps them."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.cli.peer import (
    CheckCase,
    PeerFile,
    ScriptCheck,
    ScriptRun,
    _report,
    agree,
    load_peer_file,
    parse_checks,
)

# What the net selftests print (icmp_redirect.sh's log_section and log_test; fib_rule_tests.sh
# indents its lines and, in older versions, heads a section `TEST SECTION: ...`).
OUTPUT = """\

###########################################################################
Legacy routing
###########################################################################

TEST: IPv4: redirect exception                                      [ OK ]
Error: Basic connectivity is broken
TEST: IPv6: redirect exception                                      [FAIL]
TEST SECTION: IPv4 fib rule
    TEST: rule4 check: oif redirect to table                          [ OK ]
    TEST: rule4 check: tos 0x20 no redirect to table                  [XFAIL]
TEST: a check                                                       [SKIP]
TEST: IPv4 [ OK ] inside the text                                   [ OK ]
not a TEST: line at all  [ OK ]
Tests passed:  3
"""


def test_check_lines_are_read_under_their_section() -> None:
    timed = [(float(n), line) for n, line in enumerate(OUTPUT.splitlines())]
    checks = list(parse_checks(timed, ["Legacy routing", "IPv4 fib rule"]))
    assert [(c.section, c.text, c.verdict) for c in checks] == [
        ("Legacy routing", "IPv4: redirect exception", "OK"),
        ("Legacy routing", "IPv6: redirect exception", "FAIL"),
        ("IPv4 fib rule", "rule4 check: oif redirect to table", "OK"),
        ("IPv4 fib rule", "rule4 check: tos 0x20 no redirect to table", "XFAIL"),
        ("IPv4 fib rule", "a check", "SKIP"),
        ("IPv4 fib rule", "IPv4 [ OK ] inside the text", "OK"),
    ]
    # seconds since the previous check line (line numbers stand for seconds here)
    assert checks[0] == ScriptCheck("Legacy routing", "IPv4: redirect exception", "OK", 5.0)
    assert checks[1].seconds == 2.0


def test_unknown_headings_leave_the_section_as_it_was() -> None:
    lines = [(0.0, "Legacy routing"), (1.0, "TEST: x  [ OK ]")]
    assert [c.section for c in parse_checks(lines, [])] == [""]


@pytest.mark.parametrize(
    ("script", "scenario", "same"),
    [
        ("OK", "pass", True),
        ("OK", "fail", False),
        ("FAIL", "fail", True),
        ("FAIL", "refuted", True),
        ("XFAIL", "changed", True),
        ("FAIL", "pass", False),
        ("FAIL", "skip", False),
        (None, "skip", True),
        (None, "pass", False),
        ("SKIP", "skip", True),
        ("OK", "error", False),
    ],
)
def test_verdicts_agree(script: str | None, scenario: str, same: bool) -> None:
    assert agree(script, scenario) is same  # type: ignore[arg-type]


def test_a_bad_side_file_is_one_line(tmp_path: Path) -> None:
    side = tmp_path / "x.sh.peer.yaml"
    side.write_text("script: x.sh\nchecks: [{test: t, case: '../etc/passwd'}]\n")
    with pytest.raises(ValueError, match=r"x.sh.peer.yaml: checks.0.case: String should match"):
        load_peer_file(side)
    side.write_text("script: x.sh\nchecks: [{test: t, case: a/b, extra: 1}]\n")
    with pytest.raises(ValueError, match=r"checks\.0\.extra: Extra inputs are not permitted"):
        load_peer_file(side)


def test_the_catalogue_side_file_names_existing_cases() -> None:
    from harness.cli.peer import CATALOGUE
    from harness.scenario import Scenario, load_scenario

    scenarios: dict[Path, Scenario] = {}  # each file loaded once, not once per check
    for side_path in sorted(CATALOGUE.glob("*.peer.yaml")):
        side = load_peer_file(side_path)
        assert side.checks
        for check in side.checks:
            name, case_id = check.case.split("/")
            path = side_path.parent / f"{name}.yaml"
            if path not in scenarios:
                scenarios[path] = load_scenario(path)
            scenarios[path].case(case_id)
            assert check.section in side.sections


def test_a_case_that_skips_here_is_neither_agreement_nor_difference(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A VRF check on a kernel without VRF: the case skips, the script (which does not
    notice) says FAIL; neither is the kernel's answer, so the run is not a difference."""
    side = PeerFile(
        script="s.sh",
        checks=[
            CheckCase(test="plain", case="a/plain"),
            CheckCase(test="in a vrf", case="a/vrf"),
        ],
    )
    ran = ScriptRun(
        [ScriptCheck("", "plain", "OK", 0.5), ScriptCheck("", "in a vrf", "FAIL", 0.5)],
        1.0,
        1,
        [],
    )
    status = _report(side, ran, {"a/plain": ("pass", 0.1), "a/vrf": ("skip", 0.0)}, 0.1)
    out = capsys.readouterr().out
    assert status == 0
    assert "1 of 2 mapped checks agree, 0 differ, 1 not compared" in out
    assert "(not compared: the case skips here)" in out and "differs" not in out


def test_a_script_that_printed_no_check_compared_nothing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """fib_rule_tests.sh without nettest exits 4 (kselftest's skip) before its first check:
    nothing was compared, which is neither agreement (exit 0) nor 90 differences."""
    side = PeerFile(script="s.sh", checks=[CheckCase(test="plain", case="a/plain")])
    status = _report(
        side, ScriptRun([], 0.1, 4, ["nettest not found"]), {"a/plain": ("pass", 0.1)}, 0.1
    )
    out = capsys.readouterr().out
    assert status == 1
    assert "nothing compared: the script printed no check (exit 4)" in out
    assert "<-- differs" in out  # a check it never printed, while printing none at all


def test_a_check_the_script_did_not_print_while_printing_others_is_not_compared(
    capsys: pytest.CaptureFixture[str],
) -> None:
    side = PeerFile(
        script="s.sh",
        checks=[CheckCase(test="plain", case="a/plain"), CheckCase(test="dscp", case="a/d")],
    )
    ran = ScriptRun([ScriptCheck("", "plain", "OK", 0.02)], 0.02, 0, [])
    status = _report(side, ran, {"a/plain": ("pass", 0.1), "a/d": ("pass", 0.1)}, 0.2)
    out = capsys.readouterr().out
    assert status == 0
    assert "(not compared: the script printed no line)" in out
    assert "the scenarios 5.0 times slower per check" in out
