"""Results: one record per case, and the run folder they are written to."""

from __future__ import annotations

import datetime
import json
import os
import platform
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

from harness.scenario import PROJECT_ROOT

RESULTS_DIR = PROJECT_ROOT / "results"
# refuted: the article's claim does not hold on this kernel, and the kernel does
# exactly what the case records instead.
Verdict = Literal["pass", "fail", "skip", "error", "refuted"]


def kernel_release() -> str:
    """`uname -r` of the running kernel."""
    return platform.release()


def new_run_dir(base: Path = RESULTS_DIR) -> Path:
    """results/<UTC time>-<random>/, created."""
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    path = base / f"{stamp}-{secrets.token_hex(3)}"
    path.mkdir(parents=True, exist_ok=False)
    return path


@dataclass
class CaseRecord:
    """Everything a reader needs about one case: claim, expectation, observation, verdict."""

    scenario: str
    case: str
    title: str
    claim: str
    article: str
    section: str
    kernel: str
    verdict: Verdict
    expected: dict[str, Any]
    observed: dict[str, Any] | None
    comparison: list[dict[str, Any]] = field(default_factory=list)
    article_comparison: list[dict[str, Any]] = field(default_factory=list)  # refuted cases
    probe: str = ""
    changes: list[str] = field(default_factory=list)
    refuted: str = ""
    kernel_does: Any = None
    notes: list[str] = field(default_factory=list)
    settled: str = ""
    message: str = ""
    duration_s: float = 0.0
    pcaps: list[str] = field(default_factory=list)
    topology: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """scenario/case, the id used on the command line and in reports."""
        return f"{self.scenario}/{self.case}"

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (its values are shared with the record, not copied).

        Every field holds JSON values already; `dataclasses.asdict` would deep-copy
        them, which for a catalogue run's records cost a second.
        """
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CaseRecord:
        """Inverse of to_json."""
        return cls(**data)


def write_results(run_dir: Path, records: list[CaseRecord]) -> Path:
    """results.json: a list with one record per case, sorted by scenario and case.

    One record per line: a diff between two runs then shows which cases changed,
    and json's C encoder does the work (with `indent`, json falls back to its
    pure-Python encoder, 0.5 s for a catalogue run).
    """
    path = run_dir / "results.json"
    ordered = sorted(records, key=lambda r: (r.scenario, r.case))
    lines = ",\n".join(json.dumps(r.to_json(), ensure_ascii=False) for r in ordered)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(f"[\n{lines}\n]\n")
    tmp.replace(path)
    return path


def _claim_verdict(verdicts: Sequence[str]) -> str:
    """One word for a scenario's claim from its cases' verdicts."""
    if "error" in verdicts or "fail" in verdicts:
        return "FAILS" if "fail" in verdicts else "ERROR"
    if "refuted" in verdicts:
        return "refuted in part" if "pass" in verdicts else "refuted"
    if verdicts and all(v == "skip" for v in verdicts):
        return "skipped"
    return "holds"


def write_summary(run_dir: Path, records: list[CaseRecord]) -> Path:
    """summary.md: claim -> verdict per kernel, then every claim the kernel does not confirm."""
    kernels = sorted({r.kernel for r in records})
    by_scenario: dict[str, list[CaseRecord]] = {}
    for record in sorted(records, key=lambda r: (r.article, r.scenario, r.case)):
        by_scenario.setdefault(record.scenario, []).append(record)
    lines = [
        f"# Claims and verdicts ({run_dir.name})",
        "",
        "`holds`: every case passed; `refuted`: the kernel does not do what the article says "
        "(and does what the case records instead); `skipped`: the kernel lacks a feature.",
        "",
        "| article | claim (scenario) | "
        + " | ".join(f"kernel {k}" for k in kernels)
        + " | cases |",
        "|---|---|" + "---|" * len(kernels) + "---|",
    ]
    for name, cases in by_scenario.items():
        first = cases[0]
        claim = " ".join(first.claim.split())
        claim = claim if len(claim) <= 160 else claim[:157] + "..."
        cells = []
        for kernel in kernels:
            verdicts = [c.verdict for c in cases if c.kernel == kernel]
            cells.append(_claim_verdict(verdicts) if verdicts else "")
        counts = ", ".join(
            f"{n} {v}"
            for v, n in sorted(
                {v: sum(c.verdict == v for c in cases) for v in {c.verdict for c in cases}}.items()
            )
        )
        section = f" ({first.section})" if first.section else ""
        lines.append(
            f"| {first.article}{section} | {claim} (`{name}`) | "
            + " | ".join(cells)
            + f" | {counts} |"
        )
    refuted = [r for r in records if r.verdict == "refuted"]
    lines += ["", "## Claims this kernel does not confirm", ""]
    if not refuted:
        lines.append("(none)")
    for record in sorted(refuted, key=lambda r: r.key):
        lines.append(
            f"- `{record.key}` ({record.article}, kernel {record.kernel}): "
            f"{record.title}. {record.refuted}"
        )
    problems = [r for r in records if r.verdict in ("fail", "error")]
    if problems:
        lines += ["", "## Cases that failed or errored", ""]
        lines += [f"- `{r.key}`: {r.verdict}" for r in sorted(problems, key=lambda r: r.key)]
    skipped = [r for r in records if r.verdict == "skip"]
    if skipped:
        lines += ["", "## Skipped", ""]
        lines += [f"- `{r.key}`: {r.message}" for r in sorted(skipped, key=lambda r: r.key)]
    path = run_dir / "summary.md"
    path.write_text("\n".join(lines) + "\n")
    return path
