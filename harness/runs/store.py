"""The run folder's store: where runs live, each case's record as it finishes, results.json.

Everything here is read back through the typed record (harness/case/record.py) and
is bounded, since a results folder may come from elsewhere.  The views of a run
(summary.md, the report, TAP, JUnit) are harness/outputs/'s.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import secrets
import shutil
from pathlib import Path

from pydantic import ValidationError
from pydantic_core import from_json

from harness.case.record import CaseRecord, RecordError, RunInfo, record_error
from harness.core import run_folder
from harness.core.env import RESULTS_DIR
from harness.core.files import UnreadableFile, read_bounded

RUN_NAME = re.compile(r"\d{8}T\d{6}Z-[0-9a-f]{6}")
LATEST = "latest"
RESULTS_NAME = "results.json"
SUMMARY_NAME = "summary.md"  # harness/outputs/summary.py
REPORT_NAME = "report.html"  # harness/outputs/report/


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


def drop_record_files(run_dir: Path) -> None:
    """Remove the per-case record files once results.json holds every record: kept only
    for a run that dies half-way, they would double the folder's size."""
    shutil.rmtree(run_dir / "records", ignore_errors=True)


def write_record(run_dir: Path, record: CaseRecord) -> Path:
    """Store one case's record in the run folder as soon as it is known (atomically: a
    reader never sees half), so that a run whose controller dies keeps it."""
    path = record_path(run_dir, record)
    return run_folder.write_text(run_dir, path.relative_to(run_dir), record.to_json())


# A results folder may come from anywhere (users download someone's run): what is read
# from it is bounded.  The catalogue's results.json on one kernel is 2.5 MB for 364 case
# records; a file far larger is not one a run wrote, and reading it whole only costs memory.
RESULTS_MAX_BYTES = 64 << 20
RECORD_MAX_BYTES = 4 << 20  # one case's record file (records/KERNEL/SCENARIO/CASE.json)
MAX_RECORDS = 100_000  # case records (or record files, or markers) in one run


def read_stored(path: Path, limit: int) -> bytes | None:
    """The bytes of `path` if it is a regular file of at most `limit` bytes; None when
    there is no such file; RecordError for a symlink, a FIFO, a device or a larger file."""
    try:
        return read_bounded(path, limit, follow_links=False)
    except FileNotFoundError:
        return None
    except UnreadableFile as exc:
        suffix = ": not a file a run wrote" if str(exc).startswith("larger") else ""
        raise RecordError(str(path), "", f"{exc}{suffix}") from None


def _bounded_glob(run_dir: Path, pattern: str) -> list[Path]:
    """The paths under run_dir/records matching `pattern`, sorted; at most MAX_RECORDS, and
    none through a symlinked folder that leads out of records/."""
    folder = run_dir / "records"
    inside = folder.resolve()
    found = []
    for n, path in enumerate(folder.glob(pattern)):
        if n >= MAX_RECORDS:
            raise RecordError(str(folder), "", f"more than {MAX_RECORDS} files: not a run's")
        if not path.parent.resolve().is_relative_to(inside):
            raise RecordError(str(path), "", "reached through a symbolic link out of records/")
        found.append(path)
    return sorted(found)


def stored_records(run_dir: Path) -> list[CaseRecord]:
    """The record files of a run that has no results.json yet (RecordError if one is bad)."""
    records = []
    for path in _bounded_glob(run_dir, "*/*/*.json"):
        data = read_stored(path, RECORD_MAX_BYTES)
        if data is not None:  # gone since the listing: a run still going replaced it
            records.append(CaseRecord.from_json(data, str(path)))
    return records


def running_path(run_dir: Path, kernel: str, scenario: str, case: str) -> Path:
    """The marker of a case that has started on `kernel` and has no record yet."""
    return run_dir / "records" / ".running" / kernel / scenario / case


def mark_running(run_dir: Path, stopped: CaseRecord) -> Path:
    """Say, before a case starts, that it runs: the marker holds the record the case has
    if the run stops before its own arrives (`unfinished` reads it back).  A record, not
    the scenario file's path: a results folder may come from elsewhere, and a path in
    it would send `harness report` to read any file on this machine."""
    path = running_path(run_dir, stopped.kernel, stopped.scenario, stopped.case)
    return run_folder.write_text(run_dir, path.relative_to(run_dir), stopped.to_json())


def unfinished(run_dir: Path, records: list[CaseRecord]) -> list[CaseRecord]:
    """The `error` record of each case that started and has no record (its marker's)."""
    have = {(r.kernel, r.scenario, r.case) for r in records}
    found = []
    for marker in _bounded_glob(run_dir, ".running/*/*/*"):
        if tuple(marker.parts[-3:]) not in have:
            found.append(
                CaseRecord.from_json(read_stored(marker, RECORD_MAX_BYTES) or b"", str(marker))
            )
    return found


def stopped_records(run_dir: Path, records: list[CaseRecord]) -> list[CaseRecord]:
    """What a stopped run (interrupted or killed) holds beyond `records`, so that its
    results account for every case that started: the records its workers stored (a
    worker stores its record before the report reaches the controller, and a stop can
    fall in between: seen on a guest), then an `error` record for each case that
    started and has none."""
    have = {(r.kernel, r.scenario, r.case) for r in records}
    found = [r for r in stored_records(run_dir) if (r.kernel, r.scenario, r.case) not in have]
    return found + unfinished(run_dir, [*records, *found])


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
    return run_folder.write_text(run_dir, RESULTS_NAME, text)


def read_run(run_dir: Path) -> tuple[RunInfo | None, list[CaseRecord]]:
    """The run and its records: results.json, else (a run still going, or one whose
    controller died) the record files.  RecordError names what does not read."""
    path = run_dir / RESULTS_NAME
    text = read_stored(path, RESULTS_MAX_BYTES)
    if text is None:
        return None, stored_records(run_dir)
    where = str(path)
    try:
        # pydantic's parser (jiter), not json: it refuses, with line and column, what no
        # run writes and what would fail later (a lone surrogate cannot be written as
        # UTF-8), and bounds nesting and numbers; and it is faster.
        data = from_json(text)
    except ValueError as exc:
        raise RecordError(where, "", f"not a results file: {exc}") from None
    if not isinstance(data, dict):
        raise RecordError(where, "", "not a results file: not a JSON object")
    unknown = sorted(set(data) - {"run", "scenarios", "records"})
    if unknown:
        raise RecordError(
            where, unknown[0], "unknown field (a results file has run, scenarios, records)"
        )
    items = data.get("records")
    if not isinstance(items, list):
        raise RecordError(where, "records", "missing, or not a list of case records")
    if len(items) > MAX_RECORDS:
        raise RecordError(where, "records", f"more than {MAX_RECORDS}: not a run's")
    try:
        run = RunInfo.model_validate(data.get("run"))
    except ValidationError as exc:
        raise record_error(exc, where, "run") from None
    scenarios = data.get("scenarios", {})
    if not isinstance(scenarios, dict):
        raise RecordError(where, "scenarios", "not a mapping of scenario names to shared fields")
    for name, shared in scenarios.items():
        if not isinstance(shared, dict):
            raise RecordError(where, f"scenarios.{name}", "not a mapping of shared fields")
        unshared = sorted(set(shared) - set(SHARED))
        if unshared:
            raise RecordError(
                where, f"scenarios.{name}.{unshared[0]}", f"not one of {', '.join(SHARED)}"
            )
    records = []
    for n, item in enumerate(items):
        if not isinstance(item, dict):
            raise RecordError(f"{where}: record {n + 1}", "", "not a JSON object")
        name = item.get("scenario")
        shared = scenarios.get(name, {}) if isinstance(name, str) else {}
        records.append(CaseRecord.from_dict({**shared, **item}, f"{where}: record {n + 1}"))
    return run, records


def read_results(run_dir: Path) -> list[CaseRecord]:
    """The run's records (see read_run)."""
    return read_run(run_dir)[1]
