"""The churn test of every lift row: customers are the units, the test is exact (Fisher's with
one tenure band), customers are compared within whole years since their first win, and a churn
verdict needs at least ``min_accounts`` customers on each side of the cut."""

from __future__ import annotations

import itertools
import math

import duckdb
import numpy as np
import pytest
from scipy import stats as sps
from scipy.special import gammaln

from icpkit.analysis.churn import (
    _NEGLIGIBLE,
    _bands,
    _hypergeometric,
    exact_p_value,
    flag_differences,
    tenure_bands,
)
from icpkit.analysis.frame import Attribute, Cut, Frame, _customer_since
from icpkit.analysis.lift import lift_table
from icpkit.config import AnalysisSettings


def _flags(churned_in: int, cut: int, churned_out: int, rest: int) -> np.ndarray:
    return np.r_[
        np.ones(churned_in),
        np.zeros(cut - churned_in),
        np.ones(churned_out),
        np.zeros(rest - churned_out),
    ].astype(np.int64)


@pytest.mark.parametrize(
    ("churned_in", "cut", "churned_out", "rest"),
    [(6, 10, 10, 100), (2, 2, 15, 150), (0, 5, 30, 150), (12, 40, 30, 400), (1, 3, 0, 20)],
)
def test_with_one_tenure_band_the_churn_test_is_fishers_exact_test(
    churned_in: int, cut: int, churned_out: int, rest: int
) -> None:
    comparison = flag_differences(_flags(churned_in, cut, churned_out, rest), np.array([0, cut]))[0]
    table = [[churned_in, cut - churned_in], [churned_out, rest - churned_out]]
    assert comparison.p_value == pytest.approx(sps.fisher_exact(table).pvalue, rel=1e-9)
    assert comparison.rate_in == pytest.approx(churned_in / cut)
    assert comparison.n_accounts_in == cut and comparison.n_accounts_out == rest
    if churned_out:
        assert comparison.lift == pytest.approx((churned_in / cut) / (churned_out / rest))


def test_more_churned_customers_in_a_cut_never_weakens_the_evidence() -> None:
    # 5 customers against 150 of whom 15 churned (10%). A test that studentizes by the cut's
    # own spread ranked 4 of 5 churned (p 0.51) as weaker evidence than 0 of 5 (p 0.30).
    p = [flag_differences(_flags(x, 5, 15, 150), np.array([0, 5]))[0].p_value for x in range(6)]
    assert all(later <= earlier for earlier, later in itertools.pairwise(p[1:]))
    assert p[4] < p[0]
    assert p[5] < 0.001


@pytest.mark.parametrize(
    ("totals", "flagged", "inside"),
    [
        ([40], [8], [5]),
        ([155], [31], [2]),
        ([80, 120], [30, 6], [10, 25]),
        ([12, 9], [3, 4], [4, 3]),
    ],
)
def test_the_exact_test_never_rejects_more_often_than_its_level(
    totals: list[int], flagged: list[int], inside: list[int]
) -> None:
    # Every outcome of every band enumerated with its hypergeometric probability, given the
    # margins: the chance of p < 5% is at most 5%.
    n, t, k = np.array(totals), np.array(flagged), np.array(inside)
    ranges = [
        range(max(0, ki - (ni - ti)), min(ki, ti) + 1) for ni, ti, ki in zip(n, t, k, strict=True)
    ]
    rejected = 0.0
    total = 0.0
    for outcome in itertools.product(*ranges):
        prob = float(
            np.prod(
                [
                    sps.hypergeom.pmf(x, ni, ti, ki)
                    for x, ni, ti, ki in zip(outcome, n, t, k, strict=True)
                ]
            )
        )
        total += prob
        if exact_p_value(n, t, k, sum(outcome)) < 0.05:
            rejected += prob
    assert total == pytest.approx(1.0)
    assert rejected <= 0.05


def _older_cut() -> tuple[np.ndarray, np.ndarray]:
    """A cut churning more only because its customers are older. Recent band: cut 1 of 20,
    rest 5 of 100 churned (5% each); old band: cut 16 of 40, rest 16 of 40 (40% each)."""
    flags = np.r_[
        np.r_[np.ones(1), np.zeros(19)],  # cut, recent
        np.r_[np.ones(16), np.zeros(24)],  # cut, old
        np.r_[np.ones(5), np.zeros(95)],  # rest, recent
        np.r_[np.ones(16), np.zeros(24)],  # rest, old
    ].astype(np.int64)
    bands = np.r_[np.zeros(20), np.ones(40), np.zeros(100), np.ones(40)].astype(np.int64)
    return flags, bands


def test_a_cut_of_older_customers_is_compared_within_its_tenure_years() -> None:
    flags, bands = _older_cut()
    together = flag_differences(flags, np.array([0, 60]))[0]
    within = flag_differences(flags, np.array([0, 60]), bands)[0]
    # All together the cut churns (17/60) / (21/140) = 1.89x as often ...
    assert together.lift == pytest.approx((17 / 60) / (21 / 140))
    # ... within its tenure years exactly as often: the Mantel-Haenszel ratio is 1.
    assert within.lift == pytest.approx(1.0)
    assert within.lift_ci[0] < 1.0 < within.lift_ci[1]
    assert within.p_value > 0.5
    assert within.rate_in == pytest.approx(17 / 60)  # the reported rate is the cut's own


def test_tenure_bands_count_whole_years_back_from_the_latest_first_win() -> None:
    assert tenure_bands(np.array([0, 400, 800, 365, -1])).tolist() == [2, 1, 0, 1, -1]
    assert tenure_bands(np.array([-1, -1])).tolist() == [-1, -1]


def test_first_wins_are_read_per_account_from_the_closed_deals() -> None:
    con = duckdb.connect()
    con.execute(
        """CREATE TEMP TABLE closed AS SELECT * FROM (VALUES
             ('a', true, TIMESTAMP '2024-03-01 10:00'), ('a', true, TIMESTAMP '2023-01-02 09:00'),
             ('b', false, TIMESTAMP '2022-01-01 00:00'), ('c', true, NULL))
           AS t(account_key, won, closed_at)"""
    )
    con.execute(
        """CREATE TEMP TABLE account_index AS SELECT * FROM (VALUES ('a', 0), ('b', 1), ('c', 2))
           AS t(account_key, idx)"""
    )
    since = _customer_since(con, 3)
    first = (np.datetime64("2023-01-02") - np.datetime64("1970-01-01")).astype(int)
    assert since.tolist() == [first, -1, -1]


def _industry_frame(customers_in: int, churned_in: int, since: np.ndarray | None = None) -> Frame:
    """'industry': Retail (30 accounts of 3 deals; ``customers_in`` of them won once, the
    first ``churned_in`` of those churned) and Other (300 accounts of 3 deals, 100 won once, 10
    of them churned): the same win rate, so only churn can decide."""
    won_in = np.r_[np.ones(customers_in), np.zeros(30 - customers_in)]
    won_out = np.r_[np.ones(100), np.zeros(200)]
    cuts = [
        Cut("Retail", np.arange(30), won_in, np.full(30, 3.0)),
        Cut("Other", np.arange(30, 330), won_out, np.full(300, 3.0)),
    ]
    churned = np.full(330, -1, dtype=np.int8)
    churned[:customers_in] = 0
    churned[:churned_in] = 1
    churned[30:130] = 0
    churned[30:40] = 1
    attribute = Attribute("industry", "nominal", "fit", "", ("Retail", "Other"), True)
    return Frame(
        [attribute],
        {"industry": cuts},
        990,
        customers_in + 100,
        330,
        churned=churned,
        account_keys=[str(i) for i in range(330)],
        tiers=np.zeros(330, dtype=np.int8),
        customer_since=since,
    )


def test_a_churn_verdict_needs_ten_customers_in_the_cut() -> None:
    settings = AnalysisSettings()
    ten = {r.value: r for r in lift_table(_industry_frame(10, 8), settings).rows}["Retail"]
    assert ten.verdict == "disqualifier" and ten.why.startswith("churns")
    assert ten.churn_customers == 10 and ten.churn_customers_rest == 100
    # Nine customers, all churned: a smaller p-value, but too few customers to decide.
    nine = {r.value: r for r in lift_table(_industry_frame(9, 9), settings).rows}["Retail"]
    assert nine.churn_p_value is not None and ten.churn_p_value is not None
    assert nine.churn_p_value < ten.churn_p_value
    assert nine.verdict != "disqualifier"


def test_the_lift_table_compares_churn_within_tenure_years() -> None:
    # Retail's 10 customers, 8 churned, were all won 3 years before the others; the other
    # customers won that early churned as often (10 of 12), the recent ones 0 of 88.
    since = np.full(330, -1, dtype=np.int64)
    since[:10] = 0
    since[30:42] = 0
    since[42:130] = 3 * 365
    frame = _industry_frame(10, 8, since)
    frame.churned[30:130] = 0
    frame.churned[30:40] = 1
    row = {r.value: r for r in lift_table(frame, AnalysisSettings()).rows}["Retail"]
    assert row.verdict != "disqualifier"
    assert row.churn_p_value is not None and row.churn_p_value > 0.5
    assert row.churn_lift == pytest.approx((8 / 10) / (10 / 12))
    frame.customer_since = None  # all customers together: the old ones' churn is Retail's
    row = {r.value: r for r in lift_table(frame, AnalysisSettings()).rows}["Retail"]
    assert row.verdict == "disqualifier" and row.why.startswith("churns")


def _reference_p_value(
    totals: list[int], flagged: list[int], inside: list[int], hits: int
) -> float:
    """The exact p-value term by term over every count of every band (scipy's pmf)."""
    pmf, low = np.ones(1), 0
    for n, t, k in zip(totals, flagged, inside, strict=True):
        first, last = max(0, k - (n - t)), min(k, t)
        pmf = np.convolve(pmf, sps.hypergeom.pmf(np.arange(first, last + 1), n, t, k))
        low += first
    observed = pmf[hits - low]
    return float(min(1.0, pmf[pmf <= observed * (1 + 1e-7)].sum()))


@pytest.mark.parametrize("seed", range(6))
def test_large_bands_give_the_p_value_of_every_count_summed_term_by_term(seed: int) -> None:
    # Thousands of customers a band, so the fast path (trimmed tails, FFT) is the one taken.
    rng = np.random.default_rng(seed)
    bands = int(rng.integers(1, 5))
    totals = rng.integers(2_000, 9_000, bands).tolist()
    flagged = [int(rng.integers(n // 20, n // 3)) for n in totals]
    inside = [int(rng.integers(n // 10, n // 2)) for n in totals]
    expected = sum(k * t / n for n, t, k in zip(totals, flagged, inside, strict=True))
    spread = np.sqrt(sum(k * t / n for n, t, k in zip(totals, flagged, inside, strict=True)))
    for shift in (0.0, 1.0, 2.5, 4.0, -3.0):
        hits = round(float(expected + shift * spread))
        got = exact_p_value(np.array(totals), np.array(flagged), np.array(inside), hits)
        want = _reference_p_value(totals, flagged, inside, hits)
        assert got == pytest.approx(want, rel=1e-6, abs=1e-11)


def test_a_count_far_out_in_the_tail_has_a_tiny_p_value_not_zero_nor_one() -> None:
    totals, flagged, inside = (
        np.array([5_000, 6_000]),
        np.array([500, 600]),
        np.array([1_000, 1_200]),
    )
    p = exact_p_value(totals, flagged, inside, 420)  # expected 220, sd about 13
    assert 0.0 < p < 1e-25
    # Beyond the counts each year keeps (41-445 here): the normal tail, tiny but not zero.
    assert 0.0 < exact_p_value(totals, flagged, inside, 600) < p
    assert exact_p_value(totals, flagged, inside, 2_300) == 0.0  # more than the cut can hold


@pytest.mark.parametrize("hits", [230, 300, 420, 600])
def test_a_band_wholly_inside_the_cut_only_shifts_the_count(hits: int) -> None:
    # A tenure year whose 40 customers (7 churned) are all in the cut adds exactly 7 flagged
    # customers: the p-value is that of the other years at 7 fewer, near the mode and far out.
    totals, flagged, inside = (
        np.array([5_000, 6_000]),
        np.array([500, 600]),
        np.array([1_000, 1_200]),
    )
    alone = exact_p_value(totals, flagged, inside, hits)
    with_year = exact_p_value(np.r_[totals, 40], np.r_[flagged, 7], np.r_[inside, 40], hits + 7)
    assert with_year == pytest.approx(alone, rel=1e-9, abs=0.0)


@pytest.mark.parametrize(
    "bands",
    [
        np.array([], dtype=np.int64),
        np.array([3, -1, 0, 3, 7, -1]),
        np.random.default_rng(1).integers(-1, 30, 5_000),
        np.array([0, 10**12, -(10**12)]),  # too spread out to count: sorted instead
        np.array([2.0, 0.5, 2.0]),  # not whole numbers
        np.array([3, 1, 3], dtype=np.uint8),
    ],
)
def test_the_tenure_bands_are_numbered_as_np_unique_numbers_them(bands: np.ndarray) -> None:
    labels, code = _bands(bands)
    expected_labels, expected_code = np.unique(bands, return_inverse=True)
    assert labels.tolist() == expected_labels.tolist() and labels.dtype == expected_labels.dtype
    assert code.tolist() == expected_code.ravel().tolist()


def _hypergeometric_from_log_gamma(n: int, t: int, k: int, first: int, last: int) -> np.ndarray:
    """The band's log-probabilities as log-gamma gives them, count by count."""
    x = np.arange(first, last + 1, dtype=np.float64)

    def log_choose(a: float, b: np.ndarray | int) -> np.ndarray:
        return np.asarray(
            gammaln(a + 1) - gammaln(np.asarray(b) + 1) - gammaln(a - np.asarray(b) + 1)
        )

    return log_choose(float(t), x) + log_choose(float(n - t), k - x) - log_choose(float(n), k)


@pytest.mark.parametrize("n", [2, 7, 1023, 1024, 1025, 2047, 2048, 70_000])
def test_a_bands_probabilities_are_those_log_gamma_gives_to_the_bit(n: int) -> None:
    # Looked up in a table of log-factorials, not computed count by count: the same floats,
    # whichever size of table the band's customers need.
    rng = np.random.default_rng(n)
    for _ in range(30):
        t, k = (int(v) for v in rng.integers(0, n + 1, 2))
        first, last = max(0, k - (n - t)), min(k, t)
        if last <= first:
            continue
        start, probabilities = _hypergeometric(n, t, k, first, last)
        log_pmf = _hypergeometric_from_log_gamma(n, t, k, first, last)
        kept = np.flatnonzero(log_pmf >= log_pmf.max() + math.log(_NEGLIGIBLE))
        assert start == first + kept[0]
        assert np.array_equal(probabilities, np.exp(log_pmf[kept[0] : kept[-1] + 1]))
