"""A company universe for TAM sizing and lookalikes, read by the same pipeline as ingestion.

A universe is any company list. A raw export (a HubSpot or Salesforce company export, a list
vendor's CSV, XLSX or Parquet, in any encoding the ingest readers handle) goes through
ingestion's detection and normalizers into a scratch store, exactly as ``icp score`` reads
one, and is written once into a Parquet file in the scorer's input layout. A file already in
that layout (an ``account_key`` column and the account fields the attributes read, as their
definitions list them: ``employees, revenue, industry, country, technologies, founded_year,
funding_stage, total_funding`` and those of any attribute registered since, see
icpkit.engines.layout.input_layout; other columns such as ``name`` come along) is read
where it lies, never loaded whole, with
the values that need it normalized (``USA``, ``36.9 Million``: see icpkit.engines.layout).
Either way, values that could not be read are reported with file, line, column and value::

    with tempfile.TemporaryDirectory() as tmp:
        universe = open_universe(Path("companies.csv"), ws.settings, ws.store_path, icp,
                                 workdir=Path(tmp))
        print(universe.path, universe.problems)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from icpkit.config import Settings, StoreSettings
from icpkit.engines.layout import (
    MAX_EXAMPLES,
    InputFile,
    clean_columns,
    extra_columns,
    input_layout,
    open_input,
    read_table,
    reads_every_record,
    typed_columns,
)
from icpkit.errors import IcpkitError
from icpkit.icp.model import ICP
from icpkit.ingest.problems import IngestError, Problem
from icpkit.store.db import (
    attach_read_only,
    identifier,
    literal,
    spill_directory,
    use_spill_directory,
)

if TYPE_CHECKING:
    from icpkit.ingest.report import FileReport

VIEW = "universe"


class UniverseError(IcpkitError):
    """A file cannot be read as a company universe; the message says what to change."""


@dataclass
class UniverseFile:
    """A universe ready to read: ``path`` is in the input layout (``source`` itself, or the
    normalized copy of a raw export); ``problems`` are the values that could not be read."""

    source: Path
    path: Path
    report: FileReport | None = None
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def warnings(self) -> list[str]:
        """What reading the universe found, one line each, for the person running it."""
        return [f"unreadable: {p}" for p in self.problems] + [
            f"{self.source.name}: {n}" for n in self.notes
        ]


def scratch(store: StoreSettings, root: Path | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB to read a universe in, within the workspace's memory and threads,
    spilling into the workspace at ``root`` (see icpkit.store.db.spill_directory)."""
    con = duckdb.connect(":memory:")
    _limits(con, store, root)
    return con


def _limits(con: duckdb.DuckDBPyConnection, store: StoreSettings, root: Path | None) -> None:
    use_spill_directory(con, spill_directory(root, store.temp_directory))
    con.execute("SET enable_progress_bar = false")
    if store.memory_limit:
        con.execute(f"SET memory_limit = {literal(store.memory_limit)}")
    if store.threads:
        con.execute(f"SET threads = {int(store.threads)}")


def open_universe(
    path: Path,
    settings: Settings,
    store: Path | None,
    icp: ICP | None,
    *,
    workdir: Path,
    encoding: str | None = None,
    sheet: str | None = None,
) -> UniverseFile:
    """Read ``path`` as a company universe (see the module); copies it makes go to
    ``workdir``, which must outlive the returned file's use."""
    path = Path(path)
    if not path.is_file():
        raise UniverseError(f"{path}: no such file")
    con = scratch(settings.store, store.parent if store is not None else None)
    try:
        try:
            found = open_input(con, path, workdir, encoding=encoding, sheet=sheet)
        except IngestError as exc:
            raise UniverseError(f"{path}: {exc}") from None
        if found is not None:
            cleaning = clean_columns(con, found)
            return UniverseFile(path, found.path, None, cleaning.problems, cleaning.notes)
    finally:
        con.close()
    return _from_export(path, settings, store, icp, workdir, encoding, sheet)


def _from_export(
    path: Path,
    settings: Settings,
    store: Path | None,
    icp: ICP | None,
    workdir: Path,
    encoding: str | None,
    sheet: str | None,
) -> UniverseFile:
    """A raw export ingested as companies into a scratch store (as ``icp score`` reads one),
    then written to ``workdir`` in the input layout; workspace accounts keep their keys."""
    # Imported here: a file in the input layout never needs ingestion.
    from icpkit.engines.prospects import ingest_accounts, ingested_view
    from icpkit.store import connect

    con = connect(":memory:")
    try:
        _limits(con, settings.store, store.parent if store is not None else None)
        schema = ""
        if store is not None and store.exists():
            attach_read_only(con, store)
            schema = "ws."
        try:
            report = ingest_accounts(con, path, settings, encoding, sheet)
        except IngestError as exc:
            raise UniverseError(
                f"{exc} (a universe is a company list: a CRM or list vendor export, or a file "
                f"in the scorer's input layout: {', '.join(input_layout())})"
            ) from None
        ingested_view(con, icp, f"{schema}account_ids", f"{schema}deals")
        out = workdir / f"{path.stem}.universe.parquet"
        con.execute(
            f"COPY (SELECT * EXCLUDE (customer) FROM score_input) TO {literal(str(out))} "
            "(FORMAT PARQUET, COMPRESSION zstd)"
        )
    finally:
        con.close()
    notes = list(report.notes)
    if report.rows_quarantined:
        notes.append(f"{report.rows_quarantined:,} rows could not be read and are left out")
    return UniverseFile(path, out, report, summarize(report.problems), notes)


def summarize(problems: list[Problem]) -> list[str]:
    """Quarantined cells and rows, one line per column and reason family: the first one's
    file, line, column and value, how many, and a few other values."""
    groups: dict[tuple[str | None, str, str], list[Problem]] = {}
    for p in problems:
        family = p.reason.split("'")[0].split(":")[0].strip()
        groups.setdefault((p.column, p.scope, family), []).append(p)
    lines = []
    for (_, scope, _), group in groups.items():
        first = group[0]
        others = sorted({p.value for p in group[1:] if p.value and p.value != first.value})
        also = f" (also {', '.join(repr(v) for v in others[:MAX_EXAMPLES])})" if others else ""
        what = "values read as unknown" if scope == "cell" else "rows left out"
        lines.append(f"{first.message()}; {len(group):,} such {what}{also}")
    return lines


def create_view(con: duckdb.DuckDBPyConnection, path: Path, icp: ICP | None) -> list[str]:
    """Create the temp view ``universe`` over ``path`` (a file in the input layout, such as
    :func:`open_universe` returns): the input columns normalized and cast to their types
    (missing ones NULL, ';'-joined technologies split), then every other column as it is.
    Returns the columns of the file that are not inputs."""
    if not path.is_file():
        raise UniverseError(f"{path}: no such file")
    read = read_table(con, path)
    if read is None or "account_key" not in read[1]:
        got = f"; got columns {', '.join(list(read[1])[:12])}" if read else ""
        raise UniverseError(
            f"{path}: not in the scorer's input layout (an account_key column, then "
            f"{', '.join(list(input_layout())[1:])}){got}; read it with open_universe first"
        )
    source, columns = read
    csv = source.startswith("read_csv")
    if csv and not reads_every_record(con, path, source):
        raise UniverseError(
            f"{path}: some records are not read as rows (a quote left open?); read it with "
            "open_universe first, which sets such lines aside one by one"
        )
    f = InputFile(source, columns, path.name, path, "line" if csv else "row", (), 2 if csv else 1)
    cleaning = clean_columns(con, f)
    extras = extra_columns(icp)
    layout = input_layout()
    others = [c for c in columns if c not in layout and c not in extras]
    select = typed_columns(columns, icp, cleaning.fixes) + [f"f.{identifier(c)}" for c in others]
    con.execute(f"CREATE OR REPLACE TEMP VIEW {VIEW} AS SELECT {', '.join(select)} FROM {source} f")
    return others
