"""Where a request's accounts are scored: a few at once in the request itself, many in one
query on a scoring thread.

A request of at most ``inline_rows`` accounts (one account, a form, a CRM webhook) is
scored on the spot by the scorecard compiled into Python (icpkit.serve.scorer.Scorer.score_few,
tens of microseconds an account). A larger one joins a queue: DuckDB plans the scorecard's
SELECT on every query (about 10-15 ms whatever the number of rows, then about 0.02 ms an
account), so one task takes everything queued (after waiting ``serve.batch_window_ms`` for
company when the queue was empty), scores it as one query in a worker thread (DuckDB runs
it without holding the interpreter, so small requests are answered meanwhile), and hands
each request its rows.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from icpkit.serve.scorer import Account, Scorer

Rows = list[dict[str, Any]]
INLINE_ROWS = 64
"""Most accounts of a request scored in the request itself: 64 take about 2 ms in Python
against 11 ms for a query. Python stays cheaper up to about a thousand accounts, but it holds
the event loop while it runs, where a query runs on its own thread without the interpreter,
so a larger request goes to the query and the small requests behind it are not held up."""


@dataclass
class _Job:
    accounts: Sequence[Account]
    day: dt.date
    done: asyncio.Future[Rows]


class Batcher:
    """Scores a few accounts on the spot and the accounts of concurrent larger requests
    together, one query at a time, with the scorer ``current()`` returns when the request or
    the batch starts (a new ICP version swaps in between two, never inside one)."""

    def __init__(
        self,
        current: Callable[[], Scorer],
        max_rows: int,
        on_batch: Callable[[int], None] = lambda n: None,
        inline_rows: int = INLINE_ROWS,
    ) -> None:
        self.current = current
        self.max_rows = max_rows
        self.on_batch = on_batch
        self.inline_rows = inline_rows
        self._queue: list[_Job] = []
        self._wake = asyncio.Event()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="icp-score")
        self._task: asyncio.Task[None] | None = None
        self._last = 0  # accounts in the last batch

    def start(self) -> None:
        """Start the batching task on the running loop."""
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        """Stop taking batches; queued requests fail, the thread pool closes."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        for job in self._queue:
            if not job.done.done():
                job.done.set_exception(RuntimeError("the server is stopping"))
        self._queue.clear()
        self._pool.shutdown(wait=False)

    def retire(self, scorer: Scorer) -> None:
        """Close ``scorer`` after the batch that may still use it (same thread, in order)."""
        self._pool.submit(scorer.close)

    async def score(self, accounts: Sequence[Account], day: dt.date) -> Rows:
        """The scored rows of ``accounts`` as of ``day``, in order."""
        if len(accounts) <= self.inline_rows:
            rows = self.current().score_few(accounts, day)
            self.on_batch(len(accounts))
            return rows
        done: asyncio.Future[Rows] = asyncio.get_running_loop().create_future()
        self._queue.append(_Job(accounts, day, done))
        self._wake.set()
        return await done

    def _take(self) -> list[_Job]:
        """Queued jobs up to ``max_rows`` accounts (always at least one job)."""
        taken: list[_Job] = []
        rows = 0
        while self._queue:
            job = self._queue[0]
            if taken and rows + len(job.accounts) > self.max_rows:
                break
            taken.append(self._queue.pop(0))
            rows += len(job.accounts)
        return taken

    async def _gather(self, window: float) -> None:
        """Let the requests sent together gather: ``window`` seconds after the first one,
        and up to four windows while fewer than half as many accounts as in the last batch
        are queued (clients that send again as soon as they are answered come back
        together, a little after the answers)."""
        loop = asyncio.get_running_loop()
        limit = loop.time() + 4 * window
        await asyncio.sleep(window)
        while loop.time() < limit:
            queued = sum(len(job.accounts) for job in self._queue)
            if queued * 2 >= self._last:
                break
            await asyncio.sleep(window / 4)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if not self._queue:
                self._wake.clear()
                await self._wake.wait()
                window = self.current().settings.serve.batch_window_ms / 1000
                if window > 0:
                    await self._gather(window)
            jobs = self._take()
            self._last = sum(len(job.accounts) for job in jobs)
            self.on_batch(self._last)
            scorer = self.current()
            try:
                results = await loop.run_in_executor(self._pool, _score_jobs, scorer, jobs)
            except Exception as exc:  # handed to each request, which answers 500
                for job in jobs:
                    if not job.done.done():
                        job.done.set_exception(exc)
                continue
            for job, rows in zip(jobs, results, strict=True):
                if not job.done.done():
                    job.done.set_result(rows)


def _score_jobs(scorer: Scorer, jobs: list[_Job]) -> list[Rows]:
    """Score the jobs' accounts, one query per scoring day, and split the rows back."""
    by_day: dict[dt.date, list[int]] = {}
    for i, job in enumerate(jobs):
        by_day.setdefault(job.day, []).append(i)
    results: list[Rows] = [[] for _ in jobs]
    for day, members in by_day.items():
        accounts = [a for i in members for a in jobs[i].accounts]
        rows = scorer.score(accounts, day)
        start = 0
        for i in members:
            n = len(jobs[i].accounts)
            results[i] = rows[start : start + n]
            start += n
    return results
