"""Exports of a workspace with named ICPs (two product lines, one named ICP per pipeline):
the dbt model carries every ICP and gives ``Workspace.score_file``'s rows, best_icp and the
per-ICP columns included; ``--icp NAME`` exports that named ICP's scorecard instead of the
main one (dbt, clay, sheets, prospecting), and an unknown name is refused naming the known."""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml
from typer.testing import CliRunner

from helpers import DemoWorkspace
from icpkit.cli.main import app
from icpkit.engines.multi import BEST, PER_ICP, named_columns
from icpkit.export.formula import signal_column
from icpkit.icp.model import ICP
from icpkit.icp.named import NamedIcpError
from icpkit.workspace import Workspace
from two_lines import two_line_workspace

# Every test here reads the two-line demo workspace (3,000 deals, built once in ~40 s).
pytestmark = pytest.mark.slow

DAY = dt.date(2026, 6, 1)
LAYOUT = ("account_key", "employees", "revenue", "industry", "country", "technologies")
LAYOUT += ("founded_year", "funding_stage", "total_funding")
REF = re.compile(r"\{\{\s*(?:ref|source)\((?:'[^']*',\s*)?'([^']+)'\)\s*\}\}")


@dataclass(frozen=True)
class Checked:
    """Every fifth account of the workspace in the input layout, as a table and a file,
    and score_file's rows for them."""

    ws: Workspace
    rows: list[dict[str, Any]]  # input-layout cells, None for unknown, tools as a list
    signals: dict[str, list[tuple[str, str, dt.date]]]
    scored: dict[str, dict[str, Any]]

    @property
    def names(self) -> list[str]:
        return [n.name for n in self.ws.settings.icps]

    def tables(self) -> duckdb.DuckDBPyConnection:
        """A connection holding the accounts and the workspace's signals and contacts."""
        con = duckdb.connect()
        con.execute(
            """CREATE TABLE accounts (account_key VARCHAR, employees BIGINT, revenue DOUBLE,
               industry VARCHAR, country VARCHAR, technologies VARCHAR[], founded_year INTEGER,
               funding_stage VARCHAR, total_funding DOUBLE)"""
        )
        con.executemany(
            f"INSERT INTO accounts VALUES ({', '.join('?' for _ in LAYOUT)})",
            [[r[c] for c in LAYOUT] for r in self.rows],
        )
        con.execute(f"ATTACH '{self.ws.store_path}' AS store (READ_ONLY)")
        for table in ("signals", "contacts"):
            con.execute(f"CREATE TABLE {table} AS SELECT * FROM store.{table}")
        return con


@pytest.fixture(scope="module")
def two_lines(tmp_path_factory: pytest.TempPathFactory) -> DemoWorkspace:
    return two_line_workspace(tmp_path_factory)


@pytest.fixture(scope="module")
def checked(two_lines: DemoWorkspace, tmp_path_factory: pytest.TempPathFactory) -> Checked:
    ws = two_lines.ws
    assert len(ws.settings.icps) == 2
    con = duckdb.connect(str(ws.store_path), read_only=True)
    try:
        stored = con.execute(
            f"SELECT {', '.join(LAYOUT)} FROM accounts ORDER BY account_key"
        ).fetchall()
        signal_rows = con.execute(
            "SELECT account_key, signal_type, detail, CAST(observed_at AS DATE) FROM signals"
        ).fetchall()
    finally:
        con.close()
    from icpkit.attributes import detail_kind

    rows = [dict(zip(LAYOUT, row, strict=True)) for row in stored[::5]]
    signals: dict[str, list[tuple[str, str, dt.date]]] = {}
    for key, kind, detail, day in signal_rows:
        signals.setdefault(key, []).append((kind, detail_kind(detail), day))
    path = tmp_path_factory.mktemp("named-exports") / "accounts.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=LAYOUT)
        writer.writeheader()
        for row in rows:
            tools = row["technologies"]
            cells = {k: "" if v is None else v for k, v in row.items()}
            cells["technologies"] = "" if tools is None else ";".join(tools)
            writer.writerow(cells)
    scored = {r["account_key"]: r for r in ws.score_file(path, as_of=DAY).rows()}
    assert len(scored) == len(rows)
    return Checked(ws, rows, signals, scored)


def runnable(model: str) -> str:
    """The dbt model as plain SQL: the config block dropped, each reference its table."""
    text = re.sub(r"\{\{\s*config\(.*?\)\s*\}\}", "", model)
    return REF.sub(lambda m: m[1], text)


def _run(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, Any]]:
    cursor = con.execute(sql)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


# --- dbt ------------------------------------------------------------------------------------


def test_the_dbt_model_carries_every_icp_and_gives_the_rows_of_score_file(
    checked: Checked, tmp_path: Path
) -> None:
    checked.ws.export("dbt", tmp_path, as_of=DAY)
    model = (tmp_path / "models" / "icp_scores.sql").read_text(encoding="utf-8")
    assert "with the named ICPs " + ", ".join(checked.names) in model.splitlines()[0]
    got = _run(checked.tables(), runnable(model))
    assert len(got) == len(checked.scored)
    assert list(got[0])[-9:] == [BEST, *named_columns(checked.names)]
    for row in got:
        want = checked.scored[row["account_key"]]
        assert row == {k: want[k] for k in row}, row["account_key"]
    assert {r[BEST] for r in got} >= set(checked.names)  # both lines are someone's best fit
    schema = yaml.safe_load((tmp_path / "models" / "schema.yml").read_text("utf-8"))
    (described,) = schema["models"]
    assert [c["name"] for c in described["columns"]] == list(got[0])
    tests = {c["name"]: c.get("tests", []) for c in described["columns"]}
    assert tests[BEST] == [{"accepted_values": {"values": checked.names}}]
    for name in checked.names:
        assert "not_null" in tests[f"tier_{name}"] and "not_null" in tests[f"route_{name}"]
    versions = {n: checked.ws.named_icp(n).version for n in checked.names}
    assert described["meta"]["named_icps"] == versions


def test_the_dbt_model_of_one_named_icp_scores_as_its_columns_in_score_file(
    checked: Checked, tmp_path: Path
) -> None:
    name = checked.names[1]
    result = checked.ws.export("dbt", tmp_path, as_of=DAY, dialect="postgres", icp=name)
    assert [p.name for p in result.files] == [f"icp_scores_{name}.sql", "schema.yml"]
    model = (tmp_path / "models" / f"icp_scores_{name}.sql").read_text(encoding="utf-8")
    version = checked.ws.named_icp(name).version
    assert f"ICP {name} version {version}" in model.splitlines()[0]
    duck = checked.ws.export("dbt", tmp_path / "duck", as_of=DAY, icp=name)
    sql = duck.files[0].read_text(encoding="utf-8")
    got = _run(checked.tables(), runnable(sql))
    assert BEST not in got[0]
    for row in got:
        want = checked.scored[row["account_key"]]
        assert tuple(row[c] for c in PER_ICP) == tuple(want[f"{c}_{name}"] for c in PER_ICP)
    schema = yaml.safe_load((tmp_path / "models" / "schema.yml").read_text("utf-8"))
    assert schema["models"][0]["name"] == f"icp_scores_{name}"
    assert schema["models"][0]["meta"]["icp"] == name


# --- The row formulas and the filters ---------------------------------------------------------


def _clay_rows(checked: Checked, icp: ICP) -> list[dict[str, Any]]:
    """The accounts as a Clay table holds them, a date column per intent signal of ``icp``."""
    rows = []
    for row in checked.rows:
        cells: dict[str, Any] = dict(row)
        for signal in icp.intent:
            start = signal.window_days[0]
            days = [
                day
                for kind, detail, day in checked.signals.get(row["account_key"], [])
                if kind == signal.signal
                and (not signal.detail_in or detail in signal.detail_in)
                and (DAY - day).days >= start
            ]
            cells[signal_column(signal).name] = max(days).isoformat() if days else None
        rows.append(cells)
    return rows


def test_clay_formulas_of_a_named_icp_give_its_columns_in_score_file(
    checked: Checked, tmp_path: Path, run_clay: Any
) -> None:
    name = checked.names[0]
    result = checked.ws.export("clay", tmp_path, as_of=DAY, icp=name)
    assert result.stamp.name == name
    readme = (tmp_path / "README.md").read_text(encoding="utf-8")
    assert f"ICP {name} version {checked.ws.named_icp(name).version}" in readme
    with (tmp_path / "formulas.csv").open(encoding="utf-8", newline="") as fh:
        formulas = {r["name"]: r["formula"] for r in csv.DictReader(fh)}
    got = run_clay(formulas, _clay_rows(checked, checked.ws.named_icp(name)))
    wrong = [
        row["account_key"]
        for row, result in zip(checked.rows, got, strict=True)
        if (result["fit"], result["tier"], result["route"])
        != tuple(
            checked.scored[row["account_key"]][f"{c}_{name}"] for c in ("fit", "tier", "route")
        )
    ]
    assert not wrong, wrong[:5]
    # ... which are not the main ICP's: the export did not fall back to it.
    main = [(r["fit"], r["tier"]) for r in checked.scored.values()]
    assert [(r["fit"], r["tier"]) for r in got] != main


def test_the_sheet_formulas_of_a_named_icp_are_its_own(checked: Checked, tmp_path: Path) -> None:
    name = checked.names[1]
    checked.ws.export("sheets", tmp_path / "main", as_of=DAY)
    checked.ws.export("sheets", tmp_path / "named", as_of=DAY, icp=name)
    main = (tmp_path / "main" / "formulas.txt").read_text(encoding="utf-8")
    named = (tmp_path / "named" / "formulas.txt").read_text(encoding="utf-8")
    assert f"ICP {name} version" in named and f"ICP {name}" not in main
    body = [line for line in named.splitlines() if line.startswith("=")]
    assert body and body != [line for line in main.splitlines() if line.startswith("=")]


def test_prospecting_filters_of_a_named_icp_hold_its_rules(
    checked: Checked, tmp_path: Path
) -> None:
    name = checked.names[0]
    checked.ws.export("prospecting", tmp_path, icp=name)
    document = json.loads((tmp_path / "prospecting.json").read_text(encoding="utf-8"))
    icp = checked.ws.named_icp(name)
    assert document["icp"] == name and document["icp_version"] == icp.version

    def ids(filters: str) -> set[str]:
        return {item["rule_id"] for items in document[filters].values() for item in items}

    positive = {r.id for r in icp.fit if r.direction == "positive" and not r.missing}
    assert ids("include") == positive
    assert ids("must") == {r.id for r in icp.boundary}
    main = checked.ws.require_icp()
    assert positive != {r.id for r in main.fit if r.direction == "positive" and not r.missing}


# --- Names and places ---------------------------------------------------------------------------


@pytest.mark.parametrize("target", ["clay", "sheets", "dbt", "prospecting"])
def test_an_unknown_icp_is_refused_naming_the_known_ones(
    checked: Checked, tmp_path: Path, target: str
) -> None:
    with pytest.raises(NamedIcpError, match="no ICP named 'partners'") as raised:
        checked.ws.export(target, tmp_path, icp="partners")
    assert all(name in str(raised.value) for name in checked.names)
    assert not any(tmp_path.iterdir())


def test_icp_export_with_icp_writes_to_its_own_folder(
    two_lines: DemoWorkspace, tmp_path: Path
) -> None:
    ws = two_lines.copy(tmp_path / "ws")
    name = ws.settings.icps[0].name
    done = CliRunner().invoke(
        app, ["export", "prospecting", "--icp", name, "--format", "md", "-w", str(ws.root)]
    )
    assert done.exit_code == 0, done.output
    page = ws.root / "exports" / f"prospecting-{name}" / "prospecting.md"
    assert page.is_file() and f"ICP {name} version" in page.read_text(encoding="utf-8")
    assert f"prospecting: ICP {name} version" in done.output
    assert not (ws.root / "exports" / "prospecting").exists()
    unknown = CliRunner().invoke(app, ["export", "clay", "--icp", "partners", "-w", str(ws.root)])
    assert unknown.exit_code == 1 and name in unknown.output
