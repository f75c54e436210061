"""`harness run` in a CI log (standard output a pipe, issue 22, 4 and 5): no line is cut,
a finding is printed as its case ends (before the run's end), its record's `message` says
why, the recorded command reruns the run, and `harness show` names pcaps by absolute path."""

from __future__ import annotations

import json
import os
import select
import shlex
import subprocess
import sys
import time
from pathlib import Path

from harness.core.env import PROJECT_ROOT
from tests.conftest import needs_root

# The longest id a case may have (harness.core.validation.NAME_MAX_CHARS) and a long title:
# far past 80 columns once a verdict, the scenario's name and the reason are added.
LONG_ID = "udp-to-the-far-host-without-so-dontroute-is-claimed-to-fail-" + "x" * 4
PASSING = """
  - id: pass-{n}
    title: TCP connect with SO_DONTROUTE to the far host, ENETUNREACH and nothing sent
    probe: {{host: sender, proto: tcp, dst: 198.51.100.181, sockopts: [SO_DONTROUTE]}}
    expect:
      errno: ENETUNREACH
      arp: {{sender: []}}
"""
SCENARIO = f"""
claim: a claim written wrongly on purpose, so that its first case fails in the log
source:
  article: an-article-whose-name-is-long-enough-to-matter.txt
topology: bind-two-uplinks
cases:
  - id: {LONG_ID}
    title: {"a title far longer than any terminal is wide, " * 4}that must reach the log whole
    probe: {{host: sender, dst: 198.51.100.181}}
    expect:
      errno: ENETUNREACH
""" + "".join(PASSING.format(n=n) for n in range(4))


def _read_until(proc: subprocess.Popen[bytes], wanted: bytes, within_s: float) -> bytes:
    """What the run printed up to a whole line that starts with `wanted` (bounded; read
    from the pipe's descriptor, so that communicate() later gets all the rest)."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    seen = b""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], max(deadline - time.monotonic(), 0))
        chunk = os.read(fd, 65536) if ready else b""
        if not chunk:
            break
        seen += chunk
        if any(line.startswith(wanted) for line in seen.split(b"\n")[:-1]):
            return seen
    raise AssertionError(f"no line starting {wanted!r} within {within_s} s: {seen!r}")


@needs_root
def test_a_piped_run_prints_whole_findings_as_they_happen(tmp_path: Path) -> None:
    folder = tmp_path / "claims"
    folder.mkdir()
    (folder / "long-claims.yaml").write_text(SCENARIO)
    run_dir = tmp_path / "run"
    argv = [sys.executable, "-m", "harness", "run", str(folder), "-n", "1"]
    argv += ["--results-dir", str(run_dir)]
    proc = subprocess.Popen(
        argv,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "COLUMNS": "80"},
    )
    try:
        # The failing case runs first (one worker, in file order): its finding is in the
        # log while the four cases after it still run, before the run writes its files.
        before = _read_until(proc, b"FAIL", within_s=120)
        assert not (run_dir / "results.json").exists(), before
        rest, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    log = (before + rest).decode()
    assert proc.returncode == 1, log + err.decode()
    assert "..." not in log and "…" not in log, log
    lines = log.splitlines()
    first = lines.index(f"FAIL    long-claims/{LONG_ID}")
    assert lines[first + 1] == "        differs: errno: expected ENETUNREACH, observed ok"
    # ... and again in the closing list, after the cases that ran after it
    assert lines.index("1 not a plain pass:") > first + 1
    assert "5 cases on " in log and "1 fail" in log

    results = json.loads((run_dir / "results.json").read_text())
    failed = next(r for r in results["records"] if r["verdict"] == "fail")
    assert failed["message"] == (
        "the kernel does not do what the claim says: errno: expected ENETUNREACH, observed ok"
    )
    assert all(r["message"] for r in results["records"] if r["verdict"] != "pass")
    # The recorded command is the one run, and runs again from the same folder.
    assert shlex.split(results["run"]["command"]) == argv

    show = subprocess.run(
        [sys.executable, "-m", "harness", "show", LONG_ID, "--run", str(run_dir)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=PROJECT_ROOT,
    )
    assert show.returncode == 0, show.stderr
    pcap_line = next(line for line in show.stdout.splitlines() if line.startswith("pcaps"))
    if pcap_line.startswith("pcaps in "):  # one folder: `pcaps in DIR/: NAME NAME`
        folder_shown, names = pcap_line.removeprefix("pcaps in ").split("/: ", 1)
        paths = [Path(folder_shown, name) for name in names.split()]
    else:  # `pcaps: PATH PATH`
        paths = [Path(p) for p in pcap_line.removeprefix("pcaps: ").split()]
    assert len(paths) == len(failed["pcaps"]) > 0, pcap_line
    for path in paths:  # copied from the log, each opens from wherever one stands
        assert path.is_absolute() and path.is_file(), path
