"""TAM sizing: how many accounts of a company universe the ICP describes, and what-ifs.

The universe is scored with the ICP (the same compiled SELECT as ``icp score``). Accounts
matching an exclusion, or outside the boundary, are not in the market served; of the market,
the TAM is the accounts that match the ICP's profile: on every attribute with positive fit
criteria, at least one of them (51-200 employees AND Software AND uses HubSpot). A what-if
widens a numeric range of the profile, scores the universe again, and sets the larger TAM
against what the workspace's own deals say about win rates in the band it adds::

    result = ws.tam(Path("universe.parquet"), widen={"employees": (20, 500)})
    print(result.current.tam, result.widened.tam, result.win_rates.change)
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

from icpkit.analysis.stats import RateEstimate, clustered_rate
from icpkit.attributes import number_sql, numeric_names
from icpkit.config import AnalysisSettings, Settings, TamSettings
from icpkit.engines.features import condition_sql
from icpkit.engines.prospects import score_file
from icpkit.engines.score import outside_text, reason_text
from icpkit.engines.scorecard import NO_RULES
from icpkit.errors import IcpkitError
from icpkit.icp.model import ICP, Criterion, format_number, slugify
from icpkit.operate.universe import VIEW, create_view, open_universe, scratch
from icpkit.output.files import temp_folder
from icpkit.store.db import attach_read_only, literal, path_literal
from icpkit.vocabulary import ROUTES, TIERS

Range = tuple[float | None, float | None]
NOTHING_DISCRIMINATES = (
    f"{NO_RULES}. Nothing in the ICP tells one account from another, so there is no TAM to "
    "size: the market served (the universe less what the boundary leaves out) is counted, "
    "nothing more"
)

NO_PROFILE = "the ICP has no rules, so nothing tells the TAM apart from the market"
NO_DEALS = "no closed deals in these ranges"
COUNTED = (
    ("companies in the universe", "universe"),
    ("excluded by the ICP", "excluded"),
    ("outside the market served", "outside"),
    ("market served", "market"),
    ("TAM (match the profile)", "tam"),
    ("  already customers", "customers"),
    ("  prospects", "prospects"),
)
"""The counts of a TAM, in the order a table lists them, each with its label."""


class TamError(IcpkitError):
    """A TAM cannot be sized as asked; the message says what is allowed."""


@dataclass(frozen=True)
class TamCount:
    """One ICP's view of a universe: market served, TAM, and the TAM by tier and route.

    Accounts are counted once per account_key; ``tam`` includes the customers already won.
    """

    universe: int
    excluded: int
    outside: int
    market: int
    tam: int
    customers: int
    tiers: dict[str, int]
    routes: dict[str, int]
    profile: tuple[str, ...]

    @property
    def prospects(self) -> int:
        """Accounts of the TAM not yet won."""
        return self.tam - self.customers


@dataclass(frozen=True)
class WinRates:
    """Win rate of the workspace's closed new-business deals whose account lies inside the
    old ranges, inside the new ones, and in the band the new ranges add (account-clustered
    95% intervals: an account's deals are not independent)."""

    old: RateEstimate
    new: RateEstimate
    added: RateEstimate

    @property
    def change(self) -> float:
        """Expected change in win rate from widening: new minus old (NaN when unknown)."""
        return self.new.rate - self.old.rate


@dataclass(frozen=True)
class TamResult:
    """The TAM of a universe under the current ICP and, with a what-if, under the widened one."""

    universe: Path
    as_of: dt.date
    current: TamCount
    warnings: list[str]
    widened: TamCount | None = None
    ranges: dict[str, tuple[Range, Range]] = field(default_factory=dict)
    win_rates: WinRates | None = None
    # False when the ICP has no rules: the market served is counted, no TAM is sized.
    discriminates: bool = True

    def rows(self, *, readable: bool = False) -> list[dict[str, Any]]:
        """The TAM as rows of measure, current and (with a what-if) widened: the counts, the
        TAM by tier and route, then the win rates of the deals behind the widening.

        Values are numbers, or with ``readable`` text for a person. A value that cannot be
        computed is None with its reason in ``<column>_reason``: the TAM of an ICP without
        rules (the rows stop there), a win rate without closed deals."""
        widened = self.widened
        rows: list[dict[str, Any]] = []

        def add(measure: str, current: Any, wider: Any) -> None:
            rows.append({"measure": measure, "current": current, "widened": wider})

        for label, name in COUNTED:
            if not self.discriminates and name == "tam":
                # Nothing discriminates: no TAM, tiers or routes presented as if meaningful.
                add(label, None, None)
                rows[-1]["current_reason"] = NO_PROFILE
                break
            add(label, int(getattr(self.current, name)), widened and int(getattr(widened, name)))
        for tier in self.current.tiers if self.discriminates else ():
            add(f"  tier {tier}", self.current.tiers[tier], widened and widened.tiers[tier])
        for route in self.current.routes if self.discriminates else ():
            add(f"  route {route}", self.current.routes[route], widened and widened.routes[route])
        if (rates := self.win_rates) is not None:
            old = ", ".join(_span(a, r[0]) for a, r in self.ranges.items())
            new = ", ".join(_span(a, r[1]) for a, r in self.ranges.items())
            add(f"win rate of deals in {old} / {new}", rates.old, rates.new)
            add("win rate of deals in the band added", None, rates.added)
            add("expected change in win rate", None, rates.change)
        if widened is None:
            for row in rows:
                del row["widened"]
        return [_shown(row, readable) for row in rows]


def _shown(row: dict[str, Any], readable: bool) -> dict[str, Any]:
    """A row of :meth:`TamResult.rows` with its values as numbers or text, a value that
    cannot be computed None and its reason after the values."""
    out: dict[str, Any] = {}
    reasons: dict[str, str] = {}
    for key, value in row.items():
        if key == "measure" or key.endswith("_reason"):
            out[key] = value
            continue
        number = value.rate if isinstance(value, RateEstimate) else value
        if isinstance(number, float) and not math.isfinite(number):
            out[key] = None
            reasons[f"{key}_reason"] = NO_DEALS
        elif not readable or f"{key}_reason" in row:
            out[key] = number
        elif isinstance(value, RateEstimate):
            out[key] = _rate_text(value)
        elif isinstance(value, float):
            out[key] = f"{value:+.1%}"  # the expected change in win rate
        else:
            out[key] = "" if value is None else f"{value:,}"
    return out | reasons


def _span(attribute: str, bounds: Range) -> str:
    """A range as a table row names it: 'employees 20-500', 'revenue 1M+'."""
    low, high = bounds
    if low is not None and high is not None:
        return f"{attribute} {format_number(low)}-{format_number(high)}"
    if low is not None:
        return f"{attribute} {format_number(low)}+"
    return f"{attribute} up to {format_number(high)}" if high is not None else attribute


def _rate_text(rate: RateEstimate) -> str:
    """A win rate with its interval and the deals and accounts behind it."""
    if not (math.isfinite(rate.low) and math.isfinite(rate.high)):
        return f"{rate.rate:.0%} ({rate.n_deals:,} deals, {rate.n_accounts:,} accounts)"
    return (
        f"{rate.rate:.0%} ({rate.low:.0%}-{rate.high:.0%}; {rate.n_deals:,} deals, "
        f"{rate.n_accounts:,} accounts)"
    )


def size_tam(
    icp: ICP,
    settings: Settings,
    root: Path,
    store_path: Path,
    universe: Path,
    *,
    as_of: dt.date | None = None,
    widen: Mapping[str, tuple[float, float]] | None = None,
) -> TamResult:
    """Size the TAM of ``universe`` with ``icp`` (a workspace's at ``root``, its store at
    ``store_path``); with ``widen`` ({"employees": (20, 500)}) also with that range in place
    of the profile's, and the win rates of the store's deals behind it."""
    day = as_of or dt.date.today()
    path = Path(universe)
    # Scored rows go to disk next to the store, not to memory (or a small /tmp).
    with temp_folder(root) as tmp:
        out = tmp / "scored.parquet"
        # A raw export is read once, through ingestion, into a file in the input layout.
        read = open_universe(path, settings, store_path, icp, workdir=tmp)
        scored = score_file(read.path, icp, settings, store_path, as_of=day, out=out)
        current = count_tam(settings, root, read.path, icp, out)
        if scored.scorecard.flat:
            # No rule: the 'TAM' would be the market served, not a profile's share of it.
            if widen:
                widen_icp(icp, widen)  # raises, naming the ranges there are to widen (none)
            return TamResult(
                path, day, current, [*read.warnings(), NOTHING_DISCRIMINATES], discriminates=False
            )
        warnings = read.warnings() + tam_warnings(current.tam, settings.tam)
        if not widen:
            return TamResult(path, day, current, warnings)
        wider, ranges = widen_icp(icp, widen)
        score_file(read.path, wider, settings, store_path, as_of=day, out=out)
        widened = count_tam(settings, root, read.path, wider, out)
    warnings += [f"widened: {w}" for w in tam_warnings(widened.tam, settings.tam)]
    con = scratch(settings.store, root)
    try:
        attach_read_only(con, store_path)
        rates = deal_win_rates(con, ranges, schema="ws.")
    finally:
        con.close()
    return TamResult(path, day, current, warnings, widened, ranges, rates)


def tam_warnings(tam: int, settings: TamSettings) -> list[str]:
    """Why a TAM of ``tam`` accounts is a poor target, if it is: too broad or too narrow."""
    if tam > settings.too_broad:
        return [
            f"TAM of {tam:,} accounts is above tam.too_broad ({settings.too_broad:,}): too broad "
            "to drive outbound; narrow the profile, or work it tier by tier"
        ]
    if tam < settings.too_narrow:
        return [
            f"TAM of {tam:,} accounts is below tam.too_narrow ({settings.too_narrow:,}): too "
            "narrow to fill the pipeline; widen the profile (a what-if shows the cost) or size "
            "a larger universe"
        ]
    return []


def profile(icp: ICP) -> dict[str, list[Criterion]]:
    """The ICP's positive fit criteria by attribute: the TAM matches one of each (a Missing
    bin is no part of the profile: an unknown value is not a value the ICP wants)."""
    groups: dict[str, list[Criterion]] = {}
    for c in icp.fit:
        if c.direction == "positive" and not c.missing:
            groups.setdefault(c.attribute, []).append(c)
    return groups


def profile_text(icp: ICP) -> tuple[str, ...]:
    """The profile in words, one entry per attribute: ('51-200 employees', 'Uses HubSpot')."""
    return tuple(" or ".join(reason_text(c) for c in group) for group in profile(icp).values())


def profile_sql(icp: ICP, analysis: AnalysisSettings) -> str:
    """SQL true for an account (alias ``a``) matching the profile; TRUE when there is none."""
    groups = [
        " OR ".join(
            condition_sql(c, analysis, f"fit {c.id}", as_of="CURRENT_DATE", extra_columns=True)
            for c in group
        )
        for group in profile(icp).values()
    ]
    return " AND ".join(f"({g})" for g in groups) or "TRUE"


def count_tam(settings: Settings, root: Path, universe: Path, icp: ICP, scored: Path) -> TamCount:
    """Count the market and the TAM of ``universe`` from its rows as ``icp`` scored them
    (``scored``: the scorer's Parquet output), one pass over each."""
    outside = " OR ".join(
        f"contains(coalesce(negative_reasons, ''), {literal(outside_text(b.id))})"
        for b in icp.boundary
    )
    con = scratch(settings.store, root)
    try:
        create_view(con, universe, icp)
        combos = con.execute(
            f"""WITH flags AS (
                  SELECT account_key, bool_or({profile_sql(icp, settings.analysis)}) AS fits
                  FROM {VIEW} AS a GROUP BY account_key),
                scored AS (
                  SELECT account_key, any_value(tier) AS tier, any_value(route) AS route,
                         bool_or(customer) AS customer, bool_or(route = 'never') AS excluded,
                         bool_or({outside or "FALSE"}) AS outside
                  FROM read_parquet({path_literal(scored)}) GROUP BY account_key)
                SELECT s.tier, s.route, coalesce(s.customer, FALSE), s.excluded, s.outside,
                       coalesce(f.fits, FALSE), count(*)
                FROM scored s LEFT JOIN flags f USING (account_key)
                GROUP BY ALL"""
        ).fetchall()
    finally:
        con.close()
    return tally(combos, profile_text(icp))


def tally(
    combos: list[tuple[str, str, bool, bool, bool, bool, int]], words: tuple[str, ...]
) -> TamCount:
    """A TamCount from counts of (tier, route, customer, excluded, outside, fits profile)."""
    counts = dict.fromkeys(("universe", "excluded", "outside", "market", "tam", "customers"), 0)
    tiers = dict.fromkeys(TIERS, 0)
    routes = dict.fromkeys(ROUTES, 0)
    for tier, route, customer, excluded, outside, fits, n in combos:
        counts["universe"] += n
        if excluded:
            counts["excluded"] += n
            continue
        if outside:
            counts["outside"] += n
            continue
        counts["market"] += n
        if fits:
            counts["tam"] += n
            counts["customers"] += n if customer else 0
            tiers[tier] = tiers.get(tier, 0) + n
            routes[route] = routes.get(route, 0) + n
    return TamCount(**counts, tiers=tiers, routes=routes, profile=words)


def widen_icp(
    icp: ICP, widen: Mapping[str, tuple[float, float]]
) -> tuple[ICP, dict[str, tuple[Range, Range]]]:
    """``icp`` with each attribute's positive fit range replaced by the given one, and each
    boundary range on it stretched to hold it; returns the ICP and attribute -> (old, new).

    Example: employees 51-200 widened to (20, 500) fits 20-500; a boundary 'employees >= 11'
    already holds it and stays. Points stay those learned for the old range.
    """
    fit = list(icp.fit)
    boundary = list(icp.boundary)
    ranges: dict[str, tuple[Range, Range]] = {}
    taken = {r.id for r in icp.boundary} | {r.id for r in icp.fit} | {r.id for r in icp.exclusions}
    for attribute, bounds in widen.items():
        low, high = float(bounds[0]), float(bounds[1])
        if number_sql(attribute) is None:
            raise TamError(
                f"widen {attribute}: only numeric attributes have a range to widen "
                f"(allowed: {', '.join(sorted(numeric_names()))})"
            )
        if not (math.isfinite(low) and math.isfinite(high)) or low > high:
            raise TamError(
                f"widen {attribute}: needs low <= high; got {format_number(low)} > "
                f"{format_number(high)}"
                if low > high
                else f"widen {attribute}: needs finite bounds; got ({low}, {high})"
            )
        positions = [
            i
            for i, c in enumerate(fit)
            if c.attribute == attribute
            and c.direction == "positive"
            and c.values is None
            and not c.missing
        ]
        if not positions:
            have = sorted(
                {
                    c.attribute
                    for c in icp.fit
                    if c.direction == "positive" and c.values is None and not c.missing
                }
            )
            raise TamError(
                f"widen {attribute}: the ICP has no positive range criterion on {attribute} "
                f"(it has ranges on: {', '.join(have) or 'none'})"
            )
        first = fit[positions[0]]
        ranges[attribute] = ((first.min, first.max), (low, high))
        new_id = slugify(f"{attribute}-{format_number(low)}-{format_number(high)}")
        if new_id in taken and new_id != first.id:
            new_id = f"{new_id}-widened"
        fit[positions[0]] = first.model_copy(
            update={"id": new_id, "min": low, "max": high, "evidence": None}
        )
        # One criterion holds the new range; other positive ranges on it would count twice.
        fit = [c for i, c in enumerate(fit) if i not in positions[1:]]
        boundary = [_stretch(b, attribute, low, high) for b in boundary]
    return icp.model_copy(update={"fit": fit, "boundary": boundary}), ranges


def _stretch(rule: Criterion, attribute: str, low: float, high: float) -> Criterion:
    """A boundary range on ``attribute`` stretched to hold low..high; other rules as they are."""
    if rule.attribute != attribute or rule.values is not None:
        return rule
    new_min = None if rule.min is None else min(rule.min, low)
    new_max = None if rule.max is None else max(rule.max, high)
    return rule.model_copy(update={"min": new_min, "max": new_max})


def deal_win_rates(
    con: duckdb.DuckDBPyConnection, ranges: Mapping[str, tuple[Range, Range]], schema: str = ""
) -> WinRates:
    """Win rates of the workspace's closed new-business deals by account: inside every old
    range, inside every new one, and in the band added (see ``range_win_rates``); the store's
    tables are read under ``schema`` ('ws.' when attached as ws)."""
    attributes = list(ranges)
    # An unknown value is NaN: inside no range.
    values = ", ".join(
        f"coalesce(any_value({number_sql(a)})::DOUBLE, 'NaN'::DOUBLE) AS v{i}"
        for i, a in enumerate(attributes)
    )
    result = con.execute(
        f"""SELECT d.account_key, count(*) FILTER (d.outcome = 'won') AS wins, count(*) AS n,
                   {values}
            FROM {schema}deals d JOIN {schema}accounts a USING (account_key)
            WHERE d.outcome IN ('won', 'lost') AND NOT d.is_expansion
            GROUP BY d.account_key ORDER BY d.account_key"""
    ).fetchnumpy()
    columns = {a: np.asarray(result[f"v{i}"], dtype=float) for i, a in enumerate(attributes)}
    return range_win_rates(
        columns,
        np.asarray(result["wins"], dtype=float),
        np.asarray(result["n"], dtype=float),
        {a: old for a, (old, _) in ranges.items()},
        {a: new for a, (_, new) in ranges.items()},
    )


def _inside(values: np.ndarray, bounds: Range) -> np.ndarray:
    low, high = bounds
    inside = ~np.isnan(values)
    if low is not None:
        inside &= values >= low
    if high is not None:
        inside &= values <= high
    return np.asarray(inside)


def range_win_rates(
    values: Mapping[str, np.ndarray],
    wins: np.ndarray,
    deals: np.ndarray,
    old: Mapping[str, Range],
    new: Mapping[str, Range],
) -> WinRates:
    """Pooled win rates of the accounts inside every ``old`` range, inside every ``new``
    one, and inside the new but not the old; one entry per account, unknown values inside
    neither. Example: employees 51-200 won 6/10 and 201-500 won 2/10 -> old 0.6, widened to
    20-500: new 0.4, added 0.2."""
    n = len(wins)
    in_old = np.ones(n, dtype=bool)
    in_new = np.ones(n, dtype=bool)
    for attribute, column in values.items():
        in_old &= _inside(column, old[attribute])
        in_new &= _inside(column, new[attribute])
    added = in_new & ~in_old
    return WinRates(
        clustered_rate(wins[in_old], deals[in_old]),
        clustered_rate(wins[in_new], deals[in_new]),
        clustered_rate(wins[added], deals[added]),
    )
