"""What the points step computes from the deals grouped by their inputs equals what it
computed deal by deal: the AUC, the tiers, the accounts that cluster the variance."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from icpkit.analysis.frame import build_frame, prepare, prepared_token
from icpkit.engines.features import Features, compute_features
from icpkit.engines.score import apply_scorecard
from icpkit.engines.scorecard import build_scorecard, learn_tiers
from icpkit.learn.fit import predict
from icpkit.learn.patterns import group
from icpkit.learn.points import DATED, _auc, closed_deals, fit_icp, learn_and_refine
from icpkit.workspace import Workspace


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_auc_of_patterns_is_the_auc_deal_by_deal_ties_counting_half(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 2_000
    matches = (rng.random((n, 3)) < [0.5, 0.3, 0.2]).astype(np.float64)
    won = (rng.random(n) < 0.2 + 0.3 * matches[:, 0] - 0.1 * matches[:, 2]).astype(np.int8)
    patterns = group(Features([], matches, np.full(matches.shape, np.nan), []), won)
    # Few distinct scores, so most deals tie with others of their own and other patterns.
    score = np.round(matches @ np.array([0.6, 0.2, -0.6]), 1)
    pattern_score = np.round(patterns.features.matches @ np.array([0.6, 0.2, -0.6]), 1)
    expected = roc_auc_score(won, score)
    assert _auc(patterns, pattern_score) == pytest.approx(expected, abs=1e-12)
    assert 0.55 < expected < 0.95  # the planted effect, not a coin


@pytest.fixture
def workspace(demo_workspace) -> Workspace:  # type: ignore[no-untyped-def]
    return Workspace.open(demo_workspace(800, 5, derived=True).root)


def test_deals_account_codes_follow_the_order_of_the_account_keys(workspace: Workspace) -> None:
    with workspace.connect(read_only=True) as con:
        deals = closed_deals(con)
    _, expected = np.unique(deals.accounts, return_inverse=True)
    np.testing.assert_array_equal(deals.account_codes, expected.ravel())
    half = np.arange(len(deals.won)) % 2 == 0
    np.testing.assert_array_equal(deals.subset(half).account_codes, expected.ravel()[half])


def test_deals_keys_are_those_of_the_entities_and_follow_a_subset(workspace: Workspace) -> None:
    """The keys are kept in Arrow until read; read or taken by a mask or by positions, they
    are the deals' own, in entity order."""
    with workspace.connect(read_only=True) as con:
        deals = closed_deals(con)
        rows = con.execute(
            "SELECT deal_key, account_key FROM score_entities ORDER BY entity_id"
        ).fetchall()
    assert deals.keys.tolist() == [deal for deal, _ in rows]
    assert deals.accounts.tolist() == [account for _, account in rows]
    lost = deals.won == 0
    picked = np.flatnonzero(lost)[::-1]  # positions, out of order
    assert deals.subset(lost).keys.tolist() == deals.keys[lost].tolist()
    assert deals.subset(picked).keys.tolist() == deals.keys[picked].tolist()
    assert deals.subset(picked).accounts.tolist() == deals.accounts[picked].tolist()
    assert deals.subset(picked).won.tolist() == deals.won[picked].tolist()


def test_deals_take_their_accounts_codes_from_the_frame_of_their_preparation(
    workspace: Workspace,
) -> None:
    with workspace.connect(read_only=True) as con:
        frame = build_frame(con, workspace.settings.analysis, ages=False)
        assert frame.deal_accounts is not None
        given = closed_deals(con, prepared=frame.prepared, accounts=frame.deal_accounts)
        joined = closed_deals(con)
    np.testing.assert_array_equal(given.account_codes, joined.account_codes)
    np.testing.assert_array_equal(given.won, joined.won)


def test_deals_read_without_keys_are_the_same_deals_and_say_their_keys_were_not_read(
    workspace: Workspace,
) -> None:
    with workspace.connect(read_only=True) as con:
        keyed = closed_deals(con)
        bare = closed_deals(con, keys=False)
    for name in ("won", "created_at", "closed_at", "cycle_days", "account_codes"):
        np.testing.assert_array_equal(getattr(bare, name), getattr(keyed, name))
    assert bare.text is None and bare.subset(bare.won == 1).text is None
    with pytest.raises(ValueError, match="keys=False"):
        bare.keys  # noqa: B018


def test_tiers_and_auc_from_patterns_are_those_of_every_deal_scored(workspace: Workspace) -> None:
    icp = workspace.current_icp()
    assert icp is not None and icp.scoring is not None
    settings = workspace.settings
    with workspace.connect(read_only=True) as con:
        deals = closed_deals(con)
        features = compute_features(
            con, icp, settings.analysis, persona=settings.scoring.persona, point_in_time=True
        )
    fitted, model = fit_icp(icp, features, deals, settings)
    assert fitted.scoring is not None
    card = build_scorecard(fitted, settings.scoring)
    scores = apply_scorecard(card, features)
    assert fitted.scoring.tiers == learn_tiers(scores.score, deals.won, settings.scoring)
    expected = roc_auc_score(deals.won, predict(features, model))  # every deal's probability
    assert fitted.scoring.auc == round(float(expected), 4)


def test_features_read_from_the_prepared_deals_equal_those_dated_again(
    workspace: Workspace,
) -> None:
    icp = workspace.current_icp()
    assert icp is not None
    settings = workspace.settings
    with workspace.connect(read_only=True) as con:
        history = prepare(con)
        closed_deals(con, prepared=prepared_token(con))
        again = compute_features(con, icp, settings.analysis, point_in_time=True)
        reused = compute_features(
            con, icp, settings.analysis, point_in_time=True, dated_table=DATED
        )
        today = compute_features(con, icp, settings.analysis)
    assert history.tech_events  # the tools of a deal's day differ from those of today
    assert not np.array_equal(again.matches, today.matches)
    np.testing.assert_array_equal(reused.matches, again.matches)
    np.testing.assert_array_equal(reused.ages, again.ages)
    for (a, x), (b, y) in zip(reused.outside, again.outside, strict=True):
        assert a == b
        np.testing.assert_array_equal(x, y)


def test_when_no_rule_is_dropped_the_first_fit_stands_with_its_tiers(workspace: Workspace) -> None:
    """Rules set by hand are never dropped, so nothing is refitted: what the points step
    returns is the first fit, its tiers (cut beside the selection) included."""
    icp = workspace.current_icp()
    assert icp is not None
    by_hand = icp.model_copy(
        update={
            name: [r.model_copy(update={"source": "human"}) for r in getattr(icp, name)]
            for name in ("fit", "exclusions", "intent")
        }
    )
    settings = workspace.settings
    with workspace.connect(read_only=True) as con:
        learned = learn_and_refine(con, by_hand, settings)
        deals = closed_deals(con)
        features = compute_features(
            con, by_hand, settings.analysis, persona=settings.scoring.persona,
            point_in_time=True, dated_table=DATED,
        )  # fmt: skip
    expected, _ = fit_icp(by_hand, features, deals, settings)
    assert expected.scoring is not None and expected.scoring.tiers
    assert learned == expected
