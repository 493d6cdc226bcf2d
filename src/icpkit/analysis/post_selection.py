"""Intervals that survive selection: a rule's lift, estimated on the data that chose it.

A rule is kept because its test crossed a threshold (Benjamini-Hochberg at ``alpha`` within
its family, an interval clear of 1, a lift of at least ``min_lift``). Among the many values
tested, those that crossed are the lucky ones: their measured lift overstates the truth and
the plain 95% interval around it covers the truth less than 95% of the time (the winner's
curse). Conditional on having crossed, the log-lift estimate T is a normal truncated to the
kept side of the threshold; inverting that truncated normal in its mean gives an interval
that covers the truth 95% of the time among the rules kept, and a median-unbiased estimate
(Weinstein, Fithian & Benjamini 2013; Lee, Sun, Sun & Taylor 2016). The hybrid form of
Andrews, Kitagawa & McCloskey (2023) bounds it by a Bonferroni projection interval, so an
estimate just over the threshold gets a wide but finite interval. Far above the threshold
both equal the plain ones; just above it the interval widens towards, and may include, 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize
from scipy import special as spx

_SPAN = 40.0
"""Standard errors either side of the estimate searched for an end of the interval."""

EDGE_MARGIN = 0.5
"""Standard errors above the threshold within which an estimate counts as at its edge: there
the conditional interval hangs on exactly where the threshold lies (at the edge itself it
shrinks around zero), so the false-coverage-rate interval is reported instead."""


@dataclass(frozen=True)
class Adjusted:
    """An estimate and interval after selection: ``estimate`` is median-unbiased."""

    estimate: float
    low: float
    high: float


def bh_cut(p_values: np.ndarray, alpha: float) -> float:
    """The p-value up to which Benjamini-Hochberg at ``alpha`` rejects, given the other tests:
    alpha * R / m, with R the number rejected and m the number of (non-NaN) tests; 0.0 when
    none is rejected. Example: p = [0.001, 0.01, 0.3, 0.9] at 0.05 -> R = 2, cut 0.025."""
    p = np.asarray(p_values, dtype=float)
    p = np.sort(p[~np.isnan(p)])
    m = p.size
    if m == 0:
        return 0.0
    passed = np.nonzero(p <= alpha * np.arange(1, m + 1) / m)[0]
    if passed.size == 0:
        return 0.0
    return float(alpha * (int(passed[-1]) + 1) / m)


def _log_upper_tail(mu: float, t: float, a: float) -> float:
    """log P(T >= t | |T| >= a) for T ~ N(mu, 1), with t >= a >= 0; increasing in mu."""
    selected = np.logaddexp(spx.log_ndtr(mu - a), spx.log_ndtr(-a - mu))
    return float(spx.log_ndtr(mu - t) - selected)


def _solve(t: float, a: float, level: float) -> float:
    """The mean mu at which P(T >= t | |T| >= a) = level."""
    target = math.log(level)
    low, high = -abs(t) - _SPAN, abs(t) + _SPAN
    return float(
        optimize.brentq(lambda mu: _log_upper_tail(mu, t, a) - target, low, high, xtol=1e-10)
    )


def truncated_interval(
    estimate: float, se: float, threshold: float, confidence: float = 0.95
) -> Adjusted:
    """Interval and median-unbiased estimate of the mean of a normal ``estimate`` (standard
    error ``se``) known to have been kept because |estimate| >= ``threshold``.

    Equal-tailed: the ends are the means under which the observed value is the upper or lower
    (1 - confidence) / 2 quantile of the normal truncated to |T| >= threshold (Weinstein,
    Fithian & Benjamini 2013). With threshold 0 it is the plain estimate +- z se. An
    estimate inside the threshold is treated as kept at its edge."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    if not (math.isfinite(estimate) and math.isfinite(se) and se > 0):
        raise ValueError(f"need a finite estimate and a positive se, got {estimate}, {se}")
    sign = -1.0 if estimate < 0 else 1.0
    t = abs(estimate) / se
    a = min(max(threshold, 0.0) / se, t)
    tail = (1 - confidence) / 2
    mid = _solve(t, a, 0.5)
    ends = (_solve(t, a, tail), _solve(t, a, 1 - tail))
    if sign > 0:
        return Adjusted(mid * se, ends[0] * se, ends[1] * se)
    return Adjusted(-mid * se, -ends[1] * se, -ends[0] * se)


def fcr_interval(
    estimate: float, se: float, share_kept: float, confidence: float = 0.95
) -> Adjusted:
    """The false-coverage-rate interval of a value kept with ``share_kept`` = R / m of the
    values tested (Benjamini & Yekutieli 2005): estimate +- z se at level
    1 - (1 - confidence) R / m. Centred on the measured estimate and wider than the plain
    interval; among the values kept, the share of intervals that miss is at most
    1 - confidence, whatever rule kept them."""
    share = min(max(share_kept, 0.0), 1.0) or 1.0
    z = float(-spx.ndtri((1 - confidence) * share / 2))
    return Adjusted(estimate, estimate - z * se, estimate + z * se)


def selection_threshold(
    log_lift: float,
    half_width: float,
    p_value: float | None,
    p_cut: float,
    min_lift: float,
    confidence: float = 0.95,
) -> float:
    """The smallest |log lift| that would have been kept, in log-lift units: the largest of
    the interval's half-width (an interval clear of 1), ln(min_lift), and the log lift at
    which the test reaches ``p_cut``. That last one scales the observed |log lift| by the
    ratio of the normal quantiles of ``p_cut`` and of the test's ``p_value`` (the test need
    not be a Wald test of the log lift); without a p-value, the Wald test's own threshold."""
    z_conf = float(-spx.ndtri((1 - confidence) / 2))
    a = max(half_width, math.log(min_lift) if min_lift > 1 else 0.0)
    if not 0.0 < p_cut < 1.0:
        return a
    z_cut = float(-spx.ndtri(p_cut / 2))
    if p_value is None:
        return max(a, z_cut * half_width / z_conf)
    if p_value > 0.0:
        z_obs = float(-spx.ndtri(min(p_value, 1.0) / 2))
        if z_obs > 0:
            a = max(a, abs(log_lift) * z_cut / z_obs)
    return a


def selected_lift(
    lift: float,
    lift_ci: tuple[float, float],
    *,
    p_value: float | None,
    p_cut: float,
    min_lift: float,
    alpha: float = 0.05,
    confidence: float = 0.95,
) -> Adjusted | None:
    """The selection-adjusted lift and interval of a kept rule, from its measured ``lift`` and
    plain ``lift_ci`` (symmetric on the log scale, as ``stats.rate_difference`` reports
    them), the p-value of its test (None: a Wald test of the log lift) and the cut it had to
    pass (``bh_cut`` at false-discovery rate ``alpha``).

    The conditional interval (``truncated_interval``) on the log scale; within EDGE_MARGIN
    standard errors of the threshold, the false-coverage-rate interval (``fcr_interval``).
    None when the measured lift or interval is not finite and positive (nothing to adjust).
    """
    low, high = lift_ci
    if not all(math.isfinite(x) and x > 0 for x in (lift, low, high)) or high <= low:
        return None
    z = float(-spx.ndtri((1 - confidence) / 2))
    t = math.log(lift)
    half = (math.log(high) - math.log(low)) / 2
    se = half / z
    a = selection_threshold(t, half, p_value, p_cut, min_lift, confidence)
    if abs(t) - a < EDGE_MARGIN * se:
        adjusted = fcr_interval(t, se, p_cut / alpha if alpha > 0 else 1.0, confidence)
    else:
        adjusted = truncated_interval(t, se, a, confidence)
    return Adjusted(math.exp(adjusted.estimate), math.exp(adjusted.low), math.exp(adjusted.high))


__all__ = [
    "Adjusted",
    "bh_cut",
    "fcr_interval",
    "selected_lift",
    "selection_threshold",
    "truncated_interval",
]
