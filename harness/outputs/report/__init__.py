"""Report: a run as one self-contained HTML page, and one case as plain text.

This stage only reads what the run wrote (typed records, and the pcaps); it
never touches a namespace.  html.py builds the page (head, filter, lists,
summary), views.py groups the records (cases across kernels, scenarios, the
verdict order), cases.py writes the scenario and case sections, svg.py draws
the topology and the sequence of frames, text.py writes the terminal view,
style.py holds the page's CSS and its embedded CJK font (fonts/).
"""

from __future__ import annotations

from harness.outputs.report.html import Report, render_report, write_report
from harness.outputs.report.svg import MAX_ARROWS, sequence_svg, topology_svg
from harness.outputs.report.text import render_case_text

__all__ = [
    "MAX_ARROWS",
    "Report",
    "render_case_text",
    "render_report",
    "sequence_svg",
    "topology_svg",
    "write_report",
]
