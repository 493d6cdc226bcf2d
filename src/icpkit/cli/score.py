"""``icp score``, ``icp backtest`` and ``icp calibrate``: the scorecard at work, and on trial."""

from __future__ import annotations

import datetime as dt
import math
import os
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer

from icpkit.cli.common import WorkspaceOption, clean_errors, console, fail, open_workspace
from icpkit.cli.output import Format, emit, excel_safe
from icpkit.icp import ICPError
from icpkit.scoring.features import ScoringError
from icpkit.validate.backtest import BacktestError, BacktestResult

SHOWN = ("name", "fit", "intent", "score", "tier", "route", "top_reasons")


def write_rows(rows: list[dict[str, Any]], out: Path) -> None:
    """CSV (Excel-safe), Parquet or JSON by the file's suffix, written whole or not at all."""
    import json

    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    suffix = out.suffix.lower()
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent or Path("."))
    os.close(fd)
    try:
        if suffix == ".json":
            Path(tmp).write_text(json.dumps(rows, indent=2, default=str) + "\n", encoding="utf-8")
        else:
            flat = [{k: v for k, v in r.items() if k != "reasons"} for r in rows]
            if suffix == ".parquet":
                pq.write_table(pa.Table.from_pylist(flat), tmp)
            elif suffix == ".csv":
                safe = [{k: excel_safe(v) for k, v in r.items()} for r in flat]
                pacsv.write_csv(pa.Table.from_pylist(safe), tmp)
            else:
                fail(f"{out}: write .csv, .parquet or .json")
        os.replace(tmp, out)
    finally:
        Path(tmp).unlink(missing_ok=True)


def score(
    file: Annotated[Path, typer.Argument(help="Accounts to score: CSV, XLSX or Parquet.")],
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write .csv, .parquet or .json here.")
    ] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Score intent as of this day (YYYY-MM-DD).")
    ] = None,
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
    day = _day(as_of)
    with clean_errors():
        try:
            scored = ws.score_file(file, as_of=day, sheet=sheet)
        except (ICPError, ScoringError) as exc:
            fail(str(exc))
    report = scored.report
    for problem in report.problems[:20]:
        console.print(f"[yellow]quarantined:[/] {problem}")
    if len(report.problems) > 20:
        console.print(f"[yellow]... and {len(report.problems) - 20} more problems[/]")
    for note in report.notes:
        console.print(f"[dim]note: {note}[/]")
    rows = scored.rows(full=out is not None and out.suffix.lower() == ".json")
    rows.sort(key=lambda r: (-r["score"], r["line"] or 0))
    console.print(
        f"Scored {len(rows):,} accounts from {file.name} as of {scored.as_of} "
        f"({report.rows_quarantined} rows quarantined). Base {scored.scorecard.base_total} points."
    )
    emit(rows[:top], "table", title=f"Top {min(top, len(rows))} accounts", columns=SHOWN)
    if out is not None:
        write_rows(rows, out)
        console.print(f"wrote {len(rows):,} scored accounts to {out}")


def _day(text: str | None) -> dt.date | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        fail(f"--as-of {text!r}: expected a date as YYYY-MM-DD")


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
                cutoff=_day(cutoff), test_share=test_share, allow_leaks=allow_leaks
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
