"""What every attribute definition holds, and where its SQL reads.

An attribute gives an account on a day exactly one value label, ``(missing)`` included. Its
definition says so twice, once in SQL (run by the analysis frame, the features of the
joint model and the compiled scorecard) and once in Python (the reference the SQL is proven
against), and the two must agree on every input (tests/fixtures/attributes/).
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import duckdb

from icpkit.config import AnalysisSettings
from icpkit.store.db import literal
from icpkit.vocabulary import Dimension

MISSING = "(missing)"
NONE_SEEN = "none"

Family = Literal["fit", "intent"]
Kind = Literal["ordinal", "categorical", "binary"]

# Fields whose value on a deal's day comes from dated history (icpkit.analysis.history).
DATED_FIELDS = frozenset({"technologies", "employees"})


@dataclass(frozen=True)
class Context:
    """Where an attribute's SQL reads: accounts as ``a``, the day ``as_of`` (an SQL
    expression), and in the analysis frame (``point_in_time``) the stack and head count of
    the deal's day from the closed-deal table ``c``. With ``extra_columns`` an unmapped field
    ``extra:X`` is a column ``X`` (a warehouse table), else a key of the store's JSON."""

    as_of: str = "e.as_of"
    point_in_time: bool = False
    extra_columns: bool = False

    def column(self, name: str) -> str:
        """The SQL of account field ``name``: 'a.revenue', or 'c.employees' on a deal's day."""
        return f"c.{name}" if self.point_in_time and name in DATED_FIELDS else f"a.{name}"


# The frame's context: deals judged on their account as it stood when they were created.
FRAME = Context(as_of="c.created_at", point_in_time=True)


@dataclass(frozen=True, kw_only=True, eq=False)
class Definition(ABC):
    """One attribute, or one family of attributes named by a pattern ('tech:<tool>').

    ``key`` names it (and its fixture file); ``prefix`` is set for a family, whose names are
    ``prefix`` followed by what varies. ``inputs`` are the account fields it reads with
    their SQL types, the input layout a scored table must have for it.
    """

    key: str
    dimension: Dimension
    kind: Kind
    inputs: Mapping[str, str] = field(default_factory=dict)
    family: Family = "fit"
    prefix: str | None = None
    pattern_help: str | None = None  # 'tech:<tool>' for a family
    multi_valued: bool = False  # a rule's values can all hold at once (a stack of tools)
    account_level: bool = True  # False: the value depends on the day, not the account alone
    label: str | None = None  # how a person names it; by default its key in words

    def owns(self, name: str) -> bool:
        """Whether attribute (or rule attribute) ``name`` is this definition's."""
        if self.prefix is None:
            return name == self.key
        # The bare key of a family names a rule on many values at once ('tech': tools).
        return name.startswith(self.prefix) or (self.multi_valued and name == self.key)

    @property
    def help_name(self) -> str:
        """How a person writes its names: 'employees', 'tech:<tool>'."""
        return self.pattern_help or self.key

    @property
    def analyzed(self) -> bool:
        """Whether the analysis cuts deals by its values (a number compared only with
        min/max is not)."""
        return True

    def words(self, name: str) -> str:
        """How a person names attribute ``name``: its ``label``, else its key in words
        ('stack density'); a family's name without its prefix ('Time Zone')."""
        if self.prefix is not None and name.startswith(self.prefix):
            return name.removeprefix(self.prefix)
        return self.label if self.label is not None else name.replace("_", " ")

    def describe(self, name: str, values: Sequence[str]) -> str:
        """Plain words for a cut of ``name`` to ``values``, as a rationale says it:
        'industry Software', '51-200 employees', 'uses HubSpot'."""
        return f"{self.words(name)} {' or '.join(values)}"

    def rule_attribute(self, name: str) -> str:
        """The attribute a rule on the cut ``name`` names: ``name`` itself, or the key of a
        family whose rules list many values at once ('tech:HubSpot' -> 'tech')."""
        return name

    def rule_fields(self, name: str, values: Sequence[str]) -> dict[str, Any]:
        """What a rule on the cut of ``name`` to ``values`` holds: the values, or the
        ``min`` and ``max`` of a number those values span."""
        return {"values": list(values)}

    def rule_text(self, name: str, values: Sequence[str] | None, span: str) -> str:
        """A rule on ``name`` as a sales rep reads it in a reason: 'Industry Software',
        'Revenue $1M+'; ``span`` is its min/max in words, for a rule listing no values."""
        words = self.words(name)
        what = span if values is None else " or ".join(values)
        return f"{words[:1].upper()}{words[1:]} {what}"

    def unknown_sql(self, name: str, settings: AnalysisSettings, ctx: Context) -> str | None:
        """SQL true when the account's value of ``name`` is unknown (the Missing bin): its
        value is ``(missing)``, or its number NULL; None when it has neither."""
        sql = self.sql(name, settings, ctx) if self.family == "fit" else None
        if sql is not None:
            return f"({sql}) = '{MISSING}'"
        number = self.number_sql(name, ctx)
        return None if number is None else f"({number}) IS NULL"

    def unknown(
        self, name: str, account: Mapping[str, Any], day: dt.date, settings: AnalysisSettings
    ) -> bool:
        """Python's :meth:`unknown_sql` for one account on ``day``."""
        if self.family == "fit" and self.sql(name, settings, Context()) is not None:
            return self.value(name, account, day, settings) == MISSING
        return self.number(name, account) is None

    def order(self, name: str, settings: AnalysisSettings) -> tuple[str, ...]:
        """The value labels in their order, ``(missing)`` included; () for categories, whose
        values come from the data (ordered by size)."""
        return ()

    @abstractmethod
    def sql(self, name: str, settings: AnalysisSettings, ctx: Context) -> str | None:
        """SQL giving the value label of ``name`` for an account on the day ``ctx.as_of``;
        None where it has no value in that context (a dated signal outside the frame)."""

    @abstractmethod
    def value(
        self,
        name: str,
        account: Mapping[str, Any],
        day: dt.date | None,
        settings: AnalysisSettings,
        signals: Sequence[Mapping[str, Any]] = (),
    ) -> str:
        """The same value in Python from one account's fields (unmapped ones by their column
        name), the day and the account's signals: the reference of :meth:`sql`."""

    def number_sql(self, name: str, ctx: Context) -> str | None:
        """SQL of the number a rule's min/max compares (NULL when unknown); None when the
        attribute has no number."""
        return None

    def number(self, name: str, account: Mapping[str, Any]) -> float | None:
        """The same number in Python (None when unknown); only called where
        :meth:`number_sql` is not None."""
        raise ValueError(f"attribute {name!r} has no number")

    def discover(self, con: duckdb.DuckDBPyConnection, settings: AnalysisSettings) -> list[str]:
        """The names of this definition the workspace's data support, in a stable order.
        Runs after icpkit.analysis.frame.prepare (temp tables ``closed``, ``signal_last``)."""
        return [self.key]

    def join(self, name: str, alias: str = "sl") -> str:
        """SQL joining what the frame's value of ``name`` reads beyond ``closed c`` and
        ``accounts a`` (as ``alias``); '' when nothing."""
        return ""

    def profiled(self, name: str) -> bool:
        """False for a name offered only as a segment cut, never tested in won vs lost."""
        return True

    def condition_sql(
        self,
        name: str,
        values: Iterable[str],
        settings: AnalysisSettings,
        ctx: Context,
        fallback: str,
    ) -> str | None:
        """SQL true when the account's value is one of ``values``; ``fallback`` ('true' or
        'false') when it is unknown. None when the attribute has no value to list."""
        sql = self.sql(name, settings, ctx)
        if sql is None:
            return None
        listed = ", ".join(literal(v) for v in values)
        return f"CASE WHEN ({sql}) = '{MISSING}' THEN {fallback} ELSE ({sql}) IN ({listed}) END"

    def matches(
        self,
        name: str,
        values: Iterable[str],
        account: Mapping[str, Any],
        day: dt.date,
        settings: AnalysisSettings,
        unknown: bool,
    ) -> bool:
        """Python's :meth:`condition_sql`: whether the account's value is one of ``values``."""
        value = self.value(name, account, day, settings)
        return unknown if value == MISSING else value in set(values)
