"""Drift monitoring (``icp monitor``): PSI, the decline and lift tests, periods, the verdict
and its exit code, and a drift planted in the demo CRM found at the first check after it."""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from helpers import DemoWorkspaces
from icpkit.analysis.stats import population_stability, quantile_bins
from icpkit.cli.main import app
from icpkit.config import MonitorSettings
from icpkit.demo import DemoFiles, Drift, make_crm
from icpkit.operate.monitor import (
    MonitorResult,
    PeriodResult,
    RuleMove,
    Shift,
    auc_decline_p,
    lift_moved_p,
    next_period,
    period_label,
    period_start,
)
from icpkit.validate.metrics import MetricCI
from icpkit.workspace import Workspace

DRIFT_DAY = dt.date(2025, 4, 1)
FIRST_QUARTERLY_CHECK = dt.date(2025, 6, 30)
NOT_A_NUMBER = ("nan", "inf")


# --- the statistics ----------------------------------------------------------------------


def test_psi_matches_a_hand_computed_example() -> None:
    # 25/25/50% then 20/30/50%: 0.05 ln(0.25/0.20) + 0.05 ln(0.30/0.25)
    #   = 0.05 x 0.223144 + 0.05 x 0.182322 = 0.020273
    assert population_stability(np.array([25, 25, 50]), np.array([20, 30, 50])) == (
        pytest.approx(0.020273, abs=1e-6)
    )


def test_psi_counts_an_empty_bin_as_a_tiny_share_not_infinity() -> None:
    # (0.5 - 0.0001) ln(0.5 / 0.0001) + (0.5 - 1) ln(0.5 / 1): about 4.605
    psi = population_stability(np.array([0, 100]), np.array([50, 50]))
    assert psi == pytest.approx(0.4999 * math.log(5000) + 0.5 * math.log(2), rel=1e-3)


def test_psi_of_identical_distributions_is_zero_and_of_an_empty_side_not_computable() -> None:
    assert population_stability(np.array([3, 7]), np.array([30, 70])) == pytest.approx(0)
    assert math.isnan(population_stability(np.array([0, 0]), np.array([1, 2])))


def test_quantile_bins_cut_the_reference_into_equal_counts() -> None:
    reference = np.arange(100, dtype=float)
    assert quantile_bins(reference, reference, bins=4).tolist() == [25, 25, 25, 25]
    # Everything new above the reference's top quartile lands in the last bin.
    assert quantile_bins(reference, np.full(10, 500.0), bins=4).tolist() == [0, 0, 0, 10]


def test_auc_decline_is_significant_beyond_the_intervals_and_not_for_a_wobble() -> None:
    reference = MetricCI(0.74, 0.73, 0.75)
    fell = MetricCI(0.62, 0.57, 0.67)  # se about 0.026: z about -4.5
    wobble = MetricCI(0.72, 0.67, 0.77)  # z about -0.8
    assert auc_decline_p(fell, reference) < 0.001
    assert 0.1 < auc_decline_p(wobble, reference) < 0.5
    assert auc_decline_p(MetricCI(0.80, 0.75, 0.85), reference) > 0.9  # one-sided
    assert auc_decline_p(MetricCI(math.nan, math.nan, math.nan), reference) == 1.0


def _deals(n: int, rate_in: float, rate_out: float, share_in: float) -> tuple[np.ndarray, ...]:
    """``n`` deals, ``share_in`` of them matching a rule, won at exactly the given rates."""
    k = round(n * share_in)
    m = np.arange(n) < k
    y = np.zeros(n, dtype=bool)
    y[: round(k * rate_in)] = True
    y[k : k + round((n - k) * rate_out)] = True
    return y, m


def test_a_rule_whose_lift_reversed_has_moved_and_one_that_held_has_not() -> None:
    y0, m0 = _deals(2000, 0.45, 0.25, 0.3)  # lift 1.8
    y1, m1 = _deals(400, 0.20, 0.25, 0.3)  # lift 0.8
    y2, m2 = _deals(400, 0.45, 0.25, 0.3)  # lift 1.8 again
    assert lift_moved_p(y0, m0, y1, m1) < 1e-4
    assert lift_moved_p(y0, m0, y2, m2) > 0.9
    # Clustered deals are worth less: the same move is less significant.
    assert lift_moved_p(y0, m0, y1, m1, 1.0, 4.0) > lift_moved_p(y0, m0, y1, m1)


def test_periods_are_months_or_quarters_across_a_year_end() -> None:
    assert period_start(dt.date(2025, 8, 17), "quarter") == dt.date(2025, 7, 1)
    assert next_period(dt.date(2025, 10, 1), "quarter") == dt.date(2026, 1, 1)
    assert next_period(dt.date(2025, 12, 1), "month") == dt.date(2026, 1, 1)
    assert period_label(dt.date(2025, 7, 1), "quarter") == "2025-Q3"
    assert period_label(dt.date(2025, 7, 1), "month") == "2025-07"


def test_monitor_settings_refuse_a_warning_band_above_the_action_band() -> None:
    with pytest.raises(ValidationError, match="psi_warning must be below psi_action"):
        MonitorSettings(psi_warning=0.3, psi_action=0.25)


def _result(shifts: list[Shift], rules: list[RuleMove], new_deals: int = 500) -> MonitorResult:
    """A monitor result of one period of ``new_deals`` deals, with no AUC decline."""
    auc = MetricCI(0.74, 0.70, 0.78)
    period = PeriodResult(
        "2025-07", dt.date(2025, 7, 1), dt.date(2025, 7, 31), new_deals, 200, 50, [],
        MetricCI(2.0, 1.5, 2.5), auc, 0.5, 0.8, 0.75, 0.85, True, 0.5, False,
    )  # fmt: skip
    return MonitorResult(
        1, "month", dt.date(2022, 1, 1), dt.date(2025, 6, 30), dt.date(2025, 7, 1), 10_000,
        9_000, auc, "fitting window's in-sample AUC", 0.8, [period], shifts, rules,
        MonitorSettings(),
    )  # fmt: skip


def test_the_verdict_is_healthy_then_warning_then_action_with_exit_codes_0_1_2() -> None:
    stable = [Shift("score", 0.02, "stable", 10), Shift("industry", 0.05, "stable", 4)]
    healthy = _result(stable, [])
    assert (healthy.verdict, healthy.exit_code) == ("healthy", 0)
    assert healthy.summary().startswith("no drift: 500 deals created since 2025-07-01")
    moderate = _result([Shift("score", 0.02, "stable", 10), Shift("industry", 0.15, "", 4)], [])
    assert (moderate.verdict, moderate.exit_code) == ("warning", 1)
    assert "industry: PSI 0.150" in moderate.summary()
    major = _result([Shift("score", 0.3, "major shift", 10)], [])
    assert (major.verdict, major.exit_code) == ("action", 2)
    moved = RuleMove("industry-software", "industry", 1.8, math.nan, 300, 1e-6, 1e-5, True)
    acted = _result(stable, [moved])
    assert (acted.verdict, acted.exit_code) == ("action", 2)
    assert "nan" not in acted.summary().lower()


def test_a_shift_on_too_few_new_deals_is_shown_but_not_judged() -> None:
    few = _result([Shift("industry", 0.4, "major shift", 4)], [], new_deals=50)
    assert few.verdict == "healthy"
    assert "PSI not judged (fewer than 200 new deals)" in few.summary()


# --- the planted drift in the demo CRM ---------------------------------------------------


def _rows(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.reader(fh))


def test_a_planted_drift_lowers_only_the_segment_win_rate_after_its_day(tmp_path: Path) -> None:
    plain = make_crm(3000, 7, tmp_path / "plain")
    drifted = make_crm(3000, 7, tmp_path / "drift", drift=Drift(DRIFT_DAY, "software", -1.5))
    deals = _rows(plain.deals)
    created = [row[deals[0].index("Create Date")][:10] for row in deals[1:]]
    before, after = _rows(plain.deal_truth), _rows(drifted.deal_truth)
    head = before[0]
    p, industry, kind = head.index("p_win"), head.index("industry"), head.index("Deal Type")
    pairs = list(zip(created, before[1:], after[1:], strict=True))
    hit = [
        (a, b)
        for day, a, b in pairs
        if day >= DRIFT_DAY.isoformat() and a[industry] == "Software" and a[kind] == "New Business"
    ]
    assert hit and all(float(b[p]) < float(a[p]) for a, b in hit)
    # Deals created long before the drift are untouched, to the byte.
    early = [(a, b) for day, a, b in pairs if day < "2025-01-01"]
    assert len(early) > 2000 and all(a == b for a, b in early)
    assert "drift" not in json.loads(plain.planted_truth.read_text(encoding="utf-8"))
    planted = json.loads(drifted.planted_truth.read_text(encoding="utf-8"))["drift"]
    assert planted["after"] == "2025-04-01" and planted["segment"] == "software"


def test_a_drift_on_an_unknown_segment_is_refused() -> None:
    with pytest.raises(ValueError, match="drift segment must be one of"):
        Drift(DRIFT_DAY, "retail")


# --- on a workspace ----------------------------------------------------------------------


def _derived_before(root: Path, files: DemoFiles, day: dt.date) -> Workspace:
    """A workspace whose ICP was derived on the deals created before ``day``, holding every
    deal since (as a later export brings them)."""
    ws = Workspace.init(root)
    early = root.parent / f"{root.name}-deals-before.csv"
    files.write_deals_before(day, early)
    assert ws.ingest([files.companies, early, files.signals]).ok
    ws.derive()
    assert ws.ingest([files.deals]).ok
    return ws


@pytest.fixture(scope="module")
def drifted(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    root = tmp_path_factory.mktemp("drifted")
    files = make_crm(20_000, 1, root / "crm", drift=Drift(DRIFT_DAY, "software", -1.5))
    return _derived_before(root / "ws", files, DRIFT_DAY)


@pytest.fixture(scope="module")
def drift_free(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    root = tmp_path_factory.mktemp("drift-free")
    return _derived_before(root / "ws", make_crm(20_000, 1, root / "crm"), DRIFT_DAY)


@pytest.mark.slow
def test_a_planted_drift_is_flagged_at_the_first_quarterly_check_after_it(
    drifted: Workspace,
) -> None:
    result = drifted.monitor(period="quarter", as_of=FIRST_QUARTERLY_CHECK)
    assert result.since == DRIFT_DAY
    assert [p.label for p in result.periods] == ["2025-Q2"]
    assert result.verdict == "action" and result.exit_code == 2
    moved = {r.rule_id for r in result.rules if r.moved}
    assert "industry-software" in moved
    assert result.summary().startswith("action: ")


@pytest.mark.slow
def test_the_same_crm_without_the_drift_raises_no_alarm_at_the_same_check(
    drift_free: Workspace,
) -> None:
    result = drift_free.monitor(period="quarter", as_of=FIRST_QUARTERLY_CHECK)
    assert result.verdict != "action", result.summary()
    assert not any(r.moved for r in result.rules)


@pytest.mark.slow
def test_monitor_exit_codes_follow_the_verdict_through_the_cli(
    drifted: Workspace, drift_free: Workspace
) -> None:
    runner = CliRunner()
    args = ["monitor", "--period", "quarter", "--as-of", FIRST_QUARTERLY_CHECK.isoformat()]
    alarm = runner.invoke(app, [*args, "-w", str(drifted.root)], env={"COLUMNS": "120"})
    assert alarm.exit_code == 2, alarm.output
    assert "industry-software" in alarm.stdout
    calm = runner.invoke(app, [*args, "-w", str(drift_free.root), "--format", "json"])
    doc = json.loads(calm.stdout)
    assert calm.exit_code == doc["exit_code"] == {"healthy": 0, "warning": 1}[doc["verdict"]]
    assert not any(word in calm.stdout.lower() for word in NOT_A_NUMBER)


@pytest.mark.slow
def test_drift_free_seeds_raise_no_alarm_in_at_least_four_of_five(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    alarms = 0
    for seed in range(11, 16):
        root = tmp_path_factory.mktemp(f"null-{seed}")
        ws = _derived_before(root / "ws", make_crm(10_000, seed, root / "crm"), DRIFT_DAY)
        result = ws.monitor(period="quarter", as_of=FIRST_QUARTERLY_CHECK)
        alarms += result.verdict == "action"
    assert alarms <= 1


@pytest.mark.slow
def test_an_icp_fitted_on_every_deal_has_nothing_new_to_judge_and_says_so_plainly(
    demo_workspace: DemoWorkspaces,
) -> None:
    ws = demo_workspace(800, 5, derived=True).ws
    result = ws.monitor(period="month")
    assert result.verdict == "healthy" and result.exit_code == 0
    assert result.summary().startswith("no drift: ")
    out = CliRunner().invoke(app, ["monitor", "-w", str(ws.root)], env={"COLUMNS": "80"})
    assert out.exit_code == 0, out.output
    assert "no drift: " in out.stdout
    assert not any(word in out.stdout.lower().split() for word in NOT_A_NUMBER)


def test_an_unknown_period_is_a_usage_error(tmp_path: Path) -> None:
    Workspace.init(tmp_path / "ws")
    out = CliRunner().invoke(app, ["monitor", "--period", "week", "-w", str(tmp_path / "ws")])
    assert out.exit_code == 2 and "month or quarter" in out.output


@pytest.mark.slow
def test_the_report_shows_the_monitors_verdict_and_every_finding(
    drifted: Workspace, tmp_path: Path
) -> None:
    page = drifted.report(
        tmp_path / "report.md", fmt="md", backtest=False, as_of=FIRST_QUARTERLY_CHECK
    ).read_text(encoding="utf-8")
    result = drifted.monitor(as_of=FIRST_QUARTERLY_CHECK)
    assert result.verdict == "action"
    assert result.summary() in page
    for _, finding in result.findings:
        assert finding in page
