"""Scoring a file of accounts with the compiled scorecard, in DuckDB.

A raw export (any CSV, XLSX or Parquet a CRM or a list vendor produced) is read and
normalized exactly like a companies export: bad cells are quarantined and reported, and the
workspace is never written. A UTF-8 CSV is read in one pass, normalized over distinct values
and merged by account in DuckDB (icpkit.engines.rawfile); what that read cannot take exactly
as ingestion would is loaded into a scratch in-memory store by the ingest pipeline. A file
already in the scorecard's input layout (an ``account_key`` column, e.g. a warehouse
extract) is scored as it stands, streaming, so files larger than memory score with bounded
memory; its values not in canonical form (``USA``, ``51-200``) still pass the ingest
normalizers, once per distinct value (see icpkit.engines.layout). Either way the rows go
through the same compiled SELECT that runs in Spark or a warehouse. Company universes (``icp
tam``, ``icp lookalike``) are read by these same two paths (see icpkit.operate.universe).

Intent, persona and the customer flag come from the workspace's signals, contacts and
deals, matched by account key; a record the workspace knows by its CRM id is that account.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fnmatch
import re
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from icpkit.config import IngestSettings, MappingRule, Settings
from icpkit.engines.features import ScoringError
from icpkit.engines.layout import (
    CANONICAL,
    InputFile,
    clean_columns,
    extra_columns,
    extra_sources,
    open_input,
    typed_columns,
)
from icpkit.engines.multi import reading_icp
from icpkit.engines.scorecard import Scorecard, build_scorecard
from icpkit.engines.sql import Tables, compile_scorecard
from icpkit.icp.model import ICP
from icpkit.output.csvfile import neutralize_sql
from icpkit.output.files import atomic_path, temp_folder, temp_name
from icpkit.output.scored import Provenance, parquet_metadata, provenance, wrap_json_rows
from icpkit.output.versions import KEY as VERSION_COLUMN
from icpkit.store import connect
from icpkit.store.db import (
    attach_read_only,
    identifier,
    json_path,
    literal,
    path_literal,
    spill_directory,
)
from icpkit.vocabulary import ROUTES, TIERS

if TYPE_CHECKING:
    from icpkit.ingest.report import FileReport

IDENTITY = ("line", "record_id", "name", "domain", "employees", "industry", "country", "customer")
FORMATS = {".csv": "CSV", ".parquet": "PARQUET", ".json": "JSON"}
LABELS = {
    "tier": TIERS,
    "route": ROUTES,
}

Progress = Callable[[float], None]
Annotate = Callable[[duckdb.DuckDBPyConnection, str, str], str]
"""A set-based step over the scored rows (the connection, the scored view, the workspace's
schema prefix) returning the view to read instead: how the workspace names enriched values'
sources in the reasons (see icpkit.enrich.evidence). The compiled SELECT stays as it is."""


@dataclass
class ScoredFile:
    """What scoring a file did: how it was read, the counts, and the rows (when kept)."""

    path: Path
    scorecard: Scorecard
    as_of: dt.date
    sql: str
    total: int
    tiers: dict[str, int]
    routes: dict[str, int]
    report: FileReport | None = None
    out: Path | None = None
    scored_rows: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def rows(self) -> list[dict[str, Any]]:
        """The scored rows (kept in memory only when no output file was written)."""
        return self.scored_rows


def _canonical_view(
    con: duckdb.DuckDBPyConnection,
    f: InputFile,
    icp: ICP,
    deals: str,
    fixes: dict[str, tuple[str, str]],
) -> tuple[str, ...]:
    """``score_input`` over a file already in the input layout; returns the pass-through
    columns (every column of the file that is not an input, then the customer flag)."""
    source, columns = f.source, f.columns
    extras = extra_columns(icp)
    passthrough = tuple(c for c in columns if c not in CANONICAL and c not in extras)
    select = typed_columns(columns, icp, fixes)
    select += [f"f.{identifier(c)} AS {identifier('in_' + c)}" for c in passthrough]
    select.append(
        f"CAST(f.account_key AS VARCHAR) IN (SELECT account_key FROM {deals} "
        "WHERE outcome = 'won' AND account_key IS NOT NULL) AS customer"
    )
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW score_input AS SELECT {', '.join(select)} FROM {source} AS f"
    )
    return (*(f"in_{c}" for c in passthrough), "customer")


def ingested_view(
    con: duckdb.DuckDBPyConnection, icp: ICP | None, ids: str, deals: str
) -> tuple[str, ...]:
    """``score_input`` over a raw export loaded into the scratch store (see
    :func:`ingest_accounts`): a record the workspace knows by its CRM id takes its key."""
    extras = ", ".join(
        f"json_extract_string(a.extra, {literal(json_path(key))}) AS {identifier(column)}"
        for column, key in sorted(extra_sources(icp).items())
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP VIEW score_input AS
            WITH known AS (
              SELECT s.account_key, min(w.account_key) AS workspace_key
              FROM account_ids s JOIN {ids} w USING (system, source_id)
              GROUP BY s.account_key)
            SELECT coalesce(k.workspace_key, a.account_key) AS account_key,
                   a.source_line AS line,
                   (SELECT min(source_id) FROM account_ids i
                    WHERE i.account_key = a.account_key) AS record_id,
                   a.name, a.domain, a.employees, a.revenue, a.industry, a.country,
                   a.funding_stage, a.founded_year, a.technologies, a.total_funding,
                   coalesce(k.workspace_key, a.account_key) IN
                     (SELECT account_key FROM {deals}
                      WHERE outcome = 'won' AND account_key IS NOT NULL) AS customer
                   {", " + extras if extras else ""}
            FROM accounts a LEFT JOIN known k USING (account_key)"""
    )
    return IDENTITY


@contextlib.contextmanager
def _watch(con: duckdb.DuckDBPyConnection, progress: Progress | None) -> Iterator[None]:
    """Report the running query's progress (0-100) every half second."""
    if progress is None:
        yield
        return
    # DuckDB tracks a query's progress only with its progress bar on, and only after
    # progress_bar_time (2 s by default): without these query_progress() stays at -1.
    con.execute(
        "SET enable_progress_bar = true; SET enable_progress_bar_print = false; "
        "SET progress_bar_time = 0"
    )
    done = threading.Event()

    def poll() -> None:
        while not done.wait(0.5):
            with contextlib.suppress(duckdb.Error):
                value = con.query_progress()
                if value >= 0:
                    progress(float(value))

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


def score_file(
    path: Path,
    icp: ICP,
    settings: Settings,
    store: Path | None,
    *,
    as_of: dt.date | None = None,
    out: Path | None = None,
    encoding: str | None = None,
    sheet: str | None = None,
    progress: Progress | None = None,
    annotate: Annotate | None = None,
    named: Sequence[tuple[str, ICP]] = (),
    fast: bool = True,
) -> ScoredFile:
    """Score every account of ``path`` with ``icp`` as of ``as_of`` (default: today); with
    ``out`` (.csv, .parquet or .json) the rows stream to that file, written whole or not at
    all, else they are returned. ``annotate`` rewords the scored rows after the SELECT.
    ``named`` ICPs add their columns and the best fit (see icpkit.engines.multi).

    A raw export is read in one pass when it can be (see icpkit.engines.rawfile), else
    loaded into the scratch store; ``fast=False`` always loads it: the reference the
    one-pass read is tested against."""
    day = as_of or dt.date.today()
    if not path.is_file():
        raise ScoringError(f"{path}: not a file (score a CSV, XLSX or Parquet file)")
    if out is not None and out.suffix.lower() not in FORMATS:
        raise ScoringError(f"{out}: write .csv, .parquet or .json")
    card = build_scorecard(icp, settings.scoring)
    # The input view carries every column the ICPs read (named ones' unmapped fields too).
    reads = icp if not named else reading_icp(icp, [n for _, n in named])
    root = store.parent if store is not None else None
    con = connect(":memory:", temp_directory=spill_directory(root, settings.store.temp_directory))
    if settings.store.memory_limit:
        con.execute(f"SET memory_limit = {literal(settings.store.memory_limit)}")
    if settings.store.threads:
        con.execute(f"SET threads = {int(settings.store.threads)}")
    stack = contextlib.ExitStack()
    try:
        schema = ""
        if store is not None and store.exists():
            attach_read_only(con, store)
            schema = "ws."
        report = None
        problems: list[str] = []
        # A copy the readers make of an input-layout file in another encoding lives here.
        near = out.parent if out is not None and out.parent.is_dir() else root
        workdir = stack.enter_context(temp_folder(near or Path(tempfile.gettempdir())))
        found = open_input(con, path, workdir, encoding=encoding, sheet=sheet)
        if found is not None:
            cleaning = clean_columns(con, found)
            keep = _canonical_view(con, found, reads, f"{schema}deals", cleaning.fixes)
            problems = cleaning.problems
        else:
            # Imported here: a file already in the input layout never needs the readers.
            from icpkit.engines.rawfile import score_input_from_export

            read = (
                score_input_from_export(
                    con,
                    path,
                    reads,
                    companies_settings(path, settings),
                    f"{schema}account_ids",
                    f"{schema}deals",
                    encoding=encoding,
                    sheet=sheet,
                )
                if fast
                else None
            )
            if read is not None:
                report, keep = read
            else:
                report = ingest_accounts(con, path, settings, encoding, sheet)
                keep = ingested_view(con, reads, f"{schema}account_ids", f"{schema}deals")
        tables = Tables("score_input", f"{schema}signals", f"{schema}contacts")
        if named:
            from icpkit.engines.multi import compile_with_named

            sql = compile_with_named(con, icp, named, settings, tables=tables, as_of=day, keep=keep)
        else:
            sql = compile_scorecard(icp, settings, tables=tables, as_of=day, keep=keep)
        con.execute(f"CREATE OR REPLACE TEMP VIEW scored AS {sql}")
        view = annotate(con, "scored", schema) if annotate is not None else "scored"
        result = ScoredFile(path, card, day, sql, 0, {}, {}, report, out, problems=problems)
        if out is None:
            with _watch(con, progress):
                cur = con.execute(f"SELECT *, {card.base_total} AS base FROM {view}")
                names = [d[0].removeprefix("in_") for d in cur.description]
                result.scored_rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
            rows = result.scored_rows
            result.total = len(rows)
            for row in rows:
                result.tiers[row["tier"]] = result.tiers.get(row["tier"], 0) + 1
                result.routes[row["route"]] = result.routes.get(row["route"], 0) + 1
        else:
            made = provenance(icp.version, icp.data_fingerprint, day)
            counts = _write(con, out, keep, card, progress, made, view)
            for tier, route, n in counts:
                result.tiers[tier] = result.tiers.get(tier, 0) + n
                result.routes[route] = result.routes.get(route, 0) + n
                result.total += n
        return result
    finally:
        con.close()
        stack.close()


def ingest_accounts(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    settings: Settings,
    encoding: str | None,
    sheet: str | None,
) -> FileReport:
    """Load a raw export into the scratch store ``con`` as companies, whatever detection
    would guess (a mapping rule written for the file keeps its columns)."""
    # Imported here: a file already in the input layout never needs the pipeline.
    from icpkit.ingest.pipeline import ingest_file

    ingest = companies_settings(path, settings)
    return ingest_file(con, path, ingest, encoding=encoding, sheet=sheet, force=True)


def companies_settings(path: Path, settings: Settings) -> IngestSettings:
    """The ingest settings reading ``path`` as companies, whatever detection would guess;
    a mapping rule written for the file keeps its columns."""
    own = next((r for r in settings.ingest.mapping if fnmatch.fnmatch(path.name, r.files)), None)
    rule = (
        own.model_copy(update={"entity": "companies"})
        if own
        else MappingRule(files=path.name, entity="companies")
    )
    return settings.ingest.model_copy(update={"mapping": [rule, *settings.ingest.mapping]})


def _reread(written: Path, kind: str) -> str:
    if kind == "PARQUET":
        return f"read_parquet({path_literal(written)})"
    if kind == "CSV":
        return f"read_csv({path_literal(written)}, header = true)"
    return f"read_json({path_literal(written)})"


_NOT_TEXT = re.compile(
    r"^(BOOLEAN|TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|"
    r"UHUGEINT|FLOAT|DOUBLE|DECIMAL.*|DATE|TIME.*|INTERVAL|UUID)$|\]$|^(STRUCT|MAP)\("
)
"""Column types whose CSV cells cannot start a formula (numbers, dates, lists, structs)."""


def _write(
    con: duckdb.DuckDBPyConnection,
    out: Path,
    keep: tuple[str, ...],
    card: Scorecard,
    progress: Progress | None,
    made: Provenance,
    view: str = "scored",
) -> list[tuple[str, str, int]]:
    """Stream the scored rows into ``out`` through a temporary file renamed at the end, so
    an interrupted run leaves no half-written output; in a CSV every text column is made safe
    for spreadsheets in the SELECT itself (see icpkit.output.csvfile). The file carries its
    schema version as its format allows (see icpkit.output.scored). Returns the rows counted
    by (tier, route), as written."""
    kind = FORMATS[out.suffix.lower()]
    select = []
    for name, type_name, *_ in con.execute(f"DESCRIBE {view}").fetchall():
        if name == f"in_{VERSION_COLUMN}":
            continue  # the version of the file scored, not of this one (a scored file rescored)
        column = identifier(name)
        shown = identifier(name.removeprefix("in_"))
        # Labels (tier, route) come from a fixed set: no formula to neutralize there.
        if kind == "CSV" and name not in LABELS and not _NOT_TEXT.search(str(type_name)):
            select.append(f"{neutralize_sql(column)} AS {shown}")
        elif kind == "PARQUET" and name in LABELS:
            # Labels from a fixed set are written as Parquet dictionaries without hashing
            # each value: cheaper to write and to read.
            select.append(
                f"CAST({column} AS ENUM ({', '.join(map(literal, LABELS[name]))})) AS {shown}"
            )
        else:
            select.append(f"{column} AS {shown}")
    select.append(f"{card.base_total} AS base")
    if kind == "CSV":
        # A CSV has no header to hold it: the version is the last column of every row.
        select.append(f"{made.schema_version} AS {VERSION_COLUMN}")
    metadata = ", ".join(f"{literal(k)}: {literal(v)}" for k, v in parquet_metadata(made).items())
    # USE_TMP_FILE false: DuckDB's own temporary copy (tmp_<name>) would outlive a kill;
    # the file written here is a temporary one already.
    options = {
        "CSV": "FORMAT CSV, HEADER, USE_TMP_FILE false",
        "PARQUET": "FORMAT PARQUET, COMPRESSION zstd, COMPRESSION_LEVEL 1, USE_TMP_FILE false, "
        f"KV_METADATA {{{metadata}}}",
        "JSON": "FORMAT JSON, ARRAY true, USE_TMP_FILE false",
    }[kind]
    with atomic_path(out) as tmp, _watch(con, progress):
        # The JSON rows go to a file of their own first, then into the document around them.
        rows = temp_name(out.with_name(out.name + ".rows")) if kind == "JSON" else tmp
        try:
            con.execute(
                f"COPY (SELECT {', '.join(select)} FROM {view}) TO {literal(str(rows))} ({options})"
            )
            counts: list[tuple[str, str, int]] = con.execute(
                f"SELECT tier, route, count(*) FROM {_reread(rows, kind)} GROUP BY ALL"
            ).fetchall()
            if kind == "JSON":
                wrap_json_rows(rows, tmp, made)
        finally:
            if rows != tmp:
                rows.unlink(missing_ok=True)
    return counts
