"""``icp alerts run`` (find what changed, post it once) and ``icp alerts list`` (what was
posted, what failed)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from icpkit.cli.common import WorkspaceOption, console, open_workspace, parse_day
from icpkit.cli.output import Column, print_table

app = typer.Typer(
    help="Alert rules of icp.yaml posted to webhooks: `icp alerts run`, `icp alerts list`.",
    no_args_is_help=True,
)

STATUSES = ("pending", "sent", "failed", "uncertain", "digested")


@app.command("run")
def run(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would be posted; post and record nothing.")
    ] = False,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Score as of this day (default: today).")
    ] = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Score the accounts, find what changed since the last run (tier entered, fresh intent,
    left the ICP, monitor verdict) and post each event once. The first run records the
    baseline and posts nothing."""
    ws = open_workspace(workspace)
    result = ws.alerts(dry_run=dry_run, as_of=parse_day(as_of))
    for line in result.lines():
        console.print(escape(line), soft_wrap=True)


@app.command("list")
def list_deliveries(
    limit: Annotated[int, typer.Option(min=1, help="Most deliveries shown.")] = 50,
    status: Annotated[
        str | None,
        typer.Option(help="Only this status: pending, sent, failed, uncertain or digested."),
    ] = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Recent deliveries, latest first: sent, pending (with their attempts), failed (and
    why) and uncertain (interrupted mid-send, never resent)."""
    if status is not None and status not in STATUSES:
        raise typer.BadParameter(f"{status!r}: one of {', '.join(STATUSES)}", param_hint="--status")
    ws = open_workspace(workspace)
    rows = ws.alert_deliveries(limit=limit, statuses=[status] if status else None)
    if not rows:
        console.print("no alert deliveries yet; `icp alerts run` records and posts them")
        return
    columns = [
        Column("updated_at", "when"),
        Column("rule"),
        Column("status"),
        Column("attempts", priority=2),
        Column("summary", "event"),
        Column("error", priority=1),
        Column("id", priority=3),
    ]
    print_table([vars(d) for d in rows], columns)
