"""Judging a derived ICP against the planted truth: rule verdicts, window overlap, a rule's
lift on another sample and the tiers against the ceiling."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from icpkit.demo import make_crm
from icpkit.demo.judge import (
    CutLift,
    intent_overlap,
    judge,
    measure_cuts,
    tier_ceiling,
    truth_table,
    window_overlap,
)
from icpkit.icp.model import ICP, Criterion, Exclusion, IntentSignal, slugify
from icpkit.workspace import Workspace


@pytest.fixture(scope="module")
def truth(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The generator's own planted_truth.json, so the judge is tested on the real schema."""
    files = make_crm(200, 3, tmp_path_factory.mktemp("truth"))
    data: dict[str, Any] = json.loads(files.planted_truth.read_text(encoding="utf-8"))
    return data


def fit(
    attribute: str,
    values: list[str] | None = None,
    low: int | None = None,
    high: int | None = None,
    direction: str = "positive",
    source: str = "derived",
) -> Criterion:
    rid = slugify(f"{attribute} {' '.join(values or [str(low), str(high)])}")
    extra = {"reason": "set by hand"} if source == "human" else {}
    return Criterion(
        id=rid,
        attribute=attribute,
        values=values,
        min=low,
        max=high,
        direction=direction,  # type: ignore[arg-type]
        source=source,  # type: ignore[arg-type]
        **extra,
    )


def exclusion(
    attribute: str,
    values: list[str] | None = None,
    low: int | None = None,
    high: int | None = None,
    kind: str = "disqualifier",
) -> Exclusion:
    rid = slugify(f"x {attribute} {' '.join(values or [str(low), str(high)])}")
    return Exclusion(
        id=rid,
        attribute=attribute,
        values=values,
        min=low,
        max=high,
        kind=kind,  # type: ignore[arg-type]
        source="derived",
    )


def signal(kind: str, details: list[str], window: tuple[int, int]) -> IntentSignal:
    return IntentSignal(
        id=slugify(f"{kind} {' '.join(details)} {window[0]} {window[1]}"),
        signal=kind,
        detail_in=details,
        window_days=window,
        source="derived",
    )


def icp(**lists: Any) -> ICP:
    return ICP(derived_at=datetime(2026, 1, 1, tzinfo=UTC), data_fingerprint="test", **lists)


# --- verdicts --------------------------------------------------------------------------------


def test_the_planted_profile_is_all_planted_and_nothing_is_missing(truth) -> None:
    found = judge(
        icp(
            fit=[
                fit("employees", low=51, high=200),
                fit("industry", ["Software"]),
                fit("tech", ["HubSpot"]),
            ],
            exclusions=[
                exclusion("industry", ["Public Administration"]),
                exclusion("employees", low=1, high=10),
            ],
            intent=[signal("job_posting", ["SDR"], (0, 90))],
        ),
        truth,
    )
    assert [v.kind for v in found.verdicts] == ["planted"] * 6
    assert found.recovered and found.missing == []
    assert found.decoys == 0 and found.spurious == 0


def test_the_truth_table_shows_each_planted_item_decoy_and_unplanted_rule(truth) -> None:
    derived = icp(
        fit=[fit("employees", low=51, high=200), fit("country", ["US"])],
        exclusions=[exclusion("industry", ["Public Administration"])],
        intent=[signal("job_posting", ["SDR"], (0, 45))],
    )
    derived = derived.model_copy(update={"fit": [*derived.fit, fit("revenue", ["$10M-$50M"])]})
    rows = {(r["planted"], r["as"]): r["derived"] for r in truth_table(derived, truth)}
    assert rows[("employees 51-200", "fit")] == "employees-51-200"
    assert rows[("industry Software", "fit")] == "(not found)"
    assert (
        rows[("industry Public Administration", "exclusion")] == "x-industry-public-administration"
    )
    assert rows[("employees 1-10", "exclusion")] == "(not found)"
    # Half of the planted 0-90 days: 46 of 91 days shared.
    assert rows[("signal job_posting SDR 0-90d", "intent")].endswith("overlap 0.51")
    assert rows[("country US", "decoy (must stay out)")] == "WRONGLY IN: country-us"
    assert rows[("(nothing planted)", "derived, not planted")] == "revenue-10m-50m"


def test_a_rule_on_a_decoy_is_a_decoy(truth) -> None:
    found = judge(icp(fit=[fit("country", ["US"]), fit("tech", ["Slack"])]), truth)
    assert [v.kind for v in found.verdicts] == ["decoy", "decoy"]
    assert found.decoys == 2


def test_a_one_vs_rest_artefact_and_a_proxy_are_spurious(truth) -> None:
    # Another industry marked negative next to a strong one; a revenue band proxying size.
    found = judge(
        icp(
            fit=[
                fit("industry", ["Financial Services"], direction="negative"),
                fit("revenue", ["$10M-$50M"]),
            ]
        ),
        truth,
    )
    assert [v.kind for v in found.verdicts] == ["spurious", "spurious"]
    assert found.spurious == 2


def test_a_range_inside_the_planted_range_is_planted_and_one_outside_is_not(truth) -> None:
    found = judge(
        icp(fit=[fit("employees", low=51, high=100), fit("employees", low=201, high=1000)]),
        truth,
    )
    assert [v.kind for v in found.verdicts] == ["planted", "spurious"]


def test_a_positive_rule_on_a_disqualifier_is_not_planted(truth) -> None:
    # Public Administration is planted as a loser: "wins more" there matches nothing planted.
    found = judge(icp(fit=[fit("industry", ["Public Administration"])]), truth)
    assert found.verdicts[0].kind == "spurious"


def test_the_enterprise_confounder_as_a_negative_criterion_is_a_real_effect(truth) -> None:
    found = judge(icp(fit=[fit("employees", low=1001, direction="negative")]), truth)
    assert found.verdicts[0].kind == "planted"


def test_a_churn_exclusion_is_judged_against_the_churn_drivers(truth) -> None:
    found = judge(
        icp(
            exclusions=[
                exclusion("industry", ["Retail Trade"], kind="churn"),
                exclusion("industry", ["Software"], kind="churn"),
            ]
        ),
        truth,
    )
    assert [v.kind for v in found.verdicts] == ["planted", "spurious"]


def test_missing_names_each_planted_item_not_recovered(truth) -> None:
    found = judge(icp(fit=[fit("industry", ["Software"])]), truth)
    assert not found.recovered
    assert set(found.missing) == {
        "employees 51-200",
        "tech HubSpot",
        "industry Public Administration",
        "employees 1-10",
    }


def test_rules_set_by_hand_are_not_judged(truth) -> None:
    found = judge(icp(fit=[fit("country", ["FR"], source="human")]), truth)
    assert found.verdicts == []


def test_an_intent_signal_of_an_unplanted_type_or_detail_is_spurious(truth) -> None:
    found = judge(
        icp(
            intent=[
                signal("funding_round", ["Series B"], (60, 540)),
                signal("funding_round", ["Seed"], (0, 90)),
                signal("leadership_change", ["CTO"], (31, 90)),
            ]
        ),
        truth,
    )
    assert [v.kind for v in found.verdicts] == ["planted", "spurious", "spurious"]


# --- intent windows --------------------------------------------------------------------------


def test_the_same_window_overlaps_fully() -> None:
    assert window_overlap([(60, 540)], (60, 540)) == 1.0


def test_disjoint_windows_and_no_window_overlap_nothing() -> None:
    assert window_overlap([(600, 700)], (60, 540)) == 0.0
    assert window_overlap([], (60, 540)) == 0.0


def test_overlap_counts_whole_days_at_both_ends() -> None:
    # [181, 540] is 360 days of the 481 in [60, 540].
    assert window_overlap([(181, 540)], (60, 540)) == pytest.approx(360 / 481)
    # [0, 120] vs [60, 540]: 61 days shared, 541 covered together.
    assert window_overlap([(0, 120)], (60, 540)) == pytest.approx(61 / 541)


def test_a_window_with_a_hole_covers_less_than_one_spanning_it() -> None:
    holed = window_overlap([(91, 180), (366, 540)], (60, 540))
    assert holed == pytest.approx((90 + 175) / 481)
    assert holed < window_overlap([(91, 540)], (60, 540))


def test_adjacent_and_overlapping_windows_merge() -> None:
    assert window_overlap([(0, 30), (31, 90)], (0, 90)) == 1.0
    assert window_overlap([(0, 60), (30, 90)], (0, 90)) == 1.0


def test_intent_overlap_averages_over_the_planted_details(truth) -> None:
    funding = next(p for p in truth["intent_signals"] if p["type"] == "funding_round")
    assert funding["window_days"] == [60, 540]
    both = icp(
        intent=[
            signal("funding_round", ["Series A"], (60, 540)),
            signal("funding_round", ["Series B"], (181, 540)),
        ]
    )
    assert intent_overlap(both, funding) == pytest.approx((1 + 360 / 481) / 2)
    only_a = icp(intent=[signal("funding_round", ["Series A"], (60, 540))])
    assert intent_overlap(only_a, funding) == pytest.approx(0.5)
    other_type = icp(intent=[signal("job_posting", ["Series A"], (60, 540))])
    assert intent_overlap(other_type, funding) == 0.0


# --- a cut's lift on another sample ----------------------------------------------------------


def test_cut_lift_is_the_ratio_of_win_rates_and_none_when_undefined() -> None:
    assert CutLift("x", 100, 50, 400, 100).lift == pytest.approx(0.5 / 0.25)
    assert CutLift("x", 0, 0, 400, 100).lift is None
    assert CutLift("x", 100, 50, 400, 0).lift is None


@pytest.mark.slow
def test_measure_cuts_counts_the_deals_each_rule_matches(tmp_path: Path) -> None:
    files = make_crm(600, 4, tmp_path / "data")
    ws = Workspace.init(tmp_path / "ws")
    assert ws.ingest(files.exports()).ok
    profile = icp(
        fit=[fit("industry", ["Software"])],
        exclusions=[exclusion("industry", ["Public Administration"])],
    )
    with ws.connect(read_only=True) as con:
        cuts = measure_cuts(con, profile, ws.settings.analysis)
        # Counted directly on the store, independently of the scorecard's features.
        rows = con.execute(
            """SELECT a.industry, d.outcome = 'won' FROM deals d
               JOIN accounts a USING (account_key)
               WHERE d.outcome IN ('won', 'lost') AND NOT d.is_expansion"""
        ).fetchall()
    for rule_id, industry in (
        ("industry-software", "Software"),
        ("x-industry-public-administration", "Public Administration"),
    ):
        n_in = sum(1 for i, _ in rows if i == industry)
        wins_in = sum(1 for i, w in rows if i == industry and w)
        assert cuts[rule_id] == CutLift(
            rule_id, n_in, wins_in, len(rows) - n_in, sum(w for _, w in rows) - wins_in
        )
    assert cuts["industry-software"].lift is not None and cuts["industry-software"].lift > 1


# --- tiers against the ceiling ---------------------------------------------------------------


def test_tiers_holding_the_truly_best_deals_reach_the_ceiling() -> None:
    p = np.array([0.9, 0.8, 0.7, 0.2, 0.1, 0.05])
    won = np.array([1, 1, 0, 1, 0, 0])
    c = tier_ceiling(won, p >= 0.7, p)
    assert (c.deals, c.wins, c.best, c.ratio) == (3, 2, 2.0, 1.0)


def test_tiers_holding_worse_deals_fall_short_of_the_ceiling() -> None:
    p = np.array([0.9, 0.8, 0.7, 0.2, 0.1, 0.05])
    won = np.array([1, 1, 0, 1, 0, 0])
    top = np.array([False, True, False, True, True, False])
    c = tier_ceiling(won, top, p)
    assert c.wins == 2 and c.best == 2.0 and c.ratio == 1.0  # same wins, luckily
    top = np.array([False, False, True, False, True, True])
    assert tier_ceiling(won, top, p).ratio == 0.0


def test_deals_tied_at_the_cut_off_share_their_wins() -> None:
    # Two top deals; three tied at 0.5 for the second place, one of them won.
    p = np.array([0.9, 0.5, 0.5, 0.5, 0.1])
    won = np.array([1, 1, 0, 0, 1])
    c = tier_ceiling(won, np.array([True, False, False, False, True]), p)
    assert c.best == pytest.approx(1 + 1 / 3)
    assert c.ratio == pytest.approx(2 / (1 + 1 / 3))


def test_empty_top_tiers_have_no_ratio() -> None:
    c = tier_ceiling(np.array([1, 0]), np.array([False, False]), np.array([0.5, 0.4]))
    assert c.deals == 0 and c.ratio is None
