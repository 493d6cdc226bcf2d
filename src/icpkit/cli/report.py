"""``icp report``: the ICP, where you win, whether the score works, the market, what changed and
the data's quality, as one self-contained HTML page (or Markdown)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from icpkit.cli.common import (
    WorkspaceOption,
    console,
    open_workspace,
    parse_day,
    parse_widening,
)


class ReportFormat(StrEnum):
    """What ``icp report`` writes."""

    html = "html"
    md = "md"


def report(
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", help="File to write (default: icp-report.html or .md in the workspace)."
        ),
    ] = None,
    fmt: Annotated[
        ReportFormat,
        typer.Option("--format", help="html: one self-contained page; md: Markdown."),
    ] = ReportFormat.html,
    universe: Annotated[
        Path | None,
        typer.Option(
            "--universe",
            help="A company universe (as `icp tam` reads one): adds the TAM and lookalikes.",
        ),
    ] = None,
    widen: Annotated[
        list[str] | None,
        typer.Option("--widen", help="With --universe, a what-if such as employees=20-500."),
    ] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Score the universe's intent as of YYYY-MM-DD.")
    ] = None,
    backtest: Annotated[
        bool, typer.Option("--backtest/--no-backtest", help="Run the backtest for the report.")
    ] = True,
    challengers: Annotated[
        bool,
        typer.Option("--challengers/--no-challengers", help="Backtest the challenger models too."),
    ] = True,
    workspace: WorkspaceOption = None,
) -> None:
    """Write the ICP report from the workspace's current state and print its path."""
    ws = open_workspace(workspace)
    path = ws.report(
        out,
        fmt=fmt.value,
        universe=universe,
        widen=parse_widening(widen),
        as_of=parse_day(as_of),
        backtest=backtest,
        challengers=challengers,
    )
    console.print(f"report: {path}")
