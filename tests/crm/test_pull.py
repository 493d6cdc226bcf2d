"""``icp pull hubspot``: the CRM's records through the same ingestion as its exports,
incrementally, resumable, every row accounted for."""

from __future__ import annotations

from pathlib import Path

import pytest
from hubspot_world import environ, seeded

from helpers import DemoCrm
from icpkit.crm.connectors import connector
from icpkit.crm.pull import pull
from icpkit.crm.state import SyncState
from icpkit.workspace import Workspace


def _store(ws: Workspace) -> dict[str, object]:
    """What a comparison of two stores looks at: accounts with their firmographics, deals
    with their outcome, amount and account."""
    with ws.connect(read_only=True) as con:
        accounts = con.execute(
            "SELECT account_key, name, employees, revenue, industry, country FROM accounts "
            "ORDER BY account_key"
        ).fetchall()
        deals = con.execute(
            "SELECT source_id, outcome, amount, account_key, closed_at FROM deals ORDER BY 1"
        ).fetchall()
    return {"accounts": accounts, "deals": deals}


def test_a_pull_loads_the_same_accounts_and_deals_as_ingesting_the_exports(
    tmp_path: Path, demo_crm: DemoCrm
) -> None:
    files = demo_crm(300, 4)
    exported = Workspace.init(tmp_path / "exported")
    assert exported.ingest([files.companies, files.deals]).ok
    pulled = Workspace.init(tmp_path / "pulled")
    with seeded(files) as hub:
        result = pulled.pull("hubspot", environ=environ(hub))
    assert _store(pulled) == _store(exported)
    companies, deals, contacts = result.objects
    assert (companies.read, deals.read, contacts.read) == (files.n_company_rows, 300, 0)
    # Every row accounted for: the imports hold what was read, quarantine what was not.
    with pulled.connect(read_only=True) as con:
        rows = con.execute("SELECT sum(rows_read), sum(rows_loaded) FROM imports").fetchone()
    assert rows == (files.n_company_rows + 300, companies.loaded + deals.loaded)


def test_an_unreadable_value_is_quarantined_naming_the_staged_file_line_and_column(
    tmp_path: Path, demo_crm: DemoCrm
) -> None:
    ws = Workspace.init(tmp_path / "ws")
    with seeded(demo_crm(300, 4)) as hub:
        odd = hub.add("companies", {"name": "Oddly Sized", "domain": "oddly.io",
                                    "numberofemployees": "a great many"})  # fmt: skip
        result = ws.pull("hubspot", environ=environ(hub), connector=None)
    cells = [q for q in ws.quarantine() if q["raw_value"] == "a great many"]
    assert len(cells) == 1
    staged = result.objects[0].files[0].path
    assert cells[0]["file"] == staged.name and cells[0]["column"] == "numberofemployees"
    lines = staged.read_text(encoding="utf-8").splitlines()
    assert odd in lines[cells[0]["line"] - 1]


def test_the_next_pull_reads_only_what_changed_since(tmp_path: Path, demo_crm: DemoCrm) -> None:
    ws = Workspace.init(tmp_path / "ws")
    with seeded(demo_crm(300, 4)) as hub:
        ws.pull("hubspot", environ=environ(hub))
        some = sorted(hub.objects["companies"])[:3]
        for rid in some:
            hub.change("companies", rid, {"numberofemployees": "4321"})
        hub.requests.clear()
        again = ws.pull("hubspot", environ=environ(hub))
        asked = {path for _, path, _ in hub.requests}
    assert [o.read for o in again.objects] == [3, 0, 0]
    assert "/crm/v3/objects/companies/search" in asked
    with ws.connect(read_only=True) as con:
        employees = con.execute(
            "SELECT a.employees FROM accounts a JOIN account_ids i USING (account_key) "
            f"WHERE i.source_id IN ({', '.join('?' * 3)})",
            some,
        ).fetchall()
    assert employees == [(4321,)] * 3


def test_a_pull_stopped_midway_resumes_without_losing_or_doubling_rows(
    tmp_path: Path, demo_crm: DemoCrm
) -> None:
    files = demo_crm(300, 4)
    whole = Workspace.init(tmp_path / "whole")  # the same pull, never stopped
    ws = Workspace.init(tmp_path / "ws")

    def stop_after_two(obj: str, so_far: int) -> None:
        if obj == "deals" and so_far >= 100:
            raise KeyboardInterrupt

    with seeded(files) as hub:
        api = connector("hubspot", environ=environ(hub))
        pull(api, whole.root, whole.settings, whole.connect, batch_rows=50)
        with pytest.raises(KeyboardInterrupt):
            pull(api, ws.root, ws.settings, ws.connect, batch_rows=50, after_batch=stop_after_two)
        rest = ws.pull("hubspot", environ=environ(hub))
    assert [o.read for o in rest.objects] == [0, 200, 0]
    assert _store(ws) == _store(whole)
    with ws.connect(read_only=True) as con:
        deal_rows = con.execute(
            "SELECT sum(rows_read) FROM imports WHERE entity = 'deals'"
        ).fetchone()
    assert deal_rows == (300,)  # each deal read and loaded once


def test_the_sync_state_keeps_each_companys_record_id_for_its_account(
    tmp_path: Path, demo_crm: DemoCrm
) -> None:
    files = demo_crm(300, 4)
    ws = Workspace.init(tmp_path / "ws")
    with seeded(files) as hub:
        ws.pull("hubspot", environ=environ(hub))
        domains = {rid: r.properties["domain"] for rid, r in hub.objects["companies"].items()}
    with SyncState(ws.root) as state:
        ids = state.record_ids("hubspot")
    with ws.connect(read_only=True) as con:
        keys = {k for (k,) in con.execute("SELECT account_key FROM accounts").fetchall()}
    assert sum(len(v) for v in ids.values()) == len(domains)  # every company record
    checked = 0
    for key, records in ids.items():
        for rid in records:
            if domains[rid] in keys:  # an account keyed by this company's own domain
                assert key == domains[rid]
                checked += 1
    assert checked > 0.8 * len(domains)


def test_contacts_are_pulled_and_linked_to_their_companies_accounts(
    tmp_path: Path, demo_crm: DemoCrm
) -> None:
    ws = Workspace.init(tmp_path / "ws")
    with seeded(demo_crm(300, 4)) as hub:
        company = sorted(hub.objects["companies"])[0]
        domain = hub.objects["companies"][company].properties["domain"]
        people = [
            hub.add("contacts", {"firstname": "Ada", "lastname": "Lovelace", "jobtitle": "CTO",
                                 "email": "ada@gmail.com"}, associations={"companies": [company]}),
            hub.add("contacts", {"firstname": "Alan", "lastname": "Turing",
                                 "jobtitle": "VP Engineering", "email": "alan@gmail.com"}),
        ]  # fmt: skip
        result = ws.pull("hubspot", environ=environ(hub))
    assert result.objects[2].read == result.objects[2].loaded == 2
    with ws.connect(read_only=True) as con:
        rows = con.execute(
            "SELECT source_id, account_key, job_title FROM contacts ORDER BY source_id"
        ).fetchall()
    assert rows == [(people[0], domain, "CTO"), (people[1], None, "VP Engineering")]
