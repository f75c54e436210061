"""The run report: one self-contained HTML page with the claims, verdicts and every case."""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import quote

from harness.compare import Difference, kernel_differences
from harness.expect import Comparison
from harness.record import CaseRecord
from harness.report.style import CSS
from harness.report.svg import LEGEND, PROTO_COLOURS, escape, sequence_svg, topology_svg
from harness.report.text import (
    kernel_does_line,
    outcome_line,
    probe_line,
    settled_line,
    source_of,
    trace_text,
)
from harness.results import read_results
from harness.verdict import VERDICTS

REPORT_NAME = "report.html"


def _badge(verdict: str) -> str:
    cls = verdict if verdict in VERDICTS else "other"
    return f'<span class="badge {cls}">{escape(verdict.upper() or "?")}</span>'


def _anchors(records: Sequence[CaseRecord], multi_kernel: bool) -> list[str]:
    anchors: list[str] = []
    taken: set[str] = set()
    for rec in records:
        base = f"{rec.key}--{rec.kernel}" if multi_kernel else rec.key
        slug = "case-" + re.sub(r"[^A-Za-z0-9_-]+", "-", base).strip("-")
        anchor, n = slug, 2
        while anchor in taken:
            anchor, n = f"{slug}-{n}", n + 1
        taken.add(anchor)
        anchors.append(anchor)
    return anchors


def _summary_table(
    records: Sequence[CaseRecord], anchors: Sequence[str], kernels: Sequence[str]
) -> str:
    by_scenario: dict[str, dict[str, dict[str, tuple[CaseRecord, str]]]] = {}
    for rec, anchor in zip(records, anchors, strict=True):
        cases = by_scenario.setdefault(rec.scenario, {})
        cases.setdefault(rec.case, {})[rec.kernel] = (rec, anchor)
    cols = "".join(f'<th class="kernel">{escape(k)}</th>' for k in kernels)
    out = [f'<table class="summary"><tr><th>case</th><th>title</th>{cols}</tr>']
    for scenario, cases in by_scenario.items():
        first = next(iter(next(iter(cases.values())).values()))[0]
        source = source_of(first)
        out.append(
            f'<tr class="scenario"><td colspan="{2 + len(kernels)}"><b>{escape(scenario)}</b>'
            f'<div class="claim">{escape(first.claim)}</div>'
            + (f'<div class="muted">source: {escape(source)}</div>' if source else "")
            + "</td></tr>"
        )
        for case, per_kernel in cases.items():
            rec0, anchor0 = next(iter(per_kernel.values()))
            cells = []
            for kernel in kernels:
                if kernel in per_kernel:
                    rec, anchor = per_kernel[kernel]
                    cells.append(f'<td><a href="#{anchor}">{_badge(rec.verdict)}</a></td>')
                else:
                    cells.append('<td class="muted">-</td>')
            out.append(
                f'<tr><td class="mono id"><a href="#{anchor0}">{escape(case)}</a></td>'
                f"<td>{escape(rec0.title)}</td>{''.join(cells)}</tr>"
            )
    out.append("</table>")
    return "".join(out)


def _comparison_table(rows: list[Comparison]) -> str:
    if not rows:
        return '<p class="muted">(no comparison recorded)</p>'
    several = any(r.act > 0 for r in rows)
    out = ['<table class="cmp"><tr><th>field</th><th>expected</th><th>observed</th><th></th></tr>']
    for row in rows:
        label = (f"probe {row.act + 1}: " if several else "") + row.label
        out.append(
            f'<tr class="{"" if row.ok else "bad"}"><td>{escape(label)}</td>'
            f'<td class="mono">{escape(row.expected)}</td>'
            f'<td class="mono">{escape(row.observed)}</td>'
            f'<td class="mark">{"✓" if row.ok else "✗ differs"}</td></tr>'
        )
    out.append("</table>")
    return "".join(out)


def _hosts_table(rec: CaseRecord) -> str:
    topology = rec.topology
    if not topology.hosts:
        return ""
    out = ["<table><tr><th>host</th><th>interfaces</th><th>routes</th><th>sysctls</th></tr>"]
    for name, host in topology.hosts.items():
        interfaces = "<br>".join(
            f"{escape(ifname)} → {escape(iface.medium)}: "
            f"{escape(', '.join(str(a) for a in iface.addresses) or '-')}"
            for ifname, iface in host.interfaces.items()
        )
        routes = "<br>".join(escape(r) for r in host.routes) or "-"
        sysctls = "<br>".join(f"{escape(k)}={escape(v)}" for k, v in host.sysctls.items()) or "-"
        out.append(
            f'<tr><td><b>{escape(name)}</b></td><td class="mono">{interfaces}</td>'
            f'<td class="mono">{routes}</td><td class="mono">{sysctls}</td></tr>'
        )
    out.append("</table>")
    return "".join(out)


def _pcap_links(rec: CaseRecord, run_dir: Path) -> str:
    if not rec.pcaps:
        return '<p class="muted">(no pcap recorded)</p>'
    items = []
    for p in rec.pcaps:
        path = Path(p)
        rel = os.path.relpath(path, run_dir) if path.is_absolute() else p
        missing = "" if (run_dir / rel).exists() else ' <span class="muted">(missing)</span>'
        href = quote(Path(rel).as_posix())
        items.append(f'<li><a href="{escape(href)}">{escape(path.name)}</a>{missing}</li>')
    return f'<ul class="pcaps">{"".join(items)}</ul>'


def _differences(found: list[Difference], anchors: dict[str, str]) -> str:
    """Each case whose answer differs between kernels, the values side by side."""
    if not found:
        return ""
    out = [f"<h2>where kernels differ ({len(found)} cases)</h2>"]
    for diff in found:
        link = anchors.get(diff.key)
        name = f'<a href="#{link}">{escape(diff.key)}</a>' if link else escape(diff.key)
        cols = "".join(f"<th>{escape(run)}</th>" for run in diff.runs)
        rows = "".join(
            f"<tr><td>{escape(field)}</td>"
            + "".join(f'<td class="mono">{escape(v)}</td>' for v in values)
            + "</tr>"
            for field, values in diff.fields.items()
        )
        out.append(
            f'<h3 class="mono">{name}</h3><div>{escape(diff.title)}</div>'
            f'<table class="cmp"><tr><th>field</th>{cols}</tr>{rows}</table>'
        )
    return "".join(out)


def _legend() -> str:
    return (
        '<div class="legend">'
        + "".join(
            f'<span><i style="background:{c}"></i>{escape(LEGEND.get(k, k.upper()))}</span>'
            for k, c in PROTO_COLOURS.items()
        )
        + '<span class="muted">one arrow per frame leaving a namespace; hover for interfaces '
        "and times; a dashed arrow ending in a circle was not seen arriving anywhere</span></div>"
    )


def _case_section(rec: CaseRecord, anchor: str, run_dir: Path, multi_kernel: bool) -> str:
    verdict = rec.verdict
    failing = verdict in {"fail", "error"}
    kernel = f" on {rec.kernel}" if multi_kernel else ""
    out = [
        f'<section class="case {escape(verdict)}" id="{anchor}">',
        f'<h2>{_badge(verdict)} <span class="mono">{escape(rec.key)}</span>{escape(kernel)}</h2>',
        f"<div><b>{escape(rec.title)}</b></div>",
    ]
    if failing:
        items = "".join(
            f"<li><b>{escape(r.label)}</b>: expected <code>{escape(r.expected)}</code>, "
            f"observed <code>{escape(r.observed)}</code></li>"
            for r in rec.differing
        )
        # an error has no differing field: its message says what went wrong
        message = f"<pre>{escape(rec.message)}</pre>" if rec.message else ""
        what = (
            "the kernel did not do what the claim expects"
            if verdict == "fail"
            else "the case did not run to a verdict"
        )
        out.append(
            f'<div class="banner"><b>{escape(verdict.upper())}</b>: {what}'
            + (f"<ul>{items}</ul>" if items else message)
            + "</div>"
        )
    if rec.refuted:
        out.append(
            '<div class="refuted-note">'
            f"<div><b>claim refuted</b>: {escape(rec.refuted)}</div>"
            f"<div><b>what the kernel does instead</b>: {escape(kernel_does_line(rec))}</div>"
            "</div>"
        )
    if rec.changed_in is not None:
        out.append(
            '<div class="refuted-note">'
            f"<div><b>the kernel {escape(rec.changed_in.summary())}</b></div>"
            + (f"<div>{escape(rec.message)}</div>" if rec.verdict == "changed" else "")
            + "</div>"
        )
    changes = [str(c) for act in rec.acts for c in act.change]
    facts = [
        ("claim", escape(rec.claim)),
        ("source", escape(source_of(rec) or "-")),
        ("kernel", escape(rec.kernel)),
        ("changes", "<br>".join(f"<code>{escape(c)}</code>" for c in changes) or "(none)"),
        (
            "probe",
            f"<code>{escape(probe_line(rec))}</code> → <code>{escape(outcome_line(rec))}</code>",
        ),
        ("ended", escape(settled_line(rec) or "-")),
        ("duration", escape(f"{rec.duration_s:.3f} s")),
    ]
    out.append(
        '<dl class="facts">' + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts) + "</dl>"
    )
    if rec.article_comparison:
        out.append(
            "<h3>what the article claims (refuted)</h3>" + _comparison_table(rec.article_comparison)
        )
        out.append(
            "<h3>what this kernel does (recorded in the case)</h3>"
            + _comparison_table(rec.comparison)
        )
    else:
        out.append("<h3>expected vs observed</h3>" + _comparison_table(rec.comparison))
    topology = rec.topology
    out.append(
        f"<h3>topology: {escape(topology.name)}</h3>"
        f'<div class="topobox"><div class="figure">{topology_svg(rec)}</div>'
        f"{_hosts_table(rec)}</div>"
    )
    if topology.description:
        out.append(f'<p class="muted">{escape(topology.description)}</p>')
    fig_cls = "figure failing" if failing else "figure"
    out.append(
        "<h3>sequence (every frame that left a namespace, in time order)</h3>"
        + _legend()
        + f'<div class="{fig_cls}">{sequence_svg(rec)}</div>'
    )
    trace = rec.observed.trace() if rec.observed else []
    out.append(
        "<details><summary>trace: every frame on every interface "
        "(ms from the syscall)</summary>"
        f"<pre>{escape(trace_text(trace))}</pre></details>"
    )
    if rec.notes:
        out.append(
            '<div class="muted">'
            + "".join(f"<div>note: {escape(n)}</div>" for n in rec.notes)
            + "</div>"
        )
    out.append("<h3>pcaps</h3>" + _pcap_links(rec, run_dir))
    out.append("</section>")
    return "\n".join(out)


def render_report(records: Sequence[CaseRecord], run_dir: Path) -> str:
    """The whole report page for `records` of the run in `run_dir`, as one HTML string."""
    recs = sorted(records, key=lambda r: (r.scenario, r.case, r.kernel))
    kernels = list(dict.fromkeys(r.kernel for r in recs))
    multi = len(kernels) > 1
    anchors = _anchors(recs, multi)
    counts = Counter(r.verdict for r in recs)
    count_html = " ".join(
        f'<span class="badge {v}">{counts[v]} {escape(v)}</span>' for v in VERDICTS if counts[v]
    )
    failing = [(r, a) for r, a in zip(recs, anchors, strict=True) if r.verdict != "pass"]
    fail_list = (
        "<h2>not a plain pass</h2><ul>"
        + "".join(
            f'<li>{_badge(r.verdict)} <a class="mono" href="#{a}">{escape(r.key)}</a>'
            f" {escape(r.title)}</li>"
            for r, a in failing
        )
        + "</ul>"
        if failing
        else ""
    )
    total = sum(r.duration_s for r in recs)
    name = run_dir.resolve().name
    head = (
        f"<h1>Run report: {escape(name)}</h1>"
        f'<dl class="facts"><dt>kernel</dt><dd>{escape(", ".join(kernels) or "?")}</dd>'
        f"<dt>cases</dt><dd>{len(recs)} ({total:.2f} s of case time)</dd>"
        f'<dt>verdicts</dt><dd class="counts">{count_html or "(no case)"}</dd></dl>'
    )
    body = [
        head,
        fail_list,
        "<h2>claims and verdicts</h2>",
        _summary_table(recs, anchors, kernels) if recs else "<p>(no case recorded)</p>",
        _differences(
            kernel_differences(recs), {r.key: a for r, a in zip(recs, anchors, strict=True)}
        ),
        "<h2>cases</h2>",
        *(_case_section(r, a, run_dir, multi) for r, a in zip(recs, anchors, strict=True)),
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>harness report {escape(name)}</title><style>{CSS}</style></head>"
        "<body><main>\n" + "\n".join(body) + "\n</main></body></html>\n"
    )


def write_report(run_dir: Path, records: Sequence[CaseRecord] | None = None) -> Path:
    """RUN/report.html: the run's claims, verdicts and every case, in one self-contained file.

    `records` are the run's, when the caller has them already; else they are read
    (and validated) from the run folder.
    """
    path = run_dir / REPORT_NAME
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    chosen = read_results(run_dir) if records is None else records
    tmp.write_text(render_report(chosen, run_dir), encoding="utf-8")
    tmp.replace(path)
    return path
