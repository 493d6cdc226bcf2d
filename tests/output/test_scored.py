"""Scored files carry their schema version in each format, and ``read_scored`` refuses one it
would misread: written by a newer icpkit, or carrying no version at all."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from icpkit.output.scored import (
    Provenance,
    ScoredFileError,
    parquet_metadata,
    read_scored,
    wrap_json_rows,
)
from icpkit.output.versions import SCORED, NewerSchemaError, UnversionedError

NEWER = SCORED + 1
ROWS = [
    {"account_key": "acme.com", "score": 61, "tier": "A", "win_probability": 0.42, "crm": "007"},
    {"account_key": "", "score": 12, "tier": "D", "win_probability": None, "crm": None},
]
MADE = Provenance(SCORED, "9.9.9", 4, "abc123", dt.date(2025, 10, 1))


def _csv(path: Path, versions: list[int], header_version: bool = True) -> Path:
    lines = ["account_key,score,tier,win_probability,crm" + (",schema_version" * header_version)]
    cells = [['"acme.com"', "61", "A", "0.42", "007"], ['""', "12", "D", "", ""]]
    for row, version in zip(cells, versions, strict=False):
        lines.append(",".join(row + [str(version)] * header_version))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _parquet(path: Path, metadata: dict[str, str] | None) -> Path:
    table = pa.Table.from_pylist(ROWS)
    pq.write_table(table.replace_schema_metadata(metadata), path)
    return path


def _json(path: Path, doc: object) -> Path:
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def test_a_parquet_file_gives_its_rows_and_the_provenance_in_its_footer(tmp_path: Path) -> None:
    scored = read_scored(_parquet(tmp_path / "s.parquet", parquet_metadata(MADE)))
    assert scored.format == "parquet"
    assert scored.provenance == MADE
    assert scored.rows() == ROWS


def test_a_csv_reads_the_same_rows_as_text_where_the_input_gave_text(tmp_path: Path) -> None:
    scored = read_scored(_csv(tmp_path / "s.csv", [SCORED, SCORED]))
    assert scored.provenance == Provenance(SCORED)
    # The version column is how the file says its layout, not one of its rows' fields.
    assert scored.columns == ["account_key", "score", "tier", "win_probability", "crm"]
    # '007' passed through from the input stays text; an empty text differs from no value.
    assert scored.rows() == ROWS


def test_a_json_document_gives_its_header_as_provenance(tmp_path: Path) -> None:
    doc = {
        "schema_version": SCORED,
        "command": "score",
        "icpkit_version": "9.9.9",
        "icp_version": 4,
        "data_fingerprint": "abc123",
        "as_of": "2025-10-01",
        "rows": ROWS,
    }
    scored = read_scored(_json(tmp_path / "s.json", doc))
    assert scored.provenance == MADE
    assert scored.rows() == ROWS


def test_the_json_rows_duckdb_writes_are_wrapped_into_one_document(tmp_path: Path) -> None:
    rows_file = tmp_path / "rows.json"
    duckdb.connect().execute(
        f"COPY (SELECT 'acme.com' AS account_key, 61 AS score UNION ALL "
        f"SELECT 'b.io', 3) TO '{rows_file}' (FORMAT JSON, ARRAY true)"
    )
    target = tmp_path / "scored.json"
    wrap_json_rows(rows_file, target, MADE)
    doc = json.loads(target.read_text(encoding="utf-8"))
    assert list(doc)[:2] == ["schema_version", "command"] and list(doc)[-1] == "rows"
    assert doc["rows"] == [
        {"account_key": "acme.com", "score": 61},
        {"account_key": "b.io", "score": 3},
    ]
    assert read_scored(target).provenance == MADE


def test_no_rows_wrap_into_a_document_with_an_empty_list(tmp_path: Path) -> None:
    rows_file = tmp_path / "rows.json"
    duckdb.connect().execute(
        f"COPY (SELECT 1 AS score WHERE false) TO '{rows_file}' (FORMAT JSON, ARRAY true)"
    )
    wrap_json_rows(rows_file, tmp_path / "scored.json", MADE)
    scored = read_scored(tmp_path / "scored.json")
    assert scored.rows() == [] and scored.provenance.schema_version == SCORED


NEWER_MESSAGE = f"written by a newer icpkit (scored file schema {NEWER}); this one reads {SCORED}"


def test_a_parquet_file_of_a_newer_schema_is_refused_naming_both_versions(
    tmp_path: Path,
) -> None:
    path = _parquet(tmp_path / "s.parquet", {"icpkit.schema_version": str(NEWER)})
    with pytest.raises(NewerSchemaError) as caught:
        read_scored(path)
    assert str(caught.value) == f"{path}: {NEWER_MESSAGE}"
    assert caught.value.hint is not None and "upgrade icpkit" in caught.value.hint


def test_a_csv_of_a_newer_schema_is_refused(tmp_path: Path) -> None:
    with pytest.raises(
        NewerSchemaError, match=NEWER_MESSAGE.replace("(", r"\(").replace(")", r"\)")
    ):
        read_scored(_csv(tmp_path / "s.csv", [NEWER, NEWER]))


def test_a_csv_whose_later_rows_are_of_a_newer_schema_is_refused(tmp_path: Path) -> None:
    # Two files joined: the first row alone would pass.
    with pytest.raises(NewerSchemaError):
        read_scored(_csv(tmp_path / "s.csv", [SCORED, NEWER]))


def test_a_json_document_of_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = _json(tmp_path / "s.json", {"schema_version": NEWER, "command": "score", "data": []})
    with pytest.raises(NewerSchemaError, match="this one reads"):
        read_scored(path)


@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("s.parquet", lambda p: _parquet(p, None)),
        ("s.csv", lambda p: _csv(p, [SCORED, SCORED], header_version=False)),
        # The layout before versions: a bare list of rows.
        ("s.json", lambda p: _json(p, ROWS)),
    ],
)
def test_a_scored_file_without_a_version_is_refused_not_guessed(
    tmp_path: Path, name: str, make: object
) -> None:
    path = make(tmp_path / name)  # type: ignore[operator]
    with pytest.raises(UnversionedError, match=f"{name}: no .*schema_version"):
        read_scored(path)


def test_a_version_that_is_not_a_whole_number_is_refused(tmp_path: Path) -> None:
    path = _parquet(tmp_path / "s.parquet", {"icpkit.schema_version": "one"})
    with pytest.raises(UnversionedError, match="'one' is not a scored file schema version"):
        read_scored(path)


def test_a_json_document_of_another_command_is_not_a_scored_file(tmp_path: Path) -> None:
    path = _json(tmp_path / "tam.json", {"schema_version": 1, "command": "tam", "rows": []})
    with pytest.raises(ScoredFileError, match="`icp tam`, not a scored file"):
        read_scored(path)


def test_other_suffixes_and_missing_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(ScoredFileError, match=r"scored\.xlsx: a scored file is \.csv"):
        read_scored(tmp_path / "scored.xlsx")
    with pytest.raises(ScoredFileError, match=r"nope\.csv: no such file"):
        read_scored(tmp_path / "nope.csv")
    (tmp_path / "bad.parquet").write_bytes(b"not parquet")
    with pytest.raises(ScoredFileError, match=r"bad\.parquet: not a readable Parquet file"):
        read_scored(tmp_path / "bad.parquet")
