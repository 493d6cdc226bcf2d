"""``icp pull salesforce`` and ``icp push salesforce`` against the loopback Salesforce holding
the demo CRM: the pull loads what the exports load, the push writes each account once."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from helpers import DemoCrm, DemoWorkspaces
from icpkit.crm.emulators.salesforce import SalesforceEmulator
from icpkit.crm.salesforce import SalesforceConnector
from icpkit.workspace import Workspace

TOKEN = "00Dx0000000sync!AQ4AQFakeSessionTokenOfTheSyncTests"
TODAY = dt.date(2025, 6, 1)


def environ(sf: SalesforceEmulator) -> dict[str, str]:
    return {
        "SALESFORCE_INSTANCE_URL": sf.url,
        "SALESFORCE_ACCESS_TOKEN": TOKEN,
        "ICPKIT_SECRETS_FILE": "/nonexistent/secrets.env",
    }


def store(ws: Workspace) -> dict[str, Any]:
    """Accounts with their firmographics, deals with outcome, amount, account and close date
    (the deals' ids differ between CRMs)."""
    with ws.connect(read_only=True) as con:
        accounts = con.execute(
            "SELECT account_key, name, employees, revenue, industry, country FROM accounts "
            "ORDER BY account_key"
        ).fetchall()
        deals = con.execute(
            "SELECT outcome, amount, account_key, closed_at FROM deals ORDER BY ALL"
        ).fetchall()
    return {"accounts": accounts, "deals": deals}


def test_pull_loads_what_the_exports_load_and_the_next_pull_only_what_changed(
    tmp_path: Path, demo_crm: DemoCrm
) -> None:
    files = demo_crm(300, 4)
    exported = Workspace.init(tmp_path / "exported")
    assert exported.ingest([files.companies, files.deals]).ok
    pulled = Workspace.init(tmp_path / "pulled")
    with SalesforceEmulator(token=TOKEN) as sf:
        counts = sf.seed_demo(files)
        result = pulled.pull("salesforce", environ=environ(sf))
        assert store(pulled) == store(exported)
        for record_id in sorted(sf.records["Account"])[:3]:
            sf.touch(record_id, NumberOfEmployees="4321")
        again = pulled.pull("salesforce", environ=environ(sf))
    assert [o.read for o in again.objects] == [3, 0, 0]
    with pulled.connect(read_only=True) as con:
        (changed,) = con.execute("SELECT count(*) FROM accounts WHERE employees = 4321").fetchone()
    assert changed == 3
    companies, deals, _ = result.objects
    assert (companies.read, deals.read) == (counts["Account"], counts["Opportunity"]) == (
        files.n_company_rows, 300,
    )  # fmt: skip


@pytest.mark.slow
def test_push_writes_each_account_once_through_faults_and_a_second_push_nothing(
    tmp_path: Path, demo_workspace: DemoWorkspaces
) -> None:
    demo = demo_workspace(800, 5, derived=True)
    ws = demo.copy(tmp_path / "ws")
    with SalesforceEmulator(token=TOKEN) as sf:
        sf.seed_demo(demo.files)
        ws.pull("salesforce", environ=environ(sf))
        connector = SalesforceConnector(sf.url, TOKEN, timeout=0.5, backoff=0.001)
        sf.fail(503, times=2, method="PATCH")
        sf.hang(1.0, times=1, method="PATCH", applied=True)
        sf.fail(429, times=1, method="PATCH", retry_after=0.01)
        first = ws.push("salesforce", connector=connector, as_of=TODAY)
        second = ws.push("salesforce", environ=environ(sf), as_of=TODAY)
        accounts = dict(sf.records["Account"])
    assert first.written == len(sf.writes) == len(accounts) and not first.refused
    assert set(sf.writes.values()) == {1}
    assert (second.written, second.unchanged) == (0, first.written)
    scored = ws.score_file(demo.files.companies, as_of=TODAY)
    by_domain = {row["account_key"]: row for row in scored.scored_rows}
    compared = 0
    for account in accounts.values():
        row = by_domain.get(account.get("Website") or "")
        if row is None:
            continue
        compared += 1
        assert account["ICP_Tier__c"] == row["tier"]
        assert account["ICP_Route__c"] == row["route"]
        assert float(account["ICP_Fit__c"]) == float(row["fit"])
        assert int(account["ICP_Version__c"]) == ws.require_icp().version
    assert compared > 0.9 * len(accounts)
