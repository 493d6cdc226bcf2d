"""Shared report fixtures: the demo's workspace with its report written once per session, and
a CRM in which nothing discriminates."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from report_pages import WIDEN, Demo

from icpkit.demo import make_crm, make_universe
from icpkit.workspace import Workspace
from once import once
from small_crm import SmallCrm, write_crm


def _report_demo(root: Path) -> Demo:
    """The demo as ``icp demo`` builds it, with its report written, under ``root``."""
    files = make_crm(5_000, 7, root / "data")
    ws = Workspace.init(root / "workspace", name="icpkit demo")
    assert ws.ingest(files.exports()).ok
    ws.derive()
    backtest = ws.backtest(reference=files.win_probabilities())
    universe = make_universe(files, 20_000, 7, root / "data" / "universe").path
    as_of = dt.date(2025, 10, 1)
    html = ws.report(
        root / "icp-report.html", universe=universe, widen=WIDEN, as_of=as_of, backtest=backtest
    )
    return Demo(ws, universe, backtest, html, as_of)


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    """``icp demo``'s defaults: 5,000 deals, seed 7, a universe of 20,000 more companies
    (built once per test run; read only)."""
    return once(tmp_path_factory, "report-demo", _report_demo)


@pytest.fixture(scope="session")
def flat(tmp_path_factory: pytest.TempPathFactory) -> SmallCrm:
    """80 accounts all alike: nothing separates the won from the lost ones."""
    crm = write_crm(tmp_path_factory.mktemp("report-flat"), 80)
    assert crm.ws.derive().icp.empty
    return crm
