"""``icp score``, ``icp backtest`` and ``icp calibrate``: the scorecard at work, and on trial."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer

from icpkit.cli.common import (
    WorkspaceOption,
    console,
    err_console,
    fail,
    open_workspace,
    parse_day,
)
from icpkit.cli.numbers import cell, finite, interval, json_record, prose_interval
from icpkit.cli.output import Column, OutOption, document, emit, write_json

if TYPE_CHECKING:
    from icpkit.engines.prospects import ScoredFile
    from icpkit.validate.backtest import BacktestResult, ModelRow

SHOWN = (
    Column("name"),
    Column("fit", priority=3),
    Column("intent", priority=4),
    Column("score"),
    Column("tier"),
    Column("route", priority=1),
    Column("top_reasons", "top reasons", priority=2),
)
"""The columns of scored accounts in the terminal; the file written keeps every field."""
GENERATOR = "true win probability (generator)"


def score(
    file: Annotated[
        Path | None,
        typer.Argument(
            help="Accounts to score: CSV, XLSX or Parquet (with --shadow and no file: the "
            "workspace's accounts)."
        ),
    ] = None,
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
    shadow: Annotated[
        int | None,
        typer.Option(
            "--shadow",
            metavar="VERSION",
            help="Also score with this saved version (shadow_ columns) and record both "
            "scores, for icp monitor --shadow.",
        ),
    ] = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Score a file of accounts: fit, intent, sub-scores, tier, route and reasons."""
    from rich.progress import Progress

    from icpkit.workspace import ENGINES

    ws = open_workspace(workspace)
    if file is None and shadow is None:
        fail("give a file of accounts to score (or --shadow VERSION to score the workspace's)")
    if file is not None and not file.exists():
        fail(f"{file}: no such file")
    if out is not None and out.suffix.lower() not in (".csv", ".parquet", ".json"):
        fail(f"{out}: write .csv, .parquet or .json")
    day = parse_day(as_of)
    if shadow is not None:
        from icpkit.cli.shadow import print_shadow_scoring

        if engine != "duckdb":
            fail("--shadow scores with the duckdb engine")
        if file is None and out is not None:
            fail("--out writes a scored file: give the file of accounts to score")
        with Progress(transient=True, console=err_console) as bar:
            task = bar.add_task("scoring in shadow", total=100)
            result = ws.score_shadow(
                shadow,
                file,
                as_of=day,
                out=out,
                sheet=sheet,
                progress=lambda done: bar.update(task, completed=done),
            )
        print_shadow_scoring(result, top)
        return
    assert file is not None
    if engine == "spark":
        # Run the compiled SELECT on a Spark session (local, or the cluster of SPARK_* settings).
        if out is None or out.suffix.lower() != ".parquet":
            fail("--engine spark reads and writes Parquet: pass --out scored.parquet")
        scored = ws.score_file(file, engine="spark", as_of=day, out=out)
        console.print(f"Spark scored {scored.total:,} accounts from {file.name}; wrote {out}")
        return
    if engine not in ENGINES:
        fail(f"--engine {engine!r}: {' or '.join(ENGINES)}")
    with Progress(transient=True, console=err_console) as bar:
        task = bar.add_task(f"scoring {file.name}", total=100)
        scored = ws.score_file(
            file,
            as_of=day,
            out=out,
            sheet=sheet,
            progress=lambda done: bar.update(task, completed=done),
        )
        bar.update(task, completed=100)
    report = scored.report
    for warning in scored.scorecard.warnings:
        console.print(f"[yellow]warning:[/] {warning}")
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
    print_counts(scored)
    if out is None:
        rows = sorted(scored.rows(), key=lambda r: (-r["score"], str(r.get("line") or "")))
        # With named ICPs (docs/multi-icp.md) each account's best-fitting one is shown too.
        named = bool(rows) and "best_icp" in rows[0]
        best = (Column("best_icp", "best ICP", priority=1),) if named else ()
        title = f"Top {min(top, len(rows))} accounts"
        emit(rows[:top], "table", title=title, columns=(*SHOWN, *best))
    else:
        console.print(f"wrote {scored.total:,} scored accounts to {out}")


def print_counts(scored: ScoredFile) -> None:
    """One line of the accounts scored by tier and by route."""
    console.print(
        "tiers: "
        + ", ".join(f"{t} {scored.tiers.get(t, 0):,}" for t in "ABCD")
        + "; routes: "
        + ", ".join(f"{r} {n:,}" for r, n in sorted(scored.routes.items()))
    )


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
    icp: Annotated[
        str | None, typer.Option("--icp", help="Compile the named ICP NAME instead.")
    ] = None,
    all_icps: Annotated[
        bool,
        typer.Option(
            "--all-icps", help="One SELECT with every named ICP: best_icp and per-ICP columns."
        ),
    ] = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Print the scorecard as one SQL SELECT for a warehouse job or a dbt model."""
    from icpkit.workspace import DIALECTS

    if dialect not in DIALECTS:
        fail(f"--dialect {dialect!r}: one of {', '.join(DIALECTS)}")
    if icp is not None and all_icps:
        fail("--icp and --all-icps: give one of them", 2)
    ws = open_workspace(workspace)
    text = ws.sql(
        dialect,
        accounts=table,
        signals=signals,
        contacts=contacts,
        as_of=parse_day(as_of),
        icp=icp,
        all_icps=all_icps,
    )
    sys.stdout.write(text + "\n")


# --- The backtest, as tables and as one JSON document -------------------------------------

NO_PROBABILITY = "the scorecard gave no win probability for these deals"


def _model_why(m: ModelRow) -> str:
    if not m.fitted:
        return f"{m.model}: {m.note or 'could not be fitted'}"
    return f"{m.model}: its scores do not separate won from lost on these test deals"


def _tier_lift_why(result: BacktestResult) -> str:
    """Why tier A's win rate over tiers C-D cannot be computed on these test deals."""
    by_tier = {r.tier: r for r in result.tiers}
    top = by_tier.get("A")
    bottom = [by_tier[t] for t in ("C", "D") if t in by_tier]
    if top is None or top.n == 0:
        return "no test deal is in tier A"
    if sum(r.n for r in bottom) == 0:
        return "no test deal is in tiers C-D"
    if sum(r.wins for r in bottom) == 0:
        return "no test deal in tiers C-D was won, so there is no rate to divide by"
    return "too few test deals in tier A or tiers C-D"


def _brier_why(result: BacktestResult) -> str:
    return "no test deals" if result.test_deals == 0 else NO_PROBABILITY


TIER_WHY = {
    "win_rate": "no test deal in this tier",
    "win_rate_low": "no test deal in this tier",
    "win_rate_high": "no test deal in this tier",
    "share_of_wins": "no test deal was won",
    "cumulative_share": "no test deal was won",
    "median_cycle_days": "no won deal in this tier has both a creation and a close date",
}
"""Why a value of the backtest's tier table cannot be computed."""


def backtest_document(result: BacktestResult) -> dict[str, Any]:
    """The backtest as one JSON-ready document (docs/json.md, command ``backtest``)."""
    models = []
    for m in result.models:
        why = _model_why(m)
        record = {
            "model": m.model,
            "fitted": m.fitted,
            "note": m.note,
            "roc_auc": m.auc.value,
            "roc_auc_low": m.auc.low,
            "roc_auc_high": m.auc.high,
            "pr_auc": m.pr_auc.value,
            "pr_auc_low": m.pr_auc.low,
            "pr_auc_high": m.pr_auc.high,
            "seconds": m.seconds,
        }
        models.append(json_record(record, dict.fromkeys(record, why)))
    tiers = [
        json_record(
            {
                "tier": r.tier,
                "deals": r.n,
                "won": r.wins,
                "win_rate": r.win_rate,
                "win_rate_low": r.low,
                "win_rate_high": r.high,
                "share_of_wins": r.share_of_wins,
                "cumulative_share": r.cumulative_share,
                "median_cycle_days": r.median_cycle_days,
            },
            TIER_WHY,
        )
        for r in result.tiers
    ]
    calibration = [
        json_record(
            {
                "bin": i + 1,
                "deals": r.n,
                "mean_predicted": r.mean_predicted,
                "observed": r.observed,
                "observed_low": r.low,
                "observed_high": r.high,
            },
            {"mean_predicted": NO_PROBABILITY},
        )
        for i, r in enumerate(result.calibration)
    ]
    lift = result.tier_lift
    summary = json_record(
        {
            "tier_lift": lift.value,
            "tier_lift_low": lift.low,
            "tier_lift_high": lift.high,
            "top_tier_wins": result.top_tier_wins,
            "brier": result.brier,
        },
        {
            "tier_lift": _tier_lift_why(result),
            "tier_lift_low": _tier_lift_why(result),
            "tier_lift_high": _tier_lift_why(result),
            "brier": _brier_why(result),
        },
    )
    return document(
        "backtest",
        cutoff=result.cutoff.isoformat(),
        train_deals=result.train_deals,
        test_deals=result.test_deals,
        test_wins=result.test_wins,
        skipped_open=result.skipped_open,
        models=models,
        tiers=tiers,
        calibration=calibration,
        **summary,
        leaks=[
            {"attribute": k.attribute, "auc": k.auc, "n_closed": k.n_closed, "message": k.message()}
            for k in result.leaks
        ],
        notes=list(result.notes),
    )


def print_backtest(result: BacktestResult) -> None:
    """The backtest's tables: models, tiers and calibration, every gap said in words."""
    console.print(
        f"Backtest: fitted on {result.train_deals:,} deals closed before {result.cutoff}, "
        f"tested on {result.test_deals:,} deals created from then on ({result.test_wins:,} "
        f"won); {result.skipped_open:,} deals open at the cut-off are in neither."
    )
    measured = [m.auc.value for m in result.models if m.fitted and m.model != GENERATOR]
    best = max((v for v in measured if finite(v)), default=float("nan"))
    rows = []
    for m in result.models:
        why = _model_why(m)
        rows.append(
            {
                "model": m.model,
                "roc": interval(m.auc.value, m.auc.low, m.auc.high, ".3f", why),
                "pr": interval(m.pr_auc.value, m.pr_auc.low, m.pr_auc.high, ".3f", why),
                "vs best": cell(m.auc.value - best, "+.3f", why),
            }
        )
    emit(
        rows,
        "table",
        title="Accuracy on the test deals (intervals resample accounts)",
        columns=[
            Column("model"),
            Column("roc", "ROC AUC (95% CI)"),
            Column("pr", "PR AUC (95% CI)", priority=2),
            Column("vs best", priority=1),
        ],
    )
    emit(
        [
            {
                "tier": r.tier,
                "deals": f"{r.n:,}",
                "won": f"{r.wins:,}",
                "win rate": interval(r.win_rate, r.low, r.high, ".0%", TIER_WHY["win_rate"]),
                "share of wins": cell(r.share_of_wins, ".0%", TIER_WHY["share_of_wins"]),
                "median cycle": cell(r.median_cycle_days, ".0f", TIER_WHY["median_cycle_days"]),
            }
            for r in result.tiers
        ],
        "table",
        title="Tiers on the test deals (win rate with 95% CI; median cycle of won deals, days)",
        columns=[
            Column("tier"),
            Column("deals"),
            Column("won"),
            Column("win rate"),
            Column("share of wins", priority=1),
            Column("median cycle", priority=2),
        ],
    )
    lift = result.tier_lift
    ratio = prose_interval(lift.value, lift.low, lift.high, ".1f", _tier_lift_why(result), "x")
    lead = (
        f"Tier A wins {ratio} as often as tiers C-D"
        if finite(lift.value)
        else f"How often tier A wins against tiers C-D: {ratio}"
    )
    console.print(
        f"{lead} (below 1.5x the score does not discriminate; 2-3x is the field's target). "
        f"Tiers A-B hold {result.top_tier_wins:.0%} of the test wins (rule of thumb: 70%+)."
    )
    brier = prose_interval(result.brier, None, None, ".3f", _brier_why(result))
    emit(
        [
            {
                "decile": f"{i + 1}",
                "deals": f"{r.n:,}",
                "predicted": cell(r.mean_predicted, ".0%", NO_PROBABILITY),
                "observed": interval(r.observed, r.low, r.high, ".0%", "no deals in this bin"),
            }
            for i, r in enumerate(result.calibration)
        ],
        "table",
        title=f"Calibration of the win probability (Brier {brier})",
        columns=[
            Column("decile"),
            Column("deals"),
            Column("predicted"),
            Column("observed", "observed (95% CI)"),
        ],
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
    fmt: Annotated[
        Literal["table", "json"],
        typer.Option("--format", help="table (terminal) or json (one document)."),
    ] = "table",
    out: OutOption = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Fit on older deals, score newer ones: AUC, tiers, calibration, against baselines."""
    ws = open_workspace(workspace)
    result = ws.backtest(
        cutoff=parse_day(cutoff, "--cutoff"), test_share=test_share, allow_leaks=allow_leaks
    )
    if fmt == "json":
        write_json(backtest_document(result), out)
    else:
        print_backtest(result)


def calibrate(
    workspace: WorkspaceOption = None,
    note: Annotated[str | None, typer.Option(help="A line for the changelog entry.")] = None,
) -> None:
    """Refit the points from the latest outcomes; write a new ICP version with its diff."""
    ws = open_workspace(workspace)
    result = ws.calibrate(note=note)
    if not result.written:
        console.print(f"Points unchanged (version {result.version}).")
        return
    console.print(f"ICP version {result.version} written with refitted points:")
    for line in result.changes:
        console.print(f"  {line}")
