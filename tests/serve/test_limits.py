"""Bad requests get a clear JSON answer: 413 over the size limit, 422 with field paths,
500 without a stack trace; no answer and no log line carries a token or a traceback."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import httpx
import pytest
from serving import Served

from icpkit.serve.scorer import Scorer


def test_a_body_over_max_body_bytes_is_refused_with_413(served: Served) -> None:
    big = {"accounts": [{"name": "x" * 400} for _ in range(300)]}
    with served.client(served.token) as client:
        answer = client.post("/v1/score", json=big)
    assert len(json.dumps(big)) > 100_000 > 0
    assert answer.status_code == 413
    assert "100,000 bytes" in answer.json()["error"]


def test_a_chunked_body_over_the_limit_is_refused_with_413(served: Served) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"accounts": ['
        for _ in range(300):
            yield json.dumps({"name": "y" * 490}).encode() + b","
        yield b"{}]}"

    with served.client(served.token) as client:
        answer = client.post(
            "/v1/score", content=chunks(), headers={"Content-Type": "application/json"}
        )
    assert answer.status_code == 413


def test_a_batch_over_max_batch_is_refused_with_422(served: Served) -> None:
    with served.client(served.token) as client:
        answer = client.post("/v1/score", json={"accounts": [{} for _ in range(51)]})
        fifty = client.post("/v1/score", json={"accounts": [{} for _ in range(50)]})
    assert answer.status_code == 422
    assert "at most 50" in answer.json()["error"]
    assert answer.json()["problems"][0]["path"] == "accounts"
    assert fifty.status_code == 200
    assert len(fifty.json()["accounts"]) == 50


def test_invalid_fields_are_422_with_their_paths(served: Served) -> None:
    body = {
        "accounts": [
            {"employees": [1, 2]},
            {"signals": [{"type": "job_posting", "day": "yesterday"}]},
            {"signals": [{"detail": "SDR", "day": "2025-01-01"}]},
        ]
    }
    with served.client(served.token) as client:
        answer = client.post("/v1/score", json=body)
    assert answer.status_code == 422
    problems = {p["path"]: p["message"] for p in answer.json()["problems"]}
    assert set(problems) == {
        "accounts.0.employees",
        "accounts.1.signals.0.day",
        "accounts.2.signals.0.type",
    }
    assert problems["accounts.0.employees"] == ("Input should be an integer, a number or text")


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"{not json", "not JSON (line 1, column 2)"),
        (b"[1, 2]", "not valid"),
        (b'{"accounts": []}', "not valid"),
        (b'{"accounts": [{}], "extra": 1}', "not valid"),
    ],
)
def test_a_body_that_is_no_request_is_422(served: Served, body: bytes, says: str) -> None:
    with served.client(served.token) as client:
        answer = client.post(
            "/v1/score", content=body, headers={"Content-Type": "application/json"}
        )
    assert answer.status_code == 422
    assert says in answer.json()["error"]


def test_a_bad_as_of_is_422(served: Served) -> None:
    with served.client(served.token) as client:
        answer = client.post("/v1/score", params={"as_of": "soon"}, json={})
    assert answer.status_code == 422
    assert answer.json()["problems"][0]["path"] == "query.as_of"


def test_a_failure_inside_is_a_json_500_without_a_stack_trace_or_token(
    served: Served, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(self: Scorer, *args: object, **kwargs: object) -> None:
        raise RuntimeError("the disk went away")

    monkeypatch.setattr(Scorer, "score", broken)  # a query
    monkeypatch.setattr(Scorer, "score_few", broken)  # a few accounts without one
    caplog.set_level(logging.DEBUG)
    with served.client(served.token) as client:
        answer = client.post("/v1/score", json={"name": "Acme"})
        health = client.get("/healthz")
    assert answer.status_code == 500
    assert answer.json() == {"error": "scoring failed; the server log names the error"}
    assert health.status_code == 200  # the server goes on
    logged = caplog.text
    assert "RuntimeError" in logged
    for text in (answer.text, logged):
        assert "Traceback" not in text
        assert 'File "' not in text
        assert served.token not in text
        assert served.token.split("_", 2)[2] not in text


def test_no_answer_or_log_line_carries_a_token_or_a_traceback(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    answers: list[httpx.Response] = []
    with served.client(served.token) as client:
        answers.append(client.post("/v1/score", json={"employees": "lots"}))
        answers.append(client.post("/v1/score", json={"accounts": "all"}))
        answers.append(client.post("/v1/score", content=b"{", headers={"Content-Type": "x"}))
        answers.append(client.get("/nowhere"))
        answers.append(client.get("/v1/icp"))
    with served.client(served.read_token) as client:
        answers.append(client.post("/v1/score", json={}))
    with served.client(served.token[:-1] + "Z") as client:
        answers.append(client.get("/metrics"))
    assert [a.status_code for a in answers] == [200, 422, 422, 404, 200, 403, 401]
    assert answers[3].json() == {"error": "Not Found"}
    for text in [a.text for a in answers] + [caplog.text]:
        assert "Traceback" not in text
        for token in (served.token, served.read_token):
            assert token.split("_", 2)[2] not in text
