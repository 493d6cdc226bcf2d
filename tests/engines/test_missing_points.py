"""Unknown values score points of their own: a Missing bin (``missing: true``) matches the
accounts whose value is unknown, and the compiled SQL, the numpy scorer and the Python
reference agree on its points and its reason ('Employees unknown (-3)')."""

from __future__ import annotations

import datetime as dt

import pytest
from edge_cases import Case, assert_same_rows, edge_icp, unknown_bins_icp
from test_sql_duckdb import load_duckdb, numpy_and_sql_scores, run

from icpkit.config import ScoringSettings, Settings
from icpkit.engines.features import compute_features
from icpkit.engines.reference import score_all
from icpkit.engines.scorecard import build_scorecard
from icpkit.engines.sql import compile_scorecard
from icpkit.icp.model import (
    ICP,
    Criterion,
    ICPError,
    ScoringModel,
    icp_from_yaml,
    icp_json_schema,
    icp_to_yaml,
)


@pytest.fixture(scope="module")
def bins_case(edge_case: Case) -> Case:
    return Case(
        unknown_bins_icp(),
        edge_case.settings,
        edge_case.accounts,
        edge_case.signals,
        edge_case.contacts,
    )


def _points(icp: ICP, settings: Settings) -> dict[str, int]:
    return {rp.id: rp.points for rp in build_scorecard(icp, settings.scoring).rules}


def test_duckdb_scores_unknown_values_like_the_reference(bins_case: Case) -> None:
    case = bins_case
    expected = score_all(
        case.icp, case.settings, case.accounts, case.signals, case.contacts, case.as_of
    )
    sql = compile_scorecard(case.icp, case.settings, as_of=case.as_of)
    assert_same_rows(expected, run(load_duckdb(case), sql), "duckdb")


def test_an_account_without_employees_carries_the_bins_points_as_its_reason(
    bins_case: Case,
) -> None:
    case = bins_case
    points = _points(case.icp, case.settings)
    assert points["employees-unknown"] < 0 < points["industry-unknown"]
    sql = compile_scorecard(case.icp, case.settings, as_of=case.as_of)
    rows = {r["account_key"]: r for r in run(load_duckdb(case), sql)}
    for account in case.accounts:
        reasons = str(rows[account["account_key"]]["negative_reasons"])
        shown = f"Employees unknown ({points['employees-unknown']:+d})"
        assert (shown in reasons) == (account["employees"] is None), account
        positive = str(rows[account["account_key"]]["top_reasons"])
        shown = f"Industry unknown ({points['industry-unknown']:+d})"
        assert (shown in positive) == (account["industry"] is None), account
    # Tools unknown (None) is not the same as no tools ([]): only None is unknown.
    nothing = [a for a in case.accounts if a["technologies"] == []]
    assert nothing
    assert all(
        "Technologies unknown" not in str(rows[a["account_key"]]["negative_reasons"])
        for a in nothing
    )


def test_a_bin_and_the_ranges_of_its_attribute_never_match_together(bins_case: Case) -> None:
    """Without an employee count no range on employees matches, so the points of the bin
    replace, never add to, those of a range."""
    case = bins_case
    con = load_duckdb(case)
    con.execute("CREATE TABLE acc AS SELECT *, NULL::JSON AS extra FROM accounts")
    con.execute(
        f"""CREATE TEMP TABLE score_entities AS SELECT (row_number() OVER (ORDER BY account_key)
            - 1)::BIGINT AS entity_id, account_key, DATE '{case.as_of}' AS as_of FROM acc"""
    )
    features = compute_features(con, case.icp, case.settings.analysis, accounts="acc")
    ids = [r.id for r in features.rules]
    unknown = features.matches[:, ids.index("employees-unknown")] > 0
    for rule_id in ("size", "enterprise"):
        assert not (unknown & (features.matches[:, ids.index(rule_id)] > 0)).any()
    assert unknown.any()


def test_the_numpy_scorer_agrees_with_the_sql_on_unknown_values(bins_case: Case) -> None:
    scores, by_sql = numpy_and_sql_scores(bins_case)
    assert scores.score.tolist() == [r["score"] for r in by_sql]
    assert scores.fit.tolist() == [r["fit"] for r in by_sql]


def test_a_bin_at_zero_points_stays_in_the_scorecard_and_in_no_reason(bins_case: Case) -> None:
    case = bins_case
    card = build_scorecard(case.icp, case.settings.scoring)
    revenue = next(rp for rp in card.rules if rp.id == "revenue-unknown")
    assert revenue.points == 0
    rows = score_all(
        case.icp, case.settings, case.accounts, case.signals, case.contacts, case.as_of
    )
    assert not any("Revenue unknown" in r["top_reasons"] + r["negative_reasons"] for r in rows)
    assert any(a["revenue"] is None for a in case.accounts)


def test_the_base_counts_a_negative_bin_and_a_negative_range_once() -> None:
    """Points 1-10 employees -10 and employees unknown -5 never add up: the worst an account
    can do on employees is -10, so the firmographic base is 10, not 15."""
    rules = [
        Criterion(id="tiny", attribute="employees", max=10, direction="negative",
                  source="human", reason="sized by hand", points=-10),
        Criterion(id="employees-unknown", attribute="employees", missing=True,
                  source="human", reason="sized by hand", points=-5),
        Criterion(id="software", attribute="industry", values=["Software"],
                  source="human", reason="sized by hand", points=20),
    ]  # fmt: skip
    icp = ICP(derived_at=dt.datetime(2025, 1, 1), data_fingerprint="x", fit=rules)
    card = build_scorecard(icp, ScoringSettings())
    assert card.base["firmographic"] == 10
    assert card.caps["firmographic"] == 30


def test_the_bin_is_fitted_with_either_sign() -> None:
    from icpkit.engines.features import ScoredRule
    from icpkit.learn.fit import bounds_of

    bin_rule = Criterion(id="e", attribute="employees", missing=True, source="derived")
    positive = Criterion(id="p", attribute="employees", min=51, source="derived")
    assert bounds_of(ScoredRule("fit", bin_rule)) == (None, None)
    assert bounds_of(ScoredRule("fit", positive)) == (0.0, None)


def test_an_icp_without_bins_is_written_and_read_as_before() -> None:
    icp = edge_icp()
    text = icp_to_yaml(icp)
    assert "missing" not in text
    assert icp_from_yaml(text) == icp
    with_bins = icp_to_yaml(unknown_bins_icp())
    assert with_bins.count("missing: true") == 6
    assert icp_from_yaml(with_bins) == unknown_bins_icp()


def test_a_bin_with_a_condition_is_refused_naming_its_key() -> None:
    text = icp_to_yaml(unknown_bins_icp()).replace(
        "  attribute: employees\n  missing: true\n",
        "  attribute: employees\n  values: ['51-200']\n  missing: true\n",
    )
    with pytest.raises(ICPError, match=r"fit\[9\]: .*missing: true.* a condition"):
        icp_from_yaml(text)


def test_the_schema_accepts_a_bin_and_still_refuses_a_rule_without_condition() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft202012Validator(icp_json_schema())
    base = {"derived_at": "2025-01-01T00:00:00Z", "data_fingerprint": "x"}
    bin_rule = {"id": "employees-unknown", "attribute": "employees", "missing": True}
    assert validator.is_valid({**base, "fit": [{**bin_rule, "source": "derived"}]})
    no_condition = {"id": "e", "attribute": "employees", "source": "derived"}
    assert not validator.is_valid({**base, "fit": [no_condition]})
    assert not validator.is_valid({**base, "fit": [{**no_condition, "missing": False}]})


def test_points_set_by_hand_on_a_bin_win_over_its_weight() -> None:
    rules = [
        Criterion(id="employees-unknown", attribute="employees", missing=True,
                  source="derived", locked=True, reason="unknown size is a weak lead",
                  points=-4, weight=0.9),
        Criterion(id="size", attribute="employees", min=51, max=200, source="derived",
                  weight=1.0),
    ]  # fmt: skip
    icp = ICP(
        derived_at=dt.datetime(2025, 1, 1),
        data_fingerprint="x",
        fit=rules,
        scoring=ScoringModel(method="hand-made", intercept=-1.0, deals=0, wins=0),
    )
    card = build_scorecard(icp, ScoringSettings())
    rp = next(rp for rp in card.rules if rp.id == "employees-unknown")
    assert (rp.points, rp.source) == (-4, "human")
    rows = score_all(
        icp,
        Settings(),
        [{"account_key": "a.io", "employees": None}, {"account_key": "b.io", "employees": 60}],
        [],
        [],
        dt.date(2025, 1, 1),
    )
    assert rows[0]["negative_reasons"] == "Employees unknown (-4)"
    assert "unknown" not in rows[1]["top_reasons"] + rows[1]["negative_reasons"]


def test_the_tam_profile_and_its_what_ifs_leave_the_bins_out() -> None:
    from icpkit.operate.tam import profile, widen_icp

    icp = unknown_bins_icp()
    assert not [c.id for group in profile(icp).values() for c in group if c.missing]
    wider, ranges = widen_icp(icp, {"employees": (20, 500)})
    assert ranges["employees"] == ((51, 200), (20.0, 500.0))
    assert "employees-unknown" in [c.id for c in wider.fit]
