"""Customer tiers: which won customers to find more of (Tier 1) and which not (Tier 3).

Each customer (an account with a won new-business deal) earns points for traits of a good
customer: a first deal at or above the ACV threshold, a first deal that closed fast,
expansion revenue after it, and, when the CRM export carries them, a promoter NPS and
product usage at or above the threshold. Churned customers are Tier 3. The ICP describes Tier 1 and
excludes what predicts Tier 3 and churn.
"""

from __future__ import annotations

import datetime as dt
import statistics
from dataclasses import dataclass

import duckdb

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
    """Every customer's tier and the thresholds that were used."""

    customers: list[CustomerTier]
    acv_threshold: float | None
    cycle_days_threshold: float | None
    notes: list[str]

    def counts(self) -> dict[int, int]:
        """Customers per tier."""
        out = {1: 0, 2: 0, 3: 0}
        for c in self.customers:
            out[c.tier] += 1
        return out

    def tier_of(self) -> dict[str, int]:
        """Account key -> tier."""
        return {c.account_key: c.tier for c in self.customers}


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
           SELECT f.account_key, f.acv, f.cycle, coalesce(e.revenue, 0), coalesce(e.n, 0),
                  coalesce({churned_sql(day)}, false), a.nps, a.product_usage
           FROM firsts f LEFT JOIN expansion e USING (account_key)
           LEFT JOIN accounts a USING (account_key)
           ORDER BY f.account_key"""
    ).fetchall()
    notes: list[str] = []
    acvs = [r[1] for r in rows if r[1] is not None]
    cycles = [r[2] for r in rows if r[2] is not None]
    acv_threshold = settings.acv_threshold
    if acv_threshold is None and acvs:
        acv_threshold = float(statistics.median(acvs))
        notes.append(f"ACV threshold: the median first-deal ACV, {acv_threshold:,.0f}")
    cycle_threshold = settings.cycle_days_threshold
    if cycle_threshold is None and cycles:
        cycle_threshold = float(statistics.median(cycles))
        notes.append(f"fast-cycle threshold: the median sales cycle, {cycle_threshold:.0f} days")
    if not acvs:
        notes.append("no amounts on won deals: ACV earns no points")
    if not cycles:
        notes.append("no create and close dates on won deals: cycle length earns no points")
    weights = settings.weights
    npss = [r[6] for r in rows if r[6] is not None]
    usages = [r[7] for r in rows if r[7] is not None]
    # A -100..100 score column has values outside 0-10; its promoters start at 50.
    promoter = 50.0 if npss and (min(npss) < 0 or max(npss) > 10) else settings.nps_promoter
    usage_threshold = settings.usage_threshold
    if usage_threshold is None and usages:
        usage_threshold = float(statistics.median(usages))
        notes.append(f"usage threshold: the customers' median usage, {usage_threshold:,.4g}")
    if npss:
        notes.append(
            f"NPS known for {len(npss):,} customers: promoters ({promoter:g}+) earn a point"
        )
    customers: list[CustomerTier] = []
    for key, acv, cycle, expansion_revenue, expansions, churned, nps, usage in rows:
        points = 0.0
        if nps is not None and nps >= promoter:
            points += weights.get("nps", 0.0)
        if usage is not None and usage_threshold is not None and usage >= usage_threshold:
            points += weights.get("usage", 0.0)
        if acv is not None and acv_threshold is not None and acv >= acv_threshold:
            points += weights.get("acv", 0.0)
        if cycle is not None and cycle_threshold is not None and cycle <= cycle_threshold:
            points += weights.get("fast_cycle", 0.0)
        if expansions:
            points += weights.get("expansion", 0.0)
        if churned and settings.churned_is_tier3:
            tier = 3
        elif points >= settings.tier1_min_points:
            tier = 1
        else:
            tier = 2
        customers.append(
            CustomerTier(key, tier, points, acv, cycle, float(expansion_revenue), bool(churned))
        )
    return TierResult(customers, acv_threshold, cycle_threshold, notes)
