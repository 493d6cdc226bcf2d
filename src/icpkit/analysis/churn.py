"""Per-customer flags (churned, Tier 1) of a cut's customers against the other customers.

A flag is one yes/no per customer account, so the customers themselves are the independent
units and the comparison is a 2x2 table per tenure band. The test is exact: conditional on
how many customers of each band are in the cut and how many of each band carry the flag,
the flagged customers in the cut follow a sum of hypergeometric distributions (Fisher's
exact test with one band; the exact conditional test of a common odds ratio of 1 with
several). Its two-sided p-value sums the outcomes no more likely than the one observed, so
it never exceeds its level, however few customers a cut holds or however rare the flag.

Tenure bands answer the time at risk: a customer won four years ago has had four years to
churn, one won last quarter has not, so a cut of older customers churns more with nothing
wrong with it. Customers are compared only with customers of the same tenure band (whole
years since their first win), and the lift is the Mantel-Haenszel risk ratio across bands
with the Greenland-Robins interval; with one band both are the plain ratio and its interval.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
from scipy import fft
from scipy.special import gammaln, ndtr, ndtri

from icpkit.analysis.stats import Comparison, wilson_interval

TEST_EXACT = "exact (customers)"
TEST_EXACT_BY_TENURE = "exact (customers, by tenure year)"
TEST_NONE = "none"

TENURE_BAND_DAYS = 365
"""Customers are compared within whole years since their first win."""

_TIES = 1e-7
"""Relative tolerance under which two outcomes' probabilities count as equal."""


def tenure_bands(since: np.ndarray) -> np.ndarray:
    """Band of each customer: whole years between its first win (day number ``since``) and
    the latest first win among them; -1 where unknown (negative). Example: first wins on days
    0, 400 and 800 -> bands 2, 1, 0."""
    days = np.asarray(since, dtype=np.int64)
    known = days >= 0
    if not known.any():
        return np.full(days.shape, -1, dtype=np.int64)
    latest = int(days[known].max())
    return np.where(known, (latest - days) // TENURE_BAND_DAYS, -1).astype(np.int64)


def flag_differences(
    flags: np.ndarray,
    starts: np.ndarray,
    bands: np.ndarray | None = None,
    confidence: float = 0.95,
) -> list[Comparison]:
    """Each run of customers (run i: rows ``starts[i]`` to ``starts[i + 1]``, the last to the
    end) against all the others: the rate of a 0/1 ``flags`` inside and outside, the lift
    (Mantel-Haenszel across ``bands``, one band when None) and the exact two-sided p-value
    (see the module). Example: 6 of 10 churned against 10 of 100 -> lift 6.0, p = 0.00055.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    f = np.asarray(flags, dtype=np.int64).ravel()
    if np.any((f != 0) & (f != 1)):
        raise ValueError("every flag must be 0 or 1")
    b = np.zeros(f.size, dtype=np.int64) if bands is None else np.asarray(bands).ravel()
    if b.shape != f.shape:
        raise ValueError(f"flags and bands differ in length: {f.size} != {b.size}")
    bounds = [int(s) for s in np.asarray(starts, dtype=np.int64).ravel()] + [f.size]
    if not bounds[:-1]:
        return []
    if bounds[0] != 0 or any(x > y for x, y in itertools.pairwise(bounds)):
        raise ValueError("starts must begin at 0 and never decrease")
    labels, code = _bands(b)
    totals = np.bincount(code, minlength=labels.size)
    flagged = np.bincount(code, weights=f, minlength=labels.size).astype(np.int64)
    tests = TEST_EXACT if labels.size == 1 else TEST_EXACT_BY_TENURE
    out = []
    for begin, end in itertools.pairwise(bounds):
        inside = np.bincount(code[begin:end], minlength=labels.size)
        hits = np.bincount(code[begin:end], weights=f[begin:end], minlength=labels.size)
        out.append(_compare(totals, flagged, inside, hits.astype(np.int64), confidence, tests))
    return out


def _bands(bands: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(bands, return_inverse=True)``: the bands present, ascending, and each
    customer's position among them; counted rather than sorted when the bands are whole
    numbers close together (years of tenure, -1 unknown), as the lift's always are.

    >>> [a.tolist() for a in _bands(np.array([2, -1, 2, 0]))]
    [[-1, 0, 2], [2, 0, 2, 1]]
    """
    whole = bands.size > 0 and bands.dtype.kind in "iu"
    low = int(bands.min()) if whole else 0
    if not whole or int(bands.max()) - low >= 4 * bands.size + 1024:
        labels, code = np.unique(bands, return_inverse=True)
        return labels, code.ravel()
    shifted = bands - low
    present = np.bincount(shifted) > 0
    position = np.cumsum(present) - 1
    return (np.flatnonzero(present) + low).astype(bands.dtype), position[shifted]


def _compare(
    totals: np.ndarray,
    flagged: np.ndarray,
    inside: np.ndarray,
    hits: np.ndarray,
    confidence: float,
    test: str,
) -> Comparison:
    """One cut: ``inside`` customers and ``hits`` flagged ones per band, of ``totals`` and
    ``flagged`` per band."""
    m1, x1 = int(inside.sum()), int(hits.sum())
    m0, x0 = int(totals.sum()) - m1, int(flagged.sum()) - x1
    counts = {
        "n_deals_in": m1,
        "wins_in": x1,
        "n_accounts_in": m1,
        "n_deals_out": m0,
        "wins_out": x0,
        "n_accounts_out": m0,
    }
    nan2 = (math.nan, math.nan)
    rate_in = x1 / m1 if m1 else math.nan
    rate_out = x0 / m0 if m0 else math.nan
    if m1 == 0 or m0 == 0:
        return Comparison(
            rate_in, rate_out, math.nan, nan2, math.nan, nan2, 1.0, TEST_NONE, **counts
        )
    difference = rate_in - rate_out
    difference_ci = _newcombe(x1, m1, x0, m0, confidence)
    lift, lift_ci = _mantel_haenszel(totals, flagged, inside, hits, confidence)
    p_value = exact_p_value(totals, flagged, inside, x1)
    return Comparison(
        rate_in, rate_out, difference, difference_ci, lift, lift_ci, p_value, test, **counts
    )


def exact_p_value(totals: np.ndarray, flagged: np.ndarray, inside: np.ndarray, hits: int) -> float:
    """Two-sided exact p-value of ``hits`` flagged customers in a cut holding ``inside[s]`` of
    band s's ``totals[s]`` customers, ``flagged[s]`` of them flagged: the probability, given
    those margins, of every count no more likely than ``hits``. Example: 3 of 3 in the cut
    flagged, 3 of 30 customers flagged in all -> 1 / C(30, 3), about 0.0002.

    Each band's distribution keeps the counts within ``_NEGLIGIBLE`` of its mode (the mass
    left out is below 1e-25) and the bands are convolved, by FFT once both sides are long:
    a million deals' customers cost milliseconds, and the p-value is exact to about 1e-11.
    A count outside what is kept lies over eleven standard deviations out: its p-value,
    below 1e-25 either way, is the normal tail of the sum."""
    pmf = np.ones(1)
    low = 0  # the count of pmf[0]
    lowest = highest = 0  # the fewest and most flagged customers the margins allow
    mean = variance = 0.0
    for n, k, t in zip(totals.tolist(), inside.tolist(), flagged.tolist(), strict=True):
        first, last = max(0, k - (n - t)), min(k, t)
        lowest, highest = lowest + first, highest + last
        mean += k * t / n if n else 0.0
        if last <= first:  # one count possible
            low += first
            continue
        start, band = _hypergeometric(n, t, k, first, last)
        pmf = _convolve(pmf, band)
        low += start
        variance += k * t * (n - t) * (n - k) / (n * n * (n - 1))
    if not lowest <= hits <= highest:
        return 0.0
    at = hits - low
    if not 0 <= at < pmf.size:  # beyond the counts kept: over eleven standard deviations out
        return float(2 * ndtr(-abs(hits - mean) / math.sqrt(variance)))
    observed = pmf[at]
    return float(min(1.0, pmf[pmf <= observed * (1 + _TIES)].sum()))


_NEGLIGIBLE = 1e-30
"""A band's counts less likely than this times its most likely count are left out."""

_FFT_FROM = 256
"""Both sides at least this long: convolved by FFT, not term by term."""


def _hypergeometric(n: int, t: int, k: int, first: int, last: int) -> tuple[int, np.ndarray]:
    """The hypergeometric probabilities of ``first``..``last`` flagged among ``k`` drawn of
    ``n`` holding ``t`` flagged, from log-gamma, trimmed to the counts within
    ``_NEGLIGIBLE`` of the mode: (the first count kept, the probabilities)."""
    lf = _log_factorials(n)
    x = np.arange(first, last + 1)
    # log C(a, b) = lf[a] - lf[b] - lf[a - b], term by term as log-gamma would give it.
    log_pmf = (
        (lf[t] - lf[x] - lf[t - x])
        + (lf[n - t] - lf[k - x] - lf[n - t - k + x])
        - (lf[n] - lf[k] - lf[n - k])
    )
    kept = np.flatnonzero(log_pmf >= log_pmf.max() + math.log(_NEGLIGIBLE))
    lo, hi = int(kept[0]), int(kept[-1])
    return first + lo, np.exp(log_pmf[lo : hi + 1])


def _log_factorials(n: int) -> np.ndarray:
    """log(i!) for i from 0 to at least ``n``: log-gamma of i + 1, looked up rather than
    computed for every count of every band (a thousand attributes: 180,000 calls). One table
    is kept, grown to the largest band met (a million customers: 16 MB)."""
    table = _LOG_FACTORIALS[0] if _LOG_FACTORIALS else None
    if table is None or table.size <= n:
        size = max(1024, 1 << (n + 1).bit_length())
        table = np.asarray(gammaln(np.arange(size, dtype=np.float64) + 1))
        _LOG_FACTORIALS[:] = [table]  # a table as big holds the smaller one's values
    return table


_LOG_FACTORIALS: list[np.ndarray] = []


def _convolve(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The distribution of a sum of two independent counts, by FFT for long ones (negative
    rounding set to 0)."""
    if min(a.size, b.size) < _FFT_FROM:
        return np.convolve(a, b)
    n = a.size + b.size - 1
    size = fft.next_fast_len(n, True)
    summed = np.asarray(fft.irfft(fft.rfft(a, size) * fft.rfft(b, size), size)[:n])
    return np.asarray(np.clip(summed, 0.0, None), dtype=np.float64)


def _mantel_haenszel(
    totals: np.ndarray, flagged: np.ndarray, inside: np.ndarray, hits: np.ndarray, confidence: float
) -> tuple[float, tuple[float, float]]:
    """Mantel-Haenszel risk ratio of the flag, cut against rest, across bands, and its
    Greenland-Robins interval (log scale); NaN where the rest has no flag, 0 with none in
    the cut."""
    n1 = inside.astype(float)
    n = totals.astype(float)
    n0 = n - n1
    a = hits.astype(float)
    c = flagged.astype(float) - a
    used = (n1 > 0) & (n0 > 0)
    if not used.any():
        return math.nan, (math.nan, math.nan)
    n1, n0, n, a, c = n1[used], n0[used], n[used], a[used], c[used]
    top = float(np.sum(a * n0 / n))
    bottom = float(np.sum(c * n1 / n))
    if bottom <= 0:
        return math.nan, (math.nan, math.nan)
    if top <= 0:
        return 0.0, (math.nan, math.nan)
    lift = top / bottom
    variance = float(np.sum((n1 * n0 * (a + c) - a * c * n) / (n * n))) / (top * bottom)
    if variance <= 0:
        return lift, (math.nan, math.nan)
    z = float(ndtri(0.5 + confidence / 2))
    spread = z * math.sqrt(variance)
    return lift, (lift * math.exp(-spread), lift * math.exp(spread))


def _newcombe(x1: int, m1: int, x0: int, m0: int, confidence: float) -> tuple[float, float]:
    """Newcombe's hybrid score interval of a difference of two proportions (from the Wilson
    interval of each)."""
    p1, p0 = x1 / m1, x0 / m0
    l1, u1 = wilson_interval(x1, m1, confidence)
    l0, u0 = wilson_interval(x0, m0, confidence)
    d = p1 - p0
    return (
        max(-1.0, d - math.sqrt((p1 - l1) ** 2 + (u0 - p0) ** 2)),
        min(1.0, d + math.sqrt((u1 - p1) ** 2 + (p0 - l0) ** 2)),
    )
