"""Numbers as people read them, in every face (the command line, the report): never ``nan``.

A value that cannot be computed (NaN, infinite, None) is ``not computable: <why>`` in a
sentence and a ``–`` in a table cell; each face says why beside the cell in its own way.
"""

from __future__ import annotations

import math
from typing import Any

DASH = "–"


def finite(value: Any) -> bool:
    """Whether ``value`` is a number that can be shown (not None, NaN or infinite).

    >>> finite(0.5), finite(float("nan")), finite(None), finite("12")
    (True, False, False, False)
    """
    if value is None or isinstance(value, bool):
        return value is not None
    try:
        return math.isfinite(value)
    except TypeError:
        return False


def prose(value: Any, spec: str, why: str, suffix: str = "") -> str:
    """``value`` formatted for a sentence, or ``not computable: <why>``.

    >>> prose(0.256, ".0%", "no deals"), prose(float("nan"), ".0%", "no deals")
    ('26%', 'not computable: no deals')
    """
    return f"{value:{spec}}{suffix}" if finite(value) else f"not computable: {why}"


def prose_interval(value: Any, low: Any, high: Any, spec: str, why: str, suffix: str = "") -> str:
    """``value (low-high)`` (with ``suffix`` after each) in a sentence, or why it cannot be.

    >>> prose_interval(2.1, 1.6, 2.7, ".1f", "too few deals", "x")
    '2.1x (1.6x-2.7x)'
    """
    if not finite(value):
        return f"not computable: {why}"
    if not (finite(low) and finite(high)):
        return f"{value:{spec}}{suffix}"
    return f"{value:{spec}}{suffix} ({low:{spec}}{suffix}-{high:{spec}}{suffix})"
