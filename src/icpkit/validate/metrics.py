"""Metrics of a backtest on closed deals: AUCs with account-bootstrap intervals, tier tables,
tier lift and calibration. Pure functions; deals of one account resample together."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import rankdata

from icpkit.analysis.stats import clustered_rate, wilson_interval

Metric = Callable[[np.ndarray, np.ndarray], float]


@dataclass(frozen=True)
class MetricCI:
    """A metric and its 95% interval (NaN when it cannot be estimated)."""

    value: float
    low: float
    high: float


@dataclass(frozen=True)
class TierRow:
    """Deals of one tier: counts, win rate with an account-clustered interval, share of all
    wins (and from the top tier down), median cycle of the won deals."""

    tier: str
    n: int
    wins: int
    win_rate: float
    low: float
    high: float
    share_of_wins: float
    cumulative_share: float
    median_cycle_days: float


@dataclass(frozen=True)
class CalibrationRow:
    """One equal-count bin of predicted probability: predicted against observed."""

    n: int
    mean_predicted: float
    observed: float
    low: float
    high: float


def roc_auc(y: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC with ties counted half (rank formula); NaN with a single class."""
    y = np.asarray(y).astype(bool)
    n_pos = int(y.sum())
    n_neg = len(y) - n_pos
    if n_pos == 0 or n_neg == 0:
        return math.nan
    ranks = rankdata(score)
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def pr_auc(y: np.ndarray, score: np.ndarray) -> float:
    """Average precision (area under the precision-recall curve); NaN with a single class."""
    from sklearn.metrics import average_precision_score

    y = np.asarray(y).astype(int)
    if y.min() == y.max():
        return math.nan
    return float(average_precision_score(y, score))


def _resamples(clusters: np.ndarray, n_boot: int, seed: int) -> list[np.ndarray]:
    """Row indices of ``n_boot`` resamples of whole clusters."""
    _, codes = np.unique(clusters, return_inverse=True)
    order = np.argsort(codes, kind="stable")
    counts = np.bincount(codes)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n_boot):
        picked = rng.integers(0, len(counts), len(counts))
        lengths = counts[picked]
        offsets = np.repeat(starts[picked] - np.cumsum(lengths) + lengths, lengths)
        out.append(order[offsets + np.arange(lengths.sum())])
    return out


def bootstrap_ci(
    metric: Metric,
    y: np.ndarray,
    score: np.ndarray,
    clusters: np.ndarray,
    *,
    n_boot: int = 500,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile interval of ``metric`` over resamples of whole clusters (accounts)."""
    if len(np.unique(clusters)) < 2:
        return math.nan, math.nan
    values = []
    for rows in _resamples(clusters, n_boot, seed):
        ys = y[rows]
        if ys.min() != ys.max():
            values.append(metric(ys, score[rows]))
    if not values:
        return math.nan, math.nan
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


def auc_with_ci(y: np.ndarray, score: np.ndarray, clusters: np.ndarray, **kw: int) -> MetricCI:
    """ROC AUC and its account-bootstrap interval."""
    return MetricCI(roc_auc(y, score), *bootstrap_ci(roc_auc, y, score, clusters, **kw))


def pr_auc_with_ci(y: np.ndarray, score: np.ndarray, clusters: np.ndarray, **kw: int) -> MetricCI:
    """PR AUC (average precision) and its account-bootstrap interval."""
    return MetricCI(pr_auc(y, score), *bootstrap_ci(pr_auc, y, score, clusters, **kw))


def _per_account(y: np.ndarray, clusters: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    _, codes = np.unique(clusters, return_inverse=True)
    return np.bincount(codes, weights=y).astype(float), np.bincount(codes).astype(float)


def tier_table(
    y: np.ndarray,
    tiers: np.ndarray,
    cycle_days: np.ndarray,
    clusters: np.ndarray,
    *,
    order: Sequence[str] = ("A", "B", "C", "D"),
) -> list[TierRow]:
    """Per tier, top first: deals, wins, win rate (interval clustered by account, see
    icpkit.analysis.stats.clustered_rate), share of wins, and median cycle of won deals."""
    total = max(int(y.sum()), 1)
    rows: list[TierRow] = []
    cumulative = 0
    for tier in order:
        inside = tiers == tier
        n, wins = int(inside.sum()), int(y[inside].sum())
        cumulative += wins
        if n:
            rate = clustered_rate(*_per_account(y[inside], clusters[inside]))
            rate_value, low, high = rate.rate, rate.low, rate.high
        else:
            rate_value = low = high = math.nan
        won_cycles = cycle_days[inside & (y == 1)]
        won_cycles = won_cycles[~np.isnan(won_cycles)]
        rows.append(
            TierRow(
                tier,
                n,
                wins,
                rate_value,
                low,
                high,
                wins / total,
                cumulative / total,
                float(np.median(won_cycles)) if won_cycles.size else math.nan,
            )
        )
    return rows


def _lift(y: np.ndarray, tiers: np.ndarray, top: Sequence[str], bottom: Sequence[str]) -> float:
    upper, lower = np.isin(tiers, list(top)), np.isin(tiers, list(bottom))
    if not upper.any() or not lower.any():
        return math.nan
    low_rate = y[lower].mean()
    return float(y[upper].mean() / low_rate) if low_rate > 0 else math.nan


def tier_lift(
    y: np.ndarray,
    tiers: np.ndarray,
    clusters: np.ndarray,
    *,
    top: Sequence[str] = ("A",),
    bottom: Sequence[str] = ("C", "D"),
    n_boot: int = 500,
    seed: int = 0,
) -> MetricCI:
    """Win rate of the top tiers over that of the bottom tiers, with an account bootstrap."""
    value = _lift(y, tiers, top, bottom)
    if math.isnan(value) or len(np.unique(clusters)) < 2:
        return MetricCI(value, math.nan, math.nan)
    values = [
        _lift(y[rows], tiers[rows], top, bottom) for rows in _resamples(clusters, n_boot, seed)
    ]
    finite = [v for v in values if not math.isnan(v)]
    if not finite:
        return MetricCI(value, math.nan, math.nan)
    low, high = np.percentile(finite, [2.5, 97.5])
    return MetricCI(value, float(low), float(high))


def calibration_table(y: np.ndarray, p: np.ndarray, *, bins: int = 10) -> list[CalibrationRow]:
    """Deals in ``bins`` equal-count bins of predicted probability, lowest first."""
    order = np.argsort(p, kind="stable")
    rows = []
    for part in np.array_split(order, bins):
        if part.size == 0:
            continue
        wins = int(y[part].sum())
        low, high = wilson_interval(wins, part.size)
        rows.append(CalibrationRow(part.size, float(p[part].mean()), wins / part.size, low, high))
    return rows


def brier(y: np.ndarray, p: np.ndarray) -> float:
    """Mean squared error of the predicted probability."""
    return float(np.mean((p - y) ** 2))


def expected_calibration_error(rows: Sequence[CalibrationRow]) -> float:
    """Count-weighted mean gap between predicted and observed win rate over the bins."""
    total = sum(r.n for r in rows)
    return (
        sum(r.n * abs(r.mean_predicted - r.observed) for r in rows) / total if total else math.nan
    )
