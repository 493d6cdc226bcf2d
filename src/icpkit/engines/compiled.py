"""The scorecard compiled once into Python closures, for scoring a few accounts at a time.

The compiled SELECT (icpkit.engines.sql) is the scorer of files and stores, but a query is
planned every time it runs (about 10 ms whatever the number of rows): one account at a time,
as an API request brings it, that cost is all there is. This engine gives the SELECT's output
row for one account in tens of microseconds: every rule is turned once, per ICP and scoring
day, into a closure over the attribute registry's Python side (the same definitions the
reference scorer, icpkit.engines.reference, reads), and the arithmetic follows the SELECT's
own order (integer points, the log-odds summed from the intercept rule by rule, the tier and
route compared as whole numbers, the probability rounded as SQL's ROUND rounds). The
engines-agree tests hold it equal to the reference and to the SELECT, account by account.
One difference is left: DuckDB adds the log-odds of rules whose weights are decimal literals
exactly (DECIMAL), this engine in floating point; the sums differ by a bit or two at most,
which moves a probability rounded to four decimals only within about 1e-15 of a rounding
boundary.

Signals are ``(signal_type, detail, observed_at)`` and contacts ``(seniority, department,
job_title, created_at)`` tuples, as the workspace's tables hold them.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from typing import Any

from icpkit.attributes import definition_of, detail_kind
from icpkit.attributes.base import MISSING, Context, Definition
from icpkit.config import AnalysisSettings, PersonaSettings, Settings
from icpkit.engines.score import outside_text, persona_text, reason_text
from icpkit.engines.scorecard import build_scorecard, decay_steps
from icpkit.engines.sql import SEPARATOR
from icpkit.icp.model import ICP, Criterion, Exclusion, IntentSignal
from icpkit.vocabulary import DIMENSIONS, FIT_DIMENSIONS

Signal = tuple[str, str | None, dt.date | dt.datetime | None]
Contact = tuple[str | None, str | None, str | None, dt.date | dt.datetime | None]
Matcher = Callable[[Mapping[str, Any]], bool]
Evidence = Sequence[tuple[str, str]]
"""An account's enriched evidence: (a reason without its points, the words of its source)."""


def rule_matcher(
    rule: Criterion | Exclusion, day: dt.date, settings: AnalysisSettings, unknown: bool = False
) -> Matcher:
    """Whether an account matches ``rule`` on ``day``, as a function of the account (the
    registry's definition looked up once); an unknown value gives ``unknown``."""
    definition = definition_of(rule.attribute)
    if definition is None:
        raise ValueError(f"no attribute {rule.attribute!r}")
    name = rule.attribute
    if isinstance(rule, Criterion) and rule.missing:
        if type(definition).unknown is Definition.unknown:
            # The common rule, which writes the attribute's SQL to choose its side: chosen once.
            if definition.family == "fit" and definition.sql(name, settings, Context()) is not None:
                value = definition.value
                return lambda account: value(name, account, day, settings) == MISSING
            count = definition.number
            return lambda account: count(name, account) is None
        return lambda account: bool(definition.unknown(name, account, day, settings))
    if rule.min is not None or rule.max is not None:
        if definition.number_sql(name, Context()) is None:
            raise ValueError(f"attribute {name!r} has no number to compare with min/max")
        low, high = rule.min, rule.max
        number = definition.number

        def within(account: Mapping[str, Any]) -> bool:
            value = number(name, account)
            if value is None:
                return unknown
            return (low is None or value >= low) and (high is None or value <= high)

        return within
    values = list(rule.values or [])
    return lambda account: bool(definition.matches(name, values, account, day, settings, unknown))


def _day(when: dt.date | dt.datetime) -> dt.date:
    return when.date() if isinstance(when, dt.datetime) else when


@lru_cache(maxsize=4096)
def _kind(detail: str | None) -> str:
    return detail_kind(detail)


def persona_matcher(persona: PersonaSettings, day: dt.date) -> Callable[[Iterable[Contact]], bool]:
    """Whether any contact known by ``day`` matches the buyer persona."""
    seniorities = [x.lower() for x in persona.seniorities]
    departments = [x.lower() for x in persona.departments]
    titles = [t.lower() for t in persona.titles]
    roles = {(r.seniority.lower(), r.department.lower()) for r in persona.roles}
    if not (seniorities or departments or titles or roles):
        return lambda contacts: False

    def matched(contacts: Iterable[Contact]) -> bool:
        for seniority, department, title, created in contacts:
            if created is not None and _day(created) > day:
                continue
            if seniorities and (seniority or "").lower() not in seniorities:
                continue
            if departments and (department or "").lower() not in departments:
                continue
            if titles and not any(t in (title or "").lower() for t in titles):
                continue
            if roles and ((seniority or "").lower(), (department or "").lower()) not in roles:
                continue
            return True
        return False

    return matched


def persona_roles_matcher(
    persona: PersonaSettings, day: dt.date
) -> Callable[[Iterable[Contact]], list[tuple[str, str]]] | None:
    """The persona's roles (in its order) held by a contact known by ``day`` that matches
    it: what the persona's reason names. None for a persona that lists no roles."""
    if not persona.roles:
        return None
    matches = persona_matcher(persona, day)
    roles = [(r.seniority, r.department) for r in persona.roles]

    def held(contacts: Iterable[Contact]) -> list[tuple[str, str]]:
        found: set[tuple[str, str]] = set()
        for contact in contacts:
            if matches([contact]):
                found.add(((contact[0] or "").lower(), (contact[1] or "").lower()))
        return [r for r in roles if (r[0].lower(), r[1].lower()) in found]

    return held


@dataclass(frozen=True)
class _Rule:
    """One rule of the scorecard, ready to apply."""

    dimension: str
    points: int
    weight: float
    exclusion: bool
    text: str  # its reason without points or age
    shown: str  # its reason as given when it matches (non-intent rules)
    match: Matcher | None = None  # fit rules and exclusions
    persona: bool = False
    signal: str | None = None  # intent signals: the type, details, window and steps
    details: frozenset[str] | None = None
    window: tuple[int, int] = (0, 0)
    steps: tuple[tuple[int, int], ...] = ()
    half_life: float | None = None


class CompiledScorecard:
    """An ICP's scorecard as of one day, compiled for scoring accounts one by one."""

    def __init__(self, icp: ICP, settings: Settings, day: dt.date) -> None:
        card = build_scorecard(icp, settings.scoring)
        self.day = day
        self.base: dict[str, int] = {d: card.base[d] for d in DIMENSIONS}
        self.fit_max = card.fit_max
        self.intent_max = card.intent_max
        self.intercept = card.intercept
        self.tiers = [(t, math.ceil(card.tiers[t])) for t in ("A", "B", "C")]
        self.fit_high = math.ceil(card.fit_high)
        self.fit_low = math.ceil(card.fit_low)
        self.intent_high = math.ceil(card.intent_high)
        self.matrix = dict(card.routing.matrix)
        analysis = settings.analysis
        rules: list[_Rule] = []
        for rp in card.rules:
            rule = rp.scored.rule
            common: dict[str, Any] = {
                "dimension": rp.dimension,
                "points": rp.points,
                "weight": rp.weight,
                "exclusion": rp.scored.list == "exclusions",
                "text": reason_text(rule),
            }
            shown = f"{common['text']} ({rp.points:+d})" if rp.points else common["text"]
            if isinstance(rule, IntentSignal):
                start, end = rule.window_days
                life = card.half_lives.get(rp.id)
                rules.append(
                    _Rule(
                        **common,
                        shown=shown,
                        signal=rule.signal,
                        details=frozenset(rule.detail_in) if rule.detail_in else None,
                        window=(start, end),
                        steps=tuple(decay_steps(rp.points, start, end, life)),
                        half_life=life,
                    )
                )
            elif rule is None:
                rules.append(_Rule(**common, shown=shown, persona=True))
            else:
                rules.append(_Rule(**common, shown=shown, match=rule_matcher(rule, day, analysis)))
        self.rules = rules
        self.order = card.reason_order()
        self.boundary = [
            (rule_matcher(b, day, analysis, unknown=True), outside_text(b.id)) for b in icp.boundary
        ]
        self.persona = persona_matcher(settings.scoring.persona, day)
        self.persona_roles = persona_roles_matcher(settings.scoring.persona, day)

    def _age(self, rule: _Rule, signals: Sequence[tuple[str, str | None, int]]) -> int | None:
        """Days since the freshest signal of ``rule`` inside its window, or None."""
        start, end = rule.window
        best: int | None = None
        for kind, detail, age in signals:
            if kind != rule.signal or not start <= age <= end:
                continue
            if rule.details is not None and _kind(detail) not in rule.details:
                continue
            if best is None or age < best:
                best = age
        return best

    def score(
        self,
        account: Mapping[str, Any],
        signals: Iterable[Signal] = (),
        contacts: Iterable[Contact] = (),
    ) -> dict[str, Any]:
        """The compiled SELECT's output row for ``account`` (a row of the input layout),
        with its signals and contacts: sub-scores, score, fit, intent, tier, route, win
        probability and reasons (``account_key`` as the account gives it)."""
        day = self.day
        dated = [
            (kind, detail, (day - _day(when)).days)
            for kind, detail, when in signals
            if when is not None and _day(when) <= day
        ]
        subs = dict(self.base)
        log_odds = self.intercept
        excluded = False
        pieces: list[str | None] = []
        for rule in self.rules:
            if rule.signal is not None:
                age = self._age(rule, dated)
                points = 0
                if age is not None:
                    points = next((v for last, v in rule.steps if age <= last), 0)
                    given = "+" if points > 0 else ""
                    pieces.append(
                        f"{rule.text} {age} days ago ({given}{points})" if points else None
                    )
                else:
                    pieces.append(None)
                if rule.weight:
                    if age is None:
                        model_input = 0.0
                    elif rule.half_life is None:
                        model_input = 1.0
                    else:
                        model_input = 0.5 ** (float(age - rule.window[0]) / rule.half_life)
                    log_odds += rule.weight * model_input
            else:
                shown = rule.shown
                if rule.persona and self.persona_roles is not None:
                    held = self.persona_roles(contacts)  # the reason names the role held
                    hit = bool(held)
                    shown = persona_text(held) + (f" ({rule.points:+d})" if rule.points else "")
                else:
                    hit = self.persona(contacts) if rule.persona else rule.match(account)  # type: ignore[misc]
                points = rule.points if hit else 0
                pieces.append(shown if hit else None)
                if hit and rule.exclusion:
                    excluded = True
                if rule.weight:
                    log_odds += rule.weight * (1 if hit else 0)
            subs[rule.dimension] += points
        score = sum(subs[d] for d in DIMENSIONS)
        fit = (
            math.floor(100 * sum(subs[d] for d in FIT_DIMENSIONS) / self.fit_max + 0.5)
            if self.fit_max
            else 0
        )
        intent = (
            math.floor(100 * subs["behavioral"] / self.intent_max + 0.5) if self.intent_max else 0
        )
        inside = [(match(account), outside) for match, outside in self.boundary]
        tier = next((t for t, least in self.tiers if score >= least), "D")
        if excluded:
            route = "never"
        elif not all(ok for ok, _ in inside):
            route = "disqualify"
        else:
            band = "high" if fit >= self.fit_high else "medium" if fit >= self.fit_low else "low"
            cell = f"{band}/{'high' if intent >= self.intent_high else 'low'}"
            route = self.matrix.get(cell, "disqualify")
        positive: list[str] = []
        negative: list[str] = []
        for j in self.order:
            piece = pieces[j]
            if piece is None:
                continue
            rule = self.rules[j]
            if rule.points > 0:
                positive.append(piece)
            elif rule.points < 0 or rule.exclusion:
                negative.append(piece)
        negative += [outside for ok, outside in inside if not ok]
        return {
            "account_key": account.get("account_key"),
            "fit": fit,
            "intent": intent,
            "score": score,
            **subs,
            "tier": tier,
            "route": route,
            "win_probability": rounded(1 / (1 + math.exp(-log_odds)), 4),
            "top_reasons": SEPARATOR.join(positive),
            "negative_reasons": SEPARATOR.join(negative),
        }


def rounded(value: float, digits: int) -> float:
    """``value`` to ``digits`` decimals as SQL's ROUND gives it: the nearest, and an exact
    tie away from zero (Python's ``round`` takes a tie to the even digit).

    >>> rounded(0.03125, 4), round(0.03125, 4), rounded(-0.03125, 4), rounded(0.12344, 4)
    (0.0313, 0.0312, -0.0313, 0.1234)
    """
    scale: int = 10**digits
    scaled = value * scale
    if abs(scaled) % 1 == 0.5 and Fraction(value) * scale % 1 == Fraction(1, 2):
        return math.copysign(math.floor(abs(scaled)) + 1, value) / scale
    return round(value, digits)


def sourced(reasons: str, evidence: Evidence) -> str:
    """``reasons`` (joined by the separator) with each reason that ``evidence`` names
    followed by its source in parentheses, before its points: the Python side of
    icpkit.enrich.evidence's worded reasons (the first entry whose reason matches wins)."""
    if not evidence or not reasons:
        return reasons
    out = []
    for piece in reasons.split(SEPARATOR):
        for said, source in evidence:
            if piece == said or piece.startswith(said + " ("):
                piece = f"{said} ({source}){piece[len(said) :]}"
                break
        out.append(piece)
    return SEPARATOR.join(out)
