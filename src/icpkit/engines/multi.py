"""Scoring with several ICPs at once: the main ICP's columns, each named ICP's fit, tier,
route and win probability, and the ICP each account fits best.

Each named ICP runs its own compiled SELECT (icpkit.engines.sql), chained: the SELECT of
one ICP (a common table expression) reads the accounts with the columns of the ones before
it passed through, and the main ICP's SELECT comes last, so every row is scored once per
ICP in one streaming query, with no join and no row numbering. The chain is one sqlglot
tree generated once in the target dialect: ``icp score`` runs it on DuckDB or Spark, ``icp
sql --all-icps`` and the dbt model hand it to a warehouse. A workspace without named ICPs
never comes here: its SELECT is the single one, as fast as ever.

The best-fitting ICP of an account is the named ICP under which its win probability stands
furthest above that ICP's own base rate (its fitted deals' win rate), so a product line that
wins more often overall does not take every account; an ICP that excludes the account or
whose boundary it is outside of is no candidate, and an account no named ICP takes has none.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import duckdb
import sqlglot
from sqlglot import exp

from icpkit.config import Settings
from icpkit.engines.layout import CANONICAL
from icpkit.engines.sql import OUTPUT_COLUMNS, SOURCE, Tables, scorecard_select
from icpkit.icp.model import ICP
from icpkit.store.db import literal

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


def best_icp_select(named: Sequence[tuple[str, ICP]]) -> exp.Expr:
    """The expression naming, per scored row, the named ICP the account fits best (NULL:
    none), over the ``route_NAME`` and ``win_probability_NAME`` columns."""
    left_out = ", ".join(literal(r) for r in LEFT_OUT)

    def lift(name: str, icp: ICP) -> str:
        p, route = f"win_probability_{name}", f"route_{name}"
        return f"(CASE WHEN {route} NOT IN ({left_out}) THEN {p} / {base_rate(icp)!r} END)"

    whens = []
    for i, (name, icp) in enumerate(named):
        mine = lift(name, icp)
        # Ties go to the ICP declared first: strictly above those before, at least those after.
        beats = [
            f"{mine} {'>' if j < i else '>='} coalesce({lift(other, o)}, -1)"
            for j, (other, o) in enumerate(named)
            if j != i
        ]
        cond = " AND ".join([f"route_{name} NOT IN ({left_out})", *beats])
        whens.append(f"WHEN {cond} THEN {literal(name)}")
    # Names are lower-case letters, digits and _: unquoted, as the columns they read are.
    return sqlglot.parse_one(f"CASE {' '.join(whens)} END", read=SOURCE)


def best_icp_sql(named: Sequence[tuple[str, ICP]]) -> str:
    """:func:`best_icp_select` as DuckDB SQL.

    >>> from icpkit.icp.model import ICP, ScoringModel
    >>> icp = ICP(derived_at="2026-01-01T00:00:00Z", data_fingerprint="x",
    ...           scoring=ScoringModel(method="m", intercept=0, deals=10, wins=5))
    >>> print(best_icp_sql([("a", icp)]))
    CASE WHEN NOT route_a IN ('never', 'disqualify') THEN 'a' END
    """
    return best_icp_select(named).sql(dialect=SOURCE)


def account_columns(icp: ICP, settings: Settings) -> list[exp.Identifier]:
    """The columns of the accounts table ``icp``'s SELECT reads besides ``account_key``,
    named as it reads them (a canonical column unquoted, an unmapped field quoted)."""
    found: dict[str, exp.Identifier] = {}
    for column in scorecard_select(icp, settings).find_all(exp.Column):
        if column.table == "a" and column.name != "account_key":
            found.setdefault(column.name, column.this)
    order = list(CANONICAL)
    return sorted(
        found.values(),
        key=lambda c: (order.index(c.name) if c.name in order else len(order), c.name),
    )


def chain_select(
    icp: ICP,
    named: Sequence[tuple[str, ICP]],
    settings: Settings,
    *,
    passed: Sequence[str | exp.Identifier],
    dialect: str = SOURCE,
    tables: Tables | None = None,
    as_of: dt.date | None = None,
    keep: tuple[str, ...] = (),
) -> exp.Select:
    """One SELECT scoring the rows of ``tables.accounts`` with ``icp`` and each of ``named``:
    ``keep`` and the main ICP's columns as :func:`compile_scorecard` gives them, then
    ``best_icp`` and each named ICP's columns.

    Each named ICP's SELECT is a common table expression (``named_0`` ...) reading the one
    before it; ``passed`` are the accounts' columns every link carries to the next (every
    column the ICPs read, and ``keep``), besides ``account_key``."""
    tables = tables or Tables()
    source = tables.accounts
    carried: list[str | exp.Identifier] = list(passed)
    links: list[tuple[str, exp.Select]] = []
    added: list[str] = []
    for i, (name, other) in enumerate(named):
        inner = scorecard_select(
            other,
            settings,
            dialect=dialect,
            tables=Tables(source, tables.signals, tables.contacts),
            as_of=as_of,
            keep=tuple(carried),
        )
        view = f"named_{i}"
        _prefix_stages(inner, f"{view}_")
        mine = named_columns([name])
        select: list[exp.Expr] = [exp.column(_identifier(c)) for c in carried]
        select.append(exp.column("account_key"))
        select += [
            exp.alias_(exp.column(c), n, copy=False) for c, n in zip(PER_ICP, mine, strict=True)
        ]
        links.append((view, sqlglot.select(*select).from_(inner.subquery("scored"))))
        carried += mine
        added += mine
        source = view
    main = scorecard_select(
        icp,
        settings,
        dialect=dialect,
        tables=Tables(source, tables.signals, tables.contacts),
        as_of=as_of,
        keep=(*keep, *added),
    )
    output: list[exp.Expr] = [exp.column(_identifier(c)) for c in keep]
    output += [exp.column(c) for c in OUTPUT_COLUMNS]
    output.append(exp.alias_(best_icp_select(named), BEST, copy=False))
    output += [exp.column(c) for c in added]
    query = sqlglot.select(*output).from_(main.subquery("scored"))
    for view, link in links:
        query = query.with_(view, as_=link, copy=False)
    return query


def compile_multi(
    icp: ICP,
    named: Sequence[tuple[str, ICP]],
    settings: Settings,
    *,
    dialect: str = SOURCE,
    tables: Tables | None = None,
    as_of: dt.date | None = None,
    pretty: bool = True,
) -> str:
    """The SELECT of :func:`chain_select` in ``dialect`` over a warehouse's tables, whose
    columns are not known here: each link carries the columns the ICPs read."""
    passed: dict[str, exp.Identifier] = {}
    for one in (icp, *(n for _, n in named)):
        for column in account_columns(one, settings):
            passed.setdefault(column.name, column)
    query = chain_select(
        icp,
        named,
        settings,
        passed=list(passed.values()),
        dialect=dialect,
        tables=tables,
        as_of=as_of,
    )
    return query.sql(dialect=dialect, pretty=pretty, copy=False)


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
    """:func:`chain_select` in DuckDB over ``tables.accounts`` of ``con``, every one of its
    columns carried through the chain (what ``score_file`` runs)."""
    columns = [str(r[0]) for r in con.execute(f"DESCRIBE {tables.accounts}").fetchall()]
    passed = [c for c in columns if c != "account_key"]
    query = chain_select(icp, named, settings, passed=passed, tables=tables, as_of=as_of, keep=keep)
    return query.sql(dialect=SOURCE, copy=False)


def _prefix_stages(query: exp.Select, prefix: str) -> None:
    """Rename the stages (common table expressions) of one ICP's SELECT, and what reads
    them, with ``prefix``: Spark lifts every stage of a nested SELECT to the top, where each
    ICP's ``matches`` ... would clash."""
    stages = {cte.alias for cte in query.ctes}
    for cte in query.ctes:
        cte.set("alias", exp.TableAlias(this=exp.to_identifier(prefix + cte.alias)))
    for table in query.find_all(exp.Table):
        if not table.db and table.name in stages:
            table.set("this", exp.to_identifier(prefix + table.name))
    for column in query.find_all(exp.Column):
        if column.table in stages:
            column.set("table", exp.to_identifier(prefix + column.table))


def _identifier(column: str | exp.Identifier) -> exp.Identifier:
    """A carried column's name: as read when given as an identifier, else quoted."""
    if isinstance(column, exp.Identifier):
        return column.copy()
    return exp.to_identifier(column, quoted=True)


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
