"""``icp review``, ``icp adopt``, ``icp rollback`` and the reminder in ``icp summary``, through
the command line: messages, exit codes and the JSON document."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from helpers import DemoWorkspaces
from icpkit.cli.main import app
from icpkit.config import save_settings
from icpkit.icp.review_log import LogEntry, ReviewLog, now
from icpkit.workspace import Workspace

DOCS = Path(__file__).parents[2] / "docs" / "json.md"


def icp(*args: str) -> Result:
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "100"})


@pytest.fixture
def ws(demo_workspace: DemoWorkspaces, tmp_path: Path) -> Workspace:
    """A private copy of the small derived demo workspace (version 1 in force) with a version
    2 saved beside it, not in force, as a review leaves its proposal: version 1 with the
    points of its first fit rule doubled."""
    ws = demo_workspace(800, 5, derived=True).copy(tmp_path / "ws")
    v1 = ws.versions.load(1)
    first = v1.fit[0]
    changed = v1.model_copy(
        update={
            "fit": [first.model_copy(update={"weight": (first.weight or 0.5) * 2}), *v1.fit[1:]]
        }
    )
    assert ws.versions.save(changed) == 2
    return Workspace.open(ws.root)


def _in_force(ws: Workspace) -> int:
    icp_in_force = Workspace.open(ws.root).current_icp()
    assert icp_in_force is not None
    return icp_in_force.version


def test_adopt_and_rollback_move_the_version_in_force_and_say_so(ws: Workspace) -> None:
    adopted = icp("adopt", "2", "--why", "Q3 review", "--by", "ana", "-w", str(ws.root))
    assert adopted.exit_code == 0, adopted.output
    assert "Adopted ICP version 2: now in force (was version 1)." in adopted.stdout
    assert f"~ fit {ws.versions.load(1).fit[0].id}: weight" in adopted.stdout
    assert _in_force(ws) == 2
    back = icp("rollback", "-w", str(ws.root))
    assert back.exit_code == 0, back.output
    assert "Rolled back to ICP version 1: now in force (was version 2)." in back.stdout
    assert _in_force(ws) == 1
    listed = icp("history", "-w", str(ws.root)).stdout
    assert "In force: version 1." in listed
    assert "adopt by ana: version 2 in force (was 1) (Q3 review)" in listed
    history = [(e.event, e.version, e.by, e.why) for e in ReviewLog(ws.root).entries()]
    assert history[0] == ("adopt", 2, "ana", "Q3 review")
    assert history[1][:2] == ("rollback", 1) and history[1][3] == "rolled back by hand"


def test_an_unknown_version_or_nothing_to_roll_back_is_one_clear_error(ws: Workspace) -> None:
    unknown = icp("adopt", "9", "-w", str(ws.root))
    assert unknown.exit_code == 1
    assert "error: no saved ICP version 9 (saved: 1-2)" in unknown.stderr
    assert "Traceback" not in unknown.output
    nothing = icp("rollback", "-w", str(ws.root))
    assert nothing.exit_code == 1
    assert "nothing to roll back: no version was adopted" in nothing.stderr
    assert _in_force(ws) == 1


def test_adopting_the_version_in_force_changes_nothing(ws: Workspace) -> None:
    result = icp("adopt", "1", "-w", str(ws.root))
    assert result.exit_code == 0 and "Version 1 is in force already" in result.stdout
    assert ReviewLog(ws.root).entries() == []


def _age_icp(ws: Workspace, derived: dt.date) -> None:
    """Make the ICP in force look derived on ``derived``."""
    assert ws.settings.icp is not None
    ws.settings.icp["derived_at"] = f"{derived.isoformat()}T09:00:00+00:00"
    save_settings(ws.settings, ws.config_path)


def test_summary_shows_the_review_reminder_when_due_and_not_before(ws: Workspace) -> None:
    fresh = icp("summary", "-w", str(ws.root))
    assert fresh.exit_code == 0 and "review due" not in fresh.stdout
    today = dt.datetime.now(dt.UTC).date()
    _age_icp(ws, today - dt.timedelta(days=89))
    assert "review due" not in icp("summary", "-w", str(ws.root)).stdout
    _age_icp(ws, today - dt.timedelta(days=91))
    due = icp("summary", "-w", str(ws.root))
    expected = (today - dt.timedelta(days=1)).isoformat()
    assert f"review due since {expected} (every 90 days; no review since the ICP was derived)" in (
        due.stdout
    )
    # A review today puts the next one 90 days off.
    ReviewLog(ws.root).append(LogEntry("review", now(), "ana", 1))
    assert "review due" not in icp("summary", "-w", str(ws.root)).stdout


@pytest.mark.slow
def test_review_writes_one_json_document_and_exits_with_its_code(ws: Workspace) -> None:
    result = icp("review", "--dry-run", "--format", "json", "-w", str(ws.root))
    doc = json.loads(result.stdout, parse_constant=lambda token: pytest.fail(token))
    assert result.exit_code == doc["exit_code"], result.output
    assert doc["schema_version"] == 1 and doc["command"] == "review"
    assert doc["recommendation"] in ("adopt", "keep")
    # Fitted on every deal: nothing is left to compare the two on, and the document says why.
    assert doc["comparison"] is None and "fitted" in doc["comparison_reason"]
    documented = DOCS.read_text(encoding="utf-8").split("### `review`")[1].split("###")[0]
    for key in doc:
        if key not in ("schema_version", "command") and not key.endswith("_reason"):
            assert f"`{key}`" in documented, f"{key} is not in docs/json.md"
    assert Workspace.open(ws.root).versions.numbers() == [1, 2]  # a dry run saves nothing
