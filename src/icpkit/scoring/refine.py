"""Pruning the derived ICP with the joint model: keep what matters once the rest is counted.

Lift judges one attribute at a time, so proxies of a real criterion (revenue next to company
size) and echoes of a real disqualifier pass its test. The jointly fitted weights tell them
apart: a derived rule whose weight moves the odds by less than ``min_lift`` is dropped with a
note, and a disqualifier too weak to halve the odds becomes a negative fit criterion (points
off) rather than an exclusion (never sold to). Rules set or locked by hand are never touched.
"""

from __future__ import annotations

import math

from icpkit.icp.model import ICP, Criterion, Exclusion, IntentSignal, Rule

# An exclusion routes accounts to 'never': it must at least halve the odds of winning.
EXCLUSION_ODDS = 0.5


def _kept(rule: Rule) -> bool:
    return rule.source == "human" or rule.locked


def _note(rule: Rule, what: str) -> str:
    return f"{rule.id}: {what} (joint weight {rule.weight or 0.0:+.2f} log-odds)"


def refine(
    icp: ICP, min_lift: float, churn: dict[str, float] | None = None
) -> tuple[ICP, list[str]]:
    """``icp`` without the derived rules its fitted weights do not support, and a note for
    each rule dropped or moved. ``churn`` holds the joint churn log-odds of churn exclusions:
    one that does not at least double the odds of churning is dropped."""
    churn = churn or {}
    floor = math.log(min_lift)
    notes: list[str] = []
    fit: list[Criterion] = []
    for c in icp.fit:
        weight = abs(c.weight or 0.0)
        if _kept(c) or weight >= floor:
            fit.append(c)
        else:
            notes.append(_note(c, "dropped: no effect of its own once the other rules count"))
    exclusions: list[Exclusion] = []
    dropped: list[Exclusion] = []
    for e in icp.exclusions:
        weight = e.weight or 0.0
        if e.kind == "churn" and not _kept(e) and e.id in churn and churn[e.id] < math.log(2):
            notes.append(
                f"{e.id}: dropped: churns more only through the other rules "
                f"(joint churn weight {churn[e.id]:+.2f} log-odds)"
            )
        elif _kept(e) or e.kind != "disqualifier" or weight <= math.log(EXCLUSION_ODDS):
            exclusions.append(e)
        elif weight <= -floor:
            fields = e.model_dump(include={"id", "attribute", "values", "min", "max", "evidence"})
            fit.append(
                Criterion(
                    **fields,
                    direction="negative",
                    rationale=e.rationale,
                    source="derived",
                    weight=e.weight,
                )
            )
            notes.append(
                _note(
                    e,
                    "moved to fit as a negative criterion: wins less, but not so rarely "
                    "that it should never be sold to",
                )
            )
        else:
            notes.append(_note(e, "dropped: wins less only through the other rules"))
            dropped.append(e)
    intent: list[IntentSignal] = []
    for s in icp.intent:
        if _kept(s) or (s.weight or 0.0) >= floor:
            intent.append(s)
        else:
            notes.append(_note(s, "dropped: no effect of its own once the other rules count"))
    if not notes:
        return icp, []
    refined = icp.model_copy(
        update={
            "boundary": _reopened(icp.boundary, dropped),
            "fit": sorted(fit, key=lambda c: c.id),
            "exclusions": exclusions,
            "intent": intent,
            "notes": [*icp.notes, *notes],
        }
    )
    return refined, notes


def _reopened(boundary: list[Criterion], dropped: list[Exclusion]) -> list[Criterion]:
    """The boundary with the values of dropped exclusions served again (a country left out
    of the market for a disqualifier that turned out to be a proxy)."""
    out = []
    for b in boundary:
        extra = [
            v
            for e in dropped
            if e.attribute == b.attribute and e.values and b.values and not _kept(b)
            for v in e.values
            if v not in b.values
        ]
        out.append(
            b.model_copy(update={"values": sorted([*(b.values or []), *extra])}) if extra else b
        )
    return out
