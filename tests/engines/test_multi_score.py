"""Scoring with named ICPs: each named ICP's columns are what that ICP scores alone, the main
ICP's columns are unchanged, and best_icp names the ICP whose win probability stands
furthest above its own base rate among those that take the account."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import duckdb
import pytest

from helpers import DemoWorkspace
from icpkit.engines.multi import PER_ICP, base_rate, best_icp_sql, named_columns
from icpkit.engines.prospects import score_file
from icpkit.icp.model import ICP, ScoringModel
from icpkit.workspace import Workspace
from two_lines import two_line_workspace

DAY = dt.date(2026, 6, 1)


def _icp(deals: int, wins: int) -> ICP:
    return ICP(
        derived_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        data_fingerprint="x",
        scoring=ScoringModel(method="m", intercept=0.0, deals=deals, wins=wins),
    )


def _row(route_a: str, p_a: float, route_b: str, p_b: float) -> dict[str, Any]:
    return {
        "route_a": route_a,
        "win_probability_a": p_a,
        "route_b": route_b,
        "win_probability_b": p_b,
    }


def _best(rows: list[dict[str, Any]], named: list[tuple[str, ICP]]) -> list[str | None]:
    """best_icp_sql run over ``rows`` of route_/win_probability_ columns."""
    columns = sorted(rows[0])
    con = duckdb.connect()
    con.execute(f"CREATE TABLE t ({', '.join(f'{c} VARCHAR' for c in columns)}, i INTEGER)")
    for i, row in enumerate(rows):
        con.execute(
            f"INSERT INTO t VALUES ({', '.join('?' for _ in columns)}, ?)",
            [*(str(row[c]) for c in columns), i],
        )
    cast = {f"win_probability_{n}": f"win_probability_{n}::DOUBLE" for n, _ in named}
    select = ", ".join(f"{cast.get(c, c)} AS {c}" for c in columns)
    got = con.execute(
        f"SELECT {best_icp_sql(named)} FROM (SELECT {select}, i FROM t) ORDER BY i"
    ).fetchall()
    return [r[0] for r in got]


def test_named_columns_are_fit_tier_route_and_win_probability_per_icp() -> None:
    assert named_columns(["a", "b"]) == [
        "fit_a", "tier_a", "route_a", "win_probability_a",
        "fit_b", "tier_b", "route_b", "win_probability_b",
    ]  # fmt: skip
    assert PER_ICP == ("fit", "tier", "route", "win_probability")


def test_best_icp_is_the_highest_win_probability_over_its_own_base_rate() -> None:
    # a wins 10% of its deals, b 50%: 0.2 under a is twice a's base rate, 0.6 under b 1.2x.
    named = [("a", _icp(100, 10)), ("b", _icp(100, 50))]
    rows = [_row("sales", 0.2, "sales", 0.6), _row("sales", 0.05, "sales", 0.4)]
    assert base_rate(named[0][1]) == pytest.approx(0.1)
    assert _best(rows, named) == ["a", "b"]


def test_an_icp_that_excludes_the_account_is_no_candidate() -> None:
    named = [("a", _icp(100, 10)), ("b", _icp(100, 50))]
    rows = [_row("never", 0.9, "nurture", 0.3), _row("disqualify", 0.9, "never", 0.9)]
    assert _best(rows, named) == ["b", None]


def test_a_tie_goes_to_the_icp_declared_first() -> None:
    named = [("a", _icp(100, 20)), ("b", _icp(50, 10))]
    rows = [_row("sales", 0.4, "sales", 0.4)]
    assert _best(rows, named) == ["a"]


# --- A workspace of two product lines -----------------------------------------------------


@pytest.fixture(scope="module")
def two_lines(tmp_path_factory: pytest.TempPathFactory) -> DemoWorkspace:
    return two_line_workspace(tmp_path_factory)


@pytest.fixture(scope="module")
def scored(two_lines: DemoWorkspace) -> list[dict[str, Any]]:
    return two_lines.ws.score_file(two_lines.files.companies, as_of=DAY).rows()


def _alone(ws: Workspace, path: Path, icp: ICP) -> dict[str, dict[str, Any]]:
    """``path`` scored with ``icp`` as the one ICP, by account key."""
    rows = score_file(path, icp, ws.settings, ws.store_path, as_of=DAY).rows()
    return {r["account_key"]: r for r in rows}


@pytest.mark.slow
def test_each_named_icps_columns_are_its_scores_alone(
    two_lines: DemoWorkspace, scored: list[dict[str, Any]]
) -> None:
    ws = two_lines.ws
    assert len(ws.settings.icps) == 2
    for named in ws.settings.icps:
        alone = _alone(ws, two_lines.files.companies, ws.named_icp(named.name))
        assert len(alone) == len(scored)
        for row in scored:
            mine = alone[row["account_key"]]
            got = tuple(row[f"{c}_{named.name}"] for c in PER_ICP)
            assert got == tuple(mine[c] for c in PER_ICP), row["account_key"]


@pytest.mark.slow
def test_main_icps_columns_are_unchanged_by_named_icps(
    two_lines: DemoWorkspace, scored: list[dict[str, Any]]
) -> None:
    ws = two_lines.ws
    alone = _alone(ws, two_lines.files.companies, ws.require_icp())
    names = {"best_icp", *named_columns([n.name for n in ws.settings.icps])}
    for row in scored:
        main = {k: v for k, v in row.items() if k not in names}
        assert main == alone[row["account_key"]]


@pytest.mark.slow
def test_best_icp_is_the_named_icp_with_the_highest_lift(
    two_lines: DemoWorkspace, scored: list[dict[str, Any]]
) -> None:
    ws = two_lines.ws
    icps = [(n.name, ws.named_icp(n.name)) for n in ws.settings.icps]
    for row in scored:
        lifts = {
            name: row[f"win_probability_{name}"] / base_rate(icp)
            for name, icp in icps
            if row[f"route_{name}"] not in ("never", "disqualify")
        }
        best = max(lifts, key=lambda n: lifts[n]) if lifts else None
        if best is not None and list(lifts.values()).count(lifts[best]) > 1:
            continue  # a tie: the order declared decides (tested above)
        assert row["best_icp"] == best, row["account_key"]
    assert {r["best_icp"] for r in scored} >= {n for n, _ in icps}


@pytest.mark.slow
def test_best_icp_is_the_planted_line_for_most_won_accounts(
    two_lines: DemoWorkspace, scored: list[dict[str, Any]]
) -> None:
    import json

    ws = two_lines.ws
    truth = json.loads(two_lines.files.planted_truth.read_text(encoding="utf-8"))
    icp_of = {n.deals.pipeline[0]: n.name for n in ws.settings.icps if n.deals.pipeline}
    con = duckdb.connect(str(ws.store_path), read_only=True)
    try:
        won = dict(
            con.execute(
                "SELECT account_key, any_value(pipeline) FROM deals "
                "WHERE outcome = 'won' AND NOT is_expansion GROUP BY 1"
            ).fetchall()
        )
    finally:
        con.close()
    pipelines = {line["pipeline"] for line in truth["product_lines"]}
    judged = [
        (row["best_icp"], icp_of[won[k]])
        for row in scored
        if (k := row["account_key"]) in won and won[k] in pipelines
    ]
    agree = sum(best == planted for best, planted in judged)
    assert len(judged) > 100
    # Measured 0.86-0.87 on 10,000 deals (seeds 11-13), 0.91 on this workspace's 3,000: a
    # won account that fits neither line well may fit the other line best.
    assert agree / len(judged) > 0.6, (agree, len(judged))


@pytest.mark.slow
def test_a_workspace_without_named_icps_scores_as_it_always_did(
    two_lines: DemoWorkspace, tmp_path: Path
) -> None:
    ws = two_lines.copy(tmp_path / "ws")
    ws.settings.icps = []
    rows = ws.score_file(two_lines.files.companies, as_of=DAY).rows()
    alone = _alone(ws, two_lines.files.companies, ws.require_icp())
    assert "best_icp" not in rows[0]
    assert list(rows[0]) == list(next(iter(alone.values())))


@pytest.mark.slow
def test_named_icps_written_to_parquet_carry_their_columns(
    two_lines: DemoWorkspace, scored: list[dict[str, Any]], tmp_path: Path
) -> None:
    ws = two_lines.ws
    out = tmp_path / "scored.parquet"
    written = ws.score_file(two_lines.files.companies, as_of=DAY, out=out)
    assert written.total == len(scored)
    con = duckdb.connect()
    names = [
        r[0] for r in con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [str(out)]).fetchall()
    ]
    assert "best_icp" in names
    assert set(named_columns([n.name for n in ws.settings.icps])) <= set(names)
    counted = dict(
        con.execute(
            "SELECT best_icp, count(*) FROM read_parquet(?) GROUP BY 1", [str(out)]
        ).fetchall()
    )
    expected: dict[str | None, int] = {}
    for row in scored:
        expected[row["best_icp"]] = expected.get(row["best_icp"], 0) + 1
    assert counted == expected


@pytest.mark.slow
def test_a_named_icp_reading_a_column_the_main_one_does_not_scores_by_it(
    two_lines: DemoWorkspace, tmp_path: Path
) -> None:
    from icpkit.config import save_settings

    ws = two_lines.copy(tmp_path / "ws")
    named = ws.settings.icps[0]
    assert named.icp is not None
    gold = {
        "id": "plan-gold",
        "attribute": "extra:Plan",
        "values": ["Gold"],
        "source": "human",
        "reason": "the line sells on the Gold plan only",
        "points": 10,
    }
    named.icp = {**named.icp, "fit": [*named.icp["fit"], gold]}
    save_settings(ws.settings, ws.config_path)
    path = tmp_path / "accounts.csv"
    path.write_text(
        "account_key,employees,industry,Plan\na.io,120,Software,Gold\nb.io,120,Software,Silver\n",
        encoding="utf-8",
    )
    rows = {r["account_key"]: r for r in Workspace.open(ws.root).score_file(path, as_of=DAY).rows()}
    assert rows["a.io"][f"fit_{named.name}"] > rows["b.io"][f"fit_{named.name}"]
    assert rows["a.io"]["fit"] == rows["b.io"]["fit"]  # the main ICP does not read Plan
