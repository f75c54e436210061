"""Machine-readable views of a run, for the tools users already have.

- JSON lines (`--json PATH`): each case's record as it finishes, one per line.
- TAP (`--tap PATH`): the kernel selftests' format (`ok N selftests: ...`, a
  `# SKIP` directive, `#` diagnostic lines), streamed, the plan at the end.
- JUnit XML (`--junit PATH`): a test suite per kernel, a test case per case,
  classname the scenario; a refuted or changed claim is a passed test that
  says so in its properties and output (not a skip); a failure's message names
  the fields that differ.

PATH `-` is standard output.  Written from the typed records (harness/case/record.py).
Ids, titles and messages come from scenario files: no control character is written
raw (display.one_line, display.block), so a TAP line stays one line, a terminal
showing it gets no escape sequence, and the XML stays well-formed (XML 1.0 forbids
most C0 controls, lone surrogates and U+FFFE/U+FFFF even as character references).
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import IO

from harness.case.record import CaseRecord, RunInfo
from harness.core.display import block, one_line

# The kernel answers otherwise than the claim: in JUnit a passed test that says so.
CLAIM_FINDINGS = ("refuted", "changed")


def differing_line(record: CaseRecord) -> str:
    """The fields where the kernel differed, in one line (empty for none)."""
    return one_line(
        "; ".join(
            f"{r.label}: expected {r.expected}, observed {r.observed}" for r in record.differing
        )
    )


def headline(record: CaseRecord) -> str:
    """One line saying what a case's verdict rests on (without the verdict's own name):
    the fields that differ, why a claim is refuted, the version change, the error."""
    return one_line(_headline(record))


def _headline(record: CaseRecord) -> str:
    first = record.message.split("\n", 1)[0]
    if record.verdict == "fail":
        return "differs: " + (differing_line(record) or first)
    if record.verdict == "refuted":
        return record.refuted
    if record.verdict == "changed" and record.changed_in is not None:
        return f"{record.changed_in.summary()} ({record.message})"
    if record.verdict in ("error", "skip"):
        return first or record.verdict
    return "holds"


def _open(path: Path | str) -> IO[str]:
    if str(path) == "-":
        return sys.stdout
    return Path(path).open("w", encoding="utf-8", buffering=1)


class JsonLines:
    """Each record as one line of JSON, written as the case finishes."""

    def __init__(self, path: Path | str) -> None:
        self.out = _open(path)

    def add(self, record: CaseRecord) -> None:
        """Write one record."""
        self.out.write(record.to_json() + "\n")
        self.out.flush()

    def close(self) -> None:
        """Close the file (not standard output)."""
        if self.out is not sys.stdout:
            self.out.close()


class Tap:
    """TAP version 13 as the kernel selftests print it, streamed; the plan comes last."""

    def __init__(self, path: Path | str) -> None:
        self.out = _open(path)
        self.count = 0
        self.out.write("TAP version 13\n")
        self.out.flush()

    def add(self, record: CaseRecord) -> None:
        """One test point for one case on one kernel."""
        self.count += 1
        ok = "not ok" if record.verdict in ("fail", "error") else "ok"
        name = one_line(f"selftests: harness: {record.key} [{record.kernel}]")
        directive = f" # SKIP {headline(record)}" if record.verdict == "skip" else ""
        lines = [f"{ok} {self.count} {name}{directive}"]
        if record.verdict != "pass" and record.verdict != "skip":
            lines.append(f"# {record.verdict}: {headline(record)}")
        self.out.write("\n".join(lines) + "\n")
        self.out.flush()

    def close(self, interrupted: bool = False) -> None:
        """The plan, and a bail-out line when the run was cut short."""
        if interrupted:
            self.out.write("Bail out! the run was interrupted\n")
        self.out.write(f"1..{self.count}\n")
        self.out.flush()
        if self.out is not sys.stdout:
            self.out.close()


def write_junit(path: Path | str, records: list[CaseRecord], run: RunInfo) -> None:
    """JUnit XML: a suite per kernel, a test case per case (see the module docstring)."""
    root = ET.Element("testsuites", name="harness")
    kernels = sorted({r.kernel for r in records})
    for kernel in kernels:
        mine = sorted((r for r in records if r.kernel == kernel), key=lambda r: r.key)
        suite = ET.SubElement(
            root,
            "testsuite",
            name=one_line(f"harness on {kernel}"),
            tests=str(len(mine)),
            failures=str(sum(r.verdict == "fail" for r in mine)),
            errors=str(sum(r.verdict == "error" for r in mine)),
            skipped=str(sum(r.verdict == "skip" for r in mine)),
            time=f"{sum(r.duration_s for r in mine):.3f}",
            timestamp=one_line(run.started),
        )
        if run.interrupted:
            ET.SubElement(
                ET.SubElement(suite, "properties"), "property", name="interrupted", value="true"
            )
        for record in mine:
            case = ET.SubElement(
                suite,
                "testcase",
                # Jenkins reads the last dot as package.class: a scenario name has none.
                classname=one_line(record.scenario),
                # Views that flatten suites (GitLab, GitHub's test reporters) would merge
                # one case's runs on several kernels: the kernel is in the name too.
                name=one_line(record.case if len(kernels) == 1 else f"{record.case} [{kernel}]"),
                file=one_line(record.file),
                time=f"{record.duration_s:.3f}",
            )
            properties = ET.SubElement(case, "properties")
            errnos = [a.outcome.errno for a in record.observed.acts] if record.observed else []
            for name, value in (
                ("kernel", record.kernel),
                ("verdict", record.verdict),
                ("errno", ", ".join(errnos)),
                ("article", record.article),
                ("claim", " ".join(record.claim.split())),
            ):
                ET.SubElement(properties, "property", name=name, value=one_line(value))
            line = headline(record)
            if record.verdict == "fail":
                failure = ET.SubElement(case, "failure", message=line, type="fail")
                failure.text = block(record.message)
            elif record.verdict == "error":
                error = ET.SubElement(case, "error", message=line, type="error")
                error.text = block(record.message)
            elif record.verdict == "skip":
                ET.SubElement(case, "skipped", message=line)
            elif record.verdict in CLAIM_FINDINGS:
                ET.SubElement(
                    properties, "property", name="finding", value=f"{record.verdict}: {line}"
                )
                ET.SubElement(case, "system-out").text = (
                    one_line(f"{record.verdict.upper()} on kernel {record.kernel}: {line}")
                    + "\n"
                    + one_line(f"claim ({record.article}): {' '.join(record.claim.split())}")
                    + "\n"
                )
    ET.indent(root)
    text = ET.tostring(root, encoding="unicode", xml_declaration=True)
    if str(path) == "-":
        sys.stdout.write(text + "\n")
    else:
        Path(path).write_text(text + "\n", encoding="utf-8")
