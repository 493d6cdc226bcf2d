"""Build the hostile-input corpus: malformed CSV, XLSX, Parquet and non-table files, each
with the outcome it must have, written to ``corpus/`` and ``expected.json``.

The output is byte-identical on every run (fixed seeds, fixed archive timestamps), so the
files are committed with this script: ``python tests/hostile/build_corpus.py``. Expected
counts come from how each file is constructed here, never from icpkit's own reading.
"""

from __future__ import annotations

import gzip
import io
import json
import re
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
HEADER = ["Record ID", "Deal Name", "Deal Stage", "Amount", "Close Date", "Company name"]
ZIP_TIME = (2026, 1, 1, 0, 0, 0)


def row(i: int, **over: str) -> list[str]:
    """One clean HubSpot-style deal, id ``i``; ``over`` replaces named cells."""
    cells = {
        "Record ID": str(i),
        "Deal Name": f"Deal {i}",
        "Deal Stage": "Closed Won" if i % 3 else "Closed Lost",
        "Amount": str(1000 + i),
        "Close Date": f"2023-01-{1 + i % 28:02d}",
        "Company name": f"Acme {i}",
    }
    cells.update({k.replace("_", " "): v for k, v in over.items()})
    return [cells[h] for h in HEADER]


def line(cells: list[str], sep: str = ",") -> str:
    """Cells joined as they are: the caller writes any quoting by hand."""
    return sep.join(cells)


def csv_text(rows: list[list[str]], sep: str = ",", header: list[str] = HEADER) -> list[str]:
    """Lines of a well-formed CSV: cells quoted only when they need it (RFC 4180)."""

    def q(cell: str) -> str:
        if any(ch in cell for ch in (sep, '"', "\n", "\r")):
            return '"' + cell.replace('"', '""') + '"'
        return cell

    return [sep.join(q(c) for c in r) for r in [header, *rows]]


def lines_of(n: int, start: int = 1) -> list[list[str]]:
    return [row(i) for i in range(start, start + n)]


CASES: list[dict[str, Any]] = []


def case(name: str, content: bytes | Callable[[Path], None], **expect: Any) -> None:
    """Register one file and its expected outcome (see test_corpus.py for the fields)."""
    expect.setdefault("exit", 0)
    CASES.append({"file": name, "content": content, **expect})


def text(lines: list[str], end: str = "\n", encoding: str = "utf-8", final: bool = True) -> bytes:
    return (end.join(lines) + (end if final else "")).encode(encoding)


# --- unbalanced quotes -------------------------------------------------------------------
r = csv_text(lines_of(1000))
r[12] = r[12].replace("Acme 12", '"Acme 12')
case(
    "quote_last_column_never_closed.csv",
    text(r),
    kind="unbalanced quote",
    rows=1000,
    loaded=11,
    quarantined=989,
    reasons=["never closed"],
)

r = csv_text(lines_of(100))
r[40] = r[40].replace("Deal 40", 'Deal "40')
r[50] = r[50].replace("Deal 50", '"Deal 50')
case(
    "quote_mid_file.csv",
    text(r),
    kind="unbalanced quote",
    rows=100,
    loaded=49,
    quarantined=51,
    reasons=["never closed"],
)

r = csv_text(lines_of(50))
r[1] = '"' + r[1]
case(
    "quote_first_row.csv",
    text(r),
    kind="unbalanced quote",
    rows=50,
    loaded=0,
    quarantined=50,
    reasons=["never closed"],
    exit=[0, 1],
)

r = csv_text(lines_of(200))
r[100] = r[100].replace("Acme 100", '"Acme 100')
case(
    "quote_never_closed_crlf.csv",
    text(r, "\r\n"),
    kind="unbalanced quote",
    rows=200,
    loaded=99,
    quarantined=101,
    reasons=["never closed"],
)

r = csv_text(lines_of(100))
r[100] = r[100].replace("Acme 100", '"Acme 100')
case(
    "quote_in_last_row.csv",
    text(r),
    kind="unbalanced quote",
    rows=100,
    loaded=99,
    quarantined=1,
    reasons=["never closed"],
)

hdr = [*HEADER, "Notes"]
rows30 = [[*row(i), f"note {i}"] for i in range(1, 31)]
rows30[9][6] = "first line\nsecond line"  # a real multi-line cell: one record
r = csv_text(rows30, header=hdr)
r[20] = r[20].replace("note 20", '"note 20 opens\nand never closes')
# 30 records as written; the unclosed cell adds one physical line, and each line it
# swallowed (rows 20-30 and its own second line) is set aside on its own.
case(
    "quote_inside_multiline_cell.csv",
    text(r),
    kind="unbalanced quote",
    rows=31,
    loaded=19,
    quarantined=12,
    reasons=["never closed"],
)

r = csv_text(lines_of(100))
r[30] = r[30].replace("Acme 30", '"Acme 30')
r[35] = r[35].replace("Acme 35", 'Acme 35"')
case(
    "quote_closed_rows_later.csv",
    text(r),
    kind="unbalanced quote",
    rows=100,
    loaded=94,
    quarantined=6,
)

r = csv_text(lines_of(100))
for k in (5, 15, 25, 35, 45):
    r[k] = r[k].replace(f"Deal {k},", f'Deal {k} 15" screen,')
case(
    "quote_inside_unquoted_cell_is_text.csv",
    text(r),
    kind="unbalanced quote",
    rows=100,
    loaded=100,
    quarantined=0,
    checks=[["SELECT count(*) FROM deals WHERE name LIKE '%15\" screen'", 5]],
)

r = csv_text(lines_of(100))
r[10] = r[10].replace("Deal 10", '"Deal 10')  # opens a cell, never closed on its line
r[11] = r[11].replace("Deal 11", '"Deal 11 "')  # a quoted cell on the next line closes it
# Read naively, lines 11-12 make one record of six fields (deal 10 with a name holding a
# line break) and deal 11 is gone; both lines must be set aside instead.
case(
    "quote_closed_by_next_rows_quoted_cell.csv",
    text(r),
    kind="unbalanced quote",
    rows=100,
    loaded=98,
    quarantined=2,
    checks=[["SELECT count(*) FROM deals WHERE name LIKE '%\n%'", 0]],
)

# A tab file whose first record opens a quote in its last cell but one: the header says
# tab, whatever the quoted cells hold (both lines are set aside or loaded, none refused).
case(
    "stray_quote_in_tab_file.csv",
    (
        b"Record ID\tDeal Name\tDeal Stage\tAmount\tClose Date\tCompany name\n"
        b'1\t"9|\tZb @"\t"Won "\t\t"2023-01-05\t\n'
        b'2\t"|\n|Y@. "\tClosed Lost\t\t2023-01-05\t"\t@."\n'
    ),
    kind="unbalanced quote",
    rows=[2, 4],
)

# --- ragged rows, blank lines, headers ------------------------------------------------------
r = csv_text(lines_of(100))
for k in (10, 20, 30):
    r[k] += ",surplus"
case("ragged_too_many_fields.csv", text(r), kind="ragged rows", rows=100, loaded=97, quarantined=3)

r = csv_text(lines_of(100))
for k in (10, 20):
    r[k] = r[k].rsplit(",", 1)[0]
case("ragged_too_few_fields.csv", text(r), kind="ragged rows", rows=100, loaded=98, quarantined=2)

r = csv_text(lines_of(50))
r.insert(26, "," * 1000)  # no value at all: a blank record, skipped and counted
r.insert(40, "51,Deal 51" + "," * 1000 + "Closed Won,1051,2023-01-05,Acme 51")
case(
    "repeated_delimiters_row.csv",
    text(r),
    kind="ragged rows",
    rows=51,
    loaded=50,
    quarantined=1,
    blank=1,
)

r = csv_text(lines_of(50))
for k in (45, 35, 25, 15, 5):
    r.insert(k, "")
case("blank_lines.csv", text(r), kind="blank lines", rows=50, loaded=50, quarantined=0, blank=5)
case(
    "blank_lines_crlf.csv",
    text(r, "\r\n"),
    kind="blank lines",
    rows=50,
    loaded=50,
    quarantined=0,
    blank=5,
)

case(
    "only_header.csv",
    text(csv_text([])),
    kind="header only",
    rows=0,
    loaded=0,
    quarantined=0,
    exit=[0, 1],
)
case(
    "only_header_no_newline.csv",
    text(csv_text([]), final=False),
    kind="header only",
    rows=0,
    loaded=0,
    quarantined=0,
    exit=[0, 1],
)
case("empty.csv", b"", kind="empty file", refused=True, exit=1, message=["empty.csv"])
case(
    "only_blank_lines.csv",
    b"\n\n\r\n  \n",
    kind="empty file",
    refused=True,
    exit=1,
    message=["only_blank_lines.csv"],
)

r = csv_text(lines_of(20))
r[0] = ",,,,,"
case(
    "header_of_only_blanks.csv",
    text(r),
    kind="header",
    refused=True,
    exit=1,
    message=["header_of_only_blanks.csv"],
)

dup = ["Record ID", "Deal Name", "Deal Stage", "Amount", "Amount", "Close Date", "Company name"]
rows_dup = [
    [str(i), f"Deal {i}", "Closed Won", "n/a", str(1000 + i), "2023-01-05", f"Acme {i}"]
    for i in range(1, 21)
]
case(
    "duplicate_headers.csv",
    text(csv_text(rows_dup, header=dup)),
    kind="header",
    rows=20,
    loaded=20,
    quarantined=0,
    checks=[["SELECT count(*) FROM deals WHERE amount = 1000 + CAST(source_id AS INT)", 20]],
)

r = csv_text(lines_of(20), header=[*HEADER, ""])
r = [r[0]] + [x + "," for x in r[1:]]
case("trailing_empty_column.csv", text(r), kind="header", rows=20, loaded=20, quarantined=0)

case(
    "no_final_newline.csv",
    text(csv_text(lines_of(20)), final=False),
    kind="line ends",
    rows=20,
    loaded=20,
    quarantined=0,
)

# --- BOMs, line ends, encodings --------------------------------------------------------------
body = csv_text(lines_of(20))
case(
    "bom_utf8.csv",
    text(body, encoding="utf-8-sig"),
    kind="BOM",
    rows=20,
    loaded=20,
    quarantined=0,
    checks=[["SELECT count(*) FROM deals WHERE source_id = '7'", 1]],
)
case(
    "bom_utf8_crlf.csv",
    text(body, "\r\n", encoding="utf-8-sig"),
    kind="BOM",
    rows=20,
    loaded=20,
    quarantined=0,
)
case(
    "bom_twice.csv",
    b"\xef\xbb\xbf" + text(body, encoding="utf-8-sig"),
    kind="BOM",
    rows=20,
    loaded=20,
    quarantined=0,
)
case(
    "bom_utf16le.csv",
    text(body, "\r\n", encoding="utf-16"),
    kind="BOM",
    rows=20,
    loaded=20,
    quarantined=0,
    checks=[["SELECT count(*) FROM deals WHERE source_id = '7'", 1]],
)
case(
    "bom_utf16be.csv",
    b"\xfe\xff" + text(body, "\r\n", encoding="utf-16-be"),
    kind="BOM",
    rows=20,
    loaded=20,
    quarantined=0,
    checks=[["SELECT count(*) FROM deals WHERE source_id = '7'", 1]],
)
case(
    "utf16le_tab.csv",
    b"\xff\xfe" + text(csv_text(lines_of(20), sep="\t"), "\r\n", encoding="utf-16-le"),
    kind="BOM",
    rows=20,
    loaded=20,
    quarantined=0,
)

case("line_ends_cr_only.csv", text(body, "\r"), kind="line ends", rows=20, loaded=20, quarantined=0)
mixed = "".join(ln + ("\r\n", "\n", "\r")[k % 3] for k, ln in enumerate(csv_text(lines_of(30))))
case("line_ends_mixed.csv", mixed.encode(), kind="line ends", rows=30, loaded=30, quarantined=0)

intl = lines_of(20)
names = ["Müller GmbH", "Café Crème", "Zoë’s Bakery", "Ñandú SA", "Škoda Dílna"]
for k, nm in enumerate(names[:4]):
    intl[k][1] = nm
case(
    "enc_cp1252.csv",
    text(csv_text(intl), "\r\n", encoding="cp1252"),
    kind="encoding",
    rows=20,
    loaded=20,
    quarantined=0,
    checks=[
        [
            "SELECT count(*) FROM deals WHERE name IN ('Müller GmbH', 'Café Crème', "
            "'Zoë’s Bakery', 'Ñandú SA')",
            4,
        ]
    ],
)
intl_mac = lines_of(20)
for k, nm in enumerate(["Müller GmbH", "Café Crème", "Ñandú SA"]):
    intl_mac[k][1] = nm
case(
    "enc_mac_roman_cr.csv",
    text(csv_text(intl_mac), "\r", encoding="mac_roman"),
    kind="encoding",
    rows=20,
    loaded=20,
    quarantined=0,
    checks=[
        ["SELECT count(*) FROM deals WHERE name IN ('Müller GmbH', 'Café Crème', 'Ñandú SA')", 3]
    ],
)
case(
    "enc_latin1.csv",
    text(csv_text(intl_mac), encoding="latin-1"),
    kind="encoding",
    rows=20,
    loaded=20,
    quarantined=0,
    checks=[
        ["SELECT count(*) FROM deals WHERE name IN ('Müller GmbH', 'Café Crème', 'Ñandú SA')", 3]
    ],
)
stray = text(csv_text(intl_mac)).replace(b"Deal 15,", b"Deal \xff15,")
case(
    "enc_stray_invalid_utf8_byte.csv",
    stray,
    kind="encoding",
    rows=20,
    loaded=[19, 20],
    quarantined=[0, 1],
    checks=[
        ["SELECT count(*) FROM deals WHERE name IN ('Müller GmbH', 'Café Crème', 'Ñandú SA')", 3]
    ],
)
moj = lines_of(20)
moj[0][1] = "agÃ¡mi Deal"
case(
    "double_encoded_text.csv",
    text(csv_text(moj)),
    kind="encoding",
    rows=20,
    loaded=20,
    quarantined=0,
    checks=[["SELECT count(*) FROM deals WHERE name = 'agámi Deal'", 1]],
)

# --- NUL and control bytes ----------------------------------------------------------------------
r = csv_text(lines_of(50))
r[2] = r[2].replace("Deal 2", "Deal\x002")
case(
    "nul_byte_early.csv",
    text(r),
    kind="NUL bytes",
    rows=50,
    loaded=49,
    quarantined=1,
    reasons=["NUL"],
)
r = csv_text(lines_of(5000))
r[4990] = r[4990].replace("Deal 4990", "Deal\x004990")
case(
    "nul_byte_late.csv",
    text(r),
    kind="NUL bytes",
    rows=5000,
    loaded=4999,
    quarantined=1,
    reasons=["NUL"],
)
r = csv_text(lines_of(20))
r[3] = r[3].replace("Deal 3", "Deal\x1b[31m3\x07")
case(
    "control_characters.csv",
    text(r),
    kind="NUL bytes",
    rows=20,
    loaded=[19, 20],
    quarantined=[0, 1],
)

# --- not a table -----------------------------------------------------------------------------
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00"
    b"\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05"
    b"\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82"
)
case("image_renamed.csv", PNG, kind="not a table", refused=True, exit=1, message=["PNG"])
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
case("document_renamed.csv", PDF, kind="not a table", refused=True, exit=1, message=["PDF"])


def zipped(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(zipfile.ZipInfo(name, ZIP_TIME), data)
    return buf.getvalue()


case(
    "archive_renamed.csv",
    zipped({"deals.csv": text(body)}),
    kind="not a table",
    refused=True,
    exit=1,
    message=["ZIP"],
)
case(
    "gzip_renamed.csv",
    gzip.compress(text(body), mtime=0),
    kind="not a table",
    refused=True,
    exit=1,
    message=["gzip"],
)
case(
    "html_renamed.csv",
    b"<!DOCTYPE html>\n<html><body><table><tr><td>1</td></tr></table></body></html>\n",
    kind="not a table",
    refused=True,
    exit=1,
    message=["HTML"],
)
case(
    "deals.csv.gz",
    gzip.compress(text(body), mtime=0),
    kind="not a table",
    refused=True,
    exit=1,
    message=["gzip"],
)


# --- workbooks ---------------------------------------------------------------------------------
def workbook(sheets: list[tuple[str, list[list[Any]]]]) -> Callable[[Path], None]:
    def build(path: Path) -> None:
        import datetime as dt

        from openpyxl import Workbook

        wb = Workbook()
        wb.remove(wb.active)
        for title, rows_ in sheets:
            ws = wb.create_sheet(title)
            for rr in rows_:
                ws.append(rr)
        fixed = dt.datetime(2026, 1, 1)
        wb.properties.created = wb.properties.modified = fixed
        buf = io.BytesIO()
        wb.save(buf)
        # Rewrite the archive with fixed timestamps, so the file is the same on every build.
        src = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
        stamp = re.compile(rb"(<dcterms:modified[^>]*>)[^<]*")
        members = {
            i.filename: stamp.sub(rb"\g<1>2026-01-01T00:00:00Z", src.read(i.filename))
            for i in src.infolist()
        }
        path.write_bytes(zipped(members))

    return build


xl_rows: list[list[Any]] = [[int(c[0]), c[1], c[2], float(c[3]), c[4], c[5]] for c in lines_of(20)]
case(
    "workbook_title_rows.xlsx",
    workbook([("Deals", [["Exported from CRM"], ["Generated: 2024-05-01"], [], HEADER, *xl_rows])]),
    kind="workbook",
    rows=20,
    loaded=20,
    quarantined=0,
)
case(
    "workbook_cover_sheet.xlsx",
    workbook(
        [
            ("Cover", [["Quarterly pipeline"], ["Prepared by Sales Ops"]]),
            ("Deals", [HEADER, *xl_rows]),
        ]
    ),
    kind="workbook",
    rows=20,
    loaded=20,
    quarantined=0,
)
case(
    "workbook_empty.xlsx",
    workbook([("Sheet1", [])]),
    kind="workbook",
    refused=True,
    exit=1,
    message=["workbook_empty.xlsx"],
)


def corrupt_xlsx(path: Path) -> None:
    workbook([("Deals", [HEADER, *xl_rows])])(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


case(
    "workbook_corrupt.xlsx",
    corrupt_xlsx,
    kind="workbook",
    refused=True,
    exit=1,
    message=["workbook_corrupt.xlsx"],
)


# --- Parquet -------------------------------------------------------------------------------------
def parquet_rows(n: int) -> Any:
    import pyarrow as pa

    rr = lines_of(n)
    return pa.table({h: [x[k] for x in rr] for k, h in enumerate(HEADER)})


def corrupt_row_group(path: Path) -> None:
    import pyarrow.parquet as pq

    pq.write_table(
        parquet_rows(500),
        path,
        row_group_size=100,
        compression="snappy",
        use_dictionary=False,
        write_statistics=False,
    )
    meta = pq.ParquetFile(path).metadata
    col = meta.row_group(2).column(1)  # 'Deal Name' of rows 201-300
    data = bytearray(path.read_bytes())
    start = col.data_page_offset
    for k in range(start + 8, start + col.total_compressed_size - 4):
        data[k] ^= 0x5A
    path.write_bytes(bytes(data))


case(
    "parquet_corrupt_row_group.parquet",
    corrupt_row_group,
    kind="parquet",
    rows=500,
    loaded=400,
    quarantined=100,
    message=["row group"],
)


def truncated_parquet(path: Path) -> None:
    import pyarrow.parquet as pq

    pq.write_table(parquet_rows(100), path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 40])


case(
    "parquet_truncated.parquet",
    truncated_parquet,
    kind="parquet",
    refused=True,
    exit=1,
    message=["parquet_truncated.parquet"],
)

# --- shapes --------------------------------------------------------------------------------------
wide_header = [*HEADER, *(f"Custom Field {k}" for k in range(1, 1995))]
wide_rows = [[*row(i), *(f"v{i}.{k}" for k in range(1, 1995))] for i in range(1, 21)]
case(
    "wide_2000_columns.csv",
    text(csv_text(wide_rows, header=wide_header)),
    kind="wide file",
    slow=True,
    rows=20,
    loaded=20,
    quarantined=0,
    checks=[["SELECT count(*) FROM deals WHERE extra->>'Custom Field 1994' LIKE 'v%.1994'", 20]],
)
long_rows = lines_of(20)
long_rows[4][1] = "L" * 1_048_576
case(
    "cell_of_one_megabyte.csv",
    text(csv_text(long_rows)),
    kind="long cell",
    rows=20,
    loaded=[19, 20],
    quarantined=[0, 1],
)
case(
    "identical_rows_10000.csv",
    text(csv_text([row(1)] * 10_000)),
    kind="duplicates",
    rows=10_000,
    quarantined=0,
    checks=[["SELECT count(*) FROM deals", 1]],
)

r = csv_text(lines_of(30))
r += [line(x, ";") for x in lines_of(20, 31)]
case(
    "delimiter_changes_mid_file.csv", text(r), kind="delimiter", rows=50, loaded=30, quarantined=20
)
case(
    "excel_sep_line.csv",
    text(["sep=;", *csv_text(lines_of(20), sep=";")]),
    kind="delimiter",
    rows=20,
    loaded=20,
    quarantined=0,
)
case(
    "semicolon_delimited.csv",
    text(csv_text(lines_of(20), sep=";")),
    kind="delimiter",
    rows=20,
    loaded=20,
    quarantined=0,
)
case(
    "tab_delimited.csv",
    text(csv_text(lines_of(20), sep="\t")),
    kind="delimiter",
    rows=20,
    loaded=20,
    quarantined=0,
)
case(
    "pipe_delimited.csv",
    text(csv_text(lines_of(20), sep="|")),
    kind="delimiter",
    rows=20,
    loaded=20,
    quarantined=0,
)

report = [
    "Opportunity Pipeline Report",
    '"Filtered By: Stage equals Closed Won, Closed Lost"',
    "",
    *csv_text(lines_of(40)),
    "",
    "Grand Totals (40 records)",
    "Confidential Information - Do Not Distribute",
    "Generated By: Jane Doe 5/1/2024 10:12 AM",
    "Copyright (c) 2000-2024 salesforce.com",
]
case(
    "report_header_and_footer.csv",
    text(report),
    kind="report layout",
    rows=40,
    loaded=40,
    quarantined=0,
    message=["footer"],
)

# --- values that must not change ------------------------------------------------------------
semi = lines_of(20)
semi[0][5] = "Smith; Jones & Partners LLP"
case(
    "semicolon_inside_name.csv",
    text(csv_text(semi)),
    kind="silent value change",
    rows=20,
    loaded=20,
    quarantined=0,
    checks=[["SELECT count(*) FROM deals WHERE company_name = 'Smith; Jones & Partners LLP'", 1]],
)
case(
    "semicolon_inside_name_semicolon_file.csv",
    text(csv_text(semi, sep=";")),
    kind="silent value change",
    rows=20,
    loaded=20,
    quarantined=0,
    checks=[["SELECT count(*) FROM deals WHERE company_name = 'Smith; Jones & Partners LLP'", 1]],
)
euro = lines_of(20)
for x in euro:
    x[3] = "€12.500"
case(
    "euro_thousands.csv",
    text(csv_text(euro)),
    kind="silent value change",
    rows=20,
    loaded=20,
    quarantined=0,
    checks=[["SELECT count(*) FROM deals WHERE amount = 12500", 20]],
)
thou = lines_of(20)
for x in thou:
    x[3] = "1,234,567"
case(
    "thousands_separators.csv",
    text(csv_text(thou)),
    kind="silent value change",
    rows=20,
    loaded=20,
    quarantined=0,
    checks=[["SELECT count(*) FROM deals WHERE amount = 1234567", 20]],
)
dots = lines_of(20)
for x in dots:
    x[4] = "05.03.2023"
dots[1][4] = "03/15/2023"
case(
    "dotted_dates.csv",
    text(csv_text(dots)),
    kind="silent value change",
    rows=20,
    loaded=20,
    quarantined=0,
    checks=[["SELECT count(*) FROM deals WHERE CAST(closed_at AS DATE) = DATE '2023-03-05'", 19]],
)
quoted = lines_of(20)
quoted[0][1] = 'Deal "Big" 1'
case(
    "every_cell_quoted.csv",
    text([",".join('"' + c.replace('"', '""') + '"' for c in x) for x in [HEADER, *quoted]]),
    kind="quoting",
    rows=20,
    loaded=20,
    quarantined=0,
    checks=[["SELECT count(*) FROM deals WHERE name = 'Deal \"Big\" 1'", 1]],
)
formula = lines_of(20)
payloads = ['=HYPERLINK("http://x","y")', "+1+1", "-2+3", "@SUM(A1)", "\t=1", " =1", "＝1+1"]
for k, p in enumerate(payloads):
    formula[k][1] = p
case(
    "formula_injection_cells.csv",
    text(csv_text(formula)),
    kind="injection",
    rows=20,
    loaded=20,
    quarantined=0,
    checks=[['SELECT count(*) FROM deals WHERE name = \'=HYPERLINK("http://x","y")\'', 1]],
)

nolink = [[str(i), f"Deal {i}", "Closed Won", str(1000 + i), "2023-01-05"] for i in range(1, 21)]
case(
    "deals_without_link_column.csv",
    text(csv_text(nolink, header=HEADER[:5])),
    kind="missing column",
    rows=20,
    exit=[0, 1],
)

# --- cousins -------------------------------------------------------------------------------
piped = lines_of(3)
piped[0][5] = "|0\r|\r"
piped[1][5] = "|a|\n|b|"
case(
    "quoted_cells_holding_pipes_and_line_breaks.csv",
    text(csv_text(piped)),
    kind="quoting",
    rows=3,
    loaded=3,
    quarantined=0,
)
one = lines_of(1)
one[0][5] = "|0\r|\r"
case(
    "one_record_quoted_cell_holding_pipes.csv",
    text(csv_text(one)),
    kind="quoting",
    rows=1,
    loaded=1,
    quarantined=0,
)
euro_names = lines_of(20)
for k, nm in enumerate(["Café €5 offer", "Zoë’s Bakery", "Müller – Bau", "Crème brûlée"]):
    euro_names[k][1] = nm
case(
    "enc_cp1252_euro_and_dashes.csv",
    text(csv_text(euro_names), encoding="cp1252"),
    kind="encoding",
    rows=20,
    loaded=20,
    quarantined=0,
    checks=[
        [
            "SELECT count(*) FROM deals WHERE name IN ('Café €5 offer', 'Zoë’s Bakery', "
            "'Müller – Bau', 'Crème brûlée')",
            4,
        ]
    ],
)
r = csv_text(lines_of(40))
r.insert(21, r[0])  # two exports pasted together: the header again mid-file
case("header_repeated_mid_file.csv", text(r), kind="header", rows=[40, 41], loaded=40)
case(
    "csv_text_named_parquet.parquet",
    text(csv_text(lines_of(20))),
    kind="misnamed",
    rows=20,
    loaded=20,
    quarantined=0,
)


def xlsx_named_csv(path: Path) -> None:
    workbook([("Deals", [HEADER, *xl_rows])])(path)


case("workbook_named_csv.csv", xlsx_named_csv, kind="misnamed", rows=20, loaded=20, quarantined=0)
case(
    "workbook_cover_and_title_rows.xlsx",
    workbook(
        [
            ("Cover", [["Pipeline review"], ["Confidential"]]),
            ("Deals", [["Exported from CRM"], ["Generated: 2024-05-01"], [], HEADER, *xl_rows]),
        ]
    ),
    kind="workbook",
    rows=20,
    loaded=20,
    quarantined=0,
)
nul_heavy = "\n".join(csv_text(lines_of(20))).replace(",", ",\x00\x00")
case(
    "nul_bytes_everywhere.csv",
    nul_heavy.encode(),
    kind="NUL bytes",
    refused=True,
    exit=1,
    message=["nul_bytes_everywhere.csv"],
)
case(
    "bom_and_sep_line.csv",
    text(["sep=;", *csv_text(lines_of(20), sep=";")], encoding="utf-8-sig"),
    kind="BOM",
    rows=20,
    loaded=20,
    quarantined=0,
)
r = csv_text(lines_of(20))
r[5] = r[5].replace("Deal 5", '"Deal ""5"" ' + '""' * 5000 + '"')
case(
    "cell_of_many_escaped_quotes.csv",
    text(r),
    kind="unbalanced quote",
    rows=20,
    loaded=20,
    quarantined=0,
)
r = [*csv_text(lines_of(30)), "   ", "\t"]
case(
    "whitespace_lines_at_end.csv",
    text(r),
    kind="blank lines",
    rows=30,
    loaded=30,
    quarantined=0,
    blank=[0, 2],
)

# --- more cousins ------------------------------------------------------------------------
wide_xl = [[*x, *(f"v{k}" for k in range(1, 1995))] for x in xl_rows[:5]]
case(
    "wide_2000_columns.xlsx",
    workbook([("Deals", [wide_header, *wide_xl])]),
    kind="wide file",
    slow=True,
    rows=5,
    loaded=5,
    quarantined=0,
)


def wide_parquet(path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = {h: [x[k] for x in wide_rows] for k, h in enumerate(wide_header)}
    pq.write_table(pa.table(columns), path)


case(
    "wide_2000_columns.parquet",
    wide_parquet,
    kind="wide file",
    slow=True,
    rows=20,
    loaded=20,
    quarantined=0,
)
case(
    "utf16le_without_bom.csv",
    text(csv_text(lines_of(20)), "\r\n", encoding="utf-16-le"),
    kind="encoding",
    rows=20,
    loaded=20,
    quarantined=0,
    exit=[0, 1],
)
case(
    "bom_only.csv",
    b"\xef\xbb\xbf",
    kind="empty file",
    refused=True,
    exit=1,
    message=["bom_only.csv"],
)
r = csv_text(lines_of(20))
r[0] = r[0].replace("Deal Name", "Deal\x00Name")
case("nul_byte_in_header.csv", text(r), kind="NUL bytes", rows=20, exit=[0, 1])
r = csv_text(lines_of(60))
r[30] = r[30].replace("Acme 30", '"Acme 30')
case(
    "quote_never_closed_cr_only.csv",
    text(r, "\r"),
    kind="unbalanced quote",
    rows=60,
    loaded=29,
    quarantined=31,
    reasons=["never closed"],
)
comma_pipes = lines_of(20)
comma_pipes[3][5] = "Smith, Jones & Partners"
case(
    "pipe_delimited_commas_in_names.csv",
    text(csv_text(comma_pipes, sep="|")),
    kind="delimiter",
    rows=20,
    loaded=20,
    quarantined=0,
    checks=[["SELECT count(*) FROM deals WHERE company_name = 'Smith, Jones & Partners'", 1]],
)

case(
    "workbook_header_below_row_20.xlsx",
    workbook([("Deals", [*([f"Filter line {k}"] for k in range(1, 25)), HEADER, *xl_rows])]),
    kind="workbook",
    rows=20,
    loaded=[0, 20],
    exit=[0, 1],
)
case(
    "workbook_numbers_sheet_first.xlsx",
    workbook(
        [
            ("Lookup", [[1, 2, 3], [4, 5, 6], [7, 8, 9]]),
            ("Deals", [HEADER, *xl_rows]),
        ]
    ),
    kind="workbook",
    rows=20,
    loaded=20,
    quarantined=0,
)

# --- file names --------------------------------------------------------------------------------
case(
    "glob/deals[1].csv",
    text(csv_text(lines_of(10))),
    kind="file name",
    rows=10,
    loaded=10,
    quarantined=0,
    checks=[["SELECT count(*) FROM deals", 10]],
)
case(
    "glob/deals1.csv",
    text(csv_text(lines_of(25, 100))),
    kind="file name",
    rows=25,
    loaded=25,
    quarantined=0,
)
case(
    "glob/deals*.csv",
    text(csv_text(lines_of(7, 300))),
    kind="file name",
    rows=7,
    loaded=7,
    quarantined=0,
    checks=[["SELECT count(*) FROM deals", 7]],
)
case(
    "name with spaces & 'quotes'.csv",
    text(csv_text(lines_of(9))),
    kind="file name",
    rows=9,
    loaded=9,
    quarantined=0,
)


def build(out: Path) -> list[dict[str, Any]]:
    """Write every case under ``out`` and return the expectations (without contents)."""
    table = []
    for c in CASES:
        path = out / c["file"]
        path.parent.mkdir(parents=True, exist_ok=True)
        content = c["content"]
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            content(path)
        table.append({k: v for k, v in c.items() if k != "content"})
    return table


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "corpus"
    table = build(out)
    (out / "expected.json").write_text(json.dumps(table, indent=1, ensure_ascii=False) + "\n")
    print(f"{len(table)} cases written to {out}")


if __name__ == "__main__":
    main()
