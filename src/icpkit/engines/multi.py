"""Scoring with several ICPs at once: the main ICP's columns, each named ICP's fit, tier,
route and win probability, and the ICP each account fits best.

Each named ICP runs its own compiled SELECT (icpkit.engines.sql), chained: the SELECT of
one ICP reads the accounts with the columns of the ones before it passed through, and the
main ICP's SELECT comes last, so every row is scored once per ICP in one streaming query,
with no join and no row numbering. A workspace without named ICPs never comes here: its
SELECT is the single one, as fast as ever.

The best-fitting ICP of an account is the named ICP under which its win probability stands
furthest above that ICP's own base rate (its fitted deals' win rate), so a product line that
wins more often overall does not take every account; an ICP that excludes the account or
whose boundary it is outside of is no candidate, and an account no named ICP takes has none.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import duckdb

from icpkit.config import Settings
from icpkit.engines.sql import OUTPUT_COLUMNS, Tables, compile_scorecard
from icpkit.icp.model import ICP
from icpkit.store.db import identifier, literal

PER_ICP = ("fit", "tier", "route", "win_probability")
"""The columns each named ICP adds, as ``<column>_<name>``."""
BEST = "best_icp"
LEFT_OUT = ("never", "disqualify")
"""Routes that take an account out of an ICP's candidates for the best fit."""


def named_columns(names: Sequence[str]) -> list[str]:
    """The columns the named ICPs ``names`` add to a scored file, after ``best_icp``.

    >>> named_columns(["platform"])
    ['fit_platform', 'tier_platform', 'route_platform', 'win_probability_platform']
    """
    return [f"{column}_{name}" for name in names for column in PER_ICP]


def base_rate(icp: ICP) -> float:
    """The win rate of the deals ``icp``'s points were fitted on (0.5 when unknown)."""
    scoring = icp.scoring
    if scoring is None or scoring.deals == 0 or scoring.wins == 0:
        return 0.5
    return scoring.wins / scoring.deals


def best_icp_sql(named: Sequence[tuple[str, ICP]]) -> str:
    """The SQL naming, per scored row, the named ICP the account fits best (NULL: none).

    >>> from icpkit.icp.model import ICP, ScoringModel
    >>> icp = ICP(derived_at="2026-01-01T00:00:00Z", data_fingerprint="x",
    ...           scoring=ScoringModel(method="m", intercept=0, deals=10, wins=5))
    >>> print(best_icp_sql([("a", icp)]))
    CASE WHEN "route_a" NOT IN ('never', 'disqualify') THEN 'a' END
    """
    left_out = ", ".join(literal(r) for r in LEFT_OUT)

    def lift(name: str, icp: ICP) -> str:
        p = identifier(f"win_probability_{name}")
        route = identifier(f"route_{name}")
        return f"(CASE WHEN {route} NOT IN ({left_out}) THEN {p} / {base_rate(icp)!r} END)"

    whens = []
    for i, (name, icp) in enumerate(named):
        route = identifier(f"route_{name}")
        mine = lift(name, icp)
        # Ties go to the ICP declared first: strictly above those before, at least those after.
        beats = [
            f"{mine} {'>' if j < i else '>='} coalesce({lift(other, o)}, -1)"
            for j, (other, o) in enumerate(named)
            if j != i
        ]
        cond = " AND ".join([f"{route} NOT IN ({left_out})", *beats])
        whens.append(f"WHEN {cond} THEN {literal(name)}")
    return f"CASE {' '.join(whens)} END"


def compile_with_named(
    con: duckdb.DuckDBPyConnection,
    icp: ICP,
    named: Sequence[tuple[str, ICP]],
    settings: Settings,
    *,
    tables: Tables,
    as_of: dt.date | None,
    keep: tuple[str, ...],
) -> str:
    """One SELECT (DuckDB) scoring the rows of ``tables.accounts`` with ``icp`` and each of
    ``named``: the main ICP's columns as :func:`compile_scorecard` gives them (``keep``
    first), then ``best_icp`` and each named ICP's columns. Temporary views ``named_0`` ...
    on ``con`` hold the chain."""
    source = tables.accounts
    columns = [str(r[0]) for r in con.execute(f"DESCRIBE {source}").fetchall()]
    added: list[str] = []
    for i, (name, other) in enumerate(named):
        passed = tuple(c for c in columns if c != "account_key")
        inner = compile_scorecard(
            other,
            settings,
            tables=Tables(source, tables.signals, tables.contacts),
            as_of=as_of,
            keep=passed,
            pretty=False,
        )
        mine = named_columns([name])
        select = [identifier(c) for c in passed] + ["account_key"]
        select += [f"{c} AS {identifier(n)}" for c, n in zip(PER_ICP, mine, strict=True)]
        view = f"named_{i}"
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW {view} AS SELECT {', '.join(select)} FROM ({inner})"
        )
        columns = [*passed, "account_key", *mine]
        added += mine
        source = view
    main = compile_scorecard(
        icp,
        settings,
        tables=Tables(source, tables.signals, tables.contacts),
        as_of=as_of,
        keep=(*keep, *added),
        pretty=False,
    )
    output = [identifier(c) for c in (*keep, *OUTPUT_COLUMNS)]
    output.append(f"{best_icp_sql(named)} AS {BEST}")
    output += [identifier(c) for c in added]
    return f"SELECT {', '.join(output)} FROM ({main})"


def reading_icp(icp: ICP, others: Sequence[ICP]) -> ICP:
    """``icp`` with the boundary, fit and exclusions of ``others`` added: what the input of a
    scoring with named ICPs is read for, so that it carries every unmapped field any of
    them reads. Never scored itself."""
    return icp.model_copy(
        update={
            "boundary": [r for i in (icp, *others) for r in i.boundary],
            "fit": [r for i in (icp, *others) for r in i.fit],
            "exclusions": [r for i in (icp, *others) for r in i.exclusions],
        }
    )
