"""GET /metrics: Prometheus text whose counts move with the requests answered."""

from __future__ import annotations

import re

from serving import Served

SAMPLE = re.compile(
    r'^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?P<labels>[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*"'
    r'(,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*")*)\})? (?P<value>[-+]?[0-9.eE+-]+|\+Inf|NaN)$'
)

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    """Every sample of a Prometheus text page; fails on a line the format does not allow."""
    samples: Samples = {}
    types: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            types[name] = kind
            continue
        if line.startswith("# HELP ") or not line:
            continue
        m = SAMPLE.match(line)
        assert m, f"not a Prometheus sample: {line!r}"
        labels = frozenset(re.findall(r'([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"', m["labels"] or ""))
        base = re.sub(r"_(bucket|sum|count)$", "", m["name"])
        assert m["name"] in types or base in types, f"no TYPE for {m['name']}"
        samples[m["name"], labels] = float(m["value"])
    return samples


def requests(samples: Samples, route: str, status: int) -> float:
    method = "POST" if route == "/v1/score" else "GET"
    labels = frozenset({("method", method), ("route", route), ("status", str(status))})
    return samples.get(("icp_requests_total", labels), 0.0)


def test_metrics_count_requests_by_route_and_status_and_accounts_scored(served: Served) -> None:
    with served.client(served.read_token) as reader, served.client(served.token) as scorer:
        before = parse(reader.get("/metrics").text)
        for _ in range(3):
            assert scorer.post("/v1/score", json={"employees": 50}).status_code == 200
        assert scorer.post("/v1/score", json={"accounts": [{}, {}, {}, {}]}).status_code == 200
        assert scorer.post("/v1/score", json={"accounts": [{"employees": []}]}).status_code == 422
        assert reader.post("/v1/score", json={}).status_code == 403
        after = parse(reader.get("/metrics").text)
    assert requests(after, "/v1/score", 200) - requests(before, "/v1/score", 200) == 4
    assert requests(after, "/v1/score", 422) - requests(before, "/v1/score", 422) == 1
    assert requests(after, "/v1/score", 403) - requests(before, "/v1/score", 403) == 1
    scored = ("icp_accounts_scored_total", frozenset())
    assert after[scored] - before.get(scored, 0) == 7
    assert after["icp_version", frozenset()] == served.ws.require_icp().version
    # Sent one after the other, each scoring request was a query of its own.
    batches = ("icp_batch_accounts_count", frozenset())
    batched = ("icp_batch_accounts_sum", frozenset())
    assert after[batches] - before.get(batches, 0) == 4
    assert after[batched] - before.get(batched, 0) == 7
    # The latency histogram counts every answered /v1/score request, buckets rising.
    route = ("route", "/v1/score")
    count = after["icp_request_duration_seconds_count", frozenset({route})]
    assert count == sum(
        v for (name, labels), v in after.items()
        if name == "icp_requests_total" and route in labels
    )  # fmt: skip
    buckets = sorted(
        (float(dict(labels)["le"]), v)
        for (name, labels), v in after.items()
        if name == "icp_request_duration_seconds_bucket" and route in labels
    )
    assert buckets[-1] == (float("inf"), count)
    assert [v for _, v in buckets] == sorted(v for _, v in buckets)


def test_metrics_text_has_the_prometheus_content_type(served: Served) -> None:
    with served.client(served.read_token) as client:
        answer = client.get("/metrics")
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert parse(answer.text)
