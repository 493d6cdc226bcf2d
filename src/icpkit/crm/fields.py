"""The company fields a push writes, the same in every CRM, and how a value read back from
a CRM is compared with the one written."""

from __future__ import annotations

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
FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in FIELDS)


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
