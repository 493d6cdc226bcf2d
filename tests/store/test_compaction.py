"""An import merges the store's part-empty row groups only once a table is a fifth deleted rows."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from icpkit.store.compaction import DEAD_SHARE, compaction_due, dead_shares, defer_compaction
from icpkit.workspace import Workspace

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def _add_signals(con: duckdb.DuckDBPyConnection, start: int, n: int) -> None:
    """``n`` signals in one statement: a statement this long writes its own row groups, the
    last one part-full, as an import's insert does."""
    con.execute(
        """INSERT INTO signals (signal_key, account_key, signal_type, observed_at)
           SELECT 's' || range, 'acme.com', 'hiring', TIMESTAMP '2026-01-01'
           FROM range(?, ?)""",
        [start, start + n],
    )


def _row_groups(con: duckdb.DuckDBPyConnection, table: str) -> int:
    row = con.execute(
        f"SELECT count(DISTINCT row_group_id) FROM pragma_storage_info('{table}')"
    ).fetchone()
    assert row is not None
    return int(row[0])


def _store(tmp_path: Path, delete_every: int) -> tuple[Workspace, int]:
    """A workspace whose signals are two 150,000-row imports (four row groups, two part-full)
    less every ``delete_every``-th row, deleted without merging; its row groups."""
    ws = Workspace.init(tmp_path / "ws")
    with ws.connect() as con:
        con.execute("SET max_vacuum_tasks = 0")
        _add_signals(con, 0, 150_000)
        con.execute("CHECKPOINT")
        _add_signals(con, 150_000, 150_000)
        con.execute("CHECKPOINT")
        con.execute(
            "DELETE FROM signals WHERE CAST(substr(signal_key, 2) AS BIGINT) % ? = 0",
            [delete_every],
        )
        con.execute("CHECKPOINT")
        groups = _row_groups(con, "signals")
    return ws, groups


def test_the_dead_share_counts_rows_stored_but_deleted(tmp_path: Path) -> None:
    ws, groups = _store(tmp_path, delete_every=4)
    assert groups == 4
    with ws.connect(read_only=True) as con:
        shares = dead_shares(con)
        assert shares["signals"] == pytest.approx(0.25, abs=0.001)
        assert shares["accounts"] == 0.0  # empty
        assert compaction_due(con)
        assert not compaction_due(con, ("accounts", "deals"))


def test_an_import_leaves_row_groups_as_they_are_while_few_rows_are_deleted(
    tmp_path: Path,
) -> None:
    ws, groups = _store(tmp_path, delete_every=100)
    assert groups == 4
    with ws.connect(read_only=True) as con:
        assert dead_shares(con)["signals"] < DEAD_SHARE
    assert ws.ingest([FIXTURES / "hubspot_companies.csv"]).ok
    with ws.connect(read_only=True) as con:
        assert _row_groups(con, "signals") == 4
        assert dead_shares(con)["signals"] == pytest.approx(0.01, abs=0.001)


def test_duckdb_would_have_merged_them_at_the_next_checkpoint(tmp_path: Path) -> None:
    """What the deferral saves: with DuckDB's own merging on, any write's checkpoint rewrites
    the part-full row groups of the same store."""
    ws, groups = _store(tmp_path, delete_every=100)
    with ws.connect() as con:
        con.execute("INSERT INTO meta VALUES ('touched', 'yes')")
        con.execute("CHECKPOINT")
        assert _row_groups(con, "signals") < groups


def test_an_import_compacts_once_a_fifth_of_a_table_is_deleted(tmp_path: Path) -> None:
    ws, groups = _store(tmp_path, delete_every=2)
    with ws.connect(read_only=True) as con:
        dead = dead_shares(con)["signals"]
        assert dead >= DEAD_SHARE
        rows = con.execute("SELECT count(*) FROM signals").fetchall()
    assert ws.ingest([FIXTURES / "hubspot_companies.csv"]).ok
    with ws.connect(read_only=True) as con:
        # DuckDB merges what fits in fewer row groups (here the first two), not every one.
        assert _row_groups(con, "signals") < groups
        assert dead_shares(con)["signals"] < dead
        assert con.execute("SELECT count(*) FROM signals").fetchall() == rows


def test_deferring_sets_the_connection_to_merge_nothing(tmp_path: Path) -> None:
    ws, _ = _store(tmp_path, delete_every=100)
    with ws.connect() as con:
        assert defer_compaction(con) is False
        assert con.execute("SELECT current_setting('max_vacuum_tasks')").fetchone() == (0,)
    ws, _ = _store(tmp_path / "due", delete_every=2)
    with ws.connect() as con:
        assert defer_compaction(con) is True
        assert con.execute("SELECT current_setting('max_vacuum_tasks')").fetchone() != (0,)
