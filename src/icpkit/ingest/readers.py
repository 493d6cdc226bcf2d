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
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from icpkit.ingest.charsets import cr_only_line_ends, rank_encodings
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
    """Pick the text encoding: BOMs first, then strict UTF-8, then the most plausible 8-bit one."""
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
        return "utf-8", notes  # the common case stays one streaming pass, no detector
    enc, why = _detect_8bit(path, head, bad)
    notes.append(f"not valid UTF-8 (first bad byte at offset {bad}); read as {enc}{why}")
    return enc, notes


_KNOWN_AS = {"cp1252": "Windows Western, as Excel writes it", "mac_roman": "classic Mac OS Western"}


def _detect_8bit(path: Path, head: bytes, bad: int) -> tuple[str, str]:
    """The most plausible 8-bit encoding that decodes the whole file, and why, for the note.

    Scored on the first bytes plus those around the first non-UTF-8 byte, so a big file
    costs one extra streaming pass (the check that the choice decodes all of it).
    """
    # Whole lines only: a multi-byte character cut at the sample's edge would not decode.
    sample = head if len(head) < SNIFF_BYTES else _whole_lines(head, cut_start=False)
    if bad >= len(head):
        with path.open("rb") as fh:
            fh.seek(max(0, bad - 1024))
            sample += b"\n" + _whole_lines(fh.read(64 * 1024), cut_start=True)
    cr_only = cr_only_line_ends(head)
    ranked = rank_encodings(sample, cr_only=cr_only)
    failed: set[str] = set()  # decode the sample but not the whole file
    chosen = ranked[-1]
    for candidate in ranked[:-1]:
        if _decodes(path, candidate.encoding):
            chosen = candidate
            break
        failed.add(candidate.encoding)
    known_as = f" ({_KNOWN_AS[chosen.encoding]})" if chosen.encoding in _KNOWN_AS else ""
    reasons: list[str] = []
    if cr_only:
        reasons.append("lines end in CR only, as classic Mac OS writes them")
    readable = {c.encoding for c in ranked} - failed
    undecodable = [n for n in _KNOWN_AS if n != chosen.encoding and n not in readable]
    if undecodable:
        reasons.append(f"{undecodable[0]} cannot decode it")
    rival = next(
        (
            c
            for c in ranked
            if c.encoding in _KNOWN_AS and c.encoding != chosen.encoding and c.encoding in readable
        ),
        None,
    )
    if rival is not None and rival.unlikely > chosen.unlikely and rival.example:
        against = chosen.unlikely or "none"
        plural = "s" if rival.unlikely > 1 else ""
        reasons.append(
            f"as {rival.encoding} it would read {rival.example!r} "
            f"({rival.unlikely} unlikely character{plural}, {against} as {chosen.encoding})"
        )
    elif (
        rival is not None
        and rival.unlikely == chosen.unlikely
        and not _same_text(sample, chosen.encoding, rival.encoding)
    ):
        reasons.append(
            f"{rival.encoding} reads as plausibly: pass --encoding {rival.encoding} "
            "if accented letters look wrong"
        )
    return chosen.encoding, known_as + (": " + "; ".join(reasons) if reasons else "")


def _whole_lines(data: bytes, *, cut_start: bool) -> bytes:
    """``data`` without its last partial line (and its first, when it starts mid-file)."""
    end = max(data.rfind(b"\n"), data.rfind(b"\r")) + 1
    start = 0
    if cut_start:
        first = [i for i in (data.find(b"\n"), data.find(b"\r")) if i >= 0]
        start = min(first) + 1 if first else 0
    return data[start:end] if end > start else data


def _decodes(path: Path, encoding: str) -> bool:
    """Whether the whole file decodes as ``encoding``, streamed."""
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        with path.open("rb") as fh:
            while block := fh.read(1 << 22):
                decoder.decode(block)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _same_text(data: bytes, a: str, b: str) -> bool:
    try:
        return data.decode(a) == data.decode(b)
    except UnicodeDecodeError:
        return False


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
                line += _line_ends(block[: exc.start])
                offset += exc.start
                bad = block[exc.start : exc.start + 1]
                break
            line += _line_ends(block)
            offset += len(block)
    return IngestError(
        Problem(
            path.name,
            f"not valid {encoding}: byte {bad!r} at offset {offset}; pass the file's real "
            "encoding with --encoding (cp1252, mac_roman, latin-1, ...), leave it out to have "
            "it detected, or re-save the file as UTF-8",
            "file",
            line=line,
        )
    )


def _line_ends(data: bytes) -> int:
    """Line ends in ``data``, whether LF, CRLF or a classic Mac CR."""
    return data.count(b"\n") + data.count(b"\r") - data.count(b"\r\n")


def _detect_delimiter(lines: list[str]) -> str:
    """The delimiter that splits the first lines into the most, equally long, fields."""
    best, best_score = ",", (-1, -1)
    text = "\n".join(lines)
    for delim in DELIMITERS:
        rows = [r for r in csv.reader(io.StringIO(text), delimiter=delim) if r]
        rows = rows[_title_records(rows) :]
        if not rows:
            continue
        widths = [len(r) for r in rows[:-1] or rows]  # the last sampled line may be cut short
        consistent = sum(1 for w in widths if w == widths[0])
        score = (consistent if widths[0] > 1 else 0, widths[0])
        if score > best_score:
            best, best_score = delim, score
    return best


_MAX_TITLE_LINES = 10


def _title_records(rows: list[list[str]]) -> int:
    """How many records open the file as a report's title lines, above the header.

    A Salesforce report export starts with its name and filters, one field each, then a
    blank line: single-field records followed by a record of several fields. A file whose
    records all have one field has no title lines.
    """
    for i, row in enumerate(rows[: _MAX_TITLE_LINES + 1]):
        if len(row) > 1:
            return i
    return 0


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
    sampled = [
        r
        for r in csv.reader(io.StringIO("\n".join(sample_lines[skip_first:])), delimiter=delimiter)
        if any(cell.strip() for cell in r)
    ]
    titles = _title_records(sampled)
    table = SourceTable(path, "csv", [], encoding=enc, delimiter=delimiter, notes=notes)
    fh = path.open("r", encoding=enc, errors="strict", newline="")
    reader = csv.reader(fh, delimiter=delimiter)
    skipped: list[str] = []
    try:
        if skip_first:
            next(reader, None)
        header: list[str] | None = None
        while header is None:
            row = next(reader, None)
            if row is None:
                break
            if not any(cell.strip() for cell in row):
                continue
            if len(skipped) < titles and len(row) == 1:
                skipped.append(row[0].strip())
                continue
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
    if skipped:
        shown = "; ".join(repr(t) for t in skipped[:3])
        table.notes.append(
            f"skipped {len(skipped)} report title line{'s' if len(skipped) > 1 else ''} "
            f"above the header ({shown})"
        )
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


# A totals line may carry the sums under their columns: 'Grand Totals (309 records),,,,11183200'.
_TOTALS = re.compile(r"^(grand totals?\b|totals?\b.*\(\d[\d,.]* records?\))", re.IGNORECASE)
_TOTAL_VALUE = re.compile(r"[-+$€£]?\s*[\d,.]+")


def _is_report_footer(row: Sequence[str | None]) -> bool:
    """A report's trailer line ('Grand Totals (123 records)', 'Copyright ... salesforce.com'):
    one filled cell that no CRM record looks like, or a totals line with its sums."""
    filled = [c.strip() for c in row if c and c.strip()]
    if not filled or (row[0] or "").strip() != filled[0]:
        return False
    if len(filled) == 1:
        return bool(_FOOTER.match(filled[0]))
    return bool(_TOTALS.match(filled[0])) and all(_TOTAL_VALUE.fullmatch(c) for c in filled[1:])


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


def _filled(values: tuple[Any, ...]) -> list[Any]:
    return [v for v in values if v is not None and str(v).strip()]


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
    sheet_rows = sheet.iter_rows(values_only=True)
    # The rows up to the first with several filled cells: a report's title rows (one
    # filled cell each) sit above its header, as in a CSV report export.
    opening: list[tuple[Any, ...]] = []
    for values in sheet_rows:
        opening.append(values)
        if len(_filled(values)) > 1 or len(opening) > 2 * _MAX_TITLE_LINES:
            break
    filled = [i for i, values in enumerate(opening) if _filled(values)]
    header_at: int | None = filled[0] if filled else None
    if filled and len(_filled(opening[filled[-1]])) > 1 and len(filled) <= _MAX_TITLE_LINES + 1:
        header_at = filled[-1]
        titles = [str(_filled(opening[i])[0]).strip() for i in filled[:-1]]
        if titles:
            shown = "; ".join(repr(t) for t in titles[:3])
            table.notes.append(
                f"skipped {len(titles)} report title row{'s' if len(titles) > 1 else ''} "
                f"above the header ({shown})"
            )
    header: list[Any] | None = None if header_at is None else list(opening[header_at])
    header_row = 0 if header_at is None else header_at + 1
    rows = itertools.chain(opening[header_row:], sheet_rows)
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
                if _is_report_footer(cells):
                    table.footer_lines.append((cells[0] or "").strip())
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
