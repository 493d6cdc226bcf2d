"""A derived rule's evidence reports its lift adjusted for the test that chose it, says so in
its rationale, and keeps the lift as measured beside it."""

from __future__ import annotations

import math

from icpkit.analysis.lift import LiftResult, LiftRow
from icpkit.config import AnalysisSettings
from icpkit.icp.describe import describe_evidence, format_lift
from icpkit.icp.model import Evidence
from icpkit.learn.derive import _rationale, adjust_for_selection

Z95 = 1.959964


def _row(value: str, p_value: float, q_value: float, verdict: str, why: str) -> LiftRow:
    return LiftRow(
        attribute="industry",
        value=value,
        family="fit",
        kind="categorical",
        n_closed=300,
        wins=120,
        n_accounts=200,
        win_rate=0.4,
        win_rate_ci=(0.34, 0.46),
        shrunk_rate=0.4,
        share_won=0.2,
        share_lost=0.1,
        lift=1.5,
        lift_ci=(1.2, 1.9),
        difference=0.1,
        difference_ci=(0.05, 0.15),
        p_value=p_value,
        woe=0.4,
        test="z (cluster-robust)",
        q_value=q_value,
        verdict=verdict,  # type: ignore[arg-type]
        why=why,
    )


def _result(rows: list[LiftRow]) -> LiftResult:
    return LiftResult(rows, {}, n_closed=3000, n_won=900, n_accounts=2000, base_rate=0.3)


def _evidence(lift: float, se: float) -> Evidence:
    return Evidence(
        n_closed=300,
        wins=120,
        win_rate=0.4,
        base_rate=0.3,
        lift=lift,
        lift_ci=(lift * math.exp(-Z95 * se), lift * math.exp(Z95 * se)),
    )


def _family(kept: LiftRow) -> list[LiftRow]:
    """One kept row among 20 tests: BH at 0.05 cuts at p = 0.05 / 20 = 0.0025."""
    others = [
        _row(f"v{i}", 0.2 + 0.04 * i, 0.9, "not enough evidence", "no significant difference")
        for i in range(19)
    ]
    return [kept, *others]


def test_a_rule_kept_by_its_win_rate_test_reports_the_adjusted_lift() -> None:
    kept = _row("Software", 0.0005, 0.01, "discriminator", "wins 1.5x as often (q=0.01)")
    measured = _evidence(1.5, 0.1)  # ln 1.5 = 4.05 standard errors, the cut 3.02
    ev = adjust_for_selection(measured, [kept], _result(_family(kept)), AnalysisSettings(), 0.0005)
    assert ev.lift_observed == measured.lift
    assert ev.lift_observed_ci == measured.lift_ci
    assert ev.lift is not None and ev.lift_ci is not None and measured.lift_ci is not None
    # Pulled towards 1 and wider on the side of 1: the measured lift overstates.
    assert 1 < ev.lift < 1.5
    assert ev.lift_ci[0] < measured.lift_ci[0]
    assert ev.lift_ci[0] <= ev.lift <= ev.lift_ci[1]


def test_a_rule_kept_by_its_churn_test_keeps_the_measured_lift() -> None:
    churn = _row("Retail", 0.6, 0.9, "disqualifier", "churns 2.4x as often (q=0.01)")
    measured = _evidence(1.05, 0.1)
    ev = adjust_for_selection(measured, [churn], _result(_family(churn)), AnalysisSettings(), 0.6)
    assert ev == measured
    assert ev.lift_observed is None


def test_the_rationale_names_the_adjusted_interval_once_with_the_measured_lift() -> None:
    kept = _row("Software", 0.0005, 0.01, "discriminator", "wins 1.6x as often (q=0.01)")
    measured = _evidence(1.6, 0.1)
    ev = adjust_for_selection(measured, [kept], _result(_family(kept)), AnalysisSettings(), 0.0005)
    assert ev.lift is not None and ev.lift_ci is not None
    text = _rationale("industry Software", ev)
    assert text.startswith(f"industry Software: {format_lift(ev.lift)} the win rate of the rest")
    assert format_lift(ev.lift) != "1.6x"
    assert "(1.6x as measured)" in text
    assert text.count("selection-adjusted 95% CI") == 1
    assert text.count("95% CI") == 1
    low, high = ev.lift_ci
    assert f"{format_lift(low).removesuffix('x')}-{format_lift(high)}" in text
    assert "significant" not in text and "nan" not in text
    plain = _rationale("industry Software", measured)
    assert "95% CI" in plain and "selection-adjusted" not in plain and "as measured" not in plain
    # The one-line form of icp show and diffs says which interval it is, too.
    assert ", adjusted CI " in describe_evidence(ev)
    assert "adjusted" not in describe_evidence(measured)


def test_a_barely_kept_rule_may_have_an_adjusted_interval_that_includes_one() -> None:
    # ln 1.3 = 2.62 standard errors, below the BH cut z = 3.02 with a permutation p-value that
    # passed: kept at the edge, its honest interval does not exclude no effect.
    kept = _row("Software", 0.0024, 0.048, "discriminator", "wins 1.3x as often (q=0.048)")
    measured = _evidence(1.3, 0.1)
    ev = adjust_for_selection(measured, [kept], _result(_family(kept)), AnalysisSettings(), 0.0024)
    assert ev.lift_ci is not None and ev.lift_ci[0] < 1 < ev.lift_ci[1]
    assert "significant" not in _rationale("industry Software", ev)


def test_evidence_written_before_the_adjustment_still_loads() -> None:
    old = {"n_closed": 300, "wins": 120, "win_rate": 0.4, "base_rate": 0.3, "lift": 1.5}
    ev = Evidence.model_validate(old)
    assert ev.lift_observed is None and ev.lift_observed_ci is None
