"""The company fields a push writes, the same in every CRM, and how a value read back from
a CRM is compared with the one written."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from icpkit.crm.base import FieldSpec
from icpkit.vocabulary import ROUTES, TIERS

FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("icp_fit", "ICP fit", "number", "Fit with the Ideal Customer Profile, 0-100."),
    FieldSpec("icp_intent", "ICP intent", "number", "Buying intent from recent signals, 0-100."),
    FieldSpec("icp_score", "ICP score", "number", "Fit and intent combined, 0-100."),
    FieldSpec("icp_tier", "ICP tier", "enumeration", "Tier A (best) to D.", TIERS),
    FieldSpec("icp_route", "ICP route", "enumeration", "What to do with the account.", ROUTES),
    FieldSpec("icp_reasons", "ICP reasons", "string", "The three strongest reasons."),
    FieldSpec("icp_version", "ICP version", "number", "The ICP version that scored it."),
)
"""The company fields a push writes (created when missing), the same in every CRM."""
TOP_REASONS = 3
"""Reasons written into ``icp_reasons``: the strongest ones."""
FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in FIELDS)


def values_of(row: Mapping[str, Any], separator: str) -> dict[str, Any]:
    """The values a push writes, from a scored row (``fit``, ``intent``, ``score``, ``tier``,
    ``route``, ``top_reasons`` joined by ``separator``, ``icp_version``): numbers as numbers,
    the strongest reasons only. Push and the webhook write-back both write these.

    >>> values_of({"fit": 80.0, "intent": 0, "score": 62, "tier": "B", "route": "nurture",
    ...            "top_reasons": "a (+9); b (+8); c (+5); d (+2)", "icp_version": 3}, "; ")
    ... # doctest: +NORMALIZE_WHITESPACE
    {'icp_fit': 80, 'icp_intent': 0, 'icp_score': 62, 'icp_tier': 'B', 'icp_route': 'nurture',
     'icp_reasons': 'a (+9); b (+8); c (+5)', 'icp_version': 3}
    """
    top = [r for r in str(row.get("top_reasons") or "").split(separator) if r][:TOP_REASONS]
    return {
        "icp_fit": _number(row["fit"]),
        "icp_intent": _number(row["intent"]),
        "icp_score": _number(row["score"]),
        "icp_tier": row["tier"],
        "icp_route": row["route"],
        "icp_reasons": separator.join(top),
        "icp_version": row["icp_version"],
    }


def _number(value: Any) -> int | float | None:
    if value is None:
        return None
    f = float(value)
    return int(f) if f.is_integer() else round(f, 4)


def same(current: Any, wanted: Any) -> bool:
    """Whether a value read back from the CRM is the one written (numbers by value, empty
    as empty).

    >>> same("72", 72), same("72.0", 72), same(None, ""), same("B", "A")
    (True, True, True, False)
    """
    if current in (None, "") or wanted in (None, ""):
        return current in (None, "") and wanted in (None, "")
    if isinstance(wanted, int | float) and not isinstance(wanted, bool):
        try:
            return float(current) == float(wanted)
        except (TypeError, ValueError):
            return False
    return str(current) == str(wanted)
