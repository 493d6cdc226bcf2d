"""Build a matching key from a company name so spelling variants of one company agree."""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable

from icpkit.ingest.normalize import Unreadable
from icpkit.ingest.normalize.blanks import is_blank

LEGAL_SUFFIXES: frozenset[str] = frozenset(
    {
        "inc", "incorporated", "llc", "llp", "lp", "ltd", "limited", "gmbh", "ag", "kg", "sa",
        "sas", "sarl", "bv", "nv", "plc", "corp", "corporation", "co", "company", "pty", "oy",
        "ab", "srl", "spa", "kk", "pvt", "private",
    }
)  # fmt: skip
"""Legal-form words dropped from the end of a name ("pty ltd" is two of them)."""

_DROPPED = re.compile(r"[.'’]")
_NON_WORD = re.compile(r"[\W_]+")


@functools.lru_cache(maxsize=1 << 20)
def company_name_key(raw: str) -> str | None:
    """Matching key for a company name: ``"Acme, Inc."``, ``"ACME Inc"``, ``"Acme"`` → ``"acme"``.

    Accents, case, punctuation and trailing legal forms go; ``&`` reads as "and"; a leading
    "The" is dropped too ("The Home Depot" and "Home Depot" are one company in CRM data).
    """
    if is_blank(raw):
        return None
    if raw.isascii():
        text = raw.lower()
    else:
        text = unicodedata.normalize("NFKD", raw)
        text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()
    text = _DROPPED.sub("", text.replace("&", " and "))
    words = _NON_WORD.sub(" ", text).split()
    if not words:
        raise Unreadable(f"no letters or digits in company name '{raw.strip()}'")
    while words and words[-1] in LEGAL_SUFFIXES:
        words.pop()
        if len(words) > 1 and words[-1] == "and":
            words.pop()  # "Smith & Co" loses the "and" with the "Co"
    if len(words) > 1 and words[0] == "the":
        words.pop(0)
    if not words:
        raise Unreadable(f"no company name left in '{raw.strip()}' after removing legal forms")
    return " ".join(words)


def name_keys(names: Iterable[str]) -> list[str | None]:
    """The matching key of each name, ``None`` for a name with no key (all punctuation, or
    nothing left after the legal forms): the keys a load joins back to its rows.

    >>> name_keys(["Acme, Inc.", "--", "Inc."])
    ['acme', None, None]
    """
    keys: list[str | None] = []
    for name in names:
        try:
            keys.append(company_name_key(name))
        except Unreadable:
            keys.append(None)
    return keys
