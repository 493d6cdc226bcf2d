"""A stray quote closed, some lines later, by the quoted cell of a later row: the csv module
reads the lines between as one record of the right width, so the field count alone cannot
tell. Every line of such a record is set aside on its own; a note written over several
lines still loads as one cell."""

from __future__ import annotations

from pathlib import Path

import pytest

from icpkit.ingest.readers import SourceTable, open_table, reads_as_record
from icpkit.workspace import Workspace

HEADER = "Record ID,Deal Name,Deal Stage,Amount,Close Date,Company name"


def deal_line(i: int) -> str:
    return f"{i},Deal {i},Closed Won,{1000 + i},2023-01-{1 + i % 28:02d},Acme {i}"


def rows_of(table: SourceTable) -> list[tuple[int, list[str | None]]]:
    return [
        (line, [col[j] for col in chunk.columns])
        for chunk in table.chunks()
        for j, line in enumerate(chunk.lines)
    ]


@pytest.mark.parametrize(
    ("text", "width"),
    [
        ('11,"Deal 11 ",Closed Won,1011,2023-01-12,Acme 11', 6),
        ('4,,"Won ",0,2023-01-05,', 6),
        ('"x",b,c', 3),
    ],
)
def test_a_line_with_a_quoted_cell_and_the_header_width_reads_as_a_record(
    text: str, width: int
) -> None:
    assert reads_as_record(text, ",", width)


@pytest.mark.parametrize(
    ("text", "width", "why"),
    [
        ('then, maybe, send terms",x,y', 5, "the quote closes a note mid-cell"),
        ("11,Deal 11,Closed Won,1011,2023-01-12,Acme 11", 6, "no quoted cell"),
        ('11,"Deal 11 ",Closed Won', 6, "fewer fields than the header"),
        ('11,"Deal 11,Closed Won,1011,2023-01-12,Acme 11', 6, "its quote is never closed"),
        ('""said"" so, a, b",c,d', 5, "a doubled quote, not a quoted cell"),
    ],
)
def test_a_line_of_a_note_does_not_read_as_a_record(text: str, width: int, why: str) -> None:
    assert not reads_as_record(text, ",", width), why


def test_a_stray_quote_closed_by_the_next_rows_quoted_cell_sets_aside_both_lines(
    tmp_path: Path,
) -> None:
    lines = [HEADER, *(deal_line(i) for i in range(1, 21))]
    lines[10] = lines[10].replace("Deal 10", '"Deal 10')  # opens a cell, not closed on its line
    lines[11] = lines[11].replace("Deal 11", '"Deal 11 "')  # a quoted cell closes it
    path = tmp_path / "deals.csv"
    path.write_text("\n".join(lines) + "\n")

    table = open_table(path)
    loaded = rows_of(table)

    assert [line for line, _ in loaded] == [n for n in range(2, 22) if n not in (11, 12)]
    assert all("\n" not in (row[1] or "") for _, row in loaded)
    assert [(p.line, p.value) for p in table.problems] == [(11, lines[10]), (12, lines[11])]
    assert all(p.scope == "row" for p in table.problems)


def test_every_row_is_accounted_for_when_a_later_quoted_cell_closes_a_stray_quote(
    ws: Workspace, write
) -> None:
    lines = [HEADER, *(deal_line(i) for i in range(1, 101))]
    lines[50] = lines[50].replace("Deal 50", '"Deal 50')
    lines[51] = lines[51].replace("Deal 51", '"Deal 51"')
    result = ws.ingest([write("deals.csv", "\n".join(lines) + "\n")])

    assert not result.failures, result.failures
    (report,) = result.files
    assert (report.rows_loaded, report.rows_quarantined) == (98, 2)


def test_a_note_over_several_lines_loads_as_one_cell_in_a_file_with_a_stray_quote(
    tmp_path: Path,
) -> None:
    # The '15" screen' puts a quote out of place, so every multi-line record's lines are read.
    path = tmp_path / "deals.csv"
    path.write_text(
        "id,note,stage,amount\n"
        '1,Acme 15" screen,Won,10\n'
        '2,"call back\nthen, maybe",Won,20\n'
        '3,"call back\n""urgent"", then",Lost,30\n'
        '4,"first\n",Won,40\n'
    )
    table = open_table(path)
    assert rows_of(table) == [
        (2, ["1", 'Acme 15" screen', "Won", "10"]),
        (3, ["2", "call back\nthen, maybe", "Won", "20"]),
        (5, ["3", 'call back\n"urgent", then', "Lost", "30"]),
        (7, ["4", "first\n", "Won", "40"]),
    ]
    assert table.problems == []
    assert table.counted is not None and not table.counted.regular
