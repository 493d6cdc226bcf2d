"""Parse dates and timestamps, deciding day-first vs month-first once per column.

Call :func:`infer_date_order` on all distinct values of a column, then :func:`parse_date`
on each value with the inferred ``order``. Results are naive datetimes in UTC.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal

from icpkit.ingest.normalize import Unreadable
from icpkit.ingest.normalize.blanks import is_blank

MIN_YEAR, MAX_YEAR = 1900, 2100
EXCEL_EPOCH = datetime(1899, 12, 30)
"""Excel's day zero (1900 date system, including its phantom 1900-02-29)."""
SERIAL_RANGE = (29221, 73051)
"""Excel serials accepted as dates: 1980-01-01 through 2100-01-01."""
TWO_DIGIT_PIVOT = 69
"""Two-digit years below this are 20xx, the rest 19xx (the POSIX ``%y`` rule)."""


class DateOrder(StrEnum):
    """How a column's day/month/year fields are ordered."""

    ISO = "iso"
    """Only unambiguous values (year-first, month names, epochs): nothing to decide."""
    MDY = "mdy"
    """Numeric dates are month-first, as in the US: 03/05/2024 is March 5."""
    DMY = "dmy"
    """Numeric dates are day-first, as in most of the world: 03/05/2024 is May 3."""
    SERIAL = "serial"
    """Bare numbers are Excel serial day counts: 45356 is 2024-03-05."""


@dataclass(frozen=True)
class DateInference:
    """The order chosen for a column, whether it was a guess, and why (shown to the user)."""

    order: DateOrder
    ambiguous: bool
    explanation: str
    inconsistent: bool = False
    dotted: DateOrder | None = None
    """Order of the column's dotted dates (05.03.2024) when it differs from ``order``: dots
    are day-first by convention, whatever the column's slash dates say."""


_MONTHS: dict[str, int] = {}
for _number in range(1, 13):
    _MONTHS[calendar.month_name[_number].lower()] = _number
    _MONTHS[calendar.month_abbr[_number].lower()] = _number
_MONTHS["sept"] = 9

_TIME = (
    r"(?:(?:\s*T\s*|\s*,?\s+)(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:[.,](?P<f>\d{1,9}))?)?"
    r"\s*(?P<ampm>[AaPp]\.?[Mm]\.?)?)?"
    r"\s*(?P<tz>Z|UTC|GMT|[+-]\d{2}:?\d{2}|[+-]\d{2})?"
)
_WEEKDAY = r"(?:(?:mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun)[a-z]*\.?,?\s+)?"
_YMD = re.compile(rf"^(?P<y>\d{{4}})(?P<sep>[-/.])(?P<m>\d{{1,2}})(?P=sep)(?P<d>\d{{1,2}}){_TIME}$")
_NUMERIC = re.compile(
    rf"^(?P<a>\d{{1,2}})(?P<sep>[-/.])(?P<b>\d{{1,2}})(?P=sep)(?P<y>\d{{4}}|\d{{2}}){_TIME}$"
)
_NAMED_MONTH_FIRST = re.compile(
    rf"^{_WEEKDAY}(?P<mon>[a-z]{{3,9}})\.?[\s-]+(?P<d>\d{{1,2}})(?:st|nd|rd|th)?,?[\s-]+"
    rf"(?P<y>\d{{4}}){_TIME}$",
    re.I,
)
_NAMED_DAY_FIRST = re.compile(
    rf"^{_WEEKDAY}(?P<d>\d{{1,2}})(?:st|nd|rd|th)?[\s-]+(?P<mon>[a-z]{{3,9}})\.?,?[\s-]+"
    rf"(?P<y>\d{{4}}|\d{{2}}){_TIME}$",
    re.I,
)
_COMPACT = re.compile(r"^(?P<y>(?:19|20|21)\d{2})(?P<m>\d{2})(?P<d>\d{2})$")
_BARE_NUMBER = re.compile(r"^\d+(?:\.\d+)?$")


def parse_date(
    raw: str, order: DateOrder | str = DateOrder.MDY, *, dotted: DateOrder | str | None = None
) -> datetime | None:
    """Parse a date or timestamp into a naive UTC datetime, e.g. ``"05.03.2024"`` → 2024-03-05.

    ``order`` decides numeric day/month dates such as ``"03/05/2024"``; ``dotted`` (default:
    ``order``) decides those written with dots. Year-first, month-name and epoch values parse
    under any order. Aware inputs are converted to UTC; naive ones are taken as UTC. Bare
    numbers are Excel serials only when ``order`` is SERIAL.

    >>> parse_date("05.03.2024", "dmy")
    datetime.datetime(2024, 3, 5, 0, 0)
    >>> parse_date("03/05/2024", "mdy")
    datetime.datetime(2024, 3, 5, 0, 0)
    >>> parse_date("2024-03-05T10:22:00+02:00")
    datetime.datetime(2024, 3, 5, 8, 22)
    """
    if is_blank(raw):
        return None
    order = DateOrder(order)
    text = raw.strip()
    if len(text) >= 10 and text[4] == "-" and text[:4].isdigit() and text[5:7].isdigit():
        fast = _iso_fast(text)
        if fast is not None:
            return fast
    if _BARE_NUMBER.match(text):
        return _parse_number(text, order)
    if match := _YMD.match(text):
        return _build(raw, match, int(match["y"]), int(match["m"]), int(match["d"]))
    if match := _NUMERIC.match(text):
        own = DateOrder(dotted) if dotted is not None and match["sep"] == "." else order
        month, day = _day_month(raw, match, own)
        return _build(raw, match, _full_year(match["y"]), month, day)
    for pattern in (_NAMED_MONTH_FIRST, _NAMED_DAY_FIRST):
        if match := pattern.match(text):
            named = _MONTHS.get(match["mon"].lower())
            if named is None:
                raise Unreadable(f"unknown month name '{match['mon']}' in '{text}'")
            return _build(raw, match, _full_year(match["y"]), named, int(match["d"]))
    raise Unreadable(f"not a recognizable date: '{text}'")


def _parse_number(text: str, order: DateOrder) -> datetime:
    """Read a bare number as epoch milliseconds/seconds, YYYYMMDD, or an Excel serial."""
    digits = text.partition(".")[0]
    if len(digits) in (10, 13) and "." not in text:
        seconds = int(text) / (1000 if len(digits) == 13 else 1)
        moment = datetime(1970, 1, 1) + timedelta(seconds=seconds)
        return _check_year(moment, text)
    if match := _COMPACT.match(text):
        return _checked_date(text, int(match["y"]), int(match["m"]), int(match["d"]))
    if order is not DateOrder.SERIAL:
        raise Unreadable(
            f"bare number '{text}' in a column of text dates (Excel serials are read only "
            "in columns made of them)"
        )
    serial = float(text)
    if not SERIAL_RANGE[0] <= serial <= SERIAL_RANGE[1]:
        raise Unreadable(f"number {text} is outside the Excel serial range for 1980-2100")
    moment = EXCEL_EPOCH + timedelta(days=serial)
    return moment.replace(microsecond=0) + timedelta(seconds=round(moment.microsecond / 1e6))


def _day_month(raw: str, match: re.Match[str], order: DateOrder) -> tuple[int, int]:
    """Return (month, day) of a numeric date under the column's order, naming misfits."""
    a, b = int(match["a"]), int(match["b"])
    text = raw.strip()
    if a > 12 and b > 12:
        raise Unreadable(f"impossible date '{text}': neither {a} nor {b} is a month")
    effective = order
    if order in (DateOrder.ISO, DateOrder.SERIAL):
        if match["sep"] == ".":
            effective = DateOrder.DMY
        elif a > 12 or b > 12:
            effective = DateOrder.DMY if a > 12 else DateOrder.MDY
        else:
            raise Unreadable(
                f"ambiguous day/month date '{text}' in a column without other day/month dates"
            )
    if effective is DateOrder.MDY:
        if a > 12:
            raise Unreadable(f"day-first date '{text}' in a month-first column")
        return a, b
    if b > 12:
        raise Unreadable(f"month-first date '{text}' in a day-first column")
    return b, a


def _full_year(text: str) -> int:
    """Expand a two-digit year with the POSIX pivot: ``24`` → 2024, ``85`` → 1985."""
    year = int(text)
    if len(text) == 2:
        year += 2000 if year < TWO_DIGIT_PIVOT else 1900
    return year


def _checked_date(text: str, year: int, month: int, day: int) -> datetime:
    """Build a midnight datetime, explaining impossible calendar dates."""
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise Unreadable(f"year {year} is outside {MIN_YEAR}-{MAX_YEAR} in '{text}'")
    if not 1 <= month <= 12:
        raise Unreadable(f"impossible date '{text}': there is no month {month}")
    last = calendar.monthrange(year, month)[1]
    if not 1 <= day <= last:
        raise Unreadable(
            f"impossible date '{text}': {calendar.month_name[month]} {year} has no day {day}"
        )
    return datetime(year, month, day)


def _check_year(moment: datetime, text: str) -> datetime:
    """Reject timestamps whose year is outside the supported window."""
    if not MIN_YEAR <= moment.year <= MAX_YEAR:
        raise Unreadable(f"year {moment.year} is outside {MIN_YEAR}-{MAX_YEAR} in '{text}'")
    return moment


def _build(raw: str, match: re.Match[str], year: int, month: int, day: int) -> datetime:
    """Combine the date fields with the optional time and offset groups into naive UTC."""
    text = raw.strip()
    moment = _checked_date(text, year, month, day)
    if match["H"] is not None:
        hour, minute = int(match["H"]), int(match["M"])
        second = int(match["S"] or 0)
        micro = int((match["f"] or "0")[:6].ljust(6, "0"))
        if ampm := match["ampm"]:
            if not 1 <= hour <= 12:
                raise Unreadable(f"impossible time '{text}': {hour} o'clock with AM/PM")
            hour = hour % 12 + (12 if ampm[0].lower() == "p" else 0)
        if hour > 23 or minute > 59 or second > 59:
            raise Unreadable(f"impossible time in '{text}'")
        moment = moment.replace(hour=hour, minute=minute, second=second, microsecond=micro)
    if tz := match["tz"]:
        moment = (moment - _offset(tz, text)).replace(tzinfo=None)
    return _check_year(moment, text)


def _offset(tz: str, text: str) -> timedelta:
    """Offset from UTC of a zone designator such as ``Z``, ``+02:00`` or ``-0500``."""
    if tz.upper() in ("Z", "UTC", "GMT"):
        return timedelta(0)
    digits = tz[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:] or 0)
    if hours > 14 or minutes > 59:
        raise Unreadable(f"impossible UTC offset '{tz}' in '{text}'")
    offset = timedelta(hours=hours, minutes=minutes)
    return -offset if tz[0] == "-" else offset


def _iso_fast(text: str) -> datetime | None:
    """ISO 8601 through the C parser (CRM exports are mostly ISO); None to take the slow path."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    if value.tzinfo is not None:
        offset = value.utcoffset()
        value = value.replace(tzinfo=None) - (offset or timedelta(0))
    return value if MIN_YEAR <= value.year <= MAX_YEAR else None


@dataclass
class _Counts:
    """What a set of date values says about their day/month order."""

    day_first: int = 0
    month_first: int = 0
    undecided: int = 0
    dotted: int = 0
    serials: int = 0
    other: int = 0

    @property
    def decided(self) -> bool:
        return bool(self.day_first or self.month_first)


def _counts(texts: Iterable[str], others: int = 0) -> _Counts:
    counts = _Counts(other=others)
    for text in texts:
        if match := _NUMERIC.match(text):
            a, b = int(match["a"]), int(match["b"])
            if a > 12 and b <= 12:
                counts.day_first += 1
            elif b > 12 and a <= 12:
                counts.month_first += 1
            elif a <= 12 and b <= 12:
                counts.undecided += 1
                counts.dotted += match["sep"] == "."
        elif _BARE_NUMBER.match(text) and len(text.partition(".")[0]) == 5:
            counts.serials += 1
        else:
            counts.other += 1
    return counts


def infer_date_order(
    values: Iterable[str], default: Literal["mdy", "dmy"] = "mdy", *, iso_dates: int = 0
) -> DateInference:
    """Decide a column's date order from all its values, e.g. ``["25/03/2024"]`` → DMY.

    A first field above 12 means day-first, a second field above 12 means month-first;
    evidence both ways marks the column inconsistent and the majority wins (cells of the
    minority then fail to parse with a reason). Without evidence, dotted dates are day-first
    by convention and other numeric dates fall back to ``default`` with ``ambiguous=True``.
    Bare numbers make the column SERIAL only when they are the majority of its dates.

    Dotted dates (05.03.2024) follow only their own evidence: in a column that also holds
    slash dates, they stay day-first unless a dotted date has a second part above 12.

    ``iso_dates`` counts more values of the column, year-first dates read elsewhere (in
    SQL), as if they were passed: they weigh against serial numbers and nothing else.

    >>> infer_date_order(["01/02/2024", "25/03/2024"]).order
    <DateOrder.DMY: 'dmy'>
    >>> infer_date_order(["01/02/2024", "03/04/2024"]).ambiguous
    True
    """
    texts = [raw.strip() for raw in values if not is_blank(raw)]
    dotted = [t for t in texts if (m := _NUMERIC.match(t)) and m["sep"] == "."]
    rest = [t for t in texts if not ((m := _NUMERIC.match(t)) and m["sep"] == ".")]
    everything = _counts(texts, iso_dates)
    if not dotted or not any(_NUMERIC.match(t) for t in rest):
        return _decide(everything, default)
    own = _counts(rest, iso_dates)
    main = _decide(own if own.decided else everything, default)
    dots = _decide(_counts(dotted), default)
    if dots.order == main.order:
        return main
    how = "day-first" if dots.order is DateOrder.DMY else "month-first"
    why = (
        "as dotted dates are written by convention"
        if dots.order is DateOrder.DMY and not dots.inconsistent
        else "as their own second parts above 12 show"
    )
    return DateInference(
        main.order,
        ambiguous=main.ambiguous,
        inconsistent=main.inconsistent,
        dotted=dots.order,
        explanation=(
            f"{main.explanation} The column's {len(dotted)} dotted dates (05.03.2024) are read "
            f"{how}, {why}."
        ),
    )


def _decide(counts: _Counts, default: Literal["mdy", "dmy"]) -> DateInference:
    """The order ``counts`` show (see :func:`infer_date_order`)."""
    day_first, month_first, undecided = counts.day_first, counts.month_first, counts.undecided
    if day_first and month_first:
        order = DateOrder.DMY if day_first > month_first else DateOrder.MDY
        if day_first == month_first:
            order = DateOrder(default)
        return DateInference(
            order,
            ambiguous=False,
            inconsistent=True,
            explanation=(
                f"Inconsistent column: {day_first} dates are day-first (first part above 12) and "
                f"{month_first} are month-first (second part above 12); reading it as "
                f"{order.value.upper()} and rejecting the dates that contradict it."
            ),
        )
    if day_first:
        return DateInference(
            DateOrder.DMY,
            ambiguous=False,
            explanation=f"Day-first: {day_first} dates have a first part above 12.",
        )
    if month_first:
        return DateInference(
            DateOrder.MDY,
            ambiguous=False,
            explanation=f"Month-first: {month_first} dates have a second part above 12.",
        )
    if undecided:
        if counts.dotted * 2 > undecided:
            return DateInference(
                DateOrder.DMY,
                ambiguous=False,
                explanation="Day-first: dates are written with dots (05.03.2024), as day-first.",
            )
        return DateInference(
            DateOrder(default),
            ambiguous=True,
            explanation=(
                f"Ambiguous: none of {undecided} numeric dates has a part above 12, so the column "
                f"is read as {default.upper()} by default; confirm or override it."
            ),
        )
    if counts.serials and counts.serials >= counts.other:
        return DateInference(
            DateOrder.SERIAL,
            ambiguous=False,
            explanation=(
                f"Excel serial day numbers: {counts.serials} values are 5-digit day counts."
            ),
        )
    return DateInference(
        DateOrder.ISO,
        ambiguous=False,
        explanation="Unambiguous: no day/month numeric dates (year-first, month names or epochs).",
    )
