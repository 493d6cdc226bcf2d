"""``icp derive``, ``icp history``, ``icp diff`` and ``icp schema``: the ICP as versioned code."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from icpkit.cli.common import IcpOption, WorkspaceOption, console, fail, open_workspace
from icpkit.cli.output import emit

if TYPE_CHECKING:
    from icpkit.icp.model import ICP
    from icpkit.workspace import DeriveResult, Workspace


def derive(
    workspace: WorkspaceOption = None,
    note: Annotated[str | None, typer.Option(help="A line for the changelog entry.")] = None,
    icp: IcpOption = None,
    by: Annotated[
        str | None,
        typer.Option(
            help="One named ICP per pipeline, or per motion (new business vs expansion), "
            "for each value with enough closed deals.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Derive the ICP from the data into icp.yaml; keep locked and human criteria."""
    ws = open_workspace(workspace)
    if by is not None:
        if icp is not None:
            fail("--by derives one ICP per value: give --by or --icp, not both")
        derived = ws.derive_by(by, note=note)
        for line in derived.skipped:
            console.print(f"[yellow]skipped:[/] {line}")
        if not derived.derived:
            console.print(f"No named ICP derived by {by}: no value has enough closed deals.")
        for name, one in derived.derived:
            console.print(f"[bold]ICP {name}[/]")
            show_derived(ws, one, one.icp, name)
        return
    if icp is not None:
        one = ws.derive_named(icp, note=note)
        show_derived(ws, one, one.icp, icp)
        return
    result = ws.derive(note=note)
    show_derived(ws, result, ws.current_icp())


def show_derived(
    ws: Workspace, result: DeriveResult, shown: ICP | None, name: str | None = None
) -> None:
    """What one derivation did (the version written or kept, its changes, warnings and human
    decisions kept), then the ICP in force."""
    for i, line in enumerate(result.nothing):
        console.print(f"[bold]{line}[/]" if i == 0 else line)
    for warning in result.warnings:
        console.print(f"[yellow]warning:[/] {warning}")
    what = "ICP" if name is None else f"ICP {name}"
    if not result.written:
        console.print(f"{what} unchanged (version {result.version}): the data say the same thing.")
    else:
        console.print(f"{what} version {result.version} written to {ws.config_path}")
        for line in result.changes:
            console.print(f"  {line}")
    for message in result.disagreements:
        console.print(f"[yellow]kept by hand:[/] {message}")
    print_icp(shown)


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


def history(workspace: WorkspaceOption = None, icp: IcpOption = None) -> None:
    """List the saved ICP versions (of the named ICP ``--icp``)."""
    ws = open_workspace(workspace)
    versions = (ws.versions if icp is None else ws.named_versions(icp)).list()
    if not versions:
        derive = "icp derive" if icp is None else f"icp derive --icp {icp}"
        console.print(f"No ICP version yet: run '{derive}'.")
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
    if icp is None:
        from icpkit.cli.review import print_in_force

        print_in_force(ws)


def diff(
    a: Annotated[int, typer.Argument(help="Older version.")],
    b: Annotated[int, typer.Argument(help="Newer version.")],
    workspace: WorkspaceOption = None,
    icp: IcpOption = None,
) -> None:
    """What changed between two ICP versions (of the named ICP ``--icp``), with the
    evidence that moved."""
    ws = open_workspace(workspace)
    lines = ws.diff(a, b, icp=icp)
    for line in lines or ["no change"]:
        console.print(line)


def schema() -> None:
    """Print the JSON Schema of the ICP in icp.yaml, for editors."""
    from icpkit.workspace import icp_json_schema

    sys.stdout.write(json.dumps(icp_json_schema(), indent=2) + "\n")
