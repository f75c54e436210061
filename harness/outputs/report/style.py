"""The report page's stylesheet and font (inline, so the page is one self-contained file)."""

from __future__ import annotations

import base64
import re
from functools import cache
from pathlib import Path

from harness.outputs.report.svg import CSS_ANCHORS, PROTO_COLOURS

FONTS = Path(__file__).parent / "fonts"
CJK_FAMILY = "harness CJK subset"
# The ranges the embedded font is declared for (CJK symbols and punctuation,
# ideographs, compatibility ideographs, fullwidth forms): a browser takes it only
# for these characters, and only where no font before it in the stack has them.
CJK_RANGES = "U+3000-303F, U+3400-4DBF, U+4E00-9FFF, U+F900-FAFF, U+FF00-FFEF"
CJK_CHARACTER = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]")
# CJK fonts that Windows, macOS and the Linux distributions ship, then the
# embedded subset for a machine with none of them (a container, a CI runner).
CJK_STACK = (
    '"Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", "PingFang SC", '
    f'"WenQuanYi Micro Hei", "{CJK_FAMILY}"'
)
SANS = f'system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", {CJK_STACK}, sans-serif'
MONO = f'ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, {CJK_STACK}, monospace'


@cache
def cjk_font_face() -> str:
    """@font-face for the embedded subset of Noto Sans CJK SC (scripts/cjk-font builds it)."""
    data = base64.b64encode((FONTS / "cjk-subset.woff2").read_bytes()).decode("ascii")
    return (
        "/* harness CJK subset: Noto Sans CJK SC cut down to the characters of the catalogue."
        " Copyright 2014-2021 Adobe (http://www.adobe.com/), with Reserved Font Name 'Source';"
        " SIL Open Font License 1.1, harness/outputs/report/fonts/OFL.txt. */\n"
        f'@font-face {{ font-family: "{CJK_FAMILY}"; font-style: normal; font-weight: 400;'
        f' src: url(data:font/woff2;base64,{data}) format("woff2");'
        f" unicode-range: {CJK_RANGES}; }}\n"
    )


def cjk_covered() -> frozenset[str]:
    """The CJK characters the embedded font has a glyph for."""
    return frozenset((FONTS / "cjk-subset.txt").read_text(encoding="utf-8").strip())


def page_css(text: str) -> str:
    """The stylesheet for a page showing `text`: the font is embedded only when it shows CJK."""
    return (cjk_font_face() if CJK_CHARACTER.search(text) else "") + CSS


_ARROWS = "\n".join(
    f"svg .msg.{kind} line, svg .msg.{kind} .stub {{ stroke:{colour}; }}"
    f" svg .msg.{kind} polygon, svg .msg.{kind} circle, svg .msg.{kind} .label"
    f" {{ fill:{colour}; }}"
    for kind, colour in PROTO_COLOURS.items()
) + "".join(f"\nsvg .{cls} {{ text-anchor:{anchor}; }}" for cls, anchor in CSS_ANCHORS.items())

CSS = (
    """
:root { --pass:#1a7f37; --fail:#cf222e; --error:#bc4c00; --skip:#6e7781; --refuted:#8250df;
        --changed:#0a6e8a; --line:#d0d7de; --bar:0px; }
* { box-sizing: border-box; }
/* A link's target stops below the sticky filter bar, not under it (--bar: its height,
   kept by the page's script; 0 without the script, which also leaves the bar hidden). */
[id] { scroll-margin-top: calc(var(--bar) + 10px); }
[hidden] { display:none !important; }
body { font: 14px/1.45 """
    + SANS
    + """;
       color:#1f2328; margin:0; background:#f6f8fa; }
main { max-width: 1320px; margin: 0 auto; padding: 20px 28px 60px; }
h1 { font-size: 22px; margin: 0 0 6px; }
h2 { font-size: 18px; margin: 28px 0 10px; }
h3 { font-size: 15px; margin: 18px 0 6px; }
h4 { font-size: 14px; margin: 14px 0 6px; }
code, pre, .mono { font-family: """
    + MONO
    + """;
       font-size: 12.5px; }
pre { background:#fff; border:1px solid var(--line); padding:8px 10px; overflow-x:auto;
      border-radius:6px; }
a { color:#0969da; text-decoration:none; } a:hover { text-decoration:underline; }
.muted { color:#57606a; }
.badge { display:inline-block; padding:1px 8px; border-radius:10px; color:#fff;
         font-size:12px; font-weight:600; letter-spacing:.02em; white-space:nowrap; }
.badge.pass { background:var(--pass); } .badge.fail { background:var(--fail); }
.badge.error { background:var(--error); } .badge.skip { background:var(--skip); }
.badge.refuted { background:var(--refuted); }
.badge.changed { background:var(--changed); }
.badge.other { background:#57606a; }
.counts .badge { font-size:13px; padding:2px 10px; margin-right:6px; }
.kv { white-space:nowrap; margin-right:8px; font-size:12.5px; }
table { border-collapse: collapse; background:#fff; }
th, td { border:1px solid var(--line); padding:4px 8px; text-align:left; vertical-align:top; }
th { background:#eaeef2; font-weight:600; }
table.summary { width:100%; }
table.summary th.kernel, table.summary td.id, table.summary td.v { white-space:nowrap; }
table.summary tr.scenario td { background:#f0f3f6; }
table.counts td.n { text-align:right; }
tr.bad td { background:#ffebe9; }
tr.bad td.mark { color:var(--fail); font-weight:700; }
td.mark { color:var(--pass); text-align:center; }
.filter { position:sticky; top:0; z-index:5; background:#f6f8fa; padding:8px 0 10px;
          border-bottom:1px solid var(--line); display:flex; gap:10px; align-items:center;
          flex-wrap:wrap; }
.filter label { cursor:pointer; }
.filter input[type=search] { flex:1; min-width:220px; max-width:480px; font:inherit;
          padding:4px 8px; border:1px solid var(--line); border-radius:6px; }
.filter input[type=checkbox]:not(:checked) + .badge { opacity:.35; }
ul.notpass li { margin:2px 0; }
section.scenario { margin:26px 0; }
section.scenario > .head { border-bottom:2px solid var(--line); padding-bottom:6px; }
section.scenario > .head h2 { margin:0 0 4px; font-size:17px; }
section.case { background:#fff; border:1px solid var(--line); border-left:6px solid var(--pass);
               border-radius:6px; padding:12px 18px 16px; margin:14px 0;
               content-visibility:auto; contain-intrinsic-size:auto 420px; }
section.case.fail { border-color:var(--fail); border-width:2px 2px 2px 6px; }
section.case.error { border-left-color:var(--error); }
section.case.skip { border-left-color:var(--skip); }
section.case.refuted { border-left-color:var(--refuted); }
section.case.changed { border-left-color:var(--changed); }
section.case h3 { margin-top:2px; }
.kgroup { border-top:1px dashed var(--line); margin-top:10px; padding-top:4px; }
.refuted-note { background:#fbefff; border:1px solid var(--refuted); color:#512a97;
                padding:8px 12px; border-radius:6px; margin:10px 0; }
.changed-note { background:#e6f6fa; border:1px solid var(--changed); color:#064a5c;
                padding:8px 12px; border-radius:6px; margin:10px 0; }
.banner { background:#ffebe9; border:1px solid var(--fail); color:#82071e; padding:8px 12px;
          border-radius:6px; margin:10px 0; }
.banner ul { margin:4px 0 0 0; padding-left:20px; }
dl.facts { display:grid; grid-template-columns: max-content 1fr; gap:3px 14px; margin:8px 0; }
dl.facts dt { color:#57606a; } dl.facts dd { margin:0; }
.figure { overflow-x:auto; background:#fff; border:1px solid var(--line); border-radius:6px;
          padding:6px; margin:6px 0; }
.figure.failing { border:2px solid var(--fail); }
.topobox { display:flex; gap:18px; flex-wrap:wrap; align-items:flex-start; }
.legend span { display:inline-block; margin-right:14px; font-size:12.5px; }
.legend i { display:inline-block; width:18px; height:3px; vertical-align:middle;
            margin-right:5px; }
ul.pcaps { columns: 3; margin:4px 0; } ul.pcaps li { font-size:13px; }
.pcapline { font-size:13px; } .pcapline a { margin-right:10px; }
details { margin:8px 0; } summary { cursor:pointer; color:#0969da; }
svg text { font-family: """
    + MONO
    + """;
           font-size:11px; }
svg .label { paint-order:stroke; stroke:#fff; stroke-width:4px; stroke-linejoin:round; }
svg .msg line { stroke-width:1.6; } svg .msg line.lost { stroke-dasharray:4 3; }
svg g.msg circle.stub { fill:#fff; }  /* (beats the colour rules below) */
svg .time { fill:#57606a; font-size:10.5px; }
svg .life { stroke:#8c959f; stroke-dasharray:5 4; }
svg .lifelan { stroke:#b7bec6; stroke-dasharray:2 4; }
svg .head { fill:#eaeef2; stroke:#57606a; }
svg .headlan { fill:#f6f8fa; stroke:#8c959f; stroke-dasharray:3 2; }
svg .headtext { font-size:12px; font-weight:600; fill:#1f2328; }
svg .sysok { fill:#dafbe1; stroke:var(--pass); }
svg .syserr { fill:#fff8c5; stroke:#9a6700; }
svg .sysbad { fill:#ffebe9; stroke:var(--fail); stroke-width:2; }
svg .recv { fill:#ddf4ff; stroke:#0969da; }
svg .recvbad { fill:#ffebe9; stroke:var(--fail); stroke-width:2; }
svg .missing { fill:#fff; stroke:var(--fail); stroke-width:2; stroke-dasharray:5 3; }
svg .boxtext { fill:#1f2328; }
svg .note { fill:#57606a; font-style:italic; }
svg .hostbox { fill:#eaeef2; stroke:#57606a; }
svg .hostname { font-size:13px; font-weight:700; fill:#1f2328; }
svg .ifline { fill:#1f2328; }
svg .ifname { fill:#57606a; font-size:10.5px; }
svg .drop { stroke:#57606a; stroke-width:1.5; }
svg .joint { fill:#57606a; }
svg .lanbar { fill:#8c959f; }
svg .veth { stroke:#1f2328; stroke-width:2.5; }
svg .levellabel { fill:#57606a; }
"""
    + _ARROWS
    + "\n"
)
