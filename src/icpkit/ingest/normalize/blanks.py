"""Recognize blank cells: empty text and the null tokens that CRM and spreadsheet exports emit."""

from __future__ import annotations

NULL_TOKENS: frozenset[str] = frozenset(
    {"n/a", "na", "null", "none", "-", "--", "#n/a", "nan", "nil", "(blank)", "#null!"}
)
"""Lower-cased tokens that mean "no value" (e.g. Excel's ``#N/A``, pandas' ``nan``)."""


def is_blank(raw: str | None) -> bool:
    """Return True when a cell holds no value, e.g. ``""``, ``"  "``, ``"N/A"``, ``"#N/A"``."""
    if raw is None:
        return True
    text = raw.strip()
    return not text or text.lower() in NULL_TOKENS
