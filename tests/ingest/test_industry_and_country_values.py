"""Industry and country columns as stored: unknown industries kept as written (never
quarantined), code columns read as NAICS or SIC, countries read from names, states and typos."""

from __future__ import annotations

import pytest

from icpkit.workspace import Workspace

HEADER = "Record ID,Company name,Company Domain Name,Industry,Country,Lifecycle Stage\n"


def _ingest(ws: Workspace, path: object) -> object:
    result = ws.ingest([path])  # type: ignore[list-item]
    assert result.ok, result.failures
    return result.files[0]


@pytest.mark.slow
def test_an_industry_outside_the_taxonomy_is_kept_as_written_and_listed(query, ws, write) -> None:
    rows = [
        "1,A,a.com,Basket weaving,US,customer",
        "2,B,b.com,Basket  weaving,US,customer",
        "3,C,c.com,Widgets,US,customer",
        "4,D,d.com,medical,US,customer",
        "5,E,e.com,IT Management,US,customer",
    ]
    report = _ingest(ws, write("companies.csv", HEADER + "\n".join(rows) + "\n"))
    stored = query(
        ws, "SELECT account_key, industry, industry_sector, industry_raw FROM accounts ORDER BY 1"
    )
    assert stored == [
        ("a.com", "Basket weaving", None, "Basket weaving"),
        ("b.com", "Basket weaving", None, "Basket  weaving"),
        ("c.com", "Widgets", None, "Widgets"),
        ("d.com", "Health Care", "Health Care and Social Assistance", "medical"),
        (
            "e.com",
            "IT Services",
            "Professional, Scientific, and Technical Services",
            "IT Management",
        ),
    ]
    assert report.problems == []  # type: ignore[attr-defined]
    assert query(ws, "SELECT count(*) FROM quarantine") == [(0,)]
    (note,) = [n for n in report.notes if "not in the taxonomy" in n]  # type: ignore[attr-defined]
    assert "2 industry values (3 rows)" in note
    assert note.index("Basket weaving (2)") < note.index("Widgets (1)")


def test_an_industry_column_of_sic_codes_is_read_as_sic(query, ws, write) -> None:
    rows = [
        "1,A,a.com,7372,US,customer",
        "2,B,b.com,5411,US,customer",
        "3,C,c.com,2834,US,customer",
    ]
    _ingest(ws, write("companies.csv", HEADER + "\n".join(rows) + "\n"))
    assert query(ws, "SELECT account_key, industry FROM accounts ORDER BY 1") == [
        ("a.com", "Software"),
        ("b.com", "Retail Trade"),  # SIC 5411 Grocery Stores, not NAICS 5411 Legal Services
        ("c.com", "Pharmaceuticals"),
    ]


def test_a_country_column_of_us_states_reads_ambiguous_codes_as_states(query, ws, write) -> None:
    rows = [
        "1,A,a.com,Software,TX,customer",
        "2,B,b.com,Software,CA,customer",
        "3,C,c.com,Software,NY,customer",
        "4,D,d.com,Software,DE,customer",
        "5,E,e.com,Software,Florida,customer",
    ]
    _ingest(ws, write("companies.csv", HEADER + "\n".join(rows) + "\n"))
    assert query(ws, "SELECT DISTINCT country FROM accounts") == [("US",)]


def test_misspelt_and_foreign_country_names_are_recognized_not_quarantined(
    query, ws, write
) -> None:
    rows = [
        "1,A,a.com,Software,Philipines,customer",
        "2,B,b.com,Software,Deutschland,customer",
        '3,C,c.com,Software,"Berlin, Germany",customer',
        "4,D,d.com,Software,U.S.A.,customer",
        "5,E,e.com,Software,Mars,customer",
    ]
    report = _ingest(ws, write("companies.csv", HEADER + "\n".join(rows) + "\n"))
    assert query(ws, "SELECT account_key, country FROM accounts ORDER BY 1") == [
        ("a.com", "PH"),
        ("b.com", "DE"),
        ("c.com", "DE"),
        ("d.com", "US"),
        ("e.com", None),
    ]
    problems = [(p.line, p.value, p.reason) for p in report.problems]  # type: ignore[attr-defined]
    assert problems == [(6, "Mars", "unknown country 'Mars'")]
