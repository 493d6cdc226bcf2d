"""An account's enrichment history as dated events: what changed between a provider's
successive looks at a company, written as ``signals`` rows that the analysis already reads
(icpkit.analysis.history), so that a deal is judged on what was known on its day and a
refresh never rewrites the past.

- A tool newly seen on a later look is a ``tech_added`` on that look's day; a tool seen
  before and not on a later look is a ``tech_removed`` on that day. The looks of all
  providers count together: a tool is present while any provider's latest look shows it.
- A provider's first look is a snapshot, not an adoption: it dates nothing. Its tools count
  as always present before the next look, exactly as an export's undated tools do.
- Tools of the CRM's own list are never dated here: the export says they are there.
- The head counts of the provider whose value the waterfall keeps become ``headcount``
  signals when they changed between looks (the first look included, which stands for the
  days before it); a head count the CRM holds and the waterfall keeps is never dated over.
- A failed look saw nothing and says nothing; a look that answered without a tool (a miss)
  says the tool is gone. Looks are compared by day: the latest look of a day counts.

Everything is set-based SQL over the stored looks; only accounts some provider answered on
more than one day are read, so a store enriched once costs one small query.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import duckdb
import pyarrow as pa

TECH_ADDED, TECH_REMOVED, HEADCOUNT = "tech_added", "tech_removed", "headcount"


@dataclass(frozen=True)
class Written:
    """The dated events written: tool additions and removals, head counts."""

    tech_events: int = 0
    headcounts: int = 0


def write(
    con: duckdb.DuckDBPyConnection,
    min_confidence: float,
    employee_sources: Mapping[str, str],
) -> Written:
    """Add to ``signals`` (source ``enrich:<provider>``) the dated events of every account
    some provider looked at on more than one day; the caller has removed enrichment's
    earlier rows. ``employee_sources`` names, per account, the provider whose head count
    the waterfall keeps (accounts absent: the CRM's own head count, or none, is kept).
    Values below ``min_confidence`` are not seen, as the waterfall does not use them."""
    sources = sorted(employee_sources.items())
    con.register(
        "_employee_sources",
        pa.table(
            {
                "account_key": pa.array([k for k, _ in sources], pa.string()),
                "provider": pa.array([p for _, p in sources], pa.string()),
            }
        ),
    )
    try:
        con.execute(_EVENTS, [min_confidence])
    finally:
        con.unregister("_employee_sources")
    con.execute(
        """INSERT INTO signals BY NAME
           SELECT 'enrich:' || md5(concat_ws('|', provider, account_key, signal_type, detail,
                                             CAST(day AS VARCHAR))) AS signal_key,
                  account_key, signal_type, detail, CAST(day AS TIMESTAMP) AS observed_at,
                  'enrich:' || provider AS source,
                  json_object('source_url', source_url, 'evidence', evidence) AS extra,
                  source_url AS source_file
           FROM enrich_history_events"""
    )
    ((tech, counts),) = con.execute(
        f"""SELECT count(*) FILTER (WHERE signal_type <> '{HEADCOUNT}'),
                   count(*) FILTER (WHERE signal_type = '{HEADCOUNT}')
            FROM enrich_history_events"""
    ).fetchall()
    con.execute("DROP TABLE enrich_history_events")
    return Written(int(tech), int(counts))


_EVENTS = f"""
CREATE OR REPLACE TEMP TABLE enrich_history_events AS
WITH again AS (  -- accounts some provider answered on more than one day
    SELECT DISTINCT account_key FROM enrich_lookups
    WHERE status <> 'failed' AND account_key IN (SELECT account_key FROM accounts)
    GROUP BY account_key, provider
    HAVING count(DISTINCT CAST(fetched_at AS DATE)) > 1),
looks AS (  -- each provider's latest look of each day, numbered in day order
    SELECT *, row_number() OVER (PARTITION BY account_key, provider ORDER BY day) AS r
    FROM (SELECT l.lookup_id, l.account_key, l.provider, CAST(l.fetched_at AS DATE) AS day
          FROM enrich_lookups l JOIN again USING (account_key)
          WHERE l.status <> 'failed'
          QUALIFY row_number() OVER (
              PARTITION BY l.account_key, l.provider, CAST(l.fetched_at AS DATE)
              ORDER BY l.fetched_at DESC, l.lookup_id DESC) = 1)),
seen AS (  -- the tools of each look: one spelling, URL and evidence per tool
    SELECT k.account_key, k.provider, k.day, k.r, lower(o.value) AS tool_id,
           arg_max(o.value, (o.confidence, o.value)) AS tool,
           arg_max(o.source_url, (o.confidence, o.value)) AS source_url,
           arg_max(o.evidence, (o.confidence, o.value)) AS evidence
    FROM looks k JOIN enrich_observations o ON o.lookup_id = k.lookup_id
    WHERE o.field = 'tech' AND o.value IS NOT NULL AND o.confidence >= $1
    GROUP BY ALL),
moments AS (SELECT DISTINCT account_key, day FROM looks WHERE r > 1),
in_force AS (  -- each provider's look on each moment: its latest, or its first before it
    SELECT m.account_key, m.day AS moment, k.provider,
           coalesce(max(k.day) FILTER (WHERE k.day <= m.day), min(k.day)) AS day
    FROM moments m JOIN looks k USING (account_key)
    GROUP BY ALL),
present AS (
    SELECT DISTINCT i.account_key, i.moment, s.tool_id
    FROM in_force i JOIN seen s USING (account_key, provider, day)),
first_seen AS (SELECT DISTINCT account_key, tool_id FROM seen WHERE r = 1),
stack AS (
    SELECT account_key, unnest(technologies) AS tool FROM accounts
    WHERE account_key IN (SELECT account_key FROM moments)),
added_by_enrichment AS (
    SELECT account_key,
           unnest(CAST(json_extract(enriched, '$.technologies') AS VARCHAR[])) AS tool
    FROM accounts
    WHERE enriched IS NOT NULL AND account_key IN (SELECT account_key FROM moments)),
own AS (  -- the CRM's own tools: never dated here
    SELECT DISTINCT account_key, lower(tool) AS tool_id
    FROM stack ANTI JOIN added_by_enrichment USING (account_key, tool)),
grid AS (
    SELECT m.account_key, m.day AS moment, t.tool_id,
           p.tool_id IS NOT NULL AS here, f.tool_id IS NOT NULL AS at_first
    FROM moments m
    JOIN (SELECT DISTINCT account_key, tool_id FROM seen) t USING (account_key)
    LEFT JOIN present p ON p.account_key = m.account_key AND p.moment = m.day
                       AND p.tool_id = t.tool_id
    LEFT JOIN first_seen f ON f.account_key = m.account_key AND f.tool_id = t.tool_id
    ANTI JOIN own o ON o.account_key = m.account_key AND o.tool_id = t.tool_id),
changes AS (
    SELECT * FROM (
        SELECT account_key, moment, tool_id, here,
               coalesce(lag(here) OVER (PARTITION BY account_key, tool_id ORDER BY moment),
                        at_first) AS was
        FROM grid)
    WHERE here <> was),
tool_events AS (
    -- an addition: the provider (first by name) whose look of that day shows the tool
    SELECT c.account_key, '{TECH_ADDED}' AS signal_type, c.moment AS day,
           arg_min(s.tool, s.provider) AS detail, min(s.provider) AS provider,
           arg_min(s.source_url, s.provider) AS source_url,
           arg_min(s.evidence, s.provider) AS evidence
    FROM changes c JOIN seen s
      ON s.account_key = c.account_key AND s.day = c.moment AND s.tool_id = c.tool_id
    WHERE c.here
    GROUP BY c.account_key, c.moment, c.tool_id
    UNION ALL
    -- a removal: the provider (first by name) whose previous look showed it, not this one
    SELECT c.account_key, '{TECH_REMOVED}', c.moment,
           arg_min(s.tool, k.provider), min(k.provider), NULL,
           arg_min('seen on ' || CAST(s.day AS VARCHAR) || ', not on '
                   || CAST(c.moment AS VARCHAR), k.provider)
    FROM changes c
    JOIN looks k ON k.account_key = c.account_key AND k.day = c.moment AND k.r > 1
    JOIN seen s ON s.account_key = k.account_key AND s.provider = k.provider
               AND s.r = k.r - 1 AND s.tool_id = c.tool_id
    WHERE NOT c.here
    GROUP BY c.account_key, c.moment, c.tool_id),
counts AS (  -- the head count of each look of the provider the waterfall keeps
    SELECT k.account_key, k.provider, k.day,
           arg_max(o.value, (o.confidence, o.value)) AS detail,
           arg_max(o.source_url, (o.confidence, o.value)) AS source_url,
           arg_max(o.evidence, (o.confidence, o.value)) AS evidence
    FROM looks k
    JOIN _employee_sources w USING (account_key, provider)
    JOIN enrich_observations o ON o.lookup_id = k.lookup_id
    WHERE o.field = 'employees' AND o.value IS NOT NULL AND o.confidence >= $1
    GROUP BY ALL),
count_events AS (  -- where the count changed, the first look included; none if it never did
    SELECT account_key, '{HEADCOUNT}' AS signal_type, day, detail, provider, source_url,
           evidence
    FROM (SELECT *, lag(detail) OVER (PARTITION BY account_key ORDER BY day) AS before,
                 count(DISTINCT detail) OVER (PARTITION BY account_key) AS values_seen
          FROM counts)
    WHERE values_seen > 1 AND before IS DISTINCT FROM detail)
SELECT account_key, signal_type, detail, day, provider, source_url, evidence
FROM tool_events
UNION ALL
SELECT account_key, signal_type, detail, day, provider, source_url, evidence
FROM count_events
"""
