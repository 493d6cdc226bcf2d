"""Attributes as they stood on a day: technologies and head count from dated signals.

An export's technologies and head count describe the company on the day of the export;
a deal created two years earlier met the company as it was then. Where the signals carry
dated history (a tool added or removed, a head count observed), an entity (a deal on the
day it was created) gets the values of that day:

- a tool counts from its ``tech_added`` event and stops at its ``tech_removed`` event; a
  tool of the export with no dated event counts as always present (its start is unknown,
  and the export is the best evidence); before a tool's first event it is absent when that
  event adds it and present when it removes it;
- the head count is the latest head-count signal on or before the day, else the export's;
  but when an account's first head count comes from enrichment (source ``enrich:<provider>``:
  a provider's first look at the company; the account then holds that provider's latest
  look), that look stands for the days before it too, as the tools of a first look do, so
  a later look never rewrites the head count of earlier deals.

Everything is set-based SQL: one join of the entities with the few evented tools, and an
ASOF join for head counts.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import pyarrow as pa

from icpkit.ingest.normalize import Unreadable
from icpkit.ingest.normalize.employees import parse_employees
from icpkit.store.db import literal

# Signal types (as ingest writes them: lower case, runs of other characters as '_') that
# date a tool's adoption, its removal, and a head count observed on a day.
TECH_ADDED = frozenset(
    {
        "tech_added", "technology_added", "tech_install", "tech_installed",
        "technology_installed", "tech_adopted", "technology_adopted", "tool_added",
        "tech_detected", "technology_detected",
    }
)  # fmt: skip
TECH_REMOVED = frozenset(
    {
        "tech_removed", "technology_removed", "tech_uninstall", "tech_uninstalled",
        "technology_uninstalled", "tech_dropped", "technology_dropped", "tool_removed",
    }
)  # fmt: skip
HEADCOUNT = frozenset(
    {
        "headcount", "head_count", "employee_count", "employees", "headcount_snapshot",
        "employee_count_snapshot", "company_size",
    }
)  # fmt: skip
# Tool names in a signal's detail are split as a technologies cell is at ingest.
LIST_SPLIT = r"\s*[;,|]\s*"
# The source of the signals enrichment writes: 'enrich:<provider>'.
ENRICHED = "enrich:%"


@dataclass(frozen=True)
class HistorySummary:
    """What dated history the store holds, for the notes that say how values were dated."""

    tech_events: int
    headcount_snapshots: int
    unreadable_headcounts: int  # head-count signals whose detail is not a head count
    # Of the two counts, those from enrichment: changes between a provider's looks.
    enriched_tech_events: int = 0
    enriched_headcounts: int = 0

    @property
    def any(self) -> bool:
        return bool(self.tech_events or self.headcount_snapshots)

    def notes(self) -> list[str]:
        """Sentences saying which attributes were taken as of each deal's creation."""
        out = []
        if self.tech_events:
            out.append(
                f"technologies as of each deal's creation, from {self.tech_events:,} dated "
                f"tool additions and removals{_looks(self.enriched_tech_events)}"
            )
        if self.headcount_snapshots:
            out.append(
                f"employees as of each deal's creation, from {self.headcount_snapshots:,} "
                f"dated head counts{_looks(self.enriched_headcounts)}"
            )
        return out + self.warnings()

    def warnings(self) -> list[str]:
        """What of the history could not be used, so that nothing is left out silently."""
        if not self.unreadable_headcounts:
            return []
        return [
            f"{self.unreadable_headcounts:,} head-count signals with a detail that is not a "
            "head count were not used"
        ]


def _looks(n: int) -> str:
    return f" ({n:,} from successive enrichment looks)" if n else ""


def _types(names: frozenset[str]) -> str:
    return ", ".join(literal(n) for n in sorted(names))


def summarize(con: duckdb.DuckDBPyConnection, signals: str = "signals") -> HistorySummary:
    """Count the dated tool events and head counts of ``signals`` (parsing the head counts
    into the temp table ``headcount_values``)."""
    looked = f"coalesce(source, '') LIKE {literal(ENRICHED)}"
    tech, tech_looked = con.execute(
        f"""SELECT count(*), count(*) FILTER (WHERE {looked}) FROM {signals}
            WHERE signal_type IN ({_types(TECH_ADDED | TECH_REMOVED)})
              AND account_key IS NOT NULL AND nullif(trim(detail), '') IS NOT NULL"""
    ).fetchall()[0]
    raws = con.execute(
        f"""SELECT detail, count(*), count(*) FILTER (WHERE {looked}) FROM {signals}
            WHERE signal_type IN ({_types(HEADCOUNT)}) AND account_key IS NOT NULL
            GROUP BY detail"""
    ).fetchall()
    values: list[int | None] = []
    unreadable = readable = readable_looked = 0
    for raw, n, n_looked in raws:
        try:
            parsed = parse_employees(raw) if raw is not None else None
        except Unreadable:
            parsed = None
        values.append(parsed.value if parsed is not None else None)
        if parsed is None:
            unreadable += int(n)
        else:
            readable += int(n)
            readable_looked += int(n_looked)
    con.register(
        "headcount_lookup",
        pa.table(
            {
                "detail": pa.array([r[0] for r in raws], pa.string()),
                "employees": pa.array(values, pa.int64()),
            }
        ),
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE headcount_values AS
            SELECT s.account_key, s.observed_at::DATE AS day, max(h.employees) AS employees,
                   bool_and(coalesce(s.source, '') LIKE {literal(ENRICHED)}) AS looked
            FROM {signals} s JOIN headcount_lookup h ON h.detail = s.detail
            WHERE s.signal_type IN ({_types(HEADCOUNT)}) AND s.account_key IS NOT NULL
              AND h.employees IS NOT NULL
            GROUP BY ALL"""
    )
    con.unregister("headcount_lookup")
    return HistorySummary(int(tech), readable, unreadable, int(tech_looked), readable_looked)


def date_values(
    con: duckdb.DuckDBPyConnection,
    table: str,
    *,
    key: str = "key",
    day: str = "day",
    accounts: str = "accounts",
    signals: str = "signals",
) -> HistorySummary:
    """Set the columns ``technologies`` and ``employees`` of the temp table ``table`` (one
    row per entity: ``key``, ``account_key``, ``day``, and the export's values of those two
    columns) to their values on each row's ``day``, where dated history in ``signals`` says
    otherwise. Rows without a day keep the export's values. Only the rows of accounts with
    history are touched, so a store without history costs nothing."""
    summary = summarize(con, signals)
    if summary.tech_events:
        _date_technologies(con, table, key, day, accounts, signals)
    if summary.headcount_snapshots:
        # Before an account's first head count, the export's; unless that first one is an
        # enrichment look, which stands for the days before it (the account's own value is
        # then the latest look, not evidence about earlier days).
        con.execute(
            f"""UPDATE {table} SET employees = f.employees
                FROM (SELECT account_key, arg_min(employees, day) AS employees,
                             arg_min(looked, day) AS looked, min(day) AS first_day
                      FROM headcount_values GROUP BY account_key) f
                WHERE {table}.account_key = f.account_key AND f.looked
                  AND {table}.{day}::DATE < f.first_day"""
        )
        con.execute(
            f"""UPDATE {table} SET employees = h.employees
                FROM (SELECT e.{key} AS dated_key, h.employees FROM {table} e
                      ASOF JOIN headcount_values h
                      ON h.account_key = e.account_key AND e.{day}::DATE >= h.day) h
                WHERE {table}.{key} = h.dated_key"""
        )
    return summary


def _date_technologies(
    con: duckdb.DuckDBPyConnection, table: str, key: str, day: str, accounts: str, signals: str
) -> None:
    """The technologies of ``table``'s rows of accounts with dated tool events, as of their
    day: the export's tools without events, plus the evented tools present on that day."""
    added, removed = _types(TECH_ADDED), _types(TECH_REMOVED)
    split = literal(LIST_SPLIT)
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE tech_events AS
            SELECT account_key, lower(tool) AS tool_id, tool, day, removed
            FROM (SELECT s.account_key, s.observed_at::DATE AS day,
                         s.signal_type IN ({removed}) AS removed,
                         unnest(regexp_split_to_array(trim(s.detail), {split})) AS tool
                  FROM {signals} s
                  WHERE s.signal_type IN ({added}, {removed}) AND s.account_key IS NOT NULL
                    AND s.account_key IN (SELECT account_key FROM {table}))
            WHERE tool <> ''"""
    )
    # One spelling per tool: the one most exports write, so an event names a tool as the
    # technologies columns do ('hubspot' in a signal is the 'HubSpot' of the export).
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE tech_spelling AS
            WITH written AS (
                SELECT lower(tool) AS tool_id, tool, 1 AS exported FROM
                    (SELECT unnest(technologies) AS tool FROM {accounts}
                     WHERE account_key IN (SELECT account_key FROM tech_events))
                WHERE lower(tool) IN (SELECT tool_id FROM tech_events)
                UNION ALL SELECT tool_id, tool, 0 FROM tech_events)
            SELECT tool_id, arg_max(tool, (exported, n, tool)) AS tool
            FROM (SELECT tool_id, tool, max(exported) AS exported, count(*) AS n
                  FROM written GROUP BY ALL)
            GROUP BY tool_id"""
    )
    # Events order by day; on one day a removal counts after an addition. Before a tool's
    # first event it is absent when that event adds it, present when it removes it.
    order = "date_diff('day', DATE '1970-01-01', t.day) * 2 + t.removed::INT"
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE dated_stacks AS
            WITH dated AS (
                SELECT {key} AS dated_key, account_key, {day}::DATE AS day, technologies
                FROM {table}
                WHERE {day} IS NOT NULL
                  AND account_key IN (SELECT account_key FROM tech_events)),
            evented AS (SELECT DISTINCT account_key, tool_id FROM tech_events),
            states AS (
                SELECT e.dated_key, t.tool_id,
                       coalesce(arg_max(NOT t.removed, {order}) FILTER (WHERE t.day <= e.day),
                                arg_min(t.removed, {order})) AS present
                FROM dated e JOIN tech_events t USING (account_key)
                GROUP BY ALL),
            kept AS (
                SELECT x.dated_key, x.tool FROM
                    (SELECT dated_key, account_key, unnest(technologies) AS tool FROM dated) x
                ANTI JOIN evented v
                    ON v.account_key = x.account_key AND v.tool_id = lower(x.tool)),
            stacks AS (
                SELECT dated_key, list(DISTINCT tool ORDER BY tool) AS technologies FROM (
                    SELECT dated_key, tool FROM kept
                    UNION ALL
                    SELECT s.dated_key, p.tool FROM states s JOIN tech_spelling p USING (tool_id)
                    WHERE s.present)
                GROUP BY dated_key)
            SELECT d.dated_key, coalesce(st.technologies, []::VARCHAR[]) AS technologies
            FROM dated d LEFT JOIN stacks st USING (dated_key)"""
    )
    con.execute(
        f"""UPDATE {table} SET technologies = s.technologies FROM dated_stacks s
            WHERE {table}.{key} = s.dated_key"""
    )


def churned_sql(day: str | None, alias: str = "a") -> str:
    """SQL of an account's churn flag as it stood on the SQL date ``day`` (the export's flag
    when None): a customer whose churn date falls on or after ``day`` had not churned yet.
    A churn without a date is kept: it may have come before ``day``."""
    if day is None:
        return f"{alias}.churned"
    return (
        f"CASE WHEN {alias}.churned AND {alias}.churn_date IS NOT NULL "
        f"AND {alias}.churn_date::DATE >= {day} THEN false ELSE {alias}.churned END"
    )
