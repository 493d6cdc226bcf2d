"""Several ICPs over the edge-case accounts: the edge-case ICP as the main one and two named
ICPs, and the check that a multi-ICP SELECT's rows are, column by column,
what the Python reference scores with each ICP alone, with best_icp chosen by the rule."""

from __future__ import annotations

from typing import Any

from edge_cases import Case, assert_same_rows, edge_icp, unknown_bins_icp

from icpkit.engines.multi import BEST, PER_ICP, named_columns
from icpkit.engines.reference import score_all
from icpkit.engines.sql import OUTPUT_COLUMNS
from icpkit.icp.model import ICP

LEFT_OUT = ("never", "disqualify")


def _with_base_rate(icp: ICP, deals: int, wins: int) -> ICP:
    assert icp.scoring is not None
    scoring = icp.scoring.model_copy(update={"deals": deals, "wins": wins})
    return icp.model_copy(update={"scoring": scoring})


def named_icps() -> list[tuple[str, ICP]]:
    """Two named ICPs winning 40% of their deals: the edge-case ICP and the one with Missing
    bins, which agree where no value is unknown (a tie: the first declared takes it) and
    share their exclusions and boundary (an account both leave out has no best fit)."""
    return [
        ("edge", _with_base_rate(edge_icp(), 100, 40)),
        ("bins", _with_base_rate(unknown_bins_icp(), 100, 40)),
    ]


def best_by_rule(row: dict[str, Any], named: list[tuple[str, ICP]]) -> str | None:
    """The named ICP whose win probability stands furthest above its own base rate among
    those that neither exclude the account nor have it outside their boundary; a tie goes
    to the one declared first. Written from the rule, not from the SQL."""
    best, most = None, None
    for name, icp in named:
        if row[f"route_{name}"] in LEFT_OUT:
            continue
        assert icp.scoring is not None and icp.scoring.deals
        lift = float(row[f"win_probability_{name}"]) / (icp.scoring.wins / icp.scoring.deals)
        if most is None or lift > most:
            best, most = name, lift
    return best


def assert_same_multi_rows(
    case: Case, named: list[tuple[str, ICP]], actual: list[dict[str, Any]], engine: str
) -> None:
    """``actual`` holds exactly the main ICP's columns, best_icp and each named ICP's
    columns; each ICP's columns equal the reference's scores with that ICP alone; best_icp
    follows the rule over the row's own per-ICP columns."""
    columns = [*OUTPUT_COLUMNS, BEST, *named_columns([n for n, _ in named])]
    assert actual and list(actual[0]) == columns, (engine, list(actual[0]))

    def alone(icp: ICP) -> list[dict[str, Any]]:
        return score_all(icp, case.settings, case.accounts, case.signals, case.contacts, case.as_of)

    main = [{k: r[k] for k in OUTPUT_COLUMNS} for r in actual]
    assert_same_rows(alone(case.icp), main, engine)
    for name, icp in named:
        mine = [
            {"account_key": r["account_key"], **{c: r[f"{c}_{name}"] for c in PER_ICP}}
            for r in actual
        ]
        expected = [{k: r[k] for k in ("account_key", *PER_ICP)} for r in alone(icp)]
        assert_same_rows(expected, mine, f"{engine}: {name}")
    for row in actual:
        assert row[BEST] == best_by_rule(row, named), (engine, row["account_key"])
    # The case is not trivial: every named ICP is someone's best fit, and some have none.
    assert {r[BEST] for r in actual} == {*(n for n, _ in named), None}, engine
