"""Statistics a skeptic accepts: intervals, cluster-robust comparisons, FDR control, WoE/IV.

Pure functions over numpy arrays. The unit of analysis is a closed deal, but deals of one
account are not independent evidence about that account's attributes, so most functions take
per-account (cluster) arrays: ``wins[i]`` won of ``deals[i]`` closed deals of account i.
Accounts with no closed deals carry no information and are ignored.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import special

MIN_CLOSED_DEALS = 30
"""Fewer closed deals than this in a cut is noise: report it, but flag it as too thin."""

DEFAULT_PRIOR_STRENGTH = 20.0
"""Prior strength k used when it cannot be estimated: 20 pseudo-deals at the base rate."""

PRIOR_STRENGTH_RANGE = (2.0, 500.0)
"""Estimated prior strengths are clipped to this range: never (almost) no shrinkage, never
a prior that drowns a thousand deals."""

IV_BANDS: tuple[tuple[float, str], ...] = (
    (0.02, "useless"),
    (0.1, "weak"),
    (0.3, "medium"),
    (math.inf, "strong"),
)
"""Usual information-value strength bands (upper bounds, exclusive):
<0.02 useless, 0.02-0.1 weak, 0.1-0.3 medium, >=0.3 strong."""

TEST_Z = "z (cluster-robust)"
TEST_PERMUTATION = "permutation (accounts)"
TEST_NONE = "none"

_MIN_EXPECTED = 5.0
"""Fewer expected wins (or losses) on the smaller side than this: the t reference is not
trusted and accounts are relabelled instead."""


def _z(confidence: float) -> float:
    """Two-sided normal quantile, e.g. 0.95 -> 1.96."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    return float(special.ndtri(0.5 + confidence / 2))


def _clusters(wins: np.ndarray, deals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Validated float copies of per-account counts, accounts without closed deals dropped."""
    w = np.asarray(wins, dtype=float).ravel()
    n = np.asarray(deals, dtype=float).ravel()
    if w.shape != n.shape:
        raise ValueError(f"wins and deals differ in length: {w.size} != {n.size}")
    if np.any(w < 0) or np.any(w > n):
        raise ValueError("every account needs 0 <= wins <= deals")
    keep = n > 0
    if keep.all():  # the usual case: cuts hold accounts with deals, no copy needed
        return w, n
    return w[keep], n[keep]


def wilson_interval(successes: float, n: float, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a proportion; (0, 1) when n == 0.

    Unlike the Wald interval it stays inside [0, 1] and keeps its coverage near 0 and 1.
    Fractional counts are allowed (effective sample sizes). Newcombe's (1998) example:

    >>> low, high = wilson_interval(81, 263)
    >>> round(low, 4), round(high, 4)
    (0.2553, 0.3662)
    >>> wilson_interval(0, 10)[0], wilson_interval(0, 0)
    (0.0, (0.0, 1.0))
    """
    z = _z(confidence)
    if n <= 0:
        return 0.0, 1.0
    if not 0 <= successes <= n:
        raise ValueError(f"need 0 <= successes <= n, got {successes} of {n}")
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def median_count(values: np.ndarray) -> float:
    """``np.median`` of ``values``, exactly, counted rather than partitioned when they are
    whole numbers from 0 to a million (deals per account): a count of each value and its
    running total find the middle one or two, whose mean the median is.

    >>> median_count(np.array([3.0, 1.0, 2.0, 8.0])), median_count(np.array([0.5, 2.0]))
    (2.5, 1.25)
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    if v.size == 0 or not (v.min() >= 0.0 and v.max() <= 1e6):
        return float(np.median(v))
    whole = v.astype(np.int64)
    if not np.array_equal(whole, v):
        return float(np.median(v))
    below = np.cumsum(np.bincount(whole))  # values at or below each whole number
    lower, upper = np.searchsorted(below, [(v.size - 1) // 2 + 1, v.size // 2 + 1])
    return float(np.mean([float(lower), float(upper)]))


def _ratio_variance(w: np.ndarray, n: np.ndarray) -> float:
    """Cluster-robust variance m/(m-1) * sum((w_i - p n_i)^2) / N^2 of p = sum(w) / sum(n)."""
    m = w.size
    total = float(n.sum())
    if m < 2 or total == 0:
        return math.nan
    p = float(w.sum()) / total
    resid = w - p * n
    return float(m / (m - 1) * np.sum(resid * resid) / (total * total))


def design_effect(wins: np.ndarray, deals: np.ndarray) -> float:
    """Variance inflation of the pooled rate from clustering: robust / binomial variance, >= 1.

    1.0 when every account has one deal, and when it cannot be estimated (fewer than two
    accounts, or every deal won or every deal lost). Example: 10 accounts of 10 deals each,
    all-or-nothing -> about 10 (each account is worth one deal, not ten).
    """
    w, n = _clusters(wins, deals)
    total = float(n.sum())
    if total == 0 or w.size < 2 or np.all(n == 1):
        return 1.0
    p = float(w.sum()) / total
    if p <= 0.0 or p >= 1.0:
        return 1.0
    return max(1.0, _ratio_variance(w, n) / (p * (1 - p) / total))


def _effective_n(w: np.ndarray, n: np.ndarray) -> float:
    """Deals worth of independent evidence: N / design effect, or the number of accounts
    when the design effect cannot be estimated (one account, or a rate of 0 or 1)."""
    total = float(n.sum())
    if total == 0:
        return 0.0
    p = float(w.sum()) / total
    if w.size < 2 or p <= 0.0 or p >= 1.0:
        # Nothing to estimate the within-account correlation from: count accounts, not deals.
        return float(w.size)
    return total / design_effect(w, n)


@dataclass(frozen=True)
class RateEstimate:
    """A pooled win rate with an interval computed on the effective (cluster-adjusted) n."""

    rate: float
    low: float
    high: float
    n_deals: int
    n_accounts: int
    effective_n: float


def clustered_rate(wins: np.ndarray, deals: np.ndarray, confidence: float = 0.95) -> RateEstimate:
    """Pooled rate sum(wins)/sum(deals) with a Wilson interval on n / design effect.

    So 3 accounts with 100 deals each are not 300 independent deals. When the design effect
    cannot be estimated (one account, all won or all lost) the interval counts accounts.
    Rate and interval are NaN when there are no closed deals.
    """
    w, n = _clusters(wins, deals)
    total = float(n.sum())
    if total == 0:
        return RateEstimate(math.nan, math.nan, math.nan, 0, 0, 0.0)
    rate = float(w.sum()) / total
    effective = _effective_n(w, n)
    low, high = wilson_interval(rate * effective, effective, confidence)
    return RateEstimate(rate, low, high, round(total), int(w.size), effective)


@dataclass(frozen=True)
class Comparison:
    """Win rate inside a group (``_in``) against outside it (``_out``), cluster-robust."""

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


PERMUTATION_MAX_ACCOUNTS = 30
"""A side of a comparison with fewer accounts than this gets an account-level permutation
test: the t reference is not to be trusted with so few independent units."""

PERMUTATION_DRAWS = 9999
"""Random relabellings of accounts when the relabellings are too many to enumerate."""

PERMUTATION_ENUMERATE = 20000
"""Enumerate every relabelling (an exact test) when there are at most this many."""


def _cr2_variance(w: np.ndarray, n: np.ndarray, rate: float) -> float:
    """Bell-McCaffrey (CR2) variance of a pooled rate around ``rate``.

    For the mean of one group the CR2 adjustment of account i is 1 / (1 - n_i / N): unbiased
    when deals are independent, and no longer shrunk towards zero when a few accounts carry
    most deals (the plain sandwich is, by up to a factor (m-1)/m and worse when sizes vary).
    """
    total = float(n.sum())
    resid = w - rate * n
    leverage = np.minimum(n / total, 1.0)
    # A single account has leverage 1: its variance is not estimable, report it as unbounded.
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(leverage < 1.0, resid * resid / (1.0 - leverage), math.inf)
    return float(np.sum(terms) / (total * total))


def _satterthwaite(v1: float, m1: int, v0: float, m0: int) -> float:
    """Welch-Satterthwaite degrees of freedom of v1 + v0, each estimated from m - 1 df."""
    if m1 < 2 or m0 < 2:
        return 1.0
    num = (v1 + v0) ** 2
    den = v1 * v1 / (m1 - 1) + v0 * v0 / (m0 - 1)
    if den <= 0 or not math.isfinite(num / den):
        return float(max(1, min(m1, m0) - 1))
    return float(max(1.0, min(num / den, m1 + m0 - 2)))


def _null_t(
    w_in: np.ndarray,
    n_in: np.ndarray,
    w_all: float,
    n_all: float,
    r2_in: np.ndarray,
    r2_all: float,
) -> np.ndarray:
    """Studentized difference of rates with the variance taken under the null (one pooled
    rate for both sides), for one or many relabellings given by their summed counts."""
    n_out = n_all - n_in
    with np.errstate(divide="ignore", invalid="ignore"):
        diff = w_in / n_in - (w_all - w_in) / n_out
        var = r2_in / (n_in * n_in) + (r2_all - r2_in) / (n_out * n_out)
        t = np.where(var > 0, np.abs(diff) / np.sqrt(var), np.where(diff == 0, 0.0, math.inf))
    return np.asarray(t, dtype=float)


def _draw_subsets(m: int, k: int, draws: int, rng: np.random.Generator) -> np.ndarray:
    """``draws`` random k-subsets of range(m), without repeats within a subset."""
    if k * 4 > m:
        return np.argsort(rng.random((draws, m)), axis=1)[:, :k]
    out = rng.integers(0, m, (draws, k))
    if k < 2:
        return out
    # Rows holding a repeated account are drawn again whole, up to 100 rounds; only the rows
    # drawn again in a round can hold a repeat in the next.
    rows = np.arange(draws)
    for _ in range(100):
        s = np.sort(out[rows], axis=1)
        rows = rows[np.any(s[:, 1:] == s[:, :-1], axis=1)]
        if rows.size == 0:
            return out
        out[rows] = rng.integers(0, m, (rows.size, k))
    # Where most draws repeat an account (k near m / 4), rows can still hold a repeat after
    # the 100 rounds: their repeated entries are drawn again until the row holds k distinct
    # accounts (the first k distinct of a uniform stream: a uniform k-subset).
    while rows.size:
        s = np.sort(out[rows], axis=1)
        repeat = np.zeros(s.shape, dtype=bool)
        repeat[:, 1:] = s[:, 1:] == s[:, :-1]
        left = repeat.any(axis=1)
        rows, s, repeat = rows[left], s[left], repeat[left]
        s[repeat] = rng.integers(0, m, int(repeat.sum()))
        out[rows] = s
    return out


def _relabellings(m: int, k: int, seed: int) -> tuple[np.ndarray, int]:
    """The k-subsets of m accounts a permutation test sums over, and 1 when they are draws
    (the observed labelling then counts as one more). A function of (m, k, seed) alone, so
    the last 32 small ones are kept: an analysis meets the same (m, k) across attributes and
    again in lift, derive and backtest (the 600-deal demo: 129 sizes in 336 comparisons, 126
    served kept; keeping all 129 would hold 112 MiB)."""
    if k <= _KEPT_SUBSET_SIZE:
        return _kept_relabellings(m, k, seed)
    return _make_relabellings(m, k, seed)


def _make_relabellings(m: int, k: int, seed: int) -> tuple[np.ndarray, int]:
    if math.comb(m, k) <= PERMUTATION_ENUMERATE:
        idx = np.array(list(itertools.combinations(range(m), k)), dtype=np.intp)
        extra = 0
    else:
        idx = _draw_subsets(m, k, PERMUTATION_DRAWS, np.random.default_rng(seed))
        extra = 1  # the observed labelling counts as one of the draws
    idx.flags.writeable = False
    return idx, extra


# At most 32 kept, each at most 20,000 x 32 indices (5 MB; most far fewer).
_KEPT_SUBSET_SIZE = 32
_kept_relabellings = lru_cache(maxsize=32)(_make_relabellings)


def permutation_p_value(w: np.ndarray, n: np.ndarray, in_group: np.ndarray, seed: int = 0) -> float:
    """Two-sided account-level permutation p-value of a difference in pooled win rates.

    Accounts, not deals, are relabelled: under the null the accounts of the cut are
    exchangeable with the rest. The statistic is the difference studentized by its
    null (pooled-rate) variance, so a few large accounts cannot dominate. Exact when the
    relabellings number at most PERMUTATION_ENUMERATE, else PERMUTATION_DRAWS seeded draws;
    a mid-p (ties with the observed statistic count half), since with two or three accounts
    the statistic takes few values and the plain p would be conservative by its ties.
    """
    w = np.asarray(w, dtype=float)
    n = np.asarray(n, dtype=float)
    mask = np.asarray(in_group, dtype=bool)
    m = w.size
    small = mask if mask.sum() <= m - mask.sum() else ~mask
    k = int(small.sum())
    if k == 0 or k == m:
        return 1.0
    w_all, n_all = float(w.sum()), float(n.sum())
    pooled = w_all / n_all
    r2 = (w - pooled * n) ** 2
    r2_all = float(r2.sum())
    observed = _null_t(
        np.array([w[small].sum()]),
        np.array([n[small].sum()]),
        w_all,
        n_all,
        np.array([r2[small].sum()]),
        r2_all,
    )[0]
    idx, extra = _relabellings(m, k, seed)
    t = _null_t(w[idx].sum(axis=1), n[idx].sum(axis=1), w_all, n_all, r2[idx].sum(axis=1), r2_all)
    # Mid-p: relabellings that tie with the observed one count half, so that a statistic
    # with few distinct values (two or three accounts) is not conservative by its ties.
    above = int(np.sum(t > observed * (1 + 1e-9)))
    ties = int(np.sum(t >= observed * (1 - 1e-9))) - above
    return float(min(1.0, (above + 0.5 * ties + extra) / (idx.shape[0] + extra)))


WHALE_MULTIPLE = 5.0
WHALE_FLOOR = 10.0
"""An account weighs at most max(WHALE_FLOOR, WHALE_MULTIPLE x the median account's closed
deals) deals in a comparison: a "whale" with hundreds of deals counts as a large account,
not as hundreds of observations, and ordinary accounts are not touched."""


def within_account_correlation(wins: np.ndarray, deals: np.ndarray, in_group: np.ndarray) -> float:
    """Intra-account correlation of outcomes (the ANOVA estimator for clustered binary data,
    around each side's own rate), clipped to [0, 1]; 0 when no account has two deals.

    Example: accounts that win all or none of their deals -> 1; deals that win
    independently of their account -> about 0."""
    w = np.asarray(wins, dtype=float)
    n = np.asarray(deals, dtype=float)
    mask = np.asarray(in_group, dtype=bool)
    k, total = w.size, float(n.sum())
    groups = [side for side in (mask, ~mask) if side.any()]
    if total - k < 1 or k - len(groups) < 1:
        return 0.0
    between = 0.0
    size_sq = 0.0
    for side in groups:
        rate = float(w[side].sum() / n[side].sum())
        between += float(np.sum(n[side] * (w[side] / n[side] - rate) ** 2))
        size_sq += float(np.sum(n[side] ** 2) / n[side].sum())
    within = float(np.sum(w - w * w / n))
    msb = between / (k - len(groups))
    msw = within / (total - k)
    n0 = (total - size_sq) / (k - len(groups))
    denominator = msb + (n0 - 1) * msw
    if denominator <= 0:
        return 0.0
    return float(min(1.0, max(0.0, (msb - msw) / denominator)))


def rate_difference(
    wins: np.ndarray, deals: np.ndarray, in_group: np.ndarray, confidence: float = 0.95
) -> Comparison:
    """Compare the pooled win rate of the accounts ``in_group`` (p1) with the others (p0).

    Difference p1 - p0 and lift p1 / p0 (log scale), no account weighing more than a whale
    cap (WHALE_MULTIPLE). A cut with at least PERMUTATION_MAX_ACCOUNTS accounts on each side
    and enough expected wins and losses gets the cluster-robust comparison, its test on the
    pooled rate against a t on the effective number of accounts (``_large_sample``).
    A smaller cut gets intervals from Bell-McCaffrey (CR2) account-clustered variances with a
    t reference on Welch-Satterthwaite degrees of freedom, and a p-value from relabelling
    accounts (``permutation_p_value``): honest with two, three or five accounts. Undefined
    quantities are NaN and their p-value is 1.0. Example: 30/100 inside vs 20/100 outside,
    one deal per account -> difference 0.10, lift 1.5.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    w_all = np.asarray(wins, dtype=float).ravel()
    n_all = np.asarray(deals, dtype=float).ravel()
    mask_all = np.asarray(in_group, dtype=bool).ravel()
    if mask_all.shape != n_all.shape:
        raise ValueError(f"in_group and deals differ in length: {mask_all.size} != {n_all.size}")
    _clusters(w_all, n_all)
    keep = n_all > 0
    w_all, n_all, mask = w_all[keep], n_all[keep], mask_all[keep]
    w1, n1, w0, n0 = w_all[mask], n_all[mask], w_all[~mask], n_all[~mask]
    t1, t0 = float(n1.sum()), float(n0.sum())
    m1, m0 = int(n1.size), int(n0.size)
    counts = {
        "n_deals_in": round(t1),
        "wins_in": round(float(w1.sum())),
        "n_accounts_in": m1,
        "n_deals_out": round(t0),
        "wins_out": round(float(w0.sum())),
        "n_accounts_out": m0,
    }
    nan2 = (math.nan, math.nan)
    if t1 == 0 or t0 == 0:
        rate_in = float(w1.sum()) / t1 if t1 else math.nan
        rate_out = float(w0.sum()) / t0 if t0 else math.nan
        return Comparison(
            rate_in, rate_out, math.nan, nan2, math.nan, nan2, 1.0, TEST_NONE, **counts
        )

    # No account weighs more than ``size_cap`` deals (WHALE_MULTIPLE times the typical
    # account's, at least WHALE_FLOOR): a few accounts with hundreds of deals cannot make a
    # segment's rate their own, while ordinary accounts keep one vote a deal.
    size_cap = max(WHALE_FLOOR, WHALE_MULTIPLE * median_count(n_all))
    g = np.minimum(1.0, size_cap / n_all)
    rho = within_account_correlation(w_all, n_all, mask)
    # What each account adds to the variance of its side's weighted rate (up to p (1 - p)):
    # g_i^2 n_i (1 + (n_i - 1) rho), for the degrees of freedom of the large-sample test.
    spread = g * g * n_all * (1.0 + (n_all - 1.0) * rho)
    # Scaled so that the weighted deals count as many as they are worth when deals are
    # independent (Kish's effective size, sum(g n)^2 / sum(g^2 n)): the binomial variance of
    # the weighted rate on them is then the true one, and clustering only adds to it.
    g *= float(np.sum(g * n_all) / np.sum(g * g * n_all))
    w_all, n_all = w_all * g, n_all * g
    w1, n1, w0, n0 = w_all[mask], n_all[mask], w_all[~mask], n_all[~mask]
    t1, t0 = float(n1.sum()), float(n0.sum())
    p1, p0 = float(w1.sum()) / t1, float(w0.sum()) / t0
    diff = p1 - p0
    pooled = (t1 * p1 + t0 * p0) / (t1 + t0)
    smallest_expected = min(pooled, 1 - pooled) * min(t1, t0)
    if min(m1, m0) >= PERMUTATION_MAX_ACCOUNTS and smallest_expected >= _MIN_EXPECTED:
        df = _cluster_df(spread[mask], t1, spread[~mask], t0)
        return _large_sample(w1, n1, w0, n0, confidence, counts, df)
    # Interval: CR2 variances around each side's rate; a rate of 0 or 1 has no plug-in
    # variance, so it borrows one win and one loss per side (Agresti-Caffo).
    v1 = _cr2_variance(w1, n1, p1) if 0 < p1 < 1 else _ac_variance(p1, w1, n1)
    v0 = _cr2_variance(w0, n0, p0) if 0 < p0 < 1 else _ac_variance(p0, w0, n0)
    df = _satterthwaite(v1, m1, v0, m0)
    crit = float(special.stdtrit(df, 0.5 + confidence / 2))
    se = math.sqrt(v1 + v0)
    if math.isfinite(se):
        diff_ci = (max(-1.0, diff - crit * se), min(1.0, diff + crit * se))
    else:
        diff_ci = (-1.0, 1.0)

    lift, lift_ci = math.nan, nan2
    if p0 > 0 and p1 > 0:
        lift = p1 / p0
        se_log = math.sqrt(v1 / p1**2 + v0 / p0**2)
        if math.isfinite(se_log):
            # One account on a side: no spread to estimate, so no interval (NaN, said so).
            lift_ci = (lift * math.exp(-crit * se_log), lift * math.exp(crit * se_log))
    elif p0 > 0:
        lift = 0.0

    if pooled <= 0 or pooled >= 1:
        return Comparison(p1, p0, diff, diff_ci, lift, lift_ci, 1.0, TEST_NONE, **counts)
    p_value = permutation_p_value(w_all, n_all, mask)
    return Comparison(p1, p0, diff, diff_ci, lift, lift_ci, p_value, TEST_PERMUTATION, **counts)


def _large_sample(
    w1: np.ndarray,
    n1: np.ndarray,
    w0: np.ndarray,
    n0: np.ndarray,
    confidence: float,
    counts: dict[str, int],
    df: float,
) -> Comparison:
    """The cluster-robust comparison for cuts with at least PERMUTATION_MAX_ACCOUNTS accounts
    on each side and enough expected wins and losses: the difference over its null standard
    error, against a t on ``df``, the effective number of accounts (``_cluster_df``)."""
    return _large_sample_of(_side(w1, n1), _side(w0, n0), confidence, counts, df)


def _large_sample_of(
    inside: _Side, outside: _Side, confidence: float, counts: dict[str, int], df: float
) -> Comparison:
    """``_large_sample`` from each side's rate, effective n and variance."""
    z = float(special.stdtrit(df, 0.5 + confidence / 2))
    p1, p0 = inside.rate, outside.rate
    diff = p1 - p0
    se = math.sqrt(inside.variance + outside.variance)
    diff_ci = (max(-1.0, diff - z * se), min(1.0, diff + z * se))
    lift, lift_ci = math.nan, (math.nan, math.nan)
    if p0 > 0 and p1 > 0:
        lift = p1 / p0
        se_log = math.sqrt(inside.variance / p1**2 + outside.variance / p0**2)
        lift_ci = (lift * math.exp(-z * se_log), lift * math.exp(z * se_log))
    elif p0 > 0:
        lift = 0.0
    # The test takes its variance under the null (one pooled rate, on each side's effective
    # number of accounts): a small cell's own low variance does not flatter it.
    pooled = (p1 * inside.effective_n + p0 * outside.effective_n) / (
        inside.effective_n + outside.effective_n
    )
    null_se = math.sqrt(pooled * (1 - pooled) * (1 / inside.effective_n + 1 / outside.effective_n))
    p_value = float(2 * special.stdtr(df, -abs(diff) / null_se)) if null_se > 0 else 1.0
    return Comparison(p1, p0, diff, diff_ci, lift, lift_ci, p_value, TEST_Z, **counts)


def _cluster_df(
    spread_in: np.ndarray, total_in: float, spread_out: np.ndarray, total_out: float
) -> float:
    """Degrees of freedom of the clustered variance of a difference: the effective number of
    accounts behind it (Satterthwaite over accounts, as in Carter, Schnepel and Steigerwald's
    effective number of clusters). ``spread`` holds what each account adds to its side's
    variance and ``total`` the side's weighted deals; when a few accounts carry most of the
    variance the df fall and the reference widens with them. k equal accounts a side give
    about 2k."""
    shares = np.concatenate([spread_in / total_in**2, spread_out / total_out**2])
    return float(max(1.0, shares.sum() ** 2 / (shares * shares).sum()))


@dataclass(frozen=True)
class _Side:
    rate: float
    effective_n: float
    variance: float


def _side(w: np.ndarray, n: np.ndarray) -> _Side:
    """Rate, effective n and cluster-robust variance of one side of a comparison."""
    p = float(w.sum()) / float(n.sum())
    ne = _effective_n(w, n)
    if 0.0 < p < 1.0:
        # p(1-p) / (N / deff) is the ratio-estimator variance, floored at the binomial one.
        return _Side(p, ne, p * (1 - p) / ne)
    # A rate of 0 or 1 has zero plug-in variance; add one win and one loss (Agresti-Caffo).
    adjusted = (p * ne + 1) / (ne + 2)
    return _Side(p, ne, adjusted * (1 - adjusted) / (ne + 2))


def _ac_variance(p: float, w: np.ndarray, n: np.ndarray) -> float:
    """Variance of a side whose rate is 0 or 1: one win and one loss added to its accounts'
    worth of evidence (Agresti-Caffo), since the plug-in variance is zero."""
    ne = float(w.size) if w.size < 2 else _effective_n(w, n)
    adjusted = (p * ne + 1) / (ne + 2)
    return adjusted * (1 - adjusted) / (ne + 2)


@dataclass(frozen=True)
class _Run:
    """Sums over the accounts of one run of rows in ``rate_differences``: those of the rest of
    the rows are the other runs' sums, so no comparison reads every account again."""

    m: int  # accounts with closed deals
    deals: float
    wins: float
    deals_sq: float  # sum of n^2
    between: float  # sum of n (w/n - rate)^2 around the run's own rate
    spread: float  # sum of g^2 n (the whale-capped weight g before scaling)
    spread_pairs: float  # sum of g^2 n (n - 1)
    spread_sq: float  # sum of (g^2 n)^2
    spread_cross: float  # sum of g^2 n * g^2 n (n - 1)
    pairs_sq: float  # sum of (g^2 n (n - 1))^2
    w_deals: float  # weighted deals and wins
    w_wins: float
    w_resid: float  # sum of (w - p n)^2, weighted, around the run's own weighted rate p
    w_cross: float  # sum of n (w - p n), weighted
    w_deals_sq: float  # sum of n^2, weighted
    w_not_one: int  # accounts whose weighted deals are not exactly 1
    resid: float  # sum of (w - rate n)^2 around the run's own rate, unweighted
    not_one: int  # accounts whose deals are not exactly 1

    @classmethod
    def of(
        cls, w: np.ndarray, n: np.ndarray, g: np.ndarray, wg: np.ndarray, ng: np.ndarray
    ) -> _Run:
        """The sums of one run: ``w``, ``n`` counts, ``g`` weights, ``wg``, ``ng`` weighted."""
        deals, wins = float(n.sum()), float(w.sum())
        rate = wins / deals if deals else 0.0
        a = g * g * n
        b = a * (n - 1.0)
        t, s = float(ng.sum()), float(wg.sum())
        p = s / t if t else 0.0
        resid = wg - p * ng
        # As _ratio_variance computes it for clustered_rate, to the bit.
        own = w - rate * n
        return cls(
            int(n.size),
            deals,
            wins,
            float(np.sum(n * n)),
            float(np.sum(n * (w / n - rate) ** 2)) if n.size else 0.0,
            float(a.sum()),
            float(b.sum()),
            float(np.sum(a * a)),
            float(np.sum(a * b)),
            float(np.sum(b * b)),
            t,
            s,
            float(np.sum(resid * resid)),
            float(np.sum(ng * resid)),
            float(np.sum(ng * ng)),
            int(np.count_nonzero(ng != 1.0)),
            float(np.sum(own * own)),
            int(np.count_nonzero(n != 1.0)),
        )

    def estimate(self, confidence: float) -> RateEstimate:
        """``clustered_rate`` of the run's accounts, from its sums (the same floats)."""
        if self.deals == 0:
            return RateEstimate(math.nan, math.nan, math.nan, 0, 0, 0.0)
        rate = self.wins / self.deals
        effective = _effective_n_of(self.m, self.deals, rate, self.resid, self.not_one)
        low, high = wilson_interval(rate * effective, effective, confidence)
        return RateEstimate(rate, low, high, round(self.deals), self.m, effective)

    def side(self) -> _Side:
        """``_side`` of the run's weighted counts, from its sums (the same floats)."""
        p = self.w_wins / self.w_deals
        ne = _effective_n_of(self.m, self.w_deals, p, self.w_resid, self.w_not_one)
        if 0.0 < p < 1.0:
            return _Side(p, ne, p * (1 - p) / ne)
        adjusted = (p * ne + 1) / (ne + 2)
        return _Side(p, ne, adjusted * (1 - adjusted) / (ne + 2))


def _effective_n_of(m: int, total: float, p: float, resid: float, not_one: int) -> float:
    """``_effective_n`` of ``m`` accounts from their sums: ``total`` deals at rate ``p``,
    ``resid`` the sum of (w - p n)^2 and ``not_one`` the accounts without exactly one deal."""
    if total == 0:
        return 0.0
    if m < 2 or p <= 0.0 or p >= 1.0:
        return float(m)
    if not not_one:
        return total  # every account one deal: a design effect of 1
    variance = float(m / (m - 1) * resid / (total * total))
    return total / max(1.0, variance / (p * (1 - p) / total))


def rate_differences(
    wins: np.ndarray, deals: np.ndarray, starts: np.ndarray, confidence: float = 0.95
) -> list[Comparison]:
    """``rate_difference`` of each run of rows (run i: rows ``starts[i]`` to ``starts[i + 1]``,
    the last to the end) against all the other rows, as one attribute's values are each
    compared with the rest of the attribute.

    The large-sample comparisons come from sums per run, so k runs over m accounts cost
    O(m + k^2), not O(k m); they equal ``rate_difference`` up to the order of summation (the
    last bits of a float). Small cuts, tested by relabelling accounts, are handed to
    ``rate_difference`` itself with the run's rows first and the others in their order."""
    return rates_and_differences(wins, deals, starts, confidence)[1]


def rates_and_differences(
    wins: np.ndarray, deals: np.ndarray, starts: np.ndarray, confidence: float = 0.95
) -> tuple[list[RateEstimate], list[Comparison]]:
    """``clustered_rate`` of each run of rows and ``rate_differences``, both from the runs'
    sums: a lift table's rates and comparisons for one pass over its accounts."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    w_raw = np.asarray(wins, dtype=float).ravel()
    n_raw = np.asarray(deals, dtype=float).ravel()
    if w_raw.shape != n_raw.shape:
        raise ValueError(f"wins and deals differ in length: {w_raw.size} != {n_raw.size}")
    _clusters(w_raw, n_raw)
    bounds = [int(b) for b in np.asarray(starts, dtype=np.int64).ravel()] + [n_raw.size]
    if not bounds[:-1]:
        return [], []
    if bounds[0] != 0 or any(b > e for b, e in itertools.pairwise(bounds)):
        raise ValueError("starts must begin at 0 and never decrease")
    # Accounts without closed deals carry nothing; each run keeps its own accounts.
    keep = n_raw > 0
    if keep.all():  # the usual case: nothing to leave out, nothing copied
        kept, w_all, n_all = bounds, w_raw, n_raw
    else:
        kept_before = np.r_[0, np.cumsum(keep)]
        kept = [int(kept_before[b]) for b in bounds]
        w_all, n_all = w_raw[keep], n_raw[keep]
    out: list[Comparison] = []
    if n_all.size == 0:
        none = RateEstimate(math.nan, math.nan, math.nan, 0, 0, 0.0)
        return [none] * (len(bounds) - 1), [
            _reordered(w_raw, n_raw, b, e, confidence) for b, e in itertools.pairwise(bounds)
        ]
    # The whale cap and its scaling are those of all the rows, whichever run is inside.
    size_cap = max(WHALE_FLOOR, WHALE_MULTIPLE * median_count(n_all))
    g = np.minimum(1.0, size_cap / n_all)
    scale = float(np.sum(g * n_all) / np.sum(g * g * n_all))
    wg, ng = w_all * (g * scale), n_all * (g * scale)
    runs = [
        _Run.of(w_all[b:e], n_all[b:e], g[b:e], wg[b:e], ng[b:e])
        for b, e in itertools.pairwise(kept)
    ]
    k, total = int(n_all.size), float(n_all.sum())
    within = float(np.sum(w_all - w_all * w_all / n_all))
    for j, (b, e) in enumerate(itertools.pairwise(bounds)):
        inside = runs[j]
        rest = runs[:j] + runs[j + 1 :]
        m1, m0 = inside.m, k - inside.m
        w_in, w_out = inside.w_wins, sum(r.w_wins for r in rest)
        t1, t0 = inside.w_deals, sum(r.w_deals for r in rest)
        if inside.deals == 0 or m0 == 0 or min(m1, m0) < PERMUTATION_MAX_ACCOUNTS:
            out.append(_reordered(w_raw, n_raw, b, e, confidence))
            continue
        p1, p0 = w_in / t1, w_out / t0
        pooled = (t1 * p1 + t0 * p0) / (t1 + t0)
        if min(pooled, 1 - pooled) * min(t1, t0) < _MIN_EXPECTED:
            out.append(_reordered(w_raw, n_raw, b, e, confidence))
            continue
        deals_out = sum(r.deals for r in rest)
        wins_out = sum(r.wins for r in rest)
        counts = {
            "n_deals_in": round(inside.deals),
            "wins_in": round(inside.wins),
            "n_accounts_in": m1,
            "n_deals_out": round(deals_out),
            "wins_out": round(wins_out),
            "n_accounts_out": m0,
        }
        rho = _run_correlation(inside, rest, deals_out, wins_out, k, total, within)
        spread_in = inside.spread + rho * inside.spread_pairs
        spread_out = sum(r.spread for r in rest) + rho * sum(r.spread_pairs for r in rest)
        sq_in = inside.spread_sq + 2 * rho * inside.spread_cross + rho * rho * inside.pairs_sq
        sq_out = (
            sum(r.spread_sq for r in rest)
            + 2 * rho * sum(r.spread_cross for r in rest)
            + rho * rho * sum(r.pairs_sq for r in rest)
        )
        shares = spread_in / t1**2 + spread_out / t0**2
        df = float(max(1.0, shares**2 / (sq_in / t1**4 + sq_out / t0**4)))
        out.append(_large_sample_of(inside.side(), _rest_side(rest, m0), confidence, counts, df))
    return [r.estimate(confidence) for r in runs], out


def _reordered(w: np.ndarray, n: np.ndarray, begin: int, end: int, confidence: float) -> Comparison:
    """``rate_difference`` of rows ``begin:end`` against the others: those rows first."""
    rest = np.r_[0:begin, end : n.size]
    order = np.r_[begin:end, rest]
    return rate_difference(w[order], n[order], np.arange(n.size) < end - begin, confidence)


def _run_correlation(
    inside: _Run,
    rest: list[_Run],
    deals_out: float,
    wins_out: float,
    k: int,
    total: float,
    within: float,
) -> float:
    """``within_account_correlation`` of one run against the rest, from the runs' sums: the
    spread of the rest around its rate is each run's around its own plus n (rate - rest)^2."""
    if total - k < 1 or k - 2 < 1:
        return 0.0
    rate_out = wins_out / deals_out
    between = inside.between + sum(
        r.between + r.deals * (r.wins / r.deals - rate_out) ** 2 for r in rest if r.m
    )
    size_sq = inside.deals_sq / inside.deals + sum(r.deals_sq for r in rest) / deals_out
    msb = between / (k - 2)
    msw = within / (total - k)
    n0 = (total - size_sq) / (k - 2)
    denominator = msb + (n0 - 1) * msw
    if denominator <= 0:
        return 0.0
    return float(min(1.0, max(0.0, (msb - msw) / denominator)))


def _rest_side(rest: list[_Run], m: int) -> _Side:
    """``_side`` of the rest of the rows, from the runs' sums."""
    total = sum(r.w_deals for r in rest)
    p = sum(r.w_wins for r in rest) / total
    if m < 2 or p <= 0.0 or p >= 1.0:
        ne = float(m)
    elif not any(r.w_not_one for r in rest):
        ne = total  # every account one deal: a design effect of 1
    else:
        resid = sum(
            r.w_resid
            + 2 * (r.w_wins / r.w_deals - p) * r.w_cross
            + (r.w_wins / r.w_deals - p) ** 2 * r.w_deals_sq
            for r in rest
            if r.m
        )
        variance = m / (m - 1) * resid / (total * total)
        ne = total / max(1.0, variance / (p * (1 - p) / total))
    if 0.0 < p < 1.0:
        return _Side(p, ne, p * (1 - p) / ne)
    adjusted = (p * ne + 1) / (ne + 2)
    return _Side(p, ne, adjusted * (1 - adjusted) / (ne + 2))


def benjamini_hochberg(p_values: np.ndarray, *, tests: int = 0) -> np.ndarray:
    """Benjamini-Hochberg q-values controlling the false discovery rate across many cuts.

    q_(i) = min_{j >= i} p_(j) * m / j, capped at 1, monotone in p; NaN stays NaN and does not
    count towards m. ``tests``: the family held at least this many tests, those not given
    with p = 1 (the cuts a rule was picked from and was not): m is at least ``tests``.

    >>> benjamini_hochberg(np.array([0.01, 0.04, 0.03, 0.2])).round(4).tolist()
    [0.04, 0.0533, 0.0533, 0.2]
    >>> benjamini_hochberg(np.array([0.01, np.nan])).tolist()
    [0.01, nan]
    >>> benjamini_hochberg(np.array([0.001, 0.02]), tests=10).round(4).tolist()
    [0.01, 0.1]
    """
    p = np.asarray(p_values, dtype=float)
    q = np.full(p.shape, math.nan)
    ok = ~np.isnan(p)
    m = int(ok.sum())
    if m == 0:
        return q
    values = p[ok]
    order = np.argsort(values, kind="stable")
    # The tests not given rank after these (p = 1) and never lower a q-value below 1.
    ranked = values[order] * max(m, tests) / np.arange(1, m + 1)
    adjusted = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.minimum(adjusted, 1.0)
    q[ok] = out
    return q


def weight_of_evidence(
    won_in: float, lost_in: float, won_total: float, lost_total: float, smoothing: float = 0.5
) -> float:
    """WoE = ln( ((won_in + s) / (won_total + 2s)) / ((lost_in + s) / (lost_total + 2s)) ).

    Positive: the value is more common among wins than among losses. ``s`` is added to the
    value's cell and to the rest-of-attribute cell, hence 2s in each total, so an empty cell
    stays finite. NaN when undefined (only possible with s = 0). Example: 0 of 100 wins vs 10
    of 100 losses -> ln(0.5 / 10.5) = -3.04.
    """
    s = smoothing
    won_den, lost_den = won_total + 2 * s, lost_total + 2 * s
    if won_den <= 0 or lost_den <= 0:
        return math.nan
    share_won, share_lost = (won_in + s) / won_den, (lost_in + s) / lost_den
    if share_won <= 0 or share_lost <= 0:
        return math.nan
    return math.log(share_won / share_lost)


def information_value(
    won_counts: np.ndarray, lost_counts: np.ndarray, smoothing: float = 0.5
) -> tuple[np.ndarray, float]:
    """Per-bin IV contributions (share_won - share_lost) * WoE and their sum (IV).

    ``smoothing`` is added to every bin, so shares are (count + s) / (total + s * bins); with
    two bins each WoE equals ``weight_of_evidence``. Read the IV with IV_BANDS / iv_strength:
    <0.02 useless, 0.02-0.1 weak, 0.1-0.3 medium, >0.3 strong. NaN when there are no wins or
    no losses; with s = 0 a bin empty on one side only contributes inf.
    """
    won = np.asarray(won_counts, dtype=float).ravel()
    lost = np.asarray(lost_counts, dtype=float).ravel()
    if won.shape != lost.shape:
        raise ValueError(f"won and lost counts differ in length: {won.size} != {lost.size}")
    if won.size == 0:
        return np.zeros(0), 0.0
    if won.sum() <= 0 or lost.sum() <= 0:
        return np.full(won.size, math.nan), math.nan
    share_won = (won + smoothing) / (won.sum() + smoothing * won.size)
    share_lost = (lost + smoothing) / (lost.sum() + smoothing * lost.size)
    with np.errstate(divide="ignore", invalid="ignore"):
        parts = (share_won - share_lost) * np.log(share_won / share_lost)
    # A bin empty on both sides (s = 0) says nothing: 0 * log(0/0) is taken as 0.
    parts = np.where(share_won == share_lost, 0.0, parts)
    return parts, float(parts.sum())


def iv_strength(iv: float) -> str:
    """Name the IV band: useless (<0.02), weak (<0.1), medium (<0.3), strong; "unknown" for NaN."""
    if math.isnan(iv):
        return "unknown"
    for upper, name in IV_BANDS:
        if iv < upper:
            return name
    return IV_BANDS[-1][1]


def shrunk_rate(wins: float, n: float, prior_rate: float, prior_strength: float) -> float:
    """Beta-binomial posterior mean (wins + k p0) / (n + k): thin cells lean to the base rate.

    Example: 2/2 with p0 = 0.25, k = 20 -> 7/22 = 0.32, while 500/1000 barely moves.
    NaN when n + k is 0.
    """
    if n + prior_strength <= 0:
        return math.nan
    return (wins + prior_strength * prior_rate) / (n + prior_strength)


def estimate_prior_strength(wins: np.ndarray, n: np.ndarray) -> float:
    """Empirical-Bayes (method-of-moments) prior strength k from the spread of segment rates.

    Under a beta-binomial model with mean p and k = alpha + beta, the intra-segment
    correlation is rho = 1 / (k + 1) and S = sum n_i (r_i - p)^2 has expectation
    p(1-p)(m-1) + rho p(1-p) sum (n_i - 1)(1 - n_i/N). Solving for rho gives k = 1/rho - 1,
    clipped to PRIOR_STRENGTH_RANGE ([2, 500]); no spread beyond binomial noise gives the
    upper bound (segments look alike, shrink hard). DEFAULT_PRIOR_STRENGTH (20) when it
    cannot be estimated: fewer than two segments with deals, a pooled rate of 0 or 1, or
    single-deal segments only.
    """
    w, t = _clusters(wins, n)
    lo, hi = PRIOR_STRENGTH_RANGE
    if w.size < 2:
        return DEFAULT_PRIOR_STRENGTH
    total = float(t.sum())
    p = float(w.sum()) / total
    if p <= 0.0 or p >= 1.0:
        return DEFAULT_PRIOR_STRENGTH
    denominator = float(np.sum((t - 1) * (1 - t / total)))
    if denominator <= 0:
        return DEFAULT_PRIOR_STRENGTH
    spread = float(np.sum(t * (w / t - p) ** 2))
    rho = (spread - p * (1 - p) * (w.size - 1)) / (p * (1 - p) * denominator)
    if rho <= 0:
        return hi
    return float(min(max(1 / rho - 1, lo), hi))


def bootstrap_accounts_ci(
    statistic: Callable[[np.ndarray], float],
    n_accounts: int,
    n_boot: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> tuple[float, float]:
    """Percentile interval of ``statistic`` over resamples of ACCOUNT indices, deterministic
    for a seed; for quantities without a closed form.

    ``statistic`` receives an index array (with repeats) into the per-account arrays.
    Resamples where it returns NaN are dropped. NaN when fewer than 2 accounts.
    Example: ``bootstrap_accounts_ci(lambda i: float(acv[i].mean()), len(acv))``.
    """
    tail = (1 - confidence) / 2 * 100
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    if n_accounts < 2 or n_boot < 1:
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    draws = np.array(
        [statistic(rng.integers(0, n_accounts, n_accounts)) for _ in range(n_boot)], dtype=float
    )
    draws = draws[~np.isnan(draws)]
    if draws.size == 0:
        return math.nan, math.nan
    low, high = np.percentile(draws, [tail, 100 - tail])
    return float(low), float(high)


def median_ci(values: np.ndarray, confidence: float = 0.95) -> tuple[float, float, float]:
    """Median with a distribution-free CI from order statistics: (median, low, high).

    The interval [x_(k), x_(n-k+1)] covers the median with probability 1 - 2 P(B <= k-1),
    B ~ Binomial(n, 1/2), with k as large as keeps that >= ``confidence``. NaN values are
    ignored; all NaN for no values, NaN bounds when n is too small for the confidence (n <= 5
    at 95%). Example: n = 10 at 95% -> [x_(2), x_(9)], coverage 97.9%.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    x = np.asarray(values, dtype=float).ravel()
    x = np.sort(x[~np.isnan(x)])
    n = x.size
    if n == 0:
        return math.nan, math.nan, math.nan
    median = float(np.median(x))
    from scipy import stats as sps  # only here: scipy.stats costs a third of a second

    tail = (1 - confidence) / 2
    k = int(sps.binom.ppf(tail, n, 0.5))
    if sps.binom.cdf(k, n, 0.5) <= tail:
        k += 1
    if k < 1:
        return median, math.nan, math.nan
    return median, float(x[k - 1]), float(x[n - k])


PSI_FLOOR = 1e-4
"""Share given to an empty bin in the population stability index, so ln(0) never occurs."""


def population_stability(expected: np.ndarray, actual: np.ndarray) -> float:
    """Population stability index of two distributions over the same bins (counts or shares):
    sum((a - e) * ln(a / e)) over shares, an empty bin counted as PSI_FLOOR. Usual reading:
    below 0.1 stable, 0.1-0.25 a moderate shift, 0.25 or more a major one. NaN when either
    side is empty.

    >>> round(population_stability(np.array([50, 50]), np.array([60, 40])), 4)
    0.0405
    """
    e = np.asarray(expected, dtype=float).ravel()
    a = np.asarray(actual, dtype=float).ravel()
    if e.shape != a.shape:
        raise ValueError(f"expected and actual differ in bins: {e.size} != {a.size}")
    if np.any(e < 0) or np.any(a < 0):
        raise ValueError("bin counts must not be negative")
    if e.sum() <= 0 or a.sum() <= 0:
        return math.nan
    e = np.maximum(e / e.sum(), PSI_FLOOR)
    a = np.maximum(a / a.sum(), PSI_FLOOR)
    return float(np.sum((a - e) * np.log(a / e)))


def quantile_bins(reference: np.ndarray, values: np.ndarray, bins: int = 10) -> np.ndarray:
    """Counts of ``values`` in the ``bins`` equal-count bins of ``reference`` (fewer bins when
    the reference has ties at the cut points): what ``population_stability`` compares a
    numeric score on. NaN values are left out."""
    if bins < 1:
        raise ValueError(f"bins must be at least 1, got {bins}")
    ref = np.asarray(reference, dtype=float).ravel()
    ref = ref[~np.isnan(ref)]
    x = np.asarray(values, dtype=float).ravel()
    x = x[~np.isnan(x)]
    if ref.size == 0:
        return np.zeros(1)
    inner = np.unique(np.quantile(ref, np.linspace(0, 1, bins + 1)[1:-1]))
    # A value equal to a cut point falls in the bin above it, on both sides alike.
    return np.bincount(np.searchsorted(inner, x, side="right"), minlength=inner.size + 1)
