"""`harness list`: reading the catalogue."""

from __future__ import annotations

import argparse
import functools
import shutil
import textwrap
from pathlib import Path

from harness.cli.common import K_HELP, _selector, refuse
from harness.core.display import one_line
from harness.core.env import given_path, shown
from harness.scenario import ScenarioError, discover, load_scenario
from harness.scenario.footprint import over_limits


def cmd_list(args: argparse.Namespace) -> int:
    """Print each scenario's claim, source and cases; name every malformed file at the end."""
    broken: list[str] = []
    selects = _selector(args.k)
    for path in discover([given_path(p) for p in args.paths] or None):
        try:
            scenario = load_scenario(path)
        except ScenarioError as exc:
            broken.append(str(exc))
            continue
        # What `harness run` would refuse is named here too: `list` checks the catalogue.
        too_big = over_limits(scenario)
        if too_big:
            broken += [f"{path}: {problem}" for problem in too_big]
            continue
        cases = [c for c in scenario.cases if selects(scenario, c)]
        if not cases:
            continue
        rel = shown(scenario.path)
        width = min(shutil.get_terminal_size().columns, 120)
        wrap = functools.partial(textwrap.fill, width=width, break_long_words=False)
        # Every field from the file is one line, its control characters escaped, then wrapped.
        source = f"{rel}  [{scenario.source.article}: {scenario.source.section}]"
        print(wrap(one_line(source), subsequent_indent="    "))
        claim = " ".join(scenario.claim.split())
        print(wrap(one_line(f"  claim: {claim}"), subsequent_indent="    "))
        for case in cases:
            line = one_line(f"  - {scenario.name}/{case.id}: {case.title}")
            print(wrap(line, subsequent_indent="      "))
        print()
    for problem in broken:
        refuse("list", problem)
    return 2 if broken else 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `list`."""
    lst = sub.add_parser("list", help="list scenarios, their claims and cases")
    lst.add_argument("paths", nargs="*", type=Path, help="scenario files or folders")
    lst.add_argument("-k", help=K_HELP)
    lst.set_defaults(func=cmd_list)
