"""Alert rules posted to a real webhook receiver on 127.0.0.1: planted changes on the demo
workspace give exactly the expected events, each posted once, signed as docs/alerts.md says."""

from __future__ import annotations

import datetime as dt
import json
import re
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import duckdb
import pytest
from typer.testing import CliRunner

from helpers import DemoWorkspaces
from icpkit.cli.main import app
from icpkit.config import AlertRule, load_settings, save_settings
from icpkit.operate.alerts import STATE_FILE, AlertBook, AlertError, run_alerts
from icpkit.operate.tier_changes import account_tiers
from icpkit.workspace import Workspace

AS_OF = dt.date(2025, 10, 1)  # the day after the demo CRM's last signal
SECRET = "whsec-test-3f9a1c77e2b54d08"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "alerts.md"


def documented_verify() -> Callable[..., bool]:
    """The receiver's check exactly as docs/alerts.md writes it (the first python block)."""
    code = re.search(r"```python\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.S)
    assert code, "docs/alerts.md shows how a receiver verifies a signature"
    space: dict[str, Any] = {}
    exec(code.group(1), space)
    verify = space["verify"]
    assert callable(verify)
    return verify  # type: ignore[no-any-return]


@dataclass
class Receiver:
    """A webhook receiver: answers the statuses queued (then 200), records every request
    and whether its signature verified with ``secret``."""

    secret: bytes
    statuses: list[int] = field(default_factory=list)
    delays: list[float] = field(default_factory=list)  # seconds before answering, in turn
    requests: list[dict[str, Any]] = field(default_factory=list)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/T000/B000/secretpath"

    def accepted(self) -> list[dict[str, Any]]:
        """The bodies of the requests answered 2xx, parsed."""
        return [json.loads(r["body"]) for r in self.requests if r["status"] == 200]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    verify = documented_verify()
    rec = Receiver(SECRET.encode())
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            headers = {k: v for k, v in self.headers.items()}
            with lock:
                status = rec.statuses.pop(0) if rec.statuses else 200
                ok = verify(rec.secret, headers, body)
                if not ok:
                    status = 401
                rec.requests.append(
                    {"headers": headers, "body": body, "verified": ok, "status": status}
                )
                delay = rec.delays.pop(0) if rec.delays else 0.0
            time.sleep(delay)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    rec.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield rec
    server.shutdown()
    server.server_close()


def with_rules(ws: Workspace, *rules: AlertRule) -> Workspace:
    settings = load_settings(ws.config_path)
    settings.alerts = list(rules)
    save_settings(settings, ws.config_path)
    return Workspace.open(ws.root)


def rule(name: str, event: str, url: str, **extra: Any) -> AlertRule:
    return AlertRule.model_validate(
        {"name": name, "event": event, "url": url, "secret_env": "ICP_ALERT_SECRET", **extra}
    )


@pytest.fixture
def ws(
    tmp_path: Path, demo_workspace: DemoWorkspaces, monkeypatch: pytest.MonkeyPatch
) -> Workspace:
    monkeypatch.setenv("ICP_ALERT_SECRET", SECRET)
    return demo_workspace(800, 5, derived=True).copy(tmp_path / "ws")


def tiers(ws: Workspace) -> dict[str, str]:
    """Every account's tier, by the tier-change module (not the alerts' own scoring)."""
    with ws.connect(read_only=True) as con:
        return account_tiers(con, ws.require_icp(), ws.settings, as_of=AS_OF)


def make_ideal(ws: Workspace, keys: list[str]) -> None:
    """Give accounts every trait the demo ICP rewards: software, 51-200 people, 6-8 tools."""
    con = duckdb.connect(str(ws.store_path))
    try:
        con.execute(
            """UPDATE accounts SET industry = 'Software', industry_sector = 'Information',
                   industry_naics = '5132', industry_raw = 'COMPUTER_SOFTWARE',
                   employees = 120, employees_low = 120, employees_high = 120,
                   employees_raw = '120',
                   technologies = ['HubSpot', 'Slack', 'Jira', 'Zoom', 'Zendesk', 'Hotjar',
                                   'Segment']
               WHERE account_key IN (SELECT unnest(?))""",
            [keys],
        )
    finally:
        con.close()


def sql(ws: Workspace, statement: str, params: list[Any]) -> None:
    con = duckdb.connect(str(ws.store_path))
    try:
        con.execute(statement, params)
    finally:
        con.close()


def test_first_run_records_the_baseline_and_posts_nothing(
    ws: Workspace, receiver: Receiver
) -> None:
    ws = with_rules(ws, rule("hot", "tier_entered", receiver.url, tiers=["A", "B"]))
    run = ws.alerts(as_of=AS_OF)
    assert run.baseline and run.accounts == len(tiers(ws))
    assert run.events == [] and receiver.requests == []
    assert "first run" in run.lines()[0] and "alerts nothing" in run.lines()[0]
    again = ws.alerts(as_of=AS_OF)
    assert not again.baseline and again.events == [] and receiver.requests == []


def test_a_planted_tier_change_is_posted_once_signed_and_a_second_run_posts_nothing(
    ws: Workspace, receiver: Receiver
) -> None:
    ws = with_rules(ws, rule("hot", "tier_entered", receiver.url))
    ws.alerts(as_of=AS_OF)
    before = tiers(ws)
    planted = sorted(k for k, t in before.items() if t == "B")[:3]
    make_ideal(ws, planted)
    after = tiers(ws)
    expected = {k for k in after if after[k] == "A" and before[k] != "A"}
    assert expected and expected <= set(planted)

    run = ws.alerts(as_of=AS_OF)
    assert {e.account_key for e in run.events} == expected
    posted = receiver.accepted()
    assert sorted(p["account"]["key"] for p in posted) == sorted(expected)
    assert all(r["verified"] for r in receiver.requests)
    for event in posted:
        assert event["kind"] == "tier_entered" and event["rule"] == "hot"
        assert (event["tier_before"], event["tier_after"]) == ("B", "A")
        assert event["icp_version"] == ws.require_icp().version
        assert event["reasons"] and all(isinstance(r, str) for r in event["reasons"])
        assert set(event) >= {"id", "score", "occurred_at", "account"}
    ids = [r["headers"]["X-Icpkit-Event"] for r in receiver.requests]
    assert ids == [p["id"] for p in posted] and len(set(ids)) == len(ids)

    second = ws.alerts(as_of=AS_OF)
    assert second.events == [] and len(receiver.requests) == len(expected)


def test_slack_format_says_the_account_the_change_and_the_reasons_in_words(
    ws: Workspace, receiver: Receiver
) -> None:
    ws = with_rules(ws, rule("hot", "tier_entered", receiver.url, format="slack"))
    ws.alerts(as_of=AS_OF)
    before = tiers(ws)
    planted = sorted(k for k, t in before.items() if t == "B")[:1]
    make_ideal(ws, planted)
    ws.alerts(as_of=AS_OF)
    (message,) = receiver.accepted()
    assert set(message) == {"text"}
    name = duckdb.connect(str(ws.store_path), read_only=True)
    try:
        row = name.execute("SELECT name FROM accounts WHERE account_key = ?", planted).fetchone()
    finally:
        name.close()
    assert row is not None
    assert row[0] in message["text"] and "entered tier A (was B)" in message["text"]
    assert "Software" in message["text"]  # a reason, in words


def test_an_account_that_becomes_excluded_leaves_the_icp(ws: Workspace, receiver: Receiver) -> None:
    ws = with_rules(ws, rule("out", "left_icp", receiver.url))
    ws.alerts(as_of=AS_OF)
    excluded = {e.values[0] for e in ws.require_icp().exclusions if e.attribute == "industry"}
    assert "Public Administration" in excluded
    before = tiers(ws)
    account = sorted(k for k, t in before.items() if t == "A")[0]
    sql(
        ws,
        "UPDATE accounts SET industry = 'Public Administration', industry_sector = NULL, "
        "industry_naics = NULL WHERE account_key = ?",
        [account],
    )
    ws.alerts(as_of=AS_OF)
    (event,) = receiver.accepted()
    assert event["kind"] == "left_icp" and event["account"]["key"] == account
    assert event["tier_before"] == "A"
    assert any("Public Administration" in r for r in event["reasons"])


def test_a_fresh_signal_alerts_on_a_tier_a_account_only(ws: Workspace, receiver: Receiver) -> None:
    ws = with_rules(ws, rule("intent", "intent_signal", receiver.url))
    ws.alerts(as_of=AS_OF)
    now = tiers(ws)
    hot = sorted(k for k, t in now.items() if t == "A")[0]
    cold = sorted(k for k, t in now.items() if t == "D")[0]
    old = sorted(k for k, t in now.items() if t == "A")[1]
    for key, account, day in (
        ("sig-hot", hot, "2025-09-29"),
        ("sig-cold", cold, "2025-09-29"),
        ("sig-old", old, "2024-01-01"),  # loaded now, but not fresh
    ):
        sql(
            ws,
            "INSERT INTO signals (signal_key, account_key, signal_type, detail, "
            "observed_at) VALUES (?, ?, 'funding_round', 'Series B', ?::TIMESTAMP)",
            [key, account, day],
        )
    assert tiers(ws) == now  # the ICP has no intent rule: the tiers stay
    ws.alerts(as_of=AS_OF)
    (event,) = receiver.accepted()
    assert event["kind"] == "intent_signal" and event["account"]["key"] == hot
    assert event["signal"]["key"] == "sig-hot" and event["signal"]["type"] == "funding_round"
    ws.alerts(as_of=AS_OF)
    assert len(receiver.requests) == 1


def test_a_receiver_answering_500_gets_the_event_once_on_the_next_run(
    ws: Workspace, receiver: Receiver
) -> None:
    ws = with_rules(ws, rule("hot", "tier_entered", receiver.url))
    ws.alerts(as_of=AS_OF)
    planted = sorted(k for k, t in tiers(ws).items() if t == "B")[:1]
    make_ideal(ws, planted)
    receiver.statuses = [500]
    failing = ws.alerts(as_of=AS_OF)
    assert [d.status for d in failing.deliveries] == ["pending"]
    assert failing.deliveries[0].attempts == 1 and failing.deliveries[0].http_status == 500
    assert receiver.accepted() == []

    retried = ws.alerts(as_of=AS_OF)
    assert retried.events == []  # nothing new was found: the pending event was retried
    assert [d.status for d in retried.deliveries] == ["sent"]
    assert [e["account"]["key"] for e in receiver.accepted()] == planted
    assert len({r["headers"]["X-Icpkit-Event"] for r in receiver.requests}) == 1
    ws.alerts(as_of=AS_OF)
    assert len(receiver.requests) == 2
    (listed,) = ws.alert_deliveries()
    assert listed.status == "sent" and listed.attempts == 2


def test_a_receiver_with_another_secret_rejects_the_signature(
    ws: Workspace, receiver: Receiver
) -> None:
    receiver.secret = b"not-the-secret"
    ws = with_rules(ws, rule("hot", "tier_entered", receiver.url))
    ws.alerts(as_of=AS_OF)
    make_ideal(ws, sorted(k for k, t in tiers(ws).items() if t == "B")[:1])
    run = ws.alerts(as_of=AS_OF)
    assert [r["verified"] for r in receiver.requests] == [False]
    (delivery,) = run.deliveries
    assert delivery.status == "failed" and "401" in delivery.error
    assert "secretpath" not in delivery.error  # the webhook's path is never shown
    ws.alerts(as_of=AS_OF)
    assert len(receiver.requests) == 1  # a refusal is not retried


def test_the_documented_check_refuses_a_tampered_body_and_an_old_timestamp() -> None:
    from icpkit.operate.deliver import sign

    verify = documented_verify()
    now = int(dt.datetime.now(dt.UTC).timestamp())
    body = b'{"text": "hello"}'
    good = {"X-Icpkit-Timestamp": str(now), "X-Icpkit-Signature": sign(b"k", str(now), body)}
    assert verify(b"k", good, body)
    assert not verify(b"k", good, body + b" ")
    assert not verify(b"other", good, body)
    old = str(now - 3600)
    stale = {"X-Icpkit-Timestamp": old, "X-Icpkit-Signature": sign(b"k", old, body)}
    assert not verify(b"k", stale, body)


def test_more_events_than_the_cap_post_one_digest(ws: Workspace, receiver: Receiver) -> None:
    ws = with_rules(ws, rule("hot", "tier_entered", receiver.url, max_per_run=5))
    ws.alerts(as_of=AS_OF)
    before = tiers(ws)
    make_ideal(ws, sorted(k for k, t in before.items() if t == "B")[:40])
    after = tiers(ws)
    entered = {k for k in after if after[k] == "A" and before[k] != "A"}
    assert len(entered) > 5

    run = ws.alerts(as_of=AS_OF)
    assert run.found == {"hot": len(entered)}
    (message,) = receiver.accepted()
    assert message["kind"] == "digest" and message["count"] == len(entered)
    assert len(message["events"]) == 5
    assert {e["account"]["key"] for e in message["events"]} <= entered
    assert run.events[0].summary.startswith(f"{len(entered)} accounts entered tier A; the first 5")
    covered = ws.alert_deliveries(limit=None, statuses=["digested"])
    assert {d.account_key for d in covered} == entered
    ws.alerts(as_of=AS_OF)
    assert len(receiver.requests) == 1


def test_a_run_killed_mid_post_never_sends_that_event_again(
    ws: Workspace, receiver: Receiver
) -> None:
    ws = with_rules(ws, rule("hot", "tier_entered", receiver.url))
    ws.alerts(as_of=AS_OF)
    make_ideal(ws, sorted(k for k, t in tiers(ws).items() if t == "B")[:1])

    def killed(*args: Any, **kwargs: Any) -> Any:
        raise KeyboardInterrupt  # the process dies after the POST left, before its answer

    with pytest.raises(KeyboardInterrupt):
        run_alerts(
            ws.root,
            ws.settings,
            ws.require_icp(),
            lambda: ws.connect(read_only=True),
            as_of=AS_OF,
            post=killed,
        )
    run = ws.alerts(as_of=AS_OF)
    assert run.interrupted == 1 and run.events == []
    assert receiver.requests == []
    (listed,) = ws.alert_deliveries()
    assert listed.status == "uncertain" and "may or may not" in listed.error
    assert any("uncertain" in line for line in run.lines())


def test_a_missing_secret_variable_is_named_and_nothing_is_recorded(
    ws: Workspace, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ICP_ALERT_SECRET")
    ws = with_rules(ws, rule("hot", "tier_entered", receiver.url))
    with pytest.raises(AlertError, match="ICP_ALERT_SECRET") as error:
        ws.alerts(as_of=AS_OF)
    assert "'hot'" in str(error.value)
    assert not (ws.root / STATE_FILE).exists()


def test_a_dry_run_posts_and_records_nothing(ws: Workspace, receiver: Receiver) -> None:
    ws = with_rules(ws, rule("hot", "tier_entered", receiver.url))
    ws.alerts(as_of=AS_OF)
    make_ideal(ws, sorted(k for k, t in tiers(ws).items() if t == "B")[:1])
    preview = ws.alerts(as_of=AS_OF, dry_run=True)
    assert len(preview.events) == 1 and receiver.requests == []
    assert ws.alert_deliveries() == []
    real = ws.alerts(as_of=AS_OF)
    assert [e.id for e in real.events] == [e.id for e in preview.events]
    assert len(receiver.accepted()) == 1


def test_the_secret_never_reaches_output_state_or_settings(
    ws: Workspace, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    receiver.statuses = [500]
    ws = with_rules(ws, rule("hot", "tier_entered", receiver.url, format="slack"))
    runner = CliRunner()
    args = ["--workspace", str(ws.root), "--as-of", AS_OF.isoformat()]
    outputs = [runner.invoke(app, ["alerts", "run", *args])]
    make_ideal(ws, sorted(k for k, t in tiers(ws).items() if t == "B")[:1])
    outputs.append(runner.invoke(app, ["alerts", "run", *args]))
    outputs.append(runner.invoke(app, ["alerts", "run", *args]))
    outputs.append(runner.invoke(app, ["alerts", "list", "--workspace", str(ws.root)]))
    assert [o.exit_code for o in outputs] == [0, 0, 0, 0], [o.output for o in outputs]
    assert "first run" in outputs[0].output
    assert "pending" in outputs[1].output and "500" in outputs[1].output
    assert "sent" in outputs[3].output
    assert len(receiver.accepted()) == 1
    seen = "".join(o.output for o in outputs) + caplog.text
    seen += (ws.root / STATE_FILE).read_bytes().decode("utf-8", "replace")
    seen += ws.config_path.read_text()
    assert SECRET not in seen
    assert "ICP_ALERT_SECRET" in ws.config_path.read_text()  # its name, never its value


def test_the_state_lives_in_the_workspace_not_in_icp_yaml(
    ws: Workspace, receiver: Receiver
) -> None:
    ws = with_rules(ws, rule("hot", "tier_entered", receiver.url))
    config = ws.config_path.read_text()
    ws.alerts(as_of=AS_OF)
    assert ws.config_path.read_text() == config
    con = sqlite3.connect(ws.root / STATE_FILE)
    try:
        (accounts,) = con.execute("SELECT count(*) FROM accounts").fetchone()
    finally:
        con.close()
    assert accounts == len(tiers(ws))


def test_a_post_left_unanswered_is_uncertain_and_never_sent_again(
    ws: Workspace, receiver: Receiver
) -> None:
    ws = with_rules(ws, rule("hot", "tier_entered", receiver.url, timeout_s=0.3))
    ws.alerts(as_of=AS_OF)
    make_ideal(ws, sorted(k for k, t in tiers(ws).items() if t == "B")[:1])
    receiver.delays = [1.5]
    run = ws.alerts(as_of=AS_OF)
    (delivery,) = run.deliveries
    assert delivery.status == "uncertain" and "no answer after sending" in delivery.error
    ws.alerts(as_of=AS_OF)
    assert len(receiver.requests) == 1


def test_an_unreachable_receiver_counts_an_attempt_a_run_and_is_dropped_after_max_attempts(
    ws: Workspace,
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: connections are refused
    url = f"http://127.0.0.1:{port}/hook"
    ws = with_rules(ws, rule("hot", "tier_entered", url, max_attempts=2))
    ws.alerts(as_of=AS_OF)
    make_ideal(ws, sorted(k for k, t in tiers(ws).items() if t == "B")[:2])

    first = ws.alerts(as_of=AS_OF)
    assert [(d.status, d.attempts) for d in first.deliveries] == [("pending", 1)] * 2
    assert all("could not connect" in d.error for d in first.deliveries)
    assert all(str(port) in d.error and "/hook" not in d.error for d in first.deliveries)

    second = ws.alerts(as_of=AS_OF)
    assert [(d.status, d.attempts) for d in second.deliveries] == [("failed", 2)] * 2
    assert all("dropped after 2 attempts" in d.error for d in second.deliveries)
    assert len(ws.alert_deliveries(statuses=["failed"])) == 2
    third = ws.alerts(as_of=AS_OF)
    assert third.deliveries == []


def test_a_second_run_at_the_same_time_is_refused(ws: Workspace, receiver: Receiver) -> None:
    ws = with_rules(ws, rule("hot", "tier_entered", receiver.url))
    with AlertBook(ws.root).lock(), pytest.raises(AlertError, match="another `icp alerts run`"):
        ws.alerts(as_of=AS_OF)


def test_a_monitor_rule_posts_the_monitors_verdict_once(ws: Workspace, receiver: Receiver) -> None:
    settings = load_settings(ws.config_path)
    settings.monitor.psi_warning, settings.monitor.min_new_deals = 0.0001, 1  # any shift counts
    save_settings(settings, ws.config_path)
    ws = with_rules(ws, rule("drift", "monitor", receiver.url, verdict="warning"))
    ws.alerts(as_of=AS_OF)
    assert receiver.requests == []  # the first run alerts nothing, the monitor's verdict too
    verdict = ws.monitor(as_of=AS_OF).verdict
    assert verdict != "healthy"
    ws.alerts(as_of=AS_OF)
    posted = receiver.accepted()
    assert [p["verdict"] for p in posted] == [verdict]
    assert posted[0]["kind"] == "monitor" and posted[0]["reasons"]
    ws.alerts(as_of=AS_OF)
    assert len(receiver.requests) == len(posted)


def test_the_command_line_fails_in_one_line_naming_a_missing_variable(
    ws: Workspace, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ICP_ALERT_SECRET")
    ws = with_rules(ws, rule("hot", "tier_entered", receiver.url))
    result = CliRunner().invoke(app, ["alerts", "run", "--workspace", str(ws.root)])
    assert result.exit_code == 1
    assert "ICP_ALERT_SECRET" in result.output and "Traceback" not in result.output


def test_the_command_line_dry_run_says_what_it_would_post(
    ws: Workspace, receiver: Receiver
) -> None:
    ws = with_rules(ws, rule("hot", "tier_entered", receiver.url))
    args = ["--workspace", str(ws.root), "--as-of", AS_OF.isoformat()]
    runner = CliRunner()
    first = runner.invoke(app, ["alerts", "run", "--dry-run", *args])
    assert first.exit_code == 0 and "would record the baseline" in first.output
    assert runner.invoke(app, ["alerts", "run", *args]).exit_code == 0
    make_ideal(ws, sorted(k for k, t in tiers(ws).items() if t == "B")[:1])
    preview = runner.invoke(app, ["alerts", "run", "--dry-run", *args])
    assert preview.exit_code == 0 and "would post [hot]" in preview.output
    assert "entered tier A (was B)" in preview.output
    assert receiver.requests == []
    listed = runner.invoke(app, ["alerts", "list", "--workspace", str(ws.root)])
    assert "no alert deliveries yet" in listed.output


def test_a_run_that_dies_before_recording_finds_the_same_events_next_time(
    ws: Workspace, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = with_rules(ws, rule("hot", "tier_entered", receiver.url))
    ws.alerts(as_of=AS_OF)
    make_ideal(ws, sorted(k for k, t in tiers(ws).items() if t == "B")[:2])
    preview = ws.alerts(as_of=AS_OF, dry_run=True)
    original = AlertBook.record

    def dies(self: AlertBook, *args: Any, **kwargs: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(AlertBook, "record", dies)
    with pytest.raises(KeyboardInterrupt):
        ws.alerts(as_of=AS_OF)
    assert receiver.requests == [] and ws.alert_deliveries() == []
    monkeypatch.setattr(AlertBook, "record", original)
    run = ws.alerts(as_of=AS_OF)
    assert sorted(e.id for e in run.events) == sorted(e.id for e in preview.events)
    assert sorted(p["id"] for p in receiver.accepted()) == sorted(e.id for e in preview.events)
