"""Value labels and the SQL and Python that put a number into its labelled bucket."""

from __future__ import annotations

import re
from collections.abc import Sequence

from icpkit.attributes.base import MISSING
from icpkit.store.db import literal

# The kind of a signal without its amount: '$12M Series B' -> 'Series B'.
DETAIL_SQL = "regexp_replace(coalesce(s.detail, ''), '^[$€£]?[0-9][0-9.,]*[ ]*[kKmMbB]?[ ]+', '')"
AMOUNT = re.compile(r"^[$€£]?[0-9][0-9.,]*[ ]*[kKmMbB]?[ ]+")


def detail_kind(detail: str | None) -> str:
    """Python's ``DETAIL_SQL``: '$12M Series B' -> 'Series B', None -> ''."""
    return AMOUNT.sub("", detail or "", count=1)


def bucket_labels(bounds: Sequence[float], fmt: str) -> list[str]:
    """Labels of the buckets ending at ``bounds`` plus the open last one.

    >>> bucket_labels([10, 50, 200], "count")
    ['1-10', '11-50', '51-200', '201+']
    >>> bucket_labels([1e6, 1e7], "money")
    ['<$1M', '$1M-$10M', '$10M+']
    """
    labels: list[str] = []
    low = 1.0
    for high in bounds:
        labels.append(_range_label(low, high, fmt))
        low = high + 1 if fmt == "count" else high
    labels.append(f"{_fmt(low, fmt)}+")
    return labels


_COUNT_RANGE = re.compile(r"^([\d,]+)-([\d,]+)$")
_COUNT_OPEN = re.compile(r"^([\d,]+)\+$")


def count_bounds(label: str) -> tuple[int | None, int | None]:
    """The head counts a count label spans, the inverse of :func:`bucket_labels`; (None,
    None) for a label that is no count range.

    >>> count_bounds("51-200"), count_bounds("1,001+"), count_bounds("(missing)")
    ((51, 200), (1001, None), (None, None))
    """
    if m := _COUNT_RANGE.match(label):
        return int(m[1].replace(",", "")), int(m[2].replace(",", ""))
    if m := _COUNT_OPEN.match(label):
        return int(m[1].replace(",", "")), None
    return None, None


def _fmt(value: float, fmt: str) -> str:
    if fmt == "count":
        return f"{int(value):,}"
    for unit, scale in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if value >= scale:
            number = value / scale
            return f"${number:g}{unit}"
    return f"${value:g}"


def _range_label(low: float, high: float, fmt: str) -> str:
    if fmt == "count":
        return f"{int(low):,}-{int(high):,}"
    return f"<{_fmt(high, fmt)}" if low <= 1 else f"{_fmt(low, fmt)}-{_fmt(high, fmt)}"


def span_labels(bounds: Sequence[int], unit: str, start: int = 0) -> list[str]:
    """Labels of whole-number spans ending at ``bounds``: 0-2 tools, 3-5 tools, ..., 9+ tools."""
    labels, low = [], start
    for high in bounds:
        labels.append(f"{low}-{high}{unit}")
        low = high + 1
    labels.append(f"{low}+{unit}")
    return labels


def window_labels(bounds: Sequence[int]) -> list[str]:
    """Recency bins of a signal before the deal: 0-30d, 31-90d, ..., 731d+."""
    labels, low = [], 0
    for high in bounds:
        labels.append(f"{low}-{high}d")
        low = high + 1
    labels.append(f"{low}d+")
    return labels


def bucket_sql(number: str, bounds: Sequence[float], labels: Sequence[str]) -> str:
    """SQL putting ``number`` into the bucket whose upper bound it does not exceed (NULL:
    ``(missing)``); ``labels`` has one more entry than ``bounds``, the open last bucket."""
    whens = " ".join(
        f"WHEN {number} <= {bound!r} THEN {literal(label)}"
        for bound, label in zip(bounds, labels, strict=False)
    )
    return f"CASE WHEN {number} IS NULL THEN '{MISSING}' {whens} ELSE {literal(labels[-1])} END"


def bucket(number: float | None, bounds: Sequence[float], labels: Sequence[str]) -> str:
    """Python's :func:`bucket_sql`."""
    if number is None:
        return MISSING
    for bound, label in zip(bounds, labels, strict=False):
        if number <= bound:
            return label
    return labels[-1]
