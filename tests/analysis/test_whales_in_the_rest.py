"""A whale account (hundreds of deals) weighs no more than the cap on either side of every
comparison, and a cut too thin to become a verdict (a whale's own segment) does not loosen the
false-discovery threshold of the other values."""

from __future__ import annotations

import numpy as np
import pytest

from icpkit.analysis import stats
from icpkit.analysis.frame import Attribute, Cut, Frame
from icpkit.analysis.lift import lift_table
from icpkit.config import AnalysisSettings


def test_a_whale_in_the_rest_weighs_only_the_cap() -> None:
    # Value A: 40 accounts of 2 deals, one win each. Value B: 40 accounts of 2 deals, no win
    # in the first 30, two in the last 10, plus a whale of 300 deals with 270 wins. The
    # median account has 2 deals, so no account weighs more than max(10, 5 x 2) = 10 deals:
    # B's rate, as the rest of A, is (20 + 270 x 10 / 300) / (80 + 10) = 0.5222.
    wins = np.r_[np.ones(40), np.zeros(30), np.full(10, 2.0), 270.0]
    deals = np.r_[np.full(80, 2.0), 300.0]
    a_vs_rest = stats.rate_differences(wins, deals, np.array([0, 40]))[0]
    capped = (20 + 270 * 10 / 300) / (80 + 10)
    assert a_vs_rest.rate_out == pytest.approx(capped)
    assert a_vs_rest.rate_out != pytest.approx((20 + 270) / (80 + 300))  # the whale uncapped
    assert a_vs_rest.rate_in == pytest.approx(0.5)
    # The same comparison one cut at a time.
    single = stats.rate_difference(wins, deals, np.arange(81) < 40)
    assert single.rate_out == pytest.approx(capped)
    assert single.p_value == pytest.approx(a_vs_rest.p_value, rel=1e-9)


def _industry_frame(with_whale: bool) -> Frame:
    """'industry': Public (80 accounts, a low win rate), Other (400 accounts) and, with the
    whale, Mining (one account, 300 deals, 240 won)."""
    rng = np.random.default_rng(7)
    cuts = []
    start = 0
    for value, accounts, rate in (("Public", 80, 0.2), ("Other", 400, 0.32)):
        deals = rng.integers(1, 4, accounts).astype(float)
        wins = rng.binomial(deals.astype(int), rate).astype(float)
        cuts.append(Cut(value, np.arange(start, start + accounts), wins, deals))
        start += accounts
    if with_whale:
        cuts.append(Cut("Mining", np.array([start]), np.array([240.0]), np.array([300.0])))
        start += 1
    n_closed = int(sum(c.deals.sum() for c in cuts))
    n_won = int(sum(c.wins.sum() for c in cuts))
    attribute = Attribute("industry", "nominal", "fit", "", ("Public", "Other", "Mining"), True)
    return Frame(
        [attribute],
        {"industry": cuts},
        n_closed,
        n_won,
        start,
        churned=np.full(start, -1, dtype=np.int8),
        account_keys=[str(i) for i in range(start)],
        tiers=np.zeros(start, dtype=np.int8),
    )


def test_a_thin_whale_segment_does_not_loosen_the_threshold_of_the_others() -> None:
    settings = AnalysisSettings()
    rows = {r.value: r for r in lift_table(_industry_frame(True), settings).rows}
    mining, public, other = rows["Mining"], rows["Public"], rows["Other"]
    assert mining.thin and not public.thin and not other.thin
    # The whale's one-account segment has the smallest p-value of the family ...
    assert mining.p_value < min(public.p_value, other.p_value)
    # ... but counts as a test with p = 1: Public's q is its p times 3 tests over its rank
    # among the others (Benjamini-Hochberg with the thin test last), not over rank 2.
    ranked = sorted([public.p_value, other.p_value])
    expected = min(
        public.p_value * 3 / (ranked.index(public.p_value) + 1),
        max(ranked) * 3 / 2,
    )
    assert public.q_value == pytest.approx(min(1.0, expected))
    loosened = public.p_value * 3 / (ranked.index(public.p_value) + 2)
    assert public.q_value > loosened


def test_a_thin_cut_keeps_its_own_q_value_for_the_table() -> None:
    rows = {r.value: r for r in lift_table(_industry_frame(True), AnalysisSettings()).rows}
    # Smallest of three p-values: BH q = 3 p.
    assert rows["Mining"].q_value == pytest.approx(min(1.0, 3 * rows["Mining"].p_value))
    assert rows["Mining"].verdict == "not enough evidence"
