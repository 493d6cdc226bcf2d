"""Turn country names, codes, locations and common misspellings into ISO 3166-1 alpha-2 codes.

Names come from pycountry (codes, official and common names) and ``countries.yaml``
(abbreviations, names in other languages and scripts, major cities). A US state or
Canadian province names its country; "City, Country" locations are read from the right;
a misspelt name is matched by similarity above a threshold. See docs/ingest.md.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from functools import cache, lru_cache
from importlib import resources
from typing import Any

import pycountry
import yaml
from rapidfuzz import process
from rapidfuzz.distance import OSA

from icpkit.ingest.normalize import Unreadable
from icpkit.ingest.normalize.blanks import is_blank

MAX_TYPOS = ((5, 1), (9, 2))
"""How many typos (insertions, deletions, substitutions, swaps of neighbours) a name of at
least N letters may carry: "Germny", "Frnace" (1), "Untied Staets" (2). Names shorter than
5 letters are never corrected, so "Mars" stays unknown; a misspelling as close to two
countries ("Nigera": Niger, Nigeria) stays unknown too."""

_DROPPED = re.compile(r"[.'’]")
_NON_WORD = re.compile(r"[\W_]+")
_PARTS = re.compile(r"\s*[,;/|]\s*|\s+-\s+|\s*\(\s*|\s*\)\s*")


def _key(raw: str) -> str:
    """Normalize a name for lookup: ``"U.S.A."`` → ``"usa"``, ``"Österreich"`` → ``"osterreich"``.

    Letters of every script are kept (``"Россия"``, ``"中国"``); accents are dropped."""
    text = unicodedata.normalize("NFKD", raw)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()
    text = _DROPPED.sub("", text.replace("&", " and "))
    return " ".join(_NON_WORD.sub(" ", text).split())


@cache
def _data() -> dict[str, Any]:
    source = resources.files(__package__).joinpath("countries.yaml").read_text("utf-8")
    data: dict[str, Any] = yaml.load(source, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    return data


@cache
def _table() -> dict[str, str]:
    """Normalized code/name → alpha-2 over all pycountry countries, then the aliases."""
    table: dict[str, str] = {}
    for country in pycountry.countries:
        for attr in ("alpha_2", "alpha_3", "name", "official_name", "common_name"):
            value = getattr(country, attr, None)
            if value:
                table.setdefault(_key(value), country.alpha_2)
    for code, names in _data()["aliases"].items():
        for name in names:
            table[_key(str(name))] = str(code)
    return table


@cache
def _cities() -> dict[str, str]:
    return {_key(str(n)): str(code) for code, names in _data()["cities"].items() for n in names}


@cache
def _subdivisions() -> dict[str, str]:
    """Normalized US state / Canadian province name or code → its country (US or CA)."""
    table: dict[str, str] = {}
    for country, types in (("US", {"State", "District"}), ("CA", {"Province", "Territory"})):
        subs = pycountry.subdivisions.get(country_code=country)  # type: ignore[no-untyped-call]
        for sub in subs or ():
            if sub.type in types:
                table[_key(sub.code.split("-", 1)[1])] = country
                table[_key(sub.name)] = country
    table[_key("Washington DC")] = table[_key("Washington D.C.")] = "US"
    table[_key("Quebec")] = "CA"
    return table


@lru_cache(maxsize=4096)
def _lookup(key: str) -> str | None:
    """Alpha-2 for a normalized country key, also trying without a leading "the"."""
    table = _table()
    return table.get(key) or table.get(key.removeprefix("the "))


def _fuzzy(key: str) -> str | None:
    """Alpha-2 of the one country whose name is within :data:`MAX_TYPOS` of ``key``."""
    allowed = max((typos for length, typos in MAX_TYPOS if len(key) >= length), default=0)
    if not allowed:
        return None
    names, codes = _fuzzy_choices()
    found = process.extract(key, names, scorer=OSA.distance, score_cutoff=allowed, limit=8)
    if not found:
        return None
    nearest = min(distance for _, distance, _ in found)
    countries = {codes[index] for _, distance, index in found if distance == nearest}
    return countries.pop() if len(countries) == 1 else None


@cache
def _fuzzy_choices() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Names (not codes) that a misspelling may be matched against, and their countries."""
    shortest = MAX_TYPOS[0][0]
    table = {k: v for k, v in _subdivisions().items() if len(k) >= shortest}
    table.update({k: v for k, v in _table().items() if len(k) >= shortest})
    return tuple(table), tuple(table.values())


def _read(key: str, subdivisions: bool) -> str | None:
    """Alpha-2 of one normalized name or code; ``subdivisions`` settles CA, DE, IN, Georgia."""
    sub = _subdivisions().get(key)
    if subdivisions and sub is not None:
        return sub
    return _lookup(key) or sub or _cities().get(key)


def country_code(raw: str, subdivisions: bool | None = None) -> str | None:
    """ISO 3166-1 alpha-2 code of a country, location or code: ``"U.K."`` → ``"GB"``,
    ``"Berlin, Germany"`` → ``"DE"``, ``"Austin, TX"`` → ``"US"``, ``"Philipines"`` → ``"PH"``.

    A code that is both a US state and a country (``CA``, ``DE``, ``IN``) is a state when
    ``subdivisions`` is True and a country when False; left None (one value, no column), a
    bare code is a country and the code after a city ("Dover, DE") a state. The null token
    ``"NA"`` is read as blank, so Namibia must be written ``"NAM"`` or ``"Namibia"``.

    >>> country_code("Deutschland"), country_code("Austin, TX"), country_code("Untied States")
    ('DE', 'US', 'US')
    >>> country_code("DE"), country_code("DE", subdivisions=True)
    ('DE', 'US')
    """
    if is_blank(raw):
        return None
    text = raw.strip()
    whole = _key(text)
    code = _read(whole, bool(subdivisions))
    if code is not None:
        return code
    parts = [_key(p) for p in _PARTS.split(text) if p and _key(p)]
    located = len(parts) > 1
    if located and subdivisions is None:
        # "Tel Aviv, IL": a known city settles a code that is a state and a country.
        cities = {_cities().get(p) for p in parts[:-1]} - {None}
        tail = {_lookup(parts[-1]), _subdivisions().get(parts[-1])} - {None}
        if len(cities & tail) == 1:
            return (cities & tail).pop()
    for part in reversed(parts):
        code = _read(part, located if subdivisions is None else subdivisions)
        if code is not None:
            return code
    for part in (whole, *reversed(parts)):
        code = _fuzzy(part)
        if code is not None:
            return code
    raise Unreadable(f"unknown country '{text}'")


def prefers_subdivisions(values: Iterable[str]) -> bool:
    """Whether a column's ambiguous codes (``CA``, ``DE``, ``IN``, ``Georgia``) are US
    states or Canadian provinces: True when its values (or their last part, as in
    "Austin, TX") name more distinct states and provinces than countries, counting only the
    values that name one kind alone."""
    states = countries = 0
    for value in values:
        parts = [_key(p) for p in _PARTS.split(value.strip()) if p and _key(p)]
        if not parts:
            continue
        last = parts[-1]
        is_state = last in _subdivisions()
        is_country = _lookup(last) is not None
        if is_state and not is_country:
            states += 1
        elif is_country and not is_state:
            countries += 1
    return states > countries


def country_reader(values: Iterable[str]) -> Callable[[str], str | None]:
    """The country normalizer for one column, its ambiguous codes settled by the column's
    other values (see :func:`prefers_subdivisions`)."""
    subdivisions = prefers_subdivisions(values)
    return lambda raw: country_code(raw, subdivisions)
