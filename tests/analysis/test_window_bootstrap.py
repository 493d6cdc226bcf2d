"""The window scan and its account bootstrap on aggregates against a brute-force reference:
every window of the grid measured deal by deal, every replicate's accounts counted one by one."""

from __future__ import annotations

import numpy as np
import pytest

from icpkit.analysis.windows import (
    EDGES,
    OPEN_END,
    SignalAges,
    _draws,
    _loglik,
    _Scan,
    estimate_window,
)


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
    """The window chosen with deals weighted by ``weight``, tried one by one in the grid's
    order (start, then end): each window's likelihood gain, less half a log of the deals when
    it starts after day 0; of the windows within half a unit of the best, the shortest, then
    the one of larger penalised gain, then the first."""
    grid = sorted(set(EDGES))
    ends = sorted({e for e in grid if e > 0} | {OPEN_END})
    won = ages.won.astype(float)
    total_n, total_w = weight.sum(), (weight * won).sum()
    scored: list[tuple[float, int, int]] = []
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
            penalty = 0.5 * np.log(total_n) if start > 0 else 0.0
            scored.append((gain - penalty, start, end))
    if not scored:
        return None
    top = max(score for score, _, _ in scored)
    near = [(end - start, -score, start, end) for score, start, end in scored if score >= top - 0.5]
    shortest = min(days for days, _, _, _ in near)
    best = min(
        (minus, k) for k, (days, minus, _, _) in enumerate(near) if days == shortest
    )  # the larger score, then the first in grid order
    _, _, start, end = near[best[1]]
    return start, end


def _units(scan: _Scan, times: np.ndarray) -> np.ndarray:
    """Per-account draw counts summed per unit of accounts alike."""
    present = scan.unit_of_account >= 0
    weight = np.zeros(scan.unit_count.size)
    np.add.at(weight, scan.unit_of_account[present], times[present])
    return weight


@pytest.mark.parametrize("seed", [1, 2])
def test_window_and_each_replicate_equal_the_brute_force_reference(seed: int) -> None:
    ages = _ages(seed)
    reps, min_deals = 25, 30
    window = estimate_window(ages, reps=reps, min_deals=min_deals, seed=seed)
    point = _best(ages, np.ones(ages.n_deals), min_deals)
    assert window is not None and point is not None
    assert (window.start, window.end) == point

    # The same account draws, counted per deal by brute force and per unit on aggregates.
    scan = _Scan(ages, EDGES, min_deals)
    rng = np.random.default_rng(seed)
    present = np.unique(ages.account)
    draws = rng.integers(0, present.size, size=(reps, present.size))
    for r in range(reps):
        times = np.bincount(present[draws[r]], minlength=int(ages.account.max()) + 1)
        expected = _best(ages, times[ages.account].astype(float), min_deals)
        chosen, _, found = scan.pick(_units(scan, times)[None, :])
        assert (scan.window(int(chosen[0])) if found[0] else None) == expected


def test_accounts_alike_are_one_unit_and_every_account_is_in_one() -> None:
    # Accounts 0 and 1: one lost deal with a signal 10 days before; account 2: the same but
    # won; account 3: one lost deal without a signal; account 4 like 3.
    ages = SignalAges.of(np.array([0, 0, 1, 0, 0]), np.arange(5), np.array([0, 1, 2]),
                         np.array([10, 10, 10]))  # fmt: skip
    scan = _Scan(ages, EDGES, 1)
    unit = scan.unit_of_account
    assert unit[0] == unit[1] and unit[3] == unit[4]
    assert len({unit[0], unit[2], unit[3]}) == 3
    assert sorted(scan.unit_count.tolist()) == [1, 2, 2]


def test_unit_draws_are_distributed_as_per_account_draws_summed_per_unit() -> None:
    # n accounts drawn with replacement, counted per unit of c_k accounts: multinomial with
    # mean n p and covariance n (diag p - p p^T), p = c / n.
    count = np.array([1, 2, 5, 12])
    n, p = count.sum(), count / count.sum()
    draws = _draws(np.random.default_rng(3), count, 40_000)
    assert (draws.sum(axis=1) == n).all()
    assert np.allclose(draws.mean(axis=0), n * p, atol=0.05)
    assert np.allclose(np.cov(draws.T), n * (np.diag(p) - np.outer(p, p)), atol=0.1)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
def test_edge_intervals_equal_those_of_a_per_deal_bootstrap(seed: int) -> None:
    # Different draws, the same distribution: with 400 replicates each, every edge of each
    # interval is within one grid step of the per-deal bootstrap's.
    ages = _ages(seed)
    reps, min_deals = 400, 30
    window = estimate_window(ages, reps=reps, min_deals=min_deals, seed=seed)
    assert window is not None
    rng = np.random.default_rng(seed + 100)
    present = np.unique(ages.account)
    picked = []
    for _ in range(reps):
        times = np.bincount(present[rng.integers(0, present.size, present.size)],
                            minlength=int(ages.account.max()) + 1)  # fmt: skip
        found = _best(ages, times[ages.account].astype(float), min_deals)
        if found is not None:
            picked.append(found)
    grid = sorted({*EDGES, OPEN_END})
    for got, edges in ((window.start_ci, [s for s, _ in picked]),
                       (window.end_ci, [e for _, e in picked])):  # fmt: skip
        low = int(np.quantile(edges, 0.025, method="lower"))
        high = int(np.quantile(edges, 0.975, method="higher"))
        assert abs(grid.index(got[0]) - grid.index(low)) <= 1, (got, low, high)
        assert abs(grid.index(got[1]) - grid.index(high)) <= 1, (got, low, high)
