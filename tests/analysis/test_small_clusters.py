"""Few accounts carrying many deals: the win-rate test keeps its nominal error rate, and a cut
is judged by its accounts, not its deals."""

from __future__ import annotations

import math

import numpy as np
import pytest

from icpkit.analysis import stats
from icpkit.analysis.frame import Attribute, Cut, Frame
from icpkit.analysis.lift import lift_table
from icpkit.config import AnalysisSettings

REST_ACCOUNTS = 150
BASE_RATE = 0.3


def _null_data(
    k: int, icc: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A cut of k accounts and a rest of REST_ACCOUNTS from one population: account win rates
    Beta with intra-account correlation ``icc``, 1 to many deals per account."""
    m = k + REST_ACCOUNTS
    strength = 1 / icc - 1
    rates = rng.beta(BASE_RATE * strength, (1 - BASE_RATE) * strength, m)
    deals = rng.geometric(1 / 6, m)
    wins = rng.binomial(deals, rates)
    return wins.astype(float), deals.astype(float), np.arange(m) < k


def _uncorrected_z_rejects(wins: np.ndarray, deals: np.ndarray, group: np.ndarray) -> bool:
    """The cluster-robust normal test without small-sample correction: what not to do."""
    variance = 0.0
    diff = 0.0
    for side, sign in ((group, 1.0), (~group, -1.0)):
        w, n = wins[side], deals[side]
        rate = w.sum() / n.sum()
        m = w.size
        variance += m / (m - 1) * float(np.sum((w - rate * n) ** 2)) / n.sum() ** 2
        diff += sign * rate
    return variance > 0 and abs(diff) / math.sqrt(variance) > 1.959964


@pytest.mark.slow
@pytest.mark.parametrize("k", [3, 10])
def test_win_rate_test_keeps_its_error_rate_with_few_accounts_per_cut(k: int) -> None:
    # 400 null data sets at an intra-account correlation of 0.2: at a nominal 5% the
    # false-rejection rate must stay below 9% (about 4 standard errors above 5% at 400
    # replications), where the uncorrected normal test rejects far more often.
    rng = np.random.default_rng(100 + k)
    reps = 400
    ours = naive = 0
    for _ in range(reps):
        wins, deals, group = _null_data(k, 0.2, rng)
        ours += stats.rate_difference(wins, deals, group).p_value < 0.05
        naive += _uncorrected_z_rejects(wins, deals, group)
    assert ours / reps < 0.09
    if k == 3:
        assert naive / reps > 0.12


@pytest.mark.slow
def test_small_cells_do_not_produce_tiny_p_values_by_chance() -> None:
    # A 30-deal cell at a 32% win rate against 1,000 deals, same rate: a cell with few wins has
    # a small plug-in variance of its own; the null variance is what the test must use.
    rng = np.random.default_rng(9)
    group = np.arange(1030) < 30
    tiny = 0
    reps = 3000
    for _ in range(reps):
        wins = rng.binomial(1, 0.32, 1030).astype(float)
        tiny += stats.rate_difference(wins, np.ones(1030), group).p_value < 1e-3
    # Nominal: 3 expected; the unpooled z-test gave about 30 times that.
    assert tiny <= 10


def _frame(whale_wins: tuple[float, ...], whale_deals: float, rest: int) -> Frame:
    """One 'industry' attribute: a value held by a few whale accounts, the rest 'Other'."""
    rng = np.random.default_rng(1)
    deals = np.concatenate([np.full(len(whale_wins), whale_deals), rng.integers(1, 8, rest)])
    wins = np.concatenate([whale_wins, rng.binomial(deals[len(whale_wins) :].astype(int), 0.3)])
    whales = np.arange(len(whale_wins))
    others = np.arange(len(whale_wins), len(deals))
    cuts = [
        Cut("Mining", whales, wins[whales].astype(float), deals[whales].astype(float)),
        Cut("Other", others, wins[others].astype(float), deals[others].astype(float)),
    ]
    return Frame(
        attributes=[Attribute("industry", "categorical", "fit", "")],
        cuts={"industry": cuts},
        n_closed=int(deals.sum()),
        n_won=int(wins.sum()),
        n_accounts=len(deals),
        churned=np.full(len(deals), -1, dtype=np.int8),
        account_keys=[f"a{i}" for i in range(len(deals))],
        tiers=np.zeros(len(deals), dtype=np.int8),
    )


def test_two_accounts_with_hundreds_of_deals_are_not_enough_evidence() -> None:
    result = lift_table(_frame((110.0, 120.0), 150.0, 300), AnalysisSettings())
    mining = next(r for r in result.rows if r.value == "Mining")
    assert mining.n_closed == 300 and mining.n_accounts == 2
    assert mining.thin
    assert mining.verdict == "not enough evidence"
    assert "2 accounts" in mining.why


def test_the_account_floor_is_a_setting() -> None:
    frame = _frame(tuple(float(x) for x in range(60, 72)), 100.0, 300)
    default = next(r for r in lift_table(frame, AnalysisSettings()).rows if r.value == "Mining")
    stricter = AnalysisSettings(min_accounts=20)
    strict = next(r for r in lift_table(frame, stricter).rows if r.value == "Mining")
    assert default.n_accounts == strict.n_accounts == 12
    assert not default.thin and default.verdict == "discriminator"
    assert strict.thin and strict.verdict == "not enough evidence"
    assert "12 accounts" in strict.why and "20" in strict.why


def test_a_rest_of_few_accounts_is_too_thin_to_compare_with() -> None:
    # 300 accounts in the cut, but only 3 outside it: the comparison has 3 observations.
    frame = _frame((1.0, 2.0, 1.0), 50.0, 300)
    other = next(r for r in lift_table(frame, AnalysisSettings()).rows if r.value == "Other")
    assert other.n_accounts == 300 and other.n_accounts_rest == 3
    assert other.thin and other.verdict == "not enough evidence"
    assert "3 accounts outside" in other.why
