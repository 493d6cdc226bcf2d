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
import json
import os
import re
import uuid
from collections.abc import Callable, Collection
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from icpkit.analysis.history import HEADCOUNT, HistorySummary, churned_sql, date_values
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
    HELD_CELLS,
    TOO_MANY_VALUES,
    AccountColumns,
    HeldValues,
    account_slices,
    extra_columns,
    extra_keys,
    held_values,
    profiles_read_once,
    struct_fields,
)
from icpkit.config import AnalysisSettings
from icpkit.store.db import arrow_table, literal, unordered

if TYPE_CHECKING:  # the windows' module loads scipy: the frame does not need it to count
    from icpkit.analysis.windows import SignalAges

# Threads counting the attributes' values (see _build_frame).
_COUNTERS = max(1, min(4, os.cpu_count() or 1))

# The labels of unknown and unseen values are the registry's; named here too for the modules
# that read them with the frame.
__all__ = ["MISSING", "NONE_SEEN", "SIGNAL_ALIAS"]

# How the frame's SQL of an attribute reading a joined table names that table.
SIGNAL_ALIAS = re.compile(r"\bsl\.")
# The join of an intent attribute: its signal family's latest age before the deal.
_SIGNAL_JOIN = re.compile(
    r"LEFT JOIN signal_last (\w+) ON \1\.deal_no = c\.deal_no AND \1\.family = ('(?:[^']|'')*')"
)


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

    # Summed once: the lift, the ICP's evidence and the leak checks read them again and again.
    @cached_property
    def n_closed(self) -> int:
        return int(self.deals.sum())

    @cached_property
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
    # The preparation (:func:`prepared_token`) the frame was read from.
    prepared: str | None = None
    # Per account: the day number of its first won deal's close, -1 if never won (churn is
    # compared among customers of the same tenure, icpkit.analysis.churn).
    customer_since: np.ndarray | None = None
    # Every key of the accounts' JSON ``extra``: the columns ingested files reported.
    extra_keys: frozenset[str] = frozenset()
    # The deals the signals' ages are read for, as the frame read them (None: read again).
    dated_deals: DatedDeals | None = None
    # Per deal number: the index of its account, as the frame read them; -1 (or past the
    # end) for a deal whose account is not in the store, which the frame does not read.
    deal_accounts: np.ndarray | None = None

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
    they stood on the day each deal was created (see icpkit.analysis.history), deals and
    accounts numbered in the order of their keys (``deal_no``, ``account_index``: the steps
    after join on numbers, not on keys), and each signal's latest occurrence. Deals are new
    business unless ``where`` itself names ``is_expansion`` (a named ICP's motion,
    icpkit.icp.named). Returns what dated history there was."""
    motion = "" if where is not None and "is_expansion" in where else "NOT is_expansion AND "
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE closed AS
           SELECT c.*, a.technologies, a.employees
           FROM (SELECT (row_number() OVER (ORDER BY deal_key) - 1)::BIGINT AS deal_no,
                        deal_key, account_key, outcome = 'won' AS won, created_at, closed_at,
                        cycle_days, amount
                 FROM deals
                 WHERE outcome IN ('won', 'lost') AND {motion}account_key IS NOT NULL
                   AND ({where or "true"})) c
           LEFT JOIN accounts a USING (account_key)"""
    )
    # What the frame and the joint model cluster by.
    con.execute(
        """CREATE OR REPLACE TEMP TABLE account_index AS
           SELECT account_key, (row_number() OVER (ORDER BY account_key) - 1)::BIGINT AS idx
           FROM (SELECT DISTINCT account_key FROM closed)"""
    )
    history = date_values(con, "closed", key="deal_no", day="created_at")
    # Funding details carry amounts ('$12M Series B'): the kind of event is what repeats.
    # Each signal's family is read once, before it meets the deals of its account. Every
    # occurrence before a dated deal is kept (``signal_pairs``): the latest of each family
    # is the frame's, and all of them are the signals' ages (:func:`read_signal_ages`), so
    # the signals meet the deals once.
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE signal_pairs AS
           SELECT c.deal_no, s.family, date_diff('day', s.day, c.created_at::DATE) AS days
           FROM closed c
           JOIN (SELECT s.account_key, s.observed_at::DATE AS day,
                        s.signal_type || ':' || {DETAIL_SQL} AS family
                 FROM signals s WHERE s.signal_type NOT IN ({HEADCOUNT_TYPES})) s
                USING (account_key)
           WHERE c.created_at IS NOT NULL AND s.day <= c.created_at::DATE"""
    )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE signal_last AS
           SELECT deal_no, family, min(days) AS days FROM signal_pairs GROUP BY ALL"""
    )
    # Each signal type whatever its detail ('funding_recency'), for segment tables.
    con.execute(
        """INSERT INTO signal_last
           SELECT deal_no, split_part(family, ':', 1), min(days) FROM signal_last
           GROUP BY ALL"""
    )
    # Which preparation the tables hold, so a later step on this connection can reuse them.
    con.execute(
        "CREATE OR REPLACE TEMP TABLE closed_prepared AS SELECT ? AS token, ? AS condition",
        [uuid.uuid4().hex, where or ""],
    )
    return history


def no_usable_deals_reason(con: duckdb.DuckDBPyConnection) -> str | None:
    """Why the store holds no closed new-business deal linked to an account, or None when it
    holds at least one: 'none of the 1,200 closed deals is linked to an account ...'."""
    row = con.execute(
        """SELECT count(*),
                  count(*) FILTER (WHERE outcome IN ('won', 'lost')),
                  count(*) FILTER (WHERE outcome IN ('won', 'lost') AND NOT is_expansion),
                  count(*) FILTER (WHERE outcome IN ('won', 'lost') AND NOT is_expansion
                                   AND account_key IS NOT NULL),
                  count(*) FILTER (WHERE account_key IS NOT NULL)
           FROM deals"""
    ).fetchall()[0]
    total, closed, new_business, usable, linked = (int(x or 0) for x in row)
    if usable:
        return None
    accounts = int(con.execute("SELECT count(*) FROM accounts").fetchall()[0][0])
    if not total:
        return (
            f"the workspace holds no deals ({accounts:,} accounts): ingest a deals export "
            "with won and lost deals first (icp ingest deals.csv)"
        )
    if not closed:
        return (
            f"{_none_is(total, 'deals', 'closed')} (won or lost): the ICP is learned from "
            "outcomes; check that the stage or outcome column was recognized (icp ingest "
            "--dry-run)"
        )
    if not new_business:
        return (
            f"all {closed:,} closed deals are expansion deals: the ICP is learned from "
            "new-business deals"
        )
    if not linked:
        return (
            f"{_none_is(total, 'deals', 'linked to an account')} ({accounts:,} accounts in the "
            "workspace): map the deals' company column (ingest.mapping) and ingest again; "
            "icp ingest --dry-run shows the mapping"
        )
    return (
        f"{_none_is(new_business, 'closed new-business deals', 'linked to an account')} "
        f"({linked:,} of {total:,} deals are): map the deals' company column "
        "(ingest.mapping) and ingest again"
    )


def _none_is(n: int, things: str, what: str) -> str:
    """'none of the 3 deals is closed' or, for one, 'the only deal is not closed'."""
    if n == 1:
        return f"the only {things.removesuffix('s')} is not {what}"
    return f"none of the {n:,} {things} is {what}"


def prepared_token(con: duckdb.DuckDBPyConnection, where: str | None = None) -> str | None:
    """The token of the last :func:`prepare` on ``con`` when it selected the deals ``where``
    selects, else None: while it stays the same, the tables it made are still those."""
    try:
        rows = con.execute("SELECT token, condition FROM closed_prepared").fetchall()
    except duckdb.CatalogException:
        return None
    return str(rows[0][0]) if rows and rows[0][1] == (where or "") else None


def _day(day: dt.date | None) -> str | None:
    return f"DATE '{day.isoformat()}'" if day is not None else None


def discover_attributes(
    con: duckdb.DuckDBPyConnection,
    settings: AnalysisSettings,
    among: Collection[Definition] | None = None,
) -> list[Attribute]:
    """Every attribute the workspace's data support, in the registry's order (see
    icpkit.attributes), less those the settings exclude; with ``among``, only those of these
    definitions (a segment table of employees need not read 1,000 custom columns' profiles).
    Runs after :func:`prepare`."""
    excluded = set(settings.exclude_attributes)
    with profiles_read_once():  # the unmapped columns and the research answers: one read
        return [
            Attribute.of(definition, name, settings)
            for definition in definitions()
            if among is None or definition in among
            for name in definition.discover(con, settings)
            if name not in excluded
        ]


def build_frame(
    con: duckdb.DuckDBPyConnection,
    settings: AnalysisSettings,
    tiers: dict[str, int] | None = None,
    where: str | None = None,
    as_of: dt.date | None = None,
    *,
    ages: bool = True,
    account_columns: Callable[[], AccountColumns] | None = None,
) -> Frame:
    """Count closed deals and wins per attribute value and account; ``tiers`` (account key
    -> customer tier) lets the analysis say which values Tier 1 customers share. Churn is
    as it stood on ``as_of`` (a backtest's cut-off), else as exported. Without ``ages`` the
    signals' ages are left for :func:`frame_signal_ages` (read while the lift is computed).
    ``account_columns``: the accounts' unmapped columns as read on another connection
    (beside this one's preparation), asked for once discovery needs them."""
    # Discovery and the columns left out read the same profiles.
    with profiles_read_once(con, account_columns, hold=True):
        frame = _build_frame(con, settings, tiers, where, as_of)
    if ages:
        frame.signal_ages = frame_signal_ages(con, frame)
    return frame


def frame_signal_ages(con: duckdb.DuckDBPyConnection, frame: Frame) -> dict[str, SignalAges]:
    """The ages of every occurrence of the frame's intent signals before each deal (see
    :func:`signal_ages`), read on the connection that built ``frame``."""
    return read_frame_signal_ages(con, frame)()


def read_frame_signal_ages(
    con: duckdb.DuckDBPyConnection, frame: Frame
) -> Callable[[], dict[str, SignalAges]]:
    """:func:`frame_signal_ages` in two steps: the rows are read here, on the connection that
    built ``frame``; the call returned sorts them into each signal's ages (numpy's work, for
    a thread while the connection reads on)."""
    return read_signal_ages(
        con,
        [a.name for a in frame.attributes if a.family == "intent" and a.profiled],
        frame.dated_deals,
    )


def _build_frame(
    con: duckdb.DuckDBPyConnection,
    settings: AnalysisSettings,
    tiers: dict[str, int] | None,
    where: str | None,
    as_of: dt.date | None,
) -> Frame:
    history = prepare(con, where)
    attrs = discover_attributes(con, settings)
    # Through Arrow: a list of 450,000 keys in 0.04 s, against 0.15 s as rows of tuples.
    ordered = arrow_table(con, "SELECT account_key FROM account_index ORDER BY idx")
    keys: list[str] = ordered.column(0).to_pylist()
    layout = _frame_values(con, attrs)
    by_deal = (
        _DealOrder.of(con, layout, keys, held_values(con))
        if layout.columns or layout.signals
        else None
    )
    signals = _SignalValues.of(con, by_deal, layout) if by_deal and layout.signals else None
    counted: dict[str, _Runs | Future[_Runs]] = {}
    per_account = frozenset(layout.accounts)
    # The connection reads each attribute's values here while a pool counts those read
    # before: numpy's sorts and sums release the interpreter, so the counts use every core.
    with ThreadPoolExecutor(max_workers=_COUNTERS) as pool:
        for attr in attrs:
            column = layout.columns.get(attr.name)
            if by_deal is not None and column is not None:
                coded = by_deal.codes(con, column, layout.names.get(column))
                if coded is not None:
                    counted[attr.name] = pool.submit(by_deal.count, *coded)
                    continue
            elif signals is not None and attr.name in layout.signals:
                counted[attr.name] = pool.submit(signals.runs, attr.name)
                continue
            # Counted by DuckDB, from its text column or its own SQL.
            if column in per_account:
                layout.accounts_written(con)
            counted[attr.name] = _grouped(
                con, attr, column if column not in layout.names else None, per_account
            )
        cuts = {
            attr.name: _cuts_of(attr, runs.result() if isinstance(runs, Future) else runs)
            for attr in attrs
            for runs in [counted[attr.name]]
        }
    con.execute("DROP TABLE IF EXISTS frame_values")  # read: its memory goes back
    con.execute("DROP TABLE IF EXISTS frame_accounts")
    con.execute("DROP TABLE IF EXISTS frame_signals")
    totals = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE won), count(DISTINCT account_key) FROM closed"
    ).fetchall()[0]
    churn = con.execute(
        f"""SELECT i.idx, {churned_sql(_day(as_of))} AS churned
            FROM account_index i JOIN accounts a USING (account_key)
            WHERE a.churned IS NOT NULL"""
    ).fetchnumpy()
    # -1: not known; churn is judged among won accounts only (see lift).
    churned = np.full(len(keys), -1, dtype=np.int8)
    flags = churn["churned"]
    flags = flags.filled(False) if isinstance(flags, np.ma.MaskedArray) else flags
    churned[np.asarray(churn["idx"], dtype=np.int64)] = np.asarray(flags, dtype=bool)
    since = _customer_since(con, len(keys))
    _, unanalyzed = extra_columns(con, settings)
    reported = frozenset(extra_keys(con))  # read with the profiles: no second read
    return Frame(
        attrs,
        cuts,
        int(totals[0]),
        int(totals[1]),
        int(totals[2]),
        churned,
        keys,
        tier_codes(keys, tiers or {}),
        unanalyzed,
        history=history,
        prepared=prepared_token(con, where),
        customer_since=since,
        extra_keys=reported,
        dated_deals=by_deal.dated if by_deal is not None else None,
        deal_accounts=by_deal.by_number if by_deal is not None else None,
    )


def tier_codes(keys: list[str], tiers: dict[str, int]) -> np.ndarray:
    """Per account of ``keys``: its customer tier, 0 for an account that is not a customer."""
    codes = np.zeros(len(keys), dtype=np.int8)
    if not tiers or not keys:
        return codes
    # Looked up by Arrow's hash of the customers' keys, not a dictionary lookup per account.
    found = pc.index_in(pa.array(keys, pa.string()), value_set=pa.array(list(tiers), pa.string()))
    at = pc.fill_null(found, -1).to_numpy(zero_copy_only=False)
    hit = at >= 0
    codes[hit] = np.fromiter(tiers.values(), dtype=np.int8, count=len(tiers))[at[hit]]
    return codes


def _customer_since(con: duckdb.DuckDBPyConnection, n: int) -> np.ndarray:
    """Per account index: the day number (days since 1970-01-01) of its first won closed
    deal, -1 for an account never won or whose won deals carry no close date."""
    rows = con.execute(
        """SELECT i.idx, min(c.closed_at::DATE) - DATE '1970-01-01' AS day
           FROM closed c JOIN account_index i USING (account_key)
           WHERE c.won AND c.closed_at IS NOT NULL GROUP BY i.idx"""
    ).fetchnumpy()
    since = np.full(n, -1, dtype=np.int64)
    since[np.asarray(rows["idx"], dtype=np.int64)] = np.asarray(rows["day"], dtype=np.int64)
    return since


# Per value: its first and past-the-last row in the arrays of account index, wins and deals.
_Runs = tuple[dict[str, tuple[int, int]], np.ndarray, np.ndarray, np.ndarray]


def _cuts_of(attr: Attribute, runs: _Runs) -> list[Cut]:
    """The cuts of ``attr`` from its rows per (value, account), in the attribute's order of
    values, else largest first with ``(missing)`` last."""
    bounds, idx, wins, deals = runs
    size = {v: float(deals[start:end].sum()) for v, (start, end) in bounds.items()}
    order = list(attr.order) or sorted(bounds, key=lambda v: (v == MISSING, -size[v], v))
    return [
        Cut(value, idx[start:end], wins[start:end], deals[start:end])
        for value in order
        if value in bounds
        for start, end in [bounds[value]]
    ]


def _grouped(
    con: duckdb.DuckDBPyConnection,
    attr: Attribute,
    column: str | None,
    per_account: frozenset[str] = frozenset(),
) -> _Runs:
    """Wins and deals per (value, account) of ``attr`` counted by DuckDB: from its column of
    ``frame_values`` (of ``frame_accounts`` for the columns ``per_account``), else from its
    own SQL."""
    values_of = (
        f"""SELECT f.idx, f.won, e.{column} AS value
            FROM frame_values f JOIN frame_accounts e USING (idx)"""
        if column is not None and column in per_account
        else f"SELECT idx, won, {column} AS value FROM frame_values"
        if column is not None
        else f"""SELECT idx, won, value
                 FROM (SELECT c.account_key, c.won, {attr.sql} AS value
                       FROM closed c JOIN accounts a USING (account_key) {attr.join})
                 JOIN account_index USING (account_key)"""
    )
    result = arrow_table(
        con,
        f"""SELECT value, idx, count(*) FILTER (WHERE won) AS wins, count(*) AS deals
            FROM ({values_of}) GROUP BY ALL ORDER BY value, idx""",
    )
    if result.num_rows == 0:
        return {}, np.zeros(0, np.int64), np.zeros(0), np.zeros(0)
    firsts = _runs(result.column("value"))
    starts = sorted(firsts.values())
    ends = dict(zip(starts, [*starts[1:], result.num_rows], strict=True))
    return (
        {v: (start, ends[start]) for v, start in firsts.items()},
        result.column("idx").to_numpy().astype(np.int64),
        result.column("wins").to_numpy().astype(np.float64),
        result.column("deals").to_numpy().astype(np.float64),
    )


@dataclass(frozen=True)
class DatedDeals:
    """The closed deals of accounts in the store that have a day, by number (``deal_no``,
    ascending): each one's account index and outcome. What the signals' ages are read for."""

    numbers: np.ndarray  # int64
    accounts: np.ndarray  # int64
    won: np.ndarray  # 1 won, 0 lost

    @classmethod
    def of(
        cls, numbers: np.ndarray, accounts: np.ndarray, won: np.ndarray, dated: np.ndarray
    ) -> DatedDeals:
        """The dated deals of rows in any order: put in the order of their numbers by
        placing each at its number (numbers are distinct, below the count of closed deals),
        not by a sort."""
        size = int(numbers.max()) + 1 if numbers.size else 0
        at = np.full(size, -1, dtype=np.int64)
        at[numbers[dated]] = np.flatnonzero(dated)
        rows = at[at >= 0]
        return cls(numbers[rows], accounts[rows], won[rows])


@dataclass(frozen=True)
class _DealOrder:
    """The deals of ``frame_values`` as a scan returns them, reordered by account: each
    attribute's column, fetched on its own in the same scan order, is counted per (value,
    account) here in O(deals) (a stable radix sort on the value's code) rather than by one
    GROUP BY and ORDER BY an attribute in DuckDB. A column of ``frame_accounts`` (a value
    per account) is read per account and given to each deal through its account's row."""

    order: np.ndarray  # scan position of each deal, by account
    idx: np.ndarray  # account index per deal, by account (int32 while it fits)
    won: np.ndarray  # 1 won, 0 lost (int8), per deal, by account
    text: frozenset[str]  # the columns of ``frame_values`` and ``frame_accounts`` holding text
    dated: DatedDeals  # the deals with a day, by number
    by_number: np.ndarray  # per deal number, its account's index (-1: not read, see Frame)
    per_account: tuple[str, ...] = ()  # the columns of ``frame_accounts``
    account_rows: np.ndarray | None = None  # per deal in scan order, its row there
    null_as: str = "None"  # the value a NULL there stands for
    # Columns of ``frame_accounts`` read with others and not yet asked for.
    _read_ahead: dict[str, pa.ChunkedArray] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        con: duckdb.DuckDBPyConnection,
        layout: _Layout,
        accounts: list[str],
        held: HeldValues | None = None,
    ) -> _DealOrder | None:
        """The order of the scan, or None when scans may not keep the table's order.
        ``accounts``: the keys of ``account_index`` by index; ``held``: the accounts' values
        read with the columns' profiles, taken when they hold every column asked for."""
        kept = con.execute("SELECT current_setting('preserve_insertion_order')").fetchall()
        if not kept[0][0]:
            return None
        deals = con.execute("SELECT idx, won, deal_no, dated FROM frame_values").fetchnumpy()
        idx = np.asarray(deals["idx"], dtype=np.int64)
        order = np.argsort(idx, kind="stable")
        # Narrow types: each attribute's count moves these once per deal.
        narrow = np.int32 if idx.size == 0 or idx.max() < 2**31 else np.int64
        raw_won = np.asarray(deals["won"], dtype=np.int8)
        won = raw_won[order]
        numbers = np.asarray(deals["deal_no"], dtype=np.int64)
        dated = DatedDeals.of(numbers, idx, raw_won, np.asarray(deals["dated"], dtype=bool))
        by_number = np.full(int(numbers.max()) + 1 if numbers.size else 0, -1, dtype=np.int64)
        by_number[numbers] = idx
        text = _text_columns(con, "frame_values")
        rows = None
        read: dict[str, pa.ChunkedArray] = {}
        null_as = "None"
        if layout.accounts:
            taken = _held_columns(layout, held, accounts)
            if taken is not None:
                held_idx, read = taken
                text |= set(read)
                null_as = MISSING
            elif len(accounts) * len(layout.accounts) <= HELD_CELLS:
                # Read from their query, not written to a table and read back: 1,000 columns
                # of 31,250 accounts, 2.6 s against 3.5 s and 0.5 s.
                with unordered(con):
                    table = arrow_table(con, layout.account_query)
                read = {c: table.column(c) for c in layout.accounts}
                text |= {c for c, values in read.items() if _is_text(values)}
                held_idx = table.column("idx").to_numpy().astype(np.int64)
            else:
                layout.accounts_written(con)
                text |= _text_columns(con, "frame_accounts")
                held_idx = _numbers(con, "SELECT idx FROM frame_accounts")["idx"].astype(np.int64)
            top = int(max(held_idx.max(initial=-1), idx.max(initial=-1)))
            at = np.full(top + 1, -1, np.int64)
            indexed = held_idx >= 0
            at[held_idx[indexed]] = np.flatnonzero(indexed)
            rows = at[idx]
            if rows.size and rows.min() < 0:  # a deal whose account has no row: read by SQL
                return None
        narrowed = idx[order].astype(narrow)
        return cls(
            order, narrowed, won, text, dated, by_number, layout.accounts, rows, null_as, read
        )

    def codes(
        self, con: duckdb.DuckDBPyConnection, column: str, names: list[str] | None = None
    ) -> tuple[np.ndarray, list[str]] | None:
        """Each deal's code of ``column`` in scan order (NULL read as 'None') and the values
        of the codes, for :meth:`count`; ``names``: the values of a column of codes. None
        when the column is neither codes nor text."""
        per_account = column in self.per_account and self.account_rows is not None
        table = "frame_accounts" if per_account else "frame_values"
        if names is not None and per_account and column in self._read_ahead:
            numbers = self._read_ahead.pop(column)
            coded = None if numbers.null_count else (numbers.to_numpy(), names)
        elif names is not None:
            coded = (_numbers(con, f"SELECT {column} FROM {table}")[column], names)
        elif column in self.text and per_account:
            coded = _encoded(self._account_text(con, column), self.null_as)
        elif column in self.text:
            coded = _encoded(arrow_table(con, f"SELECT {_text(column)} FROM {table}").column(0))
        else:
            return None
        if coded is None:
            return None
        codes, values = coded
        if per_account and self.account_rows is not None:
            # Each deal takes its account's code. Text is coded in the accounts' order, not
            # the deals': the codes differ, the cuts do not (see _cuts_of).
            if codes.size <= int(self.account_rows.max(initial=-1)):
                return None
            codes = codes[self.account_rows]
        return (codes, values) if codes.size == self.order.size else None

    def _account_text(self, con: duckdb.DuckDBPyConnection, column: str) -> pa.ChunkedArray:
        """The text ``column`` of ``frame_accounts`` (NULL as ``null_as``): read already with
        the others (see :meth:`of`), else read now together with the next text columns
        there: a query per column cost more than its reading (1,000 columns of 31,250
        accounts: 2.1 s against 1.0 s)."""
        if column not in self._read_ahead:
            later = self.per_account[self.per_account.index(column) :]
            chunk = [c for c in later if c in self.text][:_READ_TOGETHER]
            listed = ", ".join(f"{_text(c)} AS {c}" for c in chunk)
            table = arrow_table(con, f"SELECT {listed} FROM frame_accounts")
            self._read_ahead.update({c: table.column(c) for c in chunk})
        return self._read_ahead.pop(column)

    def count(self, codes: np.ndarray, names: list[str]) -> _Runs:
        """Wins and deals per (value, account) of the deals' value codes (in scan order;
        ``names[code]`` is the value), rows ordered by value then account."""
        if codes.size == 0:
            return {}, np.zeros(0, np.int64), np.zeros(0), np.zeros(0)
        # Codes narrowed before they are moved; the sort by code is then a radix sort.
        ordered = codes.astype(_code_type(len(names)), copy=False)[self.order]
        perm = np.argsort(ordered, kind="stable")
        code, idx = ordered[perm], self.idx[perm]
        change = np.empty(code.size, dtype=bool)
        change[0] = True
        np.not_equal(code[1:], code[:-1], out=change[1:])
        change[1:] |= idx[1:] != idx[:-1]
        starts = np.flatnonzero(change)
        ends = np.append(starts[1:], code.size)
        # Wins of a run from a running count of wins: whole numbers, exact.
        won = np.cumsum(self.won[perm], dtype=np.int64)
        wins = (won[ends - 1] - np.where(starts > 0, won[starts - 1], 0)).astype(np.float64)
        deals = (ends - starts).astype(np.float64)
        code, idx = code[starts], idx[starts].astype(np.int64)
        firsts = np.flatnonzero(np.r_[True, code[1:] != code[:-1]])
        lasts = [*firsts[1:].tolist(), code.size]
        bounds = {
            names[int(c)]: (int(f), int(e))
            for c, f, e in zip(code[firsts].tolist(), firsts.tolist(), lasts, strict=True)
        }
        return bounds, idx, wins, deals


def _code_type(names: int) -> type[np.integer]:
    """The narrowest type that holds codes of ``names`` values."""
    return np.uint8 if names <= 2**8 else np.uint16 if names <= 2**16 else np.int64


def _held_columns(
    layout: _Layout, held: HeldValues | None, accounts: list[str]
) -> tuple[np.ndarray, dict[str, pa.ChunkedArray]] | None:
    """The columns of ``frame_accounts`` from the values ``held`` (each column's key's; NULL
    where its SQL reads ``(missing)``) and the account index of each row (-1: none): None
    unless every column is an unmapped column's text and held."""
    if held is None or any(c not in layout.account_keys for c in layout.accounts):
        return None
    if any(layout.account_keys[c] not in held.columns for c in layout.accounts):
        return None
    columns = held.take()
    position = pc.index_in(held.accounts, value_set=pa.array(accounts, pa.string()))
    # -1: an account without closed deals, not in the index. The values are not copied to
    # leave those out or to fill their NULLs: a third of a second and a second at 1,000
    # columns of 31,250 accounts (see _DealOrder.codes).
    idx = pc.fill_null(position, -1).to_numpy().astype(np.int64)
    return idx, {c: columns[layout.account_keys[c]] for c in layout.accounts}


def _is_text(values: pa.ChunkedArray) -> bool:
    return bool(pa.types.is_string(values.type) or pa.types.is_large_string(values.type))


def _encoded(
    values: pa.ChunkedArray, null_as: str | None = None
) -> tuple[np.ndarray, list[str]] | None:
    """Each row's code and the names of the codes, a NULL coded as the value ``null_as``;
    None when the values are not text, or hold NULL without a ``null_as`` (read as 'None'
    in SQL, see :func:`_text`)."""
    if not _is_text(values):
        return None
    if values.null_count and null_as is None:
        return None
    encoded = values.combine_chunks().dictionary_encode()
    names = [str(v) for v in encoded.dictionary.to_pylist()]
    codes = encoded.indices
    if codes.null_count and null_as is not None:
        if null_as not in names:
            names.append(null_as)
        codes = pc.fill_null(codes, names.index(null_as))
    return codes.to_numpy(zero_copy_only=False), names


def _text(column: str) -> str:
    """SQL of the text ``column`` with NULL read as 'None'."""
    return f"coalesce({column}, 'None')"


def _text_columns(con: duckdb.DuckDBPyConnection, table: str) -> frozenset[str]:
    """The columns of the temp table ``table`` that hold text."""
    rows = con.execute(
        """SELECT column_name FROM duckdb_columns()
           WHERE database_name = 'temp' AND table_name = ? AND data_type = 'VARCHAR'""",
        [table],
    ).fetchall()
    return frozenset(str(name) for (name,) in rows)


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


@dataclass
class _Layout:
    """What ``_frame_values`` wrote: the column of ``frame_values`` holding each attribute;
    the values of each column holding codes rather than text (code 0: a value the attribute
    does not list); and per intent attribute read from ``signal_last``, its number in
    ``frame_signals`` and the column of its value on deals without a row of its signal."""

    columns: dict[str, str]
    names: dict[str, list[str]]
    signals: dict[str, tuple[int, str]]
    accounts: tuple[str, ...] = ()  # columns of ``frame_accounts``, a row an account
    account_query: str = ""  # the SELECT of ``frame_accounts`` (see accounts_written)
    # Per column of ``frame_accounts`` that is an unmapped column's text: that column's key.
    account_keys: dict[str, str] = field(default_factory=dict)
    written: bool = False  # whether ``frame_accounts`` is written

    def accounts_written(self, con: duckdb.DuckDBPyConnection) -> None:
        """Write the temp table ``frame_accounts`` (each account's index and values of the
        columns ``accounts``) unless it is written already: the counts by SQL read it."""
        if self.written or not self.account_query:
            return
        # Rows in any order (found by ``idx``), so the slices are parsed side by side: kept
        # in order, DuckDB reads them one after another.
        with unordered(con):
            con.execute(f"CREATE OR REPLACE TEMP TABLE frame_accounts AS {self.account_query}")
        self.written = True


# The name of code 0: a value the attribute does not list, left out of its cuts.
_UNLISTED = "\x00unlisted"


def _coded(sql: str, order: tuple[str, ...]) -> str:
    """SQL of the code of ``sql``'s value among ``order`` (from 1; 0 when not listed; NULL
    read as 'None'): the attribute's values come back as small numbers, not text, in the
    narrowest type that holds them (a byte a deal, read back as such)."""
    width = _CODE_SQL[_code_type(len(order) + 1)]
    if (direct := _case_codes(sql, order)) is not None:
        none = order.index("None") + 1 if "None" in order else 0
        return f"coalesce({direct}, {none})::{width}"
    listed = ", ".join(literal(v) for v in order)
    return (
        f"coalesce(list_position([{listed}], coalesce(CAST(({sql}) AS VARCHAR), 'None')), 0)"
        f"::{width}"
    )


# SQL cut into quoted strings, quoted names, words, blanks and single characters.
_TOKENS = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|\w+|\s+|.", re.DOTALL)


def _case_codes(sql: str, order: tuple[str, ...]) -> str | None:
    """``sql`` giving its value's code among ``order`` (from 1, 0 when not listed) instead
    of the value, when it is one CASE whose every result is a text literal (the bins of a
    size, an age or a stack): each result is replaced by its code, so that no deal's value
    is written out as text to be looked up again. None for any other SQL.

    >>> print(_case_codes("CASE WHEN x IS NULL THEN '(missing)' WHEN x > 2 THEN 'big' END",
    ...                   ("big", "(missing)")))
    CASE WHEN x IS NULL THEN 2 WHEN x > 2 THEN 1 END
    >>> _case_codes("CASE WHEN x THEN 'a' ELSE lower(y) END", ("a",)) is None
    True
    """
    if "--" in sql or "/*" in sql:
        return None  # a comment could hide a quote from the scan
    tokens = _TOKENS.findall(sql.strip())
    words = [i for i, t in enumerate(tokens) if not t.isspace()]
    upper = [tokens[i].upper() for i in words]
    if not words or upper[0] != "CASE" or upper[-1] != "END":
        return None
    out = list(tokens)
    coded = 0  # results replaced by their codes
    depth = cases = 0  # parentheses open, CASEs open outside them
    for n, word in enumerate(upper):
        if depth == 0 and cases == 1 and word in ("THEN", "ELSE"):
            # A result of the outer CASE: one text literal, then the next branch or the end.
            if n + 2 >= len(words) or upper[n + 2] not in ("WHEN", "ELSE", "END"):
                return None
            result = tokens[words[n + 1]]
            if len(result) < 2 or result[0] != "'" or result[-1] != "'":
                return None
            value = result[1:-1].replace("''", "'")
            out[words[n + 1]] = str(order.index(value) + 1 if value in order else 0)
            coded += 1
        elif word == "CASE" and depth == 0:
            cases += 1
        elif word == "END" and depth == 0:
            cases -= 1
            if cases == 0 and n + 1 != len(words):
                return None  # the CASE is only part of the expression
        elif word == "(":
            depth += 1
        elif word == ")":
            depth -= 1
            if depth < 0:
                return None
    return "".join(out) if coded and depth == 0 and cases == 0 else None


# Text columns of ``frame_accounts`` read in one query.
_READ_TOGETHER = 64

# The SQL type of codes of each width :func:`_code_type` gives.
_CODE_SQL: dict[type[np.integer], str] = {
    np.uint8: "UTINYINT",
    np.uint16: "USMALLINT",
    np.int64: "INTEGER",
}


def _frame_values(con: duckdb.DuckDBPyConnection, attrs: list[Attribute]) -> _Layout:
    """The temp table ``frame_values``: each closed deal's account index, outcome and value of
    every attribute, read in one pass over the deals and their accounts rather than one
    pass an attribute. An attribute listing its values (``order``) holds the code of its
    value, one with values from the data holds the value. An attribute reading a table its
    definition cannot alias is left out, to be read on its own.

    An intent attribute reading its signal's latest age from ``signal_last`` is not a
    column: most deals have no row of a given signal, and all of those get the value its
    SQL gives without a row (``none``, or ``(missing)`` for a deal without a date), one
    column per distinct SQL. Its SQL runs on the rows of ``signal_last`` alone, into
    ``frame_signals`` (the deal's row of ``frame_values``, the attribute's number, the
    value's code): one pass over the signals instead of a pivot of every family per deal."""
    selects: list[str] = []
    account_selects: list[str] = []
    account_columns: list[str] = []
    account_keys: dict[str, str] = {}
    joins: list[str] = []
    columns: dict[str, str] = {}
    names: dict[str, list[str]] = {}
    signals: dict[str, tuple[int, str]] = {}
    # Per SQL and values: the intent attributes reading it, (number, family literal).
    grouped: dict[tuple[str, tuple[str, ...]], list[tuple[int, str]]] = {}
    for i, attr in enumerate(attrs):
        sql = attr.sql
        if attr.join:
            definition = definition_of(attr.name)
            if definition is None:
                continue
            family = _SIGNAL_JOIN.fullmatch(definition.join(attr.name))
            days = set(re.findall(r"\bsl\.(\w+)", sql)) == {"days"}
            if family is not None and days and attr.order:
                group = grouped.setdefault((sql, attr.order), [])
                signals[attr.name] = (len(signals), f"s{list(grouped).index((sql, attr.order))}")
                group.append((signals[attr.name][0], family.group(2)))
                continue
            # The frame's SQL joins its table as ``sl``; here each attribute has its own alias.
            joins.append(definition.join(attr.name, f"sl{i}"))
            sql = SIGNAL_ALIAS.sub(f"sl{i}.", sql)
        # An unmapped column's value is its account's: read once per account, not per deal.
        per_account = _ACCOUNT_VALUE.fullmatch(sql) is not None
        target = account_selects if per_account else selects
        if per_account:
            account_columns.append(f"v{i}")
            key = _path_key(_EXTRA_VALUE.findall(sql)[0])
            if key is not None and not attr.order:
                account_keys[f"v{i}"] = key
        if attr.order:
            target.append(f", {_coded(sql, attr.order)} AS v{i}")
            names[f"v{i}"] = [_UNLISTED, *attr.order]
        else:
            target.append(f", {sql} AS v{i}")
        columns[attr.name] = f"v{i}"
    if grouped:
        # Without a row of its signal: the SQL on a join that matches nothing.
        joins.append("LEFT JOIN (FROM signal_last WHERE false) sn ON sn.deal_no = c.deal_no")
        for g, (sql, order) in enumerate(grouped):
            selects.append(f", {_coded(SIGNAL_ALIAS.sub('sn.', sql), order)} AS s{g}")
            names[f"s{g}"] = [_UNLISTED, *order]
    # Each deal's number and whether it has a day, so that the deals the signals' ages are
    # read for come from this table's one scan (:class:`_DealOrder`), not a join of their own.
    selects.append(", c.deal_no, c.created_at IS NOT NULL AS dated")
    account_query = ""
    if account_selects:
        values, parsed = extra_read_once(account_selects, lambda: account_slices(con))
        account_query = f"""SELECT i.idx {"".join(values)}
                            FROM account_index i JOIN {parsed} a USING (account_key)"""
    selects, accounts = extra_read_once(selects, lambda: account_slices(con))
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE frame_values AS
            SELECT i.idx, c.won {"".join(selects)}
            FROM closed c JOIN {accounts} a USING (account_key)
                 JOIN account_index i USING (account_key) {" ".join(joins)}"""
    )
    if grouped:
        per_sql = []
        for (sql, order), numbered in grouped.items():
            families = ", ".join(f"({k}, {family})" for k, family in numbered)
            per_sql.append(
                f"""SELECT f.rowid AS pos, n.k, {_coded(sql, order)} AS code
                    FROM signal_last sl JOIN (VALUES {families}) n(k, family)
                         ON n.family = sl.family
                         JOIN frame_values f ON f.deal_no = sl.deal_no
                         JOIN closed c ON c.deal_no = sl.deal_no
                         JOIN accounts a ON a.account_key = c.account_key"""
            )
        con.execute(f"CREATE OR REPLACE TEMP TABLE frame_signals AS {' UNION ALL '.join(per_sql)}")
    return _Layout(columns, names, signals, tuple(account_columns), account_query, account_keys)


# An unmapped column's value as an attribute reads it (icpkit.attributes.kinds).
_EXTRA_VALUE = re.compile(r"json_extract_string\(a\.extra, ('(?:[^']|'')*')\)")
# An attribute that is one unmapped column's value and nothing else: the same for every deal
# of an account.
_ACCOUNT_VALUE = re.compile(
    r"coalesce\(json_extract_string\(a\.extra, '(?:[^']|'')*'\), "
    + re.escape(literal(MISSING))
    + r"\)"
)
# The SQL literal of the JSON path of one top-level key (icpkit.store.db.json_path).
_KEY_PATH = re.compile(r"""'\$\."((?:[^"\\]|\\.)*)"'""", re.S)


def extra_read_once(selects: list[str], slices: Callable[[], list[str]]) -> tuple[list[str], str]:
    """``selects`` reading the unmapped columns' values from one parse of each account's
    ``extra``, and the accounts' relation that parses it: the values are taken from each
    account before it meets its deals, so the join carries them and not the whole document.

    The keys become the fields of one ``json_transform``, which walks each document once;
    a list of paths would look each key up in turn (300 columns: 3.3 s against 1.7 s for the
    table at 37,000 deals). Keys a struct cannot hold apart (two differing only in case, or
    the empty key) are read by the list of paths. The accounts are parsed in the ``slices``
    given side by side (:func:`icpkit.attributes.extra.account_slices`)."""
    paths = list(dict.fromkeys(p for s in selects for p in _EXTRA_VALUE.findall(s)))
    if not paths:
        return selects, "accounts"
    keys = [_path_key(p) for p in paths]
    if all(k is not None for k in keys) and struct_fields([str(k) for k in keys]):
        fields = {p: f"a.__extra[{literal(str(k))}]" for p, k in zip(paths, keys, strict=True)}
        spec = literal(json.dumps({k: "VARCHAR" for k in keys}))
        parse = f"json_transform(extra, {spec})"
    else:
        fields = {p: f"a.__extra[{k}]" for k, p in enumerate(paths, start=1)}
        parse = f"json_extract_string(extra, [{', '.join(paths)}])"
    rewritten = [_EXTRA_VALUE.sub(lambda m: fields[m.group(1)], s) for s in selects]
    parsed = " UNION ALL ".join(
        f"SELECT *, {parse} AS __extra FROM accounts WHERE {part}" for part in slices()
    )
    return rewritten, f"({parsed})"


def _path_key(path: str) -> str | None:
    """The key a path literal such as ``'$."Time Zone"'`` names, None for any other path."""
    match = _KEY_PATH.fullmatch(path.replace("''", "'"))
    if match is None:
        return None
    return re.sub(r"\\(.)", r"\1", match.group(1))


def _numbers(con: duckdb.DuckDBPyConnection, query: str) -> dict[str, np.ndarray]:
    """The columns of ``query`` (whole numbers, no NULL) as arrays of their own width: not
    widened, which would be a copy of every column (6 MB each at 1M deals)."""
    return {k: np.asarray(v) for k, v in con.execute(query).fetchnumpy().items()}


@dataclass(frozen=True)
class _SignalValues:
    """The values of the intent attributes of ``frame_signals``, counted per (value,
    account) like a column of ``frame_values``: each deal's value without a row of the
    signal, replaced on the deals that have one."""

    by_deal: _DealOrder
    layout: _Layout
    defaults: dict[str, np.ndarray]  # per column of ``frame_values``: each deal's code
    pos: np.ndarray  # per row of ``frame_signals``, grouped by attribute: the deal's row
    code: np.ndarray  # and its value's code
    bounds: np.ndarray  # rows of attribute number k: bounds[k] to bounds[k + 1]

    @classmethod
    def of(
        cls, con: duckdb.DuckDBPyConnection, by_deal: _DealOrder, layout: _Layout
    ) -> _SignalValues | None:
        """The codes read back from ``frame_values`` and ``frame_signals``; None when the
        scan did not return every deal."""
        defaults = {}
        for column in sorted({c for _, c in layout.signals.values()}):
            codes = _numbers(con, f"SELECT {column} FROM frame_values")[column]
            if codes.size != by_deal.order.size:
                return None
            # Narrow (as read, or narrowed once): each intent attribute copies them.
            defaults[column] = codes.astype(_code_type(len(layout.names[column])), copy=False)
        rows = _numbers(con, "SELECT pos, k, code FROM frame_signals")
        con.execute("DROP TABLE IF EXISTS frame_signals")
        grouped = np.argsort(rows["k"], kind="stable")
        bounds = np.searchsorted(rows["k"][grouped], np.arange(len(layout.signals) + 1))
        return cls(by_deal, layout, defaults, rows["pos"][grouped], rows["code"][grouped], bounds)

    def runs(self, name: str) -> _Runs:
        """Wins and deals per (value, account) of intent attribute ``name``."""
        k, column = self.layout.signals[name]
        codes = self.defaults[column].copy()
        rows = slice(int(self.bounds[k]), int(self.bounds[k + 1]))
        codes[self.pos[rows]] = self.code[rows]
        return self.by_deal.count(codes, self.layout.names[column])


def signal_ages(con: duckdb.DuckDBPyConnection, names: list[str]) -> dict[str, SignalAges]:
    """Every occurrence of each intent attribute's signal before each closed deal (dated
    deals only), by age in days: not just the latest, since any of them may sit in a window."""
    return read_signal_ages(con, names)()


def read_signal_ages(
    con: duckdb.DuckDBPyConnection, names: list[str], deals: DatedDeals | None = None
) -> Callable[[], dict[str, SignalAges]]:
    """:func:`signal_ages` in two steps: the rows are read from ``con`` here; the call
    returned sorts them into each signal's ages, without the connection. ``deals``: the
    dated deals as the frame read them, else read here."""
    from icpkit.analysis.windows import SignalAges

    if deals is None:
        read = con.execute(
            """SELECT c.deal_no, i.idx, c.won
               FROM closed c JOIN accounts a USING (account_key)
                    JOIN account_index i USING (account_key)
               WHERE c.created_at IS NOT NULL ORDER BY c.deal_no"""
        ).fetchnumpy()
        deals = DatedDeals(
            np.asarray(read["deal_no"], dtype=np.int64),
            np.asarray(read["idx"], dtype=np.int64),
            np.asarray(read["won"], dtype=np.int8),
        )
    families = [n.removeprefix("signal:") for n in names]
    if not families:
        return lambda: {}
    # Each family by its number in ``names``: numbers, not millions of strings, come back.
    numbered = ", ".join(f"({k}, {literal(f)})" for k, f in enumerate(families))
    # The occurrences ``prepare`` kept, unless a family is of head counts (not kept there).
    kept = not any(f.split(":", 1)[0] in HEADCOUNT for f in families)
    pairs = (
        "SELECT deal_no, family, days FROM signal_pairs"
        if kept
        else f"""SELECT c.deal_no, s.signal_type || ':' || {DETAIL_SQL} AS family,
                        date_diff('day', s.observed_at::DATE, c.created_at::DATE) AS days
                 FROM closed c JOIN signals s USING (account_key)
                 WHERE c.created_at IS NOT NULL
                   AND s.observed_at::DATE <= c.created_at::DATE"""
    )
    rows = con.execute(
        f"""SELECT n.k, deal_no, days FROM ({pairs})
            JOIN (VALUES {numbered}) n(k, family) USING (family)"""
    ).fetchnumpy()

    def sorted_ages() -> dict[str, SignalAges]:
        numbers = deals.numbers
        won = np.asarray(deals.won, dtype=bool)
        account = deals.accounts
        family = np.asarray(rows["k"], dtype=np.int64)
        # The deal's number among the dated deals (in the order of their numbers); the
        # occurrences before a deal of an account missing from the store are not counted.
        numbered_as = np.asarray(rows["deal_no"], dtype=np.int64)
        deal = np.searchsorted(numbers, numbered_as)
        days = np.asarray(rows["days"], dtype=np.int64)
        listed = (
            numbers[np.minimum(deal, numbers.size - 1)] == numbered_as
            if numbers.size
            else np.zeros(deal.size, dtype=bool)
        )
        if not listed.all():
            family, deal, days = family[listed], deal[listed], days[listed]
        # One sort of every occurrence by family, deal and age (packed in one number: each
        # is below its bound), rather than a sort per family: each family's rows come out
        # in the order SignalAges keeps.
        n_deals, n_days = max(int(numbers.size), 1), int(days.max(initial=0)) + 1
        packed = np.sort((family * n_deals + deal) * n_days + days)
        family, rest = np.divmod(packed, n_deals * n_days)
        deal, days = np.divmod(rest, n_days)
        bounds = np.searchsorted(family, np.arange(len(families) + 1))
        return {
            name: SignalAges(won, account, deal[mine], days[mine])
            for k, name in enumerate(names)
            for mine in [slice(int(bounds[k]), int(bounds[k + 1]))]
        }

    return sorted_ages
