"""The scorecard's input layout: the typed columns it reads, and reading a file that is
already in it (a warehouse extract, a company universe) as it stands.

Such a file is streamed, never loaded whole, but its values still pass the ingest
normalizers where they need it: each column's distinct values that are not already in the
canonical form (``USA`` for a country, ``36.9 Million`` for a revenue, ``51-200`` for a head
count) are normalized once in Python and mapped back in SQL. What no normalizer reads is
reported (file, line, column, value, how many), never dropped silently.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from icpkit.attributes import input_columns
from icpkit.icp.model import ICP
from icpkit.ingest.normalize import Unreadable
from icpkit.store.db import first_row, identifier, literal, path_literal


def input_layout() -> dict[str, str]:
    """The columns the compiled SELECT reads (see icpkit.engines.sql), with each one's SQL
    type: ``account_key``, then every account field the attributes' definitions read (their
    ``inputs``, icpkit.attributes), in the order of the definitions."""
    return {"account_key": "VARCHAR", **input_columns()}


class _InputLayout(Mapping[str, str]):
    """:func:`input_layout` as a mapping, read from the attribute registry on every use: an
    attribute registered later brings its input columns with it."""

    def __getitem__(self, name: str) -> str:
        return input_layout()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(input_layout())

    def __len__(self) -> int:
        return len(input_layout())

    def __repr__(self) -> str:
        return repr(input_layout())


CANONICAL: Mapping[str, str] = _InputLayout()
# A list (tools) joined by ';' in a text column: each item trimmed, empty ones dropped.
SPLIT_LIST = "regexp_extract_all(f.{column}, '[^;[:space:]](?:[^;]*[^;[:space:]])?')"
# Distinct values normalized per column at most; a column with more is read as it stands.
MAX_DISTINCT = 200_000
MAX_REVENUE = 1e13  # as in ingestion: above the largest company's revenue in any currency
MAX_EXAMPLES = 3
INLINE_FIXES = 256  # fixes of a column written as a CASE; more are looked up in a map


def _sql_value(value: Any) -> str:
    """A normalized value as an SQL literal."""
    if value is None:
        return "NULL"
    return literal(value) if isinstance(value, str) else repr(value)


@dataclass(frozen=True)
class InputFile:
    """A file in the input layout as DuckDB reads it.

    ``source`` is the table function, ``columns`` its columns and types, ``name`` the file
    the user gave (for messages), ``path`` the file DuckDB reads (that one, or a copy the
    readers made), ``unit`` how its records are numbered, by ``line`` (a CSV) or by ``row``
    (Parquet, an XLSX sheet), and ``first`` the number of its first record.
    """

    source: str
    columns: dict[str, str]
    name: str
    path: Path
    unit: str = "line"
    notes: tuple[str, ...] = ()
    first: int = 2
    # Rows the readers set aside (a stray quote's swallowed lines), one line each.
    problems: tuple[str, ...] = ()


@dataclass
class Cleaning:
    """How an input-layout file's columns are read: normalized values per column (raw value
    -> canonical value, None for unreadable), what could not be read, and notes."""

    # column -> the SQL before and after the plain cast: its fixed values, else the cast
    fixes: dict[str, tuple[str, str]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def extra_columns(icp: ICP | None) -> list[str]:
    """Unmapped fields the ICP reads, as column names ('extra:Time Zone' -> 'Time Zone',
    'answer:crm' -> 'answer_crm')."""
    return sorted(extra_sources(icp))


def extra_sources(icp: ICP | None) -> dict[str, str]:
    """The column of every unmapped field the ICP reads, and the key of the accounts'
    ``extra`` JSON it comes from in the store ('answer_crm' <- 'answer:crm')."""
    if icp is None:
        return {}
    attributes = [r.attribute for r in icp.boundary + icp.fit] + [
        e.attribute for e in icp.exclusions
    ]
    out: dict[str, str] = {}
    for a in attributes:
        if a.startswith("extra:"):
            out[a.removeprefix("extra:")] = a.removeprefix("extra:")
        elif a.startswith("answer:"):
            out["answer_" + a.removeprefix("answer:")] = a
    return out


def read_table(con: duckdb.DuckDBPyConnection, path: Path) -> tuple[str, dict[str, str]] | None:
    """A DuckDB table function reading ``path`` and its columns with their types, when
    DuckDB reads it as it stands (Parquet, or a UTF-8 CSV read as text); else None."""
    with path.open("rb") as fh:
        head = fh.read(4)
    if head == b"PAR1":
        source = f"read_parquet({path_literal(path)})"
    elif head.startswith(b"PK") or not head:
        return None
    else:
        source = f"read_csv({path_literal(path)}, header = true, all_varchar = true)"
    try:
        rows = con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()
    except duckdb.Error:
        return None
    return source, {str(r[0]): str(r[1]) for r in rows}


# How far into a text file the input layout's key column must be named: its header is there.
_HEADER_SPAN = 4 << 20


def _never_names_the_key(path: Path) -> bool:
    """True for a text file whose first bytes (its header among them) never spell
    ``account_key``, the input layout's key column: a raw export, told without DuckDB's CSV
    sniffer (1.3 s on a 500-column export). Parquet, workbooks and text in a two- or
    four-byte encoding (NUL bytes) are left to the readers."""
    with path.open("rb") as fh:
        head = fh.read(_HEADER_SPAN)
    if head.startswith((b"PAR1", b"PK")) or b"\x00" in head:
        return False
    return b"account_key" not in head


def open_input(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    workdir: Path,
    *,
    encoding: str | None = None,
    sheet: str | None = None,
) -> InputFile | None:
    """``path`` as an input-layout file (it has an ``account_key`` column), or None for a raw
    export. DuckDB reads Parquet and UTF-8 CSV where they lie; a CSV in another encoding is
    decoded by the ingest readers into a UTF-8 copy in ``workdir`` (same lines), an XLSX
    sheet copied to Parquet there. Raises IngestError for a file that is not a table."""
    if encoding is None and sheet is None:
        if _never_names_the_key(path):
            return None
        read = read_table(con, path)
        if read is not None:
            if "account_key" not in read[1]:
                return None
            csv = read[0].startswith("read_csv")
            if not csv or reads_every_record(con, path, read[0]):
                return InputFile(
                    read[0], read[1], path.name, path, "line" if csv else "row", (), 2 if csv else 1
                )
            # Else the readers take it: they set aside, line by line, what a stray quote hid.
    # Imported here: a Parquet or UTF-8 file in the input layout never needs the readers.
    from icpkit.ingest.problems import IngestError, Problem
    from icpkit.ingest.readers import open_table, unaccounted

    table = open_table(path, encoding=encoding, sheet=sheet)
    try:
        if "account_key" not in table.header:
            return None
        read = None
        problems: tuple[str, ...] = ()
        if table.kind == "csv" and table.encoding and _regular(table):
            copy = workdir / f"{path.stem}.utf8.csv"
            _transcode(path, table.encoding, copy)
            read = read_table(con, copy)
            if read is not None and not reads_every_record(con, copy, read[0]):
                read = None  # blank lines or the like: the readers account for each row
            notes = table.notes or [f"read as {table.encoding}"]
            unit, first = "line", 2
        if read is None:
            copy = workdir / f"{path.stem}.parquet"
            writer: pq.ParquetWriter | None = None
            first, rows = 1, 0
            for chunk in table.chunks():
                rows += len(chunk.lines)
                if writer is None and chunk.lines:
                    first = chunk.lines[0]
                batch = pa.table(
                    [pa.array(c, pa.string()) for c in chunk.columns], names=table.header
                )
                writer = writer or pq.ParquetWriter(copy, batch.schema)
                writer.write_table(batch)
            why = unaccounted(table, rows)
            if why is not None:
                raise IngestError(Problem(path.name, why, "file"))
            problems = tuple(
                f"{path.name}, {p.unit} {p.line}: {p.reason}; value {p.value!r}"
                for p in table.problems
            )
            if writer is None:
                return None
            writer.close()
            read = read_table(con, copy)
            notes, unit = [*table.notes, f"read from {table.kind.upper()}"], "row"
            if table.blank_records or table.footer_lines:
                skipped = table.blank_records + len(table.footer_lines)
                notes.append(f"skipped {skipped:,} blank or report footer lines, not records")
    finally:
        table.close()
    if read is None:
        return None
    return InputFile(read[0], read[1], path.name, copy, unit, tuple(notes), first, problems)


def reads_every_record(con: duckdb.DuckDBPyConnection, path: Path, source: str) -> bool:
    """Whether DuckDB's reading of a UTF-8 CSV (``source``) returns a row for every record a
    quote-aware count of its bytes finds below the header, with every quote in its place
    and no cell holding lines that read as rows (see :func:`swallows_rows`)."""
    from icpkit.ingest.readers import swallows_rows_sql
    from icpkit.ingest.records import count_records

    try:
        sniffed = first_row(con, f"SELECT Delimiter FROM sniff_csv({path_literal(path)})")
        delimiter = str(sniffed[0]) if sniffed and len(str(sniffed[0])) == 1 else ","
        names = [str(r[0]) for r in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()]
        swallowed = swallows_rows_sql([identifier(n) for n in names], delimiter)
        row = first_row(con, f"SELECT count(*), count(*) FILTER ({swallowed}) FROM {source}")
    except duckdb.Error:
        return False
    rows, swallowing = (int(row[0]), int(row[1])) if row else (0, 0)
    counted = count_records(path, "utf-8", delimiter)
    return (
        counted.regular
        and counted.unclosed_line is None
        and not swallowing
        and rows == counted.records - 1
    )


def _regular(table: Any) -> bool:
    """Whether a CSV's quotes all sit where RFC 4180 puts them, none left open."""
    counted = table.counted
    return counted is None or (counted.regular and counted.unclosed_line is None)


def _transcode(path: Path, encoding: str, out: Path) -> None:
    """Copy a text file as UTF-8, streamed; line ends and every other byte of meaning kept."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    with path.open("rb") as src, out.open("w", encoding="utf-8", newline="") as dst:
        while block := src.read(1 << 22):
            dst.write(decoder.decode(block))
        dst.write(decoder.decode(b"", final=True))


def normalizers() -> dict[str, tuple[Callable[[str], Any], bool]]:
    """Per column: the normalizer of one raw value (raising Unreadable), and whether values a
    plain cast reads are canonical already (numbers are; country names and labels are not).
    Built on first use: scoring a clean Parquet file never imports the normalizers."""
    from icpkit.ingest.normalize.countries import country_code
    from icpkit.ingest.normalize.employees import parse_employees
    from icpkit.ingest.normalize.industries import match_industry
    from icpkit.ingest.normalize.money import check_amount, parse_money
    from icpkit.ingest.normalize.numbers import parse_number

    def employees(raw: str) -> Any:
        e = parse_employees(raw)
        return None if e is None else e.value

    def money(raw: str) -> Any:
        m = parse_money(raw)
        if m is None:
            return None
        check_amount(m, field="revenue", max_value=MAX_REVENUE)
        return m.amount

    def year(raw: str) -> Any:
        value = parse_number(raw)
        if value is None:
            return None
        if value != int(value) or not 1800 <= value <= 2100:
            raise Unreadable(f"not a year: '{raw}'")
        return int(value)

    def industry(raw: str) -> Any:
        try:
            match = match_industry(raw)
        except Unreadable:
            return raw.strip()  # a label outside the taxonomy is kept as written
        return None if match is None else match.label

    return {
        "employees": (employees, True),
        "revenue": (money, True),
        "total_funding": (money, True),
        "founded_year": (year, True),
        "country": (country_code, False),
        "industry": (industry, False),
    }


def clean_columns(con: duckdb.DuckDBPyConnection, f: InputFile) -> Cleaning:
    """Normalize the input columns' values that are not in canonical form, once per distinct
    value, into temp tables ``fix_<column>`` (raw, value); report what stays unreadable."""
    cleaning = Cleaning(notes=list(f.notes))
    bad: dict[str, dict[str, str]] = {}
    layout = input_layout()
    for name, (normalize, cast_is_canonical) in normalizers().items():
        # Absent, typed (read as it stands) or read by no attribute: nothing to normalize.
        if name not in layout or f.columns.get(name) != "VARCHAR":
            continue
        column = identifier(name)
        where = f"{column} IS NOT NULL"
        if cast_is_canonical:
            where += f" AND TRY_CAST({column} AS {layout[name]}) IS NULL"
        rows = con.execute(
            f"SELECT DISTINCT {column} FROM {f.source} WHERE {where} LIMIT {MAX_DISTINCT + 1}"
        ).fetchall()
        if len(rows) > MAX_DISTINCT:
            cleaning.notes.append(
                f"column {name!r}: more than {MAX_DISTINCT:,} distinct values to normalize; "
                "read as they stand"
            )
            continue
        raws: list[str] = []
        values: list[Any] = []
        for (raw,) in rows:
            try:
                value = normalize(raw)
            except Unreadable as exc:
                bad.setdefault(name, {})[raw] = str(exc)
                value = None
            if value != raw:
                raws.append(raw)
                values.append(value)
        if not raws:
            continue
        column = f"f.{identifier(name)}"
        if len(raws) <= INLINE_FIXES:
            # A few fixes (country names, size ranges): a CASE, cheapest per row.
            cases = " ".join(
                f"WHEN {literal(r)} THEN {_sql_value(v)}" for r, v in zip(raws, values, strict=True)
            )
            cleaning.fixes[name] = (f"CASE {column} {cases} ELSE ", " END")
            continue
        table = f"fix_{name}"
        arrow = pa.table(
            {"raw": pa.array(raws, pa.string()), "value": pa.array(values, _ARROW[layout[name]])}
        )
        con.register(f"{table}_rows", arrow)
        con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT * FROM {table}_rows")
        con.unregister(f"{table}_rows")
        # Many: one map of them, built once per query; a value not in it reads as it is.
        found = f"map_extract((SELECT map(list(raw), list(value)) FROM {table}), {column})"
        cleaning.fixes[name] = (f"CASE WHEN len({found}) > 0 THEN {found}[1] ELSE ", " END")
    cleaning.problems = [*f.problems, *_report(con, f, bad)]
    return cleaning


# Arrow types of the normalized values, by the column's SQL type.
_ARROW = {
    "BIGINT": pa.int64(),
    "INTEGER": pa.int32(),
    "DOUBLE": pa.float64(),
    "VARCHAR": pa.string(),
}


def _report(
    con: duckdb.DuckDBPyConnection, f: InputFile, bad: dict[str, dict[str, str]]
) -> list[str]:
    """One line per column with unreadable values: the first one's line, value and reason,
    how many rows hold such values, and a few other examples."""
    if not bad:
        return []
    checks = []
    for name, values in bad.items():
        column = identifier(name)
        hit = f"{column} IN ({', '.join(literal(v) for v in values)})"
        checks.append(
            f"count(*) FILTER ({hit}), min(n) FILTER ({hit}), arg_min({column}, n) FILTER ({hit})"
        )
    row = con.execute(
        f"SELECT {', '.join(checks)} FROM (SELECT row_number() OVER () AS n, * FROM {f.source})"
    ).fetchall()[0]
    problems = []
    for i, (name, values) in enumerate(bad.items()):
        count, first, value = row[3 * i : 3 * i + 3]
        where = f"{f.unit} {first + f.first - 1}"
        others = [v for v in values if v != value][:MAX_EXAMPLES]
        also = f" (also {', '.join(repr(v) for v in others)})" if others else ""
        problems.append(
            f"{f.name}, {where}, column {name!r}, value {value!r}: {values[value]}; "
            f"{count:,} such values read as unknown{also}"
        )
    return problems


def typed_columns(
    columns: dict[str, str], icp: ICP | None, fixes: dict[str, tuple[str, str]] | None = None
) -> list[str]:
    """SELECT expressions (over alias ``f``) giving every input column its type: missing
    ones NULL, the values :func:`clean_columns` fixed normalized, other values the type
    cannot hold NULL (they are reported), tools split."""
    fixes = fixes or {}
    select = []
    for name, kind in CANONICAL.items():
        if name not in columns:
            select.append(f"CAST(NULL AS {kind}) AS {name}")
            continue
        if kind.endswith("[]") and not columns[name].endswith("[]"):
            value = SPLIT_LIST.format(column=name)
        elif columns[name] == kind:
            value = f"f.{name}"
        else:
            value = f"TRY_CAST(f.{name} AS {kind})"
        if name in fixes:
            before, after = fixes[name]
            value = f"CAST({before}{value}{after} AS {kind})"
        select.append(f"{value} AS {name}")
    for extra in extra_columns(icp):
        value = f"CAST(f.{identifier(extra)} AS VARCHAR)" if extra in columns else "NULL::VARCHAR"
        select.append(f"{value} AS {identifier(extra)}")
    return select
