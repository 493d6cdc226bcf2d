"""Closed deals grouped by what the joint model sees of them: their rule matches and signal ages.

A million deals carry a few thousand distinct patterns of inputs. The logistic likelihood of
deals sharing a pattern is that pattern's binomial likelihood (wins of trials), so fitting on
the patterns with their counts gives the same maximum-likelihood fit as fitting deal by deal,
at the cost of the patterns. Each deal keeps the index of its pattern, so what is clustered by
account (the sandwich variance's scores) is still summed deal by deal.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from icpkit.engines.features import Features

# Keys are combined in an int64 until the next column could overflow it, then made dense again.
_KEY_LIMIT = 2**62


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


def _codes(column: np.ndarray) -> tuple[np.ndarray, int]:
    """Dense integer codes of a float column (NaN one code of its own) and how many."""
    unknown = np.isnan(column)
    if unknown.all():  # the ages of a rule that is not a signal: nothing to tell apart
        return np.zeros(column.size, dtype=np.int64), 1
    if not unknown.any() and ((column == 0.0) | (column == 1.0)).all():
        return column.astype(np.int64), 2
    filled = np.where(np.isnan(column), -np.inf, column)
    values, codes = np.unique(filled, return_inverse=True)
    return codes.astype(np.int64).ravel(), int(values.size)


def _distinct_rows(columns: list[np.ndarray], n: int) -> tuple[np.ndarray, np.ndarray]:
    """Of ``n`` rows given by their ``columns``: the index of one row of each distinct row,
    and each row's distinct row."""
    key = np.zeros(n, dtype=np.int64)
    size = 1
    for column in columns:
        codes, count = _codes(np.asarray(column, dtype=np.float64))
        if count <= 1:
            continue
        if size * count >= _KEY_LIMIT:
            values, dense = np.unique(key, return_inverse=True)
            key, size = dense.astype(np.int64).ravel(), int(values.size)
        key = key * count + codes
        size *= count
    _, first, rows = np.unique(key, return_index=True, return_inverse=True)
    return first, rows.astype(np.int64).ravel()


def group(features: Features, won: np.ndarray) -> Patterns:
    """The deals of ``features`` (outcomes ``won``, 1 won) grouped by their row of matches
    and ages. Example: three deals, two with the same matches, give two patterns.

    >>> f = Features([], np.array([[1.0], [1.0], [0.0]]), np.full((3, 1), np.nan), [])
    >>> p = group(f, np.array([1, 0, 1]))
    >>> p.features.matches.ravel().tolist(), p.wins.tolist(), p.trials.tolist()
    ([0.0, 1.0], [1.0, 1.0], [1.0, 2.0])
    """
    first, rows = _distinct_rows([*features.matches.T, *features.ages.T], features.n)
    patterns = Features(features.rules, features.matches[first], features.ages[first], outside=[])
    wins = np.bincount(rows, weights=np.asarray(won, dtype=np.float64), minlength=first.size)
    trials = np.bincount(rows, minlength=first.size).astype(np.float64)
    return Patterns(patterns, wins, trials, rows)


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
