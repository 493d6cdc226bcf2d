"""Copying a file's records into the temporary ``raw`` table, one text column per source column.

CSV in UTF-8 goes through DuckDB's parallel reader when the line numbers can be rebuilt
exactly; everything else (other encodings, ragged rows, XLSX, Parquet) through
:mod:`icpkit.ingest.readers`, chunk by chunk. Double-encoded cells (``agÃ¡mi``) are then
repaired in place (:mod:`icpkit.ingest.mojibake`), their original text kept for the quarantine.
"""

from __future__ import annotations

import mmap
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from icpkit.config import IngestSettings
from icpkit.ingest.cells import check_sample
from icpkit.ingest.detect import SAMPLE_ROWS, Layout, column_samples, detect_layout
from icpkit.ingest.mojibake import MARKERS, repairs
from icpkit.ingest.problems import IngestError, Problem
from icpkit.ingest.propose import known_accounts
from icpkit.ingest.readers import SourceTable, count_lines, swallows_rows_sql, unaccounted
from icpkit.ingest.records import RecordCount, count_records
from icpkit.store.db import escaped, first_row, literal, path_literal, scalar

Progress = Callable[[int], None]


def stage_raw(
    con: duckdb.DuckDBPyConnection,
    table: SourceTable,
    settings: IngestSettings,
    progress: Progress | None,
    *,
    force: bool = False,
) -> Layout:
    """Copy the file's records into the temporary ``raw`` table, repair mojibake, detect the
    layout from the repaired values.

    A CSV opened without its quote-aware count (``counted``) is counted here, on a thread
    of its own (numpy lets go of the interpreter) while DuckDB reads the file."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        counting = (
            pool.submit(count_records, table.path, table.encoding, table.delimiter or ",")
            if table.kind == "csv" and table.counted is None
            else None
        )
        staged = _stage_csv_in_duckdb(con, table, counting)
        if counting is not None:
            table.counted = counting.result()
    if staged:
        table.close()
        if progress:
            progress(scalar(con, "SELECT count(*) FROM raw"))
    else:
        cols = ", ".join(f'"c{i}" VARCHAR' for i in range(len(table.header)))
        con.execute(f"CREATE TEMP TABLE raw (line BIGINT, {cols})")
        names = ["line"] + [f"c{i}" for i in range(len(table.header))]
        seen = 0
        for chunk in table.chunks():
            arrays = [pa.array(chunk.lines, pa.int64())]
            arrays += [pa.array(col, pa.string()) for col in chunk.columns]
            con.register("raw_batch", pa.table(arrays, names=names))
            con.execute("INSERT INTO raw SELECT * FROM raw_batch")
            con.unregister("raw_batch")
            seen += len(chunk.lines)
            if progress:
                progress(seen)
    set_aside_nul_rows(con, table)
    set_aside_stray_byte_rows(con, table)
    skip_repeated_headers(con, table)
    check_accounting(con, table)
    repaired = repair_mojibake(con, table.header)
    head = con.execute(
        f"SELECT * EXCLUDE (line) FROM raw ORDER BY line LIMIT {SAMPLE_ROWS}"
    ).fetchall()
    samples = column_samples(table.header, head)
    try:
        layout = detect_layout(
            table.path.name,
            table.header,
            samples,
            settings.mapping,
            check=check_sample,
            force=force,
            known=lambda: known_accounts(con),
        )
    except IngestError as exc:
        if table.hint is None:
            raise
        # A workbook read from the wrong sheet or row: say which sheets and rows there are.
        problem = exc.problem
        raise IngestError(replace(problem, reason=f"{problem.reason} {table.hint}")) from None
    if layout.skip_reason and table.hint:
        layout.skip_reason = f"{layout.skip_reason}. {table.hint}"
    layout.notes.extend(repaired)
    return layout


def set_aside_nul_rows(con: duckdb.DuckDBPyConnection, table: SourceTable) -> None:
    """Quarantine the rows of ``raw`` holding a NUL byte: binary debris in a text file, not
    data, so such a row is not loaded; the rest of the file is."""
    width = len(table.header)
    if not width or (table.kind == "csv" and not _holds_nul_byte(table.path)):
        return  # a CSV without a NUL byte has no cell holding one, in any encoding
    joined = f"concat({', '.join(f'c{i}' for i in range(width))})"
    found = con.execute(
        f"SELECT line, [{', '.join(f'c{i}' for i in range(width))}] FROM raw "
        f"WHERE contains({joined}, chr(0)) ORDER BY line"
    ).fetchall()
    if not found:
        return
    for line, cells in found:
        column = next(i for i, c in enumerate(cells) if c is not None and "\x00" in c)
        table.problems.append(
            Problem(
                table.path.name,
                "holds a NUL byte (binary data in a text file); the row is not loaded",
                "row",
                line=int(line),
                column=table.header[column],
                value=str(cells[column]).replace("\x00", "\\x00"),
                unit=table.unit,
            )
        )
    con.execute(f"DELETE FROM raw WHERE contains({joined}, chr(0))")
    plural = "s" if len(found) > 1 else ""
    table.notes.append(
        f"{len(found)} row{plural} holding NUL bytes set aside (binary data in a text file)"
    )


def _holds_nul_byte(path: Path) -> bool:
    """Whether the file's bytes hold a NUL (one pass, at memory speed)."""
    with path.open("rb") as fh:
        if fh.seek(0, 2) == 0:
            return False
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            return mm.find(b"\x00") >= 0


def set_aside_stray_byte_rows(con: duckdb.DuckDBPyConnection, table: SourceTable) -> None:
    """Quarantine the rows of a UTF-8 file that hold its few bytes that are not UTF-8 (read
    as U+FFFD): what such a cell says cannot be known, so the row is not loaded."""
    width = len(table.header)
    if not table.stray_bytes or not width:
        return
    cells = f"[{', '.join(f'c{i}' for i in range(width))}]"
    holds = f"contains(concat({', '.join(f'c{i}' for i in range(width))}), chr(65533))"
    found = con.execute(f"SELECT line, {cells} FROM raw WHERE {holds} ORDER BY line").fetchall()
    for line, row in found:
        column = next(i for i, c in enumerate(row) if c is not None and "\ufffd" in c)
        table.problems.append(
            Problem(
                table.path.name,
                "holds a byte that is not UTF-8 (shown as \ufffd) in a UTF-8 file; the row "
                "is not loaded",
                "row",
                line=int(line),
                column=table.header[column],
                value=str(row[column]),
                unit=table.unit,
            )
        )
    con.execute(f"DELETE FROM raw WHERE {holds}")


def skip_repeated_headers(con: duckdb.DuckDBPyConnection, table: SourceTable) -> None:
    """Skip rows whose cells repeat the header, as when two exports are pasted together:
    not records, so neither loaded nor quarantined, but counted and noted by line."""
    width = len(table.header)
    if width < 2:
        return  # one column: a row equal to its name may be a value
    # One flat list comparison, whatever the width (a chain of ANDs nests per column).
    names = ", ".join(literal(name.lower()) for name in table.header)
    cells = ", ".join(f"c{i}" for i in range(width))
    clean = "lambda x: lower(trim(replace(coalesce(x, ''), chr(65279), '')))"
    first = literal(table.header[0].lower())
    same = (
        f"lower(trim(replace(coalesce(c0, ''), chr(65279), ''))) = {first} "
        f"AND list_transform([{cells}], {clean}) = [{names}]"
    )
    query = f"SELECT line FROM raw WHERE {same} ORDER BY line"
    lines = [int(r[0]) for r in con.execute(query).fetchall()]
    if not lines:
        return
    con.execute(f"DELETE FROM raw WHERE {same}")
    table.header_repeats.extend(lines)
    for line in lines[:5]:
        table.notes.append(f"line {line} repeats the header; skipped")
    if len(lines) > 5:
        table.notes.append(f"{len(lines) - 5} more lines repeat the header; skipped")


def repair_mojibake(con: duckdb.DuckDBPyConnection, header: list[str]) -> list[str]:
    """Decode double-encoded cells of ``raw`` in place; say what was repaired, per column.

    Only distinct values showing a mojibake marker go to ftfy (one scan of the table finds
    the columns that have any). The original text of every repaired cell is kept in
    ``raw_repaired`` (line, column, value) so the quarantine can show what the file holds.
    """
    con.execute(
        'CREATE OR REPLACE TEMP TABLE raw_repaired (line BIGINT, "column" VARCHAR, value VARCHAR)'
    )
    if not header:
        return []
    pattern = escaped(MARKERS)
    # Every marker is a non-ASCII character: a column of ASCII text holds none, and telling
    # so (bytes = characters) is far cheaper than the pattern, which only such cells meet.
    non_ascii = _per_column(con, "bool_or(strlen({c}) <> length({c}))", len(header))
    notes: list[str] = []
    for i in (i for i, flag in enumerate(non_ascii) if flag):
        values = [
            r[0]
            for r in con.execute(
                f"SELECT DISTINCT c{i} FROM raw WHERE strlen(c{i}) <> length(c{i}) "
                f"AND regexp_matches(c{i}, '{pattern}')"
            ).fetchall()
        ]
        if not values:
            continue
        fixed = repairs(values)
        if not fixed:
            continue
        con.register(
            "lk_repairs",
            pa.table(
                {
                    "raw": pa.array(list(fixed), pa.string()),
                    "fixed": pa.array(list(fixed.values()), pa.string()),
                }
            ),
        )
        con.execute(
            f"INSERT INTO raw_repaired SELECT line, ?, c{i} FROM raw "
            f"WHERE c{i} IN (SELECT raw FROM lk_repairs)",
            [header[i]],
        )
        counted = first_row(
            con, 'SELECT count(*) FROM raw_repaired WHERE "column" = ?', [header[i]]
        )
        cells = int(counted[0]) if counted else 0
        con.execute(
            f"UPDATE raw SET c{i} = lk_repairs.fixed FROM lk_repairs WHERE c{i} = lk_repairs.raw"
        )
        con.unregister("lk_repairs")
        first = first_row(
            con,
            'SELECT value FROM raw_repaired WHERE "column" = ? ORDER BY line LIMIT 1',
            [header[i]],
        )
        before = str(first[0]) if first else next(iter(fixed))
        after = fixed[before]
        plural = "s" if cells > 1 else ""
        notes.append(
            f"repaired {cells} cell{plural} of double-encoded text in column {header[i]!r}, "
            f"e.g. {before!r} -> {after!r}"
        )
    return notes


# DuckDB plans a SELECT of many aggregates in a time that grows with the square of their
# number (2,000 took 2.3 s over 20 rows): a wide file's columns are asked in chunks.
_COLUMNS_PER_QUERY = 100


def _per_column(con: duckdb.DuckDBPyConnection, aggregate: str, width: int) -> list[Any]:
    """``aggregate`` (its column written ``{c}``) of each column c0, c1, ... of ``raw``."""
    answers: list[Any] = []
    for start in range(0, width, _COLUMNS_PER_QUERY):
        chunk = range(start, min(width, start + _COLUMNS_PER_QUERY))
        row = first_row(
            con, f"SELECT {', '.join(aggregate.format(c=f'c{i}') for i in chunk)} FROM raw"
        )
        answers.extend(row or [None] * len(chunk))
    return answers


def restore_original_values(
    con: duckdb.DuckDBPyConnection, problems: list[Problem]
) -> list[Problem]:
    """``problems`` with the value each repaired cell had in the file, as the quarantine keeps
    what the file holds, not what was made of it."""
    if not problems or not scalar(con, "SELECT count(*) FROM raw_repaired"):
        return problems
    originals = {
        (line, column): value
        for line, column, value in con.execute(
            'SELECT line, "column", value FROM raw_repaired'
        ).fetchall()
    }
    return [
        replace(p, value=originals[(p.line, p.column)]) if (p.line, p.column) in originals else p
        for p in problems
    ]


def _stage_csv_in_duckdb(
    con: duckdb.DuckDBPyConnection,
    table: SourceTable,
    counting: Future[RecordCount] | None = None,
) -> bool:
    """Load a UTF-8 CSV with DuckDB's parallel reader when line numbers can be kept exact.

    DuckDB does not report line numbers, so they are rebuilt from the record order and the
    line breaks inside quoted cells, then checked against the file's physical line count.
    Anything unusual (a ragged row, a blank line, another encoding) returns False and the
    exact Python reader takes over. ``counting``, where the file is still being counted,
    gives ``table.counted`` once DuckDB has read the file.
    """
    if table.kind != "csv" or table.encoding not in ("utf-8", "utf-8-sig") or table.stray_bytes:
        return False
    if counting is None and not _quotes_in_place(table.counted):
        return False  # quotes out of place: the Python reader recovers the rows they hide
    width = len(table.header)
    columns = ", ".join(f"'c{i}': 'VARCHAR'" for i in range(width))
    delim = escaped(table.delimiter or ",")
    try:
        con.execute(
            f"""CREATE TEMP TABLE raw0 AS SELECT * FROM read_csv({path_literal(table.path)},
                header = false, skip = {table.header_lines}, delim = '{delim}', quote = '"',
                escape = '"', columns = {{{columns}}}, auto_detect = false, strict_mode = true,
                null_padding = false, encoding = 'utf-8')"""
        )
    except duckdb.Error:
        con.execute("DROP TABLE IF EXISTS raw0")
        return False
    if counting is not None:
        table.counted = counting.result()
    counted = table.counted
    if counted is None or not _quotes_in_place(counted):
        # DuckDB may read such a file, but not always as the exact reader does.
        con.execute("DROP TABLE raw0")
        return False
    # The line numbers are added to the table read, not by copying it: an UPDATE of one
    # column costs a fraction of a second copy of every cell. raw0's row ids are the
    # records' order in the file (0, 1, ...).
    con.execute("ALTER TABLE raw0 ADD COLUMN line BIGINT")
    if counted.lines == counted.records:
        # No line break inside any cell (the quote-aware count says each record is one
        # line): record n is on line header_lines + n + 1, no running sum needed.
        con.execute(f"UPDATE raw0 SET line = {table.header_lines} + 1 + rowid")
        inner = 0
    else:
        # Counted on the row's cells joined, one expression whatever the width: a chain of
        # one '+' per column nests past DuckDB's depth limit of 1,000 and binds in
        # quadratic time.
        joined = f"concat({', '.join(f'c{i}' for i in range(width))})"
        breaks = f"strlen({joined}) - strlen(replace({joined}, chr(10), ''))"
        con.execute("ALTER TABLE raw0 ADD COLUMN breaks BIGINT")
        con.execute(f"UPDATE raw0 SET breaks = {breaks}")
        con.execute(
            f"""UPDATE raw0 SET line = s.line
                FROM (SELECT rowid AS record,
                             ({table.header_lines} + 1 + rowid
                              + coalesce(sum(breaks) OVER (ORDER BY rowid ROWS BETWEEN
                                         UNBOUNDED PRECEDING AND 1 PRECEDING), 0))::BIGINT
                               AS line
                      FROM raw0) s
                WHERE raw0.rowid = s.record"""
        )
        inner = scalar(con, "SELECT coalesce(sum(breaks), 0) FROM raw0")
    con.execute("ALTER TABLE raw0 RENAME TO raw")
    records = scalar(con, "SELECT count(*) FROM raw")
    # The scan that counted the records counted the file's lines too.
    lines = counted.lf_lines if counted.lf_lines is not None else count_lines(table.path)
    if table.header_lines + records + inner != lines or (
        inner and _swallowed_rows(con, width, table.delimiter or ",")
    ):
        con.execute("DROP TABLE raw")
        return False
    if inner:
        con.execute("ALTER TABLE raw DROP COLUMN breaks")
    all_null = f"coalesce({', '.join(f'c{i}' for i in range(width))}) IS NULL"
    if table.preamble_records + records != counted.records:
        con.execute("DROP TABLE raw")
        return False
    table.records_parsed = table.preamble_records + records
    table.blank_records = scalar(con, f"SELECT count(*) FROM raw WHERE {all_null}")
    if table.blank_records:
        con.execute(f"DELETE FROM raw WHERE {all_null}")
    return True


def _quotes_in_place(counted: RecordCount | None) -> bool:
    """Whether the count found every quote where RFC 4180 puts it, and each one closed."""
    return counted is not None and counted.regular and counted.unclosed_line is None


def _swallowed_rows(con: duckdb.DuckDBPyConnection, width: int, delimiter: str) -> bool:
    """Whether a multi-line cell of ``raw`` holds lines that read as whole records (see
    :func:`icpkit.ingest.readers.swallows_rows`): the Python reader then sets them aside."""
    test = swallows_rows_sql([f"c{i}" for i in range(width)], delimiter)
    return bool(scalar(con, f"SELECT count(*) FROM raw WHERE breaks > 0 AND {test}"))


def check_accounting(con: duckdb.DuckDBPyConnection, table: SourceTable) -> None:
    """Refuse a file whose rows do not all add up (see :func:`unaccounted`)."""
    why = unaccounted(table, scalar(con, "SELECT count(*) FROM raw"))
    if why is not None:
        raise IngestError(Problem(table.path.name, why, "file"))
