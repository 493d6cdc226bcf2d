"""When an import lets DuckDB compact the store's tables: once deleted rows are a fifth of one.

DuckDB drops a row group whose rows were all deleted at every checkpoint, and also merges
row groups that deletes or short appends left part-empty (its vacuum), rewriting every
column of them: after the renames of a three-file 1M-deal import, 368,511 accounts,
1.8 s of a 20-30 s import. The merging waits, as PostgreSQL's autovacuum does, until a
table's deleted rows reach :data:`DEAD_SHARE` of its stored rows; an import that finds
one there compacts the store as it commits.
"""

from __future__ import annotations

import duckdb

from icpkit.store.db import identifier, scalar

DEAD_SHARE = 0.2

# The tables an import deletes from (replaced rows, renamed and orphaned accounts).
IMPORTED = ("accounts", "account_ids", "deals", "signals", "contacts", "quarantine")


def dead_shares(
    con: duckdb.DuckDBPyConnection, tables: tuple[str, ...] = IMPORTED
) -> dict[str, float]:
    """Each of ``tables``' share of stored rows deleted but still stored (0.0 when empty):
    the rows DuckDB counts in its row groups (``duckdb_tables().estimated_size``) against
    those a scan returns."""
    stored = dict(
        con.execute(
            """SELECT table_name, estimated_size FROM duckdb_tables()
               WHERE database_name = current_database() AND schema_name = 'main'"""
        ).fetchall()
    )
    shares = {}
    for table in tables:
        rows = stored.get(table) or 0
        live = scalar(con, f"SELECT count(*) FROM {identifier(table)}") if rows else 0
        shares[table] = max(0.0, 1.0 - live / rows) if rows else 0.0
    return shares


def compaction_due(con: duckdb.DuckDBPyConnection, tables: tuple[str, ...] = IMPORTED) -> bool:
    """Whether a table of ``tables`` holds :data:`DEAD_SHARE` or more of deleted rows."""
    return any(share >= DEAD_SHARE for share in dead_shares(con, tables).values())


def defer_compaction(con: duckdb.DuckDBPyConnection) -> bool:
    """Leave the merging of row groups off for ``con``'s database, on every checkpoint until
    it closes, unless compaction is due; returns whether it was left on."""
    if compaction_due(con):
        return True
    con.execute("SET max_vacuum_tasks = 0")
    return False


__all__ = ["DEAD_SHARE", "IMPORTED", "compaction_due", "dead_shares", "defer_compaction"]
