"""A new ICP version is picked up while the server runs: no restart, no failed request."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from serving import AS_OF, Served

from icpkit.config import save_settings
from icpkit.icp.model import dump_icp, load_icp

ACCOUNT = {"employees": 120, "industry": "Software"}


def adopt_new_version(served: Served, points: int) -> int:
    """Save the current ICP with the 51-200 employees rule at ``points`` as the next version
    and put it in icp.yaml, as adopting a derived version does."""
    ws = served.ws
    data = dump_icp(ws.require_icp())
    rule = next(r for r in data["fit"] if r.get("min") == 51 and r.get("max") == 200)
    rule.update(points=points, source="human", reason="our own numbers say so")
    changed = load_icp(data)
    version = ws.versions.save(changed)
    ws.settings.icp = dump_icp(changed)
    save_settings(ws.settings, ws.config_path)
    return version


@pytest.mark.slow
def test_a_new_icp_version_is_picked_up_while_requests_keep_coming(served: Served) -> None:
    stop = threading.Event()
    answers: list[tuple[int, int | None, int | None]] = []
    # (sender, sent at, answered at, version) of every request, to judge order per request:
    # answers from four senders arrive interleaved, so a request sent just before the swap
    # may rightly be answered by the old version after another sender saw the new one.
    timeline: list[tuple[int, float, float, int | None]] = []

    def keep_sending(sender: int) -> None:
        with served.client(served.token) as client:
            while not stop.is_set():
                sent = time.monotonic()
                r = client.post("/v1/score", json=ACCOUNT)
                body = r.json() if r.status_code == 200 else {}
                answered = time.monotonic()
                answers.append((r.status_code, body.get("icp_version"), body.get("score")))
                timeline.append((sender, sent, answered, body.get("icp_version")))

    old = served.ws.require_icp().version
    senders = [threading.Thread(target=keep_sending, args=(i,)) for i in range(4)]
    for t in senders:
        t.start()
    time.sleep(1.0)
    new = adopt_new_version(served, points=40)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not any(v == new for _, v, _ in answers[-4:]):
        time.sleep(0.05)
    time.sleep(0.5)
    stop.set()
    for t in senders:
        t.join()

    assert new == old + 1
    assert all(status == 200 for status, _, _ in answers), {s for s, _, _ in answers}
    versions = [v for _, v, _ in answers]
    assert old in versions and new in versions
    # Once the new version has answered, no request sent after that is answered by the old one,
    # and no sender ever goes back from the new version to the old.
    first_new_answer = min(answered for _, _, answered, v in timeline if v == new)
    assert {v for _, sent, _, v in timeline if sent > first_new_answer} == {new}
    for sender in range(4):
        seen = [v for s, _, _, v in sorted(timeline, key=lambda t: t[1]) if s == sender]
        assert seen == sorted(seen), sender
    old_scores = {s for _, v, s in answers if v == old}
    new_scores = {s for _, v, s in answers if v == new}
    assert len(old_scores) == len(new_scores) == 1
    assert new_scores != old_scores
    with served.client(served.read_token) as client:
        assert client.get("/healthz").json()["icp_version"] == new
        assert client.get("/v1/icp").json()["version"] == new
        assert [v["version"] for v in client.get("/v1/icp/versions").json()["versions"]][-1] == new


def test_an_icp_yaml_that_does_not_load_leaves_the_version_in_force(served: Served) -> None:
    with served.client(served.token) as client:
        before = client.post("/v1/score", json=ACCOUNT).json()
        text = served.ws.config_path.read_text(encoding="utf-8")
        served.ws.config_path.write_text(text + "\nnot: [valid\n", encoding="utf-8")
        time.sleep(0.5)  # several reload checks
        during = client.post("/v1/score", json=ACCOUNT)
        served.ws.config_path.write_text(text, encoding="utf-8")
    assert during.status_code == 200
    assert during.json()["score"] == before["score"]
    assert during.json()["icp_version"] == before["icp_version"]


def test_the_store_stays_free_for_an_ingest_whose_signals_the_server_then_scores(
    served: Served, tmp_path: Path
) -> None:
    import duckdb

    con = duckdb.connect(str(served.ws.store_path), read_only=True)
    try:
        key, domain, name = con.execute(
            "SELECT account_key, domain, name FROM accounts a WHERE domain IS NOT NULL "
            "AND NOT EXISTS (SELECT 1 FROM signals s WHERE s.account_key = a.account_key "
            "AND s.observed_at > DATE '2025-06-01') ORDER BY account_key LIMIT 1"
        ).fetchone()
    finally:
        con.close()
    signals = tmp_path / "signals.csv"
    signals.write_text(
        "Company Domain Name,Company name,Signal Type,Signal Date,Detail\n"
        f'"{domain}","{name}","job_posting",2025-10-10,"SDR"\n',
        encoding="utf-8",
    )
    with served.client(served.token) as client:
        before = client.post("/v1/score", params={"as_of": str(AS_OF)}, json={"account_key": key})
        # An ingest writes the store while the server runs: it must not find it locked.
        result = served.ws.ingest([signals])
        assert result.ok, result.failures
        deadline = time.monotonic() + 30
        after = before
        while time.monotonic() < deadline and after.json()["intent"] == 0:
            time.sleep(0.1)
            after = client.post(
                "/v1/score", params={"as_of": str(AS_OF)}, json={"account_key": key}
            )
    assert before.json()["intent"] == 0
    assert after.json()["intent"] > 0
    assert "Job posting SDR 5 days ago" in after.json()["top_reasons"]
