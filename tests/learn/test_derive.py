"""icp derive: the planted ICP comes out as versioned code, deterministic, human edits kept."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import yaml

from helpers import DemoWorkspaces
from icpkit.icp import ICP
from icpkit.icp.describe import format_lift
from icpkit.workspace import Workspace

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def derived(
    tmp_path_factory: pytest.TempPathFactory, demo_workspace: DemoWorkspaces
) -> tuple[Workspace, ICP, dict]:
    demo = demo_workspace(8_000, 7)
    files = demo.files
    ws = demo.copy(tmp_path_factory.mktemp("derive") / "ws")
    result = ws.derive()
    assert result.written and result.version == 1
    return ws, result.icp, json.loads(files.planted_truth.read_text())


def test_planted_fit_criteria_are_in_the_icp(derived) -> None:
    _, icp, _ = derived
    fit = {(c.attribute, tuple(c.values or ()), c.min, c.max) for c in icp.fit}
    assert ("employees", (), 51, 200) in fit
    assert ("industry", ("Software",), None, None) in fit
    assert ("tech", ("HubSpot",), None, None) in fit


def test_planted_disqualifiers_land_in_exclusions(derived) -> None:
    _, icp, _ = derived
    excluded = {(e.attribute, tuple(e.values or ()), e.min, e.max) for e in icp.exclusions}
    assert ("industry", ("Public Administration",), None, None) in excluded
    assert ("employees", (), 1, 10) in excluded
    # Retail is won as often as others but churns: excluded for churn, with the reason.
    retail = next(e for e in icp.exclusions if e.values == ["Retail Trade"])
    assert retail.kind == "churn"
    assert "churn" in retail.rationale


def test_intent_signals_carry_windows_inside_the_planted_ones(derived) -> None:
    _, icp, truth = derived
    for planted in truth["intent_signals"]:
        low, high = planted["window_days"]
        mine = [
            s
            for s in icp.intent
            if s.signal == planted["type"] and set(s.detail_in) & set(planted["detail_in"])
        ]
        assert mine, planted
        for signal in mine:
            start, end = signal.window_days
            assert start <= high and end >= low


def test_every_criterion_has_evidence_and_a_rationale_with_its_numbers(derived) -> None:
    _, icp, _ = derived
    for item in [*icp.fit, *icp.exclusions, *icp.intent]:
        assert item.evidence is not None and item.evidence.n_closed >= 30
        assert f"n={item.evidence.n_closed:,} closed deals" in item.rationale or (
            "churn" in item.rationale
        )
    employees = next(c for c in icp.fit if c.attribute == "employees" and c.direction == "positive")
    # The planted +1.0 log-odds at a 32% base rate is about twice the rest's win rate.
    assert employees.evidence is not None and employees.evidence.lift is not None
    assert 1.7 <= employees.evidence.lift <= 2.3
    assert employees.rationale.startswith(
        f"51-200 employees: {format_lift(employees.evidence.lift)} the win rate of the rest"
    )
    assert "95% CI" in employees.rationale


def test_the_icp_is_written_into_icp_yaml_and_as_version_1(derived) -> None:
    ws, icp, _ = derived
    on_disk = yaml.safe_load(ws.config_path.read_text())["icp"]
    assert on_disk["version"] == 1
    assert [c["id"] for c in on_disk["fit"]] == [c.id for c in icp.fit]
    assert (ws.root / ".icp" / "versions" / "v0001.yaml").is_file()


def test_deriving_again_on_unchanged_data_changes_nothing(derived) -> None:
    ws, _, _ = derived
    before = ws.config_path.read_text()
    again = ws.derive()
    assert not again.written
    assert again.version == 1
    assert ws.config_path.read_text() == before
    assert [v.version for v in ws.versions.list()] == [1]


def test_a_locked_human_criterion_survives_and_disagreement_is_reported(derived) -> None:
    ws, _, _ = derived
    data = yaml.safe_load(ws.config_path.read_text())
    data["icp"]["fit"].append(
        {
            "id": "country-fr",
            "attribute": "country",
            "values": ["FR"],
            "direction": "positive",
            "source": "human",
            "locked": True,
            "reason": "new French sales team",
        }
    )
    ws.config_path.write_text(yaml.safe_dump(data, sort_keys=False))
    ws = Workspace.open(ws.root)
    result = ws.derive(note="French team")
    assert result.written and result.version == 2
    assert any(c.id == "country-fr" and c.locked for c in result.icp.fit)
    assert any("country-fr" in m for m in result.disagreements)
    assert any("country-fr" in line for line in result.changes)
    changelog = (ws.root / ".icp" / "CHANGELOG.md").read_text()
    assert "## v2" in changelog
    assert [v.version for v in ws.versions.list()] == [1, 2]


def test_new_outcomes_give_a_new_version_with_the_evidence_that_moved(
    tmp_path: Path, demo_workspace: DemoWorkspaces
) -> None:
    ws = demo_workspace(3_000, 5).copy(tmp_path / "ws")
    first = ws.derive()
    more = tmp_path / "more-deals.csv"
    more.write_text(
        "Record ID,Deal Stage,Create Date,Close Date,Deal Type,Associated Company\n"
        + "".join(
            f"x{i},Closed Lost,2025-01-0{1 + i % 9},2025-03-01,New Business,Late Co {i}\n"
            for i in range(400)
        )
    )
    assert ws.ingest([more]).ok
    second = ws.derive()
    assert second.written and second.version == first.version + 1
    assert second.icp.data_fingerprint != first.icp.data_fingerprint
    assert second.changes[-1].startswith("data changed: ")
    # More lost deals move the evidence: some rule's lift or win rate changed.
    assert any(line.startswith(("~ ", "+ ", "- ")) for line in second.changes[:-1])


def test_a_churn_exclusion_is_confirmed_against_every_churn_test_it_was_picked_from(
    derived,
) -> None:
    from icpkit.learn.points import churn_evidence

    ws, icp, _ = derived
    # The method records the churn tests of the lift table that could become an exclusion.
    assert icp.method["churn_tests"] >= 10
    retail = next(e for e in icp.exclusions if e.values == ["Retail Trade"])
    with ws.connect(read_only=True) as con:
        alone = churn_evidence(con, icp.model_copy(update={"method": {}}), ws.settings)
        searched = churn_evidence(con, icp, ws.settings)
        wider = icp.model_copy(update={"method": {**icp.method, "churn_tests": 100_000}})
        too_wide = churn_evidence(con, wider, ws.settings)
    # The same joint test, its q-value corrected for the whole search (others as p = 1).
    assert searched[retail.id].p == pytest.approx(alone[retail.id].p)
    assert searched[retail.id].q >= alone[retail.id].q
    assert searched[retail.id].kept
    assert not too_wide[retail.id].kept


def test_windows_estimated_side_by_side_equal_those_estimated_one_by_one(
    demo_workspace: DemoWorkspaces,
) -> None:
    """The signals' windows are estimated on threads; each estimate is the one a call of its
    own gives (its draws are seeded by its signal), whatever runs beside it."""
    from icpkit.analysis.frame import build_frame
    from icpkit.analysis.lift import lift_table
    from icpkit.analysis.windows import estimate_window
    from icpkit.learn import derive

    ws = Workspace.open(demo_workspace(8_000, 7).root)
    settings = ws.settings.analysis
    with ws.connect(read_only=True) as con:
        frame = build_frame(con, settings)
    result = lift_table(frame, settings)
    by_attr: dict[str, list] = {}
    for row in result.rows:
        by_attr.setdefault(row.attribute, []).append(row)
    intent = {a.name for a in frame.attributes if a.family == "intent"}
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = derive._windows(frame, by_attr, intent, settings, pool)
        windows = {name: future.result() for name, future in futures.items()}
    assert len(windows) >= 2  # more than one estimate ran side by side
    for name, window in windows.items():
        alone = estimate_window(frame.signal_ages[name], min_deals=settings.min_closed_deals)
        assert window is not None and alone is not None, name
        edges = ("start", "end", "start_ci", "end_ci", "gain", "reps")
        assert [getattr(window, e) for e in edges] == [getattr(alone, e) for e in edges], name
        assert np.array_equal(window.inside, alone.inside), name
