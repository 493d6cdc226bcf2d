"""The shadow faces of ``icp score --shadow VERSION`` (both versions side by side, recorded)
and ``icp monitor --shadow`` (which version ranks better on the deals that came after)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from icpkit.cli.common import console
from icpkit.cli.numbers import cell, finite, interval
from icpkit.cli.output import Column, Format, emit, print_table

if TYPE_CHECKING:
    from icpkit.operate.shadow import Comparison, ShadowResult, ShadowScoring

SHOWN = (
    Column("name"),
    Column("score"),
    Column("tier"),
    Column("shadow_score", "shadow score"),
    Column("shadow_tier", "shadow tier"),
    Column("route", priority=1),
    Column("top_reasons", "top reasons", priority=2),
)
"""The columns of shadow-scored accounts in the terminal; the file written keeps every field."""
NO_AUC = "too few closed deals, or all won or all lost"


def print_shadow_scoring(result: ShadowScoring, top: int = 20) -> None:
    """What a shadow scoring recorded, the tiers of both versions, and the top accounts."""
    console.print(
        f"Scored {result.scored:,} accounts ({result.source}) as of {result.as_of} with version "
        f"{result.champion} (in force) and version {result.challenger} (shadow); recorded "
        f"{result.recorded:,} in {result.book}"
        + (f"; {result.unkeyed:,} without an account key not recorded" if result.unkeyed else "")
        + f"; {result.changed:,} change tier.",
        soft_wrap=True,
    )
    if result.tiers:
        print_table(
            [
                {
                    f"version {result.champion}": a,
                    f"version {result.challenger}": b,
                    "accounts": f"{n:,}",
                }
                for (a, b), n in result.tiers.items()
            ],
            title="Accounts by tier in each version",
        )
    scored = result.file
    if scored is None:
        return
    if scored.out is not None:
        console.print(f"wrote {scored.total:,} scored accounts to {scored.out}")
        return
    rows = sorted(scored.rows(), key=lambda r: (-r["score"], str(r.get("line") or "")))
    emit(rows[:top], "table", title=f"Top {min(top, len(rows))} accounts", columns=SHOWN)


def _difference(c: Comparison) -> str:
    """The challenger's AUC minus the champion's and its interval, signs always shown."""
    d = c.difference
    if not finite(d.value):
        return cell(d.value, "+.3f", NO_AUC)
    if not (finite(d.low) and finite(d.high)):
        return f"{d.value:+.3f}"
    return f"{d.value:+.3f} ({d.low:+.3f} to {d.high:+.3f})"


def comparison_record(c: Comparison) -> dict[str, Any]:
    """One judged pair as a row (numbers as they are; JSON writes a missing one as null)."""
    return {
        "champion": c.champion,
        "challenger": c.challenger,
        "verdict": c.verdict,
        "summary": c.summary(),
        "recorded_accounts": c.recorded_accounts,
        "first_scored": c.first_day.isoformat(),
        "last_scored": c.last_day.isoformat(),
        "deals": c.deals,
        "closed": c.closed,
        "wins": c.wins,
        "accounts": c.accounts,
        "champion_auc": c.champion_auc.value,
        "champion_auc_ci": [c.champion_auc.low, c.champion_auc.high],
        "challenger_auc": c.challenger_auc.value,
        "challenger_auc_ci": [c.challenger_auc.low, c.challenger_auc.high],
        "difference": c.difference.value,
        "difference_ci": [c.difference.low, c.difference.high],
    }


def print_shadow_result(
    result: ShadowResult, fmt: Format = "table", out: Path | None = None
) -> None:
    """Each recorded pair's sentence and AUCs, or one CSV or JSON document."""
    if fmt != "table":
        emit(
            [comparison_record(c) for c in result.comparisons],
            fmt,
            out=out,
            command="monitor --shadow",
            why=dict.fromkeys(("champion_auc", "challenger_auc", "difference"), NO_AUC),
            summary=result.summary(),
            as_of=result.as_of.isoformat() if result.as_of else None,
        )
        return
    console.print(result.summary(), soft_wrap=True)
    if not result.comparisons:
        return
    print_table(
        [
            {
                "versions": f"{c.champion} vs {c.challenger}",
                "scored": f"{c.first_day} to {c.last_day}",
                "closed deals": f"{c.closed:,}",
                "AUC in force": interval(
                    c.champion_auc.value, c.champion_auc.low, c.champion_auc.high, ".3f", NO_AUC
                ),
                "AUC shadow": interval(
                    c.challenger_auc.value,
                    c.challenger_auc.low,
                    c.challenger_auc.high,
                    ".3f",
                    NO_AUC,
                ),
                "difference": _difference(c),
            }
            for c in result.comparisons
        ],
        [
            Column("versions"),
            Column("scored", priority=2),
            Column("closed deals", priority=1),
            Column("AUC in force"),
            Column("AUC shadow"),
            Column("difference"),
        ],
        title="Shadow scoring judged on the deals created since (AUC with 95% CI)",
    )
    for c in result.comparisons[1:]:
        console.print(c.summary(), soft_wrap=True)
