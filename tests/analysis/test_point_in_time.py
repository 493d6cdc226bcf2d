"""Deals are judged on their account as it stood when they were created: technologies from
dated tool additions and removals, head counts from dated snapshots; churn and tiers as of
a cut-off. The CRM and its history are described in tests/dated_crm.py."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from dated_crm import CHANGE, CUTOFF, N, write_dated_crm
from icpkit.analysis.frame import Frame, build_frame
from icpkit.analysis.tiers import assign_tiers
from icpkit.config import AnalysisSettings
from icpkit.engines.features import compute_features
from icpkit.icp.model import ICP, Criterion
from icpkit.learn.points import closed_deals
from icpkit.workspace import Workspace


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    return write_dated_crm(tmp_path_factory.mktemp("pit"))


@pytest.fixture(scope="module")
def frame(ws: Workspace) -> Frame:
    with ws.connect(read_only=True) as con:
        return build_frame(con, ws.settings.analysis)


def _deals_of(frame: Frame, attribute: str, value: str) -> int:
    return sum(c.n_closed for c in frame.cuts[attribute] if c.value == value)


def _wins_of(frame: Frame, attribute: str, value: str) -> int:
    return sum(c.n_won for c in frame.cuts[attribute] if c.value == value)


@pytest.mark.slow
def test_a_tool_added_after_a_deal_is_absent_for_it_and_present_for_a_later_one(
    frame: Frame,
) -> None:
    # Group h: only its N late deals had HubSpot; group p's export has it on all 2N deals.
    assert _deals_of(frame, "tech:HubSpot", "yes") == N + 2 * N
    assert _deals_of(frame, "tech:HubSpot", "no") == N
    # The N deals without it are group h's early ones, all lost except the 25 churned
    # customers' first deals.
    assert _wins_of(frame, "tech:HubSpot", "no") == 25


def test_a_removed_tool_is_present_before_its_removal_only(frame: Frame) -> None:
    # The N deals without Slack are group h's late ones (after the removal), all won.
    assert _deals_of(frame, "tech:Slack", "no") == N
    assert _wins_of(frame, "tech:Slack", "no") == N


def test_a_tool_known_only_from_its_adoption_counts_from_that_day(frame: Frame) -> None:
    assert _deals_of(frame, "tech:Segment", "yes") == N
    assert _wins_of(frame, "tech:Segment", "yes") == N  # group h's late deals, all won


def test_a_tool_without_dated_events_counts_as_always_present(frame: Frame) -> None:
    assert _deals_of(frame, "tech:Zoom", "yes") == 4 * N


def test_stack_density_counts_the_tools_of_the_deals_day(frame: Frame) -> None:
    # Early h deals: Slack, Zoom (2 tools); late h deals: HubSpot, Segment, Zoom (3);
    # group p: the export's 3 tools on both deals.
    assert _deals_of(frame, "stack_density", "0-2 tools") == N
    assert _deals_of(frame, "stack_density", "3-5 tools") == 3 * N


def test_employees_are_the_latest_head_count_on_or_before_the_deal(frame: Frame) -> None:
    assert _deals_of(frame, "employees", "11-50") == N  # 40 people in January
    assert _deals_of(frame, "employees", "201-500") == N  # 300 from June on
    assert _deals_of(frame, "employees", "501-1,000") == 2 * N  # no history: the export's


def test_head_counts_are_history_not_intent_signals(frame: Frame) -> None:
    assert not [a.name for a in frame.attributes if a.name.startswith("signal:headcount")]
    assert not [a.name for a in frame.attributes if a.name.startswith("signal:employee_count")]


def test_learned_features_see_the_same_stack_and_head_count_as_the_analysis(
    ws: Workspace,
) -> None:
    icp = ICP(
        derived_at=dt.datetime(2025, 1, 1),
        data_fingerprint="x",
        fit=[
            Criterion(id="hubspot", attribute="tech", values=["HubSpot"], source="derived"),
            Criterion(id="slack", attribute="tech", values=["Slack"], source="derived"),
            Criterion(id="mid", attribute="employees", min=201, max=500, source="derived"),
        ],
    )
    with ws.connect(read_only=True) as con:
        deals = closed_deals(con)
        dated = compute_features(con, icp, ws.settings.analysis, point_in_time=True)
        exported = compute_features(con, icp, ws.settings.analysis)
    late = deals.created_at >= np.datetime64(CHANGE)
    history = np.char.startswith(deals.accounts.astype(str), "h")
    hubspot, slack, mid = dated.matches[:, 0], dated.matches[:, 1], dated.matches[:, 2]
    assert (hubspot[history & ~late] == 0).all() and (hubspot[history & late] == 1).all()
    assert (slack[history & ~late] == 1).all() and (slack[history & late] == 0).all()
    assert (mid[history & late] == 1).all() and (mid[history & ~late] == 0).all()
    assert (dated.matches[~history] == exported.matches[~history]).all()
    # Scoring today keeps the export's values: every account has HubSpot and 1000 people.
    assert (exported.matches[:, 0] == 1).all() and (exported.matches[:, 2] == 0).all()


def test_churn_in_the_frame_is_as_of_the_cut_off(ws: Workspace) -> None:
    with ws.connect(read_only=True) as con:
        exported = build_frame(con, ws.settings.analysis)
        at_cutoff = build_frame(con, ws.settings.analysis, as_of=CUTOFF)
    index = {key: i for i, key in enumerate(exported.account_keys)}

    def flags(frame: Frame, numbers: range) -> set[int]:
        return {int(frame.churned[index[f"h{i}.com"]]) for i in numbers}

    assert flags(exported, range(0, 25)) == {1}
    assert flags(at_cutoff, range(0, 10)) == {0}  # churned in December: not yet in June
    assert flags(at_cutoff, range(10, 20)) == {1}  # churned in March
    assert flags(at_cutoff, range(20, 25)) == {1}  # no date: kept as churned


def test_tiers_at_a_cut_off_count_only_what_had_happened(ws: Workspace) -> None:
    with ws.connect(read_only=True) as con:
        exported = assign_tiers(con, ws.settings.tiers).tier_of()
        at_cutoff = assign_tiers(con, ws.settings.tiers, as_of=CUTOFF).tier_of()
    assert {exported[f"h{i}.com"] for i in range(10)} == {3}
    assert 3 not in {at_cutoff[f"h{i}.com"] for i in range(10)}
    assert {at_cutoff[f"h{i}.com"] for i in range(10, 25)} == {3}
    # Customers won only after the cut-off were no customers at it.
    assert "p0.com" in exported and "p0.com" not in at_cutoff


@pytest.mark.slow
def test_without_history_the_frame_is_the_exports(tmp_path: Path) -> None:
    root = tmp_path / "plain"
    ws = write_dated_crm(root)
    with ws.connect() as con:
        con.execute("DELETE FROM signals")
    settings = AnalysisSettings()
    with ws.connect(read_only=True) as con:
        frame = build_frame(con, settings)
        rows = con.execute(
            "SELECT count(*) FROM closed c JOIN accounts a USING (account_key) "
            "WHERE c.technologies IS DISTINCT FROM a.technologies "
            "OR c.employees IS DISTINCT FROM a.employees"
        ).fetchall()
    assert rows == [(0,)]
    assert _deals_of(frame, "tech:HubSpot", "yes") == 4 * N
    assert frame.history.notes() == []


@pytest.mark.slow
def test_an_unreadable_head_count_is_reported_not_used(ws: Workspace, frame: Frame) -> None:
    assert frame.history.headcount_snapshots == 2 * N
    assert frame.history.unreadable_headcounts == 1
    assert any("1 head-count signals" in w for w in ws.lift().warnings)
