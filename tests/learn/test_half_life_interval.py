"""An intent signal's learned half-life carries a 95% interval: the half-lives the data cannot
reject (profile likelihood, deviance within the chi-square(1) critical value of the best)."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from icpkit.engines.features import Features, ScoredRule
from icpkit.icp.describe import describe_condition
from icpkit.icp.model import IntentSignal
from icpkit.learn import fit
from icpkit.learn.fit import fit_weights, profile_interval


def test_the_interval_holds_the_half_lives_within_3_84_of_the_best() -> None:
    assert profile_interval({30.0: 110.0, 90.0: 100.0, 365.0: 102.0, None: 108.0}) == (90.0, 365.0)
    assert profile_interval({30.0: 120.0, 90.0: 100.0, 365.0: 101.0, None: 103.0}) == (90.0, None)


def test_no_interval_when_only_no_decay_fits() -> None:
    assert profile_interval({30.0: 130.0, 90.0: 120.0, None: 100.0}) is None


def _signal(**fields: object) -> IntentSignal:
    return IntentSignal.model_validate(
        {"id": "funding", "signal": "funding_round", "detail_in": ["Series A"],
         "window_days": [60, 540], "source": "derived", **fields}
    )  # fmt: skip


@pytest.mark.slow
def test_a_planted_decay_is_learned_with_an_interval_around_it() -> None:
    rng = np.random.default_rng(0)
    n = 20_000
    ages = np.where(rng.random(n) < 0.5, rng.uniform(60, 540, n), np.nan)
    # Worth 2 log-odds on the window's first day, halving every 90 days after.
    boost = np.where(np.isnan(ages), 0.0, 2.0 * 0.5 ** ((np.nan_to_num(ages) - 60) / 90))
    won = (rng.random(n) < 1 / (1 + np.exp(1.0 - boost))).astype(np.int8)
    features = Features(
        [ScoredRule("intent", _signal())], np.zeros((n, 1)), ages.reshape(-1, 1), []
    )
    fitted = fit_weights(features, won, prior_sd=10.0, candidates=[30, 90, 180, 365])
    assert fitted.half_lives["funding"] == 90.0
    low, high = fitted.half_life_ci["funding"]
    assert low <= 90.0 and high is not None and 90.0 <= high < 365.0


def test_icp_show_states_the_half_life_and_its_interval() -> None:
    text = describe_condition(_signal(half_life_days=90, half_life_ci=[30, 180]))
    assert (
        text
        == "funding_round (Series A) within 60-540 days, half-life 90 days (95% CI 30-180 days)"
    )
    open_ended = describe_condition(_signal(half_life_days=180, half_life_ci=[90, None]))
    assert open_ended.endswith("half-life 180 days (95% CI 90 days to no decay)")
    flat = describe_condition(_signal(half_life_ci=[365, None]))
    assert flat.endswith(
        "within 60-540 days, no decay (a half-life of 365 days or more fits as well)"
    )
    assert describe_condition(_signal()) == "funding_round (Series A) within 60-540 days"


def test_an_icp_yaml_without_intervals_still_loads() -> None:
    signal = _signal()
    assert signal.half_life_ci is None and signal.window_start_ci is None


def test_an_interval_that_runs_backwards_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"must be \[low, high\] with 0 <= low <= high"):
        _signal(window_start_ci=[90, 30])


def test_half_lives_tried_side_by_side_fit_as_tried_one_at_a_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two signals, each with its own decay: the candidates of a signal are fitted on a pool,
    then weighed in their order; the choice, the weights and the intervals are those of the
    candidates fitted one after another."""
    rng = np.random.default_rng(1)
    n = 6_000
    ages = np.where(rng.random((n, 2)) < 0.5, rng.uniform(60, 540, (n, 2)), np.nan)
    boost = np.where(np.isnan(ages), 0.0, 1.5 * 0.5 ** ((np.nan_to_num(ages) - 60) / [90, 365]))
    won = (rng.random(n) < 1 / (1 + np.exp(0.5 - boost.sum(axis=1)))).astype(np.int8)
    rules = [
        ScoredRule("intent", _signal()),
        ScoredRule("intent", _signal(id="hiring", signal="job_posting")),
    ]
    features = Features(rules, np.zeros((n, 2)), ages, [])

    def fitted() -> tuple[object, ...]:
        f = fit_weights(features, won, prior_sd=10.0, candidates=[30, 90, 180, 365])
        return f.intercept, f.weights, f.half_lives, f.deviance, f.half_life_ci

    side_by_side = fitted()
    monkeypatch.setattr(fit, "_TRIERS", 1)
    assert fitted() == side_by_side
    assert side_by_side[2] == {"funding": 90.0, "hiring": 365.0}
