"""`harness run --repeat N`: the same cases N times; does any answer depend on the run?

A kernel's answer must not depend on how loaded the machine is or on which
case ran beside it.  Each repeat is a whole `harness run` of its own (its own
process and workers, in RUN/repeat-NNN/), so that nothing of one repeat's
process state carries into the next; their records are then compared with
`harness compare`'s comparison (harness/runs/compare.py), case by case and kernel by
kernel:

- a case whose **verdict** differs between repeats is a flip: a defect of the
  harness (or of the scenario), and the command exits 1;
- a case whose verdict holds but whose **observed values** differ is listed
  with how often each value came: some claims allow it (a multipath hash picks
  eth0 in one run and eth1 in the next, and `egress_one_of` says either is
  right), the rest are worth a look.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from harness.core.display import one_line
from harness.runs.compare import Difference, by_case, differences
from harness.runs.store import read_results

# The most repeats one command runs: each is a whole run (seconds at least), so this
# is days of work already, and every repeat's records are compared at the end.
MAX_REPEATS = 10_000


def repeat_dirs(run_dir: Path, count: int) -> Iterator[Path]:
    """RUN/repeat-001 ... RUN/repeat-NNN, one at a time (`count` from 1 to MAX_REPEATS)."""
    if not 1 <= count <= MAX_REPEATS:
        raise ValueError(f"{count} repeats: give 1 to {MAX_REPEATS}")
    return (run_dir / f"repeat-{n:03d}" for n in range(1, count + 1))


def compare_repeats(folders: list[Path]) -> tuple[int, list[Difference]]:
    """How many (case, kernel) pairs ran in every repeat, and those whose answers differ."""
    # A repeat that wrote nothing (interrupted before its first case) is not one of them.
    written = [folder for folder in folders if (folder / "results.json").is_file()]
    groups = by_case((folder.name, read_results(folder)) for folder in written)
    complete = sum(len(runs) == len(written) for runs in groups.values())
    return complete, differences(groups)


def summary_lines(compared: int, repeats: int, found: list[Difference]) -> list[str]:
    """The repeats' verdict: flips first, then values that differ, each with its counts."""
    flips = [d for d in found if "verdict" in d.fields]
    values = [d for d in found if "verdict" not in d.fields]
    lines = [
        f"{repeats} repeats, {compared} cases (per kernel) in every one: "
        f"{len(flips)} with a verdict that flips, {len(values)} more with observed values "
        "that differ"
    ]
    for title, group in (("VERDICT FLIPS", flips), ("values differ", values)):
        for diff in group:
            lines.append(one_line(f"{title}: {diff.key}"))
            for field, seen in diff.fields.items():
                counts = Counter(seen)
                lines.append(
                    one_line(
                        f"    {field}: "
                        + "; ".join(f"{value} ({n}x)" for value, n in counts.most_common())
                    )
                )
    return lines
