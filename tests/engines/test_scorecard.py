"""The scorecard as a pure function of an ICP's weights and the scoring settings."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from icpkit.config import ScoringSettings
from icpkit.engines.features import Features, ScoredRule, ScoringError
from icpkit.engines.score import apply_scorecard
from icpkit.engines.scorecard import build_scorecard, learn_tiers
from icpkit.icp.model import ICP, Criterion, Exclusion, IntentSignal
from icpkit.learn.fit import fit_weights


def _icp(**changes: object) -> ICP:
    rules = {
        "fit": [
            Criterion(
                id="size", attribute="employees", min=51, max=200, source="derived", weight=1.0
            ),
            Criterion(
                id="software",
                attribute="industry",
                values=["Software"],
                source="derived",
                weight=0.8,
            ),
            Criterion(
                id="hubspot", attribute="tech", values=["HubSpot"], source="derived", weight=0.5
            ),
        ],
        "exclusions": [
            Exclusion(
                id="tiny",
                attribute="employees",
                min=1,
                max=10,
                kind="disqualifier",
                source="derived",
                weight=-1.0,
            ),
        ],
        "intent": [
            IntentSignal(
                id="funding",
                signal="funding_round",
                window_days=(0, 365),
                source="derived",
                weight=0.9,
            ),
        ],
    }
    rules.update(changes)  # type: ignore[arg-type]
    return ICP(derived_at=dt.datetime(2025, 1, 1), data_fingerprint="x", **rules)  # type: ignore[arg-type]


def test_points_are_the_weights_on_one_scale_filling_100() -> None:
    card = build_scorecard(_icp(), ScoringSettings())
    points = {rp.id: rp.points for rp in card.rules}
    # Employees is one exclusive group (51-200 or 1-10): its range is 1.0 - (-1.0) = 2.0.
    # With industry 0.8, HubSpot 0.5 and funding 0.9 the ranges add up to 4.2 log-odds.
    assert points == {"size": 23, "software": 19, "hubspot": 11, "tiny": -23, "funding": 21}
    assert sum(card.caps.values()) <= 100
    assert card.base == {
        "firmographic": 23,
        "technographic": 0,
        "behavioral": 0,
        "deal_potential": 0,
    }


def test_fixed_caps_fill_each_dimension_and_pass_on_empty_ones() -> None:
    settings = ScoringSettings(caps_from_data=False)
    card = build_scorecard(_icp(), settings)
    # deal_potential has no rules: its 20 go to the others, 30/25/25 of 80 -> 37.5/31.25/31.25.
    assert card.caps["technographic"] == 31 and card.caps["deal_potential"] == 0
    assert any("deal_potential" in note for note in card.notes)


def test_points_set_by_hand_win_and_must_fit_the_cap() -> None:
    icp = _icp()
    icp.fit[2] = icp.fit[2].model_copy(
        update={"points": 5.0, "source": "human", "reason": "sales says so"}
    )
    card = build_scorecard(icp, ScoringSettings())
    hubspot = next(rp for rp in card.rules if rp.id == "hubspot")
    assert (hubspot.points, hubspot.source) == (5, "human")
    icp.fit[2] = icp.fit[2].model_copy(update={"points": 40.0})
    with pytest.raises(ScoringError, match=r"technographic.*cap"):
        build_scorecard(icp, ScoringSettings(caps_from_data=False))


def _features(icp: ICP, matches: list[list[float]], ages: list[float]) -> Features:
    rules = [ScoredRule("fit", r) for r in icp.fit]
    rules += [ScoredRule("exclusions", r) for r in icp.exclusions]
    rules += [ScoredRule("intent", r) for r in icp.intent]
    m = np.array(matches, dtype=float)
    a = np.full(m.shape, np.nan)
    a[:, -1] = ages
    m[:, -1] = ~np.isnan(a[:, -1])
    return Features(rules, m, a, [])


def test_tiers_and_routes_follow_the_settings() -> None:
    icp = _icp()
    settings = ScoringSettings(tiers={"A": 60, "B": 40, "C": 20})
    card = build_scorecard(icp, settings)
    features = _features(
        icp,
        [[1, 1, 1, 0, 0], [1, 1, 1, 0, 0], [0, 0, 0, 1, 0], [0, 1, 0, 0, 0]],
        [10.0, np.nan, 10.0, np.nan],
    )
    scores = apply_scorecard(card, features)
    assert scores.tier.tolist() == ["A", "A", "C", "B"]  # excluded: routed, not re-tiered
    # Fit bands by default sit around a no-match account (base 23 of 76 fit points: 30.3),
    # one doubling of the odds away (100 / 4.2 = 23.8 points per log-odds, so ln 2 is 16.5
    # points: 21.7 fit): Software alone (+19) is high fit.
    assert (card.fit_high, card.fit_low) == (52.0, 8.5)
    assert scores.route.tolist() == ["work_now", "nurture", "never", "nurture"]
    fixed = ScoringSettings(
        tiers={"A": 60, "B": 40, "C": 20}, routing={"fit_high": 60, "fit_low": 30}
    )
    rerouted = apply_scorecard(build_scorecard(icp, fixed), features)
    assert rerouted.route.tolist() == ["work_now", "nurture", "never", "automated_nurture"]
    assert scores.fit[0] == 100 and scores.intent[0] == 100


def test_learned_tiers_hit_their_targets_on_the_fitted_deals() -> None:
    rng = np.random.default_rng(0)
    score = rng.integers(0, 100, 5_000)
    won = (rng.random(5_000) < score / 120).astype(np.int8)
    tiers = learn_tiers(score, won, ScoringSettings())
    assert tiers is not None and tiers["A"] > tiers["B"] > tiers["C"]
    top = score >= tiers["A"]
    assert won[top].mean() >= 1.75 * won.mean()
    assert won[score >= tiers["B"]].sum() / won.sum() >= 0.75


@pytest.mark.slow
def test_a_half_life_is_learned_only_when_the_signal_truly_fades() -> None:
    icp = _icp(fit=[], exclusions=[])
    rng = np.random.default_rng(1)
    n = 20_000
    ages = np.where(rng.random(n) < 0.5, rng.uniform(0, 365, n), np.nan)

    def won(fades: bool) -> np.ndarray:
        effect = np.where(
            np.isnan(ages), 0.0, 1.5 * (0.5 ** (np.nan_to_num(ages) / 90) if fades else 1.0)
        )
        return (rng.random(n) < 1 / (1 + np.exp(1.0 - effect))).astype(np.int8)

    features = _features(icp, [[0.0]] * n, ages.tolist())
    fading = fit_weights(features, won(True), prior_sd=1.0, candidates=[30, 90, 180, 365])
    assert fading.half_lives["funding"] == 90
    flat = fit_weights(features, won(False), prior_sd=1.0, candidates=[30, 90, 180, 365])
    assert flat.half_lives["funding"] is None
