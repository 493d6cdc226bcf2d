"""The analysis frame: every closed new-business deal cut by every attribute value.

One attribute gives each deal exactly one value (``(missing)`` included), so a value can
always be compared with the rest of its attribute. Attributes of the account (size,
industry, stack) and of the deal's moment (how long before the deal was created the
account raised money or posted a job) are built in SQL over the workspace store and
counted per account, because deals of one account are not independent evidence. The
stack and head count are those of the day the deal was created where signals date them
(icpkit.analysis.history). What each attribute is, its values and its SQL, is the
registry's (icpkit.attributes); the frame finds which of them the data support.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from icpkit.analysis.history import HEADCOUNT, HistorySummary, churned_sql, date_values
from icpkit.analysis.windows import SignalAges
from icpkit.attributes import (
    DETAIL_SQL,
    FRAME,
    MISSING,
    NONE_SEEN,
    Definition,
    Family,
    Kind,
    definition_of,
    definitions,
)
from icpkit.attributes.extra import (
    FREE_TEXT,
    TOO_MANY_VALUES,
    extra_columns,
    profiles_read_once,
)
from icpkit.config import AnalysisSettings
from icpkit.store.db import literal

# The labels of unknown and unseen values are the registry's; named here too for the modules
# that read them with the frame.
__all__ = ["MISSING", "NONE_SEEN", "SIGNAL_ALIAS"]

# How the frame's SQL of an attribute reading a joined table names that table.
SIGNAL_ALIAS = re.compile(r"\bsl\.")


@dataclass(frozen=True)
class Attribute:
    """One way of cutting deals: its name, kind, value order and the SQL giving the value."""

    name: str
    kind: Kind
    family: Family
    sql: str
    order: tuple[str, ...] = ()
    account_level: bool = True
    profiled: bool = True  # False: offered as a segment cut, not tested in won vs lost
    join: str = ""  # what ``sql`` reads beyond closed deals ``c`` and accounts ``a``

    @classmethod
    def of(cls, definition: Definition, name: str, settings: AnalysisSettings) -> Attribute:
        """Attribute ``name`` of ``definition`` as the frame cuts deals by it."""
        sql = definition.sql(name, settings, FRAME)
        assert sql is not None, name
        return cls(
            name,
            definition.kind,
            definition.family,
            sql,
            definition.order(name, settings),
            definition.account_level,
            definition.profiled(name),
            definition.join(name),
        )


@dataclass
class Cut:
    """Closed deals of one attribute value, per account: ``wins[i]`` of ``deals[i]``."""

    value: str
    accounts: np.ndarray
    wins: np.ndarray
    deals: np.ndarray

    @property
    def n_closed(self) -> int:
        return int(self.deals.sum())

    @property
    def n_won(self) -> int:
        return int(self.wins.sum())


@dataclass
class Frame:
    """Closed deals of the workspace cut by every attribute, plus churn per account."""

    attributes: list[Attribute]
    cuts: dict[str, list[Cut]]
    n_closed: int
    n_won: int
    n_accounts: int
    churned: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int8))
    account_keys: list[str] = field(default_factory=list)
    tiers: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int8))
    # Unmapped columns kept in the store but not analyzed: column -> why.
    unanalyzed: dict[str, str] = field(default_factory=dict)
    # Per intent attribute ('signal:funding_round:Series A'): the ages of every occurrence
    # before each deal, from which windows are estimated (analysis/windows.py).
    signal_ages: dict[str, SignalAges] = field(default_factory=dict)
    # The dated history that set technologies and employees as of each deal's creation.
    history: HistorySummary = field(default_factory=lambda: HistorySummary(0, 0, 0))

    def unanalyzed_note(self) -> str | None:
        """'kept, not analyzed: Phone, BillingStreet (identifiers)', or None."""
        return unanalyzed_note(self.unanalyzed)


def unanalyzed_note(unanalyzed: dict[str, str]) -> str | None:
    """One line naming the unmapped columns kept but not analyzed, grouped by why."""
    groups: dict[str, list[str]] = {}
    for column, why in unanalyzed.items():
        label = why if why in (TOO_MANY_VALUES, FREE_TEXT) else "identifiers"
        groups.setdefault(label, []).append(column)
    if not groups:
        return None
    return "kept, not analyzed: " + "; ".join(
        f"{', '.join(columns)} ({label})" for label, columns in groups.items()
    )


# Head counts observed on a day are the history of an attribute, not events of intent.
HEADCOUNT_TYPES = ", ".join(literal(t) for t in sorted(HEADCOUNT))


def prepare(con: duckdb.DuckDBPyConnection, where: str | None = None) -> HistorySummary:
    """Temporary tables the attributes read: closed deals (those matching the SQL condition
    ``where`` on ``deals``, when given) with their account's technologies and employees as
    they stood on the day each deal was created (see icpkit.analysis.history), and each
    signal's latest occurrence. Returns what dated history there was."""
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE closed AS
           SELECT c.*, a.technologies, a.employees
           FROM (SELECT deal_key, account_key, outcome = 'won' AS won, created_at, closed_at,
                        cycle_days, amount
                 FROM deals
                 WHERE outcome IN ('won', 'lost') AND NOT is_expansion
                   AND account_key IS NOT NULL AND ({where or "true"})) c
           LEFT JOIN accounts a USING (account_key)"""
    )
    history = date_values(con, "closed", key="deal_key", day="created_at")
    # Funding details carry amounts ('$12M Series B'): the kind of event is what repeats.
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE signal_last AS
           SELECT c.deal_key,
                  s.signal_type || ':' || {DETAIL_SQL} AS family,
                  min(date_diff('day', s.observed_at::DATE, c.created_at::DATE)) AS days
           FROM closed c JOIN signals s USING (account_key)
           WHERE c.created_at IS NOT NULL AND s.observed_at::DATE <= c.created_at::DATE
             AND s.signal_type NOT IN ({HEADCOUNT_TYPES})
           GROUP BY ALL"""
    )
    # Each signal type whatever its detail ('funding_recency'), for segment tables.
    con.execute(
        """INSERT INTO signal_last
           SELECT deal_key, split_part(family, ':', 1), min(days) FROM signal_last
           GROUP BY ALL"""
    )
    return history


def _day(day: dt.date | None) -> str | None:
    return f"DATE '{day.isoformat()}'" if day is not None else None


def discover_attributes(
    con: duckdb.DuckDBPyConnection, settings: AnalysisSettings
) -> list[Attribute]:
    """Every attribute the workspace's data support, in the registry's order (see
    icpkit.attributes), less those the settings exclude. Runs after :func:`prepare`."""
    excluded = set(settings.exclude_attributes)
    return [
        Attribute.of(definition, name, settings)
        for definition in definitions()
        for name in definition.discover(con, settings)
        if name not in excluded
    ]


def build_frame(
    con: duckdb.DuckDBPyConnection,
    settings: AnalysisSettings,
    tiers: dict[str, int] | None = None,
    where: str | None = None,
    as_of: dt.date | None = None,
) -> Frame:
    """Count closed deals and wins per attribute value and account; ``tiers`` (account key
    -> customer tier) lets the analysis say which values Tier 1 customers share. Churn is
    as it stood on ``as_of`` (a backtest's cut-off), else as exported."""
    with profiles_read_once():  # discovery and the columns left out read the same profiles
        return _build_frame(con, settings, tiers, where, as_of)


def _build_frame(
    con: duckdb.DuckDBPyConnection,
    settings: AnalysisSettings,
    tiers: dict[str, int] | None,
    where: str | None,
    as_of: dt.date | None,
) -> Frame:
    history = prepare(con, where)
    attrs = discover_attributes(con, settings)
    con.execute(
        """CREATE OR REPLACE TEMP TABLE account_index AS
           SELECT account_key, (row_number() OVER (ORDER BY account_key) - 1)::BIGINT AS idx
           FROM (SELECT DISTINCT account_key FROM closed)"""
    )
    keys = [
        r[0] for r in con.execute("SELECT account_key FROM account_index ORDER BY idx").fetchall()
    ]
    cuts: dict[str, list[Cut]] = {}
    columns = _frame_values(con, attrs)
    for attr in attrs:
        column = columns.get(attr.name)
        values_of = (
            f"SELECT idx, won, {column} AS value FROM frame_values"
            if column is not None
            else f"""SELECT idx, won, value
                     FROM (SELECT c.account_key, c.won, {attr.sql} AS value
                           FROM closed c JOIN accounts a USING (account_key) {attr.join})
                     JOIN account_index USING (account_key)"""
        )
        result = _arrow(
            con,
            f"""SELECT value, idx, count(*) FILTER (WHERE won) AS wins, count(*) AS deals
                FROM ({values_of}) GROUP BY ALL ORDER BY value, idx""",
        )
        if result.num_rows == 0:
            cuts[attr.name] = []
            continue
        bounds = _runs(result.column("value"))
        starts = np.fromiter(bounds.values(), dtype=np.int64, count=len(bounds))
        ends = {
            v: e
            for v, e in zip(
                sorted(bounds, key=bounds.__getitem__),
                [*sorted(starts.tolist())[1:], result.num_rows],
                strict=True,
            )
        }
        idx = result.column("idx").to_numpy().astype(np.int64)
        wins = result.column("wins").to_numpy().astype(np.float64)
        deals = result.column("deals").to_numpy().astype(np.float64)
        size = {v: float(deals[bounds[v] : ends[v]].sum()) for v in bounds}
        order = list(attr.order) or sorted(bounds, key=lambda v: (v == MISSING, -size[v], v))
        cuts[attr.name] = [
            Cut(
                value,
                idx[bounds[value] : ends[value]],
                wins[bounds[value] : ends[value]],
                deals[bounds[value] : ends[value]],
            )
            for value in order
            if value in bounds
        ]
    con.execute("DROP TABLE IF EXISTS frame_values")  # read: its memory goes back
    totals = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE won), count(DISTINCT account_key) FROM closed"
    ).fetchall()[0]
    churn = con.execute(
        f"""SELECT i.idx, {churned_sql(_day(as_of))} AS churned
            FROM account_index i JOIN accounts a USING (account_key)
            WHERE a.churned IS NOT NULL"""
    ).fetchall()
    # -1: not known; churn is judged among won accounts only (see lift).
    churned = np.full(len(keys), -1, dtype=np.int8)
    for i, flag in churn:
        churned[int(i)] = int(bool(flag))
    tier_of = np.zeros(len(keys), dtype=np.int8)  # 0: not a customer
    for i, key in enumerate(keys):
        tier_of[i] = (tiers or {}).get(key, 0)
    _, unanalyzed = extra_columns(con, settings)
    return Frame(
        attrs,
        cuts,
        int(totals[0]),
        int(totals[1]),
        int(totals[2]),
        churned,
        keys,
        tier_of,
        unanalyzed,
        signal_ages=signal_ages(
            con, [a.name for a in attrs if a.family == "intent" and a.profiled]
        ),
        history=history,
    )


def _arrow(con: duckdb.DuckDBPyConnection, query: str) -> pa.Table:
    """The rows of ``query`` as an Arrow table: columns of text stay off the Python heap."""
    relation = con.sql(query)
    fetch = getattr(relation, "to_arrow_table", None) or relation.arrow  # duckdb < 1.4
    table = fetch()
    return table if isinstance(table, pa.Table) else table.read_all()


def _runs(column: pa.ChunkedArray) -> dict[str, int]:
    """Each distinct value of ``column`` as text (NULL as 'None') and the index of its first
    row. The rows come ordered by value, so each value is one run: found where the codes of
    a dictionary encoding change, without sorting again (sorted afresh when a value is found
    in two runs, or when the values are not text)."""
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        encoded = pc.dictionary_encode(column.combine_chunks().fill_null("None"))
        codes = encoded.indices.to_numpy(zero_copy_only=False)
        names = encoded.dictionary.to_pylist()
        starts = np.r_[0, np.flatnonzero(codes[1:] != codes[:-1]) + 1]
        firsts = [str(names[c]) for c in codes[starts].tolist()]
        if len(set(firsts)) == len(firsts):
            return dict(zip(firsts, starts.tolist(), strict=True))
    values = np.asarray(column.to_numpy(zero_copy_only=False)).astype(str)
    values[np.asarray(column.is_null())] = "None"
    uniq, first = np.unique(values, return_index=True)
    return dict(zip(uniq.tolist(), first.tolist(), strict=True))


def _frame_values(con: duckdb.DuckDBPyConnection, attrs: list[Attribute]) -> dict[str, str]:
    """The temp table ``frame_values``: each closed deal's account index, outcome and value of
    every attribute, read in one pass over the deals and their accounts rather than one
    pass an attribute. Returns the column of each attribute it holds; an attribute reading
    a table its definition cannot alias is left out, to be read on its own."""
    selects, joins, columns = [], [], {}
    for i, attr in enumerate(attrs):
        sql = attr.sql
        if attr.join:
            definition = definition_of(attr.name)
            if definition is None:
                continue
            # The frame's SQL joins its table as ``sl``; here each attribute has its own alias.
            joins.append(definition.join(attr.name, f"sl{i}"))
            sql = SIGNAL_ALIAS.sub(f"sl{i}.", sql)
        selects.append(f", {sql} AS v{i}")
        columns[attr.name] = f"v{i}"
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE frame_values AS
            SELECT i.idx, c.won {"".join(selects)}
            FROM closed c JOIN accounts a USING (account_key)
                 JOIN account_index i USING (account_key) {" ".join(joins)}"""
    )
    return columns


def signal_ages(con: duckdb.DuckDBPyConnection, names: list[str]) -> dict[str, SignalAges]:
    """Every occurrence of each intent attribute's signal before each closed deal (dated
    deals only), by age in days: not just the latest, since any of them may sit in a window."""
    deals = con.execute(
        """CREATE OR REPLACE TEMP TABLE signal_deals AS
           SELECT (row_number() OVER (ORDER BY c.deal_key) - 1)::BIGINT AS di, i.idx,
                  c.won, c.account_key, c.created_at
           FROM closed c JOIN accounts a USING (account_key)
                JOIN account_index i USING (account_key)
           WHERE c.created_at IS NOT NULL;
           SELECT idx, won FROM signal_deals ORDER BY di"""
    ).fetchnumpy()
    won, account = np.asarray(deals["won"], dtype=bool), np.asarray(deals["idx"], dtype=np.int64)
    families = [n.removeprefix("signal:") for n in names]
    out: dict[str, SignalAges] = {}
    if not families:
        return out
    rows = con.execute(
        f"""SELECT family, di, days FROM (
               SELECT d.di, s.signal_type || ':' || {DETAIL_SQL} AS family,
                      date_diff('day', s.observed_at::DATE, d.created_at::DATE) AS days
               FROM signal_deals d JOIN signals s USING (account_key)
               WHERE s.observed_at::DATE <= d.created_at::DATE)
           WHERE family IN ({", ".join(literal(f) for f in families)})"""
    ).fetchnumpy()
    family = np.asarray(rows["family"]).astype(str)
    di, days = np.asarray(rows["di"], dtype=np.int64), np.asarray(rows["days"], dtype=np.int64)
    for name, fam in zip(names, families, strict=True):
        mine = family == fam
        out[name] = SignalAges.of(won, account, di[mine], days[mine])
    return out
