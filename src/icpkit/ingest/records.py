"""Counting a CSV file's records from its bytes, independently of the reader that parses it.

The count is the check that no row goes missing: every reader's tally (rows loaded,
quarantined, skipped with a reason) must add up to it. It follows the rules of Python's
``csv`` module (RFC 4180 with doubled quotes; a quote opens a quoted cell only at the start
of a cell; CRLF, LF and CR each end a line), so a disagreement means a row was lost.

A file whose quotes all sit where RFC 4180 puts them (opening at the start of a cell,
closing at its end, or doubled) is counted with numpy over its bytes; any other file, one
event (quote, delimiter, line end) at a time.
"""

from __future__ import annotations

import codecs
import mmap
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

SEGMENT = 1 << 25  # 32 MiB of the file per numpy pass bounds the memory used
LF, CR = 0x0A, 0x0D


@dataclass(frozen=True)
class RecordCount:
    """What a quote-aware scan of a CSV file found.

    ``records`` are the records a CSV parser returns (a blank line is a record with no
    cells); ``lines`` the physical lines; ``unclosed_line`` the line where a quote opens
    that no later quote closes (the record from there runs to the end of the file), or
    None; ``regular`` whether every quote sits where RFC 4180 puts it; ``lf_lines``, where
    the scan counted them (the count by quote parity does), the lines of the bytes scanned
    as :func:`icpkit.ingest.readers.count_lines` counts a file's (only LF ends one).
    """

    records: int
    lines: int
    unclosed_line: int | None
    regular: bool
    lf_lines: int | None = None


def count_records(
    path: Path, encoding: str | None, delimiter: str, quote: str = '"'
) -> RecordCount:
    """Scan ``path`` (read as ``encoding``) for its records; see :class:`RecordCount`."""
    enc = codecs.lookup(encoding or "utf-8").name
    if _ascii_safe(enc):
        with path.open("rb") as fh:
            if fh.seek(0, 2) == 0:
                return RecordCount(0, 0, None, True, 0)
            with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
                data = np.frombuffer(mm, dtype=np.uint8)
                start = 3 if bytes(data[:3]) == codecs.BOM_UTF8 else 0
                # Most files end their lines in LF alone: one byte search spares a pass.
                crs = mm.find(b"\r", start) >= 0
                try:
                    return scan_bytes(data, start, delimiter.encode(), quote.encode(), crs=crs)
                finally:
                    del data
    # UTF-16 and the multi-byte Asian code pages: count on a UTF-8 copy held in memory.
    text = path.read_bytes().decode(enc, errors="replace").lstrip("\ufeff")
    data = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    return scan_bytes(data, 0, delimiter.encode(), quote.encode())


def _ascii_safe(encoding: str) -> bool:
    """Whether every byte below 0x80 of the encoding's text is that ASCII character, so
    quotes, delimiters and line ends can be found in the raw bytes."""
    if encoding in ("utf-8", "utf-8-sig", "ascii"):
        return True
    try:
        decoded = bytes(range(256)).decode(encoding, errors="replace")
    except (LookupError, UnicodeError):
        return False
    return len(decoded) == 256 and decoded[:128] == bytes(range(128)).decode("ascii")


def scan_bytes(
    data: npt.NDArray[np.uint8], start: int, delimiter: bytes, quote: bytes, *, crs: bool = True
) -> RecordCount:
    """Count the records of ``data[start:]``: numpy where the quoting is regular, else the
    exact event-by-event rules. ``crs=False`` says the data holds no carriage return."""
    if len(delimiter) != 1 or len(quote) != 1:
        raise ValueError("delimiter and quote must be one byte each")
    fast = _scan_regular(data, start, delimiter[0], quote[0], crs)
    if fast is not None:
        return fast
    return _scan_events(data, start, delimiter[0], quote[0])


def _scan_regular(
    data: npt.NDArray[np.uint8], start: int, delim: int, quote: int, crs: bool
) -> RecordCount | None:
    """The count by quote parity, or None when a quote sits where parity would misread it."""
    n = len(data)
    quotes_before = 0  # quotes seen before the current segment
    terminators = 0  # line ends seen, inside quotes or not
    records = 0  # line ends outside quotes
    unclosed_at = -1  # byte offset of the last quote that opens a quoted cell
    unclosed_line = 0
    line_feeds = 0
    hits = _hits(n - start)
    for lo in range(start, n, SEGMENT):
        hi = min(n, lo + SEGMENT)
        seg = data[lo:hi]
        q = _where(seg, quote, hits, lo)
        if len(q):
            index = np.arange(quotes_before, quotes_before + len(q))
            opening = q[index % 2 == 0]
            closing = q[index % 2 == 1]
            if not (
                _at_cell_start(data, opening, start, delim, quote)
                and _at_cell_end(data, closing, delim, quote)
            ):
                return None
        lf = _where(seg, LF, hits, lo)
        cr = _where(seg, CR, hits, lo) if crs else lf[:0]
        if len(cr):
            nxt = cr + 1
            lone = np.ones(len(cr), dtype=bool)
            inside = nxt < n
            lone[inside] = data[nxt[inside]] != LF
            cr = cr[lone]
        ends = np.sort(np.concatenate([lf, cr])) if len(cr) else lf
        if len(q):
            parity = (np.searchsorted(q, ends) + quotes_before) % 2
            records += int(np.count_nonzero(parity == 0))
            # A quote opens a cell where it is not the second of a doubled quote.
            real = opening[(opening == start) | (data[np.maximum(opening - 1, 0)] != quote)]
            if len(real):
                unclosed_at = int(real[-1])
                unclosed_line = terminators + int(np.searchsorted(ends, unclosed_at)) + 1
        else:
            records += len(ends) if quotes_before % 2 == 0 else 0
        terminators += len(ends)
        line_feeds += len(lf)
        quotes_before += len(q)
    if quotes_before % 2 == 0:
        unclosed_at = -1  # the last opening quote was closed
    last = int(data[n - 1]) if n > start else LF
    tail = n > start and (last not in (LF, CR) or unclosed_at >= 0)
    lines = terminators + (1 if n > start and last not in (LF, CR) else 0)
    lf_lines = line_feeds + (1 if n and int(data[n - 1]) != LF else 0)
    return RecordCount(
        records + tail, lines, unclosed_line if unclosed_at >= 0 else None, True, lf_lines
    )


def _hits(size: int) -> npt.NDArray[np.bool_]:
    """One segment's worth of flags, filled again for each byte searched: a fresh array per
    search would be new memory, each page of it faulted in again (half the scan's kernel
    time)."""
    return np.empty(max(0, min(SEGMENT, size)), dtype=bool)


def _where(
    seg: npt.NDArray[np.uint8], byte: int, hits: npt.NDArray[np.bool_], offset: int
) -> npt.NDArray[np.intp]:
    """The offsets (from the data's start, ``offset`` being the segment's) of ``byte`` in
    ``seg``, flagged in ``hits``."""
    flags = hits[: len(seg)]
    np.equal(seg, byte, out=flags)
    found = np.flatnonzero(flags)
    found += offset
    return found


def _at_cell_start(
    data: npt.NDArray[np.uint8], pos: npt.NDArray[np.intp], start: int, delim: int, quote: int
) -> bool:
    """Every quote that opens a quoted cell under parity opens it at the start of a cell (or
    is the second of a doubled quote)."""
    inner = pos[pos > start]
    prev = data[inner - 1]
    return bool(np.all((prev == delim) | (prev == LF) | (prev == CR) | (prev == quote)))


def _at_cell_end(
    data: npt.NDArray[np.uint8], pos: npt.NDArray[np.intp], delim: int, quote: int
) -> bool:
    """Every quote that closes a quoted cell under parity closes it at the end of a cell
    (or is the first of a doubled quote)."""
    inner = pos[pos < len(data) - 1]
    nxt = data[inner + 1]
    return bool(np.all((nxt == delim) | (nxt == LF) | (nxt == CR) | (nxt == quote)))


def _scan_events(data: npt.NDArray[np.uint8], start: int, delim: int, quote: int) -> RecordCount:
    """The count by the rules of Python's ``csv`` reader, one quote, delimiter or line end
    at a time: a quote inside an unquoted cell is text; after a closing quote, text up to
    the next delimiter joins the cell. Segment by segment, so memory stays bounded."""
    n = len(data)
    records = 0
    line = 1  # physical line of the current event
    cell_start = start
    in_quotes = False
    open_line = 0
    skip_until = -1
    special, each = _hits(n - start), _hits(n - start)
    for lo in range(start, n, SEGMENT):
        hi = min(n, lo + SEGMENT)
        seg = data[lo:hi]
        flags, flag = special[: hi - lo], each[: hi - lo]
        np.equal(seg, quote, out=flags)
        for byte in (delim, LF, CR):
            flags |= np.equal(seg, byte, out=flag)
        raw = data[lo : hi + 1].tobytes()  # one byte more: what follows the last event
        for at in np.flatnonzero(flags).tolist():
            pos = lo + at
            if pos <= skip_until:
                continue
            c = raw[at]
            follows = raw[at + 1] if at + 1 < len(raw) else -1
            if in_quotes:
                if c == quote:
                    if follows == quote:
                        skip_until = pos + 1  # a doubled quote: one quote character
                    else:
                        in_quotes = False
                elif c == LF or (c == CR and follows != LF):
                    line += 1
                continue
            if c == quote:
                if pos == cell_start:
                    in_quotes, open_line = True, line
            elif c == delim:
                cell_start = pos + 1
            elif c == LF or (c == CR and follows != LF):
                records += 1
                line += 1
                cell_start = pos + 1
    ended = n > start and int(data[n - 1]) in (LF, CR)
    tail = n > start and (not ended or in_quotes)
    return RecordCount(
        records + tail,
        line - 1 + (0 if ended or n <= start else 1),
        open_line if in_quotes else None,
        False,
    )
