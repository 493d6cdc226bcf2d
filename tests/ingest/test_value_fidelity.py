"""Values keep their meaning through ingest: a ';' in a company name, European thousands
separators, dotted dates and a repeated header never change what a cell says without a word."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest

from icpkit.ingest.report import FileReport
from icpkit.workspace import Workspace

Write = Callable[[str, str], Path]
DEALS = "Record ID,Deal Name,Deal Stage,Amount,Close Date,Create Date"


def _ingest(ws: Workspace, path: Path) -> FileReport:
    result = ws.ingest([path])
    assert result.ok, result.failures
    return result.files[0]


def _deals(rows: list[str], extra_header: str = "") -> str:
    return "\n".join([DEALS + extra_header, *rows]) + "\n"


def test_a_semicolon_inside_a_company_name_keeps_the_whole_name(query, ws, write: Write) -> None:
    path = write(
        "deals.csv",
        _deals(
            [
                '1,A,closedwon,100,2023-01-05,2022-12-01,"Smith; Jones & Partners LLP"',
                "2,B,closedlost,200,2023-01-06,2022-12-01,Acme",
            ],
            ",Associated Company",
        ),
    )
    _ingest(ws, path)
    names = {r[0] for r in query(ws, "SELECT name FROM accounts")}
    assert "Smith; Jones & Partners LLP" in names
    assert "Smith" not in names


@pytest.mark.slow
def test_a_name_with_a_semicolon_beside_a_single_company_id_stays_whole(
    query, ws, write: Write
) -> None:
    path = write(
        "deals.csv",
        _deals(
            ['1,A,closedwon,100,2023-01-05,2022-12-01,77,"Smith; Jones & Partners LLP"'],
            ",Associated Company IDs,Associated Company",
        ),
    )
    _ingest(ws, path)
    assert query(ws, "SELECT company_source_id FROM deals") == [("77",)]
    assert query(ws, "SELECT name FROM accounts") == [("Smith; Jones & Partners LLP",)]


@pytest.mark.slow
def test_an_association_list_links_the_primary_company_and_counts_the_others(
    query, ws, write: Write
) -> None:
    path = write(
        "deals.csv",
        _deals(
            [
                "1,A,closedwon,100,2023-01-05,2022-12-01,11;12;13,Indigo Bank;Arbor Bank;Helix",
                "2,B,closedlost,200,2023-01-06,2022-12-01,21;22,Keystone Capital;Evergreen",
                "3,C,closedlost,300,2023-01-07,2022-12-01,31,Orchard Capital",
            ],
            ",Associated Company IDs,Associated Company",
        ),
    )
    report = _ingest(ws, path)
    links = dict(query(ws, "SELECT source_id, company_source_id FROM deals"))
    assert links == {"1": "11", "2": "21", "3": "31"}
    names = {r[0] for r in query(ws, "SELECT name FROM accounts")}
    assert {"Indigo Bank", "Keystone Capital", "Orchard Capital"} <= names
    assert not any(";" in n for n in names)
    note = next(n for n in report.notes if "several associated companies" in n)
    assert "2 rows" in note and "other 3" in note


def _amounts(query, ws: Workspace) -> dict[str, float]:
    return {str(k): float(v) for k, v in query(ws, "SELECT source_id, amount FROM deals")}


def test_a_lone_euro_amount_with_a_dot_before_three_digits_is_thousands(
    query, ws, write: Write
) -> None:
    path = write(
        "deals.csv",
        _deals(
            [
                "1,A,closedwon,€12.500,2023-01-05,2022-12-01",
                "2,B,closedlost,$12.500,2023-01-06,2022-12-01",
            ]
        ),
    )
    report = _ingest(ws, path)
    assert _amounts(query, ws) == {"1": 12_500.0, "2": 12.5}
    note = next(n for n in report.notes if "'€12.500'" in n)
    assert "between thousands" in note
    assert "'$12.500'" in note and "decimal point" in note


def test_a_column_writing_decimal_commas_reads_plain_dotted_amounts_as_thousands(
    query, ws, write: Write
) -> None:
    path = write(
        "deals.csv",
        _deals(
            [
                '1,A,closedwon,"1.234,56",2023-01-05,2022-12-01',
                "2,B,closedlost,12.500,2023-01-06,2022-12-01",
                '3,C,closedlost,"12,5",2023-01-07,2022-12-01',
                "4,D,closedlost,900,2023-01-07,2022-12-01",
            ]
        ),
    )
    report = _ingest(ws, path)
    assert _amounts(query, ws) == {"1": 1234.56, "2": 12_500.0, "3": 12.5, "4": 900.0}
    assert any("'12.500'" in n and "decimal separator" in n for n in report.notes)


def test_a_column_writing_decimal_points_reads_plain_dotted_amounts_as_decimals(
    query, ws, write: Write
) -> None:
    path = write(
        "deals.csv",
        _deals(
            [
                '1,A,closedwon,"1,234.56",2023-01-05,2022-12-01',
                "2,B,closedlost,12.500,2023-01-06,2022-12-01",
                "3,C,closedlost,99.95,2023-01-07,2022-12-01",
            ]
        ),
    )
    _ingest(ws, path)
    assert _amounts(query, ws) == {"1": 1234.56, "2": 12.5, "3": 99.95}


def test_dotted_dates_are_day_first_even_beside_month_first_slash_dates(
    query, ws, write: Write
) -> None:
    path = write(
        "deals.csv",
        _deals(
            [
                "1,A,closedwon,100,05.03.2023,2022-12-01",
                "2,B,closedlost,200,04/13/2023,2022-12-01",
                "3,C,closedlost,300,04/03/2023,2022-12-01",
            ]
        ),
    )
    report = _ingest(ws, path)
    closed = dict(query(ws, "SELECT source_id, closed_at FROM deals"))
    assert closed == {
        "1": dt.datetime(2023, 3, 5),
        "2": dt.datetime(2023, 4, 13),
        "3": dt.datetime(2023, 4, 3),
    }
    assert any("dotted dates" in n for n in report.notes)


def test_a_repeated_header_maps_the_copy_whose_values_read_and_names_both(
    query, ws, write: Write
) -> None:
    header = "Record ID,Deal Name,Deal Stage,Amount,Amount,Close Date"
    rows = [
        "1,A,closedwon,,100,2023-01-05",
        "2,B,closedlost,n/a,200,2023-01-06",
        "3,C,closedlost,,300,2023-01-07",
    ]
    report = _ingest(ws, write("deals.csv", "\n".join([header, *rows]) + "\n"))
    assert report.layout is not None
    assert report.layout.column_of("amount") == "Amount (2)"
    assert _amounts(query, ws) == {"1": 100.0, "2": 200.0, "3": 300.0}
    note = next(n for n in report.notes if "appears 2 times" in n)
    assert "'Amount (2)'" in note and "'Amount' (blank)" in note


def test_a_repeated_header_whose_first_copy_holds_text_maps_the_numbers(
    query, ws, write: Write
) -> None:
    header = "Record ID,Deal Name,Deal Stage,Amount,Amount,Close Date"
    rows = [
        "1,A,closedwon,big,100,2023-01-05",
        "2,B,closedlost,small,200,2023-01-06",
    ]
    report = _ingest(ws, write("deals.csv", "\n".join([header, *rows]) + "\n"))
    assert report.layout is not None
    assert report.layout.column_of("amount") == "Amount (2)"
    assert _amounts(query, ws) == {"1": 100.0, "2": 200.0}
    assert any("'Amount (2)'" in n and "'Amount' (0% of values read)" in n for n in report.notes)
    assert "Amount" in report.layout.unmapped  # the other copy is kept, not dropped


def test_european_employee_counts_are_thousands(query, ws, write: Write) -> None:
    rows = ["Company name,Company Domain Name,Number of Employees"]
    rows += ["Alpha,alpha.de,10.000+", "Beta,beta.de,1.000-5.000", "Gamma,gamma.de,2.500"]
    _ingest(ws, write("companies.csv", "\n".join(rows) + "\n"))
    counts = {
        r[0]: r[1:] for r in query(ws, "SELECT name, employees_low, employees_high FROM accounts")
    }
    assert counts == {
        "Alpha": (10_000, None),
        "Beta": (1_000, 5_000),
        "Gamma": (2_500, 2_500),
    }


def test_a_stage_that_negates_a_win_is_quarantined_not_read_as_won(query, ws, write: Write) -> None:
    path = write(
        "deals.csv",
        _deals(
            [
                "1,A,Closed - not won,100,2023-01-05,2022-12-01",
                "2,B,closedwon,200,2023-01-06,2022-12-01",
            ]
        ),
    )
    report = _ingest(ws, path)
    assert query(ws, "SELECT outcome FROM deals WHERE source_id = '1'") != [("won",)]
    assert any(
        p.value == "Closed - not won" and "negates a win" in p.reason for p in report.problems
    )
