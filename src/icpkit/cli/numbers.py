"""Numbers, rates and intervals as people read them, and as JSON reads them: never ``nan``.

A value that cannot be computed (NaN, infinite, None) is shown, in a sentence, as
``not computable: <why>``; in a table cell as ``–``, its why in a footnote under the table
(:class:`NotComputable` carries it to the table); in JSON as ``null`` beside a ``<key>_reason``
field that says why.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from icpkit.output.numbers import DASH as DASH
from icpkit.output.numbers import finite as finite
from icpkit.output.numbers import prose as prose
from icpkit.output.numbers import prose_interval as prose_interval


class NotComputable(str):
    """A table cell whose value cannot be computed: shown as ``–``, with ``why`` as a footnote."""

    why: str

    def __new__(cls, why: str) -> NotComputable:
        cell = super().__new__(cls, DASH)
        cell.why = why
        return cell


def cell(value: Any, spec: str, why: str) -> str:
    """``value`` formatted by ``spec`` (e.g. ``.0%``) for a table, or a ``–`` that says why."""
    return format(value, spec) if finite(value) else NotComputable(why)


def interval(value: Any, low: Any, high: Any, spec: str, why: str) -> str:
    """``value (low-high)`` for a table; the value alone when the bounds are not computable,
    a ``–`` that says why when the value is not."""
    if not finite(value):
        return NotComputable(why)
    if not (finite(low) and finite(high)):
        return format(value, spec)
    return f"{value:{spec}} ({low:{spec}}-{high:{spec}})"


def plain(value: Any) -> Any:
    """``value`` as JSON holds it: floats rounded to 6 places, non-finite ones as None."""
    if isinstance(value, float):
        return round(value, 6) if math.isfinite(value) else None
    if isinstance(value, tuple | list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if hasattr(value, "item") and callable(value.item):  # a numpy scalar
        return plain(value.item())
    return value


def _has_gap(value: Any) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, tuple | list):
        return any(_has_gap(v) for v in value)
    return False


def json_record(record: Mapping[str, Any], why: Mapping[str, str] | None = None) -> dict[str, Any]:
    """``record`` ready for JSON: every field that is (or holds) a value that cannot be computed
    becomes null and gains a ``<field>_reason`` from ``why`` (or a generic reason)."""
    out: dict[str, Any] = {}
    reasons: dict[str, str] = {}
    for key, value in record.items():
        out[key] = plain(value)
        if _has_gap(value):
            reasons[f"{key}_reason"] = (why or {}).get(key, "not computable from these data")
    return out | reasons
