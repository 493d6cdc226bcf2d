"""Ingesting the generated CRM recovers its planted truth: every value, link and quirk."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from helpers import DemoCrm
from icpkit.workspace import Workspace

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo(
    tmp_path_factory: pytest.TempPathFactory, demo_crm: DemoCrm
) -> tuple[Workspace, Path, dict]:
    files = demo_crm(3_000, 11)
    ws = Workspace.init(tmp_path_factory.mktemp("demo") / "ws")
    result = ws.ingest([files.companies, files.deals, files.signals])
    assert result.ok, result.failures
    truth = json.loads(files.planted_truth.read_text())
    return ws, files.companies.parent, {"truth": truth, "reports": result.files}


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def quirk(truth: dict, name: str) -> int:
    return next(q["count"] for q in truth["messy_quirks"] if q["name"] == name)


def test_no_row_is_lost_and_every_deal_loads(demo, query) -> None:
    ws, _, info = demo
    for report in info["reports"]:
        assert report.rows_read == report.rows_loaded + report.rows_quarantined
        assert report.rows_quarantined == 0
    counts = info["truth"]["counts"]
    assert query(ws, "SELECT count(*) FROM deals") == [(counts["deals"],)]
    merged = next(r.duplicates_merged for r in info["reports"] if r.entity == "signals")
    # Identical events (same company, type, detail and day) are one signal.
    assert query(ws, "SELECT count(*) FROM signals") == [(counts["signals"] - merged,)]


def test_each_company_is_one_account_duplicates_merged(demo, query) -> None:
    ws, _, info = demo
    assert quirk(info["truth"], "duplicate_company") > 0
    assert query(ws, "SELECT count(*) FROM accounts") == [(info["truth"]["counts"]["companies"],)]


def test_planted_bad_cells_are_quarantined_one_for_one(demo, query) -> None:
    ws, _, info = demo
    truth = info["truth"]
    by_reason = dict(
        query(
            ws,
            "SELECT CASE WHEN reason LIKE 'negative amount%' THEN 'amount_negative' "
            "WHEN reason LIKE '%before create date%' THEN 'close_before_create' "
            "WHEN \"column\" = 'Close Date' THEN 'close_date_unparseable' ELSE reason END, "
            "count(*) FROM quarantine GROUP BY 1",
        )
    )
    assert by_reason == {
        name: quirk(truth, name)
        for name in ("amount_negative", "close_before_create", "close_date_unparseable")
    }


def test_outcomes_match_the_generators_outcomes(demo, query) -> None:
    ws, data, _ = demo
    expected = {r["Record ID"]: r["outcome"] for r in rows(data / "truth" / "deal_truth.csv")}
    loaded = dict(query(ws, "SELECT source_id, outcome FROM deals"))
    assert loaded == expected


def test_normalized_attributes_match_the_true_company_attributes(demo, query) -> None:
    ws, data, _ = demo
    loaded = {
        r[0]: r[1:]
        for r in query(
            ws,
            "SELECT account_key, employees_low, employees_high, industry, country FROM accounts",
        )
    }
    checked = 0
    for company in rows(data / "truth" / "company_truth.csv"):
        if company["duplicate_record_id"] or company["domain"] not in loaded:
            continue
        low, high, industry, country = loaded[company["domain"]]
        true_employees = int(company["employees"])
        if low is not None:
            assert low <= true_employees <= (high or true_employees), company
        if industry is not None:
            assert industry == company["industry"], company
        if country is not None:
            assert country == company["country"], company
        checked += 1
    assert checked > 0.95 * len(loaded)


def test_deals_link_to_their_companys_domain(demo, query) -> None:
    ws, data, _ = demo
    domain_of = {c["Record ID"]: c["domain"] for c in rows(data / "truth" / "company_truth.csv")}
    linked = dict(query(ws, "SELECT source_id, account_key FROM deals"))
    wrong = []
    for deal in rows(data / "truth" / "deal_truth.csv"):
        domain = domain_of.get(deal["Company Record ID"])
        key = linked[deal["Record ID"]]
        # A company whose record has no domain is keyed by name until a file names its domain.
        if domain and key is not None and key != domain and not key.startswith("name:"):
            wrong.append(deal["Record ID"])
    assert wrong == []
