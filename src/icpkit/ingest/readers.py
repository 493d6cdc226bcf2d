"""Reading CSV, XLSX and Parquet files into chunks of text cells with their line numbers.

Every reader yields the same thing, a :class:`Chunk` of string columns plus the
line (CSV) or row (XLSX, Parquet) number of each record, so the rest of the
pipeline never cares where the data came from. File type comes from the bytes
(magic numbers), not the extension, so an XLSX renamed to ``.csv`` still reads.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import itertools
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from icpkit.ingest.problems import IngestError, Problem

SNIFF_BYTES = 256 * 1024
DELIMITERS = (",", ";", "\t", "|")
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


@dataclass
class Chunk:
    """A block of records: ``columns[i][j]`` is column i of record j, at ``lines[j]``."""

    lines: list[int]
    columns: list[list[str | None]]


@dataclass
class SourceTable:
    """An opened input: its header, how it was read, and an iterator of chunks."""

    path: Path
    kind: str
    header: list[str]
    encoding: str | None = None
    delimiter: str | None = None
    unit: str = "line"
    notes: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    blank_records: int = 0
    footer_lines: list[str] = field(default_factory=list)
    header_lines: int = 1
    _chunks: Iterator[Chunk] | None = None
    _close: Any = None

    def chunks(self) -> Iterator[Chunk]:
        """The records, in order; can be consumed once."""
        if self._chunks is None:
            raise RuntimeError("chunks() can be consumed once")
        chunks, self._chunks = self._chunks, None
        return chunks

    def close(self) -> None:
        """Release the file when the chunks will not be read."""
        if self._close is not None:
            self._close()
            self._close = None


def open_table(
    path: Path,
    *,
    encoding: str | None = None,
    sheet: str | None = None,
    chunk_size: int = 50_000,
) -> SourceTable:
    """Open ``path`` whatever its format; raise :class:`IngestError` when it is not a table."""
    name = path.name
    try:
        with path.open("rb") as fh:
            head = fh.read(SNIFF_BYTES)
    except FileNotFoundError:
        raise IngestError(Problem(name, "file not found", "file")) from None
    except IsADirectoryError:
        raise IngestError(Problem(name, "is a directory, not a file", "file")) from None
    except OSError as exc:
        raise IngestError(Problem(name, f"cannot read ({exc.strerror})", "file")) from None
    if not head.strip(b"\xef\xbb\xbf\xff\xfe \t\r\n"):
        raise IngestError(Problem(name, "empty file: no header and no rows", "file"))
    if head.startswith(b"PK\x03\x04"):
        return _open_xlsx(path, chunk_size, sheet)
    if head.startswith(b"PAR1"):
        return _open_parquet(path, chunk_size)
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise IngestError(
            Problem(name, "legacy Excel .xls is not supported; save it as .xlsx or CSV", "file")
        )
    return _open_csv(path, head, encoding, chunk_size)


# --- CSV -------------------------------------------------------------------------------------


def _detect_encoding(path: Path, head: bytes, requested: str | None) -> tuple[str, list[str]]:
    """Pick the text encoding: BOMs first, then strict UTF-8, then Excel's cp1252."""
    notes: list[str] = []
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig", notes
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16", notes
    if requested:
        return requested, notes
    sample = head[:4096]
    if sample and sample.count(b"\x00") > len(sample) // 4:
        # UTF-16 without a BOM shows as every other byte NUL (ASCII text).
        if sample[1::2].count(0) > len(sample) // 4:
            return "utf-16-le", notes
        if sample[0::2].count(0) > len(sample) // 4:
            return "utf-16-be", notes
    if b"\x00" in head:
        offset = head.index(b"\x00")
        raise IngestError(
            Problem(
                path.name,
                f"binary file (NUL byte at offset {offset}); expected CSV, XLSX or Parquet",
                "file",
            )
        )
    bad = _first_invalid_utf8(path)
    if bad is None:
        return "utf-8", notes
    try:
        path.read_bytes().decode("cp1252")
        enc = "cp1252"
    except UnicodeDecodeError:
        enc = "latin-1"
    notes.append(f"not valid UTF-8 (first bad byte at offset {bad}); read as {enc}")
    return enc, notes


def _first_invalid_utf8(path: Path) -> int | None:
    """Byte offset of the first invalid UTF-8 sequence, streaming so big files stay cheap."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    with path.open("rb") as fh:
        while block := fh.read(1 << 22):
            try:
                decoder.decode(block)
            except UnicodeDecodeError as exc:
                return offset + exc.start
            offset += len(block)
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return offset
    return None


def _decode_error(path: Path, encoding: str) -> IngestError:
    """Where the file stops being ``encoding``: line and byte, for the message."""
    decoder = codecs.getincrementaldecoder(encoding)()
    offset, line = 0, 1
    bad: bytes = b""
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            try:
                decoder.decode(block)
            except UnicodeDecodeError as exc:
                line += block[: exc.start].count(b"\n")
                offset += exc.start
                bad = block[exc.start : exc.start + 1]
                break
            line += block.count(b"\n")
            offset += len(block)
    return IngestError(
        Problem(
            path.name,
            f"not valid {encoding}: byte {bad!r} at offset {offset}; pass --encoding cp1252 "
            "(or the file's real encoding) or re-save the file as UTF-8",
            "file",
            line=line,
        )
    )


def _detect_delimiter(lines: list[str]) -> str:
    """The delimiter that splits the first lines into the most, equally long, fields."""
    best, best_score = ",", (-1, -1)
    text = "\n".join(lines)
    for delim in DELIMITERS:
        rows = [r for r in csv.reader(io.StringIO(text), delimiter=delim) if r]
        if not rows:
            continue
        widths = [len(r) for r in rows[:-1] or rows]  # the last sampled line may be cut short
        consistent = sum(1 for w in widths if w == widths[0])
        score = (consistent if widths[0] > 1 else 0, widths[0])
        if score > best_score:
            best, best_score = delim, score
    return best


def _open_csv(path: Path, head: bytes, encoding: str | None, chunk_size: int) -> SourceTable:
    enc, notes = _detect_encoding(path, head, encoding)
    try:
        sample_text = head.decode(enc, errors="replace")
    except LookupError:
        raise IngestError(Problem(path.name, f"unknown encoding {encoding!r}", "file")) from None
    sample_lines = sample_text.splitlines()[:50]
    skip_first = bool(sample_lines) and sample_lines[0].lstrip("\ufeff").lower().startswith("sep=")
    if skip_first:
        delimiter = sample_lines[0].lstrip("\ufeff")[4:5] or ","
    else:
        delimiter = _detect_delimiter(sample_lines)
    table = SourceTable(path, "csv", [], encoding=enc, delimiter=delimiter, notes=notes)
    fh = path.open("r", encoding=enc, errors="strict", newline="")
    reader = csv.reader(fh, delimiter=delimiter)
    try:
        if skip_first:
            next(reader, None)
        header: list[str] | None = None
        while header is None:
            row = next(reader, None)
            if row is None:
                break
            if any(cell.strip() for cell in row):
                header = row
    except UnicodeDecodeError:
        fh.close()
        raise _decode_error(path, enc) from None
    except csv.Error as exc:
        fh.close()
        raise IngestError(
            Problem(path.name, f"cannot read the header: {exc}", "file", line=reader.line_num)
        ) from None
    if header is None:
        fh.close()
        raise IngestError(Problem(path.name, "empty file: no header and no rows", "file"))
    table.header = clean_header(header, table)
    table.header_lines = reader.line_num
    table._chunks = _csv_chunks(fh, reader, table, chunk_size)
    table._close = fh.close
    return table


def clean_header(raw: list[Any], table: SourceTable) -> list[str]:
    """Strip names, name blank ones by position and make duplicates distinct (noted)."""
    seen: dict[str, int] = {}
    out: list[str] = []
    for i, cell in enumerate(raw, start=1):
        name = str(cell).replace("\ufeff", "").strip() if cell is not None else ""
        if not name:
            name = f"Column {i}"
        if name in seen:
            seen[name] += 1
            table.notes.append(f"header {name!r} appears more than once; later copies renamed")
            name = f"{name} ({seen[name]})"
        else:
            seen[name] = 1
        out.append(name)
    return out


def _csv_chunks(
    fh: io.TextIOWrapper, reader: Any, table: SourceTable, chunk_size: int
) -> Iterator[Chunk]:
    """Records in chunks; the per-row bookkeeping runs only on chunks that need it."""
    width = len(table.header)
    try:
        while True:
            before = reader.line_num
            rows: list[list[str]] = list(itertools.islice(reader, chunk_size))
            if not rows:
                return
            if reader.line_num - before == len(rows) and all(len(r) == width for r in rows):
                # One line per record and every record complete: the common case.
                lines = list(range(before + 1, before + 1 + len(rows)))
                if all(rows_have_text := [any(r) for r in rows]):
                    yield _to_chunk(lines, rows, width)
                    continue
                kept = [k for k, keep in enumerate(rows_have_text) if keep]
                table.blank_records += len(rows) - len(kept)
                if kept:
                    yield _to_chunk([lines[k] for k in kept], [rows[k] for k in kept], width)
                continue
            yield from _checked_rows(rows, before, reader.line_num, table, width)
    except csv.Error as exc:
        raise IngestError(
            Problem(table.path.name, f"malformed CSV: {exc}", "file", line=reader.line_num)
        ) from None
    except UnicodeDecodeError:
        raise _decode_error(table.path, table.encoding or "utf-8") from None
    finally:
        fh.close()


def count_lines(path: Path) -> int:
    """Physical lines of a file, the last one counted even without a final newline."""
    lines, last = 0, b"\n"
    with path.open("rb") as fh:
        while block := fh.read(1 << 22):
            lines += block.count(b"\n")
            last = block[-1:]
    return lines + (last != b"\n")


_FOOTER = re.compile(
    r"^(grand totals?\b|total\b|confidential information|copyright|generated by\b|"
    r".*salesforce\.com)",
    re.IGNORECASE,
)


def _is_report_footer(row: list[str]) -> bool:
    """A report's trailer line ('Grand Totals (123 records)', 'Copyright ... salesforce.com'):
    one filled cell that no CRM record looks like."""
    filled = [c for c in row if c.strip()]
    return (
        len(filled) == 1
        and row[0].strip() == filled[0].strip()
        and bool(_FOOTER.match(filled[0].strip()))
    )


def _line_breaks(row: list[str]) -> int:
    """Physical line breaks inside a record's quoted cells (CRLF, LF or CR each count once)."""
    return sum(c.count("\n") + c.count("\r") - c.count("\r\n") for c in row if c)


def _checked_rows(
    rows: list[list[str]], before: int, after: int, table: SourceTable, width: int
) -> Iterator[Chunk]:
    """Number records by the line they start on; set aside ragged ones, skip blank ones."""
    lines: list[int] = []
    kept: list[list[str]] = []
    line = before + 1
    for row in rows:
        start, line = line, line + 1 + _line_breaks(row)
        if len(row) != width:
            if not any(c.strip() for c in row):
                table.blank_records += 1
                continue
            if len(row) > width and not any(c.strip() for c in row[width:]):
                row = row[:width]  # a trailing delimiter, nothing lost
            elif _is_report_footer(row):
                table.footer_lines.append(row[0].strip())
                continue
            else:
                table.problems.append(
                    Problem(
                        table.path.name,
                        f"has {len(row)} fields where the header has {width} "
                        "(an unquoted delimiter or a broken quote?)",
                        "row",
                        line=start,
                        value=(table.delimiter or ",").join(row),
                    )
                )
                continue
        elif not any(row):
            table.blank_records += 1
            continue
        lines.append(start)
        kept.append(row)
    if line != after + 1:
        table.notes.append(
            f"line numbers after line {before} may be off: records there span lines in a way "
            "the reader could not count exactly"
        )
    if kept:
        yield _to_chunk(lines, kept, width)


def _to_chunk(lines: list[int], rows: list[list[str]], width: int) -> Chunk:
    # An empty field is missing, as DuckDB's reader has it, whichever reader ran.
    columns: list[list[str | None]] = (
        [[v or None for v in col] for col in zip(*rows, strict=True)]
        if rows
        else [[] for _ in range(width)]
    )
    return Chunk(lines, columns)


# --- XLSX ------------------------------------------------------------------------------------


def _cell_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _open_xlsx(path: Path, chunk_size: int, sheet_name: str | None = None) -> SourceTable:
    import zipfile

    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    handle = path.open("rb")  # a handle, so the extension does not matter
    try:
        book = openpyxl.load_workbook(handle, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, InvalidFileException) as exc:
        handle.close()
        raise IngestError(
            Problem(path.name, f"not a readable XLSX workbook ({exc})", "file")
        ) from None
    if sheet_name is not None:
        if sheet_name not in book.sheetnames:
            book.close()
            handle.close()
            raise IngestError(
                Problem(
                    path.name,
                    f"no sheet named {sheet_name!r}; sheets: {', '.join(book.sheetnames)}",
                    "file",
                )
            )
        sheet = book[sheet_name]
    else:
        sheet = next((ws for ws in book.worksheets if ws.max_row and ws.max_row > 0), None)
    if sheet is None:
        book.close()
        handle.close()
        raise IngestError(Problem(path.name, "empty workbook: no sheet with rows", "file"))
    table = SourceTable(path, "xlsx", [], unit="row")
    if len(book.worksheets) > 1:
        table.notes.append(f"read sheet {sheet.title!r}, the first of {len(book.worksheets)}")
    rows = sheet.iter_rows(values_only=True)
    header_row = 0
    header: list[Any] | None = None
    for values in rows:
        header_row += 1
        if any(v is not None and str(v).strip() for v in values):
            header = list(values)
            break
    if header is None:
        book.close()
        handle.close()
        raise IngestError(Problem(path.name, "empty workbook: no header and no rows", "file"))
    while header and (header[-1] is None or not str(header[-1]).strip()):
        header.pop()
    table.header = clean_header(header, table)

    def chunks() -> Iterator[Chunk]:
        width = len(table.header)
        lines: list[int] = []
        buf: list[list[str | None]] = []
        try:
            for number, values in enumerate(rows, start=header_row + 1):
                cells = [_cell_text(v) for v in values]
                if len(cells) > width:
                    extra = cells[width:]
                    if any(c is not None and c.strip() for c in extra):
                        table.problems.append(
                            Problem(
                                path.name,
                                f"has values beyond the {width} named columns",
                                "row",
                                line=number,
                                unit="row",
                            )
                        )
                        continue
                    cells = cells[:width]
                cells += [None] * (width - len(cells))
                if not any(c is not None and c.strip() for c in cells):
                    table.blank_records += 1
                    continue
                lines.append(number)
                buf.append(cells)
                if len(buf) >= chunk_size:
                    yield Chunk(lines, [list(c) for c in zip(*buf, strict=True)])
                    lines, buf = [], []
            if buf:
                yield Chunk(lines, [list(c) for c in zip(*buf, strict=True)])
        finally:
            book.close()
            handle.close()

    table._chunks = chunks()
    return table


# --- Parquet ---------------------------------------------------------------------------------


def _open_parquet(path: Path, chunk_size: int) -> SourceTable:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    try:
        pfile = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        raise IngestError(
            Problem(path.name, f"not a readable Parquet file ({exc})", "file")
        ) from None
    table = SourceTable(path, "parquet", [], unit="row")
    table.header = clean_header(list(pfile.schema_arrow.names), table)

    def as_text(column: Any) -> list[str | None]:
        if pa.types.is_list(column.type) or pa.types.is_large_list(column.type):
            column = pc.binary_join(pc.cast(column, pa.list_(pa.string())), ";")
        elif not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
            try:
                column = pc.cast(column, pa.string())
            except pa.ArrowException:
                return [None if v is None else str(v) for v in column.to_pylist()]
        result: list[str | None] = column.to_pylist()
        return result

    def chunks() -> Iterator[Chunk]:
        first = 1
        for batch in pfile.iter_batches(batch_size=chunk_size):
            n = batch.num_rows
            yield Chunk(list(range(first, first + n)), [as_text(c) for c in batch.columns])
            first += n

    table._chunks = chunks()
    return table
