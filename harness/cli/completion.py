"""`harness completion SHELL` and `harness man`: the command as a shell and `man` know it.

Both are derived from the argument parser, so neither goes stale when a verb or an
option is added.  Completion is argcomplete's (the shell asks the `harness` command
itself, with _ARGCOMPLETE set, and argcomplete answers from the parser); argcomplete is
optional: without it the shell simply gets no completions and `harness completion`
says what to install.  The man page is written here from the parser in a few lines of
roff (man(7) macros): argparse-manpage would do the same, but is one more dependency
for a page this small, and is not packaged with the harness's other dependencies.
"""

from __future__ import annotations

import argparse
import os
import sys
from importlib.metadata import PackageNotFoundError, version

SHELLS = ("bash", "zsh", "fish", "tcsh", "powershell")
NO_ARGCOMPLETE = (
    "harness completion: needs the Python package argcomplete beside the harness "
    "(pip install argcomplete, in the same environment)"
)


def autocomplete(parser: argparse.ArgumentParser) -> None:
    """When the shell asks for completions (_ARGCOMPLETE set), answer and exit (status 1
    without argcomplete); else return at once (argcomplete is not even imported: every
    other start stays as fast)."""
    if "_ARGCOMPLETE" not in os.environ:
        return
    try:
        import argcomplete  # type: ignore[import-not-found, unused-ignore]  # optional
    except ImportError:
        # Removed since the shell's script was made: no answer, and no run of the
        # command line the shell is still typing (the shell falls back to file names).
        raise SystemExit(1) from None
    argcomplete.autocomplete(parser)


def cmd_completion(args: argparse.Namespace) -> int:
    """Print the script that makes SHELL complete `harness` (argcomplete's)."""
    try:
        import argcomplete  # type: ignore[import-not-found, unused-ignore]  # optional
    except ImportError:
        print(NO_ARGCOMPLETE, file=sys.stderr)
        return 1
    print(argcomplete.shellcode([args.prog], shell=args.shell))
    return 0


def _roff(text: str) -> str:
    """Text as roff reads it literally: backslashes and hyphens escaped, no line taken for
    a request (a leading dot or quote)."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return "\n".join(
        "\\&" + line if line.startswith((".", "'")) else line for line in text.splitlines()
    )


def _help(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    """An action's help with its %(default)s and the like filled in, as --help shows it."""
    if not action.help or action.help == argparse.SUPPRESS:
        return ""
    try:
        return str(action.help % {**vars(action), "prog": parser.prog})
    except (KeyError, TypeError, ValueError):
        return action.help


def _usage(parser: argparse.ArgumentParser) -> str:
    return " ".join(parser.format_usage().removeprefix("usage:").split())


def _options(parser: argparse.ArgumentParser) -> list[str]:
    """One tagged paragraph per option and positional argument (not the sub-commands)."""
    out: list[str] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction) or action.help == argparse.SUPPRESS:
            continue
        if isinstance(action, argparse._HelpAction) and parser.prog.count(" "):
            continue  # every sub-command's -h: said once, under OPTIONS
        if action.option_strings:
            shown = action.metavar or (
                "{" + ",".join(map(str, action.choices)) + "}"
                if action.choices
                else action.dest.upper()
            )
            metavar = "" if action.nargs == 0 else f" {shown}"
            names = ", ".join(f"{o}{metavar}" for o in action.option_strings)
        else:
            names = str(action.metavar or action.dest)
        out += [".TP", f"\\fB{_roff(names)}\\fR", _roff(_help(parser, action))]
    return out


def _commands(parser: argparse.ArgumentParser) -> list[str]:
    """A subsection per sub-command (and theirs, `harness kernels fetch`), in order."""
    out: list[str] = []
    for action in parser._actions:
        if not isinstance(action, argparse._SubParsersAction):
            continue
        helps = {a.dest: a.help or "" for a in action._choices_actions}
        for name, sub in action.choices.items():
            out += [f'.SS "{_roff(sub.prog)}"', _roff(helps.get(name, ""))]
            out += [".PP", f"\\fIusage:\\fR {_roff(_usage(sub))}"]
            if sub.description:
                out += [".PP", _roff(sub.description)]
            out += _options(sub)
            out += _commands(sub)
    return out


def manpage(parser: argparse.ArgumentParser) -> str:
    """The man page of `parser`'s command (section 1), in roff."""
    try:
        release = version("harness")
    except PackageNotFoundError:
        release = ""
    name = parser.prog
    lines = [
        f'.TH {name.upper()} 1 "" "{f"{name} {release}".strip()}" "User Commands"',
        ".SH NAME",
        f"{name} \\- {_roff(parser.description or '')}",
        ".SH SYNOPSIS",
        _roff(_usage(parser)),
        ".SH DESCRIPTION",
        _roff(
            f"{name} checks claims about Linux routing and socket options on the running "
            "kernel, inside network namespaces it creates.  Each sub-command below has its "
            f"own options; `{name} COMMAND --help` shows them too."
        ),
        ".SH OPTIONS",
        *_options(parser),
        ".SH COMMANDS",
        *_commands(parser),
        ".SH SHELL COMPLETION",
        _roff(f'eval "$({name} completion bash)" in ~/.bashrc (zsh, fish: the same, '),
        _roff(f"with `{name} completion zsh` or `fish`); needs the Python package argcomplete."),
        ".SH EXIT STATUS",
        _roff(
            "0: every case passed (refuted and changed claims are findings, not failures); "
            "1: a case failed or erred; 2: bad input, or an environment where no case can "
            "run; 130: interrupted."
        ),
        ".SH SEE ALSO",
        "\\fBpytest\\fR(1), \\fBip\\fR(8), \\fBsocket\\fR(7)",
    ]
    return "\n".join(lines) + "\n"


def cmd_man(args: argparse.Namespace) -> int:
    """Print the man page (roff), or write it to --output."""
    text = manpage(args.root_parser)  # harness.cli.build_parser sets it
    if args.output is None:
        sys.stdout.write(text)
    else:
        with open(args.output, "w", encoding="utf-8") as out:
            out.write(text)
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `completion` and `man`."""
    completion = sub.add_parser(
        "completion",
        help="print the script that lets a shell complete harness's commands and options",
        description='Enable it with eval "$(harness completion bash)" (or zsh, fish, ...) '
        "in the shell's start-up file; needs the Python package argcomplete.",
    )
    completion.add_argument(
        "shell", choices=SHELLS, nargs="?", default="bash", help="the shell (default: bash)"
    )
    completion.set_defaults(func=cmd_completion, prog="harness")
    man = sub.add_parser("man", help="print harness's man page (roff), made from its options")
    man.add_argument(
        "-o", "--output", metavar="FILE", help="write it here (such as harness.1) instead"
    )
    man.set_defaults(func=cmd_man)
