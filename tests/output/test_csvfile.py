"""The one CSV writer: text that a spreadsheet would run as a formula is written as text."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import duckdb
import pytest

from icpkit.output.csvfile import csv_text, neutralize, neutralize_sql, write_csv

# (cell, as written): OWASP's triggers, after spaces and in full-width forms; numbers as they are.
CASES = [
    ('=HYPERLINK("http://x","y")', '\'=HYPERLINK("http://x","y")'),
    ("+1+1", "'+1+1"),
    ("-2+3", "'-2+3"),
    ("@SUM(A1)", "'@SUM(A1)"),
    ("\t=1", "'\t=1"),
    ("\r=1", "'\r=1"),
    ("  =1", "'  =1"),
    (" \t=1", "' \t=1"),
    ("＝1", "'＝1"),
    ("＋1", "'＋1"),
    ("－1", "'－1"),
    ("＠x", "'＠x"),
    ("   ＠x", "'   ＠x"),
    ("-", "'-"),
    ("-12.5", "-12.5"),
    ("+5", "+5"),
    (" -3 ", " -3 "),
    ("1e5", "1e5"),
    ("Acme = best", "Acme = best"),
    ("'=1", "'=1"),
    ("", ""),
    (" ", " "),
]


@pytest.mark.parametrize(("cell", "written"), CASES)
def test_a_text_cell_that_would_run_as_a_formula_gets_a_quote(cell: str, written: str) -> None:
    assert neutralize(cell) == written


def test_values_that_are_not_text_are_left_as_they_are() -> None:
    assert [neutralize(v) for v in (-12.5, -3, None, True)] == [-12.5, -3, None, True]


def test_the_sql_expression_agrees_with_the_python_one() -> None:
    con = duckdb.connect()
    con.execute("CREATE TABLE t (i INTEGER, x VARCHAR)")
    con.executemany("INSERT INTO t VALUES (?, ?)", [[i, c] for i, (c, _) in enumerate(CASES)])
    con.execute("INSERT INTO t VALUES (-1, NULL)")
    got = dict(con.execute(f"SELECT i, {neutralize_sql('x')} FROM t").fetchall())
    assert got == {**{i: w for i, (_, w) in enumerate(CASES)}, -1: None}


def test_the_sql_expression_casts_a_number_to_text_unchanged() -> None:
    con = duckdb.connect()
    assert con.execute(f"SELECT {neutralize_sql('-12.5::DOUBLE')}").fetchone() == ("-12.5",)


def test_written_csv_keeps_numbers_and_neutralizes_text(tmp_path: Path) -> None:
    rows = [{"name": "=1+1", "amount": -12.5}, {"name": "Acme", "amount": 3}]
    out = tmp_path / "rows.csv"
    assert write_csv(rows, ["name", "amount"], out) == 2
    with out.open(encoding="utf-8", newline="") as fh:
        back = list(csv.DictReader(fh))
    assert back == [{"name": "'=1+1", "amount": "-12.5"}, {"name": "Acme", "amount": "3"}]
    assert [p.name for p in tmp_path.iterdir()] == ["rows.csv"]


def test_csv_to_a_stream_is_the_same_text() -> None:
    rows = [{"a": "@x", "b": 1}]
    stream = io.StringIO()
    write_csv(rows, ["a", "b"], stream)
    assert stream.getvalue() == csv_text(rows, ["a", "b"]) == "a,b\r\n'@x,1\r\n"
