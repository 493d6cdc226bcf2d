"""One alert POST and what its answer means for delivery at most once: sent, back to pending
(it surely did not arrive), failed for good, or uncertain (it may have arrived)."""

from __future__ import annotations

import datetime as dt
import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any

import pytest

from icpkit.config import AlertRule
from icpkit.operate import deliver
from icpkit.operate.alerts import body, digest, event_id, monitor_events, slack_text


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """Answers POST /status/N with N; /slow sleeps 2 s before answering 200."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            if self.path == "/slow":
                time.sleep(2)
                status = 200
            else:
                status = int(self.path.rsplit("/", 1)[1])
            self.send_response(status)
            if 300 <= status < 400:
                self.send_header("Location", "/status/200")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def post(url: str, timeout_s: float = 5.0) -> deliver.Outcome:
    with deliver.client() as http:
        return deliver.post(http, url, b"{}", b"k", event_id="evt_x", timeout_s=timeout_s)


@pytest.mark.parametrize(
    ("status", "result"),
    [
        (200, "sent"),
        (204, "sent"),
        (500, "retry"),
        (503, "retry"),
        (429, "retry"),
        (408, "retry"),
        (401, "failed"),
        (404, "failed"),
        (302, "failed"),
    ],
)
def test_the_answer_decides_the_delivery(server: str, status: int, result: str) -> None:
    outcome = post(f"{server}/status/{status}")
    assert (outcome.result, outcome.http_status) == (result, status)


def test_a_refused_connection_surely_did_not_arrive_and_is_retried() -> None:
    outcome = post(f"http://127.0.0.1:{closed_port()}/hook")
    assert outcome.result == "retry" and outcome.http_status is None
    assert "could not connect" in outcome.error


def test_no_answer_after_sending_is_uncertain(server: str) -> None:
    outcome = post(f"{server}/slow", timeout_s=0.3)
    assert outcome.result == "uncertain" and "no answer after sending" in outcome.error


def test_a_webhook_is_shown_without_its_path() -> None:
    assert deliver.destination("https://hooks.slack.com/services/T0/B0/XYZ") == (
        "https://hooks.slack.com/…"
    )
    assert deliver.destination("http://127.0.0.1:8080/a/b") == "http://127.0.0.1:8080/…"


def rule(**extra: Any) -> AlertRule:
    fields = {"name": "r", "event": "tier_entered", "url": "http://x", "secret_env": "S"}
    return AlertRule.model_validate({**fields, **extra})


def test_an_event_id_changes_with_each_part_it_is_made_of() -> None:
    base = ("hot", "acme.com", "tier_entered", "A@v3")
    ids = {event_id(*base)}
    for i, other in enumerate(("cold", "beta.com", "left_icp", "A@v4")):
        ids.add(event_id(*base[:i], other, *base[i + 1 :]))
    assert len(ids) == 5


def monitor_result(verdict: str, label: str = "2025-09") -> Any:
    """A stand-in for icp monitor's result: what monitor rules read of it."""
    return SimpleNamespace(
        verdict=verdict,
        periods=[SimpleNamespace(label=label)],
        findings=[("action", "2025-09: AUC 0.61 fell below the backtest's 0.74")],
        icp_version=4,
        since=dt.date(2025, 6, 1),
        summary=lambda: f"{verdict}: 2025-09: AUC 0.61 fell below the backtest's 0.74",
    )


def test_a_monitor_rule_alerts_from_its_verdict_up_once_per_period() -> None:
    warn = rule(event="monitor", verdict="warning")
    act = rule(event="monitor", verdict="action")
    assert monitor_events(warn, monitor_result("healthy"), "now") == []
    assert monitor_events(act, monitor_result("warning"), "now") == []
    (event,) = monitor_events(act, monitor_result("action"), "now")
    assert event.document["verdict"] == "action" and event.document["account"] is None
    assert "AUC 0.61" in event.document["reasons"][0]
    (again,) = monitor_events(act, monitor_result("action"), "later")
    (next_month,) = monitor_events(act, monitor_result("action", "2025-10"), "later")
    assert again.id == event.id != next_month.id


def test_a_digest_counts_all_and_shows_the_first_ones() -> None:
    r = rule(max_per_run=2)
    events = [
        SimpleNamespace(
            id=f"evt_{i}",
            account_key=f"a{i}.com",
            account_name=f"Account {i}",
            summary=f"Account {i} entered tier A (was B), score {90 - i}",
            document={
                "account": {"key": f"a{i}.com", "name": f"Account {i}"},
                "tier_after": "A",
                "score": 90 - i,
                "icp_version": 4,
            },
        )
        for i in range(7)
    ]
    message = digest(r, events, "now")  # type: ignore[arg-type]
    assert message.count == 7 and message.document["count"] == 7
    assert [e["account"]["key"] for e in message.document["events"]] == ["a0.com", "a1.com"]
    assert message.summary == "7 accounts entered tier A; the first 2: Account 0, Account 1"
    text = json.loads(body(message.document, message.summary, "slack"))["text"]
    assert text.startswith("*7 accounts entered tier A*") and "Account 1 (tier A, score 89)" in text
    assert "Account 2" not in text


def test_slack_text_escapes_its_control_characters() -> None:
    doc = {"kind": "tier_entered", "icp_version": 1, "reasons": ["Revenue < $1M (+3)"]}
    text = slack_text(doc, "R&D <Labs> entered tier A (was B), score 80")
    assert "R&amp;D &lt;Labs&gt;" in text and "Revenue &lt; $1M (+3)" in text
