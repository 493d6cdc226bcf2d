"""Closed deals grouped by what the joint model sees of them: their rule matches and signal ages.

A million deals carry a few thousand distinct patterns of inputs. The logistic likelihood of
deals sharing a pattern is that pattern's binomial likelihood (wins of trials), so fitting on
the patterns with their counts gives the same maximum-likelihood fit as fitting deal by deal,
at the cost of the patterns. Each deal keeps the index of its pattern, so what is clustered by
account (the sandwich variance's scores) is still summed deal by deal.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from icpkit.engines.features import Features, ScoredRule, decay, design
from icpkit.icp.model import IntentSignal

# Keys are combined in an int64 until the next column could overflow it, then made dense again.
_KEY_LIMIT = 2**62
# Whole numbers spanning fewer values than this are coded by their rank without a sort.
_DENSE_SPAN = 1 << 22


@dataclass(frozen=True)
class Patterns:
    """Distinct model inputs: ``features`` holds one row per pattern, ``wins[u]`` of
    ``trials[u]`` deals share pattern ``u``, and ``rows[i]`` is the pattern of deal ``i``."""

    features: Features
    wins: np.ndarray  # float64 per pattern
    trials: np.ndarray  # float64 per pattern
    rows: np.ndarray  # int64 per deal

    @property
    def n(self) -> int:
        """How many deals the patterns hold."""
        return int(self.rows.shape[0])

    @cached_property
    def inputs(self) -> Inputs:
        """The model's inputs of these patterns (:class:`Inputs`), coded once for every fit
        and selection that reads them."""
        return Inputs(self)


def _codes(column: np.ndarray) -> tuple[np.ndarray, int]:
    """Dense integer codes of a float column (NaN one code of its own) and how many."""
    unknown = np.isnan(column)
    if unknown.all():  # the ages of a rule that is not a signal: nothing to tell apart
        return np.zeros(column.size, dtype=np.int64), 1
    if not unknown.any() and ((column == 0.0) | (column == 1.0)).all():
        return column.astype(np.int64), 2
    known = column[~unknown]
    low, high = float(known.min()), float(known.max())
    if high - low < _DENSE_SPAN and np.array_equal(known, np.floor(known)):
        return _dense_codes(known - low, unknown, int(high - low) + 1)
    filled = np.where(unknown, -np.inf, column)
    values, codes = np.unique(filled, return_inverse=True)
    return codes.astype(np.int64).ravel(), int(values.size)


def _dense_codes(offsets: np.ndarray, unknown: np.ndarray, span: int) -> tuple[np.ndarray, int]:
    """:func:`_codes` of whole numbers (``offsets`` from their least, of the known rows) in
    O(rows + span) rather than a sort: each value's rank among the values present, after
    NaN's code 0 when there is one."""
    at = offsets.astype(np.int64)
    present = np.zeros(span, dtype=bool)
    present[at] = True
    first = 1 if unknown.any() else 0
    rank = np.cumsum(present) - 1 + first
    codes = np.zeros(unknown.size, dtype=np.int64)
    codes[~unknown] = rank[at]
    return codes, int(np.count_nonzero(present)) + first


def _distinct_rows(columns: list[np.ndarray], n: int) -> tuple[np.ndarray, np.ndarray]:
    """Of ``n`` rows given by their ``columns``: the index of one row of each distinct row,
    and each row's distinct row."""
    return _combine([_codes(np.asarray(column, dtype=np.float64)) for column in columns], n)


def _matrix_codes(matrix: np.ndarray) -> list[tuple[np.ndarray, int]]:
    """:func:`_codes` of each column of ``matrix``; a column of 0/1 with no NaN is its own
    codes (not copied: :func:`_combine` adds it as it is), and an all-NaN one has nothing to
    tell apart. Column by column, so that the checks' temporaries are a column's, not the
    matrix's."""
    out: list[tuple[np.ndarray, int]] = []
    for j in range(matrix.shape[1]):
        column = np.asarray(matrix[:, j], dtype=np.float64)
        unknown = np.count_nonzero(np.isnan(column))
        if unknown == column.size:
            out.append((np.zeros(0, dtype=np.int64), 1))  # one value: nothing to tell apart
        elif not unknown and _binary(column):
            out.append((column, 2))
        else:
            out.append(_codes(column))
    return out


def _binary(column: np.ndarray) -> bool:
    """Whether every value of ``column`` (no NaN) is 0 or 1."""
    return (
        int(np.count_nonzero(column == 0.0)) + int(np.count_nonzero(column == 1.0)) == column.size
    )


def _combine(codes: list[tuple[np.ndarray, int]], n: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_distinct_rows` of columns given by their codes (whole numbers, of any numeric
    type): distinct rows in the order of their columns' codes, the first column first."""
    key = np.zeros(n, dtype=np.int64)
    size = 1
    for column, count in codes:
        if count <= 1:
            continue
        if size * count >= _KEY_LIMIT:
            values, dense = np.unique(key, return_inverse=True)
            key, size = dense.astype(np.int64, copy=False).ravel(), int(values.size)
        # In place: a million deals' key is not copied twice per column.
        key *= count
        np.add(key, column, out=key, casting="unsafe")
        size *= count
    _, first, rows = np.unique(key, return_index=True, return_inverse=True)
    return first, rows.astype(np.int64, copy=False).ravel()


def group(features: Features, won: np.ndarray) -> Patterns:
    """The deals of ``features`` (outcomes ``won``, 1 won) grouped by their row of matches
    and ages. Example: three deals, two with the same matches, give two patterns.

    >>> f = Features([], np.array([[1.0], [1.0], [0.0]]), np.full((3, 1), np.nan), [])
    >>> p = group(f, np.array([1, 0, 1]))
    >>> p.features.matches.ravel().tolist(), p.wins.tolist(), p.trials.tolist()
    ([0.0, 1.0], [1.0, 1.0], [1.0, 2.0])
    """
    codes = [*_matrix_codes(features.matches), *_matrix_codes(features.ages)]
    first, rows = _combine(codes, features.n)
    patterns = Features(features.rules, features.matches[first], features.ages[first], outside=[])
    wins = np.bincount(rows, weights=np.asarray(won, dtype=np.float64), minlength=first.size)
    trials = np.bincount(rows, minlength=first.size).astype(np.float64)
    return Patterns(patterns, wins, trials, rows)


def regroup(patterns: Patterns, rules: list[ScoredRule], picked: list[int]) -> Patterns:
    """The deals of ``patterns`` grouped by the columns ``picked`` only (``rules`` are their
    rules): what :func:`group` gives on the deals' features of those columns, computed from
    the patterns. Patterns are in the order of their inputs, so the order is the same.

    >>> matches = np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    >>> f = Features([], matches, np.full((3, 2), np.nan), [])
    >>> p = regroup(group(f, np.array([1, 0, 1])), [], [0])
    >>> p.features.matches.ravel().tolist(), p.wins.tolist(), p.trials.tolist(), p.rows.tolist()
    ([0.0, 1.0], [1.0, 1.0], [1.0, 2.0], [1, 1, 0])
    """
    f = patterns.features
    matches, ages = f.matches[:, picked], f.ages[:, picked]
    first, into = _distinct_rows([*matches.T, *ages.T], f.n)
    wins = np.bincount(into, weights=patterns.wins, minlength=first.size)
    trials = np.bincount(into, weights=patterns.trials, minlength=first.size)
    features = Features(rules, matches[first], ages[first], outside=[])
    return Patterns(features, wins, trials, into[patterns.rows])


def restrict(
    patterns: Patterns, deals: np.ndarray, outcome: np.ndarray, picked: list[int]
) -> Patterns:
    """The deals ``deals`` (indices) of ``patterns`` with the outcome ``outcome`` (one per deal
    taken, 1 for a success), grouped by the match columns ``picked``: what :func:`group`
    gives on those deals' matches of those columns (no ages), computed from the patterns."""
    rows = patterns.rows[deals]
    size = patterns.features.n
    successes = np.bincount(rows, weights=np.asarray(outcome, dtype=np.float64), minlength=size)
    trials = np.bincount(rows, minlength=size).astype(np.float64)
    present = np.flatnonzero(trials)
    matches = patterns.features.matches[present][:, picked]
    first, into = _distinct_rows(list(matches.T), present.size)
    position = np.zeros(size, dtype=np.int64)
    position[present] = np.arange(present.size)
    rules = [patterns.features.rules[j] for j in picked]
    features = Features(rules, matches[first], np.full((first.size, len(picked)), np.nan), [])
    return Patterns(
        features,
        np.bincount(into, weights=successes[present], minlength=first.size),
        np.bincount(into, weights=trials[present], minlength=first.size),
        into[position[rows]],
    )


def merge(
    x: np.ndarray, wins: np.ndarray, trials: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Rows of inputs ``x`` (``wins`` of ``trials`` each) that are equal merged into one:
    patterns that differ only where the model does not look (the age of a signal that does
    not decay, a column left out) are one pattern to it. Returns the distinct rows, their
    wins and trials, and each row's distinct row.

    >>> x = np.array([[1.0, 0.5], [1.0, 0.5], [0.0, 0.5]])
    >>> rows, wins, trials, into = merge(x, np.array([1.0, 2.0, 0.0]), np.array([1.0, 3.0, 1.0]))
    >>> rows.tolist(), wins.tolist(), trials.tolist(), into.tolist()
    ([[0.0, 0.5], [1.0, 0.5]], [0.0, 3.0], [1.0, 4.0], [1, 1, 0])
    """
    first, into = _distinct_rows(list(x.T), x.shape[0])
    merged_wins = np.bincount(into, weights=wins, minlength=first.size)
    merged_trials = np.bincount(into, weights=trials, minlength=first.size)
    return x[first], merged_wins, merged_trials, into


class Inputs:
    """The model's inputs of ``patterns`` for any half-lives, equal rows merged: :func:`merge`
    of :func:`~icpkit.engines.features.design`, with each column's codes computed once (an
    intent signal's from the codes of its ages: decay maps equal ages to equal inputs), so
    that each half-life tried or rule left out costs a pass over the patterns, not a sort of
    each column."""

    def __init__(self, patterns: Patterns) -> None:
        self.patterns = patterns
        features = patterns.features
        self._codes: dict[int, tuple[np.ndarray, int]] = {}
        self._ages: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        for j, scored in enumerate(features.rules):
            if isinstance(scored.rule, IntentSignal):
                ages = features.ages[:, j]
                values, codes = np.unique(
                    np.where(np.isnan(ages), -np.inf, ages), return_inverse=True
                )
                distinct = np.where(np.isneginf(values), np.nan, values)
                self._ages[j] = (codes.astype(np.int64).ravel(), distinct)
            else:
                self._codes[j] = _codes(features.matches[:, j])

    def merged(
        self, half_lives: dict[str, float | None], columns: list[int] | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``merge(design(patterns, half_lives)[:, columns], wins, trials)`` (all columns by
        default): the distinct rows of inputs, their wins and trials, each pattern's row."""
        features = self.patterns.features
        picked = list(range(len(features.rules))) if columns is None else columns
        codes = []
        for j in picked:
            if j in self._codes:
                codes.append(self._codes[j])
                continue
            ages, distinct = self._ages[j]
            scored = features.rules[j]
            assert isinstance(scored.rule, IntentSignal)
            inputs = decay(distinct, scored.rule.window_days[0], half_lives.get(scored.id))
            values, ranks = np.unique(inputs, return_inverse=True)
            codes.append((ranks.astype(np.int64).ravel()[ages], int(values.size)))
        first, into = _combine(codes, features.n)
        # The inputs of the distinct rows only: the design is computed row by row, so those
        # rows of it are the same numbers, at a fraction of the patterns (a few thousand of
        # 93,000 at 1M deals while one signal's half-life is tried).
        rows = Features(features.rules, features.matches[first], features.ages[first], [])
        x = design(rows, half_lives)[:, picked]
        wins = np.bincount(into, weights=self.patterns.wins, minlength=first.size)
        trials = np.bincount(into, weights=self.patterns.trials, minlength=first.size)
        return x, wins, trials, into
