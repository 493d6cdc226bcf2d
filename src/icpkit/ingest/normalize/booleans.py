"""Parse yes/no cells such as "TRUE", "Yes", "1", "x" or "checked"."""

from __future__ import annotations

from icpkit.ingest.normalize import Unreadable
from icpkit.ingest.normalize.blanks import is_blank

_TRUE = frozenset({"1", "1.0", "true", "t", "yes", "y", "x", "checked", "on"})
_FALSE = frozenset({"0", "0.0", "false", "f", "no", "n", "unchecked", "off"})


def parse_bool(raw: str) -> bool | None:
    """Parse a yes/no value, e.g. ``"Yes"`` → True, ``"unchecked"`` → False."""
    if is_blank(raw):
        return None
    text = raw.strip().casefold()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise Unreadable(f"not a yes/no value: '{raw.strip()}'")
