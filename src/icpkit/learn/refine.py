"""Pruning the derived ICP with the joint model: keep what has an effect of its own.

Lift judges one attribute at a time, so proxies of a real criterion (revenue next to company
size), one-vs-rest echoes of a strong value (the other industries next to Software) and echoes
of a real disqualifier pass its test. The joint model tells them apart by evidence (see
icpkit.learn.selection): a derived rule without a significant weight of its own, or whose
weight moves the odds by less than ``min_lift``, is dropped with a note naming the kept rule
it moves with; a disqualifier too weak to halve the odds becomes a negative fit criterion
(points off) rather than an exclusion (never sold to); a churn exclusion that does not
significantly double the odds of churning is dropped. The Missing bins are no claim about the
market and stay, unless no other rule on their attribute does. Rules set or locked by hand
are never touched.
"""

from __future__ import annotations

import math

from icpkit.icp.model import ICP, Criterion, Exclusion, IntentSignal, Rule
from icpkit.learn.selection import RuleEvidence
from icpkit.learn.unknown import orphaned_bins

# An exclusion routes accounts to 'never': it must at least halve the odds of winning.
EXCLUSION_ODDS = 0.5
# A churn exclusion must at least double the odds of churning.
CHURN_ODDS = 2.0


def _kept(rule: Rule) -> bool:
    return rule.source == "human" or rule.locked


def _note(rule: Rule, what: str, evidence: RuleEvidence | None = None) -> str:
    weight = evidence.weight if evidence is not None else rule.weight or 0.0
    q = f", q={evidence.q:.2g}" if evidence is not None else ""
    return f"{rule.id}: {what} (joint weight {weight:+.2f} log-odds{q})"


def _no_effect(evidence: RuleEvidence | None) -> str:
    """Why a rule was dropped, in the words of the test behind it."""
    if evidence is None:
        what = "dropped: no effect of its own"
    elif evidence.significant:
        what = "dropped: too small an effect of its own"
    else:
        what = "dropped: no significant effect of its own"
    if evidence is not None and evidence.proxy_of is not None:
        return f"{what} once {evidence.proxy_of} counts"
    return f"{what} once the other rules count"


def refine(
    icp: ICP,
    min_lift: float,
    churn: dict[str, float] | dict[str, RuleEvidence] | None = None,
    evidence: dict[str, RuleEvidence] | None = None,
) -> tuple[ICP, list[str]]:
    """``icp`` without the derived rules the joint model does not support, and a note for
    each rule dropped or moved. ``evidence`` holds the selection's verdict per derived rule
    (icpkit.learn.selection.select); a rule without one is judged by its weight alone.
    ``churn`` holds each churn exclusion's joint churn log-odds, or its evidence: one that does
    not at least double the odds of churning (significantly, with evidence) is dropped."""
    churn = churn or {}
    evidence = evidence or {}
    floor = math.log(min_lift)
    notes: list[str] = []
    fit: list[Criterion] = []

    def weight_of(rule: Rule) -> float:
        found = evidence.get(rule.id)
        return found.weight if found is not None else rule.weight or 0.0

    def supported(rule: Rule) -> bool:
        found = evidence.get(rule.id)
        if found is not None:
            return found.kept
        return abs(rule.weight or 0.0) >= floor

    for c in icp.fit:
        if _kept(c) or c.missing or supported(c):
            fit.append(c)
        else:
            found = evidence.get(c.id)
            notes.append(_note(c, _no_effect(found), found))
    exclusions: list[Exclusion] = []
    dropped: list[Exclusion] = []
    for e in icp.exclusions:
        found = evidence.get(e.id)
        if e.kind == "churn" and not _kept(e) and e.id in churn:
            verdict = churn[e.id]
            if isinstance(verdict, RuleEvidence):
                if verdict.kept:
                    exclusions.append(e)
                    continue
                notes.append(
                    f"{e.id}: dropped: does not significantly double the odds of churning "
                    f"once the other rules count (joint churn weight {verdict.weight:+.2f} "
                    f"log-odds, q={verdict.q:.2g})"
                )
            elif verdict < math.log(CHURN_ODDS):
                notes.append(
                    f"{e.id}: dropped: churns more only through the other rules "
                    f"(joint churn weight {verdict:+.2f} log-odds)"
                )
            else:
                exclusions.append(e)
        elif _kept(e) or e.kind != "disqualifier":
            exclusions.append(e)
        elif not supported(e):
            what = _no_effect(found) if found else "dropped: wins less only through the other rules"
            notes.append(_note(e, what, found))
            dropped.append(e)
        elif weight_of(e) <= math.log(EXCLUSION_ODDS):
            exclusions.append(e)
        else:
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
                    found,
                )
            )
    intent: list[IntentSignal] = []
    for s in icp.intent:
        if _kept(s) or supported(s):
            intent.append(s)
        else:
            found = evidence.get(s.id)
            notes.append(_note(s, _no_effect(found), found))
    for c in orphaned_bins(fit, exclusions):
        fit.remove(c)
        notes.append(
            f"{c.id}: dropped: no rule on {c.attribute} is left for unknown values to differ from"
        )
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
