"""``icp export TARGET``: the current ICP for the rest of the stack: Clay formula columns,
one spreadsheet formula, a dbt model with its tests, filters for list-building tools."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from icpkit.cli.common import WorkspaceOption, console, err_console, fail, open_workspace, parse_day


class Target(StrEnum):
    """What ``icp export`` writes for."""

    clay = "clay"
    sheets = "sheets"
    dbt = "dbt"
    prospecting = "prospecting"


class FilterFormat(StrEnum):
    """How ``icp export prospecting`` writes its filters."""

    json = "json"
    md = "md"
    csv = "csv"


def _columns(texts: list[str] | None) -> dict[str, str] | None:
    """``--columns industry=B,employees=C`` (repeatable) as field -> letter."""
    if not texts:
        return None
    chosen: dict[str, str] = {}
    for text in texts:
        for part in filter(None, (p.strip() for p in text.split(","))):
            field, sep, at = part.partition("=")
            if not sep or not field.strip() or not at.strip():
                fail(f"--columns {part!r}: write FIELD=LETTER, e.g. industry=B", 2)
            chosen[field.strip()] = at.strip()
    return chosen


def export(
    target: Annotated[Target, typer.Argument(help="clay, sheets, dbt or prospecting.")],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", help="Folder to write (default: exports/TARGET in the workspace)."
        ),
    ] = None,
    dialect: Annotated[
        str, typer.Option(help="dbt: duckdb, spark, postgres, snowflake or bigquery.")
    ] = "duckdb",
    source: Annotated[
        str | None,
        typer.Option(help="dbt: read the inputs with source('NAME', ...) instead of ref()."),
    ] = None,
    columns: Annotated[
        list[str] | None,
        typer.Option("--columns", help="sheets: where fields sit, e.g. industry=B,employees=C."),
    ] = None,
    fmt: Annotated[
        FilterFormat, typer.Option("--format", help="prospecting: json, md or csv.")
    ] = FilterFormat.json,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of", help="Measure intent as of YYYY-MM-DD (default: the tool's today)."
        ),
    ] = None,
    icp: Annotated[
        str | None,
        typer.Option(
            "--icp", help="Export the named ICP NAME (default folder: exports/TARGET-NAME)."
        ),
    ] = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Write the current ICP for another tool, stamped with its version, and list the files."""
    ws = open_workspace(workspace)
    result = ws.export(
        target.value,
        out,
        as_of=parse_day(as_of),
        dialect=dialect,
        source=source,
        columns=_columns(columns),
        fmt=fmt.value,
        icp=icp,
    )
    console.print(f"{target.value}: {result.stamp.words}", markup=False, soft_wrap=True)
    for path in result.files:
        console.print(f"  {path}", markup=False, soft_wrap=True)
    for note in result.notes:
        err_console.print(f"note: {note}", markup=False, soft_wrap=True)
