"""``icp monitor``: is the ICP still working on the deals since it was fitted? Exit 0 healthy,
1 warning, 2 action needed, for schedulers."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from icpkit.cli.common import WorkspaceOption, console, open_workspace, parse_day
from icpkit.cli.numbers import cell, interval, prose_interval
from icpkit.cli.output import Column, Format, FormatOption, OutOption, emit, print_table

if TYPE_CHECKING:
    from icpkit.operate.monitor import MonitorResult

NO_AUC = "the period's closed deals are all won or all lost, or too few"
NO_LIFT = "tier A or tiers C-D hold no closed deal (or no win) in the period"
COLOURS = {"healthy": "green", "warning": "yellow", "action": "red"}


def monitor(
    period: Annotated[
        str, typer.Option("--period", help="Group new deals by month or quarter.")
    ] = "month",
    since: Annotated[
        str | None,
        typer.Option(
            "--since", help="Judge deals created from this day (default: after the fitted ones)."
        ),
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Replay the check as of this day (deals as they stood)."),
    ] = None,
    shadow: Annotated[
        bool,
        typer.Option(
            "--shadow",
            help="Judge the versions scored side by side (icp score --shadow) on the deals "
            "created since: which ranks better, with an interval.",
        ),
    ] = False,
    fmt: FormatOption = "table",
    out: OutOption = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Drift: win rate, AUC and lift by tier per period since the ICP was fitted, PSI of its
    attributes and score, rules whose lift moved. Exit 0 healthy, 1 warning, 2 action."""
    if period not in ("month", "quarter"):
        raise typer.BadParameter(f"{period!r}: month or quarter", param_hint="--period")
    ws = open_workspace(workspace)
    if shadow:
        from icpkit.cli.shadow import print_shadow_result

        print_shadow_result(ws.shadow_monitor(as_of=parse_day(as_of, "--as-of")), fmt, out)
        return
    result = ws.monitor(
        period=period, since=parse_day(since, "--since"), as_of=parse_day(as_of, "--as-of")
    )
    print_monitor(result, fmt, out)
    raise typer.Exit(result.exit_code)


def _fields(result: MonitorResult) -> dict[str, Any]:
    """Everything but the per-period rows, for the JSON document."""
    return {
        "verdict": result.verdict,
        "exit_code": result.exit_code,
        "summary": result.summary(),
        "findings": [{"level": level, "text": text} for level, text in result.findings],
        "icp_version": result.icp_version,
        "period": result.period,
        "since": result.since.isoformat(),
        "fitting_window": {
            "from": result.fit_from.isoformat() if result.fit_from else None,
            "to": result.fit_to.isoformat() if result.fit_to else None,
            "deals": result.fit_deals,
            "closed": result.fit_closed,
            "inside_icp": result.fit_inside_icp,
        },
        "reference_auc": [
            result.reference_auc.value,
            result.reference_auc.low,
            result.reference_auc.high,
        ],
        "reference": result.reference,
        "shifts": [
            {"name": s.name, "psi": s.psi, "band": s.band, "bins": s.bins} for s in result.shifts
        ],
        "rules": [
            {
                "rule": r.rule_id,
                "attribute": r.attribute,
                "lift_before": r.lift_before,
                "lift_after": r.lift_after,
                "win_rate_before": r.win_rate_before,
                "win_rate_after": r.win_rate_after,
                "closed_deals_after": r.deals_after,
                "p_value": r.p_value,
                "q_value": r.q_value,
                "moved": r.moved,
            }
            for r in result.rules
        ],
        "notes": list(result.notes),
    }


def print_monitor(result: MonitorResult, fmt: Format = "table", out: Path | None = None) -> None:
    """The monitor's findings as tables and sentences, or one CSV or JSON document."""
    if fmt != "table":
        emit(result.period_rows(), fmt, out=out, command="monitor", **_fields(result))
        return
    colour = COLOURS[result.verdict]
    console.print(f"[{colour}]{result.summary()}[/]", soft_wrap=True)
    window = (
        f"{result.fit_from.isoformat()} to {result.fit_to.isoformat()}"
        if result.fit_from and result.fit_to
        else f"before {result.since.isoformat()}"
    )
    ref = result.reference_auc
    console.print(
        f"ICP version {result.icp_version}, fitted on deals created {window} "
        f"({result.fit_closed:,} closed); its AUC there (the reference) "
        f"{prose_interval(ref.value, ref.low, ref.high, '.3f', NO_AUC)}; "
        f"inside the ICP there: {result.fit_inside_icp:.0%}",
        soft_wrap=True,
    )
    if result.periods:
        rows = [
            {
                "period": p.label,
                "deals": f"{p.deals:,}",
                "closed": f"{p.closed:,}",
                "win rate": cell(p.wins / p.closed if p.closed else float("nan"), ".0%", NO_AUC),
                "AUC": interval(p.auc.value, p.auc.low, p.auc.high, ".3f", NO_AUC),
                "decline q": cell(p.auc_q_value, ".2g", "too few closed deals to test"),
                "tier lift": interval(
                    p.tier_lift.value, p.tier_lift.low, p.tier_lift.high, ".2f", NO_LIFT
                ),
                "in ICP": interval(p.inside_icp, p.inside_low, p.inside_high, ".0%", "no deals"),
            }
            for p in result.periods
        ]
        columns = [
            Column("period"),
            Column("deals", priority=3),
            Column("closed"),
            Column("win rate", priority=2),
            Column("AUC"),
            Column("decline q", priority=1),
            Column("tier lift", priority=4),
            Column("in ICP", priority=5),
        ]
        print_table(rows, columns, title=f"New deals by {result.period}")
    if result.shifts:
        print_table(
            [
                {"name": s.name, "PSI": cell(s.psi, ".3f", "no deals"), "band": s.band}
                for s in result.shifts
            ],
            title="Population stability, new deals vs the fitting window",
        )
    moved = [r for r in result.rules if r.moved]
    if moved:
        print_table(
            [
                {
                    "rule": r.rule_id,
                    "win rate before": cell(r.win_rate_before, ".0%", "no deal matches"),
                    "win rate since": cell(r.win_rate_after, ".0%", "no deal matches"),
                    "lift before": cell(r.lift_before, ".2f", "no deals on a side"),
                    "lift since": cell(r.lift_after, ".2f", "no deals on a side"),
                    "q": f"{r.q_value:.2g}",
                }
                for r in moved
            ],
            title="Rules whose lift moved",
        )
    for note in result.notes:
        console.print(f"[dim]note: {note}[/]", soft_wrap=True)
