"""Detecting an intent signal by one scan test per signal: the best window's gain against the
best gains on outcomes relabelled by account, so the search over windows is paid for and the
deals of one account move together."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import DemoWorkspaces
from icpkit.analysis.frame import build_frame
from icpkit.analysis.tiers import assign_tiers
from icpkit.analysis.windows import (
    SignalAges,
    estimate_window,
    overlap,
    scan_p_value,
    scan_tests,
)


def _signal(
    n_accounts: int,
    deals_per_account: int,
    window: tuple[int, int],
    log_odds: float,
    seed: int,
    account_spread: float = 0.0,
) -> SignalAges:
    """Accounts with ``deals_per_account`` deals each; per deal Poisson(1) occurrences of a
    signal at ages 0-999 days; a deal with one inside ``window`` wins with ``log_odds`` more,
    and each account's own log-odds is drawn with sd ``account_spread`` (clustered outcomes)."""
    rng = np.random.default_rng(seed)
    n_deals = n_accounts * deals_per_account
    account = np.repeat(np.arange(n_accounts), deals_per_account)
    count = rng.poisson(1.0, n_deals)
    deal = np.repeat(np.arange(n_deals), count)
    age = rng.integers(0, 1000, deal.size)
    hit = np.zeros(n_deals, dtype=bool)
    hit[deal[(age >= window[0]) & (age <= window[1])]] = True
    own = rng.normal(0.0, account_spread, n_accounts)[account]
    won = rng.random(n_deals) < 1 / (1 + np.exp(1.0 - own - log_odds * hit))
    return SignalAges.of(won, account, deal, age)


def _clustered_signal(n_accounts: int, deals_per_account: int, seed: int) -> SignalAges:
    """No effect of the signal at all, but accounts whose deals all win or all lose together
    and whose signals sit at the same ages: deal by deal, any window looks like evidence."""
    rng = np.random.default_rng(seed)
    account = np.repeat(np.arange(n_accounts), deals_per_account)
    won = np.repeat(rng.random(n_accounts) < 0.3, deals_per_account)
    # Every deal of an account sees its account's occurrences at the same ages.
    ages_of = [rng.integers(0, 1000, rng.poisson(1.0)) for _ in range(n_accounts)]
    deal = np.concatenate([np.full(ages_of[a].size, d) for d, a in enumerate(account)])
    age = np.concatenate([ages_of[a] for a in account])
    return SignalAges.of(won, account, deal.astype(np.int64), age.astype(np.int64))


def test_a_planted_window_gives_a_small_scan_p_value() -> None:
    ages = _signal(1_000, 2, (0, 90), 0.8, seed=1)
    assert scan_p_value(ages) <= 0.005


def test_a_signal_without_effect_is_rarely_significant() -> None:
    # 40 data sets without effect: at the 10% level about 4 rejections; 9 or more has a
    # chance under 1% when the p-value is uniform.
    p = [scan_p_value(_signal(300, 2, (0, 90), 0.0, seed=s)) for s in range(40)]
    assert sum(x < 0.10 for x in p) <= 8, sorted(p)[:10]


def test_relabelling_whole_accounts_keeps_clustered_outcomes_honest() -> None:
    # Outcomes and signal ages shared by all deals of an account: a deal-level test sees each
    # account's luck 8 times over. The relabelling moves accounts whole, so the scan rejects
    # at about its nominal rate.
    p = [scan_p_value(_clustered_signal(150, 8, seed=s)) for s in range(30)]
    assert sum(x < 0.10 for x in p) <= 7, sorted(p)[:10]


def test_a_signal_without_effect_stops_relabelling_early() -> None:
    # Sequential p-value: once ten relabelled scans reached the observed gain the test ends,
    # its p-value the share that reached it. Without effect the first 50 relabellings hold
    # ten: p is k / 50 with k >= 10, not (k + 1) / 1,001 after a thousand.
    p = scan_p_value(_signal(300, 2, (0, 90), 0.0, seed=3))
    assert p >= 10 / 50
    assert p * 50 == pytest.approx(round(p * 50))


def test_the_signals_are_one_family_under_benjamini_hochberg() -> None:
    strong = _signal(1_000, 2, (0, 90), 0.8, seed=1)
    null = _signal(1_000, 2, (0, 90), 0.0, seed=2)
    tests = scan_tests({"signal:a": strong, "signal:b": null}, alpha=0.05)
    assert tests["signal:a"].detected
    assert not tests["signal:b"].detected
    # Two tests: the smallest p-value's q is twice it, the cut the BH threshold it passed.
    a = tests["signal:a"]
    assert a.q_value == pytest.approx(min(1.0, 2 * a.p_value))
    assert a.cut == pytest.approx(0.025)


def test_the_same_data_give_the_same_scan_p_value() -> None:
    ages = _signal(400, 2, (0, 90), 0.4, seed=5)
    assert scan_p_value(ages) == scan_p_value(ages)


@pytest.mark.slow
def test_a_recent_posting_signal_is_detected_where_its_recency_bins_miss_it(
    demo_workspace: DemoWorkspaces,
) -> None:
    # Seed 9 at 5,000 deals: neither recency bin of the SDR postings (0-30 and 31-90 days)
    # passes its test, yet a window [0, 90] is planted. One scan test over the ages of every
    # posting detects the signal among all the signals, and the Series C rounds (no effect)
    # stay out.
    demo = demo_workspace(5_000, 9)
    lift = demo.ws.lift()
    bins = [r for r in lift.rows if r.attribute == "signal:job_posting:SDR"]
    assert bins and not any(r.verdict == "discriminator" for r in bins)
    with demo.ws.connect(read_only=True) as con:
        tiers = assign_tiers(con, demo.ws.settings.tiers).tier_of()
        frame = build_frame(con, demo.ws.settings.analysis, tiers)
    tests = scan_tests(frame.signal_ages, alpha=0.05)
    assert tests["signal:job_posting:SDR"].detected
    assert not tests["signal:funding_round:Series C"].detected
    window = estimate_window(frame.signal_ages["signal:job_posting:SDR"])
    assert window is not None
    assert overlap((window.start, window.end), (0, 90)) >= 0.5
