"""Metrics of a time-split backtest on closed deals: AUCs with account-bootstrap intervals, tier
tables, tier lift, calibration and the precision cut-off. Pure functions over numpy arrays."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from sklearn.metrics import average_precision_score, roc_auc_score

from icpkit.analysis.stats import clustered_rate, wilson_interval

Metric = Callable[[np.ndarray, np.ndarray], float]
"""A metric of (y, score), e.g. ``roc_auc``; NaN where it is undefined."""

_Kernel = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""Weighted form of a metric: won and total weight per tie group of scores (rows, best score
first) and resample (columns) -> the metric per resample. May overwrite its arguments."""

_CHUNK_CELLS = 1_000_000
"""Resamples x (tie groups or accounts) held at once by the fast bootstraps (8 MB of float64)."""


@dataclass(frozen=True)
class MetricCI:
    """A metric and its bootstrap percentile interval (NaN where it cannot be estimated)."""

    value: float
    low: float
    high: float


@dataclass(frozen=True)
class TierRow:
    """Deals of one tier: counts, win rate with an account-clustered interval, share of all
    wins (alone and from the top tier down), median cycle of the won deals."""

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
    """One equal-count bin of predicted probability: mean predicted against observed win rate,
    with the Wilson interval of the observed rate."""

    n: int
    mean_predicted: float
    observed: float
    low: float
    high: float


# --- Input checks ------------------------------------------------------------------------


def _outcomes(y: np.ndarray) -> np.ndarray:
    """``y`` as a 1-d int64 array of 0 (lost) and 1 (won); anything else is an error."""
    out = np.asarray(y).ravel()
    if out.size and not np.isin(out, (0, 1)).all():
        raise ValueError("y must hold only 0 (lost) and 1 (won)")
    return out.astype(np.int64)


def _same_length(y: np.ndarray, **others: np.ndarray) -> None:
    for name, values in others.items():
        if len(values) != len(y):
            raise ValueError(f"{name} has {len(values)} entries, y has {len(y)}")


def _check_level(level: float) -> None:
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")


# --- Point metrics -----------------------------------------------------------------------


def roc_auc(y: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC (sklearn), the chance a won deal outscores a lost one, ties counting half;
    NaN when y holds a single class."""
    yy = _outcomes(y)
    if yy.size == 0 or yy.min() == yy.max():
        return math.nan
    return float(roc_auc_score(yy, np.asarray(score, dtype=float).ravel()))


def pr_auc(y: np.ndarray, score: np.ndarray) -> float:
    """PR AUC as average precision (sklearn): precision averaged over the wins, best score
    first; its chance level is the win rate. NaN when y holds a single class."""
    yy = _outcomes(y)
    if yy.size == 0 or yy.min() == yy.max():
        return math.nan
    return float(average_precision_score(yy, np.asarray(score, dtype=float).ravel()))


# --- Cluster bootstrap -------------------------------------------------------------------


def _cluster_codes(clusters: np.ndarray) -> tuple[np.ndarray, int]:
    """Cluster code (0..m-1) of every row, and m."""
    uniques, codes = np.unique(np.asarray(clusters).ravel(), return_inverse=True)
    return codes.ravel(), int(uniques.size)


def _draws(n_clusters: int, n_boot: int, seed: int) -> Iterator[np.ndarray]:
    """Cluster indices of each resample: ``n_clusters`` drawn with replacement, reproducibly.

    Every bootstrap here draws through this, so one seed gives the same resamples to all."""
    rng = np.random.default_rng(seed)
    for _ in range(n_boot):
        yield rng.integers(0, n_clusters, n_clusters)


def _cluster_counts(
    n_clusters: int, n_boot: int, seed: int, per_chunk: int
) -> Iterator[np.ndarray]:
    """How often each cluster is drawn, per resample: chunks of shape (resamples, m)."""
    chunk: list[np.ndarray] = []
    for picked in _draws(n_clusters, n_boot, seed):
        chunk.append(np.bincount(picked, minlength=n_clusters).astype(float))
        if len(chunk) == per_chunk:
            yield np.stack(chunk)
            chunk = []
    if chunk:
        yield np.stack(chunk)


def _auc_kernel(pos: np.ndarray, total: np.ndarray) -> np.ndarray:
    """Mann-Whitney AUC from per-tie-group weights, best score first: each lost deal's share of
    won deals scoring above it, ties counting half."""
    neg = np.subtract(total, pos, out=total)
    total_neg = neg.sum(axis=0)
    ties = np.einsum("ij,ij->j", neg, pos)
    above = np.cumsum(pos, axis=0, out=pos)  # won weight at or above each group
    total_pos = above[-1].copy()
    with np.errstate(divide="ignore", invalid="ignore"):
        auc = (np.einsum("ij,ij->j", neg, above) - 0.5 * ties) / (total_pos * total_neg)
    return np.where((total_pos > 0) & (total_neg > 0), auc, math.nan)


def _ap_kernel(pos: np.ndarray, total: np.ndarray) -> np.ndarray:
    """Average precision from per-tie-group weights, best score first: the precision at each
    distinct score, weighted by the wins it adds (sklearn's step sum)."""
    flagged = np.cumsum(total, axis=0, out=total)
    precision = np.cumsum(pos, axis=0)
    total_pos, total_all = precision[-1].copy(), flagged[-1].copy()
    # Where nothing is flagged yet no win is added either: any positive divisor gives 0.
    np.divide(precision, np.maximum(flagged, 1.0, out=flagged), out=precision)
    with np.errstate(divide="ignore", invalid="ignore"):
        ap = np.einsum("ij,ij->j", pos, precision) / total_pos
    return np.where((total_pos > 0) & (total_all > total_pos), ap, math.nan)


_KERNELS: dict[Metric, _Kernel] = {roc_auc: _auc_kernel, pr_auc: _ap_kernel}
"""Metrics the bootstrap computes from account weights on deals tie-grouped once by score."""


def _weighted_replicates(
    kernel: _Kernel,
    y: np.ndarray,
    score: np.ndarray,
    codes: np.ndarray,
    n_clusters: int,
    n_boot: int,
    seed: int,
) -> np.ndarray:
    """A rank metric per resample without gathering rows: a resample weights each deal by how
    often its account was drawn, so its won and total weight per tie group of scores is a
    sparse product of the (tie group x account) deal counts with the draw counts."""
    won, deals = _tie_tables(y, score, codes, n_clusters)
    per_chunk = max(1, _CHUNK_CELLS // max(won.shape))
    out: list[np.ndarray] = []
    for counts in _cluster_counts(n_clusters, n_boot, seed, per_chunk):
        drawn = np.ascontiguousarray(counts.T)
        out.append(kernel(np.asarray(won @ drawn), np.asarray(deals @ drawn)))
    return np.concatenate(out)


def _tie_tables(
    y: np.ndarray, score: np.ndarray, codes: np.ndarray, n_clusters: int
) -> tuple[sparse.csr_array, sparse.csr_array]:
    """Won and all deals per (tie group of scores, best first) x account: a resample's
    weights per tie group are these times how often it drew each account."""
    groups, group_of_row = np.unique(-score, return_inverse=True)  # best score first
    # Rows in score order keep the product's writes sequential.
    cells = (group_of_row.ravel(), codes)
    shape = (groups.size, n_clusters)
    won = sparse.csr_array((y.astype(float), cells), shape=shape)
    deals = sparse.csr_array((np.ones(y.size), cells), shape=shape)
    return won, deals


def rank_metrics_with_ci(
    y: np.ndarray,
    scores: Sequence[np.ndarray],
    clusters: np.ndarray,
    *,
    n_boot: int = 500,
    level: float = 0.95,
    seed: int = 0,
) -> list[tuple[MetricCI, MetricCI]]:
    """ROC AUC and PR AUC of each of ``scores`` on the same deals, with their account-bootstrap
    intervals: what ``auc_with_ci`` and ``pr_auc_with_ci`` give one score at a time, every
    resample drawn once for all of them (a backtest's models drew each one ten times)."""
    _check_level(level)
    yy = _outcomes(y)
    values = [np.asarray(score, dtype=float).ravel() for score in scores]
    for s in values:
        _same_length(yy, score=s, clusters=np.asarray(clusters).ravel())
    points = [(roc_auc(y, score), pr_auc(y, score)) for score in scores]
    codes, n_clusters = _cluster_codes(clusters)
    if n_clusters < 2 or n_boot < 1 or not values:
        return [(MetricCI(a, math.nan, math.nan), MetricCI(p, math.nan, math.nan))
                for a, p in points]  # fmt: skip
    if any(np.isnan(s).any() for s in values):
        raise ValueError("score holds NaN")
    tables = [_tie_tables(yy, s, codes, n_clusters) for s in values]
    # Each score takes the resamples in the chunks it would take alone (the kernels' sums
    # can differ in the last bit with the chunk's width), cut from one stream of draws.
    widths = [max(1, _CHUNK_CELLS // max(won.shape)) for won, _ in tables]
    held: list[list[np.ndarray]] = [[] for _ in tables]
    aucs: list[list[np.ndarray]] = [[] for _ in tables]
    aps: list[list[np.ndarray]] = [[] for _ in tables]

    def measure(i: int, counts: np.ndarray) -> None:
        won, deals = tables[i]
        drawn = np.ascontiguousarray(counts.T)
        pos, total = np.asarray(won @ drawn), np.asarray(deals @ drawn)
        aucs[i].append(_auc_kernel(pos.copy(), total.copy()))
        aps[i].append(_ap_kernel(pos, total))

    for counts in _cluster_counts(n_clusters, n_boot, seed, min(widths)):
        for i, width in enumerate(widths):
            held[i].append(counts)
            while sum(len(c) for c in held[i]) >= width:
                block = np.concatenate(held[i])
                measure(i, block[:width])
                held[i] = [block[width:]] if len(block) > width else []
    for i, rest in enumerate(held):
        if rest:
            measure(i, np.concatenate(rest))
    return [
        (
            MetricCI(a, *_percentiles(np.concatenate(auc), level)),
            MetricCI(p, *_percentiles(np.concatenate(ap), level)),
        )
        for (a, p), auc, ap in zip(points, aucs, aps, strict=True)
    ]


def _gathered_replicates(
    metric: Metric,
    y: np.ndarray,
    score: np.ndarray,
    codes: np.ndarray,
    n_clusters: int,
    n_boot: int,
    seed: int,
) -> np.ndarray:
    """Any metric per resample on the gathered rows of the drawn clusters (single-class
    resamples give NaN); rows are found by a sort on cluster code and per-cluster offsets."""
    by_cluster = np.argsort(codes, kind="stable")
    sizes = np.bincount(codes, minlength=n_clusters)
    starts = np.cumsum(sizes) - sizes
    values = np.full(n_boot, math.nan)
    for b, picked in enumerate(_draws(n_clusters, n_boot, seed)):
        lengths = sizes[picked]
        # Position of each gathered row: its cluster's start plus its rank within the cluster.
        offsets = np.repeat(starts[picked] - (np.cumsum(lengths) - lengths), lengths)
        rows = by_cluster[offsets + np.arange(int(lengths.sum()))]
        sample = y[rows]
        if sample.size and sample.min() != sample.max():
            values[b] = metric(sample, score[rows])
    return values


def _percentiles(values: np.ndarray, level: float) -> tuple[float, float]:
    """Percentile interval of the finite replicates; NaN when there are none."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return math.nan, math.nan
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(finite, [tail, 100 - tail])
    return float(low), float(high)


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
    """Percentile interval of ``metric`` over resamples of whole clusters (accounts), since an
    account's deals are not independent. Single-class resamples are skipped; (nan, nan) with
    fewer than 2 clusters. ``roc_auc`` and ``pr_auc`` take a fast weighted path (200k deals
    x 500 resamples: 0.2 s with ~700 distinct scores, 1.5 s with all distinct); any other
    metric is called on each resample's rows (about 30x slower)."""
    _check_level(level)
    yy = _outcomes(y)
    s = np.asarray(score, dtype=float).ravel()
    _same_length(yy, score=s, clusters=np.asarray(clusters).ravel())
    codes, n_clusters = _cluster_codes(clusters)
    if n_clusters < 2 or n_boot < 1:
        return math.nan, math.nan
    kernel = _KERNELS.get(metric)
    if kernel is not None:
        if np.isnan(s).any():
            raise ValueError("score holds NaN")
        values = _weighted_replicates(kernel, yy, s, codes, n_clusters, n_boot, seed)
    else:
        values = _gathered_replicates(metric, yy, s, codes, n_clusters, n_boot, seed)
    return _percentiles(values, level)


def metric_with_ci(
    metric: Metric,
    y: np.ndarray,
    score: np.ndarray,
    clusters: np.ndarray,
    *,
    n_boot: int = 500,
    level: float = 0.95,
    seed: int = 0,
) -> MetricCI:
    """``metric`` on all deals with its account-bootstrap interval (see ``bootstrap_ci``)."""
    low, high = bootstrap_ci(metric, y, score, clusters, n_boot=n_boot, level=level, seed=seed)
    return MetricCI(metric(y, score), low, high)


def auc_with_ci(
    y: np.ndarray,
    score: np.ndarray,
    clusters: np.ndarray,
    *,
    n_boot: int = 500,
    level: float = 0.95,
    seed: int = 0,
) -> MetricCI:
    """ROC AUC and its account-bootstrap interval."""
    return metric_with_ci(roc_auc, y, score, clusters, n_boot=n_boot, level=level, seed=seed)


def auc_difference_with_ci(
    y: np.ndarray,
    first: np.ndarray,
    second: np.ndarray,
    clusters: np.ndarray,
    *,
    n_boot: int = 500,
    level: float = 0.95,
    seed: int = 0,
) -> MetricCI:
    """ROC AUC of ``second`` minus that of ``first`` on the same deals, with a paired
    account-bootstrap interval: each resample draws the accounts once and scores both on
    them, so what the two scores share cancels. NaN where an AUC cannot be computed.

    >>> y = np.array([0, 0, 1, 1]); accounts = np.arange(4)
    >>> auc_difference_with_ci(y, np.array([4, 3, 2, 1]), np.array([1, 2, 3, 4]), accounts).value
    1.0
    """
    _check_level(level)
    yy = _outcomes(y)
    a = np.asarray(first, dtype=float).ravel()
    b = np.asarray(second, dtype=float).ravel()
    _same_length(yy, first=a, second=b, clusters=np.asarray(clusters).ravel())
    value = roc_auc(yy, b) - roc_auc(yy, a)
    codes, n_clusters = _cluster_codes(clusters)
    if not math.isfinite(value) or n_clusters < 2 or n_boot < 1:
        return MetricCI(value, math.nan, math.nan)
    if np.isnan(a).any() or np.isnan(b).any():
        raise ValueError("score holds NaN")
    # One seed, one sequence of draws: replicate i of both scores is the same resample.
    of_a = _weighted_replicates(_auc_kernel, yy, a, codes, n_clusters, n_boot, seed)
    of_b = _weighted_replicates(_auc_kernel, yy, b, codes, n_clusters, n_boot, seed)
    low, high = _percentiles(of_b - of_a, level)
    return MetricCI(value, low, high)


def pr_auc_with_ci(
    y: np.ndarray,
    score: np.ndarray,
    clusters: np.ndarray,
    *,
    n_boot: int = 500,
    level: float = 0.95,
    seed: int = 0,
) -> MetricCI:
    """PR AUC (average precision) and its account-bootstrap interval."""
    return metric_with_ci(pr_auc, y, score, clusters, n_boot=n_boot, level=level, seed=seed)


# --- Tiers -------------------------------------------------------------------------------


def tier_table(
    y: np.ndarray,
    tiers: np.ndarray,
    cycle_days: np.ndarray,
    clusters: np.ndarray,
    *,
    order: Sequence[str] = ("A", "B", "C", "D"),
) -> list[TierRow]:
    """One row per tier in ``order`` (empty tiers too, n = 0 and NaN rates): deals, wins, win
    rate with a 95% interval clustered by account (``icpkit.analysis.stats.clustered_rate``:
    Wilson on n / design effect), share of all wins (NaN without wins; deals in tiers outside
    ``order`` count in the total), cumulative share from the top tier, median cycle of the
    tier's won deals (NaN cycles ignored; NaN without any)."""
    yy = _outcomes(y)
    labels = np.asarray(tiers).ravel()
    cycles = np.asarray(cycle_days, dtype=float).ravel()
    _same_length(yy, tiers=labels, cycle_days=cycles, clusters=np.asarray(clusters).ravel())
    codes, n_clusters = _cluster_codes(clusters)
    total_wins = int(yy.sum())
    rows: list[TierRow] = []
    cumulative = 0
    for tier in order:
        inside = labels == tier
        n, wins = int(inside.sum()), int(yy[inside].sum())
        cumulative += wins
        rate = clustered_rate(
            np.bincount(codes[inside], weights=yy[inside], minlength=n_clusters),
            np.bincount(codes[inside], minlength=n_clusters),
        )
        won_cycles = cycles[inside & (yy == 1)]
        won_cycles = won_cycles[~np.isnan(won_cycles)]
        rows.append(
            TierRow(
                tier=tier,
                n=n,
                wins=wins,
                win_rate=rate.rate,
                low=rate.low,
                high=rate.high,
                share_of_wins=wins / total_wins if total_wins else math.nan,
                cumulative_share=cumulative / total_wins if total_wins else math.nan,
                median_cycle_days=float(np.median(won_cycles)) if won_cycles.size else math.nan,
            )
        )
    return rows


def tier_lift(
    y: np.ndarray,
    tiers: np.ndarray,
    clusters: np.ndarray,
    *,
    top: Sequence[str] = ("A",),
    bottom: Sequence[str] = ("C", "D"),
    n_boot: int = 500,
    level: float = 0.95,
    seed: int = 0,
) -> MetricCI:
    """Win rate of the ``top`` tiers over that of the ``bottom`` tiers, with an account-bootstrap
    percentile interval; all NaN when a side has no deals or the bottom rate is 0."""
    _check_level(level)
    yy = _outcomes(y)
    labels = np.asarray(tiers).ravel()
    _same_length(yy, tiers=labels, clusters=np.asarray(clusters).ravel())
    codes, n_clusters = _cluster_codes(clusters)
    upper, lower = np.isin(labels, list(top)), np.isin(labels, list(bottom))
    # Per account: wins and deals on each side; a resample is a count-weighted sum of these.
    sides = np.stack(
        [
            np.bincount(codes, weights=yy * upper, minlength=n_clusters),
            np.bincount(codes, weights=upper.astype(float), minlength=n_clusters),
            np.bincount(codes, weights=yy * lower, minlength=n_clusters),
            np.bincount(codes, weights=lower.astype(float), minlength=n_clusters),
        ],
        axis=1,
    )
    value = float(_lifts(sides.sum(axis=0, keepdims=True))[0])
    if math.isnan(value) or n_clusters < 2 or n_boot < 1:
        return MetricCI(value, math.nan, math.nan)
    per_chunk = max(1, _CHUNK_CELLS // n_clusters)
    values = np.concatenate(
        [_lifts(counts @ sides) for counts in _cluster_counts(n_clusters, n_boot, seed, per_chunk)]
    )
    return MetricCI(value, *_percentiles(values, level))


def _lifts(sums: np.ndarray) -> np.ndarray:
    """Top rate / bottom rate per row of (top wins, top deals, bottom wins, bottom deals)."""
    top_wins, top_deals, bottom_wins, bottom_deals = sums.T
    with np.errstate(divide="ignore", invalid="ignore"):
        lift = (top_wins / top_deals) / (bottom_wins / bottom_deals)
    ok = (top_deals > 0) & (bottom_deals > 0) & (bottom_wins > 0)
    return np.where(ok, lift, math.nan)


# --- Calibration -------------------------------------------------------------------------


def calibration_table(y: np.ndarray, p: np.ndarray, *, bins: int = 10) -> list[CalibrationRow]:
    """Deals cut into ``bins`` equal-count bins by predicted win probability ``p``, lowest first
    (sizes differ by at most one; no empty bins): is a predicted 30% won 30% of the time?"""
    if bins < 1:
        raise ValueError(f"bins must be at least 1, got {bins}")
    yy = _outcomes(y)
    prob = np.asarray(p, dtype=float).ravel()
    _same_length(yy, p=prob)
    rows: list[CalibrationRow] = []
    for part in np.array_split(np.argsort(prob, kind="stable"), bins):
        if part.size == 0:
            continue
        wins = int(yy[part].sum())
        low, high = wilson_interval(wins, part.size)
        rows.append(
            CalibrationRow(int(part.size), float(prob[part].mean()), wins / part.size, low, high)
        )
    return rows


def brier(y: np.ndarray, p: np.ndarray) -> float:
    """Brier score, the mean squared error of the predicted win probability (lower is better;
    always predicting the base rate r scores r(1 - r)). NaN without deals."""
    yy = _outcomes(y)
    prob = np.asarray(p, dtype=float).ravel()
    _same_length(yy, p=prob)
    return float(np.mean((prob - yy) ** 2)) if yy.size else math.nan


def expected_calibration_error(rows: Sequence[CalibrationRow]) -> float:
    """Count-weighted mean |mean predicted - observed| over calibration bins; NaN without
    deals. Near 0 when the probabilities can be taken at face value."""
    total = sum(r.n for r in rows)
    if total == 0:
        return math.nan
    return sum(r.n * abs(r.mean_predicted - r.observed) for r in rows) / total


# --- Curves ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CurvePoints:
    """A curve of one model's scores on the test deals: ``x`` and ``y`` from (0, 0) to
    (1, 1), one point per distinct score (tied deals are taken together)."""

    x: np.ndarray
    y: np.ndarray


def _score_groups(y: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Deals taken best score first, tied scores as one step: deals, wins and losses reached
    after each step (cumulative), with the start (0, 0, 0) in front."""
    yy = _outcomes(y)
    s = np.asarray(score, dtype=float).ravel()
    _same_length(yy, score=s)
    if np.isnan(s).any():
        raise ValueError("score holds NaN: a curve needs a score for every deal")
    order = np.argsort(-s, kind="stable")
    ranked, wins = s[order], yy[order]
    ends = np.r_[np.nonzero(np.diff(ranked))[0], len(s) - 1] if len(s) else np.array([], int)
    won = np.cumsum(wins)[ends] if len(s) else np.array([], int)
    taken = ends + 1
    return np.r_[0, taken], np.r_[0, won], np.r_[0, taken - won]


def roc_points(y: np.ndarray, score: np.ndarray) -> CurvePoints:
    """The ROC curve: share of lost deals (false positive rate, ``x``) against share of won
    deals (true positive rate, ``y``) reached as the threshold falls past each distinct score,
    best first, from (0, 0): the points of sklearn's ``roc_curve`` with
    ``drop_intermediate=False``. Both outcomes are needed: a ValueError otherwise."""
    _, won, lost = _score_groups(y, score)
    if not len(won) or won[-1] == 0 or lost[-1] == 0:
        raise ValueError("a ROC curve needs won and lost deals")
    return CurvePoints(lost / lost[-1], won / won[-1])


def gains_points(y: np.ndarray, score: np.ndarray) -> CurvePoints:
    """The cumulative-gains curve: share of deals worked best score first (``x``, tied deals
    together) against the share of all wins they hold (``y``). Needs at least one win."""
    taken, won, _ = _score_groups(y, score)
    if not len(won) or won[-1] == 0:
        raise ValueError("a gains curve needs at least one won deal")
    return CurvePoints(taken / taken[-1], won / won[-1])
