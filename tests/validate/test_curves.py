"""Specification of the backtest's curves (icpkit.validate.metrics): ROC and cumulative
gains, one point per distinct score, tied deals taken together."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_curve

from icpkit.validate import metrics


def test_roc_points_are_sklearns_roc_curve_with_every_threshold() -> None:
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 500)
    score = np.round(y + rng.normal(0, 1.5, 500), 1)  # coarse: many ties
    fpr, tpr, _ = roc_curve(y, score, drop_intermediate=False)
    curve = metrics.roc_points(y, score)
    np.testing.assert_allclose(curve.x, fpr, atol=1e-12)
    np.testing.assert_allclose(curve.y, tpr, atol=1e-12)


def test_roc_area_under_the_points_is_the_auc() -> None:
    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, 300)
    score = rng.integers(0, 6, 300) + y
    curve = metrics.roc_points(y, score)
    assert np.trapezoid(curve.y, curve.x) == pytest.approx(metrics.roc_auc(y, score), abs=1e-12)


def test_gains_take_tied_deals_together_best_score_first() -> None:
    # Scores 3, 3, 2, 1 with outcomes 1, 0, 1, 0: the two tied deals are one step.
    curve = metrics.gains_points(np.array([1, 0, 1, 0]), np.array([3.0, 3.0, 2.0, 1.0]))
    assert curve.x.tolist() == [0.0, 0.5, 0.75, 1.0]
    assert curve.y.tolist() == [0.0, 0.5, 1.0, 1.0]


def test_a_perfect_score_reaches_every_win_first() -> None:
    y = np.array([1, 1, 0, 0, 0])
    gains = metrics.gains_points(y, np.array([5.0, 4.0, 3.0, 2.0, 1.0]))
    assert gains.y[gains.x <= 0.4].max() == 1.0
    roc = metrics.roc_points(y, np.array([5.0, 4.0, 3.0, 2.0, 1.0]))
    assert np.trapezoid(roc.y, roc.x) == 1.0


def test_curves_refuse_what_cannot_be_drawn() -> None:
    with pytest.raises(ValueError, match="won and lost"):
        metrics.roc_points(np.array([1, 1]), np.array([0.2, 0.4]))
    with pytest.raises(ValueError, match="won deal"):
        metrics.gains_points(np.array([0, 0]), np.array([0.2, 0.4]))
    with pytest.raises(ValueError, match="NaN"):
        metrics.roc_points(np.array([0, 1]), np.array([0.2, np.nan]))
