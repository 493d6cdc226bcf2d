"""Re-imports: a corrected export replaces its earlier version of the same file as a whole,
an older export goes back only when asked, rows a re-export lacks are reported and kept or
retired, and the quarantine follows the file, not only its path."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from icpkit.ingest.report import FileReport
from icpkit.workspace import Workspace

Query = Callable[[Workspace, str], list[tuple[object, ...]]]
Write = Callable[[str, str | bytes], Path]

HEADER = "Deal Name,Deal Stage,Amount,Create Date,Close Date,Associated Company\n"
COMPANIES = ["Acme", "Globex", "Initech", "Umbrella", "Hooli"]


def export(rows: list[tuple[str, str, int, str, str, str]]) -> str:
    """A HubSpot-style deals export without record ids."""
    return HEADER + "".join(",".join(str(v) for v in row) + "\n" for row in rows)


def first_export() -> list[tuple[str, str, int, str, str, str]]:
    """20 deals: four per company, a mix of open, won and lost."""
    stages = ["Closed Won", "Closed Lost", "Appointment Scheduled", "Contract Sent"]
    return [
        (
            f"Deal {i}",
            stages[i % 4],
            1000 + i,
            f"2024-01-{i + 1:02d}",
            f"2024-03-{i + 1:02d}",
            COMPANIES[i % 5],
        )
        for i in range(20)
    ]


def corrected_export() -> list[tuple[str, str, int, str, str, str]]:
    """The same export a month later: 3 deals changed stage (and amount), 1 was deleted in
    the CRM, 2 are new."""
    rows = first_export()
    changed = {2: "Closed Won", 3: "Closed Lost", 1: "Closed Won"}  # open, open, lost
    rows = [
        (name, changed.get(i, stage), amount + (500 if i in changed else 0), c, d, co)
        for i, (name, stage, amount, c, d, co) in enumerate(rows)
    ]
    del rows[7]  # 'Deal 7'
    rows.append(("Deal 20", "Appointment Scheduled", 2020, "2024-02-01", "2024-04-01", "Acme"))
    rows.append(("Deal 21", "Closed Won", 2021, "2024-02-02", "2024-04-02", "Hooli"))
    return rows


def ingest(ws: Workspace, path: Path, **kwargs: object) -> FileReport:
    result = ws.ingest([path], **kwargs)  # type: ignore[arg-type]
    assert result.ok, result.failures
    return result.files[0]


def retire_missing(ws: Workspace) -> None:
    ws.settings.ingest = ws.settings.ingest.model_copy(update={"missing_rows": "retire"})


def deals_by_name(query: Query, ws: Workspace) -> dict[object, tuple[object, ...]]:
    rows = query(ws, "SELECT name, outcome, amount FROM deals")
    names = [r[0] for r in rows]
    assert len(names) == len(set(names)), "a deal is stored twice"
    return {r[0]: (r[1], r[2]) for r in rows}


# --- a corrected export without record ids -------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("missing_rows", ["keep", "retire"])
def test_corrected_export_without_ids_replaces_its_deals_instead_of_adding_them(
    query: Query, ws: Workspace, write: Write, missing_rows: str
) -> None:
    path = write("deals.csv", export(first_export()))
    ingest(ws, path)
    if missing_rows == "retire":
        retire_missing(ws)
    path.write_text(export(corrected_export()))
    ingest(ws, path)
    deals = deals_by_name(query, ws)
    # 21 deals in the corrected file; 'Deal 7' of the first one stays only when kept.
    assert len(deals) == (22 if missing_rows == "keep" else 21)
    assert ("Deal 7" in deals) == (missing_rows == "keep")
    assert deals["Deal 1"] == ("won", 1501.0)  # was lost
    assert deals["Deal 2"] == ("won", 1502.0)  # was open
    assert deals["Deal 3"] == ("lost", 1503.0)  # was open
    assert deals["Deal 21"] == ("won", 2021.0)


@pytest.mark.slow
def test_a_deal_is_never_stored_both_won_and_lost(query: Query, ws: Workspace, write) -> None:
    path = write("deals.csv", export(first_export()))
    ingest(ws, path)
    path.write_text(export(corrected_export()))
    ingest(ws, path)
    both = query(
        ws,
        "SELECT company_name, name FROM deals WHERE outcome IN ('won', 'lost') "
        "GROUP BY 1, 2 HAVING count(DISTINCT outcome) > 1",
    )
    assert both == []


def test_deals_sharing_company_name_and_create_date_stay_two_deals(
    query: Query, ws: Workspace, write: Write
) -> None:
    rows = [
        ("Renewal", "Closed Won", 100, "2024-01-01", "2024-02-01", "Acme"),
        ("Renewal", "Closed Lost", 200, "2024-01-01", "2024-02-01", "Acme"),
        ("Renewal", "Closed Lost", 200, "2024-01-01", "2024-02-01", "Acme"),  # exact repeat
    ]
    report = ingest(ws, write("deals.csv", export(rows)))
    assert sorted(query(ws, "SELECT outcome, amount FROM deals")) == [
        ("lost", 200.0),
        ("won", 100.0),
    ]
    assert report.duplicates_merged == 1


# --- rows missing from a re-export ---------------------------------------------------------


@pytest.mark.slow
def test_rows_missing_from_a_re_export_are_reported_and_kept_by_default(
    query: Query, ws: Workspace, write: Write
) -> None:
    path = write("deals.csv", export(first_export()))
    ingest(ws, path)
    path.write_text(export(corrected_export()))
    report = ingest(ws, path)
    assert report.rows_missing == 1
    assert report.rows_retired == 0
    (note,) = [n for n in report.notes if "not in this one" in n]
    assert note.startswith("1 deal of the previous export is not in this one ('Deal 7')")
    assert note.endswith("kept (ingest.missing_rows: retire removes them)")
    assert query(ws, "SELECT outcome FROM deals WHERE name = 'Deal 7'") == [("open",)]


@pytest.mark.slow
def test_rows_missing_from_a_re_export_are_retired_when_set(
    query: Query, ws: Workspace, write: Write
) -> None:
    path = write("deals.csv", export(first_export()))
    ingest(ws, path)
    retire_missing(ws)
    path.write_text(export(corrected_export()))
    report = ingest(ws, path)
    assert (report.rows_missing, report.rows_retired) == (1, 1)
    assert any("retired (ingest.missing_rows: retire)" in n for n in report.notes)
    assert query(ws, "SELECT count(*) FROM deals WHERE name = 'Deal 7'") == [(0,)]


@pytest.mark.slow
def test_a_re_export_under_another_name_and_folder_supersedes_the_first(
    query: Query, ws: Workspace, write: Write
) -> None:
    ingest(ws, write("2024-05/deals_may.csv", export(first_export())))
    retire_missing(ws)
    report = ingest(ws, write("2024-06/deals_june.csv", export(corrected_export())))
    assert any("a newer export of it, so this import supersedes it" in n for n in report.notes)
    assert report.rows_retired == 1
    assert len(deals_by_name(query, ws)) == 21


@pytest.mark.slow
def test_a_file_of_the_same_name_with_other_records_is_another_file(
    query: Query, ws: Workspace, write: Write
) -> None:
    emea = [r for r in first_export() if r[5] in ("Acme", "Globex")]
    us = [r for r in first_export() if r[5] not in ("Acme", "Globex")]
    ingest(ws, write("emea/deals.csv", export(emea)))
    retire_missing(ws)
    report = ingest(ws, write("us/deals.csv", export(us)))
    assert report.rows_missing == 0
    assert len(deals_by_name(query, ws)) == 20


# --- an older export ----------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("newer_name", ["deals.csv", "deals_v2.csv"])
def test_re_importing_an_older_export_changes_nothing_and_says_so(
    query: Query, ws: Workspace, write: Write, tmp_path: Path, newer_name: str
) -> None:
    old = write("deals.csv", export(first_export()))
    kept = tmp_path / "old_deals.csv"
    shutil.copy(old, kept)
    ingest(ws, old)
    ingest(ws, write(newer_name, export(corrected_export())))
    shutil.copy(kept, old)
    before = sorted(query(ws, "SELECT * EXCLUDE (import_id) FROM deals"), key=repr)
    imports = query(ws, "SELECT count(*) FROM imports")
    report = ingest(ws, old)
    assert report.skipped is not None
    assert "an older export" in report.skipped
    assert "nothing changed (--force loads it, and its values go back)" in report.skipped
    assert sorted(query(ws, "SELECT * EXCLUDE (import_id) FROM deals"), key=repr) == before
    assert query(ws, "SELECT count(*) FROM imports") == imports


@pytest.mark.slow
def test_an_older_export_loads_with_force_and_its_values_go_back(
    query: Query, ws: Workspace, write: Write
) -> None:
    old = write("deals.csv", export(first_export()))
    ingest(ws, old)
    ingest(ws, write("deals_v2.csv", export(corrected_export())))
    report = ingest(ws, old, force=True)
    assert report.skipped is None
    assert any("an older export" in n and "values go back" in n for n in report.notes)
    deals = deals_by_name(query, ws)
    assert deals["Deal 1"] == ("lost", 1001.0)
    assert deals["Deal 2"] == ("open", 1002.0)
    assert deals["Deal 7"] == ("open", 1007.0)


@pytest.mark.slow
def test_the_newer_export_after_a_forced_older_one_is_not_called_older(
    query: Query, ws: Workspace, write: Write
) -> None:
    old = write("deals.csv", export(first_export()))
    new = write("deals_v2.csv", export(corrected_export()))
    ingest(ws, old)
    ingest(ws, new)
    ingest(ws, old, force=True)
    report = ingest(ws, new)
    assert report.skipped is None
    assert deals_by_name(query, ws)["Deal 1"] == ("won", 1501.0)


@pytest.mark.slow
def test_icp_ingest_of_an_older_export_exits_0_and_says_so(
    ws: Workspace, write: Write, tmp_path: Path
) -> None:
    old = write("deals.csv", export(first_export()))
    ingest(ws, old)
    ingest(ws, write("deals_v2.csv", export(corrected_export())))
    from typer.testing import CliRunner

    from icpkit.cli.main import app

    result = CliRunner().invoke(
        app, ["ingest", str(old), "--workspace", str(ws.root)], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 0, result.output
    assert "an older export of deals_v2.csv" in result.output
    assert "nothing changed" in result.output


# --- the quarantine follows the file -------------------------------------------------------


@pytest.mark.slow
def test_the_same_export_from_another_folder_does_not_double_its_quarantine(
    query: Query, ws: Workspace, write: Write
) -> None:
    rows = [*first_export(), ("Bad", "Closed Won", -5, "2024-01-01", "2024-02-01", "Acme")]
    first = write("downloads/deals.csv", export(rows))
    copy = write("archive/deals.csv", export(rows))
    ingest(ws, first)
    report = ingest(ws, copy, force=True)
    assert query(ws, 'SELECT import_id, "column" FROM quarantine') == [(report.import_id, "Amount")]
    assert len(deals_by_name(query, ws)) == 21


@pytest.mark.slow
def test_a_corrected_export_elsewhere_replaces_the_quarantine_of_the_first(
    query: Query, ws: Workspace, write: Write
) -> None:
    bad = ("Deal 0", "Closed Won", "-5", "2024-01-01", "2024-02-01", "Acme")
    rows = [bad, *first_export()[1:]]
    ingest(ws, write("may/deals.csv", export(rows)))  # type: ignore[arg-type]
    ingest(ws, write("june/deals.csv", export(first_export())))
    assert query(ws, "SELECT count(*) FROM quarantine") == [(0,)]


# --- a store written before lineages -------------------------------------------------------


@pytest.mark.slow
def test_a_store_of_the_earlier_schema_is_upgraded_and_its_content_keyed_deals_replaced(
    query: Query, ws: Workspace, write: Write
) -> None:
    path = write("deals.csv", export(first_export()))
    ingest(ws, path)
    # As the earlier schema left it: no lineage columns, deals keyed by all their values.
    with ws.connect() as con:
        con.execute("ALTER TABLE imports DROP COLUMN lineage")
        con.execute("ALTER TABLE imports DROP COLUMN header_hash")
        con.execute("UPDATE deals SET deal_key = 'row:' || md5(deal_key || stage)")
        con.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    path.write_text(export(corrected_export()))
    report = ingest(ws, path)
    from icpkit.store.schema import STORE_SCHEMA_VERSION

    version = query(ws, "SELECT value FROM meta WHERE key = 'schema_version'")
    assert version == [(str(STORE_SCHEMA_VERSION),)]
    assert query(ws, "SELECT import_id, lineage FROM imports ORDER BY 1") == [(1, 1), (2, 1)]
    assert len(deals_by_name(query, ws)) == 21
    assert any("20 deals without ids, keyed by an earlier icpkit" in n for n in report.notes)


@pytest.mark.slow
def test_a_dry_run_of_an_older_export_says_what_it_is_and_changes_nothing(
    query: Query, ws: Workspace, write: Write
) -> None:
    old = write("deals.csv", export(first_export()))
    ingest(ws, old)
    ingest(ws, write("deals_v2.csv", export(corrected_export())))
    before = sorted(query(ws, "SELECT * FROM deals"), key=repr)
    report = ingest(ws, old, dry_run=True)
    assert any("an older export" in n and "without --force" in n for n in report.notes)
    assert sorted(query(ws, "SELECT * FROM deals"), key=repr) == before


# --- companies ----------------------------------------------------------------------------

COMPANY_HEADER = "Company name,Company Domain Name,Number of Employees\n"


@pytest.mark.slow
def test_retiring_companies_keeps_an_account_a_deal_still_points_to(
    query: Query, ws: Workspace, write: Write
) -> None:
    path = write(
        "companies.csv",
        COMPANY_HEADER + "Acme,acme.com,50\nGlobex,globex.com,80\nInitech,initech.com,120\n",
    )
    ingest(ws, path)
    ingest(
        ws,
        write(
            "deals.csv",
            "Deal Name,Deal Stage,Amount,Close Date,Company Domain Name\n"
            "Big one,Closed Won,100,2024-01-01,globex.com\n",
        ),
    )
    retire_missing(ws)
    path.write_text(COMPANY_HEADER + "Acme,acme.com,55\n")
    report = ingest(ws, path)
    assert (report.rows_missing, report.rows_retired) == (2, 1)
    assert sorted(query(ws, "SELECT account_key FROM accounts")) == [
        ("acme.com",),
        ("globex.com",),
    ]
    assert any("1 kept because deals, signals or contacts point to them" in n for n in report.notes)


@pytest.mark.slow
@pytest.mark.parametrize("other", [None, "signals", "contacts"])
def test_a_stub_account_goes_with_its_last_deal_unless_a_signal_or_contact_names_it(
    query: Query, ws: Workspace, write: Write, other: str | None
) -> None:
    path = write("deals.csv", export(first_export()))
    ingest(ws, path)
    stubs = {k for (k,) in query(ws, "SELECT account_key FROM accounts WHERE origin = 'stub'")}
    assert stubs == {f"name:{c.lower()}" for c in COMPANIES}
    if other == "signals":
        ingest(
            ws,
            write(
                "signals.csv", "Company name,Signal Type,Signal Date\nAcme,web_visit,2024-02-01\n"
            ),
        )
    elif other == "contacts":
        ingest(ws, write("contacts.csv", "First Name,Last Name,Company Name\nAda,Byron,Acme\n"))
    if other is not None:
        assert query(ws, f"SELECT account_key FROM {other}") == [("name:acme",)]
    # A month later every deal of Acme's is recorded under Initech; the old rows retire.
    retire_missing(ws)
    moved = [(*row[:5], "Initech" if row[5] == "Acme" else row[5]) for row in first_export()]
    path.write_text(export(moved))
    ingest(ws, path)
    assert query(ws, "SELECT count(*) FROM deals WHERE account_key = 'name:initech'") == [(8,)]
    stubs = {k for (k,) in query(ws, "SELECT account_key FROM accounts WHERE origin = 'stub'")}
    named = [c for c in COMPANIES if c != "Acme" or other is not None]
    assert stubs == {f"name:{c.lower()}" for c in named}
