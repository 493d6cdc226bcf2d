"""Shadow scoring over the API (``POST /v1/score?shadow=VERSION``): the accounts scored by the
ICP in force as usual, and by a saved candidate version beside it, both recorded.

The candidate's scorer is built once per version and per scorer in force (a reload builds it
again, with the new snapshot), off the event loop; it scores through the scorecard compiled
into Python (tens of microseconds an account), in a thread of its own, so the request path
without ``shadow`` is untouched. Recording appends to ``.icp/shadow.sqlite`` in that thread.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from icpkit.errors import IcpkitError
from icpkit.icp.versions import VersionStore
from icpkit.operate.shadow import (
    PREFIX,
    SHADOW_COLUMNS,
    Recorded,
    ShadowBook,
    ShadowError,
    challenger_of,
)
from icpkit.serve.scorer import Account, Scorer

SOURCE = "api"
"""The source the record names for accounts scored over the API."""


class Shadows:
    """The candidate versions' scorers of one server, and the record they write."""

    def __init__(self, root: Path, store: Path) -> None:
        self.root = Path(root)
        self.store = store
        self.book = ShadowBook(self.root)
        self._scorers: dict[int, tuple[Scorer, Scorer]] = {}  # version -> (in force, its own)
        self._lock = threading.Lock()
        self._con: sqlite3.Connection | None = None  # the record, kept open by the thread
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="icp-shadow")

    def _scorer(self, version: int, champion: Scorer) -> Scorer:
        """The scorer of saved ``version`` beside ``champion`` (built once per pair)."""
        with self._lock:
            held = self._scorers.get(version)
            if held is not None and held[0] is champion:
                return held[1]
        versions = VersionStore(self.root)
        saved = versions.numbers()
        try:
            other = versions.load(version) if version in saved else None
        except IcpkitError as exc:
            raise ShadowError(f"ICP version {version} cannot be read: {exc}") from None
        candidate = challenger_of(champion.icp, other, version, saved)
        scorer = Scorer(candidate, champion.settings, self.store)
        with self._lock:
            old = self._scorers.get(version)
            self._scorers[version] = (champion, scorer)
        if old is not None:
            old[1].close()
        return scorer

    def _score(
        self,
        version: int,
        champion: Scorer,
        accounts: list[Account],
        rows: list[dict[str, Any]],
        day: dt.date,
    ) -> None:
        """Add the candidate's columns to ``rows`` (the champion's, in order) and record
        both scores of every keyed account."""
        scorer = self._scorer(version, champion)
        others = scorer.score_few(accounts, day)
        # The version that scored ``rows`` (a reload may have swapped the scorer since).
        in_force = int(rows[0]["icp_version"]) if rows else champion.version
        kept: list[Recorded] = []
        for row, other in zip(rows, others, strict=True):
            row[f"{PREFIX}version"] = version
            for column in SHADOW_COLUMNS:
                row[PREFIX + column] = other[column]
            if row.get("account_key") is not None:
                kept.append(
                    Recorded(
                        str(row["account_key"]),
                        int(row["score"]),
                        int(other["score"]),
                        str(row["tier"]),
                        str(other["tier"]),
                    )
                )
        if self._con is None:
            self._con = self.book.connect()
        self.book.record(
            kept, day=day, champion=in_force, challenger=version, source=SOURCE, con=self._con
        )

    async def score(
        self,
        version: int,
        champion: Scorer,
        accounts: list[Account],
        rows: list[dict[str, Any]],
        day: dt.date,
    ) -> str | None:
        """:meth:`_score` in the shadow thread: None when done, else why ``version`` cannot
        score in shadow (no such saved version, the version in force, no points)."""
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(
                self._pool, self._score, version, champion, accounts, rows, day
            )
        except ShadowError as exc:
            return str(exc)
        return None

    def close(self) -> None:
        """Release the thread and the candidates' scorers."""
        self._pool.shutdown(wait=True)
        if self._con is not None:
            self._con.close()
        with self._lock:
            for _, scorer in self._scorers.values():
                scorer.close()
            self._scorers.clear()
