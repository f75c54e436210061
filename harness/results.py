"""Results: one record per case, and the run folder they are written to."""

from __future__ import annotations

import datetime
import json
import os
import platform
import secrets
from dataclasses import asdict, dataclass, field
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
        """A JSON-ready dict."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CaseRecord:
        """Inverse of to_json."""
        return cls(**data)


def write_results(run_dir: Path, records: list[CaseRecord]) -> Path:
    """results.json: a list with one record per case, sorted by scenario and case."""
    path = run_dir / "results.json"
    ordered = sorted(records, key=lambda r: (r.scenario, r.case))
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps([r.to_json() for r in ordered], indent=2, ensure_ascii=False) + "\n")
    tmp.replace(path)
    return path


def read_results(run_dir: Path) -> list[CaseRecord]:
    """Records of a finished run."""
    data = json.loads((run_dir / "results.json").read_text())
    return [CaseRecord.from_json(item) for item in data]
