"""The ``icp`` application: every command registered in one place, and one place for failures.

Every failure ends here as one line on stderr and a non-zero exit (1 for a failure, 2 for a
usage error), with a traceback only under ``--debug`` (or ``ICP_DEBUG=1``). The command modules
import the library lazily, so ``icp --help`` and ``icp --version`` answer at once.
"""

from __future__ import annotations

import os
from typing import Any

import typer
from typer.core import TyperGroup

from icpkit import __version__
from icpkit.cli import analyze, demo, icp, ingest, operate, score, workspace
from icpkit.cli.common import fail, is_library_error

BUG_HINT = "this is a bug in icpkit: run the command again with --debug and report the traceback"


class FailsCleanly(TyperGroup):
    """The ``icp`` group: any error a command raises becomes a message and an exit code."""

    def invoke(self, ctx: Any) -> Any:
        """Run the command; turn what it raises into one clear line unless debugging."""
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, SystemExit, KeyboardInterrupt, BrokenPipeError):
            raise  # exits already decided, and a closed pipe (``icp ... | head``)
        except Exception as exc:
            if getattr(exc, "exit_code", None) is not None and not isinstance(exc, OSError):
                raise  # a usage error: the command-line parser reports it with exit 2
            if _debugging(ctx):
                raise
            if is_library_error(exc):
                fail(str(exc))
            if isinstance(exc, OSError) and exc.filename is not None:
                fail(f"{exc.filename}: {exc.strerror or exc}")
            if isinstance(exc, OSError | MemoryError):
                fail(f"{type(exc).__name__}: {exc}")
            fail(f"{type(exc).__name__}: {exc}", hint=BUG_HINT)


def _debugging(ctx: Any) -> bool:
    return bool(ctx.params.get("debug")) or os.environ.get("ICP_DEBUG", "") not in ("", "0")


app = typer.Typer(
    name="icp",
    cls=FailsCleanly,
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
    debug: bool = typer.Option(
        False, "--debug", help="Show the full traceback of an error (also: ICP_DEBUG=1)."
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
