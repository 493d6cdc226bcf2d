"""Statistical honesty benchmark: how often icpkit's tests cry wolf where nothing is there.

Type-I error of the win-rate comparison (``stats.rate_difference``, the test behind every
lift row) at a nominal 5%: a cut of k accounts against a rest of REST_ACCOUNTS accounts,
all drawn from one population, so every rejection is a false one. Account win rates are
Beta with mean BASE_RATE and intra-account correlation rho (rate p exactly when rho = 0),
deals per account vary (1 + geometric, mean DEALS_MEAN). Printed: the false-rejection rate
per (k, rho) cell with its standard error. Target: every cell between 3% and 7%.

Usage: ``python bench/honesty.py [--reps 500] [--seed 1]``
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

from icpkit.analysis import stats

ACCOUNTS_PER_CUT = (2, 3, 5, 10, 30)
CORRELATIONS = (0.0, 0.2, 0.5)
REST_ACCOUNTS = 150
BASE_RATE = 0.3
DEALS_MEAN = 6.0
ALPHA = 0.05


def account_rates(m: int, rho: float, rng: np.random.Generator) -> np.ndarray:
    """Win rates of m accounts: Beta(p s, (1-p) s) with s = 1/rho - 1, so the correlation of
    two deals of one account is rho; every account at the base rate when rho is 0."""
    if rho <= 0:
        return np.full(m, BASE_RATE)
    strength = 1 / rho - 1
    return rng.beta(BASE_RATE * strength, (1 - BASE_RATE) * strength, m)


def type_one_error(k: int, rho: float, reps: int, rng: np.random.Generator) -> float:
    """Share of null data sets where the cut of k accounts tests significant at ALPHA."""
    rejected = 0
    m = k + REST_ACCOUNTS
    in_group = np.arange(m) < k
    for _ in range(reps):
        deals = rng.geometric(1 / DEALS_MEAN, m)
        wins = rng.binomial(deals, account_rates(m, rho, rng))
        if stats.rate_difference(wins, deals, in_group).p_value < ALPHA:
            rejected += 1
    return rejected / reps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=500, help="replications per cell")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    started = time.perf_counter()
    se = math.sqrt(ALPHA * (1 - ALPHA) / args.reps)
    print(f"Type-I error of the win-rate test at a nominal {ALPHA:.0%} ({args.reps} replications")
    print(
        f"per cell, standard error about {se:.1%}; rest of the attribute: {REST_ACCOUNTS} accounts)"
    )
    print()
    header = "| accounts in the cut | " + " | ".join(f"ICC {r:g}" for r in CORRELATIONS) + " |"
    print(header)
    print("|" + "---|" * (len(CORRELATIONS) + 1))
    for k in ACCOUNTS_PER_CUT:
        cells = [type_one_error(k, rho, args.reps, rng) for rho in CORRELATIONS]
        print(f"| {k} | " + " | ".join(f"{c:.1%}" for c in cells) + " |", flush=True)
    print()
    print(f"{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
