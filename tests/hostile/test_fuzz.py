"""Generated CSVs (random quoting, delimiter, encoding, line ends and cell contents) load
with every record accounted for: loaded + quarantined + blank = the records written, read
back by Python's ``csv`` module as a check of the construction, and nothing raises."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from tempfile import TemporaryDirectory

import duckdb
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from icpkit.workspace import Workspace

HEADER = ["Record ID", "Deal Name", "Deal Stage", "Amount", "Close Date", "Company name"]
ENCODINGS = ["utf-8", "utf-8-sig", "cp1252", "utf-16"]
# Characters that break naive readers: delimiters, quotes, line ends, formula openers,
# text from several scripts, and the characters cp1252 and UTF-8 disagree on.
HOSTILE = ',;\t|"\n\r =+-@€’éüÑ中🙂 \u00a0'
cell = st.text(alphabet=st.sampled_from(list(HOSTILE) + list("abcXYZ019.")), max_size=12)
stage = st.sampled_from(["Closed Won", "Closed Lost", "closedwon", "", "Won ", "=1"])
amount = st.one_of(
    st.integers(-10, 10**9).map(str), st.sampled_from(["", "€12.500", "1,234", "n/a", "=2+3"])
)
date = st.sampled_from(["2023-01-05", "05.03.2023", "03/15/2023", "", "not a date"])


@st.composite
def records(draw: st.DrawFn) -> list[list[str]]:
    n = draw(st.integers(1, 30))
    return [
        [str(i), draw(cell), draw(stage), draw(amount), draw(date), draw(cell)]
        for i in range(1, n + 1)
    ]


def quote_cell(value: str, sep: str, quote_all: bool = False) -> str:
    """A cell as a well-formed CSV writes it: quoted when it holds a delimiter, quote, line
    end or edge space (or always), its quotes doubled."""
    special = any(ch in value for ch in (sep, '"', "\r", "\n")) or value != value.strip()
    if quote_all or special:
        return '"' + value.replace('"', '""') + '"'
    return value


def write_csv(rows: list[list[str]], sep: str, quote_all: bool, end: str) -> str:
    """A well-formed CSV of the header and ``rows``."""
    return "".join(
        sep.join(quote_cell(v, sep, quote_all) for v in r) + end for r in [HEADER, *rows]
    )


def python_csv_records(text: str, sep: str) -> list[list[str]]:
    """The records Python's csv module reads from the text, header first."""
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=sep))


@pytest.mark.slow
@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    rows=records(),
    sep=st.sampled_from([",", ";", "\t", "|"]),
    quote_all=st.booleans(),
    end=st.sampled_from(["\n", "\r\n", "\r"]),
    encoding=st.sampled_from(ENCODINGS),
)
@example(  # one record whose quoted cells hold ';' and CR: the header still says ','
    rows=[["1", ";0\r", "Closed Won", "0", "2023-01-05", ";\r"]],
    sep=",",
    quote_all=False,
    end="\n",
    encoding="utf-8",
)
def test_generated_csv_accounts_for_every_record(
    rows: list[list[str]], sep: str, quote_all: bool, end: str, encoding: str
) -> None:
    if encoding == "cp1252":
        rows = [[v.encode("cp1252", "replace").decode("cp1252") for v in r] for r in rows]
    text = write_csv(rows, sep, quote_all, end)
    assert python_csv_records(text, sep) == [HEADER, *rows]  # the construction is sound
    with TemporaryDirectory() as tmp:
        path = Path(tmp) / "deals.csv"
        path.write_bytes(text.encode(encoding))
        ws = Workspace.init(Path(tmp) / "ws")
        result = ws.ingest([path])
        assert not result.failures, [str(e) for _p, e in result.failures]
        (report,) = result.files
        assert not report.skipped, report.skipped
        assert report.rows_read == report.rows_loaded + report.rows_quarantined
        assert report.rows_loaded + report.rows_quarantined + report.blank_records == len(rows), (
            f"{len(rows)} records written ({encoding}, {sep!r}, {end!r}): "
            f"{report.rows_loaded} loaded, {report.rows_quarantined} quarantined, "
            f"{report.blank_records} blank"
        )
        if encoding == "cp1252":
            return  # an 8-bit code page is guessed from the text; random text may read otherwise
        # A loaded deal keeps its name as written (edge whitespace trimmed): no silent change.
        con = duckdb.connect(str(ws.store_path), read_only=True)
        try:
            stored = dict(con.execute("SELECT source_id, name FROM deals").fetchall())
        finally:
            con.close()
        for source_id, name in stored.items():
            written = rows[int(source_id) - 1][1].strip()
            assert (name or "").strip() == written, (source_id, written, name)


@pytest.mark.slow
@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    rows=records(),
    sep=st.sampled_from([",", ";", "\t", "|"]),
    end=st.sampled_from(["\n", "\r\n", "\r"]),
    where=st.floats(0, 1),
    column=st.integers(1, 5),
)
@example(  # the stray quote is closed by the quoted cell of the next record
    rows=[
        [str(i), "", "Won " if i == 4 else "Closed Won", "0", "2023-01-05", ""]
        for i in range(1, 12)
    ],
    sep=",",
    end="\n",
    where=0.25,
    column=2,
)
def test_a_stray_quote_anywhere_loses_no_record(
    rows: list[list[str]], sep: str, end: str, where: float, column: int
) -> None:
    """A stray quote opening one cell: the records it swallows are set aside line by line,
    so loaded + quarantined + blank is at least the records written (a multi-line cell
    re-read by its lines counts once per line), and nothing is refused. (A quote closed on
    its own line by a later quote makes a record the csv module reads too, and may load.)"""
    target = min(int(where * len(rows)), len(rows) - 1)
    text = write_csv(rows[:target], sep, False, end)
    broken = [*rows[target]]
    broken[column] = '"' + broken[column].replace('"', "").replace(sep, "")
    tail = write_csv(rows[target + 1 :], sep, False, end).split(end, 1)[1]
    cells = [c if k == column else quote_cell(c, sep) for k, c in enumerate(broken)]
    text += sep.join(cells) + end + tail
    with TemporaryDirectory() as tmp:
        path = Path(tmp) / "deals.csv"
        path.write_bytes(text.encode("utf-8"))
        ws = Workspace.init(Path(tmp) / "ws")
        result = ws.ingest([path])
        assert not result.failures, [str(e) for _p, e in result.failures]
        (report,) = result.files
        assert not report.skipped, report.skipped
        assert report.rows_read == report.rows_loaded + report.rows_quarantined
        accounted = report.rows_loaded + report.rows_quarantined + report.blank_records
        assert accounted >= len(rows), (
            f"{len(rows)} records written, {accounted} accounted for "
            f"({report.rows_loaded} loaded, {report.rows_quarantined} quarantined)"
        )
        assert report.rows_loaded <= len(rows)
