"""The webhook queue: persistent, deduplicated by event id, leased, retried with backoff,
dead after the last try, and safe for two processes at once."""

from __future__ import annotations

import multiprocessing
import sqlite3
from pathlib import Path

import pytest

from icpkit.serve.queue import Event, Queue, backoff


class Clock:
    """A clock a test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def event(n: int, crm: str = "hubspot") -> Event:
    return Event(crm, f"e{n}", f"r{n}", "company.creation")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def queue(tmp_path: Path, clock: Clock) -> Queue:
    return Queue(tmp_path / ".icp" / "webhooks.sqlite", clock)


def test_an_event_id_delivered_twice_is_queued_once(queue: Queue) -> None:
    assert queue.put([event(1), event(2), event(1)]) == 2
    assert queue.put([event(2)]) == 0
    assert queue.counts() == {"queued": 2, "taken": 0, "done": 0, "dead": 0}


def test_the_same_event_id_from_two_crms_is_two_events(queue: Queue) -> None:
    assert queue.put([event(1, "hubspot"), event(1, "salesforce")]) == 2


def test_events_are_kept_in_a_wal_mode_sqlite_file_of_the_workspace(
    tmp_path: Path, clock: Clock
) -> None:
    Queue.of(tmp_path).put([event(1)])
    path = tmp_path / ".icp" / "webhooks.sqlite"
    with sqlite3.connect(path) as con:
        assert con.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert Queue(path, clock).counts()["queued"] == 1  # a new process reads it


def test_a_taken_event_is_not_taken_again_while_its_lease_holds(queue: Queue, clock: Clock) -> None:
    queue.put([event(1), event(2)])
    first = queue.take(10, lease_s=60)
    assert [t.event.event_id for t in first] == ["e1", "e2"]
    assert [t.attempts for t in first] == [1, 1]
    clock.now += 59
    assert queue.take(10, lease_s=60) == []
    assert queue.counts()["taken"] == 2


def test_take_honours_its_limit_oldest_first(queue: Queue) -> None:
    queue.put([event(n) for n in range(5)])
    assert [t.event.record_id for t in queue.take(3, 60)] == ["r0", "r1", "r2"]
    assert [t.event.record_id for t in queue.take(3, 60)] == ["r3", "r4"]


def test_an_expired_lease_returns_the_event_to_another_worker(tmp_path: Path, clock: Clock) -> None:
    path = tmp_path / "q.sqlite"
    killed, restarted = Queue(path, clock), Queue(path, clock)
    killed.put([event(1)])
    assert len(killed.take(10, lease_s=30)) == 1
    clock.now += 31
    again = restarted.take(10, lease_s=30)
    assert [(t.event.event_id, t.attempts) for t in again] == [("e1", 2)]
    # the worker that lost its lease can no longer finish or fail the event
    assert killed.done([again[0].id]) == 0
    assert restarted.done([again[0].id]) == 1
    assert queue_states(restarted) == {"e1": "done"}


def test_an_event_whose_lease_ran_out_on_its_last_try_is_dead_not_taken_again(
    queue: Queue, clock: Clock
) -> None:
    queue.put([event(1)])
    for _ in range(2):
        assert len(queue.take(10, lease_s=30, max_attempts=2)) == 1
        clock.now += 31  # the server stopped while working on it
    assert queue.take(10, lease_s=30, max_attempts=2) == []
    (dead,) = queue.events("dead")
    assert dead["last_error"] == "the server stopped while working on it, 2 times"


def queue_states(queue: Queue) -> dict[str, str]:
    return {e["event_id"]: e["state"] for e in queue.events()}


def test_a_failed_try_waits_a_doubling_backoff_then_goes_dead_with_its_error(
    queue: Queue, clock: Clock
) -> None:
    queue.put([event(1)])
    for n, wait in ((1, 10), (2, 20)):
        (taken,) = queue.take(10, 60)
        assert taken.attempts == n
        queue.fail([taken.id], f"boom {n}", max_attempts=3, retry_s=10)
        assert queue.events("queued")[0]["last_error"] == f"boom {n}"
        clock.now += wait - 1
        assert queue.take(10, 60) == []  # not before its backoff
        clock.now += 1
    (taken,) = queue.take(10, 60)
    assert taken.attempts == 3
    queue.fail([taken.id], "boom 3", max_attempts=3, retry_s=10)
    (dead,) = queue.events("dead")
    assert (dead["last_error"], dead["attempts"]) == ("boom 3", 3)
    assert queue.counts() == {"queued": 0, "taken": 0, "done": 0, "dead": 1}
    clock.now += 10_000
    assert queue.take(10, 60) == []  # a dead letter waits for a person


def test_backoff_doubles_from_the_first_wait_up_to_an_hour() -> None:
    assert [backoff(n, 5.0) for n in range(1, 6)] == [5, 10, 20, 40, 80]
    assert backoff(40, 5.0) == 3600


def test_dead_letters_retried_are_queued_with_their_tries_reset(queue: Queue, clock: Clock) -> None:
    queue.put([event(1), event(2)])
    for taken in queue.take(10, 60):
        queue.fail([taken.id], "refused", max_attempts=1, retry_s=0)
    assert queue.counts()["dead"] == 2
    one = queue.events("dead")[0]["id"]
    assert queue.retry_dead([one]) == 1
    assert queue.counts() == {"queued": 1, "taken": 0, "done": 0, "dead": 1}
    assert queue.retry_dead() == 1
    assert [t.attempts for t in queue.take(10, 60)] == [1, 1]


def test_done_events_are_forgotten_after_the_time_kept_and_dead_ones_stay(
    queue: Queue, clock: Clock
) -> None:
    queue.put([event(1), event(2), event(3)])
    one, two, three = queue.take(10, 60)
    queue.done([one.id])
    clock.now += 100
    queue.done([two.id])
    queue.fail([three.id], "refused", max_attempts=1, retry_s=0)
    assert queue.prune(older_than_s=50) == 1
    assert {e["event_id"]: e["state"] for e in queue.events()} == {"e2": "done", "e3": "dead"}
    assert queue.put([event(1)]) == 1  # forgotten: no longer a duplicate
    assert queue.put([event(2)]) == 0


def test_a_long_error_is_kept_cut_to_a_thousand_characters(queue: Queue) -> None:
    queue.put([event(1)])
    (taken,) = queue.take(1, 60)
    queue.fail([taken.id], "x" * 5000, max_attempts=1, retry_s=0)
    assert len(queue.events("dead")[0]["last_error"]) == 1000


def _put_many(path: str, start: int) -> None:
    q = Queue(Path(path))
    for n in range(start, start + 200):
        q.put([event(n), event(n + 1)])  # overlapping ids across the two writers


def test_two_processes_writing_at_once_lose_and_double_nothing(tmp_path: Path) -> None:
    path = tmp_path / "q.sqlite"
    Queue(path)
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_put_many, args=(str(path), s)) for s in (0, 100)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    assert Queue(path).counts()["queued"] == 301  # e0 .. e300
