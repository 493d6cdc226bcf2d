"""Segment tables: the closed deals of each bucket of one attribute, on five metrics.

Per bucket: deals, wins, win rate, average ACV, median sales cycle, expansion rate and
churn rate of its customers, each with a confidence interval and a flag when the bucket
has too few closed deals to tell. The table names the bucket that leads on three or more
of the five metrics, or says that none does, or that the data are too thin.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import duckdb
import numpy as np

from icpkit.analysis import stats
from icpkit.analysis.frame import Attribute, prepare
from icpkit.attributes import MISSING, NONE_SEEN
from icpkit.config import AnalysisSettings
from icpkit.errors import IcpkitError

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
    name = ALIASES.get(by, by)
    attr = next((a for a in attributes if a.name == name), None)
    if attr is None:
        known = ", ".join(a.name for a in attributes)
        raise SegmentError(f"no attribute {by!r} in this workspace; known: {known}")
    prepare(con)
    rows = con.execute(
        f"""WITH expanded AS (
              SELECT DISTINCT account_key FROM deals WHERE outcome = 'won' AND is_expansion)
            SELECT {attr.sql} AS value, c.account_key, c.won, c.amount, c.cycle_days,
                   c.account_key IN (SELECT account_key FROM expanded) AS expanded,
                   coalesce(a.churned, false) AS churned
            FROM closed c JOIN accounts a USING (account_key) {attr.join}"""
    ).fetchall()
    by_value: dict[str, list[tuple[str, bool, float | None, int | None, bool, bool]]] = {}
    for value, *rest in rows:
        by_value.setdefault(str(value), []).append(tuple(rest))  # type: ignore[arg-type]
    order = [v for v in attr.order if v in by_value] or sorted(
        by_value, key=lambda v: (v == MISSING, -len(by_value[v]), v)
    )
    segments = [_segment(value, by_value[value], settings) for value in order]
    leader, verdict = _leader(segments, settings)
    return SegmentTable(attr.name, segments, leader, verdict)


def _segment(
    value: str,
    rows: list[tuple[str, bool, float | None, int | None, bool, bool]],
    settings: AnalysisSettings,
) -> Segment:
    accounts = sorted({r[0] for r in rows})
    index = {a: i for i, a in enumerate(accounts)}
    wins = np.zeros(len(accounts))
    deals = np.zeros(len(accounts))
    for account, won, *_ in rows:
        deals[index[account]] += 1
        wins[index[account]] += won
    rate = stats.clustered_rate(wins, deals)
    won_rows = [r for r in rows if r[1]]
    acv_by_account: dict[str, list[float]] = {}
    for account, _won, amount, *_ in won_rows:
        if amount is not None:
            acv_by_account.setdefault(account, []).append(float(amount))
    # In the accounts' order and each account's amounts in theirs, not the order a scan
    # returned the rows in: the resampling draws positions, so its interval follows the order.
    acv = _mean_acv({a: sorted(v) for a, v in sorted(acv_by_account.items())})
    cycles = np.array([r[3] for r in won_rows if r[3] is not None], dtype=float)
    median, low, high = stats.median_ci(cycles)
    customers = {r[0]: (r[4], r[5]) for r in won_rows}
    expanded = sum(1 for e, _ in customers.values() if e)
    churned = sum(1 for _, c in customers.values() if c)
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


def _mean_acv(by_account: dict[str, list[float]]) -> Interval:
    """Mean ACV of won deals, its interval from resampling accounts."""
    if not by_account:
        return _nan()
    sums = np.array([sum(v) for v in by_account.values()])
    counts = np.array([len(v) for v in by_account.values()], dtype=float)
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
