"""Every sentence icpkit writes about a rule matches the test behind it: the floor names the
test that drew it, a country without wins is unknown (not out), volume notes and segment
leaders are stated only when a test supports them."""

from __future__ import annotations

import numpy as np
import pytest

from icpkit.analysis.frame import Attribute, Cut, Frame
from icpkit.analysis.lift import lift_table
from icpkit.analysis.segments import Interval, Segment, _leader
from icpkit.config import AnalysisSettings
from icpkit.learn.derive import derive_icp

EMPLOYEES = ("1-10", "11-50", "51-200")
NICHE_WINS = (3, 0, 3, 0, 3, 1, 3, 0, 3, 2)
N = 600 + len(NICHE_WINS)


def _frame() -> Frame:
    """600 one-deal accounts that win 40% in every employee bucket, the smallest bucket's
    customers churn 80% (others 10%); country NZ has 3 deals, none won; industry Niche is
    10 accounts with 3 deals each, 18 of 30 won (60%, but spread 0-3 per account, so not
    significant), everything else wins 40%."""
    employees: dict[str, list[int]] = {v: [] for v in EMPLOYEES}
    country: dict[str, list[int]] = {"US": [], "GB": [], "NZ": []}
    industry: dict[str, list[int]] = {"Software": [], "Retail": []}
    won = np.zeros(N, dtype=float)
    deals = np.ones(N, dtype=float)
    churned = np.full(N, -1, dtype=np.int8)
    for i in range(600):
        bucket = EMPLOYEES[i // 200]
        employees[bucket].append(i)
        won[i] = 1.0 if i % 5 < 2 else 0.0
        if i >= 597:
            won[i] = 0.0
            country["NZ"].append(i)
        else:
            country["US" if i % 2 else "GB"].append(i)
        industry["Software" if i % 3 else "Retail"].append(i)
        if won[i]:
            rank = (i % 200) // 5  # 0..39 within the bucket's customers
            churned[i] = int(rank < 32) if bucket == "1-10" else int(rank < 4)
    industry["Niche"] = []
    for i, wins in enumerate(NICHE_WINS, start=600):
        won[i], deals[i] = float(wins), 3.0
        churned[i] = 0 if wins else -1
        employees["51-200"].append(i)
        country["US"].append(i)
        industry["Niche"].append(i)

    def cuts(groups: dict[str, list[int]]) -> list[Cut]:
        out = []
        for value, members in groups.items():
            idx = np.array(members)
            out.append(Cut(value, idx, won[idx], deals[idx]))
        return out

    attributes = [
        Attribute("employees", "ordinal", "fit", "", EMPLOYEES),
        Attribute("country", "categorical", "fit", ""),
        Attribute("industry", "categorical", "fit", ""),
    ]
    return Frame(
        attributes=attributes,
        cuts={
            "employees": cuts(employees),
            "country": cuts(country),
            "industry": cuts(industry),
        },
        n_closed=int(deals.sum()),
        n_won=int(won.sum()),
        n_accounts=N,
        churned=churned,
        account_keys=[f"a{i}" for i in range(N)],
        tiers=np.zeros(N, dtype=np.int8),
    )


@pytest.fixture(scope="module")
def derived():  # type: ignore[no-untyped-def]
    frame = _frame()
    settings = AnalysisSettings()
    result = lift_table(frame, settings)
    return result, derive_icp(frame, result, settings, "fingerprint")


def test_a_floor_drawn_by_churn_says_churn_and_its_numbers(derived) -> None:  # type: ignore[no-untyped-def]
    result, icp = derived
    small = next(r for r in result.rows if r.attribute == "employees" and r.value == "1-10")
    assert small.verdict == "disqualifier"
    assert small.why.startswith("churns")
    floor = next(b for b in icp.boundary if b.id == "employees-floor")
    assert floor.min == 11
    assert "churn" in floor.rationale
    assert "wins significantly less" not in floor.rationale
    assert f"{small.churn_lift:.1f}x" in floor.rationale
    assert f"{small.churn_rate:.0%} churned" in floor.rationale


def test_a_country_without_wins_is_unknown_not_out_of_the_market(derived) -> None:  # type: ignore[no-untyped-def]
    _, icp = derived
    for rule in [*icp.boundary, *icp.exclusions]:
        if rule.attribute != "country":
            continue
        # Neither left out of a served list nor excluded: no test says NZ loses.
        assert rule.values is not None
        if rule in icp.boundary:
            assert "NZ" in rule.values
        else:
            assert "NZ" not in rule.values
    assert not any("no evidence either way" in (b.rationale or "") for b in icp.boundary)


def test_a_segment_ahead_by_chance_earns_no_volume_note(derived) -> None:  # type: ignore[no-untyped-def]
    result, icp = derived
    niche = next(r for r in result.rows if r.attribute == "industry" and r.value == "Niche")
    assert niche.win_rate >= 0.6 and niche.n_accounts == 10 and not niche.thin
    assert niche.verdict != "discriminator"
    assert not any("Niche" in note for note in icp.notes)
    assert not any("not where it wins" in note for note in icp.notes)


def _segment(value: str, win: Interval, accounts: int = 50, **metrics: Interval) -> Segment:
    blank = Interval(float("nan"), float("nan"), float("nan"))
    return Segment(
        value,
        100,
        int(win.value * 100),
        accounts,
        win,
        metrics.get("acv", blank),
        metrics.get("cycle", blank),
        metrics.get("expansion", blank),
        metrics.get("churn", blank),
        thin=False,
    )


def test_all_zero_ties_crown_no_leader() -> None:
    zero = Interval(0.0, 0.0, 0.0)
    segments = [
        _segment("a", Interval(0.31, 0.25, 0.37), cycle=Interval(40, 35, 45), expansion=zero,
                 churn=zero),
        _segment("b", Interval(0.30, 0.24, 0.36), cycle=Interval(41, 36, 46), expansion=zero,
                 churn=zero),
    ]  # fmt: skip
    leader, verdict = _leader(segments, AnalysisSettings())
    assert leader is None
    assert all(not s.leads for s in segments)
    assert verdict == "no bucket leads on three or more of the five metrics"


def test_a_lead_inside_the_noise_is_no_lead() -> None:
    # "a" is ahead on three metrics, each by less than the intervals can tell apart.
    segments = [
        _segment("a", Interval(0.66, 0.20, 0.95), accounts=1, acv=Interval(9000, 2000, 30000),
                 cycle=Interval(30, 10, 90)),
        _segment("b", Interval(0.40, 0.35, 0.45), acv=Interval(8000, 7000, 9000),
                 cycle=Interval(35, 32, 38)),
    ]  # fmt: skip
    leader, _ = _leader(segments, AnalysisSettings())
    assert leader is None
    assert segments[0].leads == []


def test_a_clear_lead_on_three_metrics_is_still_named() -> None:
    segments = [
        _segment("a", Interval(0.50, 0.45, 0.55), acv=Interval(9000, 8500, 9500),
                 cycle=Interval(30, 28, 32)),
        _segment("b", Interval(0.30, 0.25, 0.35), acv=Interval(5000, 4500, 5500),
                 cycle=Interval(50, 45, 55)),
    ]  # fmt: skip
    leader, verdict = _leader(segments, AnalysisSettings())
    assert leader == "a"
    assert verdict.startswith("a leads on 3 of 5 metrics")


def test_adjacent_sizes_disqualified_by_different_tests_are_not_merged() -> None:
    from dataclasses import replace

    from icpkit.learn.derive import _same_test

    frame = _frame()
    rows = {r.value: r for r in lift_table(frame, AnalysisSettings()).rows}
    churn = rows["1-10"]
    losing = replace(rows["11-50"], verdict="disqualifier", why="wins 0.5x as often (q=0.001)")
    assert [[r.value for r in part] for part in _same_test([churn, losing])] == [
        ["1-10"],
        ["11-50"],
    ]
