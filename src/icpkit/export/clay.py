"""``icp export clay``: the scorecard for a Clay table. A CSV of the rules (column,
operator, values, points, dimension and the rule's formula), a CSV of the formulas for fit,
intent, score, tier, route and the in-ICP filter, and a README naming the columns the table
needs. The formulas are JavaScript expressions over ``{{Column}}`` references, as Clay's
formula columns take them."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from icpkit.config import Settings
from icpkit.engines.score import reason_text
from icpkit.export.formula import RowFormulas, row_formulas
from icpkit.export.javascript import JavaScript, reference
from icpkit.export.stamp import ExportResult, Stamp
from icpkit.icp.model import ICP
from icpkit.output.csvfile import csv_text
from icpkit.output.files import write_atomic

RULE_FIELDS = (
    "rule_id",
    "list",
    "dimension",
    "column",
    "operator",
    "values",
    "points",
    "reason",
    "formula",
    "icp_version",
    "made_on",
)
FORMULA_FIELDS = ("name", "returns", "formula", "icp_version", "made_on")
RETURNS = {
    "fit": "fit score, 0-100",
    "intent": "intent score, 0-100",
    "score": "combined score, 0-100",
    "tier": "A, B, C or D",
    "route": "work_now, nurture, automated_nurture, disqualify or never",
    "in_icp": "true when the account is inside the ICP (route neither never nor disqualify)",
}


def clay_formulas(formulas: RowFormulas) -> dict[str, str]:
    """Each total's JavaScript formula: fit, intent, score, tier, route, in_icp."""
    js = JavaScript(formulas.day)
    return {name: js.render(e) for name, e in formulas.totals.items()}


def export_clay(
    icp: ICP,
    settings: Settings,
    out: Path,
    *,
    as_of: dt.date | None = None,
    name: str | None = None,
) -> ExportResult:
    """Write ``rules.csv``, ``formulas.csv`` and ``README.md`` into the folder ``out``
    (``name``: the named ICP ``icp`` is, said in the README)."""
    stamp = Stamp.of(icp, name=name)
    formulas = row_formulas(icp, settings, as_of=as_of)
    js = JavaScript(as_of)
    stamped = {"icp_version": stamp.version, "made_on": stamp.made_on.isoformat()}
    rules = [
        {
            "rule_id": r.points.id,
            "list": r.points.scored.list,
            "dimension": r.points.dimension,
            "column": r.column.name,
            "operator": r.operator,
            "values": r.values,
            "points": r.points.points,
            "reason": reason_text(r.points.scored.rule),
            "formula": js.render(r.formula),
            **stamped,
        }
        for r in formulas.rules
    ]
    totals = [
        {"name": name, "returns": RETURNS[name], "formula": text, **stamped}
        for name, text in clay_formulas(formulas).items()
    ]
    out.mkdir(parents=True, exist_ok=True)
    files = (out / "rules.csv", out / "formulas.csv", out / "README.md")
    write_atomic(files[0], csv_text(rules, RULE_FIELDS))
    write_atomic(files[1], csv_text(totals, FORMULA_FIELDS))
    write_atomic(files[2], _readme(formulas, stamp))
    return ExportResult("clay", stamp, files, tuple(formulas.card.warnings))


def _readme(formulas: RowFormulas, stamp: Stamp) -> str:
    day = formulas.day.isoformat() if formulas.day else "the day the formula runs (today)"
    lines = [
        f"# ICP scorecard for Clay ({stamp.words})",
        "",
        "Add one formula column per line of `formulas.csv` (fit, intent, score, tier, route,",
        "in_icp) and paste its formula; use `in_icp` as the table's filter. `rules.csv` lists",
        "every rule with its points and its own formula, for a column per rule.",
        "",
        f"Intent is measured as of {day}.",
        "",
        "## Columns the table needs",
        "",
        "Name the table's columns exactly so (or edit the `{{...}}` references):",
        "",
        "| column | holds |",
        "| --- | --- |",
    ]
    lines += [f"| `{reference(c)}` | {c.about} |" for c in formulas.columns]
    if not formulas.columns:
        lines.append("| (none) | the ICP has no rules: every account scores the same |")
    lines += [
        "",
        "An empty cell is an unknown value: it matches only the rules on unknown values and",
        "stays inside the market served. Values are those icpkit writes (letter case aside):",
        "industry labels of docs/taxonomy.md, ISO country codes, employees and revenue (in",
        "dollars) as numbers. Tools are a list or text separated by ';'; a date column takes",
        "an ISO date (YYYY-MM-DD) or a list of them.",
    ]
    lines += [f"\nNote: {w}" for w in formulas.card.warnings]
    return "\n".join(lines) + "\n"
