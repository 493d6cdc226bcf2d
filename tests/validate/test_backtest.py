"""The backtest on planted demo data, over several seeds: the scorecard is as accurate as the
generator's own win probability allows, as accurate as gradient boosting, and its tiers hold."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from icpkit.demo import make_crm
from icpkit.validate import metrics
from icpkit.workspace import Workspace


@pytest.mark.parametrize("seed", [3, 11])
def test_backtest_on_planted_data_meets_the_fields_targets(tmp_path: Path, seed: int) -> None:
    files = make_crm(6_000, seed, tmp_path / "data")
    ws = Workspace.init(tmp_path / "ws")
    assert ws.ingest(files.exports()).ok
    result = ws.backtest(reference=files.win_probabilities(), n_boot=100)
    ours = result.model("icpkit scorecard").auc.value
    truth = result.model("true win probability (generator)").auc.value
    gbm = next(m for m in result.models if "LightGBM" in m.model or "HistGradient" in m.model)
    assert truth - ours < 0.04, (ours, truth)
    assert ours >= gbm.auc.value - 0.02, (ours, gbm.auc.value)
    assert result.tier_lift.value >= 2.0
    assert result.top_tier_wins >= 0.70
    cycles = {r.tier: r.median_cycle_days for r in result.tiers}
    assert cycles["A"] <= cycles["D"]  # the planted fit closes faster
    # The test period is after the cut-off only, and no training deal was open at it.
    assert (result.deals.created_at >= np.datetime64(result.cutoff)).all()


def test_rank_auc_equals_sklearn_with_ties() -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 500)
    score = rng.integers(0, 10, 500).astype(float)
    assert metrics.roc_auc(y, score) == pytest.approx(roc_auc_score(y, score), abs=1e-12)


def test_account_bootstrap_is_wider_when_deals_cluster() -> None:
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 200)
    score = y + rng.normal(0, 1.5, 200)
    copies = np.repeat(np.arange(200), 10)
    clustered = metrics.bootstrap_ci(metrics.roc_auc, y[copies], score[copies], copies, n_boot=200)
    independent = metrics.bootstrap_ci(
        metrics.roc_auc, y[copies], score[copies], np.arange(2000), n_boot=200
    )
    assert clustered[1] - clustered[0] > 2 * (independent[1] - independent[0])
    assert clustered[0] < metrics.roc_auc(y, score) < clustered[1]


def test_tier_table_and_lift_on_known_rates() -> None:
    tiers = np.array(["A"] * 10 + ["C"] * 10 + ["D"] * 10)
    y = np.array([1] * 6 + [0] * 4 + [1] * 2 + [0] * 8 + [1] * 2 + [0] * 8)
    cycles = np.arange(30, dtype=float)
    rows = metrics.tier_table(y, tiers, cycles, np.arange(30))
    assert [r.n for r in rows] == [10, 0, 10, 10]
    assert rows[0].win_rate == 0.6 and rows[0].share_of_wins == 0.6
    assert rows[-1].cumulative_share == pytest.approx(1.0)
    assert rows[0].median_cycle_days == np.median(np.arange(6))
    assert metrics.tier_lift(y, tiers, np.arange(30), n_boot=50).value == pytest.approx(3.0)


def test_calibration_of_a_calibrated_model_is_close() -> None:
    rng = np.random.default_rng(3)
    p = rng.uniform(0, 1, 20_000)
    y = (rng.uniform(0, 1, 20_000) < p).astype(int)
    rows = metrics.calibration_table(y, p)
    assert {r.n for r in rows} == {2_000}
    assert metrics.expected_calibration_error(rows) < 0.02
    assert metrics.expected_calibration_error(metrics.calibration_table(y, p * 0.5)) > 0.2
