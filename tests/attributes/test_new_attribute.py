"""An attribute defined once, in the tests and nowhere in icpkit, goes all the way: it is
analyzed (lift table), derived into a fit criterion, compiled to SQL for every dialect,
and scored by DuckDB exactly as by the Python reference, row for row (Spark and PostgreSQL:
tests/engines/test_new_attribute_engines.py). A company universe carrying its input columns
is sized by it (TAM), its value is part of the lookalikes' similarity, and a scored
account's reasons name it by its own label (the backtest: test_new_attribute_backtest.py).

The attribute is tools per 100 employees (tests/tools_per_100.py): the size of the stack
for the size of the company. The CRM is built so that it alone tells wins from losses:
every account has 51-200 employees and 6-8 tools, so neither employees nor stack density
differs, and the tools that only some accounts hold are each too rare to be an attribute.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
import sqlglot

from icpkit.attributes import NumericRange, registered
from icpkit.engines.reference import score_all
from icpkit.engines.sql import DIALECTS, compile_scorecard
from icpkit.icp.model import ICP
from icpkit.workspace import Workspace
from tools_per_100 import (
    COMMON_TOOLS,
    LABEL,
    NAME,
    RARE_TOOLS,
    TOOLS_PER_100,
    edge_accounts,
    write_crm,
)

AS_OF = dt.date(2025, 3, 1)


@pytest.fixture(scope="module")
def defined() -> Iterator[NumericRange]:
    with registered(TOOLS_PER_100) as definition:
        yield definition


@pytest.fixture(scope="module")
def ws(defined: NumericRange, tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    return write_crm(tmp_path_factory.mktemp("per-100"))


@pytest.fixture(scope="module")
def icp(ws: Workspace) -> ICP:
    return ws.derive().icp


def test_the_lift_table_finds_the_attribute_a_discriminator(ws: Workspace) -> None:
    rows = {(r.attribute, r.value): r for r in ws.lift().rows}
    dense, sparse = rows[(NAME, "over 5")], rows[(NAME, "2-5")]
    assert (dense.n_closed, dense.wins) == (80, 64)
    assert (sparse.n_closed, sparse.wins) == (80, 16)
    assert dense.verdict == "discriminator"
    # Nothing else tells wins from losses (employees and stack density hold one value each).
    others = {a for (a, _), r in rows.items() if a != NAME and r.verdict == "discriminator"}
    assert others == set()


def test_derive_makes_it_a_fit_criterion(icp: ICP) -> None:
    rules = [r for r in icp.fit if r.attribute == NAME]
    assert [r.values for r in rules] == [["over 5"]]
    assert rules[0].weight is not None and rules[0].weight > 0


@pytest.mark.parametrize("dialect", DIALECTS)
def test_the_scorecard_compiles_for_every_dialect(ws: Workspace, icp: ICP, dialect: str) -> None:
    sql = compile_scorecard(icp, ws.settings, dialect=dialect, as_of=AS_OF)
    sqlglot.parse_one(sql, read=dialect)  # what was written reads back in the dialect
    # The rule's buckets are in the statement, whatever the dialect's spelling.
    assert "'over 5'" in sql and "100" in sql


def test_duckdb_scores_it_exactly_like_the_python_reference(ws: Workspace, icp: ICP) -> None:
    accounts = edge_accounts()
    expected = score_all(icp, ws.settings, accounts, [], [], AS_OF)
    con = duckdb.connect()
    con.register("accounts_arrow", pa.Table.from_pylist(accounts))
    con.execute(
        "CREATE TABLE accounts AS SELECT * REPLACE (technologies::VARCHAR[] AS technologies) "
        "FROM accounts_arrow"
    )
    con.execute(
        "CREATE TABLE signals (account_key VARCHAR, signal_type VARCHAR, detail VARCHAR, "
        "observed_at TIMESTAMP)"
    )
    con.execute(
        "CREATE TABLE contacts (account_key VARCHAR, seniority VARCHAR, department VARCHAR, "
        "job_title VARCHAR, created_at TIMESTAMP)"
    )
    cur = con.execute(compile_scorecard(icp, ws.settings, as_of=AS_OF))
    names = [d[0] for d in cur.description]
    actual = {r[0]: dict(zip(names, r, strict=True)) for r in cur.fetchall()}
    assert len(actual) == len(expected)
    for row in expected:
        got = actual[row["account_key"]]
        for column, value in row.items():
            if column == "win_probability":
                assert abs(float(got[column]) - value) <= 1.01e-4, (row["account_key"], column)
            else:
                assert got[column] == value, (row["account_key"], column, value, got[column])
    # The rule did something: accounts over 5 per 100 get its points, the others do not.
    reasons = {r["account_key"]: r["top_reasons"] for r in expected}
    assert any("over 5" in text for text in reasons.values())
    assert not all("over 5" in text for text in reasons.values())


# A company list in the input layout: only the columns the attribute reads, tools joined by
# ';'. Dense companies have 8 tools for 60 people (13.3 per 100: over 5), sparse ones 6 for
# 180 (3.3: 2-5); three have no stack on record. 'big.io' and 'small.io' hold the same eight
# tools and differ only in head count: 400 people (2 per 100: up to 2) against 60.
DENSE = [f"d{i}.io" for i in range(7)]
SPARSE = [f"s{i}.io" for i in range(5)]
NO_STACK = [f"u{i}.io" for i in range(3)]
PAIR_TOOLS = [*COMMON_TOOLS, *RARE_TOOLS[:2]]


@pytest.fixture(scope="module")
def universe(defined: NumericRange, tmp_path_factory: pytest.TempPathFactory) -> Path:
    rows = ["account_key,name,employees,technologies"]
    rows += [f"{k},{k},60,{';'.join([*COMMON_TOOLS, *RARE_TOOLS[i : i + 2]])}" for i, k in
             enumerate(DENSE)]  # fmt: skip
    rows += [f"{k},{k},180,{';'.join(COMMON_TOOLS)}" for k in SPARSE]
    rows += [f"{k},{k},60," for k in NO_STACK]
    # The larger company first: were the attribute not weighed, the two would tie and the
    # earlier row would rank first.
    rows += [
        f"big.io,big.io,400,{';'.join(PAIR_TOOLS)}",
        f"small.io,small.io,60,{';'.join(PAIR_TOOLS)}",
    ]
    path = tmp_path_factory.mktemp("universe") / "universe.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_the_tam_counts_the_universe_companies_the_attribute_describes(
    ws: Workspace, icp: ICP, universe: Path
) -> None:
    result = ws.tam(universe, as_of=AS_OF)
    assert result.current.universe == len(DENSE) + len(SPARSE) + len(NO_STACK) + 2
    # Over 5 tools per 100 employees: the dense companies and small.io, nobody else.
    assert result.current.tam == len(DENSE) + 1
    assert result.current.profile == (f"{LABEL[0].upper()}{LABEL[1:]} over 5",)


def test_a_scored_account_s_reasons_name_the_attribute_by_its_label(
    ws: Workspace, icp: ICP, universe: Path
) -> None:
    rows = {r["account_key"]: r for r in ws.score_file(universe, as_of=AS_OF).rows()}
    said = f"{LABEL[0].upper()}{LABEL[1:]} over 5 (+"
    assert all(said in rows[k]["top_reasons"] for k in [*DENSE, "small.io"])
    assert not any(said in rows[k]["top_reasons"] for k in [*SPARSE, *NO_STACK, "big.io"])
    # The label, not the key in words.
    assert not any(
        "per 100" in f"{r['top_reasons']} {r['negative_reasons']}" for r in rows.values()
    )


def test_lookalikes_weigh_the_attribute_and_name_it_as_shared(
    ws: Workspace, icp: ICP, universe: Path
) -> None:
    hits = {h.account_key: h for h in ws.lookalikes(universe, top=20, k=5)}
    # Alike in every other weighed attribute (the same tools; head counts all 51-200 among
    # the customers, so they weigh nothing), the two differ only in tools per 100 employees.
    assert hits["small.io"].similarity > hits["big.io"].similarity
    assert f"over 5 {LABEL}" in hits["small.io"].shared
    assert f"over 5 {LABEL}" not in hits["big.io"].shared
