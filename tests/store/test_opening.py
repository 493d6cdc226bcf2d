"""Threads opening one store at once: DuckDB hands a process's later connections the database
the first one is still setting up (its Python functions not yet in place), so icpkit opens a
store file one connection at a time."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from icpkit.store import db


def test_threads_opening_the_same_store_open_it_one_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "workspace.duckdb"
    db.connect(path).close()  # created, as `icp init` leaves it
    real = duckdb.connect
    inside, most, count = 0, 0, threading.Lock()

    def slow_connect(*args: object, **kwargs: object) -> duckdb.DuckDBPyConnection:
        nonlocal inside, most
        with count:
            inside += 1
            most = max(most, inside)
        try:
            time.sleep(0.05)  # the window in which DuckDB sets the database up
            return real(*args, **kwargs)  # type: ignore[arg-type]
        finally:
            with count:
                inside -= 1

    monkeypatch.setattr(duckdb, "connect", slow_connect)
    start = threading.Barrier(4)
    errors: list[BaseException] = []

    def read() -> None:
        start.wait()
        try:
            con = db.connect(path, read_only=True)
            con.register("numbers", pa.table({"n": pa.array([1, 2, 3])}))
            assert con.execute("SELECT sum(n) FROM numbers").fetchall() == [(6,)]
            con.close()
        except BaseException as exc:  # handed to the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=read) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert most == 1
