"""The page's body: one section per scenario (claim, source, topology drawn once), and in
it one section per case, with one block per distinct answer of the run's kernels."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote

from harness.case.record import CaseRecord
from harness.outputs.report.svg import escape, sequence_svg, topology_svg
from harness.outputs.report.text import (
    comparison_headings,
    kernel_does_line,
    outcome_line,
    probe_line,
    settled_line,
    source_of,
    trace_text,
)
from harness.outputs.report.views import FAILING, CaseView, Page, ScenarioView, badge, case_attrs
from harness.scenario.expect import Comparison


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
            + (f" mtu {iface.mtu}" if iface.mtu is not None else "")
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


def _topology(rec: CaseRecord, scenario: str, open_: bool) -> str:
    """The scenario's topology: drawing, hosts table and description, in <details>."""
    topology = rec.topology
    hosts = ", ".join(topology.hosts) or "none recorded"
    description = (
        f'<p class="muted">{escape(topology.description)}</p>' if topology.description else ""
    )
    return (
        f"<details{' open' if open_ else ''}><summary>topology: "
        f"{escape(topology.name or 'inline')} (hosts {escape(hosts)})</summary>"
        f'<div class="topobox"><div class="figure">{topology_svg(topology, scenario)}</div>'
        f"{_hosts_table(rec)}</div>{description}</details>"
    )


def _pcap_link(pcap: str, run_dir: Path) -> str:
    """A link to one pcap, relative to the page, marked when the file is not there."""
    path = Path(pcap)
    rel = os.path.relpath(path, run_dir) if path.is_absolute() else pcap
    missing = "" if (run_dir / rel).exists() else ' <span class="muted">(missing)</span>'
    return f'<a href="{escape(quote(Path(rel).as_posix()))}">{escape(path.name)}</a>{missing}'


def _pcap_links(group: list[CaseRecord], page: Page) -> str:
    """Each interface's pcap; on several kernels, one line of them per kernel."""
    if not any(rec.pcaps for rec in group):
        return '<p class="muted">(no pcap recorded)</p>'
    if not page.multi:
        items = "".join(f"<li>{_pcap_link(p, page.run_dir)}</li>" for p in group[0].pcaps)
        return f'<ul class="pcaps">{items}</ul>'
    lines = "".join(
        f'<div><span class="mono">{escape(rec.kernel)}</span>: '
        + (" ".join(_pcap_link(p, page.run_dir) for p in rec.pcaps) or "(none)")
        + "</div>"
        for rec in group
    )
    return f'<div class="pcapline">{lines}</div>'


def _failure_banner(rec: CaseRecord) -> str:
    items = "".join(
        f"<li><b>{escape(r.label)}</b>: expected <code>{escape(r.expected)}</code>, "
        f"observed <code>{escape(r.observed)}</code></li>"
        for r in rec.differing
    )
    # an error has no differing field: its message says what went wrong
    message = f"<pre>{escape(rec.message)}</pre>" if rec.message else ""
    what = (
        "the kernel did not do what the claim expects"
        if rec.verdict == "fail"
        else "the case did not run to a verdict"
    )
    return (
        f'<div class="banner"><b>{escape(rec.verdict.upper())}</b>: {what}'
        + (f"<ul>{items}</ul>" if items else message)
        + "</div>"
    )


def _answer(group: list[CaseRecord], page: Page) -> str:
    """What the kernels of `group` answered (the same, per compare.essence), drawn once."""
    rec = group[0]
    failing = rec.verdict in FAILING
    out = []
    if page.multi:
        kernels = ", ".join(r.kernel for r in group)
        shared = (
            f' <span class="muted">(the same answer; drawn from {escape(rec.kernel)})</span>'
            if len(group) > 1
            else ""
        )
        out.append(
            f'<div class="kgroup"><h4>{badge(rec.verdict)} on {escape(kernels)}{shared}</h4>'
        )
    if failing:
        out.append(_failure_banner(rec))
    if rec.verdict == "changed" and rec.message:
        out.append(f'<div class="changed-note">{escape(rec.message)}</div>')
    durations = ", ".join(
        (f"{r.kernel}: " if len(group) > 1 else "") + f"{r.duration_s:.3f} s" for r in group
    )
    facts = [
        ("answer", f"<code>{escape(outcome_line(rec))}</code>"),
        ("ended", escape(settled_line(rec) or "-")),
        ("duration", escape(durations)),
    ]
    if not page.multi:
        facts.insert(0, ("kernel", escape(rec.kernel)))
    out.append(
        '<dl class="facts">' + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts) + "</dl>"
    )
    if rec.article_comparison:
        claimed, does = comparison_headings(rec)
        out.append(f"<h4>{escape(claimed)}</h4>" + _comparison_table(rec.article_comparison))
        out.append(f"<h4>{escape(does)}</h4>" + _comparison_table(rec.comparison))
    else:
        out.append("<h4>expected vs observed</h4>" + _comparison_table(rec.comparison))
    fig_cls = "figure failing" if failing else "figure"
    trace = rec.observed.trace() if rec.observed else []
    frames = sum(1 for f in trace if f.direction == "out")
    if rec.verdict != "pass" or page.every_diagram:
        out.append(
            f"<details{' open' if failing else ''}><summary>sequence: every frame that left a "
            f"namespace, in time order ({frames} frames)</summary>"
            f'<div class="{fig_cls}">{sequence_svg(rec)}</div></details>'
        )
    out.append(
        "<details><summary>trace: every frame on every interface "
        f"(ms from the syscall; {len(trace)} lines)</summary>"
        f"<pre>{escape(trace_text(trace))}</pre></details>"
    )
    notes = [n for n in rec.notes if n not in page.common_notes]
    if notes:
        out.append(
            '<div class="muted">'
            + "".join(f"<div>note: {escape(n)}</div>" for n in notes)
            + "</div>"
        )
    out.append("<h4>pcaps</h4>" + _pcap_links(group, page))
    if page.multi:
        out.append("</div>")
    return "".join(out)


def _case_section(view: CaseView, scenario_rec: CaseRecord, page: Page) -> str:
    rec = view.first
    out = [
        f'<section class="case {escape(view.worst)}" id="{view.anchor}" {case_attrs(view)}>',
        f'<h3>{badge(view.worst)} <span class="mono">{escape(view.key)}</span></h3>',
        f"<div><b>{escape(rec.title)}</b></div>",
    ]
    refuted = next((r for r in view.records if r.refuted), None)
    if refuted is not None:
        out.append(
            '<div class="refuted-note">'
            f"<div><b>claim refuted</b>: {escape(refuted.refuted)}</div>"
            f"<div><b>what the kernel does instead</b>: {escape(kernel_does_line(refuted))}</div>"
            "</div>"
        )
    if rec.changed_in is not None:
        out.append(
            f'<div class="changed-note"><b>the kernel {escape(rec.changed_in.summary())}</b></div>'
        )
    changes = [str(c) for act in rec.acts for c in act.change]
    facts = []
    if rec.claim != scenario_rec.claim:
        facts.append(("claim", escape(rec.claim)))
    if source_of(rec) != source_of(scenario_rec):
        facts.append(("source", escape(source_of(rec) or "-")))
    facts += [
        ("changes", "<br>".join(f"<code>{escape(c)}</code>" for c in changes) or "(none)"),
        ("probe", f"<code>{escape(probe_line(rec))}</code>"),
    ]
    out.append(
        '<dl class="facts">' + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts) + "</dl>"
    )
    out.extend(_answer(group, page) for group in view.answers())
    out.append("</section>")
    return "\n".join(out)


def scenario_section(scenario: ScenarioView, page: Page) -> str:
    """One scenario's section of the page: its claim, source and topology, then its cases."""
    first = scenario.cases[0].first
    source = source_of(first)
    failing = any(c.worst in FAILING for c in scenario.cases)
    head = (
        f'<div class="head"><h2 class="mono">{escape(scenario.name)}</h2>'
        f'<div class="claim">{escape(first.claim)}</div>'
        + (f'<div class="muted">source: {escape(source)}</div>' if source else "")
        + "</div>"
    )
    return "\n".join(
        [
            f'<section class="scenario" id="{scenario.anchor}" data-scenario="{scenario.anchor}">',
            head,
            _topology(first, scenario.name, failing),
            *(_case_section(c, first, page) for c in scenario.cases),
            "</section>",
        ]
    )
