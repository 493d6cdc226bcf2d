"""A company universe is read like an ingested export: a raw CRM or list-vendor file (any
encoding, country names, revenue written '36.9 Million') sizes the same TAM, finds the same
lookalikes and scores the same as the same companies in the scorer's input layout, and
values that cannot be read are reported with file, line, column and value."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from icpkit.operate.tam import TamResult
from icpkit.operate.universe import UniverseError

from .conftest import AS_OF, Demo

HUBSPOT = {
    "Company name": "name",
    "Company Domain Name": "account_key",
    "Number of Employees": "employees",
    "Annual Revenue": "revenue",
    "Industry": "industry",
    "Country/Region": "country",
    "Web Technologies": "technologies",
    "Year Founded": "founded_year",
    "Total Money Raised": "total_funding",
    "Latest Funding Stage": "funding_stage",
}
US_NAMES = ("USA", "United States", "U.S.", "US")


def _cell(column: str, value: Any, i: int) -> str:
    """A universe value written as a CRM export would: country names, revenue in words."""
    if value is None:
        return ""
    if column == "country" and value == "US":
        return US_NAMES[i % len(US_NAMES)]
    if column == "revenue" and i % 2:
        return f"{value / 1e6:.12g} Million"
    if column == "technologies":
        return "; ".join(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _raw_export(demo: Demo, path: Path, rows: int | None = None) -> list[dict[str, str]]:
    """The demo universe as a HubSpot company export in cp1252 (a name with 'é' in it)."""
    table = pq.read_table(demo.universe.path)
    records = table.slice(0, rows).to_pylist() if rows else table.to_pylist()
    out = [
        {header: _cell(column, r[column], i) for header, column in HUBSPOT.items()}
        for i, r in enumerate(records)
    ]
    out[0]["Company name"] += " Café"
    _write(path, out)
    return out


def _write(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open("w", encoding="cp1252", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


@pytest.fixture(scope="module")
def raw(demo: Demo, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("raw") / "companies.csv"
    _raw_export(demo, path)
    assert b"Caf\xe9" in path.read_bytes()  # cp1252, not UTF-8
    return path


@pytest.fixture(scope="module")
def tam_of_input_layout(demo: Demo) -> TamResult:
    return demo.ws.tam(demo.universe.path, as_of=AS_OF)


@pytest.mark.slow
def test_the_tam_of_a_raw_export_is_the_tam_of_the_same_companies_in_the_input_layout(
    demo: Demo, raw: Path, tam_of_input_layout: TamResult
) -> None:
    result = demo.ws.tam(raw, as_of=AS_OF)
    expected = tam_of_input_layout.current
    assert expected.tam == demo.universe.n_icp > 0  # 'USA' no longer sizes the TAM at 0
    assert result.current == expected
    assert not [w for w in result.warnings if w.startswith("unreadable")]


@pytest.mark.slow
def test_an_input_layout_universe_with_country_names_sizes_the_same_tam(
    demo: Demo, tmp_path: Path, tam_of_input_layout: TamResult
) -> None:
    path = tmp_path / "universe.csv"
    records = pq.read_table(demo.universe.path).to_pylist()
    rows = [{c: _cell(c, v, i) for c, v in r.items()} for i, r in enumerate(records)]
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    assert demo.ws.tam(path, as_of=AS_OF).current == tam_of_input_layout.current


@pytest.mark.slow
def test_lookalikes_of_a_raw_export_are_those_of_the_input_layout(demo: Demo, raw: Path) -> None:
    expected = demo.ws.lookalikes(demo.universe.path, top=20, k=5)
    found = demo.ws.lookalikes(raw, top=20, k=5)
    assert [h.similarity for h in found] == pytest.approx([h.similarity for h in expected])
    cut = expected[-1].similarity  # ties at the cut may come in another order
    assert {h.account_key for h in found if h.similarity > cut} == {
        h.account_key for h in expected if h.similarity > cut
    }


@pytest.mark.slow
def test_scoring_a_raw_export_gives_the_scores_of_the_input_layout(
    demo: Demo, tmp_path: Path
) -> None:
    path = tmp_path / "companies.csv"
    _raw_export(demo, path, rows=500)
    small = tmp_path / "universe.parquet"
    pq.write_table(pq.read_table(demo.universe.path).slice(0, 500), small)
    expected = {r["account_key"]: r for r in demo.ws.score_file(small, as_of=AS_OF).rows()}
    scored = demo.ws.score_file(path, as_of=AS_OF).rows()
    assert len(scored) == 500
    for row in scored:
        want = expected[row["account_key"]]
        assert (row["score"], row["tier"], row["route"]) == (
            want["score"],
            want["tier"],
            want["route"],
        ), row["account_key"]


@pytest.mark.slow
def test_values_a_raw_universe_cannot_read_are_reported_with_line_column_and_value(
    demo: Demo, tmp_path: Path
) -> None:
    path = tmp_path / "companies.csv"
    rows = _raw_export(demo, path, rows=50)
    rows[3]["Number of Employees"] = "lots"  # line 5: the header is line 1
    rows[7]["Number of Employees"] = "a few"
    rows[9]["Country/Region"] = "Atlantis"
    _write(path, rows)
    result = demo.ws.tam(path, as_of=AS_OF)
    unreadable = [w for w in result.warnings if w.startswith("unreadable: ")]
    assert (
        "unreadable: companies.csv, line 5, column 'Number of Employees', value 'lots': "
        "not an employee count: 'lots'; 2 such values read as unknown (also 'a few')"
    ) in unreadable
    assert any(
        "line 11, column 'Country/Region', value 'Atlantis'" in w and "1 such values" in w
        for w in unreadable
    )
    assert result.current.universe == 50  # the rows are kept, their bad cells unknown
    warnings: list[str] = []
    demo.ws.lookalikes(path, top=5, warnings=warnings)
    assert [w for w in warnings if w.startswith("unreadable: ")] == unreadable


@pytest.mark.slow
def test_a_file_that_is_no_company_list_says_what_a_universe_is(demo: Demo, tmp_path: Path) -> None:
    path = tmp_path / "numbers.csv"
    path.write_text("x,y\n1,2\n", encoding="utf-8")
    with pytest.raises(UniverseError, match="a universe is a company list"):
        demo.ws.tam(path, as_of=AS_OF)


@pytest.mark.slow
def test_an_xlsx_universe_in_the_input_layout_names_the_sheet_row_of_a_bad_value(
    demo: Demo, tmp_path: Path
) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["account_key", "employees", "country"])
    sheet.append(["a.io", 120, "USA"])
    sheet.append(["b.io", "many", "US"])  # sheet row 3
    path = tmp_path / "universe.xlsx"
    book.save(path)
    result = demo.ws.tam(path, as_of=AS_OF)
    assert result.current.universe == 2
    assert (
        "unreadable: universe.xlsx, row 3, column 'employees', value 'many': not an employee "
        "count: 'many'; 1 such values read as unknown"
    ) in result.warnings
