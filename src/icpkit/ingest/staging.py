"""Copying a file's records into the temporary ``raw`` table, one text column per source column.

CSV in UTF-8 goes through DuckDB's parallel reader when the line numbers can be rebuilt
exactly; everything else (other encodings, ragged rows, XLSX, Parquet) through
:mod:`icpkit.ingest.readers`, chunk by chunk.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import duckdb
import pyarrow as pa

from icpkit.config import IngestSettings
from icpkit.ingest.cells import check_sample
from icpkit.ingest.detect import Layout, detect_layout
from icpkit.ingest.readers import Chunk, SourceTable, count_lines
from icpkit.store.db import first_row, scalar

SAMPLE_SIZE = 200

Progress = Callable[[int], None]


def stage_raw(
    con: duckdb.DuckDBPyConnection,
    table: SourceTable,
    settings: IngestSettings,
    progress: Progress | None,
) -> Layout:
    """Copy the file's records into the temporary ``raw`` table and detect the layout."""
    if _stage_csv_in_duckdb(con, table):
        table.close()
        samples: dict[str, list[str]] = {}
        head = con.execute(f"SELECT * EXCLUDE (line) FROM raw LIMIT {SAMPLE_SIZE * 5}").fetchall()
        for i, name in enumerate(table.header):
            samples[name] = [r[i] for r in head if r[i] and r[i].strip()][:SAMPLE_SIZE]
        if progress:
            progress(scalar(con, "SELECT count(*) FROM raw"))
        return detect_layout(
            table.path.name, table.header, samples, settings.mapping, check=check_sample
        )
    chunks = table.chunks()
    first: Chunk | None = next(chunks, None)
    samples = {}
    if first is not None:
        for name, col in zip(table.header, first.columns, strict=True):
            samples[name] = [v for v in col[: SAMPLE_SIZE * 5] if v and v.strip()][:SAMPLE_SIZE]
    layout = detect_layout(
        table.path.name, table.header, samples, settings.mapping, check=check_sample
    )
    cols = ", ".join(f'"c{i}" VARCHAR' for i in range(len(table.header)))
    con.execute(f"CREATE TEMP TABLE raw (line BIGINT, {cols})")
    names = ["line"] + [f"c{i}" for i in range(len(table.header))]
    seen = 0
    for chunk in _chain(first, chunks):
        arrays = [pa.array(chunk.lines, pa.int64())]
        arrays += [pa.array(col, pa.string()) for col in chunk.columns]
        con.register("raw_batch", pa.table(arrays, names=names))
        con.execute("INSERT INTO raw SELECT * FROM raw_batch")
        con.unregister("raw_batch")
        seen += len(chunk.lines)
        if progress:
            progress(seen)
    return layout


def _stage_csv_in_duckdb(con: duckdb.DuckDBPyConnection, table: SourceTable) -> bool:
    """Load a UTF-8 CSV with DuckDB's parallel reader when line numbers can be kept exact.

    DuckDB does not report line numbers, so they are rebuilt from the record order and the
    line breaks inside quoted cells, then checked against the file's physical line count.
    Anything unusual (a ragged row, a blank line, another encoding) returns False and the
    exact Python reader takes over.
    """
    if table.kind != "csv" or table.encoding not in ("utf-8", "utf-8-sig"):
        return False
    width = len(table.header)
    columns = ", ".join(f"'c{i}': 'VARCHAR'" for i in range(width))
    path = str(table.path).replace("'", "''")
    delim = (table.delimiter or ",").replace("'", "''")
    try:
        con.execute(
            f"""CREATE TEMP TABLE raw0 AS SELECT * FROM read_csv('{path}',
                header = false, skip = {table.header_lines}, delim = '{delim}', quote = '"',
                escape = '"', columns = {{{columns}}}, auto_detect = false, strict_mode = true,
                null_padding = false, encoding = 'utf-8')"""
        )
    except duckdb.Error:
        con.execute("DROP TABLE IF EXISTS raw0")
        return False
    breaks = " + ".join(
        f"coalesce(length(c{i}) - length(replace(c{i}, chr(10), '')), 0)" for i in range(width)
    )
    cols = ", ".join(f"c{i}" for i in range(width))
    con.execute(
        f"""CREATE TEMP TABLE raw AS
            SELECT ({table.header_lines} + row_number() OVER (ORDER BY rowid)
                    + coalesce(sum(breaks) OVER (ORDER BY rowid ROWS BETWEEN UNBOUNDED PRECEDING
                                                  AND 1 PRECEDING), 0))::BIGINT AS line,
                   {cols}, breaks
            FROM (SELECT rowid, *, {breaks} AS breaks FROM raw0)"""
    )
    con.execute("DROP TABLE raw0")
    row = first_row(con, "SELECT count(*), coalesce(sum(breaks), 0) FROM raw")
    records, inner = (int(row[0]), int(row[1])) if row else (0, 0)
    if table.header_lines + records + inner != count_lines(table.path):
        con.execute("DROP TABLE raw")
        return False
    con.execute("ALTER TABLE raw DROP COLUMN breaks")
    all_null = " AND ".join(f"c{i} IS NULL" for i in range(width))
    table.blank_records = scalar(con, f"SELECT count(*) FROM raw WHERE {all_null}")
    if table.blank_records:
        con.execute(f"DELETE FROM raw WHERE {all_null}")
    return True


def _chain(first: Chunk | None, rest: Iterator[Chunk]) -> Iterator[Chunk]:
    if first is not None:
        yield first
    yield from rest
