"""Segment tables: the closed deals of each bucket of one attribute, on five metrics.

Per bucket: deals, wins, win rate, average ACV, median sales cycle, expansion rate and
churn rate of its customers, each with a confidence interval and a flag when the bucket
has too few closed deals to tell. The table names the bucket that leads on three or more
of the five metrics, or says that none does, or that the data are too thin.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from icpkit.analysis import stats
from icpkit.analysis.frame import Attribute, prepare, prepared_token
from icpkit.attributes import MISSING, NONE_SEEN
from icpkit.config import AnalysisSettings
from icpkit.errors import IcpkitError
from icpkit.store.db import arrow_table

METRICS = ("win_rate", "avg_acv", "median_cycle_days", "expansion_rate", "churn_rate")
# Higher is better, except for the sales cycle and churn.
BETTER_HIGH = {
    "win_rate": True,
    "avg_acv": True,
    "median_cycle_days": False,
    "expansion_rate": True,
    "churn_rate": False,
}
ALIASES = {"funding_recency": "signal:funding_round"}


class SegmentError(IcpkitError, ValueError):
    """No segment table for the attribute asked: the message names the ones there are."""


@dataclass
class Interval:
    """A point estimate with its confidence interval."""

    value: float
    low: float
    high: float


@dataclass
class Segment:
    """One bucket of the attribute."""

    value: str
    deals: int
    wins: int
    accounts: int
    win_rate: Interval
    avg_acv: Interval
    median_cycle_days: Interval
    expansion_rate: Interval
    churn_rate: Interval
    thin: bool
    leads: list[str] = field(default_factory=list)


@dataclass
class SegmentTable:
    """The buckets of one attribute and the verdict on which one leads."""

    attribute: str
    segments: list[Segment]
    leader: str | None
    verdict: str


def _nan() -> Interval:
    return Interval(math.nan, math.nan, math.nan)


def _rate(successes: int, n: int) -> Interval:
    if n == 0:
        return _nan()
    low, high = stats.wilson_interval(successes, n)
    return Interval(successes / n, low, high)


def segment_table(
    con: duckdb.DuckDBPyConnection,
    attributes: list[Attribute],
    by: str,
    settings: AnalysisSettings,
) -> SegmentTable:
    """The segment table of attribute ``by`` (an attribute name, or an alias)."""
    return segment_tables(con, attributes, [by], settings)[0]


def segment_tables(
    con: duckdb.DuckDBPyConnection,
    attributes: list[Attribute],
    names: Sequence[str],
    settings: AnalysisSettings,
) -> list[SegmentTable]:
    """The segment tables of the attributes ``names`` (names or aliases), in that order, on
    one preparation of the closed deals (the connection's own, when it has one)."""
    chosen = []
    for by in names:
        name = ALIASES.get(by, by)
        attr = next((a for a in attributes if a.name == name), None)
        if attr is None:
            known = ", ".join(a.name for a in attributes)
            raise SegmentError(f"no attribute {by!r} in this workspace; known: {known}")
        chosen.append(attr)
    if prepared_token(con) is None:
        prepare(con)
    return [_table(con, attr, settings) for attr in chosen]


def _table(
    con: duckdb.DuckDBPyConnection, attr: Attribute, settings: AnalysisSettings
) -> SegmentTable:
    rows = _Rows.read(con, attr)
    order = [v for v in attr.order if v in rows.buckets] or sorted(
        rows.buckets, key=lambda v: (v == MISSING, -len(rows.buckets[v]), v)
    )
    segments = [_segment(value, rows, rows.buckets[value], settings) for value in order]
    leader, verdict = _leader(segments, settings)
    return SegmentTable(attr.name, segments, leader, verdict)


@dataclass(frozen=True)
class _Rows:
    """The closed deals with their bucket of one attribute, as columns: the account's rank
    among the accounts' keys in sorted order, won, amount and cycle (NaN unknown), whether
    the account expanded or churned; and the rows of each bucket (its value as text)."""

    account: np.ndarray
    won: np.ndarray
    amount: np.ndarray
    cycle_days: np.ndarray
    expanded: np.ndarray
    churned: np.ndarray
    buckets: dict[str, np.ndarray]

    @classmethod
    def read(cls, con: duckdb.DuckDBPyConnection, attr: Attribute) -> _Rows:
        """The closed deals of the prepared connection ``con``, bucketed by ``attr``."""
        return cls.of(
            arrow_table(
                con,
                f"""WITH expanded AS (
                  SELECT DISTINCT account_key FROM deals WHERE outcome = 'won' AND is_expansion)
                SELECT {attr.sql} AS value, c.account_key, c.won, c.amount, c.cycle_days,
                       c.account_key IN (SELECT account_key FROM expanded) AS expanded,
                       coalesce(a.churned, false) AS churned
                FROM closed c JOIN accounts a USING (account_key) {attr.join}""",
            )
        )

    @classmethod
    def of(cls, table: pa.Table) -> _Rows:
        """The rows of ``table`` (value, account_key, won, amount, cycle_days, expanded,
        churned)."""
        # A bucket is its value as Python writes it (str), whatever the value's type.
        values = pc.dictionary_encode(table["value"].combine_chunks(), null_encoding="encode")
        labels: dict[str, int] = {}
        bucket_of = np.array(
            [labels.setdefault(str(v), len(labels)) for v in values.dictionary.to_pylist()],
            dtype=np.int64,
        )
        codes = bucket_of[values.indices.to_numpy(zero_copy_only=False)]
        order = np.argsort(codes, kind="stable")
        ends = np.cumsum(np.bincount(codes, minlength=len(labels)))
        parts = np.split(order, ends[:-1]) if labels else []
        keys = pc.dictionary_encode(table["account_key"].combine_chunks())
        ranked = pc.sort_indices(keys.dictionary).to_numpy()
        rank = np.empty(len(ranked), dtype=np.int64)
        rank[ranked] = np.arange(len(ranked))
        return cls(
            account=rank[keys.indices.to_numpy(zero_copy_only=False)],
            won=_flags(table["won"]),
            amount=_numbers(table["amount"]),
            cycle_days=_numbers(table["cycle_days"]),
            expanded=_flags(table["expanded"]),
            churned=_flags(table["churned"]),
            buckets=dict(zip(labels, parts, strict=True)),
        )


def _flags(column: pa.ChunkedArray) -> np.ndarray:
    return np.asarray(column.to_numpy(), dtype=bool)


def _numbers(column: pa.ChunkedArray) -> np.ndarray:
    """Numbers as floats, NaN for unknown ones."""
    return np.asarray(pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False), dtype=float)


def _segment(value: str, all_rows: _Rows, rows: np.ndarray, settings: AnalysisSettings) -> Segment:
    accounts, index = np.unique(all_rows.account[rows], return_inverse=True)
    deals = np.bincount(index, minlength=len(accounts)).astype(float)
    won = all_rows.won[rows]
    wins = np.bincount(index, weights=won, minlength=len(accounts))
    rate = stats.clustered_rate(wins, deals)
    won_rows = rows[won]
    # Each account's amounts in ascending order, the accounts in their keys' order, not the
    # order a scan returned the rows in: the resampling draws positions, so its interval
    # follows the order.
    priced = won_rows[~np.isnan(all_rows.amount[won_rows])]
    amounts, account = all_rows.amount[priced], all_rows.account[priced]
    by_account = np.lexsort((amounts, account))
    _, starts, counts = np.unique(account[by_account], return_index=True, return_counts=True)
    acv = _mean_acv(_sums_in_order(amounts[by_account], starts, counts), counts.astype(float))
    median, low, high = stats.median_ci(all_rows.cycle_days[won_rows])
    _, first = np.unique(all_rows.account[won_rows], return_index=True)
    customers = won_rows[first]
    expanded = int(all_rows.expanded[customers].sum())
    churned = int(all_rows.churned[customers].sum())
    return Segment(
        value=value,
        deals=len(rows),
        wins=len(won_rows),
        accounts=len(accounts),
        win_rate=Interval(rate.rate, rate.low, rate.high),
        avg_acv=acv,
        median_cycle_days=Interval(median, low, high),
        expansion_rate=_rate(expanded, len(customers)),
        churn_rate=_rate(churned, len(customers)),
        thin=len(rows) < settings.min_closed_deals,
    )


def _sums_in_order(values: np.ndarray, starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The sum of each run ``values[start:start + count]``, added left to right as Python's
    ``sum`` adds a list (numpy's own sum pairs terms up, which can differ in the last bit)."""
    sums = np.zeros(len(starts))
    for step in range(int(counts.max()) if len(counts) else 0):
        longer = counts > step
        sums[longer] += values[starts[longer] + step]
    return sums


def _mean_acv(sums: np.ndarray, counts: np.ndarray) -> Interval:
    """Mean ACV of won deals from each account's sum and count, its interval from resampling
    accounts."""
    if not len(sums):
        return _nan()
    mean = float(sums.sum() / counts.sum())
    if len(sums) < 2:
        return Interval(mean, math.nan, math.nan)
    low, high = stats.bootstrap_accounts_ci(
        lambda idx: float(sums[idx].sum() / counts[idx].sum()), len(sums), n_boot=400
    )
    return Interval(mean, low, high)


def _leader(segments: list[Segment], settings: AnalysisSettings) -> tuple[str | None, str]:
    """The bucket leading on three or more metrics, if the data can tell.

    A bucket leads a metric only when its lead is significant: its interval lies wholly
    beyond the interval of every other bucket (for a win rate, its lowest plausible rate
    above the highest of the runner-up). Ties lead nothing, and neither does a bucket whose
    interval is unknown (one account gives no interval)."""
    candidates = [s for s in segments if not s.thin and s.value not in (MISSING, NONE_SEEN)]
    if not candidates:
        return None, (
            f"too thin to tell: no bucket has {settings.min_closed_deals} or more closed deals"
        )
    for metric in METRICS:
        scored = [s for s in candidates if not math.isnan(getattr(s, metric).value)]
        if len(scored) < 2:
            continue
        best = _significant_best(scored, metric)
        if best is not None:
            best.leads.append(metric)
    top = max(candidates, key=lambda s: len(s.leads))
    if len(top.leads) >= 3:
        thin = [s.value for s in segments if s.thin]
        note = f"; not judged (too thin): {', '.join(thin)}" if thin else ""
        return (
            top.value,
            f"{top.value} leads on {len(top.leads)} of 5 metrics ({', '.join(top.leads)}), "
            f"each with an interval clear of every other bucket's{note}",
        )
    return None, "no bucket leads on three or more of the five metrics"


def _significant_best(scored: list[Segment], metric: str) -> Segment | None:
    """The bucket whose ``metric`` interval lies wholly beyond every other bucket's, or None."""
    sign = 1.0 if BETTER_HIGH[metric] else -1.0

    def near(s: Segment) -> float:  # the end of the interval closest to the others
        iv: Interval = getattr(s, metric)
        return iv.low if sign > 0 else -iv.high

    def far(s: Segment) -> float:  # the end reaching furthest towards the best
        iv: Interval = getattr(s, metric)
        return iv.high if sign > 0 else -iv.low

    best = max(scored, key=lambda s: sign * getattr(s, metric).value)
    floor = near(best)
    if math.isnan(floor):
        return None
    for other in scored:
        if other is best:
            continue
        if sign * getattr(other, metric).value >= sign * getattr(best, metric).value:
            return None  # a tie at the top
        reach = far(other)
        if math.isnan(reach) or reach >= floor:
            return None
    return best
