"""`harness peer` end to end, on a tiny fake selftest written here (no network needed): it
runs from a scratch copy with a private /run/netns, its check lines are matched to scenario
cases, and a verdict that differs is named (exit 1)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli.peer import private_mounts_refused
from tests.conftest import needs_root

# A selftest in the net selftests' manner: a section heading, `ip netns add` of a fixed
# name (which must land in the private /run/netns), and log_test's lines.
FAKE = """\
#!/bin/bash
echo "####################"
echo "Plain section"
echo "####################"
ip netns add harness-peer-fake || exit 3
[ -e /run/netns/harness-peer-fake ] || exit 4
[ -e lib.sh ] || exit 5
printf "TEST: %-40s  [ OK ]\\n" "delivery works"
printf "TEST: %-40s  [FAIL]\\n" "delivery fails"
printf "TEST: %-40s  [ OK ]\\n" "no scenario for this one"
ip netns del harness-peer-fake
"""

SCENARIO = """\
claim: A datagram from a to b is delivered.
source: {article: fake_selftest.sh, section: Plain section}
topology:
  hosts:
    a: {interfaces: {eth0: {link: b.eth0, addresses: [192.0.2.1/24]}}}
    b: {interfaces: {eth0: {link: a.eth0, addresses: [192.0.2.2/24]}}}
cases:
  - id: delivered
    title: a reaches b
    probe: {host: a, dst: 192.0.2.2}
    expect: {errno: ok, received: [b from 192.0.2.1]}
"""

SIDE = """\
script: fake_selftest.sh
sections: [Plain section]
checks:
  - {section: Plain section, test: delivery works, case: fake/delivered}
  - {section: Plain section, test: delivery fails, case: fake/delivered}
"""


def fake_selftest(tmp_path: Path) -> tuple[Path, Path]:
    """The fake script with a lib.sh beside it (selftests/), and its case and side file
    (claims/): the script's path and the side file's."""
    source = tmp_path / "selftests"
    source.mkdir()
    script = source / "fake_selftest.sh"
    script.write_text(FAKE)
    (source / "lib.sh").write_text("# copied along\n")
    catalogue = tmp_path / "claims"
    catalogue.mkdir()
    (catalogue / "fake.yaml").write_text(SCENARIO)
    side = catalogue / "fake_selftest.sh.peer.yaml"
    side.write_text(SIDE)
    return script, side


@needs_root
def test_peer_runs_the_script_beside_its_cases(tmp_path: Path) -> None:
    why = private_mounts_refused()
    if why is not None:  # a chroot (CI's fresh machine): the command refuses, as below
        pytest.skip(why)
    script, side = fake_selftest(tmp_path)
    source = script.parent
    host_had = os.path.exists("/run/netns/harness-peer-fake")
    done = subprocess.run(
        [sys.executable, "-m", "harness", "peer", str(script), "--checks", str(side)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = done.stdout
    assert done.returncode == 1, done.stdout + done.stderr
    lines = {line.split("  script")[0].strip(): line for line in out.splitlines()}
    assert "script OK" in lines["Plain section: delivery works"]
    assert "scenario pass" in lines["Plain section: delivery works"]
    assert "differs" not in lines["Plain section: delivery works"]
    assert "script FAIL" in lines["Plain section: delivery fails"]
    assert lines["Plain section: delivery fails"].endswith("<-- differs")
    assert "Plain section: no scenario for this one  script OK: no scenario" in out
    assert "script: 3 checks in" in out and "scenarios: 1 cases in" in out
    assert (
        "1 of 2 mapped checks agree, 1 differ, 0 not compared (no answer from one side); "
        "1 of the script's checks have no scenario"
    ) in out
    # The script's namespace lived in its own /run/netns, never the host's.
    assert os.path.exists("/run/netns/harness-peer-fake") == host_had is False
    # It ran from a scratch copy: nothing was written beside the original.
    assert sorted(p.name for p in source.iterdir()) == ["fake_selftest.sh", "lib.sh"]
