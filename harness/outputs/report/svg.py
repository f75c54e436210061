"""SVG drawings of a case: its topology, and a sequence diagram of every frame.

Both read the typed record: the topology is the scenario's own model, the
frames the observation's trace.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

from harness.case.record import CaseRecord
from harness.core.display import block
from harness.core.evidence import ArpRecord, FrameRecord, Receipt
from harness.scenario import Topology

MAX_ARROWS = 60
PROTO_COLOURS = {
    "arp": "#1f6feb",
    "udp": "#1a7f37",
    "icmp": "#bc4c00",
    "tcp": "#8250df",
    "other": "#57606a",
}
LEGEND = {"arp": "ARP / NDP", "icmp": "ICMP / ICMPv6"}
# Text classes the page's stylesheet anchors (an arrow's label, the time of a frame).
CSS_ANCHORS = {"label": "middle", "time": "end"}


def escape(text: object) -> str:
    """Text safe inside HTML and SVG, attributes included; control characters shown as
    escapes (display.block: a NUL, ESC or bidi override from a record is not markup either)."""
    return html.escape(block(str(text)), quote=True)


def text_width(text: str, size: float = 11.0) -> float:
    """Width of monospace text at `size` px (about 0.6 em per character)."""
    return len(text) * size * 0.6


def num(value: float) -> str:
    """A coordinate in as few characters as it needs: 12, 12.5 (tenths are enough on screen)."""
    return f"{value:.1f}".removesuffix(".0")


def svg_text(x: float, y: float, text: str, *, cls: str = "", anchor: str = "start") -> str:
    """One <text> element (the page's CSS aligns the classes in CSS_ANCHORS: fewer bytes)."""
    attrs = f' class="{cls}"' if cls else ""
    align = "" if CSS_ANCHORS.get(cls, "start") == anchor else f' text-anchor="{anchor}"'
    return f'<text x="{num(x)}" y="{num(y)}"{align}{attrs}>{escape(text)}</text>'


def colour_of(record: FrameRecord) -> str:
    """The protocol class a frame is drawn in."""
    if isinstance(record, ArpRecord):
        return "arp"
    proto = "icmp" if record.proto == "icmp6" else record.proto
    return proto if proto in PROTO_COLOURS else "other"


def peers(topology: Topology) -> dict[tuple[str, str], tuple[str, str]]:
    """(namespace, interface) -> the (namespace, interface) at the other end of its wire."""
    ends = topology.lan_ports()
    for a, b in topology.veth_pairs():
        ends[a], ends[b] = b, a
    return ends


# ---------------------------------------------------------------- sequence diagram


@dataclass(frozen=True)
class Arrow:
    """A frame leaving a namespace, and where the same frame arrived (None: nowhere seen)."""

    src: FrameRecord
    dst: FrameRecord | None


def arrows(trace: Sequence[FrameRecord], topology: Topology) -> list[Arrow]:
    """One arrow per frame leaving a namespace, to where the same frame arrives.

    The receiver is the other end of the sending interface when the topology
    says which it is (the bridge port of a LAN, or the veth peer), else the
    nearest later arrival of the same frame in another namespace.  A frame that
    a LAN namespace sends on its own bridge device never leaves the namespace.
    """
    ends = peers(topology)
    lans = topology.lans()
    arrivals = [e for e in trace if e.direction == "in"]
    used: set[int] = set()
    found: list[Arrow] = []

    def first(src: FrameRecord, at: tuple[str, str] | None) -> int | None:
        """The earliest unused arrival of `src`'s frame (at interface `at` when given)."""
        best: int | None = None
        for n, e in enumerate(arrivals):
            if n in used or str(e) != str(src) or e.host == src.host:
                continue
            if e.t_ms < src.t_ms - 0.001 or (at is not None and (e.host, e.ifname) != at):
                continue
            if best is None or e.t_ms < arrivals[best].t_ms:
                best = n
        return best

    for src in trace:
        if src.direction != "out":
            continue
        if src.host in lans and (src.host, src.ifname) not in ends:
            continue
        peer = ends.get((src.host, src.ifname))
        n = first(src, peer) if peer is not None else None
        if n is None:
            n = first(src, None)
        if n is not None:
            used.add(n)
        found.append(Arrow(src, None if n is None else arrivals[n]))
    return found


def lifelines(trace: Sequence[FrameRecord], topology: Topology, prober: str) -> list[str]:
    """Namespaces left to right: hosts in topology order, each LAN amid the hosts on it."""
    seen = list(dict.fromkeys(e.host for e in trace))
    wanted = set(seen) | ({prober} if prober else set())
    order = [h for h in topology.hosts if h in wanted]
    for lan, ports in topology.lans().items():
        if lan not in wanted:
            continue
        members = sorted({order.index(host) for host, _ in ports if host in order})
        if not members:
            order.append(lan)
            continue
        # after the middle member: half the hosts on the LAN left of it, half right
        order.insert(members[(len(members) - 1) // 2] + 1, lan)
    rest = [ns for ns in [prober, *seen] if ns and ns not in order]
    return order + list(dict.fromkeys(rest))


def receipt_text(receipt: Receipt) -> str:
    """What reached a socket, in words that fit its protocol."""
    on = f" on {receipt.ifname}" if receipt.ifname else ""  # TCP and ping do not say
    if receipt.proto == "tcp":
        to = f" to {receipt.dst}" if receipt.dst else ""
        return f"{receipt.host}: accepted a connection from {receipt.src}:{receipt.sport}{to}{on}"
    if receipt.proto == "icmp":  # the replier's echo reply, read by the prober's socket
        prober = f" reached {receipt.dst}'s socket" if receipt.dst else ""
        return f"{receipt.host}: echo reply from {receipt.src}{prober}"
    port = f":{receipt.sport}" if receipt.sport else ""
    return f"{receipt.host}: socket got {receipt.payload_size} bytes from {receipt.src}{port}{on}"


def receipt_rows(rec: CaseRecord) -> list[tuple[str, str, str]]:
    """(host, text, css class) for each datagram a listener got and, when the
    `received` field differs, for each expected receiver that got nothing."""
    obs = rec.observed
    if obs is None:
        return []
    bad_acts = {row.act for row in rec.differing if row.field == "received"}
    rows = []
    for r in obs.received:
        expected = rec.acts[r.act].expect.value("received") if r.act < len(rec.acts) else None
        unexpected = r.act in bad_acts and not any(p.host == r.host for p in expected or [])
        rows.append(
            (
                r.host,
                receipt_text(r) + ("  (not expected)" if unexpected else ""),
                "recvbad" if unexpected else "recv",
            )
        )
    for act in sorted(bad_acts):
        got = {r.host for r in obs.received_during(act)}
        for pattern in rec.acts[act].expect.value("received") or []:
            if pattern.host not in got:
                want = f" from {pattern.src}" if pattern.src else ""
                rows.append(
                    (
                        pattern.host,
                        f"{pattern.host}: expected a datagram{want}, got none",
                        "missing",
                    )
                )
    return rows


# Rows of the sequence diagram, in px.  An arrow's label sits on its own row,
# above its arrow: baseline LABEL_RISE above the line, so the descenders (about
# 0.24 em) and the label's white halo (2 px) stay clear of the line, and the
# ascenders (about 0.76 em) stay clear of the row above.
COLUMN, GUTTER, HEAD_H, ROW_H, BOX_ROW_H, FONT = 190.0, 86.0, 44.0, 28.0, 30.0, 11.0
LABEL_RISE = 6.0


def sequence_svg(rec: CaseRecord, max_arrows: int = MAX_ARROWS) -> str:
    """The case's frames as an SVG sequence diagram: one lifeline per namespace."""
    obs = rec.observed
    trace = obs.trace() if obs else []
    drawn = arrows(trace, rec.topology)
    shown, left_out = drawn[:max_arrows], max(0, len(drawn) - max_arrows)
    prober = next((a.probe.host for a in rec.acts if a.probe is not None), "")
    lines = lifelines(trace, rec.topology, prober)
    if not lines:
        return '<p class="muted">(no namespace to draw)</p>'

    xs = {ns: GUTTER + COLUMN / 2 + i * COLUMN for i, ns in enumerate(lines)}
    errno_bad = any(row.field == "errno" for row in rec.differing)
    outcomes = [a.outcome for a in obs.acts] if obs else []
    syscalls = []
    for n, outcome in enumerate(outcomes):
        probe = rec.acts[n].probe if n < len(rec.acts) else None
        what = probe.describe().partition(": ")[2] if probe else "no probe"
        answer = f"{outcome.errno} ({outcome.message})" if outcome.message else outcome.errno
        syscalls.append((f"{what} -> " if len(outcomes) == 1 else f"probe {n + 1} -> ") + answer)
    receipts = receipt_rows(rec)
    texts = [*(str(a.src) for a in shown), *syscalls, *(t for _, t, _ in receipts)]
    widest = max([text_width(t, FONT) + 16 for t in texts] + [0.0])
    width = max(GUTTER + COLUMN * len(lines) + 20, widest + GUTTER + 40)

    body: list[str] = []
    y = HEAD_H + 16

    # Act n's syscall box comes before the first frame of its window (frames carry
    # the index of the act that was under way); the first probe is t = 0.
    rows: list[Arrow | int] = []  # int: the syscall box of that act
    boxes = iter(range(len(outcomes)))
    pending = next(boxes, None)
    for arrow in shown:
        while (
            pending is not None
            and arrow.src.act >= pending
            and (pending > 0 or arrow.src.t_ms >= 0)
        ):
            rows.append(pending)
            pending = next(boxes, None)
        rows.append(arrow)
    while pending is not None:
        rows.append(pending)
        pending = next(boxes, None)

    def box(x: float, y0: float, text: str, cls: str) -> str:
        w = text_width(text, FONT) + 16
        left = min(max(x - w / 2, GUTTER), width - w - 4)
        return (
            f'<rect x="{num(left)}" y="{num(y0)}" width="{num(w)}" height="22" rx="4" '
            f'class="{cls}"/>' + svg_text(left + 8, y0 + 15, text, cls="boxtext")
        )

    for item in rows:
        if isinstance(item, int):
            errno = outcomes[item].errno
            cls = "sysbad" if errno_bad else ("sysok" if errno == "ok" else "syserr")
            body.append(box(xs.get(prober, xs[lines[0]]), y, syscalls[item], cls))
            stamp = "t = 0" if item == 0 else f"probe {item + 1}"
            body.append(svg_text(GUTTER - 8, y + 15, stamp, cls="time", anchor="end"))
            y += BOX_ROW_H
            continue
        body.append(_arrow_svg(item, xs, lines, width, y))
        y += ROW_H

    for host, text, cls in receipts:
        body.append(box(xs.get(host, xs[lines[0]]), y, text, cls))
        y += BOX_ROW_H
    if left_out:
        body.append(
            svg_text(
                GUTTER,
                y + 14,
                f"... {left_out} more frame(s) not drawn (first {max_arrows} shown); "
                "every frame is in the trace below and in the pcaps",
                cls="note",
            )
        )
        y += 24
    if not shown:
        body.append(svg_text(GUTTER, y + 14, "no frame on any interface", cls="note"))
        y += 24

    height = y + 12
    lans = rec.topology.lans()
    head: list[str] = []
    for ns in lines:
        x = xs[ns]
        is_lan = ns in lans
        name = f"{ns} (bridge)" if is_lan else ns
        w = max(text_width(name, 12) + 18, 70)
        head.append(
            f'<line x1="{num(x)}" y1="{num(HEAD_H - 8)}" x2="{num(x)}" y2="{num(height - 6)}" '
            f'class="{"lifelan" if is_lan else "life"}"/>'
            f'<rect x="{num(x - w / 2)}" y="8" width="{num(w)}" height="26" rx="4" '
            f'class="{"headlan" if is_lan else "head"}"/>'
            + svg_text(x, 25, name, cls="headtext", anchor="middle")
        )
    return (
        f'<svg class="seq" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" role="img" '
        f'aria-label="sequence diagram of {escape(rec.key)}">' + "".join(head + body) + "</svg>"
    )


def _arrow_svg(arrow: Arrow, xs: dict[str, float], lines: list[str], width: float, y: float) -> str:
    """One frame: its arrow, the label above it, its time in the gutter, and a hover text
    with the interfaces and the arrival (colours come from the page's CSS, per class)."""
    src = arrow.src
    x1 = xs.get(src.host, xs[lines[0]])
    if arrow.dst is not None:
        x2 = xs.get(arrow.dst.host, x1)
        where = f"{src.host}/{src.ifname} -> {arrow.dst.host}/{arrow.dst.ifname}"
        arrived = f"in at {arrow.dst.t_ms:.3f} ms"
    else:
        step = 46.0 if x1 + 60 < width - 10 else -46.0
        x2 = x1 + step
        where = f"{src.host}/{src.ifname} -> (not seen arriving anywhere)"
        arrived = "no matching arrival captured"
    sign = 1.0 if x2 >= x1 else -1.0
    yl = y + 16
    label = str(src)
    label_w = text_width(label, FONT)
    lx = min(max((x1 + x2) / 2, GUTTER + label_w / 2 + 2), width - label_w / 2 - 4)
    tip = f"{src.t_ms:.3f} ms  {where}  ({arrived})"
    end = x2 - sign * (6 if arrow.dst is not None else 3.5)
    parts = [
        f'<g class="msg {colour_of(src)}"><title>{escape(tip)}</title>',
        f'<line x1="{num(x1)}" y1="{num(yl)}" x2="{num(end)}" y2="{num(yl)}"'
        + (' class="lost"' if arrow.dst is None else "")
        + "/>",
    ]
    if arrow.dst is not None:
        back = x2 - sign * 8
        parts.append(
            f'<polygon points="{num(x2)},{num(yl)} {num(back)},{num(yl - 4)} '
            f'{num(back)},{num(yl + 4)}"/>'
        )
    else:
        parts.append(f'<circle cx="{num(x2)}" cy="{num(yl)}" r="3.5" class="stub"/>')
    parts.append(f'<circle cx="{num(x1)}" cy="{num(yl)}" r="2.2"/>')
    parts.append(svg_text(lx, yl - LABEL_RISE, label, cls="label", anchor="middle"))
    parts.append(svg_text(GUTTER - 8, yl + 4, f"{src.t_ms:.3f} ms", cls="time", anchor="end"))
    parts.append("</g>")
    return "".join(parts)


# ---------------------------------------------------------------- topology diagram


def topology_svg(topology: Topology, name: str = "") -> str:
    """A topology's hosts as boxes, LANs as bars and veth links as lines, in SVG."""
    if not topology.hosts:
        return '<p class="muted">(no topology recorded)</p>'
    top = 10.0
    hosts = list(topology.hosts)
    # one line per address: "eth0 192.0.2.1/24", further addresses indented under the first
    box_lines = {
        h: [
            (0, f"{name} {a}".strip()) if n == 0 else (len(name) + 1, a)
            for name, iface in topology.hosts[h].interfaces.items()
            for n, a in enumerate([str(x) for x in iface.addresses] or [""])
        ]
        for h in hosts
    }
    box_h = 30 + 14 * max([len(v) for v in box_lines.values()] + [0])
    # wide enough for its lines, and for each interface name beside its drop line
    # (one drop per interface, spread evenly under the box)
    box_w = max(
        [184.0]
        + [text_width(" " * i + t) + 16 for v in box_lines.values() for i, t in v]
        + [text_width(h, 13) + 16 for h in hosts]
        + [
            (len(topology.hosts[h].interfaces) + 1)
            * (max(text_width(i, 10.5) for i in topology.hosts[h].interfaces) + 10)
            for h in hosts
            if topology.hosts[h].interfaces
        ]
    )
    col = box_w + 26
    levels: list[tuple[str, list[tuple[str, str]], str]] = [
        (f"{lan} (bridge)", ports, "lan") for lan, ports in topology.lans().items()
    ] + [("veth", [a, b], "veth") for a, b in topology.veth_pairs()]
    # level labels go in a gutter on the left, level with their bar or line
    gutter = max([text_width(label) + 20 for label, _, _ in levels] + [20.0])
    bottom = top + box_h
    attach: dict[tuple[str, str], float] = {}
    out: list[str] = []
    for k, h in enumerate(hosts):
        left = gutter + k * col
        names = list(topology.hosts[h].interfaces)
        out.append(
            f'<rect x="{num(left)}" y="{num(top)}" width="{num(box_w)}" height="{num(box_h)}" '
            f'rx="5" class="hostbox"/>' + svg_text(left + 8, top + 17, h, cls="hostname")
        )
        for n, (indent, line) in enumerate(box_lines[h]):
            x = left + 8 + text_width(" " * indent)
            out.append(svg_text(x, top + 33 + 14 * n, line, cls="ifline"))
        for j, name in enumerate(names):
            attach[(h, name)] = left + (j + 1) * box_w / (len(names) + 1)

    # Shortest links nearest the boxes: a long line then runs below the drops of the
    # hosts it passes instead of crossing them (for links that do not overlap at all).
    def span(level: tuple[str, list[tuple[str, str]], str]) -> float:
        xs = [attach[e] for e in level[1] if e in attach]
        return max(xs) - min(xs) if xs else 0.0

    levels.sort(key=span)
    y = bottom + 34
    width = gutter + col * len(hosts)
    for label, ends, kind in levels:
        xs = [attach[e] for e in ends if e in attach]
        if not xs:
            continue
        lo, hi = min(xs), max(xs)
        for end in ends:
            if end not in attach:
                continue
            x = attach[end]
            out.append(
                f'<line x1="{num(x)}" y1="{num(bottom)}" x2="{num(x)}" y2="{num(y)}" class="drop"/>'
                f'<circle cx="{num(x)}" cy="{num(y)}" r="3" class="joint"/>'
                + svg_text(x + 4, bottom + 12, end[1], cls="ifname")
            )
        if kind == "lan":
            out.append(
                f'<rect x="{num(lo - 14)}" y="{num(y - 4)}" width="{num(hi - lo + 28)}" height="8" '
                f'rx="3" class="lanbar"/>'
            )
        else:
            out.append(
                f'<line x1="{num(lo)}" y1="{num(y)}" x2="{num(hi)}" y2="{num(y)}" class="veth"/>'
            )
        out.append(svg_text(gutter - 10, y + 4, label, cls="levellabel", anchor="end"))
        y += 26
    height = y + 4
    return (
        f'<svg class="topo" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" role="img" '
        f'aria-label="topology {escape(name or topology.name)}">' + "".join(out) + "</svg>"
    )
