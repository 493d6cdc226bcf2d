"""``POST /v1/score`` is answered ahead of the framework's routing, and still described in
the OpenAPI document; other methods on its path are refused as before."""

from __future__ import annotations

from serving import Served


def test_the_openapi_description_lists_the_score_endpoint_with_bearer_security(
    served: Served,
) -> None:
    with served.client() as client:
        schema = client.get("/openapi.json").json()
    post = schema["paths"]["/v1/score"]["post"]
    assert post["security"] == [{"bearerAuth": []}]
    body = post["requestBody"]["content"]["application/json"]["schema"]["oneOf"]
    assert {part["$ref"].rsplit("/", 1)[1] for part in body} == {"AccountIn", "Batch"}
    assert "AccountIn" in schema["components"]["schemas"]


def test_another_method_on_the_score_path_is_a_json_405(served: Served) -> None:
    with served.client(served.token) as client:
        answer = client.get("/v1/score")
    assert answer.status_code == 405
    assert answer.json() == {"error": "Method Not Allowed"}


def test_a_score_request_is_counted_in_the_metrics_of_its_route(served: Served) -> None:
    with served.client(served.token) as client:
        client.post("/v1/score", json={"employees": 50})
        text = client.get("/metrics").text
    line = next(
        x for x in text.splitlines()
        if x.startswith("icp_requests_total{") and 'route="/v1/score"' in x and "200" in x
    )  # fmt: skip
    assert float(line.rsplit(" ", 1)[1]) >= 1
