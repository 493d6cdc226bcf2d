"""The waterfall: which observed value wins each field of each account, written into the
store so that analysis, derivation, scoring, TAM and lookalikes read enriched accounts as
they read any other.

- A column field (employees, industry, country, ...) takes the first source in its
  waterfall order with a value of at least ``min_confidence``; ``crm`` (the export's own
  value) is a source like the others and comes first unless the order says otherwise.
- Technologies are the export's list plus every tool a provider saw.
- Dated signals (job postings, filings) become rows of ``signals`` (source ``enrich:<provider>``).
- What changed between a provider's looks (a tool added or removed, the kept head count)
  becomes dated ``signals`` too (``enrich/history.py``): analysis and backtest judge each
  deal on the values of its day, while the account holds today's.
- Answers and a file's other columns become keys of the account's ``extra``.

What enrichment wrote is recorded per account in ``accounts.enriched`` with the value it
replaced, so applying again (after a new run or a re-import) starts from the CRM's own
values and never mistakes an enriched value for one the CRM holds.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pyarrow as pa

from icpkit.config import EnrichSettings
from icpkit.enrich import history
from icpkit.enrich.fields import COLUMNS
from icpkit.enrich.lookups import ACCOUNTS_ONLY, ANSWERED

CRM = "crm"
_VERSION = 2  # what apply writes: 2 adds the dated history (a store applied before redoes it)
_COLUMN_TYPES = {
    "employees": "BIGINT", "employees_low": "BIGINT", "employees_high": "BIGINT",
    "revenue": "DOUBLE", "total_funding": "DOUBLE", "founded_year": "INTEGER",
}  # fmt: skip


@dataclass
class Applied:
    """What applying the waterfall changed: accounts per field it filled (or overrode),
    tools added, dated signals (postings, filings) and extra values written, and the dated
    history held: tool additions and removals, head counts, from successive looks."""

    filled: dict[str, int] = field(default_factory=dict)
    tools_added: int = 0
    accounts_with_tools: int = 0
    signals: int = 0
    extra_values: int = 0
    tech_events: int = 0
    headcounts: int = 0
    unchanged: bool = False  # nothing to apply: the store already holds these winners

    @property
    def anything(self) -> bool:
        return bool(
            any(self.filled.values())
            or self.tools_added
            or self.signals
            or self.extra_values
            or self.tech_events
            or self.headcounts
        )


def order(settings: EnrichSettings, field_name: str, providers: Sequence[str]) -> list[str]:
    """The sources of ``field_name`` in the order their values win: the field's waterfall
    when ``icp.yaml`` sets one (sources it does not list come after, in the default
    order), else the CRM, then the providers as ``enrich.providers`` lists them, then any
    other provider by name.

    >>> settings = EnrichSettings(providers=["website"], waterfall={"employees": ["pdl", "crm"]})
    >>> order(settings, "employees", ["website", "apollo"])
    ['pdl', 'crm', 'website', 'apollo']
    """
    default = [CRM, *settings.providers, *sorted(set(providers) - set(settings.providers))]
    listed = list(settings.waterfall.get(field_name, []))
    return listed + [p for p in default if p not in listed]


def apply(con: duckdb.DuckDBPyConnection, settings: EnrichSettings) -> Applied:
    """Write the winners of every field into ``accounts`` and ``signals``; idempotent, and
    a no-op when neither the answers, the accounts nor the waterfall changed since the last
    time (a cached re-run costs a query, not a pass over every account)."""
    result = Applied()
    if not _has_enrichment(con):
        return result
    state = _state(con, settings)
    if state == _applied_state(con):
        result.unchanged = True
        return result
    current = _current_observations(con, settings.min_confidence)
    providers = sorted({row["provider"] for rows in current.values() for row in rows})
    ranks = {f: order(settings, f, providers) for f in (*COLUMNS, "tech")}
    accounts = _accounts(con, set(current) | _marked(con))
    updates: list[dict[str, Any]] = []
    employee_sources: dict[str, str] = {}  # the provider whose head count is kept
    for key, account in accounts.items():
        marker: dict[str, Any] = json.loads(account["enriched"]) if account["enriched"] else {}
        new_marker: dict[str, Any] = {}
        row = dict(account)
        changed = False
        by_field: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for obs in current.get(key, ()):
            by_field[obs["field"]].append(obs)
        for name, columns in COLUMNS.items():
            crm = _crm_values(account, name, columns, marker)
            source, winner = _pick(ranks[name], crm, by_field.get(name, []))
            if winner is None or winner == crm:
                values = crm
            else:
                values = winner
                if name == "employees" and source is not None:
                    employee_sources[key] = source
                new_marker[name] = {"applied": list(values), "crm": list(crm)}
                result.filled[name] = result.filled.get(name, 0) + 1
            for column, value in zip(columns, values, strict=True):
                if _text(account[column]) != value:
                    row[column] = value
                    changed = True
        tools = _tools(account, marker, by_field.get("tech", []))
        if tools is not None:
            technologies, added = tools
            if added:
                new_marker["technologies"] = added
                result.tools_added += len(added)
                result.accounts_with_tools += 1
            # No tool left from any source: unknown (NULL), as the CRM had it, not an
            # empty stack (which reads as '0 tools').
            stack = technologies or None
            if stack != account["technologies"]:
                row["technologies"] = stack
                changed = True
        extra, written = _extra(account, marker, by_field)
        if written:
            new_marker["extra"] = written
            result.extra_values += len(written)
        if extra != account["extra"]:
            row["extra"] = extra
            changed = True
        enriched = json.dumps(new_marker, sort_keys=True) if new_marker else None
        if changed or enriched != account["enriched"]:
            row["enriched"] = enriched
            updates.append(row)
    _write_accounts(con, updates)
    result.signals = _write_signals(con, settings.min_confidence)
    dated = history.write(con, settings.min_confidence, employee_sources)
    result.tech_events, result.headcounts = dated.tech_events, dated.headcounts
    con.execute("INSERT OR REPLACE INTO meta VALUES ('enrich_applied', ?)", [_state(con, settings)])
    return result


def _state(con: duckdb.DuckDBPyConnection, settings: EnrichSettings) -> str:
    """What the waterfall's outcome depends on: the answers stored, the accounts and
    signals as imports left them, and the settings that rank the sources."""
    row = con.execute(
        """SELECT (SELECT coalesce(max(lookup_id), 0) FROM enrich_lookups),
                  (SELECT count(*) FROM enrich_lookups),
                  (SELECT coalesce(max(import_id), 0) FROM imports),
                  (SELECT count(*) FROM accounts),
                  (SELECT count(*) FROM signals WHERE source NOT LIKE 'enrich:%')"""
    ).fetchone()
    ranking = json.dumps(
        [settings.providers, settings.waterfall, settings.min_confidence, _VERSION],
        sort_keys=True,
    )
    return json.dumps([list(row or ()), ranking])


def _applied_state(con: duckdb.DuckDBPyConnection) -> str | None:
    row = con.execute("SELECT value FROM meta WHERE key = 'enrich_applied'").fetchone()
    return None if row is None else str(row[0])


def _has_enrichment(con: duckdb.DuckDBPyConnection) -> bool:
    row = con.execute(
        "SELECT (SELECT count(*) FROM enrich_lookups) + "
        "(SELECT count(*) FROM accounts WHERE enriched IS NOT NULL)"
    ).fetchone()
    return bool(row and row[0])


def _current_observations(
    con: duckdb.DuckDBPyConnection, min_confidence: float
) -> dict[str, list[dict[str, Any]]]:
    rows = con.execute(
        f"""SELECT o.account_key, o.provider, o.field, o.value, o.confidence
            FROM enrich_observations o JOIN ({ANSWERED}) l USING (lookup_id)
            WHERE o.value IS NOT NULL AND o.confidence >= ?
              AND o.field NOT LIKE 'signal:%' AND o.{ACCOUNTS_ONLY}
            ORDER BY o.account_key, o.confidence DESC, o.field, o.value""",
        [min_confidence],
    ).fetchall()
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for key, provider, name, value, confidence in rows:
        out[key].append(
            {"provider": provider, "field": name, "value": value, "confidence": confidence}
        )
    return out


def _marked(con: duckdb.DuckDBPyConnection) -> set[str]:
    rows = con.execute("SELECT account_key FROM accounts WHERE enriched IS NOT NULL").fetchall()
    return {r[0] for r in rows}


_READ = ("account_key", *(c for cs in COLUMNS.values() for c in cs), "technologies", "extra",
         "enriched")  # fmt: skip


def _accounts(con: duckdb.DuckDBPyConnection, keys: set[str]) -> dict[str, dict[str, Any]]:
    if not keys:
        return {}
    con.register("_enrich_keys", pa.table({"account_key": pa.array(sorted(keys), pa.string())}))
    try:
        rows = con.execute(
            f"SELECT {', '.join(_READ)} FROM accounts "
            "WHERE account_key IN (SELECT account_key FROM _enrich_keys)"
        ).fetchall()
    finally:
        con.unregister("_enrich_keys")
    out = {}
    for values in rows:
        record = dict(zip(_READ, values, strict=True))
        out[record["account_key"]] = record
    return out


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _crm_values(
    account: dict[str, Any], name: str, columns: tuple[str, ...], marker: dict[str, Any]
) -> tuple[str | None, ...]:
    """The CRM's own values of a field's columns: the account's, unless enrichment wrote
    them (then the values it replaced)."""
    now = tuple(_text(account[c]) for c in columns)
    mark = marker.get(name)
    if isinstance(mark, dict) and tuple(mark.get("applied", ())) == now:
        return tuple(mark.get("crm", (None,) * len(columns)))
    return now


def _pick(
    sources: list[str], crm: tuple[str | None, ...], observed: list[dict[str, Any]]
) -> tuple[str | None, tuple[str | None, ...] | None]:
    """The first source in ``sources`` with a value, and that value (observations come
    most confident first); a field's companions (employees_low ...) follow its value."""
    by_provider: dict[str, dict[str, Any]] = {}
    for obs in observed:
        by_provider.setdefault(obs["provider"], obs)
    for source in sources:
        if source == CRM:
            if crm[0] is not None:
                return CRM, crm
            continue
        found = by_provider.get(source)
        if found is not None:
            return source, _with_companions(found)
    return None, None


def _with_companions(obs: dict[str, Any]) -> tuple[str | None, ...]:
    from icpkit.enrich.fields import read

    canonical = read(obs["field"], obs["value"])
    return (canonical.value, *(_text(c) for c in canonical.companions))


def _tools(
    account: dict[str, Any], marker: dict[str, Any], observed: list[dict[str, Any]]
) -> tuple[list[str], list[str]] | None:
    own = [t for t in account["technologies"] or [] if t not in set(marker.get("technologies", []))]
    seen = sorted({obs["value"] for obs in observed})
    if not seen and "technologies" not in marker:
        return None
    known = {t.casefold() for t in own}
    added = [t for t in seen if t.casefold() not in known]
    return own + added, added


def _extra(
    account: dict[str, Any], marker: dict[str, Any], by_field: dict[str, list[dict[str, Any]]]
) -> tuple[str | None, dict[str, str]]:
    """The account's ``extra`` with answers ('answer:<key>') and a file's other columns
    ('extra:<column>' -> '<column>') written over the CRM's own keys."""
    base: dict[str, Any] = json.loads(account["extra"]) if account["extra"] else {}
    before = marker.get("extra", {})
    for key, value in before.items():
        if base.get(key) == value:
            base.pop(key)  # enrichment wrote it; the CRM's own value, if any, is gone with it
    written: dict[str, str] = {}
    for name, rows in sorted(by_field.items()):
        if name.startswith("answer:"):
            key = name
        elif name.startswith("extra:"):
            key = name.removeprefix("extra:")
            if key in base:
                continue  # the CRM's own column wins
        else:
            continue
        written[key] = rows[0]["value"]
    if not written and not base:
        return (account["extra"] if account["extra"] and not before else None), written
    merged = {**base, **written}
    if not merged:
        return None, written
    return json.dumps(merged, sort_keys=True, ensure_ascii=False), written


def _write_accounts(con: duckdb.DuckDBPyConnection, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    columns = [c for c in _READ if c != "account_key"]
    data: dict[str, pa.Array] = {
        "account_key": pa.array([r["account_key"] for r in rows], pa.string())
    }
    for column in columns:
        if column == "technologies":
            data[column] = pa.array([r[column] for r in rows], pa.list_(pa.string()))
        else:
            data[column] = pa.array([_text(r[column]) for r in rows], pa.string())
    con.register("_enrich_updates", pa.table(data))
    sets = ", ".join(
        f"{c} = u.{c}" if c == "technologies" else f"{c} = CAST(u.{c} AS {_type(c)})"
        for c in columns
    )
    try:
        con.execute(
            f"UPDATE accounts SET {sets} FROM _enrich_updates u "
            "WHERE accounts.account_key = u.account_key"
        )
    finally:
        con.unregister("_enrich_updates")


def _type(column: str) -> str:
    if column in ("extra", "enriched"):
        return "JSON"
    return _COLUMN_TYPES.get(column, "VARCHAR")


def _write_signals(con: duckdb.DuckDBPyConnection, min_confidence: float) -> int:
    """Every dated event any run observed (history included) as a row of ``signals``."""
    con.execute("DELETE FROM signals WHERE source LIKE 'enrich:%'")
    con.execute(
        f"""INSERT INTO signals BY NAME
           SELECT 'enrich:' || md5(concat_ws('|', provider, account_key, field, value,
                                             CAST(day AS VARCHAR))) AS signal_key,
                  account_key, substr(field, 8) AS signal_type, value AS detail,
                  day AS observed_at, 'enrich:' || provider AS source,
                  json_object('source_url', any_value(source_url),
                              'evidence', any_value(evidence)) AS extra,
                  any_value(source_url) AS source_file
           FROM (SELECT *, CAST(coalesce(observed_at, fetched_at) AS DATE) AS day
                 FROM enrich_observations
                 WHERE field LIKE 'signal:%' AND value IS NOT NULL AND confidence >= ?
                   AND {ACCOUNTS_ONLY})
           GROUP BY provider, account_key, field, value, day""",
        [min_confidence],
    )
    rows = con.execute("SELECT count(*) FROM signals WHERE source LIKE 'enrich:%'").fetchall()
    return int(rows[0][0]) if rows else 0
