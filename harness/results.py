"""Results: the run folder, results.json (one typed record per case) and summary.md."""

from __future__ import annotations

import datetime
import json
import os
import re
import secrets
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Literal, get_args

from pydantic import ValidationError

from harness import run_folder
from harness.compare import Difference, kernel_differences
from harness.env import RESULTS_DIR
from harness.record import CaseRecord, RecordError, RunInfo
from harness.vocabulary import version_tuple

RUN_NAME = re.compile(r"\d{8}T\d{6}Z-[0-9a-f]{6}")
LATEST = "latest"


def new_run_dir(base: Path = RESULTS_DIR) -> Path:
    """results/<UTC time>-<random>/, created, and results/latest pointing at it."""
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    path = base / f"{stamp}-{secrets.token_hex(3)}"
    path.mkdir(parents=True, exist_ok=False)
    link = base / f".{LATEST}.{os.getpid()}"
    link.unlink(missing_ok=True)
    os.symlink(path.name, link)  # relative: the results folder can move
    os.replace(link, base / LATEST)
    return path


def run_dirs(base: Path = RESULTS_DIR) -> list[Path]:
    """The run folders under `base`, oldest first (their names start with the UTC time)."""
    if not base.is_dir():
        return []
    return sorted(
        p
        for p in base.iterdir()
        if p.is_dir() and not p.is_symlink() and RUN_NAME.fullmatch(p.name)
    )


def latest_run(base: Path = RESULTS_DIR) -> Path | None:
    """The newest run folder that has records: results/latest, else the newest by name."""
    link = base / LATEST
    candidates = ([link.resolve()] if link.is_symlink() else []) + run_dirs(base)[::-1]
    for path in candidates:
        if (path / "results.json").is_file() or (path / "records").is_dir():
            return path
    return None


def prune(keep: int, base: Path = RESULTS_DIR) -> list[Path]:
    """Remove all but the `keep` newest run folders (never the one results/latest names);
    the folders removed."""
    runs = run_dirs(base)
    protected = (base / LATEST).resolve() if (base / LATEST).is_symlink() else None
    doomed = [p for p in runs[: max(len(runs) - keep, 0)] if p.resolve() != protected]
    for path in doomed:
        shutil.rmtree(path)
    return doomed


def record_path(run_dir: Path, record: CaseRecord) -> Path:
    """Where the record of one case on one kernel is kept while the run goes on."""
    return run_dir / "records" / record.kernel / record.scenario / f"{record.case}.json"


# Which cases keep their pcaps in the run folder: findings (fail, error, refuted,
# changed), every case, or none.
PcapPolicy = Literal["findings", "all", "none"]
PCAP_POLICIES: tuple[PcapPolicy, ...] = get_args(PcapPolicy)


def write_record(run_dir: Path, record: CaseRecord) -> Path:
    """Store one case's record in the run folder as soon as it is known (atomically: a
    reader never sees half), so that a run whose controller dies keeps it."""
    path = record_path(run_dir, record)
    return run_folder.write_text(run_dir, path.relative_to(run_dir), record.to_json())


def stored_records(run_dir: Path) -> list[CaseRecord]:
    """The record files of a run that has no results.json yet (RecordError if one is bad)."""
    return [
        CaseRecord.from_json(p.read_bytes(), str(p))
        for p in sorted((run_dir / "records").glob("*/*/*.json"))
    ]


def running_path(run_dir: Path, kernel: str, scenario: str, case: str) -> Path:
    """The marker of a case that has started on `kernel` and has no record yet."""
    return run_dir / "records" / ".running" / kernel / scenario / case


def mark_running(run_dir: Path, kernel: str, scenario: str, case: str, file: str) -> Path:
    """Say, before a case starts, that it runs (its scenario file inside): a run stopped
    before the case's record arrives then still accounts for it (`unfinished`)."""
    path = running_path(run_dir, kernel, scenario, case)
    return run_folder.write_text(run_dir, path.relative_to(run_dir), file)


def unfinished(run_dir: Path, records: list[CaseRecord]) -> list[tuple[str, str, str]]:
    """(scenario file, case id, kernel) of each case that started and has no record."""
    have = {(r.kernel, r.scenario, r.case) for r in records}
    found = []
    for marker in sorted((run_dir / "records" / ".running").glob("*/*/*")):
        kernel, scenario, case = marker.parts[-3:]
        if (kernel, scenario, case) not in have:
            found.append((marker.read_text(encoding="utf-8"), case, kernel))
    return found


# What every case of a scenario shares, written once per scenario in results.json
# (the topology alone was a fifth of the file) and put back into each record on reading.
SHARED = ("file", "claim", "article", "section", "topology")


def write_results(run_dir: Path, records: list[CaseRecord], run: RunInfo) -> Path:
    """results.json: the run; what each scenario's cases share (SHARED), once; then one
    record per case and kernel, sorted by scenario, case and kernel, one record per line
    (a diff between two runs shows which changed)."""
    ordered = sorted(records, key=lambda r: (r.scenario, r.case, r.kernel))
    scenarios: dict[str, dict[str, object]] = {}
    lines = []
    for record in ordered:
        data = json.loads(record.to_json())
        shared = scenarios.setdefault(record.scenario, {k: data[k] for k in SHARED if k in data})
        # A field that differs from its scenario's (two files of one name) stays in the record.
        lines.append(
            json.dumps(
                {k: v for k, v in data.items() if k not in shared or shared[k] != v},
                ensure_ascii=False,
                separators=(",", ":"),
            )
        )
    head = {"run": run.model_dump(mode="json"), "scenarios": scenarios}
    body = ",\n".join(lines)
    text = (
        json.dumps(head, ensure_ascii=False, separators=(",", ":"))[:-1]
        + f',\n"records":[\n{body}\n]}}\n'
    )
    return run_folder.write_text(run_dir, "results.json", text)


def read_run(run_dir: Path) -> tuple[RunInfo | None, list[CaseRecord]]:
    """The run and its records: results.json, else (a run still going, or one whose
    controller died) the record files.  RecordError names what does not read."""
    path = run_dir / "results.json"
    if not path.is_file():
        return None, stored_records(run_dir)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RecordError(str(path), "", f"not a results file: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("records"), list):
        raise RecordError(str(path), "", "not a results file: no 'records' list")
    try:
        run = RunInfo.model_validate(data.get("run"))
    except ValidationError as exc:
        raise RecordError(str(path), "run", str(exc.errors()[0]["msg"])) from None
    scenarios = data.get("scenarios") or {}
    if not isinstance(scenarios, dict):
        raise RecordError(str(path), "scenarios", "not a mapping of scenario names")
    records = [
        CaseRecord.from_dict(
            {**scenarios.get(item.get("scenario"), {}), **item} if isinstance(item, dict) else item,
            f"{path}: record {n + 1}",
        )
        for n, item in enumerate(data["records"])
    ]
    return run, records


def read_results(run_dir: Path) -> list[CaseRecord]:
    """The run's records (see read_run)."""
    return read_run(run_dir)[1]


def difference_lines(found: list[Difference], title: str = "Where kernels differ") -> list[str]:
    """A section with each case whose answer differs between runs, values side by side."""
    if not found:
        return []
    lines = ["", f"## {title}", ""]
    for diff in found:
        lines += [
            f"### `{diff.key}`: {diff.title}",
            "",
            "| field | " + " | ".join(diff.runs) + " |",
            "|---|" + "---|" * len(diff.runs),
        ]
        for field, values in diff.fields.items():
            cells = " | ".join(v.replace("|", "\\|") for v in values)
            lines.append(f"| {field} | {cells} |")
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
            f"- kernel {kernel.release}{ran}" + (f": {kernel.error}" if kernel.error else "")
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
            f"| {first.article}{section} | {claim} (`{name}`) | "
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
            f"- `{record.key}` ({record.article}, kernel {record.kernel}): {record.title}. {why}"
        )
    problems = [r for r in records if r.verdict in ("fail", "error")]
    if problems:
        lines += ["", "## Cases that failed or errored", ""]
        lines += [f"- `{r.key}`: {r.verdict}" for r in sorted(problems, key=lambda r: r.key)]
    skipped = [r for r in records if r.verdict == "skip"]
    if skipped:
        lines += ["", "## Skipped", ""]
        lines += [f"- `{r.key}`: {r.message}" for r in sorted(skipped, key=lambda r: r.key)]
    return run_folder.write_text(run_dir, "summary.md", "\n".join(lines) + "\n")
