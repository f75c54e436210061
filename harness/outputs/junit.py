"""JUnit XML: one writer of a case's test case, behind `--junit PATH` and pytest's `--junitxml`.

`--junit PATH` (`harness run`, or `--harness-junit` under pytest) writes a whole
file: a test suite per kernel, a test case per case, at the end of a run.
pytest's own `--junitxml` keeps pytest's writer for the file (it knows every
item, Python tests too, and its options: junit_suite_name, --junitprefix,
record_testsuite_property); at the end of the session the harness replaces,
in that file, the test case of every scenario case it holds a record of with
this module's `case_element` (`graft`), and counts that suite's failures, errors
and skips again.  So both files show a case the same way.  The harness does
not use pytest's `record_property`/`user_properties` for what it shows: the
schema CI servers read (jenkins-junit.xsd, tests/schemas/) allows no
properties in a test case, and pytest cannot change a test's name or output
after it ran; a case item carries one property only, `harness-node` (its node
id), which says which test case to replace and is removed with it.

A test case (valid against jenkins-junit.xsd):
- classname: the scenario; name: the case id, `[KERNEL]` after it when the file
  holds several kernels (views that flatten suites would merge them), and
  ` (REFUTED)` or ` (CHANGED)` for a claim the kernel answers otherwise: a
  passed test that says so in the list of tests, not a skip that CI views
  hide, and a different test in a CI's history when a claim's answer changes;
  status: the verdict;
- failure (fail) or error (error): its message names the fields that differ
  (or the error), its body is the `harness show` view of the case;
- skipped (skip): why, as its text (the schema gives `skipped` no attributes);
- system-out: the verdict, kernel, errno, article and scenario file (what were
  properties before), and for a refuted or changed claim what the kernel
  answered: the headline and the `show` view.

Ids, titles and messages come from scenario files: no control character is
written raw (display.one_line, display.block), so the XML stays well-formed
(XML 1.0 forbids most C0 controls, lone surrogates and U+FFFE/U+FFFF even as
character references).
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from pathlib import Path

from harness.case.record import CaseRecord, RunInfo
from harness.core.display import block, one_line
from harness.outputs.headline import headline
from harness.outputs.sink import WrittenAtClose

# The kernel answers otherwise than the claim: in JUnit a passed test that says so.
CLAIM_FINDINGS = ("refuted", "changed")
# The property a case item's pytest test case carries until `graft` replaces it.
NODE_PROPERTY = "harness-node"


class JUnit(WrittenAtClose):
    """The whole file at the close: a suite's counts come first in it (no file for a run in
    which no case ran)."""

    def write(self, records: list[CaseRecord], run: RunInfo) -> None:
        """Write the JUnit XML."""
        write_junit(self.path, records, run)


def shown(record: CaseRecord) -> str:
    """A case as a failure shows it: the line naming what differs, then the `show` view."""
    from harness.outputs.report import render_case_text  # a failure's only: see _later

    return f"{headline(record)}\n{render_case_text(record)}"


def case_name(record: CaseRecord, with_kernel: bool) -> str:
    """The case id, the kernel when several ran, and REFUTED or CHANGED for a finding."""
    name = f"{record.case} [{record.kernel}]" if with_kernel else record.case
    if record.verdict in CLAIM_FINDINGS:
        name += f" ({record.verdict.upper()})"
    return one_line(name)


def case_element(record: CaseRecord, with_kernel: bool = False) -> ET.Element:
    """One case as a JUnit test case (see the module docstring)."""
    case = ET.Element(
        "testcase",
        # Jenkins reads the last dot as package.class: a scenario name has none.
        classname=one_line(record.scenario),
        name=case_name(record, with_kernel),
        time=f"{record.duration_s:.3f}",
        status=record.verdict,
    )
    line = headline(record)
    if record.verdict in ("fail", "error"):
        ET.SubElement(
            case,
            "failure" if record.verdict == "fail" else "error",
            {
                "message": line,
                "type": record.verdict,
            },
        ).text = block(shown(record))
    elif record.verdict == "skip":
        ET.SubElement(case, "skipped").text = line
    errnos = [a.outcome.errno for a in record.observed.acts] if record.observed else []
    out = [
        f"{name}: {one_line(value)}"
        for name, value in (
            ("verdict", record.verdict),
            ("kernel", record.kernel),
            ("errno", ", ".join(errnos)),
            ("article", record.article),
            ("file", record.file),
        )
    ]
    if record.verdict in CLAIM_FINDINGS:
        out += [one_line(f"{record.verdict.upper()} on kernel {record.kernel}: {line}"), ""]
        from harness.outputs.report import render_case_text

        out.append(block(render_case_text(record)))
    ET.SubElement(case, "system-out").text = "\n".join(out) + "\n"
    return case


def _count(suite: ET.Element) -> None:
    """A suite's counts, from the test cases it holds."""
    cases = suite.findall("testcase")
    suite.set("tests", str(len(cases)))
    for attribute, tag in (("failures", "failure"), ("errors", "error"), ("skipped", "skipped")):
        suite.set(attribute, str(sum(c.find(tag) is not None for c in cases)))


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
            time=f"{sum(r.duration_s for r in mine):.3f}",
            timestamp=one_line(run.started),
        )
        if run.interrupted:
            ET.SubElement(
                ET.SubElement(suite, "properties"), "property", name="interrupted", value="true"
            )
        suite.extend(case_element(r, len(kernels) > 1) for r in mine)
        _count(suite)
    _write(path, root)


def graft(path: Path, records: Mapping[str, Sequence[CaseRecord]]) -> int:
    """Replace, in pytest's --junitxml file at `path`, the test case of every case item
    (`records`: by node id) with `case_element`'s; the number of test cases written so."""
    tree = ET.parse(path)
    several = len({r.kernel for rs in records.values() for r in rs}) > 1
    replaced = 0
    for suite in tree.getroot().iter("testsuite"):
        done: set[str] = set()
        children: list[ET.Element] = []
        for child in suite:
            node = _node(child)
            if node is None:
                children.append(child)
            elif not records.get(node):
                _unmark(child)  # an item without a record (skipped before it ran): pytest's
                children.append(child)
            elif node not in done:
                # Under --dist each pytest has one test case per worker (kernel): all of
                # the node's records replace the first, and the others go.
                done.add(node)
                mine = sorted(records[node], key=lambda r: r.kernel)
                children += [case_element(r, several) for r in mine]
                replaced += len(mine)
        suite[:] = children
        _count(suite)
    _write(path, tree.getroot())
    return replaced


def _node(element: ET.Element) -> str | None:
    """The node id a test case of a case item carries (None: not one)."""
    if element.tag != "testcase":
        return None
    for prop in element.iterfind("properties/property"):
        if prop.get("name") == NODE_PROPERTY:
            return prop.get("value", "")
    return None


def _unmark(case: ET.Element) -> None:
    """Remove the node property (and an empty properties element) from a test case."""
    for properties in case.findall("properties"):
        for prop in properties.findall("property"):
            if prop.get("name") == NODE_PROPERTY:
                properties.remove(prop)
        if not len(properties):
            case.remove(properties)


def _write(path: Path | str, root: ET.Element) -> None:
    ET.indent(root)
    text = ET.tostring(root, encoding="unicode", xml_declaration=True)
    if str(path) == "-":
        sys.stdout.write(text + "\n")
    else:
        Path(path).write_text(text + "\n", encoding="utf-8")
