"""Parse money amounts ("$5M", "€2.3bn", "USD 1,200", "$1M-$10M") and decide a file's money unit."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Literal

import pycountry

from icpkit.ingest.normalize import Unreadable
from icpkit.ingest.normalize.blanks import is_blank
from icpkit.ingest.normalize.numbers import Separator, parse_number, read_separators

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

COMMA_DECIMAL_CURRENCIES = frozenset(
    {
        "EUR", "DKK", "NOK", "SEK", "ISK", "PLN", "CZK", "HUF", "RON", "BGN", "RSD", "RUB",
        "UAH", "TRY", "BRL", "ARS", "CLP", "COP", "IDR", "VND", "PYG", "UYU",
    }
)  # fmt: skip
"""Currencies written at home with ',' as the decimal separator and '.' between thousands:
``€12.500`` is twelve thousand five hundred euros, ``$12.500`` twelve dollars and a half."""

Reading = Literal["column", "currency", "default"]
"""How an amount whose one separator could go either way (``12.500``) was read: by the
column's other values, by its currency's convention, or as a decimal point by default."""

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
    read: Reading | None = field(default=None, compare=False)
    """Set when a separator could go either way (``12.500``): how it was decided."""


@dataclass(frozen=True)
class _Amount:
    value: float
    currency: str | None
    multiplier: str | None
    read: Reading | None = None


# Plain numbers without a separator that could be a thousands one ('12.500' could).
_PLAIN = re.compile(r"\d{1,15}(?:\.(?:\d{1,2}|\d{4,6}))?")
_NUMBER_TOKEN = re.compile(r"[0-9](?:[0-9.,' ]*[0-9])?")


@dataclass(frozen=True)
class SeparatorInference:
    """A column's decimal separator (None when its values cannot tell) and why."""

    decimal: Separator | None
    explanation: str


@dataclass(frozen=True)
class Shown:
    """Values of a column read elsewhere (in SQL) that show one decimal separator: how many,
    and the first of them in the column's order of values."""

    count: int
    first: str


def infer_decimal_separator(
    values: Iterable[str],
    *,
    among: Mapping[Separator, Shown] | None = None,
    after: Iterable[str] = (),
) -> SeparatorInference:
    """Decide a column's decimal separator from all its values, as dates decide their order.

    A value whose separators tell ('1.234,56', '12,5', '1.234.567' say ','; '1,234.56',
    '12.5' say '.') is evidence; '12.500' and '1,234' are not. Evidence one way only settles
    the column, and its ambiguous values are read the same way; evidence both ways settles
    nothing (each such value is read by its own currency's convention).

    ``values`` come in the column's order; ``among``: the evidence of values read elsewhere
    that take their place in that order (counted, not listed: there may be millions);
    ``after``: values weighed after all of them.
    """
    count: dict[Separator, int] = {",": 0, ".": 0}
    first: dict[Separator, str] = {}  # as written, unstripped: values are ordered so
    for raw in values:
        for shown in _shown_by(raw):
            count[shown] += 1
            first.setdefault(shown, raw)
    for shown, read in (among or {}).items():
        count[shown] += read.count
        if shown not in first or read.first < first[shown]:
            first[shown] = read.first
    for raw in after:
        for shown in _shown_by(raw):
            count[shown] += 1
            first.setdefault(shown, raw)
    example = {k: v.strip() for k, v in first.items()}
    commas, dots = count[","], count["."]
    if commas and dots:
        return SeparatorInference(
            None,
            f"the column writes decimals both ways ({commas} values like '{example[',']}', "
            f"{dots} like '{example['.']}')",
        )
    if commas or dots:
        sep: Separator = "," if commas else "."
        return SeparatorInference(
            sep,
            f"{count[sep]} other values write '{sep}' as the decimal separator (e.g. "
            f"'{example[sep]}')",
        )
    return SeparatorInference(None, "no value in the column shows its decimal separator")


def _shown_by(raw: str) -> list[Separator]:
    """The decimal separator each number of ``raw`` shows, where it shows one."""
    if is_blank(raw):
        return []
    shown = (read_separators(t)[0] for t in _NUMBER_TOKEN.findall(raw.translate(_SPACES)))
    return [sep for sep in shown if sep is not None]


def parse_money(raw: str, decimal: Separator | None = None) -> Money | None:
    """Parse a money value, e.g. ``"$1M-$10M"`` → Money(5.5e6, 1e6, 1e7, "USD").

    Negative values (``"-1,200"``, ``"(1,200)"``) are returned; the caller decides.
    In a range the lower side borrows the upper side's suffix: ``"$1-10M"`` is 1M-10M.
    ``decimal`` is the column's decimal separator (see :func:`infer_decimal_separator`),
    used for an amount whose one separator could go either way (``"12.500"``); without
    it, such a dot separates thousands in currencies written that way (``"€12.500"`` →
    12,500) and is a decimal point otherwise (``"$12.500"`` → 12.5).

    >>> parse_money("$1M-$10M")
    Money(amount=5500000.0, low=1000000.0, high=10000000.0, currency='USD', read=None)
    >>> parse_money("EUR 1.234,56").amount
    1234.56
    >>> parse_money("€12.500").amount, parse_money("$12.500").amount
    (12500.0, 12.5)
    """
    if is_blank(raw):
        return None
    shown = raw.strip()
    if _PLAIN.fullmatch(shown):  # the common case, without the general grammar
        value = float(shown)
        return Money(value, value, value, None)
    text = raw.translate(_SPACES).translate(_DASHES).strip()
    if match := _LT.match(text):
        high = _amount(match["b"], shown, decimal)
        return Money(high.value / 2, 0.0, high.value, high.currency, high.read)
    if match := _GT.match(text) or _OPEN.match(text):
        low = _amount(match["a"], shown, decimal)
        return Money(low.value, low.value, None, low.currency, low.read)
    if match := _RANGE.match(text):
        b = _amount(match["b"], shown, decimal)
        a = _amount(match["a"], shown, decimal, default_multiplier=b.multiplier)
        if a.currency and b.currency and a.currency != b.currency:
            raise Unreadable(f"range mixes currencies {a.currency} and {b.currency}")
        if a.value > b.value:
            raise Unreadable(f"reversed money range '{shown}'")
        return Money(
            (a.value + b.value) / 2, a.value, b.value, a.currency or b.currency, a.read or b.read
        )
    single = _amount(text, shown, decimal)
    return Money(single.value, single.value, single.value, single.currency, single.read)


def _number(
    text: str, currency: str | None, decimal: Separator | None
) -> tuple[float | None, Reading | None]:
    """The number in ``text`` and, when its one separator could go either way, how it was read."""
    _, open_sep = read_separators(text)
    if open_sep is None:
        return parse_number(text), None
    if decimal is not None:
        return parse_number(text, decimal), "column"
    if open_sep == "." and currency in COMMA_DECIMAL_CURRENCIES:
        return parse_number(text, ","), "currency"
    # '1,234' is a thousand and more in every convention money is written in: not noted.
    return parse_number(text), ("default" if open_sep == "." else None)


def _amount(
    text: str,
    shown: str,
    decimal: Separator | None = None,
    default_multiplier: str | None = None,
) -> _Amount:
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
        number, read = _number(text.strip(), currency, decimal)
    except Unreadable as exc:
        raise Unreadable(f"unreadable amount '{shown}': {exc}") from None
    if number is None:
        raise Unreadable(f"no amount found in '{shown}'")
    value = number * factor
    return _Amount(-value if negative else value, currency, multiplier, read)


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
"""How many (revenue, employees) pairs revenue per employee alone needs to decide a unit."""

MoneyUnit = Literal["units", "thousands", "millions", "billions"]
UNIT_SCALE: dict[MoneyUnit, float] = {
    "units": 1.0,
    "thousands": 1e3,
    "millions": 1e6,
    "billions": 1e9,
}
"""What a plain number in each unit is worth in currency units."""

# A column name declaring its unit: 'Revenue (in millions)', 'ARR $M', 'Sales (000s)',
# 'deal_value_k', 'Umsatz (Mio. EUR)'. Words are matched on the lower-cased name.
_HEADER_UNITS: tuple[tuple[MoneyUnit, re.Pattern[str]], ...] = (
    (
        "billions",
        re.compile(
            r"\bbillions?\b|\bin (?:usd |eur |gbp )?bn\b|[$€£]\s?bn?\b|\((?:usd |eur )?bn?\)"
        ),
    ),
    (
        "millions",
        re.compile(
            r"\bmillions?\b|\bmio\b|\bmln\b|\bmn\b|\bmm\b|[$€£]\s?mm?\b|\bm[$€£]|"
            r"\((?:in )?(?:usd |eur |gbp )?m\)|\b(?:usd|eur|gbp)\s?mm?\b|[_\s]mm?$|\bmusd\b"
        ),
    ),
    (
        "thousands",
        re.compile(
            r"\bthousands?\b|\(\s*'?0{3}s?\s*\)|'000|\b000s\b|[$€£]\s?k\b|\bk[$€£]|"
            r"\((?:in )?(?:usd |eur |gbp )?k\)|\bin k\b|\b(?:usd|eur|gbp)\s?k\b|[_\s]k$|\bkusd\b"
        ),
    ),
)

UNIT_LIMITS: dict[MoneyUnit, float] = {"thousands": 1e9, "millions": 1e6, "billions": 1e3}
"""Above this a plain number cannot be in the unit its column names: 1e6 millions is $1T,
more than any company's revenue."""

MIN_PAIRS = 5
"""Fewer (revenue, employees) pairs than this say nothing about the unit."""


def unit_in_header(column: str) -> MoneyUnit | None:
    """The unit a column's name declares, e.g. ``'Revenue (in millions)'`` -> ``'millions'``,
    ``'Amount (000s)'`` -> ``'thousands'``, ``'deal_value_k'`` -> ``'thousands'``; else None."""
    text = column.casefold().strip()
    for unit, pattern in _HEADER_UNITS:
        if pattern.search(text):
            return unit
    return None


@dataclass(frozen=True)
class MoneyEvidence:
    """What a file's plain money numbers say about their unit: summary statistics only, so a
    column of millions of rows is judged from one aggregate query."""

    values: int
    largest: float
    median: float
    pairs: int = 0
    median_per_employee: float | None = None
    quartiles_per_employee: tuple[float, float] | None = None


@dataclass(frozen=True)
class UnitDecision:
    """The unit a file's plain numbers are read in, whether the evidence settled it, and why.

    ``evidence`` is a clause without a final period, quoting the numbers behind the choice.
    """

    unit: MoneyUnit
    confident: bool
    evidence: str


def _dollars(value: float) -> str:
    """A per-employee amount for a sentence: ``0.0113`` -> ``$0.0113``, ``11300`` -> ``$11,300``."""
    return f"${value:,.0f}" if value >= 100 else f"${value:.3g}"


READING_BAND = (5_000.0, 5_000_000.0)
"""Revenue per employee a unit must give to be chosen: 1000x wide, so exactly one unit of
units, thousands, millions or billions lands in it (real companies: about $20k-$2M)."""

SPREAD_BAND = (1_000.0, 50_000_000.0)
"""The middle half of the companies (quartiles of revenue per employee) must land here in the
chosen unit for the choice to be confident: a column mixing units does not."""


def _plausible(per_employee: float, unit: MoneyUnit) -> bool:
    low, high = READING_BAND
    return low <= per_employee * UNIT_SCALE[unit] < high


def _ratio_unit(per_employee: float) -> MoneyUnit | None:
    """The unit in which a median revenue per employee reads as a real company's; None when
    it is implausible in every unit."""
    for unit in ("units", "thousands", "millions", "billions"):
        if _plausible(per_employee, unit):  # type: ignore[arg-type]
            return unit  # type: ignore[return-value]
    return None


def infer_revenue_unit(column: str, ev: MoneyEvidence) -> UnitDecision:
    """Decide one file's revenue unit from its own evidence, never another file's.

    Revenue per employee is the strongest evidence (real companies make $20k-$2M each): with
    at least 20 pairs and a median that is plausible in exactly one unit, that unit is applied.
    A unit in the column name ('Revenue ($M)') is applied when the ratio agrees, or, without
    employee counts, when every value fits it (no company makes more than $1T). Anything else
    is unsure: ``confident`` is False and the caller keeps its default.
    """
    hint = unit_in_header(column)
    said = f"the column name says {hint}" if hint else ""
    if ev.values == 0:
        return UnitDecision("units", False, "no plain numbers to judge")
    ratio = ev.median_per_employee
    if ratio is not None and ev.pairs >= MIN_PAIRS:
        best = _ratio_unit(ratio)
        unit = hint or best or "units"
        per = (
            f"median revenue per employee would be {_dollars(ratio)} as written"
            + (f", {_dollars(ratio * UNIT_SCALE[unit])} as {unit}" if unit != "units" else "")
            + f" ({ev.pairs:,} companies with both)"
        )
        if hint and hint == best:
            return UnitDecision(hint, True, f"{said} and {per}")
        if hint:
            other = f", {_dollars(ratio * UNIT_SCALE[best])} as {best}" if best else ""
            return UnitDecision(best or "units", False, f"{said}, but {per}{other}")
        low, high = ev.quartiles_per_employee or (ratio, ratio)
        spread_ok = best is not None and all(
            SPREAD_BAND[0] <= q * UNIT_SCALE[best] <= SPREAD_BAND[1] for q in (low, high)
        )
        if best is not None and ev.pairs >= CONFIDENT_PAIRS and spread_ok:
            return UnitDecision(best, True, per)
        if best is None:
            low, high = PLAUSIBLE_REVENUE_PER_EMPLOYEE
            why = (
                f"implausible in every unit (real companies make {_dollars(low)}-{_dollars(high)})"
            )
        elif ev.pairs < CONFIDENT_PAIRS:
            why = f"fewer than {CONFIDENT_PAIRS} companies"
        else:
            why = (
                f"but the companies disagree (the middle half make {_dollars(low)}-"
                f"{_dollars(high)} as written)"
            )
        return UnitDecision(best or "units", False, f"{per}: {why}")
    if hint and hint != "units":
        limit = UNIT_LIMITS[hint]
        if ev.largest < limit:
            return UnitDecision(
                hint,
                True,
                f"{said} and every value is below {limit:,.0f} (largest {ev.largest:,.6g}, "
                f"median {ev.median:,.6g}; no employee counts to compare with)",
            )
        return UnitDecision(
            "units",
            False,
            f"{said}, but the largest value {ev.largest:,.6g} would be above $1T as {hint}",
        )
    if ev.largest < 1e4 and ev.median < 1e3:
        return UnitDecision(
            "units",
            False,
            f"values are small for revenue in currency units (median {ev.median:,.6g}, "
            f"largest {ev.largest:,.6g}) and there are no employee counts or unit in the "
            "column name to tell thousands from millions",
        )
    return UnitDecision("units", True, "values are plausible as written")


def infer_amount_unit(column: str, ev: MoneyEvidence) -> UnitDecision:
    """Decide one file's deal amount unit: only a unit in the column name ('Amount (k)',
    'ACV $M') changes it, when every value fits it; else amounts are read as written."""
    hint = unit_in_header(column)
    if hint is None or hint == "units" or ev.values == 0:
        return UnitDecision("units", True, "no unit in the column name")
    limit = UNIT_LIMITS[hint] / 1e3 if hint == "thousands" else UNIT_LIMITS[hint] / 1e2
    if ev.largest < limit:
        return UnitDecision(
            hint,
            True,
            f"the column name says {hint} and every value is below {limit:,.0f} "
            f"(largest {ev.largest:,.6g}, median {ev.median:,.6g})",
        )
    return UnitDecision(
        "units",
        False,
        f"the column name says {hint}, but the largest value {ev.largest:,.6g} is too large "
        f"for a deal in {hint}",
    )
