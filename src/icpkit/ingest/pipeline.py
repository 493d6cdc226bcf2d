"""Loading one export into the store: read, detect, normalize, check, merge, in one transaction.

The steps, all inside a single DuckDB transaction so a failure or a crash leaves the
store as it was:

1. stage the raw text cells with their line numbers (``raw``),
2. normalize each mapped column's distinct values (:mod:`icpkit.ingest.cells`) and
   join them back (``norm``),
3. set aside what cannot be read: cells (row kept, cell empty) and rows (not loaded),
4. merge into ``accounts``, ``deals`` or ``signals`` by key, so re-imports update
   instead of duplicating, then relink deals to accounts across files,
5. record the import and its quarantine; commit (or roll back for a dry run).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa

from icpkit.config import IngestSettings
from icpkit.ingest import merge
from icpkit.ingest.cells import OUTPUTS, create_lookup
from icpkit.ingest.detect import Layout
from icpkit.ingest.fields import FIELDS, FieldSpec
from icpkit.ingest.normalize.money import suggest_revenue_unit
from icpkit.ingest.problems import IngestError, Problem
from icpkit.ingest.readers import SourceTable, open_table
from icpkit.ingest.staging import Progress, stage_raw
from icpkit.store.db import first_row, scalar

_UNIT_FACTOR = {"units": 1.0, "thousands": 1e3, "millions": 1e6}


@dataclass
class FileReport:
    """What happened to one file: counts, the layout chosen, problems and notes."""

    path: Path
    entity: str = ""
    system: str = ""
    layout: Layout | None = None
    encoding: str | None = None
    delimiter: str | None = None
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    cells_quarantined: int = 0
    duplicates_merged: int = 0
    blank_records: int = 0
    skipped: str | None = None
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    import_id: int | None = None
    dry_run: bool = False

    def reasons(self) -> dict[str, int]:
        """Quarantined rows and cells counted by reason (the reason's first clause)."""
        counts: dict[str, int] = {}
        for p in self.problems:
            key = f"{p.scope}: {_reason_family(p.reason)}"
            counts[key] = counts.get(key, 0) + 1
        return dict(sorted(counts.items(), key=lambda kv: -kv[1]))


def _reason_family(reason: str) -> str:
    # Reasons carry specifics ("unknown country 'Mars'", "duplicate Record ID 12 ..."):
    # group on the words before them, without quoted values and numbers.
    for sep in (" (", ": ", "; "):
        reason = reason.split(sep)[0]
    reason = re.sub(r"'[^']*'", "", reason)
    return " ".join(w for w in reason.split() if not any(ch.isdigit() for ch in w))


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
    if fingerprint and not force and not dry_run:
        row = first_row(
            con,
            "SELECT import_id, file_name, imported_at FROM imports WHERE content_hash = ? "
            "ORDER BY import_id DESC LIMIT 1",
            [fingerprint],
        )
        if row is not None:
            report.skipped = (
                f"unchanged since import #{row[0]} of {row[1]} at {row[2]:%Y-%m-%d %H:%M}; "
                "nothing to do (--force reloads it)"
            )
            return report

    table = open_table(path, encoding=encoding, sheet=sheet)
    report.encoding, report.delimiter = table.encoding, table.delimiter
    report.notes.extend(table.notes)
    try:
        # Staging fills a temporary table only, so it can run before the transaction.
        layout = stage_raw(con, table, settings, progress)
        con.execute("BEGIN TRANSACTION")
        try:
            _load(con, table, layout, settings, report, strict, fingerprint)
            con.execute("ROLLBACK" if dry_run else "COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    finally:
        table.close()
        for name in ("raw0", "raw", "norm"):
            con.execute(f"DROP TABLE IF EXISTS {name}")
    return report


def _load(
    con: duckdb.DuckDBPyConnection,
    table: SourceTable,
    layout: Layout,
    settings: IngestSettings,
    report: FileReport,
    strict: bool,
    fingerprint: str,
) -> None:
    report.layout, report.entity, report.system = layout, layout.entity, layout.system
    report.notes.extend(layout.notes)
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
    for name, choice in layout.choices.items():
        spec = specs[name]
        src = f'raw."{col_of[choice.column]}"'
        if spec.kind in ("text", "id"):
            expr = f"NULLIF(trim({src}), '')"
            if name in ("company_source_id", "company_name"):
                # HubSpot lists every associated company ('123;456'): the first is the primary.
                expr = f"NULLIF(trim(split_part({expr}, ';', 1)), '')"
            if spec.kind == "id":
                expr = _id_expr(expr, layout.system)
            select.append(f"{expr} AS {name}")
            continue
        alias = f"lk_{name}"
        lookup = create_lookup(con, spec, src, alias, settings)
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
        pairs = ", ".join(f"'{_sql_str(c)}', raw.\"{col_of[c]}\"" for c in extra)
        select.append(f"json_object({pairs}) AS extra")
    else:
        select.append("NULL::JSON AS extra")
    con.execute(f"CREATE TEMP TABLE norm AS SELECT {', '.join(select)} FROM raw {' '.join(joins)}")
    for alias in [f"lk_{n}" for n in layout.choices]:
        con.execute(f"DROP TABLE IF EXISTS {alias}")

    present = set(layout.choices)
    _ensure_columns(con, layout, specs)
    if "company_email" in present:
        # A work email's domain stands in for a missing website.
        con.execute("UPDATE norm SET company_domain = company_email WHERE company_domain IS NULL")
        present.add("company_domain")
    _check_revenue_unit(con, settings, present, report, layout)
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
    )
    loader(context, report)

    report.problems.sort(key=lambda p: (p.line or 0, p.column or ""))
    report.rows_quarantined = sum(1 for p in report.problems if p.scope == "row")
    report.cells_quarantined = sum(1 for p in report.problems if p.scope == "cell")
    report.rows_loaded = report.rows_read - report.rows_quarantined
    if strict and report.problems:
        raise IngestError(report.problems[0])
    report.import_id = _record_import(con, table, report, fingerprint)
    merge.relink(con)


def _id_expr(expr: str, system: str) -> str:
    """Ids as the CRM means them, whatever the export did to them."""
    expr = f"regexp_replace({expr}, '\\.0$', '')"  # Excel turns numeric ids into floats
    if system == "salesforce":
        # An 18-character Salesforce id is the 15-character one plus a case checksum;
        # reports export 15, the API and Data Loader 18: keep 15 so both match.
        expr = (
            f"CASE WHEN regexp_full_match({expr}, '[a-zA-Z0-9]{{18}}') THEN left({expr}, 15) "
            f"ELSE {expr} END"
        )
    return expr


def _ensure_columns(
    con: duckdb.DuckDBPyConnection, layout: Layout, specs: dict[str, FieldSpec]
) -> None:
    """Add every canonical column the file lacks as NULL, so loaders read one shape."""
    have = {r[0] for r in con.execute("DESCRIBE norm").fetchall()}
    for name, spec in specs.items():
        outs = OUTPUTS.get(spec.kind, ())
        wanted: list[tuple[str, str]] = []
        if spec.kind in ("text", "id"):
            wanted.append((name, "VARCHAR"))
        else:
            for out in outs:
                wanted.append((name + out.suffix, out.sql))
            wanted.append((f"{name}_raw", "VARCHAR"))
        for col, typ in wanted:
            if col not in have:
                con.execute(f"ALTER TABLE norm ADD COLUMN {col} {typ}")


def _check_revenue_unit(
    con: duckdb.DuckDBPyConnection,
    settings: IngestSettings,
    present: set[str],
    report: FileReport,
    layout: Layout,
) -> None:
    """Scale plain revenue numbers as configured, or warn when their scale looks off."""
    if "revenue" not in present:
        return
    column = layout.column_of("revenue")
    if settings.revenue_unit != "auto":
        factor = _UNIT_FACTOR[settings.revenue_unit]
        if factor != 1.0:
            # Only bare numbers: '$5M' already carries its unit.
            con.execute(
                "UPDATE norm SET revenue = revenue * ? WHERE regexp_matches("
                "revenue_raw, '^\\s*[0-9][0-9,.\\s]*$')",
                [factor],
            )
            report.notes.append(
                f"column {column!r}: plain numbers read as {settings.revenue_unit} "
                "(ingest.revenue_unit)"
            )
        return
    if "employees" not in present:
        return
    pairs = con.execute(
        "SELECT revenue, employees FROM norm WHERE revenue > 0 AND employees > 0 "
        "AND regexp_matches(revenue_raw, '^\\s*[0-9][0-9,.\\s]*$')"
    ).fetchall()
    check = suggest_revenue_unit([p[0] for p in pairs], [p[1] for p in pairs])
    if check.unit != "units":
        report.notes.append(
            f"column {column!r}: {check.explanation}. Loaded as written; confirm with "
            f"ingest.revenue_unit: {check.unit} in icp.yaml (or 'units' to keep them)"
        )


def _record_import(
    con: duckdb.DuckDBPyConnection, table: SourceTable, report: FileReport, fingerprint: str
) -> int:
    import_id = scalar(con, "SELECT coalesce(max(import_id), 0) + 1 FROM imports")
    mapping = {c.field: c.column for c in report.layout.choices.values()} if report.layout else {}
    con.execute(
        "INSERT INTO imports VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
        ],
    )
    con.execute("UPDATE accounts SET import_id = ? WHERE import_id = -1", [import_id])
    con.execute("UPDATE deals SET import_id = ? WHERE import_id = -1", [import_id])
    con.execute("UPDATE signals SET import_id = ? WHERE import_id = -1", [import_id])
    # The quarantine shows the current state of each file: a re-import replaces its entries.
    con.execute(
        "DELETE FROM quarantine WHERE import_id IN "
        "(SELECT import_id FROM imports WHERE path = ? AND import_id <> ?)",
        [str(table.path.resolve()), import_id],
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


def _sql_str(text: str) -> str:
    return text.replace("'", "''")
