"""Files of the first versioned formats (tests/artifacts/v1, written once by
scripts/make_artifacts.py) still read with today's readers, and mean what they meant.

A change that makes one of these fail breaks files users have on disk: raise the schema
version of that kind (icpkit/output/versions.py), keep a reader for version 1, and list the
change in docs/compatibility.md. Never regenerate v1.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from icpkit.config import load_settings
from icpkit.icp.model import ICP, load_icp
from icpkit.icp.versions import VersionStore
from icpkit.output.documents import read_document
from icpkit.output.scored import IDENTITY_COLUMNS, SCORER_COLUMNS, ScoredOutput, read_scored
from icpkit.vocabulary import ROUTES, TIERS

V1 = Path(__file__).parent / "v1"
AS_OF = dt.date(2025, 10, 1)
FORMATS = ("csv", "parquet", "json")
POINTS = re.compile(r"\(([+-]\d+)\)(?:;|$)")


def _icp() -> ICP:
    settings = load_settings(V1 / "workspace" / "icp.yaml")
    return load_icp(settings.icp, source="v1 icp.yaml: icp")


def _accounts() -> list[dict[str, str]]:
    with (V1 / "accounts.csv").open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _scored() -> dict[str, ScoredOutput]:
    return {fmt: read_scored(V1 / f"scored.{fmt}") for fmt in FORMATS}


def test_icp_yaml_of_v1_loads_with_its_icp() -> None:
    settings = load_settings(V1 / "workspace" / "icp.yaml")
    assert settings.schema_version == 1
    icp = _icp()
    assert icp.schema_version == 1 and icp.version == 1
    assert icp.fit and icp.data_fingerprint
    assert all(rule.id for _, rule in icp.rules()) and all(c.attribute for c in icp.fit)


def test_the_saved_icp_version_of_v1_loads_and_is_the_icp_of_icp_yaml() -> None:
    versions = VersionStore(V1 / "workspace")
    assert versions.numbers() == [1]
    saved = versions.load(1)
    current = _icp()
    assert saved.data_fingerprint == current.data_fingerprint
    assert [(name, r.id) for name, r in saved.rules()] == [
        (name, r.id) for name, r in current.rules()
    ]


def test_the_scored_files_of_v1_give_the_same_rows_in_every_format() -> None:
    scored = _scored()
    records = {row["Record ID"] for row in _accounts()}
    for fmt, out in scored.items():
        assert out.provenance.schema_version == 1, fmt
        assert out.columns[: len(IDENTITY_COLUMNS)] == list(IDENTITY_COLUMNS), fmt
        assert set(SCORER_COLUMNS) <= set(out.columns), fmt
        # Every account of the input is scored, once.
        assert sorted(r["record_id"] for r in out.rows()) == sorted(records), fmt
    assert scored["csv"].rows() == scored["parquet"].rows() == scored["json"].rows()


def test_scores_in_v1_files_still_are_the_base_plus_the_points_of_their_reasons() -> None:
    for row in read_scored(V1 / "scored.parquet").rows():
        told = f"{row['top_reasons']}; {row['negative_reasons']}"
        assert row["base"] + sum(int(p) for p in POINTS.findall(told)) == row["score"], row
        assert row["tier"] in TIERS and row["route"] in ROUTES
        assert 0 <= row["win_probability"] <= 1


def test_the_scored_files_of_v1_name_the_icp_that_scored_them() -> None:
    icp = _icp()
    scored = _scored()
    made = scored["parquet"].provenance
    assert (made.icp_version, made.data_fingerprint, made.as_of) == (
        icp.version,
        icp.data_fingerprint,
        AS_OF,
    )
    assert made.icpkit_version
    assert scored["json"].provenance == made


def test_the_command_documents_of_v1_read_back() -> None:
    universe = pq.read_table(V1 / "universe.parquet")
    tam = read_document(V1 / "tam.json", command="tam")
    counts = {r["measure"]: r["current"] for r in tam["rows"]}
    assert counts["companies in the universe"] == universe.num_rows
    assert counts["market served"] == (
        counts["companies in the universe"]
        - counts["excluded by the ICP"]
        - counts["outside the market served"]
    )
    assert tam["as_of"] == AS_OF.isoformat() and tam["discriminates"] is True

    lookalike = read_document(V1 / "lookalike.json", command="lookalike")
    keys = [r["account_key"] for r in lookalike["rows"]]
    assert [r["rank"] for r in lookalike["rows"]] == list(range(1, len(keys) + 1))
    assert set(keys) <= set(universe.column("account_key").to_pylist())
    with (V1 / "lookalike.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0])[-1] == "schema_version" and {r["schema_version"] for r in rows} == {"1"}
    assert [r["account_key"] for r in rows] == keys


@pytest.mark.parametrize("fmt", FORMATS)
def test_todays_scorer_still_writes_every_column_of_scored_file_schema_1(
    tmp_path: Path, fmt: str
) -> None:
    from icpkit.workspace import Workspace

    root = Workspace.init(tmp_path / "ws").root
    shutil.copy(V1 / "workspace" / "icp.yaml", root / "icp.yaml")
    out = tmp_path / f"scored.{fmt}"
    Workspace.open(root).score_file(V1 / "accounts.csv", as_of=AS_OF, out=out)
    old, new = read_scored(V1 / f"scored.{fmt}"), read_scored(out)
    assert new.provenance.schema_version == old.provenance.schema_version
    if fmt != "csv":
        icp = _icp()
        made = new.provenance
        assert (made.icp_version, made.data_fingerprint, made.as_of) == (
            icp.version,
            icp.data_fingerprint,
            AS_OF,
        )
    # Nothing but the file itself is left beside it (the JSON rows' scratch file included).
    assert [p.name for p in tmp_path.iterdir() if p.name != "ws"] == [out.name]
    types = dict(zip(new.table.column_names, new.table.schema.types, strict=True))
    for name, kind in zip(old.table.column_names, old.table.schema.types, strict=True):
        assert types.get(name) == kind, f"{name}: {kind} in v1, now {types.get(name)}"
