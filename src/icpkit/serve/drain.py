"""The worker that drains the webhook queue: read the records the events name from their
CRM, score them with the server's scorecard, write the scores back, mark the events done.

It runs in the server's lifespan, beside the request path: the CRM calls (blocking HTTP)
run in a thread, the scoring goes through the server's batcher (the same compiled SELECT
as ``POST /v1/score``). A batch's events are grouped by CRM and record, so an account named
by several events is read, scored and written once; the values written are those of ``icp
push`` (icpkit.crm.fields), noted in its sync state as a push notes its own. A failed read
or write sends the batch's events back to the queue with the error (retried after a
backoff, dead after ``serve.webhooks.max_attempts`` tries); a record the CRM refuses fails
alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from icpkit.config import WebhookSettings
from icpkit.crm import fields
from icpkit.crm.base import Connector, Record, Update, WriteResult
from icpkit.crm.fields import FIELD_NAMES, same
from icpkit.crm.fields import FIELDS as SCORE_FIELDS
from icpkit.crm.state import SyncState, fingerprint
from icpkit.engines.sql import SEPARATOR
from icpkit.ingest.fields import FIELDS, header_key
from icpkit.serve.queue import Queue, Taken
from icpkit.serve.scorer import Account

log = logging.getLogger("icpkit.serve")

PRUNE_EVERY_S = 3600.0  # done events older than serve.webhooks.keep_done_days forgotten
Score = Callable[[Sequence[Account], dt.date], Awaitable[list[dict[str, Any]]]]
Connectors = Callable[[str], Connector]

_LAYOUT = {
    "employees": "employees",
    "revenue": "revenue",
    "industry": "industry",
    "country": "country",
    "technologies": "technologies",
    "founded_year": "founded_year",
    "funding_stage": "funding_stage",
    "total_funding": "total_funding",
    "company_domain": "domain",
    "company_name": "name",
}
"""Canonical company fields (icpkit.ingest.fields) -> the scorer's account fields."""


def written_fields() -> frozenset[str]:
    """The CRM field names the write-back and ``icp push`` set (their change events are not
    work): the main ICP's, and the best-fitting named ICP a push writes."""
    return frozenset((*FIELD_NAMES, fields.BEST_FIELD.name))


def values_of(row: Mapping[str, Any]) -> dict[str, Any]:
    """The fields ``icp push`` writes, from a row the server scored."""
    return fields.values_of(row, SEPARATOR)


def _names() -> dict[str, tuple[int, str]]:
    """Each company column name a CRM uses (by :func:`header_key`) -> (rank, account field)."""
    found: dict[str, tuple[int, str]] = {}
    for spec in FIELDS["companies"]:
        target = _LAYOUT.get(spec.name)
        if target is None:
            continue
        for rank, names in enumerate(spec.synonyms):
            for name in names:
                found.setdefault(header_key(name), (rank, target))
    return found


_NAMES = _names()


def account_of(record: Record) -> Account:
    """A CRM company record as the scorer's account: its properties read by the column
    names exports use (``numberofemployees``, ``NumberOfEmployees``, ``Annual Revenue``),
    the best-ranked name winning; every other property passes as an extra column (those the
    ICP reads count, as in a scored file)."""
    values: dict[str, Any] = {}
    ranks: dict[str, int] = {}
    extras: dict[str, Any] = {}
    for name, value in record.properties.items():
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        hit = _NAMES.get(header_key(name))
        if hit is None:
            extras[name] = value
            continue
        rank, target = hit
        if target not in ranks or rank < ranks[target]:
            values[target], ranks[target] = value, rank
    return Account(values, extras)


def update_of(record: Record, row: Mapping[str, Any]) -> Update | None:
    """The write-back of a scored row, or None when the record already holds those values
    (which also ends the loop of a CRM announcing the change we wrote)."""
    values = values_of(row)
    held = record.properties
    if all(name in held and same(held[name], value) for name, value in values.items()):
        return None
    return Update(record.id, values)


def _error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


class Drain:
    """Takes events from ``queue`` in batches and writes their scores back, until stopped."""

    def __init__(
        self,
        queue: Queue,
        score: Score,
        connectors: Connectors,
        settings: Callable[[], WebhookSettings],
        sync_root: Path | None = None,
    ) -> None:
        self.queue = queue
        self.score = score
        self.connectors = connectors
        self.settings = settings
        self.sync_root = sync_root
        self._made: dict[str, Connector] = {}
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    def start(self) -> None:
        """Run in the background of the running event loop."""
        self._task = asyncio.get_running_loop().create_task(self._run())

    def wake(self) -> None:
        """New events came: look now rather than at the next poll."""
        self._wake.set()

    async def stop(self) -> None:
        """Stop; events taken and not finished return to the queue when their lease ends."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def connector(self, crm: str) -> Connector:
        """The connector of ``crm``, made at first use (its score fields checked and created
        when missing, as ``icp push`` does) and kept."""
        made = self._made.get(crm)
        if made is None:
            made = self.connectors(crm)
            made.ensure_fields(SCORE_FIELDS)
            self._made[crm] = made
        return made

    def _write(self, connector: Connector, crm: str, updates: Sequence[Update]) -> WriteResult:
        """Write ``updates``, noted in the push's sync state (``sync_root``) as ``icp push``
        notes its own: pending before, confirmed after, so a later push knows what the CRM
        holds and does not send the same values again."""
        if self.sync_root is None:
            return connector.write(updates)
        with SyncState(self.sync_root) as state:
            state.sending(crm, [(u.record_id, fingerprint(u.values), u.values) for u in updates])
        result = connector.write(updates)
        with SyncState(self.sync_root) as state:
            state.confirmed(crm, result.written, dropped=result.refused)
        return result

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        pruned = 0.0
        while True:
            settings = self.settings()
            try:
                if loop.time() - pruned > PRUNE_EVERY_S:
                    keep = settings.keep_done_days * 86400
                    await loop.run_in_executor(None, self.queue.prune, keep)
                    pruned = loop.time()
                worked = await self.once(settings)
            except Exception as exc:  # the queue file itself failed: say so, try again later
                log.error("webhook queue: %s", _error(exc))
                worked = 0
            if worked:
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), settings.poll_ms / 1000)

    async def once(self, settings: WebhookSettings) -> int:
        """Take one batch and work it; returns how many events it took."""
        loop = asyncio.get_running_loop()
        taken = await loop.run_in_executor(
            None, self.queue.take, settings.batch, settings.lease_s, settings.max_attempts
        )
        by_crm: dict[str, list[Taken]] = {}
        for t in taken:
            by_crm.setdefault(t.event.crm, []).append(t)
        for crm, events in by_crm.items():
            try:
                await self._work(crm, events, settings)
            except Exception as exc:
                error = _error(exc)
                log.warning("webhook events of %s failed (will retry): %s", crm, error)
                await loop.run_in_executor(
                    None,
                    self.queue.fail,
                    [t.id for t in events],
                    error,
                    settings.max_attempts,
                    settings.retry_s,
                )
        return len(taken)

    async def _work(self, crm: str, events: list[Taken], settings: WebhookSettings) -> None:
        """Read, score and write back the records of one CRM's events."""
        loop = asyncio.get_running_loop()
        connector = await loop.run_in_executor(None, self.connector, crm)
        by_record: dict[str, list[int]] = {}
        for t in events:
            by_record.setdefault(t.event.record_id, []).append(t.id)
        records = await loop.run_in_executor(None, connector.read_ids, "companies", list(by_record))
        found = {r.id: r for r in records if r.id in by_record}
        gone = [i for rid, ids in by_record.items() if rid not in found for i in ids]
        if gone:
            note = f"the {crm} company is gone (deleted or merged); nothing written"
            await loop.run_in_executor(None, self.queue.done, gone, note)
        if not found:
            return
        ordered = list(found.values())
        rows = await self.score([account_of(r) for r in ordered], dt.date.today())
        updates = [u for r, row in zip(ordered, rows, strict=True) if (u := update_of(r, row))]
        unchanged = [
            i
            for r in ordered
            if r.id not in {u.record_id for u in updates}
            for i in by_record[r.id]
        ]
        if unchanged:
            await loop.run_in_executor(None, self.queue.done, unchanged, "scores unchanged")
        if not updates:
            return
        result = await loop.run_in_executor(None, self._write, connector, crm, updates)
        written = [i for rid in result.written for i in by_record.get(rid, ())]
        await loop.run_in_executor(None, self.queue.done, written, None)
        for rid, reason in result.refused.items():
            await loop.run_in_executor(
                None,
                self.queue.fail,
                by_record.get(rid, []),
                f"{crm} refused the write: {reason}",
                settings.max_attempts,
                settings.retry_s,
            )
        left = {u.record_id for u in updates} - set(result.written) - set(result.refused)
        if left:
            await loop.run_in_executor(
                None,
                self.queue.fail,
                [i for rid in left for i in by_record[rid]],
                f"{crm} did not say it wrote these records",
                settings.max_attempts,
                settings.retry_s,
            )
