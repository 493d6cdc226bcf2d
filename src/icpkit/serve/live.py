"""What the server serves, kept current: the scorer of the ICP in force and the tokens.

A new ICP version (``icp derive``, ``icp calibrate``, a new file in ``.icp/versions``, an edited
``icp.yaml``, a named ICP derived or changed in it) or new data in the store is noticed by
the files' modification times, checked every ``serve.reload_ms``; the new scorer is
compiled and warmed in a thread of its own, off the request path, then swapped in between
two batches, so no request waits or fails. A change that does not load (an ``icp.yaml``
saved half-edited) leaves the running version in place and is retried at the next change.
Tokens are checked against the file's modification time on every request, so a revoked
token is refused at once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from icpkit.config import Settings
from icpkit.icp.model import ICP
from icpkit.icp.named import scored_icps
from icpkit.serve.scorer import Scorer
from icpkit.serve.tokens import TokenRecord, TokenStore, check_token

log = logging.getLogger("icpkit.serve")

Stamp = tuple[tuple[int, int] | None, ...]


@dataclass(frozen=True)
class Source:
    """Where the server reads what it serves (picklable, for worker processes): the
    workspace folder, a loader of the ICP in force and the settings, a lister of the saved
    versions, the files whose change means a reload, and the store."""

    root: Path
    load: Callable[[], tuple[ICP, Settings]]
    versions: Callable[[], list[dict[str, Any]]]
    watched: tuple[Path, ...]
    store: Path


def _stamp(paths: Sequence[Path]) -> Stamp:
    out: list[tuple[int, int] | None] = []
    for path in paths:
        try:
            st = path.stat()
        except OSError:
            out.append(None)
        else:
            out.append((st.st_mtime_ns, st.st_size))
    return tuple(out)


class Live:
    """The scorer in force and the tokens, reloaded when their files change."""

    def __init__(self, source: Source, on_reload: Callable[[str], None]) -> None:
        self.source = source
        self.on_reload = on_reload
        self.stamp = _stamp(source.watched)
        self.scorer = self.build(wait=30.0)
        self.tokens = TokenStore(source.root)
        self._token_stamp: tuple[int, int] | None = None
        self._records: list[TokenRecord] = []
        self._verified: dict[str, TokenRecord] = {}
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="icp-reload")
        self._last_error = ""

    @property
    def settings(self) -> Settings:
        """The settings the scorer in force was built with."""
        return self.scorer.settings

    def build(self, wait: float = 0.5) -> Scorer:
        """A scorer of the ICP in force now (with the named ICPs derived beside it),
        compiled and warmed for today."""
        icp, settings = self.source.load()
        named = scored_icps(settings)
        scorer = Scorer(icp, settings, self.source.store, wait=wait, named=named)
        try:
            scorer.warm(dt.date.today())
        except BaseException:
            scorer.close()
            raise
        return scorer

    def records(self) -> list[TokenRecord]:
        """The token records as the file holds them now (read again when it changed)."""
        stamp = self.tokens.stamp()
        if stamp != self._token_stamp:
            self._records = self.tokens.records()
            self._verified = {}
            self._token_stamp = stamp
        return self._records

    def check(self, token: str) -> TokenRecord | None:
        """The active record of ``token``, or None. A token checked once is remembered
        until the tokens file changes (a revocation forgets every one)."""
        records = self.records()
        found = self._verified.get(token)
        if found is None:
            found = check_token(records, token)
            if found is not None and len(self._verified) < 10_000:
                self._verified[token] = found
        return found

    async def watch(self, swap: Callable[[Scorer, Scorer], None]) -> None:
        """Every ``serve.reload_ms``: rebuild the scorer when a watched file changed, and
        hand the old and new ones to ``swap``."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.settings.serve.reload_ms / 1000)
            stamp = _stamp(self.source.watched)
            if stamp == self.stamp:
                continue
            try:
                new = await loop.run_in_executor(self._pool, self.build)
            except Exception as exc:
                message = f"{type(exc).__name__}: {exc}"
                if message != self._last_error:
                    log.warning(
                        "kept ICP version %s: the change did not load: %s",
                        self.scorer.version,
                        message,
                    )
                    self._last_error = message
                self.on_reload("failed")
                continue
            self._last_error = ""
            old, self.scorer, self.stamp = self.scorer, new, stamp
            swap(old, new)
            self.on_reload("ok")
            if new.version != old.version:
                log.info("now scoring with ICP version %s (was %s)", new.version, old.version)

    def close(self) -> None:
        """Release the reload thread and the scorer."""
        self._pool.shutdown(wait=False)
        self.scorer.close()
