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

from icpkit.ingest.charsets import cr_only_line_ends, rank_encodings, utf8_stray_bytes
from icpkit.ingest.problems import IngestError, Problem
from icpkit.ingest.records import RecordCount, count_records
from icpkit.store.db import literal

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
    # CSV only: the quote-aware count of the file's records, the records the reader parsed
    # (those up to the header included), and the rows gained where a record swallowed by
    # an unbalanced quote was re-read line by line; checked by the staging.
    counted: RecordCount | None = None
    records_parsed: int = 0
    preamble_records: int = 0
    rows_recovered: int = 0
    # CSV only: bytes that are not UTF-8 in a file otherwise read as UTF-8 (read as U+FFFD),
    # and rows skipped because their cells repeat the header (two exports pasted together).
    stray_bytes: int = 0
    header_repeats: list[int] = field(default_factory=list)
    # What to say when the table cannot be loaded as read (an XLSX: its sheets and header).
    hint: str | None = None
    _lines: tuple[int, Any] | None = None  # lines read so far, and the handle reading them
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
    count: bool = True,
) -> SourceTable:
    """Open ``path`` whatever its format; raise :class:`IngestError` when it is not a table.
    ``count=False`` leaves a CSV's quote-aware count of records (``counted``) to the caller."""
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
    if head.startswith(b"PK\x03\x04") and _is_xlsx(path):
        return _open_xlsx(path, chunk_size, sheet)
    if head.startswith(b"PAR1"):
        return _open_parquet(path, chunk_size)
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise IngestError(
            Problem(name, "legacy Excel .xls is not supported; save it as .xlsx or CSV", "file")
        )
    looks = sniff_non_table(path, head)
    if looks is not None:
        named = _NAMED.get(path.suffix.lower())
        misnamed = f" (named {path.suffix} but not {named})" if named else ""
        raise IngestError(
            Problem(
                name,
                f"not a table: {name} looks like {looks}{misnamed}; expected CSV, XLSX or Parquet",
                "file",
            )
        )
    table = _open_csv(path, head, encoding, chunk_size, count)
    if path.suffix.lower() in (".parquet", ".xlsx"):
        table.notes.append(
            f"named {path.suffix} but holds delimited text, not {path.suffix[1:].upper()}: "
            "read as CSV"
        )
    return table


_NAMED = {".parquet": "a Parquet file", ".xlsx": "an Excel workbook", ".csv": "CSV text"}

# What a file that is not a table most likely is, by its first bytes (magic numbers).
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"%PDF-", "a PDF document"),
    (b"\x1f\x8b", "a gzip archive (decompress it first)"),
    (b"BZh", "a bzip2 archive (decompress it first)"),
    (b"\xfd7zXZ\x00", "an xz archive (decompress it first)"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive (extract it first)"),
    (b"Rar!\x1a\x07", "a RAR archive (extract it first)"),
    (b"\x28\xb5\x2f\xfd", "a zstd archive (decompress it first)"),
    (b"SQLite format 3\x00", "an SQLite database"),
    (b"\x7fELF", "a program (ELF executable)"),
    (b"MZ", "a Windows program"),
    (b"{\\rtf", "an RTF document"),
    (b"\x00\x00\x01\x00", "an icon image"),
    (b"RIFF", "a RIFF media file (WAV, AVI or WebP)"),
    (b"OggS", "an Ogg media file"),
    (b"ID3", "an MP3 audio file"),
)


def sniff_non_table(path: Path, head: bytes) -> str | None:
    """What ``path`` looks like when its bytes say it is no CSV, XLSX or Parquet, else None.

    Magic numbers name images, documents, archives and databases; a ZIP that holds no
    workbook, JSON, HTML and XML are named by their content; other data with many NUL or
    control bytes is binary. Text with a few stray NUL bytes is text (see the staging).
    """
    for magic, what in _MAGIC:
        if head.startswith(magic):
            return what
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return _zip_kind(path)
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text[:1] in (b"{", b"[") and _is_json(path, head):
        return "a JSON document (export it as CSV, or flatten it to a table first)"
    lowered = text[:200].lower()
    if lowered.startswith((b"<!doctype html", b"<html")):
        return "an HTML page (a web page saved instead of the export?)"
    if lowered.startswith(b"<?xml"):
        return "an XML document"
    sample = head[:4096]
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or _utf16_without_bom(sample):
        return None
    control = sum(1 for b in sample if b < 32 and b not in (9, 10, 12, 13))
    if sample and control > max(2, len(sample) // 20):
        return f"binary data ({control} control or NUL bytes in its first {len(sample):,})"
    return None


def _utf16_without_bom(sample: bytes) -> bool:
    """ASCII text in UTF-16: every other byte NUL."""
    quarter = len(sample) // 4
    return bool(sample) and (sample[1::2].count(0) > quarter or sample[0::2].count(0) > quarter)


def _is_json(path: Path, head: bytes) -> bool:
    """Whether the file parses as JSON (the start of it, for a big file)."""
    import json

    if len(head) < SNIFF_BYTES:
        try:
            json.loads(head.decode("utf-8-sig"))
        except (UnicodeDecodeError, ValueError):
            return False
        return True
    # Too big to parse here: a JSON object's first key, or an array of objects or arrays.
    return re.match(rb'\s*(\{\s*"|\[\s*[\[{])', head.lstrip(b"\xef\xbb\xbf")) is not None


def _is_xlsx(path: Path) -> bool:
    """Whether a ZIP file holds an Excel workbook (xl/workbook.xml)."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError, ValueError):
        return True  # a damaged workbook: the XLSX reader says what is wrong with it
    return "xl/workbook.xml" in names or not names


def _zip_kind(path: Path) -> str:
    """A ZIP that is no workbook: what its content says it is."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return "a damaged ZIP archive"
    if "word/document.xml" in names:
        return "a Word document"
    if "ppt/presentation.xml" in names:
        return "a PowerPoint presentation"
    if "content.xml" in names:
        return "an OpenDocument file (save it as .xlsx or CSV)"
    tables = [n for n in names if n.lower().endswith((".csv", ".xlsx", ".parquet", ".tsv"))]
    if tables:
        shown = ", ".join(tables[:3])
        return f"a ZIP archive holding {shown} (extract it and ingest those files)"
    return f"a ZIP archive of {len(names)} file{'s' if len(names) != 1 else ''} (extract it first)"


# --- CSV -------------------------------------------------------------------------------------


def _detect_encoding(path: Path, head: bytes, requested: str | None) -> tuple[str, list[str], int]:
    """Pick the text encoding: BOMs first, then strict UTF-8, then UTF-8 with a few stray
    bytes (their count, third), then the most plausible 8-bit one."""
    notes: list[str] = []
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig", notes, 0
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16", notes, 0
    if requested:
        return requested, notes, 0
    sample = head[:4096]
    if sample and sample.count(b"\x00") > len(sample) // 4:
        # UTF-16 without a BOM shows as every other byte NUL (ASCII text).
        if sample[1::2].count(0) > len(sample) // 4:
            return "utf-16-le", notes, 0
        if sample[0::2].count(0) > len(sample) // 4:
            return "utf-16-be", notes, 0
    bad = _first_invalid_utf8(path)
    if bad is None:
        return "utf-8", notes, 0  # the common case stays one streaming pass, no detector
    stray = utf8_stray_bytes(path)
    if stray is not None and not stray.plausible:
        shown = ", ".join(str(n) for n in stray.lines[:10])
        plural = "s" if stray.count > 1 else ""
        notes.append(
            f"not valid UTF-8: {stray.count} stray byte{plural} in otherwise UTF-8 text "
            f"(line{'s' if len(stray.lines) > 1 else ''} {shown}); read as UTF-8, "
            + ("the rows holding them set aside" if plural else "the row holding it set aside")
        )
        return "utf-8", notes, stray.count
    enc, why = _detect_8bit(path, head, bad)
    notes.append(f"not valid UTF-8 (first bad byte at offset {bad}); read as {enc}{why}")
    return enc, notes, 0


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
    """The delimiter that splits the header and the records under it into equally many fields.

    Records are parsed with their quoting, so a delimiter inside a quoted cell counts for
    nothing. The header weighs most: a delimiter that splits the first line into several
    fields (and some record under it too) wins over one under which that line would be a
    report title; title lines are skipped only when no delimiter splits the first line.
    """
    text = "\n".join(lines)
    parsed = {
        delim: [
            r
            for r in csv.reader(io.StringIO(text), delimiter=delim)
            if any(cell.strip() for cell in r)
        ]
        for delim in DELIMITERS
    }
    splitting = [
        delim
        for delim, rows in parsed.items()
        if rows and not _is_title(rows[0]) and (len(rows) == 1 or any(len(r) > 1 for r in rows[1:]))
    ]
    best, best_score = ",", (-1, -1)
    for delim in splitting or DELIMITERS:
        rows = parsed[delim] if splitting else parsed[delim][_title_records(parsed[delim]) :]
        if not rows:
            continue
        width, body = len(rows[0]), rows[1:]
        if body and len(body[-1]) != width:
            body = body[:-1]  # the last sampled record may be cut short
        consistent = 1 + sum(1 for r in body if len(r) == width)
        score = (consistent if width > 1 else 0, width)
        if score > best_score:
            best, best_score = delim, score
    return best


_MAX_TITLE_LINES = 10


def _title_records(rows: list[list[str]]) -> int:
    """How many records open the file as a report's title lines, above the header.

    A Salesforce report export starts with its name and filters, one field each, then a
    blank line: single-field records followed by a record of several fields. A title saved
    from a spreadsheet keeps its row's empty cells (``Exported from CRM,,,,``): a record of
    one filled field is a title line too. A file whose records all have one field has no
    title lines.
    """
    for i, row in enumerate(rows[: _MAX_TITLE_LINES + 1]):
        if not _is_title(row):
            return i
    return 0


def _is_title(row: Sequence[str]) -> bool:
    """A record of one filled field: a report's title line when it is above the header."""
    return sum(1 for cell in row if cell.strip()) <= 1


def _open_csv(
    path: Path, head: bytes, encoding: str | None, chunk_size: int, count: bool = True
) -> SourceTable:
    enc, notes, stray = _detect_encoding(path, head, encoding)
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
    table.stray_bytes = stray
    if count:
        table.counted = count_records(path, enc, delimiter)
    # Stray bytes in UTF-8 text read as U+FFFD; the staging sets their rows aside.
    errors = "replace" if stray else "strict"
    fh = path.open("r", encoding=enc, errors=errors, newline="")
    reader = csv.reader(fh, delimiter=delimiter)
    skipped: list[str] = []
    try:
        if skip_first and next(reader, None) is not None:
            table.preamble_records += 1
        header: list[str] | None = None
        while header is None:
            row = next(reader, None)
            if row is None:
                break
            table.preamble_records += 1
            if not any(cell.strip() for cell in row):
                continue
            if len(skipped) < titles and _is_title(row):
                skipped.append(" ".join(cell.strip() for cell in row if cell.strip()))
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
    table.records_parsed = table.preamble_records
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
            base = name
            while name in seen:  # 'Amount (2)' may itself be a column of the file
                seen[base] += 1
                name = f"{base} ({seen[base]})"
            table.notes.append(
                f"header {base!r} appears more than once; column {i} is read as {name!r}"
            )
        seen.setdefault(name, 1)
        out.append(name)
    return out


def _csv_chunks(
    fh: io.TextIOWrapper, reader: Any, table: SourceTable, chunk_size: int
) -> Iterator[Chunk]:
    """Records in chunks; the per-row bookkeeping runs only on chunks that need it."""
    width = len(table.header)
    unclosed = table.counted.unclosed_line if table.counted else None
    try:
        while True:
            before = reader.line_num
            rows: list[list[str]] = list(itertools.islice(reader, chunk_size))
            if not rows:
                return
            table.records_parsed += len(rows)
            if (
                reader.line_num - before == len(rows)
                and all(len(r) == width for r in rows)
                and (unclosed is None or unclosed > reader.line_num)
            ):
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
        if table._lines is not None:
            table._lines[1].close()
            table._lines = None


def unaccounted(table: SourceTable, staged: int) -> str | None:
    """Why a CSV file's rows do not add up, or None when they do: the records the reader
    parsed must be those the quote-aware count finds, and every data record must be
    ``staged`` (read into cells), set aside as a problem, or skipped with a reason (blank,
    report footer)."""
    counted = table.counted
    if table.kind != "csv" or counted is None:
        return None
    if table.records_parsed != counted.records:
        return (
            f"a quote-aware count finds {counted.records:,} records in the file but the "
            f"reader parsed {table.records_parsed:,}; not loaded, as rows would be lost"
        )
    rows = (
        staged
        + sum(1 for p in table.problems if p.scope == "row")
        + table.blank_records
        + len(table.footer_lines)
        + len(table.header_repeats)
    )
    expected = counted.records - table.preamble_records + table.rows_recovered
    if rows != expected:
        return (
            f"{expected:,} rows below the header, but {rows:,} were read, set aside or "
            "skipped; not loaded, as rows would be lost"
        )
    return None


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


def swallows_rows(cells: Sequence[str | None], delimiter: str, width: int) -> bool:
    """Whether a multi-line cell holds, after its first line, a line with as many delimiters
    as a whole record (three columns or more): rows an unbalanced quote swallowed, not a
    note written over several lines."""
    if width < 3:
        return False
    for cell in cells:
        if cell and ("\n" in cell or "\r" in cell):
            rest = cell.replace("\r\n", "\n").replace("\r", "\n").split("\n")[1:]
            if any(part.count(delimiter) >= width - 1 for part in rest):
                return True
    return False


def swallows_rows_sql(cells: list[str], delimiter: str) -> str:
    """:func:`swallows_rows` as a DuckDB condition on the cells (SQL expressions) of a row;
    a flat list of the cells, so a wide file nests no deeper than a narrow one."""
    width = len(cells)
    if width < 3:
        return "false"
    delim = literal(delimiter)
    lf = "chr(10)"
    split = f"string_split(replace(replace(c, chr(13) || {lf}, {lf}), chr(13), {lf}), {lf})"
    row_like = f"lambda x: length(x) - length(replace(x, {delim}, '')) >= {width - 1}"
    return (
        f"len(list_filter([{', '.join(cells)}], "
        f"lambda c: len(list_filter({split}[2:], {row_like})) > 0)) > 0"
    )


def reads_as_record(text: str, delimiter: str, width: int) -> bool:
    """Whether one physical line, read on its own, is a well-formed record of ``width``
    fields holding a quoted cell: a later line of a multi-line cell that is one is a row
    whose quoted cell closed a stray quote opened on an earlier line, not a note's line."""
    if width < 2 or not (text.startswith('"') or delimiter + '"' in text):
        return False
    try:
        rows = list(csv.reader([text], delimiter=delimiter, strict=True))
    except csv.Error:
        return False
    return len(rows) == 1 and len(rows[0]) == width


def _checked_rows(
    rows: list[list[str]], before: int, after: int, table: SourceTable, width: int
) -> Iterator[Chunk]:
    """Number records by the line they start on; set aside ragged ones, skip blank ones."""
    lines: list[int] = []
    kept: list[list[str]] = []
    line = before + 1
    unclosed = table.counted.unclosed_line if table.counted else None
    for row in rows:
        start, line = line, line + 1 + _line_breaks(row)
        if unclosed is not None and start <= unclosed < line:
            # The quote opened here is never closed: the record runs to the end of the file.
            end = table.counted.lines if table.counted else line - 1
            _recover_lines(table, start, end, unclosed)
            line = end + 1
            continue
        texts = None
        if line - start > 1 and len(row) == width and table.counted and not table.counted.regular:
            # A quote out of place in the file: the record's own lines show whether one of
            # them is a row whose quoted cell closed a stray quote (see reads_as_record).
            texts = _physical_lines(table, start, line - 1)
        if line - start > 1 and (
            (len(row) != width and any(c.strip() for c in row))
            or swallows_rows(row, table.delimiter or ",", width)
            or (
                texts is not None
                and any(reads_as_record(t, table.delimiter or ",", width) for t in texts[1:])
            )
        ):
            _recover_lines(table, start, line - 1, None, texts)
            continue
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


def _physical_lines(table: SourceTable, first: int, last: int) -> list[str]:
    """Lines ``first`` to ``last`` of the file as it holds them, line ends stripped; records
    come in order, so one pass over the file serves them all."""
    if table._lines is None or table._lines[0] >= first:
        if table._lines is not None:
            table._lines[1].close()
        handle = table.path.open("r", encoding=table.encoding, errors="replace", newline="")
        table._lines = (0, handle)
    done, handle = table._lines
    texts = [t.rstrip("\r\n") for t in itertools.islice(handle, first - 1 - done, last - done)]
    table._lines = (last, handle)
    return texts


def _recover_lines(
    table: SourceTable,
    first: int,
    last: int,
    unclosed: int | None,
    texts: list[str] | None = None,
) -> None:
    """Set aside, line by line, a record an unbalanced quote made of lines ``first`` to
    ``last`` (``texts``, when already read): each non-blank line is quarantined with its own
    number and text, so none of the rows the quote swallowed is lost or loaded into the wrong
    cells."""
    name = table.path.name
    if texts is None:
        texts = _physical_lines(table, first, last)
    count = 0
    for number, text in enumerate(texts, first):
        count += 1
        if not text.strip():
            table.blank_records += 1
            continue
        if unclosed is not None and number == unclosed:
            reason = f"unbalanced quote: the quote opened on line {unclosed} is never closed"
        elif unclosed is not None:
            reason = f"unbalanced quote from line {unclosed} swallowed the lines after it"
        else:
            reason = (
                f"unbalanced quote: a quoted cell from line {first} runs to line {last} "
                "over lines that read as rows; each line set aside on its own"
            )
        table.problems.append(Problem(name, reason, "row", line=number, value=text))
    table.rows_recovered += count - 1


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


_HEADER_SCAN = 20  # rows searched for the header
_NUMBERISH = re.compile(r"[-+$€£(]?\s*[\d][\d,.\s:/%-]*\)?|true|false", re.IGNORECASE)


def _text_cells(row: Sequence[str | None]) -> list[str]:
    return [c.strip() for c in row if c is not None and c.strip()]


def find_header_row(rows: Sequence[Sequence[str | None]]) -> int | None:
    """Index of the row that reads as the header, among the first ``_HEADER_SCAN``: two
    filled cells or more, nearly all text rather than numbers or dates, and the rows under
    it about as wide (records, not another title line). Rows above it are a report's title
    ('Exported from CRM', 'Generated: 2024-05-01'). None when no row qualifies."""
    filled_rows = [i for i, r in enumerate(rows) if _text_cells(r)]
    for k, i in enumerate(filled_rows):
        if i >= _HEADER_SCAN:
            break
        cells = _text_cells(rows[i])
        if len(cells) < 2:
            continue
        texty = sum(1 for c in cells if not _NUMBERISH.fullmatch(c))
        if texty < 0.8 * len(cells) or len(set(cells)) < 0.8 * len(cells):
            continue
        below = [len(_text_cells(rows[j])) for j in filled_rows[k + 1 : k + 6]]
        if below:
            typical = sorted(below)[len(below) // 2]
            if typical < 2 or len(cells) < 0.6 * typical:
                continue  # narrower than the rows under it: a title line above the header
        return i
    return None


@dataclass
class _SheetScan:
    """The opening rows of one sheet, where its header is and whether records follow."""

    title: str
    rows: int | None
    columns: int | None
    raw: list[tuple[Any, ...]]
    opening: list[list[str | None]]
    header_at: int | None
    records: bool
    found: bool  # the header row reads as one (else the first row of several cells is taken)

    def describe(self) -> str:
        if self.rows is None or self.columns is None:
            size = "size unknown"
        else:
            size = (
                f"{self.rows:,} row{'s' if self.rows != 1 else ''} x {self.columns:,} "
                f"column{'s' if self.columns != 1 else ''}"
            )
        if not any(_text_cells(r) for r in self.opening):
            where = "empty"
        elif self.header_at is None or not self.found:
            where = "no header row found"
        else:
            where = f"header likely on row {self.header_at + 1}"
            if not self.records:
                where += ", no rows under it"
        return f"{self.title!r} ({size}, {where})"


def _scan_sheet(ws: Any) -> _SheetScan:
    """Read a sheet's first rows only (cheap on a big sheet) and find its header."""
    raw: list[tuple[Any, ...]] = []
    for values in ws.iter_rows(values_only=True):
        raw.append(values)
        if len(raw) >= _HEADER_SCAN + 6:
            break
    opening = [[_cell_text(v) for v in values] for values in raw]
    header_at = find_header_row(opening)
    found = header_at is not None
    filled = [i for i, r in enumerate(opening) if _text_cells(r)]
    if header_at is None and filled:
        # No row reads as a header: the first with several cells (or the first) is taken,
        # and a missing column then names the sheets and this row.
        header_at = next((i for i in filled if len(_text_cells(opening[i])) > 1), filled[0])
    records = header_at is not None and any(i > header_at for i in filled)
    if header_at is not None and not records and len(raw) >= _HEADER_SCAN + 6:
        records = True  # the scan stopped early: rows further down
    try:
        rows, columns = ws.max_row, ws.max_column
    except (TypeError, ValueError):
        rows, columns = None, None
    return _SheetScan(ws.title, rows, columns, raw, opening, header_at, records, found)


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
    scans = [_scan_sheet(ws) for ws in book.worksheets]
    table = SourceTable(path, "xlsx", [], unit="row")
    if sheet_name is not None:
        if sheet_name not in book.sheetnames:
            book.close()
            handle.close()
            raise IngestError(
                Problem(
                    path.name,
                    f"no sheet named {sheet_name!r}; the workbook's sheets: "
                    + ", ".join(s.describe() for s in scans),
                    "file",
                )
            )
        scan = scans[book.sheetnames.index(sheet_name)]
    else:
        # The first sheet that holds records; a cover or notes sheet before it is passed.
        scan = next((s for s in scans if s.records and s.found), None) or next(
            (s for s in scans if s.header_at is not None), scans[0] if scans else None
        )
    if scan is None or scan.header_at is None:
        book.close()
        handle.close()
        what = "no sheet with rows" if sheet_name is None else f"sheet {sheet_name!r} is empty"
        raise IngestError(Problem(path.name, f"empty workbook: {what}", "file"))
    sheet = book[scan.title]
    if len(scans) > 1 and sheet_name is None:
        if scan is scans[0]:
            table.notes.append(
                f"read sheet {scan.title!r}, the first of {len(scans)} (--sheet NAME reads another)"
            )
        else:
            passed = ", ".join(s.describe() for s in scans[: scans.index(scan)])
            table.notes.append(
                f"read sheet {scan.title!r} (sheet {scans.index(scan) + 1} of {len(scans)}): "
                f"the sheets before it hold no table ({passed}); --sheet NAME reads another"
            )
    header_at = scan.header_at
    titles = [
        " ".join(c.strip() for c in row if c and c.strip())
        for row in scan.opening[:header_at]
        if any(c and c.strip() for c in row)
    ]
    if titles:
        shown = "; ".join(repr(t if len(t) <= 60 else t[:57] + "...") for t in titles[:3])
        plural = "s" if len(titles) > 1 else ""
        table.notes.append(
            f"skipped {len(titles)} report title row{plural} above the header ({shown}); "
            f"the header is row {header_at + 1}"
        )
    table.hint = (
        f"The workbook's sheets: {', '.join(s.describe() for s in scans)}; read sheet "
        f"{scan.title!r} with its header on row {header_at + 1}. Choose another sheet with "
        "--sheet NAME"
    )
    header: list[Any] = list(scan.raw[header_at])
    header_row = header_at + 1
    rows = itertools.islice(sheet.iter_rows(values_only=True), header_row, None)
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
    """Read a Parquet file row group by row group, so a damaged group costs only its rows.

    Each unreadable row group (or the rest of one, when it breaks part way) is reported
    with its rows and the reason, and its rows are set aside one by one in the quarantine;
    the readable groups load. Page checksums are verified where the writer stored them.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    try:
        pfile = pq.ParquetFile(path, page_checksum_verification=True)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise IngestError(
            Problem(
                path.name,
                "starts as a Parquet file but its footer (the schema and row-group index) "
                f"cannot be read, so no row can be: {_arrow_reason(exc)}. The file may be "
                "truncated: export or copy it again",
                "file",
            )
        ) from None
    table = SourceTable(path, "parquet", [], unit="row")
    table.header = clean_header(list(pfile.schema_arrow.names), table)
    groups = pfile.metadata.num_row_groups

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

    def unreadable(group: int, first: int, size: int, done: int, exc: BaseException) -> None:
        """Set aside rows ``first + done`` .. ``first + size - 1`` of a damaged row group."""
        last = first + size - 1
        lost = size - done
        part = f"rows {first + done:,}-{last:,} of it" if done else "its rows"
        reason = (
            f"row group {group + 1} of {groups} (rows {first:,}-{last:,}) cannot be read: "
            f"{_arrow_reason(exc)}"
        )
        table.notes.append(
            f"{reason}; {part} ({lost:,}) are quarantined, the other row groups loaded"
        )
        quarantined = f"unreadable Parquet row group: {reason}"
        table.problems.extend(
            Problem(path.name, quarantined, "row", line=row, unit="row")
            for row in range(first + done, last + 1)
        )

    def chunks() -> Iterator[Chunk]:
        first = 1
        for group in range(groups):
            size = pfile.metadata.row_group(group).num_rows
            done = 0
            try:
                for batch in pfile.iter_batches(batch_size=chunk_size, row_groups=[group]):
                    n = batch.num_rows
                    texts = [as_text(c) for c in batch.columns]
                    yield Chunk(list(range(first + done, first + done + n)), texts)
                    done += n
            except (pa.ArrowException, OSError, ValueError, IndexError) as exc:
                unreadable(group, first, size, done, exc)
            first += size

    table._chunks = chunks()
    return table


def _arrow_reason(exc: BaseException) -> str:
    """An Arrow error on one line, without its trailing blank lines."""
    text = " ".join(str(exc).split()).rstrip(".")
    return text or type(exc).__name__
