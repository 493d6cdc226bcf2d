"""Thin or degenerate data: a clear word on what cannot be concluded, never a crash."""

from __future__ import annotations

from pathlib import Path

import pytest

from icpkit.workspace import Workspace

HEADER = "Record ID,Deal Stage,Amount,Create Date,Close Date,Company name,Industry,Employees\n"


def workspace_with(tmp_path: Path, rows: list[str]) -> Workspace:
    ws = Workspace.init(tmp_path / "ws")
    path = tmp_path / "deals.csv"
    path.write_text(HEADER + "".join(r + "\n" for r in rows))
    assert ws.ingest([path]).ok
    return ws


def deals(n: int, stage: str = "Closed Won", industry: str = "Software", size: str = "60"):
    return [
        f"{i},{stage if i % 3 else 'Closed Lost'},1000,2024-01-01,2024-02-01,Co {i},"
        f"{industry},{size}"
        for i in range(n)
    ]


def test_five_deals_say_everything_is_too_thin(tmp_path: Path) -> None:
    ws = workspace_with(tmp_path, deals(5))
    result = ws.lift()
    assert any("fewer than 30" in w for w in result.warnings)
    assert all(r.verdict == "not enough evidence" for r in result.rows)


@pytest.mark.slow
def test_no_lost_deals_means_nothing_separates_wins_from_losses(tmp_path: Path) -> None:
    rows = [f"{i},Closed Won,1000,2024-01-01,2024-02-01,Co {i},Software,60" for i in range(60)]
    result = workspace_with(tmp_path, rows).lift()
    assert any("no lost deals" in w for w in result.warnings)
    assert result.rows == []


@pytest.mark.slow
def test_one_industry_is_reported_as_nothing_to_compare(tmp_path: Path) -> None:
    result = workspace_with(tmp_path, deals(90)).lift()
    assert any(w.startswith("industry: only one value (Software)") for w in result.warnings)
    assert not [
        r
        for r in result.rows
        if r.attribute == "industry" and r.verdict in ("discriminator", "disqualifier")
    ]


@pytest.mark.slow
def test_all_values_missing_is_reported(tmp_path: Path) -> None:
    rows = [
        f"{i},{'Closed Won' if i % 2 else 'Closed Lost'},1000,2024-01-01,2024-02-01,Co {i},,"
        for i in range(80)
    ]
    result = workspace_with(tmp_path, rows).lift()
    (line,) = [w for w in result.warnings if w.startswith("not in these data")]
    assert {"industry", "employees"} <= set(line.split(": ", 1)[1].split(", "))


def test_an_empty_workspace_says_there_is_nothing_to_compare(tmp_path: Path) -> None:
    result = Workspace.init(tmp_path / "ws").lift()
    assert result.warnings == ["no closed new-business deals: nothing can be compared"]
    assert result.rows == []


@pytest.mark.slow
def test_deriving_from_five_deals_gives_no_confident_icp(tmp_path: Path) -> None:
    ws = workspace_with(tmp_path, deals(5))
    result = ws.derive()
    icp = result.icp
    assert icp.fit == [] and icp.intent == [] and icp.exclusions == []
    assert any("fewer than 30" in note for note in icp.notes)
