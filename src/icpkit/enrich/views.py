"""What enrichment knows, as a person asks it: an account's values with their provenance,
the accounts where sources disagree, and the runs so far."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import duckdb

from icpkit.enrich.fields import COLUMNS
from icpkit.enrich.lookups import ANSWERED, CURRENT


@dataclass(frozen=True)
class Conflict:
    """Sources that disagree on one field of one account; ``winner`` is the value the
    waterfall kept (the store's), ``values`` every source's (provider -> value)."""

    account_key: str
    name: str | None
    field: str
    winner: str | None
    values: dict[str, str]


def provenance(con: duckdb.DuckDBPyConnection, account_key: str) -> list[dict[str, Any]]:
    """Every current observation of ``account_key``, field by field, with provider, value,
    confidence, source URL, evidence and when it was fetched (and the event's day)."""
    rows = con.execute(
        f"""SELECT o.field, o.value, o.raw_value, o.problem, o.provider, o.confidence,
                   o.source_url, o.evidence, o.observed_at, o.fetched_at
            FROM enrich_observations o JOIN ({ANSWERED}) l USING (lookup_id)
            WHERE o.account_key = ?
            ORDER BY o.field, o.confidence DESC, o.provider, o.value""",
        [account_key],
    )
    names = [d[0] for d in rows.description]
    return [dict(zip(names, r, strict=True)) for r in rows.fetchall()]


def lookups(con: duckdb.DuckDBPyConnection, account_key: str) -> list[dict[str, Any]]:
    """The current answer of every provider about ``account_key``: found, missed or failed,
    why, and until when it stays fresh."""
    rows = con.execute(
        f"""SELECT provider, status, reason, asked, fetched_at, expires_at, credits
            FROM ({CURRENT}) WHERE account_key = ? ORDER BY provider""",
        [account_key],
    )
    names = [d[0] for d in rows.description]
    return [dict(zip(names, r, strict=True)) for r in rows.fetchall()]


def conflicts(
    con: duckdb.DuckDBPyConnection, min_confidence: float, limit: int | None = None
) -> tuple[int, dict[str, int], list[Conflict]]:
    """Accounts where the CRM and the providers' confident values of a column field differ:
    how many in all, how many per field, and the first ``limit`` of them. Head counts and
    revenues differ when they fall in different ranges (sources round them), other fields
    when their values differ."""
    parts = []
    for name, columns in COLUMNS.items():
        parts.append(
            f"SELECT account_key, '{name}' AS field, 'crm' AS provider, "
            f"CAST({columns[0]} AS VARCHAR) AS value FROM accounts "
            f"WHERE {columns[0]} IS NOT NULL AND (enriched IS NULL OR "
            f"json_extract(enriched, '$.{name}') IS NULL)"
        )
    crm = " UNION ALL ".join(parts)
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _enrich_values AS
            WITH observed AS (
                SELECT o.account_key, o.field, o.provider,
                       arg_max(o.value, o.confidence) AS value
                FROM enrich_observations o JOIN ({ANSWERED}) l USING (lookup_id)
                WHERE o.value IS NOT NULL AND o.confidence >= {float(min_confidence)}
                  AND o.field IN ({", ".join(f"'{f}'" for f in COLUMNS)})
                GROUP BY ALL
            ), together AS (
                SELECT * FROM observed
                UNION ALL
                SELECT c.* FROM ({crm}) c
                WHERE (c.account_key, c.field) IN (SELECT (account_key, field) FROM observed)
            )
            SELECT *, CASE
                WHEN field = 'employees' THEN {_magnitude("value", 2)}
                WHEN field IN ('revenue', 'total_funding') THEN {_magnitude("value", 1)}
                ELSE lower(value) END AS compared
            FROM together"""
    )
    disputed = """SELECT account_key, field FROM _enrich_values GROUP BY ALL
                  HAVING count(DISTINCT compared) > 1"""
    per_field = dict(
        con.execute(
            f"SELECT field, count(*) FROM ({disputed}) GROUP BY field ORDER BY field"
        ).fetchall()
    )
    total = int(sum(per_field.values()))
    limit_sql = "" if limit is None else f"LIMIT {int(limit)}"
    shown = con.execute(
        f"""SELECT d.account_key, any_value(a.name), d.field,
                   map_from_entries(list((v.provider, v.value) ORDER BY v.provider))
            FROM ({disputed}) d JOIN _enrich_values v USING (account_key, field)
            JOIN accounts a USING (account_key)
            GROUP BY d.account_key, d.field
            ORDER BY d.field, d.account_key {limit_sql}"""
    ).fetchall()
    out = []
    winners = _winners(con, [(r[0], r[2]) for r in shown])
    for key, name, field, vals in shown:
        out.append(Conflict(key, name, field, winners.get((key, field)), dict(vals)))
    con.execute("DROP TABLE _enrich_values")
    return total, {str(k): int(v) for k, v in per_field.items()}, out


def _magnitude(column: str, per_decade: int) -> str:
    """Which of ``per_decade`` steps per power of ten a number falls in (sources round
    head counts and revenues, so 120 and 126 agree and 120 and 5,000 do not)."""
    number = f"greatest(TRY_CAST({column} AS DOUBLE), 1)"
    return f"CAST(floor(log10({number}) * {per_decade}) AS VARCHAR)"


def _winners(
    con: duckdb.DuckDBPyConnection, pairs: list[tuple[str, str]]
) -> dict[tuple[str, str], str | None]:
    out: dict[tuple[str, str], str | None] = {}
    for key, field in pairs:
        column = COLUMNS[field][0]
        row = con.execute(
            f"SELECT CAST({column} AS VARCHAR) FROM accounts WHERE account_key = ?", [key]
        ).fetchone()
        out[(key, field)] = None if row is None else row[0]
    return out


def runs(con: duckdb.DuckDBPyConnection, limit: int = 10) -> list[dict[str, Any]]:
    """The latest runs, newest first."""
    rows = con.execute("SELECT * FROM enrich_runs ORDER BY run_id DESC LIMIT ?", [limit])
    names = [d[0] for d in rows.description]
    return [dict(zip(names, r, strict=True)) for r in rows.fetchall()]
