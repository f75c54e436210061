"""Report: a run folder as one self-contained HTML page, and one case as plain text.

This stage only reads what the run wrote (results.json, or records/ while a run
is still being gathered, and the pcaps); it never touches a namespace.  Every
record is read as a plain dict with defaults, so records written by older or
newer harness versions (missing or extra keys) still render.
"""

from __future__ import annotations

import html
import json
import os
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from harness.results import CaseRecord

REPORT_NAME = "report.html"
MAX_ARROWS = 60
# refuted: the article's claim does not hold here, and the kernel did exactly what the
# case records instead (a finding, not a harness failure).
VERDICTS = ("pass", "refuted", "fail", "error", "skip")

# Keys a record is known to carry; anything else is shown as "other recorded fields".
_KNOWN_KEYS = {
    "scenario",
    "case",
    "title",
    "claim",
    "article",
    "section",
    "kernel",
    "verdict",
    "expected",
    "observed",
    "comparison",
    "probe",
    "changes",
    "notes",
    "settled",
    "message",
    "duration_s",
    "pcaps",
    "topology",
    "refuted",
    "kernel_does",
    "article_comparison",
}
_KNOWN_OBSERVED = {"errno", "errno_message", "arp", "packets", "received"}


PROTO_COLOURS = {
    "arp": "#1f6feb",
    "udp": "#1a7f37",
    "icmp": "#bc4c00",
    "tcp": "#8250df",
    "other": "#57606a",
}


# ---------------------------------------------------------------- reading


def load_records(run_dir: Path) -> list[dict[str, Any]]:
    """The run's records as plain dicts: results.json, else records/*/*.json."""
    path = run_dir / "results.json"
    if path.is_file():
        data = json.loads(path.read_text())
        items = data if isinstance(data, list) else []
    else:
        items = [json.loads(p.read_text()) for p in sorted(run_dir.glob("records/*/*.json"))]
    records = [item for item in items if isinstance(item, dict)]
    records.sort(key=_record_order)
    return records


def _record_order(record: Mapping[str, Any]) -> tuple[str, str, str]:
    return _s(record.get("scenario")), _s(record.get("case")), _s(record.get("kernel"))


def _s(value: Any, default: str = "") -> str:
    return default if value is None else str(value)


def _list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else []


def _dict(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, Mapping) else {}


def _float(value: Any, default: float = 0.0) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def _as_dict(record: CaseRecord | Mapping[str, Any]) -> dict[str, Any]:
    return record.to_json() if isinstance(record, CaseRecord) else dict(record)


def _key(rec: Mapping[str, Any]) -> str:
    return f"{_s(rec.get('scenario'), '?')}/{_s(rec.get('case'), '?')}"


def _probe_host(rec: Mapping[str, Any]) -> str:
    """The host named in front of the probe line ("sender: udp sendto ...")."""
    host, sep, _ = _s(rec.get("probe")).partition(":")
    return host.strip() if sep and re.fullmatch(r"[\w.-]+", host.strip()) else ""


def _outcomes(rec: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(errno, message) of each probe's syscall; observed.errno is a list when a case
    has several probes, a string when it has one."""
    obs = _dict(rec.get("observed"))
    if not obs:
        return []
    errnos, messages = obs.get("errno"), obs.get("errno_message")
    if isinstance(errnos, list):
        texts = messages if isinstance(messages, list) else []
        return [(_s(e, "?"), _s(texts[n]) if n < len(texts) else "") for n, e in enumerate(errnos)]
    return [(_s(errnos, "?"), _s(messages))]


def _outcome(rec: Mapping[str, Any]) -> str:
    """The syscall outcome(s) in one line: `ok (sendto: 64 bytes accepted)`."""
    outcomes = _outcomes(rec)
    if not outcomes:
        return "(nothing observed)"
    texts = [f"{e} ({m})" if m else e for e, m in outcomes]
    if len(texts) == 1:
        return texts[0]
    return "; ".join(f"probe {n + 1}: {t}" for n, t in enumerate(texts))


def _differing(rec: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [_dict(row) for row in _list(rec.get("comparison")) if not _dict(row).get("ok", True)]


# ---------------------------------------------------------------- topology model


@dataclass(frozen=True)
class _Iface:
    host: str
    name: str
    lan: str | None
    link: str | None
    addresses: list[str]
    kind: str | None = None  # tun, tap, macvlan, ... when neither lan nor link
    parent: str | None = None

    @property
    def medium(self) -> str:
        """`lan X`, `link HOST.IF`, or the kind (with its lower interface)."""
        if self.lan:
            return f"lan {self.lan}"
        if self.link:
            return f"link {self.link}"
        return (self.kind or "?") + (f" on {self.parent}" if self.parent else "")


@dataclass
class _Topo:
    hosts: dict[str, list[_Iface]] = field(default_factory=dict)
    routes: dict[str, list[str]] = field(default_factory=dict)
    sysctls: dict[str, dict[str, Any]] = field(default_factory=dict)
    lans: dict[str, list[_Iface]] = field(default_factory=dict)
    peers: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)

    def veth_pairs(self) -> list[tuple[_Iface, _Iface]]:
        """Each point-to-point link once."""
        pairs: list[tuple[_Iface, _Iface]] = []
        for ifaces in self.hosts.values():
            for iface in ifaces:
                if iface.link is None:
                    continue
                peer_host, _, peer_if = iface.link.partition(".")
                other = next((i for i in self.hosts.get(peer_host, []) if i.name == peer_if), None)
                if other is not None and (iface.host, iface.name) < (peer_host, peer_if):
                    pairs.append((iface, other))
        return pairs


def _topology(rec: Mapping[str, Any]) -> _Topo:
    """Hosts, LANs and which interface faces which, from record["topology"]."""
    topo = _Topo()
    for host, spec in _dict(_dict(rec.get("topology")).get("hosts")).items():
        spec = _dict(spec)
        ifaces = []
        for name, ispec in _dict(spec.get("interfaces")).items():
            ispec = _dict(ispec)
            lan, link = ispec.get("lan"), ispec.get("link")
            ifaces.append(
                _Iface(
                    str(host),
                    str(name),
                    None if lan is None else str(lan),
                    None if link is None else str(link),
                    [str(a) for a in _list(ispec.get("addresses"))],
                    None if ispec.get("kind") is None else str(ispec.get("kind")),
                    None if ispec.get("parent") is None else str(ispec.get("parent")),
                )
            )
        topo.hosts[str(host)] = ifaces
        topo.routes[str(host)] = [str(r) for r in _list(spec.get("routes"))]
        topo.sysctls[str(host)] = _dict(spec.get("sysctls"))
    for ifaces in topo.hosts.values():
        for iface in ifaces:
            if iface.lan is not None:
                topo.lans.setdefault(iface.lan, []).append(iface)
            elif iface.link is not None:
                peer_host, _, peer_if = iface.link.partition(".")
                topo.peers[(iface.host, iface.name)] = (peer_host, peer_if)
    for lan, ports in topo.lans.items():
        for n, iface in enumerate(ports):
            # Port names as harness/topology.py makes them (IFNAMSIZ: 15 characters).
            port = f"{iface.host}-{iface.name}"
            port = port if len(port) <= 15 else f"port{n}"
            topo.peers[(iface.host, iface.name)] = (lan, port)
            topo.peers[(lan, port)] = (iface.host, iface.name)
    return topo


# ---------------------------------------------------------------- frames and arrows


@dataclass(frozen=True)
class _Event:
    t_ms: float
    ns: str
    ifname: str
    direction: str
    kind: str
    text: str
    probe: int = 0


@dataclass(frozen=True)
class _Arrow:
    src: _Event
    dst: _Event | None


def _arp_text(arp: Mapping[str, Any]) -> str:
    """ARP (or IPv6 neighbour discovery) as tcpdump says it."""
    ndp = arp.get("protocol") == "ndp"
    kind = "NDP" if ndp else "ARP"
    if arp.get("op") == "who-has":
        return f"{kind} who-has {_s(arp.get('target'))} tell {_s(arp.get('sender'))}"
    if arp.get("op") == "is-at":
        # an ARP reply's sender is the resolved address; a neighbour advertisement's target is
        owner = arp.get("target") if ndp else arp.get("sender")
        return f"{kind} {_s(owner)} is-at {_s(arp.get('sender_mac'))}"
    return f"{kind} op {_s(arp.get('op'))} {_s(arp.get('sender'))} > {_s(arp.get('target'))}"


def _probe_index(item: Mapping[str, Any]) -> int:
    try:
        return int(item.get("probe") or 0)
    except (TypeError, ValueError):
        return 0


_KINDS = {"icmp6": "icmp", "ipv6-icmp": "icmp"}


def _events(rec: Mapping[str, Any]) -> list[_Event]:
    """Every captured frame of the case (ARP and others), in time order."""
    obs = _dict(rec.get("observed"))
    events: list[_Event] = []
    for a in _list(obs.get("arp")):
        a = _dict(a)
        events.append(
            _Event(
                _float(a.get("t_ms")),
                _s(a.get("host"), "?"),
                _s(a.get("ifname"), "?"),
                _s(a.get("direction")),
                "arp",
                _arp_text(a),
                _probe_index(a),
            )
        )
    for p in _list(obs.get("packets")):
        p = _dict(p)
        proto = _s(p.get("proto")).lower()
        proto = _KINDS.get(proto, proto)
        text = _s(p.get("summary")) or f"{proto} {_s(p.get('src'))} > {_s(p.get('dst'))}"
        events.append(
            _Event(
                _float(p.get("t_ms")),
                _s(p.get("host"), "?"),
                _s(p.get("ifname"), "?"),
                _s(p.get("direction")),
                proto if proto in PROTO_COLOURS else "other",
                text,
                _probe_index(p),
            )
        )
    events.sort(key=lambda e: e.t_ms)
    return events


def _arrows(events: Sequence[_Event], topo: _Topo) -> list[_Arrow]:
    """One arrow per frame leaving a namespace, to where the same frame arrives.

    The receiver is the other end of the sending interface when the topology
    says which it is (the bridge port of a LAN, or the veth peer), else the
    nearest later arrival of the same frame in another namespace.  A frame that
    a LAN namespace sends on its own bridge device never leaves the namespace.
    """
    arrivals = [e for e in events if e.direction == "in"]
    used: set[int] = set()
    arrows: list[_Arrow] = []

    def first(src: _Event, at: tuple[str, str] | None) -> int | None:
        """The earliest unused arrival of `src`'s frame (at interface `at` when given)."""
        best: int | None = None
        for n, e in enumerate(arrivals):
            if n in used or e.text != src.text or e.ns == src.ns or e.t_ms < src.t_ms - 0.001:
                continue
            if at is not None and (e.ns, e.ifname) != at:
                continue
            if best is None or e.t_ms < arrivals[best].t_ms:
                best = n
        return best

    for src in events:
        if src.direction != "out":
            continue
        if src.ns in topo.lans and (src.ns, src.ifname) not in topo.peers:
            continue
        peer = topo.peers.get((src.ns, src.ifname))
        n = first(src, peer) if peer is not None else None
        if n is None:
            n = first(src, None)
        if n is not None:
            used.add(n)
        arrows.append(_Arrow(src, None if n is None else arrivals[n]))
    return arrows


def _lifelines(rec: Mapping[str, Any], events: Sequence[_Event], topo: _Topo) -> list[str]:
    """Namespaces left to right: hosts in topology order, each LAN amid the hosts on it."""
    seen = list(dict.fromkeys(e.ns for e in events))
    probe_host = _probe_host(rec)
    wanted = set(seen) | ({probe_host} if probe_host else set())
    order = [h for h in topo.hosts if h in wanted]
    for lan, ports in topo.lans.items():
        if lan not in wanted:
            continue
        members = [order.index(p.host) for p in ports if p.host in order]
        members = sorted(set(members))
        if not members:
            order.append(lan)
            continue
        # after the middle member: half the hosts on the LAN left of it, half right
        order.insert(members[(len(members) - 1) // 2] + 1, lan)
    rest = [ns for ns in [probe_host, *seen] if ns and ns not in order]
    return order + list(dict.fromkeys(rest))


# ---------------------------------------------------------------- SVG helpers


def _e(text: Any) -> str:
    return html.escape(_s(text), quote=True)


def _text_width(text: str, size: float = 11.0) -> float:
    """Width of monospace text at `size` px (about 0.6 em per character)."""
    return len(text) * size * 0.6


def _svg_text(
    x: float,
    y: float,
    text: str,
    *,
    cls: str = "",
    anchor: str = "start",
    fill: str | None = None,
) -> str:
    attrs = f' class="{cls}"' if cls else ""
    colour = f' fill="{fill}"' if fill else ""
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{attrs}{colour}>{_e(text)}</text>'


# ---------------------------------------------------------------- sequence diagram


def _receipt_rows(rec: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(host, text, css class) for each datagram a listener got and, when the
    "received" field differs, for each expected receiver that got nothing."""
    obs = _dict(rec.get("observed"))
    receipts = [_dict(r) for r in _list(obs.get("received"))]
    bad = any(_s(r.get("field")).startswith("datagram received") for r in _differing(rec))
    expected: dict[str, str] = {}
    for item in _list(_dict(rec.get("expected")).get("received")):
        if isinstance(item, Mapping):
            expected[_s(item.get("host"), "?")] = _s(item.get("src"))
        else:  # "HOST [from SRC]", the scenario file's short form
            host, _, src = _s(item).partition(" from ")
            expected[host.strip()] = src.strip()
    rows = []
    for r in receipts:
        host = _s(r.get("host"), "?")
        text = (
            f"{host}: socket got {_s(r.get('payload_size'), '?')} bytes from "
            f"{_s(r.get('src'), '?')}:{_s(r.get('sport'), '?')} on {_s(r.get('ifname'), '?')}"
        )
        unexpected = bad and host not in expected
        rows.append(
            (
                host,
                text + ("  (not expected)" if unexpected else ""),
                "recvbad" if unexpected else "recv",
            )
        )
    if bad:
        got = {_s(r.get("host")) for r in receipts}
        for host, src in expected.items():
            if host not in got:
                want = f" from {src}" if src else ""
                rows.append((host, f"{host}: expected a datagram{want}, got none", "missing"))
    return rows


def sequence_svg(record: CaseRecord | Mapping[str, Any], max_arrows: int = MAX_ARROWS) -> str:
    """The case's frames as an SVG sequence diagram: one lifeline per namespace."""
    rec = _as_dict(record)
    topo = _topology(rec)
    events = _events(rec)
    arrows = _arrows(events, topo)
    shown, left_out = arrows[:max_arrows], max(0, len(arrows) - max_arrows)
    lines = _lifelines(rec, events, topo)
    if not lines:
        return '<p class="muted">(no namespace to draw)</p>'

    col, gutter, head_h, row_h = 190.0, 86.0, 44.0, 26.0
    xs = {ns: gutter + col / 2 + i * col for i, ns in enumerate(lines)}
    labels = [a.src.text for a in shown]
    probe_host = _probe_host(rec) or lines[0]
    errno_bad = any(_s(r.get("field")).startswith("errno") for r in _differing(rec))
    outcomes = _outcomes(rec)
    what = _s(rec.get("probe")).partition(":")[2].strip() or "probe"
    syscalls = [
        (f"{what} -> " if len(outcomes) == 1 else f"probe {n + 1} -> ")
        + (f"{errno} ({message})" if message else errno)
        for n, (errno, message) in enumerate(outcomes)
    ]
    receipt_rows = _receipt_rows(rec)
    texts = [*labels, *syscalls, *(t for _, t, _ in receipt_rows)]
    widest = max([_text_width(t, 11) + 16 for t in texts] + [0.0])
    width = max(gutter + col * len(lines) + 20, widest + gutter + 40)

    body: list[str] = []
    y = head_h + 16

    # Probe n's syscall box comes before the first frame of its window (frames carry
    # the index of the probe that acted last before them); the first probe is t=0.
    rows: list[_Arrow | int] = []  # int: the syscall box of that probe
    boxes = iter(range(len(outcomes)))
    pending = next(boxes, None)
    for shown_arrow in shown:
        src = shown_arrow.src
        while pending is not None and src.probe >= pending and (pending > 0 or src.t_ms >= 0):
            rows.append(pending)
            pending = next(boxes, None)
        rows.append(shown_arrow)
    while pending is not None:
        rows.append(pending)
        pending = next(boxes, None)

    def box(x: float, y0: float, text: str, cls: str) -> tuple[str, float]:
        w = _text_width(text, 11) + 16
        left = min(max(x - w / 2, gutter), width - w - 4)
        return (
            f'<rect x="{left:.1f}" y="{y0:.1f}" width="{w:.1f}" height="22" rx="4" '
            f'class="{cls}"/>' + _svg_text(left + 8, y0 + 15, text, cls="boxtext")
        ), 30.0

    for arrow in rows:
        if isinstance(arrow, int):
            errno = outcomes[arrow][0]
            cls = "sysbad" if errno_bad else ("sysok" if errno == "ok" else "syserr")
            svg, h = box(xs.get(probe_host, xs[lines[0]]), y, syscalls[arrow], cls)
            body.append(svg)
            stamp = "t = 0" if arrow == 0 else f"probe {arrow + 1}"
            body.append(_svg_text(gutter - 8, y + 15, stamp, cls="time", anchor="end"))
            y += h
            continue
        src = arrow.src
        colour = PROTO_COLOURS[src.kind]
        x1 = xs.get(src.ns, xs[lines[0]])
        if arrow.dst is not None:
            x2 = xs.get(arrow.dst.ns, x1)
            where = f"{src.ns}/{src.ifname} -> {arrow.dst.ns}/{arrow.dst.ifname}"
            arrived = f"in at {arrow.dst.t_ms:.3f} ms"
        else:
            step = 46.0 if x1 + 60 < width - 10 else -46.0
            x2 = x1 + step
            where = f"{src.ns}/{src.ifname} -> (not seen arriving anywhere)"
            arrived = "no matching arrival captured"
        sign = 1.0 if x2 >= x1 else -1.0
        yl = y + 12
        tip = f"{src.t_ms:.3f} ms  {where}  {src.text}  ({arrived})"  # hover text
        label_w = _text_width(src.text, 11)
        lx = min(max((x1 + x2) / 2, gutter + label_w / 2 + 2), width - label_w / 2 - 4)
        parts = [
            f'<g class="msg {src.kind}"><title>{_e(tip)}</title>',
            f'<line x1="{x1:.1f}" y1="{yl:.1f}" x2="{x2 - sign * 6:.1f}" y2="{yl:.1f}" '
            f'stroke="{colour}" stroke-width="1.6"'
            + (' stroke-dasharray="4 3"' if arrow.dst is None else "")
            + "/>",
        ]
        if arrow.dst is not None:
            parts.append(
                f'<polygon points="{x2:.1f},{yl:.1f} {x2 - sign * 8:.1f},{yl - 4:.1f} '
                f'{x2 - sign * 8:.1f},{yl + 4:.1f}" fill="{colour}"/>'
            )
        else:
            parts.append(
                f'<circle cx="{x2:.1f}" cy="{yl:.1f}" r="3.5" fill="white" stroke="{colour}"/>'
            )
        parts.append(f'<circle cx="{x1:.1f}" cy="{yl:.1f}" r="2.2" fill="{colour}"/>')
        parts.append(_svg_text(lx, yl - 4, src.text, cls="label", anchor="middle", fill=colour))
        parts.append(_svg_text(gutter - 8, yl + 4, f"{src.t_ms:.3f} ms", cls="time", anchor="end"))
        parts.append("</g>")
        body.append("".join(parts))
        y += row_h

    for host, text, cls in receipt_rows:
        svg, h = box(xs.get(host, xs[lines[0]]), y, text, cls)
        body.append(svg)
        y += h
    if left_out:
        body.append(
            _svg_text(
                gutter,
                y + 14,
                f"... {left_out} more frame(s) not drawn (first {max_arrows} shown); "
                "every frame is in the trace below and in the pcaps",
                cls="note",
            )
        )
        y += 24
    if not shown:
        body.append(_svg_text(gutter, y + 14, "no frame on any interface", cls="note"))
        y += 24

    height = y + 12
    head: list[str] = []
    for ns in lines:
        x = xs[ns]
        is_lan = ns in topo.lans
        name = f"{ns} (bridge)" if is_lan else ns
        w = max(_text_width(name, 12) + 18, 70)
        head.append(
            f'<line x1="{x:.1f}" y1="{head_h - 8:.1f}" x2="{x:.1f}" y2="{height - 6:.1f}" '
            f'class="{"lifelan" if is_lan else "life"}"/>'
            f'<rect x="{x - w / 2:.1f}" y="8" width="{w:.1f}" height="26" rx="4" '
            f'class="{"headlan" if is_lan else "head"}"/>'
            + _svg_text(x, 25, name, cls="headtext", anchor="middle")
        )
    return (
        f'<svg class="seq" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" role="img" '
        f'aria-label="sequence diagram of {_e(_key(rec))}">' + "".join(head + body) + "</svg>"
    )


# ---------------------------------------------------------------- topology diagram


def topology_svg(record: CaseRecord | Mapping[str, Any]) -> str:
    """The case's hosts as boxes, LANs as bars and veth links as lines, in SVG."""
    rec = _as_dict(record)
    topo = _topology(rec)
    if not topo.hosts:
        return '<p class="muted">(no topology recorded)</p>'
    top = 10.0
    hosts = list(topo.hosts)
    # one line per address: "eth0 192.0.2.1/24", further addresses indented under the first
    box_lines = {
        h: [
            (0, f"{i.name} {a}".strip()) if n == 0 else (len(i.name) + 1, a)
            for i in topo.hosts[h]
            for n, a in enumerate(i.addresses or [""])
        ]
        for h in hosts
    }
    box_h = 30 + 14 * max([len(v) for v in box_lines.values()] + [0])
    box_w = max(
        [184.0]
        + [_text_width(" " * i + t) + 16 for v in box_lines.values() for i, t in v]
        + [_text_width(h, 13) + 16 for h in hosts]
    )
    col = box_w + 26
    levels: list[tuple[str, list[tuple[str, str]], str]] = [
        (f"{lan} (bridge)", [(p.host, p.name) for p in ports], "lan")
        for lan, ports in topo.lans.items()
    ] + [("veth", [(a.host, a.name), (b.host, b.name)], "veth") for a, b in topo.veth_pairs()]
    # level labels go in a gutter on the left, level with their bar or line
    gutter = max([_text_width(label) + 20 for label, _, _ in levels] + [20.0])
    bottom = top + box_h
    attach: dict[tuple[str, str], float] = {}
    out: list[str] = []
    for k, h in enumerate(hosts):
        left = gutter + k * col
        ifaces = topo.hosts[h]
        out.append(
            f'<rect x="{left:.1f}" y="{top:.1f}" width="{box_w:.1f}" height="{box_h:.1f}" '
            f'rx="5" class="hostbox"/>' + _svg_text(left + 8, top + 17, h, cls="hostname")
        )
        for n, (indent, line) in enumerate(box_lines[h]):
            x = left + 8 + _text_width(" " * indent)
            out.append(_svg_text(x, top + 33 + 14 * n, line, cls="ifline"))
        for j, iface in enumerate(ifaces):
            attach[(h, iface.name)] = left + (j + 1) * box_w / (len(ifaces) + 1)

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
                f'<line x1="{x:.1f}" y1="{bottom:.1f}" x2="{x:.1f}" y2="{y:.1f}" class="drop"/>'
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" class="joint"/>'
                + _svg_text(x + 4, bottom + 12, end[1], cls="ifname")
            )
        if kind == "lan":
            out.append(
                f'<rect x="{lo - 14:.1f}" y="{y - 4:.1f}" width="{hi - lo + 28:.1f}" height="8" '
                f'rx="3" class="lanbar"/>'
            )
        else:
            out.append(
                f'<line x1="{lo:.1f}" y1="{y:.1f}" x2="{hi:.1f}" y2="{y:.1f}" class="veth"/>'
            )
        out.append(_svg_text(gutter - 10, y + 4, label, cls="levellabel", anchor="end"))
        y += 26
    height = y + 4
    return (
        f'<svg class="topo" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" role="img" '
        f'aria-label="topology of {_e(_key(rec))}">' + "".join(out) + "</svg>"
    )


# ---------------------------------------------------------------- HTML page

_CSS = """
:root { --pass:#1a7f37; --fail:#cf222e; --error:#bc4c00; --skip:#6e7781; --refuted:#8250df;
        --line:#d0d7de; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans",
       "Noto Sans CJK SC", "Microsoft YaHei", sans-serif;
       color:#1f2328; margin:0; background:#f6f8fa; }
main { max-width: 1320px; margin: 0 auto; padding: 20px 28px 60px; }
h1 { font-size: 22px; margin: 0 0 6px; }
h2 { font-size: 18px; margin: 28px 0 10px; }
h3 { font-size: 15px; margin: 18px 0 6px; }
code, pre, .mono { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace;
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
.badge.other { background:#57606a; }
.counts .badge { font-size:13px; padding:2px 10px; margin-right:6px; }
table { border-collapse: collapse; background:#fff; }
th, td { border:1px solid var(--line); padding:4px 8px; text-align:left; vertical-align:top; }
th { background:#eaeef2; font-weight:600; }
table.summary { width:100%; }
table.summary th.kernel, table.summary td.id { white-space:nowrap; }
table.summary tr.scenario td { background:#f0f3f6; }
table.summary td.claim { font-size:13px; }
tr.bad td { background:#ffebe9; }
tr.bad td.mark { color:var(--fail); font-weight:700; }
td.mark { color:var(--pass); text-align:center; }
section.case { background:#fff; border:1px solid var(--line); border-left:6px solid var(--pass);
               border-radius:6px; padding:12px 18px 16px; margin:18px 0; }
section.case.fail { border-color:var(--fail); border-width:2px 2px 2px 6px; }
section.case.error { border-left-color:var(--error); }
section.case.skip { border-left-color:var(--skip); }
section.case.refuted { border-left-color:var(--refuted); }
.refuted-note { background:#fbefff; border:1px solid var(--refuted); color:#512a97;
                padding:8px 12px; border-radius:6px; margin:10px 0; }
section.case h2 { margin-top:4px; }
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
details { margin:8px 0; } summary { cursor:pointer; color:#0969da; }
svg text { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace;
           font-size:11px; }
svg .label { paint-order:stroke; stroke:#fff; stroke-width:4px; stroke-linejoin:round; }
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


def _badge(verdict: str) -> str:
    cls = verdict if verdict in VERDICTS else "other"
    return f'<span class="badge {cls}">{_e(verdict.upper() or "?")}</span>'


def _anchors(records: Sequence[Mapping[str, Any]], multi_kernel: bool) -> list[str]:
    anchors: list[str] = []
    taken: set[str] = set()
    for rec in records:
        base = f"{_key(rec)}--{_s(rec.get('kernel'))}" if multi_kernel else _key(rec)
        slug = "case-" + re.sub(r"[^A-Za-z0-9_-]+", "-", base).strip("-")
        anchor, n = slug, 2
        while anchor in taken:
            anchor, n = f"{slug}-{n}", n + 1
        taken.add(anchor)
        anchors.append(anchor)
    return anchors


def _source(rec: Mapping[str, Any]) -> str:
    return " ".join(p for p in (_s(rec.get("article")), _s(rec.get("section"))) if p)


def _summary_table(
    records: Sequence[Mapping[str, Any]], anchors: Sequence[str], kernels: Sequence[str]
) -> str:
    by_scenario: dict[str, dict[str, dict[str, tuple[Mapping[str, Any], str]]]] = {}
    for rec, anchor in zip(records, anchors, strict=True):
        cases = by_scenario.setdefault(_s(rec.get("scenario"), "?"), {})
        cases.setdefault(_s(rec.get("case"), "?"), {})[_s(rec.get("kernel"))] = (rec, anchor)
    cols = "".join(f'<th class="kernel">{_e(k or "(kernel?)")}</th>' for k in kernels)
    out = [f'<table class="summary"><tr><th>case</th><th>title</th>{cols}</tr>']
    for scenario, cases in by_scenario.items():
        first = next(iter(next(iter(cases.values())).values()))[0]
        source = _source(first)
        out.append(
            f'<tr class="scenario"><td colspan="{2 + len(kernels)}"><b>{_e(scenario)}</b>'
            f'<div class="claim">{_e(first.get("claim"))}</div>'
            + (f'<div class="muted">source: {_e(source)}</div>' if source else "")
            + "</td></tr>"
        )
        for case, per_kernel in cases.items():
            rec0 = next(iter(per_kernel.values()))[0]
            cells = []
            for kernel in kernels:
                if kernel in per_kernel:
                    rec, anchor = per_kernel[kernel]
                    cells.append(
                        f'<td><a href="#{anchor}">{_badge(_s(rec.get("verdict")))}</a></td>'
                    )
                else:
                    cells.append('<td class="muted">-</td>')
            anchor0 = next(iter(per_kernel.values()))[1]
            out.append(
                f'<tr><td class="mono id"><a href="#{anchor0}">{_e(case)}</a></td>'
                f"<td>{_e(rec0.get('title'))}</td>{''.join(cells)}</tr>"
            )
    out.append("</table>")
    return "".join(out)


def _comparison_table(rec: Mapping[str, Any], key: str = "comparison") -> str:
    rows = [_dict(r) for r in _list(rec.get(key))]
    if not rows:
        return '<p class="muted">(no comparison recorded)</p>'
    out = ['<table class="cmp"><tr><th>field</th><th>expected</th><th>observed</th><th></th></tr>']
    for row in rows:
        ok = bool(row.get("ok", True))
        out.append(
            f'<tr class="{"" if ok else "bad"}"><td>{_e(row.get("field"))}</td>'
            f'<td class="mono">{_e(row.get("expected"))}</td>'
            f'<td class="mono">{_e(row.get("observed"))}</td>'
            f'<td class="mark">{"✓" if ok else "✗ differs"}</td></tr>'
        )
    out.append("</table>")
    return "".join(out)


def _hosts_table(rec: Mapping[str, Any]) -> str:
    topo = _topology(rec)
    if not topo.hosts:
        return ""
    out = ["<table><tr><th>host</th><th>interfaces</th><th>routes</th><th>sysctls</th></tr>"]
    for host, ifaces in topo.hosts.items():
        if_rows = "<br>".join(
            f"{_e(i.name)} → {_e(i.medium)}: {_e(', '.join(i.addresses) or '-')}" for i in ifaces
        )
        routes = "<br>".join(_e(r) for r in topo.routes.get(host, [])) or "-"
        sysctls = (
            "<br>".join(f"{_e(k)}={_e(v)}" for k, v in topo.sysctls.get(host, {}).items()) or "-"
        )
        out.append(
            f'<tr><td><b>{_e(host)}</b></td><td class="mono">{if_rows}</td>'
            f'<td class="mono">{routes}</td><td class="mono">{sysctls}</td></tr>'
        )
    out.append("</table>")
    return "".join(out)


def _trace_text(rec: Mapping[str, Any]) -> str:
    events = _events(rec)
    if not events:
        return "  (no frame on any interface of any namespace)"
    width = max(len(f"{e.ns}/{e.ifname}") for e in events)
    return "\n".join(
        f"  {e.t_ms:>9.3f} ms  {f'{e.ns}/{e.ifname}':<{width}}  {e.direction:<3}  {e.text}"
        for e in events
    )


def _pcap_links(rec: Mapping[str, Any], run_dir: Path) -> str:
    paths = [_s(p) for p in _list(rec.get("pcaps")) if p]
    if not paths:
        folder = run_dir / "pcap" / _s(rec.get("scenario")) / _s(rec.get("case"))
        paths = [str(p.relative_to(run_dir)) for p in sorted(folder.glob("*.pcap"))]
    if not paths:
        return '<p class="muted">(no pcap recorded)</p>'
    items = []
    for p in paths:
        path = Path(p)
        rel = os.path.relpath(path, run_dir) if path.is_absolute() else p
        missing = "" if (run_dir / rel).exists() else ' <span class="muted">(missing)</span>'
        href = quote(Path(rel).as_posix())
        items.append(f'<li><a href="{_e(href)}">{_e(path.name)}</a>{missing}</li>')
    return f'<ul class="pcaps">{"".join(items)}</ul>'


def _filled(value: Any) -> bool:
    return value is not None and value != "" and value != [] and value != {}


def _plain(value: Any) -> str:
    """A recorded value as text: strings as they are, anything else as compact JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def _extras(rec: Mapping[str, Any]) -> str:
    # fields this page does not draw yet, shown as recorded unless empty
    extra = {k: v for k, v in rec.items() if k not in _KNOWN_KEYS and _filled(v)}
    obs = _dict(rec.get("observed"))
    extra.update(
        {f"observed.{k}": v for k, v in obs.items() if k not in _KNOWN_OBSERVED and _filled(v)}
    )
    if not extra:
        return ""
    text = json.dumps(extra, indent=2, ensure_ascii=False, default=str)
    return (
        f"<details><summary>other recorded fields ({_e(', '.join(extra))})</summary>"
        f"<pre>{_e(text)}</pre></details>"
    )


_LEGEND = {"arp": "ARP / NDP", "icmp": "ICMP / ICMPv6"}


def _legend() -> str:
    return (
        '<div class="legend">'
        + "".join(
            f'<span><i style="background:{c}"></i>{_e(_LEGEND.get(k, k.upper()))}</span>'
            for k, c in PROTO_COLOURS.items()
        )
        + '<span class="muted">one arrow per frame leaving a namespace; hover for interfaces '
        "and times; a dashed arrow ending in a circle was not seen arriving anywhere</span></div>"
    )


def _case_section(rec: Mapping[str, Any], anchor: str, run_dir: Path, multi_kernel: bool) -> str:
    verdict = _s(rec.get("verdict"), "?")
    bad = _differing(rec)
    failing = verdict in {"fail", "error"}
    kernel = f" on {_s(rec.get('kernel'))}" if multi_kernel else ""
    out = [
        f'<section class="case {_e(verdict)}" id="{anchor}">',
        f'<h2>{_badge(verdict)} <span class="mono">{_e(_key(rec))}</span>{_e(kernel)}</h2>',
        f"<div><b>{_e(rec.get('title'))}</b></div>",
    ]
    if failing:
        items = "".join(
            f"<li><b>{_e(r.get('field'))}</b>: expected <code>{_e(r.get('expected'))}</code>, "
            f"observed <code>{_e(r.get('observed'))}</code></li>"
            for r in bad
        )
        # an error has no differing field: its message says what went wrong
        msg = f"<pre>{_e(rec.get('message'))}</pre>" if rec.get("message") else ""
        out.append(
            f'<div class="banner"><b>{_e(verdict.upper())}</b>: '
            + (
                "the kernel did not do what the claim expects"
                if verdict == "fail"
                else "the case did not run to a verdict"
            )
            + (f"<ul>{items}</ul>" if items else msg)
            + "</div>"
        )
    if _filled(rec.get("refuted")) or _filled(rec.get("kernel_does")):
        parts = []
        if _filled(rec.get("refuted")):
            parts.append(f"<div><b>claim refuted</b>: {_e(_plain(rec.get('refuted')))}</div>")
        if _filled(rec.get("kernel_does")):
            parts.append(
                f"<div><b>what the kernel does instead</b>: "
                f"<code>{_e(_plain(rec.get('kernel_does')))}</code></div>"
            )
        out.append(f'<div class="refuted-note">{"".join(parts)}</div>')
    changes = [_s(c) for c in _list(rec.get("changes"))]
    facts = [
        ("claim", _e(rec.get("claim"))),
        ("source", _e(_source(rec) or "-")),
        ("kernel", _e(rec.get("kernel"))),
        ("changes", "<br>".join(f"<code>{_e(c)}</code>" for c in changes) or "(none)"),
        ("probe", f"<code>{_e(rec.get('probe'))}</code> → <code>{_e(_outcome(rec))}</code>"),
        ("ended", _e(rec.get("settled") or "-")),
        ("duration", _e(f"{_float(rec.get('duration_s')):.3f} s")),
    ]
    out.append(
        '<dl class="facts">' + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts) + "</dl>"
    )
    if _list(rec.get("article_comparison")):
        out.append(
            "<h3>what the article claims (refuted)</h3>"
            + _comparison_table(rec, "article_comparison")
        )
        out.append("<h3>what this kernel does (recorded in the case)</h3>" + _comparison_table(rec))
    else:
        out.append("<h3>expected vs observed</h3>" + _comparison_table(rec))
    topo = _dict(rec.get("topology"))
    topo_name = _s(topo.get("name"))
    out.append(
        f"<h3>topology{': ' + _e(topo_name) if topo_name else ''}</h3>"
        f'<div class="topobox"><div class="figure">{topology_svg(rec)}</div>'
        f"{_hosts_table(rec)}</div>"
    )
    if topo.get("description"):
        out.append(f'<p class="muted">{_e(topo.get("description"))}</p>')
    fig_cls = "figure failing" if failing else "figure"
    out.append(
        "<h3>sequence (every frame that left a namespace, in time order)</h3>"
        + _legend()
        + f'<div class="{fig_cls}">{sequence_svg(rec)}</div>'
    )
    out.append(
        "<details><summary>trace: every frame on every interface "
        "(ms from the syscall)</summary>"
        f"<pre>{_e(_trace_text(rec))}</pre></details>"
    )
    notes = [_s(n) for n in _list(rec.get("notes"))]
    if notes:
        out.append(
            '<div class="muted">' + "".join(f"<div>note: {_e(n)}</div>" for n in notes) + "</div>"
        )
    out.append("<h3>pcaps</h3>" + _pcap_links(rec, run_dir))
    out.append(_extras(rec))
    out.append("</section>")
    return "\n".join(out)


def render_report(records: Sequence[CaseRecord | Mapping[str, Any]], run_dir: Path) -> str:
    """The whole report page for `records` of the run in `run_dir`, as one HTML string."""
    recs = [_as_dict(r) for r in records]
    kernels = list(dict.fromkeys(_s(r.get("kernel")) for r in recs))
    multi = len(kernels) > 1
    anchors = _anchors(recs, multi)
    counts = Counter(_s(r.get("verdict"), "?") for r in recs)
    order = [v for v in VERDICTS if counts[v]] + sorted(set(counts) - set(VERDICTS))
    count_html = " ".join(
        f'<span class="badge {v if v in VERDICTS else "other"}">{counts[v]} {_e(v)}</span>'
        for v in order
    )
    failing = [(r, a) for r, a in zip(recs, anchors, strict=True) if r.get("verdict") != "pass"]
    fail_list = (
        "<h2>not a plain pass</h2><ul>"
        + "".join(
            f'<li>{_badge(_s(r.get("verdict")))} <a class="mono" href="#{a}">{_e(_key(r))}</a>'
            f" {_e(r.get('title'))}</li>"
            for r, a in failing
        )
        + "</ul>"
        if failing
        else ""
    )
    total = sum(_float(r.get("duration_s")) for r in recs)
    name = run_dir.resolve().name
    head = (
        f"<h1>Run report: {_e(name)}</h1>"
        f'<dl class="facts"><dt>kernel</dt><dd>{_e(", ".join(kernels) or "?")}</dd>'
        f"<dt>cases</dt><dd>{len(recs)} ({total:.2f} s of case time)</dd>"
        f'<dt>verdicts</dt><dd class="counts">{count_html or "(no case)"}</dd></dl>'
    )
    body = [
        head,
        fail_list,
        "<h2>claims and verdicts</h2>",
        _summary_table(recs, anchors, kernels) if recs else "<p>(no case recorded)</p>",
        "<h2>cases</h2>",
        *(_case_section(r, a, run_dir, multi) for r, a in zip(recs, anchors, strict=True)),
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>harness report {_e(name)}</title><style>{_CSS}</style></head>"
        "<body><main>\n" + "\n".join(body) + "\n</main></body></html>\n"
    )


def write_report(
    run_dir: Path, records: Sequence[CaseRecord | Mapping[str, Any]] | None = None
) -> Path:
    """RUN/report.html: the run's claims, verdicts and every case, in one self-contained file.

    `records` are the run's, when the caller has them already; else they are read
    from the run folder.
    """
    path = run_dir / REPORT_NAME
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    if records is None:
        chosen = load_records(run_dir)
    else:
        chosen = sorted((_as_dict(r) for r in records), key=_record_order)
    tmp.write_text(render_report(chosen, run_dir), encoding="utf-8")
    tmp.replace(path)
    return path


# ---------------------------------------------------------------- text view


def _topology_text(rec: Mapping[str, Any]) -> list[str]:
    topo = _topology(rec)
    if not topo.hosts:
        return ["topology: (not recorded)"]
    name = _s(_dict(rec.get("topology")).get("name"))
    lines = [f"topology{': ' + name if name else ''}"]
    width = max(len(h) for h in [*topo.hosts, *topo.lans])
    for host, ifaces in topo.hosts.items():
        pad = " " * width
        if not ifaces:
            lines.append(f"  {host:<{width}}  (no interface)")
        for n, iface in enumerate(ifaces):
            where = iface.medium
            addrs = ", ".join(iface.addresses) or "-"
            lines.append(
                f"  {host if n == 0 else pad:<{width}}  {iface.name:<6} {where:<16} {addrs}"
            )
        for route in topo.routes.get(host, []):
            lines.append(f"  {pad}  route  {route}")
        for key, value in topo.sysctls.get(host, {}).items():
            lines.append(f"  {pad}  sysctl {key}={value}")
    for lan, ports in topo.lans.items():
        members = ", ".join(f"{p.host}.{p.name}" for p in ports)
        lines.append(f"  {lan:<{width}}  bridge: {members}")
    return lines


def _comparison_text(rows: list[dict[str, Any]]) -> str:
    """field / expected / observed, differing rows marked; `probe N:` when a case has several."""
    several = any(int(r.get("probe") or 0) > 0 for r in rows)
    cells = [
        (
            (f"probe {int(r.get('probe') or 0) + 1}: " if several else "") + _s(r.get("field")),
            _s(r.get("expected")),
            _s(r.get("observed")),
        )
        for r in rows
    ]
    width_f = max([len(f) for f, _, _ in cells] + [5])
    width_e = max([len(e) for _, e, _ in cells] + [8])
    lines = [f"  {'field':<{width_f}}  {'expected':<{width_e}}  observed"]
    for (name, expected, observed), row in zip(cells, rows, strict=True):
        mark = "" if row.get("ok", True) else "   <-- differs"
        lines.append(f"  {name:<{width_f}}  {expected:<{width_e}}  {observed}{mark}")
    return "\n".join(lines)


def render_case_text(record: CaseRecord | Mapping[str, Any]) -> str:
    """One case for a terminal: claim, topology, probe and outcome, comparison, trace."""
    rec = _as_dict(record)
    verdict = _s(rec.get("verdict"), "?")
    lines = [f"{verdict.upper()} {_key(rec)}: {_s(rec.get('title'))}"]
    source = _source(rec)
    lines.append(f"claim{f' ({source})' if source else ''}: {_s(rec.get('claim'))}")
    if rec.get("kernel"):
        lines.append(f"kernel: {_s(rec.get('kernel'))}")
    if _filled(rec.get("refuted")):
        lines.append(f"refuted: {_plain(rec.get('refuted'))}")
    if _filled(rec.get("kernel_does")):
        lines.append(f"kernel does: {_plain(rec.get('kernel_does'))}")
    lines.extend(_topology_text(rec))
    lines.extend(f"change: {_s(c)}" for c in _list(rec.get("changes")))
    lines.append(f"probe: {_s(rec.get('probe'))} -> {_outcome(rec)}")
    observed = _dict(rec.get("observed"))
    for n, lookup in enumerate(_list(observed.get("route_get")), 1):
        lookup = _dict(lookup)
        answer = lookup.get("error") or " ".join(
            f"{k} {lookup[k]}"
            for k in ("type", "dev", "gateway", "src", "table")
            if lookup.get(k) is not None
        )
        lines.append(
            f"  kernel route lookup {n} (ip route get {_s(lookup.get('query'))}): {answer}"
        )
    lines.extend(_sysctl_text(observed))
    for n, tables in enumerate(_list(observed.get("tables")), 1):
        for host, held in _dict(tables).items():
            held = _dict(held)
            routes = [str(r) for r in _list(held.get("routes"))]
            rules = [str(r) for r in _list(held.get("rules"))]
            lines.append(f"  before probe {n}, {host} routes: " + ("; ".join(routes) or "(none)"))
            if any(
                not r.endswith(("lookup local", "lookup main", "lookup default")) for r in rules
            ):
                lines.append(f"  before probe {n}, {host} rules: " + "; ".join(rules))
    article_rows = [_dict(r) for r in _list(rec.get("article_comparison"))]
    if article_rows:
        lines += [
            "what the article claims:",
            _comparison_text(article_rows),
            "what this kernel does (recorded in the case):",
        ]
    rows = [_dict(r) for r in _list(rec.get("comparison"))]
    if rows:
        lines.append(_comparison_text(rows))
    bad = _differing(rec)
    if bad:
        lines.append("differs: " + "; ".join(_s(r.get("field")) for r in bad))
    if _s(rec.get("message")):
        lines.append(_s(rec.get("message")))
    settled = _s(rec.get("settled"))
    lines.append(
        "trace (ms from the syscall; every interface of every namespace"
        + (f"; ended: {settled}" if settled else "")
        + "):"
    )
    lines.append(_trace_text(rec))
    lines.extend(f"note: {_s(n)}" for n in _list(rec.get("notes")))
    pcaps = [Path(_s(p)) for p in _list(rec.get("pcaps")) if p]
    folders = {p.parent for p in pcaps}
    if len(folders) == 1:
        lines.append(f"pcaps in {folders.pop()}/: " + " ".join(p.name for p in pcaps))
    elif pcaps:
        lines.append("pcaps: " + " ".join(str(p) for p in pcaps))
    return "\n".join(lines)


def find_records(records: Iterable[Mapping[str, Any]], pattern: str) -> list[dict[str, Any]]:
    """Records whose scenario/case id contains `pattern` (for `harness show`)."""
    return [dict(r) for r in records if pattern in _key(r)]


# The kernel defaults the harness resets IPv4 conf to (harness.topology.IPV4_CONF_DEFAULTS);
# `show` lists only the values that differ, which are the ones that shape the case.
_CONF_DEFAULTS = {"send_redirects": "1", "accept_redirects": "1"}


def _sysctl_text(observed: Mapping[str, Any]) -> list[str]:
    """The routing/ARP sysctls of each host that are not at their kernel default."""
    lines = []
    for host, values in _dict(observed.get("sysctls")).items():
        shown = []
        for key, value in _dict(values).items():
            default = _CONF_DEFAULTS.get(str(key).rsplit(".", 1)[-1], "0")
            if str(value) != default:
                shown.append(f"{key}={value}")
        if shown:
            lines.append(f"  sysctls on {host}: " + ", ".join(shown))
    return lines
