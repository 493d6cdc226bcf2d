"""``icp tam`` and ``icp lookalike``: the ICP put to work on a company universe."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from icpkit.cli.common import (
    IcpOption,
    WorkspaceOption,
    console,
    err_console,
    open_workspace,
    parse_day,
    parse_widening,
)
from icpkit.cli.numbers import NotComputable
from icpkit.cli.output import Column, Format, FormatOption, OutOption, emit
from icpkit.errors import NothingToShow

if TYPE_CHECKING:
    from icpkit.operate.tam import TamResult
    from icpkit.workspace import Workspace

UniverseArgument = Annotated[
    Path,
    typer.Argument(
        help="Company universe: a company export (CSV in any encoding, XLSX, Parquet), read "
        "like `icp ingest` reads one, or a file in the scorer's input layout (account_key, "
        "employees, revenue, industry, country, technologies, ...)."
    ),
]


def tam(
    universe: UniverseArgument,
    widen: Annotated[
        list[str] | None,
        typer.Option(
            "--widen",
            help="What-if: the profile's range on a numeric attribute replaced, e.g. "
            "employees=20-500 (repeatable).",
        ),
    ] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Score intent as of this day (YYYY-MM-DD).")
    ] = None,
    fmt: FormatOption = "table",
    out: OutOption = None,
    icp: IcpOption = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Size the TAM of a company universe with the ICP, and what widening a range costs."""
    ws = open_workspace(workspace)
    result = ws.tam(universe, as_of=parse_day(as_of), widen=parse_widening(widen), icp=icp)
    print_tam(result, fmt, out)


def print_tam(result: TamResult, fmt: Format = "table", out: Path | None = None) -> None:
    """The TAM as a table (its profile first, its warnings after), or one CSV or JSON file."""
    universe = result.universe
    if fmt != "table":
        emit(
            result.rows(),
            fmt,
            out=out,
            command="tam",
            universe=str(universe),
            as_of=result.as_of.isoformat(),
            profile=list(result.current.profile),
            widened_profile=None if result.widened is None else list(result.widened.profile),
            discriminates=result.discriminates,
            warnings=list(result.warnings),
        )
        return
    console.print("Profile: " + (" AND ".join(result.current.profile) or "(none: the market)"))
    if result.widened is not None:
        console.print("Widened: " + " AND ".join(result.widened.profile))
    emit(
        [_cells(row) for row in result.rows(readable=True)],
        fmt,
        title=f"TAM of {universe.name} as of {result.as_of}",
        columns=[Column("measure"), Column("current")]
        + ([Column("widened")] if result.widened is not None else []),
    )
    for warning in result.warnings:
        console.print(f"[yellow]warning:[/] {warning}")


def lookalike(
    universe: UniverseArgument,
    top: Annotated[int, typer.Option(min=1, help="Companies to list.")] = 50,
    k: Annotated[int, typer.Option(min=1, help="Nearest Tier 1 customers each is judged by.")] = 5,
    fmt: FormatOption = "table",
    out: OutOption = None,
    icp: IcpOption = None,
    workspace: WorkspaceOption = None,
) -> None:
    """The universe's companies most like the Tier 1 customers, with who and what they share."""
    show_lookalikes(open_workspace(workspace), universe, top=top, k=k, fmt=fmt, out=out, icp=icp)


def show_lookalikes(
    ws: Workspace,
    universe: Path,
    *,
    top: int,
    k: int,
    fmt: Format = "table",
    out: Path | None = None,
    icp: str | None = None,
) -> None:
    """Lookalikes ranked, each with its nearest Tier 1 customers and the traits they share
    (those of the named ICP ``icp``, when given); when nothing separates the Tier 1
    customers, why (and, in a file, nobody)."""
    warn = console if fmt == "table" else err_console
    notes: list[str] = []
    try:
        hits = ws.lookalikes(universe, top=top, k=k, warnings=notes, icp=icp)
    except NothingToShow as exc:
        # An answer, not a failure: nothing to rank by; say so and list nobody.
        warn.print(f"[yellow]warning:[/] {exc}")
        if fmt == "table":
            return
        hits = []
    rows: list[dict[str, Any]] = [
        {
            "rank": i + 1,
            "account_key": h.account_key,
            "name": h.name,
            "similarity": h.similarity if fmt != "table" else f"{h.similarity:.3f}",
            "shared": ", ".join(h.shared),
            "like": "; ".join(
                f"{n.name or n.account_key} ({n.similarity:.2f})" for n in h.neighbours
            ),
        }
        for i, h in enumerate(hits)
    ]
    emit(
        rows,
        fmt,
        title=f"{len(rows)} companies most like the Tier 1 customers (mean of {k} nearest)",
        columns=[
            Column("rank"),
            Column("name"),
            Column("account_key", priority=2),
            Column("similarity"),
            Column("shared", priority=1),
            Column("like", priority=3),
        ],
        out=out,
        command="lookalike",
        universe=str(universe),
        k=k,
    )
    for note in notes:
        warn.print(f"[yellow]warning:[/] {note}")


def _cells(row: dict[str, Any]) -> dict[str, Any]:
    """A readable row of the TAM as table cells: a value that cannot be computed is a ``–``
    with its reason as a footnote."""
    return {
        key: NotComputable(row[f"{key}_reason"]) if value is None else value
        for key, value in row.items()
        if not key.endswith("_reason")
    }
