"""Results as a Rich table, CSV or one JSON document, so a table can go to a deck or a sheet.

Tables fit the terminal without cutting a number: numeric columns never wrap nor shrink, text
columns wrap, and when the terminal is still too narrow the least important columns are left
out, and the table says which. ``--format json`` writes exactly one JSON document, an object
with a ``schema_version`` (see docs/json.md).
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.cells import cell_len
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from icpkit.cli.common import console
from icpkit.cli.numbers import DASH, NotComputable, finite, json_record, plain
from icpkit.output.csvfile import csv_text
from icpkit.output.files import write_atomic
from icpkit.output.versions import DOCUMENT, KEY

SCHEMA_VERSION = DOCUMENT
"""Version of every JSON document and CSV table the commands write (docs/json.md, what each
holds; docs/compatibility.md, what raises it)."""

Format = Literal["table", "csv", "json"]
FormatOption = Annotated[Format, typer.Option("--format", help="table (terminal), csv or json.")]
OutOption = Annotated[
    Path | None, typer.Option("--out", help="Write csv/json to this file instead of stdout.")
]

_NUMERIC = re.compile(r"^[-+$€£(]*[0-9][0-9.,%$€£()\s+\-–/xdekKMB]*$")
"""A cell that reads as a number, rate or interval ("2.13 (1.70-2.66)", "27%/13%", "41d")."""
_TEXT_MIN = 12
"""Narrowest a text column is squeezed to before a column is left out (it wraps below that)."""


@dataclass(frozen=True)
class Column:
    """A table column: the row key it shows, its header, and how readily it is left out
    (``priority`` 0 is never left out; higher goes first when the terminal is narrow)."""

    key: str
    header: str = ""
    priority: int = 0

    @property
    def title(self) -> str:
        return self.header or self.key


def shown(value: Any) -> str:
    """A value as a table cell: blank for None, a ``–`` for a number that cannot be computed."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, float) and not finite(value):
        return NotComputable("not computable from these data")
    return str(value)


def _is_numeric(cells: Sequence[str]) -> bool:
    filled = [c for c in cells if c and c != DASH]
    return bool(filled) and all(_NUMERIC.match(c) for c in filled)


def _min_width(header: str, cells: Sequence[str], numeric: bool) -> int:
    """The narrowest a column can be: a number whole, a text's words down to ``_TEXT_MIN``."""
    words = [cell_len(w) for w in header.split()] or [1]
    if numeric:
        return max([cell_len(c) for c in cells] + words)
    longest = max([cell_len(w) for c in cells for w in c.split()] + words)
    return min(longest, _TEXT_MIN)


def fit_table(
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[Column],
    *,
    width: int,
    title: str = "",
) -> tuple[Table, list[Column]]:
    """A Rich table of ``rows`` no wider than ``width``, and the columns left out to fit.

    Numeric columns are right-aligned and never wrapped, so a number is shown whole or not at
    all; text wraps. Columns are left out, highest ``priority`` first, until the rest fit.
    """
    cells = {c.key: [shown(r.get(c.key)) for r in rows] for c in columns}
    numeric = {c.key: _is_numeric(cells[c.key]) for c in columns}
    need = {c.key: _min_width(c.title, cells[c.key], numeric[c.key]) for c in columns}
    kept = list(columns)
    dropped: list[Column] = []
    # A heavy-head box: one rule before each column and one after the last; padding 1 each side.
    while len(kept) > 1 and sum(need[c.key] + 3 for c in kept) + 1 > width:
        candidates = [c for c in kept if c.priority > 0]
        if not candidates:
            break
        worst = max(candidates, key=lambda c: (c.priority, kept.index(c)))
        kept.remove(worst)
        dropped.append(worst)
    # Room left once every kept column has its narrowest width: text columns take it first
    # (up to their longest line), then numeric headers, so that they need not wrap.
    spare = width - sum(need[c.key] + 3 for c in kept) - 1
    for c in kept:
        if not numeric[c.key]:
            spare -= max(cell_len(line) for line in [c.title, *cells[c.key]]) - need[c.key]
    table = Table(title=title or None)
    for c in kept:
        if numeric[c.key]:
            grow = min(max(spare, 0), max(cell_len(c.title) - need[c.key], 0))
            spare -= grow
            table.add_column(Text(c.title), justify="right", width=need[c.key] + grow)
        else:
            table.add_column(Text(c.title), overflow="fold")
    for i in range(len(rows)):
        table.add_row(*(Text(cells[c.key][i]) for c in kept))
    return table, dropped


def print_table(
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[Column | str] | None = None,
    *,
    title: str = "",
    target: Console | None = None,
) -> None:
    """Print ``rows`` as a table that fits the terminal, with footnotes for what is missing."""
    out = target or console
    cols = [
        c if isinstance(c, Column) else Column(c, priority=i)
        for i, c in enumerate(columns or (list(rows[0]) if rows else []))
    ]
    table, dropped = fit_table(rows, cols, width=out.width, title=title)
    out.print(table)
    kept = [c for c in cols if c not in dropped]
    whys = dict.fromkeys(
        v.why for r in rows for c in kept if isinstance(v := shown(r.get(c.key)), NotComputable)
    )
    for why in whys:
        out.print(f"{DASH} not computable: {escape(why)}")
    if dropped:
        names = ", ".join(c.title for c in dropped)
        out.print(
            f"[dim]left out to fit {out.width} columns: {escape(names)} "
            "(widen the terminal, or use --format csv or json)[/]"
        )


def document(command: str, **fields: Any) -> dict[str, Any]:
    """The one JSON document a command writes: ``schema_version``, ``command``, then fields."""
    return {KEY: SCHEMA_VERSION, "command": command, **fields}


def write_json(doc: Mapping[str, Any], out: Path | None = None) -> None:
    """Write ``doc`` as one JSON document (no NaN: non-finite numbers are null) to stdout or
    ``out``."""
    text = json.dumps(plain(dict(doc)), indent=2, default=str, allow_nan=False) + "\n"
    _write(text, out, what="a JSON document")


def _write(text: str, out: Path | None, *, what: str) -> None:
    """``text`` to stdout, or to ``out`` whole or not at all (see icpkit.output.files)."""
    if out is None:
        sys.stdout.write(text)
    else:
        write_atomic(out, text)
        console.print(f"wrote {what} to {out}")


def emit(
    rows: Sequence[Mapping[str, Any]],
    fmt: Format,
    *,
    title: str = "",
    columns: Sequence[Column | str] | None = None,
    out: Path | None = None,
    command: str = "",
    why: Mapping[str, str] | None = None,
    **fields: Any,
) -> None:
    """Print ``rows`` in ``fmt``: the table shows ``columns``; CSV and JSON keep every field.

    JSON is one document (see :func:`document`) holding ``fields`` and the ``rows``, each with a
    ``<field>_reason`` (from ``why``) beside a value that cannot be computed; a CSV ends
    with a ``schema_version`` column.
    """
    if fmt == "table":
        print_table(rows, columns, title=title)
        return
    records = [json_record(row, why) for row in rows]
    if fmt == "json":
        write_json(document(command, **fields, rows=records), out)
        return
    flat = [{k: _csv_cell(v) for k, v in r.items()} for r in records]
    # The version is the last column: a CSV has no header to hold it (docs/compatibility.md).
    flat = [{**r, KEY: SCHEMA_VERSION} for r in flat]
    names = list(dict.fromkeys(k for r in flat for k in r)) or [KEY]
    _write(csv_text(flat, names), out, what=f"{len(rows)} rows")


def _csv_cell(value: Any) -> Any:
    if isinstance(value, list):
        return json.dumps(value)  # an interval as "[0.15, 0.69]", as a sheet can parse it
    return value
