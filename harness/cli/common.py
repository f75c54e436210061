"""What the command-line verbs share: loading the catalogue, the root hint, -k, refusals."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from harness.core.display import one_line
from harness.scenario import Case, Scenario, discover, load_scenario


def refuse(command: str, problem: str) -> int:
    """Print `harness COMMAND: PROBLEM` on standard error as one line (the problem may quote
    a file: its control characters are escaped, display.one_line); the exit status 2."""
    print(one_line(f"harness {command}: {problem}"), file=sys.stderr)
    return 2


def _scenarios(paths: list[Path]) -> list[Scenario]:
    return [load_scenario(p) for p in discover(paths or None)]


def _needs_root(command: str) -> str:
    return (
        f"harness {command} needs root to build network namespaces: run "
        f"`sudo .venv/bin/harness {command} ...`, or `sudo scripts/run` for the whole catalogue"
    )


def _selector(expression: str | None) -> Callable[[Scenario, Case], bool]:
    """pytest's -k, for `list` and `bench` as for `run`: an expression of names (and, or,
    not), each matching when it is part of the case id, the scenario file's name or one of
    its folders, case-insensitively, as pytest matches an item's keywords."""
    if not expression:
        return lambda scenario, case: True
    # pytest's own parser and evaluator (also what `harness run -k` hands the expression to).
    from _pytest.mark.expression import Expression

    try:
        compiled = Expression.compile(expression)
    except SyntaxError as exc:  # what pytest 9 raises for a malformed expression
        raise ValueError(f"-k {expression!r}: {exc}") from None

    def selects(scenario: Scenario, case: Case) -> bool:
        names = [case.id, scenario.path.name, *scenario.path.resolve().parent.parts[-2:], "kernel"]

        def matches(name: str, /, **kwargs: object) -> bool:
            return any(name.lower() in known.lower() for known in names)

        return bool(compiled.evaluate(matches))

    return selects


K_HELP = (
    "only the cases this pytest -k expression selects: names joined with and, or, not; "
    "a name matches part of the case id, the scenario file or its folder"
)
