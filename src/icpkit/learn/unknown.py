"""The Missing bin: unknown values get points of their own, decided by the data.

An account whose employee count (industry, stack, ...) is unknown matches no rule on that
attribute, so without a rule of its own it would score as if its value were known and
outside the ICP: a silent zero. For every attribute the ICP judges (a fit criterion or a
disqualifier on it) the ICP therefore holds one criterion with ``missing: true``: it matches
the accounts whose value is unknown, its weight is fitted with the other rules but without
a sign bound (unknown may help or hurt), it is never dropped by the evidence selection (it
is not a claim about the market, only the data's answer for "don't know", 0 points
included), and it goes when the attribute's last rule goes. Unknown values too thin to learn
from (the bar of every cut: ``min_closed_deals``, ``min_accounts``) get a note instead, and
score 0.

Attributes that read the same fields (their definitions' ``inputs``, icpkit.attributes)
are unknown on the same accounts and share one bin: the tools, stack density and each
``tech:`` value are unknown exactly when an account's technologies are (bin ``tech``), the
company age when its founding year is (bin ``company_age``).
"""

from __future__ import annotations

import math

import numpy as np

from icpkit.analysis.frame import Frame
from icpkit.analysis.lift import LiftResult
from icpkit.attributes import MISSING, definition_of, definitions, unknown_bin
from icpkit.config import AnalysisSettings
from icpkit.icp.describe import unknown_subject
from icpkit.icp.model import ICP, Criterion, Evidence, Exclusion
from icpkit.learn.derive import _measure, _rationale, slug


def bin_attribute(attribute: str) -> str:
    """The attribute whose Missing bin holds ``attribute``'s unknown values: 'tech' for
    'tech', 'tech:HubSpot' and 'stack_density'; 'company_age' for 'founded_year'; else
    the attribute itself (see icpkit.attributes.unknown_bin)."""
    return unknown_bin(attribute)


def is_unknown_bin(rule: Criterion | Exclusion) -> bool:
    """Whether ``rule`` is a Missing bin (a criterion with ``missing: true``)."""
    return isinstance(rule, Criterion) and rule.missing


def judged_attributes(fit: list[Criterion], exclusions: list[Exclusion]) -> set[str]:
    """The bins of the attributes that a fit criterion or a disqualifier judges."""
    rules: list[Criterion | Exclusion] = [
        *(c for c in fit if not c.missing),
        *(e for e in exclusions if e.kind == "disqualifier"),
    ]
    return {bin_attribute(r.attribute) for r in rules}


def _frame_attribute(attribute: str, frame: Frame) -> str | None:
    """The analysis attribute whose ``(missing)`` cut is the bin of ``attribute``: the first
    one in the bin, in the order of the definitions, then by name ('stack_density' before
    'tech:HubSpot')."""
    order = {d.key: i for i, d in enumerate(definitions())}

    def position(name: str) -> tuple[int, str]:
        definition = definition_of(name)
        return (order[definition.key] if definition is not None else len(order), name)

    candidates = [name for name in frame.cuts if unknown_bin(name) == attribute]
    return min(candidates, key=position, default=None)


def unknown_evidence(frame: Frame, lift: LiftResult, attribute: str) -> Evidence | None:
    """The deals whose value of ``attribute`` is unknown against those whose value is known,
    clustered by account, as measured (no rule chose it, so nothing is adjusted for a
    selection). None when no closed deal, or every one, has the value unknown: then the data
    cannot say what an unknown value is worth."""
    name = _frame_attribute(attribute, frame)
    if name is None:
        return None
    cuts = frame.cuts[name]
    unknown = [c for c in cuts if c.value == MISSING]
    known = [c for c in cuts if c.value != MISSING]
    if not unknown or not known or unknown[0].n_closed == 0:
        return None
    wins = np.concatenate([c.wins for c in unknown + known])
    deals = np.concatenate([c.deals for c in unknown + known])
    in_group = np.concatenate(
        [np.ones(len(c.wins), bool) for c in unknown] + [np.zeros(len(c.wins), bool) for c in known]
    )
    row = next((r for r in lift.rows if r.attribute == name and r.value == MISSING), None)
    evidence, _ = _measure(
        wins,
        deals,
        in_group,
        n_accounts=int(np.unique(unknown[0].accounts).size),
        q=row.q_value if row is not None else math.nan,
        iv=lift.information_value.get(name, math.nan),
        result=lift,
    )
    return evidence


def unknown_rationale(attribute: str, evidence: Evidence | None, points: int | None) -> str:
    """Why the bin is in the ICP: its points (once fitted) and the deals behind them, e.g.
    'employees unknown (-3 points, decided by the data): 0.62x the win rate of known
    values, 95% CI 0.45-0.85x, n=120 closed deals from 60 accounts (25% won vs 40% overall)'."""
    shown = "points" if points is None else f"{points:+d} points," if points else "0 points,"
    subject = f"{unknown_subject(attribute)} ({shown} decided by the data)"
    if evidence is None:
        return subject
    return _rationale(subject, evidence, "the win rate of known values")


def _bin_id(attribute: str, taken: set[str]) -> str:
    """'employees-unknown', or 'employees-unknown-bin' when a rule already has that id."""
    base = slug(f"{attribute} unknown")
    return base if base not in taken else f"{base}-bin"


def add_unknown_bins(icp: ICP, frame: Frame, lift: LiftResult, settings: AnalysisSettings) -> ICP:
    """``icp`` with a Missing bin for each attribute it judges that has none yet (one set or
    locked by hand stays as it is), where some closed deals have the value unknown and some
    known; fit criteria in id order. Where the unknown values are too thin to learn from
    (fewer than ``min_closed_deals`` closed deals or ``min_accounts`` accounts, the bar of
    every cut) a note says so instead: an unknown value then scores 0."""
    have = {bin_attribute(c.attribute) for c in icp.fit if c.missing}
    have |= {bin_attribute(c.attribute) for c in icp.boundary if c.missing}
    taken = {item.id for _, item in icp.rules()}
    added: list[Criterion] = []
    notes: list[str] = []
    for attribute in sorted(judged_attributes(icp.fit, icp.exclusions) - have):
        evidence = unknown_evidence(frame, lift, attribute)
        if evidence is None:
            continue
        accounts = evidence.n_accounts or 0
        if evidence.n_closed < settings.min_closed_deals or accounts < settings.min_accounts:
            notes.append(
                f"{unknown_subject(attribute)}: {evidence.n_closed:,} closed deals from "
                f"{accounts:,} account{'s' if accounts != 1 else ''}, too few to learn points "
                f"of their own ({settings.min_closed_deals} closed deals and "
                f"{settings.min_accounts} accounts needed): an unknown value scores 0"
            )
            continue
        rule_id = _bin_id(attribute, taken)
        taken.add(rule_id)
        lower = evidence.lift is not None and evidence.lift < 1
        added.append(
            Criterion(
                id=rule_id,
                attribute=attribute,
                missing=True,
                direction="negative" if lower else "positive",
                evidence=evidence,
                rationale=unknown_rationale(attribute, evidence, None),
                source="derived",
            )
        )
    if not added and not notes:
        return icp
    return icp.model_copy(
        update={
            "fit": sorted([*icp.fit, *added], key=lambda c: c.id),
            "notes": [*icp.notes, *notes],
        }
    )


def with_unknown_points(icp: ICP, points: dict[str, int]) -> ICP:
    """``icp`` with each derived Missing bin's direction set by the sign of its fitted
    weight and its rationale saying the ``points`` (rule id -> whole points) it now gives."""
    fit = []
    for c in icp.fit:
        if c.missing and c.source == "derived" and not c.locked:
            weight = c.weight or 0.0
            c = c.model_copy(
                update={
                    "direction": "negative" if weight < 0 else "positive",
                    "rationale": unknown_rationale(c.attribute, c.evidence, points.get(c.id)),
                }
            )
        fit.append(c)
    return icp.model_copy(update={"fit": fit})


def orphaned_bins(fit: list[Criterion], exclusions: list[Exclusion]) -> list[Criterion]:
    """Derived Missing bins of attributes no longer judged by any other rule."""
    judged = judged_attributes(fit, exclusions)
    return [
        c
        for c in fit
        if c.missing
        and c.source == "derived"
        and not c.locked
        and bin_attribute(c.attribute) not in judged
    ]
