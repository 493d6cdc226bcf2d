"""``icp ingest`` and ``icp quarantine``: load exports, and show what was set aside."""

from __future__ import annotations

import sys
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn
from rich.table import Table

from icpkit.cli.common import (
    WorkspaceOption,
    console,
    debugging,
    err_console,
    expand_globs,
    open_workspace,
)
from icpkit.cli.numbers import cell
from icpkit.cli.output import Column, document, print_table, write_json
from icpkit.output.csvfile import write_csv

if TYPE_CHECKING:
    from icpkit.ingest.report import FileReport


def ingest(
    files: Annotated[list[Path], typer.Argument(help="CSV, XLSX or Parquet exports.")],
    workspace: WorkspaceOption = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the mapping and the problems; load nothing.")
    ] = False,
    strict: Annotated[
        bool, typer.Option("--strict", help="Fail on the first unreadable row or cell.")
    ] = False,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Reload files already imported unchanged, load an older export of a file "
            "than the one loaded (its values go back), and load files whose layout "
            "detection is unsure of (as what it found most likely).",
        ),
    ] = False,
    encoding: Annotated[
        str | None, typer.Option(help="Text encoding of CSV files (default: detected).")
    ] = None,
    sheet: Annotated[
        str | None,
        typer.Option(help="Sheet of XLSX workbooks to read (default: the first with data)."),
    ] = None,
) -> None:
    """Load CRM exports (HubSpot, Salesforce, Pipedrive or any layout) into the workspace."""
    ws = open_workspace(workspace)
    with (
        Progress(
            SpinnerColumn(), TextColumn("{task.description}"), console=err_console, transient=True
        ) as bar,
    ):
        task = bar.add_task("reading", total=None)
        result = ws.ingest(
            expand_globs(files),
            dry_run=dry_run,
            strict=strict,
            force=force,
            encoding=encoding,
            sheet=sheet,
            progress=lambda p, n: bar.update(task, description=f"{p.name}: {n:,} rows read"),
        )
    for report in result.files:
        print_report(report, show_mapping=dry_run)
    # Files not recognized as CRM records are listed last, where they are seen: the run
    # exits 0 when others loaded, 1 when nothing could be loaded at all.
    if skipped := result.unrecognized:
        console.print(
            f"[bold yellow]{len(skipped)} file{'s' if len(skipped) > 1 else ''} not loaded "
            "(not recognized as CRM records):[/] " + ", ".join(r.path.name for r in skipped),
            soft_wrap=True,
        )
    for _path, error in result.failures:
        if debugging() and error.__cause__ is not None:
            traceback.print_exception(error.__cause__, file=sys.stderr)
        err_console.print(f"[bold red]error:[/] {escape(str(error))}", soft_wrap=True)
    if result.nothing_loaded and not result.failures:
        err_console.print("[bold red]error:[/] nothing loaded: no file was recognized")
    if result.failures or result.nothing_loaded:
        raise typer.Exit(1)


def print_report(report: FileReport, *, show_mapping: bool) -> None:
    """The summary of one file: what it was taken for, counts, reasons, notes."""
    name = report.path.name
    if report.skipped:
        if report.unrecognized:
            console.print(
                f"[bold yellow]skipped[/] [bold]{name}[/]: {report.skipped}", soft_wrap=True
            )
        else:
            console.print(f"[bold]{name}[/]: {report.skipped}", soft_wrap=True)
        return
    layout = report.layout
    from icpkit.workspace import SYSTEM_LABELS

    system = SYSTEM_LABELS.get(report.system, report.system)
    conf = f"{layout.confidence:.2f}" if layout else "-"
    how = f"{system} {report.entity}, mapping confidence {conf}"
    if report.encoding:
        how += f", {report.encoding}, delimiter {report.delimiter!r}"
    prefix = "[yellow]dry run[/] " if report.dry_run else ""
    console.print(f"{prefix}[bold]{name}[/]: {how}")
    if show_mapping and layout and layout.entity_reason:
        console.print(
            f"  taken for {report.entity} (confidence {layout.entity_confidence:.2f}): "
            f"{layout.entity_reason}",
            soft_wrap=True,
        )
    if show_mapping and layout:
        unchecked = "not checked: no values in the sample, or mapped by hand"
        print_table(
            [
                {
                    "field": choice.field,
                    "column": choice.column,
                    "confidence": f"{choice.confidence:.2f}",
                    "how": choice.how,
                    "values read": cell(choice.parse_rate, ".0%", unchecked),
                    "also matched": ", ".join(choice.alternatives),
                }
                for choice in sorted(layout.choices.values(), key=lambda c: c.field)
            ],
            [
                Column("field"),
                Column("column"),
                Column("confidence", priority=2),
                Column("how", priority=3),
                Column("values read", priority=1),
                Column("also matched", priority=4),
            ],
        )
        if layout.unmapped:
            console.print(f"  kept as extra (not mapped): {', '.join(layout.unmapped)}")
    verb = "would load" if report.dry_run else "loaded"
    console.print(
        f"  read {report.rows_read:,} rows · {verb} {report.rows_loaded:,} · "
        f"quarantined {report.rows_quarantined:,} rows and {report.cells_quarantined:,} cells"
        + (f" · {report.blank_records:,} blank lines skipped" if report.blank_records else "")
        + (f" · [bold]{report.unlinked:,} without an account[/]" if report.unlinked else "")
    )
    for reason, count in report.reasons().items():
        console.print(f"    {count:>6,}  {reason}")
    for warning in report.warnings:
        console.print(f"  [bold yellow]warning:[/] {warning}", soft_wrap=True)
    for note in report.notes:
        console.print(f"  [dim]note:[/] {note}")


def quarantine(
    workspace: WorkspaceOption = None,
    file: Annotated[str | None, typer.Option("--file", help="Only this file's entries.")] = None,
    limit: Annotated[int, typer.Option(help="Show at most this many (0: all).")] = 50,
    fmt: Annotated[
        Literal["table", "csv", "json"], typer.Option("--format", help="Output format.")
    ] = "table",
) -> None:
    """List what could not be read: file, line, column, value and reason."""
    ws = open_workspace(workspace)
    rows = ws.quarantine(file=file, limit=limit or None)
    if fmt == "json":
        write_json(document("quarantine", rows=rows))
        return
    if fmt == "csv":
        write_csv(rows, list(rows[0]) if rows else ["file"], sys.stdout)
        return
    if not rows:
        console.print("The quarantine is empty: every row and cell was read.")
        return
    table = Table("file", "line", "column", "value", "reason", "set aside")
    for r in rows:
        table.add_row(
            r["file"],
            str(r["line"] or ""),
            r["column"] or "",
            r["raw_value"] or "",
            r["reason"],
            r["scope"],
        )
    console.print(table)
