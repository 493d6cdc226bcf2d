"""Opening the workspace's DuckDB file and keeping its schema current."""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import duckdb

from icpkit.errors import (
    DiskFullError,
    IcpkitError,
    OutOfMemoryError,
    ReadOnlyError,
    StoreBusyError,
    is_disk_full,
    is_read_only,
)
from icpkit.output.files import TEMP_MARK, sweep_stale
from icpkit.store.schema import STORE_SCHEMA_VERSION, TABLES, UPGRADES

if TYPE_CHECKING:
    import pyarrow as pa

_T = TypeVar("_T")

STORE_NAME = "workspace.duckdb"

# How long a command waits for another icpkit process to release the store, by default
# (ICP_LOCK_WAIT seconds overrides it).
LOCK_WAIT_SECONDS = 600.0
ENV_LOCK_WAIT = "ICP_LOCK_WAIT"
_POLL_SECONDS = 0.2
# One store file opened at a time in this process. DuckDB shares one database per file
# among a process's connections and gives it out before its Python functions are in place:
# a connection opened while another thread opens the same file can fail at its first
# Arrow read ("python_arrow_scan does not exist"; 15 of 1,000 tries of three threads).
_OPENING = threading.Lock()
_LOCKED = re.compile(r"Could not set lock on file.*?\(PID (\d+)\)", re.S)
_DAMAGED = (
    "not a valid DuckDB database file",
    "Could not read enough bytes",
    "Corrupt database file",
)

_FILE_IN_MESSAGE = re.compile(r'file "([^"]+)"')

Notice = Callable[[str], None]


class StoreError(IcpkitError):
    """The store cannot be opened, is damaged, or was written by a newer icpkit."""


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def spill_directory(root: Path | None, configured: str | None = None) -> Path:
    """Where a connection's DuckDB spill files go: ``configured`` (relative to ``root``), else
    ``<root>/.icp/tmp``, else the system's temporary folder; never the current directory.
    Each process spills into its own ``.spill.icpkit-tmp-<pid>`` folder there, so the folder
    a killed run left is removed by the next one."""
    if configured:
        base = Path(configured).expanduser()
        if not base.is_absolute() and root is not None:
            base = root / base
    elif root is not None:
        base = root / ".icp" / "tmp"
    else:
        base = Path(tempfile.gettempdir()) / "icpkit"
    return base / f".spill{TEMP_MARK}{os.getpid()}"


def use_spill_directory(con: duckdb.DuckDBPyConnection, folder: Path) -> None:
    """Point ``con``'s spill files at ``folder`` (see :func:`spill_directory`); DuckDB creates
    the folder only when a query spills, and removes it on close."""
    with contextlib.suppress(OSError):
        folder.parent.mkdir(parents=True, exist_ok=True)
        sweep_stale(folder.parent)
    # A connection sharing a database that has spilled already keeps its folder (for a
    # store file, DuckDB's default one is beside the file: inside the workspace too).
    with contextlib.suppress(duckdb.Error):
        con.execute(f"SET temp_directory = {literal(str(folder))}")


def connect(
    path: Path | str,
    *,
    read_only: bool = False,
    wait: float | None = None,
    notice: Notice | None = _stderr,
    temp_directory: Path | None = None,
) -> duckdb.DuckDBPyConnection:
    """Open (creating if needed) the store at ``path`` with every table in place.

    When another process holds the store (an ingest writing it), this waits up to ``wait``
    seconds (default: $ICP_LOCK_WAIT, else 600) for it, saying so once through ``notice``;
    readers open it ``read_only`` so any number of them share it. A damaged file, a full
    disk and a read-only folder are told as such (:class:`StoreError`,
    :class:`DiskFullError`, :class:`ReadOnlyError`).
    Spill files go to ``temp_directory`` (default: :func:`spill_directory` of the store's
    folder, or of no workspace for an in-memory store).
    """
    if str(path) == ":memory:":
        memory = duckdb.connect(":memory:")
        use_spill_directory(memory, temp_directory or spill_directory(None))
        for ddl in TABLES.values():  # a scratch store (icp score of a raw export) needs them
            memory.execute(ddl)
        return memory
    path = Path(path)
    if read_only and not path.exists():
        # A reader must not create the store; an empty one is what a new workspace holds.
        read_only = False
    con = _open_waiting(path, read_only, wait, notice)
    use_spill_directory(con, temp_directory or spill_directory(path.resolve().parent))
    if read_only:
        stored = _stored_version(con, path)
        if stored is not None and stored >= STORE_SCHEMA_VERSION:
            _refuse_newer(con, path, stored)
            return con
        # A store of an earlier icpkit (or without its tables): brought up to date once,
        # as a writer would, then read; a read-only folder is read as it is.
        con.close()
        with contextlib.suppress(ReadOnlyError):
            connect(path, wait=wait, notice=notice, temp_directory=temp_directory).close()
        con = _open_waiting(path, True, wait, notice)
        use_spill_directory(con, temp_directory or spill_directory(path.resolve().parent))
        return con
    try:
        for ddl in TABLES.values():
            con.execute(ddl)
        row = first_row(con, "SELECT value FROM meta WHERE key = 'schema_version'")
        if row is None:
            con.execute(
                "INSERT INTO meta VALUES ('schema_version', ?)", [str(STORE_SCHEMA_VERSION)]
            )
        elif int(row[0]) < STORE_SCHEMA_VERSION:
            # A store of an earlier icpkit: add what this version records (schema.UPGRADES).
            for statement in UPGRADES:
                con.execute(statement)
            con.execute(
                "UPDATE meta SET value = ? WHERE key = 'schema_version'",
                [str(STORE_SCHEMA_VERSION)],
            )
    except duckdb.Error as exc:
        quietly_close(con)
        raise explain(exc, path) from exc
    if row is not None:
        _refuse_newer(con, path, int(row[0]))
    return con


def _stored_version(con: duckdb.DuckDBPyConnection, path: Path) -> int | None:
    """The schema version the store records, None when it has no ``meta`` table yet."""
    try:
        row = first_row(con, "SELECT value FROM meta WHERE key = 'schema_version'")
    except duckdb.CatalogException:
        return None
    except duckdb.Error as exc:
        quietly_close(con)
        raise explain(exc, path) from exc
    return int(row[0]) if row else None


def _refuse_newer(con: duckdb.DuckDBPyConnection, path: Path, stored: int) -> None:
    if stored > STORE_SCHEMA_VERSION:
        con.close()
        raise StoreError(
            f"{path}: written by a newer icpkit (store schema {stored}, "
            f"this version reads up to {STORE_SCHEMA_VERSION}); upgrade icpkit"
        )


def lock_wait(wait: float | None = None) -> float:
    """Seconds to wait for a locked store: ``wait``, else $ICP_LOCK_WAIT, else 600."""
    if wait is not None:
        return wait
    try:
        return max(0.0, float(os.environ.get(ENV_LOCK_WAIT, LOCK_WAIT_SECONDS)))
    except ValueError:
        return LOCK_WAIT_SECONDS


def _open_waiting(
    path: Path, read_only: bool, wait: float | None, notice: Notice | None
) -> duckdb.DuckDBPyConnection:
    """``duckdb.connect``, waiting while another process holds the file's lock."""

    def attempt() -> duckdb.DuckDBPyConnection:
        try:
            with _OPENING:
                return duckdb.connect(str(path), read_only=read_only)
        except duckdb.ConnectionException as exc:
            # This process has the file open the other way already (a notebook holding a
            # writer): share that connection's database instead.
            if read_only and "different configuration" in str(exc):
                with _OPENING:
                    return duckdb.connect(str(path))
            raise explain(exc, path) from exc

    return _while_locked(attempt, path, wait, notice)


def _while_locked(
    attempt: Callable[[], _T], path: Path, wait: float | None, notice: Notice | None
) -> _T:
    """Run ``attempt`` until no other process holds the store's lock, saying once that it
    waits; after ``wait`` seconds (see :func:`lock_wait`) a StoreBusyError names the holder."""
    wait = lock_wait(wait)
    deadline = time.monotonic() + wait
    told = False
    while True:
        try:
            return attempt()
        except duckdb.Error as exc:
            match = _LOCKED.search(str(exc))
            if match is None:
                raise explain(exc, path) from exc
            holder = _holder(int(match.group(1)), "read-only mode" in str(exc))
            if time.monotonic() >= deadline:
                raise StoreBusyError(
                    f"{path}: {holder} for more than {wait:g} s",
                    hint="wait for it to finish and run the command again",
                ) from exc
            if not told and notice is not None:
                notice(f"the workspace is {holder}; waiting… Ctrl-C to stop")
                told = True
            time.sleep(min(_POLL_SECONDS, max(0.0, deadline - time.monotonic())))


def _holder(pid: int, reading: bool) -> str:
    """'being written by pid 123 (icp ingest)': who holds the store, for a waiting message."""
    doing = "read" if reading else "written"
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return f"being {doing} by pid {pid}"
    words = [a.decode(errors="replace") for a in args if a]
    for i, word in enumerate(words):
        if Path(word).name == "icp":
            command = " ".join(["icp", *words[i + 1 : i + 2]])
            return f"being {doing} by pid {pid} ({command})"
    return f"being {doing} by pid {pid}"


def explain(
    exc: BaseException, path: Path | str | None = None, *, memory_limit: str | None = None
) -> IcpkitError | BaseException:
    """The :class:`IcpkitError` that says why the store at ``path`` could not be opened (disk
    full, out of memory, read-only, damaged, or DuckDB's own words), else ``exc`` itself."""
    if isinstance(exc, IcpkitError) or not isinstance(exc, duckdb.Error | OSError):
        return exc
    known = failure(exc, path, memory_limit=memory_limit) or damage(exc, path)
    if known is not None:
        return known
    return StoreError(f"{_where(exc, path)}: cannot open the workspace store ({exc})")


def failure(
    exc: BaseException,
    path: Path | str | None = None,
    *,
    memory_limit: str | None = None,
    writing: Path | str | None = None,
) -> IcpkitError | None:
    """A full disk, too little memory or a read-only folder behind ``exc``, said as such, with
    what to do; None for any other error. The file named is ``path``, else the one the error
    names, else ``writing`` (the file being written)."""
    where = _where(exc, path, writing)
    if is_disk_full(exc):
        # The store rolls back a failed transaction; of another file nothing is promised.
        return DiskFullError(where, done="nothing was changed" if path is not None else None)
    if is_read_only(exc):
        return ReadOnlyError(
            f"{where}: read-only (the file system or folder refuses writing); commands that "
            "write the workspace (init, ingest, derive, calibrate) need a writable folder",
            hint="copy the workspace somewhere writable, or run a reading command "
            "(summary, analyze, score --out to a writable folder)",
        )
    if isinstance(exc, duckdb.OutOfMemoryException):
        return out_of_memory(memory_limit)
    return None


def damage(exc: BaseException, path: Path | str | None = None) -> StoreError | None:
    """A damaged store file behind the DuckDB error ``exc`` (truncated, overwritten), or None."""
    text = str(exc)
    if not isinstance(exc, duckdb.Error) or not any(mark in text for mark in _DAMAGED):
        return None
    first = text.splitlines()[0] if text else type(exc).__name__
    return StoreError(
        f"the store {_where(exc, path)} is damaged ({first}); restore it from a backup or "
        "move it away and re-ingest"
    )


def _where(exc: BaseException, path: Path | str | None, writing: Path | str | None = None) -> str:
    if path is not None:
        return str(path)
    if isinstance(exc, OSError) and exc.filename is not None:
        return str(exc.filename)
    named = _FILE_IN_MESSAGE.search(str(exc))
    if named:
        return named.group(1)
    return str(writing) if writing is not None else "the workspace store"


def out_of_memory(memory_limit: str | None) -> OutOfMemoryError:
    """The error for a query that outgrew DuckDB's memory: which limit, and what to do."""
    if memory_limit:
        return OutOfMemoryError(
            f"out of memory at store.memory_limit={memory_limit}: raise it in icp.yaml",
            hint="or remove store.memory_limit to let DuckDB use 80% of the machine's memory",
        )
    return OutOfMemoryError(
        "out of memory: the query needs more memory than DuckDB could have",
        hint="raise store.memory_limit in icp.yaml if it is set, else run on a machine "
        "with more memory",
    )


def quietly(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    """Run ``sql`` when failing it must not hide an earlier error (a rollback, a clean-up)."""
    with contextlib.suppress(duckdb.Error):
        con.execute(sql)


def quietly_close(con: duckdb.DuckDBPyConnection) -> None:
    """Close ``con`` on a path that is already failing, so its error is the one reported."""
    with contextlib.suppress(duckdb.Error):
        con.close()


def attach_read_only(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    alias: str = "ws",
    *,
    wait: float | None = None,
    notice: Notice | None = _stderr,
) -> None:
    """ATTACH the store at ``path`` read-only as ``alias``, waiting (with a message) while an
    ingest holds it, as :func:`connect` does."""

    def attempt() -> None:
        con.execute(f"ATTACH {literal(path.as_posix())} AS {identifier(alias)} (READ_ONLY)")

    _while_locked(attempt, path, wait, notice)


def first_row(
    con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None
) -> tuple[Any, ...] | None:
    """The first row of ``sql``, reading the whole result so the connection is free again."""
    rows = con.execute(sql, params or []).fetchall()
    return rows[0] if rows else None


def scalar(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    """The integer ``sql`` returns (0 for no row or NULL)."""
    row = first_row(con, sql)
    return int(row[0]) if row and row[0] is not None else 0


def table_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Row count of every data table, for summaries and tests."""
    counts: dict[str, int] = {}
    for name in ("accounts", "deals", "signals", "contacts", "quarantine", "imports"):
        row = first_row(con, f"SELECT count(*) FROM {name}")
        counts[name] = int(row[0]) if row else 0
    return counts


def arrow_table(con: duckdb.DuckDBPyConnection, query: str) -> pa.Table:
    """The rows of ``query`` as an Arrow table: columns of text stay off the Python heap."""
    import pyarrow as pa  # only the callers that fetch Arrow pay its import

    relation = con.sql(query)
    fetch = getattr(relation, "to_arrow_table", None) or relation.arrow  # duckdb < 1.4
    table = fetch()
    return table if isinstance(table, pa.Table) else table.read_all()


@contextlib.contextmanager
def unordered(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Within the block, statements on ``con`` need not keep the order of the rows they read
    (set for this connection only: the setting is otherwise the database's, and other
    connections may be reading meanwhile)."""
    con.execute("SET SESSION preserve_insertion_order = false")
    try:
        yield
    finally:
        con.execute("RESET SESSION preserve_insertion_order")


def literal(text: str) -> str:
    """``text`` as a SQL string literal: 'O''Reilly'."""
    return "'" + escaped(text) + "'"


def escaped(text: str) -> str:
    """``text`` made safe inside a SQL string literal written around it: O''Reilly (for a
    literal that holds more than the text, as in ``'id:' || ...``; else use :func:`literal`)."""
    return text.replace("'", "''")


def path_literal(path: object) -> str:
    """A file path as the SQL string literal DuckDB's readers take for that one file, never
    for a glob: ``deals[1].csv`` reads that file, not ``deals1.csv`` (``[``, ``*`` and ``?``
    are escaped as the one-character sets ``[[]``, ``[*]``, ``[?]``)."""
    text = "".join(f"[{c}]" if c in "[*?" else c for c in str(path))
    return literal(text)


def json_path(key: str) -> str:
    """The JSON path of the top-level ``key``, quoted so spaces and dots stay in the key."""
    escaped = key.replace("\\", "\\\\").replace('"', '\\"')
    return f'$."{escaped}"'


def identifier(name: str) -> str:
    """``name`` as a quoted SQL identifier: "Time Zone"."""
    return '"' + name.replace('"', '""') + '"'
