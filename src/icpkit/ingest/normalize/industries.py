"""Map free-text CRM industry values onto a NAICS-based taxonomy (see docs/taxonomy.md)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Literal

import yaml
from rapidfuzz import fuzz, process

from icpkit.ingest.normalize import Unreadable
from icpkit.ingest.normalize.blanks import is_blank

UNCLASSIFIED = "Unclassified"
"""Sector title of the taxonomy's ``Other`` entry: a value that says "no industry given"."""

FUZZY_THRESHOLD = 88.0
"""Minimum rapidfuzz ``token_sort_ratio`` for a typo match: "Computer Sofware" scores 97,
while unrelated labels that merely share a word stay below it."""

_NON_ALNUM = re.compile(r"[^0-9a-z]+")


@dataclass(frozen=True)
class IndustryEntry:
    """One canonical industry: its label, NAICS code, sector and the aliases that map to it."""

    label: str
    naics: str | None
    sector: str | None
    sector_label: str
    aliases: tuple[str, ...]


@dataclass(frozen=True)
class IndustryMatch:
    """The taxonomy entry a raw value matched, with the match score (100 for exact).

    ``how`` says which rule matched: ``label`` (label or alias), ``code`` (a NAICS, SIC or
    Dynamics 365 number), ``keyword`` (a word of the value, e.g. "Manufacturing") or
    ``fuzzy`` (a typo).
    """

    label: str
    naics: str | None
    sector: str | None
    sector_label: str
    score: float
    exact: bool
    how: str = "label"


@dataclass(frozen=True)
class _Taxonomy:
    """Everything ``industries.yaml`` holds besides the entries, ready for lookups."""

    keywords: tuple[tuple[tuple[str, ...], str], ...]  # (words, label), first match wins
    naics: dict[str, str]  # NAICS prefix -> label, longest prefix wins
    sic: dict[str, str]  # SIC prefix (2-4 digits) -> label, longest prefix wins
    dynamics: dict[str, str]  # Dynamics 365 industrycode option value -> label


def industry_key(raw: str) -> str:
    """Normalize an industry name: ``"Hospital & Health Care"`` → ``"hospital health care"``."""
    text = unicodedata.normalize("NFKD", raw)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()
    words = _NON_ALNUM.sub(" ", text.replace("&", " and ")).split()
    return " ".join(word for word in words if word != "and")


@cache
def _data() -> dict[str, Any]:
    source = resources.files(__package__).joinpath("industries.yaml").read_text("utf-8")
    data: dict[str, Any] = yaml.load(source, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    return data


@cache
def taxonomy() -> list[IndustryEntry]:
    """All taxonomy entries in file order, loaded once from ``industries.yaml``."""
    data = _data()
    sectors = {str(s["code"]): str(s["title"]) for s in data["sectors"]}
    return [
        IndustryEntry(
            label=str(item["label"]),
            naics=None if item.get("naics") is None else str(item["naics"]),
            sector=None if item.get("sector") is None else str(item["sector"]),
            sector_label=UNCLASSIFIED
            if item.get("sector") is None
            else sectors[str(item["sector"])],
            aliases=tuple(str(alias) for alias in item.get("aliases", [])),
        )
        for item in data["industries"]
    ]


@cache
def _rules() -> _Taxonomy:
    """Keyword and code tables of ``industries.yaml``, checked against the entry labels."""
    data = _data()
    labels = {entry.label for entry in taxonomy()}
    keywords: list[tuple[tuple[str, ...], str]] = []
    for rule in data["keywords"]:
        label = str(rule["label"])
        for phrase in rule["words"]:
            keywords.append((_phrase(str(phrase)), label))
    naics = {str(k): str(v) for k, v in data["naics_codes"].items()}
    for entry in taxonomy():
        if entry.naics is not None and entry.naics.isdigit():
            naics.setdefault(entry.naics, entry.label)
    sic = {str(k): str(v) for k, v in data["sic_codes"].items()}
    dynamics = {str(k): str(v) for k, v in data["dynamics_codes"].items()}
    named = {label for _, label in keywords} | {*naics.values(), *sic.values(), *dynamics.values()}
    if named - labels:
        raise ValueError(f"industries.yaml names unknown labels: {sorted(named - labels)}")
    return _Taxonomy(tuple(keywords), naics, sic, dynamics)


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


CodeSystem = Literal["naics", "sic", "dynamics"]

_CODE = re.compile(
    r"(?:(?P<system>naics|sic)(?:\s*code)?\s*[:#]?\s*)?(?P<code>[0-9]{1,6})(?:\.0)?"
    r"(?:\s*[-–—:|,]\s*.*|\s+[a-z].*)?",
    re.IGNORECASE | re.DOTALL,
)
_NAICS_SECTOR_OF = {"31": "31-33", "32": "31-33", "33": "31-33", "44": "44-45", "45": "44-45",
                    "48": "48-49", "49": "48-49"}  # fmt: skip


def match_industry(raw: str, codes: CodeSystem = "naics") -> IndustryMatch | None:
    """Match an industry value to the taxonomy, e.g. ``"COMPUTER_SOFTWARE"`` → Software.

    In order: a NAICS, SIC or Dynamics 365 code number (``codes`` says which system a bare
    number belongs to, see :func:`code_system`); the (normalized) label or an alias; a typo
    of one above :data:`FUZZY_THRESHOLD`; a keyword of the value ("Retail Groceries" →
    Retail Trade). Anything else is Unreadable; :func:`read_industry` keeps it as written.
    """
    if is_blank(raw):
        return None
    text = raw.strip()
    if (code := _CODE.fullmatch(text)) is not None:
        system = code.group("system")
        found = _match_code(code.group("code"), system.casefold() if system else codes)
        if found is not None:
            return found
    key = industry_key(text)
    table = _lookup()
    if entry := table.get(key):
        return _match(entry, 100.0, exact=True)
    if key:
        best = process.extractOne(
            key, _keys(), scorer=fuzz.token_sort_ratio, score_cutoff=FUZZY_THRESHOLD
        )
        if best is not None:
            return _match(table[best[0]], float(best[1]), exact=False, how="fuzzy")
        words = tuple(_stem(w) for w in key.split())
        for phrase, label in _rules().keywords:
            if _contains(words, phrase):
                return _match(_by_label()[label], 100.0, exact=False, how="keyword")
    raise Unreadable(f"no industry in the taxonomy resembles '{text}'")


def code_system(values: Iterable[str]) -> CodeSystem:
    """Whether a column's bare numbers are NAICS, SIC or Dynamics 365 codes (NAICS unless
    another is certain).

    Any 5- or 6-digit number makes the column NAICS. Numbers of one or two digits, all at
    most 33 and some of one digit, are Dynamics 365 ``industrycode`` option values (NAICS has
    no one-digit code). Otherwise a 4-digit number whose first two digits are no NAICS sector
    (``7372``, ``0100``) makes the column SIC: ``5411`` alone is both (legal services in
    NAICS, grocery stores in SIC), and its column decides.
    """
    numbers: list[str] = []
    for value in values:
        found = _CODE.fullmatch(value.strip())
        if found is not None and not found.group("system"):
            numbers.append(found.group("code"))
    if any(len(digits) >= 5 for digits in numbers):
        return "naics"
    if (
        numbers
        and all(len(digits) <= 2 and int(digits) <= 33 for digits in numbers)
        and any(len(digits) == 1 for digits in numbers)
    ):
        return "dynamics"
    if any(len(digits) == 4 and _naics_sector(digits) is None for digits in numbers):
        return "sic"
    return "naics"


def _match_code(digits: str, system: str) -> IndustryMatch | None:
    """The entry a NAICS or SIC number belongs to (longest known prefix), or None."""
    rules = _rules()
    if system == "naics":
        sector = _naics_sector(digits)
        if sector is None:
            return None
        table, fallback = rules.naics, _by_sector().get(sector)
    elif system == "dynamics":
        label = rules.dynamics.get(digits.lstrip("0"))
        return None if label is None else _match(_by_label()[label], 100.0, exact=True, how="code")
    else:
        table, fallback = rules.sic, None
    for length in range(len(digits), 1, -1):
        if (label := table.get(digits[:length])) is not None:
            return _match(_by_label()[label], 100.0, exact=True, how="code")
    return None if fallback is None else _match(fallback, 100.0, exact=True, how="code")


def _naics_sector(digits: str) -> str | None:
    """The NAICS sector code of a NAICS number (``"541511"`` → ``"54"``), None if none."""
    two = digits[:2]
    sector = _NAICS_SECTOR_OF.get(two, two)
    return sector if sector in _by_sector() else None


@cache
def _by_label() -> dict[str, IndustryEntry]:
    return {entry.label: entry for entry in taxonomy()}


@cache
def _by_sector() -> dict[str, IndustryEntry]:
    """Sector code → its sector-level entry."""
    return {e.sector: e for e in taxonomy() if e.sector is not None and e.naics == e.sector}


def _stem(word: str) -> str:
    """A word without a plural ``s`` ("services" → "service"), so keywords match both."""
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def _phrase(text: str) -> tuple[str, ...]:
    """A keyword phrase as stemmed words, a trailing ``*`` kept (``"manufactur*"``)."""
    words: list[str] = []
    for token in text.split():
        parts = [_stem(w) for w in industry_key(token.rstrip("*")).split()]
        if token.endswith("*") and parts:
            parts[-1] = industry_key(token.rstrip("*")).split()[-1] + "*"
        words.extend(parts)
    return tuple(words)


def _contains(words: tuple[str, ...], phrase: tuple[str, ...]) -> bool:
    """True when ``phrase`` occurs in ``words`` as consecutive words; a phrase word ending
    in ``*`` matches any word it begins ("manufactur*" matches "manufacturing")."""
    n = len(phrase)
    for i in range(len(words) - n + 1):
        if all(
            w.startswith(p[:-1]) if p.endswith("*") else w == p
            for w, p in zip(words[i : i + n], phrase, strict=True)
        ):
            return True
    return False


def _match(entry: IndustryEntry, score: float, *, exact: bool, how: str = "label") -> IndustryMatch:
    """Build the public match result for an entry."""
    return IndustryMatch(
        entry.label, entry.naics, entry.sector, entry.sector_label, score, exact, how
    )


def read_industry(
    raw: str, codes: CodeSystem = "naics"
) -> tuple[str, str | None, str | None] | None:
    """The stored industry of a cell: (label, NAICS code, sector title), or None if blank.

    A value the taxonomy does not know is kept as written (spaces tidied) with no NAICS code
    and no sector: it is analyzed as its own value rather than lost, and the empty sector
    marks it as unmapped.
    """
    try:
        match = match_industry(raw, codes)
    except Unreadable:
        return " ".join(raw.split()), None, None
    return None if match is None else (match.label, match.naics, match.sector_label)
