"""Parse employee counts: exact numbers, size buckets ("51-200"), open buckets ("10K+")."""

from __future__ import annotations

import re
from dataclasses import dataclass

from icpkit.ingest.normalize import Unreadable
from icpkit.ingest.normalize.blanks import is_blank
from icpkit.ingest.normalize.numbers import parse_number, read_separators

LARGEST_EMPLOYER = 3_000_000
"""Upper bound for a plausible head count (the largest employers have about 2-3 million staff)."""

_SOLO = frozenset(
    {"self employed", "self-employed", "selfemployed", "just me", "myself only", "solo"}
)
_DASHES = str.maketrans({"\u2013": "-", "\u2014": "-", "\u2212": "-", "\u00a0": " "})
_UNIT_WORDS = re.compile(r"\s*\b(?:employees?|people|persons|staff|fte|headcount)\b\.?\s*", re.I)
_NUMBER = r"[0-9][0-9.,' ]*(?:\s*[kKmM])?"
_RANGE = re.compile(rf"^(?P<low>{_NUMBER})\s*(?:-|to)\s*(?P<high>{_NUMBER})$", re.I)
_OPEN_PLUS = re.compile(rf"^(?P<low>{_NUMBER})\s*(?:\+|or more|and more|and above|and up)$", re.I)
_OPEN_GT = re.compile(rf"^(?:>=?|more than|over|above)\s*(?P<low>{_NUMBER})$", re.I)
_UNDER = re.compile(rf"^(?:<=?|less than|under|fewer than|up to)\s*(?P<high>{_NUMBER})$", re.I)
_SUFFIX = {"k": 1_000, "m": 1_000_000}


@dataclass(frozen=True)
class EmployeeCount:
    """A head count: ``value`` is the best single figure, ``low``/``high`` the bucket bounds.

    Exact counts have ``value == low == high``; ranges use the midpoint rounded half up
    (``"51-200"`` → 126); open buckets (``"10K+"``) have ``high=None`` and ``value == low``.
    """

    value: int
    low: int
    high: int | None


def parse_employees(raw: str) -> EmployeeCount | None:
    """Parse a head count or size bucket into its midpoint and bounds; blank cells are None.

    >>> parse_employees("51-200 employees")
    EmployeeCount(value=126, low=51, high=200)
    >>> parse_employees("10K+")
    EmployeeCount(value=10000, low=10000, high=None)
    >>> parse_employees("N/A") is None
    True
    """
    if is_blank(raw):
        return None
    shown = raw.strip()
    text = _UNIT_WORDS.sub(" ", raw.translate(_DASHES)).strip()
    if text.lower() in _SOLO:
        return EmployeeCount(1, 1, 1)
    if text.startswith("-") or (text.startswith("(") and text.endswith(")")):
        raise Unreadable(f"negative employee count '{shown}'")
    if match := _RANGE.match(text):
        low_token, high_token = match["low"].strip(), match["high"].strip()
        high = _count(high_token, shown)
        low = _count(low_token, shown)
        if high_token[-1].lower() in _SUFFIX and low_token[-1].isdigit():
            # "10-50K" means 10K-50K, as bucket labels write it; "251-1K" (Attio) means 251-1,000.
            scaled = _count(low_token + high_token[-1], shown)
            if scaled <= high:
                low = scaled
        if low > high:
            raise Unreadable(f"reversed employee range {low}-{high}")
        _check_size(high, shown, allow_zero=False)
        return EmployeeCount((low + high + 1) // 2, low, high)
    if match := _OPEN_PLUS.match(text) or _OPEN_GT.match(text):
        low = _count(match["low"], shown)
        _check_size(low, shown, allow_zero=False)
        return EmployeeCount(low, low, None)
    if match := _UNDER.match(text):
        high = _count(match["high"], shown)
        _check_size(high, shown, allow_zero=False)
        return EmployeeCount((1 + high + 1) // 2, 1, high)
    if re.fullmatch(_NUMBER, text):
        count = _count(text, shown, exact=True)
        _check_size(count, shown, allow_zero=False)
        return EmployeeCount(count, count, count)
    raise Unreadable(f"not an employee count: '{shown}'")


def _count(token: str, shown: str, *, exact: bool = False) -> int:
    """Turn one number token such as ``"1,001"``, ``"10K"`` or ``"1.5k"`` into an int."""
    token = token.strip()
    factor = _SUFFIX.get(token[-1].lower(), 1)
    if factor != 1:
        token = token[:-1].strip()
    # Head counts are whole: a dot before three digits groups thousands ('10.000+' is ten
    # thousand), as '1,000' does; only a suffixed figure has a decimal ('1.5k').
    thousands = factor == 1 and read_separators(token)[1] == "."
    number = parse_number(token, "," if thousands else None)
    if number is None:
        raise Unreadable(f"not an employee count: '{shown}'")
    value = number * factor
    if exact and factor == 1 and not value.is_integer():
        raise Unreadable(f"fractional employee count '{shown}'")
    return round(value)


def _check_size(count: int, shown: str, *, allow_zero: bool) -> None:
    """Reject head counts that no real company has."""
    if count < 0:
        raise Unreadable(f"negative employee count '{shown}'")
    if count == 0 and not allow_zero:
        raise Unreadable("zero employees")
    if count > LARGEST_EMPLOYER:
        raise Unreadable(f"employee count {count} is beyond the largest employer (~3,000,000)")
