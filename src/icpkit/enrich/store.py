"""Enrichment in the workspace store: runs, the cache of provider calls (``enrich_lookups``,
fresh until ``expires_at``) and every value observed with its provenance
(``enrich_observations``). A refreshed call adds a new lookup; the older ones stay as the
account's history, and only the newest lookup per provider and account is current."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import duckdb
import pyarrow as pa

from icpkit.enrich.fields import read
from icpkit.enrich.lookups import CURRENT
from icpkit.enrich.model import Lookup


@dataclass(frozen=True)
class Asked:
    """One call made in a run: the lookup, what was asked (the domain) and the cache tag."""

    provider: str
    lookup: Lookup
    asked: str | None
    cache_tag: str | None
    ttl_days: float


def start_run(con: duckdb.DuckDBPyConnection, providers: Sequence[str], accounts: int) -> int:
    """Record a new run; its number."""
    row = con.execute("SELECT coalesce(max(run_id), 0) + 1 FROM enrich_runs").fetchone()
    run_id = int(row[0]) if row else 1
    con.execute(
        "INSERT INTO enrich_runs VALUES (?, ?, NULL, ?, ?, 0, 0, 'running')",
        [run_id, _now(), list(providers), accounts],
    )
    return run_id


def finish_run(
    con: duckdb.DuckDBPyConnection, run_id: int, calls: int, credits: float, status: str
) -> None:
    con.execute(
        "UPDATE enrich_runs SET finished_at = ?, calls = ?, credits = ?, status = ? "
        "WHERE run_id = ?",
        [_now(), calls, credits, status, run_id],
    )


def fresh_keys(
    con: duckdb.DuckDBPyConnection,
    provider: str,
    now: dt.datetime,
    cache_tag: str | None,
) -> dict[str, str | None]:
    """Accounts whose current lookup by ``provider`` is still fresh (not expired, not failed,
    same cache tag), with the domain it asked about (a changed domain is asked again)."""
    rows = con.execute(
        f"""SELECT account_key, asked FROM ({CURRENT})
            WHERE provider = ? AND expires_at > ? AND status <> 'failed'
              AND coalesce(cache_tag, '') = coalesce(?, '')""",
        [provider, now, cache_tag],
    ).fetchall()
    return {str(k): (None if a is None else str(a)) for k, a in rows}


def write(
    con: duckdb.DuckDBPyConnection, run_id: int, calls: Sequence[Asked], now: dt.datetime
) -> None:
    """Store ``calls`` and their observations in one transaction (a run interrupted keeps
    every batch written before)."""
    if not calls:
        return
    row = con.execute("SELECT coalesce(max(lookup_id), 0) FROM enrich_lookups").fetchone()
    next_id = int(row[0]) + 1 if row else 1
    lookups: dict[str, list[object]] = {k: [] for k in _LOOKUP_COLUMNS}
    observations: dict[str, list[object]] = {k: [] for k in _OBSERVATION_COLUMNS}
    today = now.date()
    for offset, call in enumerate(calls):
        lookup_id = next_id + offset
        lookup = call.lookup
        expires = now + dt.timedelta(days=call.ttl_days)
        if lookup.status == "failed":
            expires = now  # asked again next run
        for name, value in zip(
            _LOOKUP_COLUMNS,
            (lookup_id, run_id, call.provider, lookup.account_key, call.asked, call.cache_tag,
             lookup.status, lookup.reason, float(lookup.credits), now, expires),
            strict=True,
        ):  # fmt: skip
            lookups[name].append(value)
        for obs in lookup.observations:
            canonical = read(obs.field, obs.value, today)
            values = (
                lookup_id, call.provider, lookup.account_key, obs.field, canonical.value,
                obs.raw if obs.raw is not None else obs.value, canonical.problem,
                float(obs.confidence), obs.source_url, obs.evidence, obs.observed_at, now,
            )  # fmt: skip
            for name, value in zip(_OBSERVATION_COLUMNS, values, strict=True):
                observations[name].append(value)
    con.execute("BEGIN")
    try:
        _append(con, "enrich_lookups", lookups, _LOOKUP_TYPES)
        _append(con, "enrich_observations", observations, _OBSERVATION_TYPES)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


_LOOKUP_COLUMNS = (
    "lookup_id", "run_id", "provider", "account_key", "asked", "cache_tag", "status",
    "reason", "credits", "fetched_at", "expires_at",
)  # fmt: skip
_LOOKUP_TYPES = (
    pa.int64(), pa.int32(), pa.string(), pa.string(), pa.string(), pa.string(), pa.string(),
    pa.string(), pa.float64(), pa.timestamp("us"), pa.timestamp("us"),
)  # fmt: skip
_OBSERVATION_COLUMNS = (
    "lookup_id", "provider", "account_key", "field", "value", "raw_value", "problem",
    "confidence", "source_url", "evidence", "observed_at", "fetched_at",
)  # fmt: skip
_OBSERVATION_TYPES = (
    pa.int64(), pa.string(), pa.string(), pa.string(), pa.string(), pa.string(), pa.string(),
    pa.float64(), pa.string(), pa.string(), pa.timestamp("us"), pa.timestamp("us"),
)  # fmt: skip


def _append(
    con: duckdb.DuckDBPyConnection,
    table: str,
    columns: dict[str, list[object]],
    types: Sequence[pa.DataType],
) -> None:
    if not next(iter(columns.values())):
        return
    arrow = pa.table(
        {
            name: pa.array([_naive(v) for v in values], type)
            for (name, values), type in zip(columns.items(), types, strict=True)
        }
    )
    con.register("_enrich_batch", arrow)
    try:
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _enrich_batch")
    finally:
        con.unregister("_enrich_batch")


def _naive(value: object) -> object:
    """Timestamps are stored in UTC without a zone, as every timestamp of the store."""
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)
