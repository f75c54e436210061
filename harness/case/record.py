"""The case record: one typed record per case, from the runner to results.json to the report.

It is written once (`to_json`) and read back through the same model
(`from_json`), so `harness show`, `harness report` and the merge of the
workers' records all read exactly what was written, or refuse it with the
field that is wrong.
"""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, ValidationError

from harness.case.verdict import Verdict
from harness.core.display import one_line
from harness.core.evidence import Observation
from harness.scenario import Act, ChangedIn, Topology
from harness.scenario.expect import Comparison

# Which cases keep their pcaps in the run folder: findings (fail, error, refuted,
# changed), every case, or none.
PcapPolicy = Literal["findings", "all", "none"]
PCAP_POLICIES: tuple[PcapPolicy, ...] = get_args(PcapPolicy)

# A field's name or a problem quoting a value can be as long as the file that holds it:
# a message shows at most this many characters of each.
_SHOWN = 200


def _cut(text: str) -> str:
    return text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"


class RecordError(ValueError):
    """A stored record or results file does not read as written; says which file (and
    record), which field and what is wrong, in one line (display.one_line)."""

    def __init__(self, where: str, field: str, problem: str) -> None:
        self.where, self.field, self.problem = where, _cut(field), _cut(problem)
        super().__init__(one_line(f"{where}: {self.field + ': ' if field else ''}{self.problem}"))


class CaseRecord(BaseModel):
    """Everything a reader needs about one case: claim, plan, observation, verdict."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    scenario: str
    case: str
    file: str  # the scenario file, as the run was given it
    title: str
    claim: str
    article: str
    section: str = ""
    kernel: str  # `uname -r` of the kernel the case ran on
    verdict: Verdict
    message: str = ""  # why, for anything but a plain pass (an error: what went wrong)
    refuted: str = ""  # the case says the article's claim does not hold, and why
    changed_in: ChangedIn | None = None  # the case says the kernel changed at a version
    topology: Topology
    acts: list[Act]  # what the case does and expects at each act
    observed: Observation | None = None  # None: the case did not get to run
    comparison: list[Comparison] = []  # the rows that decide the verdict
    article_comparison: list[Comparison] = []  # a refuted case: the article's rows
    notes: list[str] = []
    duration_s: float = 0.0
    pcaps: list[str] = []  # relative to the run folder

    @property
    def key(self) -> str:
        """scenario/case, the id used on the command line and in reports."""
        return f"{self.scenario}/{self.case}"

    @property
    def differing(self) -> list[Comparison]:
        """The rows where the kernel did not do what was expected."""
        return [row for row in self.comparison if not row.ok]

    def to_json(self) -> str:
        """One line of JSON."""
        return self.model_dump_json(exclude_none=True)

    @classmethod
    def from_json(cls, text: str | bytes, where: str = "record") -> CaseRecord:
        """A record read back from `to_json`'s text; RecordError when it does not fit."""
        try:
            return cls.model_validate_json(text)
        except ValidationError as exc:
            raise record_error(exc, where) from None

    @classmethod
    def from_dict(cls, data: object, where: str = "record") -> CaseRecord:
        """A record from already-parsed JSON; RecordError when it does not fit."""
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise record_error(exc, where) from None


class KernelRun(BaseModel):
    """One kernel a run ran its cases on."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    release: str  # `uname -r`
    label: str = "host"  # as the run was asked for it: host, 6.1, a path to an image
    machine: str = "host"  # host, or the guest's virtual machine: "guest (kvm)", "guest (tcg)"
    error: str = ""  # a guest that did not come up: why, with the console's last lines
    # Timings on the host's clock (a guest's own clock is not trusted for these), None
    # where not known: a guest's boot, qemu's start to Python's; then, in seconds from
    # the run's start, when the kernel's first and last case ended.
    boot_seconds: float | None = None
    first_case_seconds: float | None = None
    last_case_seconds: float | None = None


class RunInfo(BaseModel):
    """What a run was: when, on which kernels, and whether it ran to its end."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    started: str  # ISO 8601, UTC
    finished: str = ""  # empty: the run did not get to write its end (its controller died)
    interrupted: bool = False  # stopped before every selected case ran (Ctrl-C, a signal)
    kernels: list[KernelRun] = []
    command: str = ""


def record_error(exc: ValidationError, where: str, within: str = "") -> RecordError:
    """The RecordError for pydantic's first complaint (`within`: the field validated)."""
    first = exc.errors()[0]
    field = ".".join(str(part) for part in (within, *first["loc"]) if part != "")
    more = exc.error_count() - 1
    problem = first["msg"] + (f" (and {more} more)" if more else "")
    return RecordError(where, field, problem)
