"""The SELECT of several ICPs (``icp sql --all-icps``): on DuckDB, PostgreSQL, Spark and read
back from the Snowflake and BigQuery SQL, each ICP's columns are the Python reference's
scores with that ICP alone and best_icp follows the rule; in a workspace it gives the rows
of ``Workspace.score_file``, and ``icp sql --icp NAME`` compiles one named ICP."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest
import sqlglot
from edge_cases import Case
from multi_case import assert_same_multi_rows, named_icps
from test_score_files import edge_workspace  # noqa: F401 (the workspace fixture)
from test_sql_duckdb import load_duckdb, run
from test_sql_engines import _load_postgres, postgres  # noqa: F401 (the server fixture)
from typer.testing import CliRunner

from icpkit.cli.main import app
from icpkit.config import DealFilter, NamedIcp, save_settings
from icpkit.engines.multi import BEST, compile_multi, named_columns
from icpkit.engines.sql import DIALECTS, Tables, compile_scorecard
from icpkit.icp.model import dump_icp
from icpkit.workspace import Workspace, WorkspaceError


def _multi(case: Case, dialect: str = "duckdb", tables: Tables | None = None) -> str:
    return compile_multi(
        case.icp, named_icps(), case.settings, dialect=dialect, tables=tables, as_of=case.as_of
    )


def test_the_select_of_several_icps_on_duckdb_scores_each_like_the_reference(
    edge_case: Case,
) -> None:
    actual = run(load_duckdb(edge_case), _multi(edge_case))
    assert_same_multi_rows(edge_case, named_icps(), actual, "duckdb")


@pytest.mark.parametrize("dialect", ["snowflake", "bigquery"])
def test_the_warehouse_select_of_several_icps_read_back_scores_like_the_reference(
    edge_case: Case, dialect: str
) -> None:
    [read_back] = sqlglot.transpile(_multi(edge_case, dialect), read=dialect, write="duckdb")
    actual = run(load_duckdb(edge_case), read_back)
    assert_same_multi_rows(edge_case, named_icps(), actual, dialect)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_the_select_of_several_icps_is_one_statement_of_every_dialect(
    edge_case: Case, dialect: str
) -> None:
    tables = Tables("crm.accounts", "crm.signals", "crm.contacts")
    sql = _multi(edge_case, dialect, tables)
    parsed = [p for p in sqlglot.parse(sql, read=dialect) if p is not None]
    assert len(parsed) == 1
    read = {f"{t.db}.{t.name}" for t in parsed[0].find_all(sqlglot.exp.Table) if t.db}
    assert {"crm.accounts", "crm.signals", "crm.contacts"} <= read


def test_each_link_of_the_chain_carries_only_the_columns_the_icps_read(edge_case: Case) -> None:
    # A warehouse table's other columns are unknown: the chain names no column beyond those.
    tree = sqlglot.parse_one(_multi(edge_case), read="duckdb")
    first = tree.ctes[0].this
    carried = [s.alias_or_name for s in first.expressions]
    read = {"employees", "revenue", "industry", "country", "founded_year", "technologies"}
    assert set(carried[:-5]) == {*read, "Time Zone"}  # no funding_stage: no rule reads it
    assert carried[-5:] == ["account_key", *named_columns(["edge"])]


@pytest.mark.slow
def test_postgres_scores_several_icps_like_the_reference(postgres: Any, edge_case: Case) -> None:  # noqa: F811
    for table in ("accounts", "signals", "contacts"):
        postgres.execute(f"DROP TABLE IF EXISTS {table}")
    _load_postgres(postgres, edge_case)
    with postgres.cursor() as cur:
        cur.execute(_multi(edge_case, "postgres"))
        names = [d.name for d in cur.description]
        actual = [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
    assert_same_multi_rows(edge_case, named_icps(), actual, "postgres")


@pytest.mark.slow
def test_spark_scores_several_icps_like_the_reference(spark: Any, edge_case: Case) -> None:
    from test_sql_engines import spark_rows

    spark_rows(spark, edge_case)  # the case's tables as the session's views sp_*
    tables = Tables("sp_accounts", "sp_signals", "sp_contacts")
    actual = [r.asDict() for r in spark.sql(_multi(edge_case, "spark", tables)).collect()]
    assert_same_multi_rows(edge_case, named_icps(), actual, "spark")


# --- In a workspace -------------------------------------------------------------------------


@pytest.fixture
def multi_workspace(
    edge_workspace: tuple[Workspace, Path],  # noqa: F811
) -> tuple[Workspace, Path]:
    """The edge-case workspace with the two named ICPs declared and derived (written in)."""
    ws, path = edge_workspace
    ws.settings.icps = [
        NamedIcp(name=name, deals=DealFilter(pipeline=[name]), icp=dump_icp(icp))
        for name, icp in named_icps()
    ]
    save_settings(ws.settings, ws.config_path)
    return Workspace.open(ws.root), path


def test_the_compiled_select_of_every_icp_gives_the_rows_of_score_file(
    multi_workspace: tuple[Workspace, Path], edge_case: Case
) -> None:
    ws, path = multi_workspace
    sql = ws.sql(all_icps=True, as_of=edge_case.as_of)
    con = duckdb.connect()
    con.execute(f"ATTACH '{ws.store_path}' AS ws (READ_ONLY)")
    con.execute(f"CREATE VIEW accounts AS SELECT * FROM read_parquet('{path}')")
    for table in ("signals", "contacts"):
        con.execute(f"CREATE VIEW {table} AS SELECT * FROM ws.{table}")
    compiled = run(con, sql)
    scored = {r["account_key"]: r for r in ws.score_file(path, as_of=edge_case.as_of).rows()}
    assert BEST in compiled[0] and len(compiled) == len(scored) == len(edge_case.accounts)
    for row in compiled:
        assert row == {k: scored[row["account_key"]][k] for k in row}, row["account_key"]


def test_sql_of_a_named_icp_is_that_icps_scorecard(
    multi_workspace: tuple[Workspace, Path], edge_case: Case
) -> None:
    ws, _ = multi_workspace
    named = dict(named_icps())
    for dialect in DIALECTS:
        got = ws.sql(dialect, icp="bins", as_of=edge_case.as_of)
        want = compile_scorecard(named["bins"], ws.settings, dialect=dialect, as_of=edge_case.as_of)
        assert got == want, dialect
    assert ws.sql() == compile_scorecard(ws.require_icp(), ws.settings)


def test_sql_of_an_unknown_icp_is_refused_naming_the_known_ones(
    multi_workspace: tuple[Workspace, Path],
) -> None:
    ws, _ = multi_workspace
    with pytest.raises(Exception, match=r"no ICP named 'partners'.*edge, bins"):
        ws.sql(icp="partners")
    with pytest.raises(WorkspaceError, match="not both"):
        ws.sql(icp="edge", all_icps=True)


def test_sql_of_every_icp_without_named_icps_says_none_is_derived(
    edge_workspace: tuple[Workspace, Path],  # noqa: F811
) -> None:
    ws, _ = edge_workspace
    with pytest.raises(WorkspaceError, match="no named ICP is derived yet"):
        ws.sql(all_icps=True)


def test_icp_sql_prints_every_icp_or_one_named_icp(
    multi_workspace: tuple[Workspace, Path],
) -> None:
    ws, _ = multi_workspace
    every = CliRunner().invoke(app, ["sql", "--all-icps", "--dialect", "spark", "-w", str(ws.root)])
    assert every.exit_code == 0, every.output
    tree = sqlglot.parse_one(every.output, read="spark")
    assert [s.alias_or_name for s in tree.expressions][-9:] == [
        BEST,
        *named_columns(["edge", "bins"]),
    ]
    one = CliRunner().invoke(app, ["sql", "--icp", "edge", "-w", str(ws.root)])
    assert one.exit_code == 0, one.output
    assert one.output == ws.sql(icp="edge") + "\n"
    both = CliRunner().invoke(app, ["sql", "--icp", "edge", "--all-icps", "-w", str(ws.root)])
    assert both.exit_code == 2 and "give one of them" in both.output
    unknown = CliRunner().invoke(app, ["sql", "--icp", "partners", "-w", str(ws.root)])
    assert unknown.exit_code == 1 and "edge, bins" in unknown.output


@pytest.mark.slow
def test_the_spark_engine_scores_every_icp_like_duckdb(
    multi_workspace: tuple[Workspace, Path], edge_case: Case, spark: Any, tmp_path: Path
) -> None:
    ws, path = multi_workspace
    out = tmp_path / "spark.parquet"
    result = ws.score_file(path, engine="spark", as_of=edge_case.as_of, out=out)
    rows = [r.asDict() for r in spark.read.parquet(str(out)).collect()]
    duck = {r["account_key"]: r for r in ws.score_file(path, as_of=edge_case.as_of).rows()}
    assert result.total == len(rows) == len(duck)
    assert {BEST, *named_columns(["edge", "bins"])} <= set(rows[0])
    for row in rows:
        for name in (BEST, *named_columns(["edge", "bins"]), "tier", "route", "fit"):
            want = duck[row["account_key"]][name]
            if name.startswith("win_probability"):
                assert abs(row[name] - want) <= 1.01e-4, (row["account_key"], name)
            else:
                assert row[name] == want, (row["account_key"], name)
