"""Applying a scorecard: sub-scores, fit, intent, the combined score, tier, route and reasons.

Every number is a sum of whole points, so the reasons an account carries plus the base add up
to its combined score exactly, and each dimension's sub-score to its base plus its reasons.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from icpkit.attributes import rule_text
from icpkit.engines.features import Features, design
from icpkit.engines.scorecard import Scorecard, decay_steps
from icpkit.icp.describe import unknown_subject
from icpkit.icp.model import Criterion, Exclusion, IntentSignal, format_number
from icpkit.vocabulary import DIMENSIONS, FIT_DIMENSIONS, Dimension


@dataclass(frozen=True)
class Reason:
    """One line of an account's explanation: what holds, and the points it brought."""

    rule_id: str
    dimension: Dimension
    text: str
    points: int


@dataclass
class Scores:
    """Scores of a batch of entities, aligned with the features' rows."""

    scorecard: Scorecard
    features: Features
    contributions: np.ndarray  # (n, rules) whole points
    subscores: dict[Dimension, np.ndarray]
    score: np.ndarray
    fit: np.ndarray
    intent: np.ndarray
    tier: np.ndarray
    route: np.ndarray
    probability: np.ndarray
    excluded: np.ndarray
    outside: np.ndarray

    def reasons(self, i: int) -> list[Reason]:
        """Entity ``i``'s reasons: every rule that brought points, strongest rule first, then
        the exclusions and boundary conditions that decided its route (0 points if none).
        The order is the scorecard's, the same for every account and every engine."""
        out: list[Reason] = []
        for j in self.scorecard.reason_order():
            rp = self.scorecard.rules[j]
            points = int(self.contributions[i, j])
            matched = self.features.matches[i, j] > 0
            if points == 0 and not (matched and rp.scored.list == "exclusions"):
                continue
            age = self.features.ages[i, j]
            text = reason_text(rp.scored.rule, age)
            if rp.scored.rule is None and self.features.persona_matched is not None:
                held = self.features.persona_matched[i].tolist()
                roles = self.features.persona_roles
                text = persona_text([r for r, h in zip(roles, held, strict=True) if h])
            out.append(Reason(rp.id, rp.dimension, text, points))
        for rule_id, fails in self.features.outside:
            if fails[i]:
                out.append(Reason(rule_id, "firmographic", outside_text(rule_id), 0))
        return out


def outside_text(rule_id: str) -> str:
    """The reason of an account outside the boundary rule ``rule_id``."""
    return f"Outside the market served ({rule_id})"


def _words(text: str) -> str:
    return text.replace("_", " ")


def _values(values: list[str] | None) -> str:
    return " or ".join(values or [])


PERSONA_REASON = "Has a contact matching the buyer persona"


def persona_text(matched: Sequence[tuple[str, str]]) -> str:
    """The persona's reason naming the role that matched: the strongest of the persona's
    roles an account holds (``matched`` in the persona's order), and how many more it holds;
    the general words when no role is named (a persona of seniorities, departments or titles).

    >>> persona_text([("VP", "Sales")])
    'Has a VP in Sales (buyer persona)'
    >>> persona_text([("Manager", "Operations"), ("Owner", "Sales"), ("VP", "Sales")])
    'Has a Manager in Operations and 2 more persona roles (buyer persona)'
    """
    if not matched:
        return PERSONA_REASON
    seniority, department = matched[0]
    article = "an" if seniority[:1].lower() in ("a", "e", "i", "o", "u") else "a"
    more = len(matched) - 1
    others = f" and {more} more persona role{'s' if more > 1 else ''}" if more else ""
    return f"Has {article} {seniority} in {department}{others} (buyer persona)"


def reason_text(
    rule: Criterion | Exclusion | IntentSignal | None, age: float = float("nan")
) -> str:
    """A reason as a sales rep reads it: 'Uses HubSpot', 'Funding round Series A 75 days ago',
    'Industry Public Administration: excluded', 'Employees unknown'."""
    if rule is None:
        return PERSONA_REASON
    if isinstance(rule, IntentSignal):
        what = _words(rule.signal).capitalize()
        detail = f" {_values(rule.detail_in)}" if rule.detail_in else ""
        when = f" {int(age)} days ago" if not np.isnan(age) else ""
        return f"{what}{detail}{when}"
    attribute = rule.attribute
    if isinstance(rule, Criterion) and rule.missing:
        words = unknown_subject(attribute)
        text = words[:1].upper() + words[1:]
    else:
        low = format_number(rule.min) if rule.min is not None else None
        high = format_number(rule.max) if rule.max is not None else None
        span = f"{low}-{high}" if low and high else (f"{low}+" if low else f"up to {high}")
        # The attribute's definition words it: 'Uses HubSpot', '51-200 employees'.
        text = rule_text(attribute, rule.values, span)
    if isinstance(rule, Exclusion):
        text += ": excluded" if rule.kind != "churn" else ": excluded (customers churn)"
    return text


def contributions_of(card: Scorecard, features: Features) -> np.ndarray:
    """Whole points per entity and rule: a rule's points when it matches, an intent signal's
    points looked up by the age of its freshest signal in the window (see decay_steps)."""
    out = np.zeros(features.matches.shape, dtype=np.int64)
    for j, rp in enumerate(card.rules):
        rule = rp.scored.rule
        if isinstance(rule, IntentSignal):
            start, end = rule.window_days
            steps = decay_steps(rp.points, start, end, card.half_lives.get(rp.id))
            ages = features.ages[:, j]
            inside = ~np.isnan(ages)
            lasts = np.array([a for a, _ in steps])
            values = np.array([v for _, v in steps], dtype=np.int64)
            index = np.searchsorted(lasts, ages[inside], side="left")
            out[inside, j] = values[np.minimum(index, len(values) - 1)]
        else:
            out[:, j] = np.where(features.matches[:, j] > 0, rp.points, 0)
    return out


def apply_scorecard(card: Scorecard, features: Features) -> Scores:
    """Score every entity of ``features`` with ``card``."""
    x = design(features, card.half_lives)
    contributions = contributions_of(card, features)
    n = features.n
    subscores: dict[Dimension, np.ndarray] = {}
    for d in DIMENSIONS:
        columns = [j for j, rp in enumerate(card.rules) if rp.dimension == d]
        subscores[d] = (
            card.base[d] + contributions[:, columns].sum(axis=1)
            if columns
            else np.full(n, card.base[d])
        )
    score = sum(subscores[d] for d in DIMENSIONS)
    fit_points = sum(subscores[d] for d in FIT_DIMENSIONS)
    fit = (
        np.floor(100 * fit_points / card.fit_max + 0.5).astype(np.int64)
        if card.fit_max
        else np.zeros(n, np.int64)
    )
    intent = (
        np.floor(100 * subscores["behavioral"] / card.intent_max + 0.5).astype(np.int64)
        if card.intent_max
        else np.zeros(n, np.int64)
    )
    excl = [j for j, rp in enumerate(card.rules) if rp.scored.list == "exclusions"]
    excluded = np.asarray(
        features.matches[:, excl].any(axis=1) if excl else np.zeros(n, dtype=bool), dtype=bool
    )
    outside = np.zeros(n, dtype=bool)
    for _, fails in features.outside:
        outside |= fails
    tier = np.select(
        [score >= card.tiers["A"], score >= card.tiers["B"], score >= card.tiers["C"]],
        ["A", "B", "C"],
        default="D",
    )
    route = routes(fit, intent, excluded, outside, card)
    weights = np.array([rp.weight for rp in card.rules], dtype=np.float64)
    # Without rules every account gets the intercept's probability, as in the SQL.
    linear = card.intercept + (x @ weights if len(weights) else np.zeros(n))
    probability = 1.0 / (1.0 + np.exp(-linear))
    return Scores(
        card,
        features,
        contributions,
        subscores,
        np.asarray(score, dtype=np.int64),
        fit,
        intent,
        tier,
        route,
        probability,
        excluded,
        outside,
    )


def routes(
    fit: np.ndarray, intent: np.ndarray, excluded: np.ndarray, outside: np.ndarray, card: Scorecard
) -> np.ndarray:
    """The routing matrix: fit band x intent band, with exclusions 'never' and accounts
    outside the boundary 'disqualify'."""
    r = card.routing
    fit_band = np.select(
        [fit >= card.fit_high, fit >= card.fit_low], ["high", "medium"], default="low"
    )
    intent_band = np.where(intent >= card.intent_high, "high", "low")
    cells = np.char.add(np.char.add(fit_band, "/"), intent_band)
    route = np.empty(len(fit), dtype=object)
    for cell, target in r.matrix.items():
        route[cells == cell] = target
    route[outside] = "disqualify"
    route[excluded] = "never"
    return route.astype(str)
