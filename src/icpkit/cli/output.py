"""Writing result rows as a Rich table, CSV or JSON, so a table can go to a deck or a sheet."""

from __future__ import annotations

import csv
import io
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.table import Table

from icpkit.cli.common import console

Format = Literal["table", "csv", "json"]
FormatOption = Annotated[Format, typer.Option("--format", help="table (terminal), csv or json.")]
OutOption = Annotated[
    Path | None, typer.Option("--out", help="Write csv/json to this file instead of stdout.")
]


def _plain(value: Any) -> Any:
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, 6)
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def excel_safe(value: Any) -> Any:
    """Text that Excel would run as a formula (=, +, -, @) is prefixed with a quote."""
    if isinstance(value, str) and value.startswith(("=", "+", "-", "@", "\t", "\r")):
        return "'" + value
    return value


def emit(
    rows: Sequence[dict[str, Any]],
    fmt: Format,
    *,
    title: str = "",
    columns: Sequence[str] | None = None,
    out: Path | None = None,
) -> None:
    """Print ``rows`` in ``fmt``; machine formats keep every field, the table ``columns``."""
    if fmt == "table":
        names = list(columns or (rows[0].keys() if rows else []))
        table = Table(*names, title=title or None)
        for row in rows:
            table.add_row(*(str(row.get(n, "")) for n in names))
        console.print(table)
        return
    plain = [{k: _plain(v) for k, v in row.items()} for row in rows]
    if fmt == "csv":
        plain = [{k: excel_safe(v) for k, v in row.items()} for row in plain]
    if fmt == "json":
        text = json.dumps(plain, indent=2, default=str) + "\n"
    else:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(plain[0]) if plain else ["empty"])
        writer.writeheader()
        writer.writerows(plain)
        text = buffer.getvalue()
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text, encoding="utf-8")
        console.print(f"wrote {len(rows)} rows to {out}")
