"""Debris in an otherwise sound file: a byte that is not UTF-8 in UTF-8 text sets aside its
row only, not the reading of the whole file; a header line repeated mid-file (two exports
pasted together) is skipped and counted, not loaded as a record."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from icpkit.ingest.charsets import utf8_stray_bytes
from icpkit.ingest.report import FileReport
from icpkit.workspace import Workspace

Write = Callable[[str, str | bytes], Path]
Query = Callable[[Workspace, str], list[tuple[object, ...]]]

UTF8_NAMES = "Company name,City\nMüller GmbH,Köln\nCafé Crème,Paris\nÑandú SA,Lima\n"


def ingest(ws: Workspace, path: Path) -> FileReport:
    result = ws.ingest([path])
    assert result.ok, result.failures
    return result.files[0]


def test_one_0xff_byte_in_utf8_text_quarantines_its_row_and_keeps_every_accent(
    ws: Workspace, write: Write, query: Query
) -> None:
    body = UTF8_NAMES.encode() + b"Deal \xff15,Oslo\nAcme,Boston\n"
    report = ingest(ws, write("companies.csv", body))
    assert report.encoding == "utf-8"
    names = sorted(str(r[0]) for r in query(ws, "SELECT name FROM accounts"))
    assert names == ["Acme", "Café Crème", "Müller GmbH", "Ñandú SA"]
    (problem,) = report.problems
    assert (problem.line, problem.column) == (5, "Company name")
    assert "not UTF-8" in problem.reason
    assert report.rows_read == 5 == report.rows_loaded + report.rows_quarantined
    assert any("stray byte" in n and "line 5" in n for n in report.notes)


def test_a_cp1252_letter_inside_a_word_is_not_taken_for_debris(tmp_path: Path) -> None:
    # 'Müller' in cp1252 amid UTF-8 rows: a row pasted in from Windows, repaired elsewhere.
    path = tmp_path / "mixed.csv"
    path.write_bytes(UTF8_NAMES.encode() + "Müller AG,Bern\n".encode("cp1252"))
    stray = utf8_stray_bytes(path)
    assert stray is not None and stray.count == 1 and stray.plausible == 1


def test_a_file_of_many_8bit_bytes_is_not_utf8_with_debris(tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes(("Name\n" + "Ærøskøbing Æble\n" * 30).encode("latin-1"))
    assert utf8_stray_bytes(path) is None


def test_a_valid_utf8_file_has_no_stray_bytes(tmp_path: Path) -> None:
    path = tmp_path / "ok.csv"
    path.write_bytes(UTF8_NAMES.encode())
    assert utf8_stray_bytes(path) is None


def test_a_header_repeated_mid_file_is_skipped_and_counted(
    ws: Workspace, write: Write, query: Query
) -> None:
    header = "Company name,City\n"
    body = header + "Acme,Boston\nGlobex,Paris\n" + header + "Initech,Austin\n"
    report = ingest(ws, write("companies.csv", body))
    names = sorted(str(r[0]) for r in query(ws, "SELECT name FROM accounts"))
    assert names == ["Acme", "Globex", "Initech"]
    assert report.rows_loaded == 3 and report.rows_quarantined == 0
    assert "line 4 repeats the header; skipped" in report.notes


def test_a_repeated_header_read_by_the_python_reader_is_skipped_too(
    ws: Workspace, write: Write, query: Query
) -> None:
    # A ragged row sends the file to the line-by-line reader instead of DuckDB's.
    header = "Company name,City\n"
    body = header + "Acme,Boston\nBroken,row,extra\n" + header + "Initech,Austin\n"
    report = ingest(ws, write("companies.csv", body))
    names = sorted(str(r[0]) for r in query(ws, "SELECT name FROM accounts"))
    assert names == ["Acme", "Initech"]
    assert report.rows_quarantined == 1
    assert "line 4 repeats the header; skipped" in report.notes
