"""Alert rules put to work: events found by comparing the accounts' scores with the last
run, recorded once, and posted at most once each.

A run scores every account of the store with the current ICP (the engines batch scoring
uses), compares tiers and ICP membership with the state the last run recorded, and makes
events per rule of ``alerts:`` in ``icp.yaml``: an account entered a tier, a fresh signal
arrived on an account of the tiers watched, an account left the ICP, ``icp monitor``'s
verdict reached a level. The first run records the baseline and alerts nothing.

Everything is kept in ``.icp/alerts.sqlite`` (never in ``icp.yaml``): the accounts' state,
the signals already seen, and every event with its delivery. Events and the new state are
written in one transaction, so a crash before it finds the same events again and a crash
after it leaves them pending. Each event has a stable id (rule, account, kind, and the
tier and ICP version, or the signal, it is about), so an event is never recorded twice.

Delivery is at most once: a delivery is marked ``sending`` before its POST and ``sent`` on
a 2xx. A refused connection, a 5xx, 408 or 429 returns it to ``pending`` for the next run
(after ``max_attempts`` tries it is ``failed`` and listed); another 4xx fails it at once.
A request that went out without an answer, and one found still ``sending`` by the next run
(the process died mid-POST), becomes ``uncertain``: it may have arrived, so it is never
sent again, only listed. A rule that finds more than ``max_per_run`` new events in one run
posts one digest message instead ("212 accounts entered tier A; the first 20: ...").
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import numpy as np

from icpkit.config import AlertRule, Settings
from icpkit.engines.score import Scores
from icpkit.errors import IcpkitError
from icpkit.icp.model import ICP
from icpkit.operate import deliver
from icpkit.operate.tier_changes import score_entities, store_accounts
from icpkit.vocabulary import TIERS

if TYPE_CHECKING:
    from icpkit.operate.monitor import MonitorResult

STATE_FILE = Path(".icp") / "alerts.sqlite"
LOCK_FILE = Path(".icp") / "alerts.lock"
TOP_REASONS = 3
"""Reasons an alert gives for an account, strongest first."""
DEFAULT_TIERS: dict[str, tuple[str, ...]] = {
    "tier_entered": ("A",),
    "intent_signal": ("A", "B"),
    "left_icp": TIERS,
}
STATUSES = ("pending", "sending", "sent", "failed", "uncertain", "digested")
"""A delivery's states: waiting, being posted, delivered, given up, may or may not have
arrived (never resent), and covered by a digest message instead of its own."""
_VERDICTS = {"healthy": 0, "warning": 1, "action": 2}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS accounts (
    account_key TEXT PRIMARY KEY, tier TEXT NOT NULL, inside INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS signals_seen (signal_key TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS events (
    id TEXT PRIMARY KEY,
    rule TEXT NOT NULL,
    kind TEXT NOT NULL,
    account_key TEXT,
    account_name TEXT,
    summary TEXT NOT NULL,
    document TEXT NOT NULL,
    digest_id TEXT,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    http_status INTEGER,
    error TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    sent_at TEXT
);
CREATE INDEX IF NOT EXISTS events_status ON events (status, created_at);
"""


class AlertError(IcpkitError):
    """Alerts cannot run as asked: a missing environment variable, another run in progress,
    an unreadable state file (the message says which and what to do)."""


@dataclass(frozen=True)
class AlertEvent:
    """One thing worth telling, as the generic format posts it (``document``)."""

    id: str
    rule: str
    kind: str  # tier_entered, intent_signal, left_icp, monitor or digest
    summary: str  # one line in words
    document: dict[str, Any]
    account_key: str | None = None
    account_name: str | None = None
    members: tuple[str, ...] = ()  # a digest: the ids of the events it covers

    @property
    def count(self) -> int:
        """Events this message stands for (a digest: all it covers)."""
        return len(self.members) or 1


@dataclass(frozen=True)
class Delivery:
    """One recorded event and how its delivery stands (never the URL's path or a secret)."""

    id: str
    rule: str
    kind: str
    account_key: str | None
    account_name: str | None
    summary: str
    status: str
    attempts: int
    http_status: int | None
    error: str
    created_at: str
    updated_at: str
    sent_at: str | None


@dataclass
class AlertRun:
    """What one ``icp alerts run`` found and did."""

    dry_run: bool
    baseline: bool  # the first run: the state was recorded, nothing is alerted
    as_of: dt.date
    icp_version: int
    accounts: int
    rules: int
    events: list[AlertEvent] = field(default_factory=list)  # the messages of this run
    found: dict[str, int] = field(default_factory=dict)  # rule -> new events (digested too)
    deliveries: list[Delivery] = field(default_factory=list)  # what was posted, and how
    interrupted: int = 0  # deliveries a crashed run left 'sending', now 'uncertain'
    notes: list[str] = field(default_factory=list)

    def count(self, status: str) -> int:
        """Deliveries of this run that ended in ``status``."""
        return sum(d.status == status for d in self.deliveries)

    def lines(self) -> list[str]:
        """The run in words, a line each."""
        out: list[str] = []
        if self.baseline:
            verb = "would record" if self.dry_run else "recorded"
            out.append(
                f"first run: {verb} the baseline of {self.accounts:,} accounts (ICP "
                f"v{self.icp_version}); a first run alerts nothing, the next one alerts "
                "what changed since"
            )
        elif not self.rules:
            verb = "would record" if self.dry_run else "recorded"
            out.append(
                f"no alert rules in icp.yaml (alerts:): scored {self.accounts:,} accounts and "
                f"{verb} their state; see docs/alerts.md"
            )
        else:
            found = sum(self.found.values())
            out.append(
                f"{self.accounts:,} accounts scored with ICP v{self.icp_version} as of "
                f"{self.as_of.isoformat()}: {found:,} new event{'s' * (found != 1)}"
                + (f" ({_per_rule(self.found)})" if found else "")
            )
        for event in self.events:
            prefix = "would post" if self.dry_run else "new"
            out.append(f"  {prefix} [{event.rule}] {event.summary}")
        if self.interrupted:
            out.append(
                f"{self.interrupted} deliver{'ies' if self.interrupted != 1 else 'y'} "
                "interrupted by an earlier crash may or may not have arrived: marked "
                "uncertain, not sent again (icp alerts list)"
            )
        if not self.dry_run and self.deliveries:
            parts = [
                f"{self.count(s)} {s}"
                for s in ("sent", "pending", "failed", "uncertain")
                if self.count(s)
            ]
            out.append("deliveries: " + ", ".join(parts))
            for d in self.deliveries:
                if d.status != "sent":
                    out.append(f"  {d.status} [{d.rule}] {d.summary}: {d.error}")
        out += self.notes
        return out


def _per_rule(found: Mapping[str, int]) -> str:
    return ", ".join(f"{rule}: {n:,}" for rule, n in found.items() if n)


def event_id(rule: str, account: str | None, kind: str, about: str) -> str:
    """The stable id of an event: the same rule, account, kind and subject give the same id
    in every run, so an event is never recorded twice.

    >>> event_id("hot", "acme.com", "tier_entered", "A@v3") == event_id(
    ...     "hot", "acme.com", "tier_entered", "A@v3")
    True
    """
    text = "\x1f".join((rule, account or "", kind, about))
    return "evt_" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


# --- scoring the accounts ------------------------------------------------------------------


@dataclass
class Scored:
    """Every account of the store scored with the current ICP, aligned by position."""

    keys: list[str]
    names: list[str | None]
    scores: Scores
    inside: np.ndarray  # within the boundary and not excluded
    exclusion_ids: frozenset[str]

    def reasons(self, i: int, *, leaving: bool = False) -> list[str]:
        """Account ``i``'s top reasons in words; for an account leaving the ICP, the
        exclusions and boundary conditions that put it out."""
        reasons = self.scores.reasons(i)
        if leaving:
            out = [r for r in reasons if r.rule_id in self.exclusion_ids or r.points == 0]
            reasons = out or reasons
        return [_reason_text(r.text, r.points) for r in reasons[:TOP_REASONS]]


def _reason_text(text: str, points: int) -> str:
    return f"{text} ({points:+d})" if points else text


def score_accounts(
    con: duckdb.DuckDBPyConnection, icp: ICP, settings: Settings, as_of: dt.date
) -> Scored:
    """Score every account of the store with ``icp`` as of ``as_of``, as batch scoring does."""
    rows = store_accounts(con, as_of)
    scores = score_entities(con, icp, settings)
    inside = ~(np.asarray(scores.excluded, dtype=bool) | np.asarray(scores.outside, dtype=bool))
    return Scored(
        [key for key, _ in rows],
        [r[1] for r in rows],
        scores,
        inside,
        frozenset(e.id for e in icp.exclusions),
    )


@dataclass(frozen=True)
class Signal:
    """A signal row of the store, as the intent alerts see it."""

    key: str
    account_key: str
    type: str
    detail: str | None
    observed_at: dt.date


def read_signals(con: duckdb.DuckDBPyConnection) -> list[Signal]:
    """Every signal of the store tied to an account."""
    rows = con.execute(
        """SELECT signal_key, account_key, signal_type, detail, observed_at::DATE
           FROM signals WHERE account_key IS NOT NULL ORDER BY observed_at DESC, signal_key"""
    ).fetchall()
    return [Signal(str(k), str(a), str(t), d, o) for k, a, t, d, o in rows]


# --- the events ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Before:
    """An account as the last run recorded it."""

    tier: str
    inside: bool


def _tiers(rule: AlertRule) -> tuple[str, ...]:
    return tuple(rule.tiers) if rule.tiers else DEFAULT_TIERS.get(rule.event, TIERS)


def _account_document(
    event: str,
    rule: AlertRule,
    scored: Scored,
    i: int,
    before: Before | None,
    icp: ICP,
    occurred_at: str,
    *,
    leaving: bool = False,
) -> dict[str, Any]:
    return {
        "kind": event,
        "rule": rule.name,
        "account": {"key": scored.keys[i], "name": scored.names[i]},
        "tier_before": before.tier if before else None,
        "tier_after": str(scored.scores.tier[i]),
        "score": int(scored.scores.score[i]),
        "reasons": scored.reasons(i, leaving=leaving),
        "icp_version": icp.version,
        "occurred_at": occurred_at,
    }


def _name(scored: Scored, i: int) -> str:
    return scored.names[i] or scored.keys[i]


def _event(rule: AlertRule, kind: str, about: str, summary: str, doc: dict[str, Any]) -> AlertEvent:
    account = doc.get("account") or {}
    key, name = account.get("key"), account.get("name")
    ident = event_id(rule.name, key, kind, about)
    return AlertEvent(ident, rule.name, kind, summary, {"id": ident, **doc}, key, name)


def tier_events(
    rule: AlertRule,
    scored: Scored,
    before: Mapping[str, Before],
    icp: ICP,
    occurred_at: str,
) -> list[AlertEvent]:
    """Accounts now in one of the rule's tiers that were not in one at the last run (new
    accounts included), highest score first. One event per account, tier and ICP version."""
    tiers = _tiers(rule)
    order = np.argsort(-scored.scores.score, kind="stable")
    out = []
    for i in order.tolist():
        tier = str(scored.scores.tier[i])
        was = before.get(scored.keys[i])
        if tier not in tiers or (was is not None and was.tier in tiers):
            continue
        doc = _account_document("tier_entered", rule, scored, i, was, icp, occurred_at)
        came = f"was {was.tier}" if was else "new account"
        summary = f"{_name(scored, i)} entered tier {tier} ({came}), score {doc['score']}"
        out.append(_event(rule, "tier_entered", f"{tier}@v{icp.version}", summary, doc))
    return out


def signal_events(
    rule: AlertRule,
    scored: Scored,
    before: Mapping[str, Before],
    fresh: Sequence[Signal],
    icp: ICP,
    as_of: dt.date,
    occurred_at: str,
) -> list[AlertEvent]:
    """Signals not seen at the last run, observed within ``max_age_days`` of ``as_of``, of
    the types the rule names (else the ICP's intent signals, else any), on accounts now in
    the rule's tiers; newest first. One event per signal."""
    tiers = _tiers(rule)
    types = set(rule.signals) or {s.signal for s in icp.intent}
    oldest = as_of - dt.timedelta(days=rule.max_age_days)
    where = {k: i for i, k in enumerate(scored.keys)}
    out = []
    for s in fresh:
        i = where.get(s.account_key)
        if i is None or s.observed_at < oldest or (types and s.type not in types):
            continue
        tier = str(scored.scores.tier[i])
        if tier not in tiers:
            continue
        doc = _account_document(
            "intent_signal", rule, scored, i, before.get(s.account_key), icp, occurred_at
        )
        doc["signal"] = {
            "key": s.key,
            "type": s.type,
            "detail": s.detail,
            "observed_at": s.observed_at.isoformat(),
        }
        what = s.type + (f" ({s.detail})" if s.detail else "")
        summary = (
            f"{_name(scored, i)} (tier {tier}, score {doc['score']}): fresh signal {what} "
            f"on {s.observed_at.isoformat()}"
        )
        out.append(_event(rule, "intent_signal", s.key, summary, doc))
    return out


def leaving_events(
    rule: AlertRule,
    scored: Scored,
    before: Mapping[str, Before],
    icp: ICP,
    occurred_at: str,
) -> list[AlertEvent]:
    """Accounts inside the ICP at the last run (in the rule's tiers) that are outside its
    boundary or excluded now. One event per account and ICP version."""
    tiers = _tiers(rule)
    out = []
    for i, key in enumerate(scored.keys):
        was = before.get(key)
        if was is None or not was.inside or scored.inside[i] or was.tier not in tiers:
            continue
        doc = _account_document("left_icp", rule, scored, i, was, icp, occurred_at, leaving=True)
        why = "; ".join(doc["reasons"]) or "outside the ICP"
        summary = f"{_name(scored, i)} left the ICP (was tier {was.tier}): {why}"
        out.append(_event(rule, "left_icp", f"v{icp.version}", summary, doc))
    out.sort(key=lambda e: (TIERS.index(e.document["tier_before"]), e.summary))
    return out


def monitor_events(rule: AlertRule, result: MonitorResult, occurred_at: str) -> list[AlertEvent]:
    """``icp monitor``'s verdict as an event when it reaches the rule's level: one per
    verdict, ICP version and latest period judged."""
    if _VERDICTS[result.verdict] < _VERDICTS[rule.verdict]:
        return []
    period = result.periods[-1].label if result.periods else "none"
    doc = {
        "kind": "monitor",
        "rule": rule.name,
        "account": None,
        "verdict": result.verdict,
        "summary": result.summary(),
        "reasons": [text for _, text in result.findings][:TOP_REASONS],
        "icp_version": result.icp_version,
        "occurred_at": occurred_at,
    }
    about = f"{result.verdict}@v{result.icp_version}:{result.since.isoformat()}:{period}"
    summary = f"icp monitor: {result.verdict} on ICP v{result.icp_version} ({period})"
    return [_event(rule, "monitor", about, summary, doc)]


def digest(rule: AlertRule, events: Sequence[AlertEvent], occurred_at: str) -> AlertEvent:
    """One message standing for ``events`` (more than the rule's ``max_per_run``): how many,
    and the first ``max_per_run`` of them."""
    shown = events[: rule.max_per_run]
    members = tuple(e.id for e in events)
    about = hashlib.sha256("\x1f".join(sorted(members)).encode()).hexdigest()[:24]
    what = {
        "tier_entered": f"accounts entered tier {'/'.join(_tiers(rule))}",
        "intent_signal": "fresh signals on accounts of tiers " + "/".join(_tiers(rule)),
        "left_icp": "accounts left the ICP",
        "monitor": "monitor verdicts",
    }[rule.event]
    summary = f"{len(events):,} {what}; the first {len(shown)}: " + ", ".join(
        e.account_name or e.account_key or e.summary for e in shown
    )
    doc = {
        "kind": "digest",
        "rule": rule.name,
        "event_kind": rule.event,
        "account": None,
        "count": len(events),
        "events": [e.document for e in shown],
        "icp_version": shown[0].document.get("icp_version") if shown else None,
        "occurred_at": occurred_at,
    }
    ident = event_id(rule.name, None, "digest", about)
    return AlertEvent(ident, rule.name, "digest", summary, {"id": ident, **doc}, members=members)


# --- rendering -----------------------------------------------------------------------------


def body(document: Mapping[str, Any], summary: str, fmt: str) -> bytes:
    """What is posted: the event itself (generic) or ``{"text": ...}`` in words (slack)."""
    if fmt == "slack":
        return json.dumps({"text": slack_text(document, summary)}, ensure_ascii=False).encode()
    return json.dumps(document, ensure_ascii=False, sort_keys=True).encode()


def _escape(text: str) -> str:
    """Slack's three control characters, escaped as its message format asks."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_text(document: Mapping[str, Any], summary: str) -> str:
    """A Slack message: the account and the change in bold, the top reasons below."""
    if document.get("kind") == "digest":
        head = summary.partition("; the first ")[0]
        lines = [f"*{_escape(head)}* (ICP v{document.get('icp_version')}); the first:"]
        lines += [f"• {_escape(_member_text(e))}" for e in document.get("events", [])]
        return "\n".join(lines)
    lines = [f"*{_escape(summary)}* (ICP v{document.get('icp_version')})"]
    lines += [f"• {_escape(r)}" for r in document.get("reasons", [])]
    return "\n".join(lines)


def _member_text(document: Mapping[str, Any]) -> str:
    """A digest member in a few words: the account, its tier and score."""
    account = document.get("account") or {}
    name = account.get("name") or account.get("key") or "?"
    return f"{name} (tier {document.get('tier_after')}, score {document.get('score')})"


# --- the state file ------------------------------------------------------------------------


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


class AlertBook:
    """The alert state of the workspace at ``root``: ``.icp/alerts.sqlite``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.path = self.root / STATE_FILE

    @contextmanager
    def open(self) -> Iterator[sqlite3.Connection]:
        """A connection in autocommit mode (transactions are explicit), tables made."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            con = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise AlertError(f"{self.path}: cannot open the alert state ({exc})") from None
        with closing(con):
            try:
                con.executescript(_SCHEMA)
            except sqlite3.DatabaseError as exc:
                raise AlertError(
                    f"{self.path}: not a readable alert state ({exc}); move it away to start "
                    "again from a new baseline"
                ) from None
            yield con

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the run lock: two runs at once would post the same events twice."""
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX: one run at a time is up to you
            yield
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.root / LOCK_FILE, "a+b") as handle:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise AlertError(
                    "another `icp alerts run` is running on this workspace; try again when it ends"
                ) from None
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def state(self, con: sqlite3.Connection) -> tuple[dict[str, Before], set[str]] | None:
        """The accounts and signals the last run recorded; None before the first run."""
        if con.execute("SELECT value FROM meta WHERE key = 'runs'").fetchone() is None:
            return None
        before = {
            k: Before(t, bool(inside))
            for k, t, inside in con.execute("SELECT account_key, tier, inside FROM accounts")
        }
        seen = {k for (k,) in con.execute("SELECT signal_key FROM signals_seen")}
        return before, seen

    def record(
        self,
        con: sqlite3.Connection,
        scored: Scored,
        signals: Sequence[Signal],
        events: Sequence[AlertEvent],
        digested: Mapping[str, str],
        meta: Mapping[str, str],
    ) -> None:
        """Write the new events and the new state in one transaction."""
        now = _now()
        con.execute("BEGIN IMMEDIATE")
        try:
            con.executemany(
                """INSERT OR IGNORE INTO events (id, rule, kind, account_key, account_name,
                       summary, document, digest_id, status, created_at, updated_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                [
                    (
                        e.id,
                        e.rule,
                        e.kind,
                        e.account_key,
                        e.account_name,
                        e.summary,
                        json.dumps(e.document, ensure_ascii=False),
                        digested.get(e.id),
                        "digested" if e.id in digested else "pending",
                        now,
                        now,
                    )
                    for e in events
                ],
            )
            con.execute("DELETE FROM accounts")
            con.executemany(
                "INSERT OR REPLACE INTO accounts VALUES (?, ?, ?)",
                zip(
                    scored.keys,
                    (str(t) for t in scored.scores.tier.tolist()),
                    (int(x) for x in scored.inside.tolist()),
                    strict=True,
                ),
            )
            con.executemany(
                "INSERT OR IGNORE INTO signals_seen VALUES (?)", ((s.key,) for s in signals)
            )
            runs = con.execute("SELECT value FROM meta WHERE key = 'runs'").fetchone()
            rows = {**meta, "runs": str(int(runs[0]) + 1 if runs else 1), "last_run_at": now}
            con.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", rows.items())
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise

    def recover(self, con: sqlite3.Connection) -> int:
        """Deliveries a crashed run left ``sending``: they may have arrived, so they become
        ``uncertain`` and are never sent again."""
        cursor = con.execute(
            """UPDATE events SET status = 'uncertain', updated_at = ?,
                   error = 'interrupted while sending: it may or may not have arrived'
               WHERE status = 'sending'""",
            (_now(),),
        )
        return cursor.rowcount

    def pending(self, con: sqlite3.Connection) -> list[tuple[str, str, str, str, int]]:
        """(id, rule, summary, document, attempts) of every pending delivery, oldest first."""
        return list(
            con.execute(
                """SELECT id, rule, summary, document, attempts FROM events
                   WHERE status = 'pending' ORDER BY created_at, rowid"""
            )
        )

    def set_status(
        self,
        con: sqlite3.Connection,
        ident: str,
        status: str,
        *,
        attempt: bool = False,
        http_status: int | None = None,
        error: str = "",
    ) -> None:
        """Move one delivery to ``status`` (counting an attempt when asked)."""
        now = _now()
        con.execute(
            """UPDATE events SET status = ?, attempts = attempts + ?, http_status = ?,
                   error = ?, updated_at = ?,
                   sent_at = CASE WHEN ? = 'sent' THEN ? ELSE sent_at END
               WHERE id = ?""",
            (status, int(attempt), http_status, error or None, now, status, now, ident),
        )

    def deliveries(
        self, *, limit: int | None = 50, statuses: Sequence[str] | None = None
    ) -> list[Delivery]:
        """The recorded deliveries, latest change first (events covered by a digest only
        when ``statuses`` asks for them)."""
        if not self.path.exists():
            return []
        wanted = tuple(statuses or [s for s in STATUSES if s != "digested"])
        marks = ", ".join("?" * len(wanted))
        sql = f"""SELECT id, rule, kind, account_key, account_name, summary, status, attempts,
                      http_status, COALESCE(error, ''), created_at, updated_at, sent_at
                  FROM events WHERE status IN ({marks})
                  ORDER BY updated_at DESC, rowid DESC"""
        args: list[Any] = list(wanted)
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        with self.open() as con:
            return [Delivery(*row) for row in con.execute(sql, args)]

    def delivery(self, con: sqlite3.Connection, ident: str) -> Delivery:
        """One delivery as it stands."""
        row = con.execute(
            """SELECT id, rule, kind, account_key, account_name, summary, status, attempts,
                   http_status, COALESCE(error, ''), created_at, updated_at, sent_at
               FROM events WHERE id = ?""",
            (ident,),
        ).fetchone()
        return Delivery(*row)


# --- a run ---------------------------------------------------------------------------------


def _environment(rules: Sequence[AlertRule], environ: Mapping[str, str]) -> None:
    """Every variable the rules name is set, or a message naming the first missing one."""
    for rule in rules:
        for key, name in (("secret_env", rule.secret_env), ("url_env", rule.url_env)):
            if name is not None and not environ.get(name):
                what = "signing secret" if key == "secret_env" else "webhook URL"
                raise AlertError(
                    f"alert rule {rule.name!r}: the environment variable {name} ({key}, the "
                    f"{what}) is not set; set it before `icp alerts run`, e.g. "
                    f"export {name}=..."
                )


def run_alerts(
    root: Path,
    settings: Settings,
    icp: ICP,
    connect: Callable[[], AbstractContextManager[duckdb.DuckDBPyConnection]],
    *,
    as_of: dt.date,
    dry_run: bool = False,
    monitor: Callable[[], MonitorResult] | None = None,
    environ: Mapping[str, str] | None = None,
    post: Callable[..., deliver.Outcome] = deliver.post,
) -> AlertRun:
    """Find the events since the last run, record them with the new state, and post what is
    pending (a dry run posts and records nothing). ``connect`` opens the store for reading;
    it is closed before anything is posted."""
    rules = list(settings.alerts)
    env = os.environ if environ is None else environ
    if not dry_run:
        _environment(rules, env)
    book = AlertBook(root)
    with book.lock(), book.open() as con:
        interrupted = 0 if dry_run else book.recover(con)
        state = book.state(con)
        with connect() as store:
            scored = score_accounts(store, icp, settings, as_of)
            signals = read_signals(store)
        run = AlertRun(dry_run, state is None, as_of, icp.version, len(scored.keys), len(rules))
        run.interrupted = interrupted
        occurred_at = _now()
        found: list[AlertEvent] = []
        digested: dict[str, str] = {}
        if state is not None:
            before, seen = state
            fresh = [s for s in signals if s.key not in seen]
            result = None
            if monitor is not None and any(r.event == "monitor" for r in rules):
                result = _monitor(monitor, run)
            for rule in rules:
                events = _rule_events(rule, scored, before, fresh, icp, as_of, occurred_at, result)
                # An event recorded already (the same id) is neither recorded nor posted again.
                known = _known_ids(con, [e.id for e in events])
                events = [e for e in events if e.id not in known]
                run.found[rule.name] = len(events)
                found += events
                if len(events) > rule.max_per_run:
                    message = digest(rule, events, occurred_at)
                    digested.update({e.id: message.id for e in events})
                    found.append(message)
                    run.events.append(message)
                else:
                    run.events += events
        if dry_run:
            return run
        meta = {"as_of": as_of.isoformat(), "icp_version": str(icp.version)}
        book.record(con, scored, signals, found, digested, meta)
        run.deliveries = _deliver(book, con, {r.name: r for r in rules}, env, post)
    return run


def _monitor(monitor: Callable[[], MonitorResult], run: AlertRun) -> MonitorResult | None:
    from icpkit.operate.monitor import MonitorError

    try:
        return monitor()
    except MonitorError as exc:
        run.notes.append(f"monitor rules not judged: {exc}")
        return None


def _rule_events(
    rule: AlertRule,
    scored: Scored,
    before: Mapping[str, Before],
    fresh: Sequence[Signal],
    icp: ICP,
    as_of: dt.date,
    occurred_at: str,
    result: MonitorResult | None,
) -> list[AlertEvent]:
    if rule.event == "tier_entered":
        return tier_events(rule, scored, before, icp, occurred_at)
    if rule.event == "intent_signal":
        return signal_events(rule, scored, before, fresh, icp, as_of, occurred_at)
    if rule.event == "left_icp":
        return leaving_events(rule, scored, before, icp, occurred_at)
    return monitor_events(rule, result, occurred_at) if result is not None else []


def _known_ids(con: sqlite3.Connection, ids: Sequence[str]) -> set[str]:
    known: set[str] = set()
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ", ".join("?" * len(chunk))
        known.update(
            k for (k,) in con.execute(f"SELECT id FROM events WHERE id IN ({marks})", chunk)
        )
    return known


def _deliver(
    book: AlertBook,
    con: sqlite3.Connection,
    rules: Mapping[str, AlertRule],
    env: Mapping[str, str],
    post: Callable[..., deliver.Outcome],
) -> list[Delivery]:
    """Post every pending delivery once, at most once each: ``sending`` is recorded before
    the POST, the outcome after it. A receiver that cannot be reached is not dialled again
    in this run: its other deliveries count the attempt too and wait (or are dropped)."""
    done: list[Delivery] = []
    unreachable: dict[str, deliver.Outcome] = {}
    with deliver.client() as http:
        for ident, rule_name, summary, document, attempts in book.pending(con):
            rule = rules.get(rule_name)
            if rule is None:
                book.set_status(con, ident, "failed", error="its rule is no longer in icp.yaml")
                done.append(book.delivery(con, ident))
                continue
            url = rule.url or env[str(rule.url_env)]
            posted = url not in unreachable
            if posted:
                payload = body(json.loads(document), summary, rule.format)
                book.set_status(con, ident, "sending", attempt=True)
                outcome = post(
                    http,
                    url,
                    payload,
                    env[rule.secret_env].encode("utf-8"),
                    event_id=ident,
                    timeout_s=rule.timeout_s,
                )
                if outcome.result == "retry" and outcome.http_status is None:
                    unreachable[url] = outcome
            else:
                outcome = unreachable[url]  # the receiver is down: this one is not posted
            status: str = outcome.result
            error = outcome.error
            if status == "retry":
                if attempts + 1 >= rule.max_attempts:
                    status = "failed"
                    error += f"; dropped after {attempts + 1} attempts"
                else:
                    status = "pending"
            if error:
                error = f"{deliver.destination(url)}: {error}"
            book.set_status(
                con,
                ident,
                status,
                attempt=not posted,
                http_status=outcome.http_status,
                error=error,
            )
            done.append(book.delivery(con, ident))
    return done
