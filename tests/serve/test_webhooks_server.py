"""Webhooks through a real server: signed HubSpot events and Salesforce outbound messages are
queued, drained, scored with the API's scorecard and written back once; bad signatures queue
nothing; failures are retried, then kept as dead letters; a server killed mid-drain loses
nothing.

The CRM side is mostly a connector of the test's own (records held in memory, calls
recorded), so what was read and written is seen exactly; one test goes through the HubSpot
connector to the HubSpot emulator, as a server configured only by its environment does.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import logging
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from serving import add_intent

from helpers import DemoWorkspaces
from icpkit.config import WebhookSettings
from icpkit.crm.base import CrmError, FieldSpec, Record, Update, WriteResult
from icpkit.crm.state import SyncState
from icpkit.serve.queue import Queue
from icpkit.workspace import Workspace

pytest.importorskip("fastapi")
uvicorn = pytest.importorskip("uvicorn")

SECRET = "hs-client-secret-0f9e8d7c6b5a"
PUBLIC = "https://icp.example.com"
ORG = "00D5g000004XyZaEAK"

COMPANIES: dict[str, dict[str, Any]] = {
    "101": {
        "name": "Acme",
        "domain": "acme-analytics.io",
        "numberofemployees": "120",
        "industry": "Computer Software",
        "country": "United States",
        "annualrevenue": "12000000",
    },
    "102": {
        "name": "Tiny Bakery",
        "domain": "tinybakery.example",
        "numberofemployees": "4",
        "industry": "Food & Beverages",
        "country": "France",
    },
    "103": {"name": "Globex", "domain": "globex.example", "numberofemployees": "2500"},
}
AS_API = {  # the same companies as POST /v1/score takes them
    "101": {
        "domain": "acme-analytics.io",
        "employees": 120,
        "industry": "Computer Software",
        "country": "United States",
        "revenue": 12000000,
    },
    "102": {
        "domain": "tinybakery.example",
        "employees": 4,
        "industry": "Food & Beverages",
        "country": "France",
    },
    "103": {"domain": "globex.example", "employees": 2500},
}


@dataclass
class Crm:
    """A CRM connector over records held in memory: reads and writes recorded, writes
    failing ``fail`` times (or always) first."""

    name: str = "hubspot"
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    reads: list[list[str]] = field(default_factory=list)
    writes: list[Update] = field(default_factory=list)
    fail: int = 0
    always: str | None = None
    count: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def read(self, obj: str, since: dt.datetime | None) -> Iterator[Record]:
        raise NotImplementedError

    def read_ids(self, obj: str, ids: Sequence[str]) -> list[Record]:
        with self.lock:
            self.count += 1
            self.reads.append(list(ids))
            now = dt.datetime.now(dt.UTC)
            return [
                Record("companies", i, now, dict(self.records[i])) for i in ids if i in self.records
            ]

    def ensure_fields(self, fields: Sequence[FieldSpec], *, dry_run: bool = False) -> list[str]:
        return []

    def write(self, updates: Sequence[Update]) -> WriteResult:
        with self.lock:
            self.count += 1
            if self.always is not None:
                raise CrmError(self.always)
            if self.fail > 0:
                self.fail -= 1
                raise CrmError("HubSpot answered 502 to batch/update; retries spent")
            for u in updates:
                self.writes.append(u)
                self.records[u.record_id].update(u.values)
            return WriteResult(written=[u.record_id for u in updates], calls=1)

    @property
    def calls(self) -> int:
        return self.count


@dataclass
class Server:
    url: str
    ws: Workspace
    token: str
    crms: dict[str, Crm]

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30)

    def queue(self) -> dict[str, Any]:
        with httpx.Client(base_url=self.url, timeout=30) as client:
            answer = client.get(
                "/v1/webhooks/queue", headers={"Authorization": f"Bearer {self.token}"}
            )
        assert answer.status_code == 200, answer.text
        return answer.json()  # type: ignore[no-any-return]

    def settle(self, done: int = 0, dead: int = 0, within: float = 60) -> dict[str, int]:
        """Wait until the queue holds ``done`` done and ``dead`` dead events, none pending."""
        deadline = time.monotonic() + within
        while True:
            counts: dict[str, int] = self.queue()["counts"]
            if counts == {"queued": 0, "taken": 0, "done": done, "dead": dead}:
                return counts
            assert time.monotonic() < deadline, counts
            time.sleep(0.05)


def signed(
    body: bytes, uri: str, stamp_ms: int | None = None, secret: str = SECRET
) -> dict[str, str]:
    """Headers HubSpot sends: the v3 signature of method + URI + body + timestamp."""
    stamp = str(int(time.time() * 1000) if stamp_ms is None else stamp_ms)
    source = b"POST" + uri.encode() + body + stamp.encode()
    digest = hmac.new(secret.encode(), source, hashlib.sha256).digest()
    return {
        "X-HubSpot-Signature-v3": base64.b64encode(digest).decode(),
        "X-HubSpot-Request-Timestamp": stamp,
        "Content-Type": "application/json",
    }


def events(*pairs: tuple[int, str], kind: str = "company.creation") -> bytes:
    """A HubSpot webhook body: one event per (event id, company id)."""
    return json.dumps(
        [
            {
                "eventId": eid,
                "subscriptionId": 9,
                "portalId": 33,
                "appId": 5,
                "occurredAt": int(time.time() * 1000),
                "subscriptionType": kind,
                "attemptNumber": 0,
                "objectId": int(oid),
            }
            for eid, oid in pairs
        ]
    ).encode()


def hook_settings(**more: Any) -> WebhookSettings:
    base: dict[str, Any] = {
        "public_url": PUBLIC,
        "salesforce_org_ids": [ORG],
        "max_attempts": 3,
        "retry_s": 0.05,
        "poll_ms": 20,
        "lease_s": 30,
    }
    return WebhookSettings(**(base | more))


def workspace(root: Path, demo_workspace: DemoWorkspaces, **hooks: Any) -> Workspace:
    copied = demo_workspace(800, 5, derived=True).copy(root).root
    return add_intent(copied, webhooks=hook_settings(**hooks))


def start_server(
    ws: Workspace, crms: Mapping[str, Crm] | None
) -> tuple[Any, threading.Thread, str]:
    """uvicorn on a free port, writing back through ``crms`` (None: the CRM's own connector,
    from the environment's credentials)."""
    import socket

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    app = ws.serving_app(connectors=None if crms is None else crms.__getitem__)
    server = uvicorn.Server(uvicorn.Config(app, log_level="info", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    return server, thread, f"http://127.0.0.1:{port}"


@pytest.fixture
def hooks() -> dict[str, Any]:
    """``serve.webhooks`` settings of a test, beside those of :func:`hook_settings`."""
    return {}


@pytest.fixture
def crms() -> dict[str, Crm]:
    return {
        "hubspot": Crm("hubspot", {k: dict(v) for k, v in COMPANIES.items()}),
        "salesforce": Crm(
            "salesforce",
            {
                "0015g00000XyZabAAB": {
                    "Name": "Acme",
                    "Website": "acme-analytics.io",
                    "NumberOfEmployees": 120,
                    "Industry": "Computer Software",
                    "BillingCountry": "United States",
                    "AnnualRevenue": 12000000,
                }
            },
        ),
    }


@pytest.fixture
def served(
    tmp_path: Path,
    demo_workspace: DemoWorkspaces,
    crms: dict[str, Crm],
    monkeypatch: pytest.MonkeyPatch,
    hooks: dict[str, Any],
) -> Iterator[Server]:
    monkeypatch.setenv("HUBSPOT_CLIENT_SECRET", SECRET)
    monkeypatch.setenv("ICPKIT_SECRETS_FILE", str(tmp_path / "no-secrets.env"))
    ws = workspace(tmp_path / "ws", demo_workspace, **hooks)
    _, token = ws.create_token("crm-sync")
    server, thread, url = start_server(ws, crms)
    try:
        yield Server(url, ws, token, crms)
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def post_hubspot(
    served: Server, body: bytes, headers: dict[str, str] | None = None
) -> httpx.Response:
    uri = PUBLIC + "/v1/webhooks/hubspot"
    with served.client() as client:
        return client.post(
            "/v1/webhooks/hubspot", content=body, headers=headers or signed(body, uri)
        )


def scored_by_api(served: Server, account: dict[str, Any]) -> dict[str, Any]:
    with served.client() as client:
        answer = client.post(
            "/v1/score", json=account, headers={"Authorization": f"Bearer {served.token}"}
        )
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


def test_a_signed_hubspot_event_is_scored_as_the_api_scores_and_written_back(
    served: Server,
) -> None:
    answer = post_hubspot(served, events((1, "101"), (2, "102")))
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"queued": 2, "duplicates": 0, "ignored": []}
    served.settle(done=2)
    hub = served.crms["hubspot"]
    written = {u.record_id: dict(u.values) for u in hub.writes}
    assert sorted(written) == ["101", "102"]
    for rid, values in written.items():
        api = scored_by_api(served, AS_API[rid])
        top = api["top_reasons"].split("; ")[:3]
        assert values == {
            "icp_fit": api["fit"],
            "icp_intent": api["intent"],
            "icp_score": api["score"],
            "icp_tier": api["tier"],
            "icp_route": api["route"],
            "icp_reasons": "; ".join(top),
            "icp_version": api["icp_version"],
        }, rid
    assert written["101"]["icp_fit"] > written["102"]["icp_fit"]  # the demo ICP favours Acme
    # noted as a push notes its writes, so `icp push` does not send the same values again
    with SyncState(served.ws.root) as state:
        assert {rid: values for rid, (_, values) in state.pushed("hubspot").items()} == written
        assert state.pending("hubspot") == {}


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-HubSpot-Signature-v3": "bm90IGEgc2lnbmF0dXJl", "X-HubSpot-Request-Timestamp": "1"},
    ],
    ids=["no signature", "wrong signature"],
)
def test_an_unsigned_or_wrongly_signed_webhook_is_refused_and_queues_nothing(
    served: Server, headers: dict[str, str]
) -> None:
    body = events((1, "101"))
    answer = post_hubspot(served, body, headers | {"Content-Type": "application/json"})
    assert answer.status_code == 401
    wrong_secret = post_hubspot(
        served, body, signed(body, PUBLIC + "/v1/webhooks/hubspot", secret="guessed")
    )
    assert wrong_secret.status_code == 401
    time.sleep(0.3)  # several drain polls
    assert served.queue()["counts"] == {"queued": 0, "taken": 0, "done": 0, "dead": 0}
    assert served.crms["hubspot"].reads == [] and served.crms["hubspot"].writes == []


def test_a_signed_webhook_over_five_minutes_old_is_refused(served: Server) -> None:
    body = events((1, "101"))
    stale = int(time.time() * 1000) - 6 * 60 * 1000
    answer = post_hubspot(served, body, signed(body, PUBLIC + "/v1/webhooks/hubspot", stale))
    assert answer.status_code == 401
    assert "five minutes" in answer.json()["error"]
    assert served.queue()["counts"]["queued"] == 0


def test_the_signature_is_checked_against_the_public_url_not_the_proxys_view(
    served: Server,
) -> None:
    body = events((1, "101"))
    as_seen_here = signed(body, served.url + "/v1/webhooks/hubspot")
    assert post_hubspot(served, body, as_seen_here).status_code == 401
    assert post_hubspot(served, body).status_code == 200


def test_duplicate_event_ids_are_scored_and_written_once(served: Server) -> None:
    body = events((7, "101"), (7, "101"), (8, "103"))
    first = post_hubspot(served, body)
    again = post_hubspot(served, body)  # HubSpot delivering the same events again
    assert first.json()["queued"] == 2
    assert again.json() == {"queued": 0, "duplicates": 3, "ignored": []}
    served.settle(done=2)
    hub = served.crms["hubspot"]
    assert sorted(u.record_id for u in hub.writes) == ["101", "103"]
    assert sorted(i for read in hub.reads for i in read) == ["101", "103"]


def test_two_events_of_one_company_read_score_and_write_it_once(served: Server) -> None:
    body = events((20, "101"), (21, "101"), kind="company.propertyChange")
    assert post_hubspot(served, body).json()["queued"] == 2
    served.settle(done=2)
    assert [u.record_id for u in served.crms["hubspot"].writes] == ["101"]


def test_the_change_event_of_a_written_score_does_not_score_again(served: Server) -> None:
    body = json.dumps(
        [
            {
                "eventId": 30,
                "subscriptionType": "company.propertyChange",
                "objectId": 101,
                "propertyName": "icp_score",
                "propertyValue": "71",
                "occurredAt": int(time.time() * 1000),
            }
        ]
    ).encode()
    answer = post_hubspot(served, body)
    assert answer.json()["queued"] == 0
    assert answer.json()["ignored"] == ["event 30: a change of icp_score"]
    # and a company whose scores are already held is not written again
    assert post_hubspot(served, events((31, "101"))).json()["queued"] == 1
    served.settle(done=1)
    assert post_hubspot(served, events((32, "101"))).json()["queued"] == 1
    served.settle(done=2)
    assert len(served.crms["hubspot"].writes) == 1
    notes = {e["event_id"]: e["last_error"] for e in Queue.of(served.ws.root).events("done")}
    assert notes == {"31": None, "32": "scores unchanged"}


@pytest.mark.parametrize("hooks", [{"max_attempts": 4}])
def test_a_write_failing_twice_is_retried_then_done(served: Server) -> None:
    served.crms["hubspot"].fail = 2
    post_hubspot(served, events((40, "101")))
    served.settle(done=1)
    assert [u.record_id for u in served.crms["hubspot"].writes] == ["101"]
    assert served.crms["hubspot"].count == 6  # three tries, a read and a write each


def test_a_write_failing_always_becomes_a_dead_letter_with_its_error(served: Server) -> None:
    served.crms["hubspot"].always = "HubSpot refused the property icp_tier: 403 MISSING_SCOPES"
    post_hubspot(served, events((50, "101")))
    served.settle(dead=1)
    (dead,) = served.queue()["dead"]
    assert dead["event_id"] == "50" and dead["record_id"] == "101"
    assert dead["attempts"] == 3
    assert dead["last_error"] == (
        "CrmError: HubSpot refused the property icp_tier: 403 MISSING_SCOPES"
    )
    assert served.crms["hubspot"].writes == []
    # mended, the dead letter is sent again on request
    served.crms["hubspot"].always = None
    with served.client() as client:
        retried = client.post(
            "/v1/webhooks/queue/retry", headers={"Authorization": f"Bearer {served.token}"}
        )
    assert retried.json() == {"requeued": 1}
    served.settle(done=1)
    assert [u.record_id for u in served.crms["hubspot"].writes] == ["101"]


def test_a_company_gone_from_the_crm_is_done_with_a_note_and_nothing_written(
    served: Server,
) -> None:
    post_hubspot(served, events((60, "999")))
    served.settle(done=1)
    assert served.crms["hubspot"].writes == []


def test_the_queue_state_needs_a_token(served: Server) -> None:
    with served.client() as client:
        assert client.get("/v1/webhooks/queue").status_code == 401
        assert client.post("/v1/webhooks/queue/retry").status_code == 401


def outbound(org: str, notification: str = "04l5g00000AbCdEAAZ") -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"
 xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
 <soapenv:Body>
  <notifications xmlns="http://soap.sforce.com/2005/09/outbound">
   <OrganizationId>{org}</OrganizationId>
   <ActionId>04k5g000000CaVwAAK</ActionId>
   <SessionId xsi:nil="true"/>
   <Notification>
    <Id>{notification}</Id>
    <sObject xsi:type="sf:Account" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">
     <sf:Id>0015g00000XyZabAAB</sf:Id>
    </sObject>
   </Notification>
  </notifications>
 </soapenv:Body>
</soapenv:Envelope>""".encode()


def test_a_salesforce_outbound_message_is_acknowledged_once_queued_and_written_back(
    served: Server,
) -> None:
    with served.client() as client:
        answer = client.post(
            "/v1/webhooks/salesforce",
            content=outbound(ORG),
            headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'},
        )
    assert answer.status_code == 200
    assert "<Ack>true</Ack>" in answer.text
    served.settle(done=1)
    (update,) = served.crms["salesforce"].writes
    api = scored_by_api(served, AS_API["101"])
    assert update.record_id == "0015g00000XyZabAAB"
    assert (update.values["icp_score"], update.values["icp_tier"]) == (api["score"], api["tier"])


def test_a_salesforce_message_from_another_org_is_refused_without_an_ack(
    served: Server,
) -> None:
    with served.client() as client:
        answer = client.post("/v1/webhooks/salesforce", content=outbound("00D000000000001AAA"))
    assert answer.status_code == 403
    assert "<Ack>" not in answer.text and "Fault" in answer.text
    assert served.queue()["counts"]["queued"] == 0


def test_the_client_secret_never_reaches_a_log_or_an_answer(
    served: Server, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    body = events((70, "101"))
    answers = [
        post_hubspot(served, body),
        post_hubspot(
            served, body, {"X-HubSpot-Signature-v3": "x", "X-HubSpot-Request-Timestamp": "1"}
        ),
        post_hubspot(served, b"{broken", signed(b"{broken", PUBLIC + "/v1/webhooks/hubspot")),
    ]
    served.settle(done=1)
    seen = [a.text for a in answers] + [json.dumps(served.queue()), caplog.text]
    assert any("HubSpot webhook refused" in r.message for r in caplog.records)
    for text in seen:
        assert SECRET not in text


def test_through_the_hubspot_connector_and_emulator_each_company_is_written_once(
    tmp_path: Path,
    demo_workspace: DemoWorkspaces,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from icpkit.crm.emulators.hubspot import ALL_SCOPES, HubSpotEmulator

    caplog.set_level(logging.DEBUG)
    access = "pat-na1-webhook-drain-access-token"
    with HubSpotEmulator(tokens={access: ALL_SCOPES}, rate=10_000) as hub:
        ids = {rid: hub.add("companies", props) for rid, props in COMPANIES.items()}
        monkeypatch.setenv("HUBSPOT_CLIENT_SECRET", SECRET)
        monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", access)
        monkeypatch.setenv("ICPKIT_HUBSPOT_URL", hub.url)
        monkeypatch.setenv("ICPKIT_SECRETS_FILE", str(tmp_path / "no-secrets.env"))
        ws = workspace(tmp_path / "ws", demo_workspace)
        _, token = ws.create_token("crm-sync")
        server, thread, url = start_server(ws, None)
        try:
            served = Server(url, ws, token, {})
            body = events((1, ids["101"]), (2, ids["102"]), (3, ids["101"]))
            assert post_hubspot(served, body).json()["queued"] == 3
            assert post_hubspot(served, body).json()["duplicates"] == 3
            served.settle(done=3)
            for rid in ("101", "102"):
                held = hub.objects["companies"][ids[rid]].properties
                api = scored_by_api(served, AS_API[rid])
                assert (held["icp_score"], held["icp_tier"], held["icp_version"]) == (
                    str(api["score"]),
                    api["tier"],
                    str(api["icp_version"]),
                )
            assert hub.writes == {ids["101"]: 1, ids["102"]: 1}
        finally:
            server.should_exit = True
            thread.join(timeout=30)
    assert access not in caplog.text and SECRET not in caplog.text


def test_the_openapi_description_lists_the_webhook_endpoints(served: Server) -> None:
    with served.client() as client:
        paths = client.get("/openapi.json").json()["paths"]
    assert set(paths["/v1/webhooks/hubspot"]) == {"post"}
    assert set(paths["/v1/webhooks/salesforce"]) == {"post"}
    assert paths["/v1/webhooks/queue"]["get"]["security"] == [{"bearerAuth": []}]
    assert "/v1/score" in paths  # the rest of the description is still there
