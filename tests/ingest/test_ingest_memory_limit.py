"""The memory an ingest may hold: ``store.ingest_memory_limit`` by default, so a big file's
temporary tables spill to disk instead of filling the machine; ``store.memory_limit`` wins."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest

import icpkit.ingest.pipeline as pipeline
from icpkit.workspace import Workspace

CSV = (
    "Company name,Company Domain Name,Number of Employees\nAcme,acme.io,120\nGlobex,globex.com,45\n"
)


def _as_duckdb_reports(limit: str | None) -> str:
    """What DuckDB reports for ``limit`` on a connection of its own (None: its default)."""
    con = duckdb.connect()
    if limit is not None:
        con.execute("SET memory_limit = ?", [limit])
    row = con.execute("SELECT current_setting('memory_limit')").fetchone()
    con.close()
    assert row is not None
    return str(row[0])


def _limit_seen_by_ingest(ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The memory limit of the connection a file is loaded through."""
    seen: list[str] = []
    load = pipeline.ingest_file

    def spy(con: duckdb.DuckDBPyConnection, *args: Any, **kwargs: Any) -> Any:
        row = con.execute("SELECT current_setting('memory_limit')").fetchone()
        seen.append(str(row[0]) if row else "")
        return load(con, *args, **kwargs)

    monkeypatch.setattr(pipeline, "ingest_file", spy)
    path = tmp_path / "companies.csv"
    path.write_text(CSV, encoding="utf-8")
    result = ws.ingest([path])
    assert result.ok and result.files[0].rows_loaded == 2
    assert len(seen) == 1
    return seen[0]


def test_ingest_holds_one_gigabyte_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = Workspace.init(tmp_path / "ws")
    assert ws.settings.store.memory_limit is None
    seen = _limit_seen_by_ingest(ws, tmp_path, monkeypatch)
    assert seen == _as_duckdb_reports("1GB")
    assert seen != _as_duckdb_reports(None)


def test_ingest_memory_limit_is_a_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ws = Workspace.init(tmp_path / "ws")
    ws.settings.store.ingest_memory_limit = "300MB"
    assert _limit_seen_by_ingest(ws, tmp_path, monkeypatch) == _as_duckdb_reports("300MB")


def test_store_memory_limit_set_by_hand_wins_over_the_ingest_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = Workspace.init(tmp_path / "ws")
    ws.settings.store.memory_limit = "2GB"
    assert _limit_seen_by_ingest(ws, tmp_path, monkeypatch) == _as_duckdb_reports("2GB")


def test_no_ingest_memory_limit_leaves_duckdbs_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = Workspace.init(tmp_path / "ws")
    ws.settings.store.ingest_memory_limit = None
    assert _limit_seen_by_ingest(ws, tmp_path, monkeypatch) == _as_duckdb_reports(None)


def test_a_small_ingest_memory_limit_loads_the_same_rows_as_none(tmp_path: Path) -> None:
    from icpkit.demo import make_crm

    files = make_crm(2000, 3, tmp_path / "crm")
    tables: list[dict[str, list[tuple[Any, ...]]]] = []
    for name, limit in (("small", "256MB"), ("none", None)):
        ws = Workspace.init(tmp_path / name)
        ws.settings.store.ingest_memory_limit = limit
        result = ws.ingest([files.companies, files.deals, files.signals])
        assert result.ok, result.failures
        with ws.connect(read_only=True) as con:
            tables.append(
                {
                    t: con.execute(
                        f"SELECT COLUMNS(lambda c: c <> 'import_id') FROM {t} ORDER BY ALL"
                    ).fetchall()
                    for t in ("accounts", "deals", "signals", "account_ids", "quarantine")
                }
            )
    assert tables[0]["deals"] and tables[0] == tables[1]


@pytest.mark.parametrize(("limit", "returned"), [("1GB", True), (None, False)])
def test_a_bounded_ingest_hands_freed_memory_back_between_steps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, limit: str | None, returned: bool
) -> None:
    # Under the limit, the allocator's background threads give what a file's steps freed
    # back to the system, so the next file's read starts from DuckDB's use, not its peak.
    ws = Workspace.init(tmp_path / "ws")
    ws.settings.store.ingest_memory_limit = limit
    seen: list[bool] = []
    load = pipeline.ingest_file

    def spy(con: duckdb.DuckDBPyConnection, *args: Any, **kwargs: Any) -> Any:
        row = con.execute("SELECT current_setting('allocator_background_threads')").fetchone()
        seen.append(bool(row and row[0]))
        return load(con, *args, **kwargs)

    monkeypatch.setattr(pipeline, "ingest_file", spy)
    path = tmp_path / "companies.csv"
    path.write_text(CSV, encoding="utf-8")
    assert ws.ingest([path]).ok
    assert seen == [returned]
