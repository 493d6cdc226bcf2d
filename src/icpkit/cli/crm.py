"""``icp pull CRM`` and ``icp push CRM``: CRM sync through the CRM's API, in words."""

from __future__ import annotations

from typing import Annotated

import typer

from icpkit.cli.common import WorkspaceOption, console, open_workspace

CrmArgument = Annotated[str, typer.Argument(help="hubspot, salesforce or pipedrive.")]


def pull(
    crm: CrmArgument,
    full: Annotated[
        bool, typer.Option("--full", help="Read every record again, not only the changes.")
    ] = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Read companies, deals and contacts changed since the last pull from the CRM's API into
    the store, through the same ingestion and quarantine as an export."""
    ws = open_workspace(workspace)
    result = ws.pull(crm, full=full)
    for line in result.lines():
        console.print(line, highlight=False, markup=False)


def push(
    crm: CrmArgument,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Write nothing; say what would change.")
    ] = False,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Score as of this day (default: today).")
    ] = None,
    per_icp: Annotated[
        bool,
        typer.Option("--per-icp", help="Also write each named ICP's fit and tier."),
    ] = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Write fit, intent, score, tier, route, top reasons and ICP version into the CRM's
    company records: only those whose values changed since the last push. With named ICPs
    derived, the best-fitting ICP too."""
    from icpkit.cli.common import parse_day

    ws = open_workspace(workspace)
    result = ws.push(crm, dry_run=dry_run, as_of=parse_day(as_of, "--as-of"), per_icp=per_icp)
    for line in result.lines():
        console.print(line, highlight=False, markup=False)
    if result.refused:
        raise typer.Exit(1)
