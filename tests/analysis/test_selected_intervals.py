"""Intervals after selection: among estimates kept because they crossed a threshold, the
adjusted 95% interval covers the truth 95% of the time; the plain one does not."""

from __future__ import annotations

import math

import numpy as np
import pytest

from icpkit.analysis.post_selection import (
    EDGE_MARGIN,
    bh_cut,
    fcr_interval,
    selected_lift,
    selection_threshold,
    truncated_interval,
)

Z95 = 1.959964


def _kept_draws(mu: float, threshold: float, n: int, seed: int) -> np.ndarray:
    """``n`` draws of N(mu, 1) among those with |x| >= threshold."""
    rng = np.random.default_rng(seed)
    kept: list[float] = []
    while len(kept) < n:
        x = rng.normal(mu, 1.0, 50_000)
        kept.extend(x[np.abs(x) >= threshold].tolist())
    return np.array(kept[:n])


def _coverage(draws: np.ndarray, mu: float, threshold: float) -> float:
    hits = [(r := truncated_interval(float(x), 1.0, threshold)).low <= mu <= r.high for x in draws]
    return float(np.mean(hits))


@pytest.mark.parametrize(("mu", "threshold"), [(0.0, 2.5), (1.0, 2.5), (2.0, 2.8), (-1.0, 2.0)])
def test_adjusted_interval_covers_the_truth_95_percent_among_the_kept(
    mu: float, threshold: float
) -> None:
    n = 2000
    draws = _kept_draws(mu, threshold, n, seed=int(10 * mu + 100 * threshold))
    coverage = _coverage(draws, mu, threshold)
    tolerance = 3 * math.sqrt(0.95 * 0.05 / n)  # three binomial standard errors
    assert abs(coverage - 0.95) <= tolerance


@pytest.mark.parametrize(("mu", "threshold"), [(0.0, 2.5), (1.0, 2.5), (1.5, 3.0)])
def test_plain_interval_covers_the_kept_clearly_less(mu: float, threshold: float) -> None:
    draws = _kept_draws(mu, threshold, 2000, seed=7)
    plain = float(np.mean(np.abs(draws - mu) <= Z95))
    assert plain < 0.85
    assert _coverage(draws, mu, threshold) - plain > 0.1


def test_median_unbiased_estimate_is_below_the_truth_half_the_time() -> None:
    mu, threshold = 1.5, 2.5
    draws = _kept_draws(mu, threshold, 2000, seed=3)
    below = np.mean([truncated_interval(float(x), 1.0, threshold).estimate < mu for x in draws])
    assert abs(below - 0.5) <= 3 * math.sqrt(0.25 / draws.size)
    # The plain estimate overstates: far more than half of the kept draws lie above the truth.
    assert np.mean(draws > mu) > 0.7


def test_far_above_the_threshold_the_adjusted_interval_is_the_plain_one() -> None:
    adjusted = truncated_interval(12.0, 1.0, 2.5)
    assert adjusted.low == pytest.approx(12.0 - Z95, abs=1e-3)
    assert adjusted.high == pytest.approx(12.0 + Z95, abs=1e-3)
    assert adjusted.estimate == pytest.approx(12.0, abs=1e-3)


def test_without_a_threshold_it_is_the_plain_interval() -> None:
    adjusted = truncated_interval(0.7, 0.2, 0.0)
    assert (adjusted.low, adjusted.high) == pytest.approx((0.7 - Z95 * 0.2, 0.7 + Z95 * 0.2))


def test_just_above_the_threshold_the_interval_reaches_past_zero() -> None:
    # Kept a little above the edge: nothing rules out no effect, the estimate is pulled down.
    adjusted = truncated_interval(2.8, 1.0, 2.5)
    assert adjusted.low < 0 < adjusted.high
    assert adjusted.estimate < 1.0


def test_fcr_interval_is_wider_by_the_share_kept() -> None:
    # One in ten kept at a 5% miss rate: the interval is at level 1 - 0.005, z = 2.807.
    interval = fcr_interval(0.4, 0.1, 0.1)
    assert (interval.low, interval.estimate, interval.high) == pytest.approx(
        (0.4 - 0.2807, 0.4, 0.4 + 0.2807), abs=1e-4
    )
    # Everything kept: no selection, the plain interval.
    assert fcr_interval(0.4, 0.1, 1.0).high == pytest.approx(0.4 + Z95 * 0.1)


def test_a_lift_at_the_edge_of_its_threshold_gets_the_fcr_interval() -> None:
    # The lift floor ln(1.5) is the threshold and the estimate sits on it: where the
    # conditional interval would shrink around 1, the wider FCR interval is reported.
    se = 0.1
    lift = 1.5 * math.exp(EDGE_MARGIN * se / 2)
    ci = (lift * math.exp(-Z95 * se), lift * math.exp(Z95 * se))
    adjusted = selected_lift(lift, ci, p_value=1e-6, p_cut=0.005, min_lift=1.5, alpha=0.05)
    assert adjusted is not None
    z = 2.807  # share kept 0.005 / 0.05 = 0.1, as above
    assert adjusted.estimate == pytest.approx(lift)
    assert adjusted.low == pytest.approx(lift * math.exp(-z * se), rel=1e-3)
    assert adjusted.high == pytest.approx(lift * math.exp(z * se), rel=1e-3)


def test_a_negative_estimate_gets_the_mirrored_interval() -> None:
    up, down = truncated_interval(3.0, 1.0, 2.5), truncated_interval(-3.0, 1.0, 2.5)
    assert (down.low, down.estimate, down.high) == pytest.approx((-up.high, -up.estimate, -up.low))


def test_adjusted_interval_is_wider_and_shifted_towards_zero() -> None:
    adjusted = truncated_interval(3.2, 1.0, 2.5)
    assert adjusted.estimate < 3.2
    assert adjusted.low < 3.2 - Z95
    assert adjusted.high - adjusted.low > 2 * Z95


def test_bh_cut_is_alpha_times_the_share_rejected() -> None:
    assert bh_cut(np.array([0.001, 0.01, 0.3, 0.9]), 0.05) == pytest.approx(0.025)
    # The step-up rule: 0.036 <= 0.05 * 3 / 4 rejects the three smallest, though the second
    # (0.03 > 0.05 * 2 / 4) alone would not pass.
    assert bh_cut(np.array([0.001, 0.036, 0.03, 0.9]), 0.05) == pytest.approx(0.0375)
    assert bh_cut(np.array([0.2, 0.5, math.nan]), 0.05) == 0.0
    assert bh_cut(np.array([]), 0.05) == 0.0


def test_threshold_is_the_strictest_of_interval_lift_floor_and_test() -> None:
    # The lift floor dominates a narrow interval and an easily passed test.
    narrow = Z95 * 0.05
    assert selection_threshold(0.3, narrow, 1e-12, 0.01, 1.2) == pytest.approx(math.log(1.2))
    half = Z95 * 0.1  # se 0.1 on the log scale
    # The interval's own half-width: it had to clear 1.
    assert selection_threshold(0.3, half, 1e-12, 0.01, 1.1) == pytest.approx(half)
    # The test's cut dominates: z(0.001 / 2) = 3.29 standard errors of the Wald test.
    assert selection_threshold(1.0, half, None, 0.001, 1.0) == pytest.approx(0.329, abs=1e-3)
    # A p-value mapped by the ratio of quantiles: observed z = 3.29 at p = 0.001, the cut
    # z = 1.96 at p = 0.05, so the threshold is 1.96 / 3.29 of the observed log lift.
    assert selection_threshold(0.5, half, 0.001, 0.05, 1.0) == pytest.approx(
        0.5 * Z95 / 3.2905, abs=1e-3
    )


def test_selected_lift_adjusts_on_the_log_scale() -> None:
    # ln 2 = 3.47 se, above the Wald threshold z(0.01 / 2) = 2.576 se by more than the edge.
    lift, ci = 2.0, (2.0 * math.exp(-Z95 * 0.2), 2.0 * math.exp(Z95 * 0.2))
    adjusted = selected_lift(lift, ci, p_value=None, p_cut=0.01, min_lift=1.2)
    assert adjusted is not None
    direct = truncated_interval(math.log(2.0), 0.2, 0.2 * 2.575829)
    assert adjusted.low == pytest.approx(math.exp(direct.low), rel=1e-5)
    assert adjusted.high == pytest.approx(math.exp(direct.high), rel=1e-5)
    assert adjusted.low < ci[0] and adjusted.estimate < lift


def test_selected_lift_of_a_lift_without_finite_interval_is_none() -> None:
    assert selected_lift(0.0, (0.0, 0.5), p_value=None, p_cut=0.01, min_lift=1.2) is None
    assert selected_lift(2.0, (math.nan, 3.0), p_value=None, p_cut=0.01, min_lift=1.2) is None


@pytest.mark.slow
def test_lift_intervals_cover_after_selection_among_many_tested_cuts() -> None:
    """Many cuts of a known true lift, each tested at a BH cut on a Wald z: among the ones
    kept, the adjusted intervals cover the true lift about 95% of the time."""
    rng = np.random.default_rng(11)
    se, p_cut = 0.15, 0.005
    true_log = rng.choice([0.0, 0.0, 0.0, 0.0, 0.2, 0.3, 0.45], 40_000)
    estimate = rng.normal(true_log, se)
    z_cut = 2.807  # two-sided normal quantile of 0.005
    kept = np.abs(estimate) / se >= max(z_cut, Z95)
    kept &= np.abs(estimate) >= math.log(1.2)
    hits_adjusted, hits_plain = [], []
    for t, mu in zip(estimate[kept], true_log[kept], strict=True):
        lift = math.exp(t)
        ci = (lift * math.exp(-Z95 * se), lift * math.exp(Z95 * se))
        adjusted = selected_lift(lift, ci, p_value=None, p_cut=p_cut, min_lift=1.2)
        assert adjusted is not None
        hits_adjusted.append(adjusted.low <= math.exp(mu) <= adjusted.high)
        hits_plain.append(ci[0] <= math.exp(mu) <= ci[1])
    n = len(hits_adjusted)
    se_coverage = math.sqrt(0.95 * 0.05 / n)
    assert abs(np.mean(hits_adjusted) - 0.95) <= 3 * se_coverage
    assert np.mean(hits_plain) < 0.95 - 5 * se_coverage
