"""Every row of a file is accounted for: rows read = loaded + quarantined + skipped with a
reason, and the count of rows read is checked against a quote-aware count of the file's
records. A quote that is never closed does not swallow the rows after it: they are set
aside line by line, with their line numbers. File names are never globs."""

from __future__ import annotations

import csv
import io
import random
from pathlib import Path

import duckdb
import numpy as np
import pytest
from typer.testing import CliRunner

from icpkit.cli.main import app
from icpkit.ingest import readers, records, staging
from icpkit.ingest.records import RecordCount, count_records, scan_bytes
from icpkit.ingest.report import FileReport
from icpkit.store.db import literal, path_literal
from icpkit.workspace import Workspace

HEADER = "Record ID,Deal Name,Deal Stage,Amount,Close Date,Company name"


def deal_rows(n: int, *, first_id: int = 1) -> list[str]:
    """``n`` clean deal lines, ids from ``first_id``."""
    return [
        f"{i},Deal {i},Closed Won,{1000 + i},2023-01-{1 + i % 28:02d},Acme {i}"
        for i in range(first_id, first_id + n)
    ]


def assert_every_row_accounted(report: FileReport, rows: int) -> None:
    """The identity, from the report's own counts, against the rows the test wrote."""
    skipped = report.blank_records
    assert report.rows_loaded + report.rows_quarantined + skipped == rows
    assert report.rows_read == report.rows_loaded + report.rows_quarantined


def ingest_one(ws: Workspace, path: Path) -> FileReport:
    result = ws.ingest([path])
    assert not result.failures, result.failures
    (report,) = result.files
    return report


def test_a_quote_never_closed_in_the_last_column_sets_aside_every_line_it_swallowed(
    ws: Workspace, write, query
) -> None:
    rows = deal_rows(1000)
    rows[11] = rows[11].replace("Acme 12", '"Acme 12')  # row 12, on line 13
    path = write("deals.csv", "\n".join([HEADER, *rows]) + "\n")

    report = ingest_one(ws, path)

    assert_every_row_accounted(report, 1000)
    assert report.rows_loaded == 11
    set_aside = {p.line: p for p in report.problems if p.scope == "row"}
    assert sorted(set_aside) == list(range(13, 1002))
    assert "never closed" in set_aside[13].reason
    assert "line 13" in set_aside[500].reason
    assert set_aside[500].value == rows[498]  # the line as the file holds it
    stored = query(ws, "SELECT count(*), max(name) FILTER (source_id = '11') FROM deals")
    assert stored == [(11, "Deal 11")]


def test_an_unbalanced_quote_mid_file_leaves_no_row_unaccounted(ws: Workspace, write) -> None:
    rows = deal_rows(100)
    rows[39] = rows[39].replace("Deal 40", 'Deal "40')  # a quote inside a cell: text
    rows[49] = rows[49].replace("Deal 50", '"Deal 50')  # opens a cell, never closed
    path = write("deals.csv", "\n".join([HEADER, *rows]) + "\n")

    report = ingest_one(ws, path)

    assert_every_row_accounted(report, 100)
    assert report.rows_loaded == 49
    assert sorted(p.line for p in report.problems if p.scope == "row") == list(range(51, 102))


def test_a_quote_that_closes_rows_later_sets_those_lines_aside_one_by_one(
    ws: Workspace, write
) -> None:
    rows = deal_rows(60)
    rows[9] = rows[9].replace("Acme 10", '"Acme 10')  # opens on line 11 ...
    rows[19] = rows[19].replace("Deal 20", '"Deal, 20"')  # ... the next quote closes it
    path = write("deals.csv", "\n".join([HEADER, *rows]) + "\n")

    report = ingest_one(ws, path)

    assert_every_row_accounted(report, 60)
    lines = sorted(p.line for p in report.problems if p.scope == "row")
    assert lines == list(range(11, 22))
    assert report.rows_loaded == 49


def test_a_quote_closed_on_a_later_line_in_the_last_column_sets_both_lines_aside(
    ws: Workspace, write
) -> None:
    rows = deal_rows(200)
    for i in range(9, 200, 10):  # rows 10, 20, ...: a quote opened, closed one row later
        rows[i] = rows[i].replace(f"Acme {i + 1}", f'"Acme {i + 1}')
        if i + 1 < 200:
            rows[i + 1] = rows[i + 1] + '"'
    path = write("deals.csv", "\n".join([HEADER, *rows]) + "\n")

    report = ingest_one(ws, path)

    assert_every_row_accounted(report, 200)
    set_aside = sorted(p.line for p in report.problems if p.scope == "row")
    opened = [i + 2 for i in range(9, 200, 10)]  # the line of each row with an opening quote
    assert set_aside == sorted({*opened, *(n + 1 for n in opened[:-1])})
    assert report.rows_loaded == 200 - len(set_aside)


def test_blank_lines_and_multi_line_cells_add_up(ws: Workspace, write) -> None:
    rows = deal_rows(30)
    rows[4] = rows[4].replace("Acme 5", '"Acme\nFive, Inc"')
    text = "\r\n".join([HEADER, *rows[:10], "", ",,,,,", *rows[10:]]) + "\r\n"
    path = write("deals.csv", text)

    report = ingest_one(ws, path)

    assert report.rows_loaded == 30 and report.rows_quarantined == 0
    assert report.blank_records == 2
    assert_every_row_accounted(report, 32)


def test_a_reader_that_parses_another_number_of_records_refuses_the_file(
    ws: Workspace, write, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write("deals.csv", "\n".join([HEADER, *deal_rows(20)]) + "\n")
    real = readers.count_records

    def one_more(*args: object, **kwargs: object) -> RecordCount:
        found = real(*args, **kwargs)  # type: ignore[arg-type]
        return RecordCount(found.records + 1, found.lines, None, found.regular)

    # Ingest counts while DuckDB reads (staging); the readers count where they open a file.
    monkeypatch.setattr(readers, "count_records", one_more)
    monkeypatch.setattr(staging, "count_records", one_more)
    result = ws.ingest([path])

    (failure,) = result.failures
    assert "finds 22 records" in str(failure[1]) and "parsed 21" in str(failure[1])
    assert not result.files or not result.files[0].rows_loaded


# --- the record count against Python's csv module ---------------------------------------

TRICKY_VALID = {
    "multi-line cells": 'a,b\n1,"two\nlines"\n3,"three\n\nlines"\n',
    "doubled quotes": 'a,b\n1,"say ""hi"""\n2,""""\n3,""\n',
    "crlf": 'a,b\r\n1,"x\r\ny"\r\n2,z\r\n',
    "cr only": 'a,b\r1,"x\ry"\r2,z\r',
    "no final newline": 'a,b\n1,x\n2,"y\nz"',
    "blank lines": "a,b\n\n1,x\n\n\n2,y\n",
    "delimiter in quotes": 'a,b\n"1,5","x,y"\n',
    "quote inside an unquoted cell": 'a,b\n1,5" screen\n2,x"y"z\n',
    "text after a closing quote": 'a,b\n1,"x"y\n2,z\n',
    "semicolons": 'a;b\n1;"x;\ny"\n2;z\n',
}


def csv_module_records(text: str, delimiter: str) -> int:
    return sum(1 for _ in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))


@pytest.mark.parametrize("name", sorted(TRICKY_VALID))
@pytest.mark.parametrize("bom", [False, True], ids=["no-bom", "bom"])
def test_the_record_count_agrees_with_the_csv_module(tmp_path: Path, name: str, bom: bool) -> None:
    text = TRICKY_VALID[name]
    delimiter = ";" if name == "semicolons" else ","
    path = tmp_path / "f.csv"
    path.write_bytes(("\ufeff" if bom else "").encode() + text.encode())

    counted = count_records(path, "utf-8-sig" if bom else "utf-8", delimiter)

    assert counted.records == csv_module_records(text, delimiter)
    assert counted.unclosed_line is None
    # The count by quote parity counts the file's lines as count_lines does, in passing.
    assert counted.lf_lines in (None, readers.count_lines(path))
    assert counted.lf_lines is not None or not counted.regular


def test_the_record_count_reads_utf16_and_cp1252(tmp_path: Path) -> None:
    text = 'a,b\r\n1,"Zoë\r\nMüller"\r\n2,Café\r\n'
    for encoding in ("utf-16", "cp1252"):
        path = tmp_path / f"{encoding}.csv"
        path.write_bytes(text.encode(encoding))
        assert count_records(path, encoding, ",").records == 3


def test_the_record_count_finds_the_line_of_a_quote_never_closed(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_text('a,b\n1,"x""y"\n2,"open\n3,z\n4,w\n', encoding="utf-8")
    counted = count_records(path, "utf-8", ",")
    assert counted.unclosed_line == 3
    assert counted.records == 3 == csv_module_records(path.read_text(), ",")
    assert counted.lines == 5


@pytest.mark.slow
@pytest.mark.parametrize("segment", [records.SEGMENT, 5], ids=["whole", "5-byte segments"])
def test_the_record_count_agrees_with_the_csv_module_on_random_text(
    segment: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(records, "SEGMENT", segment)
    rng = random.Random(11)
    alphabet = ["a", "b", ",", '"', '""', "\n", "\r", "\r\n", " ", "é"]
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        data = np.frombuffer(text.encode(), dtype=np.uint8)
        expected = csv_module_records(text, ",")
        assert scan_bytes(data, 0, b",", b'"').records == expected, text
        if "\r" not in text:  # told there is no carriage return, the scan finds the same
            assert scan_bytes(data, 0, b",", b'"', crs=False) == scan_bytes(data, 0, b",", b'"')
        # The exact rules agree with the numpy count wherever the quoting is regular.
        assert records._scan_events(data, 0, ord(","), ord('"')).records == expected, text


# --- literal paths ---------------------------------------------------------------------


def test_a_file_named_like_a_glob_loads_only_its_own_rows(ws: Workspace, write, query) -> None:
    write("deals1.csv", "\n".join([HEADER, *deal_rows(5, first_id=100)]) + "\n")
    own = write("deals[1].csv", "\n".join([HEADER, *deal_rows(3, first_id=1)]) + "\n")

    report = ingest_one(ws, own)

    assert report.rows_loaded == 3
    ids = [r[0] for r in query(ws, "SELECT source_id FROM deals ORDER BY source_id")]
    assert ids == ["1", "2", "3"]


@pytest.mark.slow
def test_a_quoted_pattern_on_the_command_line_is_expanded_there(
    ws: Workspace, tmp_path: Path, query
) -> None:
    folder = tmp_path / "exports"
    folder.mkdir()
    (folder / "a.csv").write_text("\n".join([HEADER, *deal_rows(4, first_id=1)]) + "\n")
    (folder / "b.csv").write_text("\n".join([HEADER, *deal_rows(6, first_id=50)]) + "\n")

    result = CliRunner().invoke(app, ["ingest", str(folder / "*.csv"), "-w", str(ws.root)])

    assert result.exit_code == 0, result.output
    assert "a.csv" in result.output and "b.csv" in result.output
    assert query(ws, "SELECT count(*) FROM deals") == [(10,)]


@pytest.mark.parametrize("name", ["deals[1].csv", "deals*.csv", "deals?.csv", "deals{1}.csv"])
def test_duckdb_readers_take_a_path_as_the_one_file_it_names(tmp_path: Path, name: str) -> None:
    (tmp_path / "deals1.csv").write_text("n\n1\n1\n")
    (tmp_path / "dealsx.csv").write_text("n\n1\n")
    own = tmp_path / name
    own.write_text("n\n2\n")
    con = duckdb.connect()
    rows = con.execute(f"SELECT n FROM read_csv({path_literal(own)})").fetchall()
    assert rows == [(2,)]
    con.execute(f"COPY (SELECT 3 AS n) TO {literal(str(own))} (FORMAT PARQUET)")
    assert con.execute(f"SELECT n FROM read_parquet({path_literal(own)})").fetchall() == [(3,)]
