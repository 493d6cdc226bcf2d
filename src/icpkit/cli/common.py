"""What every command shares: the console, the --workspace option, clean failures."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console

from icpkit.config import ConfigError
from icpkit.ingest.problems import IngestError
from icpkit.store.db import StoreError
from icpkit.workspace import Workspace, WorkspaceError

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

WorkspaceOption = Annotated[
    Path | None,
    typer.Option(
        "--workspace",
        "-w",
        help="Workspace folder (default: $ICP_WORKSPACE, else the nearest icp.yaml above here).",
        show_default=False,
    ),
]


def fail(message: str, code: int = 1) -> NoReturn:
    """Print an error in one clear block and exit, never a traceback."""
    err_console.print(f"[bold red]error:[/] {message}", soft_wrap=True)
    raise typer.Exit(code)


@contextmanager
def clean_errors() -> Iterator[None]:
    """Turn the library's expected errors into messages and exit codes."""
    try:
        yield
    except (ConfigError, StoreError, WorkspaceError, IngestError) as exc:
        fail(str(exc))


def open_workspace(path: Path | None) -> Workspace:
    """The workspace a command works on."""
    with clean_errors():
        return Workspace.open(path)
    raise AssertionError("unreachable")


def parse_day(text: str | None, option: str = "--as-of") -> dt.date | None:
    """A day given as YYYY-MM-DD on the command line, or a clear failure."""
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        fail(f"{option} {text!r}: expected a date as YYYY-MM-DD")
