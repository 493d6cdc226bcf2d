"""No token, no answer: bearer tokens scoped score or read, checked on every request."""

from __future__ import annotations

import json
import stat

import httpx
from serving import Served

ACCOUNT = {"employees": 120, "industry": "Software"}


def test_a_request_without_a_token_is_refused_with_401(served: Served) -> None:
    with served.client() as client:
        answer = client.post("/v1/score", json=ACCOUNT)
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == "Bearer"
    assert "token" in answer.json()["error"]


def test_a_wrong_or_malformed_token_is_refused_with_401(served: Served) -> None:
    wrong = served.token[:-4] + ("AAAA" if not served.token.endswith("AAAA") else "BBBB")
    for token in (wrong, "icp_nothing", served.token + "x", "Basic " + served.token):
        with httpx.Client(base_url=served.url) as client:
            answer = client.post(
                "/v1/score", json=ACCOUNT, headers={"Authorization": f"Bearer {token}"}
            )
        assert answer.status_code == 401, token
    with httpx.Client(base_url=served.url) as client:
        basic = client.post("/v1/score", json=ACCOUNT, headers={"Authorization": served.token})
    assert basic.status_code == 401


def test_a_read_token_may_read_but_not_score(served: Served) -> None:
    with served.client(served.read_token) as client:
        score = client.post("/v1/score", json=ACCOUNT)
        icp = client.get("/v1/icp")
        versions = client.get("/v1/icp/versions")
        metrics = client.get("/metrics")
    assert score.status_code == 403
    assert "may only read" in score.json()["error"]
    assert icp.status_code == versions.status_code == metrics.status_code == 200


def test_a_score_token_scores_and_reads(served: Served) -> None:
    with served.client(served.token) as client:
        assert client.post("/v1/score", json=ACCOUNT).status_code == 200
        assert client.get("/v1/icp").status_code == 200


def test_healthz_is_open_and_every_other_route_needs_a_token(served: Served) -> None:
    with served.client() as client:
        assert client.get("/healthz").json()["status"] == "ok"
        for path in ("/v1/icp", "/v1/icp/versions", "/metrics"):
            assert client.get(path).status_code == 401, path


def test_a_revoked_token_is_refused_from_the_next_request(served: Served) -> None:
    with served.client(served.token) as client:
        assert client.post("/v1/score", json=ACCOUNT).status_code == 200
        served.ws.revoke_token("crm-sync")
        assert client.post("/v1/score", json=ACCOUNT).status_code == 401
        assert client.get("/v1/icp").status_code == 401


def test_a_token_created_while_the_server_runs_works_at_once(served: Served) -> None:
    _, token = served.ws.create_token("late", "score")
    with served.client(token) as client:
        assert client.post("/v1/score", json=ACCOUNT).status_code == 200


def test_the_workspace_keeps_no_token_only_a_salted_hash(served: Served) -> None:
    path = served.ws.root / ".icp" / "tokens.json"
    text = path.read_text(encoding="utf-8")
    secret = served.token.removeprefix("icp_").split("_", 1)[1]  # the secret may hold "_"
    assert served.token not in text
    assert secret not in text
    records = json.loads(text)["tokens"]
    assert len({r["salt"] for r in records}) == len(records) == 2
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    listed = served.ws.tokens()
    assert all({"salt", "digest"}.isdisjoint(t) for t in listed)
    assert served.token not in json.dumps(listed)
