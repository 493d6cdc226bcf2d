"""The fields enrichment fills, and how each observed value becomes the store's canonical one.

Providers write values as their sources do ('51-200', 'Deutschland', 'NAICS 511210'); the
runner reads each with the same normalizers ingest uses, so an enriched account is analyzed
exactly as one whose export carried the value. A value that cannot be read is kept with its
problem (never dropped) and wins no field.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from icpkit.ingest.normalize import Unreadable
from icpkit.ingest.normalize.countries import country_code
from icpkit.ingest.normalize.employees import parse_employees
from icpkit.ingest.normalize.industries import read_industry
from icpkit.ingest.normalize.money import parse_money

# Account columns a field fills: the field's column first, then companions it sets too.
COLUMNS: dict[str, tuple[str, ...]] = {
    "employees": ("employees", "employees_low", "employees_high"),
    "revenue": ("revenue",),
    "industry": ("industry", "industry_naics", "industry_sector"),
    "country": ("country",),
    "city": ("city",),
    "founded_year": ("founded_year",),
    "funding_stage": ("funding_stage",),
    "total_funding": ("total_funding",),
}
"""Fields that fill an account column (one value per account: the waterfall picks it)."""

FACTS = frozenset(
    {"name", "title", "description", "linkedin_url", "twitter_url", "language", "state"}
)
"""Fields kept as observations only (shown with their provenance, not analyzed)."""

TECH = "tech"
SIGNAL = "signal:"
ANSWER = "answer:"
EXTRA = "extra:"


@dataclass(frozen=True)
class Canonical:
    """An observed value read: the field's value as stored (text) and its companions'
    (``employees_low`` ...), or the problem that kept it from being read."""

    value: str | None
    companions: tuple[object, ...] = ()
    problem: str | None = None


def kind(field: str) -> str:
    """'column', 'tech', 'signal', 'answer', 'extra', 'fact', or 'unknown'."""
    if field in COLUMNS:
        return "column"
    if field == TECH:
        return "tech"
    for prefix, name in ((SIGNAL, "signal"), (ANSWER, "answer"), (EXTRA, "extra")):
        if field.startswith(prefix) and len(field) > len(prefix):
            return name
    return "fact" if field in FACTS else "unknown"


def read(field: str, raw: str, today: dt.date | None = None) -> Canonical:
    """The canonical form of ``raw`` observed for ``field``.

    >>> read("employees", "51-200").value, read("country", "Deutschland").value
    ('126', 'DE')
    >>> read("founded_year", "in 1850 BC").problem
    "no year in 'in 1850 BC'"
    """
    text = " ".join(str(raw).split())
    if not text:
        return Canonical(None, problem="empty value")
    try:
        return _read(field, text, today or dt.date.today())
    except Unreadable as exc:
        return Canonical(None, problem=str(exc))


def _read(field: str, text: str, today: dt.date) -> Canonical:
    if field == "employees":
        count = parse_employees(text)
        if count is None:
            raise Unreadable(f"no head count in '{text}'")
        return Canonical(str(count.value), (count.low, count.high))
    if field in ("revenue", "total_funding"):
        money = parse_money(text)
        if money is None or money.amount < 0:
            raise Unreadable(f"no amount in '{text}'")
        return Canonical(repr(float(money.amount)))
    if field == "industry":
        found = read_industry(text)
        if found is None:
            raise Unreadable(f"no industry in '{text}'")
        label, naics, sector = found
        return Canonical(label, (naics, sector))
    if field == "country":
        code = country_code(text)
        if code is None:
            raise Unreadable(f"no country in '{text}'")
        return Canonical(code)
    if field == "founded_year":
        year = _year(text)
        if year is None or not 1600 <= year <= today.year:
            raise Unreadable(f"no year in '{text}'")
        return Canonical(str(year))
    if field == TECH or kind(field) in ("signal", "answer", "extra", "fact", "column"):
        return Canonical(text)
    raise Unreadable(f"icpkit knows no field '{field}'")


def _year(text: str) -> int | None:
    import re

    found = re.fullmatch(r"\s*(\d{4})(?:-\d{2}(?:-\d{2})?)?(?:T.*)?\s*", text)
    return int(found.group(1)) if found else None
