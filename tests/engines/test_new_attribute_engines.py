"""An attribute icpkit does not define, registered in the test (tools per 100 employees,
tests/tools_per_100.py), is scored by a real PostgreSQL server and a real local Spark
session exactly as by the Python reference: the registry's SQL transpiles and runs the
same everywhere, its values, its min/max number and its reasons included."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from edge_cases import Case, assert_same_rows
from test_sql_engines import _load_postgres, postgres, spark_rows  # noqa: F401 (the server fixture)

from icpkit.attributes import registered
from icpkit.config import Settings
from icpkit.engines.reference import score_all
from icpkit.engines.sql import compile_scorecard
from icpkit.icp.model import ICP, Criterion, ScoringModel
from tools_per_100 import NAME, TOOLS_PER_100, edge_accounts

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", autouse=True)
def _defined() -> Iterator[None]:
    with registered(TOOLS_PER_100):
        yield


def _case() -> Case:
    """Rules on the attribute's values, on its number, and as a boundary."""
    fit = [
        Criterion(id="dense", attribute=NAME, values=["over 5"], weight=0.9, source="derived"),
        Criterion(
            id="sparse",
            attribute=NAME,
            max=2,
            direction="negative",
            weight=-0.6,
            source="derived",
        ),
    ]
    boundary = [
        Criterion(id="some-stack", attribute=NAME, values=["2-5", "over 5"], source="derived")
    ]
    icp = ICP(
        derived_at=dt.datetime(2025, 3, 1),
        data_fingerprint="per-100",
        fit=fit,
        boundary=boundary,
        scoring=ScoringModel(method="hand-made", intercept=-0.5, deals=0, wins=0),
    )
    return Case(icp, Settings(), edge_accounts(), [], [], dt.date(2025, 3, 1))


def _postgres_rows(conn: Any, case: Case) -> list[dict[str, Any]]:
    for table in ("accounts", "signals", "contacts"):
        conn.execute(f"DROP TABLE IF EXISTS {table}")
    _load_postgres(conn, case)
    sql = compile_scorecard(case.icp, case.settings, dialect="postgres", as_of=case.as_of)
    with conn.cursor() as cur:
        cur.execute(sql)
        names = [d.name for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


@pytest.mark.parametrize("engine", ["spark", "postgres"])
def test_every_engine_scores_the_new_attribute_like_the_reference(
    engine: str, request: pytest.FixtureRequest
) -> None:
    case = _case()
    expected = score_all(case.icp, case.settings, case.accounts, [], [], case.as_of)
    connection = request.getfixturevalue(engine)
    rows = spark_rows(connection, case) if engine == "spark" else _postgres_rows(connection, case)
    assert_same_rows(expected, rows, engine)
    # Every rule decided something somewhere: reasons of each kind occur.
    assert any("over 5" in r["top_reasons"] for r in expected)
    assert any(r["negative_reasons"] for r in expected)
    assert {r["route"] for r in expected} >= {"disqualify"}
