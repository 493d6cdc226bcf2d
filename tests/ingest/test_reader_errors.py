"""Files that are hard to read: very wide, damaged, laid out for people, not tables at all.

Each either loads what can be read (saying what was set aside) or stops with one clear
message naming the file; none ends in a traceback, and one bad file never hides the others.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from helpers import run_query
from icpkit.ingest.problems import IngestError
from icpkit.ingest.readers import find_header_row, open_table
from icpkit.workspace import Workspace

COMPANY_HEADER = ["Company name", "Website", "Industry", "Number of Employees", "Country"]


def company_row(i: int) -> list[str]:
    return [f"Acme {i}", f"acme{i}.com", "Software", str(10 + i), "US"]


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)
    return path


def failure_messages(result: object) -> dict[str, str]:
    return {path.name: str(error) for path, error in result.failures}  # type: ignore[attr-defined]


# --- wide files ------------------------------------------------------------------------------


@pytest.mark.slow
def test_csv_of_2000_columns_loads_with_every_column_kept(ws: Workspace, tmp_path: Path) -> None:
    extra = [f"attr_{i}" for i in range(1995)]
    rows = [COMPANY_HEADER + extra]
    rows += [company_row(i) + [f"v{i}_{k}" for k in range(1995)] for i in range(20)]
    path = write_csv(tmp_path / "in" / "wide.csv", rows)

    result = ws.ingest([path])

    assert not result.failures, failure_messages(result)
    assert result.files[0].rows_loaded == 20
    stored = run_query(
        ws, "SELECT extra FROM accounts WHERE domain = 'acme7.com'"
    )  # a single account
    kept = json.loads(str(stored[0][0]))
    assert len(kept) == 1995
    assert kept["attr_0"] == "v7_0" and kept["attr_1994"] == "v7_1994"


@pytest.mark.slow
def test_a_broken_file_between_two_good_ones_hides_neither(
    ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = write_csv(tmp_path / "in" / "first.csv", [COMPANY_HEADER, company_row(1)])
    broken = write_csv(tmp_path / "in" / "broken.csv", [COMPANY_HEADER, company_row(2)])
    last = write_csv(tmp_path / "in" / "last.csv", [COMPANY_HEADER, company_row(3)])
    import icpkit.ingest.pipeline as pipeline

    real_stage = pipeline.stage_raw

    def stage(con, table, *args, **kwargs):  # type: ignore[no-untyped-def]
        if table.path.name == "broken.csv":
            raise RuntimeError("something no one foresaw")
        return real_stage(con, table, *args, **kwargs)

    monkeypatch.setattr(pipeline, "stage_raw", stage)

    result = ws.ingest([first, broken, last])

    assert [r.path.name for r in result.files] == ["first.csv", "last.csv"]
    assert all(r.rows_loaded == 1 for r in result.files)
    message = failure_messages(result)["broken.csv"]
    assert "something no one foresaw" in message and "--debug" in message
    domains = {r[0] for r in run_query(ws, "SELECT domain FROM accounts")}
    assert domains == {"acme1.com", "acme3.com"}


# --- Parquet ---------------------------------------------------------------------------------


def parquet_with_a_damaged_group(path: Path, *, groups: int = 5, size: int = 100) -> Path:
    """A Parquet file of ``groups`` row groups whose third group's pages are overwritten."""
    n = groups * size
    table = pa.table(
        {
            "Company name": [f"Acme {i}" for i in range(n)],
            "Website": [f"acme{i}.com" for i in range(n)],
            "Number of Employees": [10 + i for i in range(n)],
        }
    )
    pq.write_table(table, path, row_group_size=size)
    group = pq.ParquetFile(path).metadata.row_group(2)
    data = bytearray(path.read_bytes())
    for j in range(group.num_columns):
        chunk = group.column(j)
        start = chunk.dictionary_page_offset or chunk.data_page_offset
        data[start : start + chunk.total_compressed_size] = b"\xab" * chunk.total_compressed_size
    path.write_bytes(bytes(data))
    return path


def test_parquet_with_a_damaged_row_group_loads_the_others_and_names_it(
    ws: Workspace, tmp_path: Path
) -> None:
    path = parquet_with_a_damaged_group(tmp_path / "companies.parquet")

    result = ws.ingest([path])

    assert not result.failures, failure_messages(result)
    report = result.files[0]
    assert report.rows_read == 500
    assert report.rows_loaded == 400
    assert report.rows_quarantined == 100
    assert any("row group 3 of 5 (rows 201-300) cannot be read" in n for n in report.notes)
    set_aside = [p for p in report.problems if p.scope == "row"]
    assert sorted(p.line for p in set_aside) == list(range(201, 301))
    assert all("row group 3 of 5" in p.reason for p in set_aside)
    domains = {r[0] for r in run_query(ws, "SELECT domain FROM accounts")}
    assert "acme199.com" in domains and "acme300.com" in domains
    assert "acme200.com" not in domains  # row 201 is the group's first


def test_a_file_named_parquet_that_is_not_parquet_says_so(tmp_path: Path) -> None:
    path = tmp_path / "export.parquet"
    path.write_bytes(bytes(range(256)) * 8)
    with pytest.raises(IngestError) as caught:
        open_table(path)
    assert "not a table" in str(caught.value) and "not a Parquet file" in str(caught.value)


def test_a_truncated_parquet_file_says_its_footer_is_missing(tmp_path: Path) -> None:
    path = tmp_path / "cut.parquet"
    pq.write_table(pa.table({"Company name": ["Acme"] * 100}), path)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(IngestError) as caught:
        open_table(path)
    assert "truncated" in str(caught.value)


# --- XLSX ------------------------------------------------------------------------------------


def save_workbook(path: Path, sheets: dict[str, list[list[object]]]) -> Path:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    book.save(path)
    return path


def test_xlsx_with_a_title_row_and_the_header_on_row_4_loads(ws: Workspace, tmp_path: Path) -> None:
    rows: list[list[object]] = [
        ["Exported from CRM"],
        ["Generated:", "2024-05-01"],
        [],
        COMPANY_HEADER,
        *[company_row(i) for i in range(6)],
    ]
    path = save_workbook(tmp_path / "accounts.xlsx", {"Accounts": rows})

    result = ws.ingest([path])

    assert not result.failures, failure_messages(result)
    report = result.files[0]
    assert report.rows_loaded == 6
    assert any("the header is row 4" in n and "Exported from CRM" in n for n in report.notes)
    problems = [p for p in report.problems if p.scope == "row"]
    assert not problems
    assert report.problems == [] or all(p.line and p.line > 4 for p in report.problems)


def test_xlsx_whose_first_sheet_is_a_cover_page_reads_the_sheet_with_records(
    ws: Workspace, tmp_path: Path
) -> None:
    path = save_workbook(
        tmp_path / "book.xlsx",
        {
            "Cover": [["Quarterly account review"], ["Prepared by Sales Ops"]],
            "Accounts": [COMPANY_HEADER, *[company_row(i) for i in range(4)]],
        },
    )

    result = ws.ingest([path])

    assert not result.failures, failure_messages(result)
    report = result.files[0]
    assert report.rows_loaded == 4
    assert any("read sheet 'Accounts'" in n and "--sheet" in n for n in report.notes)


def test_xlsx_that_still_fails_lists_its_sheets_and_the_likely_header_row(
    ws: Workspace, tmp_path: Path
) -> None:
    path = save_workbook(
        tmp_path / "book.xlsx",
        {
            "Cover": [["Quarterly account review"]],
            "Accounts": [COMPANY_HEADER, *[company_row(i) for i in range(4)]],
        },
    )

    result = ws.ingest([path], sheet="Cover")

    message = failure_messages(result).get("book.xlsx") or ""
    if not message:  # skipped as unrecognized rather than failed: the reason says it
        message = result.files[0].skipped or ""
    assert "'Cover' (1 row x 1 column" in message
    assert "'Accounts' (5 rows x 5 columns, header likely on row 1)" in message
    assert "--sheet" in message


@pytest.mark.parametrize(
    ("rows", "header_at"),
    [
        ([["Name", "Website"], ["Acme", "acme.com"]], 0),
        ([["Deals report"], ["Name", "Website"], ["Acme", "acme.com"]], 1),
        ([["Generated:", "2024-05-01"], ["Name", "Website", "Country"], ["A", "a.com", "US"]], 1),
        # A title of two words over a header of five: narrower than the rows under it.
        (
            [
                ["Owner: Bob", "Region: EMEA"],
                ["Name", "Website", "Country", "Industry", "Employees"],
                ["A", "a.com", "US", "Software", "10"],
                ["B", "b.com", "DE", "Retail", "20"],
            ],
            1,
        ),
        ([["1", "2"], ["3", "4"]], None),
    ],
)
def test_the_header_is_the_first_row_of_names_over_rows_as_wide(
    rows: list[list[str | None]], header_at: int | None
) -> None:
    assert find_header_row(rows) == header_at


# --- files that are not tables ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("logo.png", b"\x89PNG\r\n\x1a\n" + bytes(200), "looks like a PNG image"),
        ("deals.csv", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "looks like a PDF document"),
        ("deals.csv.gz", b"\x1f\x8b\x08\x00" + bytes(100), "looks like a gzip archive"),
        ("deals.json", b'[{"name": "Acme", "domain": "acme.com"}]', "looks like a JSON document"),
        ("empty.csv", b"", "empty file"),
    ],
)
def test_a_file_that_is_not_a_table_says_what_it_looks_like(
    write: Callable[[str, str | bytes], Path], name: str, content: bytes, expected: str
) -> None:
    with pytest.raises(IngestError) as caught:
        open_table(write(name, content))
    assert expected in str(caught.value)
    assert name in str(caught.value)


def test_a_zip_that_holds_no_workbook_is_named_as_an_archive(tmp_path: Path) -> None:
    import zipfile

    path = tmp_path / "export.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("deals.csv", "Deal Name,Stage\nA,Won\n")
    with pytest.raises(IngestError) as caught:
        open_table(path)
    assert "a ZIP archive holding deals.csv" in str(caught.value)


def test_a_directory_is_not_a_table(tmp_path: Path) -> None:
    with pytest.raises(IngestError) as caught:
        open_table(tmp_path)
    assert "directory" in str(caught.value)


# --- NUL bytes -------------------------------------------------------------------------------


def test_a_csv_with_a_nul_on_line_3_loads_the_other_rows(
    ws: Workspace, write: Callable[[str, str | bytes], Path]
) -> None:
    text = "Company name,Website,Number of Employees\nAcme,acme.com,10\nBeta\x00Corp,beta.com,20\n"
    text += "Gamma,gamma.com,30\n"
    path = write("companies.csv", text.encode())

    result = ws.ingest([path])

    assert not result.failures, failure_messages(result)
    report = result.files[0]
    assert (report.rows_read, report.rows_loaded, report.rows_quarantined) == (3, 2, 1)
    (problem,) = report.problems
    assert (problem.line, problem.column, problem.value) == (3, "Company name", "Beta\\x00Corp")
    domains = {r[0] for r in run_query(ws, "SELECT domain FROM accounts")}
    assert domains == {"acme.com", "gamma.com"}


@pytest.mark.slow
def test_utf16_text_full_of_nul_bytes_still_loads(
    ws: Workspace, write: Callable[[str, str | bytes], Path]
) -> None:
    text = "Company name\tWebsite\r\nAcme\tacme.com\r\nBeta\tbeta.com\r\n"
    for name, data in (
        ("bom.csv", text.encode("utf-16")),
        ("nobom.csv", text.encode("utf-16-le")),
    ):
        result = ws.ingest([write(name, data)])
        assert not result.failures, failure_messages(result)
        assert result.files[0].rows_loaded == 2


def test_binary_data_without_a_known_signature_is_not_a_table(
    write: Callable[[str, str | bytes], Path],
) -> None:
    with pytest.raises(IngestError) as caught:
        open_table(write("dump.csv", bytes(range(256)) * 16))
    assert "not a table" in str(caught.value) and "binary data" in str(caught.value)


def test_csv_with_a_title_row_saved_from_a_spreadsheet_skips_it(
    ws: Workspace, write: Callable[[str, str | bytes], Path]
) -> None:
    # A spreadsheet saved as CSV keeps the title row's empty cells.
    text = "Exported from CRM,,,,\n,,,,\n" + ",".join(COMPANY_HEADER) + "\n"
    text += "".join(",".join(company_row(i)) + "\n" for i in range(3))
    result = ws.ingest([write("accounts.csv", text)])

    assert not result.failures, failure_messages(result)
    report = result.files[0]
    assert report.rows_loaded == 3
    assert any("title line" in n and "Exported from CRM" in n for n in report.notes)
