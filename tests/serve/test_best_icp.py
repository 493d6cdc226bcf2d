"""The best-fitting named ICP the API computes in Python is the one ``icp score``'s SQL
names, on every mix of routes, probabilities and ties."""

from __future__ import annotations

import datetime as dt
import itertools
import random

import duckdb

from icpkit.engines.multi import best_icp_sql
from icpkit.icp.model import ICP, ScoringModel
from icpkit.serve.scorer import best_icp

ROUTES = ("work_now", "nurture", "automated_nurture", "disqualify", "never")


def _icp(deals: int, wins: int) -> ICP:
    return ICP(
        derived_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        data_fingerprint="x",
        scoring=ScoringModel(method="m", intercept=0.0, deals=deals, wins=wins),
    )


def test_python_best_icp_is_what_the_sql_names() -> None:
    # a wins 10% of its deals, b and c 20%: 0.2 under a ties 0.4 under b and c.
    named = [("a", _icp(100, 10)), ("b", _icp(100, 20)), ("c", _icp(50, 10))]
    probabilities = (0.0, 0.05, 0.1, 0.2, 0.4, 0.8)
    rng = random.Random(3)
    rows = [
        {n: (rng.choice(ROUTES), rng.choice(probabilities)) for n, _ in named} for _ in range(400)
    ]
    rows += [  # the ties, in every order of declaration
        dict(zip("abc", combo, strict=True))
        for combo in itertools.product([("nurture", 0.2), ("nurture", 0.4)], repeat=3)
    ]
    con = duckdb.connect()
    columns = ", ".join(f"route_{n} VARCHAR, win_probability_{n} DOUBLE" for n, _ in named)
    con.execute(f"CREATE TABLE t (i INTEGER, {columns})")
    con.executemany(
        "INSERT INTO t VALUES (?, ?, ?, ?, ?, ?, ?)",
        [[i, *(v for n, _ in named for v in row[n])] for i, row in enumerate(rows)],
    )
    sql = [r[0] for r in con.execute(f"SELECT {best_icp_sql(named)} FROM t ORDER BY i").fetchall()]
    python = [
        best_icp([(n, icp, {"route": row[n][0], "win_probability": row[n][1]}) for n, icp in named])
        for row in rows
    ]
    assert python == sql
    assert {None, "a", "b", "c"} <= set(sql)  # every outcome is among the cases compared
