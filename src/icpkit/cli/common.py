"""What every command shares: the console, the --workspace option, clean failures.

Nothing here imports the library's heavy modules (DuckDB, numpy, pydantic models): ``icp
--help`` and ``icp --version`` load this, and must answer at once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

if TYPE_CHECKING:
    from icpkit.workspace import Workspace

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


def fail(message: str, code: int = 1, *, hint: str | None = None) -> NoReturn:
    """Print an error in one clear block (and a hint) on stderr and exit, never a traceback."""
    err_console.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)
    if hint:
        err_console.print(f"[dim]hint:[/] {escape(hint)}", soft_wrap=True)
    raise typer.Exit(code)


def is_library_error(exc: BaseException) -> bool:
    """Whether ``exc`` is one of icpkit's own errors: a message written for the user.

    Every exception class icpkit defines (``ConfigError``, ``BacktestError``, ...) carries a
    message that says what went wrong and what to do; a built-in error raised from inside
    icpkit (``KeyError``, ``TypeError``) is a bug. Checked by module, so no error class has to be
    imported (and with it its heavy module) before it can be raised.
    """
    return any(cls.__module__.partition(".")[0] == "icpkit" for cls in type(exc).__mro__)


@contextmanager
def clean_errors() -> Iterator[None]:
    """Turn the library's expected errors, and unreadable files, into messages and exit 1."""
    try:
        yield
    except Exception as exc:
        if is_library_error(exc):
            fail(str(exc))
        if isinstance(exc, OSError) and exc.filename is not None:
            fail(f"{exc.filename}: {exc.strerror or exc}")
        raise


def open_workspace(path: Path | None) -> Workspace:
    """The workspace a command works on."""
    from icpkit.workspace import Workspace

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
