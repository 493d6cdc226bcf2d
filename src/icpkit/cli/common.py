"""What every command shares: the console, the --workspace option, clean failures.

Nothing here imports the library's heavy modules (DuckDB, numpy, pydantic models): ``icp
--help`` and ``icp --version`` load this, and must answer at once.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

if TYPE_CHECKING:
    from icpkit.errors import IcpkitError
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

    Every exception class icpkit defines (``ConfigError``, ``BacktestError``, ...) derives from
    ``icpkit.errors.IcpkitError`` and carries a message that says what went wrong and what to
    do; a built-in error raised from inside icpkit (``KeyError``, ``TypeError``) is a bug.
    """
    from icpkit.errors import IcpkitError

    return isinstance(exc, IcpkitError)


def debugging() -> bool:
    """Whether ``--debug`` (or ICP_DEBUG=1) asks for tracebacks instead of one-line errors."""
    if os.environ.get("ICP_DEBUG", "") not in ("", "0"):
        return True
    ctx = _current_context()
    return bool(ctx is not None and ctx.find_root().params.get("debug"))


def _current_context() -> Any:
    """The command line being run, if any (Typer's bundled click keeps it)."""
    try:
        from typer._click.globals import get_current_context
    except ImportError:  # a Typer that depends on click instead
        from click import get_current_context  # type: ignore[import-not-found,no-redef]
    return get_current_context(silent=True)


def known_failure(exc: BaseException) -> IcpkitError | None:
    """What a DuckDB or OS error raised outside the store's own connections means (a full
    disk, memory, a read-only folder), when it is one of those."""
    if not (isinstance(exc, OSError) or type(exc).__module__.startswith(("duckdb", "_duckdb"))):
        return None
    from icpkit.store.db import damage, failure

    return failure(exc) or damage(exc)


@contextmanager
def clean_errors() -> Iterator[None]:
    """Turn the library's expected errors, and unreadable files, into messages and exit 1."""
    try:
        yield
    except Exception as exc:
        if debugging():
            raise
        if is_library_error(exc):
            fail(str(exc), hint=getattr(exc, "hint", None))
        if (known := known_failure(exc)) is not None:
            fail(str(known), hint=known.hint)
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


def expand_globs(paths: list[Path]) -> list[Path]:
    """The files named, with a pattern the shell left unexpanded (``'exports/*.csv'``, quoted)
    expanded here, sorted. A path that exists is taken as it is, even one with ``[`` or ``*``
    in its name; the library never expands a pattern, so a file name is never a glob."""
    import glob

    out: list[Path] = []
    for path in paths:
        text = str(path)
        matches = [] if path.exists() or not glob.has_magic(text) else sorted(glob.glob(text))
        if matches:
            out.extend(Path(m) for m in matches)
        else:
            out.append(path)  # missing: the ingest says so, naming it
    return out
