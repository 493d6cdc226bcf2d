"""``POST /v1/score?shadow=VERSION``: the ICP in force answers as without it, a saved
candidate version scores the same accounts beside it (``shadow_`` fields, as the SELECT of
that version scores them), and both scores are recorded for ``icp monitor --shadow``."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from serving import AS_OF, Served
from test_matches_score import workspace_rows

from icpkit.operate.shadow import ShadowBook
from icpkit.serve.scorer import Account, Scorer

SHADOW = ("shadow_version", "shadow_fit", "shadow_intent", "shadow_score", "shadow_tier",
          "shadow_route")  # fmt: skip


def save_challenger(served: Served) -> int:
    """Save the ICP in force without its SDR-hiring signal as a new version (icp.yaml, and
    so the version in force, unchanged); returns its number."""
    icp = served.ws.require_icp()
    intent = [s for s in icp.intent if s.id != "job-posting-sdr"]
    return served.ws.versions.save(icp.model_copy(update={"intent": intent}))


def post(served: Served, body: Any, **params: Any) -> Any:
    with served.client(served.token) as client:
        return client.post("/v1/score", json=body, params={"as_of": AS_OF.isoformat(), **params})


def test_shadow_adds_the_candidates_scores_and_leaves_the_answer_in_force_as_it_was(
    served: Served,
) -> None:
    version = save_challenger(served)
    rows = workspace_rows(served, 12)
    plain = post(served, {"accounts": rows})
    shadow = post(served, {"accounts": rows}, shadow=version)
    assert plain.status_code == shadow.status_code == 200, shadow.text
    doc = shadow.json()
    assert doc["shadow_version"] == version and doc["icp_version"] == 1
    for before, after in zip(plain.json()["accounts"], doc["accounts"], strict=True):
        assert {k: v for k, v in after.items() if k not in SHADOW} == before
    # The candidate's fields are what its own compiled SELECT gives for these accounts.
    ws = served.ws
    alone = Scorer(ws.versions.load(version), ws.settings, ws.store_path)
    try:
        expected = alone.score([Account(dict(r)) for r in rows], AS_OF)
    finally:
        alone.close()
    for row, want in zip(doc["accounts"], expected, strict=True):
        got = {c: row[f"shadow_{c}"] for c in ("fit", "intent", "score", "tier", "route")}
        assert got == {c: want[c] for c in got}
    assert any(r["shadow_score"] != r["score"] for r in doc["accounts"])


def test_shadow_records_both_scores_of_every_keyed_account(served: Served) -> None:
    version = save_challenger(served)
    rows = [*workspace_rows(served, 5), {"employees": 120, "industry": "Software"}]
    doc = post(served, {"accounts": rows}, shadow=version).json()
    [pair] = ShadowBook(served.ws.root).pairs()
    assert (pair.champion, pair.challenger, pair.first_day) == (1, version, AS_OF)
    recorded = {
        r["account_key"]: r for r in ShadowBook(served.ws.root).scores(1, version).to_pylist()
    }
    keyed = [r for r in doc["accounts"] if r["account_key"] is not None]
    assert len(keyed) == 5 and set(recorded) == {r["account_key"] for r in keyed}
    for r in keyed:
        kept = recorded[r["account_key"]]
        assert (kept["champion_score"], kept["challenger_score"]) == (r["score"], r["shadow_score"])


def test_one_account_in_shadow_answers_one_object(served: Served) -> None:
    version = save_challenger(served)
    [row] = workspace_rows(served, 1)
    done = post(served, row, shadow=version)
    assert done.status_code == 200, done.text
    assert done.json()["shadow_version"] == version and "score" in done.json()


def test_a_shadow_version_that_cannot_score_is_a_422_naming_the_query(served: Served) -> None:
    save_challenger(served)
    account = {"account_key": "a.example", "employees": 80}
    for asked, words in (
        ("abc", "Input should be a version number"),
        ("99", "no saved ICP version 99"),
        ("1", "version 1 is the version in force"),
    ):
        done = post(served, account, shadow=asked)
        assert done.status_code == 422, done.text
        [problem] = done.json()["problems"]
        assert problem["path"] == "query.shadow" and words in problem["message"]
    assert ShadowBook(served.ws.root).pairs() == []


def test_the_server_loads_shadow_scoring_only_when_a_request_asks_for_it() -> None:
    code = (
        "import sys, icpkit.serve.app\n"
        "print(','.join(m for m in ('icpkit.operate', 'icpkit.serve.shadow', 'scipy') "
        "if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""
