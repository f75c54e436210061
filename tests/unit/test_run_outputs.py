"""What a run leaves for a reader (issue 22, 5): the command that reruns it, a changed case's
tables named after the version's sides, links that stop below the report's bar, pcaps that
`show` names by absolute path, and a message for every failure."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import pytest
import yaml

from harness.case.record import CaseRecord
from harness.case.verdict import judge
from harness.core.env import SCENARIO_DIR
from harness.core.evidence import Observation
from harness.outputs.report import render_case_text
from harness.outputs.report.style import CSS
from harness.outputs.report.text import comparison_headings
from harness.pytest_plugin import invoked_command
from harness.scenario import ChangedIn, load_scenario
from harness.scenario.expect import Comparison
from tests.unit.test_report import page, record

REPOSITORY = Path(__file__).resolve().parents[2]  # the checkout: .github/ is not packaged
ROWS = [Comparison(field="errno", label="errno", expected="ok", observed="EPERM", ok=False)]


@pytest.mark.parametrize(
    ("argv", "pytest_args", "command"),
    [
        # `harness run` hands pytest arguments of its own (-c /dev/null, -p ...): the
        # command typed is what reruns the run.
        (
            ["/opt/venv/bin/harness", "run", "my claims/x.yaml", "-n", "2"],
            ("my claims/x.yaml", "--rootdir", "/", "-c", "/dev/null"),
            "/opt/venv/bin/harness run 'my claims/x.yaml' -n 2",
        ),
        (
            [".venv/bin/pytest", "scenarios/arp", "-k", "ipv6 and not scope"],
            ("scenarios/arp", "-k", "ipv6 and not scope"),
            ".venv/bin/pytest scenarios/arp -k 'ipv6 and not scope'",
        ),
        (
            ["/usr/lib/python3/site-packages/pytest/__main__.py", "scenarios"],
            ("scenarios",),
            shlex.join([sys.executable, "-m", "pytest", "scenarios"]),
        ),
        (
            ["/work/harness/__main__.py", "run", "scenarios"],
            ("scenarios", "-p", "no:terminal"),
            shlex.join([sys.executable, "-m", "harness", "run", "scenarios"]),
        ),
        ([], ("scenarios",), "pytest scenarios"),  # embedded: no command line of its own
    ],
)
def test_the_recorded_command_is_the_one_typed(
    argv: list[str], pytest_args: tuple[str, ...], command: str
) -> None:
    assert invoked_command(argv, pytest_args) == command


def _changed(kernel: str, **side: object) -> CaseRecord:
    change = ChangedIn.model_validate({"version": "5.14", "why": "fib_add_ifaddr()", **side})
    return record("changed", kernel=kernel, changed_in=change, article_comparison=ROWS)


def test_a_changed_cases_tables_name_the_sides_of_the_version(tmp_path: Path) -> None:
    since = _changed("6.1.0-test", since=[{}])
    assert comparison_headings(since) == (
        "what the article claims (what kernels before 5.14 do)",
        "what kernels from 5.14 do, as this one (recorded in the case)",
    )
    before = _changed("5.10.0-test", before=[{}])
    assert comparison_headings(before)[0] == "what the article claims (what kernels from 5.14 do)"
    html = page(tmp_path, [since])
    assert "(refuted)" not in html
    assert "<h4>what kernels from 5.14 do, as this one (recorded in the case)</h4>" in html
    assert "what the article claims (what kernels before 5.14 do):" in render_case_text(since)
    # a refuted claim keeps its words
    refuted = record("refuted", refuted="no", article_comparison=ROWS)
    assert comparison_headings(refuted)[0] == "what the article claims (refuted)"


def test_a_links_target_stops_below_the_sticky_filter_bar(tmp_path: Path) -> None:
    # The bar's height is kept in --bar by the page's script; every target keeps that much
    # (and a little) above it when scrolled to.
    assert "[id] { scroll-margin-top: calc(var(--bar) + 10px); }" in CSS
    html = page(tmp_path, [record("fail")])
    assert 'setProperty("--bar", bar.offsetHeight + "px")' in html


def test_show_names_pcaps_by_absolute_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rec = record("fail")
    monkeypatch.chdir(tmp_path)
    relative = render_case_text(rec)
    assert "pcaps in pcap/dontroute/peer-fail/: sender-eth0.pcap" in relative
    shown = render_case_text(rec, Path("results/run-1"))
    assert f"pcaps in {tmp_path}/results/run-1/pcap/dontroute/peer-fail/: sender-eth0.pcap" in (
        shown
    )


def test_a_failure_says_why_in_its_message() -> None:
    scenario = load_scenario(SCENARIO_DIR / "dontroute" / "so-dontroute-experiment-table.yaml")
    case = scenario.cases[0]
    judgement = judge(case, Observation(acts=[]), "6.1.0")
    assert judgement.verdict == "fail"
    assert judgement.message.startswith("the kernel does not do what the claim says: ")
    differing = [r for r in judgement.comparison if not r.ok]
    assert differing and all(
        f"{r.label}: expected {r.expected}, observed {r.observed}" in judgement.message
        for r in differing
    )


def test_the_example_workflow_publishes_the_junit_report_it_writes() -> None:
    workflow = yaml.safe_load((REPOSITORY / ".github" / "workflows" / "harness.yml").read_text())
    steps = workflow["jobs"]["test"]["steps"]
    run = next(s for s in steps if "--junit" in s.get("run", ""))
    written = run["run"].split("--junit ", 1)[1].split()[0]
    # written inside the container's results/, the folder mounted from the runner's
    assert written.startswith("results/") and "$PWD/results:/opt/harness/results" in run["run"]
    report = next(s for s in steps if "junit-report" in s.get("uses", ""))
    assert report["with"]["report_paths"] == written and report["if"] == "always()"
    assert workflow["jobs"]["test"]["permissions"]["checks"] == "write"
