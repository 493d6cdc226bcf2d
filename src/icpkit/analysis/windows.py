"""Estimating an intent signal's window from the data: one contiguous span of signal ages.

A signal predicts a deal for a while: a funding round 60 to 540 days before the deal, an SDR
job posting in the 90 days before it. The recency bins of the lift table detect that a signal
matters; this module estimates where its window lies. A deal is inside the window [start, end]
when ANY occurrence of the signal is start to end days (both inclusive) before the deal was
created, which is how scoring matches a signal (the freshest occurrence inside the window).

Every contiguous window on a coarse grid of edges is scored by the binomial log-likelihood of
winning given inside/outside (a profile likelihood over the windows). The raw best fit
overfits the edges: where a few deals at the border barely move the likelihood, noise picks
the edge. So the choice is complexity-aware: a window that starts later than the youngest
age pays half a log of the number of deals (BIC: a second edge is a second parameter), and of
the windows within one standard error of the best penalised fit (half a unit of
log-likelihood) the shortest is taken: the window reaches as far as the evidence does.

An account-level bootstrap (accounts resampled with replacement, so the deals of one account
move together) repeats the same choice and gives a 95% interval for each edge. Everything is
counted on aggregates: each deal is reduced to the set of grid cells its occurrences fall in,
and the deals and wins of each (account, set) are summed once, so a replicate is one sparse
product of its accounts' draw counts. ``scan_p_value`` tests the whole scan at once (its best
gain against the best gains on outcomes relabelled by account), one test per signal whatever
the number of windows. The module is pure: numbers in, numbers out, deterministic for the
same input.
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

# Candidate window edges in days before the deal: a month's halves, then months, quarters,
# half-years and years. Coarse on purpose: finer edges only let noise choose among windows
# the data cannot tell apart. A window is [start, end] with start and end on the grid (an end
# may also be OPEN_END).
EDGES: tuple[int, ...] = (0, 15, 30, 45, 60, 90, 120, 180, 270, 365, 540, 730)

BOOTSTRAP_REPS = 200
LEVEL = 0.95
# Windows whose fit is within one standard error of the best (a likelihood-ratio chi-square
# of 1, half a unit of log-likelihood) are as good as the best; the shortest of them is chosen.
ONE_SE = 0.5
# Replicates drawn at a time: bounded memory whatever the number of accounts.
CHUNK = 25
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
    # The cells present and each deal's, by counting over the cells' range (the accounts
    # are numbered densely): np.unique's result without its sort.
    present = np.bincount(key, minlength=2) > 0
    cells, where = np.flatnonzero(present), (np.cumsum(present) - 1)[key]
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
    """Every contiguous window on the grid at once, on aggregates.

    The grid's points cut the ages into cells: each point on its own ({15}) and the days
    between two points ((15, 30)); a window [start, end] covers a run of cells. A deal is
    reduced to the set of cells its occurrences fall in (a bit mask), and the deals and wins
    of each (account, mask) are summed. Accounts that look alike to every window (the same
    deals and wins in all and per mask) are one unit: a replicate's deals inside every window
    are its units' weights times those sums times a mask-by-window indicator."""

    def __init__(self, ages: SignalAges, edges: tuple[int, ...], min_deals: int) -> None:
        grid = np.unique(np.asarray(edges, dtype=np.int64))
        points = np.unique(np.concatenate([[0], grid, [OPEN_END]]))  # cut points of ages
        if 2 * points.size - 1 > 63:
            raise ValueError(f"at most 31 window edges, not {grid.size}")
        self.min_deals = min_deals
        ends = np.unique(np.append(grid[grid > 0], OPEN_END))
        pairs = [(int(s), int(e)) for s in grid for e in ends if e > s]
        self.starts = np.array([s for s, _ in pairs], dtype=np.int64)
        self.ends = np.array([e for _, e in pairs], dtype=np.int64)
        self.days = self.ends - self.starts + 1
        # Window (start = point i, end = point j) covers cells 2i .. 2j (point p_k is cell 2k,
        # the days between p_k and p_k+1 cell 2k + 1).
        first = 2 * np.searchsorted(points, self.starts)
        last = 2 * np.searchsorted(points, self.ends)
        span = (np.left_shift(np.int64(1), last + 1) - 1) ^ (np.left_shift(np.int64(1), first) - 1)

        # Each occurrence's cell (none past OPEN_END), each deal's mask of cells.
        age = ages.age
        at = np.searchsorted(points, age, side="left")
        on_point = (at < points.size) & (points[np.minimum(at, points.size - 1)] == age)
        cell = np.where(on_point, 2 * at, 2 * at - 1)
        bit = np.where(age <= OPEN_END, np.left_shift(np.int64(1), cell), np.int64(0))
        deals, begin = np.unique(ages.deal, return_index=True)
        mask = np.bitwise_or.reduceat(bit, begin) if deals.size else np.zeros(0, np.int64)
        keep = mask != 0
        self.deal, mask = deals[keep], mask[keep]  # deals with an occurrence on the grid
        self.masks, self.mask_of = np.unique(mask, return_inverse=True)
        # Mask by window: whether a deal with that mask is inside the window.
        self.hits = ((self.masks[:, None] & span[None, :]) != 0).astype(np.float64)
        self._units(ages)

    def _units(self, ages: SignalAges) -> None:
        """Accounts grouped into units of accounts alike: per unit its number of accounts,
        deals and wins in all, and deals and wins per mask (sparse, masks x units). Accounts
        without an occurrence on the grid are alike when their deals and wins are; the others
        when, besides, their deals and wins per mask are."""
        n_masks = max(int(self.masks.size), 1)
        won = ages.won.astype(np.int64)
        n_all = int(ages.account.max()) + 1
        total = np.bincount(ages.account, minlength=n_all)
        total_won = np.bincount(ages.account, weights=won, minlength=n_all).astype(np.int64)
        present = np.flatnonzero(total)
        # Per (account, mask): deals and wins, sorted by account then mask.
        key = ages.account[self.deal] * n_masks + self.mask_of
        cells, where = np.unique(key, return_inverse=True)
        cell_n = np.bincount(where, minlength=cells.size)
        cell_w = np.bincount(where, weights=won[self.deal], minlength=cells.size).astype(np.int64)
        owner, cell_mask = cells // n_masks, cells % n_masks
        starts_at = np.searchsorted(owner, owner)  # each cell's owner's first cell
        holders = owner[starts_at == np.arange(cells.size)]
        held = np.zeros(n_all, dtype=bool)
        held[holders] = True
        quiet = present[~held[present]]
        # Quiet accounts: alike when their deals and wins are.
        _, q_first, q_unit, q_count = np.unique(
            total[quiet] * (int(total_won.max(initial=0)) + 1) + total_won[quiet],
            return_index=True, return_inverse=True, return_counts=True,
        )  # fmt: skip
        # Holders with up to ``wide`` cells are a fixed-width row (totals, then mask, deals,
        # wins per cell, padded with -1); holders of more cells are units of their own.
        at = np.searchsorted(holders, owner)
        per = np.bincount(at, minlength=holders.size)
        wide = 4
        rank = np.arange(cells.size) - starts_at
        row = np.full((holders.size, 2 + 3 * wide), -1, dtype=np.int64)
        row[:, 0], row[:, 1] = total[holders], total_won[holders]
        small = per[at] <= wide
        for k, values in enumerate((cell_mask, cell_n, cell_w)):
            row[at[small], 2 + 3 * rank[small] + k] = values[small]
        big = per > wide
        row[big, 2] = -2 - np.arange(int(big.sum()))  # a unit of its own
        h_first, h_unit, h_count = _same_rows(row)
        offset = q_count.size
        self.unit_count = np.concatenate([q_count, h_count]).astype(np.int64)
        first = np.concatenate([quiet[q_first], holders[h_first]])
        self.unit_deals = total[first].astype(np.float64)
        self.unit_wins = total_won[first].astype(np.float64)
        self.unit_of_account = np.full(n_all, -1, dtype=np.int64)
        self.unit_of_account[quiet] = q_unit.ravel()
        self.unit_of_account[holders] = offset + h_unit
        # The cells of each unit's first holder are the unit's sums per mask.
        chosen = np.zeros(holders.size, dtype=bool)
        chosen[h_first] = True
        take = chosen[at]
        shape = (n_masks, self.unit_count.size)
        where_at = (cell_mask[take], offset + h_unit[at[take]])
        self.deals_at = sparse.csr_matrix((cell_n[take].astype(np.float64), where_at), shape)
        self.wins_at = sparse.csr_matrix((cell_w[take].astype(np.float64), where_at), shape)
        self.n_present = int(present.size)

    def window(self, index: int) -> tuple[int, int]:
        """The [start, end] of a window's index."""
        return int(self.starts[index]), int(self.ends[index])

    def inside(self, weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per replicate (row of unit weights), the deals and wins inside every window."""
        by_mask_n = np.asarray(self.deals_at @ weight.T).T
        by_mask_w = np.asarray(self.wins_at @ weight.T).T
        return by_mask_n @ self.hits, by_mask_w @ self.hits

    def gains(
        self, total_n: np.ndarray, total_w: np.ndarray, n_in: np.ndarray, w_in: np.ndarray
    ) -> np.ndarray:
        """Per replicate and window, the log-likelihood gained by inside/outside over one
        rate for all; -inf where the window has fewer than ``min_deals`` deals on a side or
        does not win more often inside."""
        n_out = total_n[:, None] - n_in
        w_out = total_w[:, None] - w_in
        gain = _loglik(w_in, n_in) + _loglik(w_out, n_out) - _loglik(total_w, total_n)[:, None]
        ok = (
            (n_in >= self.min_deals)
            & (n_out >= self.min_deals)
            & (w_in * n_out > w_out * n_in)  # inside wins more often, without a division
        )
        return np.where(ok, gain, -np.inf)

    def choose(self, total_n: np.ndarray, gain: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per replicate, the chosen window (see the module: a late start pays half a log of
        the deals; the shortest window within ONE_SE of the best penalised fit) and whether
        any window qualified."""
        late = (self.starts > 0)[None, :] * (0.5 * np.log(np.maximum(total_n, 1.0)))[:, None]
        score = gain - late
        best = score.max(axis=1)
        found = np.isfinite(best)
        near = np.isfinite(score) & (score >= best[:, None] - ONE_SE)
        days = np.where(near, self.days[None, :], np.iinfo(np.int64).max)
        shortest = near & (days == days.min(axis=1)[:, None])
        return np.argmax(np.where(shortest, score, -np.inf), axis=1), found

    def pick(self, weight: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per replicate (row of unit weights): the chosen window, its gain, and whether any
        window qualified."""
        total_n, total_w = weight @ self.unit_deals, weight @ self.unit_wins
        gain = self.gains(total_n, total_w, *self.inside(weight))
        chosen, found = self.choose(total_n, gain)
        return chosen, gain[np.arange(chosen.size), chosen], found


def _same_rows(row: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows grouped when equal: the first row of each group, each row's group and the groups'
    sizes (``np.unique(row, axis=0)``'s, in another order). Rows are grouped by a hash of
    their values, checked against each group's first row; a collision falls back to sorting
    the rows themselves."""
    mix = np.random.default_rng(0).integers(1, 2**62, row.shape[1]) | 1
    with np.errstate(over="ignore"):
        key = (row * mix).sum(axis=1)
    _, first, group, count = np.unique(key, return_index=True, return_inverse=True,
                                       return_counts=True)  # fmt: skip
    if not np.array_equal(row, row[first[group]]):
        _, first, group, count = np.unique(
            row, axis=0, return_index=True, return_inverse=True, return_counts=True
        )
    return first, group.ravel(), count


def _draws(rng: np.random.Generator, count: np.ndarray, reps: int) -> np.ndarray:
    """Per replicate, how many of its accounts (as many as there are, drawn with
    replacement) fall in each unit of ``count`` accounts alike: multinomial with chances in
    proportion to the units' sizes, which is how the per-account draw counts sum per unit."""
    n = int(count.sum())
    return rng.multinomial(n, count / n, size=reps).astype(np.float64)


def _interval(values: np.ndarray, level: float) -> tuple[int, int]:
    """The central ``level`` interval of the replicates' edges, on edges they chose."""
    tail = (1 - level) / 2
    return (
        int(np.quantile(values, tail, method="lower")),
        int(np.quantile(values, 1 - tail, method="higher")),
    )


def estimate_window(
    ages: SignalAges,
    *,
    edges: tuple[int, ...] = EDGES,
    min_deals: int = 30,
    reps: int = BOOTSTRAP_REPS,
    level: float = LEVEL,
    seed: int | None = None,
) -> Window | None:
    """The signal's window (the complexity-aware choice among every contiguous window on the
    grid, see the module), with account-bootstrap intervals on its edges; None when no window
    with at least ``min_deals`` deals on each side wins more often inside."""
    if ages.n_deals == 0 or ages.deal.size == 0:
        return None
    scan = _Scan(ages, edges, min_deals)
    if scan.masks.size == 0:
        return None
    chosen, gain, found = scan.pick(scan.unit_count[None, :].astype(np.float64))
    if not found[0]:
        return None
    start, end = scan.window(int(chosen[0]))

    # Each replicate draws the accounts with replacement; an account drawn k times counts its
    # deals k times, so a replicate is its units' draw counts times the aggregates, CHUNK
    # replicates at a time. Counts are whole numbers: every sum is exact in any order.
    rng = np.random.default_rng(_seed(ages) if seed is None else seed)
    picks: list[np.ndarray] = []
    for done in range(0, reps, CHUNK):
        p, _, f = scan.pick(_draws(rng, scan.unit_count, min(CHUNK, reps - done)))
        picks.append(p[f])
    boot = np.concatenate(picks) if picks else np.zeros(0, dtype=np.int64)
    if boot.size:
        start_ci = _interval(scan.starts[boot], level)
        end_ci = _interval(scan.ends[boot], level)
    else:
        start_ci, end_ci = (start, start), (end, end)
    return Window(
        start=start,
        end=end,
        start_ci=start_ci,
        end_ci=end_ci,
        inside=inside(ages, start, end),
        gain=float(gain[0]),
        reps=int(boot.size),
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
    best window's gain over the grid against the best gains of the same scan on outcomes
    relabelled by account, so the search over every window is paid for.

    Accounts with the same number of deals swap their deals' outcomes whole (the i-th deal of
    one takes the i-th deal's outcome of the other), which keeps each account's clustering and
    breaks only the link between outcomes and the signal's ages. Relabelling stops early once
    ``stop_after`` relabelled scans have reached the observed gain (p = that count over the
    relabellings drawn, Besag and Clifford's sequential p-value), else after ``max_reps``
    (p = (reached + 1) / (max_reps + 1)). 1.0 when no window qualifies."""
    if ages.n_deals == 0 or ages.deal.size == 0:
        return 1.0
    scan = _Scan(ages, edges, min_deals)
    if scan.masks.size == 0:
        return 1.0
    won = ages.won.astype(np.float64)
    # Deals with an occurrence by mask: a relabelling's wins inside every window are its
    # outcomes of those deals summed per mask, times the mask-by-window indicator.
    onehot = sparse.csr_matrix(
        (np.ones(scan.deal.size), (scan.mask_of, np.arange(scan.deal.size))),
        shape=(scan.masks.size, scan.deal.size),
    )
    n_in = np.asarray(onehot.sum(axis=1)).T @ scan.hits
    total_n, total_w = np.array([float(ages.n_deals)]), np.array([won.sum()])

    def best_gain(wins: np.ndarray) -> np.ndarray:
        """Per relabelling (row of outcomes of the deals with an occurrence), the best gain."""
        w_in = np.asarray(onehot @ wins.T).T @ scan.hits
        count = wins.shape[0]
        gain = scan.gains(np.repeat(total_n, count), np.repeat(total_w, count),
                          np.repeat(n_in, count, axis=0), w_in)  # fmt: skip
        return np.asarray(gain.max(axis=1))

    observed = best_gain(won[scan.deal][None, :])[0]
    if not np.isfinite(observed):
        return 1.0
    # Deals grouped by account (each account's in deal order), and the accounts by their
    # number of deals: a relabelling permutes the accounts within each size.
    order = np.argsort(ages.account, kind="stable")
    n_accounts = int(ages.account.max()) + 1
    size = np.bincount(ages.account, minlength=n_accounts)
    begin = np.r_[0, np.cumsum(size)[:-1]]
    rank = np.empty(ages.n_deals, dtype=np.int64)
    rank[order] = np.arange(ages.n_deals) - begin[ages.account[order]]
    target = ages.account[scan.deal]  # the account of each deal with an occurrence
    target_rank = rank[scan.deal]
    by_size = np.argsort(size, kind="stable")
    rng = np.random.default_rng(_seed(ages) if seed is None else seed)
    reached, drawn, chunk = 0, 0, 50
    while drawn < max_reps:
        wins = np.empty((chunk, scan.deal.size))
        for r in range(chunk):
            shuffled = by_size[np.lexsort((rng.random(n_accounts), size[by_size]))]
            source = np.empty(n_accounts, dtype=np.int64)
            source[by_size] = shuffled  # account by_size[i] takes the outcomes of shuffled[i]
            wins[r] = won[order[begin[source[target]] + target_rank]]
        reached += int(np.sum(best_gain(wins) >= observed - 1e-9))
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
