"""Runner: one case, start to finish, through every stage in order.

namespaces (netns) -> topology -> capture + listeners -> changes -> probe ->
settle -> observation -> verdict -> record.  Each stage only consumes what the
previous ones produced.
"""

from __future__ import annotations

import select
import socket
import time
import traceback
from pathlib import Path

from harness import timing
from harness.capture import Capture
from harness.netns import Lab
from harness.observe import Observation, observe
from harness.probes import Listeners, ProbeOutcome, payload_for, send
from harness.results import CaseRecord, kernel_release
from harness.scenario import Case, Expect, Scenario
from harness.topology import Network, build
from harness.verdict import (
    Comparison,
    compare,
    passed,
    positives_seen,
    render_comparison,
    render_trace,
)

# Only an INCOMPLETE neighbour holds frames back (in its arp_queue); DELAY and
# PROBE entries are still used for sending while they are re-confirmed.
NUD_INCOMPLETE = 0x01


def _resolving(net: Network) -> list[str]:
    """Neighbour entries, in any host, still being resolved."""
    pending = []
    for host in net.topology.hosts:
        for entry in net.host(host).ipr.get_neighbours(family=socket.AF_INET):
            if entry["state"] & NUD_INCOMPLETE:
                pending.append(f"{host}: {entry.get('NDA_DST')}")
    return pending


def settle(
    net: Network, capture: Capture, listeners: Listeners, outcome: ProbeOutcome, expect: Expect
) -> tuple[Observation, str]:
    """Collect frames and deliveries until the probe's outcome is determined; say why it ended."""
    wake = [*capture.sockets(), *listeners.sockets(), *capture.neighbour_events]
    start = last_new = time.monotonic()
    while True:
        if capture.poll() + listeners.poll():
            last_new = time.monotonic()
        now = time.monotonic()
        obs = observe(capture.frames, outcome, listeners.receipts)
        pending = _resolving(net)
        if not pending:
            if outcome.errno != "ok" and not capture.frames:
                return obs, "the syscall failed and nothing was sent"
            if positives_seen(expect, obs):
                return obs, "everything the claim expects to happen was seen"
            if now - last_new >= timing.SETTLE_QUIET_S:
                return obs, (
                    f"no frame for {timing.SETTLE_QUIET_S * 1000:.0f} ms "
                    "and no neighbour being resolved"
                )
        if now - start >= timing.SETTLE_DEADLINE_S:
            return obs, (
                f"settle deadline {timing.SETTLE_DEADLINE_S}s reached; "
                f"still resolving: {', '.join(pending) or 'nothing'}"
            )
        quiet_left = max(timing.SETTLE_QUIET_S - (now - last_new), 0.001)
        readable, _, _ = select.select(
            wake, [], [], min(quiet_left, start + timing.SETTLE_DEADLINE_S - now)
        )
        for sock in readable:
            if sock in capture.neighbour_events:
                timing.drain(sock)


def run_case(scenario: Scenario, case: Case, run_dir: Path | None = None) -> CaseRecord:
    """Build, act, observe and judge one case; never raises for a kernel or harness error."""
    started = time.perf_counter()
    record = CaseRecord(
        scenario=scenario.name,
        case=case.id,
        title=case.title,
        claim=scenario.claim,
        article=scenario.source.article,
        section=scenario.source.section,
        kernel=kernel_release(),
        verdict="error",
        expected=case.expect.model_dump(mode="json", exclude_none=True),
        observed=None,
        probe=case.probe.describe(),
        changes=[str(c) for c in case.change],
    )
    try:
        with Lab(record.key) as lab:
            net = build(lab, scenario.topology)
            capture = Capture(lab)
            listeners = Listeners(net, case.probe)
            for change in case.change:
                net.apply(change)
            outcome = send(net, case.probe, payload_for(record.key, case.probe.payload_size))
            obs, record.settled = settle(net, capture, listeners, outcome, case.expect)
            record.notes = list(net.log)
        if run_dir is not None:
            pcap_dir = run_dir / "pcap" / scenario.name / case.id
            record.pcaps = [str(p.relative_to(run_dir)) for p in capture.write_pcaps(pcap_dir)]
    except Exception as exc:  # reported as verdict "error", with the traceback
        record.message = f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"
        record.duration_s = round(time.perf_counter() - started, 4)
        return record
    rows = compare(case.expect, obs)
    record.observed = obs.to_json()
    record.comparison = [row.__dict__ for row in rows]
    record.verdict = "pass" if passed(rows) else "fail"
    record.message = explain(scenario, case, record, obs, rows)
    record.duration_s = round(time.perf_counter() - started, 4)
    return record


def explain(
    scenario: Scenario, case: Case, record: CaseRecord, obs: Observation, rows: list[Comparison]
) -> str:
    """The packetdrill-style report of a case: claim, probe, expected vs observed, trace."""
    lines = [
        f"{record.verdict.upper()} {record.key}: {case.title}",
        f"claim ({scenario.source.article} {scenario.source.section}): {scenario.claim}",
        *(f"change: {c}" for c in record.changes),
        f"probe: {record.probe} -> {obs.errno} ({obs.errno_message})",
        render_comparison(rows),
        "trace (ms from the syscall; every interface of every namespace; "
        f"ended: {record.settled}):",
        render_trace(obs),
        *(f"note: {n}" for n in record.notes),
    ]
    return "\n".join(lines)
