"""Opening the workspace's DuckDB file and keeping its schema current."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

from icpkit.store.schema import STORE_SCHEMA_VERSION, TABLES

STORE_NAME = "workspace.duckdb"


class StoreError(Exception):
    """The store cannot be opened or was written by a newer icpkit."""


def connect(path: Path | str, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open (creating if needed) the store at ``path`` with every table in place."""
    try:
        con = duckdb.connect(str(path), read_only=read_only)
    except duckdb.Error as exc:
        raise StoreError(f"{path}: cannot open the workspace store ({exc})") from exc
    if read_only:
        return con
    for ddl in TABLES.values():
        con.execute(ddl)
    row = first_row(con, "SELECT value FROM meta WHERE key = 'schema_version'")
    if row is None:
        con.execute("INSERT INTO meta VALUES ('schema_version', ?)", [str(STORE_SCHEMA_VERSION)])
    elif int(row[0]) > STORE_SCHEMA_VERSION:
        con.close()
        raise StoreError(
            f"{path}: written by a newer icpkit (store schema {row[0]}, "
            f"this version reads up to {STORE_SCHEMA_VERSION}); upgrade icpkit"
        )
    return con


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


def literal(text: str) -> str:
    """``text`` as a SQL string literal: 'O''Reilly'."""
    return "'" + text.replace("'", "''") + "'"


def json_path(key: str) -> str:
    """The JSON path of the top-level ``key``, quoted so spaces and dots stay in the key."""
    escaped = key.replace("\\", "\\\\").replace('"', '\\"')
    return f'$."{escaped}"'


def identifier(name: str) -> str:
    """``name`` as a quoted SQL identifier: "Time Zone"."""
    return '"' + name.replace('"', '""') + '"'
