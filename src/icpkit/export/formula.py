"""The scorecard as a formula over one row of columns, for tools that compute per row
(Clay's JavaScript formulas, a spreadsheet's cell formulas).

The scorecard is turned into a small expression tree once, here, with the compiled SQL's
meaning (icpkit.engines.sql): a rule on an unknown value does not match (a boundary rule
holds), intent points are looked up by the age of the freshest signal inside the window,
fit and intent are shares of their caps rounded half up. Each tool's renderer
(``icpkit.export.javascript``, ``icpkit.export.excel``) writes the same tree in its own
language, so the two can never disagree on what the ICP says.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Literal

from icpkit.attributes import (
    Category,
    ExtraColumn,
    ListCount,
    Number,
    NumericRange,
    Technology,
    definition_of,
    input_columns,
)
from icpkit.attributes.base import Definition
from icpkit.attributes.kinds import Age
from icpkit.attributes.labels import span_labels
from icpkit.config import Settings
from icpkit.engines.scorecard import RulePoints, Scorecard, build_scorecard, decay_steps
from icpkit.errors import IcpkitError
from icpkit.icp.model import ICP, Criterion, Exclusion, IntentSignal
from icpkit.vocabulary import DIMENSIONS, FIT_DIMENSIONS, Dimension

ColumnKind = Literal["number", "text", "list", "date", "flag"]
OUTSIDE = ("never", "disqualify")  # routes that leave an account out of the ICP


class FormulaError(IcpkitError):
    """A rule of the ICP that a row formula cannot express; the message names it."""


@dataclass(frozen=True)
class Column:
    """An input column the formulas read: its name (as the input layout names it), what it
    holds and in words what a person puts there."""

    name: str
    kind: ColumnKind
    about: str


# --- The expression tree ------------------------------------------------------------------


@dataclass(frozen=True)
class Num:
    value: float


@dataclass(frozen=True)
class Text:
    value: str


@dataclass(frozen=True)
class Bool:
    value: bool


@dataclass(frozen=True)
class Blank:
    """True when the column is empty (the value is unknown)."""

    column: Column


@dataclass(frozen=True)
class Value:
    """The column's number (or text, for a text column)."""

    column: Column


@dataclass(frozen=True)
class Count:
    """How many items a list column holds (a known, non-empty column)."""

    column: Column


@dataclass(frozen=True)
class HasItem:
    """Whether a list column holds ``item`` exactly."""

    column: Column
    item: str


@dataclass(frozen=True)
class YearsSince:
    """The scoring day's year minus the column's year (a company's age in whole years)."""

    column: Column


@dataclass(frozen=True)
class OneOf:
    """Whether a text column is one of ``values``, letter case aside: icpkit's labels differ
    by more than case, and ``icp score`` reads 'software' as the label 'Software'."""

    column: Column
    values: tuple[str, ...]


@dataclass(frozen=True)
class Compare:
    op: Literal["<=", ">=", "<", ">", "="]
    left: Expr
    right: Expr


@dataclass(frozen=True)
class All:
    items: tuple[Expr, ...]


@dataclass(frozen=True)
class Any_:
    items: tuple[Expr, ...]


@dataclass(frozen=True)
class Not:
    item: Expr


@dataclass(frozen=True)
class If:
    """``then`` when ``test`` holds, else ``other``; only the branch taken is evaluated."""

    test: Expr
    then: Expr
    other: Expr


@dataclass(frozen=True)
class Sum:
    terms: tuple[Expr, ...]


@dataclass(frozen=True)
class Share:
    """``floor(100 * total / most + 0.5)``: a sub-score as a 0-100 share of its cap."""

    total: Expr
    most: int


@dataclass(frozen=True)
class SignalPoints:
    """An intent signal's points: the age in days of the freshest date of ``column`` inside
    ``[start, end]``, looked up in ``steps`` ((last age, points), see decay_steps); 0 when
    no date is inside the window."""

    column: Column
    start: int
    end: int
    steps: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class Let:
    """``body`` with ``name`` bound to ``value`` (read in ``body`` as ``Var(name)``)."""

    name: str
    value: Expr
    body: Expr


@dataclass(frozen=True)
class Var:
    name: str


Expr = (
    Num
    | Text
    | Bool
    | Blank
    | Value
    | Count
    | HasItem
    | YearsSince
    | OneOf
    | Compare
    | All
    | Any_
    | Not
    | If
    | Sum
    | Share
    | SignalPoints
    | Let
    | Var
)


# --- The scorecard as expressions ---------------------------------------------------------


@dataclass(frozen=True)
class RuleFormula:
    """One rule of the scorecard: where it sits, the column it reads and its points."""

    points: RulePoints
    column: Column
    operator: str
    values: str
    formula: Expr


@dataclass(frozen=True)
class RowFormulas:
    """Every formula of a row: per rule, and for fit, intent, score, tier, route and the
    in-ICP filter; ``columns`` are the inputs they read, ``day`` the scoring day (None: the
    tool's today)."""

    card: Scorecard
    rules: tuple[RuleFormula, ...]
    totals: dict[str, Expr]
    columns: tuple[Column, ...]
    day: dt.date | None


def signal_column(rule: IntentSignal) -> Column:
    """The column holding the dates of an intent signal: 'funding-series-a date'."""
    start = rule.window_days[0]
    which = f"{rule.signal} signal" + (f" ({', '.join(rule.detail_in)})" if rule.detail_in else "")
    older = f" at least {start} days before the scoring day" if start else ""
    return Column(
        f"{rule.id} date",
        "date",
        f"the date (YYYY-MM-DD) of the most recent {which}{older}",
    )


PERSONA = Column("buyer persona", "flag", "true when a contact matches the buyer persona")


def layout_columns() -> list[Column]:
    """The input layout's account columns (icpkit.engines.layout), typed for formulas."""
    kinds: dict[str, ColumnKind] = {}
    for name, sql_type in input_columns().items():
        kinds[name] = (
            "list"
            if sql_type.endswith("[]")
            else "text"
            if sql_type == "VARCHAR"
            else "date"
            if sql_type in ("DATE", "TIMESTAMP")
            else "number"
        )
    about = {
        "list": "tool names separated by ';'",
        "text": "text as icpkit normalizes it",
        "number": "a number",
        "date": "a date (YYYY-MM-DD)",
        "flag": "true or false",
    }
    return [Column(name, kind, about[kind]) for name, kind in kinds.items()]


def row_formulas(icp: ICP, settings: Settings, *, as_of: dt.date | None = None) -> RowFormulas:
    """The scorecard of ``icp`` as expressions over one row (see the module's docstring)."""
    card = build_scorecard(icp, settings.scoring)
    layout = {c.name: c for c in layout_columns()}
    reader = _Reader(layout, settings)
    rules: list[RuleFormula] = []
    for rp in card.rules:
        rule = rp.scored.rule
        if isinstance(rule, IntentSignal):
            column = signal_column(rule)
            start, end = rule.window_days
            steps = decay_steps(rp.points, start, end, card.half_lives.get(rp.id))
            formula: Expr = SignalPoints(column, start, end, tuple(steps))
            operator = f"signal within {start}-{end} days"
            values = ", ".join(rule.detail_in) or rule.signal
        else:
            if rule is None:
                column = PERSONA
                test: Expr = Value(PERSONA)
                operator, values = "is true", ""
            else:
                where = f"{rp.scored.list}[{_position(icp, rule)}] {rule.id}"
                column, test = reader.condition(rule, where, unknown=False)
                operator, values = _operator(rule)
            formula = If(test, Num(rp.points), Num(0))
        rules.append(RuleFormula(rp, column, operator, values, formula))
    inside = [
        reader.condition(b, f"boundary[{i}] {b.id}", unknown=True)
        for i, b in enumerate(icp.boundary)
    ]
    boundary = [test for _, test in inside]
    excluded = [
        r.formula.test
        for r in rules
        if r.points.scored.list == "exclusions" and isinstance(r.formula, If)
    ]
    totals = _totals(card, rules, boundary, excluded)
    used = {r.column.name: r.column for r in rules}
    for column, _ in inside:
        used.setdefault(column.name, column)
    ordered = [c for c in layout.values() if c.name in used]
    ordered += [c for name, c in used.items() if name not in layout]
    return RowFormulas(card, tuple(rules), totals, tuple(ordered), as_of)


def _position(icp: ICP, rule: Criterion | Exclusion) -> int:
    items: list[Criterion] | list[Exclusion] = (
        icp.exclusions if isinstance(rule, Exclusion) else icp.fit
    )
    return next(i for i, item in enumerate(items) if item is rule)


def _operator(rule: Criterion | Exclusion) -> tuple[str, str]:
    """A rule's operator and values as the rules table lists them."""
    if isinstance(rule, Criterion) and rule.missing:
        return "is empty", ""
    if rule.min is not None or rule.max is not None:
        if rule.min is not None and rule.max is not None:
            return "between", f"{rule.min:g} and {rule.max:g}"
        return (">=", f"{rule.min:g}") if rule.min is not None else ("<=", f"{rule.max:g}")
    definition = definition_of(rule.attribute)
    if isinstance(definition, Technology) and rule.attribute == definition.key:
        return "contains any of", "; ".join(rule.values or [])
    return "is one of", "; ".join(rule.values or [])


def _totals(
    card: Scorecard,
    rules: list[RuleFormula],
    boundary: list[Expr],
    excluded: list[Expr],
) -> dict[str, Expr]:
    """Fit, intent, score, tier, route and in-ICP over the rules' points."""

    def points(dimensions: tuple[Dimension, ...]) -> Expr:
        base = sum(card.base[d] for d in DIMENSIONS if d in dimensions)
        terms = [r.formula for r in rules if r.points.dimension in dimensions and r.points.points]
        return Sum((Num(base), *terms)) if terms else Num(base)

    fit_dims = FIT_DIMENSIONS
    intent_dims: tuple[Dimension, ...] = ("behavioral",)
    fit: Expr = Share(points(fit_dims), card.fit_max) if card.fit_max else Num(0)
    intent: Expr = Share(points(intent_dims), card.intent_max) if card.intent_max else Num(0)
    score = points(DIMENSIONS)
    tier: Expr = Text("D")
    for t in ("C", "B", "A"):
        tier = If(Compare(">=", Var("icp_score"), Num(_at_least(card.tiers[t]))), Text(t), tier)
    high, low = Num(_at_least(card.fit_high)), Num(_at_least(card.fit_low))
    hot = Num(_at_least(card.intent_high))
    f, i = Var("icp_fit"), Var("icp_intent")
    bands: dict[str, Expr] = {
        "high": Compare(">=", f, high),
        "medium": All((Compare(">=", f, low), Compare("<", f, high))),
        "low": Compare("<", f, low),
    }
    heat: dict[str, Expr] = {"high": Compare(">=", i, hot), "low": Compare("<", i, hot)}
    route: Expr = Text("disqualify")
    kept: list[Expr] = []  # the matrix's cells that keep an account in the ICP
    for cell, target in reversed(list(card.routing.matrix.items())):
        fit_cell, intent_cell = cell.split("/")
        where = All((bands[fit_cell], heat[intent_cell]))
        route = If(where, Text(target), route)
        if target not in OUTSIDE:
            kept.insert(0, where)
    in_icp: Expr = Any_(tuple(kept)) if kept else Bool(False)
    if boundary:
        route = If(All(tuple(boundary)), route, Text("disqualify"))
        in_icp = If(All(tuple(boundary)), in_icp, Bool(False))
    if excluded:
        route = If(Any_(tuple(excluded)), Text("never"), route)
        in_icp = If(Any_(tuple(excluded)), Bool(False), in_icp)
    # Names bound side by side, none read by another's value: every LET computes them.
    route = Let("icp_fit", fit, Let("icp_intent", intent, route))
    in_icp = Let("icp_fit", fit, Let("icp_intent", intent, in_icp))
    return {
        "fit": fit,
        "intent": intent,
        "score": score,
        "tier": Let("icp_score", score, tier),
        "route": route,
        "in_icp": in_icp,
    }


def _at_least(threshold: float) -> int:
    """``x >= threshold`` for a whole number ``x`` is ``x >= ceil(threshold)`` (as the SQL)."""
    return math.ceil(threshold)


class _Reader:
    """Rules' conditions over the columns, with each attribute definition's meaning."""

    def __init__(self, layout: dict[str, Column], settings: Settings) -> None:
        self.layout = layout
        self.settings = settings.analysis

    def _column(self, name: str, kind: ColumnKind, where: str) -> Column:
        if name in self.layout:
            return self.layout[name]
        if kind == "text":
            return Column(name, "text", "text, as your export holds it")
        raise FormulaError(f"{where}: reads column {name!r}, which the input layout lacks")

    def condition(
        self, rule: Criterion | Exclusion, where: str, *, unknown: bool
    ) -> tuple[Column, Expr]:
        """(the column read, the condition): true when the row matches ``rule``; an empty
        column gives ``unknown`` (False for a rule, True for a boundary)."""
        attribute = rule.attribute
        definition = definition_of(attribute)
        fallback = Bool(unknown)
        column, known = self._known(rule, definition, where)
        if isinstance(rule, Criterion) and rule.missing:
            return column, Blank(column)
        return column, If(Blank(column), fallback, known)

    def _known(
        self, rule: Criterion | Exclusion, definition: Definition | None, where: str
    ) -> tuple[Column, Expr]:
        """The column and the condition on a known (non-empty) value."""
        attribute = rule.attribute
        ranged = rule.min is not None or rule.max is not None
        missing = isinstance(rule, Criterion) and rule.missing
        if isinstance(definition, NumericRange) and definition.field is not None:
            column = self._column(definition.field, "number", where)
            number: Expr = Value(column)
            if ranged or missing:
                return column, _within(number, rule.min, rule.max)
            labels = list(definition.order(attribute, self.settings)[:-1])
            bounds = list(definition.edges(self.settings))  # the bucket edges of its labels
            return column, _buckets(number, bounds, labels, rule.values or [])
        if isinstance(definition, Number):
            column = self._column(definition.field, "number", where)
            return column, _within(Value(column), rule.min, rule.max)
        if isinstance(definition, ListCount):
            column = self._column(definition.field, "list", where)
            count: Expr = Count(column)
            if ranged or missing:
                return column, _within(count, rule.min, rule.max)
            labels = span_labels(definition.bounds, definition.unit)
            return column, _buckets(
                count, [float(b) for b in definition.bounds], labels, rule.values or []
            )
        if isinstance(definition, Age):
            column = self._column(definition.field, "number", where)
            labels = span_labels(definition.bounds, definition.unit)
            bounds = [float(b) for b in definition.bounds]
            return column, _buckets(YearsSince(column), bounds, labels, rule.values or [])
        if isinstance(definition, Technology):
            column = self._column(definition.field, "list", where)
            if attribute == definition.key:
                tools = tuple(HasItem(column, v) for v in rule.values or [])
                return column, Any_(tools) if tools else Bool(False)
            tool = HasItem(column, attribute.removeprefix(definition.prefix or ""))
            values = set(rule.values or [])
            if values >= {"yes", "no"}:
                return column, Bool(True)
            return column, tool if "yes" in values else Not(tool) if "no" in values else Bool(False)
        if isinstance(definition, ExtraColumn):  # unmapped columns and research answers
            column = self._column(definition.column(attribute), "text", where)
            return column, OneOf(column, tuple(rule.values or []))
        if isinstance(definition, Category) and definition.field:
            column = self._column(definition.field, "text", where)
            return column, OneOf(column, tuple(rule.values or []))
        raise FormulaError(
            f"{where}: a rule on {attribute!r} cannot be written as a row formula; "
            "use `icp export dbt` or `icp sql` for this ICP"
        )


def _within(number: Expr, low: float | None, high: float | None) -> Expr:
    """``low <= number <= high`` (either side open)."""
    parts: list[Expr] = []
    if low is not None:
        parts.append(Compare(">=", number, Num(low)))
    if high is not None:
        parts.append(Compare("<=", number, Num(high)))
    if not parts:
        return Bool(True)
    return parts[0] if len(parts) == 1 else All(tuple(parts))


def _buckets(number: Expr, bounds: list[float], labels: list[str], values: list[str]) -> Expr:
    """Whether ``number`` falls in one of the buckets labelled ``values``: bucket k holds the
    numbers above ``bounds[k-1]`` up to ``bounds[k]`` (the last one is open)."""
    parts: list[Expr] = []
    for k, label in enumerate(labels):
        if label not in values:
            continue
        low = Compare(">", number, Num(bounds[k - 1])) if k > 0 else None
        high = Compare("<=", number, Num(bounds[k])) if k < len(bounds) else None
        sides = tuple(p for p in (low, high) if p is not None)
        parts.append(sides[0] if len(sides) == 1 else All(sides) if sides else Bool(True))
    if not parts:
        return Bool(False)
    return parts[0] if len(parts) == 1 else Any_(tuple(parts))
