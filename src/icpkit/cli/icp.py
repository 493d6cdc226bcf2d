"""``icp derive``, ``icp history``, ``icp diff`` and ``icp schema``: the ICP as versioned code."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from icpkit.cli.common import WorkspaceOption, console, open_workspace
from icpkit.cli.output import emit

if TYPE_CHECKING:
    from icpkit.icp.model import ICP


def derive(
    workspace: WorkspaceOption = None,
    note: Annotated[str | None, typer.Option(help="A line for the changelog entry.")] = None,
) -> None:
    """Derive the ICP from the data into icp.yaml; keep locked and human criteria."""
    ws = open_workspace(workspace)
    result = ws.derive(note=note)
    for i, line in enumerate(result.nothing):
        console.print(f"[bold]{line}[/]" if i == 0 else line)
    for warning in result.warnings:
        console.print(f"[yellow]warning:[/] {warning}")
    if not result.written:
        console.print(f"ICP unchanged (version {result.version}): the data say the same thing.")
    else:
        console.print(f"ICP version {result.version} written to {ws.config_path}")
        for line in result.changes:
            console.print(f"  {line}")
    for message in result.disagreements:
        console.print(f"[yellow]kept by hand:[/] {message}")
    print_icp(ws.current_icp())


def print_icp(icp: ICP | None) -> None:
    """The ICP as a short readable list: boundary, fit, intent, exclusions, with rationale."""
    from icpkit.workspace import describe_rule

    if icp is None:
        return
    for name in ("boundary", "fit", "intent", "exclusions"):
        items = getattr(icp, name)
        console.print(f"[bold]{name}[/] ({len(items)})")
        for item in items:
            lock = " [locked]" if item.locked else ""
            console.print(f"  - {describe_rule(item)}{lock}")
            if item.rationale:
                console.print(f"    [dim]{item.rationale}[/]")
    for note in icp.notes:
        console.print(f"[dim]note: {note}[/]")


def history(workspace: WorkspaceOption = None) -> None:
    """List the saved ICP versions."""
    ws = open_workspace(workspace)
    versions = ws.versions.list()
    if not versions:
        console.print("No ICP version yet: run 'icp derive'.")
        return
    emit(
        [
            {
                "version": v.version,
                "derived (UTC)": f"{v.derived_at:%Y-%m-%d %H:%M}",
                **{k: str(n) for k, n in v.counts.items()},
                "data": v.data_fingerprint,
            }
            for v in versions
        ],
        "table",
        title="ICP versions",
    )


def diff(
    a: Annotated[int, typer.Argument(help="Older version.")],
    b: Annotated[int, typer.Argument(help="Newer version.")],
    workspace: WorkspaceOption = None,
) -> None:
    """What changed between two ICP versions, with the evidence that moved."""
    ws = open_workspace(workspace)
    lines = ws.diff(a, b)
    for line in lines or ["no change"]:
        console.print(line)


def schema() -> None:
    """Print the JSON Schema of the ICP in icp.yaml, for editors."""
    from icpkit.workspace import icp_json_schema

    sys.stdout.write(json.dumps(icp_json_schema(), indent=2) + "\n")
