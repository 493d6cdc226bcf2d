"""Learning the rules' weights: a sign-constrained, ridge-penalized logistic model of winning.

All rules are fitted together, so correlated criteria (industry and the tools that industry
uses) share the credit instead of each claiming it. The penalty is a normal prior on each
rule's log-odds, which shrinks thin evidence toward no effect. Each rule keeps the sign its
evidence shows (a positive criterion never earns negative points), which also keeps the
points of an ordinal attribute's ranges in the order of their evidence; the Missing bin of an
attribute (its unknown values) takes whichever sign the data give it. A signal's half-life
is chosen by likelihood, and only where the data prefer decay clearly over none; the
half-lives the data cannot reject (profile likelihood, chi-square 95%) are its interval.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit, log_expit

from icpkit.engines.features import Features, ScoredRule, design
from icpkit.icp.model import Criterion, Exclusion, IntentSignal
from icpkit.learn.patterns import Patterns, group

# Half of the 5% critical value of chi-square with one degree of freedom: decay must earn it.
DECAY_EVIDENCE = 1.92
# The 5% critical value of chi-square with one degree of freedom: half-lives whose deviance
# is within it of the best one are those the data cannot reject (a profile-likelihood interval).
HALF_LIFE_CI = 3.84


# Half-lives tried side by side (see fit_weights).
_TRIERS = max(1, min(4, os.cpu_count() or 1))


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """BLAS on one thread inside: the models are small (tens of columns), so more threads only
    wait on each other, worst on a busy machine (a fit ten times slower measured with two)."""
    from threadpoolctl import threadpool_limits  # a dependency of scikit-learn

    with threadpool_limits(limits=1, user_api="blas"):
        yield


@dataclass(frozen=True)
class Fitted:
    """Weights per rule (log-odds), the intercept, chosen half-lives and the fit's quality."""

    intercept: float
    weights: dict[str, float]
    half_lives: dict[str, float | None]
    deviance: float
    converged: bool
    # Per learned half-life: [shortest, longest] the data cannot reject (None: no decay).
    half_life_ci: dict[str, tuple[float, float | None]] = field(default_factory=dict)


def bounds_of(scored: ScoredRule) -> tuple[float | None, float | None]:
    """The sign a rule's weight may take: its evidence's direction; either sign for the
    Missing bin (an unknown value may help or hurt)."""
    rule = scored.rule
    if isinstance(rule, Criterion) and rule.missing:
        return (None, None)
    if isinstance(rule, Criterion):
        return (0.0, None) if rule.direction == "positive" else (None, 0.0)
    if isinstance(rule, Exclusion):
        return (None, 0.0) if rule.kind == "disqualifier" else (None, None)
    if isinstance(rule, IntentSignal):
        return (0.0, None)
    return (0.0, None)  # the persona: a match never counts against an account


def log_expits(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``log_expit(z)`` and ``log_expit(-z)`` to the bit, for the price of one: each is
    ``log_expit(|z|)`` plus ``min(±z, 0)``, the very sum scipy computes on its branch."""
    tail = log_expit(np.abs(z))
    return tail + np.minimum(z, 0.0), tail + np.minimum(-z, 0.0)


def fit_logistic(
    x: np.ndarray,
    y: np.ndarray,
    bounds: list[tuple[float | None, float | None]],
    prior_sd: float,
    trials: np.ndarray | None = None,
    start: np.ndarray | None = None,
) -> tuple[float, np.ndarray, float, bool]:
    """Penalized maximum likelihood: (intercept, weights, penalized deviance, converged).

    Each row of ``x`` is one example won (``y`` 1) or lost, or with ``trials`` a pattern of
    inputs that ``trials`` examples share, ``y`` of them won (icpkit.learn.patterns): the
    binomial likelihood of a pattern is the product of its examples', so both give the same
    fit and the same deviance. ``start``: the intercept and weights to search from (a fit
    of a model close to this one); by default no effect at the base rate."""
    n, k = x.shape
    yf = y.astype(np.float64)
    tf = np.ones(n) if trials is None else np.asarray(trials, dtype=np.float64)
    penalty = 1.0 / (prior_sd**2)
    lost = tf - yf

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        z = theta[0] + x @ theta[1:]
        log_won, log_lost = log_expits(z)
        loss = -(yf * log_won + lost * log_lost).sum()
        loss += 0.5 * penalty * float(theta[1:] @ theta[1:])
        residual = tf * expit(z) - yf
        grad = np.empty_like(theta)
        grad[0] = residual.sum()
        grad[1:] = x.T @ residual + penalty * theta[1:]
        return float(loss), grad

    total = float(tf.sum())
    rate = float(np.clip(yf.sum() / total if total else 0.5, 1e-6, 1 - 1e-6))
    if start is None:
        start = np.zeros(k + 1)
        start[0] = np.log(rate / (1 - rate))
    result = minimize(
        objective,
        start,
        jac=True,
        method="L-BFGS-B",
        bounds=[(None, None), *bounds],
        options={"maxiter": 500},
    )
    return float(result.x[0]), np.asarray(result.x[1:]), 2 * float(result.fun), bool(result.success)


def fit_weights(
    features: Features,
    won: np.ndarray,
    *,
    prior_sd: float,
    candidates: list[int],
    fixed_half_lives: dict[str, float | None] | None = None,
    patterns: Patterns | None = None,
) -> Fitted:
    """Fit every rule's weight on closed deals; pick each intent signal's half-life from
    ``candidates`` (or none) unless ``fixed_half_lives`` names it. ``patterns``: the deals
    already grouped (:func:`icpkit.learn.patterns.group` of ``features`` and ``won``)."""
    fixed = fixed_half_lives or {}
    bounds = [bounds_of(r) for r in features.rules]
    intent = [r.id for r in features.rules if isinstance(r.rule, IntentSignal)]
    half_lives: dict[str, float | None] = {rid: fixed.get(rid) for rid in intent}

    # The fits run on the distinct patterns of inputs, not deal by deal: the same fit.
    patterns = patterns if patterns is not None else group(features, won)
    inputs = patterns.inputs

    def run(
        lives: dict[str, float | None], start: tuple[float, np.ndarray, float, bool] | None = None
    ) -> tuple[float, np.ndarray, float, bool]:
        x, wins, trials, _ = inputs.merged(lives)
        theta = None if start is None else np.r_[start[0], start[1]]
        return fit_logistic(x, wins, bounds, prior_sd, trials, theta)

    best = run(half_lives)
    settled = True  # ``best`` is the fit searched from no effect, not from another fit
    intervals: dict[str, tuple[float, float | None]] = {}
    for rid in intent:
        if rid in fixed:
            continue
        no_decay = best[2]
        choice: float | None = None
        deviances: dict[float | None, float] = {None: no_decay}
        # Each half-life tried starts from the fit without it: a few steps, not a new search;
        # the tries do not depend on each other, so they run side by side (numpy releases
        # the interpreter), then are weighed in the order of ``candidates``.
        base = best
        tries = [{**half_lives, rid: float(life)} for life in candidates]
        with ThreadPoolExecutor(max_workers=_TRIERS) as pool:
            tried = list(pool.map(run, tries, [base] * len(tries)))
        for life, trial in zip(candidates, tried, strict=True):
            deviances[float(life)] = trial[2]
            if trial[2] < no_decay - DECAY_EVIDENCE and (choice is None or trial[2] < best[2]):
                best, choice, settled = trial, float(life), False
        half_lives[rid] = choice
        if (interval := profile_interval(deviances)) is not None:
            intervals[rid] = interval
    if not settled:
        # The weights kept are those of the chosen model searched from no effect, so that
        # they do not depend on the order in which the half-lives were tried.
        best = run(half_lives)
    intercept, weights, deviance, converged = best
    return Fitted(
        intercept,
        {r.id: float(w) for r, w in zip(features.rules, weights, strict=True)},
        half_lives,
        deviance,
        converged,
        intervals,
    )


def profile_interval(deviances: dict[float | None, float]) -> tuple[float, float | None] | None:
    """The half-lives (None: no decay, an infinite half-life) whose deviance is within the
    chi-square(1) 95% critical value of the best, as [shortest, longest] with longest None
    when no decay is among them; None when only "no decay" is. Example: deviances
    {30: 110, 90: 100, 365: 102, None: 108} -> (90, 365)."""
    low = min(deviances.values())
    kept = [life for life, dev in deviances.items() if dev <= low + HALF_LIFE_CI]
    finite = sorted(life for life in kept if life is not None)
    if not finite:
        return None
    return finite[0], (None if None in kept else finite[-1])


def predict(features: Features, fitted: Fitted) -> np.ndarray:
    """The model's probability of winning per entity."""
    x = design(features, fitted.half_lives)
    w = np.array([fitted.weights.get(r.id, 0.0) for r in features.rules])
    return np.asarray(expit(fitted.intercept + x @ w))
