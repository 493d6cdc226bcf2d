"""Estimating an intent signal's window from the data: one contiguous span of signal ages.

A signal predicts a deal for a while: a funding round 60 to 540 days before the deal, an SDR
job posting in the 90 days before it. The recency bins of the lift table detect that a signal
matters; this module estimates where its window lies. A deal is inside the window [start, end]
when ANY occurrence of the signal is start to end days (both inclusive) before the deal was
created, which is how scoring matches a signal (the freshest occurrence inside the window).
Every contiguous window on a grid of edges is scored by the binomial log-likelihood of winning
given inside/outside (a scan), the best one wins, and an account-level bootstrap (accounts
resampled with replacement, so the deals of one account move together) gives a 95% interval
for each edge. ``scan_p_value`` tests the whole scan at once (its best gain against the best
gains on outcomes relabelled by account), one test per signal whatever the number of windows.
The module is pure: numbers in, numbers out, deterministic for the same input.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from icpkit.analysis import post_selection, stats

# A window that never closes: as many days as scoring looks back.
OPEN_END = 3650

# Candidate window edges in days before the deal: fine where signals usually matter (the first
# quarter), coarser as they age. A window is [start, end] with start and end on the grid.
EDGES: tuple[int, ...] = (
    0, 15, 30, 45, 60, 75, 90, 105, 120, 150, 180, 210, 240, 270, 300, 365,
    420, 480, 540, 600, 660, 730, 820, 910, 1000, 1095,
)  # fmt: skip

BOOTSTRAP_REPS = 200
LEVEL = 0.95
# The scan test relabels outcomes up to SCAN_MAX_REPS times, stopping once SCAN_STOP_AFTER
# relabelled scans reached the observed gain: a signal without effect costs a few dozen.
SCAN_MAX_REPS = 1000
SCAN_STOP_AFTER = 10


@dataclass(frozen=True)
class SignalAges:
    """One signal family on the closed deals: per deal whether it was won and its account;
    per occurrence of the signal before a deal, that deal's index and the age in days."""

    won: np.ndarray  # bool, one per closed deal with a creation date
    account: np.ndarray  # int64 account index, one per deal
    deal: np.ndarray  # int64 deal index, one per occurrence (sorted by deal, then age)
    age: np.ndarray  # int64 days between the occurrence and the deal's creation (>= 0)

    @classmethod
    def of(
        cls, won: np.ndarray, account: np.ndarray, deal: np.ndarray, age: np.ndarray
    ) -> SignalAges:
        """Validated, sorted arrays: occurrences ordered by deal then age."""
        won = np.asarray(won, dtype=bool)
        account = np.asarray(account, dtype=np.int64)
        deal = np.asarray(deal, dtype=np.int64)
        age = np.asarray(age, dtype=np.int64)
        if won.shape != account.shape or deal.shape != age.shape:
            raise ValueError("won/account and deal/age must have matching lengths")
        order = np.lexsort((age, deal))
        return cls(won, account, deal[order], age[order])

    @property
    def n_deals(self) -> int:
        """Closed deals the window is judged on."""
        return int(self.won.size)


@dataclass(frozen=True)
class Window:
    """An estimated window: edges in days before the deal (``end`` is OPEN_END when the
    window never closes), a 95% bootstrap interval per edge, and the deals inside it."""

    start: int
    end: int
    start_ci: tuple[int, int]
    end_ci: tuple[int, int]
    inside: np.ndarray  # bool per deal: an occurrence start..end days before it
    gain: float  # log-likelihood gained over "the signal tells nothing"
    reps: int  # bootstrap replicates that found a window


def inside(ages: SignalAges, start: int, end: int) -> np.ndarray:
    """Per deal, whether any occurrence of the signal is ``start`` to ``end`` days before it."""
    hit = (ages.age >= start) & (ages.age <= end)
    out = np.zeros(ages.n_deals, dtype=bool)
    out[ages.deal[hit]] = True
    return out


def account_cells(
    ages: SignalAges, mask: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Wins, deals, in-group flag and account index per (account, inside/outside) cell: the
    shape ``stats.rate_difference`` takes, so the evidence is clustered by account."""
    key = ages.account * 2 + mask.astype(np.int64)
    cells, where = np.unique(key, return_inverse=True)
    wins = np.bincount(where, weights=ages.won.astype(np.float64), minlength=cells.size)
    deals = np.bincount(where, minlength=cells.size).astype(np.float64)
    return wins, deals, (cells % 2).astype(bool), cells // 2


def _loglik(wins: np.ndarray, deals: np.ndarray) -> np.ndarray:
    """Binomial log-likelihood at the observed rate, 0 log 0 taken as 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(deals > 0, wins / np.maximum(deals, 1e-300), 0.0)
        won = np.where(wins > 0, wins * np.log(np.where(rate > 0, rate, 1.0)), 0.0)
        lost = deals - wins
        gone = np.where(lost > 1e-12, lost * np.log(np.where(rate < 1, 1 - rate, 1.0)), 0.0)
    return np.asarray(won + gone)


def _seed(ages: SignalAges) -> int:
    """A seed drawn from the data, so the same data give the same intervals."""
    digest = hashlib.sha256()
    for array in (ages.won, ages.account, ages.deal, ages.age):
        digest.update(np.ascontiguousarray(array).tobytes())
    return int.from_bytes(digest.digest()[:8], "little")


class _Scan:
    """Every contiguous window on the grid at once: per deal with an occurrence, a one-hot of
    the first end edge that takes it in for each start edge, so that the deals (or wins) inside
    every window of many replicates are one sparse product and a cumulative sum."""

    def __init__(self, ages: SignalAges, edges: tuple[int, ...], min_deals: int) -> None:
        grid = np.unique(np.asarray(edges, dtype=np.int64))
        self.starts = grid
        self.ends = np.unique(np.append(grid[grid > 0], OPEN_END))
        self.min_deals = min_deals
        n_start, n_end = self.starts.size, self.ends.size
        # Deals with an occurrence; for each start edge, each deal's freshest occurrence at
        # least that old: the deal is inside [start, end] exactly when that age is <= end.
        self.deals, first = np.unique(ages.deal, return_index=True)
        nexts = np.empty((self.deals.size, n_start), dtype=np.int64)
        never = np.iinfo(np.int64).max
        for k, start in enumerate(self.starts):
            candidate = np.where(ages.age >= start, ages.age, never)
            nexts[:, k] = np.minimum.reduceat(candidate, first)
        # Column index of the first end edge that takes the occurrence in (n_end: none does).
        end_at = np.searchsorted(self.ends, np.minimum(nexts, OPEN_END + 1), side="left")
        end_at[nexts == never] = n_end
        self.width = n_end + 1
        columns = (np.arange(n_start) * self.width)[None, :] + end_at
        rows = np.repeat(np.arange(self.deals.size), n_start)
        self.onehot = sparse.csr_matrix(
            (np.ones(rows.size), (rows, columns.ravel())),
            shape=(self.deals.size, n_start * self.width),
        )
        self.valid = (self.ends[None, :] > self.starts[:, None]).ravel()

    def window(self, index: int) -> tuple[int, int]:
        """The [start, end] of a window's flat index."""
        n_end = self.ends.size
        return int(self.starts[index // n_end]), int(self.ends[index % n_end])

    def cumulative(self, values: np.ndarray) -> np.ndarray:
        """Per replicate (row of ``values``, one column per deal with an occurrence), the sum
        over the deals inside each window (flat index start x end)."""
        n_start, n_end = self.starts.size, self.ends.size
        # Deals whose first end edge is e are inside every window ending at e or later.
        counts = np.asarray((self.onehot.T @ values.T).T).reshape(-1, n_start, self.width)
        return np.cumsum(counts[:, :, :n_end], axis=2).reshape(values.shape[0], -1)

    def best(
        self, total_n: np.ndarray, total_w: np.ndarray, n_in: np.ndarray, w_in: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per replicate (its deals and wins in all, and inside each window), the index of the
        window whose inside wins most distinctly more often than the outside, its gain in
        log-likelihood (-inf where none qualifies) and whether any qualifies."""
        n_out = total_n[:, None] - n_in
        w_out = total_w[:, None] - w_in
        gain = _loglik(w_in, n_in) + _loglik(w_out, n_out) - _loglik(total_w, total_n)[:, None]
        rate_in = w_in / np.maximum(n_in, 1e-12)
        rate_out = w_out / np.maximum(n_out, 1e-12)
        ok = (
            self.valid[None, :]
            & (n_in >= self.min_deals)
            & (n_out >= self.min_deals)
            & (rate_in > rate_out)
        )
        gain = np.where(ok, gain, -np.inf)
        pick = np.argmax(gain, axis=1)
        return pick, gain[np.arange(gain.shape[0]), pick], ok.any(axis=1)


def estimate_window(
    ages: SignalAges,
    *,
    edges: tuple[int, ...] = EDGES,
    min_deals: int = 30,
    reps: int = BOOTSTRAP_REPS,
    level: float = LEVEL,
    seed: int | None = None,
) -> Window | None:
    """The contiguous window whose inside wins most distinctly more often than the outside
    (maximum likelihood over the grid), with account-bootstrap intervals on its edges; None
    when no window with at least ``min_deals`` deals on each side wins more often inside."""
    if ages.n_deals == 0 or ages.deal.size == 0:
        return None
    scan = _Scan(ages, edges, min_deals)
    deals = scan.deals
    n_accounts = int(ages.account.max()) + 1
    won = ages.won.astype(np.float64)
    per_account = np.bincount(ages.account, minlength=n_accounts).astype(np.float64)
    wins_per_account = np.bincount(ages.account, weights=won, minlength=n_accounts)

    def best(
        total_n: np.ndarray, total_w: np.ndarray, sub: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per replicate (rows: its deals and wins in all, and the weight of each deal with an
        occurrence), the index of the best window and its gain (-inf where none qualifies)."""
        return scan.best(total_n, total_w, scan.cumulative(sub), scan.cumulative(sub * won[deals]))

    occurring = ages.account[deals]  # the account of each deal with an occurrence
    pick, gain, found = best(
        np.array([per_account.sum()]), np.array([won.sum()]), np.ones((1, deals.size))
    )
    if not found[0]:
        return None
    start, end = scan.window(int(pick[0]))

    # Each replicate draws accounts with replacement; an account drawn k times counts its
    # deals k times. The scan needs only each replicate's totals and the weights of the deals
    # with an occurrence, so the draws are counted per account, 25 replicates at a time
    # (bounded memory). Counts are whole numbers: every sum is exact in any order.
    rng = np.random.default_rng(_seed(ages) if seed is None else seed)
    present = np.unique(ages.account)
    # Per drawable account (its position in ``present``): its deals, its wins, and where the
    # deals with an occurrence sit among them.
    deals_of = per_account[present].astype(np.int64)
    wins_of = wins_per_account[present].astype(np.int64)
    position = np.searchsorted(present, occurring)
    picks: list[np.ndarray] = []
    for chunk in range(0, reps, 25):
        size = min(25, reps - chunk)
        drawn = rng.integers(0, present.size, size=(size, present.size))
        times = np.stack([np.bincount(row, minlength=present.size) for row in drawn])
        p, _, f = best(
            (times @ deals_of).astype(np.float64),
            (times @ wins_of).astype(np.float64),
            times[:, position].astype(np.float64),
        )
        picks.append(p[f])
    chosen = np.concatenate(picks) if picks else np.zeros(0, dtype=np.int64)
    tail = (1 - level) / 2
    if chosen.size:
        n_end = scan.ends.size
        boot_start = scan.starts[chosen // n_end]
        boot_end = scan.ends[chosen % n_end]
        start_ci = (
            int(np.quantile(boot_start, tail, method="lower")),
            int(np.quantile(boot_start, 1 - tail, method="higher")),
        )
        end_ci = (
            int(np.quantile(boot_end, tail, method="lower")),
            int(np.quantile(boot_end, 1 - tail, method="higher")),
        )
    else:
        start_ci, end_ci = (start, start), (end, end)
    return Window(
        start=start,
        end=end,
        start_ci=start_ci,
        end_ci=end_ci,
        inside=inside(ages, start, end),
        gain=float(gain[0]),
        reps=int(chosen.size),
    )


def scan_p_value(
    ages: SignalAges,
    *,
    edges: tuple[int, ...] = EDGES,
    min_deals: int = 30,
    max_reps: int = SCAN_MAX_REPS,
    stop_after: int = SCAN_STOP_AFTER,
    seed: int | None = None,
) -> float:
    """The p-value of "some window of this signal wins more often inside than outside": the
    best window's gain (the scan ``estimate_window`` runs) against the best gains of the same
    scan on outcomes relabelled by account, so the search over every window is paid for.

    Accounts with the same number of deals swap their deals' outcomes whole (the i-th deal of
    one takes the i-th deal's outcome of the other), which keeps each account's clustering and
    breaks only the link between outcomes and the signal's ages. Relabelling stops early once
    ``stop_after`` relabelled scans have reached the observed gain (p = that count over the
    relabellings drawn, Besag and Clifford's sequential p-value), else after ``max_reps``
    (p = (reached + 1) / (max_reps + 1)). 1.0 when no window qualifies."""
    if ages.n_deals == 0 or ages.deal.size == 0:
        return 1.0
    scan = _Scan(ages, edges, min_deals)
    won = ages.won.astype(np.float64)
    total_n, total_w = np.array([float(ages.n_deals)]), np.array([won.sum()])
    n_in = scan.cumulative(np.ones((1, scan.deals.size)))
    _, observed, found = scan.best(
        total_n, total_w, n_in, scan.cumulative(won[scan.deals][None, :])
    )
    if not found[0]:
        return 1.0
    # Deals grouped by account (each account's in deal order), and the accounts by their
    # number of deals: a relabelling permutes the accounts within each size.
    order = np.argsort(ages.account, kind="stable")
    n_accounts = int(ages.account.max()) + 1
    size = np.bincount(ages.account, minlength=n_accounts)
    begin = np.r_[0, np.cumsum(size)[:-1]]
    rank = np.empty(ages.n_deals, dtype=np.int64)
    rank[order] = np.arange(ages.n_deals) - begin[ages.account[order]]
    target = ages.account[scan.deals]  # the account of each deal with an occurrence
    target_rank = rank[scan.deals]
    by_size = np.argsort(size, kind="stable")
    rng = np.random.default_rng(_seed(ages) if seed is None else seed)
    reached, drawn, chunk = 0, 0, 50
    total_n_rep, total_w_rep = np.repeat(total_n, chunk), np.repeat(total_w, chunk)
    n_in_rep = np.repeat(n_in, chunk, axis=0)
    while drawn < max_reps:
        wins = np.empty((chunk, scan.deals.size))
        for r in range(chunk):
            shuffled = by_size[np.lexsort((rng.random(n_accounts), size[by_size]))]
            source = np.empty(n_accounts, dtype=np.int64)
            source[by_size] = shuffled  # account by_size[i] takes the outcomes of shuffled[i]
            wins[r] = won[order[begin[source[target]] + target_rank]]
        _, gains, _ = scan.best(total_n_rep, total_w_rep, n_in_rep, scan.cumulative(wins))
        reached += int(np.sum(gains >= observed[0] - 1e-9))
        drawn += chunk
        if reached >= stop_after:
            return reached / drawn
    return (reached + 1) / (drawn + 1)


@dataclass(frozen=True)
class ScanTest:
    """One signal's scan test within its family (every intent signal of the data): its
    p-value, its Benjamini-Hochberg q-value, the p-value up to which the family rejected, and
    whether the signal is detected (q below alpha)."""

    p_value: float
    q_value: float
    cut: float
    detected: bool


def scan_tests(
    ages: Mapping[str, SignalAges], *, alpha: float, min_deals: int = 30
) -> dict[str, ScanTest]:
    """The scan test of every signal (``scan_p_value``), corrected by Benjamini-Hochberg
    over the signals: one test per signal, whatever the number of windows it searched, so a
    signal detected here is a discovery at false-discovery rate ``alpha``."""
    names = sorted(ages)
    if not names:
        return {}
    p = np.array([scan_p_value(ages[n], min_deals=min_deals) for n in names], dtype=float)
    q = stats.benjamini_hochberg(p)
    cut = post_selection.bh_cut(p, alpha)
    return {
        n: ScanTest(float(pi), float(qi), cut, bool(qi < alpha))
        for n, pi, qi in zip(names, p, q, strict=True)
    }


def overlap(window: tuple[int, int], other: tuple[int, int]) -> float:
    """Days two windows share over the days either covers (both ends inclusive): how well an
    estimated window matches a known one, 1.0 when equal. Example: [60, 540] and [91, 540]
    share 450 of 481 days, 0.94."""
    low, high = max(window[0], other[0]), min(window[1], other[1])
    common = max(0, high - low + 1)
    either = (window[1] - window[0] + 1) + (other[1] - other[0] + 1) - common
    return common / either if either else 0.0
