"""`harness import` and `harness new` on hostile input: a listing comes from the internet and
is read as root, so whatever it holds the import ends in bounded time with the files it
should write, or refuses in one line naming the file (and the line) with exit status 2;
never a traceback, a hang or a file written through a symlink.  Issue 18.

Each case is a reproducer of the security review: before the bounds it took minutes, ran
out of memory, blocked for ever or ended in a traceback.  The time limits below are many
times what the bounded import takes, and far below what the unbounded one took.  The
reproducers that need listings of hostile size (seconds each, by design) are in
tests/fuzz/test_importer_sizes.py.
"""

from __future__ import annotations

import os
import random
import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from harness.cli import main
from harness.importer.import_command import MAX_LISTING_BYTES, MAX_NAME
from harness.importer.shell import MAX_DEPTH, MAX_LOOP_WORDS
from harness.importer.shell_words import MAX_EXPANSION_CHARS
from harness.importer.split import split_words
from harness.scenario import load_topology

# The translation and the files written; the proof is the kernel tests'.
pytestmark = pytest.mark.usefixtures("translation_only")

LISTINGS = Path(__file__).parents[1] / "listings"
SET_UP = "ip netns add a\nip -n a link add e0 type dummy\n"


def refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, name: str = "l.sh"
) -> tuple[str, float]:
    """Import `text` (to --stdout); assert exit 2 with one line; that line and the seconds."""
    listing = tmp_path / name
    listing.write_text(text)
    start = time.monotonic()
    assert main(["import", str(listing), "--stdout"]) == 2
    took = time.monotonic() - start
    out, err = capsys.readouterr()
    assert out == ""
    (line,) = err.splitlines()
    assert line.startswith(f"harness import: {name}: "), line  # the listing's name
    return line, took


# --------------------------------------------------------------------------- the shell reader


def test_a_variable_doubled_sixteen_times_is_refused_at_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Took over 120 s (and grew a value of megabytes) before the bound.
    text = 'x="ip netns add a;"\n' + 'x="$x$x"\n' * 16 + SET_UP + "echo $x\n"
    line, took = refused(tmp_path, capsys, text)
    # 15 characters doubled: the 11th doubling (line 12) adds 2 x 15 x 2^10, past 16 KiB.
    assert line.endswith(
        f"line 12: its variables expand to more than {MAX_EXPANSION_CHARS} characters: refused"
    )
    assert took < 20


def test_one_loop_over_too_many_words_is_refused_at_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    words = " ".join(str(i) for i in range(MAX_LOOP_WORDS + 1))
    line, _ = refused(tmp_path, capsys, SET_UP + f"for w in {words}; do\n  true\ndone\n")
    assert line.endswith(f"line 3: the `for` loops over more than {MAX_LOOP_WORDS} words: refused")


@pytest.mark.parametrize(
    "text, says",
    [
        pytest.param(
            "X=1\n" + 'if [ "$X" = 1 ]; then\n' * 300 + SET_UP + "fi\n" * 300,
            f"line {MAX_DEPTH + 2}: the `if` is nested more than {MAX_DEPTH} deep",
            id="300-nested-ifs",
        ),
        pytest.param(
            "X=1\n" + "for w in a; do\n" * 300 + SET_UP + "done\n" * 300,
            f"line {MAX_DEPTH + 2}: the `for` is nested more than {MAX_DEPTH} deep",
            id="300-nested-fors",
        ),
        pytest.param(
            # Calls (up to 9 deep: deeper is read as recursion) inside blocks inside calls.
            "".join(
                f"g{i}() {{\n  if [ 1 = 1 ]; then\n"
                + "  for w in a; do\n" * 6
                + f"  g{i + 1}\n"
                + "  done\n" * 6
                + "  fi\n}\n"
                for i in range(9)
            )
            + SET_UP
            + "g0\n",
            f"nested more than {MAX_DEPTH} deep (blocks and calls)",
            id="blocks-inside-calls",
        ),
        pytest.param(
            SET_UP + "echo ${a:-" * 40 + "x" + "}" * 40 + "\n",
            "line 3: expansions nested more than 16 deep",
            id="nested-defaults",
        ),
    ],
)
def test_deep_nesting_is_refused_not_a_recursion_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, says: str
) -> None:
    line, _ = refused(tmp_path, capsys, text)
    assert says in line, line


def test_words_are_split_as_shlex_splits_them() -> None:
    """The linear word splitter against shlex.split on random lines of the characters that
    matter (a fixed seed): the same words, or the same error."""
    rng = random.Random(18)
    alphabet = [" ", "\t", "\n", "\r", "\x0b", "\xa0", "'", '"', "\\", "a", "b", "$", "#", ";"]
    for _ in range(20_000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 14)))
        try:
            expected: object = shlex.split(text)
        except ValueError as exc:
            expected = str(exc)
        try:
            got: object = split_words(text)
        except ValueError as exc:
            got = str(exc)
        assert got == expected, repr(text)


# --------------------------------------------------------------------------- the listing file


def test_a_listing_over_the_size_limit_is_refused_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    listing = tmp_path / "big.sh"
    listing.write_text(SET_UP + "#" * MAX_LISTING_BYTES + "\n")
    assert main(["import", str(listing), "--stdout"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"harness import: {listing}: larger than {MAX_LISTING_BYTES >> 20} MiB: not a listing"
    ]


def _fifo(tmp_path: Path) -> Path:
    os.mkfifo(tmp_path / "fifo")
    return tmp_path / "fifo"


@pytest.mark.parametrize(
    "where",
    [
        pytest.param(lambda _: Path("/dev/zero"), id="dev-zero"),
        pytest.param(_fifo, id="fifo"),
        pytest.param(lambda tmp_path: tmp_path, id="folder"),
    ],
)
def test_import_of_no_regular_file_is_refused_without_reading_it(
    tmp_path: Path, where: Callable[[Path], Path]
) -> None:
    # /dev/zero ended in a MemoryError, a FIFO blocked for ever: in a child process with a
    # bound, so that a regression fails here instead of hanging the suite.
    path = where(tmp_path)
    code = "import sys; from harness.cli import main; sys.exit(main(sys.argv[1:]))"
    done = subprocess.run(
        [sys.executable, "-c", code, "import", str(path), "--stdout"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    assert done.stderr.splitlines() == [
        f"harness import: {path}: not a regular file (a folder, device, FIFO or socket): "
        "not a listing"
    ]


def test_control_characters_in_a_line_not_translated_are_escaped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A YAML ReaderError traceback before (4.6 % of 4,000 import mutants).
    controls = "\x00\x1b\x7f\x01\x85\u2028\x9b\ufffe"
    odd = "\x00\x1b[31m\x7f\x01\x85\u2028\x9b\ufffe"
    listing = tmp_path / "ctrl.sh"
    listing.write_text(f"{SET_UP}frob {odd}end\nip -n a link set e0 up # {odd}\n")
    skeleton = tmp_path / "s.yaml"
    argv = ["import", str(listing), "--topology-dir", str(tmp_path), "--name", "ctrl"]
    assert main([*argv, "--scenario", str(skeleton)]) == 0
    out, err = capsys.readouterr()
    written = (tmp_path / "ctrl.yaml").read_text()
    for text in (out, err, written):
        assert not any(c in text for c in controls), repr(text)
    # NEL and U+2028 end a line for Python as for YAML: the rest is a line of its own.
    assert "line 3: `frob \\x00\\x1b[31m\\x7f\\x01`: `frob` is not a set-up command" in out
    assert "`\\x9b\\ufffeend` is not a set-up command" in written
    assert set(load_topology("ctrl", tmp_path).hosts) == {"a"}
    assert yaml.safe_load(skeleton.read_text())["topology"] == "./ctrl.yaml"


# --------------------------------------------------------------------------- writing


def test_import_and_new_refuse_a_dangling_symlink_and_write_nothing_through_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    listing = tmp_path / "l.sh"
    listing.write_text(SET_UP)
    target = tmp_path / "elsewhere.yaml"
    link = tmp_path / "t" / "x.yaml"
    link.parent.mkdir()
    link.symlink_to(target)
    argv = ["import", str(listing), "--topology-dir", str(link.parent), "--name", "x"]
    assert main([*argv, "--scenario", str(tmp_path / "s.yaml")]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"harness import: {link} exists already; choose another --name"
    ]
    assert main(["new", str(link)]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"harness new: {link} exists already; it is not overwritten"
    ]
    assert not target.exists() and not (tmp_path / "s.yaml").exists()


@pytest.mark.parametrize(
    "argv",
    [
        lambda tmp_path: ["new", "a" * 300],
        lambda tmp_path: ["new", str(tmp_path / ("a" * 300 + ".yaml"))],
        lambda tmp_path: ["import", str(tmp_path / "l.sh"), "--name", "a" * 300],
        lambda tmp_path: ["import", str(tmp_path / "l.sh"), "--scenario", "/" + "a" * 300],
    ],
    ids=["new-name", "new-path", "import-name", "import-scenario-path"],
)
def test_a_300_character_name_is_refused_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: Callable[[Path], list[str]]
) -> None:
    (tmp_path / "l.sh").write_text(SET_UP)
    args = argv(tmp_path)
    if args[0] == "import":
        args += ["--topology-dir", str(tmp_path / "topologies")]
    assert main(args) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"harness {args[0]}: "), line
    assert str(MAX_NAME) in line or "File name too long" in line, line
    assert list(tmp_path.glob("topologies/*")) == []


def test_import_writes_both_files_or_neither(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The topology stayed behind when the scenario could not be written.
    listing = tmp_path / "l.sh"
    listing.write_text(SET_UP)
    scenario = tmp_path / ("s" * 300 + ".yaml")  # a name too long: cannot be written
    topologies = tmp_path / "topologies"
    argv = ["import", str(listing), "--topology-dir", str(topologies), "--scenario", str(scenario)]
    assert main(argv) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"harness import: cannot write {scenario}: ")
    assert line.endswith("; nothing written")
    assert list(topologies.iterdir()) == []


def test_the_test_listings_import_as_before(tmp_path: Path) -> None:
    """Far inside the bounds: every listing of tests/listings/ imports (what it gives is
    tests/unit/test_importer.py's and tests/kernel/test_importer_twin.py's)."""
    for listing in sorted(LISTINGS.iterdir()):
        assert main(["import", str(listing), "--stdout"]) == 0, listing.name
