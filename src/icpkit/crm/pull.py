"""``icp pull``: a CRM's companies, deals and contacts read through its API into the store,
through the same ingestion as an export file.

Records are read oldest change first and written, a batch at a time, as a CSV file in the
workspace's staging folder (``.icp/crm/staging/``), which ingestion loads like any export:
layout detection, normalizers, quarantine, merge by key, lineage; every row accounted for in
its report, every quarantined cell naming that file and line. After a batch is in the store,
the sync state's cursor moves to its newest change time in one commit, so a pull stopped
midway resumes after the last batch loaded: nothing lost, nothing loaded twice (and a batch
read again would merge by key, never duplicate). A batch never splits records changed at the
same moment, so "changed after the cursor" misses none.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from icpkit.config import MappingRule, Settings
from icpkit.crm.base import OBJECTS, Connector, CrmError, CrmObject, Record
from icpkit.crm.state import STATE_DIR, SyncState
from icpkit.ingest.report import FileReport

BATCH_ROWS = 5_000
"""Records per staged file (more when records changed at the same moment)."""
ASSOCIATED = "Associated Company IDs"
"""The column the associated companies' ids go to (a name ingestion knows for deals and
contacts); a connector that puts the company id among the properties needs none."""

Connect = Callable[[], AbstractContextManager[duckdb.DuckDBPyConnection]]


@dataclass
class ObjectPull:
    """What a pull did with one object."""

    object: CrmObject
    since: dt.datetime | None
    read: int = 0
    loaded: int = 0
    quarantined: int = 0
    cells_quarantined: int = 0
    files: list[FileReport] = field(default_factory=list)


@dataclass
class PullResult:
    """A pull: per object what was read and loaded, and the API calls made."""

    crm: str
    full: bool
    objects: list[ObjectPull] = field(default_factory=list)
    calls: int = 0

    def lines(self) -> list[str]:
        """The pull in words, a line an object."""
        out = []
        for o in self.objects:
            since = (
                "everything" if o.since is None else f"changes since {o.since:%Y-%m-%d %H:%M:%S}"
            )
            line = (
                f"{o.object}: {o.read:,} read ({since}), {o.loaded:,} loaded, "
                f"{o.quarantined:,} quarantined"
            )
            if o.cells_quarantined:
                line += f", {o.cells_quarantined:,} cells set aside"
            out.append(line)
        out.append(f"{self.calls:,} API calls")
        return out


def pull(
    connector: Connector,
    root: Path,
    settings: Settings,
    connect: Connect,
    *,
    full: bool = False,
    objects: Iterable[CrmObject] = OBJECTS,
    batch_rows: int = BATCH_ROWS,
    after_batch: Callable[[CrmObject, int], None] | None = None,
) -> PullResult:
    """Read ``objects`` from the CRM (changes since the last pull, or everything with
    ``full``) and load them into the store of the workspace at ``root``. ``after_batch`` is
    called after each batch is loaded and recorded (object, records so far)."""
    from icpkit.enrich.apply import apply
    from icpkit.ingest.pipeline import ingest_file
    from icpkit.ingest.problems import IngestError

    crm = connector.name
    staging = root / STATE_DIR / "staging"
    staging.mkdir(parents=True, exist_ok=True)
    result = PullResult(crm, full)
    start_calls = connector.calls
    with SyncState(root) as state:
        if full:
            state.forget_cursors(crm)
        for obj in objects:
            since = state.cursor(crm, obj)
            done = ObjectPull(obj, since)
            result.objects.append(done)
            for batch in _batches(connector.read(obj, since), batch_rows):
                seq = state.next_batch(crm)
                path = staging / f"{crm}-{obj}-{seq:06d}.csv"
                _write_csv(path, batch)
                ingest = _ingest_settings(settings, path.name, obj)
                try:
                    with connect() as con:
                        report = ingest_file(con, path, ingest, force=True)
                        ids = _account_keys(con, report, batch) if obj == "companies" else {}
                except IngestError as exc:
                    raise CrmError(
                        f"{crm}: {len(batch):,} {obj} read could not be loaded: {exc}",
                        hint=f"the records are kept in {path}; nothing of them is in the store, "
                        "and the next pull reads them again",
                    ) from exc
                state.advance(crm, obj, max(r.modified_at for r in batch), ids)
                done.read += len(batch)
                done.loaded += report.rows_loaded
                done.quarantined += report.rows_quarantined
                done.cells_quarantined += report.cells_quarantined
                done.files.append(report)
                if after_batch is not None:
                    after_batch(obj, done.read)
    if any(o.loaded for o in result.objects):
        # As after an ingest: enriched values go back over the CRM's gaps.
        with connect() as con:
            apply(con, settings.enrich)
    result.calls = connector.calls - start_calls
    return result


def _batches(records: Iterator[Record], size: int) -> Iterator[list[Record]]:
    """``size`` records at a time, oldest first, never splitting records changed at the
    same moment (the cursor is "after the newest time loaded")."""
    batch: list[Record] = []
    for record in records:
        if len(batch) >= size and record.modified_at != batch[-1].modified_at:
            yield batch
            batch = []
        batch.append(record)
    if batch:
        yield batch


def _write_csv(path: Path, records: list[Record]) -> None:
    """The records as an export: a column per property (in the order first met), the
    associated companies' ids, written whole or not at all."""
    columns: dict[str, None] = {}
    for r in records:
        columns.update(dict.fromkeys(r.properties))
    # A record whose properties hold its companies' ids already (Salesforce's AccountId)
    # needs no second column naming them: ingestion would find two company ids.
    linked = ASSOCIATED not in columns and any(
        not set(r.associations.get("companies", ())) <= {str(v) for v in r.properties.values()}
        for r in records
    )
    names = [*columns, *([ASSOCIATED] if linked else [])]
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(names)
        for r in records:
            row = [_cell(r.properties.get(c)) for c in columns]
            if linked:
                row.append(";".join(r.associations.get("companies", ())))
            out.writerow(row)
    tmp.replace(path)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ";".join(str(v) for v in value)
    return str(value)


def _ingest_settings(settings: Settings, file_name: str, obj: CrmObject) -> Any:
    """The workspace's ingest settings, with the staged file's entity said (detection need not
    guess) and the records of earlier pulls kept (an incremental pull holds only what
    changed)."""
    rule = MappingRule(files=file_name, entity=obj)
    return settings.ingest.model_copy(
        update={"mapping": [rule, *settings.ingest.mapping], "missing_rows": "keep"}
    )


def _account_keys(
    con: duckdb.DuckDBPyConnection, report: FileReport, batch: list[Record]
) -> dict[str, str]:
    """CRM record id -> account key, for the companies of the batch the store now holds."""
    # The store keeps an 18-character Salesforce id as its 15-character form (as reports
    # export it): look the records up by that form.
    ids = {(r.id[:15] if re.fullmatch(r"[a-zA-Z0-9]{18}", r.id) else r.id): r.id for r in batch}
    con.register("pulled_ids", pa.table({"source_id": pa.array(list(ids), pa.string())}))
    rows = con.execute(
        "SELECT a.source_id, a.account_key FROM account_ids a "
        "JOIN pulled_ids p ON a.source_id = p.source_id WHERE a.system = ?",
        [report.system],
    ).fetchall()
    con.unregister("pulled_ids")
    return {ids[str(s)]: str(k) for s, k in rows}
