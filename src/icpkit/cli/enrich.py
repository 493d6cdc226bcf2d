"""``icp enrich``: firmographic, technographic and intent data for the workspace's accounts,
with ``show`` (one account's values and where each came from) and ``conflicts`` (where
sources disagree)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from icpkit.cli.common import WorkspaceOption, console, open_workspace
from icpkit.cli.output import Column, Format, FormatOption, OutOption, emit, print_table

if TYPE_CHECKING:
    from icpkit.enrich.run import EnrichResult, ProviderTally
    from icpkit.enrich.universe import UniverseEnrichment

app = typer.Typer(
    help="Enrich accounts from websites, job boards, filings, keyed providers, files, AI "
    "research; `icp enrich show DOMAIN`, `icp enrich conflicts`.",
    no_args_is_help=False,
    invoke_without_command=True,
)


@app.callback()
def enrich(
    ctx: typer.Context,
    provider: Annotated[
        list[str] | None,
        typer.Option(
            "--provider",
            "-p",
            help="A provider to run (repeat): website, technographics, hiring, edgar, pdl, "
            "apollo, clearbit, research. Default: enrich.providers of icp.yaml.",
        ),
    ] = None,
    file: Annotated[
        list[Path] | None,
        typer.Option(
            "--file",
            help="Your own enrichment (a Clay, ZoomInfo or Apollo export, or any file keyed "
            "by domain), stored as a provider named after the file; repeatable.",
        ),
    ] = None,
    tier: Annotated[
        str | None, typer.Option("--tier", help="Only the accounts of this ICP tier (A-D).")
    ] = None,
    domains: Annotated[
        Path | None,
        typer.Option("--domains", help="Only these domains (a file, one a line, or a CSV)."),
    ] = None,
    universe: Annotated[
        Path | None,
        typer.Option(
            "--universe",
            help="Enrich this company universe (as `icp tam` reads it) into --out (.parquet "
            "or .csv) instead of the accounts; its companies do not become accounts.",
        ),
    ] = None,
    refresh: Annotated[
        bool, typer.Option("--refresh", help="Ask again even where the cache is fresh.")
    ] = False,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Say what would be fetched, the credits and the time."),
    ] = False,
    budget: Annotated[
        float | None,
        typer.Option("--budget", help="Stop before keyed providers spend more credits."),
    ] = None,
    connect_to: Annotated[
        list[str] | None,
        typer.Option(
            "--connect-to",
            help="HOST:PORT:ADDRESS:PORT: connect there instead (as curl; a target named here "
            "is allowed even on loopback). Repeatable.",
        ),
    ] = None,
    dns_server: Annotated[
        str | None, typer.Option("--dns-server", help="ADDRESS[:PORT] for TXT and MX records.")
    ] = None,
    allow_private: Annotated[
        bool,
        typer.Option("--allow-private", help="Allow private and loopback addresses (an intranet)."),
    ] = False,
    fmt: FormatOption = "table",
    out: OutOption = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Enrich the workspace's accounts; every value is stored with its provider, URL, time
    and confidence, and the waterfall picks one per field."""
    if ctx.invoked_subcommand is not None:
        return
    ws = open_workspace(workspace)
    if universe is not None:
        if out is None and not dry_run:
            console.print("[red]--universe needs --out: the enriched file (.parquet or .csv).[/]")
            raise typer.Exit(2)
        with _progress(fmt == "table" and not dry_run) as tick:
            enriched = ws.enrich_universe(
                universe,
                out,
                provider or None,
                files=[(path, None) for path in file or []],
                refresh=refresh,
                dry_run=dry_run,
                budget=budget,
                connect_to=connect_to or [],
                allow_private=True if allow_private else None,
                dns_server=dns_server,
                progress=tick,
            )
        print_universe(enriched, fmt)
        if enriched.run.stopped == "interrupted":
            raise typer.Exit(130)
        return
    with _progress(fmt == "table" and not dry_run) as tick:
        result = ws.enrich(
            provider or None,
            tier=tier,
            domains=domains,
            files=[(path, None) for path in file or []],
            refresh=refresh,
            dry_run=dry_run,
            budget=budget,
            connect_to=connect_to or [],
            allow_private=True if allow_private else None,
            dns_server=dns_server,
            progress=tick,
        )
    print_result(result, fmt, out)
    if result.stopped == "interrupted":
        raise typer.Exit(130)  # as an interrupted command does; what was fetched is kept


def print_result(result: EnrichResult, fmt: Format, out: Path | None) -> None:
    """The plan (dry run) or what each provider did and what the waterfall wrote."""
    if result.dry_run:
        rows = [
            {
                "provider": p.provider,
                "accounts": p.accounts,
                "cached": p.cached,
                "to fetch": p.to_ask,
                "credits (at most)": p.credits,
                "time": _duration(p.seconds),
                "note": p.note or "",
            }
            for p in result.plans
        ]
        emit(rows, fmt, title="What a run would fetch", out=out, command="enrich")
        return
    rows = [_tally_row(t) for t in result.tallies]
    fields: dict[str, Any] = {
        "run": result.run_id,
        "stopped": result.stopped,
        "seconds": round(result.seconds, 1),
        "credits": result.credits,
        "notes": result.notes,
        "applied": {
            "filled": result.applied.filled,
            "tools_added": result.applied.tools_added,
            "accounts_with_tools": result.applied.accounts_with_tools,
            "signals": result.applied.signals,
            "extra_values": result.applied.extra_values,
            "tech_events": result.applied.tech_events,
            "headcounts": result.applied.headcounts,
        },
    }
    if fmt != "table":
        emit(rows, fmt, out=out, command="enrich", **fields)
        return
    columns = [
        Column("provider"), Column("fetched"), Column("found"), Column("missed", priority=2),
        Column("failed"), Column("cached", priority=1), Column("skipped", priority=3),
        Column("credits", priority=2), Column("top reason", priority=4),
    ]  # fmt: skip
    print_table(rows, columns, title=f"Enrichment run {result.run_id}")
    for line in summary_lines(result):
        console.print(line)


def summary_lines(result: EnrichResult) -> list[str]:
    """What the run wrote into the workspace, and why it stopped early if it did."""
    applied = result.applied
    lines = []
    filled = ", ".join(f"{name} {n:,}" for name, n in sorted(applied.filled.items()) if n)
    if filled:
        lines.append(f"Fields filled (accounts): {filled}.")
    if applied.tools_added:
        added, accounts = applied.tools_added, applied.accounts_with_tools
        lines.append(f"{added:,} technologies added to {accounts:,} accounts.")
    if applied.signals:
        signals = applied.signals
        lines.append(f"{signals:,} dated signals from enrichment in the store (postings, filings).")
    if applied.extra_values:
        lines.append(f"{applied.extra_values:,} answers and file columns stored.")
    if applied.tech_events or applied.headcounts:
        lines.append(
            f"Dated from successive looks: {applied.tech_events:,} tools added or removed, "
            f"{applied.headcounts:,} head counts (deals are judged on the values of their day)."
        )
    if not any(p.accounts for p in result.plans):
        lines.append("The workspace holds no account to enrich: ingest an export first.")
    elif not any(t.asked for t in result.tallies):
        lines.append(
            "Nothing was fetched: every account's answers are cached and fresh "
            "(--refresh asks again)."
        )
    elif not applied.anything and not applied.unchanged:
        lines.append("Nothing new was learned: no provider found a value for these accounts.")
    if result.stopped == "budget":
        unasked = sum(t.unasked for t in result.tallies)
        lines.append(
            f"[yellow]Stopped at the credit budget: {unasked:,} accounts not asked; "
            "raise --budget to go on.[/]"
        )
    elif result.stopped == "interrupted":
        lines.append(
            "[yellow]Interrupted: what was fetched is stored; run the same command to resume.[/]"
        )
    lines.extend(f"[yellow]{escape(note)}[/]" for note in result.notes)
    lines.append(f"Done in {_duration(result.seconds)}. `icp enrich show DOMAIN` shows provenance.")
    return lines


def _tally_row(t: ProviderTally) -> dict[str, Any]:
    top = max(t.reasons.items(), key=lambda kv: kv[1]) if t.reasons else None
    return {
        "provider": t.provider,
        "fetched": t.asked,
        "found": t.found,
        "missed": t.missed,
        "failed": t.failed,
        "cached": t.cached,
        "skipped": t.skipped,
        "credits": round(t.credits, 2),
        "unasked": t.unasked,
        "top reason": f"{top[0]} ({top[1]:,})" if top else "",
        "reasons": t.reasons,
    }


def print_universe(result: UniverseEnrichment, fmt: Format) -> None:
    """What enriching a universe fetched (per provider, as for accounts) and wrote; the
    report goes to stdout, the enriched rows to the file."""
    run = result.run
    universe: dict[str, Any] = {
        "source": str(result.source),
        "out": None if result.out is None or result.dry_run else str(result.out),
        "rows": result.rows,
        "written": result.written,
        "without_domain": result.without_domain,
        "domains": result.domains,
        "workspace_accounts": result.accounts,
        "filled": result.filled,
        "tools_added": result.tools_added,
        "rows_with_tools": result.rows_with_tools,
        "answers": result.answers,
        "signals": result.signals,
        "warnings": result.warnings,
    }
    if run.dry_run:
        rows = [
            {
                "provider": p.provider, "domains": p.accounts, "cached": p.cached,
                "to fetch": p.to_ask, "credits (at most)": p.credits,
                "time": _duration(p.seconds), "note": p.note or "",
            }
            for p in run.plans
        ]  # fmt: skip
    else:
        rows = [_tally_row(t) for t in run.tallies]
    if fmt != "table":
        emit(rows, fmt, command="enrich universe", run=run.run_id, stopped=run.stopped,
             seconds=round(run.seconds, 1), credits=run.credits, notes=run.notes,
             universe=universe)  # fmt: skip
        return
    for warning in result.warnings:
        console.print(f"[yellow]{escape(warning)}[/]")
    if run.dry_run:
        emit(rows, fmt, title="What enriching the universe would fetch", command="enrich")
    else:
        columns = [
            Column("provider"), Column("fetched"), Column("found"), Column("missed", priority=2),
            Column("failed"), Column("cached", priority=1), Column("skipped", priority=3),
            Column("credits", priority=2), Column("top reason", priority=4),
        ]  # fmt: skip
        print_table(rows, columns, title=f"Enrichment run {run.run_id}: {result.source.name}")
    for line in result.summary():
        console.print(escape(line))
    if run.stopped == "budget":
        unasked = sum(t.unasked for t in run.tallies)
        console.print(
            f"[yellow]Stopped at the credit budget: {unasked:,} domains not asked; "
            "raise --budget to go on.[/]"
        )
    elif run.stopped == "interrupted":
        console.print("[yellow]Interrupted: what was fetched is cached; run it again to resume.[/]")
    for note in run.notes:
        console.print(f"[yellow]{escape(note)}[/]")


def _duration(seconds: float) -> str:
    if seconds < 1:
        return "under a second"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


class _progress:
    """A Rich progress bar per provider (counts found and failed), or nothing."""

    def __init__(self, show: bool) -> None:
        self.show = show
        self.bar: Any = None
        self.tasks: dict[str, Any] = {}

    def __enter__(self) -> Any:
        if not self.show:
            return None
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        self.bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[counts]}"),
            console=console,
            transient=True,
        )
        self.bar.start()
        return self.tick

    def tick(self, tally: ProviderTally, total: int) -> None:
        task = self.tasks.get(tally.provider)
        if task is None:
            task = self.bar.add_task(tally.provider, total=total, counts="")
            self.tasks[tally.provider] = task
        counts = f"found {tally.found:,}  failed {tally.failed:,}"
        self.bar.update(task, completed=tally.asked, counts=counts)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()


@app.command()
def show(
    account: Annotated[str, typer.Argument(help="The account's domain or key.")],
    fmt: FormatOption = "table",
    out: OutOption = None,
    workspace: WorkspaceOption = None,
) -> None:
    """One account's enriched values: every provider's answer, every value with its source
    URL, time, confidence and evidence."""
    ws = open_workspace(workspace)
    info = ws.enrichment(account)
    rows = [
        {
            "field": o["field"],
            "value": o["value"] if o["value"] is not None else f"unreadable: {o['problem']}",
            "provider": o["provider"],
            "confidence": round(float(o["confidence"]), 2),
            "seen": _seen(o),
            "source": o["source_url"] or "",
            "evidence": o["evidence"] or "",
        }
        for o in info["observations"]
    ]
    if fmt != "table":
        emit(rows, fmt, out=out, command="enrich show", account=info)
        return
    title = f"{info['name'] or info['account_key']} ({info['domain'] or 'no domain'})"
    for lookup in info["lookups"]:
        why = f": {lookup['reason']}" if lookup["reason"] else ""
        console.print(f"{lookup['provider']}: {lookup['status']}{why}")
    if not rows:
        console.print("No value observed for this account yet.")
        return
    columns = [
        Column("field"), Column("value"), Column("provider"), Column("confidence", priority=3),
        Column("seen", priority=2), Column("source", priority=1), Column("evidence", priority=4),
    ]  # fmt: skip
    print_table(rows, columns, title=title)


def _seen(o: dict[str, Any]) -> str:
    day = o["observed_at"] or o["fetched_at"]
    return day.date().isoformat() if day is not None else ""


@app.command()
def conflicts(
    limit: Annotated[int, typer.Option("--limit", help="Conflicts listed at most.")] = 20,
    fmt: FormatOption = "table",
    out: OutOption = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Where sources disagree on a field (the CRM included): the value kept and the others."""
    ws = open_workspace(workspace)
    found = ws.enrichment_conflicts(limit=limit)
    rows = [
        {
            "account": c.name or c.account_key,
            "field": c.field,
            "kept": c.winner if c.winner is not None else "",
            "sources": "; ".join(f"{p}: {v}" for p, v in sorted(c.values.items())),
        }
        for c in found.shown
    ]
    if fmt != "table":
        emit(rows, fmt, out=out, command="enrich conflicts", total=found.total,
             per_field=found.per_field)  # fmt: skip
        return
    if not found.total:
        console.print("No conflicts: where several sources hold a field, they agree.")
        return
    per_field = ", ".join(f"{k} {v:,}" for k, v in found.per_field.items())
    console.print(f"{found.total:,} fields where sources disagree ({per_field}).")
    print_table(rows, ["account", "field", "kept", "sources"])
