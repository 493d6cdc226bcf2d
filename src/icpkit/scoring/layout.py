"""The scorecard's input layout: the typed columns it reads, and reading a file that is
already in it (a warehouse extract, a company universe) as it stands."""

from __future__ import annotations

from pathlib import Path

import duckdb

from icpkit.icp.model import ICP
from icpkit.store.db import identifier, literal

# The columns the compiled SELECT reads (see icpkit.scoring.sql), with each one's type.
CANONICAL = {
    "account_key": "VARCHAR",
    "employees": "BIGINT",
    "revenue": "DOUBLE",
    "industry": "VARCHAR",
    "country": "VARCHAR",
    "funding_stage": "VARCHAR",
    "founded_year": "INTEGER",
    "technologies": "VARCHAR[]",
    "total_funding": "DOUBLE",
}
# Tools joined by ';' in a text column: each trimmed, empty ones dropped.
SPLIT_TOOLS = "regexp_extract_all(f.technologies, '[^;[:space:]](?:[^;]*[^;[:space:]])?')"


def extra_columns(icp: ICP | None) -> list[str]:
    """Unmapped fields the ICP reads, as column names ('extra:Time Zone' -> 'Time Zone')."""
    if icp is None:
        return []
    attributes = [r.attribute for r in icp.boundary + icp.fit] + [
        e.attribute for e in icp.exclusions
    ]
    return sorted({a.removeprefix("extra:") for a in attributes if a.startswith("extra:")})


def read_table(con: duckdb.DuckDBPyConnection, path: Path) -> tuple[str, dict[str, str]] | None:
    """A DuckDB table function reading ``path`` and its columns with their types, when
    DuckDB reads it as it stands (Parquet, or a CSV read as text); else None."""
    with path.open("rb") as fh:
        head = fh.read(4)
    if head == b"PAR1":
        source = f"read_parquet({literal(str(path))})"
    elif head.startswith(b"PK") or not head:
        return None
    else:
        source = f"read_csv({literal(str(path))}, header = true, all_varchar = true)"
    try:
        rows = con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()
    except duckdb.Error:
        return None
    return source, {str(r[0]): str(r[1]) for r in rows}


def typed_columns(columns: dict[str, str], icp: ICP | None) -> list[str]:
    """SELECT expressions (over alias ``f``) giving every input column its type: missing
    ones NULL, values the type cannot hold NULL (see ``unreadable``), tools split."""
    select = []
    for name, kind in CANONICAL.items():
        if name not in columns:
            select.append(f"CAST(NULL AS {kind}) AS {name}")
        elif name == "technologies" and not columns[name].endswith("[]"):
            select.append(f"{SPLIT_TOOLS} AS technologies")
        elif columns[name] == kind:
            select.append(f"f.{name} AS {name}")
        else:
            select.append(f"TRY_CAST(f.{name} AS {kind}) AS {name}")
    for extra in extra_columns(icp):
        value = f"CAST(f.{identifier(extra)} AS VARCHAR)" if extra in columns else "NULL::VARCHAR"
        select.append(f"{value} AS {identifier(extra)}")
    return select


def unreadable(
    con: duckdb.DuckDBPyConnection, source: str, columns: dict[str, str], path: Path
) -> list[str]:
    """Values a file's input columns cannot hold as their type: they score as unknown, and
    are reported (column, first line and value, how many), never dropped silently."""
    cast = [
        n
        for n in CANONICAL
        if n in columns and columns[n] != CANONICAL[n] and n not in ("account_key", "technologies")
    ]
    if not cast:
        return []
    checks = []
    for name in cast:
        column = identifier(name)
        bad = f"{column} IS NOT NULL AND TRY_CAST({column} AS {CANONICAL[name]}) IS NULL"
        checks.append(
            f"count(*) FILTER ({bad}), min(n) FILTER ({bad}), arg_min({column}, n) FILTER ({bad})"
        )
    row = con.execute(
        f"SELECT {', '.join(checks)} FROM (SELECT row_number() OVER () AS n, * FROM {source})"
    ).fetchall()[0]
    # In a CSV the header is line 1; in Parquet rows count from 1.
    csv = source.startswith("read_csv")
    problems = []
    for i, name in enumerate(cast):
        count, first, value = row[3 * i : 3 * i + 3]
        if count:
            where = f"line {first + 1}" if csv else f"row {first}"
            problems.append(
                f"{path.name}, {where}, column {name!r}, value {value!r}: not a "
                f"{CANONICAL[name].lower()}; {count:,} such values scored as unknown"
            )
    return problems
