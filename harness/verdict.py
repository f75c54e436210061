"""Verdict: compare what the claim expects with what the kernel did, and judge the case.

Each act's expectation is compared field by field (harness/expect/); a change
the claim says the kernel refuses is one more row.  A case whose claim is
`refuted` is judged by what the case records the kernel does instead
(`kernel_does`), and keeps the article's rows to show.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from harness.expect import Comparison, Evidence, Expect
from harness.facts import Observation
from harness.scenario import Act, Case

# refuted: the article's claim does not hold on this kernel, and the kernel does
# exactly what the case records instead.
Verdict = Literal["pass", "fail", "skip", "error", "refuted"]
VERDICTS: tuple[Verdict, ...] = ("pass", "refuted", "fail", "error", "skip")


def evidence(obs: Observation, act: Act, index: int) -> Evidence:
    """What act number `index` is judged by."""
    probe = act.probe
    return Evidence(obs, index, probe.host, str(probe.dst), probe.proto)


def compare(expect: Expect, obs: Observation, act: Act, index: int) -> list[Comparison]:
    """One row per thing `expect` says about act number `index`."""
    return expect.compare(evidence(obs, act, index))


def change_rows(acts: list[Act], obs: Observation) -> list[Comparison]:
    """One row per change the claim expects the kernel to refuse, and one per change the
    kernel refused although the claim needs it (that is the kernel's answer too)."""
    rows = []
    for index, act in enumerate(acts):
        answers = obs.acts[index].changes if index < len(obs.acts) else []
        for change, answer in zip(act.change, answers, strict=False):
            if change.fails_with is None and answer.errno == "ok":
                continue
            expected = change.fails_with or "ok"
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


@dataclass(frozen=True)
class Judgement:
    """A case's verdict, why, and the rows it rests on."""

    verdict: Verdict
    message: str
    comparison: list[Comparison]  # the rows that decide the verdict
    article_comparison: list[Comparison]  # a refuted case: the article's own rows


def judge(case: Case, obs: Observation) -> Judgement:
    """The verdict of `case` on what the kernel did."""
    acts = case.acts()
    claim_rows = change_rows(acts, obs) + [
        row for i, act in enumerate(acts) for row in compare(act.expect, obs, act, i)
    ]
    if not case.refuted:
        return Judgement("pass" if passed(claim_rows) else "fail", "", claim_rows, [])
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
