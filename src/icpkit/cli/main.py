"""The ``icp`` application: every command registered in one place, and one place for failures.

Every failure ends here as one line on stderr and a non-zero exit (1 for a failure, 2 for a
usage error), with a traceback only under ``--debug`` (or ``ICP_DEBUG=1``). The command modules
import the library lazily, so ``icp --help`` and ``icp --version`` answer at once.
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Sequence
from typing import Any

import typer
import typer.main
from typer.core import TyperGroup

from icpkit.cli import (
    alerts,
    analyze,
    check,
    crm,
    demo,
    enrich,
    export,
    icp,
    ingest,
    monitor,
    operate,
    persona,
    queue,
    report,
    review,
    score,
    serve,
    workspace,
)
from icpkit.cli.common import debugging, expected_failure, fail
from icpkit.output.files import exit_cleanly_on_sigterm, stopped_by_signal

BUG_HINT = "this is a bug in icpkit: run the command again with --debug and report the traceback"


class FailsCleanly(TyperGroup):
    """The ``icp`` group: any error a command raises becomes a message and an exit code."""

    def invoke(self, ctx: Any) -> Any:
        """Run the command; turn what it raises into one clear line unless debugging."""
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            if (signum := stopped_by_signal()) is not None:
                fail(f"stopped by signal {signum}; temporary files removed", 128 + signum)
            raise
        except (typer.Exit, typer.Abort, SystemExit, BrokenPipeError):
            raise  # exits already decided, and a closed pipe (``icp ... | head``)
        except Exception as exc:
            if (signum := stopped_by_signal()) is not None:
                fail(f"stopped by signal {signum}; temporary files removed", 128 + signum)
            if getattr(exc, "exit_code", None) is not None and not isinstance(exc, OSError):
                raise  # a usage error: the command-line parser reports it with exit 2
            if debugging():
                raise
            if (known := expected_failure(exc)) is not None:
                fail(str(known), hint=known.hint)
            if isinstance(exc, OSError | MemoryError):
                fail(f"{type(exc).__name__}: {exc}")
            fail(f"{type(exc).__name__}: {exc}", hint=BUG_HINT)


class Icp(typer.Typer):
    """A Typer application that, run as a program, builds only the command its arguments name:
    the parser of each of some forty commands is built from its signature (its annotations
    evaluated, its options made), 40-50 ms that a command line naming one of them need not
    pay. Tests, the help and anything unknown get the whole application."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        named = invoked(self, sys.argv[1:] if kwargs.get("args") is None else kwargs["args"])
        return typer.Typer.__call__(named, *args, **kwargs)


def invoked(application: typer.Typer, argv: Sequence[str]) -> typer.Typer:
    """``application`` with only the command or group that ``argv`` names (its first word
    that is not an option; the application's own options take no value), or the whole
    application when it names none (its help, a misspelled command: click's suggestions
    need them all). Only ``--version``: no command at all (it answers before any runs)."""
    word = next((a for a in argv if not a.startswith("-")), None)
    if word is None:
        if list(argv) != ["--version"]:
            return application
        commands, groups = [], []
    else:
        commands = [c for c in application.registered_commands if _name(c) == word]
        groups = [g for g in application.registered_groups if g.name == word]
        if not commands and not groups:
            return application
    named = copy.copy(application)
    named.registered_commands, named.registered_groups = commands, groups
    return named


def _name(command: Any) -> str | None:
    """A registered command's name, as Typer gives it (its function's, with dashes)."""
    if command.name:
        return str(command.name)
    callback = command.callback
    return None if callback is None else typer.main.get_command_name(callback.__name__)


app = Icp(
    name="icp",
    cls=FailsCleanly,
    help="Derive an Ideal Customer Profile from your CRM history and put it to work.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"icpkit {version('icpkit')}")
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
    # A stopped command (kill, a container stop) unwinds like Ctrl-C: no temporary file stays.
    exit_cleanly_on_sigterm()


app.command()(workspace.init)
app.command()(ingest.ingest)
app.command()(ingest.quarantine)
app.command()(workspace.summary)
app.command("demo-data")(demo.demo_data)
app.command()(demo.demo)
analyze.app.command("persona")(persona.persona)
app.add_typer(analyze.app, name="analyze")
app.add_typer(enrich.app, name="enrich")
app.command()(icp.derive)
app.command()(icp.history)
app.command()(icp.diff)
app.command()(icp.schema)
app.command()(check.check)
app.command()(score.score)
app.command()(persona.contacts)
app.command()(score.backtest)
app.command()(score.calibrate)
app.command()(score.sql)
app.command()(export.export)
app.command()(operate.tam)
app.command()(operate.lookalike)
app.command()(monitor.monitor)
app.command()(review.review)
app.command()(review.adopt)
app.command()(review.rollback)
app.add_typer(alerts.app, name="alerts")
app.command()(report.report)
app.command()(serve.serve)
app.add_typer(serve.token_app, name="token")
app.add_typer(queue.app, name="queue")
app.command()(crm.pull)
app.command()(crm.push)
