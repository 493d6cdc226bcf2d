"""Every kind of rule a row formula can hold (ranges, labels of sizes, revenue, stack
density and company age, categories, tools, unmapped columns, Missing bins, boundary,
exclusions, decaying intent, the buyer persona), on accounts full of edge cases: the Clay
and spreadsheet formulas give what the Python reference scorer gives."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Any

import pytest

from icpkit.engines.reference import persona_match, score_all
from icpkit.export.clay import clay_formulas
from icpkit.export.formula import FormulaError, row_formulas, signal_column
from icpkit.export.sheets import column_letters, sheet_formulas
from icpkit.icp.model import ICP, Criterion

# The engines' edge cases (tests/engines/edge_cases.py) are the cases every engine meets.
sys.path.insert(0, str(Path(__file__).parents[1] / "engines"))
from edge_cases import AS_OF, edge_rows, edge_settings, unknown_bins_icp

Rows = list[dict[str, Any]]


def _day(value: Any) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


def signal_date(rule: Any, signals: Rows, key: str) -> str:
    """The freshest matching signal at least the window's start before the day."""
    from icpkit.attributes import detail_kind

    start = rule.window_days[0]
    days = [
        _day(s["observed_at"])
        for s in signals
        if s["account_key"] == key
        and s["signal_type"] == rule.signal
        and (not rule.detail_in or detail_kind(s["detail"]) in rule.detail_in)
        and (AS_OF - _day(s["observed_at"])).days >= start
    ]
    return max(days).isoformat() if days else ""


def cells(icp: ICP, settings: Any, accounts: Rows, signals: Rows, contacts: Rows) -> Rows:
    """Each account as a row of the formulas' columns (None: unknown)."""
    rows = []
    for a in accounts:
        row = dict(a)
        for rule in icp.intent:
            row[signal_column(rule).name] = signal_date(rule, signals, a["account_key"]) or None
        people = [c for c in contacts if c["account_key"] == a["account_key"]]
        row["buyer persona"] = persona_match(settings.scoring.persona, people, AS_OF)
        rows.append(row)
    return rows


def wanted(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "fit": row["fit"],
        "intent": row["intent"],
        "score": row["score"],
        "tier": row["tier"],
        "route": row["route"],
        "in_icp": row["route"] not in ("never", "disqualify"),
    }


@pytest.fixture(scope="module")
def case() -> tuple[ICP, Any, Rows, Rows]:
    icp, settings = unknown_bins_icp(), edge_settings()
    accounts, signals, contacts = edge_rows(300, seed=11)
    expected = score_all(icp, settings, accounts, signals, contacts, AS_OF)
    return icp, settings, cells(icp, settings, accounts, signals, contacts), expected


def test_clay_formulas_agree_with_the_reference_on_every_kind_of_rule(
    case: tuple[ICP, Any, Rows, Rows], run_clay: Any
) -> None:
    icp, settings, rows, expected = case
    formulas = clay_formulas(row_formulas(icp, settings, as_of=AS_OF))
    # Clay holds a stack as a list, or as text: both read alike.
    clay_rows = [
        {**r, "technologies": ";".join(r["technologies"])} if i % 2 and r["technologies"] else r
        for i, r in enumerate(rows)
    ]
    got = run_clay(formulas, clay_rows)
    wrong = [
        (e["account_key"], g, wanted(e))
        for g, e in zip(got, expected, strict=True)
        if g != wanted(e)
    ]
    assert not wrong, wrong[:3]
    assert {g["route"] for g in got} >= {"never", "disqualify"}
    assert len({g["intent"] for g in got}) > 2


@pytest.mark.slow
def test_sheet_formulas_agree_with_the_reference_on_every_kind_of_rule(
    case: tuple[ICP, Any, Rows, Rows], tmp_path: Path
) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    engine = pytest.importorskip("formulas", reason="the formulas package computes Excel")
    from openpyxl.formula.translate import Translator

    icp, settings, rows, expected = case
    formulas = row_formulas(icp, settings, as_of=AS_OF)
    letters = column_letters(formulas)
    texts = sheet_formulas(formulas, letters)
    # A cell holds no empty list: an empty cell is an unknown stack, so rows of a known,
    # empty stack are left to the Clay test.
    picked = [(r, e) for r, e in zip(rows, expected, strict=True) if r["technologies"] != []]
    picked = picked[::6]
    book = openpyxl.Workbook()
    sheet = book.active
    for r, (row, _) in enumerate(picked, start=2):
        for name, at in letters.items():
            value = row.get(name)
            if name == "technologies" and value:
                value = "; ".join(value)
            elif name.endswith(" date") and value:
                value = dt.date.fromisoformat(value)
            if value not in (None, ""):
                sheet[f"{at}{r}"] = value
        for name, text in texts.items():
            at = letters[name]
            sheet[f"{at}{r}"] = Translator(text, origin=f"{at}2").translate_formula(f"{at}{r}")
    path = tmp_path / "edge.xlsx"
    book.save(path)
    solution = engine.ExcelModel().loads(str(path)).finish().calculate()
    values = {k.rsplit("!", 1)[-1]: v.value[0, 0] for k, v in solution.items() if "!" in k}
    wrong = []
    for r, (row, e) in enumerate(picked, start=2):
        got = {name: values[f"{letters[name]}{r}"] for name in texts}
        got = {k: (int(v) if k in ("fit", "intent", "score") else v) for k, v in got.items()}
        if got != wanted(e):
            wrong.append((row["account_key"], got, wanted(e)))
    assert not wrong, wrong[:3]


def test_a_rule_no_row_formula_can_hold_is_refused_by_name() -> None:
    icp = unknown_bins_icp()
    odd = Criterion(
        id="recent-funding",
        attribute="signal:funding_round",
        values=["0-30d"],
        source="human",
        reason="by hand",
        weight=0.3,
    )
    icp = icp.model_copy(update={"fit": [*icp.fit, odd]})
    with pytest.raises(
        FormulaError,
        match=r"fit\[\d+\] recent-funding: a rule on "
        r"'signal:funding_round' cannot be written as a row formula",
    ):
        row_formulas(icp, edge_settings(), as_of=AS_OF)


def test_a_clay_list_of_dates_counts_the_freshest_inside_the_window(run_clay: Any) -> None:
    from icpkit.engines.scorecard import build_scorecard
    from icpkit.export.javascript import JavaScript

    icp, settings = unknown_bins_icp(), edge_settings()
    formulas = row_formulas(icp, settings, as_of=AS_OF)
    (funding,) = [r for r in formulas.rules if r.points.id == "funding"]  # window 60-540 days
    full = {rp.id: rp.points for rp in build_scorecard(icp, settings.scoring).rules}["funding"]
    column = funding.column.name
    rows = [
        {column: ["2025-09-20", "2025-08-02"]},  # 11 days (too fresh) and 60 days: the first day
        {column: "2025-09-20;2025-08-02T09:30:00Z"},  # the same as text
        {column: ["2025-09-20"]},  # only too fresh
        {column: ["2024-03-09"]},  # 571 days: too old
        {column: []},
    ]
    got = run_clay({"points": JavaScript(AS_OF).render(funding.formula)}, rows)
    assert [g["points"] for g in got] == [full, full, 0, 0, 0]
    assert full > 0


def test_clay_formulas_without_a_day_measure_intent_as_of_today(
    case: tuple[ICP, Any, Rows, Rows], run_clay: Any
) -> None:
    icp, settings, _, _ = case
    today = dt.date.today()
    # Signals 0 to 600 days before today: inside and outside every window.
    rows = [
        {
            signal_column(rule).name: (today - dt.timedelta(days=age)).isoformat()
            for rule in icp.intent
        }
        for age in (0, 1, 30, 59, 60, 61, 90, 91, 200, 540, 541, 600)
    ]
    fixed = clay_formulas(row_formulas(icp, settings, as_of=today))
    floating = clay_formulas(row_formulas(icp, settings))
    assert "new Date()" in floating["intent"] and "new Date()" not in fixed["intent"]
    assert run_clay(floating, rows) == run_clay(fixed, rows)
    assert len({r["intent"] for r in run_clay(fixed, rows)}) > 2
