"""``icp check``: validate icp.yaml (and the ICP against the data) without running anything."""

from __future__ import annotations

from typing import Annotated

import typer

from icpkit.cli.common import WorkspaceOption, console


def check(
    workspace: WorkspaceOption = None,
    strict: Annotated[
        bool, typer.Option("--strict", help="Exit 1 on warnings too, not only on errors.")
    ] = False,
) -> None:
    """Check icp.yaml: unknown or repeated keys, values that do not fit together, and ICP
    rules on columns no ingested file has. Exit 0 when usable, 1 on errors."""
    from icpkit.workspace import Workspace

    result = Workspace.check(workspace)
    for line in result.errors:
        console.print(f"[red]error:[/] {line}", highlight=False, soft_wrap=True)
    for line in result.warnings:
        console.print(f"[yellow]warning:[/] {line}", highlight=False, soft_wrap=True)
    if result.errors or (strict and result.warnings):
        raise typer.Exit(1)
    console.print(
        f"{result.path}: ok" + (f", {len(result.warnings)} warning(s)" if result.warnings else ""),
        highlight=False,
        soft_wrap=True,
    )
