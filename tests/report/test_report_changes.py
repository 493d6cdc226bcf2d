"""The report's "What changed" section and ``icp demo``'s report: the accounts that change
tier between the two latest ICP versions are the workspace's own counts; with one version
the page says there is nothing to compare; ``icp demo`` ends by writing the report."""

from __future__ import annotations

import datetime as dt
from html import unescape
from pathlib import Path

import pytest
from report_pages import Demo, read_tables

from helpers import DemoRun, DemoWorkspaces
from icpkit.vocabulary import TIERS
from icpkit.workspace import Workspace

pytestmark = pytest.mark.slow
AS_OF = dt.date(2025, 10, 1)


@pytest.fixture(scope="module")
def two_versions(
    tmp_path_factory: pytest.TempPathFactory, demo_workspace: DemoWorkspaces
) -> tuple[Workspace, Path]:
    """A derived demo workspace, a version 2 without its first fit criterion, and its
    report (no backtest: this section does not need one)."""
    root = tmp_path_factory.mktemp("report-changes")
    ws = demo_workspace(4_000, 3, derived=True).copy(root / "ws")
    icp = ws.require_icp()
    ws.versions.save(icp.model_copy(update={"fit": icp.fit[1:]}))
    return ws, ws.report(root / "icp-report.html", backtest=False, as_of=AS_OF)


def test_the_tier_change_matrix_is_the_workspaces_tier_changes(
    two_versions: tuple[Workspace, Path],
) -> None:
    ws, html = two_versions
    tables = read_tables(html.read_text(encoding="utf-8"))
    changes = ws.tier_changes(1, 2, as_of=AS_OF)
    assert changes.changed > 0
    rows = tables.rows("tier-changes")
    assert [row[0][0] for row in rows] == list(TIERS)
    for row, old in zip(rows, TIERS, strict=True):
        for cell, new in zip(row[1:5], TIERS, strict=True):
            assert cell[1] == changes.counts.get((old, new), 0)
        assert row[5][1] == sum(n for (a, _), n in changes.counts.items() if a == old)
    shown = sum(row[i][1] or 0 for row in rows for i in range(1, 5))
    assert shown == changes.accounts
    text = html.read_text(encoding="utf-8")
    assert f"{changes.changed:,} change tier" in text


def test_the_accounts_that_moved_most_are_listed_by_name_with_both_tiers(
    two_versions: tuple[Workspace, Path],
) -> None:
    ws, html = two_versions
    movers = ws.tier_changes(1, 2, as_of=AS_OF).movers
    rows = read_tables(html.read_text(encoding="utf-8")).rows("tier-movers")
    assert len(rows) == len(movers) == 20
    for row, m in zip(rows, movers, strict=True):
        assert row[0][0] == (m.name or m.account_key)
        assert (row[1][0], row[2][0]) == (m.old_tier, m.new_tier)
        assert (row[3][1], row[4][1]) == (m.old_score, m.new_score)


def test_with_one_version_the_page_says_no_account_changes_tier(demo: Demo) -> None:
    html = demo.html.read_text(encoding="utf-8")
    assert "This is the first ICP version: nothing to compare with, and no account" in html
    assert "tier-changes" not in read_tables(html).tables


def test_the_drift_check_on_the_page_is_the_workspaces_monitor(demo: Demo) -> None:
    # The demo's ICP is fitted on every closed deal: too little since to judge, said plainly.
    html = demo.html.read_text(encoding="utf-8")
    summary = demo.ws.monitor(as_of=demo.as_of).summary()
    assert summary.startswith("no drift: ")
    assert summary in unescape(html)
    assert "drift" not in read_tables(html).tables


def test_icp_demo_ends_by_writing_the_report_and_printing_its_path(icp_demo: DemoRun) -> None:
    # `icp demo --rows 3000 --no-enrich`, run once for this test and the command line's.
    assert icp_demo.failure is None, icp_demo.failure
    assert icp_demo.exit_code == 0, icp_demo.output
    report = icp_demo.folder / "icp-report.html"
    assert report.is_file()
    # The console wraps long lines: compare without whitespace.
    printed = "".join(icp_demo.output.split())
    assert "".join(f"The ICP report (one page, open it in a browser): {report}".split()) in printed
    html = report.read_text(encoding="utf-8")
    for section in ("icp", "segments", "score", "market", "changes", "quality"):
        assert f'<section id="{section}"' in html
    assert {"roc", "gains", "tam"} <= set(read_tables(html).tables)
