"""The company fields a push writes, the same in every CRM, and how a value read back from
a CRM is compared with the one written."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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
BEST_FIELD = FieldSpec(
    "icp_best_icp",
    "ICP best fit",
    "string",
    "The named ICP the account fits best (empty when none takes it).",
)
"""The field a push writes beside the main ICP's when named ICPs are derived."""


def named_fields(names: Sequence[str], *, per_icp: bool = False) -> tuple[FieldSpec, ...]:
    """The fields a push writes for the named ICPs ``names``: the best fit, and with
    ``per_icp`` each one's fit and tier (``icp_fit_NAME``, ``icp_tier_NAME``).

    >>> [f.name for f in named_fields(["platform"], per_icp=True)]
    ['icp_best_icp', 'icp_fit_platform', 'icp_tier_platform']
    """
    out = [BEST_FIELD]
    if per_icp:
        for name in names:
            out.append(
                FieldSpec(
                    f"icp_fit_{name}",
                    f"ICP fit {name}",
                    "number",
                    f"Fit with the named ICP {name}, 0-100.",
                )
            )
            out.append(
                FieldSpec(
                    f"icp_tier_{name}",
                    f"ICP tier {name}",
                    "enumeration",
                    f"Tier A (best) to D under the named ICP {name}.",
                    TIERS,
                )
            )
    return tuple(out)


def named_values(
    row: Mapping[str, Any], names: Sequence[str], *, per_icp: bool = False
) -> dict[str, Any]:
    """The values of :func:`named_fields` from a row scored with named ICPs (``best_icp``,
    ``fit_NAME``, ``tier_NAME``).

    >>> named_values({"best_icp": None, "fit_a": 61.0, "tier_a": "B"}, ["a"], per_icp=True)
    {'icp_best_icp': '', 'icp_fit_a': 61, 'icp_tier_a': 'B'}
    """
    out: dict[str, Any] = {BEST_FIELD.name: row.get("best_icp") or ""}
    if per_icp:
        for name in names:
            out[f"icp_fit_{name}"] = _number(row[f"fit_{name}"])
            out[f"icp_tier_{name}"] = row[f"tier_{name}"]
    return out


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
