"""Champion/challenger (shadow) scoring: both versions recorded, deals after the recording
judged, the paired AUC difference and its verdict; on a CRM whose planted ICP changed, the
version fitted after the change is picked, and two versions of an unchanged ICP are not told
apart."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import duckdb
import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from helpers import DemoWorkspaces
from icpkit.config import save_settings
from icpkit.demo import DemoFiles, Drift, make_crm
from icpkit.icp.model import dump_icp
from icpkit.operate.shadow import (
    Comparison,
    Pair,
    Recorded,
    ShadowBook,
    ShadowError,
    judge_pair,
    paired_auc,
)
from icpkit.validate.metrics import MetricCI
from icpkit.workspace import Workspace

D1 = dt.date(2025, 1, 10)
D2 = dt.date(2025, 3, 1)


# --- the statistics ----------------------------------------------------------------------


def test_each_auc_matches_sklearn_with_ties() -> None:
    rng = np.random.default_rng(4)
    y = rng.random(500) < 0.3
    score = rng.integers(0, 12, 500).astype(float) + 3 * y  # few distinct values: many ties
    other = rng.integers(0, 5, 500).astype(float)
    a, b, diff = paired_auc(y, score, other, np.arange(500), n_boot=50)
    assert a.value == pytest.approx(roc_auc_score(y, score))
    assert b.value == pytest.approx(roc_auc_score(y, other))
    assert diff.value == pytest.approx(b.value - a.value)


def test_one_account_gives_no_interval() -> None:
    y = np.array([True, False, True, False])
    a, _, diff = paired_auc(y, np.arange(4.0), np.arange(4.0)[::-1], np.zeros(4), n_boot=50)
    assert math.isnan(a.low) and math.isnan(diff.low) and math.isnan(diff.high)


def _accounts(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n`` accounts of 1-3 deals, their outcomes from a latent fit, and a good score."""
    rng = np.random.default_rng(seed)
    deals = rng.integers(1, 4, n)
    accounts = np.repeat(np.arange(n), deals)
    fit = rng.normal(size=n)[accounts]
    won = rng.random(accounts.size) < 1 / (1 + np.exp(-(fit - 1)))
    return won, np.round(fit * 4), accounts


def test_the_same_score_twice_differs_by_exactly_nothing() -> None:
    won, score, accounts = _accounts(400, 1)
    a, b, diff = paired_auc(won, score, score.copy(), accounts, n_boot=200)
    assert a == b
    assert (diff.value, diff.low, diff.high) == (0.0, 0.0, 0.0)


def test_a_score_that_ranks_beats_noise_with_an_interval_above_zero() -> None:
    won, score, accounts = _accounts(1500, 2)
    noise = np.random.default_rng(9).integers(0, 20, score.size).astype(float)
    champion, challenger, diff = paired_auc(won, noise, score, accounts, n_boot=300)
    assert challenger.value > 0.65 and abs(champion.value - 0.5) < 0.05
    assert diff.value == pytest.approx(challenger.value - champion.value)
    assert diff.low > 0.1


def test_pairing_narrows_the_interval_on_a_small_difference() -> None:
    # Two scores that differ by a little noise: each AUC is uncertain, their difference
    # (resampled on the same accounts) much less so.
    won, score, accounts = _accounts(1500, 3)
    nudged = score + np.random.default_rng(5).normal(scale=0.5, size=score.size)
    a, _, diff = paired_auc(won, score, nudged, accounts, n_boot=300)
    assert (diff.high - diff.low) < 0.5 * (a.high - a.low)


def _comparison(diff: tuple[float, float, float], closed: int = 500, wins: int = 150) -> Comparison:
    champion = MetricCI(0.64, 0.60, 0.68)
    challenger = MetricCI(0.64 + diff[0], 0.60 + diff[0], 0.68 + diff[0])
    return Comparison(
        2, 3, 1000, D1, D1, 700, closed, wins, 420, champion, challenger, MetricCI(*diff), 30
    )


def test_the_verdict_names_the_better_version_only_when_the_interval_excludes_zero() -> None:
    better = _comparison((0.07, 0.03, 0.11))
    assert better.verdict == "challenger"
    assert better.summary().startswith(
        "version 3 ranks better than version 2 (in force when scored): AUC 0.710 vs 0.640, "
        "difference 0.070 (95% interval 0.030 to 0.110) on 500 closed deals of 420 accounts"
    )
    worse = _comparison((-0.05, -0.08, -0.02))
    assert worse.verdict == "champion"
    assert worse.summary().startswith(
        "version 2 (in force when scored) ranks better than version 3: AUC 0.640 vs 0.590, "
        "difference 0.050 (95% interval 0.020 to 0.080)"
    )
    unsure = _comparison((0.01, -0.02, 0.04))
    assert unsure.verdict == "no difference"
    assert unsure.summary().startswith("no difference shown between version 3 and version 2")


def test_too_few_closed_deals_is_said_plainly_and_never_as_nan() -> None:
    nan = (math.nan, math.nan, math.nan)
    few = _comparison(nan, closed=12, wins=4)
    assert few.verdict == "too few"
    assert few.summary().startswith("not enough closed deals yet")
    assert "12 closed (4 won)" in few.summary()
    assert "nan" not in few.summary().lower()
    # Enough deals, but all lost: no AUC, the same answer.
    assert _comparison(nan, closed=200, wins=0).verdict == "too few"


# --- the record and the deals it judges --------------------------------------------------


def test_the_record_keeps_one_row_per_account_day_and_pair(tmp_path: Path) -> None:
    book = ShadowBook(tmp_path)
    assert book.pairs() == []
    rows = [Recorded("a.com", 50, 60, "B", "A"), Recorded("b.com", 20, 10, "D", "D")]
    assert book.record(rows, day=D1, champion=2, challenger=3, source="file.csv") == 2
    again = [Recorded("a.com", 51, 61, "B", "A")]
    book.record(again, day=D1, champion=2, challenger=3, source="api")
    book.record(again, day=D2, champion=2, challenger=3, source="api")
    book.record(rows[:1], day=D2, champion=2, challenger=4, source="api")
    pairs = {(p.champion, p.challenger): p for p in book.pairs()}
    assert set(pairs) == {(2, 3), (2, 4)}
    assert (pairs[2, 3].accounts, pairs[2, 3].first_day, pairs[2, 3].last_day) == (2, D1, D2)
    table = book.scores(2, 3).to_pylist()
    assert len(table) == 3  # a.com on two days, b.com once
    first = next(r for r in table if r["account_key"] == "a.com" and r["day"] == D1)
    assert (first["champion_score"], first["challenger_score"]) == (51, 61)


def _deals_store(rows: list[tuple[str, str, str, str | None, bool]]) -> duckdb.DuckDBPyConnection:
    """An in-memory store whose ``deals`` are (account, created, outcome, closed, expansion)."""
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE deals (account_key VARCHAR, created_at TIMESTAMP, outcome VARCHAR, "
        "closed_at TIMESTAMP, is_expansion BOOLEAN)"
    )
    con.executemany("INSERT INTO deals VALUES (?, ?, ?, ?, ?)", rows)
    return con


def test_deals_are_judged_by_the_latest_recording_before_they_were_created(
    tmp_path: Path,
) -> None:
    book = ShadowBook(tmp_path)
    book.record(
        [Recorded("a.com", 10, 90, "D", "A"), Recorded("b.com", 90, 10, "A", "D")],
        day=D1, champion=1, challenger=2, source="file.csv",
    )  # fmt: skip
    book.record([Recorded("a.com", 80, 20, "A", "D")], day=D2, champion=1, challenger=2, source="x")
    con = _deals_store(
        [
            ("a.com", "2025-01-05", "won", "2025-02-01", False),  # before any recording
            ("a.com", "2025-01-10", "won", "2025-02-01", False),  # the recording's own day
            ("a.com", "2025-02-01", "won", "2025-03-01", False),  # after D1: scores 10 / 90
            ("b.com", "2025-02-01", "lost", "2025-03-01", False),  # after D1: scores 90 / 10
            ("a.com", "2025-04-01", "lost", "2025-05-01", False),  # after D2: scores 80 / 20
            ("a.com", "2025-04-02", "won", "2025-05-01", True),  # expansion: not judged
            ("b.com", "2025-04-03", "open", None, False),  # open: counted, not judged
            ("c.com", "2025-04-03", "won", "2025-05-01", False),  # never recorded
        ]
    )
    settings = Workspace.init(tmp_path / "ws").settings.model_copy(deep=True)
    settings.monitor.min_closed_deals = 3
    pair = Pair(1, 2, 2, D1, D2)
    result = judge_pair(con, book, pair, settings, n_boot=50)
    assert (result.deals, result.closed, result.wins, result.accounts) == (4, 3, 1, 2)
    # The win (a.com, 10 / 90) against two losses (b.com 90 / 10, a.com later 80 / 20): the
    # challenger ranks it above both, the champion below both.
    assert (result.challenger_auc.value, result.champion_auc.value) == (1.0, 0.0)
    # Replayed before the later deals closed, there are too few to judge.
    early = judge_pair(con, book, pair, settings, as_of=dt.date(2025, 3, 15), n_boot=50)
    assert (early.closed, early.verdict) == (2, "too few")


@pytest.mark.slow
def test_a_version_that_is_not_saved_or_is_the_one_in_force_is_refused(
    tmp_path: Path, demo_workspace: DemoWorkspaces
) -> None:
    ws = demo_workspace(800, 5, derived=True).copy(tmp_path / "ws")
    with pytest.raises(ShadowError, match="no saved ICP version 7 to score in shadow"):
        ws.score_shadow(7)
    with pytest.raises(ShadowError, match="version 1 is the version in force"):
        ws.score_shadow(1)
    assert not (ws.root / ".icp" / "shadow.sqlite").exists()


# --- on a workspace ----------------------------------------------------------------------


def challenger_workspace(root: Path, demo: DemoWorkspaces) -> Workspace:
    """A copy of the derived 800-deal demo workspace with a saved version 2 that drops the
    in-force version's strongest fit rule (icp.yaml stays on version 1)."""
    ws = demo(800, 5, derived=True).copy(root)
    icp = ws.require_icp()
    strongest = max(icp.fit, key=lambda r: r.points or 0)
    ws.versions.save(icp.model_copy(update={"fit": [r for r in icp.fit if r is not strongest]}))
    return Workspace.open(root)


def input_layout_file(ws: Workspace, path: Path) -> Path:
    """The workspace's accounts as a file in the input layout (an account_key column)."""
    con = duckdb.connect(str(ws.store_path), read_only=True)
    try:
        con.execute(
            f"""COPY (SELECT account_key, name, employees, revenue, industry, country,
                             array_to_string(technologies, ';') AS technologies, funding_stage
                      FROM accounts ORDER BY account_key) TO '{path}' (HEADER)"""
        )
    finally:
        con.close()
    return path


def put_in_force(ws: Workspace, version: int) -> Workspace:
    """``version`` made the ICP in force (icp.yaml), as adopting it would."""
    ws.settings.icp = dump_icp(ws.versions.load(version))
    save_settings(ws.settings, ws.config_path)
    return Workspace.open(ws.root)


@pytest.mark.slow
def test_a_shadow_scored_file_keeps_the_champions_columns_and_adds_the_challengers(
    tmp_path: Path, demo_workspace: DemoWorkspaces
) -> None:
    ws = challenger_workspace(tmp_path / "ws", demo_workspace)
    accounts = input_layout_file(ws, tmp_path / "accounts.csv")
    shadow = ws.score_shadow(2, accounts, as_of=D1)
    assert shadow.file is not None
    rows = shadow.file.rows()
    plain = ws.score_file(accounts, as_of=D1).rows()
    assert [{k: r[k] for k in p} for r, p in zip(rows, plain, strict=True)] == plain
    alone = put_in_force(ws, 2).score_file(accounts, as_of=D1).rows()
    for r, a in zip(rows, alone, strict=True):
        assert r["account_key"] == a["account_key"] and r["shadow_version"] == 2
        assert (r["shadow_score"], r["shadow_tier"], r["shadow_fit"], r["shadow_route"]) == (
            a["score"], a["tier"], a["fit"], a["route"],
        )  # fmt: skip
    assert any(r["shadow_score"] != r["score"] for r in rows)
    # Every keyed account is recorded with both scores, as of the scoring day.
    assert shadow.recorded == shadow.scored == len(rows)
    recorded = {r["account_key"]: r for r in ShadowBook(ws.root).scores(1, 2).to_pylist()}
    for r in rows:
        kept = recorded[r["account_key"]]
        assert (kept["day"], kept["champion_score"], kept["challenger_score"]) == (
            D1, r["score"], r["shadow_score"],
        )  # fmt: skip


@pytest.mark.slow
def test_shadow_scoring_the_workspaces_accounts_records_every_one_of_them(
    tmp_path: Path, demo_workspace: DemoWorkspaces
) -> None:
    ws = challenger_workspace(tmp_path / "ws", demo_workspace)
    [(n,)] = (
        duckdb.connect(str(ws.store_path), read_only=True)
        .execute("SELECT count(*) FROM accounts")
        .fetchall()
    )
    result = ws.score_shadow(2, as_of=D1)
    assert result.scored == result.recorded == n and result.file is None
    assert sum(result.tiers.values()) == n
    assert [(p.champion, p.challenger, p.accounts) for p in ShadowBook(ws.root).pairs()] == [
        (1, 2, n)
    ]


# --- the planted change: the version fitted after it ranks better -----------------------

CHANGE = dt.date(2023, 7, 1)  # the planted drift: software deals win far less from then on
LATER = dt.date(2025, 1, 1)  # the challenger is fitted on the deals created before this day


def _two_versions(root: Path, files: DemoFiles, first: dt.date = CHANGE) -> Workspace:
    """Version 1 derived on the deals created before ``first`` (in force), version 2 on those
    before LATER; every deal ingested since; the workspace's accounts scored in shadow as
    of LATER."""
    ws = Workspace.init(root)
    before = root.parent / "before.csv"
    files.write_deals_before(first, before)
    assert ws.ingest([files.companies, before, files.signals]).ok
    assert ws.derive().version == 1
    later = root.parent / "later.csv"
    files.write_deals_before(LATER, later)
    assert ws.ingest([later]).ok
    assert ws.derive().version == 2
    assert ws.ingest([files.deals]).ok
    ws = put_in_force(ws, 1)
    ws.score_shadow(2, as_of=LATER)
    return ws


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_after_a_planted_change_the_version_fitted_after_it_ranks_better(
    tmp_path: Path, seed: int
) -> None:
    files = make_crm(5_000, seed, tmp_path / "crm", drift=Drift(CHANGE, "software", -1.5))
    ws = _two_versions(tmp_path / "ws", files)
    [found] = ws.shadow_monitor().comparisons
    assert (found.champion, found.challenger) == (1, 2)
    assert found.closed >= 300  # closed deals created after the shadow scoring
    assert found.verdict == "challenger", found.summary()
    assert found.difference.low > 0
    assert found.summary().startswith("version 2 ranks better than version 1")
    # Replayed ten days after the shadow scoring, the deals since have not closed yet.
    [early] = ws.shadow_monitor(as_of=LATER + dt.timedelta(days=10)).comparisons
    assert early.verdict == "too few"
    assert early.summary().startswith("not enough closed deals yet")


@pytest.mark.slow
def test_two_versions_of_an_unchanged_icp_show_no_difference_in_most_seeds(
    tmp_path: Path,
) -> None:
    # No drift planted: versions fitted a year apart both learn the same ICP (the later one
    # on more deals), and the comparison should rarely tell them apart.
    told_apart = []
    for seed in range(1, 6):
        files = make_crm(5_000, seed, tmp_path / f"crm-{seed}")
        ws = _two_versions(tmp_path / f"ws-{seed}", files, dt.date(2024, 1, 1))
        [found] = ws.shadow_monitor().comparisons
        assert found.verdict != "too few", found.summary()
        told_apart.append(found.verdict != "no difference")
    assert sum(told_apart) <= 1
