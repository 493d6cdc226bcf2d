"""From learned weights to points: the scorecard a sales team reads.

Points are the rules' log-odds on one scale, rounded toward zero to whole numbers, so a point
means the same odds everywhere and the combined score ranks accounts as the model does. Each
dimension gets a base that lifts its worst case to 0; a dimension's cap is the most it can
give. With ``caps_from_data`` the caps follow how much each dimension's rules move the
odds and add up to 100; otherwise the configured caps are filled dimension by dimension.
Points set by hand are used as written and take their share of the cap first.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from icpkit.attributes import dimension_of_attribute, multi_valued
from icpkit.config import RoutingSettings, ScoringSettings
from icpkit.engines.features import ScoredRule, ScoringError, scored_rules
from icpkit.icp.model import ICP, Criterion, Exclusion, IntentSignal
from icpkit.vocabulary import DIMENSIONS, FIT_DIMENSIONS, Dimension

DEFAULT_TIERS = {"A": 70.0, "B": 50.0, "C": 30.0}
MIN_TIER_DEALS = 30
NO_RULES = "the ICP has no rules: every account scores the same; derive on more data"


@dataclass(frozen=True)
class RulePoints:
    """One rule's place in the scorecard: its dimension, points and where they came from."""

    scored: ScoredRule
    dimension: Dimension
    points: int
    source: Literal["learned", "human"]
    weight: float

    @property
    def id(self) -> str:
        return self.scored.id


@dataclass(frozen=True)
class Scorecard:
    """Points per rule, base and cap per dimension, and the thresholds that turn scores into
    tiers and routes."""

    rules: tuple[RulePoints, ...]
    base: dict[Dimension, int]
    caps: dict[Dimension, int]
    tiers: dict[str, float]
    routing: RoutingSettings
    intercept: float
    half_lives: dict[str, float | None]
    intent_high: float
    fit_high: float
    fit_low: float
    notes: tuple[str, ...] = field(default=())

    @property
    def fit_max(self) -> int:
        """The most points the fit dimensions give together."""
        return sum(self.caps[d] for d in FIT_DIMENSIONS)

    @property
    def intent_max(self) -> int:
        """The most points the behavioral (intent) dimension gives."""
        return self.caps["behavioral"]

    def reason_order(self) -> list[int]:
        """Rule indices in the order reasons are told: positive points from the largest down,
        then negative points from the most negative up (exclusions with 0 points last)."""
        positive = [j for j, rp in enumerate(self.rules) if rp.points > 0]
        other = [j for j, rp in enumerate(self.rules) if rp.points <= 0]
        positive.sort(key=lambda j: (-self.rules[j].points, self.rules[j].id))
        other.sort(key=lambda j: (self.rules[j].points, self.rules[j].id))
        return positive + other

    @property
    def flat(self) -> bool:
        """True when no rule gives or takes a point: every account scores the same, and
        routes only by exclusions and the boundary (see ``NO_RULES``)."""
        return not any(rp.points for rp in self.rules)

    @property
    def warnings(self) -> list[str]:
        """What a reader of these scores must be told first: that they are all the same."""
        return [NO_RULES] if self.flat else []

    @property
    def base_total(self) -> int:
        """Points every account starts from: the sum of the dimensions' bases."""
        return sum(self.base.values())


def dimension_of(scored: ScoredRule) -> Dimension:
    """The dimension a rule scores in: its own setting, else by what it judges."""
    rule = scored.rule
    if rule is None:
        return "deal_potential"
    if rule.dimension is not None:
        return rule.dimension
    if isinstance(rule, IntentSignal):
        return "behavioral"
    return dimension_of_attribute(rule.attribute)


def _unknown(rule: Criterion | Exclusion) -> bool:
    return isinstance(rule, Criterion) and rule.missing


def _overlap(a: Criterion | Exclusion, b: Criterion | Exclusion) -> bool:
    if _unknown(a) or _unknown(b):
        # An unknown value meets no rule on known values; two Missing bins always meet.
        return _unknown(a) and _unknown(b)
    if a.values is not None and b.values is not None:
        return bool(set(a.values) & set(b.values))
    if a.values is None and b.values is None:
        low_a, high_a = a.min or -math.inf, a.max if a.max is not None else math.inf
        low_b, high_b = b.min or -math.inf, b.max if b.max is not None else math.inf
        return low_a <= high_b and low_b <= high_a
    return True  # a range and a list on one attribute: assume they can meet


def _groups(scored: list[ScoredRule]) -> list[tuple[bool, list[int]]]:
    """Rules that cannot match together (one attribute, disjoint values) form an exclusive
    group; every other rule is a group of its own. (exclusive, indices) per group."""
    by_attribute: dict[str, list[int]] = {}
    groups: list[tuple[bool, list[int]]] = []
    for j, item in enumerate(scored):
        rule = item.rule
        # Rules on an attribute whose accounts hold many values at once (a stack of tools)
        # can all match together.
        if isinstance(rule, Criterion | Exclusion) and not multi_valued(rule.attribute):
            by_attribute.setdefault(rule.attribute, []).append(j)
        else:
            groups.append((False, [j]))
    for members in by_attribute.values():
        rules = [scored[j].rule for j in members]
        exclusive = all(
            not _overlap(a, b)  # type: ignore[arg-type]
            for i, a in enumerate(rules)
            for b in rules[i + 1 :]
        )
        groups.append((exclusive, members))
    return groups


def _extremes(groups: list[tuple[bool, list[int]]], points: list[float]) -> tuple[float, float]:
    """(lowest, highest) total an account can get from ``points`` over ``groups``."""
    low = high = 0.0
    for exclusive, members in groups:
        values = [points[j] for j in members]
        if exclusive:
            low += min(0.0, *values)
            high += max(0.0, *values)
        else:
            low += sum(min(0.0, v) for v in values)
            high += sum(max(0.0, v) for v in values)
    return low, high


def _largest_scale(span: Callable[[float], float], target: float) -> float:
    """The largest k >= 0 with span(k) <= target (span is convex in k, span(0) <= target)."""
    high = 1.0
    while span(high) <= target:
        high *= 2
        if high > 1e9:
            return high  # the span does not grow with k: nothing learned to scale
    low = 0.0
    for _ in range(60):
        middle = (low + high) / 2
        low, high = (middle, high) if span(middle) <= target else (low, middle)
    return low


def _contribution(human: float | None, weight: float, scale: float) -> float:
    """A rule's points before rounding: as set by hand, else its weight on the scale."""
    return human if human is not None else scale * weight


def _toward_zero(x: float) -> int:
    return math.trunc(x)


def _half_up(x: float) -> int:
    return int(math.copysign(math.floor(abs(x) + 0.5), x))


def build_scorecard(icp: ICP, settings: ScoringSettings) -> Scorecard:
    """The scorecard of ``icp``: points per rule from its weights (or its hand-set points)."""
    items = scored_rules(icp, settings.persona)
    persona_points = settings.persona.points
    persona_weight = icp.scoring.persona_weight if icp.scoring else None
    dims = [dimension_of(s) for s in items]
    human: list[float | None] = []
    learned: list[float] = []
    for s in items:
        if s.rule is None:
            human.append(persona_points)
            learned.append(persona_weight or 0.0)
        else:
            human.append(s.rule.points)
            learned.append(s.rule.weight or 0.0)
    notes: list[str] = []

    members = {d: [j for j, dd in enumerate(dims) if dd == d] for d in DIMENSIONS}
    groups = {d: _groups([items[j] for j in members[d]]) for d in DIMENSIONS}

    def span(dim: Dimension, scale: float) -> float:
        """The range of points ``dim`` gives when learned weights count ``scale`` each."""
        values = [_contribution(human[j], learned[j], scale) for j in members[dim]]
        low, high = _extremes(groups[dim], values)
        return high - low

    used = [d for d in DIMENSIONS if d in dims]
    for d in DIMENSIONS:
        if d not in dims and settings.caps.get(d):
            notes.append(f"{d}: no rules, so its {settings.caps[d]:g} points go to the others")
    scales: dict[Dimension, float] = dict.fromkeys(DIMENSIONS, 0.0)
    if settings.caps_from_data:
        human_total = sum(span(d, 0.0) for d in used)
        if human_total > 100:
            raise ScoringError(
                f"points set by hand add up to a range of {human_total:g}, more than the 100 "
                "of the combined score; lower them"
            )
        k = _largest_scale(lambda s: sum(span(d, s) for d in used), 100.0)
        scales = dict.fromkeys(DIMENSIONS, k)
    else:
        total = sum(settings.caps.get(d, 0.0) for d in used) or 1.0
        for d in used:
            cap = 100.0 * settings.caps.get(d, 0.0) / total
            if span(d, 0.0) > cap:
                raise ScoringError(
                    f"{d}: points set by hand span {span(d, 0.0):g}, more than the "
                    f"dimension's cap of {cap:g}; lower them or raise scoring.caps.{d}"
                )
            scales[d] = _largest_scale(lambda s, d=d: span(d, s), cap)  # type: ignore[misc]

    points: list[int] = []
    for h, w, d in zip(human, learned, dims, strict=True):
        points.append(_half_up(h) if h is not None else _toward_zero(scales[d] * w))
    base: dict[Dimension, int] = dict.fromkeys(DIMENSIONS, 0)
    caps: dict[Dimension, int] = dict.fromkeys(DIMENSIONS, 0)
    for d in used:
        low, high = _extremes(groups[d], [points[j] for j in members[d]])
        base[d], caps[d] = int(-low), int(high - low)
    if not items:
        notes.append(NO_RULES)
    elif not any(points):
        notes.append("no rule moves the odds of winning: every account scores the same")
    rules = tuple(
        RulePoints(s, d, p, "human" if h is not None else "learned", w)
        for s, d, p, h, w in zip(items, dims, points, human, learned, strict=True)
    )
    half_lives: dict[str, float | None] = {
        s.id: (float(s.rule.half_life_days) if s.rule.half_life_days else None)
        for s in items
        if isinstance(s.rule, IntentSignal)
    }
    tiers = settings.tiers or (icp.scoring.tiers if icp.scoring else None) or DEFAULT_TIERS
    # High intent by default: signals worth doubling the odds of winning.
    doubling = scales["behavioral"] * math.log(2)
    intent_high = settings.routing.intent_high
    if intent_high is None:
        intent_high = (
            min(100.0, 100.0 * doubling / caps["behavioral"]) if caps["behavioral"] else 50.0
        )
    fit_high, fit_low = _fit_bands(settings, base, caps, scales)
    return Scorecard(
        rules,
        base,
        caps,
        dict(tiers),
        settings.routing,
        icp.scoring.intercept if icp.scoring else 0.0,
        half_lives,
        round(intent_high, 1),
        fit_high,
        fit_low,
        tuple(notes),
    )


def _fit_bands(
    settings: ScoringSettings,
    base: dict[Dimension, int],
    caps: dict[Dimension, int],
    scales: dict[Dimension, float],
) -> tuple[float, float]:
    """The fit bands of the routing matrix: as set, else around the fit of an account that
    matches no rule, by the points that double (or halve) the odds of winning. A fit score's
    zero is the worst possible profile, so fixed bands would put most accounts in one.

    With no fit points at all every fit score is 0 and says nothing, so every account is of
    medium fit (bands 100 and 0, whatever is set): an ICP without rules routes each account
    like one that matches no rule (the matrix's medium-fit cells), never to 'disqualify'."""
    routing = settings.routing
    fit_max = sum(caps[d] for d in FIT_DIMENSIONS)
    if not fit_max:
        return 100.0, 0.0
    neutral = 100.0 * sum(base[d] for d in FIT_DIMENSIONS) / fit_max
    used = [scales[d] for d in FIT_DIMENSIONS if caps[d]]
    step = 100.0 * (sum(used) / len(used)) * math.log(2) / fit_max
    high = routing.fit_high if routing.fit_high is not None else min(100.0, neutral + step)
    low = routing.fit_low if routing.fit_low is not None else max(0.0, neutral - step)
    return round(high, 1), round(min(low, high), 1)


def learn_tiers(
    score: np.ndarray, won: np.ndarray, settings: ScoringSettings
) -> dict[str, float] | None:
    """Tier thresholds from scored, closed deals: A where the deals at or above win at
    ``tier_a_lift`` x the base rate (at least 30 deals), B and C where the tiers above hold
    ``tier_ab_wins`` and ``tier_abc_wins`` of the wins. None when there are no wins."""
    total_wins = float(won.sum())
    if total_wins == 0 or len(won) == 0:
        return None
    base = total_wins / len(won)
    levels = np.unique(score)[::-1]
    order = np.argsort(-score, kind="stable")
    sorted_scores = score[order]
    cum_wins = np.cumsum(won[order])
    a = b = c = None
    for level in levels:
        at_or_above = int(np.searchsorted(-sorted_scores, -level, side="right"))
        wins = float(cum_wins[at_or_above - 1])
        if at_or_above >= MIN_TIER_DEALS and wins / at_or_above >= settings.tier_a_lift * base:
            a = float(level)
        if b is None and wins / total_wins >= settings.tier_ab_wins:
            b = float(level)
        if c is None and wins / total_wins >= settings.tier_abc_wins:
            c = float(level)
    top = float(levels[0])
    a = a if a is not None else top + 1
    b = min(b if b is not None else a - 1, a - 1)
    c = min(c if c is not None else b - 1, b - 1)
    return {"A": a, "B": b, "C": max(c, 0.0)}


def decay_steps(
    points: int, start: int, end: int, half_life: float | None
) -> list[tuple[int, int]]:
    """The whole points an intent signal brings by age, as (last age, points) steps over its
    window: ``points`` on the first day, halving every ``half_life`` days, rounded half away
    from zero. Every engine looks the points up in these steps, so none rounds a float."""
    steps: list[tuple[int, int]] = []
    for age in range(start, end + 1):
        value = (
            points if half_life is None else _half_up(points * 0.5 ** ((age - start) / half_life))
        )
        if steps and steps[-1][1] == value:
            steps[-1] = (age, value)
        else:
            steps.append((age, value))
    return steps
