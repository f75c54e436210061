"""pytest's own words for the harness's verdicts (issue 22, item 3 and JUnit of item 4),
end to end: pytest in a subprocess on a folder of claims that hold, are refuted, changed
at a version and fail, on the running kernel.

- `-v` says REFUTED and CHANGED, the closing line counts them, the exit status is as
  for a pass;
- `--lf` reruns only the case that failed, `--sw` goes on from it (pytest's cache);
- a file outside the rootdir has its real path as node id;
- pytest's `--junitxml` and `harness run --junit` write each case alike, valid against
  the schema Jenkins and GitLab read.
"""

from __future__ import annotations

import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.conftest import needs_root
from tests.junit_schema import schema_errors

pytestmark = [needs_root, pytest.mark.kernel]

# Four answers from one small lab: no route covers 198.51.100.7, so a send there is
# ENETUNREACH (ip_route_output_key_hash finds no route).
CLAIMS = """\
claim: a datagram from a reaches 198.51.100.7, which no route covers
source: {article: a test of pytest's words}
topology:
  hosts:
    a:
      interfaces:
        eth0: {link: b.eth0, addresses: [192.0.2.1/24]}
    b:
      interfaces:
        eth0: {link: a.eth0, addresses: [192.0.2.2/24]}
cases:
  - id: holds
    title: a reaches b on the link
    probe: {host: a, dst: 192.0.2.2}
    expect: {errno: ok, route: {dev: eth0}}
  - id: refuted-here
    title: a sends to 198.51.100.7 without a route
    probe: {host: a, dst: 198.51.100.7}
    expect: {errno: ok}
    refuted: no route covers 198.51.100.7, so the lookup fails
    kernel_does: {errno: ENETUNREACH}
  - id: changed-here
    title: a sends to 198.51.100.7 without a route; kernels since 3.0 refuse
    probe: {host: a, dst: 198.51.100.7}
    expect: {errno: ok}
    changed_in:
      version: "3.0"
      why: a made-up change, for the test
      since:
        - expect: {errno: ENETUNREACH}
  - id: fails
    title: a sends to 198.51.100.7 and expects it to leave
    probe: {host: a, dst: 198.51.100.7}
    expect: {errno: ok}
"""


def run(cwd: Path, *args: str, tool: str = "pytest") -> subprocess.CompletedProcess[str]:
    """`python -m pytest` (or `-m harness`) in `cwd`, one process, no worker."""
    extra = ["-p", "no:xdist"] if tool == "pytest" else []
    return subprocess.run(
        [sys.executable, "-m", tool, *extra, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def claims(tmp_path: Path) -> Path:
    """A folder (its own rootdir: no configuration file above it in /tmp) with the claims."""
    folder = tmp_path / "claims"
    folder.mkdir()
    (folder / "claims.yaml").write_text(CLAIMS)
    return folder


def closing_line(output: str) -> str:
    """pytest's last line, without its `=` frame and the time."""
    last = output.strip().splitlines()[-1].strip("= ")
    return re.sub(r" in [\d.]+s.*$", "", last)


def only_failed(count: int, output: str) -> bool:
    """Only `count` failures ran: pytest counts the others as deselected, or does not
    collect them (--lf collects only files with failures), as the paths given decide."""
    return re.fullmatch(rf"{count} failed(, \d+ deselected)?", closing_line(output)) is not None


def test_refuted_and_changed_are_outcomes_of_their_own_and_do_not_fail_the_run(
    claims: Path,
) -> None:
    done = run(claims, "-v", "-k", "not fails", "--results-dir", "run")
    assert done.returncode == 0, done.stdout + done.stderr
    verdicts = re.findall(r"^claims\.yaml::(\S+) (\w+)", done.stdout, re.MULTILINE)
    assert verdicts == [
        ("holds", "PASSED"),
        ("refuted-here", "REFUTED"),
        ("changed-here", "CHANGED"),
    ]
    assert closing_line(done.stdout) == "1 passed, 1 deselected, 1 refuted, 1 changed"

    every = run(claims, "-q", "--results-dir", "run2")
    assert every.returncode == 1, every.stdout  # the failing case, as before
    assert re.search(r"^\.RCF +\[100%\]$", every.stdout, re.MULTILINE), every.stdout
    assert closing_line(every.stdout) == "1 failed, 1 passed, 1 refuted, 1 changed"


def test_last_failed_reruns_only_the_failure_and_stepwise_goes_on_from_it(claims: Path) -> None:
    first = run(claims, "-q", "--results-dir", "run1")
    assert first.returncode == 1
    assert (claims / ".pytest_cache").is_dir()  # pytest's cache, in the rootdir
    again = run(claims, "-q", "--lf", "--results-dir", "run2")
    assert again.returncode == 1
    assert only_failed(1, again.stdout), again.stdout
    assert "FAILED claims.yaml::fails" in again.stdout
    # --sw: the first run stops at the failure, the next starts from it.
    run(claims, "-q", "--cache-clear", "--sw", "--results-dir", "run3")
    stepped = run(claims, "-q", "--sw", "--results-dir", "run4")
    assert only_failed(1, stepped.stdout), stepped.stdout
    # `-p cacheprovider` crashed while the project's addopts turned it off.
    assert run(claims, "-q", "-p", "cacheprovider", "--co").returncode == 0


def test_a_file_outside_the_rootdir_is_named_by_its_path(tmp_path: Path, claims: Path) -> None:
    """A project folder (its pytest.ini makes it the rootdir) and a claim file elsewhere,
    run together: the file's cases are `/real/path.yaml::case`, not `::case`."""
    project = tmp_path / "project"
    (project / "catalogue").mkdir(parents=True)
    (project / "pytest.ini").write_text("[pytest]\n")
    (project / "catalogue" / "same.yaml").write_text(CLAIMS)
    outside = claims / "claims.yaml"
    done = run(
        project,
        *("--co", "-q", "catalogue", str(outside)),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    ids = [line for line in done.stdout.splitlines() if "::" in line]
    assert f"{outside}::holds" in ids and "catalogue/same.yaml::holds" in ids
    assert not any(i.startswith("::") for i in ids)
    # --lf finds it again by that id.
    run(project, "-q", str(outside), "catalogue", "-k", "fails", "--results-dir", "r1")
    again = run(project, "-q", "--lf", str(outside), "catalogue", "--results-dir", "r2")
    assert only_failed(2, again.stdout), again.stdout
    assert f"FAILED {outside}::fails" in again.stdout


def test_pytest_junitxml_and_harness_junit_write_each_case_alike_and_validly(
    claims: Path,
) -> None:
    done = run(claims, "-q", "--junitxml", "pytest.xml", "--results-dir", "run")
    assert done.returncode == 1, done.stdout + done.stderr
    harness = run(
        claims,
        *("run", "claims.yaml", "-n", "0", "--junit", "harness.xml", "--results-dir", "run2"),
        tool="harness",
    )
    assert harness.returncode == 1, harness.stdout + harness.stderr
    files = {name: claims / f"{name}.xml" for name in ("pytest", "harness")}
    for path in files.values():
        assert schema_errors(path) == []
    cases = {
        name: {c.get("name", ""): c for c in ET.parse(path).getroot().iter("testcase")}
        for name, path in files.items()
    }
    names = ["holds", "refuted-here (REFUTED)", "changed-here (CHANGED)", "fails"]
    assert sorted(cases["pytest"]) == sorted(cases["harness"]) == sorted(names)
    for name in names:
        mine, theirs = cases["pytest"][name], cases["harness"][name]
        for element in (mine, theirs):
            element.set("time", "")  # two runs
        assert _canonical(mine) == _canonical(theirs), name
    refuted = cases["pytest"]["refuted-here (REFUTED)"]
    assert refuted.get("classname") == "claims" and refuted.get("status") == "refuted"
    out = refuted.findtext("system-out", "")
    assert "REFUTED on kernel" in out and "errno: ENETUNREACH" in out
    assert "probe: a: udp sendto 198.51.100.7:9000 [no options] -> ENETUNREACH" in out
    failure = cases["pytest"]["fails"].find("failure")
    assert failure is not None
    assert failure.get("message") == "differs: errno: expected ok, observed ENETUNREACH"
    assert "FAIL claims/fails: a sends to 198.51.100.7" in (failure.text or "")
    suite = ET.parse(files["pytest"]).getroot().find("testsuite")
    assert suite is not None and (suite.get("tests"), suite.get("failures")) == ("4", "1")


def _canonical(element: ET.Element) -> str:
    return ET.canonicalize(ET.tostring(element, encoding="unicode"), strip_text=True)
