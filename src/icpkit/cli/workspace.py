"""``icp init`` and ``icp summary``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from icpkit.cli.common import WorkspaceOption, console, open_workspace
from icpkit.cli.output import Column, print_table


def init(
    directory: Annotated[Path, typer.Argument(help="Folder for the workspace.")] = Path("."),
    name: Annotated[str | None, typer.Option(help="Name shown in reports.")] = None,
) -> None:
    """Create a workspace: icp.yaml (settings, later the ICP) and the DuckDB store."""
    from icpkit.workspace import Workspace

    existed = Workspace.exists(directory)
    ws = Workspace.init(directory, name=name)
    if existed:
        console.print(
            f"[bold]{ws.root}[/] is a workspace already: kept as it is "
            f"({ws.config_path.name} and {ws.store_path.name} untouched)"
        )
        return
    console.print(
        f"Workspace ready in [bold]{ws.root}[/]: {ws.config_path.name}, {ws.store_path.name}"
    )


def summary(workspace: WorkspaceOption = None) -> None:
    """What the workspace holds: accounts, deals by outcome, signals, imports, quarantine."""
    ws = open_workspace(workspace)
    info = ws.summary()
    counts = info["counts"]
    outcomes = info["outcomes"]
    console.print(
        f"[bold]{ws.settings.name}[/] ({ws.root})\n"
        f"  accounts {counts['accounts']:,} · deals {counts['deals']:,} "
        f"(won {outcomes.get('won', 0):,}, lost {outcomes.get('lost', 0):,}, "
        f"open {outcomes.get('open', 0):,}; {info['deals_linked']:,} linked to an account) · "
        f"signals {counts['signals']:,} · contacts {counts['contacts']:,} · "
        f"quarantined {counts['quarantine']:,}"
    )
    review = info.get("review")
    if review is not None and review.due:
        last = (
            f"last {review.last_event} {review.last.isoformat()}"
            if review.last is not None
            else "no review since the ICP was derived"
        )
        console.print(
            f"[yellow]review due[/] since {review.due_on.isoformat()} (every "
            f"{review.every_days} days; {last}): run icp review",
            soft_wrap=True,
        )
    if info["imports"]:
        names = ("read", "loaded", "rows out", "cells out")
        print_table(
            [
                {"#": str(number), "file": file, "holds": f"{system} {entity}"}
                | {name: f"{n:,}" for name, n in zip(names, counts, strict=True)}
                for number, file, entity, system, *counts, _when in info["imports"]
            ],
            [
                Column("#", priority=2),
                Column("file"),
                Column("holds", priority=1),
                *(Column(name) for name in names),
            ],
        )
    if info["enrichment"]:
        print_table(
            [
                {
                    "provider": row["provider"],
                    "accounts": f"{row['accounts']:,}",
                    "found": f"{row['found']:,}",
                    "missed": f"{row['missed']:,}",
                    "failed": f"{row['failed']:,}",
                    "fresh": f"{row['fresh']:,}",
                    "last fetched": row["last_fetched"].strftime("%Y-%m-%d %H:%M"),
                }
                for row in info["enrichment"]
            ],
            [
                Column("provider"),
                Column("accounts"),
                Column("found"),
                Column("missed"),
                Column("failed"),
                Column("fresh", priority=1),
                Column("last fetched", priority=2),
            ],
            title="Enrichment (icp enrich show DOMAIN for one account)",
        )
