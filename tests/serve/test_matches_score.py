"""The API scores exactly as ``icp score`` does: the same compiled SELECT, the same
normalizers, the workspace's signals and customers, for the same rows."""

from __future__ import annotations

import csv
import datetime as dt
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from serving import AS_OF, Served

FIELDS = (
    "fit", "intent", "score", "firmographic", "technographic", "behavioral", "deal_potential",
    "tier", "route", "win_probability", "top_reasons", "negative_reasons", "customer", "base",
)  # fmt: skip
LAYOUT = ("account_key", "employees", "revenue", "industry", "country", "technologies",
          "founded_year", "funding_stage", "total_funding")  # fmt: skip


def workspace_rows(served: Served, n: int) -> list[dict[str, Any]]:
    """The workspace's first ``n`` accounts with signals, customers among them, as text
    cells in the input layout, some written as a CRM would (raw names and ranges)."""
    import duckdb

    con = duckdb.connect(str(served.ws.store_path), read_only=True)
    try:
        cur = con.execute(
            "SELECT account_key, employees, revenue, industry, country, "
            "array_to_string(technologies, ';'), founded_year, funding_stage, total_funding "
            "FROM accounts ORDER BY (SELECT count(*) FROM signals s "
            "WHERE s.account_key = accounts.account_key) DESC, account_key LIMIT ?",
            [n],
        )
        rows = [dict(zip(LAYOUT, r, strict=True)) for r in cur.fetchall()]
    finally:
        con.close()
    raw = {"US": "USA", "DE": "Deutschland", "GB": "England"}
    for i, row in enumerate(rows):
        if i % 3 == 0 and row["country"] in raw:
            row["country"] = raw[row["country"]]
        if i % 4 == 1 and row["employees"] is not None:
            row["employees"] = f"{int(row['employees']):,}"
        if i % 5 == 2 and row["industry"] == "Software":
            row["industry"] = "Computer Software"
    return rows


def extra_rows() -> list[dict[str, Any]]:
    """Accounts the workspace does not know: ranges, money in words, unreadable values."""
    return [
        {"account_key": "new-1.example", "employees": "51-200", "industry": "Computer Software",
         "country": "United States", "technologies": "HubSpot; Slack ;", "revenue": "$5M"},
        {"account_key": "new-2.example", "employees": "lots", "industry": "Banking",
         "country": "Narnia", "technologies": "", "founded_year": "1890"},
        {"account_key": "new-3.example", "employees": "7", "industry": "Public Administration",
         "country": "DE", "total_funding": "36.9 Million"},
        {"account_key": "new-4.example"},
    ]  # fmt: skip


def write_csv(path: Path, rows: list[dict[str, Any]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=LAYOUT)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: "" if row.get(k) is None else row[k] for k in LAYOUT})
    return path


def as_sent(row: dict[str, Any]) -> dict[str, Any]:
    """A CSV row as a client sends it: empty cells left out, text as text."""
    return {k: str(v) for k, v in row.items() if v not in (None, "")}


def test_a_batch_scores_every_field_as_icp_score_does(served: Served, tmp_path: Path) -> None:
    rows = workspace_rows(served, 40) + extra_rows()
    scored = served.ws.score_file(write_csv(tmp_path / "accounts.csv", rows), as_of=AS_OF)
    expected = {r["account_key"]: r for r in scored.rows()}
    assert len(expected) == len(rows)
    # The comparison means something: intent, customers and every tier are in it.
    assert any(r["intent"] > 0 for r in expected.values())
    assert any(r["customer"] for r in expected.values())

    with served.client(served.token) as client:
        got = client.post(
            "/v1/score", params={"as_of": str(AS_OF)}, json={"accounts": [as_sent(r) for r in rows]}
        )
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["icp_version"] == served.ws.require_icp().version
    assert [a["account_key"] for a in body["accounts"]] == [r["account_key"] for r in rows]
    for account in body["accounts"]:
        want = expected[account["account_key"]]
        assert {f: account[f] for f in FIELDS} == {f: want[f] for f in FIELDS}, account


def test_single_requests_sent_together_score_as_icp_score_does(
    served: Served, tmp_path: Path
) -> None:
    rows = workspace_rows(served, 24) + extra_rows()
    scored = served.ws.score_file(write_csv(tmp_path / "accounts.csv", rows), as_of=AS_OF)
    expected = {r["account_key"]: r for r in scored.rows()}

    def one(row: dict[str, Any]) -> dict[str, Any]:
        with served.client(served.token) as client:
            answer = client.post("/v1/score", params={"as_of": str(AS_OF)}, json=as_sent(row))
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    # Sent at once, they are gathered into shared queries; each still gets its own row.
    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(one, rows))
    for row, account in zip(rows, answers, strict=True):
        assert account["account_key"] == row["account_key"]
        want = expected[row["account_key"]]
        assert {f: account[f] for f in FIELDS} == {f: want[f] for f in FIELDS}


def test_unreadable_values_are_reported_with_the_account_and_score_as_unknown(
    served: Served,
) -> None:
    with served.client(served.token) as client:
        answer = client.post("/v1/score", json={"employees": "lots", "country": "Narnia"}).json()
        unknown = client.post("/v1/score", json={}).json()
    assert answer["problems"] == [
        "column 'employees', value 'lots': not an employee count: 'lots'; read as unknown",
        "column 'country', value 'Narnia': " + answer["problems"][1].split(": ", 1)[1],
    ]
    assert answer["problems"][1].endswith("read as unknown")
    assert {f: answer[f] for f in FIELDS} == {f: unknown[f] for f in FIELDS}


def test_signals_in_the_request_count_as_the_workspace_signals_do(served: Served) -> None:
    """An account known by its key takes the workspace's signals; the same values without
    the key but with those signals in the request score the same."""
    import duckdb

    con = duckdb.connect(str(served.ws.store_path), read_only=True)
    try:
        key, employees, industry = con.execute(
            "SELECT a.account_key, a.employees, a.industry FROM accounts a "
            "JOIN signals s USING (account_key) WHERE s.signal_type = 'job_posting' "
            "AND s.detail = 'SDR' AND s.observed_at > DATE '2025-07-01' "
            "ORDER BY a.account_key LIMIT 1"
        ).fetchone()
        signals = con.execute(
            "SELECT signal_type, detail, CAST(observed_at AS DATE) FROM signals "
            "WHERE account_key = ?",
            [key],
        ).fetchall()
    finally:
        con.close()
    known = {"account_key": key, "employees": employees, "industry": industry}
    sent = {
        "employees": employees,
        "industry": industry,
        "signals": [{"type": t, "detail": d, "day": str(day)} for t, d, day in signals],
    }
    with served.client(served.token) as client:
        by_key = client.post("/v1/score", params={"as_of": str(AS_OF)}, json=known).json()
        by_request = client.post("/v1/score", params={"as_of": str(AS_OF)}, json=sent).json()
        bare = {k: v for k, v in sent.items() if k != "signals"}
        without = client.post("/v1/score", params={"as_of": str(AS_OF)}, json=bare).json()
    assert by_key["intent"] > 0
    scores = ("fit", "intent", "score", "behavioral", "tier", "route", "win_probability")
    assert {f: by_request[f] for f in scores} == {f: by_key[f] for f in scores}
    assert without["intent"] == 0
    assert "Job posting SDR" in by_request["top_reasons"]


def test_an_account_known_by_its_domain_takes_the_workspace_signals(served: Served) -> None:
    import duckdb

    con = duckdb.connect(str(served.ws.store_path), read_only=True)
    try:
        key, domain = con.execute(
            "SELECT a.account_key, a.domain FROM accounts a JOIN signals s USING (account_key) "
            "WHERE a.domain IS NOT NULL AND a.account_key = a.domain "
            "AND s.signal_type = 'job_posting' AND s.detail = 'SDR' "
            "AND s.observed_at > DATE '2025-07-01' ORDER BY 1 LIMIT 1"
        ).fetchone()
    finally:
        con.close()
    with served.client(served.token) as client:
        answer = client.post(
            "/v1/score", params={"as_of": str(AS_OF)}, json={"domain": f"https://www.{domain}/"}
        ).json()
    assert answer["account_key"] == key
    assert answer["intent"] > 0


def test_scores_as_of_today_by_default(served: Served) -> None:
    with served.client(served.token) as client:
        answer = client.post("/v1/score", json={}).json()
    assert answer["as_of"] == dt.date.today().isoformat()
