"""Helpers the tests share (fixtures live in conftest.py)."""

from __future__ import annotations

import duckdb

from icpkit.workspace import Workspace


def run_query(ws: Workspace, sql: str) -> list[tuple[object, ...]]:
    """Rows of ``sql`` run on the workspace store."""
    con = duckdb.connect(str(ws.store_path), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()
