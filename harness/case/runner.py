"""Runner: one case, start to finish, through every stage in order.

namespaces and topology, captures and listeners (a CaseSession) -> for each
act: changes, probe, settle -> observation -> verdict -> record.  Each stage
only consumes what the previous ones produced.
"""

from __future__ import annotations

import os
import socket
import time
import traceback
from pathlib import Path

from harness.case.record import CaseRecord, PcapPolicy
from harness.case.session import CaseSession
from harness.case.verdict import acting_expectations, judge
from harness.core import deadlines
from harness.core.display import one_line
from harness.core.env import kernel_release
from harness.core.evidence import Observation
from harness.core.validation import errno_name
from harness.lab import kernel_features, neighbour_timers
from harness.lab.capture import CaptureLimit
from harness.lab.netlink_ip import TopologyError
from harness.lab.netns import Lab
from harness.scenario import Case, Scenario
from harness.scenario.load import setup_place

# Verdicts whose evidence is kept by default: everything but a plain pass or a skip.
FINDINGS = frozenset({"fail", "error", "refuted", "changed"})


def plan(scenario: Scenario, case: Case, kernel: str) -> CaseRecord:
    """The record of a case before it runs: what it does and expects; verdict `error`
    until one replaces it."""
    return CaseRecord(
        scenario=scenario.name,
        case=case.id,
        file=str(scenario.path),
        title=case.title,
        claim=scenario.claim,
        article=scenario.source.article,
        section=scenario.source.section,
        kernel=kernel,
        verdict="error",
        refuted=case.refuted or "",
        changed_in=case.changed_in,
        topology=scenario.topology,
        acts=case.acts(),
    )


def not_run(scenario: Scenario, case: Case, kernel: str, why: str) -> CaseRecord:
    """An `error` record for a case that could not run on `kernel` (its guest did not
    boot, its worker died), saying why."""
    return plan(scenario, case, kernel).model_copy(update={"message": why})


STOPPED = "the run was stopped while this case ran on this kernel: it has no answer"


def run_case(
    scenario: Scenario,
    case: Case,
    run_dir: Path | None = None,
    pcaps: PcapPolicy = "findings",
    budget_s: float | None = deadlines.CASE_BUDGET_S,
) -> CaseRecord:
    """Build, act, observe and judge one case; never raises for a kernel or harness error.

    With a run folder, the case's pcaps are written there for the verdicts `pcaps`
    says: by default only for findings (fail, error, refuted, changed), which keeps a
    full run's results small; "all" for every case.  A case still running after
    `budget_s` seconds (None: no bound) ends there as an `error` saying so.
    """
    started = time.perf_counter()
    record = plan(scenario, case, kernel_release())
    lacking = kernel_features.missing(scenario.topology.kernel_features())
    if lacking:
        return record.model_copy(update={"verdict": "skip", "message": "; ".join(lacking)})
    try:
        with deadlines.case_budget(budget_s):
            observation, notes, capture = _execute(scenario, case)
    except Exception as exc:
        elapsed = round(time.perf_counter() - started, 4)
        if isinstance(exc, TopologyError) and exc.code:
            refused = _refused_setup(record, scenario, exc)
            return refused.model_copy(update={"duration_s": elapsed})
        if isinstance(exc, deadlines.BudgetExceeded | CaptureLimit):
            # A bound of the harness, not a defect of it: the reason, without a traceback.
            return record.model_copy(update={"message": str(exc), "duration_s": elapsed})
        # A harness problem, not the kernel's answer: verdict "error", with the traceback.
        return record.model_copy(
            update={
                "message": f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}",
                "duration_s": elapsed,
            }
        )
    judgement = judge(case, observation, record.kernel)
    record = record.model_copy(
        update={
            "verdict": judgement.verdict,
            "message": judgement.message,
            "observed": observation,
            "comparison": judgement.comparison,
            "article_comparison": judgement.article_comparison,
            "notes": notes,
            "duration_s": round(time.perf_counter() - started, 4),
        }
    )
    keep = pcaps == "all" or (pcaps == "findings" and judgement.verdict in FINDINGS)
    if run_dir is not None and keep:
        folder = Path("pcap", record.kernel, scenario.name, case.id)
        paths = capture.write_pcaps(run_dir, folder)
        record = record.model_copy(update={"pcaps": [str(p.relative_to(run_dir)) for p in paths]})
    return record


def _refused_setup(record: CaseRecord, scenario: Scenario, exc: TopologyError) -> CaseRecord:
    """The kernel refused part of the set-up: an `error` naming the line of the topology it
    refused (`x.yaml:14 hosts.a.routes[0] 'default via ...': the kernel refused it: ...`),
    never a verdict: the case never got to ask the kernel about the claim.  (A change
    the claim says the kernel refuses is a verdict: `fails_with`, session.apply.)"""
    why = f"{exc.why or os.strerror(exc.code)} ({errno_name(exc.code)})"
    if exc.item:
        place, written = setup_place(scenario, exc.item)
        shown = f" '{one_line(written)}'" if written else ""
        first = f"{place}{shown}: the kernel refused it: {why}"
    else:  # a listener's set-up (a multicast join)
        first = f"the kernel refused the case's set-up: {why}"
    return record.model_copy(
        update={
            "verdict": "error",
            "message": f"{first}\n{exc}\nthe case did not run: a set-up the kernel refuses "
            "is no answer to the claim; fix the set-up",
        }
    )


def _names_links(scenario: Scenario, case: Case) -> bool:
    """Some expectation of the case (claim, refuted or changed side) names `links`, or the
    case sets an MTU (in its topology or by `ip link set IF mtu N`): a record then holds
    every link's MTU after each act, for `harness show` and the report."""
    expectations = [e for a in case.acts() for e in (a.expect, a.kernel_does) if e is not None]
    if case.changed_in is not None:
        expectations += [o.expect for o in case.changed_in.side if o.expect is not None]
    if any(e.value("links") is not None for e in expectations):
        return True
    hosts = scenario.topology.hosts.values()
    if any(iface.mtu is not None for host in hosts for iface in host.interfaces.values()):
        return True
    changes = [c for a in case.acts() for c in a.change if c.kind == "link"]
    return any(getattr(c.parsed()[1], "mtu", None) is not None for c in changes)


def _execute(scenario: Scenario, case: Case) -> tuple[Observation, list[str], CaseSession]:
    """Run the case's acts in a session; the observation, the builder's notes, and the
    session (its captured frames can still be written as pcaps after the lab is gone)."""
    acts = case.acts()
    with Lab(f"{scenario.name}/{case.id}") as lab:
        session = CaseSession.start(
            lab,
            scenario.topology,
            [a.probe for a in acts if a.probe is not None],
            case.listeners,
            timers=neighbour_timers.for_case(scenario.topology, case),
        )
        # The links after each act are read only where an expectation or an MTU needs them.
        session.record_links = _names_links(scenario, case)
        # Each act ends by what this kernel is expected to do (a refuted claim's
        # `kernel_does`, or the side of a version change this kernel is on).
        expectations = acting_expectations(case, kernel_release())
        named: dict[str, socket.socket | None] = {}  # `socket: NAME` -> the act's socket
        for act, expectation in zip(acts, expectations, strict=True):
            for change in act.change:
                session.apply(change)  # a refusal is an answer: the verdict judges it
            name = act.probe.socket if act.probe is not None else None
            session.act(act.probe, named.get(name) if name else None)
            if name and name not in named:
                named[name] = session.sockets[-1]
            session.settle(expectation)
        observation = session.finish()
        return observation, session.notes, session
