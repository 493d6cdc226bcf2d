"""Turn country names, codes and common nicknames into ISO 3166-1 alpha-2 codes."""

from __future__ import annotations

import re
import unicodedata
from functools import cache, lru_cache

import pycountry

from icpkit.ingest.normalize import Unreadable
from icpkit.ingest.normalize.blanks import is_blank

# Names people and CRMs use that pycountry does not know (or knows under a formal name).
COUNTRY_ALIASES: dict[str, str] = {
    "usa": "US", "us": "US", "u s": "US", "u s a": "US", "united states": "US",
    "united states of america": "US", "america": "US", "the united states": "US",
    "uk": "GB", "u k": "GB", "england": "GB", "scotland": "GB", "wales": "GB",
    "northern ireland": "GB", "great britain": "GB", "britain": "GB", "united kingdom": "GB",
    "the united kingdom": "GB",
    "deutschland": "DE", "holland": "NL", "the netherlands": "NL", "nederland": "NL",
    "south korea": "KR", "korea": "KR", "republic of korea": "KR", "north korea": "KP",
    "russia": "RU", "czech republic": "CZ", "czechia": "CZ", "uae": "AE", "u a e": "AE",
    "emirates": "AE", "turkey": "TR", "turkiye": "TR", "vietnam": "VN", "iran": "IR",
    "syria": "SY", "laos": "LA", "bolivia": "BO", "venezuela": "VE", "tanzania": "TZ",
    "moldova": "MD", "taiwan": "TW", "macedonia": "MK", "ivory coast": "CI", "burma": "MM",
    "swaziland": "SZ", "cape verde": "CV", "vatican": "VA", "palestine": "PS",
    "brasil": "BR", "espana": "ES", "italia": "IT", "schweiz": "CH", "suisse": "CH",
    "osterreich": "AT", "sverige": "SE", "norge": "NO", "danmark": "DK", "belgique": "BE",
    "belgie": "BE", "polska": "PL", "mexico": "MX", "hong kong": "HK", "macau": "MO",
    "the philippines": "PH", "philippines": "PH", "the bahamas": "BS", "the gambia": "GM",
}  # fmt: skip

_DROPPED = re.compile(r"[.'’]")
_NON_ALNUM = re.compile(r"[^0-9a-z]+")


def _key(raw: str) -> str:
    """Normalize a country name for lookup: ``"U.S.A."`` → ``"usa"``."""
    text = unicodedata.normalize("NFKD", raw)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()
    text = _DROPPED.sub("", text.replace("&", " and "))
    return " ".join(_NON_ALNUM.sub(" ", text).split())


@cache
def _table() -> dict[str, str]:
    """Normalized code/name → alpha-2 over all pycountry countries, then the alias table."""
    table: dict[str, str] = {}
    for country in pycountry.countries:
        for attr in ("alpha_2", "alpha_3", "name", "official_name", "common_name"):
            value = getattr(country, attr, None)
            if value:
                table.setdefault(_key(value), country.alpha_2)
    table.update({_key(alias): code for alias, code in COUNTRY_ALIASES.items()})
    return table


@lru_cache(maxsize=4096)
def _lookup(key: str) -> str | None:
    """Alpha-2 for a normalized key, also trying without a leading "the"."""
    table = _table()
    return table.get(key) or table.get(key.removeprefix("the "))


def country_code(raw: str) -> str | None:
    """ISO 3166-1 alpha-2 code of a country name or code, e.g. ``"U.K."`` → ``"GB"``.

    No fuzzy matching: a wrong country is worse than an unreadable one. Note that the null
    token ``"NA"`` is read as blank, so Namibia must be written ``"NAM"`` or ``"Namibia"``.
    """
    if is_blank(raw):
        return None
    code = _lookup(_key(raw))
    if code is None:
        raise Unreadable(f"unknown country '{raw.strip()}'")
    return code
