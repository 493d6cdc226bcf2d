"""Named ICPs over the API: the scorers of ``POST /v1/score?icp=NAME``, which score with
one named ICP alone (the best fit and the per-ICP block of every answer are the main
scorer's, icpkit.serve.scorer).

A named ICP's own scorer is built on the first request that names it (and again after a
reload), off the event loop, with its own snapshot of the workspace, so the request path
without ``icp`` pays nothing. A few accounts are scored in the request by its scorecard
compiled into Python, more by its SELECT in a thread of its own.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from icpkit.errors import IcpkitError
from icpkit.serve.scorer import Account, Scorer

INLINE_ROWS = 64
"""Most accounts of a request a named ICP scores in the request itself (as the batcher)."""


class UnknownIcp(IcpkitError, LookupError):
    """``?icp=NAME`` names no named ICP with fitted points (the message says which exist)."""


def unknown_reason(name: str, scorer: Scorer) -> str | None:
    """Why ``name`` cannot score beside ``scorer`` (not declared, or not derived yet), or
    None when it can."""
    if any(n == name for n, _ in scorer.named):
        return None
    declared = [n.name for n in scorer.settings.icps]
    if name in declared:
        return f"the ICP {name!r} is declared but not derived yet: run `icp derive --icp {name}`"
    have = ", ".join(n for n, _ in scorer.named) or "none derived"
    return f"no named ICP {name!r} (named ICPs: {have})"


class NamedScorers:
    """The scorers of named ICPs alone, one per name and per scorer in force."""

    def __init__(self, store: Path | None) -> None:
        self.store = store
        self._scorers: dict[str, tuple[Scorer, Scorer]] = {}  # name -> (in force, its own)
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="icp-named")

    def _scorer(self, name: str, main: Scorer) -> Scorer:
        """The scorer of named ICP ``name`` as ``main`` holds it (built once per pair)."""
        with self._lock:
            held = self._scorers.get(name)
            if held is not None and held[0] is main:
                return held[1]
        icp = dict(main.named)[name]
        scorer = Scorer(icp, main.settings, self.store)
        scorer.warm(dt.date.today())
        with self._lock:
            old = self._scorers.get(name)
            self._scorers[name] = (main, scorer)
        if old is not None:
            old[1].close()  # this thread is the only one that scores with it
        return scorer

    def _score_all(
        self, name: str, main: Scorer, accounts: Sequence[Account], day: dt.date
    ) -> list[dict[str, Any]]:
        scorer = self._scorer(name, main)
        if len(accounts) <= INLINE_ROWS:
            return scorer.score_few(accounts, day)
        return scorer.score(accounts, day)

    async def score(
        self, name: str, main: Scorer, accounts: Sequence[Account], day: dt.date
    ) -> list[dict[str, Any]]:
        """``accounts`` scored as of ``day`` by the named ICP ``name`` of ``main`` alone:
        every field of a main ICP's answer, its ``icp_version`` the named ICP's version,
        and ``icp`` its name."""
        reason = unknown_reason(name, main)
        if reason is not None:
            raise UnknownIcp(reason)
        loop = asyncio.get_running_loop()
        rows = await loop.run_in_executor(self._pool, self._score_all, name, main, accounts, day)
        for row in rows:
            row["icp"] = name
        return rows

    def close(self) -> None:
        """Release the thread and the scorers."""
        self._pool.shutdown(wait=True)
        with self._lock:
            for _, scorer in self._scorers.values():
                scorer.close()
            self._scorers.clear()
