"""``icp demo-data`` and ``icp demo``: the generated CRM with a planted truth, end to end."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Annotated

import typer

from icpkit.cli.common import clean_errors, console, fail
from icpkit.cli.ingest import print_report
from icpkit.cli.workspace import summary
from icpkit.workspace import Workspace


def demo_data(
    out: Annotated[Path, typer.Option("--out", help="Folder to write the exports into.")],
    rows: Annotated[int, typer.Option("--rows", min=100, help="Number of deals.")] = 5_000,
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same files.")] = 7,
) -> None:
    """Write messy HubSpot-style exports with a documented, planted ICP (planted_truth.json)."""
    from icpkit.demo import make_crm

    started = time.perf_counter()
    files = make_crm(rows, seed, out)
    took = time.perf_counter() - started
    console.print(f"Wrote {rows:,} deals (seed {seed}) to [bold]{out}[/] in {took:.1f}s:")
    for path in files.paths():
        console.print(f"  {path}")


def demo(
    rows: Annotated[int, typer.Option("--rows", min=100, help="Number of deals.")] = 5_000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 7,
    directory: Annotated[
        Path | None, typer.Option("--dir", help="Where to keep the demo (default: a new temp dir).")
    ] = None,
) -> None:
    """Run the whole chain on generated data: generate, ingest, summarize."""
    from icpkit.demo import make_crm

    root = directory or Path(tempfile.mkdtemp(prefix="icpkit-demo-"))
    data = root / "data"
    console.rule("1. generate a messy CRM export with a planted ICP")
    files = make_crm(rows, seed, data)
    for path in files.paths():
        console.print(f"  {path}")
    console.rule("2. ingest into a workspace")
    with clean_errors():
        ws = Workspace.init(root / "workspace", name="icpkit demo")
        result = ws.ingest(files.exports())
    for report in result.files:
        print_report(report, show_mapping=False)
    if not result.ok:
        fail("; ".join(str(e) for _, e in result.failures))
    console.rule("3. what the workspace holds")
    summary(ws.root)
    console.print(
        f"\nResults are in [bold]{root}[/]:\n"
        f"  exports and the planted truth: {data}\n"
        f"  workspace (icp.yaml, workspace.duckdb): {ws.root}\n"
        f"  try: icp quarantine -w {ws.root}"
    )
