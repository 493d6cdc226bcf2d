"""``icp score --shadow VERSION`` and ``icp monitor --shadow``: both versions side by side,
recorded, then judged; refusals in one line; never a nan."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from helpers import DemoWorkspaces
from icpkit.cli.main import app
from icpkit.workspace import Workspace
from operate.test_shadow import challenger_workspace, input_layout_file

NOT_A_NUMBER = ("nan", "inf")


def icp(*args: str) -> object:
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "160"})


@pytest.fixture
def ws(tmp_path: Path, demo_workspace: DemoWorkspaces) -> Workspace:
    """A private derived demo workspace with a saved version 2 beside version 1 in force."""
    return challenger_workspace(tmp_path / "ws", demo_workspace)


@pytest.mark.slow
def test_score_shadow_writes_both_versions_columns_and_records_them(
    ws: Workspace, tmp_path: Path
) -> None:
    accounts = input_layout_file(ws, tmp_path / "accounts.csv")
    out = tmp_path / "scored.csv"
    w = str(ws.root)
    done = icp("score", str(accounts), "--shadow", "2", "--as-of", "2024-06-01", "-o", str(out),
               "-w", w)  # fmt: skip
    assert done.exit_code == 0, done.output
    with out.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    head = list(rows[0])
    assert head.index("score") < head.index("shadow_version") < head.index("shadow_score")
    assert {"shadow_tier", "shadow_fit", "shadow_intent", "shadow_route"} <= set(head)
    assert {r["shadow_version"] for r in rows} == {"2"}
    assert f"recorded {len(rows):,} in" in done.stdout
    assert "with version 1 (in force) and version 2 (shadow)" in done.stdout


@pytest.mark.slow
def test_monitor_shadow_judges_what_score_shadow_recorded(ws: Workspace) -> None:
    w = str(ws.root)
    before = icp("monitor", "--shadow", "-w", w)
    assert before.exit_code == 0, before.output
    assert "no shadow scoring recorded yet" in before.stdout
    # The workspace's own accounts, scored as of a day with a year of deals after it.
    scored = icp("score", "--shadow", "2", "--as-of", "2024-06-01", "-w", w)
    assert scored.exit_code == 0, scored.output
    assert "(workspace accounts)" in scored.stdout and "Accounts by tier" in scored.stdout
    table = icp("monitor", "--shadow", "-w", w)
    assert table.exit_code == 0, table.output
    assert "1 vs 2" in table.stdout
    assert not any(word in table.stdout.lower().split() for word in NOT_A_NUMBER)
    done = icp("monitor", "--shadow", "-w", w, "--format", "json")
    doc = json.loads(done.stdout)
    assert doc["command"] == "monitor --shadow"
    [row] = doc["rows"]
    assert (row["champion"], row["challenger"], row["first_scored"]) == (1, 2, "2024-06-01")
    assert row["closed"] > 0 and row["verdict"] in ("challenger", "champion", "no difference")
    assert doc["summary"] == row["summary"]
    assert "NaN" not in done.stdout and "Infinity" not in done.stdout


@pytest.mark.slow
def test_score_shadow_refusals_are_one_line_each(ws: Workspace, tmp_path: Path) -> None:
    w = str(ws.root)
    in_force = icp("score", "--shadow", "1", "-w", w)
    assert in_force.exit_code == 1
    assert "version 1 is the version in force" in in_force.output
    unknown = icp("score", "--shadow", "9", "-w", w)
    assert unknown.exit_code == 1 and "no saved ICP version 9" in unknown.output
    nothing = icp("score", "-w", w)
    assert nothing.exit_code == 1 and "give a file of accounts to score" in nothing.output
    no_file = icp("score", "--shadow", "2", "-o", str(tmp_path / "x.csv"), "-w", w)
    assert no_file.exit_code == 1 and "give the file of accounts" in no_file.output
    for done in (in_force, unknown, nothing, no_file):
        assert "Traceback" not in done.output
    assert not (ws.root / ".icp" / "shadow.sqlite").exists()
