"""One case as plain text: for `harness show`, and as the message of a failing pytest item.

Every field may come from a downloaded scenario or results folder: a field that is one
line stays one line (display.one_line), and no control character reaches the terminal
(display.block on the whole).
"""

from __future__ import annotations

from pathlib import Path

from harness.case.record import CaseRecord
from harness.core.display import block, one_line
from harness.core.evidence import FrameRecord
from harness.core.validation import version_tuple
from harness.scenario import Topology
from harness.scenario.expect import Comparison

# The kernel defaults the harness resets IPv4 conf to (harness.lab.builder.IPV4_CONF_DEFAULTS);
# `show` lists only the values that differ, which are the ones that shape the case.
_CONF_DEFAULTS = {"send_redirects": "1", "accept_redirects": "1"}


def source_of(rec: CaseRecord) -> str:
    """`article section`, as far as the record names them."""
    return " ".join(p for p in (rec.article, rec.section) if p)


def probe_line(rec: CaseRecord) -> str:
    """Each act's probe in one line, like the command an article would run."""
    return "; ".join(
        act.probe.describe() if act.probe else "(no probe: the act only changes)"
        for act in rec.acts
    )


def outcome_line(rec: CaseRecord) -> str:
    """The syscall outcome(s) in one line: `ok (sendto: 64 bytes accepted)`."""
    if rec.observed is None or not rec.observed.acts:
        return "(nothing observed)"
    texts = [
        f"{a.outcome.errno} ({a.outcome.message})" if a.outcome.message else a.outcome.errno
        for a in rec.observed.acts
    ]
    if len(texts) == 1:
        return texts[0]
    return "; ".join(f"probe {n + 1}: {t}" for n, t in enumerate(texts))


def settled_line(rec: CaseRecord) -> str:
    """Why each act was considered over."""
    if rec.observed is None:
        return ""
    return " | ".join(a.settled for a in rec.observed.acts if a.settled)


def kernel_does_line(rec: CaseRecord) -> str:
    """What a refuted case records the kernel does instead, in words."""
    parts = [
        (f"probe {n + 1}: " if len(rec.acts) > 1 else "") + act.kernel_does.describe()
        for n, act in enumerate(rec.acts)
        if act.kernel_does is not None
    ]
    return "; ".join(parts)


def trace_text(trace: list[FrameRecord]) -> str:
    """Every frame, one line each: time, namespace/interface, direction, what it is."""
    if not trace:
        return "  (no frame on any interface of any namespace)"
    where = [one_line(f"{e.host}/{e.ifname}") for e in trace]
    width = max(len(w) for w in where)
    return "\n".join(
        f"  {e.t_ms:>9.3f} ms  {w:<{width}}  {one_line(e.direction):<3}  {one_line(str(e))}"
        for e, w in zip(trace, where, strict=True)
    )


def topology_text(topology: Topology) -> list[str]:
    """Hosts, their interfaces and addresses, routes and sysctls; then the LANs (one line each)."""
    return [one_line(line) for line in _topology_lines(topology)]


def _topology_lines(topology: Topology) -> list[str]:
    if not topology.hosts:
        return ["topology: (not recorded)"]
    lans = topology.lans()
    lines = [f"topology: {topology.name}"]
    width = max(len(h) for h in [*topology.hosts, *lans])
    for host_name, host in topology.hosts.items():
        pad = " " * width
        if not host.interfaces:
            lines.append(f"  {host_name:<{width}}  (no interface)")
        for n, (name, iface) in enumerate(host.interfaces.items()):
            addrs = ", ".join(str(a) for a in iface.addresses) or "-"
            label = host_name if n == 0 else pad
            mtu = f"  mtu {iface.mtu}" if iface.mtu is not None else ""
            lines.append(f"  {label:<{width}}  {name:<6} {iface.medium:<16} {addrs}{mtu}")
        for route in host.routes:
            lines.append(f"  {pad}  route  {route}")
        for key, value in host.sysctls.items():
            lines.append(f"  {pad}  sysctl {key}={value}")
    for lan, ports in lans.items():
        members = ", ".join(f"{h}.{i}" for h, i in ports)
        lines.append(f"  {lan:<{width}}  bridge: {members}")
    return lines


def comparison_text(rows: list[Comparison]) -> str:
    """field / expected / observed, differing rows marked; `probe N:` when a case has several."""
    several = any(r.act > 0 for r in rows)
    cells = [
        (
            one_line((f"probe {r.act + 1}: " if several else "") + r.label),
            one_line(r.expected),
            one_line(r.observed),
        )
        for r in rows
    ]
    width_f = max([len(f) for f, _, _ in cells] + [5])
    width_e = max([len(e) for _, e, _ in cells] + [8])
    lines = [f"  {'field':<{width_f}}  {'expected':<{width_e}}  observed"]
    for (name, expected, observed), row in zip(cells, rows, strict=True):
        mark = "" if row.ok else "   <-- differs"
        lines.append(f"  {name:<{width_f}}  {expected:<{width_e}}  {observed}{mark}")
    return "\n".join(lines)


def _sysctl_lines(sysctls: dict[str, dict[str, str]]) -> list[str]:
    """The routing/ARP sysctls of each host that are not at their kernel default."""
    lines = []
    for host, values in sysctls.items():
        shown = [
            f"{key}={value}"
            for key, value in values.items()
            if value != _CONF_DEFAULTS.get(key.rsplit(".", 1)[-1], "0")
        ]
        if shown:
            lines.append(f"  sysctls on {host}: " + ", ".join(shown))
    return lines


def comparison_headings(rec: CaseRecord) -> tuple[str, str]:
    """The headings of a case's two tables, the article's rows then the kernel's: a
    refuted claim, or the side of a version change this kernel is on."""
    change = rec.changed_in
    if change is not None and change.covers(version_tuple(rec.kernel)):
        older = change.before is not None
        claim_side = f"{'from' if older else 'before'} {change.version}"
        kernel_side = f"{'before' if older else 'from'} {change.version}"
        return (
            f"what the article claims (what kernels {claim_side} do)",
            f"what kernels {kernel_side} do, as this one (recorded in the case)",
        )
    return "what the article claims (refuted)", "what this kernel does (recorded in the case)"


def render_case_text(rec: CaseRecord, run_dir: Path | None = None) -> str:
    """One case for a terminal: claim, topology, probe and outcome, comparison, trace;
    with `run_dir`, the pcaps' paths are absolute (copied from anywhere, they work)."""
    lines = [one_line(f"{rec.verdict.upper()} {rec.key}: {rec.title}")]
    source = one_line(source_of(rec))
    lines.append(f"claim{f' ({source})' if source else ''}: {rec.claim}")
    lines.append(one_line(f"kernel: {rec.kernel}"))
    if rec.refuted:
        lines.append(f"refuted: {rec.refuted}")
        lines.append(one_line(f"kernel does: {kernel_does_line(rec)}"))
    if rec.changed_in is not None:
        lines.append(one_line(f"the kernel {rec.changed_in.summary()}"))
    lines.extend(topology_text(rec.topology))
    lines.extend(one_line(f"change: {c}") for act in rec.acts for c in act.change)
    lines.append(one_line(f"probe: {probe_line(rec)} -> {outcome_line(rec)}"))
    obs = rec.observed
    if obs is not None:
        for n, act in enumerate(obs.acts, 1):
            if act.route is not None:
                lines.append(
                    one_line(
                        f"  kernel route lookup {n} (ip route get {act.route.query}): "
                        f"{act.route.answer()}"
                    )
                )
        lines.extend(one_line(line) for line in _sysctl_lines(obs.sysctls))
        for n, act in enumerate(obs.acts, 1):
            for host, held in act.tables.items():
                routes = "; ".join(held.routes) or "(none)"
                lines.append(one_line(f"  before probe {n}, {host} routes: {routes}"))
                if any(
                    not r.endswith(("lookup local", "lookup main", "lookup default"))
                    for r in held.rules
                ):
                    rules = "; ".join(held.rules)
                    lines.append(one_line(f"  before probe {n}, {host} rules: {rules}"))
        for n, act in enumerate(obs.acts, 1):
            for host, links in act.links.items():
                mtus = ", ".join(f"{name} {attrs.mtu}" for name, attrs in links.items())
                lines.append(one_line(f"  after probe {n}, {host} link MTUs: {mtus}"))
    if rec.article_comparison:
        claimed, does = comparison_headings(rec)
        lines += [f"{claimed}:", comparison_text(rec.article_comparison), f"{does}:"]
    if rec.comparison:
        lines.append(comparison_text(rec.comparison))
    if rec.differing:
        lines.append(one_line("differs: " + "; ".join(r.label for r in rec.differing)))
    if rec.message:
        lines.append(rec.message)
    settled = settled_line(rec)
    lines.append(
        one_line(
            "trace (ms from the syscall; every interface of every namespace"
            + (f"; ended: {settled}" if settled else "")
            + "):"
        )
    )
    lines.append(trace_text(obs.trace() if obs else []))
    for n, act in enumerate(obs.acts if obs else [], 1):
        read = "; ".join(f"{h}: {', '.join(e)}" for h, e in act.settle_read.items() if e)
        label = f"act {n} " if obs and len(obs.acts) > 1 else ""
        read = read or "no entry being resolved"
        lines.append(one_line(f"{label}ended on this neighbour read: {read}"))
    lines.extend(one_line(f"note: {n}") for n in rec.notes)
    pcaps = [(run_dir.absolute() / p if run_dir is not None else Path(p)) for p in rec.pcaps]
    folders = {p.parent for p in pcaps}
    if len(folders) == 1:
        lines.append(one_line(f"pcaps in {folders.pop()}/: " + " ".join(p.name for p in pcaps)))
    elif pcaps:
        lines.append(one_line("pcaps: " + " ".join(str(p) for p in pcaps)))
    # The claim, the message and the lines not escaped above: no control character either.
    return block("\n".join(lines))
