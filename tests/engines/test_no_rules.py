"""An ICP with no rules scores every account the same and routes each one like an account
that matches no rule (the routing matrix's medium-fit, low-intent cell), never to
'disqualify'; the Python reference, DuckDB and the numpy scorer agree, and the scorecard
says so."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from edge_cases import Case, assert_same_rows, edge_rows, no_rules_icp
from test_sql_duckdb import load_duckdb, run

from icpkit.config import RoutingSettings, ScoringSettings, Settings
from icpkit.engines.features import compute_features
from icpkit.engines.reference import score_all
from icpkit.engines.score import apply_scorecard
from icpkit.engines.scorecard import NO_RULES, build_scorecard
from icpkit.engines.sql import compile_scorecard
from small_crm import write_crm

NEUTRAL = RoutingSettings().matrix["medium/low"]  # an account matching no rule, no intent


@pytest.fixture(scope="module")
def flat_case() -> Case:
    accounts, signals, contacts = edge_rows(200, seed=4)
    return Case(no_rules_icp(), Settings(), accounts, signals, contacts)


def test_the_neutral_route_is_not_disqualify() -> None:
    assert NEUTRAL == "automated_nurture"


def test_a_scorecard_without_rules_is_flat_and_says_so() -> None:
    card = build_scorecard(no_rules_icp(), ScoringSettings())
    assert card.flat
    assert NO_RULES in card.notes
    assert NO_RULES == "the ICP has no rules: every account scores the same; derive on more data"


def test_every_engine_scores_every_account_the_same_with_the_neutral_route(
    flat_case: Case,
) -> None:
    expected = score_all(
        flat_case.icp,
        flat_case.settings,
        flat_case.accounts,
        flat_case.signals,
        flat_case.contacts,
        flat_case.as_of,
    )
    sql = compile_scorecard(flat_case.icp, flat_case.settings, as_of=flat_case.as_of)
    actual = run(load_duckdb(flat_case), sql)
    assert_same_rows(expected, actual, "duckdb")
    assert {r["score"] for r in expected} == {0}
    assert {r["route"] for r in expected} == {NEUTRAL}
    assert {r["tier"] for r in expected} == {"D"}
    # The probability is the intercept's, the same for all: 1 / (1 + e^0.4).
    assert {r["win_probability"] for r in expected} == {round(1 / (1 + math.exp(0.4)), 4)}


def test_routing_bands_set_by_hand_do_not_turn_a_flat_score_into_disqualify(
    flat_case: Case,
) -> None:
    settings = Settings()
    settings.scoring = ScoringSettings(routing=RoutingSettings(fit_high=60, fit_low=30))
    rows = score_all(flat_case.icp, settings, flat_case.accounts, [], [], flat_case.as_of)
    assert {r["route"] for r in rows} == {NEUTRAL}


def test_the_numpy_scorer_agrees_on_a_flat_icp(flat_case: Case) -> None:
    con = load_duckdb(flat_case)
    con.execute("CREATE TABLE acc AS SELECT *, NULL::JSON AS extra FROM accounts")
    con.execute(
        f"""CREATE TEMP TABLE score_entities AS SELECT (row_number() OVER (ORDER BY account_key)
            - 1)::BIGINT AS entity_id, account_key, DATE '{flat_case.as_of}' AS as_of FROM acc"""
    )
    features = compute_features(con, flat_case.icp, flat_case.settings.analysis, accounts="acc")
    scores = apply_scorecard(build_scorecard(flat_case.icp, flat_case.settings.scoring), features)
    assert set(scores.score.tolist()) == {0}
    assert set(scores.route.tolist()) == {NEUTRAL}
    assert set(scores.probability.round(4).tolist()) == {round(1 / (1 + math.exp(0.4)), 4)}


@pytest.mark.slow
def test_scoring_the_export_with_a_derived_icp_without_rules_routes_customers_too(
    tmp_path: Path,
) -> None:
    crm = write_crm(tmp_path, 80)  # every account alike: nothing can discriminate
    derived = crm.ws.derive()
    assert not (derived.icp.fit or derived.icp.intent or derived.icp.exclusions)
    assert any(w.startswith("no rule passed: ") for w in derived.warnings)
    scored = crm.ws.score_file(crm.companies)
    rows = scored.rows()
    assert len(rows) == 80
    assert scored.scorecard.flat
    assert {r["score"] for r in rows} == {0}
    assert {r["route"] for r in rows} == {NEUTRAL}
    customers = [r for r in rows if r["account_key"] in crm.won]
    assert len(customers) == 40 and {r["route"] for r in customers} == {NEUTRAL}
