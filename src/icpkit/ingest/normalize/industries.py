"""Map free-text CRM industry values onto a NAICS-based taxonomy (see docs/taxonomy.md)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml
from rapidfuzz import fuzz, process

from icpkit.ingest.normalize import Unreadable
from icpkit.ingest.normalize.blanks import is_blank

FUZZY_THRESHOLD = 88.0
"""Minimum rapidfuzz ``token_sort_ratio`` for a typo match: "Computer Sofware" scores 97,
while unrelated labels that merely share a word stay below it."""

_NON_ALNUM = re.compile(r"[^0-9a-z]+")


@dataclass(frozen=True)
class IndustryEntry:
    """One canonical industry: its label, NAICS code, sector and the aliases that map to it."""

    label: str
    naics: str
    sector: str
    sector_label: str
    aliases: tuple[str, ...]


@dataclass(frozen=True)
class IndustryMatch:
    """The taxonomy entry a raw value matched, with the match score (100 for exact)."""

    label: str
    naics: str
    sector: str
    sector_label: str
    score: float
    exact: bool


def industry_key(raw: str) -> str:
    """Normalize an industry name: ``"Hospital & Health Care"`` → ``"hospital health care"``."""
    text = unicodedata.normalize("NFKD", raw)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()
    words = _NON_ALNUM.sub(" ", text.replace("&", " and ")).split()
    return " ".join(word for word in words if word != "and")


@cache
def taxonomy() -> list[IndustryEntry]:
    """All taxonomy entries in file order, loaded once from ``industries.yaml``."""
    source = resources.files(__package__).joinpath("industries.yaml").read_text("utf-8")
    data: dict[str, Any] = yaml.safe_load(source)
    sectors = {str(s["code"]): str(s["title"]) for s in data["sectors"]}
    return [
        IndustryEntry(
            label=str(item["label"]),
            naics=str(item["naics"]),
            sector=str(item["sector"]),
            sector_label=sectors[str(item["sector"])],
            aliases=tuple(str(alias) for alias in item.get("aliases", [])),
        )
        for item in data["industries"]
    ]


@cache
def _lookup() -> dict[str, IndustryEntry]:
    """Normalized label/alias → entry; a key claimed by two entries is a data error."""
    table: dict[str, IndustryEntry] = {}
    for entry in taxonomy():
        for name in (entry.label, *entry.aliases):
            key = industry_key(name)
            owner = table.setdefault(key, entry)
            if owner is not entry:
                raise ValueError(f"industry alias {name!r} maps to {owner.label} and {entry.label}")
    return table


@cache
def _keys() -> tuple[str, ...]:
    """The lookup keys as a tuple, so fuzzy matching does not rebuild them per call."""
    return tuple(_lookup())


def match_industry(raw: str) -> IndustryMatch | None:
    """Match an industry value to the taxonomy, e.g. ``"COMPUTER_SOFTWARE"`` → Software.

    Exact (normalized) label/alias lookup first, then a fuzzy match for typos above
    :data:`FUZZY_THRESHOLD`; anything else is Unreadable (the caller keeps the raw value).
    """
    if is_blank(raw):
        return None
    key = industry_key(raw)
    table = _lookup()
    if entry := table.get(key):
        return _match(entry, 100.0, exact=True)
    if key:
        best = process.extractOne(
            key, _keys(), scorer=fuzz.token_sort_ratio, score_cutoff=FUZZY_THRESHOLD
        )
        if best is not None:
            return _match(table[best[0]], float(best[1]), exact=False)
    raise Unreadable(f"no industry in the taxonomy resembles '{raw.strip()}'")


def _match(entry: IndustryEntry, score: float, *, exact: bool) -> IndustryMatch:
    """Build the public match result for an entry."""
    return IndustryMatch(entry.label, entry.naics, entry.sector, entry.sector_label, score, exact)
