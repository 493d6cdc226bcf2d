"""Each ICP rule evaluated for each scored entity, in SQL over the workspace store.

An entity is an account seen on a day (``as_of``): a closed deal on the day it was created
when the model learns, a prospect today when it is scored. Fit rules and exclusions give
1 or 0; an intent signal gives the age in days of the freshest matching signal inside its
window (NaN when none), so decay can be applied and learned outside SQL.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb
import numpy as np

from icpkit.analysis.history import date_values
from icpkit.attributes import (
    DETAIL_SQL,
    Context,
    definition_of,
    names_help,
    number_sql,
    numeric_names,
)
from icpkit.config import AnalysisSettings, PersonaSettings
from icpkit.errors import IcpkitError
from icpkit.icp.model import ICP, Criterion, Exclusion, IntentSignal, format_number
from icpkit.store.db import literal

ENTITIES = "score_entities"


class ScoringError(IcpkitError):
    """The ICP cannot be scored as written; the message names the rule and what is wrong."""


@dataclass(frozen=True)
class ScoredRule:
    """A rule of the ICP as the scorecard sees it: where it sits and what it is."""

    list: str  # 'fit', 'exclusions', 'intent' or 'persona'
    rule: Criterion | Exclusion | IntentSignal | None  # None: the persona

    @property
    def id(self) -> str:
        return self.rule.id if self.rule is not None else "persona"


@dataclass
class Features:
    """Rules evaluated per entity: ``matches[:, j]`` is 1/0 for fit rules, exclusions and the
    persona, and ``ages[:, j]`` the signal age in days for intent rules (NaN: none)."""

    rules: list[ScoredRule]
    matches: np.ndarray
    ages: np.ndarray
    outside: list[tuple[str, np.ndarray]]  # boundary rule id, entities that fail it
    # A persona of roles: its (seniority, department) roles in order, and per entity which
    # of them a matching contact holds (the persona's reason names them).
    persona_roles: list[tuple[str, str]] = field(default_factory=list)
    persona_matched: np.ndarray | None = None

    @property
    def n(self) -> int:
        return int(self.matches.shape[0])


def condition_sql(
    rule: Criterion | Exclusion,
    settings: AnalysisSettings,
    where: str,
    unknown: bool = False,
    *,
    as_of: str = "e.as_of",
    extra_columns: bool = False,
) -> str:
    """SQL that is true when an account (alias ``a``) matches ``rule`` on the day ``as_of``;
    an unknown value gives ``unknown`` (no match for a criterion, inside for a boundary)."""
    fallback = "true" if unknown else "false"
    attribute = rule.attribute
    if isinstance(rule, Criterion) and rule.missing:
        return unknown_sql(attribute, settings, where, as_of=as_of, extra_columns=extra_columns)
    ctx = Context(as_of=as_of, extra_columns=extra_columns)
    if rule.min is not None or rule.max is not None:
        column = number_sql(attribute, ctx)
        if column is None:
            raise ScoringError(
                f"{where}: attribute {attribute!r} has no numeric value to compare with "
                f"min/max; numeric attributes: {', '.join(sorted(numeric_names()))}"
            )
        parts = []
        if rule.min is not None:
            parts.append(f"{column} >= {format_number(rule.min)}")
        if rule.max is not None:
            parts.append(f"{column} <= {format_number(rule.max)}")
        return f"coalesce({' AND '.join(parts)}, {fallback})"
    definition = definition_of(attribute)
    if definition is None:
        raise ScoringError(
            f"{where}: unknown attribute {attribute!r}; known: {names_help(analyzed=False)}"
        )
    condition = definition.condition_sql(attribute, rule.values or [], settings, ctx, fallback)
    if condition is None:
        numeric = definition.number_sql(attribute, ctx) is not None
        raise ScoringError(
            f"{where}: attribute {attribute!r} has no values a rule can list; "
            + ("compare it with min/max" if numeric else "write it as an intent signal")
        )
    return condition


def unknown_sql(
    attribute: str,
    settings: AnalysisSettings,
    where: str,
    *,
    as_of: str = "e.as_of",
    extra_columns: bool = False,
) -> str:
    """SQL true when an account's value of ``attribute`` is unknown: the Missing bin, the
    same accounts the analysis labels ``(missing)`` (the definition says which)."""
    definition = definition_of(attribute)
    ctx = Context(as_of=as_of, extra_columns=extra_columns)
    sql = None if definition is None else definition.unknown_sql(attribute, settings, ctx)
    if sql is not None:
        return sql
    raise ScoringError(
        f"{where}: unknown attribute {attribute!r}; known: {names_help(analyzed=False)}"
    )


def signal_age_sql(signal: IntentSignal) -> str:
    """SQL aggregate over the rows of :func:`signal_rows_sql` (alias ``s``): age in days of
    the freshest signal matching ``signal`` inside its window."""
    return f"min(s.age) FILTER (WHERE {_signal_condition(signal)})"


def _signal_condition(signal: IntentSignal) -> str:
    """SQL over a row of :func:`signal_rows_sql` (alias ``s``): true when it matches
    ``signal`` inside its window."""
    start, end = signal.window_days
    conditions = [f"s.signal_type = {literal(signal.signal)}", f"s.age BETWEEN {start} AND {end}"]
    if signal.detail_in:
        conditions.append(f"s.kind IN ({', '.join(literal(d) for d in signal.detail_in)})")
    return " AND ".join(conditions)


def signal_rows_sql(signals: list[IntentSignal], table: str = "signals") -> str:
    """SQL of the rows :func:`signal_age_sql` reads: each signal of ``signals``' types in
    ``table`` seen by an entity of ``score_entities`` on or before its day, with its age in
    days and its kind of detail (``DETAIL_SQL``, read once per signal, not once per rule)."""
    types = ", ".join(sorted({literal(s.signal) for s in signals}))
    return f"""SELECT e.entity_id, s.signal_type, s.kind,
                      date_diff('day', s.day, CAST(e.as_of AS DATE)) AS age
               FROM {ENTITIES} e
               JOIN (SELECT s.account_key, CAST(s.observed_at AS DATE) AS day, s.signal_type,
                            {DETAIL_SQL} AS kind
                     FROM {table} s WHERE s.signal_type IN ({types})) s
                 ON s.account_key = e.account_key AND s.day <= CAST(e.as_of AS DATE)"""


def persona_sql(persona: PersonaSettings) -> str | None:
    """SQL over contacts (alias ``p``) true for a contact matching the buyer persona."""
    parts = []
    if persona.seniorities:
        parts.append(
            f"lower(p.seniority) IN ({', '.join(literal(s.lower()) for s in persona.seniorities)})"
        )
    if persona.departments:
        parts.append(
            f"lower(p.department) IN ({', '.join(literal(d.lower()) for d in persona.departments)})"
        )
    if persona.titles:
        words = " OR ".join(
            f"strpos(lower(p.job_title), {literal(t.lower())}) > 0" for t in persona.titles
        )
        parts.append(f"({words})")
    if persona.roles:
        parts.append(f"({' OR '.join(role_sql(persona))})")
    if not parts:
        return None
    return " AND ".join(parts)


def role_sql(persona: PersonaSettings) -> list[str]:
    """SQL over contacts (alias ``p``) per role of the persona, in its order: true for a
    contact holding that role (the reason names the role matched)."""
    return [
        f"(lower(p.seniority) = {literal(r.seniority.lower())} AND "
        f"lower(p.department) = {literal(r.department.lower())})"
        for r in persona.roles
    ]


def scored_rules(icp: ICP, persona: PersonaSettings | None = None) -> list[ScoredRule]:
    """The rules that carry points, in a stable order: fit, exclusions, intent, persona."""
    rules = [ScoredRule("fit", r) for r in icp.fit]
    rules += [ScoredRule("exclusions", r) for r in icp.exclusions]
    rules += [ScoredRule("intent", r) for r in icp.intent]
    if persona is not None and persona_sql(persona) is not None:
        rules.append(ScoredRule("persona", None))
    return rules


def compute_features(
    con: duckdb.DuckDBPyConnection,
    icp: ICP,
    settings: AnalysisSettings,
    *,
    persona: PersonaSettings | None = None,
    accounts: str = "accounts",
    signals: str = "signals",
    contacts: str = "contacts",
    attributes_key: str = "account_key",
    point_in_time: bool = False,
    dated_table: str | None = None,
) -> Features:
    """Evaluate every rule for each row of the temp table ``score_entities(entity_id,
    account_key, as_of)``; entity ids must be 0..n-1 (rows come back in that order). The
    account's attributes are read by the entity's ``attributes_key`` column. With
    ``point_in_time`` (deals in the past) technologies and employees are those of each
    entity's day, from the dated history in ``signals`` (see icpkit.analysis.history), as
    the analysis frame has them; otherwise as in ``accounts``. ``dated_table``: a table holding
    them already dated per entity, numbered as the entities are (``deal_no``: the frame's
    prepared ``closed``, whose deals are the entities, icpkit.learn.points.closed_deals)."""
    rules = scored_rules(icp, persona)
    n = int(con.execute(f"SELECT count(*) FROM {ENTITIES}").fetchall()[0][0])
    # Held column by column (Fortran order): each rule's column is filled, and read when the
    # deals are grouped by their inputs, as one contiguous array.
    matches = np.zeros((len(rules), n), dtype=np.float64).T
    ages = np.full((len(rules), n), np.nan).T
    where = {
        id(item): f"{name}[{i}] {item.id}"
        for name in ("fit", "exclusions", "boundary", "intent")
        for i, item in enumerate(getattr(icp, name))
    }

    static = [
        (j, condition_sql(r.rule, settings, where[id(r.rule)]))
        for j, r in enumerate(rules)
        if isinstance(r.rule, Criterion | Exclusion)
    ]
    boundary = [
        (b.id, condition_sql(b, settings, where[id(b)], unknown=True)) for b in icp.boundary
    ]
    columns = [sql for _, sql in static] + [f"NOT ({sql})" for _, sql in boundary]
    if columns:
        select = ", ".join(f"{sql} AS c{k}" for k, sql in enumerate(columns))
        source = f"{accounts} a ON a.account_key = e.{attributes_key}"
        # Each entity's values as of its day: read from the dated table as they are joined
        # (not copied to a table first), else dated here.
        as_of_day = (
            f"""(SELECT e.entity_id AS key, e.{attributes_key} AS account_key,
                        d.technologies, d.employees
                 FROM {ENTITIES} e JOIN {dated_table} d ON d.deal_no = e.entity_id)"""
            if dated_table is not None
            else "entity_dated"
        )
        if point_in_time and dated_table is None:
            con.execute(
                f"""CREATE OR REPLACE TEMP TABLE entity_dated AS
                    SELECT e.entity_id AS key, e.{attributes_key} AS account_key,
                           CAST(e.as_of AS DATE) AS day, x.technologies, x.employees
                    FROM {ENTITIES} e JOIN {accounts} x ON x.account_key = e.{attributes_key}"""
            )
            date_values(con, "entity_dated", accounts=accounts, signals=signals)
        if point_in_time:
            source = f"""(SELECT d.key AS dated_entity,
                                 x.* EXCLUDE (technologies, employees), d.technologies, d.employees
                          FROM {as_of_day} d JOIN {accounts} x ON x.account_key = d.account_key) a
                         ON a.dated_entity = e.entity_id"""
        result = con.execute(
            f"""SELECT e.entity_id, {select} FROM {ENTITIES} e LEFT JOIN {source}"""
        ).fetchnumpy()
        order = np.asarray(result["entity_id"], dtype=np.int64)
        for k, (j, _) in enumerate(static):
            matches[order, j] = np.asarray(result[f"c{k}"], dtype=bool)
        outside = []
        for k, (rule_id, _) in enumerate(boundary, start=len(static)):
            fails = np.zeros(n, dtype=bool)
            fails[order] = np.asarray(result[f"c{k}"], dtype=bool)
            outside.append((rule_id, fails))
    else:
        outside = []

    dated = [(j, r.rule) for j, r in enumerate(rules) if isinstance(r.rule, IntentSignal)]
    if dated:
        select = ", ".join(f"{signal_age_sql(rule)} AS s{k}" for k, (_, rule) in enumerate(dated))
        rows = signal_rows_sql([rule for _, rule in dated], signals)
        # Only rows some rule matches are grouped: an entity none matches keeps NaN ages.
        matched = " OR ".join(f"({_signal_condition(rule)})" for _, rule in dated)
        result = con.execute(
            f"SELECT s.entity_id, {select} FROM ({rows}) s WHERE {matched} GROUP BY s.entity_id"
        ).fetchnumpy()
        order = np.asarray(result["entity_id"], dtype=np.int64)
        for k, (j, _) in enumerate(dated):
            column = result[f"s{k}"]
            values = np.asarray(
                np.ma.filled(column.astype(np.float64), np.nan)
                if isinstance(column, np.ma.MaskedArray)
                else column,
                dtype=np.float64,
            )
            ages[order, j] = values
            matches[order, j] = ~np.isnan(values)

    roles: list[tuple[str, str]] = []
    held = None
    if rules and rules[-1].list == "persona" and persona is not None:
        condition = persona_sql(persona)
        roles = [(r.seniority, r.department) for r in persona.roles]
        flags = "".join(
            f", coalesce(bool_or({sql}), false) AS r{k}" for k, sql in enumerate(role_sql(persona))
        )
        result = con.execute(
            f"""SELECT e.entity_id{flags} FROM {ENTITIES} e
                JOIN {contacts} p ON p.account_key = e.account_key
                WHERE ({condition}) AND (p.created_at IS NULL
                     OR CAST(p.created_at AS DATE) <= CAST(e.as_of AS DATE))
                GROUP BY e.entity_id"""
        ).fetchnumpy()
        order = np.asarray(result["entity_id"], dtype=np.int64)
        matches[order, len(rules) - 1] = 1.0
        if roles:
            held = np.zeros((n, len(roles)), dtype=bool)
            for k in range(len(roles)):
                held[order, k] = np.asarray(result[f"r{k}"], dtype=bool)
    return Features(rules, matches, ages, outside, roles, held)


def decay(ages: np.ndarray, start: int, half_life: float | None) -> np.ndarray:
    """Weight of a signal by age: 1 when the window opens, halving every ``half_life`` days
    after; 0 when there is no signal inside the window (NaN age)."""
    weight = np.zeros_like(ages, dtype=np.float64)
    inside = ~np.isnan(ages)
    if half_life is None:
        weight[inside] = 1.0
    else:
        weight[inside] = np.power(0.5, np.maximum(ages[inside] - start, 0.0) / half_life)
    return weight


def design(features: Features, half_lives: dict[str, float | None]) -> np.ndarray:
    """The model's inputs: matches for static rules, decayed weights for intent signals."""
    x = features.matches.copy()
    for j, scored in enumerate(features.rules):
        if isinstance(scored.rule, IntentSignal):
            x[:, j] = decay(
                features.ages[:, j], scored.rule.window_days[0], half_lives.get(scored.id)
            )
    return x
