"""``icp demo-data`` and ``icp demo``: the generated CRM with a planted truth, end to end."""

from __future__ import annotations

import datetime as dt
import json
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from icpkit.cli.common import clean_errors, console, fail
from icpkit.cli.icp import print_icp
from icpkit.cli.ingest import print_report
from icpkit.cli.output import emit
from icpkit.cli.score import SHOWN, print_backtest
from icpkit.cli.workspace import summary

if TYPE_CHECKING:
    pass

EXPORT_DAY = dt.date(2025, 10, 1)  # the demo CRM's export date: intent is scored as of then


def demo_data(
    out: Annotated[Path, typer.Option("--out", help="Folder to write the exports into.")],
    rows: Annotated[int, typer.Option("--rows", min=100, help="Number of deals.")] = 5_000,
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same files.")] = 7,
) -> None:
    """Write messy HubSpot-style exports with a documented, planted ICP; the ground truth
    goes in truth/ (planted_truth.json), so `icp ingest OUT/*.csv` reads only the exports."""
    from icpkit.demo import make_crm

    started = time.perf_counter()
    files = make_crm(rows, seed, out)
    took = time.perf_counter() - started
    console.print(f"Wrote {rows:,} deals (seed {seed}) to [bold]{out}[/] in {took:.1f}s:")
    for path in files.exports():
        console.print(f"  {path}")
    console.print(f"and the planted ground truth (not an export) in {files.planted_truth.parent}:")
    for path in files.paths()[len(files.exports()) :]:
        console.print(f"  {path}")


def demo(
    rows: Annotated[int, typer.Option("--rows", min=100, help="Number of deals.")] = 5_000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 7,
    directory: Annotated[
        Path | None, typer.Option("--dir", help="Where to keep the demo (default: a new temp dir).")
    ] = None,
) -> None:
    """Run the whole chain on generated data: generate, ingest, derive, backtest, score,
    size the TAM and find lookalikes."""
    from icpkit.demo import make_crm
    from icpkit.demo.judge import truth_table
    from icpkit.workspace import Workspace

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
    console.rule("4. derive the ICP from won vs lost")
    with clean_errors():
        derived = ws.derive()
    print_icp(derived.icp)
    console.rule("5. the derived ICP next to the planted truth")
    truth = json.loads(files.planted_truth.read_text())
    emit(truth_table(derived.icp, truth), "table", title="Planted truth vs derived ICP")
    console.rule("6. backtest: fit on older deals, score the newer ones")
    with clean_errors():
        backtest = ws.backtest(reference=files.win_probabilities())
    print_backtest(backtest)
    console.rule("7. score the prospects (companies that never bought)")
    prospects = data / "prospects.csv"
    files.write_prospects(prospects)
    scored_path = root / "scored_prospects.csv"
    with clean_errors():
        scored = ws.score_file(prospects, as_of=EXPORT_DAY)
        ws.score_file(prospects, as_of=EXPORT_DAY, out=scored_path)
    ranked = sorted(scored.rows(), key=lambda r: (-r["score"], r["line"] or 0))
    emit(ranked[:15], "table", title="Top 15 prospects", columns=SHOWN)
    console.print(
        "tiers: "
        + ", ".join(f"{t} {scored.tiers.get(t, 0):,}" for t in "ABCD")
        + "; routes: "
        + ", ".join(f"{r} {n:,}" for r, n in sorted(scored.routes.items()))
    )
    console.rule("8. size the market: a company universe scored with the ICP")
    from icpkit.cli import operate
    from icpkit.demo import make_universe

    universe = make_universe(files, 20_000, seed, data / "universe")
    operate.tam(
        universe.path,
        widen=["employees=20-500"],
        as_of=None,
        fmt="table",
        out=None,
        workspace=ws.root,
    )
    console.rule("9. lookalikes of the Tier 1 customers (existing customers left out)")
    operate.lookalike(universe.path, top=10, k=3, fmt="table", out=None, workspace=ws.root)
    console.print(
        f"\nResults are in [bold]{root}[/]:\n"
        f"  scored prospects (fit, intent, tier, route, reasons): {scored_path}\n"
        f"  exports and the planted truth: {data}\n"
        f"  workspace (icp.yaml with the derived ICP, workspace.duckdb): {ws.root}\n"
        f"  try: icp analyze lift -w {ws.root}   or   icp quarantine -w {ws.root}"
    )
