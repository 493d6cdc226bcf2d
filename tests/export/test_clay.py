"""``icp export clay``: the Clay formulas, run by node over the demo accounts, give what
``Workspace.score_file`` gives; every file names the ICP version and the day."""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

import pytest

from icpkit.export.formula import signal_column

# Every test here reads the derived demo workspace of 4,000 deals (built in ~30 s).
pytestmark = pytest.mark.slow


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def clay_rows(accounts: Any) -> list[dict[str, Any]]:
    """The accounts as Clay holds them: numbers as numbers, empty cells as '' or null,
    tools as text or as a list, one column per intent signal with its date."""
    rows = []
    for i, row in enumerate(accounts.rows):
        empty: Any = "" if i % 2 else None
        cells: dict[str, Any] = {k: (empty if v == "" else v) for k, v in row.items()}
        tools = row["technologies"]
        if i % 3 == 0 and tools != "":
            cells["technologies"] = [t.strip() for t in tools.split(";")]
        for signal in accounts.icp.intent:
            date = accounts.signal_date(
                row["account_key"], signal.signal, signal.detail_in, signal.window_days[0]
            )
            cells[signal_column(signal).name] = date or empty
        rows.append(cells)
    return rows


@pytest.fixture(scope="module")
def exported(accounts: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("clay")
    accounts.ws.export("clay", out, as_of=accounts.day)
    return out


def test_clay_formulas_give_the_scores_of_score_file_for_every_account(
    accounts: Any, exported: Path, run_clay: Any
) -> None:
    formulas = {r["name"]: r["formula"] for r in _read(exported / "formulas.csv")}
    assert set(formulas) == {"fit", "intent", "score", "tier", "route", "in_icp"}
    got = run_clay(formulas, clay_rows(accounts))
    wrong = [
        (row["account_key"], result, accounts.expected(row["account_key"]))
        for row, result in zip(accounts.rows, got, strict=True)
        if result != accounts.expected(row["account_key"])
    ]
    assert not wrong, wrong[:5]
    # The sample reaches every tier and both sides of the in-ICP filter.
    assert {r["tier"] for r in got} >= {"A", "B", "C", "D"}
    assert {r["in_icp"] for r in got} == {True, False}
    assert any(r["intent"] > 0 for r in got)


def test_each_rule_formula_gives_its_points_and_they_add_up_to_the_score(
    accounts: Any, exported: Path, run_clay: Any
) -> None:
    rules = _read(exported / "rules.csv")
    got = run_clay({r["rule_id"]: r["formula"] for r in rules}, clay_rows(accounts))
    for row, result in zip(accounts.rows, got, strict=True):
        scored = accounts.scored[row["account_key"]]
        assert scored["base"] + sum(result.values()) == scored["score"], row["account_key"]
    intent = {s.id for s in accounts.icp.intent}
    for rule in rules:
        points = int(rule["points"])
        seen = {result[rule["rule_id"]] for result in got}
        if rule["rule_id"] in intent:  # decayed points, between 0 and the full points
            assert all(min(0, points) <= p <= max(0, points) for p in seen), rule
        else:
            assert seen <= {0, points}, rule
    assert any(result[r["rule_id"]] for result in got for r in rules if int(r["points"]))


def test_clay_files_name_the_icp_version_and_the_day_they_were_made(
    accounts: Any, exported: Path
) -> None:
    version = str(accounts.icp.version)
    for name in ("rules.csv", "formulas.csv"):
        rows = _read(exported / name)
        assert rows and {r["icp_version"] for r in rows} == {version}
        assert len({r["made_on"] for r in rows}) == 1
    readme = (exported / "README.md").read_text(encoding="utf-8")
    assert f"ICP version {version}, made " in readme


def test_the_readme_names_every_column_the_formulas_read(exported: Path) -> None:
    readme = (exported / "README.md").read_text(encoding="utf-8")
    text = (exported / "formulas.csv").read_text(encoding="utf-8")
    read = set(re.findall(r"\{\{(.+?)\}\}", text))
    assert read >= {"employees", "industry", "technologies"}
    for column in read:
        assert f"`{{{{{column}}}}}`" in readme, column
