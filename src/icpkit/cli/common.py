"""What every command shares: the console, the --workspace option, clean failures.

Nothing here imports the library's heavy modules (DuckDB, numpy, pydantic models): ``icp
--help`` and ``icp --version`` load this, and must answer at once.
"""

from __future__ import annotations

import datetime as dt
import os
import re
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
IcpOption = Annotated[
    str | None,
    typer.Option(
        "--icp",
        help="A named ICP of icp.yaml's icps: instead of the main one (docs/multi-icp.md).",
        show_default=False,
    ),
]


def fail(message: str, code: int = 1, *, hint: str | None = None) -> NoReturn:
    """Print an error in one clear block (and a hint) on stderr and exit, never a traceback."""
    err_console.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)
    if hint:
        err_console.print(f"[dim]hint:[/] {escape(hint)}", soft_wrap=True)
    raise typer.Exit(code)


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


def expected_failure(exc: BaseException) -> IcpkitError | None:
    """What ``exc`` means for a person when it is an expected failure, else None (a bug).

    Every exception class icpkit defines derives from ``IcpkitError``: its message says what
    went wrong and its hint what to do. A DuckDB or OS error met outside the store's own
    connections is explained when it is a full disk, memory or a read-only folder, and a file
    that cannot be opened is named; any other error raised from inside icpkit is a bug.
    """
    from icpkit.errors import IcpkitError

    if isinstance(exc, IcpkitError):
        return exc
    if isinstance(exc, OSError) or type(exc).__module__.startswith(("duckdb", "_duckdb")):
        from icpkit.workspace import explain_failure

        if (known := explain_failure(exc)) is not None:
            return known
    if isinstance(exc, OSError) and exc.filename is not None:
        return IcpkitError(f"{exc.filename}: {exc.strerror or exc}")
    return None


def open_workspace(path: Path | None) -> Workspace:
    """The workspace a command works on."""
    from icpkit.workspace import Workspace

    return Workspace.open(path)


def parse_day(text: str | None, option: str = "--as-of") -> dt.date | None:
    """A day given as YYYY-MM-DD on the command line, or a clear failure."""
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        fail(f"{option} {text!r}: expected a date as YYYY-MM-DD")


_WIDEN = re.compile(r"^([a-z_]+)=([0-9][0-9.,_eE+]*)-([0-9][0-9.,_eE+]*)$")


def parse_widening(texts: list[str] | None) -> dict[str, tuple[float, float]] | None:
    """``--widen`` what-ifs as ranges: ['employees=20-500'] -> {'employees': (20.0, 500.0)};
    None when none is given, a clear failure for one that is malformed."""
    ranges: dict[str, tuple[float, float]] = {}
    for text in texts or []:
        match = _WIDEN.match(text.strip())
        if match is None:
            fail(f"--widen {text!r}: expected attribute=low-high, e.g. employees=20-500")
        attribute, low, high = match.groups()
        try:
            ranges[attribute] = (float(low.replace(",", "")), float(high.replace(",", "")))
        except ValueError:
            fail(f"--widen {text!r}: low and high must be numbers, e.g. employees=20-500")
    return ranges or None


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
