"""Which delimiter a CSV file is read with: the header decides, quoted cells do not count."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from icpkit.ingest.readers import SourceTable, open_table

Write = Callable[[str, str | bytes], Path]
HEADER = ["Record ID", "Deal Name", "Deal Stage", "Amount", "Close Date", "Company name"]


def records(table: SourceTable) -> list[list[str | None]]:
    rows = []
    for chunk in table.chunks():
        for j in range(len(chunk.lines)):
            rows.append([col[j] for col in chunk.columns])
    return rows


def test_tab_header_wins_over_pipes_and_stray_quotes_in_the_records(write: Write) -> None:
    text = "\t".join(HEADER) + "\n"
    text += '1\t"9|\tZb @"\t"Won "\t\t"2023-01-05\t\n'
    text += '2\t"|\n|Y@. "\tClosed Lost\t\t2023-01-05\t"\t@."\n'
    table = open_table(write("deals.csv", text))
    assert table.delimiter == "\t"
    assert table.header == HEADER
    assert not any("title line" in note for note in table.notes)


def test_one_record_whose_quoted_cell_holds_pipes_and_line_breaks_is_comma_separated(
    write: Write,
) -> None:
    text = ",".join(HEADER) + "\n" + '1,Deal 1,Closed Won,1001,2023-01-02,"|0\r|\r"\n'
    table = open_table(write("deals.csv", text))
    assert table.delimiter == ","
    assert table.header == HEADER
    assert records(table) == [["1", "Deal 1", "Closed Won", "1001", "2023-01-02", "|0\r|\r"]]


def test_semicolons_inside_quoted_cells_do_not_make_a_semicolon_file(write: Write) -> None:
    text = "Name,Notes,Stage\n" + "".join(f'Acme {i},"a;b;c;d;{i}",Closed Won\n' for i in range(5))
    table = open_table(write("deals.csv", text))
    assert table.delimiter == ","
    assert table.header == ["Name", "Notes", "Stage"]


def test_title_line_holding_a_pipe_above_a_comma_header_is_still_a_title(write: Write) -> None:
    text = "Deals | Q3 2025\n" + ",".join(HEADER) + "\n"
    text += "".join(f"{i},Deal {i},Closed Won,100{i},2023-01-0{i},Acme\n" for i in range(1, 4))
    table = open_table(write("deals.csv", text))
    assert table.delimiter == ","
    assert table.header == HEADER
    assert len(records(table)) == 3
    assert any("title line" in note and "Deals | Q3 2025" in note for note in table.notes)
