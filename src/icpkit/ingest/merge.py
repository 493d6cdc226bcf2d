"""Merging a normalized file (the temporary ``norm`` table) into the store by key.

Keys make re-imports idempotent: a deal is ``<system>:<record id>`` (without an id: its
company, name and create date, see :func:`_deal_content_keys`), an account the key
of its website (the registrable domain, or the page or site on a shared platform), else
the account its CRM record id already has, else ``name:<normalized name>``
(``id:<system>:<record id>`` when records of different ids share a name), a signal the
hash of its account, type, detail and date. Rows of the same key replace
the old ones; account attributes merge, a new non-empty value winning over an old one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa

from icpkit.config import IngestSettings
from icpkit.ingest.cells import name_keys_sql
from icpkit.ingest.detect import Layout
from icpkit.ingest.normalize.names import name_keys
from icpkit.ingest.normalize.titles import department_of, seniority_of
from icpkit.ingest.problems import Problem, Scope
from icpkit.store.db import escaped, literal

if TYPE_CHECKING:
    from icpkit.ingest.report import FileReport

# Account attributes any file may carry (a Salesforce opportunity report carries them too).
ATTRIBUTES = (
    "employees",
    "employees_low",
    "employees_high",
    "employees_raw",
    "revenue",
    "revenue_currency",
    "revenue_raw",
    "industry",
    "industry_naics",
    "industry_sector",
    "industry_raw",
    "country",
    "country_raw",
    "city",
    "founded_year",
    "technologies",
    "total_funding",
    "funding_stage",
    "nps",
    "product_usage",
)
COMPANY_ONLY = ("lifecycle_stage", "churned", "churn_date", "created_at")


@dataclass
class LoadContext:
    """What a loader needs besides the ``norm`` table."""

    con: duckdb.DuckDBPyConnection
    file: str
    unit: str
    system: str
    settings: IngestSettings
    present: set[str]
    layout: Layout
    header: list[str]
    # The id this import will be recorded under: the rows it writes carry it from the start
    # (an UPDATE of every new row afterwards would make the commit rewrite them).
    import_id: int

    def provenance(self, line: str = "line") -> str:
        """SQL columns naming the file, line and import a new row comes from."""
        return (
            f"{literal(self.file)} AS source_file, {line} AS source_line, "
            f"{self.import_id} AS import_id"
        )

    def problem(
        self,
        reason: str,
        scope: Scope,
        line: int | None,
        field: str | None = None,
        value: str | None = None,
    ) -> Problem:
        column = self.layout.column_of(field) if field else None
        return Problem(self.file, reason, scope, line, column, value, self.unit)


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> list[Any]:
    return con.execute(sql, params or []).fetchall()


def _add_name_keys(ctx: LoadContext, column: str, where: str = "true") -> None:
    """Add ``name_key`` to ``norm`` from the company names in ``column``, once per name.

    ``where`` limits the rows that need a key (the others keep NULL): name keys cost a
    Python call per distinct name, and rows already tied to a known account need none.
    """
    con = ctx.con
    # Names in ASCII or accented Latin letters are keyed in SQL (the twin of
    # company_name_key), the rest in Python.
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE lk_names AS {
            name_keys_sql(
                f"(SELECT DISTINCT {column} AS raw FROM norm "
                f"WHERE {column} IS NOT NULL AND ({where}))"
            )
        }"""
    )
    names = [r[0] for r in _rows(con, "SELECT raw FROM lk_names WHERE NOT fast")]
    keys = name_keys(names)
    if names:
        con.register(
            "py_names",
            pa.table({"raw": pa.array(names, pa.string()), "key": pa.array(keys, pa.string())}),
        )
        con.execute(
            "UPDATE lk_names SET key = py_names.key FROM py_names WHERE lk_names.raw = py_names.raw"
        )
        con.unregister("py_names")
    con.execute("ALTER TABLE norm ADD COLUMN name_key VARCHAR")
    con.execute(
        f"UPDATE norm SET name_key = lk_names.key FROM lk_names "
        f"WHERE lk_names.raw = norm.{column} AND ({where})"
    )
    con.execute("DROP TABLE lk_names")


def _quarantine_rows(
    ctx: LoadContext,
    report: FileReport,
    lines_reasons: Sequence[tuple[int, str, str | None, str | None]],
) -> None:
    """Move rows from ``norm`` into the report as row problems (line, reason, field, value)."""
    if not lines_reasons:
        return
    lines = sorted({lr[0] for lr in lines_reasons})
    # A row set aside whole no longer needs its own cell problems.
    dropped = set(lines)
    report.problems[:] = [
        p for p in report.problems if not (p.scope == "cell" and p.line in dropped)
    ]
    for line, reason, field, value in lines_reasons:
        report.problems.append(ctx.problem(reason, "row", line, field, value))
    ctx.con.register("dropped_lines", pa.table({"line": pa.array(lines, pa.int64())}))
    ctx.con.execute("DELETE FROM norm WHERE line IN (SELECT line FROM dropped_lines)")
    ctx.con.unregister("dropped_lines")


def _duplicate_ids(ctx: LoadContext, report: FileReport, id_label: str) -> None:
    """Same id twice: identical rows merge into one, differing rows are all quarantined."""
    con = ctx.con
    if "source_id" not in ctx.present:
        return
    raw_cols = [r[0] for r in _rows(con, "DESCRIBE raw") if r[0] != "line"]
    row_hash = "md5(concat_ws('\x1f', " + ", ".join(f"coalesce({c}, '')" for c in raw_cols) + "))"
    # Only the rows of repeated ids are hashed: most exports repeat none.
    dups = _rows(
        con,
        f"""SELECT n.source_id, list(n.line ORDER BY n.line), list({row_hash} ORDER BY n.line)
            FROM norm n JOIN raw USING (line)
            WHERE n.source_id IN (SELECT source_id FROM norm WHERE source_id IS NOT NULL
                                  GROUP BY source_id HAVING count(*) > 1)
            GROUP BY n.source_id""",
    )
    drop: list[tuple[int, str, str | None, str | None]] = []
    merged_lines: list[int] = []
    for source_id, lines, hashes in dups:
        if len(set(hashes)) == 1:
            merged_lines.extend(lines[1:])
            continue
        where = ", ".join(str(x) for x in lines)
        diff = _first_difference(ctx, lines)
        for line in lines:
            drop.append(
                (
                    line,
                    f"duplicate {id_label} {source_id} on lines {where} with "
                    f"different values{diff}; fix the export or keep one row",
                    "source_id",
                    source_id,
                )
            )
    if merged_lines:
        report.duplicates_merged += len(merged_lines)
        report.notes.append(
            f"{len(merged_lines)} exact duplicate rows (same {id_label}, same values) loaded once"
        )
        con.register("merged_lines", pa.table({"line": pa.array(merged_lines, pa.int64())}))
        con.execute("DELETE FROM norm WHERE line IN (SELECT line FROM merged_lines)")
        con.unregister("merged_lines")
    _quarantine_rows(ctx, report, drop)


def _first_difference(ctx: LoadContext, lines: list[int]) -> str:
    """The first column where two rows of a duplicated id differ, for the message."""
    cols = [r[0] for r in _rows(ctx.con, "DESCRIBE raw")]
    rows = _rows(ctx.con, f"SELECT * FROM raw WHERE line IN ({lines[0]}, {lines[1]}) ORDER BY line")
    if len(rows) < 2:
        return ""
    for i, col in enumerate(cols):
        if col != "line" and rows[0][i] != rows[1][i]:
            name = ctx.header[int(col[1:])]
            return f" (column {name!r}: {rows[0][i]!r} vs {rows[1][i]!r})"
    return ""


def _first_of(key: str, line: str, relation: str) -> str:
    """SQL condition keeping the first row (by ``line``, unique in ``relation``) of each
    ``key``: one hash aggregation rather than a window sorting every row."""
    return f"{line} IN (SELECT min({line}) FROM {relation} GROUP BY {key})"


def _first_by_line(key: str) -> str:
    """SQL clause keeping one row, the first by line, of each ``key``."""
    return f"QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY line) = 1"


def _account_key_expr(domain: str, name_key: str) -> str:
    return f"coalesce({domain}, CASE WHEN {name_key} IS NOT NULL THEN 'name:' || {name_key} END)"


def _rank(alias: str) -> str:
    return f"(CASE {alias}.origin WHEN 'record' THEN 3 WHEN 'deal' THEN 2 ELSE 1 END)"


def _upsert_accounts(
    con: duckdb.DuckDBPyConnection, select_sql: str, origin: str, *, new_keys: bool = False
) -> int:
    """Merge rows of ``select_sql`` (one or more per account_key) into ``accounts``;
    ``new_keys``: its keys are none of those in ``accounts`` (it says so itself)."""
    cols = (
        "name",
        "name_key",
        "domain",
        *ATTRIBUTES,
        *COMPANY_ONLY,
        "extra",
        "source_file",
        "source_line",
        "import_id",
    )
    # A view, never copied: read up to three times below. ``accounts`` changes before its last
    # read only where it holds keys of the view (the rows set aside in ``acc_old``), and a
    # view of keys new to ``accounts`` has none.
    con.execute(f"CREATE OR REPLACE TEMP VIEW acc_in AS {select_sql}")
    have = {r[0] for r in _rows(con, "DESCRIBE acc_in")}
    firsts = ", ".join(
        f"min_by({c}, source_line) FILTER (WHERE {c} IS NOT NULL) AS {c}"
        if c in have
        else f"NULL AS {c}"
        for c in cols
    )
    # A key of one row keeps that row's values; only keys of several rows are aggregated
    # (the first non-empty value of each column, by line).
    alone = ", ".join(f"{c}" if c in have else f"NULL AS {c}" for c in cols)
    con.execute(
        """CREATE OR REPLACE TEMP TABLE acc_many AS
           SELECT account_key FROM acc_in GROUP BY account_key HAVING count(*) > 1"""
    )
    new_rows = f"""
        SELECT account_key, {alone}, '{origin}' AS origin FROM acc_in
        WHERE NOT EXISTS (SELECT 1 FROM acc_many m
                          WHERE m.account_key IS NOT DISTINCT FROM acc_in.account_key)
        UNION ALL
        SELECT account_key, {firsts}, '{origin}' AS origin FROM acc_in
        WHERE EXISTS (SELECT 1 FROM acc_many m
                      WHERE m.account_key IS NOT DISTINCT FROM acc_in.account_key)
        GROUP BY account_key"""
    # The better source wins (a CRM record over a deal's company columns over a bare stub),
    # and fills its gaps from the other; a tie goes to the newer import.
    new_wins = f"(a.origin IS NULL OR {_rank('n')} >= {_rank('a')})"
    provenance = {"source_file", "source_line", "import_id"}
    merged_cols = ", ".join(
        f"CASE WHEN {new_wins} THEN n.{c} ELSE a.{c} END AS {c}"
        if c in provenance
        else f"CASE WHEN {new_wins} THEN coalesce(n.{c}, a.{c}) ELSE coalesce(a.{c}, n.{c}) END "
        f"AS {c}"
        for c in cols
    )
    # Only the accounts already stored under a new key are set aside, replaced, and merged
    # with the new rows on their way in. When there are none (a first import, a file of new
    # companies, the stubs of new ones) the new rows go in as they are: what the merge gives
    # against nothing, without a CASE per column and row (631,076 companies: 0.4-0.5 s).
    old = not new_keys and _rows(con, "SELECT EXISTS (SELECT 1 FROM accounts)")[0][0]
    if old:
        con.execute(
            """CREATE OR REPLACE TEMP TABLE acc_old AS
               SELECT * FROM accounts WHERE account_key IN (SELECT account_key FROM acc_in)"""
        )
        old = _rows(con, "SELECT EXISTS (SELECT 1 FROM acc_old)")[0][0]
    if old:
        con.execute("DELETE FROM accounts WHERE account_key IN (SELECT account_key FROM acc_old)")
        merged = f"""SELECT n.account_key, {merged_cols},
                            CASE WHEN {new_wins} THEN n.origin ELSE a.origin END AS origin,
                            a.enriched
                     FROM ({new_rows}) n LEFT JOIN acc_old a USING (account_key)"""
    else:
        merged = f"SELECT account_key, {', '.join(cols)}, origin FROM ({new_rows})"
    n = _rows(con, f"INSERT INTO accounts BY NAME {merged}")[0][0]
    con.execute("DROP VIEW acc_in")
    con.execute("DROP TABLE acc_many")
    con.execute("DROP TABLE IF EXISTS acc_old")
    return int(n)


def load_companies(ctx: LoadContext, report: FileReport) -> None:
    """Companies / accounts export -> ``accounts`` and ``account_ids``."""
    con = ctx.con
    _add_name_keys(ctx, "company_name")
    missing = _rows(con, "SELECT line FROM norm WHERE company_domain IS NULL AND name_key IS NULL")
    _quarantine_rows(
        ctx,
        report,
        [
            (
                line,
                "no company name or domain: nothing identifies the account",
                "company_name",
                None,
            )
            for (line,) in missing
        ],
    )
    _duplicate_ids(ctx, report, "Record ID")
    _company_keys(ctx, report)
    shared = _rows(con, "SELECT count(*) - count(DISTINCT account_key) FROM norm")[0][0]
    if shared:
        report.notes.append(
            f"{shared} company records share a domain (or name) with another "
            "record in the file and were merged into one account"
        )
    attrs = ", ".join(ATTRIBUTES)
    _upsert_accounts(
        con,
        f"""SELECT account_key, company_name AS name, name_key, company_domain AS domain, {attrs},
                   lifecycle_stage, churned, churn_date, created_at, extra,
                   {ctx.provenance()}
            FROM norm""",
        "record",
    )
    con.execute(
        "DELETE FROM account_ids WHERE system = ? AND source_id IN "
        "(SELECT source_id FROM norm WHERE source_id IS NOT NULL)",
        [ctx.system],
    )
    con.execute(
        "INSERT INTO account_ids SELECT DISTINCT ?, source_id, account_key FROM norm "
        "WHERE source_id IS NOT NULL",
        [ctx.system],
    )
    _move_rekeyed(con)


def _company_keys(ctx: LoadContext, report: FileReport) -> None:
    """Give each company row its account key: domain, else the account its CRM id already
    has, else its name; never a name another record id of the same system also carries.

    A record id is the CRM's own identity for a company, so it beats the name: a renamed
    company keeps its account, and two records that share a name (two "Acme" with
    different ids) stay two accounts, keyed ``id:<system>:<record id>``.
    """
    con = ctx.con
    system = escaped(ctx.system)
    con.execute("ALTER TABLE norm ADD COLUMN account_key VARCHAR")
    con.execute("ALTER TABLE norm ADD COLUMN previous_key VARCHAR")
    con.execute(
        f"""UPDATE norm SET previous_key = ids.account_key FROM account_ids ids
            WHERE ids.system = '{system}' AND ids.source_id = norm.source_id"""
    )
    # Name keys carried by more than one record id, in this file or already in the store.
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE shared_names AS
            SELECT name_key FROM (
                SELECT name_key, source_id FROM norm
                WHERE name_key IS NOT NULL AND source_id IS NOT NULL
                UNION
                SELECT a.name_key, ids.source_id FROM account_ids ids
                JOIN accounts a USING (account_key)
                WHERE ids.system = '{system}' AND a.account_key LIKE 'name:%'
                  AND a.name_key IS NOT NULL)
            GROUP BY name_key HAVING count(DISTINCT source_id) > 1"""
    )
    con.execute(
        f"""UPDATE norm SET account_key = coalesce(
                company_domain,
                previous_key,
                CASE WHEN source_id IS NOT NULL
                      AND name_key IN (SELECT name_key FROM shared_names)
                     THEN 'id:{system}:' || source_id END,
                CASE WHEN name_key IS NOT NULL THEN 'name:' || name_key END)"""
    )
    split = _rows(
        con,
        f"SELECT count(DISTINCT account_key) FROM norm WHERE account_key LIKE 'id:{system}:%'",
    )[0][0]
    if split:
        report.notes.append(
            f"{split} company records share a name with a record of another id and no "
            "website: kept as separate accounts, keyed by their record id"
        )
    # Keys that change (a name-keyed company that now has a website) move what they hold.
    con.execute(
        """CREATE OR REPLACE TEMP TABLE rekeyed AS
           SELECT DISTINCT previous_key AS old_key, account_key AS new_key FROM norm
           WHERE previous_key IS NOT NULL AND previous_key <> account_key
             AND (previous_key LIKE 'name:%' OR previous_key LIKE 'id:%')"""
    )
    con.execute("DROP TABLE shared_names")
    con.execute("ALTER TABLE norm DROP COLUMN previous_key")


def _move_rekeyed(con: duckdb.DuckDBPyConnection) -> None:
    """Point deals, signals and contacts of re-keyed accounts at their new key and drop the
    old account once no record id refers to it any more (its values fill the new one)."""
    con.execute(
        """DELETE FROM rekeyed WHERE old_key IN
           (SELECT account_key FROM account_ids)
           OR old_key IN (SELECT old_key FROM rekeyed GROUP BY 1 HAVING count(*) > 1)"""
    )
    for table in ("deals", "signals", "contacts"):
        con.execute(
            f"UPDATE {table} SET account_key = r.new_key FROM rekeyed r "
            f"WHERE {table}.account_key = r.old_key"
        )
    fill = ", ".join(f"{c} = coalesce(accounts.{c}, s.{c})" for c in (*ATTRIBUTES, *COMPANY_ONLY))
    con.execute(
        f"""UPDATE accounts SET {fill}
            FROM rekeyed r JOIN accounts s ON s.account_key = r.old_key
            WHERE accounts.account_key = r.new_key"""
    )
    con.execute("DELETE FROM accounts WHERE account_key IN (SELECT old_key FROM rekeyed)")
    con.execute("DROP TABLE rekeyed")


def load_deals(ctx: LoadContext, report: FileReport) -> None:
    """Deals / opportunities export -> ``deals`` (and the accounts they name)."""
    con = ctx.con
    settings = ctx.settings
    con.execute("ALTER TABLE norm ADD COLUMN outcome VARCHAR")
    con.execute(
        # Won / closed checkboxes beat the status, which beats the stage: a stage label
        # is the least exact record of the outcome.
        """UPDATE norm SET outcome = CASE
             WHEN won IS NOT NULL AND closed IS NOT NULL
               THEN CASE WHEN won THEN 'won' WHEN closed THEN 'lost' ELSE 'open' END
             WHEN won THEN 'won'
             WHEN closed = false THEN 'open'
             WHEN won = false
               THEN CASE WHEN coalesce(status, stage) = 'won' THEN 'lost'
                         ELSE coalesce(status, stage) END
             WHEN closed
               THEN CASE WHEN coalesce(status, stage) = 'open' THEN 'lost'
                         ELSE coalesce(status, stage) END
             WHEN status IS NOT NULL THEN status
             ELSE stage END"""
    )
    no_outcome = _rows(
        con,
        "SELECT line, coalesce(stage_raw, status_raw), stage_raw IS NOT NULL OR "
        "status_raw IS NOT NULL FROM norm WHERE outcome IS NULL",
    )
    cell_reason = {(p.line, p.column): p.reason for p in report.problems if p.scope == "cell"}
    stage_col = ctx.layout.column_of("stage") or ctx.layout.column_of("status")
    drops = []
    for line, value, had_value in no_outcome:
        why = cell_reason.get((line, stage_col)) if had_value else None
        reason = (
            f"stage unusable ({why})"
            if why
            else "no stage or status: cannot tell won, lost or open"
        )
        drops.append((line, reason, "stage" if "stage" in ctx.present else "status", value))
    _quarantine_rows(ctx, report, drops)
    _duplicate_ids(ctx, report, "Record ID")

    # Close before create: keep both dates, leave the cycle empty, and say so.
    backwards = _rows(
        con,
        "SELECT line, closed_at_raw, created_at, closed_at FROM norm WHERE closed_at < created_at",
    )
    for line, raw, created, closed in backwards:
        report.problems.append(
            ctx.problem(
                f"close date {closed:%Y-%m-%d} is before create date {created:%Y-%m-%d}; "
                "dates kept, sales cycle left empty",
                "cell",
                line,
                "closed_at",
                raw,
            )
        )

    _add_name_keys(
        ctx,
        "company_name",
        f"""company_domain IS NULL AND (company_source_id IS NULL OR company_source_id NOT IN
            (SELECT source_id FROM {known_ids(escaped(ctx.system))}))""",
    )
    system = escaped(ctx.system)
    # The accounts the deals name: attributes when the export carries them, else a stub.
    has_attrs = bool(ctx.present & set(ATTRIBUTES))
    # Only the columns read below are kept: the deals' own, and what their accounts take.
    kept = ", ".join(f"n.{c}" for c in (*_DEAL_COLUMNS, *(ATTRIBUTES if has_attrs else ())))
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE deal_rows AS
            SELECT {kept},
                   CASE WHEN n.source_id IS NOT NULL THEN '{system}:' || n.source_id
                        ELSE n.content_key END AS deal_key,
                   coalesce(ids.account_key, n.company_domain, named.account_key,
                            CASE WHEN n.name_key IS NOT NULL THEN 'name:' || n.name_key END)
                     AS account_key
            FROM {_deal_content_keys(con)} n
            LEFT JOIN {known_ids(system)} ids ON ids.source_id = n.company_source_id
            LEFT JOIN (SELECT name_key, min(account_key) AS account_key FROM accounts
                       WHERE name_key IS NOT NULL GROUP BY name_key HAVING count(*) = 1) named
              ON named.name_key = n.name_key"""
    )
    # Deals with a company id the workspace does not know yet are counted below (orphans).
    unlinked = _rows(
        con,
        "SELECT count(*) FROM deal_rows WHERE account_key IS NULL AND company_source_id IS NULL",
    )[0][0]
    report.unlinked = unlinked
    if unlinked:
        report.notes.append(
            f"{unlinked} deals name no company (no id, name or domain); loaded without an account"
        )
    dup_keys = _rows(con, "SELECT count(*) - count(DISTINCT deal_key) FROM deal_rows")[0][0]
    if dup_keys:
        report.duplicates_merged += dup_keys
        report.notes.append(
            f"{dup_keys} rows without an id repeat another row exactly; loaded once"
        )
    # deal_rows holds the keys the new rows carry: the old rows of those keys give way, and
    # the new ones go straight in, without a copy of their own.
    con.execute("DELETE FROM deals WHERE deal_key IN (SELECT deal_key FROM deal_rows)")
    con.execute(
        f"""INSERT INTO deals BY NAME
            SELECT deal_key, '{system}' AS system, source_id, account_key, company_source_id,
                   company_name, name, trim(stage_raw) AS stage, outcome, amount,
                   coalesce(currency, amount_currency) AS currency, amount_raw,
                   created_at, closed_at,
                   CASE WHEN outcome <> 'open' AND closed_at >= created_at
                        THEN date_diff('day', created_at, closed_at) END AS cycle_days,
                   deal_type,
                   {_is_expansion(settings.expansion_deal_types)} AS is_expansion,
                   pipeline, owner, lost_reason, extra,
                   {ctx.provenance()}
            FROM deal_rows {_first_by_line("deal_key") if dup_keys else ""}"""
    )

    attrs = ", ".join(ATTRIBUTES) if has_attrs else ""
    # Without attributes a deal only adds accounts the store does not know yet.
    only_new = "" if has_attrs else "AND account_key NOT IN (SELECT account_key FROM accounts)"
    _upsert_accounts(
        con,
        f"""SELECT account_key, company_name AS name, name_key, company_domain AS domain
                   {", " + attrs if attrs else ""},
                   {ctx.provenance()}
            FROM deal_rows WHERE account_key IS NOT NULL {only_new}""",
        "deal" if has_attrs else "stub",
    )
    if "company_source_id" in ctx.present:
        con.execute(
            f"""INSERT INTO account_ids
                SELECT DISTINCT '{system}', company_source_id, account_key FROM deal_rows
                WHERE company_source_id IS NOT NULL AND account_key IS NOT NULL
                  AND account_key NOT LIKE 'name:%'
                  AND (company_source_id) NOT IN
                      (SELECT source_id FROM account_ids WHERE system = '{system}')"""
        )
    orphans = _rows(
        con,
        f"""SELECT count(*) FROM deal_rows WHERE company_source_id IS NOT NULL
                 AND company_source_id NOT IN
                     (SELECT source_id FROM {known_ids(system)})""",
    )[0][0]
    if orphans:
        report.notes.append(
            f"{orphans} deals point to company ids not in the workspace; they link when a "
            "companies file with those ids is ingested"
        )
    con.execute("DROP TABLE deal_rows")


def load_signals(ctx: LoadContext, report: FileReport) -> None:
    """Dated intent events -> ``signals``."""
    con = ctx.con
    _add_name_keys(
        ctx,
        "company_name",
        "company_domain IS NULL OR company_domain NOT IN (SELECT account_key FROM accounts)",
    )
    bad = _rows(
        con,
        "SELECT line, observed_at_raw, signal_type, company_domain IS NULL AND name_key IS NULL"
        " FROM norm WHERE observed_at IS NULL OR signal_type IS NULL "
        "OR (company_domain IS NULL AND name_key IS NULL)",
    )
    drops: list[tuple[int, str, str | None, str | None]] = []
    cell_reason = {p.line: p.reason for p in report.problems if p.scope == "cell"}
    for line, date_raw, signal_type, no_company in bad:
        if no_company:
            drops.append((line, "no company domain or name", "company_domain", None))
        elif signal_type is None:
            drops.append((line, "no signal type", "signal_type", None))
        else:
            why = cell_reason.get(line, "no date")
            drops.append((line, f"signal date unusable ({why})", "observed_at", date_raw))
    _quarantine_rows(ctx, report, drops)
    # The new rows go straight into ``signals`` (marked with this import's id), then the
    # old rows of the same keys give way: no copy of their own. Their keys are computed
    # once (a materialized CTE), not again for the first of each key.
    stype, params = _signal_type_sql(con)
    kept = _rows(
        con,
        f"""INSERT INTO signals BY NAME
            WITH s AS MATERIALIZED (
                SELECT md5(concat_ws('|', acct, stype, detail, observed_at)) AS signal_key,
                       acct AS account_key, stype AS signal_type, detail, observed_at, source,
                       extra, {ctx.provenance()}
                FROM (SELECT *, {_account_key_expr("company_domain", "name_key")} AS acct,
                             {stype} AS stype
                      FROM norm))
            SELECT * FROM s WHERE {_first_of("signal_key", "source_line", "s")}""",
        params,
    )[0][0]
    total = _rows(con, "SELECT count(*) FROM norm")[0][0]
    if total > kept:
        report.duplicates_merged += total - kept
        report.notes.append(
            f"{total - kept} repeated signals (same company, type, detail and date) loaded once"
        )
    con.execute(
        """DELETE FROM signals WHERE import_id IS DISTINCT FROM $1 AND signal_key IN
               (SELECT signal_key FROM signals WHERE import_id = $1)""",
        [ctx.import_id],
    )
    # The companies no account holds yet, found once: the merge reads them more than once,
    # and each read of a view would join every signal of the file to its row again. Only
    # their signals meet the file's rows (2M signals, 60,000 of them: 0.12 s against 0.26 s
    # for joining every signal first).
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE signal_stubs AS
            SELECT s.account_key, n.company_name AS name, n.name_key,
                   CASE WHEN s.account_key NOT LIKE 'name:%' THEN s.account_key END AS domain,
                   {ctx.provenance("s.source_line")}
            FROM (SELECT account_key, source_line FROM signals
                  WHERE import_id = {ctx.import_id}
                    AND account_key NOT IN (SELECT account_key FROM accounts)) s
            JOIN norm n ON n.line = s.source_line"""
    )
    _upsert_accounts(con, "SELECT * FROM signal_stubs", "stub", new_keys=True)
    con.execute("DROP TABLE signal_stubs")


# A signal type as stored: 'Web Visit', ' web-visit ' and 'WEB_VISIT' are all 'web_visit'.
_SIGNAL_TYPE = "regexp_replace(lower(trim(signal_type)), '[^a-z0-9]+', '_', 'g')"
# Up to this many distinct types are named once each and looked up per row.
_TYPES_LOOKED_UP = 64


def _signal_type_sql(con: duckdb.DuckDBPyConnection) -> tuple[str, list[Any] | None]:
    """SQL of each row's stored signal type (from ``norm``) and its parameters: a file holds a
    handful of distinct types over millions of rows, so each is named once here and looked
    up by position (2M rows: 0.04 s against 0.43 s for the regular expression per row);
    past ``_TYPES_LOOKED_UP`` distinct types, the expression per row."""
    named = _rows(
        con,
        f"""SELECT signal_type, {_SIGNAL_TYPE} FROM norm WHERE signal_type IS NOT NULL
            GROUP BY signal_type LIMIT {_TYPES_LOOKED_UP + 1}""",
    )
    if len(named) > _TYPES_LOOKED_UP:
        return _SIGNAL_TYPE, None
    written, stored = [w for w, _ in named], [s for _, s in named]
    return "($2::VARCHAR[])[list_position($1::VARCHAR[], signal_type)]", [written, stored]


def _fill_from_titles(ctx: LoadContext) -> None:
    """Seniority and department read from the job title where the export leaves them empty."""
    con = ctx.con
    titles = [
        r[0] for r in _rows(con, "SELECT DISTINCT job_title FROM norm WHERE job_title IS NOT NULL")
    ]
    con.register(
        "lk_titles",
        pa.table(
            {
                "raw": pa.array(titles, pa.string()),
                "seniority": pa.array([seniority_of(t) for t in titles], pa.string()),
                "department": pa.array([department_of(t) for t in titles], pa.string()),
            }
        ),
    )
    con.execute(
        """UPDATE norm SET seniority = coalesce(norm.seniority, t.seniority),
                          department = coalesce(norm.department, t.department)
           FROM lk_titles t WHERE t.raw = norm.job_title"""
    )
    con.unregister("lk_titles")


def load_contacts(ctx: LoadContext, report: FileReport) -> None:
    """Contacts / people export -> ``contacts``, linked to the accounts they work at."""
    con = ctx.con
    system = escaped(ctx.system)
    _fill_from_titles(ctx)
    _duplicate_ids(ctx, report, "Record ID")
    _add_name_keys(
        ctx,
        "company_name",
        f"""coalesce(company_domain, contact_email_domain) IS NULL AND (company_source_id IS NULL
            OR company_source_id NOT IN
            (SELECT source_id FROM {known_ids(system)}))""",
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE contact_rows AS
            SELECT n.*,
                   CASE WHEN n.source_id IS NOT NULL THEN '{system}:' || n.source_id
                        WHEN n.contact_email IS NOT NULL THEN 'email:' || n.contact_email
                        ELSE 'row:' || md5(concat_ws('|', n.first_name, n.last_name,
                             n.full_name, n.company_name)) END AS contact_key,
                   coalesce(ids.account_key, n.company_domain, n.contact_email_domain,
                            CASE WHEN n.name_key IS NOT NULL THEN 'name:' || n.name_key END)
                     AS account_key
            FROM norm n
            LEFT JOIN {known_ids(system)} ids ON ids.source_id = n.company_source_id"""
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE contact_new AS
            SELECT contact_key, '{system}' AS system, source_id, account_key, company_source_id,
                   company_name, first_name, last_name,
                   coalesce(full_name, NULLIF(concat_ws(' ', first_name, last_name), ''))
                     AS full_name,
                   contact_email AS email, job_title, seniority, department, lifecycle_stage,
                   created_at, extra, {ctx.provenance()}
            FROM contact_rows {_first_by_line("contact_key")}"""
    )
    total = _rows(con, "SELECT count(*) FROM contact_rows")[0][0]
    kept = _rows(con, "SELECT count(*) FROM contact_new")[0][0]
    if total > kept:
        report.duplicates_merged += total - kept
        report.notes.append(f"{total - kept} repeated contacts (same email or name) loaded once")
    con.execute("DELETE FROM contacts WHERE contact_key IN (SELECT contact_key FROM contact_new)")
    con.execute("INSERT INTO contacts BY NAME SELECT * FROM contact_new")
    _upsert_accounts(
        con,
        f"""SELECT account_key, company_name AS name, name_key,
                   CASE WHEN account_key NOT LIKE 'name:%' THEN account_key END AS domain,
                   {ctx.provenance()}
            FROM contact_rows WHERE account_key IS NOT NULL
              AND account_key NOT IN (SELECT account_key FROM accounts)""",
        "stub",
        new_keys=True,
    )
    con.execute("DROP TABLE contact_rows")
    con.execute("DROP TABLE contact_new")


# The columns of ``norm`` a deal's row and its account's stub are made of.
_DEAL_COLUMNS = (
    "line",
    "source_id",
    "company_source_id",
    "company_name",
    "company_domain",
    "name_key",
    "name",
    "stage_raw",
    "outcome",
    "amount",
    "currency",
    "amount_currency",
    "amount_raw",
    "created_at",
    "closed_at",
    "deal_type",
    "pipeline",
    "owner",
    "lost_reason",
    "extra",
)


def _is_expansion(deal_types: Sequence[str]) -> str:
    """SQL: whether ``deal_type`` names one of the expansion deal types (any case)."""
    if not deal_types:
        return "false"
    tests = " OR ".join(f"contains(lower(deal_type), {literal(t.casefold())})" for t in deal_types)
    return f"coalesce({tests}, false)"


# What identifies a deal without a record id and stays put as it progresses: its company,
# name and create date. Stage, amount and close date change, so they are not in the key.
_DEAL_IDENTITY = (
    "coalesce(lower(trim(company_name)), '')",
    "coalesce(company_domain, '')",
    "coalesce(lower(trim(name)), '')",
    "coalesce(CAST(created_at AS VARCHAR), '')",
)


def _deal_content_keys(con: duckdb.DuckDBPyConnection) -> str:
    """``norm`` with ``content_key``: the stable key of a deal that has no record id.

    A corrected export (a new stage, amount or close date) keeps each deal's key, so it
    updates the deal instead of adding one. Rows sharing company, name and create date are
    numbered by their first line in the file (``deal:<md5>:2``); exact repeats share a
    number and so load once. When every deal has its id, no content key is needed.
    """
    if not _rows(con, "SELECT count(*) FROM norm WHERE source_id IS NULL")[0][0]:
        return "(SELECT *, NULL::VARCHAR AS content_key FROM norm)"
    identity = ", ".join(_DEAL_IDENTITY)
    return f"""(SELECT *, 'deal:' || md5(concat_ws('|', {identity}))
                       || CASE WHEN occurrence > 1 THEN ':' || occurrence ELSE '' END
                       AS content_key
                FROM (SELECT *, dense_rank() OVER (PARTITION BY {identity} ORDER BY first_line)
                                AS occurrence
                      FROM (SELECT *, min(line) OVER (PARTITION BY {identity}, closed_at,
                                                      amount_raw, stage_raw) AS first_line
                            FROM norm)))"""


def known_ids(system: str) -> str:
    """SQL relation (source_id, account_key) of the company ids a ``system`` file may name: its
    own CRM's, then any other file's id that only one account holds. One vendor's export set
    can be named two ways (a companies file with nothing but generic names next to a deals
    file in HubSpot's), and its ids must still link."""
    return f"""(SELECT source_id, account_key FROM account_ids WHERE system = '{system}'
               UNION ALL
               SELECT source_id, min(account_key) FROM account_ids
               WHERE source_id NOT IN (SELECT source_id FROM account_ids WHERE system = '{system}')
               GROUP BY source_id HAVING min(account_key) = max(account_key))"""


def relink(con: duckdb.DuckDBPyConnection) -> None:
    """Tie deals and signals to the best account key now known, across all imported files."""
    # Deals and contacts whose company id is now known (see known_ids). An id one account
    # holds is one whose least and greatest account keys are the same: a cheaper test than
    # counting its distinct keys.
    for table in ("deals", "contacts"):
        if not _rows(
            con, f"SELECT EXISTS (SELECT 1 FROM {table} WHERE company_source_id IS NOT NULL)"
        )[0][0]:
            continue
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE id_links AS
                SELECT t.system, t.source_id,
                       coalesce(own.account_key, other.account_key) AS account_key
                FROM (SELECT DISTINCT system, company_source_id AS source_id FROM {table}
                      WHERE company_source_id IS NOT NULL) t
                LEFT JOIN account_ids own
                  ON own.system = t.system AND own.source_id = t.source_id
                LEFT JOIN (SELECT source_id, min(account_key) AS account_key FROM account_ids
                           GROUP BY source_id HAVING min(account_key) = max(account_key)) other
                  ON other.source_id = t.source_id"""
        )
        con.execute(
            f"""UPDATE {table} SET account_key = ids.account_key FROM id_links ids
                WHERE ids.system = {table}.system AND ids.source_id = {table}.company_source_id
                  AND ids.account_key IS NOT NULL
                  AND {table}.account_key IS DISTINCT FROM ids.account_key"""
        )
    con.execute("DROP TABLE IF EXISTS id_links")
    # Name-only accounts that one domain account now claims (same normalized name).
    con.execute(
        """CREATE OR REPLACE TEMP TABLE renames AS
           SELECT s.account_key AS old_key, min(d.account_key) AS new_key
           FROM accounts s JOIN accounts d
             ON d.name_key = s.name_key AND d.account_key NOT LIKE 'name:%'
           WHERE s.account_key LIKE 'name:%'
           GROUP BY s.account_key HAVING count(DISTINCT d.account_key) = 1"""
    )
    for table in ("deals", "signals", "contacts", "account_ids"):
        con.execute(
            f"UPDATE {table} SET account_key = r.new_key FROM renames r "
            f"WHERE {table}.account_key = r.old_key"
        )
    fill = ", ".join(
        f"{c} = coalesce(accounts.{c}, s.{c})" for c in ("name", *ATTRIBUTES, *COMPANY_ONLY)
    )
    con.execute(
        f"""UPDATE accounts SET {fill},
                origin = CASE WHEN {_rank("s")} > {_rank("accounts")}
                              THEN s.origin ELSE accounts.origin END
            FROM renames r JOIN accounts s ON s.account_key = r.old_key
            WHERE accounts.account_key = r.new_key"""
    )
    con.execute("DELETE FROM accounts WHERE account_key IN (SELECT old_key FROM renames)")
    con.execute("DROP TABLE renames")
    # Stubs nothing points to any more: one anti join, whose smaller side DuckDB hashes (a
    # few stubs against 1M deals and 2M signals: 0.05 s, where a NOT IN per table hashed
    # every row's account for 0.07-0.24 s; as fast as those when every account is a stub).
    con.execute(
        """DELETE FROM accounts WHERE account_key IN (
               SELECT s.account_key
               FROM (SELECT account_key FROM accounts WHERE origin = 'stub') s
               ANTI JOIN (SELECT account_key FROM deals
                          UNION ALL SELECT account_key FROM signals
                          UNION ALL SELECT account_key FROM contacts) r USING (account_key))"""
    )


__all__ = [
    "LoadContext",
    "load_companies",
    "load_contacts",
    "load_deals",
    "load_signals",
    "relink",
]
