"""``icp analyze tiers|segments|lift``: what the CRM history says about who wins."""

from __future__ import annotations

import math
from typing import Annotated, Any

import typer

from icpkit.analysis.lift import LiftRow
from icpkit.analysis.segments import METRICS, Interval
from icpkit.cli.common import WorkspaceOption, clean_errors, console, fail, open_workspace
from icpkit.cli.output import FormatOption, OutOption, emit

app = typer.Typer(help="Analyze closed deals: customer tiers, segment tables, won vs lost.")


def _pct(x: float) -> str:
    return "-" if math.isnan(x) else f"{x:.0%}"


def _ci(i: Interval, fmt: str = "{:.0%}") -> str:
    if math.isnan(i.value):
        return "-"
    if math.isnan(i.low):
        return fmt.format(i.value)
    return f"{fmt.format(i.value)} ({fmt.format(i.low)}-{fmt.format(i.high)})"


@app.command()
def tiers(
    workspace: WorkspaceOption = None, fmt: FormatOption = "table", out: OutOption = None
) -> None:
    """Tier 1/2/3 for every won customer, from first-deal ACV, cycle, expansion and churn."""
    ws = open_workspace(workspace)
    with clean_errors():
        result = ws.tiers()
    rows = [c.__dict__ for c in result.customers]
    if fmt != "table":
        emit(rows, fmt, out=out)
        return
    counts = result.counts()
    total = sum(counts.values()) or 1
    for note in result.notes:
        console.print(f"[dim]{note}[/]")
    emit(
        [
            {"tier": f"Tier {t}", "customers": f"{n:,}", "share": f"{n / total:.0%}"}
            for t, n in counts.items()
        ],
        "table",
        title="Customer tiers",
    )


@app.command()
def segments(
    by: Annotated[
        str,
        typer.Option(
            "--by",
            help="employees, revenue, industry, country, "
            "funding_recency, company_age, tech:<tool>, "
            "stack_density, signal:<type>:<detail>, extra:<column>",
        ),
    ],
    workspace: WorkspaceOption = None,
    fmt: FormatOption = "table",
    out: OutOption = None,
) -> None:
    """Per bucket: deals, win rate, ACV, cycle, expansion and churn, with intervals."""
    ws = open_workspace(workspace)
    with clean_errors():
        try:
            table = ws.segments(by)
        except ValueError as exc:
            fail(str(exc))
    if fmt != "table":
        rows: list[dict[str, Any]] = []
        for s in table.segments:
            row: dict[str, Any] = {
                "attribute": table.attribute,
                "value": s.value,
                "deals": s.deals,
                "wins": s.wins,
                "accounts": s.accounts,
            }
            for metric in METRICS:
                interval = getattr(s, metric)
                row |= {
                    metric: interval.value,
                    f"{metric}_low": interval.low,
                    f"{metric}_high": interval.high,
                }
            row |= {"thin": s.thin, "leads": ";".join(s.leads)}
            rows.append(row)
        emit(rows, fmt, out=out)
        return
    emit(
        [
            {
                table.attribute: s.value + (" (thin)" if s.thin else ""),
                "deals": f"{s.deals:,}",
                "win rate": _ci(s.win_rate),
                "avg ACV": _ci(s.avg_acv, "{:,.0f}"),
                "median cycle": _ci(s.median_cycle_days, "{:.0f}d"),
                "expansion": _ci(s.expansion_rate),
                "churn": _ci(s.churn_rate),
            }
            for s in table.segments
        ],
        "table",
        title=f"Segments by {table.attribute}",
    )
    console.print(table.verdict)


def _lift_dict(r: LiftRow, information_value: dict[str, float]) -> dict[str, Any]:
    row = dict(r.__dict__)
    row["information_value"] = information_value.get(r.attribute)
    return row


@app.command()
def lift(
    workspace: WorkspaceOption = None,
    fmt: FormatOption = "table",
    out: OutOption = None,
    show: Annotated[
        str,
        typer.Option(
            help="Which rows in the table: 'verdicts' (all but 'not enough evidence') or 'all'."
        ),
    ] = "verdicts",
) -> None:
    """Won vs lost for every attribute value: lift, CI, WoE, q-value and a verdict."""
    ws = open_workspace(workspace)
    with clean_errors():
        result = ws.lift()
    for warning in result.warnings:
        console.print(f"[yellow]warning:[/] {warning}")
    if fmt != "table":
        emit([_lift_dict(r, result.information_value) for r in result.rows], fmt, out=out)
        return
    console.print(
        f"{result.n_closed:,} closed new-business deals, {result.n_won:,} won "
        f"({_pct(result.base_rate)}), {result.n_accounts:,} accounts"
    )
    rows = (
        result.rows
        if show == "all"
        else [r for r in result.rows if r.verdict != "not enough evidence"]
    )
    order = {"discriminator": 0, "disqualifier": 1, "market descriptor": 2}
    rows = sorted(rows, key=lambda r: (order.get(r.verdict, 3), r.q_value))
    emit(
        [
            {
                "verdict": r.verdict,
                "attribute": r.attribute,
                "value": r.value,
                "closed": f"{r.n_closed:,}",
                "win rate": f"{r.win_rate:.0%}",
                "lift (95% CI)": f"{r.lift:.2f} ({r.lift_ci[0]:.2f}-{r.lift_ci[1]:.2f})",
                "won/lost share": f"{r.share_won:.0%}/{r.share_lost:.0%}",
                "q": f"{r.q_value:.2g}",
                "why": r.why,
            }
            for r in rows
        ],
        "table",
        title="Won vs lost",
    )
