"""Named ICPs over the API: each account gets its best-fitting ICP and every named ICP's fit,
tier, route and win probability, as ``icp score`` gives them; ``?icp=NAME`` scores with one
named ICP alone; a new named ICP is picked up while the server runs."""

from __future__ import annotations

import csv
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from serving import AS_OF, Served, start

from helpers import DemoWorkspace
from icpkit.config import save_settings
from icpkit.workspace import Workspace
from two_lines import two_line_workspace

LAYOUT = ("account_key", "employees", "revenue", "industry", "country", "technologies",
          "founded_year", "funding_stage", "total_funding")  # fmt: skip
MAIN = (
    "fit", "intent", "score", "firmographic", "technographic", "behavioral", "deal_potential",
    "tier", "route", "win_probability", "top_reasons", "negative_reasons", "customer", "base",
)  # fmt: skip
PER_ICP = ("fit", "tier", "route", "win_probability")

pytestmark = pytest.mark.slow  # the two-product-line workspace takes ~30 s to build


@pytest.fixture(scope="module")
def two_lines(tmp_path_factory: pytest.TempPathFactory) -> DemoWorkspace:
    return two_line_workspace(tmp_path_factory)


def _serve(ws: Workspace) -> Iterator[Served]:
    ws.settings.serve = ws.settings.serve.model_copy(update={"reload_ms": 100})
    save_settings(ws.settings, ws.config_path)
    ws = Workspace.open(ws.root)
    _, token = ws.create_token("crm-sync")
    _, read_token = ws.create_token("dashboard", "read")
    server, thread, url = start(ws)
    try:
        yield Served(url, ws, token, read_token, server)
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture(scope="module")
def served(two_lines: DemoWorkspace, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A server over a private copy of the workspace with two named ICPs derived."""
    yield from _serve(two_lines.copy(tmp_path_factory.mktemp("named-api") / "ws"))


def _accounts(ws: Workspace, n: int) -> list[dict[str, Any]]:
    """``n`` of the workspace's accounts in the input layout, as text cells, and two it
    does not know."""
    con = duckdb.connect(str(ws.store_path), read_only=True)
    try:
        cur = con.execute(
            "SELECT account_key, employees, revenue, industry, country, "
            "array_to_string(technologies, ';'), founded_year, funding_stage, total_funding "
            "FROM accounts ORDER BY hash(account_key) LIMIT ?",
            [n],
        )
        rows = [dict(zip(LAYOUT, r, strict=True)) for r in cur.fetchall()]
    finally:
        con.close()
    rows.append({"account_key": "new-1.example", "employees": "51-200",
                 "industry": "Computer Software", "country": "USA", "revenue": "$5M"})  # fmt: skip
    rows.append({"account_key": "new-2.example", "employees": "7", "industry": "Banking"})
    return rows


def _expected(ws: Workspace, rows: list[dict[str, Any]], tmp: Path) -> dict[str, dict[str, Any]]:
    """``icp score`` of ``rows`` as of AS_OF, by account key."""
    path = tmp / "accounts.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=LAYOUT)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: "" if row.get(k) is None else row[k] for k in LAYOUT})
    return {r["account_key"]: r for r in ws.score_file(path, as_of=AS_OF).rows()}


def _sent(row: dict[str, Any]) -> dict[str, Any]:
    return {k: str(v) for k, v in row.items() if v not in (None, "")}


def _post(served: Served, rows: list[dict[str, Any]], query: str = "") -> Any:
    with served.client(served.token) as client:
        r = client.post(
            f"/v1/score?as_of={AS_OF}{query}", json={"accounts": [_sent(x) for x in rows]}
        )
    assert r.status_code == 200, r.text
    return r.json()


def _names(ws: Workspace) -> list[str]:
    return [n.name for n in ws.settings.icps]


@pytest.mark.parametrize("n", [30, 150], ids=["few-accounts-in-python", "many-in-one-query"])
def test_each_account_gets_its_best_icp_and_every_named_icps_scores_as_icp_score_does(
    served: Served, tmp_path: Path, n: int
) -> None:
    ws = served.ws
    names = _names(ws)
    assert len(names) == 2
    rows = _accounts(ws, n)
    expected = _expected(ws, rows, tmp_path)
    got = _post(served, rows)["accounts"]
    assert len(got) == len(rows)
    best_seen = set()
    for answer in got:
        want = expected[answer["account_key"]]
        for field in MAIN:  # the main ICP's fields are what they always were
            assert answer[field] == want[field], (answer["account_key"], field)
        assert answer["icp_version"] == ws.require_icp().version
        assert answer["best_icp"] == want["best_icp"], answer["account_key"]
        best_seen.add(answer["best_icp"])
        assert list(answer["icps"]) == names
        for name in names:
            block = answer["icps"][name]
            for column in PER_ICP:
                assert block[column] == want[f"{column}_{name}"], (answer["account_key"], name)
            assert block["icp_version"] == ws.named_icp(name).version
    assert set(names) <= best_seen  # both ICPs take some accounts: the case this is about


def test_one_account_gets_the_same_named_scores_as_in_a_batch(served: Served) -> None:
    account = {"account_key": "solo.example", "employees": "51-200", "industry": "Software"}
    with served.client(served.token) as client:
        one = client.post(f"/v1/score?as_of={AS_OF}", json=account).json()
    batch = _post(served, [account])["accounts"][0]
    assert one["best_icp"] == batch["best_icp"] and one["icps"] == batch["icps"]


@pytest.mark.parametrize("n", [20, 100], ids=["few-accounts-in-python", "many-in-one-query"])
def test_icp_query_scores_with_that_named_icp_alone(served: Served, tmp_path: Path, n: int) -> None:
    ws = served.ws
    name = _names(ws)[1]
    rows = _accounts(ws, n)
    expected = _expected(ws, rows, tmp_path)
    body = _post(served, rows, f"&icp={name}")
    assert body["icp"] == name and body["icp_version"] == ws.named_icp(name).version
    for answer in body["accounts"]:
        want = expected[answer["account_key"]]
        for column in PER_ICP:
            assert answer[column] == want[f"{column}_{name}"], (answer["account_key"], column)
        assert answer["icp"] == name
        assert "best_icp" not in answer and "icps" not in answer


def test_an_unknown_icp_is_refused_naming_the_icps_there_are(served: Served) -> None:
    with served.client(served.token) as client:
        r = client.post("/v1/score?icp=nope", json={"employees": 50})
    assert r.status_code == 422
    body = r.json()
    assert body["error"].startswith("no named ICP 'nope' (named ICPs: ")
    assert all(name in body["error"] for name in _names(served.ws))
    assert body["problems"][0]["path"] == "query.icp"


def test_icp_and_shadow_together_are_refused_in_words(served: Served) -> None:
    name = _names(served.ws)[0]
    with served.client(served.token) as client:
        r = client.post(f"/v1/score?icp={name}&shadow=1", json={"employees": 50})
    assert r.status_code == 422
    assert "shadow" in r.json()["error"] and r.json()["problems"][0]["path"] == "query.icp"


def test_the_openapi_description_names_the_icp_parameter(served: Served) -> None:
    with served.client() as client:
        schema = client.get("/openapi.json").json()
    params = {p["name"] for p in schema["paths"]["/v1/score"]["post"]["parameters"]}
    assert {"as_of", "shadow", "icp"} <= params


def test_named_icps_are_picked_up_and_dropped_while_requests_keep_coming(
    two_lines: DemoWorkspace, tmp_path: Path
) -> None:
    ws = two_lines.copy(tmp_path / "ws")
    declared = list(ws.settings.icps)
    ws.settings.icps = []  # a workspace of one ICP, as before named ICPs existed
    save_settings(ws.settings, ws.config_path)
    served = next(gen := _serve(Workspace.open(ws.root)))
    try:
        stop = threading.Event()
        answers: list[tuple[int, dict[str, Any]]] = []

        def keep_sending() -> None:
            with served.client(served.token) as client:
                while not stop.is_set():
                    r = client.post("/v1/score", json={"employees": 120, "industry": "Software"})
                    answers.append((r.status_code, r.json()))

        senders = [threading.Thread(target=keep_sending) for _ in range(2)]
        for t in senders:
            t.start()
        try:
            time.sleep(0.5)
            assert answers and all("best_icp" not in a and "icps" not in a for _, a in answers)
            with served.client(served.token) as client:
                refused = client.post("/v1/score?icp=sales_pipeline", json={"employees": 5})
            assert refused.status_code == 422
            assert "(named ICPs: none derived)" in refused.json()["error"]

            settings = Workspace.open(ws.root).settings
            settings.icps = declared
            save_settings(settings, ws.config_path)
            _wait(lambda: "icps" in answers[-1][1])
            assert list(answers[-1][1]["icps"]) == [n.name for n in declared]

            settings.icps = [declared[0], declared[1].model_copy(update={"icp": None})]
            save_settings(settings, ws.config_path)
            _wait(lambda: list(answers[-1][1].get("icps", {})) == [declared[0].name])
            with served.client(served.token) as client:
                later = client.post(f"/v1/score?icp={declared[1].name}", json={"employees": 5})
            assert later.status_code == 422
            assert "declared but not derived yet" in later.json()["error"]
        finally:
            stop.set()
            for t in senders:
                t.join(timeout=30)
        assert all(status == 200 for status, _ in answers)  # no request failed meanwhile
    finally:
        next(gen, None)


def _wait(done: Any, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not done():
        assert time.monotonic() < deadline, "the server did not pick the change up"
        time.sleep(0.05)
