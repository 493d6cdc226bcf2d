"""Ids are read as the CRM means them by plain string functions: an Excel float's '.0' cut,
an 18-character Salesforce id cut to its 15, a cell of several ids told from one id. Each
gives, on every value, what the regular expressions it replaced give."""

from __future__ import annotations

import duckdb
import pytest

from icpkit.ingest.pipeline import id_list_sql, id_sql

VALUES = [
    None,
    "",
    " ",
    "12345",
    "12345.0",
    "12345.00",
    "12345.0 ",
    "12.0.0",
    ".0",
    "0",
    "1.05",
    "é.0",
    "abc.0\n",
    "abc.0\nx",
    "0062E00001AbCdEQAZ",
    "0062E00001AbCdEQAZ.0",
    "0062E00001AbCdE",
    "0062E00001AbCdEQA",
    "0062E00001AbCdEQAZ1",
    "0062E00001AbCdEQ-Z",
    "0062E00001AbCdEQAé",
    "123;456",
    "123 ; 456",
    " 123;456 ",
    "123;",
    ";123",
    ";",
    "123;;456",
    "123; 456; 789",
    "Smith; Jones & Partners LLP",
    "123;\n456",
    "123\t;456",
    "a b;c",
]

# The forms the functions replaced, kept here as the specification.
_FLOAT_ID = "regexp_replace({e}, '\\.0$', '')"
_SALESFORCE = (
    "CASE WHEN regexp_full_match({e}, '[a-zA-Z0-9]{{18}}') THEN left({e}, 15) ELSE {e} END"
)
_ID_LIST = "coalesce(regexp_full_match({e}, '[^;\\s]+(\\s*;\\s*[^;\\s]+)+'), false)"


@pytest.fixture(scope="module")
def con() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("CREATE TABLE cells (i INTEGER, v VARCHAR)")
    con.executemany("INSERT INTO cells VALUES (?, ?)", list(enumerate(VALUES)))
    return con


def _both(con: duckdb.DuckDBPyConnection, new: str, old: str) -> list[tuple[object, ...]]:
    return con.execute(f"SELECT v, {new}, {old} FROM cells ORDER BY i").fetchall()


@pytest.mark.parametrize("system", ["hubspot", "salesforce", "pipedrive"])
def test_an_id_is_read_as_the_regular_expressions_read_it(
    con: duckdb.DuckDBPyConnection, system: str
) -> None:
    cell = "NULLIF(trim(v), '')"
    old = _FLOAT_ID.format(e=cell)
    if system == "salesforce":
        old = _SALESFORCE.format(e=old)
    rows = _both(con, id_sql(cell, system), old)
    for value, new, expected in rows:
        assert new == expected, (system, value)
    # The cases the rule is for: an Excel float and, in Salesforce, the 18-character form.
    got = dict((value, new) for value, new, _ in rows)
    assert got["12345.0"] == "12345"
    assert got["12.0.0"] == "12.0"
    expected_18 = "0062E00001AbCdE" if system == "salesforce" else "0062E00001AbCdEQAZ"
    assert got["0062E00001AbCdEQAZ"] == expected_18


def test_a_list_of_ids_is_told_as_the_regular_expression_tells_it(
    con: duckdb.DuckDBPyConnection,
) -> None:
    for cell in ("v", "trim(v)"):
        rows = _both(con, id_list_sql(cell), _ID_LIST.format(e=cell))
        for value, new, expected in rows:
            assert new is expected, (cell, value)
    lists = {v for v, new, _ in _both(con, id_list_sql("trim(v)"), "0") if new}
    assert lists == {"123;456", "123 ; 456", " 123;456 ", "123; 456; 789", "123;\n456", "123\t;456"}
