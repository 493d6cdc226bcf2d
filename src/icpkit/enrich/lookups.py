"""Which lookups of the enrichment store count, as SQL, and what each provider's count:
kept free of the enrichment machinery so that ``icp summary`` reads them without loading
it."""

from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb

CURRENT = """
    SELECT * FROM enrich_lookups
    QUALIFY row_number() OVER (
        PARTITION BY provider, account_key ORDER BY fetched_at DESC, lookup_id DESC) = 1
"""
"""The newest lookup of every provider and account (what the cache holds for it)."""
ANSWERED = """
    SELECT * FROM enrich_lookups WHERE status <> 'failed'
    QUALIFY row_number() OVER (
        PARTITION BY provider, account_key ORDER BY fetched_at DESC, lookup_id DESC) = 1
"""
"""The newest answer of every provider and account: a call that failed saw nothing, so
the answer before it still stands (a refresh that meets a 503 erases no value). Values
are read from these; freshness from :data:`CURRENT`."""

UNIVERSE = "universe:"
"""The key prefix of a universe company's lookups ('universe:acme.com'): a company of a
universe file that no workspace account holds is cached here by domain, and never read as an
account (see icpkit.enrich.universe)."""
ACCOUNTS_ONLY = f"account_key NOT LIKE '{UNIVERSE}%'"
"""A condition keeping the lookups and observations of workspace accounts."""


def status(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Per provider, what its current answers say: accounts asked, found, missed, failed,
    still fresh, and when it last fetched (for ``icp summary``)."""
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)  # the store's times are UTC
    rows = con.execute(
        f"""SELECT provider, count(*) AS accounts,
                   count(*) FILTER (WHERE status = 'found') AS found,
                   count(*) FILTER (WHERE status = 'miss') AS missed,
                   count(*) FILTER (WHERE status = 'failed') AS failed,
                   count(*) FILTER (WHERE expires_at > ? AND status <> 'failed') AS fresh,
                   max(fetched_at) AS last_fetched
            FROM ({CURRENT}) WHERE {ACCOUNTS_ONLY} GROUP BY provider ORDER BY provider""",
        [now],
    )
    names = [d[0] for d in rows.description]
    return [dict(zip(names, r, strict=True)) for r in rows.fetchall()]
