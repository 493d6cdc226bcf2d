"""``icp export sheets``: one spreadsheet formula that computes an account's score from
the columns of its row, for Google Sheets and Excel, with the fit, intent, tier and route
formulas beside it and a header saying which column letter holds which field."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path

from icpkit.config import Settings
from icpkit.export.excel import LETTERS, MAX_LENGTH, Spreadsheet, letter
from icpkit.export.formula import Column, RowFormulas, layout_columns, row_formulas
from icpkit.export.stamp import ExportError, ExportResult, Stamp
from icpkit.icp.model import ICP
from icpkit.output.files import write_atomic

ORDER = ("score", "fit", "intent", "tier", "route", "in_icp")
TITLES = {
    "score": "Score (0-100)",
    "fit": "Fit (0-100)",
    "intent": "Intent (0-100)",
    "tier": "Tier (A-D)",
    "route": "Route",
    "in_icp": "In the ICP (TRUE/FALSE)",
}


def column_letters(
    formulas: RowFormulas, chosen: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The letter of every column: the input layout's columns in order from A
    (account_key), then the ICP's own columns (unmapped fields, signal dates, the persona),
    then the formulas' (score, fit, intent, tier, route, in_icp), each letter in ``chosen``
    (field -> letter) taking precedence."""
    names = ["account_key", *(c.name for c in layout_columns())]
    names += [c.name for c in formulas.columns if c.name not in names]
    names += list(ORDER)  # where each formula goes: the tier and route read score, fit, intent
    chosen = {k: v.strip().upper() for k, v in (chosen or {}).items()}
    unknown = sorted(set(chosen) - set(names))
    if unknown:
        raise ExportError(
            f"--columns names {', '.join(unknown)}: not a column of this ICP's row",
            hint=f"columns: {', '.join(names)}",
        )
    for name, value in chosen.items():
        if not LETTERS.match(value):
            raise ExportError(f"--columns {name}={value}: a column letter is A to ZZZ")
    taken = set(chosen.values())
    if len(taken) < len(chosen):
        raise ExportError(
            "--columns gives one letter to two fields: "
            + ", ".join(f"{k}={v}" for k, v in sorted(chosen.items()))
        )
    letters: dict[str, str] = {}
    index = 0
    for name in names:
        if name in chosen:
            letters[name] = chosen[name]
            continue
        while letter(index) in taken:
            index += 1
        letters[name] = letter(index)
        taken.add(letters[name])
    return letters


def sheet_formulas(formulas: RowFormulas, letters: Mapping[str, str]) -> dict[str, str]:
    """Each total as a cell formula over row 2 (fill it down): score, fit, intent, tier,
    route, in_icp."""
    sheet = Spreadsheet(dict(letters), formulas.day)
    return {name: sheet.formula(formulas.totals[name]) for name in ORDER}


def export_sheets(
    icp: ICP,
    settings: Settings,
    out: Path,
    *,
    columns: Mapping[str, str] | None = None,
    as_of: dt.date | None = None,
    name: str | None = None,
) -> ExportResult:
    """Write ``formulas.txt`` (the header and the formulas) into the folder ``out``
    (``name``: the named ICP ``icp`` is, said in the header)."""
    stamp = Stamp.of(icp, name=name)
    formulas = row_formulas(icp, settings, as_of=as_of)
    letters = column_letters(formulas, columns)
    texts = sheet_formulas(formulas, letters)
    notes = list(formulas.card.warnings)
    long = [name for name, text in texts.items() if len(text) > MAX_LENGTH]
    if long:
        notes.append(
            f"{', '.join(long)}: longer than Excel's {MAX_LENGTH:,} characters a formula; "
            "Google Sheets takes it"
        )
    out.mkdir(parents=True, exist_ok=True)
    target = out / "formulas.txt"
    write_atomic(target, _text(formulas, letters, texts, stamp))
    return ExportResult("sheets", stamp, (target,), tuple(notes))


def _text(
    formulas: RowFormulas, letters: Mapping[str, str], texts: dict[str, str], stamp: Stamp
) -> str:
    used = {c.name: c for c in formulas.columns}
    day = formulas.day.isoformat() if formulas.day else "TODAY()"
    lines = [
        f"ICP scorecard for Google Sheets and Excel ({stamp.words}).",
        "One account a row from row 2; paste each formula into row 2 of its column and fill",
        f"it down. Intent is measured as of {day}. The score alone needs no other formula;",
        "tier, route and in_icp read the score, fit and intent columns.",
        "",
        "Columns (an empty cell is an unknown value):",
    ]
    for name, at in sorted(letters.items(), key=lambda item: (len(item[1]), item[1])):
        column: Column | None = used.get(name)
        if name in TITLES:
            read = f": the formula '{TITLES[name].split(' (')[0]}' below"
        else:
            read = f": {column.about}" if column is not None else " (not read by this ICP)"
        lines.append(f"  {at}  {name}{read}")
    lines += [f"Note: {w}" for w in formulas.card.warnings]
    for name in ORDER:
        lines += ["", f"{TITLES[name]}:", texts[name]]
    return "\n".join(lines) + "\n"
