"""``icp review``, ``icp adopt`` and ``icp rollback``: the quarterly review of the ICP and the
version in force. ``icp review`` exits 0 keep, 1 kept because the two versions could not be
compared, 2 adopt recommended, for schedulers."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from icpkit.cli.common import WorkspaceOption, console, open_workspace, parse_day
from icpkit.cli.numbers import NotComputable, cell, finite
from icpkit.cli.output import Column, Format, FormatOption, OutOption, emit, print_table

if TYPE_CHECKING:
    from icpkit.icp.review_log import Adoption
    from icpkit.operate.review import ReviewResult
    from icpkit.workspace import Workspace

COLOURS = {0: "green", 1: "yellow", 2: "bold red"}
NO_AUC = "the held-out deals are all won or all lost"
MOVERS_SHOWN = 10

WhyOption = Annotated[
    str | None, typer.Option("--why", help="Why, for the history (default: by hand).")
]
ByOption = Annotated[
    str | None, typer.Option("--by", help="Who, for the history (default: your user name).")
]


def review(
    note: Annotated[
        str | None, typer.Option(help="A line for the proposal's changelog entry.")
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Score accounts as of this day for the tier changes."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Save no version and log no review.")
    ] = False,
    fmt: FormatOption = "table",
    out: OutOption = None,
    workspace: WorkspaceOption = None,
) -> None:
    """The quarterly review: re-derive on the latest window (saved, not put in force), set it
    beside the version in force, backtest both on the newest quarter and recommend adopt or
    keep. Exit 0 keep, 1 could not compare, 2 adopt."""
    ws = open_workspace(workspace)
    result = ws.review(note=note, as_of=parse_day(as_of, "--as-of"), dry_run=dry_run)
    print_review(result, fmt, out)
    raise typer.Exit(result.exit_code)


def adopt(
    version: Annotated[int, typer.Argument(help="The saved version to put in force.")],
    why: WhyOption = None,
    by: ByOption = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Put a saved ICP version in force (icp.yaml rewritten; icp serve reloads it)."""
    ws = open_workspace(workspace)
    print_adoption(ws.adopt(version, why=why, by=by), "Adopted")


def rollback(
    why: WhyOption = None,
    by: ByOption = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Put back the version that was in force before the last adoption."""
    ws = open_workspace(workspace)
    print_adoption(ws.rollback(why=why, by=by), "Rolled back to")


def print_adoption(done: Adoption, verb: str) -> None:
    """What an adoption or rollback changed, in a few lines."""
    if not done.changed:
        console.print(f"Version {done.version} is in force already: nothing changed.")
        return
    if done.edits_saved_as is not None:
        console.print(
            f"The edits by hand to the ICP in force were saved first, as version "
            f"{done.edits_saved_as} (icp adopt {done.edits_saved_as} brings them back)."
        )
    was = f" (was version {done.previous})" if done.previous is not None else ""
    console.print(f"{verb} ICP version {done.version}: now in force{was}.")
    for line in done.changes:
        console.print(f"  {line}", soft_wrap=True)


def print_in_force(ws: Workspace) -> None:
    """Under ``icp history``: the version in force, and the reviews, adoptions and rollbacks
    with who, when and why."""
    current = ws.current_icp()
    if current is not None:
        console.print(f"In force: version {current.version}.")
    for e in ws.review_history():
        when = f"{e.day.isoformat()} {e.event} by {e.by}"
        if e.event == "review":
            proposal = f"proposal version {e.proposal}" if e.proposal else "no proposal saved"
            what = f"of version {e.version}: {proposal}, {e.recommendation}"
        else:
            what = f"version {e.version} in force (was {e.previous})"
        console.print(f"  {when}: {what}" + (f" ({e.why})" if e.event != "review" else ""))


def _metric(m: Any) -> list[float]:
    return [m.value, m.low, m.high]


def _fields(result: ReviewResult) -> dict[str, Any]:
    """Everything but the rows of changed rules, for the JSON document."""
    c = result.comparison
    moved = result.tier_changes
    fields: dict[str, Any] = {
        "recommendation": result.recommendation,
        "exit_code": result.exit_code,
        "reason": result.reason,
        "current_version": result.current_version,
        "proposal_version": result.proposal_version,
        "proposal_window": {
            "from": result.proposal.window_from.isoformat()
            if result.proposal.window_from
            else None,
            "to": result.proposal.window_to.isoformat(),
            "closed_deals": result.proposal.closed_deals,
        },
        "comparison": None
        if c is None
        else {
            "window": c.window.label,
            "from": c.window.start.isoformat(),
            "to": c.window.end.isoformat(),
            "closed_deals": c.deals,
            "wins": c.wins,
            "accounts": c.accounts,
            "trained_from": c.train_from.isoformat() if c.train_from else None,
            "current_auc": _metric(c.current_auc),
            "proposal_auc": _metric(c.proposal_auc),
            "difference": _metric(c.difference),
            "better": c.better,
        },
        "tier_changes": None
        if moved is None
        else {
            "as_of": moved.as_of.isoformat(),
            "accounts": moved.accounts,
            "changed": moved.changed,
            "counts": [{"from": a, "to": b, "accounts": n} for (a, b), n in moved.counts.items()],
            "movers": [
                {
                    "account_key": m.account_key,
                    "name": m.name,
                    "from": m.old_tier,
                    "to": m.new_tier,
                    "old_score": m.old_score,
                    "new_score": m.new_score,
                }
                for m in moved.movers
            ],
        },
        "next_review": result.next_review.isoformat(),
        "notes": list(result.notes),
    }
    if c is None:
        fields["comparison_reason"] = result.unjudged or "the re-derivation changed nothing"
    if moved is None:
        fields["tier_changes_reason"] = "the re-derivation changed no rule"
    return fields


def print_review(result: ReviewResult, fmt: Format = "table", out: Path | None = None) -> None:
    """The review as sentences and tables, or one CSV or JSON document (rows: the rules
    gained, moved and lost)."""
    if fmt != "table":
        emit(result.change_rows(), fmt, out=out, command="review", **_fields(result))
        return
    console.print(f"[{COLOURS[result.exit_code]}]{result.reason}[/]", soft_wrap=True)
    p = result.proposal
    window = f"{p.window_from.isoformat()} to " if p.window_from else "up to "
    where = (
        f"saved as version {result.proposal_version}, not in force "
        f"(icp adopt {result.proposal_version} puts it in force)"
        if result.proposal_version is not None
        else "not saved"
    )
    console.print(
        f"Proposal re-derived on the deals created {window}{p.window_to.isoformat()} "
        f"({p.closed_deals:,} closed): {where}.",
        soft_wrap=True,
    )
    rows = result.change_rows()
    if rows:
        print_table(
            rows,
            [Column("change"), Column("list", priority=2), Column("rule"), Column("what")],
            title=f"Rules gained, moved and lost (version {result.current_version} -> proposal)",
        )
    _print_tiers(result)
    _print_comparison(result)
    console.print(f"Next review due {result.next_review.isoformat()}.")
    for note in result.notes:
        console.print(f"[dim]note: {note}[/]", soft_wrap=True)


def _print_tiers(result: ReviewResult) -> None:
    moved = result.tier_changes
    if moved is None:
        return
    console.print(
        f"{moved.changed:,} of {moved.accounts:,} accounts change tier "
        f"(scored as of {moved.as_of.isoformat()}).",
        soft_wrap=True,
    )
    counts = [
        {"from": a, "to": b, "accounts": f"{n:,}"} for (a, b), n in moved.counts.items() if a != b
    ]
    if counts:
        print_table(counts, title="Accounts by tier, in force -> proposal")
    if moved.movers:
        print_table(
            [
                {
                    "account": m.name or m.account_key,
                    "tier": f"{m.old_tier} -> {m.new_tier}",
                    "score": f"{m.old_score} -> {m.new_score}",
                }
                for m in moved.movers[:MOVERS_SHOWN]
            ],
            title="Accounts that move most",
        )


def _span(m: Any, spec: str) -> str:
    """A 95% interval as 'low to high' (signs kept), or a dash that says why not."""
    if not (finite(m.low) and finite(m.high)):
        return NotComputable("too few accounts to resample")
    return f"{m.low:{spec}} to {m.high:{spec}}"


def _print_comparison(result: ReviewResult) -> None:
    c = result.comparison
    if c is None:
        return
    since = f", re-derived on deals from {c.train_from.isoformat()}" if c.train_from else ""
    rows = [
        (f"in force (version {result.current_version})", c.current_auc, ".3f"),
        (f"proposal (closed before {c.window.start.isoformat()}{since})", c.proposal_auc, ".3f"),
        ("difference (proposal - in force)", c.difference, "+.3f"),
    ]
    print_table(
        [
            {"version": name, "AUC": cell(m.value, spec, NO_AUC), "95% interval": _span(m, spec)}
            for name, m, spec in rows
        ],
        title=f"Backtest on {c.window.label}: {c.deals:,} closed deals ({c.wins:,} won), "
        f"{c.accounts:,} accounts",
    )
