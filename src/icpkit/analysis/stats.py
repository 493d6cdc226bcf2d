"""Statistics a skeptic accepts: intervals, cluster-robust comparisons, FDR control, WoE/IV.

Pure functions over numpy arrays. Deals of one account are not independent evidence about
that account's attributes, so comparisons take per-account (cluster) counts: ``wins[i]`` of
``deals[i]`` closed deals of account i, and use the ratio-estimator variance across accounts.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

MIN_CLOSED_DEALS = 30
"""Fewer closed deals than this in a cut is noise, and is flagged as such."""

DEFAULT_PRIOR_STRENGTH = 20.0
PRIOR_STRENGTH_RANGE = (2.0, 500.0)
IV_BANDS = ((0.02, "useless"), (0.1, "weak"), (0.3, "medium"), (math.inf, "strong"))
"""Information value strength bands: <0.02 useless, 0.02-0.1 weak, 0.1-0.3 medium, >0.3 strong."""


def _z(confidence: float) -> float:
    return float(sps.norm.ppf(0.5 + confidence / 2))


def wilson_interval(successes: float, n: float, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a proportion, e.g. 81/263 -> (0.2553, 0.3662)."""
    if n <= 0:
        return 0.0, 1.0
    z = _z(confidence)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def _ratio_variance(wins: np.ndarray, deals: np.ndarray) -> float:
    """Cluster-robust variance of the pooled rate sum(wins)/sum(deals) over clusters."""
    m = len(deals)
    total = float(deals.sum())
    if m < 2 or total == 0:
        return math.nan
    p = float(wins.sum()) / total
    resid = wins - p * deals
    return float(m / (m - 1) * np.sum(resid * resid) / (total * total))


def design_effect(wins: np.ndarray, deals: np.ndarray) -> float:
    """How much clustering inflates the variance of the pooled rate (at least 1)."""
    total = float(deals.sum())
    if total == 0 or len(deals) < 2:
        return 1.0
    p = float(wins.sum()) / total
    binomial = p * (1 - p) / total
    robust = _ratio_variance(wins, deals)
    if binomial <= 0 or math.isnan(robust):
        return 1.0
    return max(1.0, robust / binomial)


@dataclass(frozen=True)
class RateEstimate:
    """A rate with an interval computed on the effective (cluster-adjusted) sample size."""

    rate: float
    low: float
    high: float
    n_deals: int
    n_accounts: int
    effective_n: float


def clustered_rate(wins: np.ndarray, deals: np.ndarray, confidence: float = 0.95) -> RateEstimate:
    """Pooled rate with a Wilson interval on n / design effect, so 3 accounts of 100 deals
    are not 300 independent deals."""
    n = float(deals.sum())
    if n == 0:
        return RateEstimate(math.nan, math.nan, math.nan, 0, len(deals), 0.0)
    rate = float(wins.sum()) / n
    effective = n / design_effect(wins, deals)
    low, high = wilson_interval(rate * effective, effective, confidence)
    return RateEstimate(rate, low, high, int(n), len(deals), effective)


@dataclass(frozen=True)
class Comparison:
    """Win rate inside a group against outside it, with cluster-robust uncertainty."""

    rate_in: float
    rate_out: float
    difference: float
    difference_ci: tuple[float, float]
    lift: float
    lift_ci: tuple[float, float]
    p_value: float
    test: str
    n_deals_in: int
    wins_in: int
    n_accounts_in: int
    n_deals_out: int
    wins_out: int
    n_accounts_out: int


def rate_difference(
    wins: np.ndarray, deals: np.ndarray, in_group: np.ndarray, confidence: float = 0.95
) -> Comparison:
    """Compare the pooled rate of the clusters ``in_group`` with the others.

    z-test on the cluster-robust standard error; Fisher's exact test on account-level counts
    when a side expects fewer than 5 wins or losses. Undefined quantities are NaN, p = 1.
    """
    wins = np.asarray(wins, dtype=float)
    deals = np.asarray(deals, dtype=float)
    mask = np.asarray(in_group, dtype=bool)
    w1, n1 = wins[mask], deals[mask]
    w0, n0 = wins[~mask], deals[~mask]
    s1, t1, s0, t0 = float(w1.sum()), float(n1.sum()), float(w0.sum()), float(n0.sum())
    counts = dict(
        n_deals_in=int(t1),
        wins_in=int(s1),
        n_accounts_in=int(mask.sum()),
        n_deals_out=int(t0),
        wins_out=int(s0),
        n_accounts_out=int((~mask).sum()),
    )
    nan2 = (math.nan, math.nan)
    if t1 == 0 or t0 == 0:
        return Comparison(math.nan, math.nan, math.nan, nan2, math.nan, nan2, 1.0, "none", **counts)
    p1, p0 = s1 / t1, s0 / t0
    z = _z(confidence)
    v1 = _cluster_or_binomial(w1, n1, p1, t1)
    v0 = _cluster_or_binomial(w0, n0, p0, t0)
    diff = p1 - p0
    se = math.sqrt(v1 + v0)
    diff_ci = (diff - z * se, diff + z * se)
    if p0 > 0 and p1 > 0:
        lift = p1 / p0
        se_log = math.sqrt(v1 / (p1 * p1) + v0 / (p0 * p0))
        lift_ci = (lift * math.exp(-z * se_log), lift * math.exp(z * se_log))
    else:
        lift = p1 / p0 if p0 > 0 else math.nan
        lift_ci = nan2
    expected = min(s1 + s0, (t1 + t0) - (s1 + s0)) * min(t1, t0) / (t1 + t0)
    if expected < 5 or se == 0:
        table = [[s1, t1 - s1], [s0, t0 - s0]]
        # Deal counts can be non-integral after weighting; Fisher needs whole numbers.
        table_int = [[round(x) for x in row] for row in table]
        p = float(sps.fisher_exact(table_int).pvalue)
        test = "fisher"
    else:
        p = float(2 * sps.norm.sf(abs(diff) / se))
        test = "z (cluster-robust)"
    return Comparison(p1, p0, diff, diff_ci, lift, lift_ci, p, test, **counts)


def _cluster_or_binomial(w: np.ndarray, n: np.ndarray, p: float, total: float) -> float:
    """Cluster-robust variance, never below the binomial one (few clusters understate it)."""
    binomial = p * (1 - p) / total
    robust = _ratio_variance(w, n)
    if math.isnan(robust):
        return binomial
    return max(robust, binomial)


def benjamini_hochberg(p_values: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg q-values: monotone, at most 1; NaN stays NaN and is not counted."""
    p = np.asarray(p_values, dtype=float)
    q = np.full(p.shape, math.nan)
    ok = ~np.isnan(p)
    m = int(ok.sum())
    if m == 0:
        return q
    values = p[ok]
    order = np.argsort(values)
    ranked = values[order] * m / np.arange(1, m + 1)
    adjusted = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.minimum(adjusted, 1.0)
    q[ok] = out
    return q


def weight_of_evidence(
    won_in: float, lost_in: float, won_total: float, lost_total: float, smoothing: float = 0.5
) -> float:
    """ln(share of wins / share of losses) with ``smoothing`` added to each cell (and 2x to
    each total), so an empty cell gives a finite value; positive: more common among wins."""
    share_won = (won_in + smoothing) / (won_total + 2 * smoothing)
    share_lost = (lost_in + smoothing) / (lost_total + 2 * smoothing)
    return math.log(share_won / share_lost)


def information_value(
    won_counts: np.ndarray, lost_counts: np.ndarray, smoothing: float = 0.5
) -> tuple[np.ndarray, float]:
    """Per-bin IV contributions (share_won - share_lost) * WoE and their sum (see IV_BANDS)."""
    won = np.asarray(won_counts, dtype=float)
    lost = np.asarray(lost_counts, dtype=float)
    if won.size == 0 or won.sum() == 0 or lost.sum() == 0:
        return np.zeros(won.size), 0.0
    share_won = (won + smoothing) / (won.sum() + smoothing * won.size)
    share_lost = (lost + smoothing) / (lost.sum() + smoothing * lost.size)
    parts = (share_won - share_lost) * np.log(share_won / share_lost)
    return parts, float(parts.sum())


def shrunk_rate(wins: float, n: float, prior_rate: float, prior_strength: float) -> float:
    """Beta-binomial posterior mean (wins + k p0) / (n + k): thin cells lean to the base rate."""
    return (wins + prior_strength * prior_rate) / (n + prior_strength)


def estimate_prior_strength(wins: np.ndarray, n: np.ndarray) -> float:
    """Empirical-Bayes (method of moments) prior strength k from the spread of segment rates.

    Between-segment variance of the rates beyond binomial noise gives the prior variance
    tau^2 = p(1-p)/(k+1); clipped to PRIOR_STRENGTH_RANGE, DEFAULT_PRIOR_STRENGTH when the
    spread cannot tell (fewer than 2 segments, or no excess variance).
    """
    w = np.asarray(wins, dtype=float)
    t = np.asarray(n, dtype=float)
    keep = t > 0
    w, t = w[keep], t[keep]
    if len(t) < 2 or t.sum() == 0:
        return DEFAULT_PRIOR_STRENGTH
    p = w.sum() / t.sum()
    if p <= 0 or p >= 1:
        return DEFAULT_PRIOR_STRENGTH
    rates = w / t
    weights = t / t.sum()
    observed = float(np.sum(weights * (rates - p) ** 2))
    noise = float(np.sum(weights * p * (1 - p) / t))
    tau2 = observed - noise
    if tau2 <= 0:
        return PRIOR_STRENGTH_RANGE[1]
    k = p * (1 - p) / tau2 - 1
    return float(min(max(k, PRIOR_STRENGTH_RANGE[0]), PRIOR_STRENGTH_RANGE[1]))


def bootstrap_accounts_ci(
    statistic: Callable[[np.ndarray], float],
    n_accounts: int,
    n_boot: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> tuple[float, float]:
    """Percentile interval of ``statistic`` over resamples of account indices (deterministic)."""
    if n_accounts < 2:
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    draws = np.array([statistic(rng.integers(0, n_accounts, n_accounts)) for _ in range(n_boot)])
    draws = draws[~np.isnan(draws)]
    if draws.size == 0:
        return math.nan, math.nan
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(draws, [tail, 100 - tail])
    return float(low), float(high)


def median_ci(values: np.ndarray, confidence: float = 0.95) -> tuple[float, float, float]:
    """Median with a distribution-free interval from binomial order statistics."""
    x = np.sort(np.asarray(values, dtype=float))
    n = x.size
    if n == 0:
        return math.nan, math.nan, math.nan
    median = float(np.median(x))
    if n < 3:
        return median, float(x[0]), float(x[-1])
    tail = (1 - confidence) / 2
    lo = int(sps.binom.ppf(tail, n, 0.5))
    hi = int(sps.binom.isf(tail, n, 0.5))
    lo = max(lo - 1, 0)
    hi = min(hi, n - 1)
    return median, float(x[lo]), float(x[hi])
