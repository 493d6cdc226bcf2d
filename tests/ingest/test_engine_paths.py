"""The shortcuts ingestion takes in the engine give what the long way gives: line numbers
without a running sum, ISO dates counted instead of listed, the first row of each key kept
by aggregation, accounts of one row taken as they are, mojibake looked for only in text that
is not ASCII."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from icpkit.ingest.normalize.dates import infer_date_order
from icpkit.ingest.report import FileReport
from icpkit.workspace import Workspace

DEALS = "Record ID,Deal Name,Deal Stage,Amount,Close Date,Create Date,Associated Company\n"
SIGNALS = "Company Domain Name,Company name,Signal Type,Signal Date,Detail\n"
COMPANIES = "Record ID,Company name,Company Domain Name,Number of Employees,Industry\n"


def ingest_one(ws: Workspace, path: Path) -> FileReport:
    result = ws.ingest([path])
    assert result.ok, result.failures
    return result.files[0]


@pytest.mark.parametrize(
    ("values", "iso"),
    [
        (["45356", "45357"], ["2024-01-01", "2024-01-02", "2024-01-03"]),  # ISO outnumber serials
        (["45356", "45357", "45358"], ["2024-01-01"]),  # serials outnumber ISO
        (["01/02/2024", "25/03/2024"], ["2024-01-01 10:00"]),
        (["01.02.2024", "03/04/2024"], ["2024-01-01", "2024-05-06T07:08:09"]),
        (["45356"], ["2024-01-01"]),  # a tie: serial
        ([], ["2024-01-01"]),
    ],
)
def test_iso_dates_counted_decide_the_order_as_iso_dates_listed(
    values: list[str], iso: list[str]
) -> None:
    assert infer_date_order(values, iso_dates=len(iso)) == infer_date_order(values + iso)


def test_a_few_serials_in_a_column_of_iso_dates_are_quarantined_not_read_as_days(
    ws: Workspace, write, query
) -> None:
    rows = [
        f"{i},D{i},Closed Won,100,{close},2024-01-01,Acme\n"
        for i, close in enumerate(
            ["2024-02-01", "2024-02-02", "2024-02-03", "45356", "45357"], start=1
        )
    ]
    report = ingest_one(ws, write("deals.csv", DEALS + "".join(rows)))
    bad = [(p.line, p.value) for p in report.problems if p.column == "Close Date"]
    assert bad == [(5, "45356"), (6, "45357")]
    closed = query(ws, "SELECT source_id, closed_at IS NULL FROM deals ORDER BY 1")
    assert closed == [("1", False), ("2", False), ("3", False), ("4", True), ("5", True)]


@pytest.mark.parametrize("multiline", [False, True])
def test_quarantined_rows_name_their_physical_line_with_or_without_cells_spanning_lines(
    ws: Workspace, write, multiline: bool
) -> None:
    name = '"Two\nline name"' if multiline else "One line name"
    text = (
        DEALS
        + f"1,{name},Closed Won,100,2024-02-01,2024-01-01,Acme\n"
        + "2,B,Closed Won,100,2024-02-01,2024-01-01,Acme\n"
        + "3,C,Closed Won,-5,2024-02-01,2024-01-01,Acme\n"
    )
    report = ingest_one(ws, write("deals.csv", text))
    problems = [(p.line, p.value) for p in report.problems]
    assert problems == [(5 if multiline else 4, "-5")]


def test_every_deal_with_an_id_is_keyed_by_it_and_one_without_by_its_content(
    ws: Workspace, write, query
) -> None:
    text = (
        DEALS
        + "1,A,Closed Won,100,2024-02-01,2024-01-01,Acme\n"
        + ",B,Closed Lost,100,2024-02-01,2024-01-01,Acme\n"
    )
    ingest_one(ws, write("deals.csv", text))
    identity = "|".join(["acme", "", "b", "2024-01-01 00:00:00"])
    expected = "deal:" + hashlib.md5(identity.encode()).hexdigest()
    keys = query(ws, "SELECT name, deal_key FROM deals ORDER BY name")
    assert keys == [("A", "generic:1"), ("B", expected)]


def test_deals_all_with_ids_get_no_content_key(ws: Workspace, write, query) -> None:
    text = DEALS + "".join(
        f"{i},D{i},Closed Won,100,2024-02-01,2024-01-01,Acme\n" for i in range(1, 4)
    )
    ingest_one(ws, write("deals.csv", text))
    assert query(ws, "SELECT deal_key FROM deals ORDER BY 1") == [
        ("generic:1",),
        ("generic:2",),
        ("generic:3",),
    ]


def test_repeated_signals_load_once_as_their_first_line(ws: Workspace, write, query) -> None:
    text = (
        SIGNALS
        + "acme.io,Acme,job_posting,2024-01-02,SDR\n"
        + "acme.io,Acme,job_posting,2024-01-03,SDR\n"
        + "acme.io,Acme,job_posting,2024-01-02,SDR\n"
        + "globex.com,Globex,funding,2024-01-02,Series A\n"
        + "acme.io,Acme,job_posting,2024-01-02,SDR\n"
    )
    report = ingest_one(ws, write("signals.csv", text))
    assert report.duplicates_merged == 2
    rows = query(ws, "SELECT account_key, observed_at::DATE::VARCHAR, source_line FROM signals")
    assert sorted(rows) == [
        ("acme.io", "2024-01-02", 2),
        ("acme.io", "2024-01-03", 3),
        ("globex.com", "2024-01-02", 5),
    ]


# Signal types as exports write them, and the name each is stored under.
WRITTEN_TYPES = {
    "Web Visit": "web_visit",
    " web-visit ": "web_visit",
    "WEB_VISIT": "web_visit",
    "Funding Round!": "funding_round_",
    "Tech  Added": "tech_added",
    "Führungswechsel": "f_hrungswechsel",
}


@pytest.mark.parametrize("extra_types", [0, 80], ids=["looked-up", "past-the-lookup"])
def test_signal_types_are_stored_by_one_name_whether_looked_up_or_computed_per_row(
    ws: Workspace, write, query, extra_types: int
) -> None:
    """A handful of distinct types is named once each and looked up per row; past the
    lookup's size every row's type is computed: both store the same names."""
    written = [*WRITTEN_TYPES, *(f"Custom Type {i}" for i in range(extra_types))]
    rows = [
        f'acme.io,Acme,"{kind}",2024-01-{1 + i % 28:02d},note {i}\n'
        for i, kind in enumerate(written)
    ]
    ingest_one(ws, write("signals.csv", SIGNALS + "".join(rows)))
    stored = query(ws, "SELECT source_line, signal_type FROM signals ORDER BY source_line")
    expected = [*WRITTEN_TYPES.values(), *(f"custom_type_{i}" for i in range(extra_types))]
    assert stored == [(line, kind) for line, kind in enumerate(expected, start=2)]


def test_an_account_of_several_rows_takes_each_first_value_and_one_of_one_row_its_own(
    ws: Workspace, write, query
) -> None:
    text = (
        COMPANIES
        + "1,Acme,acme.io,,Retail\n"
        + "2,Acme Inc,acme.io,50,\n"
        + "3,Acme Corp,acme.io,70,Banking\n"
        + "4,Globex,globex.com,,Banking\n"
    )
    ingest_one(ws, write("companies.csv", text))
    rows = query(
        ws,
        "SELECT account_key, name, employees, industry_raw, source_line FROM accounts ORDER BY 1",
    )
    assert rows == [
        ("acme.io", "Acme", 50, "Retail", 2),
        ("globex.com", "Globex", None, "Banking", 5),
    ]


def test_mojibake_is_repaired_in_a_column_that_also_holds_clean_accents(
    ws: Workspace, write, query
) -> None:
    text = (
        COMPANIES
        + "1,agÃ¡mi,agami.io,10,Retail\n"
        + "2,Zoë Café,zoe.io,10,Retail\n"
        + "3,Plain,plain.io,10,Retail\n"
    )
    report = ingest_one(ws, write("companies.csv", text))
    names = query(ws, "SELECT name FROM accounts ORDER BY account_key")
    assert names == [("agámi",), ("Plain",), ("Zoë Café",)]
    assert any("repaired 1 cell" in n and "'agÃ¡mi' -> 'agámi'" in n for n in report.notes)
