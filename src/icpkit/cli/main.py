"""The ``icp`` application: every command registered in one place."""

from __future__ import annotations

import typer

from icpkit import __version__
from icpkit.cli import analyze, demo, icp, ingest, operate, score, workspace

app = typer.Typer(
    name="icp",
    help="Derive an Ideal Customer Profile from your CRM history and put it to work.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"icpkit {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
) -> None:
    """icpkit: derive an Ideal Customer Profile from your CRM history."""


app.command()(workspace.init)
app.command()(ingest.ingest)
app.command()(ingest.quarantine)
app.command()(workspace.summary)
app.command("demo-data")(demo.demo_data)
app.command()(demo.demo)
app.add_typer(analyze.app, name="analyze")
app.command()(icp.derive)
app.command()(icp.history)
app.command()(icp.diff)
app.command()(icp.schema)
app.command()(score.score)
app.command()(score.backtest)
app.command()(score.calibrate)
app.command()(score.sql)
app.command()(operate.tam)
app.command()(operate.lookalike)
