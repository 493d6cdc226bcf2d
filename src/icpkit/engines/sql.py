"""The scorecard compiled to one SQL SELECT, for DuckDB here and Spark or a warehouse there.

The SELECT is a chain of named stages, each a small function returning a sqlglot expression
(one common table expression each), and a last SELECT of the output columns:

1. ``signal_ages`` (with intent signals): per account, the age in days of the freshest
   occurrence of each intent signal inside its window;
2. ``persona_contacts`` (with a buyer persona): per account, whether a contact matches it;
3. ``matches``: per account, whether it matches each rule (``m_r0`` ...), each intent
   signal's age (``age_r0`` ...) and whether it is inside each boundary (``inside_0`` ...);
4. ``points``: each rule's points (``p_r0`` ...), intent signals' from their decay steps;
5. ``dimensions``: each dimension's sub-score, its base plus its rules' points;
6. ``scores``: the combined score, fit, intent, exclusion, boundary and the model's log-odds;
7. ``routing``: tier, route and win probability;
8. ``reasons``: the top and negative reasons.

Functions are built as DuckDB's parser builds them, and the rule conditions (the attribute
registry's SQL, written in DuckDB's dialect, see icpkit.engines.features) are parsed from
DuckDB, so a mistake fails here, not in someone's warehouse; sqlglot then generates the
target dialect. The SELECT only uses what every engine computes the same way: integer day
differences, comparisons, CASE, string concatenation, array membership, and points looked up
from precomputed decay steps, so no engine rounds a float into a score.

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
from functools import reduce

import sqlglot
from sqlglot import exp

from icpkit.attributes import DETAIL_SQL
from icpkit.config import Settings
from icpkit.engines.features import condition_sql, persona_sql, role_sql
from icpkit.engines.score import outside_text, persona_text, reason_text
from icpkit.engines.scorecard import RulePoints, Scorecard, build_scorecard, decay_steps
from icpkit.icp.model import ICP, Criterion, Exclusion, IntentSignal
from icpkit.vocabulary import DIALECTS, DIMENSIONS, FIT_DIMENSIONS

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
SOURCE = "duckdb"  # the dialect the statement is built in
# The common table expressions of the SELECT, in order; the first two only when needed.
STAGES = (
    "signal_ages",
    "persona_contacts",
    "matches",
    "points",
    "dimensions",
    "scores",
    "routing",
    "reasons",
)


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
    keep: tuple[str | exp.Identifier, ...] = (),
    pretty: bool = True,
) -> str:
    """One SELECT scoring every row of the accounts table with ``icp``'s scorecard as of
    ``as_of`` (default: the engine's current date); ``keep`` columns pass through first."""
    query = scorecard_select(icp, settings, dialect=dialect, tables=tables, as_of=as_of, keep=keep)
    return query.sql(dialect=dialect, pretty=pretty, copy=False)


def scorecard_select(
    icp: ICP,
    settings: Settings,
    *,
    dialect: str = "duckdb",
    tables: Tables | None = None,
    as_of: dt.date | None = None,
    keep: tuple[str | exp.Identifier, ...] = (),
) -> exp.Select:
    """:func:`compile_scorecard`'s SELECT as an expression, to nest in a larger query (the
    chain of several ICPs, icpkit.engines.multi) generated once in ``dialect``."""
    if dialect not in DIALECTS:
        raise ValueError(f"unknown dialect {dialect!r}; one of {', '.join(DIALECTS)}")
    card = build_scorecard(icp, settings.scoring)
    plan = _Plan(card, icp, settings, tables or Tables(), as_of, keep, dialect)
    return _query(plan)


@dataclass(frozen=True)
class _Plan:
    """What the stages read: the scorecard, the ICP it came from, the inputs and the day."""

    card: Scorecard
    icp: ICP
    settings: Settings
    tables: Tables
    as_of: dt.date | None
    keep: tuple[str | exp.Identifier, ...]
    dialect: str

    @property
    def rules(self) -> list[tuple[str, RulePoints]]:
        """Each rule of the scorecard with the suffix of its columns (``r0`` ...)."""
        return [(f"r{j}", rp) for j, rp in enumerate(self.card.rules)]

    @property
    def day(self) -> exp.Expr:
        """The scoring day: ``as_of``, else the engine's current date."""
        if self.as_of is None:
            return exp.CurrentDate()
        return _cast(exp.Literal.string(self.as_of.isoformat()), "DATE")

    @property
    def has_signals(self) -> bool:
        """Whether the scorecard has intent signals (and so reads the signals table)."""
        return any(isinstance(rp.scored.rule, IntentSignal) for rp in self.card.rules)

    @property
    def persona(self) -> str | None:
        """The buyer persona's condition over contacts (alias ``p``) when it scores."""
        if not any(rp.scored.rule is None for rp in self.card.rules):
            return None
        return persona_sql(self.settings.scoring.persona)

    @property
    def persona_roles(self) -> list[tuple[str, str]]:
        """The persona's (seniority, department) roles, in its order, when it scores and
        lists roles (the reason names the one matched); empty otherwise."""
        if self.persona is None:
            return []
        return [(r.seniority, r.department) for r in self.settings.scoring.persona.roles]


def _query(plan: _Plan) -> exp.Select:
    """The stages as common table expressions, and the output columns selected from the last."""
    stages = (
        _signal_ages(plan),
        _persona_contacts(plan),
        _matches(plan),
        _points(plan),
        _dimensions(plan),
        _scores(plan),
        _routing(plan),
        _reasons(plan),
    )
    output = [exp.column(_name(k)) for k in plan.keep] + [exp.column(c) for c in OUTPUT_COLUMNS]
    query = sqlglot.select(*output, copy=False).from_("reasons", copy=False)
    for name, stage in zip(STAGES, stages, strict=True):
        if stage is not None:
            query = query.with_(name, as_=stage, copy=False)
    return query


def _signal_ages(plan: _Plan) -> exp.Select | None:
    """Per account, the age in days of each intent signal's freshest occurrence inside its
    window (``age_r0`` ...); None when the ICP has no intent signals."""
    ages = []
    for name, rp in plan.rules:
        rule = rp.scored.rule
        if not isinstance(rule, IntentSignal):
            continue
        start, end = rule.window_days
        age = exp.column("age", "s")
        conditions: list[exp.Expr] = [
            exp.column("signal_type", "s").eq(exp.Literal.string(rule.signal)),
            age.between(_number(start), _number(end)),
        ]
        if rule.detail_in:
            kinds = [exp.Literal.string(d) for d in rule.detail_in]
            conditions.append(exp.column("kind", "s").isin(*kinds))
        first = exp.Min(this=_case((exp.and_(*conditions, copy=False), age.copy())))
        ages.append(_as(first, f"age_{name}"))
    if not ages:
        return None
    # The registry's detail kind reads ``s.detail``; here it reads the signals table itself.
    kind = _fragment(DETAIL_SQL)
    for column in kind.find_all(exp.Column):
        column.set("table", None)
    observed = _cast(exp.column("observed_at"), "DATE")
    dated = (
        sqlglot.select(
            "account_key",
            "signal_type",
            _as(kind, "kind"),
            _as(_call("DATE_DIFF", exp.Literal.string("day"), observed, plan.day), "age"),
        )
        .from_(_table(plan.tables.signals), copy=False)
        .where(exp.LTE(this=observed.copy(), expression=plan.day), copy=False)
    )
    return (
        sqlglot.select(exp.column("account_key", "s"), *ages, copy=False)
        .from_(dated.subquery("s", copy=False), copy=False)
        .group_by(exp.column("account_key", "s"), copy=False)
    )


def _persona_contacts(plan: _Plan) -> exp.Select | None:
    """Per account, 1 when one of its contacts (known by the scoring day) matches the buyer
    persona, else 0; None without a persona. A join rather than EXISTS: Spark allows subquery
    predicates only in filters."""
    persona = plan.persona
    if persona is None:
        return None
    created = exp.column("created_at", "p")
    match = _case((_fragment(persona), _number(1)), default=_number(0))
    # Per role of the persona, 1 when a matching contact holds it: the reason names it.
    roles = [
        _as(
            exp.Max(
                this=_case((_fragment(f"({persona}) AND {role}"), _number(1)), default=_number(0))
            ),
            f"role_{k}",
        )
        for k, role in enumerate(role_sql(plan.settings.scoring.persona))
    ]
    return (
        sqlglot.select(exp.column("account_key", "p"), _as(exp.Max(this=match), "matches"), *roles)
        .from_(_table(plan.tables.contacts, alias="p"))
        .where(
            exp.or_(
                created.is_(exp.null()),
                exp.LTE(this=_cast(created.copy(), "DATE"), expression=plan.day),
            )
        )
        .group_by(exp.column("account_key", "p"))
    )


def _matches(plan: _Plan) -> exp.Select:
    """Per account (alias ``a``): the kept columns, whether it matches each fit rule,
    exclusion and the persona (``m_r0`` ...), each intent signal's age (``age_r0`` ...) and
    whether it is inside each boundary rule (``inside_0`` ...)."""
    icp, analysis = plan.icp, plan.settings.analysis
    day = plan.day.sql(dialect=SOURCE)  # the registry's conditions are DuckDB text
    where = {id(item): f"{name} {item.id}" for name, item in _indexed(icp)}
    columns: list[exp.Expr] = [_as(exp.column(_name(k), "a"), _name(k)) for k in plan.keep]
    columns.append(_as(exp.column("account_key", "a"), "account_key"))
    for name, rp in plan.rules:
        rule = rp.scored.rule
        if isinstance(rule, Criterion | Exclusion):
            cond = condition_sql(rule, analysis, where[id(rule)], as_of=day, extra_columns=True)
            columns.append(_as(_fragment(cond), f"m_{name}"))
        elif isinstance(rule, IntentSignal):
            columns.append(_as(exp.column(f"age_{name}", "signal_ages"), f"age_{name}"))
        else:
            matched = _call("COALESCE", exp.column("matches", "persona_contacts"), _number(0))
            columns.append(_as(matched.eq(_number(1)), f"m_{name}"))
            for k in range(len(plan.persona_roles)):
                held = _call("COALESCE", exp.column(f"role_{k}", "persona_contacts"), _number(0))
                columns.append(_as(held, f"m_{name}_{k}"))
    for i, b in enumerate(icp.boundary):
        cond = condition_sql(b, analysis, where[id(b)], unknown=True, as_of=day, extra_columns=True)
        columns.append(_as(_fragment(cond), f"inside_{i}"))
    accounts = _table(plan.tables.accounts, alias="a")
    query = sqlglot.select(*columns, copy=False).from_(accounts, copy=False)
    for stage, present in (
        ("signal_ages", plan.has_signals),
        ("persona_contacts", plan.persona is not None),
    ):
        if present:
            key = exp.column("account_key", stage).eq(exp.column("account_key", "a"))
            query = query.join(stage, on=key, join_type="left", copy=False)
    return query


def _points(plan: _Plan) -> exp.Select:
    """Each rule's points (``p_r0`` ...): its points when matched, an intent signal's points
    for its age looked up in its decay steps, else 0."""
    columns = []
    for name, rp in plan.rules:
        rule = rp.scored.rule
        if isinstance(rule, IntentSignal):
            start, end = rule.window_days
            age = exp.column(f"age_{name}")
            steps = decay_steps(rp.points, start, end, plan.card.half_lives.get(rp.id))
            case = _case(
                (age.is_(exp.null()), _number(0)),
                *(
                    (exp.LTE(this=age.copy(), expression=_number(last)), _number(value))
                    for last, value in steps
                ),
                default=_number(0),
            )
        else:
            case = _case((exp.column(f"m_{name}"), _number(rp.points)), default=_number(0))
        columns.append(_as(case, f"p_{name}"))
    return _extend("matches", columns)


def _dimensions(plan: _Plan) -> exp.Select:
    """Each dimension's sub-score: its base plus the points of its rules."""
    columns = []
    for d in DIMENSIONS:
        terms = [exp.column(f"p_{name}") for name, rp in plan.rules if rp.dimension == d]
        columns.append(_as(_sum([_number(plan.card.base[d]), *terms]), d))
    return _extend("points", columns)


def _scores(plan: _Plan) -> exp.Select:
    """The combined score (the sub-scores' sum), fit and intent (0-100 shares of their caps),
    whether an exclusion matched, whether every boundary rule holds, and the log-odds of the
    win probability."""
    card = plan.card
    excluded = [
        exp.column(f"m_{name}") for name, rp in plan.rules if rp.scored.list == "exclusions"
    ]
    inside = [exp.column(f"inside_{i}") for i in range(len(plan.icp.boundary))]
    linear = [
        exp.Mul(this=_number(rp.weight), expression=_model_input(rp, name, card))
        for name, rp in plan.rules
        if rp.weight
    ]
    return _extend(
        "dimensions",
        [
            _as(_sum([exp.column(d) for d in DIMENSIONS]), "score"),
            _as(_share(FIT_DIMENSIONS, card.fit_max), "fit"),
            _as(_share(("behavioral",), card.intent_max), "intent"),
            _as(exp.or_(*excluded) if excluded else exp.false(), "is_excluded"),
            _as(exp.and_(*inside) if inside else exp.true(), "is_inside"),
            _as(_sum([_number(card.intercept), *linear]), "log_odds"),
        ],
    )


def _routing(plan: _Plan) -> exp.Select:
    """The tier (from the score), the route (exclusion, boundary, then the matrix of fit and
    intent bands) and the win probability (from the log-odds)."""
    card = plan.card
    score, fit, intent = exp.column("score"), exp.column("fit"), exp.column("intent")
    tier = _case(
        *((score >= _number(_at_least(card.tiers[t])), _text(t)) for t in ("A", "B", "C")),
        default=_text("D"),
    )
    # Bands as numeric conditions: comparing numbers is cheaper than building band labels.
    high, low = _number(_at_least(card.fit_high)), _number(_at_least(card.fit_low))
    hot = _number(_at_least(card.intent_high))
    fit_band: dict[str, list[exp.Expr]] = {
        "high": [fit >= high],
        "medium": [fit >= low, fit < high],
        "low": [fit < low],
    }
    intent_band = {"high": intent >= hot, "low": intent < hot}
    cells = []
    for cell, target in card.routing.matrix.items():
        fit_cell, intent_cell = cell.split("/")
        cells.append((exp.and_(*fit_band[fit_cell], intent_band[intent_cell]), _text(target)))
    route = _case(
        (exp.column("is_excluded"), _text("never")),
        (exp.not_(exp.column("is_inside")), _text("disqualify")),
        *cells,
        default=_text("disqualify"),
    )
    odds = exp.Paren(
        this=exp.Add(this=_number(1), expression=exp.Exp(this=-exp.column("log_odds")))
    )
    probability = exp.Round(this=_div(_number(1), odds), decimals=_number(4))
    return _extend(
        "scores",
        [
            _as(tier, "tier"),
            _as(route, "route"),
            _as(probability, "win_probability"),
        ],
    )


def _reasons(plan: _Plan) -> exp.Select:
    """The reasons, in the scorecard's order: positive points as top reasons; negative
    points, exclusions and each boundary rule an account is outside of as negative ones."""
    card = plan.card
    suffix = {id(rp): name for name, rp in plan.rules}
    positive, negative = [], []
    for j in card.reason_order():
        rp = card.rules[j]
        if rp.scored.rule is None and plan.persona_roles:
            piece = _persona_piece(rp.points, plan.persona_roles, suffix[id(rp)])
        else:
            piece = _reason_piece(rp.points, rp.scored.rule, suffix[id(rp)])
        if rp.points > 0:
            positive.append(piece)
        elif rp.points < 0 or rp.scored.list == "exclusions":
            negative.append(piece)
    for i, b in enumerate(plan.icp.boundary):
        outside = exp.not_(exp.column(f"inside_{i}"))
        negative.append(_case((outside, _text(outside_text(b.id)))))
    return _extend(
        "routing",
        [
            _as(_joined(positive, plan.dialect), "top_reasons"),
            _as(_joined(negative, plan.dialect), "negative_reasons"),
        ],
    )


def _joined(pieces: list[exp.Expr], dialect: str) -> exp.Expr:
    """The pieces that are not NULL, joined by the separator ('' when there are none)."""
    if not pieces:
        return _text("")
    if dialect in SKIPS_NULLS:
        return _call("CONCAT_WS", _text(SEPARATOR), *pieces)
    # Elsewhere CONCAT_WS is missing (BigQuery) or keeps NULLs as '' (Snowflake): each piece
    # carries its separator, the first one is cut off. The warehouse's own CONCAT is NULL when
    # a piece is (DuckDB's would keep the separator of a reason that does not apply).

    def concat(*args: exp.Expr) -> exp.Expr:
        return exp.func("CONCAT", *args, dialect=dialect)

    parts = [_call("COALESCE", concat(_text(SEPARATOR), p), _text("")) for p in pieces]
    return exp.Substring(this=concat(*parts, _text("")), start=_number(len(SEPARATOR) + 1))


def _reason_piece(
    points: int, rule: Criterion | Exclusion | IntentSignal | None, name: str
) -> exp.Expr:
    """One reason, NULL when it does not apply."""
    text = reason_text(rule)
    if isinstance(rule, IntentSignal):
        given = exp.column(f"p_{name}")
        sign = _case((given > _number(0), _text("+")), default=_text(""))
        told = _call(
            "CONCAT",
            _text(text + " "),
            _cast(exp.column(f"age_{name}"), "VARCHAR"),
            _text(" days ago ("),
            sign,
            _cast(given.copy(), "VARCHAR"),
            _text(")"),
        )
        return _case((exp.NEQ(this=given, expression=_number(0)), told))
    shown = f"{text} ({points:+d})" if points else text
    return _case((exp.column(f"m_{name}"), _text(shown)))


def _persona_piece(points: int, roles: list[tuple[str, str]], name: str) -> exp.Expr:
    """The persona's reason naming the strongest role matched and how many more (one
    literal per case: no string is built in the warehouse), NULL when none matched."""
    held: list[exp.Expr] = [exp.column(f"m_{name}_{k}") for k in range(len(roles))]
    suffix = f" ({points:+d})" if points else ""
    whens = []
    for k in range(len(roles)):
        later = roles[k + 1 :]
        texts = [
            _text(persona_text([roles[k], *later[:more]]) + suffix)
            for more in range(len(later) + 1)
        ]
        if later:
            count = _sum(held[k + 1 :])
            told: exp.Expr = _case(
                *((count.copy().eq(_number(m)), t) for m, t in enumerate(texts)),
            )
        else:
            told = texts[0]
        whens.append((held[k].copy().eq(_number(1)), told))
    return _case(*whens)


def _model_input(rp: RulePoints, name: str, card: Scorecard) -> exp.Expr:
    """The model's input for a rule: 1/0 for a match, the decay weight for a signal."""
    rule = rp.scored.rule
    if not isinstance(rule, IntentSignal):
        return _case((exp.column(f"m_{name}"), _number(1)), default=_number(0))
    age = exp.column(f"age_{name}")
    absent = (age.is_(exp.null()), _number(0))
    life = card.half_lives.get(rule.id)
    if life is None:
        return _case(absent, default=_number(1))
    since = _cast(exp.Sub(this=age, expression=_number(rule.window_days[0])), "DOUBLE")
    weight = exp.Pow(this=_number(0.5), expression=_div(since, _number(life)))
    return _case(absent, default=weight)


def _share(dims: tuple[str, ...], most: int) -> exp.Expr:
    """``dims``' points as a whole-number percentage of ``most`` (0 when ``most`` is 0),
    rounded half up."""
    if not most:
        return _number(0)
    total = _sum([exp.column(d) for d in dims])
    if len(dims) > 1:
        total = exp.paren(total, copy=False)
    hundredfold = exp.Mul(this=_number(100), expression=total)
    ratio = _div(_cast(hundredfold, "DOUBLE"), _number(most))
    return _cast(exp.Floor(this=exp.Add(this=ratio, expression=_number(0.5))), "INTEGER")


def _case(*whens: tuple[exp.Expr, exp.Expr], default: exp.Expr | None = None) -> exp.Case:
    """``CASE WHEN condition THEN value ... ELSE default END`` (NULL without a default)."""
    return exp.Case(ifs=[exp.If(this=when, true=then) for when, then in whens], default=default)


def _extend(source: str, columns: list[exp.Expr]) -> exp.Select:
    """A stage adding ``columns`` to every column of the stage before it."""
    return sqlglot.select(exp.Star(), *columns, copy=False).from_(source, copy=False)


def _at_least(threshold: float) -> int:
    """``x >= threshold`` for a whole-number ``x`` as ``x >= n``: integers compare faster
    than a decimal cast in every engine, with the same answer."""
    return math.ceil(threshold)


def _indexed(icp: ICP) -> list[tuple[str, Criterion | Exclusion | IntentSignal]]:
    out: list[tuple[str, Criterion | Exclusion | IntentSignal]] = []
    for name in ("boundary", "fit", "exclusions", "intent"):
        out += [(f"{name}[{i}]", item) for i, item in enumerate(getattr(icp, name))]
    return out


def _fragment(sql: str) -> exp.Expr:
    """A condition or value the attribute registry writes as DuckDB SQL text."""
    return sqlglot.parse_one(sql, read=SOURCE)


def _call(name: str, *args: exp.Expr) -> exp.Expr:
    """``name(args)`` as DuckDB's parser builds it, so its DuckDB meaning (CONCAT reads NULL
    as '') is what every dialect is generated from."""
    return exp.func(name, *args, dialect=SOURCE)


def _cast(value: exp.Expr, to: str) -> exp.Cast:
    return exp.cast(value, exp.DataType.build(to, dialect=SOURCE))


def _div(numerator: exp.Expr, denominator: exp.Expr) -> exp.Div:
    """``numerator / denominator`` as DuckDB means it: a division that is neither an integer
    division nor a safe one."""
    return exp.Div(this=numerator, expression=denominator, typed=False, safe=False)


def _sum(terms: list[exp.Expr]) -> exp.Expr:
    return reduce(lambda left, right: exp.Add(this=left, expression=right), terms)


def _number(value: float) -> exp.Expr:
    """A numeric literal; a float is written as Python writes it back (no digit lost)."""
    return exp.Literal.number(repr(value))


def _as(value: exp.Expr, name: str | exp.Identifier) -> exp.Expr:
    """``value AS name``; the stages build each expression for one place, so none is copied."""
    return exp.alias_(value, name, copy=False)


def _text(value: str) -> exp.Literal:
    return exp.Literal.string(value)


def _name(column: str | exp.Identifier) -> exp.Identifier:
    """A kept column's name, quoted: it may hold spaces or capitals (one given as an
    identifier keeps its own quoting: several ICPs' chain names its columns as read)."""
    if isinstance(column, exp.Identifier):
        return column.copy()
    return exp.to_identifier(column, quoted=True)


def _table(name: str, alias: str | None = None) -> exp.Expr:
    table = exp.to_table(name, dialect=SOURCE)
    return table.as_(alias) if alias else table
