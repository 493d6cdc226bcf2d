"""A company universe read in the scorer's input layout, for TAM sizing and lookalikes.

A universe is a Parquet or CSV file with an ``account_key`` column and the attributes the
scorecard reads (``employees, revenue, industry, country, funding_stage, founded_year,
technologies, total_funding``); other columns (``name``, ``domain``, ...) come along. It is
read where it lies, never loaded whole, so a universe of millions stays on disk.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from icpkit.config import StoreSettings
from icpkit.icp.model import ICP
from icpkit.scoring.layout import CANONICAL, extra_columns, read_table, typed_columns
from icpkit.store.db import identifier, literal

VIEW = "universe"


class UniverseError(Exception):
    """A file cannot be read as a company universe; the message says what to change."""


def scratch(store: StoreSettings) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB to read a universe in, within the workspace's memory and threads."""
    con = duckdb.connect(":memory:")
    con.execute("SET enable_progress_bar = false")
    if store.memory_limit:
        con.execute(f"SET memory_limit = {literal(store.memory_limit)}")
    if store.threads:
        con.execute(f"SET threads = {int(store.threads)}")
    return con


def create_view(con: duckdb.DuckDBPyConnection, path: Path, icp: ICP | None) -> list[str]:
    """Create the temp view ``universe`` over ``path``: the input columns cast to their types
    (missing ones NULL, ';'-joined technologies split), then every other column as it is.
    Returns the columns of the file that are not inputs."""
    if not path.is_file():
        raise UniverseError(f"{path}: no such file")
    read = read_table(con, path)
    if read is None:
        raise UniverseError(f"{path}: cannot be read as Parquet or CSV")
    source, columns = read
    if "account_key" not in columns:
        raise UniverseError(
            f"{path}: a universe needs an account_key column (the scorer's input layout: "
            f"{', '.join(CANONICAL)}); got columns {', '.join(list(columns)[:12])}"
        )
    extras = extra_columns(icp)
    others = [c for c in columns if c not in CANONICAL and c not in extras]
    select = typed_columns(columns, icp) + [f"f.{identifier(c)}" for c in others]
    con.execute(f"CREATE OR REPLACE TEMP VIEW {VIEW} AS SELECT {', '.join(select)} FROM {source} f")
    return others


def check_layout(path: Path) -> None:
    """Fail early, saying what to change, when ``path`` is not a universe in the input layout
    (a raw export would otherwise be scored through ingestion, under other keys)."""
    con = duckdb.connect(":memory:")
    try:
        create_view(con, path, None)
    finally:
        con.close()
