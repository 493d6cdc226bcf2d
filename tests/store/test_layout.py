"""How the store keeps what it holds on disk: the unmapped columns of a wide export, one JSON
object per record, are compressed with zstd (DuckDB's default string compression took six
times as long to write them, into twice the space; see BENCHMARKS.md)."""

from __future__ import annotations

from pathlib import Path

import duckdb

from icpkit.store.db import connect


def json_compression(con: duckdb.DuckDBPyConnection, table: str, column: str) -> set[str]:
    rows = con.execute(
        f"SELECT DISTINCT compression FROM pragma_storage_info('{table}') "
        f"WHERE column_name = '{column}' AND segment_type <> 'VALIDITY'"
    ).fetchall()
    return {str(r[0]) for r in rows}


def test_the_extra_and_enriched_json_of_every_table_is_written_with_zstd(tmp_path: Path) -> None:
    con = connect(tmp_path / "workspace.duckdb")
    properties = ", ".join(
        f"'Custom property {i}', 'value ' || (range * {i}) % 97" for i in range(40)
    )
    con.execute(
        f"""INSERT INTO accounts (account_key, origin, extra, enriched)
            SELECT 'k' || range, 'record', json_object({properties}), json_object('a', range)
            FROM range(5000)"""
    )
    con.execute(
        f"""INSERT INTO deals (deal_key, system, outcome, is_expansion, extra)
            SELECT 'd' || range, 'generic', 'won', false, json_object({properties})
            FROM range(5000)"""
    )
    con.execute("CHECKPOINT")
    assert json_compression(con, "accounts", "extra") == {"ZSTD"}
    assert json_compression(con, "accounts", "enriched") == {"ZSTD"}
    assert json_compression(con, "deals", "extra") == {"ZSTD"}
    # Read back as written.
    one = con.execute(
        "SELECT json_extract_string(extra, '$.\"Custom property 3\"') FROM accounts "
        "WHERE account_key = 'k10'"
    ).fetchone()
    assert one == ("value 30",)
    con.close()
