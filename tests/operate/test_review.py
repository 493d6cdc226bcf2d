"""The quarterly review (``icp review``): which quarter is held out, the recommendation and
its sentence, and on a demo CRM with a planted drift a proposal that drops the drifted
segment and is adopted, while the same CRM without the drift keeps the version in force.
Adoption and rollback round trips are here too."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import numpy as np
import pytest

from helpers import DemoWorkspaces
from icpkit.demo import Drift, make_crm
from icpkit.icp.diff import diff_icps
from icpkit.icp.review_log import ReviewLog
from icpkit.operate.review import (
    Comparison,
    HeldOut,
    choose_test_window,
    previous_quarter,
    recommend,
)
from icpkit.validate.metrics import MetricCI
from icpkit.workspace import Workspace, WorkspaceError

DRIFT_DAY = dt.date(2024, 10, 1)
NEWEST = dt.date(2025, 9, 30)


def _days(*spans: tuple[str, int]) -> np.ndarray:
    """Creation days of closed deals: ``n`` deals on each day given."""
    return np.array([d for day, n in spans for d in [day] * n], dtype="datetime64[D]")


# --- the held-out quarter ----------------------------------------------------------------


def test_quarters_step_back_across_a_year_end() -> None:
    assert previous_quarter(dt.date(2025, 1, 1)) == dt.date(2024, 10, 1)
    assert previous_quarter(dt.date(2025, 7, 1)) == dt.date(2025, 4, 1)


def test_the_newest_quarter_is_held_out_when_it_holds_enough_closed_deals() -> None:
    days = _days(("2025-05-10", 500), ("2025-07-02", 80), ("2025-09-29", 40))
    window, why = choose_test_window(NEWEST, dt.date(2025, 3, 31), days, 100)
    assert why is None and window == HeldOut(dt.date(2025, 7, 1), NEWEST, 120)
    assert window.label == "2025-Q3"


def test_too_few_closed_deals_in_the_newest_quarter_reach_back_a_quarter() -> None:
    days = _days(("2025-05-10", 70), ("2025-08-02", 50))
    window, _ = choose_test_window(NEWEST, dt.date(2025, 1, 31), days, 100)
    assert window is not None and window.start == dt.date(2025, 4, 1) and window.closed == 120
    assert window.label == "2025-04-01 to 2025-09-30"


def test_the_window_reaches_back_at_most_four_quarters_and_says_from_when() -> None:
    # 500 closed deals in 2024-Q3, the fifth quarter back: out of reach.
    days = _days(("2024-09-10", 500), ("2025-08-02", 10))
    none, why = choose_test_window(NEWEST, None, days, 100)
    assert none is None
    assert why == (
        "10 closed deals were created from 2024-10-01 on, fewer than 100 "
        "(review.min_closed_deals) to compare the two versions on"
    )
    window, _ = choose_test_window(NEWEST, None, _days(("2024-10-10", 500)), 100)
    assert window is not None and window.start == dt.date(2024, 10, 1)  # the fourth is not


def test_the_window_never_reaches_deals_the_version_in_force_was_fitted_on() -> None:
    days = _days(("2025-05-10", 500), ("2025-08-20", 60))
    # Fitted up to 2025-08-15: only the deals created from 2025-08-16 on are unseen.
    window, why = choose_test_window(NEWEST, dt.date(2025, 8, 15), days, 50)
    assert window == HeldOut(dt.date(2025, 8, 16), NEWEST, 60)
    assert window is not None and window.label == "2025-08-16 to 2025-09-30"
    none, why = choose_test_window(NEWEST, dt.date(2025, 8, 15), days, 100)
    assert none is None and why is not None
    assert why.startswith("60 closed deals were created since the version in force was fitted")
    assert "fewer than 100 (review.min_closed_deals)" in why


# --- the recommendation ------------------------------------------------------------------


def _comparison(difference: MetricCI) -> Comparison:
    window = HeldOut(dt.date(2025, 7, 1), NEWEST, 400)
    return Comparison(
        window, dt.date(2024, 7, 1), 400, 120, 380, MetricCI(0.64, 0.6, 0.68),
        MetricCI(0.64 + difference.value, 0.6, 0.75), difference,
    )  # fmt: skip


def _recommend(comparison: Comparison | None, **kw: object) -> tuple[str, str]:
    args: dict[str, object] = {"same_rules": False, "current_version": 3, "proposal_version": 5}
    return recommend(comparison, **(args | kw))  # type: ignore[arg-type]


def test_adopt_only_when_the_interval_on_the_auc_difference_lies_above_zero() -> None:
    rec, why = _recommend(_comparison(MetricCI(0.07, 0.03, 0.11)))
    assert rec == "adopt"
    assert why.startswith("adopt version 5: on the 400 closed deals created in 2025-Q3")
    assert "difference +0.070 (95% interval +0.030 to +0.110, account bootstrap)" in why


def test_keep_when_the_interval_includes_zero_and_say_so() -> None:
    rec, why = _recommend(_comparison(MetricCI(0.02, -0.01, 0.05)))
    assert rec == "keep" and why.startswith("keep version 3: ")
    assert "no difference is shown (the interval includes 0)" in why


def test_keep_when_the_version_in_force_ranks_better() -> None:
    rec, why = _recommend(_comparison(MetricCI(-0.05, -0.09, -0.01)))
    assert rec == "keep" and "the version in force ranks better" in why


def test_keep_when_nothing_changed_or_nothing_could_be_compared() -> None:
    assert _recommend(None, same_rules=True)[1].endswith("has the same rules, points and evidence")
    rec, why = _recommend(None, unjudged="12 closed deals were created since ...")
    assert (rec, why) == ("keep", "keep version 3 for now: 12 closed deals were created since ...")


def test_keep_when_no_rule_passed_on_the_latest_window() -> None:
    rec, why = _recommend(_comparison(MetricCI(0.07, 0.03, 0.11)), empty=True, closed_deals=97)
    assert rec == "keep"
    assert why == (
        "keep version 3 for now: re-derived on the latest window (97 closed deals) no rule "
        "passed; widen the window (review.window_days) or wait for more deals"
    )


def test_an_interval_that_cannot_be_computed_never_recommends_adopting() -> None:
    rec, why = _recommend(_comparison(MetricCI(0.2, math.nan, math.nan)))
    assert rec == "keep" and "nan" not in why.lower()


# --- adopt and rollback ------------------------------------------------------------------


@pytest.fixture(scope="module")
def two_versions(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """A workspace whose version 1 was derived on the deals created before 2025-01-01 and
    version 2 (in force) on all of them."""
    root = tmp_path_factory.mktemp("two-versions")
    files = make_crm(2_000, 4, root / "crm")
    ws = Workspace.init(root / "ws")
    early = root / "deals-before.csv"
    files.write_deals_before(dt.date(2025, 1, 1), early)
    assert ws.ingest([files.companies, early, files.signals]).ok
    assert ws.derive().version == 1
    assert ws.ingest([files.deals]).ok
    assert ws.derive().version == 2
    return ws


def _copy(ws: Workspace, dest: Path) -> Workspace:
    import shutil

    shutil.copytree(ws.root, dest)
    return Workspace.open(dest)


@pytest.mark.slow
def test_adopt_puts_a_saved_version_in_force_and_rollback_puts_back_the_one_before(
    two_versions: Workspace, tmp_path: Path
) -> None:
    ws = _copy(two_versions, tmp_path / "ws")
    v1, v2 = ws.versions.load(1), ws.versions.load(2)
    done = ws.adopt(1, why="the Q3 review", by="ana")
    assert (done.version, done.previous, done.changed) == (1, 2, True)
    in_force = Workspace.open(ws.root).current_icp()
    assert in_force is not None and in_force.version == 1
    assert diff_icps(v1, in_force).is_empty
    back = Workspace.open(ws.root).rollback(by="bo")
    assert (back.version, back.previous) == (2, 1)
    again = Workspace.open(ws.root).current_icp()
    assert again is not None and again.version == 2 and diff_icps(v2, again).is_empty
    log = ReviewLog(ws.root).entries()
    assert [(e.event, e.version, e.previous, e.by) for e in log] == [
        ("adopt", 1, 2, "ana"),
        ("rollback", 2, 1, "bo"),
    ]
    assert log[0].why == "the Q3 review"
    changelog = ws.versions.changelog_path.read_text(encoding="utf-8")
    assert "## Adopted v1 — " in changelog and "## Rolled back to v2 — " in changelog
    assert ws.versions.numbers() == [1, 2]  # nothing was saved: no hand edits


@pytest.mark.slow
def test_an_unknown_version_and_a_rollback_with_nothing_adopted_are_refused(
    two_versions: Workspace, tmp_path: Path
) -> None:
    ws = _copy(two_versions, tmp_path / "ws")
    with pytest.raises(WorkspaceError, match=r"no saved ICP version 9 \(saved: 1-2\)"):
        ws.adopt(9)
    with pytest.raises(WorkspaceError, match="nothing to roll back: no version was adopted"):
        ws.rollback()
    assert ws.adopt(2).changed is False  # in force already
    assert ReviewLog(ws.root).entries() == []


@pytest.mark.slow
def test_hand_edits_to_the_icp_in_force_are_saved_before_another_is_adopted(
    two_versions: Workspace, tmp_path: Path
) -> None:
    ws = _copy(two_versions, tmp_path / "ws")
    assert ws.settings.icp is not None
    rule = ws.settings.icp["fit"][0]
    rule["locked"], rule["reason"] = True, "sales target it this year"
    from icpkit.config import save_settings

    save_settings(ws.settings, ws.config_path)
    ws = Workspace.open(ws.root)
    done = ws.adopt(1)
    assert done.edits_saved_as == 3 and done.previous == 3
    kept = ws.versions.load(3)
    assert next(r for r in kept.fit if r.id == rule["id"]).locked
    back = Workspace.open(ws.root).rollback()
    restored = Workspace.open(ws.root).current_icp()
    assert back.version == 3 and restored is not None
    assert next(r for r in restored.fit if r.id == rule["id"]).locked


@pytest.mark.slow
def test_a_rollback_after_a_new_version_replaced_the_adopted_one_is_refused(
    two_versions: Workspace, tmp_path: Path
) -> None:
    ws = _copy(two_versions, tmp_path / "ws")
    ws.adopt(1)
    # Version 1's rules with their points refit on every deal: a version 3, put in force.
    assert Workspace.open(ws.root).calibrate().version == 3
    with pytest.raises(WorkspaceError, match="version 3 is in force, not version 1"):
        Workspace.open(ws.root).rollback()


@pytest.mark.slow
def test_derive_puts_in_force_a_proposal_it_finds_again_and_logs_it(
    two_versions: Workspace, tmp_path: Path
) -> None:
    ws = _copy(two_versions, tmp_path / "ws")
    ws.adopt(1)
    # Version 2 was derived on these very data: deriving again finds it, not a version 3.
    derived = Workspace.open(ws.root).derive()
    assert (derived.version, derived.written) == (2, True)
    in_force = Workspace.open(ws.root).current_icp()
    assert in_force is not None and in_force.version == 2 and ws.versions.numbers() == [1, 2]
    last = ReviewLog(ws.root).entries()[-1]
    assert (last.event, last.version, last.previous) == ("adopt", 2, 1)


# --- the review on a workspace -----------------------------------------------------------


@pytest.mark.slow
def test_a_review_with_nothing_new_since_the_fit_keeps_and_says_why(
    demo_workspace: DemoWorkspaces, tmp_path: Path
) -> None:
    ws = demo_workspace(800, 5, derived=True).copy(tmp_path / "ws")
    ws.settings.review.window_days = None
    result = ws.review(dry_run=True)
    assert result.comparison is None and result.recommendation == "keep"
    assert (
        result.unjudged is not None and "since the version in force was fitted" in result.unjudged
    )
    if not result.same_rules:
        assert result.exit_code == 1 and result.reason.startswith("keep version 1 for now: ")
    assert result.proposal_version is None and ws.versions.numbers() == [1]
    assert ReviewLog(ws.root).entries() == []  # a dry run logs nothing


def _derived_before(root: Path, day: dt.date, drift: Drift | None) -> Workspace:
    """A workspace whose ICP (version 1) was derived on the deals created before ``day``,
    holding every deal since."""
    files = make_crm(20_000, 1, root / "crm", drift=drift)
    ws = Workspace.init(root / "ws")
    early = root / "deals-before.csv"
    files.write_deals_before(day, early)
    assert ws.ingest([files.companies, early, files.signals]).ok
    ws.derive()
    assert ws.ingest([files.deals]).ok
    return ws


@pytest.fixture(scope="module")
def drifted(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    # Software's win rate falls from DRIFT_DAY on (its planted +0.8 log-odds becomes -2.2).
    drift = Drift(DRIFT_DAY, "software", -3.0)
    return _derived_before(tmp_path_factory.mktemp("review-drift"), DRIFT_DAY, drift)


@pytest.fixture(scope="module")
def drift_free(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    return _derived_before(tmp_path_factory.mktemp("review-calm"), DRIFT_DAY, None)


@pytest.mark.slow
def test_a_review_after_a_planted_drift_proposes_the_change_and_recommends_adopting_it(
    drifted: Workspace,
) -> None:
    result = drifted.review(as_of=NEWEST)
    assert result.recommendation == "adopt" and result.exit_code == 2, result.reason
    assert result.reason.startswith("adopt version 2: on the ")
    c = result.comparison
    assert c is not None and c.window.label == "2025-Q3" and c.difference.low > 0
    # The drifted segment is no longer a reason to win in the proposal.
    fit = {r.id: r for r in result.proposal.icp.fit}
    assert "industry-software" not in fit or (fit["industry-software"].weight or 0) <= 0
    lost_or_moved = {(r["change"], r["rule"]) for r in result.change_rows()}
    assert ("lost", "industry-software") in lost_or_moved
    # Saved as version 2, not put in force.
    assert drifted.versions.numbers() == [1, 2]
    in_force = Workspace.open(drifted.root).current_icp()
    assert in_force is not None and in_force.version == 1
    moved = result.tier_changes
    assert moved is not None and 0 < moved.changed <= moved.accounts
    assert moved.movers and all(m.old_tier != m.new_tier for m in moved.movers)
    [entry] = ReviewLog(drifted.root).entries()
    assert (entry.event, entry.version, entry.proposal) == ("review", 1, 2)
    assert entry.recommendation == "adopt" and entry.why == result.reason


@pytest.mark.slow
def test_a_review_of_the_same_crm_without_the_drift_keeps_the_version_in_force(
    drift_free: Workspace,
) -> None:
    result = drift_free.review(as_of=NEWEST)
    assert result.recommendation == "keep" and result.exit_code == 0, result.reason
    c = result.comparison
    assert c is not None and not c.difference.low > 0
    assert "nan" not in result.reason.lower()
