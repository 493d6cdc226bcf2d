"""The accounts every export is checked against: a sample of the derived demo workspace's
accounts plus rows on the edges of the rules (empty cells, values on range boundaries),
written in the input layout and scored by ``Workspace.score_file`` on a fixed day."""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest

from helpers import DemoWorkspaces
from icpkit.attributes import detail_kind
from icpkit.icp.model import ICP
from icpkit.workspace import Workspace

DAY = dt.date(2025, 10, 1)
LAYOUT = (
    "account_key",
    "employees",
    "revenue",
    "industry",
    "country",
    "technologies",
    "founded_year",
    "funding_stage",
    "total_funding",
)
# Rows no workspace account has: every edge of the demo ICP's ranges and lists.
EDGES: list[dict[str, Any]] = [
    {"account_key": "edge-empty.example"},
    {"account_key": "edge-50.example", "employees": 50, "industry": "Software"},
    {"account_key": "edge-51.example", "employees": 51, "technologies": "HubSpot"},
    {"account_key": "edge-200.example", "employees": 200, "technologies": "Slack; HubSpot"},
    {"account_key": "edge-201.example", "employees": 201, "revenue": 1_000_000},
    {"account_key": "edge-1001.example", "employees": 1001, "revenue": 1_000_001},
    {"account_key": "edge-10.example", "employees": 10, "industry": "Public Administration"},
    {"account_key": "edge-case.example", "employees": 120, "industry": "software"},
    {"account_key": "edge-tools.example", "technologies": "HubSpotX;Salesforce"},
    {"account_key": "edge-retail.example", "industry": "Retail Trade", "revenue": 5e7},
]


@dataclass(frozen=True)
class Accounts:
    """The checked accounts: their cells, their signals and their scores from score_file."""

    ws: Workspace
    icp: ICP
    rows: list[dict[str, Any]]  # input-layout cells, '' for unknown
    signals: dict[str, list[tuple[str, str, dt.date]]]  # account -> (type, detail kind, day)
    scored: dict[str, dict[str, Any]]  # account -> score_file's row
    day: dt.date = DAY

    def expected(self, account: str) -> dict[str, Any]:
        """What the row formulas must give for ``account``: score_file's fit, intent,
        score, tier and route, and whether that route keeps it in the ICP."""
        row = self.scored[account]
        return {
            "fit": row["fit"],
            "intent": row["intent"],
            "score": row["score"],
            "tier": row["tier"],
            "route": row["route"],
            "in_icp": row["route"] not in ("never", "disqualify"),
        }

    def signal_date(self, account: str, signal: str, details: list[str], start: int) -> str:
        """The column a signal date asks for: the freshest matching signal at least
        ``start`` days before the day (ISO), '' when there is none."""
        days = [
            day
            for kind, detail, day in self.signals.get(account, [])
            if kind == signal and (not details or detail in details) and (DAY - day).days >= start
        ]
        return max(days).isoformat() if days else ""


def _cell(value: Any) -> Any:
    return "" if value is None else value


@pytest.fixture(scope="session")
def accounts(demo_workspace: DemoWorkspaces, tmp_path_factory: pytest.TempPathFactory) -> Accounts:
    ws = demo_workspace(4_000, 3, derived=True).ws
    icp = ws.current_icp()
    assert icp is not None and icp.intent, "the demo ICP has intent signals to check"
    con = duckdb.connect(str(ws.store_path), read_only=True)
    try:
        stored = con.execute(
            """SELECT account_key, employees, revenue, industry, country,
                      array_to_string(technologies, ';'), founded_year, funding_stage,
                      total_funding
               FROM accounts ORDER BY account_key"""
        ).fetchall()
        signal_rows = con.execute(
            "SELECT account_key, signal_type, detail, CAST(observed_at AS DATE) FROM signals"
        ).fetchall()
    finally:
        con.close()
    # Every 7th account: a few hundred, with and without signals, tools and industries.
    rows = [dict(zip(LAYOUT, (_cell(v) for v in row), strict=True)) for row in stored[::7]]
    rows += [{name: edge.get(name, "") for name in LAYOUT} for edge in EDGES]
    signals: dict[str, list[tuple[str, str, dt.date]]] = {}
    for key, kind, detail, day in signal_rows:
        signals.setdefault(key, []).append((kind, detail_kind(detail), day))
    path = tmp_path_factory.mktemp("export-accounts") / "accounts.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=LAYOUT)
        writer.writeheader()
        writer.writerows(rows)
    scored = ws.score_file(path, as_of=DAY)
    by_key = {r["account_key"]: r for r in scored.rows()}
    assert len(by_key) == len(rows)
    return Accounts(ws, icp, rows, signals, by_key)


NODE = shutil.which("node")
JS_RUNNER = """
const fs = require('fs');
const {formulas, rows} = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const fns = Object.entries(formulas)
  .map(([k, src]) => [k, new Function('row', 'return ' + src + ';')]);
const out = rows.map((row) => Object.fromEntries(fns.map(([k, f]) => [k, f(row)])));
process.stdout.write(JSON.stringify(out));
"""


ClayRunner = Callable[[dict[str, str], list[dict[str, Any]]], list[dict[str, Any]]]


@pytest.fixture
def run_clay(tmp_path: Path) -> ClayRunner:
    """``run_clay(formulas, rows)``: see :func:`_run_clay` (skips without node)."""
    if NODE is None:
        pytest.skip("node is not installed: Clay's JavaScript formulas cannot be run")
    return lambda formulas, rows: _run_clay(formulas, rows, tmp_path)


def _run_clay(
    formulas: dict[str, str], rows: list[dict[str, Any]], folder: Path
) -> list[dict[str, Any]]:
    """Each formula evaluated by node on each row, a ``{{Column}}`` read as the row's value
    of that column (as Clay fills a reference in)."""
    assert NODE is not None
    code = {
        name: re.sub(r"\{\{(.+?)\}\}", lambda m: f"row[{json.dumps(m[1])}]", text)
        for name, text in formulas.items()
    }
    (folder / "runner.js").write_text(JS_RUNNER, encoding="utf-8")
    (folder / "input.json").write_text(json.dumps({"formulas": code, "rows": rows}), "utf-8")
    done = subprocess.run(
        [NODE, str(folder / "runner.js"), str(folder / "input.json")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: list[dict[str, Any]] = json.loads(done.stdout)
    return result
