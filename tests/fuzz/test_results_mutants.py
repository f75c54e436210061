"""Mutants of a real run's results folder: `harness report`, `show` and `compare` each
answer, or refuse in one line; never a traceback or a raw control character.  The rest of
the untrusted-results checks (hand-made corruptions, escapes) are
tests/unit/test_untrusted_results.py's; this one runs a scenario as root and then hundreds
of mutants for up to 12 s, so it lives with the fuzzers.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import needs_root
from tests.unit.test_untrusted_results import NASTY, PROJECT, RAW, harness, refused

SMALL_SCENARIO = PROJECT / "scenarios/ip-layer/link-local-needs-its-interface.yaml"

MUTANT_VALUES: list[Any] = [
    None, True, 0, -1, 10**30, 1.5, "", NASTY, "pass", [], {}, [1], {"a": 1}, ["x"],
]  # fmt: skip


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    items = (
        node.items()
        if isinstance(node, dict)
        else enumerate(node)
        if isinstance(node, list)
        else ()
    )
    for key, value in items:
        yield from _paths(value, (*prefix, key))


def _mutate(doc: Any, rng: random.Random) -> Any:
    """One change at a random place: another type, gone, a copy of elsewhere, an extra."""
    paths = list(_paths(doc))[1:]
    where = rng.choice(paths)
    parent = doc
    for part in where[:-1]:
        parent = parent[part]
    key, node = where[-1], parent[where[-1]]
    op = rng.randrange(5)
    if op == 0:
        parent[key] = rng.choice(MUTANT_VALUES)
    elif op == 1:
        del parent[key]
    elif op == 2:  # a value of the right shape from elsewhere: inconsistent, not mistyped
        other = doc
        for part in rng.choice(paths):
            other = other[part]
        parent[key] = json.loads(json.dumps(other))
    elif op == 3 and isinstance(node, list) and node:
        node.append(json.loads(json.dumps(rng.choice(node))))
    elif isinstance(node, int | float) and not isinstance(node, bool):
        parent[key] = rng.choice([-1, 0, 1, 2, 99, 2**31, 1e308, -0.5])
    elif isinstance(node, dict):
        node[rng.choice(["zz", NASTY, "act", "kernel"])] = rng.choice(MUTANT_VALUES)
    else:
        parent[key] = rng.choice(MUTANT_VALUES)
    return doc


@pytest.fixture(scope="module")
def real_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The run folder of one small catalogue scenario (refuted and passing cases)."""
    folder = tmp_path_factory.mktemp("real") / "run"
    argv = ["run", "-n", "1", "--results-dir", str(folder), str(SMALL_SCENARIO)]
    done = subprocess.run(
        [sys.executable, "-m", "harness", *argv],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=PROJECT,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return folder


@needs_root
def test_mutants_of_a_real_results_folder_never_give_a_traceback(
    real_run: Path, tmp_path: Path
) -> None:
    """A fixed seed, at most 400 mutants or 12 s: each verb answers, or refuses in one line."""
    rng = random.Random(18)
    original = (real_run / "results.json").read_bytes()
    doc = json.loads(original)
    key = f"{doc['records'][0]['scenario']}/{doc['records'][0]['case']}"
    answered = refusals = mutants = 0
    deadline = time.monotonic() + 12
    while mutants < 400 and time.monotonic() < deadline:
        mutants += 1
        if mutants % 10 == 0:  # bytes: cut short, or one byte changed
            data = bytearray(original[: rng.randrange(len(original))])
            if data and mutants % 20 == 0:
                data[rng.randrange(len(data))] = rng.randrange(256)
            text = bytes(data)
        else:
            mutant = json.loads(original)
            for _ in range(rng.randint(1, 4)):
                mutant = _mutate(mutant, rng)
            text = json.dumps(mutant).encode()
        folder = tmp_path / f"m{mutants}"
        folder.mkdir()
        (folder / "results.json").write_bytes(text)
        for argv in (
            ("report", str(folder)),
            ("show", key, "--run", str(folder)),
            ("compare", str(folder), str(real_run)),
        ):
            code, out, err = harness(*argv)
            if code == 2:
                refused(code, err, str(folder / "results.json"))
                refusals += 1
            else:
                assert code in (0, 1) and not err, (argv, code, err)
                assert not any(c in out for c in RAW), argv
                answered += 1
        shutil.rmtree(folder)
    # Both kinds of answer were exercised: mutants that still read, and ones refused.
    assert mutants >= 50 and answered >= 20 and refusals >= 20, (mutants, answered, refusals)
