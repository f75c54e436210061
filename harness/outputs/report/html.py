"""The run report: one self-contained HTML page with the claims, verdicts and every case.

The page follows how a reader looks for things: the cases that are not a plain
pass first (failures first), the claims with a verdict per kernel, then one
section per scenario (its claim, source and topology, drawn once) holding one
section per case, whatever the number of kernels.  Inside a case, kernels that
gave the same answer (compare.essence: errno, resolution requests, deliveries,
route lookup...) share one set of drawings, so a run on four kernels that agree
is hardly bigger than a run on one.  The sequence diagram and the trace sit in
<details>, open where a case failed.  A few lines of inline script filter the
page by verdict and search its text; without them the page shows everything.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from harness.case.record import CaseRecord, RunInfo
from harness.case.verdict import VERDICT_ORDER
from harness.core import run_folder
from harness.outputs.report.cases import scenario_section
from harness.outputs.report.style import page_css
from harness.outputs.report.svg import LEGEND, PROTO_COLOURS, escape
from harness.outputs.report.text import source_of
from harness.outputs.report.views import (
    CaseView,
    Page,
    ScenarioView,
    badge,
    case_attrs,
    group_records,
    kernel_verdicts,
    verdict_rank,
)
from harness.outputs.sink import WrittenAtClose
from harness.runs.compare import Difference, kernel_differences
from harness.runs.store import REPORT_NAME, read_run

# ---------------------------------------------------------------- the head of the page


def _kernel_label(release: str, run: RunInfo | None) -> str:
    """The release, and what it ran on when the run says (a guest, and how it was asked for)."""
    for kernel in run.kernels if run else []:
        if kernel.release == release and kernel.machine != "host":
            asked = f", asked as {kernel.label}" if kernel.label not in {release, "host"} else ""
            return f"{release} ({kernel.machine}{asked})"
    return release


def _head(
    name: str,
    records: Sequence[CaseRecord],
    kernels: list[str],
    cases: int,
    run: RunInfo | None,
    common_notes: list[str],
    every_diagram: bool,
) -> str:
    total = sum(r.duration_s for r in records)
    facts = []
    if len(kernels) > 1:
        present = [v for v in VERDICT_ORDER if any(r.verdict == v for r in records)]
        counts = Counter((r.kernel, r.verdict) for r in records)
        rows = "".join(
            f'<tr><td class="mono">{escape(_kernel_label(k, run))}</td>'
            + "".join(f'<td class="n">{counts[k, v] or ""}</td>' for v in present)
            + "</tr>"
            for k in kernels
        )
        facts.append(
            (
                "kernels",
                '<table class="counts"><tr><th>kernel</th>'
                + "".join(f"<th>{badge(v)}</th>" for v in present)
                + f"</tr>{rows}</table>",
            )
        )
        facts.append(("cases", f"{cases} on {len(kernels)} kernels ({total:.2f} s of case time)"))
    else:
        facts.append(("kernel", escape(_kernel_label(kernels[0], run) if kernels else "?")))
        facts.append(("cases", f"{cases} ({total:.2f} s of case time)"))
        counts_1 = Counter(r.verdict for r in records)
        badges = (
            " ".join(badge(v, f"{counts_1[v]} {v}") for v in VERDICT_ORDER if counts_1[v])
            or "(no case)"
        )
        facts.append(("verdicts", f'<span class="counts">{badges}</span>'))
    for kernel in run.kernels if run else []:
        if kernel.error:
            facts.append(
                (
                    "not run",
                    f"{escape(kernel.label)} ({escape(kernel.machine)}): "
                    f"<pre>{escape(kernel.error)}</pre>",
                )
            )
    if not every_diagram and any(r.verdict == "pass" for r in records):
        facts.append(
            (
                "drawings",
                "a sequence diagram for each case that is not a plain pass; a pass shows its "
                f"trace (<code>harness report {escape(name)} --every-diagram</code> draws all)",
            )
        )
    if common_notes:
        facts.append(("every case", "".join(f"<div>{escape(n)}</div>" for n in common_notes)))
    if run is not None:
        when = escape(run.started) + (
            f" to {escape(run.finished)}" if run.finished else " (its end was not recorded)"
        )
        facts.append(
            ("run", when + (f" · <code>{escape(run.command)}</code>" if run.command else ""))
        )
    warning = (
        '<div class="banner"><b>interrupted</b>: the run stopped before every selected case ran; '
        "the page shows the cases that did</div>"
        if run is not None and run.interrupted
        else ""
    )
    return (
        f"<h1>Run report: {escape(name)}</h1>{warning}"
        '<dl class="facts">' + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts) + "</dl>"
    )


def _filter_bar(cases: list[CaseView]) -> str:
    """Verdict switches and a search box; hidden until the script shows them."""
    having = Counter(v for c in cases for v in c.verdicts)
    switches = "".join(
        f'<label><input type="checkbox" value="{v}" checked>{badge(v, f"{having[v]} {v}")}</label>'
        for v in VERDICT_ORDER
        if having[v]
    )
    return (
        '<div id="filter" class="filter" hidden><b>show</b>'
        + switches
        + '<input type="search" placeholder="search the cases: name, claim, article, address, '
        'errno, a frame..." aria-label="search the cases">'
        '<span id="shown" class="muted"></span></div>'
    )


# Shows the filter bar (its height kept in --bar, by which a link's target stops below
# it), then on every change hides each case (and everything
# tagged with it: its summary row, its list entry) that has none of the ticked
# verdicts or lacks a searched word, and each scenario with no case left.
FILTER_SCRIPT = """
(function () {
  var bar = document.getElementById("filter");
  var boxes = bar.querySelectorAll("input[type=checkbox]");
  var search = bar.querySelector("input[type=search]");
  var cases = document.querySelectorAll("section.case");
  var text = {};
  cases.forEach(function (c) {
    var head = c.parentNode.querySelector(".head");
    text[c.id] = ((head ? head.textContent : "") + " " + c.textContent).toLowerCase();
  });
  function apply() {
    var on = {}, shown = {}, n = 0;
    boxes.forEach(function (b) { on[b.value] = b.checked; });
    var words = search.value.toLowerCase().split(/\\s+/).filter(Boolean);
    cases.forEach(function (c) {
      var ok = c.dataset.v.split(" ").some(function (v) { return on[v]; }) &&
        words.every(function (w) { return text[c.id].indexOf(w) >= 0; });
      shown[c.id] = ok;
      if (ok) n++;
    });
    document.querySelectorAll("[data-case]").forEach(function (e) {
      e.hidden = !shown[e.dataset.case];
    });
    document.querySelectorAll("section.scenario").forEach(function (s) {
      var any = s.querySelector("section.case:not([hidden])") !== null;
      document.querySelectorAll('[data-scenario="' + s.id + '"]').forEach(function (e) {
        e.hidden = !any;
      });
    });
    document.getElementById("shown").textContent = n + " of " + cases.length + " cases shown";
  }
  bar.addEventListener("input", apply);
  bar.hidden = false;
  function height() {
    document.documentElement.style.setProperty("--bar", bar.offsetHeight + "px");
  }
  if (window.ResizeObserver) new ResizeObserver(height).observe(bar);
  height();
  apply();
  if (location.hash) {  /* the page opened at a case: it stops below the bar, shown now */
    var target = document.getElementById(decodeURIComponent(location.hash.slice(1)));
    if (target) target.scrollIntoView();
  }
})();
"""


def _not_plain_pass(cases: list[CaseView], multi: bool) -> str:
    """Every case with another verdict than pass on some kernel, failures first."""
    listed = sorted(
        (c for c in cases if c.verdicts != ["pass"]), key=lambda c: (verdict_rank(c.worst), c.key)
    )
    if not listed:
        return ""
    items = "".join(
        f"<li {case_attrs(c)}>{badge(c.worst)} "
        f'<a class="mono" href="#{c.anchor}">{escape(c.key)}</a> {escape(c.first.title)}'
        + (f" {kernel_verdicts(c)}" if multi and len(c.verdicts) > 1 else "")
        + "</li>"
        for c in listed
    )
    return f'<h2>not a plain pass ({len(listed)})</h2><ul class="notpass">{items}</ul>'


def _summary_table(scenarios: list[ScenarioView], kernels: list[str]) -> str:
    cols = "".join(f'<th class="kernel">{escape(k)}</th>' for k in kernels)
    out = [f'<table class="summary"><tr><th>case</th><th>title</th>{cols}</tr>']
    for scenario in scenarios:
        first = scenario.cases[0].first
        source = source_of(first)
        out.append(
            f'<tr class="scenario" data-scenario="{scenario.anchor}">'
            f'<td colspan="{2 + len(kernels)}"><a href="#{scenario.anchor}"><b>'
            f"{escape(scenario.name)}</b></a>"
            f'<div class="claim">{escape(first.claim)}</div>'
            + (f'<div class="muted">source: {escape(source)}</div>' if source else "")
            + "</td></tr>"
        )
        for case in scenario.cases:
            on = {r.kernel: r for r in case.records}
            cells = "".join(
                f'<td class="v"><a href="#{case.anchor}">{badge(on[k].verdict)}</a></td>'
                if k in on
                else '<td class="muted">-</td>'
                for k in kernels
            )
            out.append(
                f"<tr {case_attrs(case)}>"
                f'<td class="mono id"><a href="#{case.anchor}">{escape(case.first.case)}</a></td>'
                f"<td>{escape(case.first.title)}</td>{cells}</tr>"
            )
    out.append("</table>")
    return "".join(out)


def _differences(found: list[Difference], cases: dict[str, CaseView]) -> str:
    """Each case whose answer differs between kernels, the values side by side."""
    if not found:
        return ""
    out = [f"<h2>where kernels differ ({len(found)} case{'' if len(found) == 1 else 's'})</h2>"]
    for diff in found:
        view = cases.get(diff.key)
        name = f'<a href="#{view.anchor}">{escape(diff.key)}</a>' if view else escape(diff.key)
        cols = "".join(f"<th>{escape(run)}</th>" for run in diff.runs)
        rows = "".join(
            f"<tr><td>{escape(field)}</td>"
            + "".join(f'<td class="mono">{escape(v)}</td>' for v in values)
            + "</tr>"
            for field, values in diff.fields.items()
        )
        out.append(
            f"<div {case_attrs(view)}>" if view else "<div>",
        )
        out.append(
            f'<h3 class="mono">{name}</h3><div>{escape(diff.title)}</div>'
            f'<table class="cmp"><tr><th>field</th>{cols}</tr>{rows}</table></div>'
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


# ---------------------------------------------------------------- scenarios and cases


def render_report(
    records: Sequence[CaseRecord],
    run_dir: Path,
    run: RunInfo | None = None,
    every_diagram: bool = False,
) -> str:
    """The whole report page for `records` of the run in `run_dir`, as one HTML string."""
    kernels, scenarios = group_records(records)
    cases = [c for s in scenarios for c in s.cases]
    common = set(records[0].notes) if len(records) > 1 else set()
    for rec in records[1:]:
        common &= set(rec.notes)
    page = Page(run_dir, len(kernels) > 1, frozenset(common), every_diagram)
    multi = page.multi
    name = run_dir.resolve().name
    ordered_common = [n for n in records[0].notes if n in common] if common else []
    body = [
        _head(name, records, kernels, len(cases), run, ordered_common, every_diagram),
        _filter_bar(cases),
        _not_plain_pass(cases, multi),
        "<h2>claims and verdicts</h2>",
        _summary_table(scenarios, kernels) if cases else "<p>(no case recorded)</p>",
        _differences(kernel_differences(list(records)), {c.key: c for c in cases}),
        "<h2>cases</h2>" + _legend() if cases else "",
        *(scenario_section(s, page) for s in scenarios),
    ]
    main = "\n".join(part for part in body if part)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>harness report {escape(name)}</title><style>{page_css(main)}</style></head>"
        f"<body><main>\n{main}\n</main><script>{FILTER_SCRIPT}</script></body></html>\n"
    )


def write_report(
    run_dir: Path,
    records: Sequence[CaseRecord] | None = None,
    run: RunInfo | None = None,
    every_diagram: bool = False,
) -> Path:
    """RUN/report.html: the run's claims, verdicts and every case, in one self-contained file.

    `records` (and `run`, the run's kernels and times) are the run's, when the
    caller has them already; else both are read (and validated) from the run folder.
    `every_diagram`: a sequence diagram for plain passes too (else their trace only).
    """
    if records is None:
        run, chosen = read_run(run_dir)
    else:
        chosen = list(records)
    page = render_report(chosen, run_dir, run, every_diagram)
    return run_folder.write_text(run_dir, REPORT_NAME, page)


class Report(WrittenAtClose):
    """RUN/report.html at the close, when a case ran."""

    def write(self, records: list[CaseRecord], run: RunInfo) -> None:
        """Write report.html."""
        write_report(Path(self.path), records, run)
