"""Customer tiers: which won customers to find more of (Tier 1) and which not (Tier 3).

Each customer (an account with a won new-business deal) earns points for traits of a good
customer: a first deal at or above the ACV threshold, a first deal that closed fast,
expansion revenue after it, and, when the CRM export carries them, a promoter NPS and
product usage at or above the threshold. Churned customers are Tier 3. The ICP describes Tier 1 and
excludes what predicts Tier 3 and churn.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb
import numpy as np

from icpkit.analysis.history import churned_sql
from icpkit.config import TierSettings


@dataclass(frozen=True)
class CustomerTier:
    """One customer's tier and the traits that earned it."""

    account_key: str
    tier: int
    points: float
    first_acv: float | None
    first_cycle_days: int | None
    expansion_revenue: float
    churned: bool


@dataclass
class TierResult:
    """Every customer's tier and the thresholds that were used. The customers are held as
    columns (one entry per customer, ordered by account key): a million deals make hundreds
    of thousands of customers, and most callers want only each one's tier."""

    keys: list[str]
    tiers: np.ndarray  # 1, 2 or 3
    points: np.ndarray
    first_acv: np.ndarray  # NaN: the first won deal has no amount
    first_cycle_days: np.ndarray  # NaN: no cycle length
    expansion_revenue: np.ndarray
    churned: np.ndarray
    acv_threshold: float | None
    cycle_days_threshold: float | None
    notes: list[str]

    @property
    def customers(self) -> list[CustomerTier]:
        """One record per customer, in account-key order."""
        columns = zip(
            self.keys,
            self.tiers.tolist(),
            self.points.tolist(),
            self.first_acv.tolist(),
            self.first_cycle_days.tolist(),
            self.expansion_revenue.tolist(),
            self.churned.tolist(),
            strict=True,
        )
        return [
            CustomerTier(
                key,
                tier,
                points,
                None if acv != acv else acv,  # NaN: no amount
                None if cycle != cycle else int(cycle),
                revenue,
                churned,
            )
            for key, tier, points, acv, cycle, revenue, churned in columns
        ]

    def counts(self) -> dict[int, int]:
        """Customers per tier."""
        return {t: int(np.count_nonzero(self.tiers == t)) for t in (1, 2, 3)}

    def tier_of(self) -> dict[str, int]:
        """Account key -> tier."""
        return dict(zip(self.keys, self.tiers.tolist(), strict=True))


def assign_tiers(
    con: duckdb.DuckDBPyConnection, settings: TierSettings, as_of: dt.date | None = None
) -> TierResult:
    """Tier every customer of the workspace from its first won deal, expansion and churn;
    with ``as_of`` (a backtest's cut-off) only what had happened before that day counts:
    deals won and expansions closed before it, churn dated before it."""
    day = f"DATE '{as_of.isoformat()}'" if as_of is not None else None
    before = f"coalesce(closed_at, created_at)::DATE < {day}" if day else "true"
    rows = con.execute(
        f"""WITH firsts AS (
             -- The first won deal; of two closed the same day, the first by deal key, so
             -- the same data always give the same tiers.
             SELECT account_key,
                    arg_min(amount, (coalesce(closed_at, created_at), deal_key)) AS acv,
                    arg_min(cycle_days, (coalesce(closed_at, created_at), deal_key)) AS cycle
             FROM deals WHERE outcome = 'won' AND NOT is_expansion AND account_key IS NOT NULL
               AND {before}
             GROUP BY account_key),
           expansion AS (
             SELECT account_key, sum(coalesce(amount, 0)) AS revenue, count(*) AS n
             FROM deals WHERE outcome = 'won' AND is_expansion AND {before}
             GROUP BY account_key)
           SELECT f.account_key, f.acv, f.cycle, coalesce(e.revenue, 0) AS revenue,
                  coalesce(e.n, 0) AS expansions, coalesce({churned_sql(day)}, false) AS churned,
                  a.nps, a.product_usage
           FROM firsts f LEFT JOIN expansion e USING (account_key)
           LEFT JOIN accounts a USING (account_key)
           ORDER BY f.account_key"""
    ).fetchnumpy()
    keys = [str(k) for k in np.asarray(rows["account_key"]).tolist()]
    acv, has_acv = _column(rows["acv"])
    cycle, has_cycle = _column(rows["cycle"])
    nps, has_nps = _column(rows["nps"])
    usage, has_usage = _column(rows["product_usage"])
    revenue = np.asarray(rows["revenue"], dtype=np.float64)
    expansions = np.asarray(rows["expansions"], dtype=np.int64)
    churned = np.asarray(rows["churned"], dtype=bool)
    notes: list[str] = []
    acvs, cycles = acv[has_acv], cycle[has_cycle]
    acv_threshold = settings.acv_threshold
    if acv_threshold is None and acvs.size:
        acv_threshold = float(np.median(acvs))
        notes.append(f"ACV threshold: the median first-deal ACV, {acv_threshold:,.0f}")
    cycle_threshold = settings.cycle_days_threshold
    if cycle_threshold is None and cycles.size:
        cycle_threshold = float(np.median(cycles))
        notes.append(f"fast-cycle threshold: the median sales cycle, {cycle_threshold:.0f} days")
    if not acvs.size:
        notes.append("no amounts on won deals: ACV earns no points")
    if not cycles.size:
        notes.append("no create and close dates on won deals: cycle length earns no points")
    weights = settings.weights
    npss, usages = nps[has_nps], usage[has_usage]
    # A -100..100 score column has values outside 0-10; its promoters start at 50.
    promoter = 50.0 if npss.size and (npss.min() < 0 or npss.max() > 10) else settings.nps_promoter
    usage_threshold = settings.usage_threshold
    if usage_threshold is None and usages.size:
        usage_threshold = float(np.median(usages))
        notes.append(f"usage threshold: the customers' median usage, {usage_threshold:,.4g}")
    if npss.size:
        notes.append(
            f"NPS known for {npss.size:,} customers: promoters ({promoter:g}+) earn a point"
        )
    # Points added trait by trait in the same order for every customer.
    points = np.zeros(len(keys))
    points += np.where(has_nps & (nps >= promoter), weights.get("nps", 0.0), 0.0)
    if usage_threshold is not None:
        points += np.where(has_usage & (usage >= usage_threshold), weights.get("usage", 0.0), 0.0)
    if acv_threshold is not None:
        points += np.where(has_acv & (acv >= acv_threshold), weights.get("acv", 0.0), 0.0)
    if cycle_threshold is not None:
        fast = has_cycle & (cycle <= cycle_threshold)
        points += np.where(fast, weights.get("fast_cycle", 0.0), 0.0)
    points += np.where(expansions > 0, weights.get("expansion", 0.0), 0.0)
    tiers = np.where(points >= settings.tier1_min_points, 1, 2).astype(np.int8)
    if settings.churned_is_tier3:
        tiers[churned] = 3
    return TierResult(
        keys,
        tiers,
        points,
        np.where(has_acv, acv, np.nan),
        np.where(has_cycle, cycle, np.nan),
        revenue,
        churned,
        acv_threshold,
        cycle_threshold,
        notes,
    )


def _column(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A fetched number column as float64 and where it is known (not NULL, not NaN)."""
    known = ~np.ma.getmaskarray(values)
    data = np.asarray(np.ma.getdata(values), dtype=np.float64)
    return data, known & ~np.isnan(data)
