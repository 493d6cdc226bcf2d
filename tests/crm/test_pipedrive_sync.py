"""``icp pull pipedrive`` and ``icp push pipedrive`` against the loopback Pipedrive holding
the demo CRM: the pull loads what the exports load, the push writes each organization once
within the rate limit."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from helpers import DemoCrm, DemoWorkspaces
from icpkit.crm.emulators.pipedrive import PipedriveEmulator
from icpkit.crm.pipedrive import PipedriveConnector
from icpkit.workspace import Workspace

TOKEN = "0123456789abcdef0123456789abcdefsync0000"
TODAY = dt.date(2025, 6, 1)


def environ(pd: PipedriveEmulator) -> dict[str, str]:
    return {
        "PIPEDRIVE_API_TOKEN": TOKEN,
        "ICPKIT_PIPEDRIVE_URL": pd.url,
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


def icp_values(pd: PipedriveEmulator, org: dict[str, Any]) -> dict[str, Any]:
    """An organization's ICP fields by name, options as their labels."""
    out = {}
    for field in pd.fields["organization"]:
        if field["name"].startswith("ICP"):
            value = org.get(field["key"])
            labels = {o["id"]: o["label"] for o in field.get("options") or []}
            out[field["name"]] = labels.get(value, value)
    return out


def test_pull_loads_what_the_exports_load_and_the_next_pull_only_what_changed(
    tmp_path: Path, demo_crm: DemoCrm
) -> None:
    files = demo_crm(300, 4)
    exported = Workspace.init(tmp_path / "exported")
    assert exported.ingest([files.companies, files.deals]).ok
    pulled = Workspace.init(tmp_path / "pulled")
    with PipedriveEmulator(token=TOKEN) as pd:
        counts = pd.seed_demo(files)
        result = pulled.pull("pipedrive", environ=environ(pd))
        assert store(pulled) == store(exported)
        for record_id in sorted(pd.records["organization"])[:3]:
            pd.touch("organization", record_id, **{"Number of employees": "4321"})
        again = pulled.pull("pipedrive", environ=environ(pd))
    assert [o.read for o in again.objects] == [3, 0, 0]
    with pulled.connect(read_only=True) as con:
        (changed,) = con.execute("SELECT count(*) FROM accounts WHERE employees = 4321").fetchone()
    assert changed == 3
    companies, deals, _ = result.objects
    assert (companies.read, deals.read) == (counts["organization"], counts["deal"]) == (
        files.n_company_rows, 300,
    )  # fmt: skip


@pytest.mark.slow
def test_push_writes_each_organization_once_through_faults_and_a_second_push_nothing(
    tmp_path: Path, demo_workspace: DemoWorkspaces
) -> None:
    demo = demo_workspace(800, 5, derived=True)
    ws = demo.copy(tmp_path / "ws")
    with PipedriveEmulator(token=TOKEN) as pd:
        pd.seed_demo(demo.files)
        ws.pull("pipedrive", environ=environ(pd))
        pd.rate_limit, pd.window_s = 40, 0.1
        connector = PipedriveConnector(pd.url, TOKEN, timeout=0.5, backoff=0.001)
        pd.fail(500, times=2, method="PUT")
        pd.hang(1.0, times=1, method="PUT", applied=True)
        pd.fail(429, times=1, method="PUT", retry_after=0.01)
        first = ws.push("pipedrive", connector=connector, as_of=TODAY)
        second = ws.push("pipedrive", environ=environ(pd), as_of=TODAY)
        orgs = dict(pd.records["organization"])
        held = {oid: icp_values(pd, org) for oid, org in orgs.items()}
        website = pd.field_key("organization", "Website")
    assert first.written == len(pd.writes) == len(orgs) and not first.refused
    assert set(pd.writes.values()) == {1}
    assert pd.rate_limited == 0 and connector.throttled_s > 0  # slowed down, never refused
    assert (second.written, second.unchanged) == (0, first.written)
    scored = ws.score_file(demo.files.companies, as_of=TODAY)
    by_domain = {row["account_key"]: row for row in scored.scored_rows}
    compared = 0
    for oid, org in orgs.items():
        row = by_domain.get(org.get(website) or "")
        if row is None:
            continue
        compared += 1
        assert held[oid]["ICP tier"] == row["tier"]
        assert held[oid]["ICP route"] == row["route"]
        assert float(held[oid]["ICP fit"]) == float(row["fit"])
        assert int(held[oid]["ICP version"]) == ws.require_icp().version
    assert compared > 0.9 * len(orgs)
