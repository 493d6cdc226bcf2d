"""Selecting derived rules by evidence: a rule stays only when the joint model shows an effect
of its own, measured with account-clustered standard errors and a false-discovery correction.

Lift tests one attribute at a time, so a proxy of a real criterion (revenue next to company
size) and a one-vs-rest echo of a strong value (the other industries next to Software) pass
it too. In one model of all rules a proxy's weight shrinks, but a point estimate alone cannot
tell a small effect from noise. So each derived rule's weight gets a Wald z whose variance is
a sandwich clustered by account (deals of one account are not independent evidence) with the
penalized Hessian as its bread, the p-values of one ICP's derived rules are corrected by
Benjamini-Hochberg, and the weakest rule without evidence is dropped and the model refitted,
one at a time (backward elimination), so that of two proxies of each other the stronger
stays. A dropped rule is reported with the kept rule it moves with most (phi coefficient).
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.special import expit, ndtr

from icpkit.analysis.stats import benjamini_hochberg
from icpkit.engines.features import Features
from icpkit.learn.fit import bounds_of, fit_logistic
from icpkit.learn.patterns import Patterns, group

# A kept rule moving with a dropped one at least this much (|phi|) is named as what it proxies.
PROXY_PHI = 0.1


@dataclass(frozen=True)
class RuleEvidence:
    """A tested rule's joint weight (log-odds), its clustered Wald z, p and BH q, whether it
    stays, and for one that does not the kept rule it moves with most (if any)."""

    weight: float
    z: float
    p: float
    q: float
    significant: bool
    kept: bool
    proxy_of: str | None = None
    phi: float | None = None


def clustered_z(
    x: np.ndarray,
    y: np.ndarray,
    clusters: np.ndarray,
    intercept: float,
    weights: np.ndarray,
    prior_sd: float,
    rows: np.ndarray | None = None,
) -> np.ndarray:
    """Wald z of each weight of a penalized logistic fit, its variance the sandwich
    H^-1 M H^-1: H the penalized Hessian, M the outer product of the likelihood scores summed
    within each cluster (scaled by G / (G - 1)). A weight at 0 (its sign bound) gets z 0.

    ``y`` and ``clusters`` hold one entry per entity. With ``rows`` (icpkit.learn.patterns),
    ``x`` holds one row per distinct pattern of inputs and ``rows[i]`` is entity i's: the
    Hessian is weighted by each pattern's count and each entity's score still goes to its
    own cluster, so the variance is the one computed entity by entity."""
    n = len(y)
    k = x.shape[1]
    if n == 0 or k == 0:
        return np.zeros(k)
    rows = np.arange(n) if rows is None else rows
    patterns = x.shape[0]
    design_1 = np.column_stack([np.ones(patterns), x])
    p = expit(intercept + x @ weights)
    counts = np.bincount(rows, minlength=patterns).astype(np.float64)
    hessian = design_1.T @ (design_1 * (counts * p * (1 - p))[:, None])
    hessian[1:, 1:] += np.eye(k) / prior_sd**2
    residual = y.astype(np.float64) - p[rows]
    codes = _dense(clusters)
    groups = int(codes.max()) + 1
    # Per cluster and pattern, the residuals summed (R); the scores summed within each
    # cluster are R times the patterns' inputs (D), and the meat is their outer products
    # summed: (RD)'(RD), or D'(R'R)D, whichever is smaller to hold: R'R has at most the sum
    # of the squares of each cluster's patterns, RD a row of inputs per cluster (450k
    # clusters of a few patterns each at 1M deals: at most 0.74M cells, 8,941 held, against
    # 9.5M).
    residuals = sparse.csr_matrix((residual, (codes, rows)), shape=(groups, patterns))
    per_cluster = np.diff(residuals.indptr).astype(np.float64)
    if per_cluster @ per_cluster <= groups * (k + 1):
        meat = design_1.T @ np.asarray((residuals.T @ residuals) @ design_1)
    else:
        summed = np.asarray(residuals @ design_1)
        meat = summed.T @ summed
    meat *= groups / (groups - 1) if groups > 1 else 1.0
    bread = np.linalg.pinv(hessian)
    variance = np.diag(bread @ meat @ bread)[1:]
    se = np.sqrt(np.clip(variance, 0.0, None))
    z = np.zeros(k)
    ok = (se > 0) & (weights != 0)
    z[ok] = weights[ok] / se[ok]
    return z


def _dense(clusters: np.ndarray) -> np.ndarray:
    """Each entity's cluster as a code 0..G-1 in the order of the clusters' values; codes
    that already are (every value in 0..G-1 taken) are returned as they are."""
    dense = clusters.dtype.kind in "iu" and clusters.size and int(clusters.min()) == 0
    if dense and np.bincount(clusters).all():
        return clusters.astype(np.int64, copy=False)
    _, codes = np.unique(clusters, return_inverse=True)
    return np.asarray(codes).ravel()


def phi(a: np.ndarray, b: np.ndarray) -> float:
    """Phi coefficient (Pearson correlation) of two 0/1 columns; 0 when either is constant."""
    x, y = np.asarray(a) > 0, np.asarray(b) > 0
    return phi_of_counts(x.size, int(x.sum()), int(y.sum()), int((x & y).sum()))


def phi_of_counts(n: int, in_a: int, in_b: int, in_both: int) -> float:
    """Phi coefficient of two 0/1 columns of ``n`` entries from how many entries are 1 in
    each and in both: (n n11 - n1. n.1) / sqrt(n1. n0. n.1 n.0), in whole numbers up to the
    square root, so columns alike give the same phi to the bit. 0 when either is constant."""
    spread = in_a * (n - in_a) * in_b * (n - in_b)
    if spread == 0:
        return 0.0
    return (n * in_both - in_a * in_b) / math.sqrt(spread)


def select(
    features: Features,
    won: np.ndarray,
    accounts: np.ndarray,
    tested: Collection[str],
    *,
    half_lives: dict[str, float | None],
    prior_sd: float,
    alpha: float,
    min_weight: float,
    searched: int = 0,
    patterns: Patterns | None = None,
) -> dict[str, RuleEvidence]:
    """Backward elimination over the rules named in ``tested`` (every other rule stays in the
    model untested): while some tested rule has BH q >= ``alpha`` or |weight| < ``min_weight``,
    drop the one with the largest p (then the smallest |weight|, then its id) and refit.
    The rules were picked from ``searched`` tested cuts, so the correction counts at least
    that many tests (the cuts not picked count as p = 1): a rule chosen for a lucky marginal
    test must show joint evidence strong enough to stand out of the whole search.
    Evidence per tested rule: for one kept, from the final model; for one dropped, from the
    model it was dropped from. ``patterns``: the deals already grouped
    (:func:`icpkit.learn.patterns.group` of ``features`` and ``won``); ``accounts`` may be
    codes 0..G-1 in the order of the accounts' keys."""
    ids = [r.id for r in features.rules]
    bounds = [bounds_of(r) for r in features.rules]
    active = list(range(len(ids)))
    out: dict[str, RuleEvidence] = {}
    if len(won) == 0 or won.min() == won.max():
        return out
    # Fitted on the distinct patterns of inputs (the same fit), clustered deal by deal.
    patterns = patterns if patterns is not None else group(features, won)
    inputs = patterns.inputs
    clusters = _dense(accounts)
    while True:
        xa, wins, trials, into = inputs.merged(half_lives, active)
        intercept, weights, _, _ = fit_logistic(
            xa, wins, [bounds[j] for j in active], prior_sd, trials
        )
        z = clustered_z(xa, won, clusters, intercept, weights, prior_sd, rows=into[patterns.rows])
        candidates = [i for i, j in enumerate(active) if ids[j] in tested]
        if not candidates:
            break
        p = 2 * ndtr(-np.abs(z[candidates]))
        q = benjamini_hochberg(p, tests=searched)
        evidence = {
            active[i]: RuleEvidence(
                float(weights[i]),
                float(z[i]),
                float(pi),
                float(qi),
                bool(qi < alpha),
                bool(qi < alpha and abs(weights[i]) >= min_weight),
            )
            for i, pi, qi in zip(candidates, p, q, strict=True)
        }
        failing = [j for j, e in evidence.items() if not e.kept]
        if not failing:
            out.update({ids[j]: e for j, e in evidence.items()})
            break
        worst = max(failing, key=lambda j: (evidence[j].p, -abs(evidence[j].weight), ids[j]))
        out[ids[worst]] = evidence[worst]
        active.remove(worst)
    kept = [j for j in active if features.rules[j].rule is not None]
    # Phi from how many deals match each rule and each pair, counted over the patterns
    # (each holds ``trials`` deals alike): the same numbers as deal by deal, in whole numbers.
    trials = patterns.trials.astype(np.int64)
    matched = patterns.features.matches > 0
    n = int(trials.sum())

    def count(*columns: int) -> int:
        return int(trials[np.logical_and.reduce([matched[:, j] for j in columns])].sum())

    for rid, e in list(out.items()):
        if e.kept:
            continue
        d = ids.index(rid)
        in_d = count(d)
        scored = [(phi_of_counts(n, in_d, count(j), count(d, j)), ids[j]) for j in kept]
        best = max(scored, key=lambda s: (abs(s[0]), s[1]), default=None)
        if best is not None and abs(best[0]) >= PROXY_PHI:
            out[rid] = RuleEvidence(
                e.weight, e.z, e.p, e.q, e.significant, False, best[1], round(best[0], 3)
            )
    return out
