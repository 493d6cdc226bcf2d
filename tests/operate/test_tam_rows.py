"""A TAM as rows of measure, current and widened: numbers for files, text for people, and a
value that cannot be computed as None with its reason, never NaN."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

from icpkit.analysis.stats import RateEstimate
from icpkit.operate.tam import NO_DEALS, NO_PROFILE, TamCount, TamResult, WinRates

DAY = dt.date(2025, 10, 1)


def count(tam: int, customers: int) -> TamCount:
    return TamCount(
        universe=1000,
        excluded=100,
        outside=50,
        market=850,
        tam=tam,
        customers=customers,
        tiers={"A": tam, "B": 0},
        routes={"nurture": tam},
        profile=("51-200 employees",),
    )


def rate(value: float, low: float, high: float, deals: int) -> RateEstimate:
    return RateEstimate(value, low, high, deals, deals // 2, deals / 2)


NAN = float("nan")


def widened() -> TamResult:
    return TamResult(
        Path("universe.parquet"),
        DAY,
        count(200, 20),
        [],
        widened=count(500, 30),
        ranges={"employees": ((51.0, 200.0), (20.0, 500.0))},
        win_rates=WinRates(
            old=rate(0.5, 0.4, 0.6, 100),
            new=rate(0.3, 0.25, 0.35, 300),
            added=rate(NAN, NAN, NAN, 0),
        ),
    )


def by_measure(rows: list[dict[str, object]]) -> dict[str, dict[str, object]]:
    return {str(r["measure"]): r for r in rows}


def test_the_counts_come_first_then_tiers_routes_and_win_rates() -> None:
    rows = widened().rows()
    assert [r["measure"] for r in rows] == [
        "companies in the universe",
        "excluded by the ICP",
        "outside the market served",
        "market served",
        "TAM (match the profile)",
        "  already customers",
        "  prospects",
        "  tier A",
        "  tier B",
        "  route nurture",
        "win rate of deals in employees 51-200 / employees 20-500",
        "win rate of deals in the band added",
        "expected change in win rate",
    ]
    shown = by_measure(rows)
    assert shown["  prospects"] == {"measure": "  prospects", "current": 180, "widened": 470}
    assert shown["win rate of deals in employees 51-200 / employees 20-500"]["current"] == 0.5
    assert math.isclose(shown["expected change in win rate"]["widened"], -0.2)


def test_a_rate_without_closed_deals_is_none_with_its_reason_not_nan() -> None:
    for readable in (False, True):
        row = by_measure(widened().rows(readable=readable))["win rate of deals in the band added"]
        assert row["widened"] is None and row["widened_reason"] == NO_DEALS
        assert row["current"] == ("" if readable else None) and "current_reason" not in row


def test_readable_rows_are_text_for_a_person() -> None:
    shown = by_measure(widened().rows(readable=True))
    assert shown["companies in the universe"]["current"] == "1,000"
    assert shown["win rate of deals in employees 51-200 / employees 20-500"] == {
        "measure": "win rate of deals in employees 51-200 / employees 20-500",
        "current": "50% (40%-60%; 100 deals, 50 accounts)",
        "widened": "30% (25%-35%; 300 deals, 150 accounts)",
    }
    assert shown["expected change in win rate"]["widened"] == "-20.0%"


def test_without_a_what_if_there_is_no_widened_column() -> None:
    rows = TamResult(Path("u.parquet"), DAY, count(200, 20), []).rows(readable=True)
    assert all(set(r) == {"measure", "current"} for r in rows)


def test_an_icp_without_rules_stops_at_the_market_and_says_why_there_is_no_tam() -> None:
    result = TamResult(Path("u.parquet"), DAY, count(0, 0), [], discriminates=False)
    for readable in (False, True):
        rows = result.rows(readable=readable)
        assert rows[-1] == {
            "measure": "TAM (match the profile)",
            "current": None,
            "current_reason": NO_PROFILE,
        }
        assert [r["measure"] for r in rows[:-1]] == [
            "companies in the universe",
            "excluded by the ICP",
            "outside the market served",
            "market served",
        ]
