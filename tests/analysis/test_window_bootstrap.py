"""The window scan and its account bootstrap against a brute-force reference: every window of
the grid measured deal by deal, every replicate's accounts counted one by one."""

from __future__ import annotations

import numpy as np
import pytest

from icpkit.analysis.windows import EDGES, OPEN_END, SignalAges, _loglik, estimate_window


def _ages(seed: int, n_deals: int = 600) -> SignalAges:
    """Deals of n_deals / 3 accounts, Poisson(1) occurrences at ages 0-999 days; one inside
    60-300 days raises the odds of winning."""
    rng = np.random.default_rng(seed)
    account = rng.integers(0, n_deals // 3, n_deals)
    count = rng.poisson(1.0, n_deals)
    deal = np.repeat(np.arange(n_deals), count)
    age = rng.integers(0, 1000, deal.size)
    hit = np.zeros(n_deals, dtype=bool)
    hit[deal[(age >= 60) & (age <= 300)]] = True
    won = rng.random(n_deals) < 1 / (1 + np.exp(1.0 - 1.5 * hit))
    return SignalAges.of(won, account, deal, age)


def _best(ages: SignalAges, weight: np.ndarray, min_deals: int) -> tuple[int, int] | None:
    """The window of most likelihood gain with deals weighted by ``weight``, tried one by
    one in the grid's order (start, then end), the first of equal gains kept."""
    grid = sorted(set(EDGES))
    ends = sorted({e for e in grid if e > 0} | {OPEN_END})
    won = ages.won.astype(float)
    total_n, total_w = weight.sum(), (weight * won).sum()
    best, found = -np.inf, None
    for start in grid:
        for end in ends:
            if end <= start:
                continue
            hit = np.zeros(ages.n_deals, dtype=bool)
            hit[ages.deal[(ages.age >= start) & (ages.age <= end)]] = True
            n_in, w_in = weight[hit].sum(), (weight * won)[hit].sum()
            n_out, w_out = total_n - n_in, total_w - w_in
            if n_in < min_deals or n_out < min_deals or w_in / n_in <= w_out / n_out:
                continue
            gain = float(
                _loglik(np.array([w_in]), np.array([n_in]))[0]
                + _loglik(np.array([w_out]), np.array([n_out]))[0]
                - _loglik(np.array([total_w]), np.array([total_n]))[0]
            )
            if gain > best:
                best, found = gain, (start, end)
    return found


@pytest.mark.parametrize("seed", [1, 2])
def test_window_and_bootstrap_intervals_equal_the_brute_force_reference(seed: int) -> None:
    ages = _ages(seed)
    reps, min_deals = 25, 30
    window = estimate_window(ages, reps=reps, min_deals=min_deals, seed=seed)
    point = _best(ages, np.ones(ages.n_deals), min_deals)
    assert window is not None and point is not None
    assert (window.start, window.end) == point

    rng = np.random.default_rng(seed)
    present = np.unique(ages.account)
    draws = rng.integers(0, present.size, size=(reps, present.size))
    picked = []
    for r in range(reps):
        times = np.bincount(present[draws[r]], minlength=int(ages.account.max()) + 1)
        found = _best(ages, times[ages.account].astype(float), min_deals)
        if found is not None:
            picked.append(found)
    starts = np.array([s for s, _ in picked])
    ends = np.array([e for _, e in picked])
    assert window.reps == len(picked)
    assert window.start_ci == (
        int(np.quantile(starts, 0.025, method="lower")),
        int(np.quantile(starts, 0.975, method="higher")),
    )
    assert window.end_ci == (
        int(np.quantile(ends, 0.025, method="lower")),
        int(np.quantile(ends, 0.975, method="higher")),
    )
