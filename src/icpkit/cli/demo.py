"""``icp demo-data`` and ``icp demo``: the generated CRM with a planted truth, end to end."""

from __future__ import annotations

import datetime as dt
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from icpkit.cli.common import console, fail
from icpkit.cli.icp import print_icp
from icpkit.cli.ingest import print_report
from icpkit.cli.operate import print_tam, show_lookalikes
from icpkit.cli.output import emit
from icpkit.cli.score import SHOWN, print_backtest, print_counts
from icpkit.cli.workspace import summary

if TYPE_CHECKING:
    from icpkit.demo import DemoFiles

EXPORT_DAY = dt.date(2025, 10, 1)  # the demo CRM's export date: intent is scored as of then
WIDEN = {"employees": (20.0, 500.0)}  # the demo's what-if: a wider head-count range


def demo_data(
    out: Annotated[Path, typer.Option("--out", help="Folder to write the exports into.")],
    rows: Annotated[int, typer.Option("--rows", min=100, help="Number of deals.")] = 5_000,
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same files.")] = 7,
    product_lines: Annotated[
        int,
        typer.Option(
            "--product-lines",
            min=1,
            max=2,
            help="2 plants a second product line: its own Pipeline and its own ICP.",
        ),
    ] = 1,
    contacts: Annotated[
        bool,
        typer.Option(
            "--contacts",
            help="Also write contacts.csv with a planted buyer persona (a VP of Sales and a "
            "revenue operations manager win more).",
        ),
    ] = False,
) -> None:
    """Write messy HubSpot-style exports with a documented, planted ICP; the ground truth
    goes in truth/ (planted_truth.json), so `icp ingest OUT/*.csv` reads only the exports."""
    from icpkit.workspace import make_demo_crm

    started = time.perf_counter()
    files = make_demo_crm(rows, seed, out, product_lines=product_lines, contacts=contacts)
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
    enrichment: Annotated[
        bool,
        typer.Option(
            "--enrich/--no-enrich",
            help="Also start from names and domains only and enrich them from the demo "
            "companies' websites, served on this machine.",
        ),
    ] = True,
) -> None:
    """Run the whole chain on generated data: generate, ingest, derive, backtest, score,
    size the TAM, find lookalikes, write the ICP report, and enrich an export that holds
    only names and domains."""
    from icpkit.workspace import (
        Workspace,
        make_demo_crm,
        make_demo_universe,
        planted_truth_table,
    )

    root = directory or Path(tempfile.mkdtemp(prefix="icpkit-demo-"))
    data = root / "data"
    console.rule("1. generate a messy CRM export with a planted ICP")
    files = make_demo_crm(rows, seed, data)
    for path in files.paths():
        console.print(f"  {path}")
    console.rule("2. ingest into a workspace")
    ws = Workspace.init(root / "workspace", name="icpkit demo")
    result = ws.ingest(files.exports())
    for report in result.files:
        print_report(report, show_mapping=False)
    if not result.ok:
        fail("; ".join(str(e) for _, e in result.failures))
    console.rule("3. what the workspace holds")
    summary(ws.root)
    console.rule("4. derive the ICP from won vs lost")
    derived = ws.derive()
    print_icp(derived.icp)
    console.rule("5. the derived ICP next to the planted truth")
    emit(planted_truth_table(derived.icp, files), "table", title="Planted truth vs derived ICP")
    console.rule("6. backtest: fit on older deals, score the newer ones")
    backtest = ws.backtest(reference=files.win_probabilities())
    print_backtest(backtest)
    console.rule("7. score the prospects (companies that never bought)")
    prospects = data / "prospects.csv"
    files.write_prospects(prospects)
    scored_path = root / "scored_prospects.csv"
    scored = ws.score_file(prospects, as_of=EXPORT_DAY)
    ws.score_file(prospects, as_of=EXPORT_DAY, out=scored_path)
    ranked = sorted(scored.rows(), key=lambda r: (-r["score"], r["line"] or 0))
    emit(ranked[:15], "table", title="Top 15 prospects", columns=SHOWN)
    print_counts(scored)
    console.rule("8. size the market: a company universe scored with the ICP")
    universe = make_demo_universe(files, 20_000, seed, data / "universe")
    print_tam(ws.tam(universe.path, widen=WIDEN))
    console.rule("9. lookalikes of the Tier 1 customers (existing customers left out)")
    show_lookalikes(ws, universe.path, top=10, k=3)
    console.rule("10. the ICP report")
    report_path = ws.report(
        root / "icp-report.html",
        universe=universe.path,
        widen=WIDEN,
        as_of=EXPORT_DAY,
        backtest=backtest,
    )
    console.print(f"The ICP report (one page, open it in a browser): {report_path}")
    if enrichment:
        enrich_demo(files, root, rows)
    console.print(
        f"\nResults are in [bold]{root}[/]:\n"
        f"  the ICP report: {report_path}\n"
        f"  scored prospects (fit, intent, tier, route, reasons): {scored_path}\n"
        f"  exports and the planted truth: {data}\n"
        f"  workspace (icp.yaml with the derived ICP, workspace.duckdb): {ws.root}\n"
        f"  try: icp analyze lift -w {ws.root}   or   icp quarantine -w {ws.root}"
    )


def enrich_demo(files: DemoFiles, root: Path, rows: int) -> None:
    """Step 11: the same CRM exported with names and domains only, enriched from the demo
    companies' websites and job boards (served on loopback), and derived again."""
    from icpkit.cli.enrich import print_result
    from icpkit.workspace import (
        Workspace,
        make_demo_websites,
        planted_truth_table,
        serve_demo_websites,
    )

    console.rule("11. enrichment: names and domains only, enriched from the companies' websites")
    sites = make_demo_websites(files, root / "websites")
    names = root / "data" / "companies_names_only.csv"
    files.write_names_only(names)
    console.print(
        f"  {len(sites.truth):,} websites with job boards and DNS records in {sites.www}\n"
        f"  the export with only names and domains: {names}"
    )
    ws = Workspace.init(root / "workspace-enriched", name="icpkit demo, enriched")
    result = ws.ingest([names, files.deals])
    if not result.ok:
        fail("; ".join(str(e) for _, e in result.failures))
    with serve_demo_websites(sites) as server:
        enriched = ws.enrich(
            ["website", "technographics", "hiring"],
            connect_to=server.connect_to,
            dns_server=server.dns_server,
        )
    print_result(enriched, "table", None)
    derived = ws.derive()
    emit(
        planted_truth_table(derived.icp, files),
        "table",
        title="Planted truth vs the ICP derived from enriched names and domains",
    )
    console.print(
        "The funding intent is not on the websites (no filings for demo companies): it can "
        f"only come from the CRM's signals. Workspace: {ws.root}"
    )
