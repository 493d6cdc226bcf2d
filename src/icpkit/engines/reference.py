"""The test oracle: the scorecard in plain Python, one account at a time.

Every engine (the compiled SQL on DuckDB, PostgreSQL and Spark; the NumPy scoring used while
fitting) is tested against it, account by account (tests/engines). It is written for
clarity, not speed, and nothing in the product calls it: a change to how accounts score
starts here, then the engines follow until the tests agree."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from typing import Any

from icpkit.attributes import attribute_value as registered_value
from icpkit.attributes import definition_of, detail_kind, number
from icpkit.config import AnalysisSettings, PersonaSettings, Settings
from icpkit.engines.score import outside_text, persona_text, reason_text
from icpkit.engines.scorecard import Scorecard, build_scorecard, decay_steps
from icpkit.engines.sql import SEPARATOR
from icpkit.icp.model import ICP, Criterion, Exclusion, IntentSignal
from icpkit.vocabulary import DIMENSIONS, FIT_DIMENSIONS


def _numeric(attribute: str, account: dict[str, Any]) -> float | None:
    """The number a min/max rule on ``attribute`` compares (see icpkit.attributes)."""
    return number(attribute, account)


def attribute_value(name: str, account: dict[str, Any], as_of: dt.date, s: AnalysisSettings) -> str:
    """An account's value of attribute ``name`` on ``as_of``, as the analysis labels it: the
    Python side of the attribute's definition (icpkit.attributes)."""
    return registered_value(name, account, as_of, s)


def matches(
    rule: Criterion | Exclusion,
    account: dict[str, Any],
    as_of: dt.date,
    s: AnalysisSettings,
    unknown: bool = False,
) -> bool:
    """Whether ``account`` matches ``rule``; an unknown value gives ``unknown``, and matches
    the rule on unknown values (``missing``) whatever ``unknown`` says."""
    if isinstance(rule, Criterion) and rule.missing:
        known = definition_of(rule.attribute)
        if known is None:
            raise ValueError(rule.attribute)
        return known.unknown(rule.attribute, account, as_of, s)
    if rule.min is not None or rule.max is not None:
        number = _numeric(rule.attribute, account)
        if number is None:
            return unknown
        return (rule.min is None or number >= rule.min) and (rule.max is None or number <= rule.max)
    definition = definition_of(rule.attribute)
    if definition is None:
        raise ValueError(rule.attribute)
    return definition.matches(rule.attribute, rule.values or [], account, as_of, s, unknown)


def signal_age(
    signal: IntentSignal, signals: Iterable[dict[str, Any]], as_of: dt.date
) -> int | None:
    """Days since the freshest signal matching ``signal`` inside its window, or None."""
    start, end = signal.window_days
    ages = []
    for row in signals:
        day = row["observed_at"]
        day = day.date() if isinstance(day, dt.datetime) else day
        if day > as_of or row["signal_type"] != signal.signal:
            continue
        kind = detail_kind(row.get("detail"))
        if signal.detail_in and kind not in signal.detail_in:
            continue
        age = (as_of - day).days
        if start <= age <= end:
            ages.append(age)
    return min(ages) if ages else None


def persona_roles_held(
    persona: PersonaSettings, contacts: Iterable[dict[str, Any]], as_of: dt.date
) -> list[tuple[str, str]]:
    """The persona's roles, in its order, held by a contact known by ``as_of`` that matches
    the persona (what its reason names)."""
    found = {
        ((c.get("seniority") or "").lower(), (c.get("department") or "").lower())
        for c in contacts
        if persona_match(persona, [c], as_of)
    }
    return [
        (r.seniority, r.department)
        for r in persona.roles
        if (r.seniority.lower(), r.department.lower()) in found
    ]


def persona_match(
    persona: PersonaSettings, contacts: Iterable[dict[str, Any]], as_of: dt.date
) -> bool:
    """Whether any contact, known by ``as_of``, matches the buyer persona."""
    for c in contacts:
        created = c.get("created_at")
        if (
            created is not None
            and (created.date() if isinstance(created, dt.datetime) else created) > as_of
        ):
            continue
        if persona.seniorities and (c.get("seniority") or "").lower() not in [
            x.lower() for x in persona.seniorities
        ]:
            continue
        if persona.departments and (c.get("department") or "").lower() not in [
            x.lower() for x in persona.departments
        ]:
            continue
        if persona.titles and not any(
            t.lower() in (c.get("job_title") or "").lower() for t in persona.titles
        ):
            continue
        if persona.roles and not any(
            (c.get("seniority") or "").lower() == r.seniority.lower()
            and (c.get("department") or "").lower() == r.department.lower()
            for r in persona.roles
        ):
            continue
        if persona.is_set():
            return True
    return False


def score_account(
    card: Scorecard,
    icp: ICP,
    settings: Settings,
    account: dict[str, Any],
    signals: list[dict[str, Any]],
    contacts: list[dict[str, Any]],
    as_of: dt.date,
) -> dict[str, Any]:
    """One account's output row, exactly as the compiled SQL gives it."""
    a = settings.analysis
    points: dict[str, int] = {}
    matched: dict[str, bool] = {}
    ages: dict[str, int | None] = {}
    inputs: dict[str, float] = {}
    for rp in card.rules:
        rule = rp.scored.rule
        if isinstance(rule, IntentSignal):
            age = signal_age(rule, signals, as_of)
            ages[rp.id] = age
            start, end = rule.window_days
            life = card.half_lives.get(rp.id)
            steps = decay_steps(rp.points, start, end, life)
            points[rp.id] = 0 if age is None else next(v for last, v in steps if age <= last)
            inputs[rp.id] = (
                0.0 if age is None else (1.0 if life is None else 0.5 ** ((age - start) / life))
            )
        else:
            hit = (
                persona_match(settings.scoring.persona, contacts, as_of)
                if rule is None
                else matches(rule, account, as_of, a)
            )
            matched[rp.id] = hit
            points[rp.id] = rp.points if hit else 0
            inputs[rp.id] = 1.0 if hit else 0.0
    subs: dict[str, int] = {
        d: card.base[d] + sum(points[rp.id] for rp in card.rules if rp.dimension == d)
        for d in DIMENSIONS
    }
    score = sum(subs.values())
    fit_points = sum(subs[d] for d in FIT_DIMENSIONS)
    fit = math.floor(100 * fit_points / card.fit_max + 0.5) if card.fit_max else 0
    intent = math.floor(100 * subs["behavioral"] / card.intent_max + 0.5) if card.intent_max else 0
    excluded = any(matched.get(rp.id) for rp in card.rules if rp.scored.list == "exclusions")
    inside = [matches(b, account, as_of, a, unknown=True) for b in icp.boundary]
    t = card.tiers
    tier = "A" if score >= t["A"] else "B" if score >= t["B"] else "C" if score >= t["C"] else "D"
    r = card.routing
    band = "high" if fit >= card.fit_high else "medium" if fit >= card.fit_low else "low"
    cell = f"{band}/{'high' if intent >= card.intent_high else 'low'}"
    route = "never" if excluded else "disqualify" if not all(inside) else r.matrix[cell]
    log_odds = card.intercept + sum(rp.weight * inputs[rp.id] for rp in card.rules if rp.weight)
    positive, negative = [], []
    for j in card.reason_order():
        rp = card.rules[j]
        rule = rp.scored.rule
        if isinstance(rule, IntentSignal):
            p = points[rp.id]
            if p == 0:
                continue
            piece = f"{reason_text(rule, float(ages[rp.id]))} ({p:+d})"  # type: ignore[arg-type]
        elif matched[rp.id]:
            text = reason_text(rule)
            if rule is None and settings.scoring.persona.roles:
                text = persona_text(persona_roles_held(settings.scoring.persona, contacts, as_of))
            piece = f"{text} ({rp.points:+d})" if rp.points else text
        else:
            continue
        if rp.points > 0:
            positive.append(piece)
        elif rp.points < 0 or rp.scored.list == "exclusions":
            negative.append(piece)
    negative += [outside_text(b.id) for b, ok in zip(icp.boundary, inside, strict=True) if not ok]
    return {
        "account_key": account["account_key"],
        "fit": fit,
        "intent": intent,
        "score": score,
        **subs,
        "tier": tier,
        "route": route,
        "win_probability": round(1 / (1 + math.exp(-log_odds)), 4),
        "top_reasons": SEPARATOR.join(positive),
        "negative_reasons": SEPARATOR.join(negative),
    }


def score_all(
    icp: ICP,
    settings: Settings,
    accounts: list[dict[str, Any]],
    signals: list[dict[str, Any]],
    contacts: list[dict[str, Any]],
    as_of: dt.date,
) -> list[dict[str, Any]]:
    """Every account's output row, in the order given."""
    card = build_scorecard(icp, settings.scoring)
    by_account: dict[str, list[dict[str, Any]]] = {}
    for row in signals:
        by_account.setdefault(row["account_key"], []).append(row)
    people: dict[str, list[dict[str, Any]]] = {}
    for row in contacts:
        people.setdefault(row["account_key"], []).append(row)
    return [
        score_account(
            card,
            icp,
            settings,
            a,
            by_account.get(a["account_key"], []),
            people.get(a["account_key"], []),
            as_of,
        )
        for a in accounts
    ]
