"""summary.md: claim -> verdict per kernel, then every claim a kernel does not confirm."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from harness.case.record import CaseRecord, RunInfo
from harness.core import run_folder
from harness.core.display import markdown_cell, one_line
from harness.core.validation import version_tuple
from harness.outputs.sink import WrittenAtClose
from harness.runs.compare import Difference, kernel_differences
from harness.runs.store import SUMMARY_NAME


def difference_lines(found: list[Difference], title: str = "Where kernels differ") -> list[str]:
    """A section with each case whose answer differs between runs, values side by side."""
    if not found:
        return []
    lines = ["", f"## {title}", ""]
    for diff in found:
        lines += [
            f"### `{markdown_cell(diff.key)}`: {markdown_cell(diff.title)}",
            "",
            "| field | " + " | ".join(markdown_cell(r) for r in diff.runs) + " |",
            "|---|" + "---|" * len(diff.runs),
        ]
        for field, values in diff.fields.items():
            cells = " | ".join(markdown_cell(v) for v in values)
            lines.append(f"| {markdown_cell(field)} | {cells} |")
        lines.append("")
    return lines


def _run_lines(run: RunInfo | None, records: list[CaseRecord]) -> list[str]:
    """What the run was, above the table: a run that did not finish says so first."""
    if run is None:
        return [
            f"**This run did not finish** (its controller ended before writing its results); "
            f"{len(records)} case records were kept.",
            "",
        ]
    lines = []
    if run.interrupted:
        lines += [
            f"**This run was interrupted**: {len(records)} case runs finished and are below; "
            "the cases it did not get to are not listed.",
            "",
        ]
    for kernel in run.kernels:
        ran = f" ({kernel.machine})" if kernel.machine != "host" else ""
        lines.append(
            one_line(
                f"- kernel {kernel.release}{ran}" + (f": {kernel.error}" if kernel.error else "")
            )
        )
    return [*lines, ""]


def _claim_verdict(cases: Sequence[CaseRecord]) -> str:
    """A few words for a scenario's claim on one kernel, from its cases' verdicts."""
    verdicts = [c.verdict for c in cases]
    if "error" in verdicts or "fail" in verdicts:
        return "FAILS" if "fail" in verdicts else "ERROR"
    partly = " in part" if "pass" in verdicts else ""
    changes = sorted(
        {c.changed_in.version for c in cases if c.verdict == "changed" and c.changed_in}
    )
    if changes:
        return f"changed in {', '.join(changes)}{partly}"
    if "refuted" in verdicts:
        return f"refuted{partly}"
    if verdicts and all(v == "skip" for v in verdicts):
        return "skipped"
    return "holds"


def write_summary(run_dir: Path, records: list[CaseRecord], run: RunInfo | None = None) -> Path:
    """summary.md: claim -> verdict per kernel, then every claim a kernel does not confirm."""
    kernels = sorted({r.kernel for r in records}, key=version_tuple)
    by_scenario: dict[str, list[CaseRecord]] = {}
    for record in sorted(records, key=lambda r: (r.article, r.scenario, r.case)):
        by_scenario.setdefault(record.scenario, []).append(record)
    lines = [
        f"# Claims and verdicts ({run_dir.name})",
        "",
        *_run_lines(run, records),
        "`holds`: every case passed; `refuted`: the kernel does not do what the article says "
        "(and does what the case records instead); `changed in V`: the claim holds only from "
        "(or only before) kernel V, and this kernel is on the other side, doing what the case "
        "records for it; `skipped`: the kernel lacks a feature.",
        "",
        "| article | claim (scenario) | "
        + " | ".join(f"kernel {markdown_cell(k)}" for k in kernels)
        + " | cases |",
        "|---|---|" + "---|" * len(kernels) + "---|",
    ]
    for name, cases in by_scenario.items():
        first = cases[0]
        claim = markdown_cell(" ".join(first.claim.split()))
        claim = claim if len(claim) <= 160 else claim[:157] + "..."
        cells = []
        for kernel in kernels:
            mine = [c for c in cases if c.kernel == kernel]
            cells.append(_claim_verdict(mine) if mine else "")
        counts = ", ".join(
            f"{n} {v}"
            for v, n in sorted(
                {v: sum(c.verdict == v for c in cases) for v in {c.verdict for c in cases}}.items()
            )
        )
        section = f" ({first.section})" if first.section else ""
        lines.append(
            f"| {markdown_cell(first.article + section)} | {claim} (`{markdown_cell(name)}`) | "
            + " | ".join(cells)
            + f" | {counts} |"
        )
    lines += difference_lines(kernel_differences(records))
    refuted = [r for r in records if r.verdict in ("refuted", "changed")]
    lines += ["", "## Claims a kernel does not confirm", ""]
    if not refuted:
        lines.append("(none)")
    for record in sorted(refuted, key=lambda r: (r.key, r.kernel)):
        why = record.refuted if record.verdict == "refuted" else record.message
        lines.append(
            one_line(
                f"- `{record.key}` ({record.article}, kernel {record.kernel}): "
                f"{record.title}. {why}"
            )
        )
    problems = [r for r in records if r.verdict in ("fail", "error")]
    if problems:
        lines += ["", "## Cases that failed or errored", ""]
        lines += [
            one_line(f"- `{r.key}`: {r.verdict}") for r in sorted(problems, key=lambda r: r.key)
        ]
    skipped = [r for r in records if r.verdict == "skip"]
    if skipped:
        lines += ["", "## Skipped", ""]
        lines += [
            one_line(f"- `{r.key}`: {r.message}") for r in sorted(skipped, key=lambda r: r.key)
        ]
    return run_folder.write_text(run_dir, SUMMARY_NAME, "\n".join(lines) + "\n")


class Summary(WrittenAtClose):
    """RUN/summary.md at the close, when a case ran."""

    def write(self, records: list[CaseRecord], run: RunInfo) -> None:
        """Write summary.md."""
        write_summary(Path(self.path), records, run)
