"""Loading one export into the store: read, detect and normalize, then check and merge in one
transaction.

The steps; the first two fill temporary tables only, and the rest run inside a single
DuckDB transaction, so a failure or a crash leaves the store as it was:

1. stage the raw text cells with their line numbers (``raw``),
2. normalize each mapped column's distinct values (:mod:`icpkit.ingest.distinct`) and
   join them back (``norm``); ``raw`` is then cut down to the rows of repeated ids, all
   that is read of it later,
3. set aside what cannot be read: cells (row kept, cell empty) and rows (not loaded),
4. merge into ``accounts``, ``deals`` or ``signals`` by key, so re-imports update
   instead of duplicating, then relink deals to accounts across files,
5. record the import and its quarantine; commit (or roll back for a dry run).
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from icpkit.config import IngestSettings, MappingRule
from icpkit.ingest import merge
from icpkit.ingest.cells import OUTPUTS
from icpkit.ingest.detect import Layout
from icpkit.ingest.distinct import normalize_distinct
from icpkit.ingest.fields import FIELDS, FieldSpec
from icpkit.ingest.normalize.money import (
    UNIT_SCALE,
    MoneyEvidence,
    MoneyUnit,
    infer_amount_unit,
    infer_revenue_unit,
)
from icpkit.ingest.problems import IngestError, Problem
from icpkit.ingest.readers import SourceTable, open_table
from icpkit.ingest.report import FileReport
from icpkit.ingest.staging import Progress, restore_original_values, stage_raw
from icpkit.store.db import first_row, literal, quietly, scalar


def file_fingerprint(path: Path) -> str:
    """SHA-256 of the file's bytes, streamed."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(1 << 22):
            digest.update(block)
    return digest.hexdigest()


def settings_fingerprint(settings: IngestSettings) -> str:
    """Hash of the settings that change how a file loads, so a new mapping re-imports."""
    text = json.dumps(settings.model_dump(mode="json"), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def ingest_file(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    settings: IngestSettings,
    *,
    strict: bool = False,
    dry_run: bool = False,
    force: bool = False,
    encoding: str | None = None,
    sheet: str | None = None,
    progress: Progress | None = None,
) -> FileReport:
    """Load ``path`` into the store; raise :class:`IngestError` when the file cannot load."""
    report = FileReport(path=path, dry_run=dry_run)
    # Same bytes read the same way load the same rows: such a re-import is skipped.
    fingerprint = (
        f"{file_fingerprint(path)}:{settings_fingerprint(settings)}:{encoding or ''}:{sheet or ''}"
        if path.is_file()
        else ""
    )
    if fingerprint and _already_loaded(con, path, fingerprint, report, force, dry_run):
        return report

    # A CSV's records are counted while DuckDB reads it (see stage_raw).
    table = open_table(path, encoding=encoding, sheet=sheet, count=False)
    report.encoding, report.delimiter = table.encoding, table.delimiter
    report.notes.extend(table.notes)
    try:
        # Staging fills a temporary table only, so it can run before the transaction.
        opened = len(table.notes)
        layout = stage_raw(con, table, settings, progress, force=force)
        # What reading found on the way (an unreadable row group, rows with NUL bytes).
        report.notes.extend(table.notes[opened:])
        if layout.skip_reason:
            report.layout, report.entity, report.system = layout, layout.entity, layout.system
            report.skipped, report.unrecognized = layout.skip_reason, True
            return report
        # Normalizing fills temporary tables only too: ``raw`` is cut down before the
        # transaction, since a table dropped inside one keeps its memory until the commit,
        # and the store's writing would spill the file's cells to disk meanwhile.
        present = _normalize(con, table, layout, settings, report)
        con.execute("BEGIN TRANSACTION")
        try:
            _load(con, table, layout, settings, report, strict, fingerprint, present)
            con.execute("ROLLBACK" if dry_run else "COMMIT")
        except BaseException:
            quietly(con, "ROLLBACK")  # a failed rollback must not hide why it failed
            raise
    finally:
        table.close()
        for name in ("raw0", "raw", "raw_kept", "raw_repaired", "norm"):
            quietly(con, f"DROP TABLE IF EXISTS {name}")
    return report


def _normalize(
    con: duckdb.DuckDBPyConnection,
    table: SourceTable,
    layout: Layout,
    settings: IngestSettings,
    report: FileReport,
) -> set[str]:
    """``norm``: each staged row's mapped columns normalized, with the cells that cannot be
    read in ``report``; then ``raw`` holds only the rows of repeated ids. Returns the
    fields the file has."""
    report.layout, report.entity, report.system = layout, layout.entity, layout.system
    report.notes.extend(layout.notes)
    report.warnings.extend(layout.warnings)
    report.blank_records = table.blank_records
    if table.footer_lines:
        shown = "; ".join(table.footer_lines[:3])
        report.notes.append(
            f"skipped {len(table.footer_lines)} report footer lines, not records ({shown})"
        )
    staged = scalar(con, "SELECT count(*) FROM raw")
    report.rows_read = staged + len(table.problems)
    report.problems.extend(table.problems)
    col_of = {name: f"c{i}" for i, name in enumerate(table.header)}
    specs = {s.name: s for s in FIELDS[layout.entity]}

    select = ["raw.line AS line"]
    joins: list[str] = []
    lists, listed = _company_lists(con, layout, col_of)
    for name, choice in layout.choices.items():
        spec = specs[name]
        src = f'raw."{col_of[choice.column]}"'
        if spec.kind in ("text", "id"):
            system = layout.system if spec.kind == "id" else None
            if name in ("company_source_id", "company_name") and lists is not None:
                if name == "company_source_id" and listed:
                    report.notes.append(listed)
                expr = _primary_company(name, src, lists, system)
            else:
                expr = _cell(f"NULLIF(trim({src}), '')", system)
            select.append(f"{expr} AS {name}")
            continue
        alias = f"lk_{name}"
        lookup = normalize_distinct(con, spec, "raw", src, alias, settings).lookup
        if lookup.note:
            report.notes.append(f"column {choice.column!r}: {lookup.note}")
        joins.append(f"LEFT JOIN {alias} ON {alias}.raw = {src}")
        for out in OUTPUTS[spec.kind]:
            select.append(f"{alias}.{name}{out.suffix}")
        select.append(f"{src} AS {name}_raw")
        if lookup.errors:
            for line, value, reason in con.execute(
                f"SELECT raw.line, {src}, {alias}.error FROM raw JOIN {alias} "
                f"ON {alias}.raw = {src} WHERE {alias}.error IS NOT NULL ORDER BY raw.line"
            ).fetchall():
                report.problems.append(
                    Problem(table.path.name, reason, "cell", line, choice.column, value, table.unit)
                )
    extra = [c for c in layout.unmapped]
    if extra:
        pairs = ", ".join(f'{literal(c)}, raw."{col_of[c]}"' for c in extra)
        select.append(f"json_object({pairs}) AS extra")
    else:
        select.append("NULL::JSON AS extra")
    select += _absent_columns(layout, specs)
    con.execute(f"CREATE TEMP TABLE norm AS SELECT {', '.join(select)} FROM raw {' '.join(joins)}")
    for alias in [f"lk_{n}" for n in layout.choices]:
        con.execute(f"DROP TABLE IF EXISTS {alias}")

    present = set(layout.choices)
    if "company_email" in present:
        # A work email's domain stands in for a missing website.
        con.execute("UPDATE norm SET company_domain = company_email WHERE company_domain IS NULL")
        present.add("company_domain")
    _check_revenue_unit(con, settings, present, report, layout)
    _keep_repeated_rows(con, "source_id" in present)
    return present


def _keep_repeated_rows(con: duckdb.DuckDBPyConnection, has_ids: bool) -> None:
    """``raw`` cut down to the rows whose id another row of the file repeats: what the
    loaders read of it later (two rows of one id are compared cell by cell, see
    :func:`icpkit.ingest.merge._duplicate_ids`). Rows only leave ``norm`` later and ids never
    change, so these hold every row that check can meet."""
    repeated = (
        """line IN (SELECT line FROM norm WHERE source_id IN
               (SELECT source_id FROM norm WHERE source_id IS NOT NULL
                GROUP BY source_id HAVING count(*) > 1))"""
        if has_ids
        else "false"
    )
    con.execute(f"CREATE TEMP TABLE raw_kept AS SELECT * FROM raw WHERE {repeated}")
    con.execute("DROP TABLE raw")
    con.execute("ALTER TABLE raw_kept RENAME TO raw")


def _load(
    con: duckdb.DuckDBPyConnection,
    table: SourceTable,
    layout: Layout,
    settings: IngestSettings,
    report: FileReport,
    strict: bool,
    fingerprint: str,
    present: set[str],
) -> None:
    loader = {
        "deals": merge.load_deals,
        "companies": merge.load_companies,
        "signals": merge.load_signals,
        "contacts": merge.load_contacts,
    }[layout.entity]
    context = merge.LoadContext(
        con=con,
        file=table.path.name,
        unit=table.unit,
        system=layout.system,
        settings=settings,
        present=present,
        layout=layout,
        header=table.header,
        # Inside the file's transaction, so no other import takes the same id.
        import_id=scalar(con, "SELECT coalesce(max(import_id), 0) + 1 FROM imports"),
    )
    owners = _owners(con, layout.entity) if layout.entity in ENTITY_ROWS else {}
    loader(context, report)

    report.problems[:] = restore_original_values(con, report.problems)
    report.problems.sort(key=lambda p: (p.line or 0, p.column or ""))
    report.rows_quarantined = sum(1 for p in report.problems if p.scope == "row")
    report.cells_quarantined = sum(1 for p in report.problems if p.scope == "cell")
    report.rows_loaded = report.rows_read - report.rows_quarantined
    if strict and report.problems:
        raise IngestError(report.problems[0])
    report.import_id = _record_import(
        con, table, report, fingerprint, settings, owners, context.import_id
    )
    merge.relink(con)
    # Dropped in the transaction, ``norm`` leaves the commit none of the changes made to it
    # here (name keys, rows set aside) to keep.
    con.execute("DROP TABLE norm")


# A cell listing several company ids, as HubSpot exports a deal's associations: '123;456'.
_ID_LIST = "'[^;\\s]+(\\s*;\\s*[^;\\s]+)+'"


def id_list_sql(ids: str) -> str:
    """SQL true when the text ``ids`` lists several ids ('123; 456'), false otherwise (NULL
    included). A list holds a ';': the regular expression runs only on such cells, not on
    every row (1M rows: 0.14 CPU s for every cell, 0.02 s behind the test)."""
    return (
        f"CASE WHEN contains({ids}, ';') THEN coalesce(regexp_full_match({ids}, {_ID_LIST}), "
        "false) ELSE false END"
    )


def _company_lists(
    con: duckdb.DuckDBPyConnection, layout: Layout, col_of: dict[str, str]
) -> tuple[str | None, str | None]:
    """The ids cell of a file whose rows list several associated companies ('123;456'), as
    SQL, and the note counting the companies left out; (None, None) when the file has no
    such column or no row lists more than one: its company cells are read whole, without a
    test per row."""
    id_column = layout.column_of("company_source_id")
    if id_column is None:
        return None, None
    ids = f'trim(raw."{col_of[id_column]}")'
    row = first_row(
        con,
        f"SELECT count(*), coalesce(sum(len(string_split({ids}, ';')) - 1), 0) FROM raw "
        f"WHERE {id_list_sql(ids)}",
    )
    if not row or not row[0]:
        return None, None
    return ids, (
        f"column {id_column!r}: {row[0]:,} rows list several associated companies; "
        f"each is linked to the first (the primary) and the other {row[1]:,} are not linked"
    )


def _primary_company(name: str, src: str, ids: str, system: str | None) -> str:
    """The first (primary) company of a cell listing several associated companies (``ids``:
    the row's ids cell, see :func:`_company_lists`), read as an id of ``system`` when one is
    given (see :func:`_cell`).

    Only a list is split: an id cell of ';'-separated ids, and a name cell only where the
    same row's id cell lists as many ids, so a name with a ';' in it ('Smith; Jones &
    Partners LLP') stays whole.
    """
    whole = _cell(f"NULLIF(trim({src}), '')", system)
    first = _cell(f"NULLIF(trim(split_part({src}, ';', 1)), '')", system)
    is_list = id_list_sql(ids)
    if name == "company_name":
        same_count = f"len(string_split({src}, ';')) = len(string_split({ids}, ';'))"
        return f"CASE WHEN {is_list} AND {same_count} THEN {first} ELSE {whole} END"
    return f"CASE WHEN {is_list} THEN {first} ELSE {whole} END"


def _cell(expr: str, system: str | None) -> str:
    """``expr`` read as an id of ``system`` (see :func:`id_sql`), or as it is with None."""
    return expr if system is None else id_sql(expr, system)


def id_sql(expr: str, system: str) -> str:
    """Ids as the CRM means them, whatever the export did to them."""
    # Excel turns numeric ids into floats ('12345.0'): the suffix is cut by plain string
    # functions (a query of 1M ids: 0.23-0.26 CPU s, 0.32-0.36 s with a regular expression).
    expr = f"(CASE WHEN suffix({expr}, '.0') THEN left({expr}, -2) ELSE {expr} END)"
    if system == "salesforce":
        # An 18-character Salesforce id is the 15-character one plus a case checksum;
        # reports export 15, the API and Data Loader 18: keep 15 so both match.
        expr = (
            f"CASE WHEN length({expr}) = 18 AND regexp_full_match({expr}, '[a-zA-Z0-9]{{18}}') "
            f"THEN left({expr}, 15) ELSE {expr} END"
        )
    return expr


def _absent_columns(layout: Layout, specs: dict[str, FieldSpec]) -> list[str]:
    """Every canonical column of the fields the file lacks, as NULL, so loaders read one
    shape (a mapped field's columns are those its lookup or its text gives)."""
    columns: list[str] = []
    for name, spec in specs.items():
        if name in layout.choices:
            continue
        if spec.kind in ("text", "id"):
            columns.append(f"NULL::VARCHAR AS {name}")
            continue
        columns += [f"NULL::{out.sql} AS {name}{out.suffix}" for out in OUTPUTS.get(spec.kind, ())]
        columns.append(f"NULL::VARCHAR AS {name}_raw")
    return columns


def _check_revenue_unit(
    con: duckdb.DuckDBPyConnection,
    settings: IngestSettings,
    present: set[str],
    report: FileReport,
    layout: Layout,
    plain: Mapping[str, str] | None = None,
) -> None:
    """Read this file's plain revenue and deal amount numbers in the unit its own evidence
    shows (see :func:`icpkit.ingest.normalize.money.infer_revenue_unit`), or the unit a
    mapping rule sets for it; never a unit decided for another file. ``plain`` holds, for a
    field, a column of ``norm`` saying which of its values are plain numbers, where the
    caller has one (else :func:`plain_money` of its raw value says)."""
    rule = _unit_rule(report.path.name, settings)
    for name in ("revenue", "amount"):
        if name not in present:
            continue
        column = layout.column_of(name) or name
        is_plain = (plain or {}).get(name) or plain_money(f"{name}_raw")
        override = getattr(rule, f"{name}_unit", None) if rule is not None else None
        if rule is not None and override is not None:
            _scale(con, name, override, is_plain)
            if override != "units":
                report.notes.append(
                    f"column {column!r}: plain numbers read as {override} "
                    f"(ingest.mapping rule for {rule.files!r})"
                )
            continue
        evidence = _money_evidence(
            con, name, name == "revenue" and "employees" in present, is_plain
        )
        if name == "revenue":
            decision = infer_revenue_unit(column, evidence)
            default: MoneyUnit = (
                "units" if settings.revenue_unit == "auto" else settings.revenue_unit
            )
        else:
            decision = infer_amount_unit(column, evidence)
            default = "units"
        if decision.confident:
            _scale(con, name, decision.unit, is_plain)
            if decision.unit != "units":
                report.notes.append(
                    f"column {column!r}: plain numbers read as {decision.unit}: "
                    + decision.evidence
                )
            elif default != "units":
                report.notes.append(
                    f"column {column!r}: plain numbers read as written, not as {default} "
                    f"(ingest.revenue_unit is only for files that cannot tell): "
                    f"{decision.evidence}"
                )
            continue
        _scale(con, name, default, is_plain)
        if decision.evidence == "no plain numbers to judge":
            continue
        fix = (
            f"set revenue_unit: {decision.unit if decision.unit != 'units' else 'millions'} "
            if name == "revenue"
            else f"set amount_unit: {decision.unit if decision.unit != 'units' else 'thousands'} "
        )
        kept = (
            "loaded as written"
            if default == "units"
            else f"read as {default} (ingest.revenue_unit, for files that cannot tell)"
        )
        report.notes.append(
            f"column {column!r}: unit unsure, {kept}: {decision.evidence}. If that is wrong, "
            f"{fix}(or units) on an ingest.mapping rule with files: {report.path.name!r}"
        )


# A money cell without a magnitude word: '5200000', '36.9', '$36.9', 'USD 1,200', '(1,200)'.
_PLAIN_MONEY = (
    "regexp_full_match(trim({v}), '(?i)[a-z]{{0,3}}[^a-z0-9\\s]{{0,3}}\\s*\\(?-?[0-9][0-9,.\\s]*"
    "\\)?\\s*([a-z]{{3}})?') AND NOT regexp_matches(lower({v}), 'mln|mio|bln')"
)


def _unit_rule(file_name: str, settings: IngestSettings) -> MappingRule | None:
    """The first ``ingest.mapping`` rule matching the file that sets a unit."""
    return next(
        (
            r
            for r in settings.mapping
            if (r.revenue_unit or r.amount_unit) and fnmatch.fnmatch(file_name, r.files)
        ),
        None,
    )


def plain_money(value: str) -> str:
    """The SQL condition that the money cell ``value`` (an expression) is a plain number,
    without a magnitude word: the numbers a file's unit applies to."""
    return _PLAIN_MONEY.format(v=value)


def _money_evidence(
    con: duckdb.DuckDBPyConnection, name: str, with_employees: bool, plain: str
) -> MoneyEvidence:
    """Summary statistics of the column's plain numbers (and per employee), in one query."""
    ratio = f"{name} / employees"
    per = (
        f"count(*) FILTER (employees > 0), quantile_cont({ratio}, [0.25, 0.5, 0.75]) "
        "FILTER (employees > 0)"
        if with_employees
        else "0, NULL"
    )
    row = con.execute(
        f"SELECT count(*), max({name}), median({name}), {per} FROM norm "
        f"WHERE {name} > 0 AND {plain}"
    ).fetchone()
    assert row is not None
    values, largest, median, pairs, quartiles = row
    return MoneyEvidence(
        int(values),
        float(largest or 0.0),
        float(median or 0.0),
        int(pairs or 0),
        None if quartiles is None else float(quartiles[1]),
        None if quartiles is None else (float(quartiles[0]), float(quartiles[2])),
    )


def _scale(con: duckdb.DuckDBPyConnection, name: str, unit: MoneyUnit, plain: str) -> None:
    """Multiply the column's plain numbers by the unit: '$5M' already carries its own."""
    factor = UNIT_SCALE[unit]
    if factor != 1.0:
        con.execute(f"UPDATE norm SET {name} = {name} * ? WHERE {plain}", [factor])


# The store table and key column of each entity: a lineage's records are its rows there.
ENTITY_ROWS = {
    "deals": ("deals", "deal_key"),
    "companies": ("accounts", "account_key"),
    "contacts": ("contacts", "contact_key"),
    "signals": ("signals", "signal_key"),
}
# How a record of each entity is named in a note.
_ROW_LABEL = {
    "deals": "coalesce(name, company_name, deal_key)",
    "companies": "coalesce(name, domain, account_key)",
    "contacts": "coalesce(full_name, email, contact_key)",
    "signals": "signal_type || ' ' || coalesce(account_key, '')",
}
_ENTITY_NOUN = {"deals": "deal", "companies": "company", "contacts": "contact", "signals": "signal"}


def _already_loaded(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    fingerprint: str,
    report: FileReport,
    force: bool,
    dry_run: bool,
) -> bool:
    """True, with ``report.skipped`` saying why, when loading ``path`` would change nothing
    (same bytes read the same way as the latest import of its file) or would put an older
    export back without being asked to. With ``force`` an older export loads, with a note;
    a dry run shows what loading it would do."""
    older = _older_export(con, fingerprint.split(":", 1)[0])
    if older is not None:
        if dry_run and not force:
            report.notes.append(f"{older}: without --force nothing would change")
            return False
        if not force:
            report.skipped = f"{older}; nothing changed (--force loads it, and its values go back)"
            return True
        report.notes.append(
            f"{older}: loaded as asked, so its values go back in place of the newer export's"
        )
        return False
    if force or dry_run:
        return False
    # The same bytes read the same way as the latest import of their file (and of this
    # path: a file since read another way loads again).
    row = first_row(
        con,
        """SELECT i.import_id, i.file_name, i.imported_at FROM imports i
           WHERE i.content_hash = ?
             AND i.import_id = (SELECT max(j.import_id) FROM imports j
                                WHERE coalesce(j.lineage, j.import_id)
                                      = coalesce(i.lineage, i.import_id))
             AND i.import_id >= (SELECT coalesce(max(import_id), 0) FROM imports WHERE path = ?)
           ORDER BY i.import_id DESC LIMIT 1""",
        [fingerprint, str(path.resolve())],
    )
    if row is None:
        return False
    report.skipped = (
        f"unchanged since import #{row[0]} of {row[1]} at {row[2]:%Y-%m-%d %H:%M}; "
        "nothing to do (--force reloads it)"
    )
    return True


def _older_export(con: duckdb.DuckDBPyConnection, file_hash: str) -> str | None:
    """Say so when these bytes are an older version of a file than the one loaded for it.

    Versions of one file (a lineage, see :func:`_lineage`) are ordered by when their bytes
    were first imported: bytes first loaded before the bytes of the lineage's latest import
    are an older export. Bytes that are the latest import of any lineage are not older.
    """
    rows = con.execute(
        """SELECT coalesce(lineage, import_id), import_id, file_name, imported_at,
                  split_part(content_hash, ':', 1)
           FROM imports WHERE coalesce(lineage, import_id) IN
               (SELECT coalesce(lineage, import_id) FROM imports
                WHERE split_part(content_hash, ':', 1) = ?)
           ORDER BY import_id""",
        [file_hash],
    ).fetchall()
    by_lineage: dict[int, list[tuple[int, str, dt.datetime, str]]] = {}
    for lineage, import_id, file_name, imported_at, bytes_hash in rows:
        by_lineage.setdefault(int(lineage), []).append(
            (int(import_id), file_name, imported_at, bytes_hash)
        )
    found: str | None = None
    for imports in by_lineage.values():
        first_seen: dict[str, tuple[int, str, dt.datetime, str]] = {}
        for imp in imports:
            first_seen.setdefault(imp[3], imp)
        latest = imports[-1]
        if latest[3] == file_hash:
            return None
        mine, theirs = first_seen[file_hash], first_seen[latest[3]]
        if mine[0] < theirs[0]:
            found = (
                f"an older export of {latest[1]} (these bytes were first loaded by import "
                f"#{mine[0]} of {mine[1]} at {mine[2]:%Y-%m-%d %H:%M}; import #{latest[0]} "
                f"of {latest[1]} at {latest[2]:%Y-%m-%d %H:%M} holds a newer one)"
            )
    return found


def _owners(con: duckdb.DuckDBPyConnection, entity: str) -> dict[int, int]:
    """How many of ``entity``'s store rows each import last wrote."""
    table, _key = ENTITY_ROWS[entity]
    return {
        int(i): int(n)
        for i, n in con.execute(
            f"SELECT import_id, count(*) FROM {table} WHERE import_id > 0 GROUP BY 1"
        ).fetchall()
    }


def _record_import(
    con: duckdb.DuckDBPyConnection,
    table: SourceTable,
    report: FileReport,
    fingerprint: str,
    settings: IngestSettings,
    owners_before: dict[int, int],
    import_id: int,
) -> int:
    """Record the import (its rows already carry ``import_id``), and supersede the earlier
    versions of the same file: what only they loaded is kept or retired
    (``ingest.missing_rows``), and their quarantine entries give way to this import's."""
    mapping = {c.field: c.column for c in report.layout.choices.values()} if report.layout else {}
    header_hash = hashlib.sha256("\x1f".join(table.header).encode()).hexdigest()[:16]
    lineage = _lineage(con, table, report, fingerprint, header_hash, owners_before)
    con.execute(
        """INSERT INTO imports (import_id, path, file_name, content_hash, entity, system,
               encoding, delimiter, rows_read, rows_loaded, rows_quarantined, cells_quarantined,
               mapping, imported_at, lineage, header_hash)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        [
            import_id,
            str(table.path.resolve()),
            table.path.name,
            fingerprint,
            report.entity,
            report.system,
            table.encoding,
            table.delimiter,
            report.rows_read,
            report.rows_loaded,
            report.rows_quarantined,
            report.cells_quarantined,
            json.dumps(mapping),
            dt.datetime.now(dt.UTC).replace(tzinfo=None),
            lineage or import_id,
            header_hash,
        ],
    )
    _replace_earlier_reads(con, table, report, import_id, fingerprint)
    if lineage is not None:
        _missing_rows(con, report, lineage, import_id, settings.missing_rows)
    # The quarantine shows the current state of each file: a re-import of the same path or
    # of another version of the same file replaces its entries, except those of rows an
    # earlier version loaded that are still kept.
    row_table = ENTITY_ROWS[report.entity][0] if report.entity in ENTITY_ROWS else None
    still_kept = (
        f"""AND NOT EXISTS (SELECT 1 FROM {row_table} r WHERE r.import_id = quarantine.import_id
                              AND r.source_line = quarantine.line)"""
        if row_table
        else ""
    )
    con.execute(
        f"""DELETE FROM quarantine WHERE import_id <> ? AND import_id IN
                (SELECT import_id FROM imports WHERE path = ? OR lineage = ?) {still_kept}""",
        [import_id, str(table.path.resolve()), lineage or import_id],
    )
    if report.problems:
        rows = pa.table(
            {
                "import_id": pa.array([import_id] * len(report.problems), pa.int32()),
                "file": [p.file for p in report.problems],
                "line": pa.array([p.line for p in report.problems], pa.int64()),
                "column": [p.column for p in report.problems],
                "raw_value": [p.value for p in report.problems],
                "reason": [p.reason for p in report.problems],
                "scope": [p.scope for p in report.problems],
            }
        )
        con.register("problem_rows", rows)
        con.execute("INSERT INTO quarantine SELECT * FROM problem_rows")
        con.unregister("problem_rows")
    return import_id


def _lineage(
    con: duckdb.DuckDBPyConnection,
    table: SourceTable,
    report: FileReport,
    fingerprint: str,
    header_hash: str,
    owners_before: dict[int, int],
) -> int | None:
    """The lineage this import continues (the id of the first import of the file it is a
    version of), or None for a file not seen before.

    A file of the same entity is another version of an imported one when it has, in order:
    the same path; the same bytes (a copy elsewhere); or the same columns and at least half
    of the records the earlier file's imports still hold (a re-export saved under another
    name). A name alone never decides: ``emea/deals.csv`` and ``us/deals.csv`` are two files.
    """
    entity = report.entity
    if entity not in ENTITY_ROWS:
        return None
    path = str(table.path.resolve())
    file_hash = fingerprint.split(":", 1)[0]
    rows = con.execute(
        """SELECT import_id, coalesce(lineage, import_id), path,
                  split_part(content_hash, ':', 1), header_hash, file_name
           FROM imports WHERE entity = ? ORDER BY import_id""",
        [entity],
    ).fetchall()
    for imp in reversed(rows):
        if imp[2] == path:
            return int(imp[1])
    for imp in reversed(rows):
        if file_hash and imp[3] == file_hash:
            report.notes.append(
                f"same bytes as import #{imp[0]} ({imp[2]}): another copy of that export, "
                "so this import supersedes it"
            )
            return int(imp[1])
    owners_after = _owners(con, entity)
    latest: dict[int, tuple[Any, ...]] = {}
    members: dict[int, list[int]] = {}
    for imp in rows:
        latest[int(imp[1])] = imp
        members.setdefault(int(imp[1]), []).append(int(imp[0]))
    best: tuple[int, int, int, tuple[Any, ...]] | None = None
    for lineage, imp in latest.items():
        if imp[4] != header_hash:
            continue
        owned = sum(owners_before.get(i, 0) for i in members[lineage])
        taken = owned - sum(owners_after.get(i, 0) for i in members[lineage])
        if owned and 2 * taken >= owned and (best is None or taken > best[1]):
            best = (lineage, taken, owned, imp)
    if best is None:
        return None
    lineage, taken, owned, imp = best
    report.notes.append(
        f"same columns as {imp[5]} (import #{imp[0]}) and {taken:,} of its {owned:,} "
        f"{_noun(entity, owned)}: a newer export of it, so this import supersedes it"
    )
    return lineage


def _noun(entity: str, n: int) -> str:
    word = _ENTITY_NOUN.get(entity, "record")
    if n == 1:
        return word
    return "companies" if word == "company" else word + "s"


def _missing_rows(
    con: duckdb.DuckDBPyConnection,
    report: FileReport,
    lineage: int,
    import_id: int,
    mode: str,
) -> None:
    """Report the records earlier versions of this file loaded that this one does not have,
    and keep or retire them (``ingest.missing_rows``). An account is retired only when no
    deal, signal or contact points to it."""
    table, key = ENTITY_ROWS[report.entity]
    earlier = (
        f"import_id IN (SELECT import_id FROM imports WHERE lineage = {int(lineage)} "
        f"AND import_id <> {int(import_id)})"
    )
    if report.entity == "deals":
        # An earlier icpkit keyed deals without ids by all their values (stage and amount
        # included): such keys never match again, so this export's rows replace them.
        stale = f"{earlier} AND deal_key LIKE 'row:%'"
        if replaced := scalar(con, f"SELECT count(*) FROM deals WHERE {stale}"):
            con.execute(f"DELETE FROM deals WHERE {stale}")
            report.notes.append(
                f"{replaced:,} deals without ids, keyed by an earlier icpkit by all their "
                "values, were replaced by this export's (now keyed by company, deal name and "
                "create date)"
            )
    row = first_row(con, f"SELECT count(*), count(DISTINCT import_id) FROM {table} WHERE {earlier}")
    n, imports = (int(row[0]), int(row[1])) if row else (0, 0)
    if not n:
        return
    examples = [
        str(r[0])
        for r in con.execute(
            f"SELECT {_ROW_LABEL[report.entity]} FROM {table} WHERE {earlier} "
            "ORDER BY import_id DESC, source_line LIMIT 3"
        ).fetchall()
    ]
    shown = ", ".join(repr(e) for e in examples) + (", ..." if n > len(examples) else "")
    source = "the previous export" if imports == 1 else "earlier exports"
    what = (
        f"{n:,} {_noun(report.entity, n)} of {source} "
        f"{'are' if n > 1 else 'is'} not in this one ({shown})"
    )
    report.rows_missing = n
    if mode != "retire":
        report.notes.append(f"{what}; kept (ingest.missing_rows: retire removes them)")
        return
    retire = f"SELECT {key} FROM {table} WHERE {earlier}"
    if table == "accounts":
        retire += """ AND account_key NOT IN
                (SELECT account_key FROM deals WHERE account_key IS NOT NULL
                 UNION ALL SELECT account_key FROM signals WHERE account_key IS NOT NULL
                 UNION ALL SELECT account_key FROM contacts WHERE account_key IS NOT NULL)"""
    con.execute(f"CREATE OR REPLACE TEMP TABLE retired_keys AS {retire}")
    retired = scalar(con, "SELECT count(*) FROM retired_keys")
    con.execute(f"DELETE FROM {table} WHERE {key} IN (SELECT {key} FROM retired_keys)")
    if table == "accounts":
        con.execute(
            "DELETE FROM account_ids WHERE account_key IN (SELECT account_key FROM retired_keys)"
        )
    con.execute("DROP TABLE retired_keys")
    report.rows_retired = retired
    kept = (
        f"; {n - retired:,} kept because deals, signals or contacts point to them"
        if retired < n
        else ""
    )
    report.notes.append(f"{what}; retired (ingest.missing_rows: retire){kept}")


def _replace_earlier_reads(
    con: duckdb.DuckDBPyConnection,
    table: SourceTable,
    report: FileReport,
    import_id: int,
    fingerprint: str,
) -> None:
    """Remove what earlier imports of this very file (same path, same bytes) loaded that
    this import does not: read with another encoding or other options, its names and hence
    its keys differ, and the old rows would stay beside the new ones as duplicates.

    Deals, signals and contacts still carrying an earlier import's id were not loaded
    again; an account is removed only when no deal, signal or contact (of any file) points
    to it any more.
    """
    earlier = [
        (int(r[0]), r[1], r[2])
        for r in con.execute(
            "SELECT import_id, content_hash, encoding FROM imports WHERE path = ? "
            "AND split_part(content_hash, ':', 1) = ? AND import_id < ? ORDER BY import_id",
            [str(table.path.resolve()), fingerprint.split(":", 1)[0], import_id],
        ).fetchall()
    ]
    if not earlier:
        return
    ids = [e[0] for e in earlier]
    con.register("replaced_imports", pa.table({"import_id": pa.array(ids, pa.int32())}))
    removed: dict[str, int] = {"accounts": 0}
    replaced = "import_id IN (SELECT import_id FROM replaced_imports)"
    for name in ("deals", "signals", "contacts"):
        removed[name] = scalar(con, f"SELECT count(*) FROM {name} WHERE {replaced}")
        con.execute(f"DELETE FROM {name} WHERE {replaced}")
    con.execute(
        """CREATE OR REPLACE TEMP TABLE replaced_accounts AS
           SELECT account_key FROM accounts
           WHERE import_id IN (SELECT import_id FROM replaced_imports)
             AND account_key NOT IN
                 (SELECT account_key FROM deals WHERE account_key IS NOT NULL
                  UNION ALL SELECT account_key FROM signals WHERE account_key IS NOT NULL
                  UNION ALL SELECT account_key FROM contacts WHERE account_key IS NOT NULL)"""
    )
    removed["accounts"] = scalar(con, "SELECT count(*) FROM replaced_accounts")
    for name in ("accounts", "account_ids"):
        con.execute(
            f"DELETE FROM {name} WHERE account_key IN (SELECT account_key FROM replaced_accounts)"
        )
    con.execute("DROP TABLE replaced_accounts")
    con.unregister("replaced_imports")
    read_other_way = [e for e in earlier if e[1] != fingerprint]
    if not read_other_way and not any(removed.values()):
        return
    latest = (read_other_way or earlier)[-1]
    how = f", read as {latest[2]}" if latest[2] and latest[2] != table.encoding else ""
    gone = ", ".join(f"{n} {name if n > 1 else name[:-1]}" for name, n in removed.items() if n)
    report.notes.append(
        f"same file and bytes as import #{latest[0]}{how}: this import replaces it"
        + (f"; removed what only that import had loaded ({gone})" if gone else "")
    )
