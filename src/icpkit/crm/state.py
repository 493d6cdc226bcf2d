"""The sync state of a workspace, in ``.icp/crm/sync.sqlite`` (SQLite: each step commits on
its own, so a sync killed midway leaves a state it resumes from).

Per CRM it keeps: the newest change time read per object (the next pull asks only for later
changes), the CRM record id of each account (push writes to it), and per record the values
the CRM last confirmed and their fingerprint (push sends only what changed); records sent but
not yet confirmed are ``pending`` until a later run looks at what the CRM holds.
No credential is ever stored here."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

STATE_DIR = Path(".icp") / "crm"
STATE_FILE = "sync.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS cursors (
    crm TEXT NOT NULL, object TEXT NOT NULL, modified_at TEXT NOT NULL,
    PRIMARY KEY (crm, object));
CREATE TABLE IF NOT EXISTS record_ids (
    crm TEXT NOT NULL, record_id TEXT NOT NULL, account_key TEXT NOT NULL,
    PRIMARY KEY (crm, record_id));
CREATE INDEX IF NOT EXISTS record_ids_account ON record_ids (crm, account_key);
CREATE TABLE IF NOT EXISTS pushed (
    crm TEXT NOT NULL, record_id TEXT NOT NULL, fingerprint TEXT NOT NULL,
    vals TEXT NOT NULL, pushed_at TEXT NOT NULL, PRIMARY KEY (crm, record_id));
CREATE TABLE IF NOT EXISTS pending (
    crm TEXT NOT NULL, record_id TEXT NOT NULL, fingerprint TEXT NOT NULL,
    vals TEXT NOT NULL, PRIMARY KEY (crm, record_id));
CREATE TABLE IF NOT EXISTS staged (
    crm TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (crm));
"""


def fingerprint(values: Mapping[str, Any]) -> str:
    """A short hash of a record's values, the same for the same values in any order.

    >>> fingerprint({"a": 1, "b": "x"}) == fingerprint({"b": "x", "a": 1})
    True
    """
    text = json.dumps(values, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


class SyncState:
    """The sync state of the workspace at ``root``."""

    def __init__(self, root: Path) -> None:
        self.path = root / STATE_DIR / STATE_FILE
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._con = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        self._con.execute("PRAGMA journal_mode=WAL")
        # A commit survives the process being killed; only a power cut may lose the last
        # ones, which the next push then sends again (the CRM holds the same values).
        self._con.execute("PRAGMA synchronous=NORMAL")
        self._con.executescript(_SCHEMA)

    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> SyncState:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        self._con.execute("BEGIN IMMEDIATE")
        try:
            yield self._con
        except BaseException:
            self._con.execute("ROLLBACK")
            raise
        self._con.execute("COMMIT")

    # -- pull ------------------------------------------------------------------------------

    def cursor(self, crm: str, obj: str) -> dt.datetime | None:
        """The newest change time read of ``obj`` (None: never pulled)."""
        row = self._con.execute(
            "SELECT modified_at FROM cursors WHERE crm = ? AND object = ?", [crm, obj]
        ).fetchone()
        return dt.datetime.fromisoformat(row[0]) if row else None

    def advance(
        self,
        crm: str,
        obj: str,
        modified_at: dt.datetime,
        ids: Mapping[str, str] | None = None,
    ) -> None:
        """Move the cursor of ``obj`` to ``modified_at`` and keep the account key of each
        record id in ``ids``, in one commit."""
        with self._tx() as con:
            con.execute(
                "INSERT OR REPLACE INTO cursors VALUES (?, ?, ?)",
                [crm, obj, modified_at.isoformat()],
            )
            if ids:
                con.executemany(
                    "INSERT OR REPLACE INTO record_ids VALUES (?, ?, ?)",
                    [(crm, rid, key) for rid, key in ids.items()],
                )

    def forget_cursors(self, crm: str) -> None:
        """A full pull reads everything again."""
        with self._tx() as con:
            con.execute("DELETE FROM cursors WHERE crm = ?", [crm])

    def next_batch(self, crm: str) -> int:
        """A new number for a staged file of ``crm`` (never reused)."""
        with self._tx() as con:
            row = con.execute("SELECT seq FROM staged WHERE crm = ?", [crm]).fetchone()
            seq = (row[0] if row else 0) + 1
            con.execute("INSERT OR REPLACE INTO staged VALUES (?, ?)", [crm, seq])
        return int(seq)

    def record_ids(self, crm: str) -> dict[str, list[str]]:
        """Account key -> its CRM record ids (several when the CRM holds duplicates of one
        company, which ingestion merged into one account)."""
        rows = self._con.execute(
            "SELECT account_key, record_id FROM record_ids WHERE crm = ? ORDER BY rowid", [crm]
        ).fetchall()
        out: dict[str, list[str]] = {}
        for key, rid in rows:
            out.setdefault(str(key), []).append(str(rid))
        return out

    # -- push ------------------------------------------------------------------------------

    def pushed(self, crm: str) -> dict[str, tuple[str, dict[str, Any]]]:
        """Record id -> (fingerprint, values) the CRM last confirmed."""
        rows = self._con.execute(
            "SELECT record_id, fingerprint, vals FROM pushed WHERE crm = ?", [crm]
        ).fetchall()
        return {str(r): (str(f), json.loads(v)) for r, f, v in rows}

    def pending(self, crm: str) -> dict[str, tuple[str, dict[str, Any]]]:
        """Record id -> (fingerprint, values) sent but not confirmed (a run was stopped)."""
        rows = self._con.execute(
            "SELECT record_id, fingerprint, vals FROM pending WHERE crm = ?", [crm]
        ).fetchall()
        return {str(r): (str(f), json.loads(v)) for r, f, v in rows}

    def sending(self, crm: str, items: Iterable[tuple[str, str, Mapping[str, Any]]]) -> None:
        """Note (record id, fingerprint, values) as about to be sent."""
        with self._tx() as con:
            con.executemany(
                "INSERT OR REPLACE INTO pending VALUES (?, ?, ?, ?)",
                [(crm, rid, fp, json.dumps(vals, default=str)) for rid, fp, vals in items],
            )

    def confirmed(self, crm: str, ids: Iterable[str], *, dropped: Iterable[str] = ()) -> None:
        """The CRM holds the pending values of ``ids``: they become the pushed ones. The
        pending values of ``dropped`` (refused) are forgotten."""
        now = dt.datetime.now(dt.UTC).isoformat()
        with self._tx() as con:
            for rid in ids:
                con.execute(
                    "INSERT OR REPLACE INTO pushed SELECT crm, record_id, fingerprint, vals, ? "
                    "FROM pending WHERE crm = ? AND record_id = ?",
                    [now, crm, rid],
                )
                con.execute("DELETE FROM pending WHERE crm = ? AND record_id = ?", [crm, rid])
            con.executemany(
                "DELETE FROM pending WHERE crm = ? AND record_id = ?", [(crm, r) for r in dropped]
            )
