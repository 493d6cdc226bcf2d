"""Every company of the demo CRM's export, scored through the API one request at a time
(the scorecard compiled into Python) and in one large batch (the compiled SELECT), gives
every output field of ``icp score`` on the same rows."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from serving import AS_OF, Served, add_intent, start

from helpers import DemoWorkspaces
from icpkit.ingest.normalize import Unreadable
from icpkit.ingest.normalize.domains import account_domain
from icpkit.serve.batching import INLINE_ROWS

FIELDS = (
    "account_key", "fit", "intent", "score", "firmographic", "technographic", "behavioral",
    "deal_potential", "tier", "route", "win_probability", "top_reasons", "negative_reasons",
    "customer", "base",
)  # fmt: skip
EXPORT = {
    "employees": "Number of Employees", "revenue": "Annual Revenue", "industry": "Industry",
    "country": "Country/Region", "technologies": "Web Technologies",
    "founded_year": "Year Founded", "total_funding": "Total Money Raised",
    "Time Zone": "Time Zone",
}  # fmt: skip
"""The input layout's fields and the export's columns they are sent from, as written."""

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def big_batches(
    tmp_path_factory: pytest.TempPathFactory, demo_workspace: DemoWorkspaces
) -> Iterator[tuple[Served, Path]]:
    """A server allowing batches of 1,000, and the demo export its workspace came from."""
    demo = demo_workspace(800, 5, derived=True)
    root = demo.copy(tmp_path_factory.mktemp("whole") / "ws").root
    ws = add_intent(root, max_batch=1000)
    _, token = ws.create_token("crm-sync")
    server, thread, url = start(ws)
    try:
        yield Served(url, ws, token, token, server), demo.files.companies
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def export_rows(companies: Path) -> list[dict[str, str]]:
    """Each company of the export once (by its workspace key), its values as the CRM wrote
    them; a company without a readable domain is keyed by its record id, as one the
    workspace does not know."""
    rows: dict[str, dict[str, str]] = {}
    with companies.open(encoding="utf-8-sig", newline="") as fh:
        for record in csv.DictReader(fh):
            try:
                key = account_domain(record["Company Domain Name"])
            except Unreadable:
                key = None
            key = key or f"record-{record['Record ID']}"
            row = {"account_key": key}
            row.update({field: record[column] for field, column in EXPORT.items()})
            rows.setdefault(key, row)
    return list(rows.values())


def icp_score(served: Served, rows: list[dict[str, str]], path: Path) -> dict[str, Any]:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["account_key", *EXPORT])
        writer.writeheader()
        writer.writerows(rows)
    scored = served.ws.score_file(path, as_of=AS_OF)
    return {r["account_key"]: r for r in scored.rows()}


def as_sent(row: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in row.items() if v != ""}


def test_every_export_row_sent_alone_scores_as_icp_score_does(
    big_batches: tuple[Served, Path], tmp_path: Path
) -> None:
    served, companies = big_batches
    rows = export_rows(companies)
    expected = icp_score(served, rows, tmp_path / "accounts.csv")
    assert len(expected) == len(rows) > 300
    # The comparison means something: intent, customers, every tier and route are in it.
    assert any(r["intent"] > 0 for r in expected.values())
    assert any(r["customer"] for r in expected.values())
    assert {r["tier"] for r in expected.values()} == {"A", "B", "C", "D"}

    def one(row: dict[str, str]) -> dict[str, Any]:
        with served.client(served.token) as client:
            answer = client.post("/v1/score", params={"as_of": str(AS_OF)}, json=as_sent(row))
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(one, rows))
    for row, account in zip(rows, answers, strict=True):
        want = expected[row["account_key"]]
        assert {f: account[f] for f in FIELDS} == {f: want[f] for f in FIELDS}


def test_the_whole_export_in_one_batch_scores_as_icp_score_does(
    big_batches: tuple[Served, Path], tmp_path: Path
) -> None:
    served, companies = big_batches
    rows = export_rows(companies)[:1000]
    assert len(rows) > INLINE_ROWS  # scored by one query, not in the request
    expected = icp_score(served, rows, tmp_path / "accounts.csv")
    with served.client(served.token) as client:
        answer = client.post(
            "/v1/score", params={"as_of": str(AS_OF)}, json={"accounts": list(map(as_sent, rows))}
        )
    assert answer.status_code == 200, answer.text
    got = answer.json()["accounts"]
    assert [a["account_key"] for a in got] == [r["account_key"] for r in rows]
    for account in got:
        want = expected[account["account_key"]]
        assert {f: account[f] for f in FIELDS} == {f: want[f] for f in FIELDS}
