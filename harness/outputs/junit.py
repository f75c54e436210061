"""JUnit XML (`--junit PATH`): a test suite per kernel, a test case per case.

The classname is the scenario; a refuted or changed claim is a passed test that
says so in its properties and output (not a skip); a failure's message names the
fields that differ.  Written once, at the end of a run.  Ids, titles and messages
come from scenario files: no control character is written raw (display.one_line,
display.block), so the XML stays well-formed (XML 1.0 forbids most C0 controls,
lone surrogates and U+FFFE/U+FFFF even as character references).
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

from harness.case.record import CaseRecord, RunInfo
from harness.core.display import block, one_line
from harness.outputs.headline import headline

# The kernel answers otherwise than the claim: in JUnit a passed test that says so.
CLAIM_FINDINGS = ("refuted", "changed")


class JUnit:
    """The sink (harness/outputs/sink.py): nothing until the end, then the whole file
    (no file for a run in which no case ran)."""

    def __init__(self, path: Path | str) -> None:
        self.path = path

    def add(self, record: CaseRecord) -> None:
        """Nothing yet: a suite's counts come first in the file."""
        del record

    def close(self, run: RunInfo, records: Sequence[CaseRecord]) -> None:
        """Write the file, if any case ran."""
        if records:
            write_junit(self.path, records, run)


def write_junit(path: Path | str, records: Sequence[CaseRecord], run: RunInfo) -> None:
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
