"""The Workspace as the one door to the engines: the scorecard as SQL in every dialect, and a
file scored by the engine named, with a clear error for one it does not know."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlglot

from engines.edge_cases import (
    ACCOUNT_SCHEMA,
    AS_OF,
    CONTACT_SCHEMA,
    SIGNAL_SCHEMA,
    assert_same_rows,
    edge_icp,
    edge_rows,
    edge_settings,
)
from icpkit.config import save_settings
from icpkit.engines.reference import score_all
from icpkit.errors import IcpkitError
from icpkit.icp.model import dump_icp
from icpkit.workspace import DIALECTS, Workspace


@pytest.fixture(scope="module")
def scored_ws(tmp_path_factory: pytest.TempPathFactory) -> tuple[Workspace, Path]:
    """A workspace whose icp.yaml holds an ICP with every kind of rule and fitted points, and
    400 accounts full of edge cases as a Parquet file in the input layout."""
    root = tmp_path_factory.mktemp("door")
    ws = Workspace.init(root / "ws")
    ws.settings = edge_settings()
    ws.settings.icp = dump_icp(edge_icp())
    save_settings(ws.settings, ws.config_path)
    accounts, _signals, _contacts = edge_rows()
    path = root / "accounts.parquet"
    pq.write_table(pa.Table.from_pylist(accounts, schema=ACCOUNT_SCHEMA), path)
    return Workspace.open(ws.root), path


@pytest.mark.parametrize("dialect", DIALECTS)
def test_the_scorecard_is_one_select_in_every_dialect_over_the_tables_named(
    scored_ws: tuple[Workspace, Path], dialect: str
) -> None:
    ws, _ = scored_ws
    sql = ws.sql(dialect, accounts="crm.accounts", signals="crm.signals", contacts="crm.people")
    tree = sqlglot.parse_one(sql, read=dialect)
    assert isinstance(tree, sqlglot.exp.Select)
    tables = {".".join(p for p in (t.db, t.name) if p) for t in tree.find_all(sqlglot.exp.Table)}
    assert {"crm.accounts", "crm.signals", "crm.people"} <= tables


def test_the_duckdb_select_scores_with_the_workspace_icp_and_settings(
    scored_ws: tuple[Workspace, Path],
) -> None:
    # The persona of the settings, not only the ICP, decides reasons: both must reach the SQL.
    ws, _ = scored_ws
    accounts, signals, contacts = edge_rows()
    con = duckdb.connect()
    for name, rows, schema in (
        ("accounts", accounts, ACCOUNT_SCHEMA),
        ("signals", signals, SIGNAL_SCHEMA),
        ("contacts", contacts, CONTACT_SCHEMA),
    ):
        con.register(f"{name}_arrow", pa.Table.from_pylist(rows, schema=schema))
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM {name}_arrow")
    cur = con.execute(ws.sql("duckdb", as_of=AS_OF))
    names = [d[0] for d in cur.description]
    actual = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    expected = score_all(edge_icp(), edge_settings(), accounts, signals, contacts, AS_OF)
    assert any("buyer persona" in r["top_reasons"] for r in expected)
    assert_same_rows(expected, actual, "Workspace.sql on duckdb")


def test_an_unknown_dialect_is_refused_naming_every_dialect(
    scored_ws: tuple[Workspace, Path],
) -> None:
    ws, _ = scored_ws
    with pytest.raises(IcpkitError) as raised:
        ws.sql("oracle")
    assert "'oracle'" in str(raised.value)
    assert all(d in str(raised.value) for d in ("duckdb", "spark", "postgres", "snowflake"))
    assert "bigquery" in str(raised.value)


def test_sql_without_an_icp_says_to_derive_first(ws: Workspace) -> None:
    with pytest.raises(IcpkitError, match="no ICP yet: run `icp derive` first"):
        ws.sql("duckdb")


def test_the_duckdb_engine_is_the_default_and_scores_like_the_reference(
    scored_ws: tuple[Workspace, Path],
) -> None:
    ws, path = scored_ws
    accounts, _signals, _contacts = edge_rows()
    expected = score_all(ws.require_icp(), ws.settings, accounts, [], [], AS_OF)
    named = ws.score_file(path, engine="duckdb", as_of=AS_OF)
    by_default = ws.score_file(path, as_of=AS_OF)
    for scored in (named, by_default):
        got = {r["account_key"]: r for r in scored.rows()}
        assert len(got) == len(expected) == scored.total
        assert all(got[r["account_key"]]["score"] == r["score"] for r in expected)
    tiers = {t: sum(r["tier"] == t for r in expected) for t in "ABCD"}
    assert {t: named.tiers.get(t, 0) for t in "ABCD"} == tiers


def test_an_unknown_engine_is_refused_naming_the_engines(
    scored_ws: tuple[Workspace, Path], tmp_path: Path
) -> None:
    ws, path = scored_ws
    with pytest.raises(IcpkitError) as raised:
        ws.score_file(path, engine="pandas", out=tmp_path / "out.parquet")
    assert "'pandas'" in str(raised.value) and "duckdb, spark" in str(raised.value)
    assert not (tmp_path / "out.parquet").exists()


@pytest.mark.parametrize("out", [None, "scored.csv"])
def test_the_spark_engine_asks_for_a_parquet_output_before_starting(
    scored_ws: tuple[Workspace, Path], tmp_path: Path, out: str | None
) -> None:
    ws, path = scored_ws
    with pytest.raises(IcpkitError, match="Spark engine reads and writes Parquet"):
        ws.score_file(path, engine="spark", out=None if out is None else tmp_path / out)


@pytest.mark.slow
def test_the_spark_engine_writes_the_rows_and_counts_them_like_duckdb(
    scored_ws: tuple[Workspace, Path], tmp_path: Path
) -> None:
    pytest.importorskip("pyspark.sql")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("Spark needs Java")
    ws, path = scored_ws
    out = tmp_path / "spark.parquet"
    spark = ws.score_file(path, engine="spark", as_of=AS_OF, out=out)
    duck = ws.score_file(path, as_of=AS_OF)
    assert spark.total == duck.total == 400
    assert spark.tiers == duck.tiers and spark.routes == duck.routes
    written = duckdb.connect().execute(
        f"SELECT account_key, score FROM read_parquet('{out.as_posix()}/*.parquet')"
    )
    assert dict(written.fetchall()) == {r["account_key"]: r["score"] for r in duck.rows()}


def test_check_reports_a_broken_icp_yaml_without_raising(tmp_path: Path) -> None:
    Workspace.init(tmp_path / "ws")
    (tmp_path / "ws" / "icp.yaml").write_text("name: x\nscoring: [1, 2\n", encoding="utf-8")
    assert Workspace.exists(tmp_path / "ws") and not Workspace.exists(tmp_path)
    result = Workspace.check(tmp_path / "ws")
    assert result.errors and result.path == (tmp_path / "ws" / "icp.yaml").resolve()


def test_check_finds_no_workspace_above_a_plain_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ICP_WORKSPACE", raising=False)
    with pytest.raises(IcpkitError, match="no icpkit workspace in"):
        Workspace.check()
