"""Runner: one case, start to finish, through every stage in order.

namespaces (netns) -> topology -> capture + listeners -> for each act: changes,
route lookup, probe, settle -> observation -> verdict -> record.  Each stage
only consumes what the previous ones produced.
"""

from __future__ import annotations

import select
import time
import traceback
from pathlib import Path
from typing import Any

from harness import kernel, timing
from harness.capture import Capture
from harness.ipsyntax import NUD_STATES
from harness.kernelstate import (
    kernel_tables,
    link_states,
    neighbour_tables,
    route_get,
    watched_sysctls,
)
from harness.netns import Lab
from harness.observe import Observation, observe
from harness.probes import (
    Listeners,
    ProbeOutcome,
    act,
    default_listeners,
    errno_name,
    open_sender,
    payload_for,
)
from harness.results import CaseRecord, kernel_release
from harness.scenario import Act, Case, Change, Expect, Probe, Scenario
from harness.topology import Network, TopologyError, build
from harness.verdict import (
    Comparison,
    compare,
    passed,
    positives_seen,
)

# Only an INCOMPLETE neighbour holds frames back (in its arp_queue); DELAY and
# PROBE entries are still used for sending while they are re-confirmed.
NUD_INCOMPLETE = NUD_STATES["incomplete"]


def _resolving(net: Network) -> list[str]:
    """Neighbour entries, in any host, still being resolved."""
    pending = []
    for host in net.topology.hosts:
        for entry in net.host(host).rtnl.neighbours():
            if entry.state & NUD_INCOMPLETE:
                pending.append(f"{host}: {entry.dst}")
    return pending


def settle(
    net: Network,
    capture: Capture,
    listeners: Listeners,
    outcomes: list[ProbeOutcome],
    windows: list[int],
    expect: Expect,
    probe: Probe,
) -> tuple[Observation, str]:
    """Collect frames and deliveries until the latest probe's outcome is determined; say why."""
    index = len(outcomes) - 1
    wake: list[Any] = [
        *capture.sockets(),
        *capture.fds(),
        *listeners.sockets(),
        *capture.neighbour_events,
    ]
    start = last_new = time.monotonic()
    while True:
        if capture.poll() + listeners.poll():
            last_new = time.monotonic()
        now = time.monotonic()
        obs = observe(capture.frames, outcomes, listeners.receipts, windows)
        pending = _resolving(net)
        if not pending:
            if outcomes[-1].errno != "ok" and len(capture.frames) == windows[-1]:
                return obs, "the syscall failed and nothing was sent"
            if positives_seen(expect, obs, probe, index):
                return obs, "everything the claim expects to happen was seen"
            if now - last_new >= timing.SETTLE_QUIET_S:
                return obs, (
                    f"no frame or neighbour change for {timing.SETTLE_QUIET_S * 1000:.0f} ms, "
                    "none being resolved"
                )
        if now - start >= timing.SETTLE_DEADLINE_S:
            return obs, (
                f"settle deadline {timing.SETTLE_DEADLINE_S}s reached; "
                f"still resolving: {', '.join(pending) or 'nothing'}"
            )
        quiet_left = max(timing.SETTLE_QUIET_S - (now - last_new), 0.001)
        timeout = min(quiet_left, start + timing.SETTLE_DEADLINE_S - now)
        readable, _, _ = select.select(wake, [], [], max(timeout, 0))
        for sock in readable:
            if sock in capture.neighbour_events:
                # A neighbour changing state is activity too: a FAILED entry drops
                # its queue and the kernel then reports the failure (ICMP on lo).
                timing.drain(sock)
                last_new = time.monotonic()


def run_case(scenario: Scenario, case: Case, run_dir: Path | None = None) -> CaseRecord:
    """Build, act, observe and judge one case; never raises for a kernel or harness error."""
    started = time.perf_counter()
    acts = case.acts()
    single = len(acts) == 1
    record = CaseRecord(
        scenario=scenario.name,
        case=case.id,
        title=case.title,
        claim=scenario.claim,
        article=scenario.source.article,
        section=scenario.source.section,
        kernel=kernel_release(),
        verdict="error",
        expected=_expectations([a.expect for a in acts]),
        observed=None,
        topology=scenario.topology.model_dump(mode="json"),
        probe="; ".join(a.probe.describe() for a in acts),
        changes=[str(c) for a in acts for c in a.change],
        refuted=case.refuted or "",
        kernel_does=_expectations([a.kernel_does for a in acts]) if case.refuted else None,
    )
    lacking = kernel.missing(scenario.topology.kernel_kinds())
    if lacking:
        record.verdict = "skip"
        record.message = "; ".join(lacking)
        return record
    try:
        obs, capture, reasons, notes = _execute(scenario, case, acts, record.key)
        record.settled = reasons[-1] if single else " | ".join(reasons)
        record.notes = notes
        if run_dir is not None:
            pcap_dir = run_dir / "pcap" / scenario.name / case.id
            whole = capture.write_pcapng(pcap_dir.with_name(f"{case.id}.pcapng"))
            paths = ([whole] if whole else []) + capture.write_pcaps(pcap_dir)
            record.pcaps = [str(p.relative_to(run_dir)) for p in paths]
    except Exception as exc:  # reported as verdict "error", with the traceback
        record.message = f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"
        record.duration_s = round(time.perf_counter() - started, 4)
        return record
    claim_rows = change_rows(obs, acts) + [
        row for i, a in enumerate(acts) for row in compare(a.expect, obs, a.probe, i)
    ]
    kernel_rows = [
        row
        for i, a in enumerate(acts)
        if a.kernel_does
        for row in compare(a.kernel_does, obs, a.probe, i)
    ]
    record.observed = obs.to_json()
    # The rows that decide the verdict; a refuted case also keeps the article's.
    record.comparison = [row.__dict__ for row in (kernel_rows if case.refuted else claim_rows)]
    if case.refuted:
        record.article_comparison = [row.__dict__ for row in claim_rows]
    record.verdict, record.message = _verdict(case, claim_rows, kernel_rows)
    record.duration_s = round(time.perf_counter() - started, 4)
    return record


def _expectations(expects: list[Expect | None]) -> Any:
    dumped = [e.model_dump(mode="json", exclude_none=True) if e else None for e in expects]
    return dumped[0] if len(dumped) == 1 else dumped


def _verdict(
    case: Case, claim_rows: list[Comparison], kernel_rows: list[Comparison]
) -> tuple[Any, str]:
    if not case.refuted:
        return ("pass" if passed(claim_rows) else "fail"), ""
    if passed(claim_rows):
        return "fail", (
            "the article's claim HOLDS on this kernel, although the case says it is "
            f"refuted ({case.refuted}): update the case"
        )
    if passed(kernel_rows):
        return "refuted", f"the article's claim does not hold on this kernel: {case.refuted}"
    return "fail", "the kernel does neither what the article claims nor what the case records"


def _execute(
    scenario: Scenario, case: Case, acts: list[Act], key: str
) -> tuple[Observation, Capture, list[str], list[str]]:
    ipv6 = scenario.topology.uses_ipv6 or any(a.probe.dst.version == 6 for a in acts)
    with Lab(key) as lab:
        net = build(lab, scenario.topology, ipv6)
        taps = {
            k: (fd, scenario.topology.hosts[k[0]].interfaces[k[1]].resolved_kind == "tap")
            for k, fd in net.tun_fds.items()
        }
        capture = Capture(lab, taps)
        wanted = (
            case.listeners
            if case.listeners is not None
            else default_listeners(net, [a.probe for a in acts])
        )
        listeners = Listeners(net, wanted)
        outcomes: list[ProbeOutcome] = []
        windows: list[int] = []
        routes: list[dict[str, Any]] = []
        neighbours: list[dict[str, list[dict[str, str]]]] = []
        links: list[dict[str, dict[str, dict[str, Any]]]] = []
        tables: list[dict[str, dict[str, list[str]]]] = []
        touched: set[str] = set()
        reasons: list[str] = []
        changes: list[tuple[int, Change, str]] = []
        obs: Observation | None = None
        for index, step in enumerate(acts):
            for change in step.change:
                changes.append((index, change, _apply(net, change)))
            if any(change.link is not None for change in step.change):
                net.wait_links_settled()
            capture.poll()
            listeners.poll()  # what came before belongs to the previous probe
            listeners.current_probe = index
            windows.append(len(capture.frames))
            routes.append(route_get(net, step.probe))
            touched.update(change.host for change in step.change)
            tables.append(kernel_tables(net, sorted({step.probe.host, *touched})))
            outcomes.append(_act(net, listeners, step.probe, f"{key} {index}"))
            expect = step.kernel_does if case.refuted and step.kernel_does else step.expect
            obs, reason = settle(net, capture, listeners, outcomes, windows, expect, step.probe)
            reasons.append(reason)
            neighbours.append(neighbour_tables(net))
            links.append(link_states(net))
        assert obs is not None
        capture.finish()
        obs.route_get = routes
        obs.tables = tables
        obs.neighbours = neighbours
        obs.links = links
        obs.sysctls = watched_sysctls(net, case)
        obs.changes = [{"probe": i, "change": str(c), "errno": e} for i, c, e in changes]
        return obs, capture, reasons, list(net.log)


def _apply(net: Network, change: Change) -> str:
    """Apply a change; "ok" or the errno name when the kernel refused one expected to fail."""
    try:
        net.apply(change)
    except TopologyError as exc:
        if change.fails_with is None:
            raise  # an unexpected refusal is a broken scenario: verdict error
        return errno_name(exc.code)
    return "ok"


def change_rows(obs: Observation, acts: list[Act]) -> list[Comparison]:
    """One row per change the claim expects the kernel to refuse."""
    rows = []
    outcomes = iter(obs.changes)
    for index, step in enumerate(acts):
        for change in step.change:
            seen = next(outcomes)["errno"]
            if change.fails_with is not None:
                rows.append(
                    Comparison(
                        f"change `{change.host}: {change.kind}` refused with",
                        change.fails_with,
                        seen,
                        seen == change.fails_with,
                        index,
                    )
                )
    return rows


def _act(net: Network, listeners: Listeners, probe: Probe, key: str) -> ProbeOutcome:
    payload = payload_for(key, probe.payload_size)
    try:
        sock = open_sender(net, probe)
    except OSError as exc:
        return ProbeOutcome(
            errno_name(exc.errno or 0),
            f"socket setup (setsockopt/bind): {exc.strerror}",
            time.time(),
        )
    if probe.proto == "icmp":
        listeners.watch_replies(probe.host, sock)
    return act(net, probe, payload, sock)
