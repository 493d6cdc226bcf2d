"""The queue of CRM webhook events: persistent in the workspace, deduplicated, retried, with
a dead-letter list.

The queue is a SQLite file in WAL mode (``.icp/webhooks.sqlite``), not a table of the DuckDB
store: the CLI may write the store (an ingest, a derive) while the server runs, and DuckDB
lets one process write at a time, whereas SQLite in WAL mode lets the server's workers and
the CLI each take a short write transaction while the others keep reading. SQLite is in the
standard library. Each insert is committed (``synchronous=FULL``: on disk, not only in the
page cache) before a webhook is answered, so an event acknowledged to the CRM survives a
crash of the server or of the machine. One connection per queue is kept open (a lock lets
the server's threads share it): closing the last connection of a WAL file checkpoints it,
which would cost every webhook a second write.

An event moves ``queued`` -> ``taken`` (by one worker, under a lease) -> ``done``; a failed
try puts it back in ``queued`` after a backoff (``retry_s``, doubled each time, at most an
hour) until ``max_attempts`` tries have failed, when it becomes ``dead`` with the last error
kept. A lease that runs out (the server was killed mid-drain) makes the event takeable
again, so nothing is lost. Events are unique by (CRM, the CRM's event id): a webhook
delivered twice is queued once, for as long as the done event is kept
(``serve.webhooks.keep_done_days``).
"""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

State = Literal["queued", "taken", "done", "dead"]
STATES: tuple[State, ...] = ("queued", "taken", "done", "dead")
QUEUE_FILE = "webhooks.sqlite"
MAX_BACKOFF_S = 3600.0
MAX_ERROR_CHARS = 1000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    crm TEXT NOT NULL,
    event_id TEXT NOT NULL,
    object TEXT NOT NULL,
    record_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    occurred_at TEXT,
    received_at REAL NOT NULL,
    state TEXT NOT NULL DEFAULT 'queued',
    attempts INTEGER NOT NULL DEFAULT 0,
    not_before REAL NOT NULL DEFAULT 0,
    lease_until REAL,
    owner TEXT,
    last_error TEXT,
    finished_at REAL,
    UNIQUE (crm, event_id)
);
CREATE INDEX IF NOT EXISTS events_ready ON events (state, not_before);
"""


@dataclass(frozen=True)
class Event:
    """One CRM event as received: which CRM, its own event id, the record it names and what
    happened to it (``company.creation``, ``company.propertyChange``, ``updated``...)."""

    crm: str
    event_id: str
    record_id: str
    kind: str
    object: str = "companies"
    occurred_at: str | None = None


@dataclass(frozen=True)
class Taken:
    """An event taken to be worked on: its row id, the event, and the tries so far (this
    one included)."""

    id: int
    event: Event
    attempts: int


def backoff(attempts: int, first: float) -> float:
    """Seconds to wait after the ``attempts``-th failed try: ``first``, doubled each time,
    at most an hour.

    >>> [backoff(n, 10.0) for n in (1, 2, 3)]
    [10.0, 20.0, 40.0]
    >>> backoff(30, 10.0)
    3600.0
    """
    return float(min(first * 2.0 ** min(attempts - 1, 30), MAX_BACKOFF_S))


class Queue:
    """The webhook queue of one workspace (safe to use from several processes at once)."""

    def __init__(self, path: Path, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self.clock = clock
        self.owner = uuid.uuid4().hex  # this process's leases
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._con = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        try:
            self._con.execute("PRAGMA journal_mode=WAL")
            self._con.execute("PRAGMA synchronous=FULL")
            self._con.executescript(_SCHEMA)
        except BaseException:
            self._con.close()
            raise

    @classmethod
    def of(cls, root: Path) -> Queue:
        """The queue of the workspace at ``root`` (``.icp/webhooks.sqlite``)."""
        return cls(root / ".icp" / QUEUE_FILE)

    def close(self) -> None:
        """Close the queue's connection."""
        with self._lock:
            self._con.close()

    def __enter__(self) -> Queue:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """The connection, for this thread alone while it is held."""
        with self._lock:
            yield self._con

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction taken at once (other writers wait, readers do not)."""
        with self._connect() as con:
            con.execute("BEGIN IMMEDIATE")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")

    def put(self, events: Sequence[Event]) -> int:
        """Store ``events`` (committed when this returns); an event id already stored is
        not stored again. Returns how many were new."""
        now = self.clock()
        with self._write() as con:
            before = con.total_changes
            con.executemany(
                "INSERT OR IGNORE INTO events "
                "(crm, event_id, object, record_id, kind, occurred_at, received_at, not_before) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (e.crm, e.event_id, e.object, e.record_id, e.kind, e.occurred_at, now, now)
                    for e in events
                ],
            )
            return con.total_changes - before

    def take(self, limit: int, lease_s: float, max_attempts: int | None = None) -> list[Taken]:
        """Up to ``limit`` events due now, oldest first, leased to this process for
        ``lease_s`` seconds: queued ones past their backoff, and taken ones whose lease ran
        out (their worker stopped). Each take counts as a try; an event whose lease ran out
        on its ``max_attempts``-th try is dead (it may be what stops the server)."""
        now = self.clock()
        with self._write() as con:
            if max_attempts is not None:
                con.execute(
                    "UPDATE events SET state = 'dead', finished_at = ?, lease_until = NULL, "
                    "last_error = 'the server stopped while working on it, ' || attempts || "
                    "' times' WHERE state = 'taken' AND lease_until < ? AND attempts >= ?",
                    (now, now, max_attempts),
                )
            rows = con.execute(
                "SELECT id, crm, event_id, object, record_id, kind, occurred_at, attempts "
                "FROM events WHERE (state = 'queued' AND not_before <= ?) "
                "OR (state = 'taken' AND lease_until < ?) ORDER BY id LIMIT ?",
                (now, now, limit),
            ).fetchall()
            con.executemany(
                "UPDATE events SET state = 'taken', attempts = attempts + 1, "
                "lease_until = ?, owner = ? WHERE id = ?",
                [(now + lease_s, self.owner, row[0]) for row in rows],
            )
        return [
            Taken(i, Event(crm, eid, rid, kind, obj, occurred), attempts + 1)
            for i, crm, eid, obj, rid, kind, occurred, attempts in rows
        ]

    def done(self, ids: Sequence[int], note: str | None = None) -> int:
        """Mark events this process holds as done (with ``note``, e.g. why nothing was
        written); returns how many. An event whose lease ran out and was taken by another
        worker is left to it."""
        now = self.clock()
        with self._write() as con:
            before = con.total_changes
            con.executemany(
                "UPDATE events SET state = 'done', finished_at = ?, lease_until = NULL, "
                "last_error = ? WHERE id = ? AND state = 'taken' AND owner = ?",
                [(now, note, i, self.owner) for i in ids],
            )
            return con.total_changes - before

    def fail(self, ids: Sequence[int], error: str, max_attempts: int, retry_s: float) -> None:
        """A try of these events failed with ``error``: back to the queue after a backoff,
        or dead once ``max_attempts`` tries have failed (the error is kept either way)."""
        now = self.clock()
        error = error[:MAX_ERROR_CHARS]
        with self._write() as con:
            for i in ids:
                row = con.execute(
                    "SELECT attempts FROM events WHERE id = ? AND state = 'taken' AND owner = ?",
                    (i, self.owner),
                ).fetchone()
                if row is None:
                    continue
                (attempts,) = row
                if attempts >= max_attempts:
                    con.execute(
                        "UPDATE events SET state = 'dead', last_error = ?, finished_at = ?, "
                        "lease_until = NULL WHERE id = ?",
                        (error, now, i),
                    )
                else:
                    con.execute(
                        "UPDATE events SET state = 'queued', last_error = ?, not_before = ?, "
                        "lease_until = NULL WHERE id = ?",
                        (error, now + backoff(attempts, retry_s), i),
                    )

    def prune(self, older_than_s: float) -> int:
        """Forget done events finished more than ``older_than_s`` seconds ago (their ids no
        longer guard against a late duplicate); dead letters stay until retried. Returns
        how many."""
        with self._write() as con:
            before = con.total_changes
            con.execute(
                "DELETE FROM events WHERE state = 'done' AND finished_at < ?",
                (self.clock() - older_than_s,),
            )
            return con.total_changes - before

    def counts(self) -> dict[str, int]:
        """Events per state (every state named, zero included)."""
        with self._connect() as con:
            found = dict(con.execute("SELECT state, count(*) FROM events GROUP BY state"))
        return {s: int(found.get(s, 0)) for s in STATES}

    def events(self, state: State | None = None, limit: int = 1000) -> list[dict[str, Any]]:
        """The events in ``state`` (all when None), oldest first: what a person reads of
        them, the last error included."""
        sql = (
            "SELECT id, crm, event_id, object, record_id, kind, occurred_at, received_at, "
            "state, attempts, last_error, finished_at FROM events"
        )
        args: tuple[Any, ...] = ()
        if state is not None:
            sql += " WHERE state = ?"
            args = (state,)
        with self._connect() as con:
            cur = con.execute(sql + " ORDER BY id LIMIT ?", (*args, limit))
            names = [d[0] for d in cur.description]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def retry_dead(self, ids: Sequence[int] | None = None) -> int:
        """Put dead letters (``ids``, or all) back in the queue with their tries reset; the
        last error stays until the next try. Returns how many."""
        now = self.clock()
        with self._write() as con:
            before = con.total_changes
            if ids is None:
                con.execute(
                    "UPDATE events SET state = 'queued', attempts = 0, not_before = ?, "
                    "finished_at = NULL WHERE state = 'dead'",
                    (now,),
                )
            else:
                con.executemany(
                    "UPDATE events SET state = 'queued', attempts = 0, not_before = ?, "
                    "finished_at = NULL WHERE state = 'dead' AND id = ?",
                    [(now, i) for i in ids],
                )
            return con.total_changes - before
