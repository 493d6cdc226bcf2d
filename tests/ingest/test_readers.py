"""Reading any CSV Excel or a CRM writes, XLSX and Parquet into cells with their line numbers."""

from __future__ import annotations

import codecs
from pathlib import Path

import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from icpkit.ingest.problems import IngestError
from icpkit.ingest.readers import SourceTable, open_table


def rows_of(table: SourceTable) -> list[tuple[int, list[str | None]]]:
    out = []
    for chunk in table.chunks():
        for j, line in enumerate(chunk.lines):
            out.append((line, [col[j] for col in chunk.columns]))
    return out


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimiter_is_detected_from_the_first_lines(write, delimiter: str) -> None:
    text = delimiter.join(["Name", "Amount", "Stage"]) + "\n"
    text += (
        delimiter.join(["Acme", "1,200", "Closed Won"]).replace(
            "1,200", '"1,200"' if delimiter == "," else "1,200"
        )
        + "\n"
    )
    table = open_table(write("x.csv", text))
    assert table.delimiter == delimiter
    assert rows_of(table) == [(2, ["Acme", "1,200", "Closed Won"])]


def test_excel_sep_hint_line_sets_the_delimiter_and_is_skipped(write) -> None:
    table = open_table(write("x.csv", "sep=;\nName;Amount\nAcme;5\n"))
    assert table.header == ["Name", "Amount"]
    assert rows_of(table) == [(3, ["Acme", "5"])]


def test_quoted_multiline_cells_keep_the_line_where_each_record_starts(fixtures: Path) -> None:
    table = open_table(fixtures / "hubspot_companies.csv")
    rows = rows_of(table)
    assert [line for line, _ in rows] == [2, 3, 6, 7]
    description = rows[1][1][table.header.index("Description")]
    assert description == 'Line one\r\nline two, with a comma\r\nline "three"'


def test_utf8_bom_is_removed_from_the_first_header(fixtures: Path) -> None:
    table = open_table(fixtures / "hubspot_companies.csv")
    assert table.encoding == "utf-8-sig"
    assert table.header[0] == "Record ID"


def test_cp1252_file_as_excel_writes_it_is_read_and_noted(write) -> None:
    path = write("x.csv", "Company name;City\nMüller GmbH;Köln\n".encode("cp1252"))
    table = open_table(path)
    assert table.encoding == "cp1252"
    assert rows_of(table) == [(2, ["Müller GmbH", "Köln"])]
    assert any("not valid UTF-8" in note for note in table.notes)


def test_utf16_with_bom_as_excel_unicode_text_is_read(write) -> None:
    text = "Company name\tCity\r\nMüller GmbH\tKöln\r\n"
    table = open_table(write("x.txt", codecs.BOM_UTF16_LE + text.encode("utf-16-le")))
    assert table.delimiter == "\t"
    assert rows_of(table) == [(2, ["Müller GmbH", "Köln"])]


def test_forced_wrong_encoding_fails_naming_file_and_line(write) -> None:
    path = write("x.csv", "Company name\nAcme\nMüller\n".encode("cp1252"))
    with pytest.raises(IngestError) as err:
        rows_of(open_table(path, encoding="utf-8"))
    message = str(err.value)
    assert message.startswith("x.csv, line 3")
    assert "--encoding" in message


def test_rows_with_a_wrong_number_of_fields_are_set_aside_with_their_line(write) -> None:
    table = open_table(write("x.csv", "a,b,c\n1,2,3\n4,5\n6,7,8,9\n10,11,12,\n"))
    rows = rows_of(table)
    assert rows == [(2, ["1", "2", "3"]), (5, ["10", "11", "12"])]
    assert [(p.line, p.scope) for p in table.problems] == [(3, "row"), (4, "row")]
    assert "has 2 fields where the header has 3" in table.problems[0].reason


def test_blank_lines_are_counted_not_loaded(write) -> None:
    table = open_table(write("x.csv", "a,b\n1,2\n\n,\n3,4\n"))
    assert [line for line, _ in rows_of(table)] == [2, 5]
    assert table.blank_records == 2


def test_duplicate_and_blank_header_names_are_made_distinct(write) -> None:
    table = open_table(write("x.csv", "Name,,Name\n1,2,3\n"))
    assert table.header == ["Name", "Column 2", "Name (2)"]
    assert any("more than once" in n for n in table.notes)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty file"),
        (b"\xef\xbb\xbf\r\n\r\n", "empty file"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not a table: bad.csv looks like a PNG image"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64, "legacy Excel .xls"),
        (b"PK\x03\x04not really a zip", "not a readable XLSX"),
        (b"PAR1garbage", "its footer (the schema and row-group index) cannot be read"),
    ],
)
def test_files_that_are_not_tables_fail_with_a_clear_reason(write, content, reason) -> None:
    with pytest.raises(IngestError) as err:
        open_table(write("bad.csv", content))
    assert err.value.problem.file == "bad.csv"
    assert reason in str(err.value)


def test_missing_file_is_reported_by_name(tmp_path: Path) -> None:
    with pytest.raises(IngestError, match=r"nope\.csv: file not found"):
        open_table(tmp_path / "nope.csv")


def test_xlsx_rows_are_numbered_as_in_the_sheet_and_typed_cells_become_text(tmp_path) -> None:
    import datetime as dt

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append([])
    sheet.append(["Record ID", "Amount", "Close Date", "Won"])
    sheet.append([101, 1200.0, dt.datetime(2024, 3, 5), True])
    sheet.append([None, None, None, None])
    sheet.append([102, 99.5, dt.date(2024, 4, 1), False])
    path = tmp_path / "deals.xlsx"
    book.save(path)
    table = open_table(path)
    assert table.kind == "xlsx"
    assert table.header == ["Record ID", "Amount", "Close Date", "Won"]
    assert rows_of(table) == [
        (3, ["101", "1200", "2024-03-05 00:00:00", "true"]),
        (5, ["102", "99.5", "2024-04-01 00:00:00", "false"]),
    ]
    assert table.blank_records == 1


def test_xlsx_renamed_to_csv_is_still_read_as_xlsx(tmp_path) -> None:
    book = openpyxl.Workbook()
    book.active.append(["Company name"])
    book.active.append(["Acme"])
    path = tmp_path / "export.csv"
    book.save(path)
    assert open_table(path).kind == "xlsx"


def test_parquet_columns_of_any_type_become_text(tmp_path) -> None:
    path = tmp_path / "accounts.parquet"
    pq.write_table(
        pa.table(
            {
                "Company name": ["Acme", None],
                "Employees": pa.array([120, 5], pa.int64()),
                "Technologies": pa.array([["HubSpot", "Slack"], []], pa.list_(pa.string())),
            }
        ),
        path,
    )
    table = open_table(path)
    assert table.unit == "row"
    assert rows_of(table) == [(1, ["Acme", "120", "HubSpot;Slack"]), (2, [None, "5", ""])]


def test_a_named_sheet_is_read_and_a_wrong_name_lists_the_sheets(tmp_path) -> None:
    book = openpyxl.Workbook()
    book.active.title = "Read me"
    book.active.append(["Exported from the CRM on Monday"])
    deals = book.create_sheet("Deals")
    deals.append(["Record ID", "Deal Stage"])
    deals.append([7, "Closed Won"])
    path = tmp_path / "export.xlsx"
    book.save(path)
    # The first sheet holds no table: the one that does is read.
    assert open_table(path).header == ["Record ID", "Deal Stage"]
    table = open_table(path, sheet="Deals")
    assert rows_of(table) == [(2, ["7", "Closed Won"])]
    assert open_table(path, sheet="Read me").header == ["Exported from the CRM on Monday"]
    with pytest.raises(
        IngestError, match=r"no sheet named 'Dealz'; the workbook's sheets: 'Read me' .*'Deals'"
    ):
        open_table(path, sheet="Dealz")


def test_report_title_lines_above_the_header_are_skipped_and_named(write) -> None:
    text = (
        '"Won and Lost Opportunities"\r\n'
        '"Close Date: 1/1/2023 to 12/31/2026; Opportunity Owner: All"\r\n'
        '""\r\n'
        '"Opportunity Name";"Stage"\r\n'
        '"Acme - Seats";"Closed Won"\r\n'
    )
    table = open_table(write("report.csv", text))
    assert table.delimiter == ";"
    assert table.header == ["Opportunity Name", "Stage"]
    assert rows_of(table) == [(5, ["Acme - Seats", "Closed Won"])]
    assert table.notes == [
        "skipped 2 report title lines above the header ('Won and Lost Opportunities'; "
        "'Close Date: 1/1/2023 to 12/31/2026; Opportunity Owner: All')"
    ]


def test_a_single_column_file_keeps_its_first_line_as_header(write) -> None:
    table = open_table(write("names.csv", "Company name\nAcme\nGlobex\n"))
    assert table.header == ["Company name"]
    assert rows_of(table) == [(2, ["Acme"]), (3, ["Globex"])]
    assert table.notes == []


def test_xlsx_report_title_rows_above_the_header_are_skipped(tmp_path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Won and Lost Opportunities"])
    sheet.append([])
    sheet.append(["Opportunity Name", "Stage"])
    sheet.append(["Acme - Seats", "Closed Won"])
    path = tmp_path / "report.xlsx"
    book.save(path)
    table = open_table(path)
    assert table.header == ["Opportunity Name", "Stage"]
    assert rows_of(table) == [(4, ["Acme - Seats", "Closed Won"])]
    assert "skipped 1 report title row above the header" in table.notes[0]


def test_a_totals_line_carrying_its_sums_is_a_footer_not_a_broken_row(write) -> None:
    text = (
        "Opportunity Name,Stage,Amount,Owner\n"
        "Acme - Seats,Closed Won,100.00,Dana\n"
        "\n"
        "Grand Totals (1 records),,100.00\n"
        "Generated By:  Dana Whitfield  11/14/2025\n"
    )
    table = open_table(write("report.csv", text))
    assert rows_of(table) == [(2, ["Acme - Seats", "Closed Won", "100.00", "Dana"])]
    assert table.problems == []
    assert table.footer_lines == [
        "Grand Totals (1 records)",
        "Generated By:  Dana Whitfield  11/14/2025",
    ]


def test_a_company_named_like_a_total_is_still_a_record(write) -> None:
    table = open_table(write("companies.csv", "Company name,Employees,City\nTotal Wine,5000\n"))
    assert rows_of(table) == []
    assert table.footer_lines == []
    (problem,) = table.problems  # a short row, set aside with its line, not hidden as a footer
    assert (problem.line, problem.value) == (2, "Total Wine,5000")


def test_xlsx_report_footers_are_skipped_not_read_as_records(tmp_path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Opportunity Name", "Stage", "Amount"])
    sheet.append(["Acme - Seats", "Closed Won", 100])
    sheet.append([])
    sheet.append(["Grand Totals (1 records)", None, 100])
    sheet.append(["Confidential Information - Do Not Distribute"])
    path = tmp_path / "report.xlsx"
    book.save(path)
    table = open_table(path)
    assert rows_of(table) == [(2, ["Acme - Seats", "Closed Won", "100"])]
    assert table.footer_lines == [
        "Grand Totals (1 records)",
        "Confidential Information - Do Not Distribute",
    ]


def test_a_note_written_over_several_lines_is_one_cell(tmp_path: Path) -> None:
    path = tmp_path / "deals.csv"
    path.write_text(
        'id,name,stage,note\n1,Acme,Won,"call back, Monday\nthen, maybe, send terms"\n2,B,Lost,\n'
    )
    table = open_table(path)
    assert rows_of(table) == [
        (2, ["1", "Acme", "Won", "call back, Monday\nthen, maybe, send terms"]),
        (4, ["2", "B", "Lost", None]),
    ]
    assert table.problems == []


def test_a_cell_whose_next_line_reads_as_a_record_is_set_aside_line_by_line(
    tmp_path: Path,
) -> None:
    path = tmp_path / "deals.csv"
    path.write_text('id,name,stage,note\n1,Acme,Won,"open\n2,B,Lost,closed"\n3,C,Won,ok\n')
    table = open_table(path)
    assert rows_of(table) == [(4, ["3", "C", "Won", "ok"])]
    assert [(p.line, p.value) for p in table.problems] == [
        (2, '1,Acme,Won,"open'),
        (3, '2,B,Lost,closed"'),
    ]
    assert table.records_parsed == table.counted.records == 3
