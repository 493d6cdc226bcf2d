"""Parse money amounts ("$5M", "€2.3bn", "USD 1,200", "$1M-$10M") and check revenue units."""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Literal

import pycountry

from icpkit.ingest.normalize import Unreadable
from icpkit.ingest.normalize.blanks import is_blank
from icpkit.ingest.normalize.numbers import parse_number

CURRENCY_SYMBOLS: dict[str, str] = {
    "US$": "USD",
    "CA$": "CAD",
    "AU$": "AUD",
    "NZ$": "NZD",
    "HK$": "HKD",
    "R$": "BRL",
    "C$": "CAD",
    "A$": "AUD",
    "S$": "SGD",
    "$": "USD",
    "€": "EUR",
    "£": "GBP",
    "¥": "JPY",
    "₹": "INR",
    "₩": "KRW",
    "₽": "RUB",
    "₺": "TRY",
    "₪": "ILS",
}
"""Currency symbols → ISO 4217. ``$`` is read as USD and ``¥`` as JPY (CNY also writes ¥)."""

MULTIPLIERS: dict[str, float] = {
    "k": 1e3,
    "thousand": 1e3,
    "m": 1e6,
    "mm": 1e6,
    "mn": 1e6,
    "mio": 1e6,
    "mln": 1e6,
    "million": 1e6,
    "millions": 1e6,
    "b": 1e9,
    "bn": 1e9,
    "bln": 1e9,
    "billion": 1e9,
    "billions": 1e9,
    "t": 1e12,
    "tn": 1e12,
    "trillion": 1e12,
}
"""Magnitude suffixes; ``M``/``MM`` mean million, as CRM revenue fields use them."""

_SPACES = str.maketrans({"\u00a0": " ", "\u202f": " ", "\u2009": " "})
_DASHES = str.maketrans({"\u2013": "-", "\u2014": "-", "\u2212": "-"})
_SYMBOL_ALT = "|".join(re.escape(s) for s in sorted(CURRENCY_SYMBOLS, key=len, reverse=True))
_PREFIX = re.compile(rf"^(?:(?P<sym>{_SYMBOL_ALT})|(?P<code>[A-Za-z]{{3}})(?![A-Za-z]))\s*")
_SUFFIX = re.compile(rf"\s*(?:(?P<sym>{_SYMBOL_ALT})|(?<![A-Za-z])(?P<code>[A-Za-z]{{3}}))$")
_MULT = re.compile(
    r"(?<=[0-9.\s])\s*(?P<mult>" + "|".join(sorted(MULTIPLIERS, key=len, reverse=True)) + r")$",
    re.I,
)
_RANGE = re.compile(r"^(?P<a>.*?[0-9].*?)\s*(?:-|\bto\b)\s*(?P<b>.*[0-9].*)$", re.I)
_OPEN = re.compile(r"^(?P<a>.+?)\s*(?:\+|\bor more|\band (?:more|above|up)|\bplus)$", re.I)
_GT = re.compile(r"^(?:>=?|more than|over|above)\s*(?P<a>.+)$", re.I)
_LT = re.compile(r"^(?:<=?|less than|under|below|up to)\s*(?P<b>.+)$", re.I)


@dataclass(frozen=True)
class Money:
    """An amount with bounds: ranges carry their midpoint, open ranges ``high=None``."""

    amount: float
    low: float
    high: float | None
    currency: str | None


@dataclass(frozen=True)
class _Amount:
    value: float
    currency: str | None
    multiplier: str | None


_PLAIN = re.compile(r"\d{1,15}(?:\.\d{1,6})?")


def parse_money(raw: str) -> Money | None:
    """Parse a money value, e.g. ``"$1M-$10M"`` → Money(5.5e6, 1e6, 1e7, "USD").

    Negative values (``"-1,200"``, ``"(1,200)"``) are returned; the caller decides.
    In a range the lower side borrows the upper side's suffix: ``"$1-10M"`` is 1M-10M.
    """
    if is_blank(raw):
        return None
    shown = raw.strip()
    if _PLAIN.fullmatch(shown):  # the common case, without the general grammar
        value = float(shown)
        return Money(value, value, value, None)
    text = raw.translate(_SPACES).translate(_DASHES).strip()
    if match := _LT.match(text):
        high = _amount(match["b"], shown)
        return Money(high.value / 2, 0.0, high.value, high.currency)
    if match := _GT.match(text) or _OPEN.match(text):
        low = _amount(match["a"], shown)
        return Money(low.value, low.value, None, low.currency)
    if match := _RANGE.match(text):
        b = _amount(match["b"], shown)
        a = _amount(match["a"], shown, default_multiplier=b.multiplier)
        if a.currency and b.currency and a.currency != b.currency:
            raise Unreadable(f"range mixes currencies {a.currency} and {b.currency}")
        if a.value > b.value:
            raise Unreadable(f"reversed money range '{shown}'")
        return Money((a.value + b.value) / 2, a.value, b.value, a.currency or b.currency)
    single = _amount(text, shown)
    return Money(single.value, single.value, single.value, single.currency)


def _amount(text: str, shown: str, default_multiplier: str | None = None) -> _Amount:
    """Parse one side of a money value: optional sign, currency, number and magnitude."""
    text = text.strip()
    negative = False
    if text.startswith("(") and text.endswith(")"):
        negative, text = True, text[1:-1].strip()
    if text.startswith("-"):
        negative, text = not negative, text[1:].strip()
    currency: str | None = None
    if (match := _PREFIX.match(text)) and _currency_of(match) is not None:
        currency, text = _currency_of(match), text[match.end() :]
    if (match := _SUFFIX.search(text)) and _currency_of(match) is not None:
        found = _currency_of(match)
        if currency and found != currency:
            raise Unreadable(f"two currencies {currency} and {found} in '{shown}'")
        currency, text = found, text[: match.start()]
    if text.startswith("-"):
        negative, text = not negative, text[1:].strip()
    multiplier: str | None = None
    if match := _MULT.search(text):
        multiplier, text = match["mult"].lower(), text[: match.start()]
    factor = MULTIPLIERS.get(multiplier or default_multiplier or "", 1.0)
    if not re.search(r"[0-9]", text):
        raise Unreadable(f"no amount found in '{shown}'")
    try:
        number = parse_number(text)
    except Unreadable as exc:
        raise Unreadable(f"unreadable amount '{shown}': {exc}") from None
    if number is None:
        raise Unreadable(f"no amount found in '{shown}'")
    value = number * factor
    return _Amount(-value if negative else value, currency, multiplier)


def _currency_of(match: re.Match[str]) -> str | None:
    """ISO code for a matched symbol or three-letter code; None if the code is not a currency."""
    if match["sym"]:
        return CURRENCY_SYMBOLS[match["sym"]]
    code = match["code"].upper()
    return code if code in _iso_currencies() else None


@cache
def _iso_currencies() -> frozenset[str]:
    """All ISO 4217 alphabetic codes known to pycountry, minus words that read as magnitudes."""
    codes = {c.alpha_3 for c in pycountry.currencies}
    return frozenset(codes - {m.upper() for m in MULTIPLIERS})


def check_amount(m: Money, *, field: str, max_value: float) -> None:
    """Reject a negative or absurdly large amount, e.g. a deal of 3.0e+13 when the cap is 1e+10."""
    if m.amount < 0 or m.low < 0:
        raise Unreadable("negative amount")
    top = max(m.amount, m.high if m.high is not None else m.low)
    if top > max_value:
        raise Unreadable(f"absurd amount {top:.1e} exceeds {max_value:.0e} for {field}")


PLAUSIBLE_REVENUE_PER_EMPLOYEE = (20_000.0, 2_000_000.0)
"""Revenue per employee of real companies, in currency units per year (roughly $20k-$2M)."""

CONFIDENT_PAIRS = 20
"""How many (revenue, employees) pairs are needed before the unit check claims confidence."""

_SCALES: dict[Literal["units", "thousands", "millions"], float] = {
    "units": 1.0,
    "thousands": 1e3,
    "millions": 1e6,
}


def _readable(value: float) -> str:
    """Format a ratio for a sentence: ``0.183`` stays small, ``183456.2`` becomes ``183,456``."""
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def _band_boundary(scale: float) -> float:
    """Ratio halfway (geometrically) between the band for ``scale`` and the next smaller unit."""
    low, high = PLAUSIBLE_REVENUE_PER_EMPLOYEE
    return math.sqrt((high / scale) * (low / (scale / 1e3)))


@dataclass(frozen=True)
class RevenueUnitCheck:
    """Which unit a revenue column seems to be in, judged from revenue per employee."""

    unit: Literal["units", "thousands", "millions"]
    median_revenue_per_employee: float | None
    pairs: int
    confident: bool
    explanation: str


def suggest_revenue_unit(revenue: Sequence[float], employees: Sequence[float]) -> RevenueUnitCheck:
    """Guess whether revenue is in units, thousands or millions from its ratio to head count.

    Real companies make roughly $20k-$2M per employee, so a median ratio of 0.2 means the
    column is in millions. Boundaries sit midway (geometrically) between adjacent plausible
    bands: below ~6.3 → millions, below ~6,300 → thousands, else units. ``confident`` needs
    at least 20 pairs and a median that lands inside the plausible band for the chosen unit.
    The result is a suggestion to show the user for confirmation, never applied silently;
    ``explanation`` has no final period so callers can append to it.
    """
    ratios = [
        r / e
        for r, e in zip(revenue, employees, strict=True)
        if r > 0 and e > 0 and math.isfinite(r) and math.isfinite(e)
    ]
    if not ratios:
        return RevenueUnitCheck(
            "units", None, 0, False, "No rows have both a positive revenue and employee count"
        )
    median = statistics.median(ratios)
    low, high = PLAUSIBLE_REVENUE_PER_EMPLOYEE
    unit: Literal["units", "thousands", "millions"]
    if median < _band_boundary(1e6):
        unit = "millions"
    elif median < _band_boundary(1e3):
        unit = "thousands"
    else:
        unit = "units"
    scaled = median * _SCALES[unit]
    plausible = low <= scaled <= high
    confident = len(ratios) >= CONFIDENT_PAIRS and plausible
    reading = (
        f"revenue looks like it is in {unit}"
        if unit != "units"
        else "revenue looks like plain amounts"
    )
    explanation = (
        f"Median revenue per employee is {_readable(median)} over {len(ratios)} companies; "
        f"{reading} (≈{scaled:,.0f} per employee, plausible range {low:,.0f}-{high:,.0f})"
    )
    if not plausible:
        explanation += "; that is outside the plausible range, so check the column by hand"
    elif len(ratios) < CONFIDENT_PAIRS:
        explanation += f"; fewer than {CONFIDENT_PAIRS} companies, so confirm before applying"
    return RevenueUnitCheck(unit, median, len(ratios), confident, explanation)
