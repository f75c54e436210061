"""Verdict: compare what the claim expects with what the kernel did, and judge the case.

Each act's expectation is compared field by field (harness/scenario/expect/); a change
the claim says the kernel refuses is one more row.  A case whose claim is
`refuted` is judged by what the case records the kernel does instead
(`kernel_does`), and keeps the article's rows to show.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from harness.core.evidence import Observation
from harness.core.validation import version_tuple
from harness.scenario import Act, Case
from harness.scenario.expect import Comparison, Evidence, Expect

# refuted: the article's claim does not hold on this kernel, and the kernel does
# exactly what the case records instead.  changed: the claim holds only from (or
# only before) a kernel version, this kernel is on the other side, and it does
# what the case records for that side.
Verdict = Literal["pass", "fail", "skip", "error", "refuted", "changed"]
VERDICTS: tuple[Verdict, ...] = ("pass", "changed", "refuted", "fail", "error", "skip")
# The order the views list cases in: what needs looking at first.
VERDICT_ORDER: tuple[Verdict, ...] = ("fail", "error", "changed", "refuted", "skip", "pass")


def evidence(obs: Observation, act: Act, index: int) -> Evidence:
    """What act number `index` is judged by."""
    probe = act.probe
    if probe is None:  # an act that only changed: its fields name their hosts themselves
        return Evidence(obs, index, "", "", "udp")
    return Evidence(obs, index, probe.host, str(probe.dst), probe.proto)


def compare(expect: Expect, obs: Observation, act: Act, index: int) -> list[Comparison]:
    """One row per thing `expect` says about act number `index`."""
    return expect.compare(evidence(obs, act, index))


def change_rows(
    acts: list[Act], obs: Observation, answers: list[list[str] | None] | None = None
) -> list[Comparison]:
    """One row per change the claim expects the kernel to refuse, and one per change the
    kernel refused although the claim needs it (that is the kernel's answer too).

    `answers` (per act, per change) replaces what the claim expects of the changes.
    """
    rows = []
    for index, act in enumerate(acts):
        seen = obs.acts[index].changes if index < len(obs.acts) else []
        wanted = (answers[index] if answers else None) or [c.fails_with or "ok" for c in act.change]
        for change, answer, expected in zip(act.change, seen, wanted, strict=False):
            if expected == "ok" and answer.errno == "ok":
                continue
            rows.append(
                Comparison(
                    field="change",
                    label=f"change `{change.host}: {change.command}` answered",
                    expected=expected,
                    observed=answer.errno,
                    ok=answer.errno == expected,
                    act=index,
                )
            )
    return rows


def passed(rows: list[Comparison]) -> bool:
    """True when every compared field agrees."""
    return all(row.ok for row in rows)


def _differs(rows: list[Comparison]) -> str:
    """`the kernel does not do what the claim says: errno: expected ok, observed EPERM; ...`"""
    fields = "; ".join(
        f"{row.label}: expected {row.expected}, observed {row.observed}"
        for row in rows
        if not row.ok
    )
    return f"the kernel does not do what the claim says: {fields}"


@dataclass(frozen=True)
class Judgement:
    """A case's verdict, why, and the rows it rests on."""

    verdict: Verdict
    message: str
    comparison: list[Comparison]  # the rows that decide the verdict
    article_comparison: list[Comparison]  # a refuted case: the article's own rows


def acting_expectations(case: Case, release: str) -> list[Expect]:
    """Per act, what the kernel is expected to do on a kernel of `release`: what a refuted
    case records it does, the side of a version change this kernel is on, or the claim."""
    acts = case.acts()
    change = case.changed_in
    if change is not None and change.covers(version_tuple(release)):
        return [o.expect or a.expect for o, a in zip(change.side, acts, strict=True)]
    if case.refuted:
        return [a.kernel_does or a.expect for a in acts]
    return [a.expect for a in acts]


def judge(case: Case, obs: Observation, release: str = "") -> Judgement:
    """The verdict of `case` on what the kernel of `release` did."""
    acts = case.acts()
    claim_rows = change_rows(acts, obs) + [
        row for i, act in enumerate(acts) for row in compare(act.expect, obs, act, i)
    ]
    change = case.changed_in
    if change is not None and change.covers(version_tuple(release)):
        answers = [o.answers for o in change.side]
        expectations = acting_expectations(case, release)
        kernel_rows = change_rows(acts, obs, answers) + [
            row for i, act in enumerate(acts) for row in compare(expectations[i], obs, act, i)
        ]
        side = "older than" if change.before is not None else "at or after"
        if passed(claim_rows):
            message = (
                f"the claim HOLDS on this kernel ({release}), {side} {change.version}, although "
                f"the case says the kernel {change.summary()}: update the case"
            )
            return Judgement("fail", message, kernel_rows, claim_rows)
        if passed(kernel_rows):
            message = f"this kernel ({release}) is {side} {change.version}: {change.summary()}"
            return Judgement("changed", message, kernel_rows, claim_rows)
        message = (
            f"the kernel ({release}, {side} {change.version}) does neither what the claim says "
            "nor what the case records for its side of the change"
        )
        return Judgement("fail", message, kernel_rows, claim_rows)
    if not case.refuted:
        if passed(claim_rows):
            return Judgement("pass", "", claim_rows, [])
        # Every non-pass says why in its message (results/README.md): here, the fields.
        return Judgement("fail", _differs(claim_rows), claim_rows, [])
    kernel_rows = [
        row
        for i, act in enumerate(acts)
        if act.kernel_does is not None
        for row in compare(act.kernel_does, obs, act, i)
    ]
    if passed(claim_rows):
        message = (
            "the article's claim HOLDS on this kernel, although the case says it is "
            f"refuted ({case.refuted}): update the case"
        )
        return Judgement("fail", message, kernel_rows, claim_rows)
    if passed(kernel_rows):
        message = f"the article's claim does not hold on this kernel: {case.refuted}"
        return Judgement("refuted", message, kernel_rows, claim_rows)
    message = "the kernel does neither what the article claims nor what the case records"
    return Judgement("fail", message, kernel_rows, claim_rows)
