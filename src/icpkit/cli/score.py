"""``icp score``, ``icp backtest`` and ``icp calibrate``: the scorecard at work, and on trial."""

from __future__ import annotations

import datetime as dt
import math
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import Progress

from icpkit.cli.common import (
    WorkspaceOption,
    clean_errors,
    console,
    fail,
    open_workspace,
    parse_day,
)
from icpkit.cli.output import Format, emit
from icpkit.icp import ICPError
from icpkit.scoring.features import ScoringError
from icpkit.validate.backtest import BacktestError, BacktestResult

SHOWN = ("name", "fit", "intent", "score", "tier", "route", "top_reasons")


def score(
    file: Annotated[Path, typer.Argument(help="Accounts to score: CSV, XLSX or Parquet.")],
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write .csv, .parquet or .json here.")
    ] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Score intent as of this day (YYYY-MM-DD).")
    ] = None,
    engine: Annotated[
        str, typer.Option(help="duckdb (here), or spark (needs icpkit[spark] and Parquet in/out).")
    ] = "duckdb",
    top: Annotated[int, typer.Option(help="Accounts shown in the terminal.")] = 20,
    sheet: Annotated[str | None, typer.Option(help="XLSX sheet to read.")] = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Score a file of accounts: fit, intent, sub-scores, tier, route and reasons."""
    ws = open_workspace(workspace)
    if not file.exists():
        fail(f"{file}: no such file")
    if out is not None and out.suffix.lower() not in (".csv", ".parquet", ".json"):
        fail(f"{out}: write .csv, .parquet or .json")
    day = parse_day(as_of)
    if engine == "spark":
        _score_on_spark(ws, file, out, day)
        return
    if engine != "duckdb":
        fail(f"--engine {engine!r}: duckdb or spark")
    with clean_errors():
        try:
            with Progress(transient=True, console=console) as bar:
                task = bar.add_task(f"scoring {file.name}", total=100)
                scored = ws.score_file(
                    file,
                    as_of=day,
                    out=out,
                    sheet=sheet,
                    progress=lambda done: bar.update(task, completed=done),
                )
        except (ICPError, ScoringError) as exc:
            fail(str(exc))
    report = scored.report
    for text in scored.problems:
        console.print(f"[yellow]unreadable:[/] {text}")
    if report is not None:
        for problem in report.problems[:20]:
            console.print(f"[yellow]quarantined:[/] {problem.message()}")
        if len(report.problems) > 20:
            console.print(f"[yellow]... and {len(report.problems) - 20} more problems[/]")
        for note in report.notes:
            console.print(f"[dim]note: {note}[/]")
    quarantined = (
        f", {report.rows_quarantined} rows and {report.cells_quarantined} cells quarantined"
        if report
        else ""
    )
    console.print(
        f"Scored {scored.total:,} accounts from {file.name} as of {scored.as_of}{quarantined}; "
        f"base {scored.scorecard.base_total} points."
    )
    console.print(
        "tiers: "
        + ", ".join(f"{t} {scored.tiers.get(t, 0):,}" for t in "ABCD")
        + "; routes: "
        + ", ".join(f"{r} {n:,}" for r, n in sorted(scored.routes.items()))
    )
    if out is None:
        rows = sorted(scored.rows(), key=lambda r: (-r["score"], str(r.get("line") or "")))
        emit(rows[:top], "table", title=f"Top {min(top, len(rows))} accounts", columns=SHOWN)
    else:
        console.print(f"wrote {scored.total:,} scored accounts to {out}")


def _score_on_spark(ws: Any, file: Path, out: Path | None, day: dt.date | None) -> None:
    """Run the compiled SELECT on a Spark session (local, or the cluster of SPARK_* settings)."""
    from icpkit.scoring.spark import SparkUnavailable, score_on_spark

    if out is None or out.suffix.lower() != ".parquet":
        fail("--engine spark reads and writes Parquet: pass --out scored.parquet")
    with clean_errors():
        try:
            total = score_on_spark(ws, file, out, as_of=day)
        except (SparkUnavailable, ICPError, ScoringError) as exc:
            fail(str(exc))
    console.print(f"Spark scored {total:,} accounts from {file.name}; wrote {out}")


def sql(
    dialect: Annotated[
        str, typer.Option(help="duckdb, spark, postgres, snowflake or bigquery.")
    ] = "duckdb",
    table: Annotated[str, typer.Option(help="The accounts table to score.")] = "accounts",
    signals: Annotated[str, typer.Option(help="The signals table.")] = "signals",
    contacts: Annotated[str, typer.Option(help="The contacts table (buyer persona).")] = "contacts",
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="A fixed day (default: the engine's today).")
    ] = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Print the scorecard as one SQL SELECT for a warehouse job or a dbt model."""
    from icpkit.scoring.sql import DIALECTS, Tables, compile_scorecard

    if dialect not in DIALECTS:
        fail(f"--dialect {dialect!r}: one of {', '.join(DIALECTS)}")
    ws = open_workspace(workspace)
    with clean_errors():
        try:
            text = compile_scorecard(
                ws.require_icp(),
                ws.settings,
                dialect=dialect,
                tables=Tables(table, signals, contacts),
                as_of=parse_day(as_of),
            )
        except (ICPError, ScoringError) as exc:
            fail(str(exc))
    sys.stdout.write(text + "\n")


def _ci(value: float, low: float, high: float, fmt: str = ".3f") -> str:
    if math.isnan(value):
        return "n/a"
    if math.isnan(low):
        return format(value, fmt)
    return f"{value:{fmt}} ({low:{fmt}}-{high:{fmt}})"


def print_backtest(result: BacktestResult, fmt: Format = "table") -> None:
    """The backtest's tables: models, tiers and calibration."""
    console.print(
        f"Backtest: fitted on {result.train_deals:,} deals closed before {result.cutoff}, "
        f"tested on {result.test_deals:,} deals created from then on ({result.test_wins:,} "
        f"won); {result.skipped_open:,} deals open at the cut-off are in neither."
    )
    best = max(m.auc.value for m in result.models if m.model != "true win probability (generator)")
    emit(
        [
            {
                "model": m.model,
                "ROC AUC (95% CI)": _ci(m.auc.value, m.auc.low, m.auc.high),
                "PR AUC (95% CI)": _ci(m.pr_auc.value, m.pr_auc.low, m.pr_auc.high),
                "vs best": f"{m.auc.value - best:+.3f}",
            }
            for m in result.models
        ],
        fmt,
        title="Accuracy on the test deals (intervals resample accounts)",
    )
    emit(
        [
            {
                "tier": r.tier,
                "deals": r.n,
                "won": r.wins,
                "win rate (95% CI)": _ci(r.win_rate, r.low, r.high, ".0%") if r.n else "-",
                "share of wins": f"{r.share_of_wins:.0%}",
                "median cycle (won)": "-"
                if math.isnan(r.median_cycle_days)
                else f"{r.median_cycle_days:.0f}d",
            }
            for r in result.tiers
        ],
        fmt,
        title="Tiers on the test deals",
    )
    lift = result.tier_lift
    console.print(
        f"Tier A wins {_ci(lift.value, lift.low, lift.high, '.1f')}x as often as tiers C-D "
        "(below 1.5x the score does not discriminate; 2-3x is the field's target). "
        f"Tiers A-B hold {result.top_tier_wins:.0%} of the test wins (rule of thumb: 70%+)."
    )
    emit(
        [
            {
                "decile": i + 1,
                "deals": r.n,
                "predicted": f"{r.mean_predicted:.0%}",
                "observed (95% CI)": _ci(r.observed, r.low, r.high, ".0%"),
            }
            for i, r in enumerate(result.calibration)
        ],
        fmt,
        title=f"Calibration of the win probability (Brier {result.brier:.3f})",
    )
    for leak in result.leaks:
        console.print(f"[yellow]warning:[/] {leak.message()}")
    for note in result.notes:
        console.print(f"[dim]note: {note}[/]")


def backtest(
    cutoff: Annotated[
        str | None, typer.Option(help="Split date (default: the last 30% of deals are tested).")
    ] = None,
    test_share: Annotated[float, typer.Option(min=0.05, max=0.9)] = 0.3,
    allow_leaks: Annotated[
        bool, typer.Option(help="Run even when a field looks filled in after close.")
    ] = False,
    fmt: Annotated[Format, typer.Option("--format", help="table, csv or json.")] = "table",
    workspace: WorkspaceOption = None,
) -> None:
    """Fit on older deals, score newer ones: AUC, tiers, calibration, against baselines."""
    ws = open_workspace(workspace)
    with clean_errors():
        try:
            result = ws.backtest(
                cutoff=parse_day(cutoff, "--cutoff"), test_share=test_share, allow_leaks=allow_leaks
            )
        except (BacktestError, ICPError, ScoringError) as exc:
            fail(str(exc))
    print_backtest(result, fmt)


def calibrate(
    workspace: WorkspaceOption = None,
    note: Annotated[str | None, typer.Option(help="A line for the changelog entry.")] = None,
) -> None:
    """Refit the points from the latest outcomes; write a new ICP version with its diff."""
    ws = open_workspace(workspace)
    with clean_errors():
        try:
            result = ws.calibrate(note=note)
        except (ICPError, ScoringError) as exc:
            fail(str(exc))
    if not result.written:
        console.print(f"Points unchanged (version {result.version}).")
        return
    console.print(f"ICP version {result.version} written with refitted points:")
    for line in result.changes:
        console.print(f"  {line}")
