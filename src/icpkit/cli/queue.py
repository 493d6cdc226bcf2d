"""``icp queue``: the webhook queue of ``icp serve``, its dead letters, and sending them again."""

from __future__ import annotations

from typing import Annotated

import typer

from icpkit.cli.common import WorkspaceOption, console, open_workspace
from icpkit.cli.output import Column, print_table

app = typer.Typer(
    help="The webhook queue of icp serve: `icp queue list`, `icp queue retry`.",
    no_args_is_help=True,
)


@app.command("list")
def list_events(
    state: Annotated[
        str, typer.Option(help="Events to list: queued, taken, done or dead.")
    ] = "dead",
    workspace: WorkspaceOption = None,
) -> None:
    """Events per state, and the events in STATE (default: the dead letters, with why)."""
    ws = open_workspace(workspace)
    found = ws.webhook_queue(state)
    counts = found["counts"]
    console.print(", ".join(f"{n:,} {s}" for s, n in counts.items()))
    if not found["events"]:
        console.print(f"no {state} events")
        return
    columns = [
        Column("id"),
        Column("crm"),
        Column("event_id", "event"),
        Column("record_id", "record"),
        Column("kind", priority=2),
        Column("attempts", "tries", priority=1),
        Column("last_error", "last error"),
    ]
    print_table(found["events"], columns)


@app.command("retry")
def retry(
    ids: Annotated[
        list[int] | None, typer.Argument(help="Dead events to send again (default: all).")
    ] = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Send dead letters back to the queue (after mending what failed them)."""
    ws = open_workspace(workspace)
    count = ws.retry_webhooks(ids or None)
    console.print(f"{count:,} dead event{'s' if count != 1 else ''} queued again")
