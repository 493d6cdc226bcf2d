"""``icp export dbt``: the model's SQL, its references replaced by real tables, runs on
DuckDB and gives ``Workspace.score_file``'s rows; ``schema.yml`` describes and tests every
column the model returns. (dbt itself is not needed: its Jinja here is two references.)"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import duckdb
import pytest
import sqlglot
import yaml

from icpkit.workspace import DIALECTS

# Every test here reads the derived demo workspace of 4,000 deals (built in ~30 s).
pytestmark = pytest.mark.slow

NOT_NORMALIZED = "edge-case.example"
REF = re.compile(r"\{\{\s*(?:ref|source)\((?:'[^']*',\s*)?'([^']+)'\)\s*\}\}")


def runnable(model: str) -> str:
    """The model as plain SQL: the config block dropped, each reference its table name."""
    text = re.sub(r"\{\{\s*config\(.*?\)\s*\}\}", "", model)
    return REF.sub(lambda m: m[1], text)


def load_tables(accounts: Any, con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """The checked accounts (tools as a list) and the workspace's signals, as tables."""
    # A warehouse table holds normalized values (icp score normalizes a file's first, so
    # 'software' there is the label 'Software'): the one row written otherwise stays out.
    rows = [r for r in accounts.rows if r["account_key"] != NOT_NORMALIZED]
    con.execute(
        """CREATE TABLE accounts (account_key VARCHAR, employees BIGINT, revenue DOUBLE,
           industry VARCHAR, country VARCHAR, technologies VARCHAR[], founded_year INTEGER,
           funding_stage VARCHAR, total_funding DOUBLE)"""
    )

    def cell(v: Any) -> Any:
        return None if v == "" else v

    con.executemany(
        "INSERT INTO accounts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            [
                r["account_key"],
                cell(r["employees"]),
                cell(r["revenue"]),
                cell(r["industry"]),
                cell(r["country"]),
                None
                if r["technologies"] == ""
                else [t.strip() for t in r["technologies"].split(";") if t.strip()],
                cell(r["founded_year"]),
                cell(r["funding_stage"]),
                cell(r["total_funding"]),
            ]
            for r in rows
        ],
    )
    con.execute(f"ATTACH '{accounts.ws.store_path}' AS store (READ_ONLY)")
    con.execute("CREATE TABLE signals AS SELECT * FROM store.signals")
    del path


def test_the_dbt_model_runs_on_duckdb_and_gives_the_rows_of_score_file(
    accounts: Any, tmp_path: Path
) -> None:
    result = accounts.ws.export("dbt", tmp_path / "project", as_of=accounts.day)
    model = (tmp_path / "project" / "models" / "icp_scores.sql").read_text(encoding="utf-8")
    assert "{{ ref('accounts') }}" in model and "{{ ref('signals') }}" in model
    assert f"ICP version {accounts.icp.version}" in model.splitlines()[0]
    con = duckdb.connect()
    load_tables(accounts, con, tmp_path)
    cursor = con.execute(runnable(model))
    names = [d[0] for d in cursor.description]
    got = {row[0]: dict(zip(names, row, strict=True)) for row in cursor.fetchall()}
    assert set(got) == set(accounts.scored) - {NOT_NORMALIZED}
    for key, row in got.items():
        want = {k: accounts.scored[key][k] for k in names}
        assert row == want, key
    schema = yaml.safe_load((tmp_path / "project" / "models" / "schema.yml").read_text("utf-8"))
    (described,) = schema["models"]
    assert described["name"] == "icp_scores"
    assert described["meta"]["icp_version"] == accounts.icp.version
    assert [c["name"] for c in described["columns"]] == names
    assert result.stamp.version == accounts.icp.version


def test_schema_yml_tests_keys_scores_tiers_and_routes(accounts: Any, tmp_path: Path) -> None:
    accounts.ws.export("dbt", tmp_path, dialect="snowflake")
    schema = yaml.safe_load((tmp_path / "models" / "schema.yml").read_text("utf-8"))
    columns = {c["name"]: c.get("tests", []) for c in schema["models"][0]["columns"]}
    assert "unique" in columns["account_key"] and "not_null" in columns["account_key"]
    for name in ("fit", "intent", "score", "tier", "route"):
        assert "not_null" in columns[name], name
    accepted = {
        name: next(t["accepted_values"]["values"] for t in tests if isinstance(t, dict))
        for name, tests in columns.items()
        if name in ("tier", "route")
    }
    assert accepted["tier"] == ["A", "B", "C", "D"]
    assert {"work_now", "nurture", "automated_nurture", "disqualify", "never"} == set(
        accepted["route"]
    )


@pytest.mark.parametrize("dialect", DIALECTS)
def test_every_dialect_reads_the_inputs_through_dbt_sources(
    accounts: Any, tmp_path: Path, dialect: str
) -> None:
    accounts.ws.export("dbt", tmp_path, dialect=dialect, source="crm")
    model = (tmp_path / "models" / "icp_scores.sql").read_text(encoding="utf-8")
    assert "{{ source('crm', 'accounts') }}" in model
    assert "ref(" not in model
    sources = yaml.safe_load((tmp_path / "models" / "sources.yml").read_text("utf-8"))
    tables = [t["name"] for t in sources["sources"][0]["tables"]]
    assert tables == ["accounts", "signals"]  # the demo ICP has no buyer persona
    # With the references as table names, the model is one statement of its dialect.
    parsed = sqlglot.parse(runnable(model), read=dialect)
    assert len([p for p in parsed if p is not None]) == 1


def test_a_name_dbt_cannot_reference_is_refused(accounts: Any, tmp_path: Path) -> None:
    from icpkit.export import ExportError

    with pytest.raises(ExportError, match="source 'my crm'"):
        accounts.ws.export("dbt", tmp_path, source="my crm")
    assert not (tmp_path / "models").exists()
