"""Scoring a raw companies export without loading it: one read, normalized in the engine.

``icp score`` of a raw CRM export gives what loading it as companies into a scratch store
and scoring those accounts gives (see :func:`icpkit.engines.prospects.ingest_accounts`):
the same layout detection, the same normalizers, the same quarantine (file, line, column,
value, reason), the same account keys and merging of records that share one. It gets
there in a few set-based passes instead of the load's many: the CSV is read once by
DuckDB with the reader's own dialect, only the columns the scorecard and the quarantine
need are kept, each is normalized over its distinct values
(:func:`icpkit.ingest.distinct.normalize_distinct`), and the records are merged by key
in one aggregation feeding the compiled scorecard.

A file this path cannot read exactly as the load would (another encoding, quotes out of
place, rows holding NUL bytes, repeated headers, double-encoded text, duplicated record
ids, lists of associated companies) returns None: the caller then loads it the reference
way, which reports and recovers what it can.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa

from icpkit.config import IngestSettings
from icpkit.engines.layout import extra_sources
from icpkit.icp.model import ICP
from icpkit.ingest.cells import check_sample, name_keys_sql
from icpkit.ingest.detect import SAMPLE_ROWS, Layout, column_samples, detect_layout
from icpkit.ingest.distinct import Keep, normalize_distinct
from icpkit.ingest.fields import FIELDS, FieldSpec
from icpkit.ingest.mojibake import MARKERS
from icpkit.ingest.normalize.names import name_keys
from icpkit.ingest.pipeline import _check_revenue_unit, id_list_sql, id_sql, plain_money
from icpkit.ingest.problems import IngestError, Problem
from icpkit.ingest.propose import known_accounts
from icpkit.ingest.readers import (
    SourceTable,
    count_lines,
    open_table,
    swallows_rows_sql,
    unaccounted,
)
from icpkit.ingest.records import count_records
from icpkit.ingest.report import FileReport
from icpkit.store.db import escaped, identifier, literal, path_literal, scalar

# The normalized fields the scorecard reads (the others are read for the quarantine only).
SCORED = (
    "employees",
    "revenue",
    "industry",
    "country",
    "founded_year",
    "technologies",
    "total_funding",
)
# The fields whose values go on past the read (the others are read for the quarantine only,
# and text ones not at all).
KEPT = ("source_id", "company_name", "funding_stage", "company_domain", "company_email", *SCORED)
ACCOUNT_COLUMNS = (
    "name",
    "domain",
    "employees",
    "revenue",
    "industry",
    "country",
    "funding_stage",
    "founded_year",
    "technologies",
    "total_funding",
)
_MARKER = re.compile(MARKERS)


@dataclass
class _Read:
    """The file as staged: its columns kept (field or extra -> SQL column of ``raw``)."""

    table: SourceTable
    layout: Layout
    columns: dict[str, str] = field(default_factory=dict)
    extras: dict[str, str] = field(default_factory=dict)
    rows: int = 0  # the records of ``raw``: those read, less the blank ones


def score_input_from_export(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    icp: ICP | None,
    settings: IngestSettings,
    ids: str,
    deals: str,
    *,
    encoding: str | None = None,
    sheet: str | None = None,
) -> tuple[FileReport, tuple[str, ...]] | None:
    """Create the view ``score_input`` over the companies of the raw export ``path``, as
    :func:`icpkit.engines.prospects.ingested_view` does after loading it; returns the report
    of the read and the identity columns to keep, or None when the file must be loaded the
    reference way. ``settings`` are the ingest settings with the file's companies rule."""
    made = _read_export(con, path, icp, settings, ids, deals, encoding, sheet)
    if made is None:
        for view in ("raw", "export_accounts"):
            con.execute(f"DROP VIEW IF EXISTS {view}")
        for name in (*_STAGED, *(f"lk_{s.name}" for s in FIELDS["companies"])):
            con.execute(f"DROP TABLE IF EXISTS {name}")
    return made


# The tables the read leaves (dropped, with its views, when the file goes the reference way).
_STAGED = (
    "raw0",
    "raw0_lines",
    "norm",
    "nk",
    "nk_more",
    "nk_wanted",
    "nk_text",
    "shared_names",
    "merged_keys",
)


def _read_export(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    icp: ICP | None,
    settings: IngestSettings,
    ids: str,
    deals: str,
    encoding: str | None,
    sheet: str | None,
) -> tuple[FileReport, tuple[str, ...]] | None:
    table = open_table(path, encoding=encoding, sheet=sheet, count=False)
    try:
        read = _stage(con, table, icp, settings)
    finally:
        table.close()
    if read is None:
        return None
    report = FileReport(path=path, encoding=table.encoding, delimiter=table.delimiter)
    report.notes.extend(table.notes)
    layout = read.layout
    report.layout, report.entity, report.system = layout, layout.entity, layout.system
    report.notes.extend(layout.notes)
    report.warnings.extend(layout.warnings)
    report.blank_records = table.blank_records
    report.rows_read = read.rows
    if not _normalize(con, read, settings, report):
        return None
    if not _accounts(con, read, report, ids):
        return None
    report.problems.sort(key=lambda p: (p.line or 0, p.column or ""))
    report.rows_quarantined = sum(1 for p in report.problems if p.scope == "row")
    report.cells_quarantined = sum(1 for p in report.problems if p.scope == "cell")
    report.rows_loaded = report.rows_read - report.rows_quarantined
    extras = ", ".join(
        f"a.{identifier('x_' + column)} AS {identifier(column)}"
        for column in sorted(extra_sources(icp))
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP VIEW score_input AS
            SELECT coalesce(a.workspace_key, a.account_key) AS account_key,
                   a.line, a.record_id,
                   {", ".join(f"a.{c}" for c in ACCOUNT_COLUMNS)},
                   coalesce(a.workspace_key, a.account_key) IN
                     (SELECT account_key FROM {deals}
                      WHERE outcome = 'won' AND account_key IS NOT NULL) AS customer
                   {", " + extras if extras else ""}
            FROM export_accounts a"""
    )
    return report, (
        "line",
        "record_id",
        "name",
        "domain",
        "employees",
        "industry",
        "country",
        "customer",
    )


def _csv(table: SourceTable, columns: str) -> str:
    """DuckDB's CSV reader over ``table`` with the dialect the load's staging uses."""
    delim = escaped(table.delimiter or ",")
    return (
        f"read_csv({path_literal(table.path)}, header = false, skip = {table.header_lines}, "
        f"delim = '{delim}', quote = '\"', escape = '\"', columns = {{{columns}}}, "
        "auto_detect = false, strict_mode = true, null_padding = false, encoding = 'utf-8')"
    )


def _detect(
    con: duckdb.DuckDBPyConnection, table: SourceTable, source: str, settings: IngestSettings
) -> Layout | None:
    """The layout of the companies export ``source`` reads, detected from its first records
    as the load's staging samples them; None when the load must judge the file."""
    header = table.header
    try:
        head = con.execute(f"SELECT * FROM {source} LIMIT {SAMPLE_ROWS + 1000}").fetchall()
    except duckdb.Error:
        return None
    head = [r for r in head if any(c is not None for c in r)][:SAMPLE_ROWS]
    # Every marker is a non-ASCII character, so ASCII cells need no search.
    if any(c is not None and not c.isascii() and _MARKER.search(c) for r in head for c in r):
        return None  # double-encoded text: the load repairs it before detecting
    samples = column_samples(header, head)
    try:
        layout = detect_layout(
            table.path.name,
            header,
            samples,
            settings.mapping,
            check=check_sample,
            force=True,
            known=lambda: known_accounts(con),
        )
    except IngestError:
        return None  # the load says why
    if layout.skip_reason or layout.entity != "companies":
        return None
    return layout


def _stage(
    con: duckdb.DuckDBPyConnection,
    table: SourceTable,
    icp: ICP | None,
    settings: IngestSettings,
) -> _Read | None:
    """Read the records into ``raw`` (line, then the kept columns), when DuckDB reads the
    file exactly as the load does; detect its layout from the first records."""
    if table.kind != "csv" or table.encoding not in ("utf-8", "utf-8-sig") or table.stray_bytes:
        return None
    if table.problems or table.footer_lines or not table.header:
        return None
    header = table.header
    width = len(header)
    cells = [f"c{i}" for i in range(width)]
    source = _csv(table, ", ".join(f"'{c}': 'VARCHAR'" for c in cells))
    # The quote-aware count reads the file's bytes on a thread of its own (numpy lets go of
    # the interpreter) while detection weighs the first records.
    with ThreadPoolExecutor(max_workers=1) as pool:
        counting = pool.submit(count_records, table.path, table.encoding, table.delimiter or ",")
        layout = _detect(con, table, source, settings)
        table.counted = counted = counting.result()
    if layout is None or not counted.regular or counted.unclosed_line is not None:
        return None
    read = _Read(table, layout)
    index = {name: i for i, name in enumerate(header)}
    for name, choice in layout.choices.items():
        read.columns[name] = f"c{index[choice.column]}"
    unmapped = set(layout.unmapped)
    for column, key in extra_sources(icp).items():
        if key in unmapped:
            if header.count(key) > 1:
                return None  # the load's JSON of unmapped columns holds the name twice
            read.extras[column] = f"c{index[key]}"
    specs = {s.name: s for s in FIELDS["companies"]}
    read_cells = {
        cell
        for name, cell in read.columns.items()
        if name in KEPT or specs[name].kind not in ("text", "id")
    }
    keep = sorted(read_cells | set(read.extras.values()), key=lambda c: int(c[1:]))
    joined = f"concat({', '.join(cells)})"
    names = ", ".join(literal(n.lower()) for n in header)
    clean = "lambda x: lower(trim(replace(coalesce(x, ''), chr(65279), '')))"
    # A row repeating the header (two exports pasted together): its first cell is checked
    # on every row, the others only where that one matches.
    repeat = (
        f"CASE WHEN lower(trim(replace(coalesce(c0, ''), chr(65279), ''))) = "
        f"{literal(header[0].lower())} THEN list_transform([{', '.join(cells)}], {clean}) = "
        f"[{names}] ELSE false END"
        if width >= 2
        else "false"
    )
    try:
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE raw0 AS
                SELECT breaks, coalesce({", ".join(cells)}) IS NULL AS blank,
                       contains(joined, chr(0)) OR {repeat} AS odd,
                       CASE WHEN breaks > 0 THEN [{", ".join(cells)}] END AS cells,
                       {", ".join(keep)}
                FROM (SELECT *, strlen(joined) - strlen(replace(joined, chr(10), '')) AS breaks
                      FROM (SELECT *, {joined} AS joined FROM {source}))"""
        )
    except duckdb.Error:
        return None
    row = con.execute(
        "SELECT count(*), coalesce(sum(breaks), 0), count(*) FILTER (WHERE blank), "
        "count(*) FILTER (WHERE odd) FROM raw0"
    ).fetchone()
    assert row is not None
    records, inner, blank, odd = (int(x) for x in row)
    lines = counted.lf_lines if counted.lf_lines is not None else count_lines(table.path)
    if odd or table.header_lines + records + inner != lines:
        return None  # rows with NUL bytes or repeating the header: the load sets them aside
    if table.preamble_records + records != counted.records:
        return None
    if inner:
        test = swallows_rows_sql([f"cells[{i + 1}]" for i in range(width)], table.delimiter or ",")
        if scalar(con, f"SELECT count(*) FROM raw0 WHERE breaks > 0 AND {test}"):
            return None
    table.records_parsed = table.preamble_records + records
    table.blank_records = blank
    if unaccounted(table, records - blank) is not None:
        return None
    read.rows = records - blank
    # A record's line: the header's lines, its place, the line breaks inside the quoted
    # cells of the records before it. The running sum streams ``raw0`` in file order (the
    # order the parallel read kept), into a table of its own read beside it.
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE raw0_lines AS
            SELECT rowid AS rid,
                   ({table.header_lines} + row_number() OVER ()
                    + sum(breaks) OVER (ROWS UNBOUNDED PRECEDING) - breaks)::BIGINT AS line
            FROM raw0"""
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP VIEW raw AS
            SELECT l.line, {", ".join(f"r.{c}" for c in keep)}
            FROM raw0 r JOIN raw0_lines l ON l.rid = r.rowid WHERE NOT r.blank"""
    )
    return read


def _normalize(
    con: duckdb.DuckDBPyConnection,
    read: _Read,
    settings: IngestSettings,
    report: FileReport,
) -> bool:
    """Create ``norm``: a row per record with its line, ids, name and normalized values;
    every cell a normalizer refuses is a problem of the report. False when the file holds
    what only the load handles (lists of associated companies)."""
    layout = read.layout
    specs: dict[str, FieldSpec] = {s.name: s for s in FIELDS["companies"]}
    file, unit = read.table.path.name, read.table.unit
    select = ["raw.line"]
    joins: list[str] = []
    for name, choice in layout.choices.items():
        spec, cell = specs[name], read.columns[name]
        src = f"raw.{cell}"
        if spec.kind in ("text", "id"):
            if name == "source_id" and scalar(
                con,
                f"SELECT count(*) FROM raw0 WHERE {id_list_sql(f'trim({cell})')}",
            ):
                return False  # several associated companies in a cell: the load splits them
            expr = f"NULLIF(trim({src}), '')"
            if spec.kind == "id":
                expr = id_sql(expr, layout.system)
            if name in KEPT:
                select.append(f"{expr} AS {name}")
            continue
        alias = f"lk_{name}"
        # Most websites are bare domains, their own account domain: the lookup leaves them out;
        # a field read for the quarantine only needs the values its twins cannot read.
        keep: Keep = "all"
        if spec.kind == "domain":
            keep = "changed"
        elif name not in KEPT and spec.kind not in ("money", "number"):
            keep = "unread"
        done = normalize_distinct(con, spec, "raw0", cell, alias, settings, keep=keep)
        if done.lookup.note:
            report.notes.append(f"column {choice.column!r}: {done.lookup.note}")
        if done.errors:
            for line, value, reason in con.execute(
                f"SELECT raw.line, {src}, {alias}.error FROM raw JOIN {alias} "
                f"ON {alias}.raw = {src} WHERE {alias}.error IS NOT NULL ORDER BY raw.line"
            ).fetchall():
                report.problems.append(
                    Problem(file, reason, "cell", line, choice.column, value, unit)
                )
        if name not in KEPT:
            con.execute(f"DROP TABLE {alias}")
            continue
        joins.append(f"LEFT JOIN {alias} ON {alias}.raw = {src}")
        first = f"{alias}.{name}"
        if keep == "changed":
            first = (
                f"CASE WHEN {alias}.raw IS NOT NULL THEN {first} "
                f"WHEN trim({src}) <> '' THEN {src} END"
            )
        select.append(f"{first} AS {name}")
        if name == "revenue":
            # Whether a value is a plain number, for its unit: once per distinct value.
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE {alias} AS "
                f"SELECT *, {plain_money('raw')} AS plain FROM {alias}"
            )
            select.append(f"{alias}.plain AS revenue_plain")
    for name in ("source_id", "company_name", "funding_stage", "company_domain", "company_email"):
        if name not in layout.choices:
            select.append(f"NULL::VARCHAR AS {name}")
    for column, cell in read.extras.items():
        select.append(f"raw.{cell} AS {identifier('x_' + column)}")
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE norm AS SELECT {', '.join(select)} "
        f"FROM raw {' '.join(joins)}"
    )
    for name in layout.choices:
        con.execute(f"DROP TABLE IF EXISTS lk_{name}")
    present = set(layout.choices)
    if "company_email" in present:
        # A work email's domain stands in for a missing website.
        con.execute("UPDATE norm SET company_domain = coalesce(company_domain, company_email)")
    # Plain revenue numbers in the unit the file's own evidence shows, as the load reads them.
    _check_revenue_unit(con, settings, present, report, layout, {"revenue": "revenue_plain"})
    for name in SCORED:
        if name not in present:
            typ = {"technologies": "VARCHAR[]", "founded_year": "INTEGER"}.get(name, "DOUBLE")
            if name == "employees":
                typ = "BIGINT"
            elif name in ("industry", "country"):
                typ = "VARCHAR"
            con.execute(f"ALTER TABLE norm ADD COLUMN {name} {typ}")
    return True


def _name_keys(con: duckdb.DuckDBPyConnection, table: str, names_sql: str) -> None:
    """Create ``table`` (raw, key): the matching key of every name ``names_sql`` selects, once
    per name, as the load keys them: the names the SQL twin of its normalizer settles
    (:func:`icpkit.ingest.cells.name_keys_sql`) in SQL, the others by the normalizer."""
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {table}_sql AS
            {name_keys_sql(f"(SELECT company_name AS raw FROM ({names_sql}))")}"""
    )
    names = [r[0] for r in con.execute(f"SELECT raw FROM {table}_sql WHERE NOT fast").fetchall()]
    keys = name_keys(names)
    con.register(
        f"{table}_rows",
        pa.table({"raw": pa.array(names, pa.string()), "key": pa.array(keys, pa.string())}),
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {table} AS
            SELECT raw, key FROM {table}_sql WHERE fast
            UNION ALL SELECT raw, key FROM {table}_rows"""
    )
    con.unregister(f"{table}_rows")
    con.execute(f"DROP TABLE {table}_sql")


def _accounts(con: duckdb.DuckDBPyConnection, read: _Read, report: FileReport, ids: str) -> bool:
    """Key each record as the load does (domain, else a record id where records of other
    ids share its name, else its name), set aside the records nothing identifies, and merge
    the records of one key into ``export_accounts`` (a record's first non-empty value wins,
    in file order), with the workspace's key for a record id it knows. False when record
    ids repeat (the load then compares the whole rows)."""
    layout = read.layout
    system = escaped(layout.system)
    _name_keys(
        con,
        "nk",
        "SELECT DISTINCT company_name FROM norm WHERE company_domain IS NULL "
        "AND company_name IS NOT NULL",
    )
    unnamed = (
        "company_domain IS NULL AND (company_name IS NULL OR company_name IN "
        "(SELECT raw FROM nk WHERE key IS NULL))"
    )
    missing = [
        int(r[0])
        for r in con.execute(f"SELECT line FROM norm WHERE {unnamed} ORDER BY 1").fetchall()
    ]
    if missing:
        dropped = set(missing)
        report.problems[:] = [
            p for p in report.problems if not (p.scope == "cell" and p.line in dropped)
        ]
        column = layout.column_of("company_name")
        for line in missing:
            report.problems.append(
                Problem(
                    read.table.path.name,
                    "no company name or domain: nothing identifies the account",
                    "row",
                    line,
                    column,
                    None,
                    read.table.unit,
                )
            )
        con.execute(f"DELETE FROM norm WHERE {unnamed}")
    if scalar(
        con,
        "SELECT count(*) FROM (SELECT source_id FROM norm WHERE source_id IS NOT NULL "
        "GROUP BY 1 HAVING count(*) > 1)",
    ):
        return False
    _shared_names(con)
    firsts = ", ".join(
        f"min_by({source}, line) FILTER (WHERE {source} IS NOT NULL) AS {column}"
        for column, source in zip(
            ACCOUNT_COLUMNS,
            ("company_name", "company_domain", *ACCOUNT_COLUMNS[2:]),
            strict=True,
        )
    )
    extras = "".join(
        f", min_by({identifier('x_' + c)}, line) AS {identifier('x_' + c)}" for c in read.extras
    )
    keyed = f"""(SELECT n.*, coalesce(
                    n.company_domain,
                    CASE WHEN n.source_id IS NOT NULL
                          AND k.key IN (SELECT name_key FROM shared_names)
                         THEN 'id:{system}:' || n.source_id END,
                    CASE WHEN k.key IS NOT NULL THEN 'name:' || k.key END) AS account_key
                 FROM norm n LEFT JOIN nk k
                   ON n.company_domain IS NULL AND k.raw = n.company_name)"""
    known = f"""(SELECT source_id AS ws_id, min(account_key) AS ws_key FROM {ids}
                 WHERE system = '{system}' GROUP BY source_id)"""
    # Most keys hold one record, taken as it is; only keys of several records are merged.
    # The record ids keying accounts are counted with them, for the note.
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE merged_keys AS
            SELECT account_key, count(*) AS records FROM {keyed} GROUP BY 1
            HAVING count(*) > 1 OR account_key LIKE 'id:{system}:%'"""
    )
    merged = "(SELECT account_key FROM merged_keys WHERE records > 1)"
    single = ", ".join(
        f"r.{source} AS {column}"
        for column, source in zip(
            ACCOUNT_COLUMNS,
            ("company_name", "company_domain", *ACCOUNT_COLUMNS[2:]),
            strict=True,
        )
    )
    single_extras = "".join(f", r.{identifier('x_' + c)}" for c in read.extras)
    # A view: the accounts stream into the scorecard once, never stored whole.
    con.execute(
        f"""CREATE OR REPLACE TEMP VIEW export_accounts AS
            SELECT r.account_key, r.line, r.source_id AS record_id, {single}{single_extras},
                   w.ws_key AS workspace_key
            FROM {keyed} r LEFT JOIN {known} w ON w.ws_id = r.source_id
            WHERE r.account_key NOT IN {merged}
            UNION ALL
            SELECT account_key, min(line) AS line, min(source_id) AS record_id,
                   {firsts}{extras}, min(w.ws_key) AS workspace_key
            FROM {keyed} r LEFT JOIN {known} w ON w.ws_id = r.source_id
            WHERE r.account_key IN {merged}
            GROUP BY r.account_key"""
    )
    row = con.execute(
        f"""SELECT coalesce(sum(records), 0) - count(*),
                   count(*) FILTER (WHERE account_key LIKE 'id:{system}:%')
            FROM merged_keys"""
    ).fetchone()
    shared, split = (int(row[0]), int(row[1])) if row else (0, 0)
    if split:
        report.notes.append(
            f"{split} company records share a name with a record of another id and no "
            "website: kept as separate accounts, keyed by their record id"
        )
    if shared:
        report.notes.append(
            f"{shared} company records share a domain (or name) with another "
            "record in the file and were merged into one account"
        )
    return True


# The first word of an ASCII name's key, cheaply: its first run of letters, digits, dots and
# apostrophes, less the dots and apostrophes. It is the key's first word unless it is empty
# or 'the', or an '&' comes first (read as 'and'): those names are tokenized whole.
_CHEAP_FIRST = (
    "replace(replace(regexp_extract(lower(company_name), '[a-z0-9.'']+'), '.', ''), '''', '')"
)


def _shared_names(con: duckdb.DuckDBPyConnection) -> None:
    """Create ``shared_names``: the name keys of records without a website that records of
    other ids carry too (their own name keys, by the load's normalizer).

    Only the names of records without a website need their key; of the others, only those
    that can share one: a key is the name's words (lower-cased, '&' read as 'and', '.' and
    apostrophes dropped) less legal forms at the end and a leading 'the', so such a name's
    words start with the key. Those are found in SQL, and keyed as the load keys them
    (:func:`_name_keys`); names not in ASCII always are."""
    con.execute("CREATE OR REPLACE TEMP TABLE shared_names (name_key VARCHAR)")
    con.execute(
        """CREATE OR REPLACE TEMP TABLE nk_wanted AS
           SELECT DISTINCT k.key, split_part(k.key, ' ', 1) AS first
           FROM norm n JOIN nk k ON k.raw = n.company_name
           WHERE n.company_domain IS NULL AND n.source_id IS NOT NULL AND k.key IS NOT NULL"""
    )
    if not scalar(con, "SELECT count(*) FROM nk_wanted"):
        return
    words = (
        "list_filter(regexp_split_to_array(regexp_replace(replace(lower(company_name), '&', "
        "' and '), '[.'']', '', 'g'), '[^a-z0-9]+'), lambda w: w <> '')"
    )
    mine = "company_domain IS NOT NULL AND source_id IS NOT NULL AND company_name IS NOT NULL"
    # One set of the first words worth tokenizing for, so each name's is computed once.
    firsts = "(SELECT first FROM nk_wanted UNION ALL VALUES (''), ('the'))"
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE nk_text AS
            SELECT company_name, array_to_string(w, ' ') AS text, w[1] AS first,
                   CASE WHEN w[1] = 'the' THEN array_to_string(w[2:], ' ') END AS text2,
                   CASE WHEN w[1] = 'the' THEN w[2] END AS first2
            FROM (SELECT DISTINCT company_name, {words} AS w FROM norm
                  WHERE {mine} AND strlen(company_name) = length(company_name)
                    AND ({_CHEAP_FIRST} IN {firsts}
                         OR regexp_matches(company_name, '^[^A-Za-z0-9]*&')))"""
    )
    starts = "(t.{0} = k.key OR starts_with(t.{0}, k.key || ' '))"
    _name_keys(
        con,
        "nk_more",
        f"""SELECT t.company_name FROM nk_text t JOIN nk_wanted k ON k.first = t.first
            WHERE {starts.format("text")}
            UNION
            SELECT t.company_name FROM nk_text t JOIN nk_wanted k ON k.first = t.first2
            WHERE {starts.format("text2")}
            UNION
            SELECT company_name FROM norm
            WHERE {mine} AND strlen(company_name) <> length(company_name)""",
    )
    con.execute(
        """INSERT INTO shared_names
           SELECT name_key FROM (
             SELECT k.key AS name_key, n.source_id FROM norm n JOIN nk k
               ON k.raw = n.company_name
             WHERE n.company_domain IS NULL AND n.source_id IS NOT NULL AND k.key IS NOT NULL
             UNION
             SELECT k.key, n.source_id FROM norm n JOIN nk_more k ON k.raw = n.company_name
             WHERE n.company_domain IS NOT NULL AND n.source_id IS NOT NULL
               AND k.key IS NOT NULL)
           GROUP BY name_key HAVING count(DISTINCT source_id) > 1"""
    )
