"""Scored files (``icp score FILE --out``): where each format carries its schema version, and
:func:`read_scored`, which reads one back after checking that version.

Each format carries the version where its readers look for it:

- Parquet: key-value metadata in the file's footer, ``icpkit.schema_version`` beside
  ``icpkit.version``, ``icpkit.icp_version``, ``icpkit.data_fingerprint`` and
  ``icpkit.as_of`` (``pyarrow.parquet.read_metadata(path).metadata``, DuckDB's
  ``parquet_kv_metadata``); the rows hold only the scored columns;
- JSON: one document, an object like every JSON document icpkit writes (docs/json.md):
  ``schema_version``, ``command`` (``"score"``), the same provenance, then ``rows``;
- CSV: a last column ``schema_version``, the same on every row, since a CSV has no other
  place that travels with it (a header comment breaks CSV readers, a sidecar file is left
  behind when the file is mailed, uploaded or loaded).

:func:`read_scored` reads any of the three (a file written by a newer icpkit is refused,
saying so) and gives the same rows from each::

    scored = read_scored(Path("scored.parquet"))
    scored.provenance.icp_version, scored.table.num_rows
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from icpkit import __version__
from icpkit.errors import IcpkitError
from icpkit.output.versions import KEY, PARQUET_PREFIX, SCORED, UnversionedError, check_version

if TYPE_CHECKING:
    import pyarrow as pa

Format = Literal["csv", "parquet", "json"]
FORMATS: dict[str, Format] = {".csv": "csv", ".parquet": "parquet", ".json": "json"}
COMMAND = "score"
"""The ``command`` of a scored JSON document."""
KIND = "scored file"

SCORER_COLUMNS: dict[str, str] = {
    "account_key": "string",
    "fit": "int32",
    "intent": "int32",
    "score": "int32",
    "firmographic": "int32",
    "technographic": "int32",
    "behavioral": "int32",
    "deal_potential": "int32",
    "tier": "string",
    "route": "string",
    "win_probability": "float64",
    "top_reasons": "string",
    "negative_reasons": "string",
    "base": "int32",
    "customer": "bool",
}
"""The columns every scored file of schema 1 holds, with their types: what a reader may rely
on. Renaming or removing one, or changing what it means, raises :data:`SCORED`."""
IDENTITY_COLUMNS: dict[str, str] = {
    "line": "int64",
    "record_id": "string",
    "name": "string",
    "domain": "string",
    "employees": "int64",
    "industry": "string",
    "country": "string",
}
"""The columns a scored raw export (not in the input layout) starts with."""


class ScoredFileError(IcpkitError):
    """A file that cannot be read as a scored file: not one, damaged, or of another format."""


@dataclass(frozen=True)
class Provenance:
    """What a scored file says about its making: its schema version and, where the format
    holds them (Parquet, JSON), the icpkit release, the ICP version and the data fingerprint
    of the ICP, and the day intent was scored as of."""

    schema_version: int
    icpkit_version: str | None = None
    icp_version: int | None = None
    data_fingerprint: str | None = None
    as_of: dt.date | None = None


def provenance(icp_version: int, data_fingerprint: str, as_of: dt.date) -> Provenance:
    """The provenance this icpkit writes into a scored file of the ICP ``icp_version``."""
    return Provenance(SCORED, __version__, icp_version, data_fingerprint, as_of)


def parquet_metadata(p: Provenance) -> dict[str, str]:
    """``p`` as the key-value metadata of a Parquet footer (keys ``icpkit.*``, text values)."""
    fields = {
        "schema_version": p.schema_version,
        "version": p.icpkit_version,
        "icp_version": p.icp_version,
        "data_fingerprint": p.data_fingerprint,
        "as_of": p.as_of.isoformat() if p.as_of else None,
    }
    return {PARQUET_PREFIX + k: str(v) for k, v in fields.items() if v is not None}


def json_header(p: Provenance) -> dict[str, Any]:
    """The keys of a scored JSON document before its ``rows``, in order."""
    return {
        KEY: p.schema_version,
        "command": COMMAND,
        "icpkit_version": p.icpkit_version,
        "icp_version": p.icp_version,
        "data_fingerprint": p.data_fingerprint,
        "as_of": p.as_of.isoformat() if p.as_of else None,
    }


def wrap_json_rows(rows: Path, target: Path, p: Provenance) -> None:
    """Write ``target``: the scored JSON document holding the JSON array of rows in ``rows``
    (as DuckDB's ``COPY ... (FORMAT JSON, ARRAY true)`` writes it), streamed, never in
    memory whole."""
    head = json.dumps({**json_header(p), "rows": None})
    with target.open("wb") as out, rows.open("rb") as src:
        out.write(head[: -len("null}")].encode())
        shutil.copyfileobj(src, out, 1 << 20)
        out.write(b"}\n")


@dataclass(frozen=True)
class ScoredOutput:
    """A scored file read back: its format, provenance and rows (the scored columns and any
    passed through; a CSV's ``schema_version`` column is not one of them)."""

    path: Path
    format: Format
    provenance: Provenance
    table: pa.Table

    @property
    def columns(self) -> list[str]:
        """The columns of the rows, in file order."""
        return list(self.table.column_names)

    def rows(self) -> list[dict[str, Any]]:
        """The rows as dicts (the whole file in memory)."""
        rows: list[dict[str, Any]] = self.table.to_pylist()
        return rows


def read_scored(path: Path) -> ScoredOutput:
    """Read the scored file ``path`` (.csv, .parquet or .json) into memory, after checking
    that it carries a schema version this icpkit reads; a newer one is refused
    (:class:`~icpkit.output.versions.NewerSchemaError`), never misread."""
    path = Path(path)
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ScoredFileError(f"{path}: a scored file is .csv, .parquet or .json")
    if not path.is_file():
        raise ScoredFileError(f"{path}: no such file")
    if fmt == "parquet":
        return _read_parquet(path)
    if fmt == "json":
        return _read_json(path)
    return _read_csv(path)


def _read_parquet(path: Path) -> ScoredOutput:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        meta = pq.read_metadata(path).metadata or {}
    except (pa.ArrowException, OSError) as exc:
        raise ScoredFileError(f"{path}: not a readable Parquet file ({exc})") from exc
    found = {
        k.decode(): v.decode() for k, v in meta.items() if k.startswith(PARQUET_PREFIX.encode())
    }
    raw = found.get(PARQUET_PREFIX + KEY)
    if raw is None:
        raise UnversionedError(
            f"{path}: no {PARQUET_PREFIX}{KEY} in its Parquet metadata: not a scored file "
            "icpkit wrote (or one from before scored files carried a version)",
            hint="score the accounts again to write it with its version",
        )
    version = _whole(raw, path)
    check_version(KIND, version, SCORED, str(path))
    icp_version = found.get(PARQUET_PREFIX + "icp_version")
    as_of = found.get(PARQUET_PREFIX + "as_of")
    p = Provenance(
        version,
        found.get(PARQUET_PREFIX + "version"),
        _whole(icp_version, path) if icp_version is not None else None,
        found.get(PARQUET_PREFIX + "data_fingerprint"),
        _day(as_of, path) if as_of is not None else None,
    )
    table = pq.read_table(path)
    # Labels written as Parquet dictionaries read back as the text they hold.
    for i, field in enumerate(table.schema):
        if pa.types.is_dictionary(field.type):
            table = table.set_column(i, field.name, table.column(i).cast(field.type.value_type))
    return ScoredOutput(path, "parquet", p, table)


def _read_json(path: Path) -> ScoredOutput:
    import pyarrow as pa

    try:
        with path.open(encoding="utf-8") as fh:
            doc = json.load(fh)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ScoredFileError(f"{path}: not a readable JSON document ({exc})") from exc
    if not isinstance(doc, dict) or KEY not in doc:
        raise UnversionedError(
            f"{path}: no {KEY} key at the top: not a scored file icpkit wrote (or one from "
            "before scored files carried a version, a list of rows)",
            hint="score the accounts again to write it with its version",
        )
    check_version(KIND, doc[KEY], SCORED, str(path))
    if doc.get("command") != COMMAND or not isinstance(doc.get("rows"), list):
        raise ScoredFileError(
            f"{path}: a JSON document of `icp {doc.get('command')}`, not a scored file "
            f'(command "{COMMAND}" with its rows)'
        )
    icp_version = doc.get("icp_version")
    as_of = doc.get("as_of")
    p = Provenance(
        doc[KEY],
        doc.get("icpkit_version"),
        icp_version if isinstance(icp_version, int) else None,
        doc.get("data_fingerprint"),
        _day(as_of, path) if isinstance(as_of, str) else None,
    )
    rows: list[dict[str, Any]] = doc["rows"]
    names = list(dict.fromkeys(k for r in rows for k in r))
    known = _types(names)
    try:
        # Known columns get their types; columns passed through keep what JSON gave them.
        table = pa.table(
            {
                n: pa.array(
                    [r.get(n) for r in rows], type=_arrow_type(known[n]) if n in known else None
                )
                for n in names
            }
        )
    except (pa.ArrowException, TypeError) as exc:
        raise ScoredFileError(f"{path}: rows that do not fit the scored columns ({exc})") from exc
    return ScoredOutput(path, "json", p, table)


def _read_csv(path: Path) -> ScoredOutput:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    try:
        with path.open(encoding="utf-8", newline="") as fh:
            reader = csv.reader(fh)
            header = next(reader, [])
            first = next(reader, None)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ScoredFileError(f"{path}: not a readable CSV file ({exc})") from exc
    if KEY not in header:
        raise UnversionedError(
            f"{path}: no {KEY} column: not a scored file icpkit wrote (or one from before "
            "scored files carried a version)",
            hint="score the accounts again to write it with its version",
        )
    at = header.index(KEY)
    # The first row's version decides how the rest is read; rows of other versions (files
    # joined together) are refused below.
    version = _whole(first[at], path) if first is not None and at < len(first) else SCORED
    check_version(KIND, version, SCORED, str(path))
    types = {**_types(header), KEY: "int64"}
    # Columns passed through from the input are read as text: '00123' stays '00123'. An
    # empty cell is a missing value; an empty text is written quoted ("").
    options = pacsv.ConvertOptions(
        column_types={n: _arrow_type(types.get(n)) for n in header},
        strings_can_be_null=True,
        quoted_strings_can_be_null=False,
        true_values=["true"],
        false_values=["false"],
    )
    try:
        table = pacsv.read_csv(path, convert_options=options)
    except (pa.ArrowException, OSError) as exc:
        raise ScoredFileError(f"{path}: not readable as a scored CSV ({exc})") from exc
    import pyarrow.compute as pc

    versions = pc.unique(table.column(KEY)).to_pylist()
    for other in versions:
        check_version(KIND, other, SCORED, str(path))
    if len(versions) > 1:
        raise ScoredFileError(
            f"{path}: rows of schema versions {sorted(versions)} in one file; "
            "split it by its schema_version column"
        )
    table = table.drop_columns([KEY])
    return ScoredOutput(path, "csv", Provenance(version), table)


def _types(names: list[str]) -> dict[str, str]:
    """The known types among ``names``: the scorer's columns, and the identity columns of a
    scored raw export (only there: an input-layout file may pass through its own ``line``)."""
    identity = list(IDENTITY_COLUMNS)
    known = dict(SCORER_COLUMNS)
    if names[: len(identity)] == identity:
        known.update(IDENTITY_COLUMNS)
    return {n: known[n] for n in names if n in known}


def _arrow_type(name: str | None) -> pa.DataType:
    import pyarrow as pa

    return {
        "int32": pa.int32(),
        "int64": pa.int64(),
        "float64": pa.float64(),
        "bool": pa.bool_(),
    }.get(name or "string", pa.string())


def _whole(text: str, path: Path) -> int:
    try:
        return int(text)
    except ValueError:
        raise UnversionedError(
            f"{path}: {KEY} {text!r} is not a {KIND} schema version (a whole number from 1)"
        ) from None


def _day(text: str, path: Path) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ScoredFileError(f"{path}: as_of {text!r} is not a day (YYYY-MM-DD)") from None
