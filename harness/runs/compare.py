"""Comparing runs of the same case: on several kernels, or repeated on one.

`essence` reduces a record to what the kernel answered, field by field, in
words that do not change from run to run (no times, ports, MACs or random
link-local addresses): the verdict, and per act the syscall's errno, the
resolution requests each host sent, the source address and interface the
probe left by, the deliveries, the ICMP errors the prober got, the kernel's
route lookup, and each change's answer.  Two runs of a case differ where their
essences do.  The same reduction serves the kernel matrix ("where kernels
differ"), `harness run --repeat` (a case whose answer flips between repeats)
and the comparison of the fast settle rule with the kernel's own timers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from harness.case.record import CaseRecord
from harness.core.evidence import Observation
from harness.scenario.expect.base import PROBE_PROTOS

_LINK_LOCAL = re.compile(r"fe80::[0-9a-f:]+")


def _plain(text: str) -> str:
    return _LINK_LOCAL.sub("fe80::…", text)


def _listing(items: Iterable[str]) -> str:
    found = sorted(set(items))
    return ", ".join(found) if found else "(none)"


def _act_essence(obs: Observation, record: CaseRecord, act: int) -> dict[str, str]:
    facts = obs.acts[act]
    probe = record.acts[act].probe if act < len(record.acts) else None
    found: dict[str, str] = {"errno": facts.outcome.errno}
    if facts.changes:
        found["changes"] = "; ".join(f"{c.command}: {c.errno}" for c in facts.changes)
    for host in record.topology.hosts:
        requests = obs.arp_requests_by(host, act)
        if requests:
            found[f"resolution requests by {host}"] = _listing(_plain(r.request) for r in requests)
        replies = [
            a
            for a in obs.arp
            if a.host == host and a.direction == "out" and a.op == "is-at" and a.act == act
        ]
        if replies:  # who answered for which address (the MACs are random per run)
            found[f"resolution replies by {host}"] = _listing(
                _plain(str(r).rsplit(" is-at ", 1)[0]) for r in replies
            )
    if probe is not None:
        packet = obs.first_packet(probe.host, str(probe.dst), PROBE_PROTOS[probe.proto], act)
        found["source on the wire"] = _plain(packet.src) if packet else "(no packet left)"
        found["left by"] = packet.ifname if packet else "(no packet left)"
        found["ICMP errors to the prober"] = _listing(
            f"type {p.icmp_type} code {p.icmp_code} from {_plain(p.src)}"
            for p in obs.icmp_errors_to(probe.host, act)
        )
    found["received by"] = _listing(
        f"{r.host} from {_plain(r.src)}" for r in obs.received_during(act)
    )
    if facts.route is not None:
        found["route lookup"] = _plain(facts.route.answer())
    return found


def essence(record: CaseRecord) -> dict[str, str]:
    """What the kernel answered in this case, field by field (`probe N: field` per act)."""
    found: dict[str, str] = {"verdict": record.verdict}
    obs = record.observed
    if obs is None:
        return found
    several = len(obs.acts) > 1
    for act in range(len(obs.acts)):
        for field, value in _act_essence(obs, record, act).items():
            found[f"probe {act + 1}: {field}" if several else field] = value
    return found


def _missing(field: str) -> str:
    """A field one run's essence lacks: no request sent, or nothing to compare (an error)."""
    return "(none)" if "resolution re" in field else "-"


@dataclass(frozen=True)
class Difference:
    """A case whose answer differs between runs: each differing field, value per run."""

    key: str  # scenario/case
    title: str
    runs: list[str]  # the run labels (kernels, or repeat numbers), in order
    fields: dict[str, list[str]]  # field -> its value in each run


Runs = dict[str, list[tuple[str, CaseRecord]]]  # "KEY on KERNEL" -> (run label, record) each


def by_case(runs: Iterable[tuple[str, Iterable[CaseRecord]]]) -> Runs:
    """Each case on each kernel ("KEY on KERNEL") with its (run label, record) in every
    labelled run that has it: what `differences` compares."""
    groups: Runs = {}
    for label, records in runs:
        for record in records:
            groups.setdefault(f"{record.key} on {record.kernel}", []).append((label, record))
    return groups


def differences(groups: dict[str, list[tuple[str, CaseRecord]]]) -> list[Difference]:
    """For each case key, its (label, record) runs; the cases whose essences differ.

    A field missing from one run's essence shows as "(none)" for requests and
    "-" otherwise (say, a case that errored there).
    """
    found = []
    for key, runs in sorted(groups.items()):
        if len(runs) < 2:
            continue
        essences = [essence(record) for _, record in runs]
        fields = list(dict.fromkeys(f for e in essences for f in e))
        differing = {
            field: values
            for field in fields
            if len(set(values := [e.get(field, _missing(field)) for e in essences])) > 1
        }
        if differing:
            labels = [label for label, _ in runs]
            found.append(Difference(key, runs[0][1].title, labels, differing))
    return found


def kernel_differences(records: list[CaseRecord]) -> list[Difference]:
    """Cases whose verdict or answer differs between the kernels of one run."""
    groups: dict[str, list[tuple[str, CaseRecord]]] = {}
    for record in sorted(records, key=lambda r: (r.key, r.kernel)):
        groups.setdefault(record.key, []).append((record.kernel, record))
    return differences(groups)
