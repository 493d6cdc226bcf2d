"""Where a request's accounts are scored: a few in the request itself without a query, more
in one query on the scoring thread, with concurrent large requests gathered together."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from collections.abc import Sequence
from typing import Any

from icpkit.config import Settings
from icpkit.serve.batching import INLINE_ROWS, Batcher
from icpkit.serve.scorer import Account

DAY = dt.date(2026, 1, 5)


class Recording:
    """A scorer that answers each account with its name and says how it was asked."""

    def __init__(self) -> None:
        self.settings = Settings()  # serve.batch_window_ms: how long a query waits for company
        self.few: list[tuple[int, str]] = []  # (accounts, thread name)
        self.queries: list[int] = []

    def score_few(self, accounts: Sequence[Account], day: dt.date) -> list[dict[str, Any]]:
        self.few.append((len(accounts), threading.current_thread().name))
        return [{"name": a.values["name"], "day": day} for a in accounts]

    def score(self, accounts: Sequence[Account], day: dt.date) -> list[dict[str, Any]]:
        self.queries.append(len(accounts))
        return [{"name": a.values["name"], "day": day} for a in accounts]


def accounts(prefix: str, n: int) -> list[Account]:
    return [Account({"name": f"{prefix}{i}"}) for i in range(n)]


def run(scorer: Recording, *requests: list[Account]) -> tuple[list[Any], list[int]]:
    """The rows each request got, sent together, and the accounts counted per call."""
    counted: list[int] = []

    async def main() -> list[Any]:
        batcher = Batcher(lambda: scorer, 5000, counted.append)  # type: ignore[arg-type,return-value]
        batcher.start()
        try:
            sent = asyncio.gather(*(batcher.score(r, DAY) for r in requests))
            return list(await asyncio.wait_for(sent, 30))
        finally:
            await batcher.stop()

    return asyncio.run(main()), counted


def test_a_small_request_is_scored_in_the_request_without_a_query() -> None:
    scorer = Recording()
    rows, counted = run(scorer, accounts("a", 1), accounts("b", INLINE_ROWS))
    assert scorer.queries == []
    assert [n for n, _ in scorer.few] == [1, INLINE_ROWS]
    assert {thread for _, thread in scorer.few} == {threading.main_thread().name}
    assert [r["name"] for r in rows[1]] == [f"b{i}" for i in range(INLINE_ROWS)]
    assert counted == [1, INLINE_ROWS]


def test_large_requests_sent_together_are_scored_in_one_query_each_getting_its_rows() -> None:
    scorer = Recording()
    big = INLINE_ROWS + 1
    rows, counted = run(scorer, accounts("a", big), accounts("b", big), accounts("c", 2))
    assert scorer.few == [(2, threading.main_thread().name)]
    assert scorer.queries == [2 * big]
    assert counted == [2, 2 * big]
    assert [r["name"] for r in rows[0]] == [f"a{i}" for i in range(big)]
    assert [r["name"] for r in rows[1]] == [f"b{i}" for i in range(big)]
    assert [r["name"] for r in rows[2]] == ["c0", "c1"]
