"""`harness completion` and `harness man`: derived from the argument parser, so both know
every verb and option; completion degrades to nothing (and one line) without argcomplete."""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli import build_parser
from harness.cli.completion import NO_ARGCOMPLETE, manpage

HAS_ARGCOMPLETE = importlib.util.find_spec("argcomplete") is not None
# `python -c` with argcomplete made unimportable, as where it is not installed.
WITHOUT_ARGCOMPLETE = (
    "import sys; sys.modules['argcomplete'] = None; from harness.cli import main; "
    "sys.exit(main(sys.argv[1:]))"
)


def _parsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    found = [parser]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                found += _parsers(sub)
    return found


def _roffed(text: str) -> str:
    return text.replace("-", "\\-")


def test_the_man_page_names_every_command_and_option() -> None:
    parser = build_parser()
    page = manpage(parser)
    assert page.startswith('.TH HARNESS 1 "" "harness')
    subs = _parsers(parser)
    assert len(subs) > 12  # run, list, ..., kernels fetch, kernels list, completion, man
    for sub in subs[1:]:
        assert f'.SS "{_roffed(sub.prog)}"' in page, sub.prog
        for action in sub._actions:
            for option in action.option_strings:
                if option not in ("-h", "--help"):
                    assert _roffed(option) in page, (sub.prog, option)
    # Every line of help text is text: the only requests are the page's own.
    requests = {line.split(" ")[0] for line in page.splitlines() if line.startswith((".", "'"))}
    assert requests == {".TH", ".SH", ".SS", ".TP", ".PP"}, requests


@pytest.mark.skipif(shutil.which("man") is None, reason="no man(1) here to render the page")
def test_man_renders_the_page_without_a_warning(tmp_path: Path) -> None:
    page = tmp_path / "harness.1"
    done = subprocess.run(
        [sys.executable, "-m", "harness", "man", "--output", str(page)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and done.stdout == "", done.stderr
    shown = subprocess.run(
        ["man", "--warnings", "-l", str(page)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "MANPAGER": "cat", "MANWIDTH": "100"},
    )
    assert shown.returncode == 0 and shown.stderr == "", shown.stderr
    assert "harness run" in shown.stdout and "--case-timeout SECONDS" in shown.stdout


@pytest.mark.skipif(not HAS_ARGCOMPLETE, reason="argcomplete is not installed here")
def test_the_shell_is_answered_from_the_parser(tmp_path: Path) -> None:
    answer = tmp_path / "completions"
    line = "harness run --ke"
    env = {
        **os.environ,
        "_ARGCOMPLETE": "1",
        "COMP_LINE": line,
        "COMP_POINT": str(len(line)),
        "_ARGCOMPLETE_STDOUT_FILENAME": str(answer),
    }
    done = subprocess.run(
        [sys.executable, "-m", "harness"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert sorted(answer.read_text().split("\v")) == ["--kernel", "--kernel-timers"]
    script = subprocess.run(
        [sys.executable, "-m", "harness", "completion", "bash"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert script.returncode == 0 and "complete " in script.stdout and "harness" in script.stdout


def test_without_argcomplete_completion_says_what_to_install_and_the_shell_gets_nothing() -> None:
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_ARGCOMPLETE, "completion", "zsh"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (done.returncode, done.stdout, done.stderr) == (1, "", NO_ARGCOMPLETE + "\n")
    line = "harness run --ke"
    env = {**os.environ, "_ARGCOMPLETE": "1", "COMP_LINE": line, "COMP_POINT": str(len(line))}
    asked = subprocess.run(
        [sys.executable, "-c", WITHOUT_ARGCOMPLETE],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    # no answer and no usage text: the command line being typed is not run
    assert (asked.returncode, asked.stdout, asked.stderr) == (1, "", "")
