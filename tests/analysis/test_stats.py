"""Specification of icpkit.analysis.stats, checked against textbook values and references."""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pytest
from scipy import stats as sps

from icpkit.analysis import stats
from icpkit.analysis.stats import median_count

# --- Wilson interval ---------------------------------------------------------------------


def test_wilson_matches_newcombe_1998_textbook_value() -> None:
    low, high = stats.wilson_interval(81, 263)
    assert low == pytest.approx(0.2553, abs=1e-4)
    assert high == pytest.approx(0.3662, abs=1e-4)


@pytest.mark.parametrize(
    ("successes", "n", "confidence"),
    [(0, 10, 0.95), (10, 10, 0.95), (1, 29, 0.9), (15, 148, 0.99), (500, 1000, 0.95)],
)
def test_wilson_matches_statsmodels(successes: int, n: int, confidence: float) -> None:
    proportion = pytest.importorskip("statsmodels.stats.proportion")
    expected = proportion.proportion_confint(successes, n, alpha=1 - confidence, method="wilson")
    assert stats.wilson_interval(successes, n, confidence) == pytest.approx(expected, abs=1e-10)


def test_wilson_without_data_is_the_whole_unit_interval() -> None:
    assert stats.wilson_interval(0, 0) == (0.0, 1.0)


def test_wilson_rejects_impossible_counts() -> None:
    with pytest.raises(ValueError):
        stats.wilson_interval(5, 3)


# --- Design effect and clustered rate ----------------------------------------------------


def test_design_effect_is_one_when_every_account_has_one_deal() -> None:
    wins = np.array([1, 0, 1, 1, 0, 0, 1, 0])
    assert stats.design_effect(wins, np.ones(8)) == 1.0


def test_design_effect_of_all_or_nothing_accounts_is_the_cluster_size() -> None:
    # 10 accounts of 10 deals, 5 won everything: robust var = 10/9 * 250 / 100^2, binomial .25/100.
    wins = np.array([10] * 5 + [0] * 5)
    deals = np.full(10, 10)
    assert stats.design_effect(wins, deals) == pytest.approx(100 / 9)


def test_design_effect_is_one_when_it_cannot_be_estimated() -> None:
    assert stats.design_effect(np.array([3]), np.array([10])) == 1.0
    assert stats.design_effect(np.array([4, 6]), np.array([4, 6])) == 1.0
    assert stats.design_effect(np.zeros(0), np.zeros(0)) == 1.0


def test_design_effect_is_never_below_one() -> None:
    # Every account won exactly half its deals: less spread than binomial.
    assert stats.design_effect(np.full(20, 2), np.full(20, 4)) == 1.0


def test_clustered_rate_equals_wilson_when_deals_are_independent() -> None:
    wins = np.array([1] * 30 + [0] * 70)
    est = stats.clustered_rate(wins, np.ones(100))
    assert (est.low, est.high) == pytest.approx(stats.wilson_interval(30, 100))
    assert (est.rate, est.n_deals, est.n_accounts, est.effective_n) == (0.3, 100, 100, 100.0)


def test_clustered_rate_is_wider_than_naive_wilson_when_deals_cluster() -> None:
    wins = np.array([10] * 5 + [0] * 5)
    deals = np.full(10, 10)
    est = stats.clustered_rate(wins, deals)
    naive_low, naive_high = stats.wilson_interval(50, 100)
    assert est.low < naive_low and est.high > naive_high
    assert est.effective_n == pytest.approx(100 / (100 / 9))
    assert (est.low, est.high) == pytest.approx(stats.wilson_interval(4.5, 9.0))


def test_three_accounts_with_a_hundred_deals_are_not_three_hundred_deals() -> None:
    est = stats.clustered_rate(np.array([100, 100, 100]), np.array([100, 100, 100]))
    assert est.rate == 1.0
    assert est.effective_n == 3.0
    assert est.low == pytest.approx(stats.wilson_interval(3, 3)[0])
    assert est.low < 0.5 < stats.wilson_interval(300, 300)[0]


def test_clustered_rate_ignores_accounts_without_closed_deals_and_handles_no_data() -> None:
    est = stats.clustered_rate(np.array([1, 0, 0]), np.array([2, 2, 0]))
    assert (est.n_deals, est.n_accounts) == (4, 2)
    empty = stats.clustered_rate(np.zeros(3), np.zeros(3))
    assert math.isnan(empty.rate) and empty.n_deals == 0


# --- Rate difference ----------------------------------------------------------------------


def _independent(wins: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    return np.array([1.0] * wins + [0.0] * (n - wins)), np.ones(n)


def _two_groups(
    inside: tuple[np.ndarray, np.ndarray], outside: tuple[np.ndarray, np.ndarray]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    wins = np.concatenate([inside[0], outside[0]])
    deals = np.concatenate([inside[1], outside[1]])
    in_group = np.array([True] * inside[0].size + [False] * outside[0].size)
    return wins, deals, in_group


def _pooled_z_p(w1: float, n1: float, w0: float, n0: float, df: float | None = None) -> float:
    """The textbook two-proportion z test with the pooled rate, written out (against a t on
    ``df`` degrees of freedom when given)."""
    p = (w1 + w0) / (n1 + n0)
    z = (w1 / n1 - w0 / n0) / math.sqrt(p * (1 - p) * (1 / n1 + 1 / n0))
    return float(2 * (sps.norm.sf(abs(z)) if df is None else sps.t.sf(abs(z), df)))


def test_a_small_cut_of_independent_deals_gets_welchs_t_interval_and_a_permutation_test() -> None:
    # One deal per account, fewer than 30 accounts a side: the CR2 variance of a side is its
    # sample variance / n, so the interval is Welch's t interval on the 0/1 outcomes.
    a, b = _independent(9, 20), _independent(6, 25)
    c = stats.rate_difference(*_two_groups(a, b))
    welch = sps.ttest_ind(a[0], b[0], equal_var=False).confidence_interval(0.95)
    assert (c.rate_in, c.rate_out) == pytest.approx((0.45, 0.24))
    assert c.difference_ci == pytest.approx((welch.low, welch.high), abs=1e-9)
    assert c.test == stats.TEST_PERMUTATION
    assert (c.n_deals_in, c.wins_in, c.n_accounts_in) == (20, 9, 20)


def test_a_large_cut_is_the_pooled_test_on_accounts() -> None:
    # 120 vs 240 accounts of one deal each: the pooled two-proportion statistic, against a t
    # whose degrees of freedom are the Welch-Satterthwaite ones of two sides of equal
    # accounts, (1/120 + 1/240)^2 / (1/120^3 + 1/240^3) = 240; it still finds a 12.5-point
    # difference on 360 deals.
    c = stats.rate_difference(*_two_groups(_independent(45, 120), _independent(60, 240)))
    assert c.test == stats.TEST_Z
    df = (1 / 120 + 1 / 240) ** 2 / (1 / 120**3 + 1 / 240**3)
    assert c.p_value == pytest.approx(_pooled_z_p(45, 120, 60, 240, df), rel=1e-9)
    assert c.p_value < 0.05
    assert (c.lift, c.difference) == pytest.approx((1.5, 0.125))


def test_a_whale_account_does_not_pass_for_hundreds_of_observations() -> None:
    # 40 accounts of 5 deals inside, one of them with 400 deals that all won; 200 accounts
    # of 5 deals outside. Deal by deal the cut wins far more often (z about 16), but its
    # evidence rests on a single account's luck: the test counts about as many degrees of
    # freedom as accounts that carry the variance, and does not reject.
    deals_in = np.array([400.0] + [5.0] * 39)
    wins_in = np.array([400.0] + [1.0, 2.0] * 19 + [1.0])
    deals_out = np.full(200, 5.0)
    wins_out = np.array([1.0, 2.0] * 100)
    c = stats.rate_difference(*_two_groups((wins_in, deals_in), (wins_out, deals_out)))
    assert c.test == stats.TEST_Z
    assert _pooled_z_p(wins_in.sum(), deals_in.sum(), wins_out.sum(), deals_out.sum()) < 1e-12
    assert c.p_value > 0.05


def test_duplicating_every_deal_within_its_account_does_not_add_evidence() -> None:
    # 50 accounts per side, each with 2 deals that both win or both lose: the evidence is the
    # account-level one (the z test on the 50 + 50 account outcomes), not 100 deals a side.
    inside = (np.array([2.0] * 15 + [0.0] * 35), np.full(50, 2.0))
    outside = (np.array([2.0] * 10 + [0.0] * 40), np.full(50, 2.0))
    c = stats.rate_difference(*_two_groups(inside, outside))
    assert c.difference == pytest.approx(0.1)
    # The effective number of accounts is estimated from the spread: close to 50, not 100.
    assert c.p_value == pytest.approx(_pooled_z_p(15, 50, 10, 50), rel=0.05)
    independent = stats.rate_difference(*_two_groups(_independent(30, 100), _independent(20, 100)))
    assert c.p_value > independent.p_value
    assert (c.n_deals_in, c.wins_in, c.n_accounts_in) == (100, 30, 50)


def test_few_accounts_get_an_exact_permutation_test_over_accounts() -> None:
    # 4 accounts inside won 3 of 3 deals each, 6 outside lost theirs: of the C(10, 4) = 210
    # ways to pick 4 accounts, only the observed one is as extreme, and as a tie with itself
    # it counts half (the mid-p), so p = 0.5 / 210 whatever the number of deals per account.
    inside = (np.full(4, 3.0), np.full(4, 3.0))
    outside = (np.zeros(6), np.full(6, 3.0))
    c = stats.rate_difference(*_two_groups(inside, outside))
    assert c.test == stats.TEST_PERMUTATION
    assert c.p_value == pytest.approx(0.5 / 210)


def test_permutation_p_value_counts_accounts_not_deals() -> None:
    # The same table with one deal per account gives the same p: relabelling moves accounts.
    many = stats.rate_difference(
        *_two_groups((np.full(4, 30.0), np.full(4, 30.0)), (np.zeros(6), np.full(6, 30.0)))
    )
    one = stats.rate_difference(*_two_groups(_independent(4, 4), _independent(0, 6)))
    assert many.p_value == pytest.approx(one.p_value)
    assert many.p_value > 1e-3


def test_permutation_with_too_many_relabellings_is_seeded_and_close_to_exact() -> None:
    rng = np.random.default_rng(3)
    deals = rng.integers(1, 8, 400).astype(float)
    wins = rng.binomial(deals.astype(int), 0.3).astype(float)
    group = np.arange(400) < 6
    first = stats.permutation_p_value(wins, deals, group)
    assert first == stats.permutation_p_value(wins, deals, group)
    assert 1 / (stats.PERMUTATION_DRAWS + 1) <= first <= 1.0


@pytest.mark.parametrize(("m", "k"), [(50, 12), (160, 40), (400, 100)])
def test_drawn_relabellings_never_repeat_an_account_and_include_each_equally(
    m: int, k: int
) -> None:
    # With k near m / 4 most random rows of k accounts repeat one; each such row is drawn
    # again until it holds k distinct accounts, and every account is in about k / m of them.
    draws = stats._draw_subsets(m, k, stats.PERMUTATION_DRAWS, np.random.default_rng(0))
    ordered = np.sort(draws, axis=1)
    assert draws.shape == (stats.PERMUTATION_DRAWS, k)
    assert not np.any(ordered[:, 1:] == ordered[:, :-1])
    included = np.bincount(draws.ravel(), minlength=m)
    share = k / m
    spread = math.sqrt(stats.PERMUTATION_DRAWS * share * (1 - share))
    assert np.all(np.abs(included - stats.PERMUTATION_DRAWS * share) < 5 * spread)


def test_drawn_relabellings_follow_the_seeded_stream_of_whole_rows_drawn_again() -> None:
    # The draws (and so every seeded p-value) are those of redrawing each row holding a
    # repeat whole, from one stream, as long as that ends in distinct rows.
    rng = np.random.default_rng(7)
    m, k = 268, 29
    expected = rng.integers(0, m, (stats.PERMUTATION_DRAWS, k))
    while True:
        ordered = np.sort(expected, axis=1)
        bad = np.any(ordered[:, 1:] == ordered[:, :-1], axis=1)
        if not bad.any():
            break
        expected[bad] = rng.integers(0, m, (int(bad.sum()), k))
    drawn = stats._draw_subsets(m, k, stats.PERMUTATION_DRAWS, np.random.default_rng(7))
    assert np.array_equal(drawn, expected)


def test_relabellings_kept_between_comparisons_are_those_drawn_afresh_and_read_only() -> None:
    # A second comparison of the same sizes reuses the first one's relabellings: they must be
    # what the seeded draw (or the enumeration) gives, and read-only, so no caller can alter
    # the p-values of the comparisons after it.
    for m, k in ((400, 6), (12, 3)):
        kept, extra = stats._relabellings(m, k, 0)
        again, _ = stats._relabellings(m, k, 0)
        fresh, fresh_extra = stats._make_relabellings(m, k, 0)
        assert again is kept and extra == fresh_extra
        assert np.array_equal(kept, fresh)
        with pytest.raises(ValueError):
            kept[0, 0] = 1


def test_two_accounts_with_many_deals_are_two_observations_not_three_hundred() -> None:
    # Two accounts with 150 deals each (85 and 95 won) against 100 accounts at 30%: no
    # relabelling of two accounts out of 102 can give a p-value below the mid-p of the most
    # extreme one, 0.5 / C(102, 2), and the
    # interval is more than twice as wide as one treating the 300 deals as independent.
    rng = np.random.default_rng(5)
    rest_deals = rng.integers(1, 10, 100).astype(float)
    rest = (rng.binomial(rest_deals.astype(int), 0.3).astype(float), rest_deals)
    c = stats.rate_difference(*_two_groups((np.array([85.0, 95.0]), np.full(2, 150.0)), rest))
    assert c.test == stats.TEST_PERMUTATION
    assert c.p_value >= 0.5 / math.comb(102, 2) * (1 - 1e-9)
    naive_se = math.sqrt(
        c.rate_in * (1 - c.rate_in) / 300 + c.rate_out * (1 - c.rate_out) / rest_deals.sum()
    )
    assert c.difference_ci[1] - c.difference_ci[0] > 2 * (2 * 1.959964 * naive_se)


@pytest.mark.parametrize(
    ("inside", "outside"),
    [
        ((np.zeros(0), np.zeros(0)), _independent(5, 10)),
        (_independent(5, 10), (np.zeros(0), np.zeros(0))),
        (_independent(10, 10), _independent(20, 20)),
        (_independent(0, 10), _independent(0, 20)),
    ],
    ids=["empty group", "empty rest", "all won", "all lost"],
)
def test_degenerate_comparisons_give_p_one_without_warnings(
    inside: tuple[np.ndarray, np.ndarray], outside: tuple[np.ndarray, np.ndarray]
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        c = stats.rate_difference(*_two_groups(inside, outside))
    assert c.p_value == 1.0
    if inside[0].size == 0 or outside[0].size == 0:
        assert c.test == stats.TEST_NONE
        assert math.isnan(c.difference) and math.isnan(c.lift)
        assert all(math.isnan(x) for x in (*c.difference_ci, *c.lift_ci))


def test_lift_is_undefined_when_nothing_outside_the_group_wins() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        c = stats.rate_difference(*_two_groups(_independent(20, 40), _independent(0, 40)))
    assert math.isnan(c.lift) and all(math.isnan(x) for x in c.lift_ci)
    assert c.difference == pytest.approx(0.5)
    assert c.difference_ci[0] > 0
    assert c.p_value < 1e-4


def test_a_side_that_always_wins_still_has_uncertainty() -> None:
    c = stats.rate_difference(*_two_groups(_independent(12, 12), _independent(40, 100)))
    assert c.difference_ci[0] < 1.0 - 0.4 < c.difference_ci[1]
    assert c.lift_ci[0] < c.lift < c.lift_ci[1]


def test_rate_difference_rejects_mismatched_inputs() -> None:
    with pytest.raises(ValueError):
        stats.rate_difference(np.ones(3), np.ones(3), np.array([True, False]))
    with pytest.raises(ValueError):
        stats.rate_difference(np.array([2.0]), np.array([1.0]), np.array([True]))


# --- Each value against the rest of its attribute -----------------------------------------


def _each_against_rest(
    wins: np.ndarray, deals: np.ndarray, sizes: list[int]
) -> list[stats.Comparison]:
    """The definition: rate_difference of each run, its rows first, against all the others."""
    out, begin, total = [], 0, len(deals)
    for size in sizes:
        order = np.r_[begin : begin + size, 0:begin, begin + size : total]
        out.append(stats.rate_difference(wins[order], deals[order], np.arange(total) < size))
        begin += size
    return out


def _agree(a: stats.Comparison, b: stats.Comparison) -> None:
    for name in stats.Comparison.__dataclass_fields__:
        x, y = getattr(a, name), getattr(b, name)
        if isinstance(x, str | int):
            assert x == y, name
        else:
            assert np.allclose(x, y, rtol=1e-9, atol=0.0, equal_nan=True), (name, x, y)


@pytest.mark.parametrize("seed", range(12))
def test_each_value_against_the_rest_equals_one_comparison_per_value(seed: int) -> None:
    # Values of very different sizes, clustered accounts, a whale, accounts without closed
    # deals, one-deal attributes: large cuts (pooled test) and small ones (permutation) alike.
    rng = np.random.default_rng(seed)
    large = [int(s) for s in rng.integers(60, 300, int(rng.integers(2, 6)))]
    sizes = [int(rng.integers(1, 25)), *large]  # always one small cut
    total = sum(sizes)
    deals = rng.geometric(0.5, total).astype(float) if seed % 3 else np.ones(total)
    deals[rng.random(total) < 0.05] = 0
    deals[int(rng.integers(total))] = 400
    rates = rng.uniform(0.05, 0.95, len(sizes)).repeat(sizes)
    wins = rng.binomial(deals.astype(int), rates).astype(float)
    starts = np.r_[0, np.cumsum(sizes)[:-1]]
    fast = stats.rate_differences(wins, deals, starts)
    expected = _each_against_rest(wins, deals, sizes)
    assert len(fast) == len(expected)
    for got, want in zip(fast, expected, strict=True):
        _agree(got, want)
    assert {c.test for c in expected} >= {stats.TEST_Z}


@pytest.mark.parametrize("seed", range(12))
def test_each_values_rate_from_the_runs_sums_is_clustered_rate_to_the_bit(seed: int) -> None:
    # The lift table's rates come from the sums the comparisons use: the same floats as
    # clustered_rate of the value's accounts, for one-deal accounts, all-won or all-lost
    # values, accounts without closed deals and values without any.
    rng = np.random.default_rng(seed)
    sizes = [int(s) for s in rng.integers(0, 200, int(rng.integers(2, 7)))]
    total = sum(sizes)
    deals = rng.geometric(0.4, total).astype(float) if seed % 3 else np.ones(total)
    deals[rng.random(total) < 0.05] = 0
    rates = rng.choice([0.0, 1.0, *rng.uniform(0.05, 0.95, 4)], len(sizes)).repeat(sizes)
    wins = rng.binomial(deals.astype(int), rates).astype(float)
    starts = np.r_[0, np.cumsum(sizes)[:-1]]
    got, comparisons = stats.rates_and_differences(wins, deals, starts)
    assert repr(comparisons) == repr(stats.rate_differences(wins, deals, starts))
    bounds = [*starts.tolist(), total]
    for estimate, (b, e) in zip(got, itertools.pairwise(bounds), strict=True):
        want = stats.clustered_rate(wins[b:e], deals[b:e])
        assert repr(estimate) == repr(want)


def test_each_value_against_the_rest_handles_an_empty_value_and_a_lone_value() -> None:
    wins, deals = np.array([1.0, 0.0, 2.0]), np.array([1.0, 1.0, 3.0])
    empty_first = stats.rate_differences(wins, deals, np.array([0, 0]))
    assert math.isnan(empty_first[0].rate_in) and empty_first[0].p_value == 1.0
    assert empty_first[1].n_accounts_out == 0 and empty_first[1].p_value == 1.0
    assert stats.rate_differences(np.zeros(0), np.zeros(0), np.zeros(0)) == []


def test_each_value_against_the_rest_rejects_runs_out_of_order() -> None:
    with pytest.raises(ValueError):
        stats.rate_differences(np.ones(3), np.ones(3), np.array([0, 2, 1]))
    with pytest.raises(ValueError):
        stats.rate_differences(np.ones(3), np.ones(3), np.array([1]))
    with pytest.raises(ValueError):
        stats.rate_differences(np.array([2.0]), np.array([1.0]), np.array([0]))


def _simulate_clustered(
    rng: np.random.Generator, rate: float, n_accounts: int
) -> tuple[np.ndarray, np.ndarray]:
    # Account-level win propensity ~ Beta(mean rate, concentration 2): strong clustering.
    deals = rng.integers(1, 9, n_accounts).astype(float)
    propensity = rng.beta(2 * rate, 2 * (1 - rate), n_accounts)
    return rng.binomial(deals.astype(int), propensity).astype(float), deals


def test_lift_ci_covers_the_true_lift_at_about_the_nominal_rate_under_clustering() -> None:
    rng = np.random.default_rng(7)
    true_lift = 0.45 / 0.3
    robust_hits = naive_hits = 0
    sims = 200
    for _ in range(sims):
        inside = _simulate_clustered(rng, 0.45, 120)
        outside = _simulate_clustered(rng, 0.3, 240)
        c = stats.rate_difference(*_two_groups(inside, outside))
        robust_hits += c.lift_ci[0] <= true_lift <= c.lift_ci[1]
        # The same interval with binomial variances, as if deals were independent.
        n1, n0 = inside[1].sum(), outside[1].sum()
        se_log = math.sqrt(
            (1 - c.rate_in) / (c.rate_in * n1) + (1 - c.rate_out) / (c.rate_out * n0)
        )
        naive_hits += abs(math.log(c.lift / true_lift)) <= 1.959964 * se_log
    assert 0.90 <= robust_hits / sims <= 0.99
    assert naive_hits / sims < 0.88


# --- Benjamini-Hochberg -------------------------------------------------------------------

# Benjamini & Hochberg (1995), section 4: 15 p-values; at FDR 0.05 the first four are rejected.
BH_1995 = np.array(
    [
        *(0.0001, 0.0004, 0.0019, 0.0095, 0.0201, 0.0278, 0.0298, 0.0344, 0.0459),
        *(0.3240, 0.4262, 0.5719, 0.6528, 0.7590, 1.0000),
    ]
)


def test_bh_reproduces_the_1995_paper_example() -> None:
    q = stats.benjamini_hochberg(BH_1995)
    assert int(np.sum(q <= 0.05)) == 4
    assert q[:4] == pytest.approx([0.0015, 0.003, 0.0095, 0.0095 * 15 / 4])
    assert q[4] == pytest.approx(0.0201 * 15 / 5)


def test_bh_matches_scipy_false_discovery_control() -> None:
    rng = np.random.default_rng(3)
    p = np.concatenate([rng.uniform(size=40), rng.uniform(0, 0.01, size=10)])
    rng.shuffle(p)
    np.testing.assert_allclose(
        stats.benjamini_hochberg(p), sps.false_discovery_control(p, method="bh"), rtol=1e-12
    )


def test_bh_is_monotone_capped_and_passes_nan_through_without_counting_it() -> None:
    p = np.array([0.04, np.nan, 0.01, 0.9, np.nan, 0.03])
    q = stats.benjamini_hochberg(p)
    assert np.isnan(q[[1, 4]]).all()
    finite = ~np.isnan(p)
    np.testing.assert_allclose(q[finite], sps.false_discovery_control(p[finite]))
    order = np.argsort(p[finite])
    assert np.all(np.diff(q[finite][order]) >= 0)
    assert np.all(q[finite] <= 1.0)
    assert np.isnan(stats.benjamini_hochberg(np.array([np.nan]))).all()


@pytest.mark.parametrize("tests", [0, 3, 12, 1_000])
def test_bh_over_more_tests_than_given_is_bh_with_the_others_at_p_one(tests: int) -> None:
    # A rule picked from many cuts is judged among all of them: the cuts not picked count as
    # p = 1, without a row each (a family of millions costs nothing).
    p = np.array([0.0004, 0.03, 0.2, 1.0, 0.004, 0.0004])
    padded = np.r_[p, np.ones(max(tests - p.size, 0))]
    expected = sps.false_discovery_control(padded, method="bh")[: p.size]
    np.testing.assert_allclose(stats.benjamini_hochberg(p, tests=tests), expected, rtol=1e-12)


# --- Weight of evidence and information value ---------------------------------------------


def test_iv_on_a_hand_worked_example_without_smoothing() -> None:
    # Shares of wins .1/.2/.7, of losses .4/.4/.2:
    # WoE = ln(.25), ln(.5), ln(3.5); IV parts = .3*1.386294, .2*.693147, .5*1.252763.
    parts, iv = stats.information_value(np.array([10, 20, 70]), np.array([40, 40, 20]), 0.0)
    assert parts == pytest.approx([0.415888, 0.138629, 0.626381], abs=1e-6)
    assert iv == pytest.approx(1.180899, abs=1e-6)
    assert stats.iv_strength(iv) == "strong"


def test_smoothing_keeps_empty_cells_finite() -> None:
    # (0 + .5) / (100 + 1) over (10 + .5) / (100 + 1) = 1/21.
    assert stats.weight_of_evidence(0, 10, 100, 100) == pytest.approx(math.log(1 / 21))
    parts, iv = stats.information_value(np.array([0, 50]), np.array([10, 40]))
    assert np.isfinite(parts).all() and iv > 0


def test_woe_sign_says_whether_a_value_is_more_common_among_wins() -> None:
    assert stats.weight_of_evidence(30, 10, 100, 100) > 0
    assert stats.weight_of_evidence(10, 30, 100, 100) < 0
    assert stats.weight_of_evidence(10, 10, 100, 100) == pytest.approx(0.0)


def test_two_bin_iv_uses_the_same_woe_as_weight_of_evidence() -> None:
    won, lost = np.array([30.0, 70.0]), np.array([12.0, 138.0])
    parts, _ = stats.information_value(won, lost)
    woe = stats.weight_of_evidence(30, 12, 100, 150)
    share_won, share_lost = 30.5 / 101, 12.5 / 151
    assert parts[0] == pytest.approx((share_won - share_lost) * woe)


def test_iv_strength_bands() -> None:
    assert [stats.iv_strength(x) for x in (0.0, 0.019, 0.02, 0.099, 0.1, 0.29, 0.3, 2.0)] == [
        "useless",
        "useless",
        "weak",
        "weak",
        "medium",
        "medium",
        "strong",
        "strong",
    ]
    doc = stats.information_value.__doc__ or ""
    assert all(band in doc for band in ("<0.02 useless", "0.02-0.1 weak", "0.1-0.3 medium"))


def test_iv_is_undefined_without_wins_or_losses() -> None:
    parts, iv = stats.information_value(np.array([0, 0]), np.array([3, 4]))
    assert math.isnan(iv) and np.isnan(parts).all()


# --- Shrinkage ----------------------------------------------------------------------------


def test_shrinkage_pulls_a_tiny_cell_to_the_prior_and_leaves_a_big_one_alone() -> None:
    assert stats.shrunk_rate(2, 2, 0.25, 20) == pytest.approx(7 / 22)
    assert stats.shrunk_rate(500, 1000, 0.25, 20) == pytest.approx(505 / 1020)
    assert abs(stats.shrunk_rate(500, 1000, 0.25, 20) - 0.5) < 0.01


def test_prior_strength_recovers_a_known_beta_binomial_concentration() -> None:
    rng = np.random.default_rng(11)
    k, p = 50.0, 0.3
    n = rng.integers(20, 200, 400)
    wins = rng.binomial(n, rng.beta(k * p, k * (1 - p), n.size))
    assert 35 <= stats.estimate_prior_strength(wins, n) <= 70


def test_prior_strength_defaults_and_clipping() -> None:
    lo, hi = stats.PRIOR_STRENGTH_RANGE
    # No spread beyond binomial noise: segments look alike, shrink as hard as allowed.
    assert stats.estimate_prior_strength(np.array([10, 20, 30]), np.array([100, 200, 300])) == hi
    # Rates of 0 and 1: all the variance is between segments.
    assert stats.estimate_prior_strength(np.array([0, 50]), np.array([50, 50])) == lo
    for wins, n in [([3], [10]), ([0, 0], [5, 5]), ([1, 0, 1], [1, 1, 1])]:
        assert stats.estimate_prior_strength(np.array(wins), np.array(n)) == 20.0


# --- Bootstrap and median -----------------------------------------------------------------


def test_bootstrap_resamples_accounts_deterministically() -> None:
    values = np.random.default_rng(5).normal(10, 2, 400)
    seen: list[np.ndarray] = []

    def mean(idx: np.ndarray) -> float:
        seen.append(idx)
        return float(values[idx].mean())

    ci = stats.bootstrap_accounts_ci(mean, values.size, n_boot=500, seed=1)
    assert ci == stats.bootstrap_accounts_ci(mean, values.size, n_boot=500, seed=1)
    assert ci != stats.bootstrap_accounts_ci(mean, values.size, n_boot=500, seed=2)
    assert all(i.size == 400 and i.min() >= 0 and i.max() < 400 for i in seen)
    half = 1.959964 * values.std(ddof=1) / math.sqrt(values.size)
    assert ci[0] == pytest.approx(values.mean() - half, abs=0.15 * half)
    assert ci[1] == pytest.approx(values.mean() + half, abs=0.15 * half)


def test_bootstrap_needs_two_accounts() -> None:
    assert all(math.isnan(x) for x in stats.bootstrap_accounts_ci(lambda i: 1.0, 1))


def test_median_ci_uses_binomial_order_statistics() -> None:
    # n = 10 at 95%: [x(2), x(9)], coverage 1 - 2 * 11/1024 = 0.9785 (Conover's table).
    values = np.array([7.0, 1, 9, 3, 10, 5, 2, 8, 4, 6])
    assert stats.median_ci(values) == (5.5, 2.0, 9.0)
    assert stats.median_ci(np.arange(1.0, 7.0)) == (3.5, 1.0, 6.0)
    median, low, high = stats.median_ci(np.arange(1.0, 101.0))
    k = int(low)
    assert median == 50.5 and high == 101 - k
    assert 1 - 2 * sps.binom.cdf(k - 1, 100, 0.5) >= 0.95 > 1 - 2 * sps.binom.cdf(k, 100, 0.5)


def test_median_ci_is_undefined_when_the_data_cannot_reach_the_confidence() -> None:
    assert all(math.isnan(x) for x in stats.median_ci(np.zeros(0)))
    median, low, high = stats.median_ci(np.arange(5.0))
    assert median == 2.0 and math.isnan(low) and math.isnan(high)


def test_min_closed_deals_threshold() -> None:
    assert stats.MIN_CLOSED_DEALS == 30


@pytest.mark.parametrize("size", [1, 2, 3, 4, 101, 1000, 20_001])
@pytest.mark.parametrize("draw", ["few deals", "small whole numbers", "spread", "fractions"])
def test_median_count_is_numpys_median_to_the_bit(size: int, draw: str) -> None:
    """The whale cap's median of deals per account, counted, is np.median exactly; values
    that are not whole numbers in range are handed to np.median itself."""
    rng = np.random.default_rng(size)
    values = {
        "few deals": lambda: rng.geometric(0.6, size).astype(float),
        "small whole numbers": lambda: rng.integers(0, 5, size).astype(float),
        "spread": lambda: rng.integers(1, 5000, size).astype(float),
        "fractions": lambda: rng.random(size) * 10,
    }[draw]()
    assert median_count(values) == float(np.median(values))
