"""The kinds of attribute: numbers cut into ranges, categories, technologies, counts of a
list, ages, unmapped columns, research answers and dated signals. Each is written once
here, in SQL and in Python side by side."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import duckdb

from icpkit.attributes.base import MISSING, NONE_SEEN, Context, Definition, Family, Kind
from icpkit.attributes.extra import column_profiles, extra_columns
from icpkit.attributes.labels import (
    bucket,
    bucket_labels,
    bucket_sql,
    count_bounds,
    detail_kind,
    span_labels,
    window_labels,
)
from icpkit.config import AnalysisSettings
from icpkit.store.db import identifier, json_path, literal

Bounds = Sequence[float] | Callable[[AnalysisSettings], Sequence[float]]


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


@dataclass(frozen=True, kw_only=True, eq=False)
class NumericRange(Definition):
    """A number cut into ranges at ``bounds`` (or bounds read from the settings): employees,
    revenue. The number is an account ``field``, or derived from several fields by
    ``expression`` (SQL, NULL when unknown) and ``compute`` (the same in Python).

    With ``rule_range`` its labels are head-count ranges ('51-200') and a rule on a run of
    them compares the number with min/max, read as '51-200 employees'."""

    kind: Kind = "ordinal"
    field: str | None = None
    bounds: Bounds = ()
    fmt: str = "count"  # labels as head counts (1-10, ..., 1,001+) or 'money' (<$1M, ...)
    labels: Sequence[str] | None = None  # labels of one's own, one more than the bounds
    expression: Callable[[Context], str] | None = None
    compute: Callable[[Mapping[str, Any]], float | None] | None = None
    rule_range: bool = False

    def _span(self, values: Sequence[str]) -> tuple[int, int | None] | None:
        """The head counts a run of count labels spans; None unless every label is one."""
        bounds = [count_bounds(v) for v in values]
        lows = [low for low, _ in bounds if low is not None]
        if not self.rule_range or not lows or any(b == (None, None) for b in bounds):
            return None
        highs = [high for _, high in bounds]
        high = None if any(h is None for h in highs) else max(h for h in highs if h is not None)
        return min(lows), high

    def describe(self, name: str, values: Sequence[str]) -> str:
        span = self._span(values)
        if span is None:
            return super().describe(name, values)
        low, high = span
        return (
            f"{low:,}+ {self.words(name)}"
            if high is None
            else f"{low:,}-{high:,} {self.words(name)}"
        )

    def rule_fields(self, name: str, values: Sequence[str]) -> dict[str, Any]:
        span = self._span(values)
        return (
            super().rule_fields(name, values) if span is None else {"min": span[0], "max": span[1]}
        )

    def rule_text(self, name: str, values: Sequence[str] | None, span: str) -> str:
        if self.rule_range and values is None:
            return f"{span} {self.words(name)}"
        return super().rule_text(name, values, span)

    def edges(self, settings: AnalysisSettings) -> list[float]:
        bounds = self.bounds(settings) if callable(self.bounds) else self.bounds
        return [float(b) for b in bounds]

    def _labels(self, settings: AnalysisSettings) -> list[str]:
        if self.labels is not None:
            return list(self.labels)
        return bucket_labels(self.edges(settings), self.fmt)

    def order(self, name: str, settings: AnalysisSettings) -> tuple[str, ...]:
        return (*self._labels(settings), MISSING)

    def number_sql(self, name: str, ctx: Context) -> str:
        if self.expression is not None:
            return self.expression(ctx)
        assert self.field is not None, self.key
        return ctx.column(self.field)

    def number(self, name: str, account: Mapping[str, Any]) -> float | None:
        if self.compute is not None:
            return self.compute(account)
        assert self.field is not None, self.key
        return _number(account.get(self.field))

    def sql(self, name: str, settings: AnalysisSettings, ctx: Context) -> str:
        return bucket_sql(self.number_sql(name, ctx), self.edges(settings), self._labels(settings))

    def value(
        self,
        name: str,
        account: Mapping[str, Any],
        day: dt.date | None,
        settings: AnalysisSettings,
        signals: Sequence[Mapping[str, Any]] = (),
    ) -> str:
        return bucket(self.number(name, account), self.edges(settings), self._labels(settings))


@dataclass(frozen=True, kw_only=True, eq=False)
class Number(Definition):
    """A number a rule compares with min/max only, never cut into values nor analyzed:
    founded_year, total_funding."""

    kind: Kind = "ordinal"
    field: str = ""

    @property
    def analyzed(self) -> bool:
        return False

    def number_sql(self, name: str, ctx: Context) -> str:
        return ctx.column(self.field)

    def number(self, name: str, account: Mapping[str, Any]) -> float | None:
        return _number(account.get(self.field))

    def sql(self, name: str, settings: AnalysisSettings, ctx: Context) -> None:
        return None

    def value(
        self,
        name: str,
        account: Mapping[str, Any],
        day: dt.date | None,
        settings: AnalysisSettings,
        signals: Sequence[Mapping[str, Any]] = (),
    ) -> str:
        raise ValueError(f"attribute {name!r} has no values to list; compare it with min/max")

    def discover(self, con: duckdb.DuckDBPyConnection, settings: AnalysisSettings) -> list[str]:
        return []


@dataclass(frozen=True, kw_only=True, eq=False)
class Category(Definition):
    """A text field as normalized at ingest: industry, country. With ``when_varied`` it is
    analyzed only when the accounts hold two or more of its values (funding stage, which
    most exports lack)."""

    kind: Kind = "categorical"
    field: str = ""
    when_varied: bool = False

    def sql(self, name: str, settings: AnalysisSettings, ctx: Context) -> str:
        return f"coalesce({ctx.column(self.field)}, '{MISSING}')"

    def value(
        self,
        name: str,
        account: Mapping[str, Any],
        day: dt.date | None,
        settings: AnalysisSettings,
        signals: Sequence[Mapping[str, Any]] = (),
    ) -> str:
        value = account.get(self.field)
        return MISSING if value is None else str(value)

    def discover(self, con: duckdb.DuckDBPyConnection, settings: AnalysisSettings) -> list[str]:
        if not self.when_varied:
            return [self.key]
        column = identifier(self.field)
        rows = con.execute(
            f"SELECT count(DISTINCT {column}) FROM accounts WHERE {column} IS NOT NULL"
        ).fetchall()
        return [self.key] if rows and rows[0][0] > 1 else []


@dataclass(frozen=True, kw_only=True, eq=False)
class ListCount(Definition):
    """How many items a list field holds, in spans: stack density (0-2, 3-5, 6-8, 9+ tools).
    An unknown list (NULL) is missing; an empty one counts 0."""

    kind: Kind = "ordinal"
    field: str = ""
    bounds: tuple[int, ...] = ()
    unit: str = ""  # ' tools'

    def _labels(self) -> list[str]:
        return span_labels(self.bounds, self.unit)

    def order(self, name: str, settings: AnalysisSettings) -> tuple[str, ...]:
        return (*self._labels(), MISSING)

    def number_sql(self, name: str, ctx: Context) -> str:
        items = ctx.column(self.field)
        return f"CASE WHEN {items} IS NULL THEN NULL ELSE coalesce(array_length({items}), 0) END"

    def number(self, name: str, account: Mapping[str, Any]) -> float | None:
        items = account.get(self.field)
        return None if items is None else float(len(items))

    def sql(self, name: str, settings: AnalysisSettings, ctx: Context) -> str:
        items = ctx.column(self.field)
        labels = self._labels()
        # An empty list may read as NULL length (PostgreSQL): the first span counts it as 0.
        whens = [f"WHEN coalesce(array_length({items}), 0) <= {self.bounds[0]} THEN '{labels[0]}'"]
        whens += [
            f"WHEN array_length({items}) <= {bound} THEN '{label}'"
            for bound, label in zip(self.bounds[1:], labels[1:], strict=False)
        ]
        return (
            f"CASE WHEN {items} IS NULL THEN '{MISSING}' {' '.join(whens)} ELSE '{labels[-1]}' END"
        )

    def value(
        self,
        name: str,
        account: Mapping[str, Any],
        day: dt.date | None,
        settings: AnalysisSettings,
        signals: Sequence[Mapping[str, Any]] = (),
    ) -> str:
        return bucket(self.number(name, account), self.bounds, self._labels())


@dataclass(frozen=True, kw_only=True, eq=False)
class Age(Definition):
    """Whole years from a year field to the day, in spans: company age from founding to the
    deal's creation (0-2, 3-5, 6-10, 11-20, 21+ years). Depends on the day, not the account
    alone."""

    kind: Kind = "ordinal"
    field: str = ""
    bounds: tuple[int, ...] = ()
    unit: str = ""
    account_level: bool = False

    def _labels(self) -> list[str]:
        return span_labels(self.bounds, self.unit)

    def order(self, name: str, settings: AnalysisSettings) -> tuple[str, ...]:
        return (*self._labels(), MISSING)

    def sql(self, name: str, settings: AnalysisSettings, ctx: Context) -> str:
        year, day = ctx.column(self.field), ctx.as_of
        labels = self._labels()
        whens = " ".join(
            f"WHEN year({day}) - {year} <= {bound} THEN '{label}'"
            for bound, label in zip(self.bounds, labels, strict=False)
        )
        return (
            f"CASE WHEN {year} IS NULL OR {day} IS NULL THEN '{MISSING}' {whens} "
            f"ELSE '{labels[-1]}' END"
        )

    def value(
        self,
        name: str,
        account: Mapping[str, Any],
        day: dt.date | None,
        settings: AnalysisSettings,
        signals: Sequence[Mapping[str, Any]] = (),
    ) -> str:
        year = account.get(self.field)
        if year is None or day is None:
            return MISSING
        return bucket(day.year - int(year), self.bounds, self._labels())


@dataclass(frozen=True, kw_only=True, eq=False)
class Technology(Definition):
    """Whether the account uses one tool (``tech:<tool>``: yes / no), for every tool used by
    at least ``min_closed_deals`` closed deals' accounts. A rule on ``tech`` lists tools and
    matches an account using any of them: a stack holds many values at once."""

    kind: Kind = "binary"
    field: str = "technologies"
    multi_valued: bool = True

    def order(self, name: str, settings: AnalysisSettings) -> tuple[str, ...]:
        return ("yes", "no", MISSING)

    def sql(self, name: str, settings: AnalysisSettings, ctx: Context) -> str | None:
        if self.prefix is None or not name.startswith(self.prefix):
            return None  # 'tech' names a stack, not one value
        stack, tool = ctx.column(self.field), literal(name.removeprefix(self.prefix))
        return (
            f"CASE WHEN {stack} IS NULL THEN '{MISSING}' "
            f"WHEN array_contains({stack}, {tool}) THEN 'yes' ELSE 'no' END"
        )

    def value(
        self,
        name: str,
        account: Mapping[str, Any],
        day: dt.date | None,
        settings: AnalysisSettings,
        signals: Sequence[Mapping[str, Any]] = (),
    ) -> str:
        tools = account.get(self.field)
        if tools is None:
            return MISSING
        return "yes" if name.removeprefix(self.prefix or "") in tools else "no"

    def describe(self, name: str, values: Sequence[str]) -> str:
        tool = self.words(name)
        return f"uses {tool}" if tuple(values) == ("yes",) else f"does not use {tool}"

    def rule_attribute(self, name: str) -> str:
        return self.key

    def rule_fields(self, name: str, values: Sequence[str]) -> dict[str, Any]:
        if self.prefix is not None and name.startswith(self.prefix):
            return {"values": [name.removeprefix(self.prefix)]}
        return super().rule_fields(name, values)

    def rule_text(self, name: str, values: Sequence[str] | None, span: str) -> str:
        if name == self.key:
            return f"Uses {' or '.join(values or [])}"
        # A rule on one tool's yes/no, as written by hand: its name as it stands.
        return f"{name.replace('_', ' ').capitalize()} {' or '.join(values or [])}"

    def unknown_sql(self, name: str, settings: AnalysisSettings, ctx: Context) -> str | None:
        if name == self.key:  # the stack itself
            return f"{ctx.column(self.field)} IS NULL"
        return super().unknown_sql(name, settings, ctx)

    def unknown(
        self, name: str, account: Mapping[str, Any], day: dt.date, settings: AnalysisSettings
    ) -> bool:
        if name == self.key:
            return account.get(self.field) is None
        return super().unknown(name, account, day, settings)

    def discover(self, con: duckdb.DuckDBPyConnection, settings: AnalysisSettings) -> list[str]:
        column = identifier(self.field)
        tools = con.execute(
            f"""SELECT tool FROM (SELECT unnest(c.{column}) AS tool, c.deal_key
                                  FROM closed c JOIN accounts a USING (account_key))
                GROUP BY tool HAVING count(*) >= {settings.min_closed_deals} ORDER BY tool"""
        ).fetchall()
        return [f"{self.prefix}{tool}" for (tool,) in tools]

    def condition_sql(
        self,
        name: str,
        values: Iterable[str],
        settings: AnalysisSettings,
        ctx: Context,
        fallback: str,
    ) -> str | None:
        if name != self.key:
            return super().condition_sql(name, values, settings, ctx, fallback)
        stack = ctx.column(self.field)
        any_of = " OR ".join(f"array_contains({stack}, {literal(v)})" for v in values)
        return f"CASE WHEN {stack} IS NULL THEN {fallback} ELSE coalesce({any_of}, false) END"

    def matches(
        self,
        name: str,
        values: Iterable[str],
        account: Mapping[str, Any],
        day: dt.date,
        settings: AnalysisSettings,
        unknown: bool,
    ) -> bool:
        if name != self.key:
            return super().matches(name, values, account, day, settings, unknown)
        tools = account.get(self.field)
        return unknown if tools is None else any(v in tools for v in values)


@dataclass(frozen=True, kw_only=True, eq=False)
class ExtraColumn(Definition):
    """An unmapped column of the accounts (``extra:<column>``) with few enough distinct values
    that are not identifiers (see icpkit.attributes.extra). In the store it is a key of the
    accounts' JSON ``extra``; in a scored table, a column of that name."""

    kind: Kind = "categorical"

    def json_key(self, name: str) -> str:
        """The key of the accounts' ``extra`` JSON holding ``name`` in the store."""
        return name.removeprefix(self.prefix or "")

    def column(self, name: str) -> str:
        """The column of a scored or warehouse table holding ``name``."""
        return name.removeprefix(self.prefix or "")

    def sql(self, name: str, settings: AnalysisSettings, ctx: Context) -> str:
        if ctx.extra_columns:
            column = identifier(self.column(name))
            return f"coalesce(CAST(a.{column} AS VARCHAR), '{MISSING}')"
        path = literal(json_path(self.json_key(name)))
        return f"coalesce(json_extract_string(a.extra, {path}), '{MISSING}')"

    def value(
        self,
        name: str,
        account: Mapping[str, Any],
        day: dt.date | None,
        settings: AnalysisSettings,
        signals: Sequence[Mapping[str, Any]] = (),
    ) -> str:
        # The store's field name, else the scored table's column.
        value = account.get(self.json_key(name))
        if value is None:
            value = account.get(self.column(name))
        return MISSING if value is None else str(value)

    def rule_text(self, name: str, values: Sequence[str] | None, span: str) -> str:
        # The column's name as the export spells it.
        return f"{self.words(name)} {span if values is None else ' or '.join(values)}"

    def discover(self, con: duckdb.DuckDBPyConnection, settings: AnalysisSettings) -> list[str]:
        analyzed, _ = extra_columns(con, settings)
        return [f"{self.prefix}{column}" for column in analyzed]


@dataclass(frozen=True, kw_only=True, eq=False)
class Answer(ExtraColumn):
    """An AI research answer (``answer:<key>``, the key of a question in
    ``enrich.research.questions``): the value enrichment wrote for the account, 'yes', 'no'
    or one of the question's answers. In the store it is the key ``answer:<key>`` of the
    accounts' JSON ``extra``; in a scored table a column ``answer_<key>`` (a colon names no
    column in most warehouses)."""

    def key_of(self, name: str) -> str:
        """The question's key: 'answer:sells_to_enterprise' -> 'sells_to_enterprise'."""
        return name.removeprefix(self.prefix or "")

    def json_key(self, name: str) -> str:
        return name

    def column(self, name: str) -> str:
        """The column of a scored table holding ``name``: 'answer_sells_to_enterprise'.

        >>> Answer(key="answer", prefix="answer:", dimension="firmographic").column(
        ...     "answer:sells_to_enterprise")
        'answer_sells_to_enterprise'
        """
        return f"answer_{self.key_of(name)}"

    def words(self, name: str) -> str:
        return self.key_of(name).replace("_", " ")

    def rule_text(self, name: str, values: Sequence[str] | None, span: str) -> str:
        # A question's key in words, as a sentence starts ('Sells to enterprise yes').
        return Definition.rule_text(self, name, values, span)

    def discover(self, con: duckdb.DuckDBPyConnection, settings: AnalysisSettings) -> list[str]:
        """The answers the accounts hold with 2 to ``max_categories`` distinct values, from
        the profiles of the accounts' JSON keys (read once with the unmapped columns')."""
        return [
            profile.name
            for profile in column_profiles(con, answers=True)
            if profile.name.startswith(self.prefix or "")
            and 2 <= profile.distinct <= int(settings.max_categories)
        ]


@dataclass(frozen=True, kw_only=True, eq=False)
class DatedSignal(Definition):
    """How long before the day the account last showed a signal (``signal:<type>:<detail>``,
    the detail without its amount; ``signal:<type>`` for any detail), in the recency bins
    of ``analysis.signal_windows``, or ``none``. Read in the analysis frame from the table
    ``signal_last`` (icpkit.analysis.frame.prepare); scoring judges intent by window."""

    kind: Kind = "ordinal"
    family: Family = "intent"
    account_level: bool = False

    def order(self, name: str, settings: AnalysisSettings) -> tuple[str, ...]:
        return (*window_labels(settings.signal_windows), NONE_SEEN, MISSING)

    def sql(self, name: str, settings: AnalysisSettings, ctx: Context) -> str | None:
        if not ctx.point_in_time:
            return None
        labels = window_labels(settings.signal_windows)
        bins = " ".join(
            f"WHEN sl.days <= {bound} THEN '{label}'"
            for bound, label in zip(settings.signal_windows, labels, strict=False)
        )
        return (
            f"CASE WHEN {ctx.as_of} IS NULL THEN '{MISSING}' "
            f"WHEN sl.days IS NULL THEN '{NONE_SEEN}' {bins} ELSE '{labels[-1]}' END"
        )

    def join(self, name: str, alias: str = "sl") -> str:
        family = literal(name.removeprefix(self.prefix or ""))
        return (
            f"LEFT JOIN signal_last {alias} ON {alias}.deal_no = c.deal_no "
            f"AND {alias}.family = {family}"
        )

    def profiled(self, name: str) -> bool:
        return ":" in name.removeprefix(self.prefix or "")

    def value(
        self,
        name: str,
        account: Mapping[str, Any],
        day: dt.date | None,
        settings: AnalysisSettings,
        signals: Sequence[Mapping[str, Any]] = (),
    ) -> str:
        if day is None:
            return MISSING
        family = name.removeprefix(self.prefix or "")
        ages = []
        for row in signals:
            seen = row["observed_at"]
            seen = seen.date() if isinstance(seen, dt.datetime) else seen
            kind = f"{row['signal_type']}:{detail_kind(row.get('detail'))}"
            if seen <= day and family in (kind, str(row["signal_type"])):
                ages.append((day - seen).days)
        if not ages:
            return NONE_SEEN
        return bucket(min(ages), settings.signal_windows, window_labels(settings.signal_windows))

    def discover(self, con: duckdb.DuckDBPyConnection, settings: AnalysisSettings) -> list[str]:
        families = con.execute(
            f"""SELECT family FROM signal_last GROUP BY family
                HAVING count(*) >= {settings.min_closed_deals} ORDER BY family"""
        ).fetchall()
        return [f"{self.prefix}{family}" for (family,) in families]
