"""CSV that a spreadsheet opens safely: no text cell runs as a formula (CSV injection).

Following OWASP's guidance, a text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a
carriage return (also after leading spaces, and in the full-width forms ``＝ ＋ － ＠`` that
spreadsheets fold to them) is written with a leading single quote, so Excel, LibreOffice and
Google Sheets show it as text. Numbers stay numbers: a numeric value, or a text cell that is
exactly a number (``-12.5``), is written as it is. Every command that writes CSV uses
:func:`write_csv`; DuckDB ``COPY`` writes use :func:`neutralize_sql` in their SELECT::

    >>> neutralize("=HYPERLINK(\\"http://x\\")")
    '\\'=HYPERLINK("http://x")'
    >>> neutralize("-12.5")
    '-12.5'
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from icpkit.output.files import atomic_path

TRIGGERS = "=+-@\t\r＝＋－＠"
"""First characters (after leading spaces) that make a spreadsheet read a cell as a formula."""
_NUMBER = r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?"
_PLAIN_NUMBER = re.compile(rf"^ *{_NUMBER} *$")


def neutralize(value: Any) -> Any:
    """``value`` made safe for a spreadsheet: a text that would run as a formula gets a
    leading ``'``; numbers, plain numeric text and anything not text are returned as they are."""
    if not isinstance(value, str):
        return value
    head = value.lstrip(" ")[:1]
    if head and head in TRIGGERS and not _PLAIN_NUMBER.match(value):
        return "'" + value
    return value


def neutralize_sql(expr: str) -> str:
    """A DuckDB expression giving ``expr`` (any type, cast to text) as :func:`neutralize`
    would, for a ``COPY ... TO (FORMAT CSV)`` SELECT; NULL stays NULL."""
    text = f"CAST({expr} AS VARCHAR)"
    # Code points compared, not strings: no text is built for the cells that need nothing.
    points = ", ".join(str(ord(c)) for c in TRIGGERS)
    risky = (
        f"(ascii({text}) IN ({points}) "
        f"OR (ascii({text}) = 32 AND ascii(ltrim({text}, ' ')) IN ({points})))"
    )
    return (
        f"CASE WHEN {risky} AND NOT regexp_full_match({text}, '{_PLAIN_NUMBER.pattern[1:-1]}') "
        f"THEN '''' || {text} ELSE {text} END"
    )


def write_rows(stream: TextIO, rows: Iterable[Mapping[str, Any]], fieldnames: Sequence[str]) -> int:
    """Write a header and ``rows`` (cells neutralized) to ``stream``; returns the row count."""
    writer = csv.DictWriter(stream, fieldnames=list(fieldnames), extrasaction="ignore")
    writer.writeheader()
    count = 0
    for row in rows:
        writer.writerow({k: neutralize(v) for k, v in row.items()})
        count += 1
    return count


def csv_text(rows: Iterable[Mapping[str, Any]], fieldnames: Sequence[str]) -> str:
    """``rows`` as CSV text, cells neutralized."""
    buffer = io.StringIO()
    write_rows(buffer, rows, fieldnames)
    return buffer.getvalue()


def write_csv(
    rows: Iterable[Mapping[str, Any]],
    fieldnames: Sequence[str],
    out: Path | TextIO,
) -> int:
    """Write ``rows`` as CSV to ``out`` (a path, written atomically, or an open text stream),
    every text cell neutralized; returns the row count."""
    if not isinstance(out, Path):
        return write_rows(out, rows, fieldnames)
    with atomic_path(out) as tmp, tmp.open("w", encoding="utf-8", newline="") as fh:
        return write_rows(fh, rows, fieldnames)
