"""Parse plain numbers written with any common thousands/decimal convention."""

from __future__ import annotations

import re
from typing import Literal

from icpkit.ingest.normalize import Unreadable
from icpkit.ingest.normalize.blanks import is_blank

_SPACES = str.maketrans({"\u00a0": " ", "\u202f": " ", "\u2009": " ", "\u2007": " "})
_BODY = re.compile(r"^[0-9.,' ]*[0-9][0-9.,' ]*$")
_SCIENTIFIC = re.compile(r"^[0-9]+(?:\.[0-9]+)?[eE][+-]?[0-9]+$")
# Western grouping (1,234,567) and Indian lakh/crore grouping (12,34,567).
_GROUPED = re.compile(r"^[0-9]{1,3}(?:S[0-9]{3})+$|^[0-9]{1,2}(?:S[0-9]{2})*S[0-9]{3}$")

Separator = Literal[",", "."]
"""A decimal separator: ``"."`` as in ``1,234.56``, ``","`` as in ``1.234,56``."""


def read_separators(text: str) -> tuple[Separator | None, Separator | None]:
    """What a number's own separators say: ``(decimal shown, separator left open)``.

    ``"1.234,56"`` shows ``","``; ``"12.5"`` shows ``"."``; ``"1.234.567"`` shows ``","``
    (dots group thousands); ``"12.500"`` and ``"1,234"`` leave their one separator open: it
    is a decimal point or a thousands separator depending on the convention of the column.
    """
    commas, dots = text.count(","), text.count(".")
    if commas and dots:
        return ("," if text.rfind(",") > text.rfind(".") else "."), None
    if dots > 1:
        return ",", None
    if commas > 1:
        return ".", None
    if commas + dots == 0:
        return None, None
    sep: Separator = "," if commas else "."
    head, _, tail = text.partition(sep)
    if len(tail) == 3 and tail.isdigit() and head.strip("0 '") != "" and head[-1:].isdigit():
        return None, sep
    return sep, None


def parse_number(raw: str, decimal: Separator | None = None) -> float | None:
    """Parse a number such as ``"1,234.5"``, ``"1.234,5"``, ``"1 234"``, ``"(1,200)"`` → float.

    Both separators present: the last one is the decimal point. Several dots (or commas) are
    thousands separators. One separator followed by exactly three digits (``"12.500"``,
    ``"1,234"``) is read with ``decimal``, the column's decimal separator, when given; else
    a comma is a thousands separator (``"1,234"`` → 1234) and a dot a decimal point
    (``"12.500"`` → 12.5). Any other single separator is a decimal one (``"1,5"`` → 1.5).
    """
    if is_blank(raw):
        return None
    text = raw.translate(_SPACES).strip()
    if "%" in text:
        raise Unreadable(f"percentages are not accepted here: '{raw.strip()}'")
    negative = False
    if text.startswith("(") and text.endswith(")"):
        negative, text = True, text[1:-1].strip()
    if text[:1] in "+-":
        if negative and text[0] == "-":
            raise Unreadable(f"double negative in '{raw.strip()}'")
        negative = negative or text[0] == "-"
        text = text[1:].strip()
    scientific = _SCIENTIFIC.match(text)
    value = float(text) if scientific else _parse_separated(text, raw.strip(), decimal)
    return -value if negative else value


def _parse_separated(text: str, shown: str, column_decimal: Separator | None) -> float:
    """Parse an unsigned number whose separators must be worked out, e.g. ``"1.234.567,8"``."""
    if not _BODY.match(text):
        raise Unreadable(f"not a number: '{shown}'")
    decimal = _decimal_separator(text, column_decimal)
    if decimal is None:
        integer, fraction = text, ""
    else:
        integer, _, fraction = text.rpartition(decimal)
        if not fraction.isdigit() or decimal in integer:
            raise Unreadable(f"misplaced decimal separator in '{shown}'")
    if integer and not integer.isdigit():
        integer = _ungroup(integer, decimal, shown)
    if not integer and not fraction:
        raise Unreadable(f"not a number: '{shown}'")
    return float(f"{integer or '0'}.{fraction or '0'}")


def _decimal_separator(text: str, column_decimal: Separator | None) -> str | None:
    """Pick which of ``,`` / ``.`` is the decimal separator in ``text``, if any."""
    shown, open_sep = read_separators(text)
    if open_sep is None:
        return shown if shown is not None and shown in text else None
    if column_decimal is not None:
        return open_sep if open_sep == column_decimal else None
    return None if open_sep == "," else "."


def _ungroup(integer: str, decimal: str | None, shown: str) -> str:
    """Remove thousands separators after checking they sit between proper digit groups."""
    seps = {ch for ch in integer if not ch.isdigit()}
    if len(seps) != 1 or seps & {decimal}:
        raise Unreadable(f"mixed thousands separators in '{shown}'")
    sep = seps.pop()
    if not _GROUPED.match(integer.replace(sep, "S")):
        raise Unreadable(f"misplaced thousands separator in '{shown}'")
    return integer.replace(sep, "")
