"""The compiled SELECT in DuckDB scores exactly like the Python reference, and the scoring
used to fit the model (features and numpy) agrees with both."""

from __future__ import annotations

from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pytest
import sqlglot
from edge_cases import ACCOUNT_SCHEMA, CONTACT_SCHEMA, SIGNAL_SCHEMA, Case, assert_same_rows

from icpkit.config import Settings
from icpkit.engines.features import compute_features
from icpkit.engines.reference import score_all
from icpkit.engines.score import Scores, apply_scorecard
from icpkit.engines.scorecard import build_scorecard
from icpkit.engines.sql import DIALECTS, Tables, compile_scorecard


def load_duckdb(case: Case) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    for name, rows, schema in (
        ("accounts", case.accounts, ACCOUNT_SCHEMA),
        ("signals", case.signals, SIGNAL_SCHEMA),
        ("contacts", case.contacts, CONTACT_SCHEMA),
    ):
        table = pa.Table.from_pylist(rows, schema=schema)
        con.register(f"{name}_arrow", table)
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM {name}_arrow")
    return con


def run(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, object]]:
    cur = con.execute(sql)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def test_duckdb_scores_every_edge_case_like_the_reference(edge_case: Case) -> None:
    expected = score_all(
        edge_case.icp,
        edge_case.settings,
        edge_case.accounts,
        edge_case.signals,
        edge_case.contacts,
        edge_case.as_of,
    )
    sql = compile_scorecard(edge_case.icp, edge_case.settings, as_of=edge_case.as_of)
    actual = run(load_duckdb(edge_case), sql)
    assert_same_rows(expected, actual, "duckdb")
    # The case is not trivial: every route, tier and kind of reason occurs.
    assert {r["route"] for r in expected} >= {"never", "disqualify", "work_now", "nurture"}
    assert {r["tier"] for r in expected} == {"A", "B", "C", "D"}
    assert any("days ago" in r["top_reasons"] for r in expected)
    assert any("buyer persona" in r["top_reasons"] for r in expected)
    assert any("Outside the market" in r["negative_reasons"] for r in expected)


def numpy_and_sql_scores(case: Case) -> tuple[Scores, list[dict[str, Any]]]:
    """The case's accounts scored by the numpy scorer the fitting uses and by the compiled
    SELECT on DuckDB, both in account-key order."""
    con = load_duckdb(case)
    con.execute("CREATE TABLE acc AS SELECT *, NULL::JSON AS extra FROM accounts")
    con.execute(
        "UPDATE acc SET extra = json_object('Time Zone', \"Time Zone\") "
        'WHERE "Time Zone" IS NOT NULL'
    )
    con.execute(
        f"""CREATE TEMP TABLE score_entities AS SELECT (row_number() OVER (ORDER BY account_key)
            - 1)::BIGINT AS entity_id, account_key, DATE '{case.as_of}' AS as_of FROM acc"""
    )
    features = compute_features(
        con,
        case.icp,
        case.settings.analysis,
        persona=case.settings.scoring.persona,
        accounts="acc",
    )
    scores = apply_scorecard(build_scorecard(case.icp, case.settings.scoring), features)
    sql = compile_scorecard(case.icp, case.settings, as_of=case.as_of)
    return scores, sorted(run(con, sql), key=lambda r: r["account_key"])


def test_the_numpy_scorer_used_in_fitting_agrees_with_the_sql(edge_case: Case) -> None:
    scores, by_sql = numpy_and_sql_scores(edge_case)
    assert scores.score.tolist() == [r["score"] for r in by_sql]
    assert scores.fit.tolist() == [r["fit"] for r in by_sql]
    assert scores.intent.tolist() == [r["intent"] for r in by_sql]
    assert scores.tier.tolist() == [r["tier"] for r in by_sql]
    assert scores.route.tolist() == [r["route"] for r in by_sql]
    assert np.allclose(scores.probability, [r["win_probability"] for r in by_sql], atol=1.01e-4)


def test_every_dialect_parses_back(edge_case: Case) -> None:
    for dialect in DIALECTS:
        sql = compile_scorecard(
            edge_case.icp,
            edge_case.settings,
            dialect=dialect,
            as_of=edge_case.as_of,
            tables=Tables("crm.accounts", "crm.signals", "crm.contacts"),
        )
        tree = sqlglot.parse_one(sql, read=dialect)
        assert tree.find(sqlglot.exp.Select) is not None
        assert "crm" in sql


def test_the_select_is_built_in_named_stages(edge_case: Case) -> None:
    sql = compile_scorecard(edge_case.icp, edge_case.settings, as_of=edge_case.as_of)
    stages = [cte.alias for cte in sqlglot.parse_one(sql, read="duckdb").ctes]
    assert stages == [
        "signal_ages",
        "persona_contacts",
        "matches",
        "points",
        "dimensions",
        "scores",
        "routing",
        "reasons",
    ]


def test_a_scorecard_without_signals_or_persona_reads_only_the_accounts(edge_case: Case) -> None:
    icp = edge_case.icp.model_copy(update={"intent": []})
    sql = compile_scorecard(icp, Settings(), as_of=edge_case.as_of)
    tree = sqlglot.parse_one(sql, read="duckdb")
    stages = [cte.alias for cte in tree.ctes]
    assert stages == ["matches", "points", "dimensions", "scores", "routing", "reasons"]
    read = {t.name for t in tree.find_all(sqlglot.exp.Table)} - set(stages)
    assert read == {"accounts"}


@pytest.mark.parametrize("dialect", ["snowflake", "bigquery"])
def test_warehouse_sql_read_back_into_duckdb_scores_and_explains_like_the_reference(
    edge_case: Case, dialect: str
) -> None:
    """No warehouse runs here: sqlglot reads the warehouse's SELECT back with the warehouse's
    meaning (its CONCAT gives NULL when a piece is NULL) and runs it in DuckDB, so a reason
    that does not apply must leave no separator behind."""
    expected = score_all(
        edge_case.icp,
        edge_case.settings,
        edge_case.accounts,
        edge_case.signals,
        edge_case.contacts,
        edge_case.as_of,
    )
    sql = compile_scorecard(
        edge_case.icp, edge_case.settings, dialect=dialect, as_of=edge_case.as_of
    )
    [read_back] = sqlglot.transpile(sql, read=dialect, write="duckdb")
    actual = run(load_duckdb(edge_case), read_back)
    assert_same_rows(expected, actual, dialect)
    assert not any(r["top_reasons"].startswith("; ") for r in actual)
