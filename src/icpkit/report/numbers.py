"""Numbers as the report shows them: never ``nan``, the same words as the command line.

A value that cannot be computed is ``–`` in a table cell, with its reason in the cell's title
and a footnote, and ``not computable: <why>`` in a sentence (the wording of ``icp`` itself).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from icpkit.output.numbers import DASH as DASH
from icpkit.output.numbers import finite as finite
from icpkit.output.numbers import prose as prose
from icpkit.output.numbers import prose_interval as prose_interval


@dataclass(frozen=True)
class Cell:
    """A table cell: its text, the raw number behind it (for readers and tests) and, when the
    number cannot be computed, why."""

    text: str
    value: float | None = None
    why: str = ""

    @property
    def data(self) -> str:
        """The raw number for a ``data-value`` attribute ('' when there is none)."""
        return "" if self.value is None else repr(float(self.value))


def text(value: str | int) -> Cell:
    """A plain cell: words, or a count shown with thousands separators."""
    if isinstance(value, int) and not isinstance(value, bool):
        return Cell(f"{value:,}", float(value))
    return Cell(str(value))


def number(value: Any, spec: str, why: str, suffix: str = "") -> Cell:
    """``value`` formatted by ``spec`` (e.g. ``.0%``), or a ``–`` that says why."""
    if not finite(value):
        return Cell(DASH, None, why)
    return Cell(f"{value:{spec}}{suffix}", float(value))


def interval(value: Any, low: Any, high: Any, spec: str, why: str, suffix: str = "") -> Cell:
    """``value (low-high)``; the value alone when the bounds are not computable."""
    if not finite(value):
        return Cell(DASH, None, why)
    shown = f"{value:{spec}}{suffix}"
    if finite(low) and finite(high):
        shown += f" ({low:{spec}}-{high:{spec}}{suffix})"
    return Cell(shown, float(value))


def lift(value: Any, low: Any, high: Any, why: str) -> Cell:
    """A lift as '2.1x (1.6-2.7x)', two decimals below 1 where one would hide the size."""
    if not finite(value):
        return Cell(DASH, None, why)

    def one(v: float) -> str:
        return f"{v:.1f}" if v >= 1 else f"{v:.2f}"

    shown = f"{one(value)}x"
    if finite(low) and finite(high):
        shown += f" ({one(low)}-{one(high)}x)"
    return Cell(shown, float(value))
