"""The scorecard compiled to one SQL SELECT, for DuckDB here and Spark or a warehouse there.

The statement is written once in DuckDB's dialect, parsed by sqlglot (so a mistake fails
here, not in someone's warehouse) and generated in the target dialect. It only uses what
every engine computes the same way: integer day differences, comparisons, CASE, string
concatenation, array membership, and points looked up from precomputed decay steps, so no
engine rounds a float into a score.

Input tables (names configurable):

- accounts: ``account_key`` plus the columns the ICP reads: ``employees``, ``revenue``,
  ``industry``, ``country``, ``funding_stage``, ``founded_year``, ``technologies`` (an array
  of tool names) and one column per unmapped field the ICP uses (``extra:Time Zone`` reads
  column ``Time Zone``);
- signals: ``account_key``, ``signal_type``, ``detail``, ``observed_at``;
- contacts (only with a buyer persona): ``account_key``, ``seniority``, ``department``,
  ``job_title``, ``created_at``.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import sqlglot

from icpkit.analysis.frame import DETAIL_SQL
from icpkit.config import Settings
from icpkit.engines.features import condition_sql, persona_sql
from icpkit.engines.score import outside_text, reason_text
from icpkit.engines.scorecard import (
    RulePoints,
    Scorecard,
    build_scorecard,
    decay_steps,
)
from icpkit.icp.model import ICP, Criterion, Exclusion, IntentSignal
from icpkit.store.db import identifier, literal
from icpkit.vocabulary import DIMENSIONS, FIT_DIMENSIONS

DIALECTS = ("duckdb", "spark", "postgres", "snowflake", "bigquery")
# Dialects whose CONCAT_WS skips NULL arguments.
SKIPS_NULLS = ("duckdb", "spark", "postgres")
OUTPUT_COLUMNS = (
    "account_key",
    "fit",
    "intent",
    "score",
    *DIMENSIONS,
    "tier",
    "route",
    "win_probability",
    "top_reasons",
    "negative_reasons",
)
SEPARATOR = "; "


@dataclass(frozen=True)
class Tables:
    """Where the compiled SELECT reads its inputs."""

    accounts: str = "accounts"
    signals: str = "signals"
    contacts: str = "contacts"


def compile_scorecard(
    icp: ICP,
    settings: Settings,
    *,
    dialect: str = "duckdb",
    tables: Tables | None = None,
    as_of: dt.date | None = None,
    keep: tuple[str, ...] = (),
    pretty: bool = True,
) -> str:
    """One SELECT scoring every row of the accounts table with ``icp``'s scorecard as of
    ``as_of`` (default: the engine's current date); ``keep`` columns pass through first."""
    if dialect not in DIALECTS:
        raise ValueError(f"unknown dialect {dialect!r}; one of {', '.join(DIALECTS)}")
    card = build_scorecard(icp, settings.scoring)
    sql = _duckdb_sql(card, icp, settings, tables or Tables(), as_of, keep, dialect)
    tree = sqlglot.parse_one(sql, read="duckdb")
    return tree.sql(dialect=dialect, pretty=pretty)


def _duckdb_sql(
    card: Scorecard,
    icp: ICP,
    settings: Settings,
    tables: Tables,
    as_of: dt.date | None,
    keep: tuple[str, ...],
    dialect: str,
) -> str:
    day = f"CAST({literal(as_of.isoformat())} AS DATE)" if as_of else "CURRENT_DATE"
    analysis = settings.analysis
    rules = card.rules
    names = {id(rp): f"r{j}" for j, rp in enumerate(rules)}

    # 1. the age of each intent signal's freshest occurrence inside its window
    ages = []
    for rp in rules:
        rule = rp.scored.rule
        if isinstance(rule, IntentSignal):
            start, end = rule.window_days
            conditions = [
                f"s.signal_type = {literal(rule.signal)}",
                f"s.age BETWEEN {start} AND {end}",
            ]
            if rule.detail_in:
                conditions.append(f"s.kind IN ({', '.join(literal(d) for d in rule.detail_in)})")
            ages.append(
                f"MIN(CASE WHEN {' AND '.join(conditions)} THEN s.age END) AS age_{names[id(rp)]}"
            )
    signal_cte = ""
    signal_join = ""
    if ages:
        kind = DETAIL_SQL.replace("s.detail", "detail")
        signal_cte = f"""sig AS (
            SELECT s.account_key, {", ".join(ages)}
            FROM (SELECT account_key, signal_type, {kind} AS kind,
                         DATE_DIFF('day', CAST(observed_at AS DATE), {day}) AS age
                  FROM {tables.signals}
                  WHERE CAST(observed_at AS DATE) <= {day}) AS s
            GROUP BY s.account_key
        ),"""
        signal_join = "LEFT JOIN sig ON sig.account_key = a.account_key"
    persona = persona_sql(settings.scoring.persona)
    persona_cte = ""
    if any(rp.scored.rule is None for rp in rules) and persona is not None:
        # A join rather than EXISTS: Spark allows subquery predicates only in filters.
        persona_cte = f"""pc AS (
            SELECT p.account_key, MAX(CASE WHEN {persona} THEN 1 ELSE 0 END) AS matches
            FROM {tables.contacts} AS p
            WHERE p.created_at IS NULL OR CAST(p.created_at AS DATE) <= {day}
            GROUP BY p.account_key
        ),"""
        signal_join += " LEFT JOIN pc ON pc.account_key = a.account_key"

    # 2. what each account matches
    where = {id(item): f"{name} {item.id}" for name, item in _indexed(icp)}
    matched = [f"a.{identifier(k)} AS {identifier(k)}" for k in keep]
    matched.append("a.account_key AS account_key")
    for rp in rules:
        rule, name = rp.scored.rule, names[id(rp)]
        if isinstance(rule, Criterion | Exclusion):
            cond = condition_sql(rule, analysis, where[id(rule)], as_of=day, extra_columns=True)
            matched.append(f"({cond}) AS m_{name}")
        elif isinstance(rule, IntentSignal):
            matched.append(f"sig.age_{name} AS age_{name}")
        else:
            matched.append(f"COALESCE(pc.matches, 0) = 1 AS m_{name}")
    for i, b in enumerate(icp.boundary):
        cond = condition_sql(b, analysis, where[id(b)], unknown=True, as_of=day, extra_columns=True)
        matched.append(f"({cond}) AS inside_{i}")

    # 3. points per rule
    points = []
    for rp in rules:
        rule, name = rp.scored.rule, names[id(rp)]
        if isinstance(rule, IntentSignal):
            start, end = rule.window_days
            steps = decay_steps(rp.points, start, end, card.half_lives.get(rp.id))
            whens = " ".join(f"WHEN age_{name} <= {last} THEN {value}" for last, value in steps)
            points.append(f"CASE WHEN age_{name} IS NULL THEN 0 {whens} ELSE 0 END AS p_{name}")
        else:
            points.append(f"CASE WHEN m_{name} THEN {rp.points} ELSE 0 END AS p_{name}")

    # 4. sub-scores, fit, intent, score
    subs = []
    for d in DIMENSIONS:
        terms = [f"p_{names[id(rp)]}" for rp in rules if rp.dimension == d]
        subs.append(f"{' + '.join([str(card.base[d]), *terms])} AS {d}")
    fit_points = " + ".join(FIT_DIMENSIONS)
    fit = (
        f"CAST(FLOOR(CAST(100 * ({fit_points}) AS DOUBLE) / {card.fit_max} + 0.5) AS INTEGER)"
        if card.fit_max
        else "0"
    )
    intent = (
        f"CAST(FLOOR(CAST(100 * behavioral AS DOUBLE) / {card.intent_max} + 0.5) AS INTEGER)"
        if card.intent_max
        else "0"
    )
    excluded = [f"m_{names[id(rp)]}" for rp in rules if rp.scored.list == "exclusions"]
    inside = [f"inside_{i}" for i in range(len(icp.boundary))]
    linear = " + ".join(
        [repr(card.intercept)]
        + [f"{rp.weight!r} * {_model_input(rp, names[id(rp)], card)}" for rp in rules if rp.weight]
    )

    # 5. tier, route, reasons
    t = card.tiers
    tier = (
        f"CASE WHEN score >= {_at_least(t['A'])} THEN 'A' WHEN score >= {_at_least(t['B'])} "
        f"THEN 'B' WHEN score >= {_at_least(t['C'])} THEN 'C' ELSE 'D' END"
    )
    r = card.routing
    # Bands as numeric conditions: comparing numbers is cheaper than building band labels.
    high, low, hot = _at_least(card.fit_high), _at_least(card.fit_low), _at_least(card.intent_high)
    fit_band = {
        "high": f"fit >= {high}",
        "medium": f"fit >= {low} AND fit < {high}",
        "low": f"fit < {low}",
    }
    intent_band = {"high": f"intent >= {hot}", "low": f"intent < {hot}"}
    cells = " ".join(
        f"WHEN {fit_band[cell.split('/')[0]]} AND {intent_band[cell.split('/')[1]]} "
        f"THEN {literal(target)}"
        for cell, target in r.matrix.items()
    )
    route = (
        f"CASE WHEN is_excluded THEN 'never' WHEN NOT is_inside THEN 'disqualify' {cells} "
        "ELSE 'disqualify' END"
    )
    positive, negative = [], []
    for j in card.reason_order():
        rp = rules[j]
        rule, name = rp.scored.rule, names[id(rp)]
        piece = _reason_piece(rp.points, rule, name)
        if rp.points > 0:
            positive.append(piece)
        elif rp.points < 0 or rp.scored.list == "exclusions":
            negative.append(piece)
    for i, b in enumerate(icp.boundary):
        negative.append(f"CASE WHEN NOT inside_{i} THEN {literal(outside_text(b.id))} END")

    def joined(pieces: list[str]) -> str:
        if not pieces:
            return "''"
        if dialect in SKIPS_NULLS:
            return f"CONCAT_WS({literal(SEPARATOR)}, {', '.join(pieces)})"
        # Elsewhere CONCAT_WS is missing (BigQuery) or keeps NULLs as '' (Snowflake): each
        # piece carries its separator and the first one is cut off.
        parts = ", ".join(f"COALESCE(CONCAT({literal(SEPARATOR)}, {p}), '')" for p in pieces)
        return f"SUBSTRING(CONCAT({parts}, ''), {len(SEPARATOR) + 1})"

    kept = "".join(f"{identifier(k)}, " for k in keep)
    return f"""
    WITH {signal_cte}{persona_cte}
    matched AS (
        SELECT {", ".join(matched)}
        FROM {tables.accounts} AS a {signal_join}
    ),
    pointed AS (
        SELECT *, {", ".join(points)} FROM matched
    ),
    summed AS (
        SELECT *, {", ".join(subs)} FROM pointed
    ),
    scored AS (
        SELECT *,
               {" + ".join(DIMENSIONS)} AS score,
               {fit} AS fit,
               {intent} AS intent,
               {" OR ".join(excluded) if excluded else "FALSE"} AS is_excluded,
               {" AND ".join(inside) if inside else "TRUE"} AS is_inside,
               {linear} AS log_odds
        FROM summed
    )
    SELECT {kept}account_key, fit, intent, score,
           {", ".join(DIMENSIONS)},
           {tier} AS tier,
           {route} AS route,
           ROUND(1 / (1 + EXP(-log_odds)), 4) AS win_probability,
           {joined(positive)} AS top_reasons,
           {joined(negative)} AS negative_reasons
    FROM scored
    """


def _at_least(threshold: float) -> int:
    """``x >= threshold`` for a whole-number ``x`` as ``x >= n``: integers compare faster
    than a decimal cast in every engine, with the same answer."""
    return math.ceil(threshold)


def _indexed(icp: ICP) -> list[tuple[str, Criterion | Exclusion | IntentSignal]]:
    out: list[tuple[str, Criterion | Exclusion | IntentSignal]] = []
    for name in ("boundary", "fit", "exclusions", "intent"):
        out += [(f"{name}[{i}]", item) for i, item in enumerate(getattr(icp, name))]
    return out


def _model_input(rp: RulePoints, name: str, card: Scorecard) -> str:
    """The model's input for a rule: 1/0 for a match, the decay weight for a signal."""
    rule = rp.scored.rule
    if isinstance(rule, IntentSignal):
        start = rule.window_days[0]
        life = card.half_lives.get(rule.id)
        if life is None:
            return f"CASE WHEN age_{name} IS NULL THEN 0 ELSE 1 END"
        return (
            f"CASE WHEN age_{name} IS NULL THEN 0 "
            f"ELSE POWER(0.5, CAST(age_{name} - {start} AS DOUBLE) / {life!r}) END"
        )
    return f"CASE WHEN m_{name} THEN 1 ELSE 0 END"


def _reason_piece(points: int, rule: Criterion | Exclusion | IntentSignal | None, name: str) -> str:
    """SQL for one reason, NULL when it does not apply."""
    if isinstance(rule, IntentSignal):
        text = reason_text(rule)
        return (
            f"CASE WHEN p_{name} <> 0 THEN CONCAT({literal(text + ' ')}, "
            f"CAST(age_{name} AS VARCHAR), ' days ago (', "
            f"CASE WHEN p_{name} > 0 THEN '+' ELSE '' END, CAST(p_{name} AS VARCHAR), ')') END"
        )
    text = reason_text(rule)
    shown = f"{text} ({points:+d})" if points else text
    return f"CASE WHEN m_{name} THEN {literal(shown)} END"
