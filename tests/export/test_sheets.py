"""``icp export sheets``: the spreadsheet formulas, filled down a workbook of the demo
accounts and computed by an Excel formula engine (the ``formulas`` package), give what
``Workspace.score_file`` gives."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest

from icpkit.export.formula import signal_column

formulas_engine = pytest.importorskip("formulas", reason="the formulas package computes Excel")
openpyxl = pytest.importorskip("openpyxl")
from openpyxl.formula.translate import Translator  # noqa: E402

# Every test here reads the derived demo workspace of 4,000 deals (built in ~30 s).
pytestmark = pytest.mark.slow

NAMES = ("score", "fit", "intent", "tier", "route", "in_icp")
TITLES = (
    "Score (0-100):",
    "Fit (0-100):",
    "Intent (0-100):",
    "Tier (A-D):",
    "Route:",
    "In the ICP (TRUE/FALSE):",
)
EVERY = 30  # accounts of the sample computed: a spreadsheet engine in Python is slow


def read_export(path: Path) -> tuple[dict[str, str], dict[str, str]]:
    """(field -> column letter, name -> formula) as the exported text gives them."""
    lines = path.read_text(encoding="utf-8").splitlines()
    letters = {}
    for line in lines:
        if m := re.match(r"^  ([A-Z]{1,3})  (.+?)(:| \(not read)", line):
            letters[m[2]] = m[1]
    assert set(NAMES) <= set(letters), letters
    texts = {name: lines[lines.index(title) + 1] for name, title in zip(NAMES, TITLES, strict=True)}
    return letters, texts


def compute(
    letters: dict[str, str],
    texts: dict[str, str],
    rows: list[dict[str, Any]],
    folder: Path,
) -> list[dict[str, Any]]:
    """The formulas filled down a workbook of ``rows`` and computed; one dict per row."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "accounts"
    for field, at in letters.items():
        sheet[f"{at}1"] = field
    free = [letters[name] for name in NAMES]
    for r, row in enumerate(rows, start=2):
        for field, value in row.items():
            if value not in ("", None):
                sheet[f"{letters[field]}{r}"] = value
        for name, at in zip(NAMES, free, strict=True):
            sheet[f"{at}{r}"] = Translator(texts[name], origin=f"{at}2").translate_formula(
                f"{at}{r}"
            )
    path = folder / "accounts.xlsx"
    book.save(path)
    model = formulas_engine.ExcelModel().loads(str(path)).finish()
    solution = model.calculate()
    values = {k.rsplit("!", 1)[-1]: v.value[0, 0] for k, v in solution.items() if "!" in k}
    out = []
    for r in range(2, len(rows) + 2):
        got = {name: values[f"{at}{r}"] for name, at in zip(NAMES, free, strict=True)}
        out.append({k: (int(v) if k in ("score", "fit", "intent") else v) for k, v in got.items()})
    return out


def test_the_sheet_formulas_give_the_scores_of_score_file(accounts: Any, tmp_path: Path) -> None:
    result = accounts.ws.export("sheets", tmp_path / "out", as_of=accounts.day)
    letters, texts = read_export(result.files[0])
    sample = accounts.rows[::EVERY] + accounts.rows[-10:]
    rows = []
    for row in sample:
        cells = dict(row)
        for signal in accounts.icp.intent:
            date = accounts.signal_date(
                row["account_key"], signal.signal, signal.detail_in, signal.window_days[0]
            )
            cells[signal_column(signal).name] = dt.date.fromisoformat(date) if date else ""
        rows.append(cells)
    got = compute(letters, texts, rows, tmp_path)
    wrong = [
        (row["account_key"], g, accounts.expected(row["account_key"]))
        for row, g in zip(sample, got, strict=True)
        if g != accounts.expected(row["account_key"])
    ]
    assert not wrong, wrong[:5]
    assert len({g["tier"] for g in got}) >= 3
    assert any(g["intent"] > 0 for g in got)
