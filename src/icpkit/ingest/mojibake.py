"""Repairing double-encoded text in cells: ``agÃ¡mi`` is ``agámi`` once read back right.

An export that went through a tool reading UTF-8 as cp1252 (or mac_roman) and writing it
out again as UTF-8 carries mojibake: each accented letter became two or three characters.
ftfy undoes exactly that and leaves text it does not recognize as mojibake unchanged;
only values showing a marker of it (:data:`MARKERS`) are handed to ftfy at all, so clean
text costs one regular-expression test per distinct value. Example::

    >>> repair("agÃ¡mi"), repair("naïve café")
    ('agámi', 'naïve café')
"""

from __future__ import annotations

import re

from icpkit.ingest.charsets import unlikely_characters

# What a UTF-8 byte sequence looks like decoded as cp1252 or latin-1: a lead byte
# (U+00C2-U+00F4: 'Ã', 'Â', 'â', ...) followed by a continuation byte (U+0080-U+00BF or
# cp1252's letters and marks for 0x80-0x9F: '€', '™', '©', '¡', ...); or as mac_roman:
# '√', '¬', '≈', 'ƒ', '‚' followed by one of its continuation characters ('√©' for 'é');
# or a C1 control character, which no real text holds.
_CP1252_CONTINUATION = "\u0080-\u00bf€‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ"
_MAC_CONTINUATION = "ÄÅÇÉÑÖÜáàâäãåçéèêëíìîïñóòôöõúùûü†°¢£§•¶ß®©™´¨≠ÆØ∞±≤≥¥µ∂∑∏π∫ªºΩæø"
MARKERS = f"[\u00c2-\u00f4][{_CP1252_CONTINUATION}]|[√¬≈ƒ‚][{_MAC_CONTINUATION}]|[\u0080-\u009f]"
_MARKER = re.compile(MARKERS)


def has_marker(value: str) -> bool:
    """Whether ``value`` shows a sign of mojibake and is worth handing to ftfy."""
    return _MARKER.search(value) is not None


def repair(value: str) -> str:
    """``value`` with double-encoded text decoded back; any other text unchanged."""
    if not has_marker(value):
        return value
    import ftfy  # imported on first use: most files never need it

    fixed = ftfy.fix_encoding(value)
    # ftfy is conservative; this keeps a 'repair' that reads worse from ever being applied.
    if fixed == value or len(unlikely_characters(fixed)) > len(unlikely_characters(value)):
        return value
    return fixed


def repairs(values: list[str]) -> dict[str, str]:
    """The values of ``values`` that :func:`repair` changes, mapped to their repaired text."""
    out: dict[str, str] = {}
    for value in values:
        fixed = repair(value)
        if fixed != value:
            out[value] = fixed
    return out


__all__ = ["MARKERS", "has_marker", "repair", "repairs"]
