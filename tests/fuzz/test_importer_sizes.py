"""`harness import` on listings of hostile size: each is read in bounded time (seconds by
design: megabytes of text, 10^8 calls, 50,000 namespaces), or refused in one line.  The
reproducers of issue 18's security review that need such sizes; the rest of the importer's
bounds, and the `refused` helper, are tests/unit/test_importer_bounds.py's.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from harness.cli import main
from harness.importer.shell import MAX_STEPS
from harness.scenario.limits import MAX_NAMESPACES
from tests.unit.test_importer_bounds import SET_UP, refused

# The translation and the files written; the proof is the kernel tests'.
pytestmark = pytest.mark.usefixtures("translation_only")


def test_a_loop_over_two_to_the_thirty_words_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Never ended before the bound: three loops of 1024 words inside each other.
    words = " ".join(str(i) for i in range(1024))
    text = SET_UP + "".join(f"for v{i} in {words}; do\n" for i in range(3))
    text += "ip -n a link set e0 up\n" + "done\n" * 3
    line, took = refused(tmp_path, capsys, text)
    assert f"more than {MAX_STEPS} steps" in line and ": line " in line
    assert took < 20


def test_ten_to_the_eight_function_calls_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Each function calls the next ten times: 10^8 calls, 1.6 GB in 60 s before the bound.
    text = "".join(f"f{i}() {{\n" + f"  f{i + 1}\n" * 10 + "}\n" for i in range(8))
    text += "f8() {\n  ip -n a link set e0 up\n}\n" + SET_UP + "f0\n"
    line, took = refused(tmp_path, capsys, text)
    assert f"more than {MAX_STEPS} steps" in line
    assert took < 20


@pytest.mark.parametrize(
    "line",
    [
        pytest.param("echo " + "x" * 3_000_000, id="a-3-MB-word"),
        pytest.param('echo "' + "$((" * 1_000_000, id="a-million-$(("),
        pytest.param("echo '" + "\\" * 2_000_000, id="an-open-quote"),
    ],
)
def test_a_3_mb_line_is_read_in_linear_time(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], line: str
) -> None:
    # Took over a minute (shlex grows a word one character at a time; a copy of the rest of
    # the line for each `$`).  Now a few seconds at most, the line reported as not translated.
    listing = tmp_path / "long.sh"
    listing.write_text(SET_UP + line + "\n")
    start = time.monotonic()
    assert main(["import", str(listing), "--stdout"]) == 0
    assert time.monotonic() - start < 30
    assert "line 3: " in capsys.readouterr().out


def test_a_quote_left_open_early_in_a_long_script_is_read_in_linear_time(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Every later line joined the open one, and the whole was read again for each.
    text = SET_UP + "echo 'it\n" + "ip -n a link set e0 up\n" * 100_000
    listing = tmp_path / "open.sh"
    listing.write_text(text)
    start = time.monotonic()
    assert main(["import", str(listing), "--stdout"]) == 0
    assert time.monotonic() - start < 30
    assert "line 3: `echo 'it ip -n a link set e0 up" in capsys.readouterr().out


def test_many_routes_and_addresses_import_in_bounded_time(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 3,000 routes took minutes (every route parsed again for each new one, every address
    # block compared with every other); past MAX_PER_HOST a command is reported instead.
    lines = [SET_UP, "ip -n a addr add 10.0.0.1/24 dev e0\n"]
    lines += [f"ip -n a route add 10.8.{i // 250}.{i % 250} via 10.0.0.2\n" for i in range(3000)]
    lines += [f"ip -n a addr add 10.9.{i // 250}.{i % 250}/32 dev e0\n" for i in range(3000)]
    listing = tmp_path / "many.sh"
    listing.write_text("".join(lines))
    start = time.monotonic()
    status = main(["import", str(listing), "--stdout"])
    assert time.monotonic() - start < 30
    out, err = capsys.readouterr()
    # 25 blocks of /24 to map (198.18.0.0/15 holds 512): the import succeeds, the routes
    # and addresses past the bound reported as not translated.
    assert status == 0, err
    assert "more than 256 routes: not a set-up listing" in out
    assert "more than 256 addresses on e0: not a set-up listing" in out


def test_fifty_thousand_namespaces_stop_at_the_loaders_bound(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Found by tests/fuzz/test_fuzz.py: naming 50,000 hosts was quadratic (minutes); past the
    # loader's MAX_NAMESPACES each `ip netns add` is reported as not translated.
    lines = [f"ip netns add n{i}\n" for i in range(50_000)]
    lines += ["ip -n n1 link add veth0 type veth peer name veth1 netns n2\n"]
    listing = tmp_path / "namespaces.sh"
    listing.write_text("".join(lines))
    start = time.monotonic()
    status = main(["import", str(listing), "--stdout"])
    assert time.monotonic() - start < 60  # a bound on a hang, not a speed target
    out, err = capsys.readouterr()
    assert status == 0, err
    assert f"more than {MAX_NAMESPACES} namespaces" in out
    assert "\n  n63: {}\n" in out and "\n  n64: {}" not in out
