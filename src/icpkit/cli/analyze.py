"""``icp analyze tiers|segments|lift|clusters``: what the CRM history says about who wins."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Annotated, Any

import typer

from icpkit.cli.common import WorkspaceOption, console, open_workspace
from icpkit.cli.numbers import NotComputable, cell, finite, interval, prose
from icpkit.cli.output import Column, FormatOption, OutOption, emit

if TYPE_CHECKING:
    from icpkit.analysis.clusters import Cluster
    from icpkit.analysis.lift import LiftResult, LiftRow
    from icpkit.analysis.segments import Interval, Segment

app = typer.Typer(help="Analyze closed deals: customer tiers, segment tables, won vs lost.")

# Why each metric of a segment table (icpkit.analysis.segments.METRICS, in its order) may
# not be computable.
SEGMENT_WHY = {
    "win_rate": "no closed deals in this segment",
    "avg_acv": "no won deal with an amount in this segment",
    "median_cycle_days": "no won deal with both a creation and a close date in this segment",
    "expansion_rate": "no customer in this segment",
    "churn_rate": "no customer in this segment",
}
LIFT_WHY = {
    "win_rate": "no closed deals with this value",
    "lift": "no deal outside this value was won, so there is no win rate to compare with",
    "lift_ci": "too few accounts to resample for an interval",
    "woe": "every deal with this value was won, or every one lost",
    "information_value": "every deal of this attribute's values was won, or every one lost",
    "p_value": "no test was run for this value",
    "q_value": "no test was run for this value",
}


@app.command()
def tiers(
    workspace: WorkspaceOption = None, fmt: FormatOption = "table", out: OutOption = None
) -> None:
    """Tier 1/2/3 for every won customer, from first-deal ACV, cycle, expansion and churn."""
    ws = open_workspace(workspace)
    result = ws.tiers()
    if fmt != "table":
        emit(
            [c.__dict__ for c in result.customers],
            fmt,
            out=out,
            command="analyze tiers",
            acv_threshold=result.acv_threshold,
            cycle_days_threshold=result.cycle_days_threshold,
            notes=result.notes,
        )
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


def _segment_cell(s: Segment, metric: str, spec: str) -> str:
    i: Interval = getattr(s, metric)
    return interval(i.value, i.low, i.high, spec, SEGMENT_WHY[metric])


@app.command()
def segments(
    by: Annotated[
        str,
        typer.Option(
            "--by",
            # The registry's names (icpkit.attributes.names_help, kept equal by a test; the
            # help loads no library) and the segment tables' alias funding_recency.
            help="employees, revenue, industry, country, stack_density, company_age, "
            "funding_stage, tech:<tool>, extra:<column>, answer:<key>, signal:<type>:<detail>, "
            "funding_recency",
        ),
    ],
    workspace: WorkspaceOption = None,
    fmt: FormatOption = "table",
    out: OutOption = None,
) -> None:
    """Per bucket: deals, win rate, ACV, cycle, expansion and churn, with intervals."""
    ws = open_workspace(workspace)
    table = ws.segments(by)
    if fmt != "table":
        rows: list[dict[str, Any]] = []
        why: dict[str, str] = {}
        for s in table.segments:
            row: dict[str, Any] = {
                "attribute": table.attribute,
                "value": s.value,
                "deals": s.deals,
                "wins": s.wins,
                "accounts": s.accounts,
            }
            for metric in SEGMENT_WHY:
                i = getattr(s, metric)
                row |= {metric: i.value, f"{metric}_low": i.low, f"{metric}_high": i.high}
                keys = (metric, f"{metric}_low", f"{metric}_high")
                why |= dict.fromkeys(keys, SEGMENT_WHY[metric])
            row |= {"thin": s.thin, "leads": ";".join(s.leads)}
            rows.append(row)
        emit(
            rows,
            fmt,
            out=out,
            why=why,
            command="analyze segments",
            attribute=table.attribute,
            leader=table.leader,
            verdict=table.verdict,
        )
        return
    emit(
        [
            {
                "value": s.value + (" (thin)" if s.thin else ""),
                "deals": f"{s.deals:,}",
                "win rate": _segment_cell(s, "win_rate", ".0%"),
                "avg ACV": _segment_cell(s, "avg_acv", ",.0f"),
                "median cycle": _segment_cell(s, "median_cycle_days", ".0f"),
                "expansion": _segment_cell(s, "expansion_rate", ".0%"),
                "churn": _segment_cell(s, "churn_rate", ".0%"),
            }
            for s in table.segments
        ],
        "table",
        title=f"Segments by {table.attribute} (cycle in days)",
        columns=[
            Column("value", table.attribute),
            Column("deals"),
            Column("win rate"),
            Column("avg ACV", priority=2),
            Column("median cycle", priority=3),
            Column("expansion", priority=4),
            Column("churn", priority=1),
        ],
    )
    console.print(table.verdict)


def _lift_dict(r: LiftRow, result: LiftResult) -> dict[str, Any]:
    row = dict(r.__dict__)
    row["information_value"] = result.information_value.get(r.attribute)
    return row


def _shares(r: LiftRow) -> str:
    """Share of all wins and of all losses that have this value, as "won%/lost%"."""
    if finite(r.share_won) and finite(r.share_lost):
        return f"{r.share_won:.0%}/{r.share_lost:.0%}"
    return NotComputable("no won deals, or no lost deals, to take a share of")


LIFT_COLUMNS = [
    Column("verdict"),
    Column("attribute"),
    Column("value"),
    Column("closed", priority=2),
    Column("accounts", priority=2),
    Column("win rate", priority=1),
    Column("lift", "lift (95% CI)"),
    Column("shares", "won/lost share", priority=4),
    Column("q", priority=3),
    Column("why", priority=5),
]


def _no_lift_rows(result: LiftResult) -> str:
    """Why the won-vs-lost table has no row to show, in one sentence."""
    if result.n_closed == 0:
        return "No rows: there are no closed new-business deals to compare."
    if result.n_won == 0 or result.n_won == result.n_closed:
        outcome = "lost" if result.n_won == 0 else "won"
        return f"No rows: every closed deal was {outcome}, so no value can be compared."
    if not result.rows:
        return "No rows: no attribute has two or more values to compare."
    thin = sum(r.thin for r in result.rows)
    why = (
        "every cut is too thin to tell (too few closed deals or accounts in it or in the rest)"
        if thin == len(result.rows)
        else f"{thin:,} cuts are too thin to tell, and no other differs from the rest by "
        "enough, with enough certainty"
        if thin
        else "none differs from the rest by enough, with enough certainty"
    )
    return (
        f"No rows: none of the {len(result.rows):,} values compared has a verdict: {why}; "
        "`--show all` lists them."
    )


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
    result = ws.lift()
    if fmt != "table":
        emit(
            [_lift_dict(r, result) for r in result.rows],
            fmt,
            out=out,
            why=LIFT_WHY,
            command="analyze lift",
            n_closed=result.n_closed,
            n_won=result.n_won,
            n_accounts=result.n_accounts,
            base_rate=result.base_rate,
            base_rate_reason=None if result.n_closed else "no closed new-business deals",
            warnings=result.warnings,
        )
        return
    for warning in result.warnings:
        console.print(f"[yellow]warning:[/] {warning}")
    base = prose(result.base_rate, ".0%", "no closed new-business deals")
    console.print(
        f"{result.n_closed:,} closed new-business deals, {result.n_won:,} won "
        f"({base}), {result.n_accounts:,} accounts"
    )
    rows = (
        result.rows
        if show == "all"
        else [r for r in result.rows if r.verdict != "not enough evidence"]
    )
    if not rows:
        # A header over no rows says nothing: one sentence says why there are none.
        console.print(_no_lift_rows(result))
        return
    order = {"discriminator": 0, "disqualifier": 1, "market descriptor": 2}
    rows = sorted(rows, key=lambda r: (order.get(r.verdict, 3), r.q_value))
    emit(
        [
            {
                "verdict": r.verdict,
                "attribute": r.attribute,
                "value": r.value,
                "closed": f"{r.n_closed:,}",
                "accounts": f"{r.n_accounts:,}",
                "win rate": cell(r.win_rate, ".0%", LIFT_WHY["win_rate"]),
                "lift": interval(r.lift, *r.lift_ci, ".2f", LIFT_WHY["lift"]),
                "shares": _shares(r),
                "q": cell(r.q_value, ".2g", LIFT_WHY["q_value"]),
                "why": r.why,
            }
            for r in rows
        ],
        "table",
        title="Won vs lost",
        columns=LIFT_COLUMNS,
    )


CLUSTER_WHY = {
    "win_rate": "no closed new-business deals among the accounts that look like this group",
    "median_acv": "no won new-business deal with an amount in this group",
    "churn_rate": "no customer in this group",
}


def _cluster_row(c: Cluster) -> dict[str, Any]:
    row: dict[str, Any] = {"group": c.number, "accounts": c.accounts}
    row["lookalikes"] = c.lookalikes
    rates = {"win_rate": c.win_rate, "median_acv": c.median_acv, "churn_rate": c.churn_rate}
    for name, r in rates.items():
        row |= {
            name: math.nan if r.value is None else r.value,
            f"{name}_low": math.nan if r.low is None else r.low,
            f"{name}_high": math.nan if r.high is None else r.high,
            f"{name}_n": r.n,
        }
    traits = [
        {
            "attribute": t.attribute,
            "value": t.value,
            "share": t.share,
            "share_ci": [t.share_low, t.share_high],
            "rest_share": t.rest_share,
            "p_value": t.p_value,
            "q_value": t.q_value,
        }
        for t in c.traits
    ]
    return row | {"own_icp": c.own_icp, "own_icp_reason": c.own_icp_reason, "traits": traits}


@app.command()
def clusters(
    workspace: WorkspaceOption = None,
    fmt: FormatOption = "table",
    out: OutOption = None,
) -> None:
    """Group won customers on head count, industry and stack: candidate ICPs, each with its
    traits, win rate, median ACV, churn and whether it deserves an ICP of its own."""
    ws = open_workspace(workspace)
    result = ws.clusters()
    if fmt == "table":
        for line in result.sentences():
            console.print(line, highlight=False, markup=False)
        return
    rows = [_cluster_row(c) for c in result.clusters]
    why = {
        f"{name}{end}": reason
        for name, reason in CLUSTER_WHY.items()
        for end in ("", "_low", "_high")
    }
    why |= {f"{name}_low": "too few to compute an interval" for name in ("win_rate", "median_acv")}
    why |= {f"{name}_high": "too few to compute an interval" for name in ("win_rate", "median_acv")}
    emit(
        rows,
        fmt,
        out=out,
        why=why,
        command="analyze clusters",
        customers=result.customers,
        groups=result.grouping.k,
        silhouette=result.grouping.silhouette,
        silhouettes_tried={str(k): v for k, v in result.grouping.tried.items()},
        reason=result.grouping.reason,
        attributes=result.attributes,
        sentences=result.sentences(),
    )
