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
from icpkit.icp.model import ICP, Criterion, Exclusion
from icpkit.scoring.prospects import CANONICAL

VIEW = "universe"


class UniverseError(Exception):
    """A file cannot be read as a company universe; the message says what to change."""


def q(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def ident(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def scratch(store: StoreSettings) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB to read a universe in, within the workspace's memory and threads."""
    con = duckdb.connect(":memory:")
    con.execute("SET enable_progress_bar = false")
    if store.memory_limit:
        con.execute(f"SET memory_limit = {q(store.memory_limit)}")
    if store.threads:
        con.execute(f"SET threads = {int(store.threads)}")
    return con


def source_of(path: Path) -> str:
    """The DuckDB table function reading ``path`` (Parquet, else CSV read as text)."""
    if not path.is_file():
        raise UniverseError(f"{path}: no such file")
    with path.open("rb") as fh:
        head = fh.read(4)
    if head == b"PAR1":
        return f"read_parquet({q(str(path))})"
    return f"read_csv({q(str(path))}, header = true, all_varchar = true)"


def extra_columns(icp: ICP | None) -> list[str]:
    """Unmapped fields the ICP reads, as column names ('extra:Time Zone' -> 'Time Zone')."""
    if icp is None:
        return []
    rules: list[Criterion | Exclusion] = [*icp.boundary, *icp.fit, *icp.exclusions]
    return sorted(
        {r.attribute.removeprefix("extra:") for r in rules if r.attribute.startswith("extra:")}
    )


def create_view(con: duckdb.DuckDBPyConnection, path: Path, icp: ICP | None) -> list[str]:
    """Create the temp view ``universe`` over ``path``: the input columns cast to their types
    (missing ones NULL, ';'-joined technologies split), then every other column as it is.
    Returns the columns of the file that are not inputs."""
    source = source_of(path)
    try:
        described = con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()
    except duckdb.Error as exc:
        raise UniverseError(f"{path}: cannot be read as Parquet or CSV ({exc})") from exc
    columns = {str(r[0]): str(r[1]) for r in described}
    if "account_key" not in columns:
        raise UniverseError(
            f"{path}: a universe needs an account_key column (the scorer's input layout: "
            f"{', '.join(CANONICAL)}); got columns {', '.join(list(columns)[:12])}"
        )
    select = []
    for name, kind in CANONICAL.items():
        if name not in columns:
            select.append(f"CAST(NULL AS {kind}) AS {name}")
        elif name == "technologies" and not columns[name].endswith("[]"):
            # The non-blank ';'-separated names, trimmed (no lambda: its syntax moved in 1.3).
            select.append(
                r"regexp_extract_all(f.technologies, '\s*([^;]*[^;\s])', 1) AS technologies"
            )
        elif name == "account_key":
            select.append("CAST(f.account_key AS VARCHAR) AS account_key")
        else:
            select.append(f"TRY_CAST(f.{name} AS {kind}) AS {name}")
    others = [c for c in columns if c not in CANONICAL]
    select += [f"f.{ident(c)}" for c in others]
    select += [f"NULL::VARCHAR AS {ident(e)}" for e in extra_columns(icp) if e not in columns]
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
