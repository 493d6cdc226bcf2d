"""Ingestion into the store: every real layout loads, nothing is lost, re-imports are idempotent."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from helpers import run_query
from icpkit.config import MappingRule
from icpkit.ingest.problems import IngestError
from icpkit.ingest.report import FileReport
from icpkit.store import table_counts
from icpkit.workspace import Workspace

DEALS_HEADER = "Record ID,Deal Name,Deal Stage,Amount,Close Date,Create Date,Associated Company\n"


def ingest_one(ws: Workspace, path: Path, **kwargs: object) -> FileReport:
    result = ws.ingest([path], **kwargs)  # type: ignore[arg-type]
    assert result.ok, result.failures
    return result.files[0]


def snapshot(ws: Workspace) -> dict[str, list[tuple[object, ...]]]:
    return {
        t: run_query(ws, f"SELECT * FROM {t} ORDER BY ALL")
        for t in ("accounts", "account_ids", "deals", "signals", "quarantine", "imports")
    }


@pytest.mark.slow
def test_every_fixture_layout_loads_with_nothing_lost(query, ws: Workspace, fixtures: Path) -> None:
    result = ws.ingest(sorted(fixtures.glob("*.csv")))
    assert result.ok
    for report in result.files:
        assert report.rows_read == report.rows_loaded + report.rows_quarantined
        assert report.rows_read > 0
    outcomes = dict(query(ws, "SELECT outcome, count(*) FROM deals GROUP BY 1"))
    assert outcomes == {"won": 4, "lost": 3, "open": 4}


@pytest.mark.slow
def test_hubspot_deals_link_to_companies_loaded_later_by_record_id(query, ws, fixtures) -> None:
    ingest_one(ws, fixtures / "hubspot_deals.csv")
    before = dict(query(ws, "SELECT source_id, account_key FROM deals"))
    assert before["9001"] == "name:acme"  # only the company's name is known yet
    ingest_one(ws, fixtures / "hubspot_companies.csv")
    after = dict(query(ws, "SELECT source_id, account_key FROM deals"))
    assert after == {
        "9001": "acme.io",
        "9002": "mueller-maschinenbau.de",
        "9003": "globex.com",
        "9004": "initech.com",
        "9005": "acme.io",
    }
    # The name-only stand-in account is gone once the real one is known.
    assert query(ws, "SELECT count(*) FROM accounts WHERE account_key LIKE 'name:%'") == [(0,)]


def test_normalized_company_values_keep_their_raw_text(query, ws, fixtures) -> None:
    ingest_one(ws, fixtures / "hubspot_companies.csv")
    rows = query(
        ws,
        "SELECT account_key, employees, employees_low, employees_high, employees_raw, revenue, "
        "revenue_currency, industry, industry_raw, country, country_raw, technologies "
        "FROM accounts ORDER BY account_key",
    )
    acme, globex, initech, mueller = rows
    assert acme[1:5] == (126, 51, 200, "51-200")
    assert acme[5:7] == (5_000_000.0, "USD")
    assert acme[7:9] == ("Software", "Computer Software")
    assert acme[9:11] == ("US", "United States")
    assert acme[11] == ["HubSpot", "Slack"]
    assert globex[1:4] == (10001, 10001, None)
    assert globex[5] == 1_200_000_000.0
    assert globex[7] == "IT Services"
    assert initech[0] == "initech.com"  # from 'WWW.INITECH.COM'
    assert initech[7:9] == ("Software", "Computer Sofware")
    assert mueller[5:7] == (230_000_000.0, "EUR")
    assert mueller[7] == "Manufacturing" and mueller[9] == "DE"


@pytest.mark.slow
def test_salesforce_won_and_closed_flags_and_day_first_dates(query, ws, fixtures) -> None:
    ingest_one(ws, fixtures / "salesforce_opportunities.csv")
    rows = query(
        ws,
        "SELECT source_id, outcome, amount, currency, created_at, closed_at, is_expansion, "
        "account_key FROM deals ORDER BY source_id",
    )
    assert [r[1] for r in rows] == ["won", "open", "lost"]
    assert rows[0][2:4] == (120_000.0, "USD")
    # '13/02/2024' in the column makes every date in it day-first.
    assert rows[0][4] == dt.datetime(2023, 11, 5)
    assert rows[2][4] == dt.datetime(2024, 1, 15)
    assert [r[6] for r in rows] == [False, True, False]  # 'Existing Customer - Upgrade'
    assert rows[0][7] == "umbrella.co.uk"
    industry = query(ws, "SELECT industry FROM accounts WHERE account_key = 'umbrella.co.uk'")
    assert industry == [("Health Care",)]


@pytest.mark.parametrize(
    ("types", "expected"),
    [
        (["NEW business", "O'Neil's upsell"], {"9001": True, "9002": True, "9003": False}),
        (["pilot"], {"9001": False, "9002": False, "9003": False}),
        ([], {"9001": False, "9002": False, "9003": False}),
    ],
)
def test_expansion_deals_are_those_whose_type_names_a_configured_kind(
    query, ws, fixtures, types: list[str], expected: dict[str, bool]
) -> None:
    # Matched in any case, anywhere in the deal type (not the deal name: '... - Pilot').
    ws.settings.ingest.expansion_deal_types = types
    ingest_one(ws, fixtures / "hubspot_deals.csv")
    rows = dict(query(ws, "SELECT source_id, is_expansion FROM deals"))
    assert {k: rows[k] for k in expected} == expected


def test_every_stored_row_carries_the_id_of_the_import_that_wrote_it(query, ws, fixtures) -> None:
    names = ("hubspot_companies.csv", "hubspot_deals.csv", "enrichment_signals.csv")
    assert ws.ingest([fixtures / n for n in names]).ok
    for table in ("accounts", "deals", "signals"):
        rows = query(
            ws,
            f"SELECT t.source_file, i.file_name FROM {table} t "
            "LEFT JOIN imports i USING (import_id)",
        )
        assert rows and all(written == recorded for written, recorded in rows), table


@pytest.mark.slow
def test_pipedrive_semicolon_export_uses_its_status_column(query, ws, fixtures) -> None:
    report = ingest_one(ws, fixtures / "pipedrive_deals.csv")
    assert (report.system, report.delimiter) == ("pipedrive", ";")
    rows = query(ws, "SELECT source_id, outcome, stage, currency, cycle_days FROM deals ORDER BY 1")
    assert rows == [
        ("301", "won", "Negotiations Started", "EUR", 41),
        ("302", "lost", "Proposal Made", "EUR", 46),
        ("303", "open", "Contact Made", "EUR", None),
    ]


@pytest.mark.slow
def test_reingesting_the_same_file_changes_nothing(ws, fixtures) -> None:
    ws.ingest(sorted(fixtures.glob("*.csv")))
    before = snapshot(ws)
    result = ws.ingest(sorted(fixtures.glob("*.csv")))
    assert all(r.skipped and "unchanged" in r.skipped for r in result.files)
    assert snapshot(ws) == before


@pytest.mark.slow
def test_forced_reingest_updates_in_place_without_duplicates(ws, fixtures) -> None:
    ws.ingest(sorted(fixtures.glob("*.csv")))
    counts = table_counts_of(ws)
    ws.ingest(sorted(fixtures.glob("*.csv")), force=True)
    after = table_counts_of(ws)
    assert after["deals"] == counts["deals"]
    assert after["accounts"] == counts["accounts"]
    assert after["signals"] == counts["signals"]
    assert after["imports"] == counts["imports"] * 2


def table_counts_of(ws: Workspace) -> dict[str, int]:
    with ws.connect() as con:
        return table_counts(con)


@pytest.mark.slow
def test_a_changed_file_updates_rows_and_adds_new_ones(query, ws, write) -> None:
    path = write(
        "deals.csv",
        DEALS_HEADER + "1,A,Closed Won,100,2024-02-01,2024-01-01,Acme\n"
        "2,B,Closed Lost,200,2024-02-01,2024-01-01,Beta\n",
    )
    ingest_one(ws, path)
    path.write_text(
        DEALS_HEADER + "1,A,Closed Won,150,2024-02-01,2024-01-01,Acme\n"
        "2,B,Closed Lost,200,2024-02-01,2024-01-01,Beta\n"
        "3,C,Qualified To Buy,300,,2024-03-01,Gamma\n"
    )
    report = ingest_one(ws, path)
    assert report.skipped is None
    rows = query(ws, "SELECT source_id, amount, outcome FROM deals ORDER BY 1")
    assert rows == [("1", 150.0, "won"), ("2", 200.0, "lost"), ("3", 300.0, "open")]


@pytest.mark.slow
def test_bad_cells_are_quarantined_with_file_line_column_and_value(query, ws, write) -> None:
    path = write(
        "deals.csv",
        DEALS_HEADER
        + "1,A,Closed Won,-500,2024-02-01,2024-01-01,Acme\n"
        + "2,B,Closed Won,3e13,2024-02-01,2024-01-01,Acme\n"
        + "3,C,Closed Lost,100,soon,2024-01-01,Acme\n"
        + "4,D,Closed Lost,100,2023-12-01,2024-01-01,Acme\n",
    )
    report = ingest_one(ws, path)
    assert (report.rows_read, report.rows_loaded, report.rows_quarantined) == (4, 4, 0)
    rows = query(ws, 'SELECT line, "column", raw_value, scope, reason FROM quarantine ORDER BY 1')
    assert [r[:4] for r in rows] == [
        (2, "Amount", "-500", "cell"),
        (3, "Amount", "3e13", "cell"),
        (4, "Close Date", "soon", "cell"),
        (5, "Close Date", "2023-12-01", "cell"),
    ]
    assert "negative" in rows[0][4]
    assert "absurd" in rows[1][4]
    assert "before create date" in rows[3][4]
    deals = query(ws, "SELECT source_id, amount, closed_at, cycle_days FROM deals ORDER BY 1")
    assert deals[0][1] is None and deals[1][1] is None  # the cell is empty, the row is kept
    assert deals[3][2] == dt.datetime(2023, 12, 1) and deals[3][3] is None


@pytest.mark.slow
def test_rows_that_cannot_load_are_quarantined_and_counts_add_up(query, ws, write) -> None:
    path = write(
        "deals.csv",
        DEALS_HEADER
        + "1,A,Closed Won,100,2024-02-01,2024-01-01,Acme\n"
        + "2,B,,100,2024-02-01,2024-01-01,Acme\n"  # no stage
        + "3,C,Closed Won,100,2024-02-01\n"  # too few fields
        + "4,D,Closed Won,100,2024-02-01,2024-01-01,Acme\n"
        + "4,D,Closed Won,999,2024-02-01,2024-01-01,Acme\n"  # same id, other amount
        + "5,E,Closed Lost,100,2024-02-01,2024-01-01,Acme\n"
        + "5,E,Closed Lost,100,2024-02-01,2024-01-01,Acme\n",  # exact duplicate
    )
    report = ingest_one(ws, path)
    assert report.rows_read == 7
    assert report.rows_read == report.rows_loaded + report.rows_quarantined
    assert report.rows_quarantined == 4
    assert report.duplicates_merged == 1
    problems = query(ws, "SELECT line, scope, reason FROM quarantine ORDER BY line")
    assert [(p[0], p[1]) for p in problems] == [(3, "row"), (4, "row"), (5, "row"), (6, "row")]
    assert "no stage" in problems[0][2]
    assert "fields where the header has 7" in problems[1][2]
    assert "duplicate Record ID 4 on lines 5, 6" in problems[2][2]
    assert "column 'Amount': '100' vs '999'" in problems[2][2]
    assert query(ws, "SELECT source_id FROM deals ORDER BY 1") == [("1",), ("5",)]


def test_repeated_ids_far_apart_in_a_regular_file_are_compared_cell_by_cell(
    query, ws, write
) -> None:
    """A file with no irregular row (read by DuckDB's reader), its repeated ids hundreds of
    lines apart and one of them on a row quarantined for another reason first: the exact
    repeat loads once, the differing one is quarantined naming the cell that differs."""
    row = "{0},D{0},Closed Won,{1},2024-02-01,2024-01-01,Acme {0}\n"
    rows = [row.format(i, 100 + i) for i in range(1, 401)]
    rows.append("7,D7,Closed Won,107,2024-02-01,2024-01-01,Acme 7\n")  # exact repeat of line 8
    rows.append("9,D9,Closed Won,999,2024-02-01,2024-01-01,Acme 9\n")  # id 9, other amount
    rows.append("12,D12,,112,2024-02-01,2024-01-01,Acme 12\n")  # id 12 again, but no stage
    report = ingest_one(ws, write("deals.csv", DEALS_HEADER + "".join(rows)))
    assert report.rows_read == 403
    assert report.duplicates_merged == 1
    problems = query(ws, "SELECT line, reason FROM quarantine ORDER BY line")
    assert [line for line, _ in problems] == [10, 403, 404]
    assert "duplicate Record ID 9 on lines 10, 403" in problems[0][1]
    assert "column 'Amount': '109' vs '999'" in problems[0][1]
    assert "no stage" in problems[2][1]
    assert query(ws, "SELECT count(*) FROM deals") == [(399,)]  # ids 1-400 but 9


def test_strict_mode_fails_on_the_first_problem_and_loads_nothing(ws, write) -> None:
    path = write(
        "deals.csv",
        DEALS_HEADER + "1,A,Closed Won,100,2024-02-01,2024-01-01,Acme\n"
        "2,B,Closed Won,-5,2024-02-01,2024-01-01,Acme\n",
    )
    result = ws.ingest([path], strict=True)
    assert not result.ok
    message = str(result.failures[0][1])
    assert message == ("deals.csv, line 3, column 'Amount', value '-5': negative amount")
    assert table_counts_of(ws)["deals"] == 0


@pytest.mark.slow
def test_dry_run_reports_the_counts_and_loads_nothing(ws, fixtures) -> None:
    result = ws.ingest([fixtures / "hubspot_deals.csv"], dry_run=True)
    assert result.files[0].rows_loaded == 5
    assert table_counts_of(ws) == {
        "accounts": 0,
        "deals": 0,
        "signals": 0,
        "contacts": 0,
        "quarantine": 0,
        "imports": 0,
    }


@pytest.mark.slow
def test_files_that_cannot_load_fail_alone_with_a_message(ws, fixtures, write) -> None:
    empty = write("empty.csv", "")
    no_stage = write("opps.csv", "Opportunity Name,Amount\nX,5\n")
    result = ws.ingest([empty, fixtures / "hubspot_deals.csv", no_stage])
    assert [p.name for p, _ in result.failures] == ["empty.csv", "opps.csv"]
    assert "empty file" in str(result.failures[0][1])
    assert "missing a required column" in str(result.failures[1][1])
    assert table_counts_of(ws)["deals"] == 5


def test_mapping_in_icp_yaml_loads_a_generic_layout(query, ws, write) -> None:
    ws.settings.ingest.mapping.append(
        MappingRule(
            files="pipeline*.csv",
            entity="deals",
            columns={"Opp": "source_id", "Phase": "stage", "Money": "amount"},
        )
    )
    path = write("pipeline-q1.csv", "Opp,Phase,Money,Customer\n7,Won,10,Acme\n8,Lost,5,Beta\n")
    report = ingest_one(ws, path)
    assert report.entity == "deals"
    assert query(ws, "SELECT source_id, outcome, amount FROM deals ORDER BY 1") == [
        ("7", "won", 10.0),
        ("8", "lost", 5.0),
    ]


def test_revenue_that_looks_like_millions_is_read_as_millions(query, ws, write) -> None:
    # More cases, and files in other units, in tests/ingest/test_units.py.
    lines = ["Company name,Company Domain Name,Number of Employees,Annual Revenue"]
    lines += [f"Co {i},co{i}.com,{100 + i},{5 + i % 7}" for i in range(40)]
    report = ingest_one(ws, write("companies.csv", "\n".join(lines) + "\n"))
    assert any("plain numbers read as millions" in n for n in report.notes)
    assert query(ws, "SELECT max(revenue) FROM accounts") == [(11e6,)]


def test_confirmed_revenue_unit_scales_plain_numbers_only(query, ws, write) -> None:
    ws.settings.ingest.revenue_unit = "millions"
    path = write("companies.csv", "Company name,Annual Revenue\nA,5\nB,$7M\n")
    ingest_one(ws, path)
    assert query(ws, "SELECT name, revenue FROM accounts ORDER BY 1") == [
        ("A", 5_000_000.0),
        ("B", 7_000_000.0),
    ]


@pytest.mark.slow
def test_companies_sharing_a_domain_merge_into_one_account(query, ws, write) -> None:
    path = write(
        "companies.csv",
        "Record ID,Company name,Website URL,Industry\n"
        '1,Acme Inc,https://acme.io,\n2,"Acme, Inc.",www.acme.io/about,SaaS\n',
    )
    report = ingest_one(ws, path)
    assert any("merged into one account" in n for n in report.notes)
    assert query(ws, "SELECT account_key, name, industry FROM accounts") == [
        ("acme.io", "Acme Inc", "Software")
    ]
    assert query(ws, "SELECT source_id, account_key FROM account_ids ORDER BY 1") == [
        ("1", "acme.io"),
        ("2", "acme.io"),
    ]


@pytest.mark.slow
def test_a_failure_mid_import_leaves_the_store_unchanged(ws, fixtures, monkeypatch) -> None:
    ws.ingest([fixtures / "hubspot_companies.csv"])
    before = snapshot(ws)
    from icpkit.ingest import merge

    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(merge, "relink", explode)  # after deals and accounts were written
    result = ws.ingest([fixtures / "hubspot_deals.csv"])
    ((path, error),) = result.failures  # reported as the file's failure, not raised
    assert path.name == "hubspot_deals.csv" and "disk full" in str(error)
    assert isinstance(error.__cause__, RuntimeError)
    assert snapshot(ws) == before


@pytest.mark.slow
def test_a_killed_process_mid_import_leaves_the_store_unchanged(ws, fixtures, tmp_path) -> None:
    ws.ingest([fixtures / "hubspot_companies.csv"])
    before = snapshot(ws)
    script = textwrap.dedent(
        f"""
        import os, signal
        from icpkit.ingest import merge
        from icpkit.workspace import Workspace

        real = merge.load_deals
        def load_then_die(ctx, report):
            real(ctx, report)  # rows are in the store's tables, not yet committed
            os.kill(os.getpid(), signal.SIGKILL)
        merge.load_deals = load_then_die
        Workspace.open({str(ws.root)!r}).ingest([{str(fixtures / "hubspot_deals.csv")!r}])
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert snapshot(ws) == before


def test_ingest_error_messages_name_the_file(ws, write) -> None:
    binary = write("photo.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    result = ws.ingest([binary])
    assert isinstance(result.failures[0][1], IngestError)
    assert str(result.failures[0][1]).startswith("photo.csv: not a table: photo.csv looks like")


@pytest.mark.slow
def test_xlsx_and_parquet_exports_load_like_csv(query, ws, tmp_path) -> None:
    import openpyxl
    import pyarrow as pa
    import pyarrow.parquet as pq

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Record ID", "Deal Stage", "Amount", "Close Date", "Create Date"])
    sheet.append([1, "Closed Won", 1200.5, dt.datetime(2024, 3, 5), dt.datetime(2024, 1, 5)])
    sheet.append([2, "Closed Lost", None, dt.datetime(2024, 4, 1), dt.datetime(2024, 2, 1)])
    xlsx = tmp_path / "deals.xlsx"
    book.save(xlsx)
    parquet = tmp_path / "companies.parquet"
    pq.write_table(
        pa.table({"Company name": ["Acme"], "Website": ["acme.io"], "Employees": [120]}), parquet
    )
    result = ws.ingest([xlsx, parquet])
    assert result.ok, result.failures
    assert query(ws, "SELECT source_id, outcome, amount, cycle_days FROM deals ORDER BY 1") == [
        ("1", "won", 1200.5, 60),
        ("2", "lost", None, 60),
    ]
    assert query(ws, "SELECT account_key, employees FROM accounts") == [("acme.io", 120)]


def test_cp1252_export_loads_with_its_accents(query, ws, write) -> None:
    path = write("companies.csv", "Company name;Country\nMüller GmbH;Österreich\n".encode("cp1252"))
    report = ingest_one(ws, path)
    assert report.encoding == "cp1252"
    assert query(ws, "SELECT name, country_raw FROM accounts") == [("Müller GmbH", "Österreich")]


def test_open_deals_have_no_sales_cycle(query, ws, write) -> None:
    path = write("deals.csv", DEALS_HEADER + "1,A,Contract Sent,100,2024-09-01,2024-01-01,Acme\n")
    ingest_one(ws, path)
    assert query(ws, "SELECT outcome, closed_at, cycle_days FROM deals") == [
        ("open", dt.datetime(2024, 9, 1), None)
    ]


def test_a_work_email_keys_the_account_but_free_mail_does_not(query, ws, write) -> None:
    path = write(
        "leads.csv",
        "Company name,Email,Number of Employees\n"
        "Acme,jane@mail.acme.io,50\nSolo Consulting,bob@gmail.com,1\n",
    )
    ingest_one(ws, path)
    assert query(ws, "SELECT account_key FROM accounts ORDER BY 1") == [
        ("acme.io",),
        ("name:solo consulting",),
    ]


@pytest.mark.slow
@pytest.mark.parametrize(
    "name", ["hubspot_companies.csv", "hubspot_deals.csv", "salesforce_opportunities.csv"]
)
def test_duckdb_and_python_readers_load_the_same_rows_on_the_same_lines(
    fixtures, tmp_path, monkeypatch, name
) -> None:
    from icpkit.ingest import staging

    def load(root: Path) -> list[tuple[object, ...]]:
        ws = Workspace.init(root)
        assert ws.ingest([fixtures / name]).ok
        table = "deals" if "deals" in name or "opportunities" in name else "accounts"
        return run_query(ws, f"SELECT * EXCLUDE (import_id) FROM {table} ORDER BY source_line")

    fast = load(tmp_path / "fast")
    monkeypatch.setattr(staging, "_stage_csv_in_duckdb", lambda *_: False)
    slow = load(tmp_path / "slow")
    assert fast == slow
    assert len(fast) > 0


@pytest.mark.parametrize(
    ("body", "exact"),
    [
        ('Acme,acme.io,120\n"Globex, Inc",globex.com,45\n', False),
        ('Acme 5" Screens,acme.io,120\nGlobex,globex.com,45\n', True),
        ('A"b"c,acme.io,120\nGlobex,globex.com,45\n', True),
    ],
    ids=["quotes in place", "a quote inside a cell", "quotes inside a cell"],
)
def test_a_file_with_quotes_out_of_place_is_read_by_the_exact_reader(
    ws, write, monkeypatch, body: str, exact: bool
) -> None:
    # DuckDB reads these files too, but the record count (taken while it reads) sends them
    # to the reader that reads every quote as Python's csv module does.
    from icpkit.ingest import readers

    read_exactly: list[str] = []
    chunks = readers.SourceTable.chunks

    def spy(self: readers.SourceTable, *args: object, **kwargs: object) -> object:
        read_exactly.append(self.path.name)
        return chunks(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(readers.SourceTable, "chunks", spy)
    path = write("companies.csv", "Company name,Company Domain Name,Number of Employees\n" + body)
    assert ingest_one(ws, path).rows_loaded == 2
    assert read_exactly == (["companies.csv"] if exact else [])


def test_a_blank_line_falls_back_to_exact_line_numbers(query, ws, write) -> None:
    path = write(
        "deals.csv",
        DEALS_HEADER + "1,A,Closed Won,100,2024-02-01,2024-01-01,Acme\n"
        "\n2,B,Closed Won,-1,2024-02-01,2024-01-01,Acme\n",
    )
    report = ingest_one(ws, path)
    assert report.blank_records == 1
    assert query(ws, "SELECT line FROM quarantine") == [(4,)]


@pytest.mark.slow
def test_salesforce_18_and_15_character_ids_link_the_same_account(query, ws, write) -> None:
    accounts = write(
        "accounts.csv",
        "Account ID,Account Name,Website,Billing Country,Employees\n"
        "0015e00000XyZaBAAV,Umbrella Corp,umbrella.co.uk,United Kingdom,250\n",
    )
    opps = write(
        "opps.csv",
        "Opportunity ID,Opportunity Name,Account ID,Account Name,Stage,Won,Closed\n"
        "0065e00000AbCdE,Umbrella - Platform,0015e00000XyZaB,Umbrella Corp,Closed Won,1,1\n",
    )
    assert ws.ingest([opps, accounts]).ok
    assert query(ws, "SELECT source_id, account_key FROM deals") == [
        ("0065e00000AbCdE", "umbrella.co.uk")
    ]


@pytest.mark.slow
def test_hubspot_deals_with_several_companies_link_to_the_primary(query, ws, write) -> None:
    companies = write(
        "companies.csv",
        "Record ID,Company name,Company Domain Name\n1,Acme,acme.io\n2,Beta,beta.io\n",
    )
    deals = write(
        "deals.csv",
        "Record ID,Deal Stage,Associated Company IDs,Associated Company\n"
        "10,Closed Won,1;2,Acme;Beta\n",
    )
    assert ws.ingest([companies, deals]).ok
    assert query(ws, "SELECT account_key, company_name FROM deals") == [("acme.io", "Acme")]


@pytest.mark.slow
def test_salesforce_report_footer_is_skipped_not_quarantined(query, ws, fixtures, write) -> None:
    body = (fixtures / "salesforce_opportunities.csv").read_text()
    footer = (
        '""\r\n"Grand Totals (3 records)"\r\n\r\n'
        '"Confidential Information - Do Not Distribute"\r\n'
        '"Copyright (c) 2000-2024 salesforce.com, inc. All rights reserved."\r\n'
    )
    report = ingest_one(ws, write("report.csv", body + footer))
    assert (report.rows_read, report.rows_loaded, report.rows_quarantined) == (3, 3, 0)
    assert any("skipped 3 report footer lines" in n for n in report.notes)
    assert query(ws, "SELECT count(*) FROM quarantine") == [(0,)]


@pytest.mark.slow
def test_reimporting_a_file_replaces_its_quarantine_entries(query, ws, write, tmp_path) -> None:
    row = "1,A,Closed Won,-5,2024-02-01,2024-01-01,Acme\n"
    path = write("deals.csv", DEALS_HEADER + row)
    ingest_one(ws, path)
    ingest_one(ws, path, force=True)
    # A file of the same name elsewhere keeps its own entries.
    other = tmp_path / "elsewhere" / "deals.csv"
    other.parent.mkdir()
    other.write_text(DEALS_HEADER + row.replace("1,A", "2,B"))
    ingest_one(ws, other)
    assert query(ws, 'SELECT line, "column" FROM quarantine ORDER BY import_id') == [
        (2, "Amount"),
        (2, "Amount"),
    ]
    assert query(ws, "SELECT count(DISTINCT import_id) FROM quarantine") == [(2,)]


@pytest.mark.slow
def test_hubspot_contacts_load_with_persona_fields_and_link_to_accounts(
    query, ws, fixtures
) -> None:
    result = ws.ingest([fixtures / "hubspot_companies.csv", fixtures / "hubspot_contacts.csv"])
    assert result.ok, result.failures
    report = result.files[1]
    assert (report.entity, report.system) == ("contacts", "hubspot")
    rows = query(
        ws,
        "SELECT source_id, account_key, email, full_name, seniority, department FROM contacts "
        "ORDER BY source_id",
    )
    assert rows == [
        ("701", "acme.io", "jane.doe@acme.io", "Jane Doe", "VP", "Sales"),
        # A gmail address says nothing about the company: the CRM id links it instead.
        (
            "702",
            "globex.com",
            "bob.roe@gmail.com",
            "Bob Roe",
            "Individual contributor",
            "Engineering",
        ),
        ("703", "initech.com", "ann@initech.com", "Ann Lee", "Head", "Marketing"),
        ("704", "name:newco", None, "Sam Poe", "Owner", "Executive"),
    ]
    counts = table_counts_of(ws)
    assert counts["contacts"] == 4
