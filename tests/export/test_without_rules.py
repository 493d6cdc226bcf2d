"""Exports of a workspace without an ICP refuse cleanly; an ICP without rules exports
formulas that score every account the same, and filters that say there is nothing to
filter on."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from icpkit.icp.model import ICP, ScoringModel, dump_icp
from icpkit.workspace import Workspace, WorkspaceError

TARGETS = ("clay", "sheets", "dbt", "prospecting")


@pytest.fixture
def flat(ws: Workspace) -> Workspace:
    """A workspace whose ICP (version 4) has no rules: nothing discriminated."""
    icp = ICP(
        version=4,
        derived_at=dt.datetime(2025, 10, 1),
        data_fingerprint="flat",
        empty=True,
        scoring=ScoringModel(method="hand-made", intercept=-0.4, deals=80, wins=32),
    )
    ws.settings.icp = dump_icp(icp)
    return ws


@pytest.mark.parametrize("target", TARGETS)
def test_no_icp_is_refused_with_what_to_run(ws: Workspace, tmp_path: Path, target: str) -> None:
    with pytest.raises(WorkspaceError, match="no ICP yet: run `icp derive` first"):
        ws.export(target, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_an_unknown_target_names_the_four(ws: Workspace, tmp_path: Path) -> None:
    with pytest.raises(WorkspaceError, match="one of clay, sheets, dbt, prospecting"):
        ws.export("hubspot", tmp_path)


def test_filters_of_an_icp_without_rules_say_so(flat: Workspace, tmp_path: Path) -> None:
    doc = json.loads(flat.export("prospecting", tmp_path).files[0].read_text("utf-8"))
    assert doc["icp_version"] == 4
    assert doc["note"].startswith("the ICP has no rules")
    assert not doc["include"] and not doc["exclude"] and not doc["intent"]
    md = flat.export("prospecting", tmp_path, fmt="md").files[0].read_text("utf-8")
    assert "The ICP has no rules" in md


def test_clay_formulas_of_an_icp_without_rules_score_everyone_alike(
    flat: Workspace, tmp_path: Path, run_clay: Any
) -> None:
    result = flat.export("clay", tmp_path)
    assert result.notes == (
        "the ICP has no rules: every account scores the same; derive on more data",
    )
    with (tmp_path / "formulas.csv").open(encoding="utf-8", newline="") as fh:
        formulas = {r["name"]: r["formula"] for r in csv.DictReader(fh)}
    rows = [{"employees": 120, "industry": "Software"}, {}]
    got = run_clay(formulas, rows)
    # No fit points: every account is of medium fit, routed like one matching no rule.
    assert (
        got
        == [
            {
                "fit": 0,
                "intent": 0,
                "score": 0,
                "tier": "D",
                "route": "automated_nurture",
                "in_icp": True,
            }
        ]
        * 2
    )
    assert "has no rules" in (tmp_path / "README.md").read_text("utf-8")


def test_the_sheet_score_of_an_icp_without_rules_is_a_constant(
    flat: Workspace, tmp_path: Path
) -> None:
    text = flat.export("sheets", tmp_path).files[0].read_text("utf-8")
    lines = text.splitlines()
    assert lines[lines.index("Score (0-100):") + 1] == "=0"
    assert "ICP version 4" in lines[0]
