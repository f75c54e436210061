"""`harness import` exit codes with its proof: 0 proven, 1 not proven (nothing written unless
--unproven, which marks the files NOT PROVEN), 1 when it cannot be proven (not root)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from harness.importer import import_listing
from harness.importer.proof import CannotProve, prove
from tests.conftest import needs_root
from tests.e2e.test_not_root import as_nobody

pytestmark = [needs_root, pytest.mark.kernel]

PROVEN = "ip netns add a\nip netns add b\nip -n a link add v0 type veth peer name v1 netns b\n"
PROVEN += "ip -n a addr add 192.0.2.1/24 dev v0\nip -n a link set v0 up\nip -n b link set v1 up\n"
# iproute2 reads `-net` as `-netns`: an importer that does not is found out.
NET = PROVEN + "ip netns add c\nip -net c link add w0 type veth peer name w1\n"
NET += "ip -net c addr add 192.0.2.9/24 dev w0\n"


def _import(tmp_path: Path, text: str, *extra: str) -> subprocess.CompletedProcess[str]:
    listing = tmp_path / "listing.sh"
    listing.write_text(text)
    argv = [sys.executable, "-m", "harness", "import", str(listing), "--name", "x"]
    argv += ["--topology-dir", str(tmp_path / "t"), "--scenario", str(tmp_path / "s.yaml")]
    return subprocess.run([*argv, *extra], capture_output=True, text=True, timeout=120)


def test_a_proven_import_exits_0_and_writes(tmp_path: Path) -> None:
    done = _import(tmp_path, PROVEN)
    assert done.returncode == 0, done.stderr
    assert "proven: iproute2's replay of the listing builds the same 2 hosts (" in done.stdout
    assert (tmp_path / "t" / "x.yaml").exists() and (tmp_path / "s.yaml").exists()


def test_a_difference_exits_1_naming_it_and_writes_nothing(tmp_path: Path) -> None:
    done = _import(tmp_path, NET)
    written = tmp_path / "t" / "x.yaml"
    if done.returncode == 0:  # the importer reads `-net`: then the topology has it all
        c = yaml.safe_load(written.read_text())["hosts"]["c"]
        assert c["interfaces"]["w0"]["addresses"] == ["192.0.2.9/24"]
        return
    assert done.returncode == 1, done.stderr
    lines = done.stderr.splitlines()
    assert "harness import: not proven: line 8: c: link: the listing makes `w0: " in done.stderr
    assert all(line.startswith("harness import: ") for line in lines)
    assert lines[-1] == "harness import: nothing written (--unproven writes it marked NOT PROVEN)"
    assert not written.exists() and not (tmp_path / "s.yaml").exists()
    again = _import(tmp_path, NET, "--unproven")
    assert again.returncode == 1
    for path in (written, tmp_path / "s.yaml"):
        text = path.read_text()
        assert text.startswith("# NOT PROVEN: ") and "#   line 8: c: link:" in text
        yaml.safe_load(text)  # still YAML


def test_stdout_proves_too(tmp_path: Path) -> None:
    assert _import(tmp_path, NET, "--stdout").returncode in (0, 1)
    done = _import(tmp_path, PROVEN + "ip -n a link set v0 mtu 1400\n", "--stdout")
    if "mtu: 1400" not in done.stdout:  # the importer leaves mtu out (issue 20, item 3)
        assert done.returncode == 1
        assert "line 7: a: mtu: the listing makes `v0 mtu 1400`" in done.stderr
        assert "# --- " not in done.stdout
    else:
        assert done.returncode == 0


def test_a_refused_line_exits_1_in_one_sentence(tmp_path: Path) -> None:
    done = _import(tmp_path, PROVEN + "ip -n b link set v1 netns 1\n")
    assert done.returncode == 1
    assert done.stderr.splitlines()[0] == (
        "harness import: not proven: line 7 (`ip -n b link set v1 netns 1`) is not replayed: "
        "namespace '1' would be read as a process id; the import cannot be proven"
    )


def test_without_root_an_import_cannot_be_proven() -> None:
    result = import_listing(PROVEN, "l.sh")

    def attempt() -> int:
        try:
            prove(result)
        except CannotProve as exc:
            print(exc)
            return 1
        return 0

    code, said = as_nobody(attempt)
    assert (code, said.strip()) == (
        1,
        "proving an import needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN) to make throw-away "
        "namespaces; run it with sudo",
    )
