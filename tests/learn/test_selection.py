"""Selection by evidence: a derived rule stays only with an effect of its own in the joint
model, tested with account-clustered errors; proxies and one-vs-rest echoes drop with a note
naming the rule they move with; rules set by hand are never touched."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest
from scipy.special import expit

from icpkit.engines.features import Features, ScoredRule
from icpkit.icp.model import ICP, Criterion, Exclusion, Rule
from icpkit.learn.fit import fit_logistic
from icpkit.learn.refine import refine
from icpkit.learn.selection import RuleEvidence, clustered_z, phi, phi_of_counts, select

ALPHA = 0.05
MIN_LIFT = 1.2
INDUSTRIES = ("Software", "IT Services", "Retail", "Public Administration", "Education")


def _crm(seed: int, *, shuffled: bool = False) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Deals of 1,200 accounts (1-4 deals each) with planted effects: 51-200 employees +1.0,
    Software +0.8, Public Administration -1.5, an account-level random effect (sd 0.5); a
    'revenue band' that copies the size band with 15% of accounts flipped, no effect of its
    own. Columns per deal, and the deal's account."""
    rng = np.random.default_rng(seed)
    n_accounts = 1_200
    mid = rng.random(n_accounts) < 0.3
    revenue = np.where(rng.random(n_accounts) < 0.15, ~mid, mid)
    industry = rng.choice(len(INDUSTRIES), n_accounts, p=[0.3, 0.25, 0.2, 0.1, 0.15])
    log_odds = (
        -1.35
        + 1.0 * mid
        + 0.8 * (industry == 0)
        - 1.5 * (industry == 3)
        + rng.normal(0, 0.5, n_accounts)
    )
    deals = rng.integers(1, 5, n_accounts)
    account = np.repeat(np.arange(n_accounts), deals)
    won = (rng.random(account.size) < expit(log_odds[account])).astype(np.int8)
    if shuffled:
        won = rng.permutation(won)
    columns = {
        "employees-51-200": mid,
        "revenue-10m-50m": revenue,
        "industry-software": industry == 0,
        "industry-it-services-retail": (industry == 1) | (industry == 2),
        "industry-public-administration": industry == 3,
    }
    return {k: v[account].astype(np.float64) for k, v in columns.items()}, np.stack(
        [account.astype(str), won.astype(str)]
    )


def _rules() -> list[Rule]:
    return [
        Criterion(id="employees-51-200", attribute="employees", min=51, max=200, source="derived"),
        Criterion(id="revenue-10m-50m", attribute="revenue", min=1e7, max=5e7, source="derived"),
        Criterion(
            id="industry-software", attribute="industry", values=["Software"], source="derived"
        ),
        Criterion(
            id="industry-it-services-retail",
            attribute="industry",
            values=["IT Services", "Retail"],
            direction="negative",
            source="derived",
        ),
        Exclusion(
            id="industry-public-administration",
            attribute="industry",
            values=["Public Administration"],
            kind="disqualifier",
            source="derived",
        ),
    ]


def _derive(
    rules: list[Rule], columns: dict[str, np.ndarray], deals: np.ndarray
) -> tuple[ICP, list[str], dict[str, RuleEvidence]]:
    """Select among the derived rules and refine the ICP they form, as derive does."""
    scored = [ScoredRule("exclusions" if isinstance(r, Exclusion) else "fit", r) for r in rules]
    matches = np.column_stack([columns[r.id] for r in rules])
    features = Features(scored, matches, np.full(matches.shape, np.nan), [])
    accounts, won = deals[0], deals[1].astype(np.int8)
    tested = {r.id for r in rules if r.source == "derived" and not r.locked}
    evidence = select(
        features,
        won,
        accounts,
        tested,
        half_lives={},
        prior_sd=1.0,
        alpha=ALPHA,
        min_weight=math.log(MIN_LIFT),
    )
    icp = ICP(
        derived_at=dt.datetime(2025, 10, 1),
        data_fingerprint="x",
        fit=[r for r in rules if isinstance(r, Criterion)],
        exclusions=[r for r in rules if isinstance(r, Exclusion)],
    )
    refined, notes = refine(icp, MIN_LIFT, None, evidence)
    return refined, notes, evidence


@pytest.fixture(scope="module")
def planted() -> tuple[ICP, list[str], dict[str, RuleEvidence]]:
    columns, deals = _crm(1)
    return _derive(_rules(), columns, deals)


def test_a_noisy_copy_of_a_planted_attribute_is_dropped_naming_the_planted_rule(
    planted,
) -> None:
    icp, notes, evidence = planted
    assert "revenue-10m-50m" not in [c.id for c in icp.fit]
    note = next(n for n in notes if n.startswith("revenue-10m-50m: dropped"))
    assert "once employees-51-200 counts" in note
    assert "q=" in note and "joint weight" in note
    assert evidence["revenue-10m-50m"].q >= ALPHA or abs(
        evidence["revenue-10m-50m"].weight
    ) < math.log(MIN_LIFT)


def test_other_values_marked_negative_next_to_a_strong_one_are_dropped(planted) -> None:
    icp, notes, _ = planted
    assert "industry-it-services-retail" not in [c.id for c in icp.fit]
    note = next(n for n in notes if n.startswith("industry-it-services-retail: dropped"))
    assert "once industry-software counts" in note


def test_planted_criteria_and_disqualifiers_are_kept(planted) -> None:
    icp, _, evidence = planted
    assert {"employees-51-200", "industry-software"} <= {c.id for c in icp.fit}
    assert [e.id for e in icp.exclusions] == ["industry-public-administration"]
    for rid in ("employees-51-200", "industry-software", "industry-public-administration"):
        assert evidence[rid].kept and evidence[rid].q < ALPHA


def test_on_shuffled_outcomes_no_derived_rule_survives() -> None:
    for seed in range(3):
        columns, deals = _crm(seed, shuffled=True)
        icp, notes, _ = _derive(_rules(), columns, deals)
        assert icp.fit == [] and icp.exclusions == [], seed
        assert len(notes) == len(_rules())


def test_a_rule_set_by_hand_is_never_tested_or_dropped() -> None:
    columns, deals = _crm(2, shuffled=True)
    rules = _rules()
    rules[1] = rules[1].model_copy(update={"source": "human", "reason": "sales asked"})
    rules[2] = rules[2].model_copy(update={"locked": True})
    icp, notes, evidence = _derive(rules, columns, deals)
    assert {"revenue-10m-50m", "industry-software"} <= {c.id for c in icp.fit}
    assert "revenue-10m-50m" not in evidence and "industry-software" not in evidence
    assert not any(n.startswith(("revenue-10m-50m", "industry-software")) for n in notes)


def test_of_two_proxies_of_each_other_the_stronger_stays() -> None:
    # Without the size band, its noisy copy carries the effect and is kept.
    columns, deals = _crm(1)
    rules = [r for r in _rules() if r.id != "employees-51-200"]
    icp, _, evidence = _derive(rules, columns, deals)
    assert "revenue-10m-50m" in [c.id for c in icp.fit]
    assert evidence["revenue-10m-50m"].kept


def test_a_disqualifier_too_weak_to_halve_the_odds_becomes_a_negative_criterion() -> None:
    weak = RuleEvidence(-0.4, -5.0, 1e-6, 1e-5, True, True)
    rule = Exclusion(
        id="employees-1-10",
        attribute="employees",
        min=1,
        max=10,
        kind="disqualifier",
        source="derived",
    )
    icp = ICP(derived_at=dt.datetime(2025, 10, 1), data_fingerprint="x", exclusions=[rule])
    refined, notes = refine(icp, MIN_LIFT, None, {"employees-1-10": weak})
    assert refined.exclusions == []
    assert [(c.id, c.direction) for c in refined.fit] == [("employees-1-10", "negative")]
    assert notes[0].startswith("employees-1-10: moved to fit as a negative criterion")


def test_a_churn_exclusion_without_significant_churn_evidence_is_dropped() -> None:
    churn = Exclusion(
        id="industry-retail",
        attribute="industry",
        values=["Retail"],
        kind="churn",
        source="derived",
    )
    icp = ICP(derived_at=dt.datetime(2025, 10, 1), data_fingerprint="x", exclusions=[churn])
    verdict = RuleEvidence(0.9, 1.5, 0.13, 0.13, False, False)
    refined, notes = refine(icp, MIN_LIFT, {"industry-retail": verdict})
    assert refined.exclusions == []
    assert notes[0].startswith(
        "industry-retail: dropped: does not significantly double the odds of churning"
    )
    kept = RuleEvidence(0.9, 4.0, 6e-5, 6e-5, True, True)
    assert refine(icp, MIN_LIFT, {"industry-retail": kept}) == (icp, [])


@pytest.mark.slow
def test_clustering_by_account_keeps_the_wald_test_near_its_level() -> None:
    # An account-level attribute with no effect, 60 accounts of 20 deals with strongly
    # correlated outcomes: treating deals as independent rejects far too often.
    rng = np.random.default_rng(5)
    by_account, by_deal = 0, 0
    reps = 300
    for _ in range(reps):
        account = np.repeat(np.arange(60), 20)
        attribute = (rng.random(60) < 0.5)[account].astype(np.float64)[:, None]
        won = (rng.random(account.size) < expit(-0.7 + rng.normal(0, 1.0, 60)[account])).astype(
            np.int8
        )
        intercept, weights, _, _ = fit_logistic(attribute, won, [(None, None)], 10.0)
        z_account = clustered_z(attribute, won, account, intercept, weights, 10.0)
        z_deal = clustered_z(attribute, won, np.arange(account.size), intercept, weights, 10.0)
        by_account += abs(z_account[0]) > 1.96
        by_deal += abs(z_deal[0]) > 1.96
    assert by_account / reps <= 0.09
    assert by_deal / reps >= 0.2


def test_a_weight_at_its_sign_bound_is_no_evidence() -> None:
    x = np.array([[1.0], [0.0], [1.0], [0.0]] * 25)
    won = np.array([0, 1, 0, 1] * 25, dtype=np.int8)
    intercept, weights, _, _ = fit_logistic(x, won, [(0.0, None)], 1.0)
    assert weights[0] == 0.0
    assert clustered_z(x, won, np.arange(100), intercept, weights, 1.0)[0] == 0.0


def test_phi_of_a_column_with_itself_its_complement_and_a_constant() -> None:
    a = np.array([1, 0, 1, 0, 1, 1], dtype=np.float64)
    assert phi(a, a) == pytest.approx(1.0)
    assert phi(a, 1 - a) == pytest.approx(-1.0)
    assert phi(a, np.ones(6)) == 0.0


def test_phi_from_counts_is_the_correlation_of_the_columns_and_alike_columns_tie() -> None:
    rng = np.random.default_rng(3)
    a = (rng.random(5_000) < 0.3).astype(np.float64)
    b = np.where(rng.random(5_000) < 0.8, a, 1 - a)
    counts = (a.size, int(a.sum()), int(b.sum()), int((a * b).sum()))
    assert phi_of_counts(*counts) == pytest.approx(np.corrcoef(a, b)[0, 1], rel=1e-12)
    # The same counts in another column order: the same phi to the bit, so a tie between two
    # kept rules alike is broken by their ids, not by rounding.
    assert phi(b, a) == phi(a, b) == phi_of_counts(*counts)
    assert phi_of_counts(10, 0, 4, 0) == phi_of_counts(10, 4, 10, 4) == 0.0


def test_a_rule_picked_from_a_wide_search_needs_evidence_that_stands_out_of_it() -> None:
    # One rule with a modest real effect (p between 0.001 and 0.05): enough on its own, not
    # when it was picked from 300 tested cuts.
    rng = np.random.default_rng(11)
    account = np.arange(3_000)
    column = (rng.random(3_000) < 0.3).astype(np.float64)
    won = (rng.random(3_000) < expit(-0.8 + 0.3 * column)).astype(np.int8)
    rule = Criterion(id="tech-jira", attribute="tech", values=["Jira"], source="derived")
    features = Features([ScoredRule("fit", rule)], column[:, None], np.full((3_000, 1), np.nan), [])

    def verdict(searched: int) -> RuleEvidence:
        return select(
            features,
            won,
            account.astype(str),
            {"tech-jira"},
            half_lives={},
            prior_sd=1.0,
            alpha=ALPHA,
            min_weight=0.0,
            searched=searched,
        )["tech-jira"]

    alone = verdict(0)
    assert 0.001 < alone.p < 0.05 and alone.kept
    searched = verdict(300)
    assert searched.q == pytest.approx(min(1.0, alone.p * 300))
    assert not searched.kept
