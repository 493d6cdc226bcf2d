"""``icp score`` of a raw export reads it in one pass (icpkit.engines.rawfile) and scores
exactly what loading it as companies into a scratch store and scoring those accounts
scores: the same rows, scores, tiers, routes and reasons, the same quarantine and notes.
The load is the reference: every test here runs both and compares."""

from __future__ import annotations

import csv
import datetime as dt
import math
import shutil
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from edge_cases import edge_icp, edge_settings

from icpkit.config import IngestSettings, save_settings
from icpkit.demo import make_crm
from icpkit.engines import prospects
from icpkit.engines.prospects import ScoredFile, score_file
from icpkit.icp.model import dump_icp
from icpkit.ingest.distinct import normalize_distinct
from icpkit.ingest.fields import FIELDS
from icpkit.ingest.normalize import Unreadable
from icpkit.ingest.normalize.domains import account_domain
from icpkit.store.db import scalar
from icpkit.workspace import Workspace

DAY = dt.date(2026, 6, 1)
CORPUS = Path(__file__).parents[1] / "hostile" / "corpus"
HEADER = [
    "Record ID",
    "Company name",
    "Company Domain Name",
    "Number of Employees",
    "Annual Revenue",
    "Industry",
    "Country/Region",
    "Year Founded",
    "Web Technologies",
    "Time Zone",
    "Description",
]
# Every case the keys, the merge and the quarantine treat on their own, in one export.
MESSY = [
    ["101", "Acme, Inc.", "acme.io", "120", "$12M", "Software", "United States", "2015",
     "HubSpot;Slack", "Europe/Berlin", "two\nlines"],
    # No website, and its name's key (acme) is the name of another record id: its own account.
    ["102", "Acme Inc", "", "80", "", "Software", "Germany", "2010", "", "Europe/Berlin", ""],
    # Unreadable cells: the row is kept, the cells are quarantined.
    ["103", "Beta GmbH", "https://www.Beta.co.uk/", "lots", "5000000", "Fintech", "UK", "1700",
     "Stripe", "", ""],
    # Nothing identifies the account: the row is quarantined.
    ["104", "", "", "50", "", "", "", "", "", "", ""],
    ["105", "Gamma", "gamma.io", "51-200", "€1.2M", "Manufacturing", "France", "2001", "", "",
     ""],
    # The same domain as 105: one account, the first record's values first.
    ["106", "Gamma Two", "GAMMA.IO", "300", "", "Retail", "France", "", "Intercom", "Asia/Tokyo",
     "multi\nline\ncell"],
    ["107", "The Delta Company", "", "20", "", "", "Spain", "", "", "", ""],
    ["108", "Delta", "www.delta.com", "30", "", "", "", "", "", "", ""],
    ["109", "Épsilon SA", "", "10", "", "", "", "", "", "", ""],
    ["110", "Epsilon", "http://epsilon.fr", "10", "", "", "", "", "", "", ""],
    # A page on a shared platform is an account; the platform's bare host names none.
    ["111", "Zeta", "facebook.com/zeta", "10", "", "", "", "", "", "", ""],
    ["112", "Eta", "facebook.com", "10", "", "", "", "", "", "", ""],
    ["", "", "", "", "", "", "", "", "", "", ""],
    ["113", "Theta Ltd", "theta.io", "abc", "1,200,000", "Software", "Narnia", "1999", "", "", ""],
    ["114", "Iota", "iota.github.io", "12", "", "", "", "", "", "", ""],
    ["115", "Kappa", "kappa.com.au", "250", "", "", "Australia", "", "", "", ""],
]  # fmt: skip


def _write(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADER)
        writer.writerows(rows)
    return path


@pytest.fixture(scope="module")
def demo_workspace(tmp_path_factory: pytest.TempPathFactory) -> tuple[Workspace, Path]:
    """A workspace with the ICP derived from a small demo CRM, and its companies export."""
    root = tmp_path_factory.mktemp("rawfast")
    files = make_crm(2_000, 5, root / "data")
    ws = Workspace.init(root / "ws")
    assert ws.ingest(files.exports()).ok
    ws.derive()
    return ws, files.companies


@pytest.fixture(scope="module")
def edge_workspace(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """A workspace scoring with the edge-case ICP, which reads an unmapped column."""
    ws = Workspace.init(tmp_path_factory.mktemp("rawedge") / "ws")
    ws.settings.scoring = edge_settings().scoring
    ws.settings.icp = dump_icp(edge_icp())
    save_settings(ws.settings, ws.config_path)
    return ws


def _same(value: Any) -> Any:
    return "nan" if isinstance(value, float) and math.isnan(value) else value


def _both(ws: Workspace, path: Path, *, fast_only: bool = True) -> tuple[ScoredFile, ScoredFile]:
    """The file scored the one-pass way and the reference way."""
    icp = ws.require_icp()

    def run(fast: bool) -> ScoredFile:
        return score_file(path, icp, ws.settings, ws.store_path, as_of=DAY, fast=fast)

    if not fast_only:
        return run(True), run(False)
    reference = run(False)
    original = prospects.ingest_accounts

    def refuse(*args: object, **kwargs: object) -> object:
        raise AssertionError(f"{path.name} was loaded, not read in one pass")

    prospects.ingest_accounts = refuse  # type: ignore[assignment]
    try:
        fast = run(True)
    finally:
        prospects.ingest_accounts = original
    return fast, reference


def _assert_same(fast: ScoredFile, reference: ScoredFile) -> None:
    def rows(result: ScoredFile) -> list[tuple[Any, ...]]:
        return sorted(
            (tuple((k, _same(v)) for k, v in sorted(r.items())) for r in result.rows()),
            key=repr,
        )

    assert rows(fast) == rows(reference)
    assert fast.total == reference.total
    assert fast.tiers == reference.tiers and fast.routes == reference.routes
    assert fast.report is not None and reference.report is not None
    assert fast.report.problems == reference.report.problems
    assert fast.report.notes == reference.report.notes
    for count in ("rows_read", "rows_loaded", "rows_quarantined", "cells_quarantined"):
        assert getattr(fast.report, count) == getattr(reference.report, count), count


def test_a_messy_export_read_in_one_pass_scores_as_loading_it_does(
    demo_workspace: tuple[Workspace, Path], tmp_path: Path
) -> None:
    ws, _ = demo_workspace
    fast, reference = _both(ws, _write(tmp_path / "companies.csv", MESSY))
    _assert_same(fast, reference)
    assert fast.report is not None
    quarantined = {(p.line, p.column, p.scope) for p in fast.report.problems}
    # Line 2 holds a two-line cell: record 103 is on line 5, record 104 on line 6.
    assert (5, "Number of Employees", "cell") in quarantined
    assert (5, "Year Founded", "cell") in quarantined
    assert (6, "Company name", "row") in quarantined
    by_name = {r["name"]: r for r in fast.rows()}
    assert "Gamma Two" not in by_name  # merged into Gamma, whose values come first
    assert by_name["Acme Inc"]["record_id"] == "102"
    assert by_name["Beta GmbH"]["domain"] == "beta.co.uk"


def test_the_demo_companies_export_scores_the_same_either_way(
    demo_workspace: tuple[Workspace, Path],
) -> None:
    ws, companies = demo_workspace
    fast, reference = _both(ws, companies)
    _assert_same(fast, reference)
    assert fast.total > 1000


def test_an_unmapped_column_the_icp_reads_comes_from_the_first_record_of_an_account(
    edge_workspace: Workspace, tmp_path: Path
) -> None:
    fast, reference = _both(edge_workspace, _write(tmp_path / "companies.csv", MESSY))
    _assert_same(fast, reference)
    gamma = next(r for r in fast.rows() if r["name"] == "Gamma")
    # Gamma's own record has no time zone; the merged record's is not taken either.
    assert not any("Tokyo" in str(v) for v in gamma.values())


def test_scored_files_written_either_way_hold_the_same_rows(
    demo_workspace: tuple[Workspace, Path], tmp_path: Path
) -> None:
    ws, _ = demo_workspace
    icp = ws.require_icp()
    path = _write(tmp_path / "companies.csv", MESSY)
    written = {}
    for fast in (True, False):
        out = tmp_path / f"scored_{fast}.parquet"
        score_file(path, icp, ws.settings, ws.store_path, as_of=DAY, out=out, fast=fast)
        written[fast] = out
    con = duckdb.connect()
    a, b = (f"read_parquet('{written[k]}')" for k in (True, False))
    assert (
        con.execute(f"DESCRIBE SELECT * FROM {a}").fetchall()
        == con.execute(f"DESCRIBE SELECT * FROM {b}").fetchall()
    )
    differing = con.execute(
        f"SELECT count(*) FROM ((FROM {a} EXCEPT ALL FROM {b}) UNION ALL "
        f"(FROM {b} EXCEPT ALL FROM {a}))"
    ).fetchone()
    assert differing == (0,)


@pytest.mark.parametrize(
    "name",
    [
        "bom_utf8_crlf.csv",
        "quoted_cells_holding_pipes_and_line_breaks.csv",
        "formula_injection_cells.csv",
        "semicolon_inside_name.csv",
        "trailing_empty_column.csv",
        "thousands_separators.csv",
        "duplicate_headers.csv",
        # Read the reference way: NUL bytes, repeated headers, double-encoded text, cp1252.
        "nul_byte_late.csv",
        "header_repeated_mid_file.csv",
        "double_encoded_text.csv",
        "enc_cp1252.csv",
        "identical_rows_10000.csv",
    ],
)
def test_hostile_files_score_the_same_either_way(
    demo_workspace: tuple[Workspace, Path], tmp_path: Path, name: str
) -> None:
    ws, _ = demo_workspace
    path = tmp_path / name
    shutil.copyfile(CORPUS / name, path)
    fast, reference = _both(ws, path, fast_only=False)
    _assert_same(fast, reference)


def test_a_duplicated_record_id_is_judged_by_the_load(
    demo_workspace: tuple[Workspace, Path], tmp_path: Path
) -> None:
    ws, _ = demo_workspace
    rows = [*MESSY, ["101", "Acme, Inc.", "acme.io", "999", "", "", "", "", "", "", ""]]
    fast, reference = _both(ws, _write(tmp_path / "companies.csv", rows), fast_only=False)
    _assert_same(fast, reference)
    assert fast.report is not None
    assert any("duplicate Record ID 101" in p.reason for p in fast.report.problems)


# Record ids as spreadsheets leave them: Excel's '.0' after a number, and look-alikes.
RECORD_IDS = ["201.0", "202.00", "203.0.0", " 204.0 ", "205.", ".0", "206.0x", "2O7.0", "208"]


def test_record_ids_written_every_way_score_as_loading_them_does(
    demo_workspace: tuple[Workspace, Path], tmp_path: Path
) -> None:
    ws, _ = demo_workspace
    # No websites: the names are shared, so the accounts are keyed by their record ids.
    rows = [[rid, "Shared Name", "", "10", "", "", "", "", "", "", ""] for rid in RECORD_IDS]
    fast, reference = _both(ws, _write(tmp_path / "companies.csv", rows))
    _assert_same(fast, reference)
    ids = {r["record_id"] for r in fast.rows()}
    assert {"201", "204", "203.0", "208"} <= ids and "201.0" not in ids


WEBSITES = [
    "acme.io", "ACME.IO", " acme.io ", "www.acme.io", "https://www.Acme.io/", "http://acme.io",
    "HTTPS://WWW.ACME.CO.UK", "acme.co.uk/", "acme.com.au", "www.co.uk", "co.uk", "www.com",
    "acme.github.io", "www.github.io", "github.io", "facebook.com", "www.facebook.com",
    "https://facebook.com/acme", "acme.wixsite.com", "acme.myshopify.com", "a.b.acme.io",
    "sub.acme.co.uk", "acme.gov.uk", "kawasaki.jp", "city.kawasaki.jp", "www.city.kawasaki.jp",
    "acme.kawasaki.jp", "x.ck", "www.x.ck", "acme.io:8080", "acme.io/about?x=1", "acme-.io",
    "-acme.io", "acme..io", "xn--bcher-kva.de", "bücher.de", "acme.ıo", "acme.unknowntld",
    "https://www.", "http://", "www.", "acme.blogspot.com", "https://linkedin.com/company/acme",
    "acme.io//", "https://acme.io/x/", "acme.s3.amazonaws.com", "ftp://acme.io", "acme.com.",
]  # fmt: skip


def test_the_website_twin_gives_every_value_what_the_domain_normalizer_gives() -> None:
    con = duckdb.connect()
    con.execute("CREATE TABLE sites (v VARCHAR)")
    con.executemany("INSERT INTO sites VALUES (?)", [[w] for w in WEBSITES])
    spec = next(s for s in FIELDS["companies"] if s.name == "company_domain")
    done = normalize_distinct(con, spec, "sites", "v", "lk", IngestSettings())
    rows = con.execute("SELECT raw, company_domain, error FROM lk").fetchall()
    got = {raw: (domain, error) for raw, domain, error in rows}
    for website in WEBSITES:
        if not website.strip():
            continue
        try:
            expected: tuple[str | None, bool] = (account_domain(website), False)
        except Unreadable:
            expected = (None, True)
        domain, error = got[website]
        assert (domain, error is not None) == expected, website
    assert done.in_python < len(WEBSITES)
    # The forms exports write most are read in SQL: none of them reaches Python.
    con.execute("CREATE TABLE common AS SELECT * FROM sites LIMIT 0")
    con.executemany("INSERT INTO common VALUES (?)", [[w] for w in WEBSITES[:9]])
    assert normalize_distinct(con, spec, "common", "v", "lk2", IngestSettings()).in_python == 0


def test_websites_read_as_themselves_are_left_out_of_the_lookup_and_read_back() -> None:
    con = duckdb.connect()
    con.register("sites", pa.table({"v": [*WEBSITES, "", " ", None, "beta.io", "gamma.co.uk"]}))
    spec = next(s for s in FIELDS["companies"] if s.name == "company_domain")
    normalize_distinct(con, spec, "sites", "v", "whole", IngestSettings())
    normalize_distinct(con, spec, "sites", "v", "part", IngestSettings(), keep="changed")
    rows = con.execute(
        """SELECT s.v, w.company_domain, w.error,
                  CASE WHEN p.raw IS NOT NULL THEN p.company_domain
                       WHEN trim(s.v) <> '' THEN s.v END,
                  p.error
           FROM sites s LEFT JOIN whole w ON w.raw = s.v LEFT JOIN part p ON p.raw = s.v"""
    ).fetchall()
    for website, domain, error, read_back, error_back in rows:
        assert (read_back, error_back) == (domain, error), website
    left_out = scalar(con, "SELECT count(*) FROM whole") - scalar(con, "SELECT count(*) FROM part")
    assert left_out >= 4  # acme.io, beta.io, gamma.co.uk, acme.com.au, ...
    # Not for several outputs, nor where the column's other values decide ('CA', '1,234').
    for name, keep in (("employees", "changed"), ("country", "changed"), ("revenue", "unread")):
        other = next(s for s in FIELDS["companies"] if s.name == name)
        with pytest.raises(ValueError):
            normalize_distinct(con, other, "sites", "v", "x", IngestSettings(), keep=keep)


# Revenue and head counts written every way an export does, for the twins and the unit: one
# column the unit is unsure of, one of plain millions (the plain numbers scaled).
REVENUES = [
    "10,717,000", "1,234,000", "$194.5M", "€1.1B", "2.5 million", "$100K", "12,500", "36.9",
    "5000000", "1.234", "$1.5M-$2M", "lots", "-5", "$36.9", "3 billion", "1,000,000.50", "",
]  # fmt: skip
MILLIONS = ["12", "36.9", "$5M", "1,234", "2.5", "150", "$1.1B", "2.5 million", "8", "12,500"]
HEADCOUNTS = ["1,200", "80", "51-200", "2,500", "10,000", "0,123", "12.5", "", "1,000,000"]
NAMES = ["Zoë AG", "Zoe", "Müller GmbH", "Muller", "Ærø ApS", "Straße GmbH", "ÉCOLE & Cie"]


@pytest.mark.parametrize(("revenues", "unit"), [(REVENUES, "unit unsure"), (MILLIONS, "millions")])
def test_revenue_and_head_counts_written_every_way_score_as_loading_them_does(
    demo_workspace: tuple[Workspace, Path], tmp_path: Path, revenues: list[str], unit: str
) -> None:
    ws, _ = demo_workspace
    rows = []
    for i in range(400):
        name = f"{NAMES[i % len(NAMES)]} {i % 40}" if i % 3 else NAMES[i % len(NAMES)]
        site = "" if i % 5 == 0 else f"co{i}.io"
        revenue, heads = revenues[i % len(revenues)], HEADCOUNTS[i % len(HEADCOUNTS)]
        notes = "first line\nsecond line" if i % 11 == 0 else ""
        rows.append([str(5000 + i), name, site, heads, revenue, "Software", "Germany", "2001",
                     "", "", notes])  # fmt: skip
    fast, reference = _both(ws, _write(tmp_path / "companies.csv", rows))
    _assert_same(fast, reference)
    assert fast.report is not None
    assert any("decimal separator" in n for n in fast.report.notes)
    assert any(unit in n for n in fast.report.notes)
    assert any(p.column == "Number of Employees" for p in fast.report.problems)


# Mostly ISO dates (read in SQL), then serial numbers, the majority of the others: the ISO
# dates counted in SQL keep the column from reading as serial numbers.
DATES = ["45292", "45300", "45310", "45320", "2024-02-30", "soon", ""]


def test_dates_read_for_the_quarantine_only_quarantine_as_loading_them_does(
    demo_workspace: tuple[Workspace, Path], tmp_path: Path
) -> None:
    ws, _ = demo_workspace
    path = tmp_path / "companies.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["Record ID", "Company name", "Company Domain Name", "Create Date"])
        for i in range(300):
            created = DATES[i // 2 % len(DATES)] if i % 2 else f"2023-01-{1 + i % 28:02d}"
            writer.writerow([str(7000 + i), f"Name {i}", f"n{i}.io", created])
    fast, reference = _both(ws, path)
    _assert_same(fast, reference)
    assert fast.report is not None
    assert {p.value for p in fast.report.problems} >= {"2024-02-30", "soon", "45292"}
