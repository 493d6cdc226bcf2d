"""Specification of icpkit.validate.metrics: the backtest's accuracy, tier and calibration
numbers, with intervals that resample accounts rather than deals."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from icpkit.analysis.stats import wilson_interval
from icpkit.validate import metrics


def _tied_data(n: int = 600, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Outcomes and a coarse score (10 values, many ties) that carries some signal."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    score = np.clip(np.round(y * 1.5 + rng.normal(0, 2, n)), -4, 5)
    return y, score


# --- ROC AUC and PR AUC ------------------------------------------------------------------


def test_auc_and_average_precision_agree_with_sklearn_on_tied_scores() -> None:
    y, score = _tied_data()
    assert len(np.unique(score)) <= 10
    assert metrics.roc_auc(y, score) == pytest.approx(roc_auc_score(y, score), abs=1e-12)
    assert metrics.pr_auc(y, score) == pytest.approx(average_precision_score(y, score), abs=1e-12)


def test_auc_is_one_for_a_perfect_ranking_zero_reversed_and_half_when_all_tied() -> None:
    y = np.array([0, 0, 1, 1])
    assert metrics.roc_auc(y, np.array([1.0, 2.0, 3.0, 4.0])) == 1.0
    assert metrics.roc_auc(y, np.array([4.0, 3.0, 2.0, 1.0])) == 0.0
    assert metrics.roc_auc(y, np.zeros(4)) == 0.5
    assert metrics.pr_auc(y, np.array([1.0, 2.0, 3.0, 4.0])) == 1.0


def test_auc_and_pr_auc_are_nan_with_a_single_class() -> None:
    assert math.isnan(metrics.roc_auc(np.ones(5, dtype=int), np.arange(5.0)))
    assert math.isnan(metrics.pr_auc(np.zeros(5, dtype=int), np.arange(5.0)))


def test_outcomes_other_than_zero_and_one_are_rejected() -> None:
    with pytest.raises(ValueError, match="0 \\(lost\\) and 1 \\(won\\)"):
        metrics.roc_auc(np.array([0, 1, 2]), np.arange(3.0))


# --- Account bootstrap -------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("metric", [metrics.roc_auc, metrics.pr_auc])
@pytest.mark.parametrize("level", [0.5, 0.9, 0.99])
def test_fast_rank_bootstrap_equals_the_metric_on_each_resamples_rows(
    metric: metrics.Metric, level: float
) -> None:
    # roc_auc and pr_auc are bootstrapped from account weights; any other callable is run on
    # the gathered rows of each resample. Same seed, same resamples: the intervals must agree.
    y, score = _tied_data(1_500, seed=4)
    accounts = np.random.default_rng(5).integers(0, 150, y.size)

    def on_rows(yy: np.ndarray, ss: np.ndarray) -> float:
        return metric(yy, ss)

    fast = metrics.bootstrap_ci(metric, y, score, accounts, n_boot=200, level=level, seed=3)
    slow = metrics.bootstrap_ci(on_rows, y, score, accounts, n_boot=200, level=level, seed=3)
    assert fast == pytest.approx(slow, abs=1e-12)


def test_bootstrap_interval_contains_the_point_estimate() -> None:
    y, score = _tied_data()
    accounts = np.arange(y.size) // 3
    low, high = metrics.bootstrap_ci(metrics.roc_auc, y, score, accounts)
    assert low < metrics.roc_auc(y, score) < high
    assert high - low < 0.2


def test_bootstrap_interval_is_wider_when_deals_cluster_in_accounts() -> None:
    # 20 copies of each account's deal are one piece of evidence, not twenty.
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 100)
    score = y + rng.normal(0, 1.5, 100)
    copies = np.repeat(np.arange(100), 20)
    by_account = metrics.bootstrap_ci(metrics.roc_auc, y[copies], score[copies], copies)
    as_if_independent = metrics.bootstrap_ci(
        metrics.roc_auc, y[copies], score[copies], np.arange(copies.size)
    )
    assert by_account[1] - by_account[0] > 3 * (as_if_independent[1] - as_if_independent[0])


def test_bootstrap_is_reproducible_for_a_seed_and_varies_across_seeds() -> None:
    y, score = _tied_data()
    accounts = np.arange(y.size) // 2
    first = metrics.bootstrap_ci(metrics.pr_auc, y, score, accounts, n_boot=100, seed=7)
    again = metrics.bootstrap_ci(metrics.pr_auc, y, score, accounts, n_boot=100, seed=7)
    other = metrics.bootstrap_ci(metrics.pr_auc, y, score, accounts, n_boot=100, seed=8)
    assert first == again
    assert first != other


def test_a_higher_level_gives_a_wider_interval() -> None:
    y, score = _tied_data()
    accounts = np.arange(y.size)
    narrow = metrics.bootstrap_ci(metrics.roc_auc, y, score, accounts, level=0.8)
    wide = metrics.bootstrap_ci(metrics.roc_auc, y, score, accounts, level=0.99)
    assert wide[0] < narrow[0] and narrow[1] < wide[1]


def test_bootstrap_with_one_account_is_nan() -> None:
    y, score = _tied_data(50)
    low, high = metrics.bootstrap_ci(metrics.roc_auc, y, score, np.full(50, "acme"))
    assert math.isnan(low) and math.isnan(high)


@pytest.mark.parametrize("metric", [metrics.roc_auc, metrics.pr_auc])
def test_single_class_resamples_are_skipped(metric: metrics.Metric) -> None:
    # Account "w" won both its deals, "l" lost both: about half the resamples draw one account
    # twice and have a single class; every other resample is the data itself.
    y = np.array([1, 1, 0, 0])
    score = np.array([0.9, 0.4, 0.5, 0.1])
    accounts = np.array(["w", "w", "l", "l"])
    low, high = metrics.bootstrap_ci(metric, y, score, accounts, n_boot=50)
    assert low == pytest.approx(metric(y, score)) and high == pytest.approx(metric(y, score))


def test_bootstrap_is_nan_when_every_resample_has_a_single_class() -> None:
    low, high = metrics.bootstrap_ci(
        metrics.roc_auc, np.ones(40, dtype=int), np.arange(40.0), np.arange(40)
    )
    assert math.isnan(low) and math.isnan(high)


def test_metric_with_ci_pairs_the_value_on_all_deals_with_its_interval() -> None:
    y, score = _tied_data()
    accounts = np.arange(y.size) // 4
    auc = metrics.auc_with_ci(y, score, accounts, n_boot=100, seed=1)
    pr = metrics.pr_auc_with_ci(y, score, accounts, n_boot=100, seed=1)
    assert auc == metrics.MetricCI(
        metrics.roc_auc(y, score),
        *metrics.bootstrap_ci(metrics.roc_auc, y, score, accounts, n_boot=100, seed=1),
    )
    assert pr.value == metrics.pr_auc(y, score)
    assert pr.low < pr.value < pr.high
    assert metrics.metric_with_ci(metrics.pr_auc, y, score, accounts, n_boot=100, seed=1) == pr


@pytest.mark.parametrize("n_boot", [1, 100, 700])
def test_several_scores_get_the_intervals_each_gets_alone(
    n_boot: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    y, tied = _tied_data(3_000)
    rng = np.random.default_rng(4)
    accounts = rng.integers(0, 900, y.size)
    scores = [
        tied,  # ten values, many ties
        tied + rng.normal(0, 1, y.size),  # every deal its own score
        np.zeros(y.size),  # all tied
        -tied,
    ]
    # Resamples drawn in chunks of a few: the chunks of the scores differ in size.
    monkeypatch.setattr(metrics, "_CHUNK_CELLS", 2_500)
    together = metrics.rank_metrics_with_ci(y, scores, accounts, n_boot=n_boot, seed=3)
    alone = [
        (
            metrics.auc_with_ci(y, s, accounts, n_boot=n_boot, seed=3),
            metrics.pr_auc_with_ci(y, s, accounts, n_boot=n_boot, seed=3),
        )
        for s in scores
    ]
    assert repr(together) == repr(alone)  # bit for bit, NaN where the metric has none


def test_several_scores_without_two_accounts_or_with_nan() -> None:
    y, score = _tied_data(40)
    [(auc, pr)] = metrics.rank_metrics_with_ci(y, [score], np.zeros(y.size), n_boot=50)
    assert auc.value == metrics.roc_auc(y, score) and math.isnan(auc.low)
    assert pr.value == metrics.pr_auc(y, score) and math.isnan(pr.high)
    assert metrics.rank_metrics_with_ci(y, [], np.arange(y.size)) == []
    with pytest.raises(ValueError, match="NaN"):
        metrics.rank_metrics_with_ci(y, [np.full(y.size, np.nan)], np.arange(y.size))


def test_bootstrap_rejects_arrays_of_different_lengths() -> None:
    with pytest.raises(ValueError, match="clusters has 3 entries, y has 4"):
        metrics.bootstrap_ci(metrics.roc_auc, np.array([0, 1, 0, 1]), np.zeros(4), np.arange(3))


# --- Tier table ----------------------------------------------------------------------------


def _tiers() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A: 6 of 10 won, B: none, C: 2 of 10, D: 2 of 10; cycle_days = deal index."""
    tiers = np.array(["A"] * 10 + ["C"] * 10 + ["D"] * 10)
    y = np.array([1] * 6 + [0] * 4 + [1] * 2 + [0] * 8 + [1] * 2 + [0] * 8)
    return y, tiers, np.arange(30, dtype=float)


def test_tier_table_counts_rates_and_shares_of_wins() -> None:
    y, tiers, cycles = _tiers()
    rows = metrics.tier_table(y, tiers, cycles, np.arange(30))
    assert [r.tier for r in rows] == ["A", "B", "C", "D"]
    assert [(r.n, r.wins) for r in rows] == [(10, 6), (0, 0), (10, 2), (10, 2)]
    assert [r.win_rate for r in rows[::2]] == [0.6, 0.2]
    assert [r.share_of_wins for r in rows] == pytest.approx([0.6, 0.0, 0.2, 0.2])
    assert sum(r.share_of_wins for r in rows) == pytest.approx(1.0)
    assert [r.cumulative_share for r in rows] == pytest.approx([0.6, 0.6, 0.8, 1.0])


def test_tier_with_no_deals_is_listed_with_n_zero_and_no_rate() -> None:
    y, tiers, cycles = _tiers()
    empty = metrics.tier_table(y, tiers, cycles, np.arange(30))[1]
    assert (empty.tier, empty.n, empty.wins, empty.share_of_wins) == ("B", 0, 0, 0.0)
    assert math.isnan(empty.win_rate) and math.isnan(empty.low) and math.isnan(empty.high)
    assert math.isnan(empty.median_cycle_days)


def test_tier_interval_is_wilson_for_one_deal_per_account_and_wider_when_accounts_cluster() -> None:
    y, tiers, cycles = _tiers()
    one_each = metrics.tier_table(y, tiers, cycles, np.arange(30))[0]
    assert (one_each.low, one_each.high) == pytest.approx(wilson_interval(6, 10))
    # Tier A as two accounts that won all or nothing: about two deals' worth of evidence.
    two_accounts = np.array([0] * 6 + [1] * 4 + list(range(2, 22)))
    clustered = metrics.tier_table(y, tiers, cycles, two_accounts)[0]
    assert clustered.win_rate == 0.6
    assert clustered.high - clustered.low > one_each.high - one_each.low


def test_median_cycle_counts_won_deals_only_and_skips_unknown_cycles() -> None:
    y, tiers, cycles = _tiers()
    cycles[5] = np.nan  # one won deal of tier A without a cycle
    rows = metrics.tier_table(y, tiers, cycles, np.arange(30))
    assert rows[0].median_cycle_days == 2.0  # won deals 0..4 (5 has no cycle; 6..9 lost)
    assert rows[2].median_cycle_days == 10.5  # won deals 10 and 11, not the lost 12..19


def test_tier_table_follows_the_given_order_and_counts_all_wins_in_shares() -> None:
    y, tiers, cycles = _tiers()
    rows = metrics.tier_table(y, tiers, cycles, np.arange(30), order=("D", "A"))
    assert [r.tier for r in rows] == ["D", "A"]
    # C's 2 wins are outside the table but still among all 10 wins.
    assert [r.cumulative_share for r in rows] == pytest.approx([0.2, 0.8])


def test_tier_shares_are_nan_without_wins() -> None:
    tiers = np.array(["A", "A", "C"])
    rows = metrics.tier_table(np.zeros(3, dtype=int), tiers, np.ones(3), np.arange(3))
    assert rows[0].win_rate == 0.0
    assert math.isnan(rows[0].share_of_wins) and math.isnan(rows[0].cumulative_share)


# --- Tier lift -----------------------------------------------------------------------------


def test_tier_lift_is_the_top_rate_over_the_bottom_rate_with_an_interval() -> None:
    # A wins 60%, C and D together 20%: A wins three times as often.
    rng = np.random.default_rng(0)
    tiers = np.array(["A"] * 200 + ["B"] * 200 + ["C"] * 200 + ["D"] * 200)
    y = np.concatenate(
        [rng.permutation(np.r_[np.ones(n), np.zeros(200 - n)]) for n in (120, 80, 40, 40)]
    ).astype(int)
    accounts = np.arange(800) // 2
    lift = metrics.tier_lift(y, tiers, accounts, n_boot=300)
    assert lift.value == pytest.approx(3.0)
    assert 2.0 < lift.low < 3.0 < lift.high < 4.5
    assert metrics.tier_lift(y, tiers, accounts, top=("A", "B"), bottom=("D",)).value == (
        pytest.approx(2.5)
    )


def test_tier_lift_interval_is_reproducible_for_a_seed() -> None:
    y, tiers, _ = _tiers()
    first = metrics.tier_lift(y, tiers, np.arange(30), n_boot=100, seed=4)
    assert metrics.tier_lift(y, tiers, np.arange(30), n_boot=100, seed=4) == first
    assert first.low < first.value < first.high


def test_tier_lift_is_nan_without_bottom_deals_or_bottom_wins() -> None:
    y, tiers, _ = _tiers()
    no_bottom = metrics.tier_lift(y[:10], tiers[:10], np.arange(10))
    assert math.isnan(no_bottom.value) and math.isnan(no_bottom.low)
    bottom_never_wins = metrics.tier_lift(np.where(tiers == "A", y, 0), tiers, np.arange(30))
    assert math.isnan(bottom_never_wins.value) and math.isnan(bottom_never_wins.high)
    no_top = metrics.tier_lift(y, tiers, np.arange(30), top=("B",))
    assert math.isnan(no_top.value)


# --- Calibration ---------------------------------------------------------------------------


def _calibrated(n: int = 20_000) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    p = rng.uniform(0, 1, n)
    return (rng.uniform(0, 1, n) < p).astype(int), p


def test_calibrated_probabilities_have_a_small_calibration_error() -> None:
    y, p = _calibrated()
    rows = metrics.calibration_table(y, p)
    assert metrics.expected_calibration_error(rows) < 0.02
    assert all(r.low <= r.observed <= r.high for r in rows)


def test_probabilities_halved_have_a_large_calibration_error() -> None:
    y, p = _calibrated()
    calibrated = metrics.expected_calibration_error(metrics.calibration_table(y, p))
    halved = metrics.expected_calibration_error(metrics.calibration_table(y, p * 0.5))
    assert halved > 0.2 > 10 * calibrated


def test_calibration_bins_have_equal_counts_in_order_of_prediction() -> None:
    y, p = _calibrated()
    rows = metrics.calibration_table(y, p)
    assert [r.n for r in rows] == [2_000] * 10
    predicted = [r.mean_predicted for r in rows]
    assert predicted == sorted(predicted)
    uneven = metrics.calibration_table(y[:1_005], p[:1_005], bins=4)
    assert [r.n for r in uneven] == [252, 251, 251, 251]


def test_calibration_bin_reports_its_mean_prediction_and_observed_rate() -> None:
    y = np.array([0, 0, 1, 0, 1, 1])
    p = np.array([0.1, 0.2, 0.3, 0.6, 0.7, 0.8])
    low, high = metrics.calibration_table(y, p, bins=2)
    assert (low.n, low.mean_predicted, low.observed) == (3, pytest.approx(0.2), 1 / 3)
    assert (high.low, high.high) == pytest.approx(wilson_interval(2, 3))
    # |0.2 - 1/3| and |0.7 - 2/3|, both bins of 3 deals.
    assert metrics.expected_calibration_error([low, high]) == pytest.approx(
        (abs(0.2 - 1 / 3) + abs(0.7 - 2 / 3)) / 2
    )


def test_brier_is_the_mean_squared_error_of_the_probability() -> None:
    assert metrics.brier(np.array([1, 0]), np.array([0.8, 0.4])) == pytest.approx(0.1)
    y = np.array([1] * 3 + [0] * 7)
    assert metrics.brier(y, np.full(10, 0.3)) == pytest.approx(0.3 * 0.7)


def test_calibration_error_without_deals_is_nan() -> None:
    assert math.isnan(metrics.expected_calibration_error([]))


# --- Precision cut-off -------------------------------------------------------------------


def _blocks() -> tuple[np.ndarray, np.ndarray]:
    """Tied score blocks: (score, deals, wins) = (9, 20, 18), (8, 20, 12), (7, 20, 6),
    (6, 40, 36), (5, 100, 0). At or above 9: 90% of 20; 8: 75% of 40; 7: 60% of 60;
    6: 72% of 100; 5: 36% of 200."""
    score, y = [], []
    for value, deals, wins in ((9, 20, 18), (8, 20, 12), (7, 20, 6), (6, 40, 36), (5, 100, 0)):
        score += [float(value)] * deals
        y += [1] * wins + [0] * (deals - wins)
    return np.array(score), np.array(y)


def test_the_auc_difference_is_paired_over_the_same_account_resamples() -> None:
    rng = np.random.default_rng(3)
    n = 3000
    accounts = rng.integers(0, 1000, n)
    y = (rng.random(n) < 0.3).astype(np.int64)
    noisy = y + rng.normal(0, 1.5, n)
    sharper = y + rng.normal(0, 0.8, n)
    d = metrics.auc_difference_with_ci(y, noisy, sharper, accounts, n_boot=300)
    assert d.value == pytest.approx(metrics.roc_auc(y, sharper) - metrics.roc_auc(y, noisy))
    assert 0 < d.low < d.value < d.high
    # A score against itself differs by exactly nothing in every resample.
    same = metrics.auc_difference_with_ci(y, noisy, noisy, accounts, n_boot=300)
    assert same == metrics.MetricCI(0.0, 0.0, 0.0)
    # Paired, the interval is narrower than the two AUCs' own intervals side by side.
    a = metrics.auc_with_ci(y, noisy, accounts, n_boot=300)
    close = noisy + rng.normal(0, 0.1, n)
    b = metrics.auc_with_ci(y, close, accounts, n_boot=300)
    tiny = metrics.auc_difference_with_ci(y, noisy, close, accounts, n_boot=300)
    assert tiny.high - tiny.low < min(a.high - a.low, b.high - b.low) / 3
