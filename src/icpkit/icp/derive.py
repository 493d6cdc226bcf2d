"""Deriving the ICP from the won-versus-lost evidence: boundary, fit, intent, exclusions.

Every criterion carries the evidence of the cut it names (re-measured on the merged cut
when adjacent buckets are merged, e.g. 51-200 and 201-500 employees) and a rationale
sentence generated from those numbers.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import re
from typing import Any, Literal

import duckdb
import numpy as np

from icpkit.analysis import stats
from icpkit.analysis.frame import MISSING, NONE_SEEN, Frame
from icpkit.analysis.lift import LiftResult, LiftRow
from icpkit.config import AnalysisSettings
from icpkit.icp.model import ICP, Criterion, Evidence, Exclusion, ICPError, IntentSignal

_RANGE = re.compile(r"^([\d,]+)-([\d,]+)$")
_OPEN = re.compile(r"^([\d,]+)\+$")
_WINDOW = re.compile(r"^(\d+)-(\d+)d$")
_WINDOW_OPEN = re.compile(r"^(\d+)d\+$")


def slug(text: str) -> str:
    """An id from words: 'tech:HubSpot' -> 'tech-hubspot'."""
    return re.sub(r"[^a-z0-9]+", "-", text.casefold()).strip("-")


def _number(text: str) -> int:
    return int(text.replace(",", ""))


def _bounds(value: str) -> tuple[int | None, int | None]:
    if m := _RANGE.match(value):
        return _number(m[1]), _number(m[2])
    if m := _OPEN.match(value):
        return _number(m[1]), None
    return None, None


def _window(value: str) -> tuple[int, int] | None:
    if m := _WINDOW.match(value):
        return int(m[1]), int(m[2])
    if m := _WINDOW_OPEN.match(value):
        return int(m[1]), 10_000
    return None


def _runs(rows: list[LiftRow], order: list[str], verdict: str) -> list[list[LiftRow]]:
    """Runs of adjacent values (in the attribute's order) that share ``verdict``."""
    by_value = {r.value: r for r in rows}
    runs: list[list[LiftRow]] = []
    current: list[LiftRow] = []
    for value in order:
        row = by_value.get(value)
        if row is not None and row.verdict == verdict:
            current.append(row)
        elif current:
            runs.append(current)
            current = []
    if current:
        runs.append(current)
    return runs


def _evidence(
    frame: Frame, attribute: str, values: tuple[str, ...], result: LiftResult, rows: list[LiftRow]
) -> Evidence:
    """Re-measure the merged cut of ``values`` against the rest of the attribute."""
    cuts = frame.cuts[attribute]
    inside = [c for c in cuts if c.value in values]
    outside = [c for c in cuts if c.value not in values]
    wins = np.concatenate([c.wins for c in inside + outside])
    deals = np.concatenate([c.deals for c in inside + outside])
    in_group = np.concatenate(
        [np.ones(len(c.wins), bool) for c in inside]
        + [np.zeros(len(c.wins), bool) for c in outside]
    )
    comparison = stats.rate_difference(wins, deals, in_group)
    n_closed = int(sum(c.n_closed for c in inside))
    won = int(sum(c.n_won for c in inside))
    rate = stats.clustered_rate(
        np.concatenate([c.wins for c in inside]), np.concatenate([c.deals for c in inside])
    )
    n_lost_total = result.n_closed - result.n_won
    q = max(r.q_value for r in rows) if len(rows) > 1 else rows[0].q_value
    return Evidence(
        n_closed=n_closed,
        wins=won,
        win_rate=_r(rate.rate),
        win_rate_ci=_interval(rate.low, rate.high),
        base_rate=_r(result.base_rate),
        lift=_finite(comparison.lift),
        lift_ci=_interval(*comparison.lift_ci),
        q_value=_finite(q, 6),
        woe=_finite(stats.weight_of_evidence(won, n_closed - won, result.n_won, n_lost_total)),
        iv=_finite(result.information_value.get(attribute, math.nan)),
        share_won=_r(won / result.n_won) if result.n_won else None,
        share_lost=_r((n_closed - won) / n_lost_total) if n_lost_total else None,
        n_accounts=int(sum(len(c.accounts) for c in inside)),
        test=comparison.test,
    )


def _r(x: float, digits: int = 4) -> float:
    return float(round(x, digits)) if x is not None and not math.isnan(x) else math.nan


def _finite(x: float | None, digits: int = 4) -> float | None:
    """A statistic the data can tell, or None when it is not computable (no NaN, no infinity):
    a cut whose rest has no win has no finite lift."""
    if x is None or not math.isfinite(x):
        return None
    return float(round(x, digits))


def _interval(low: float, high: float) -> tuple[float, float] | None:
    """An interval only when both ends are finite."""
    a, b = _finite(low), _finite(high)
    return (a, b) if a is not None and b is not None else None


def _describe(attribute: str, values: tuple[str, ...]) -> str:
    """Plain words for a cut: '51-200 employees', 'industry Software', 'uses HubSpot'."""
    if attribute == "employees":
        lows = [_bounds(v)[0] for v in values]
        highs = [_bounds(v)[1] for v in values]
        low = min(x for x in lows if x is not None) if any(x is not None for x in lows) else None
        high = None if any(h is None for h in highs) else max(h for h in highs if h is not None)
        span = f"{low:,}+" if high is None else f"{low:,}-{high:,}"
        return f"{span} employees"
    if attribute.startswith("tech:"):
        tool = attribute.removeprefix("tech:")
        return f"uses {tool}" if values == ("yes",) else f"does not use {tool}"
    if attribute.startswith("extra:"):
        return f"{attribute.removeprefix('extra:')} {' or '.join(values)}"
    return f"{attribute.replace('_', ' ')} {' or '.join(values)}"


def _rationale(subject: str, ev: Evidence, what: str = "the win rate of the rest") -> str:
    lift = ev.lift if ev.lift is not None else math.nan
    low, high = ev.lift_ci if ev.lift_ci else (math.nan, math.nan)
    return (
        f"{subject}: {lift:.1f}x {what}, 95% CI {low:.1f}-{high:.1f}x, "
        f"n={ev.n_closed:,} closed deals ({ev.win_rate:.0%} won vs {ev.base_rate:.0%} overall)"
    )


class NoUsableDeals(ICPError):
    """No closed new-business deal with an account: there is nothing to derive an ICP from."""


def no_usable_deals_reason(con: duckdb.DuckDBPyConnection) -> str | None:
    """Why the store holds no closed new-business deal linked to an account, or None when it
    holds at least one: 'none of the 1,200 closed deals is linked to an account ...'."""
    row = con.execute(
        """SELECT count(*),
                  count(*) FILTER (WHERE outcome IN ('won', 'lost')),
                  count(*) FILTER (WHERE outcome IN ('won', 'lost') AND NOT is_expansion),
                  count(*) FILTER (WHERE outcome IN ('won', 'lost') AND NOT is_expansion
                                   AND account_key IS NOT NULL),
                  count(*) FILTER (WHERE account_key IS NOT NULL)
           FROM deals"""
    ).fetchall()[0]
    total, closed, new_business, usable, linked = (int(x or 0) for x in row)
    if usable:
        return None
    accounts = int(con.execute("SELECT count(*) FROM accounts").fetchall()[0][0])
    if not total:
        return (
            f"the workspace holds no deals ({accounts:,} accounts): ingest a deals export "
            "with won and lost deals first (icp ingest deals.csv)"
        )
    if not closed:
        return (
            f"{_none_is(total, 'deals', 'closed')} (won or lost): the ICP is learned from "
            "outcomes; check that the stage or outcome column was recognized (icp ingest "
            "--dry-run)"
        )
    if not new_business:
        return (
            f"all {closed:,} closed deals are expansion deals: the ICP is learned from "
            "new-business deals"
        )
    if not linked:
        return (
            f"{_none_is(total, 'deals', 'linked to an account')} ({accounts:,} accounts in the "
            "workspace): map the deals' company column (ingest.mapping) and ingest again; "
            "icp ingest --dry-run shows the mapping"
        )
    return (
        f"{_none_is(new_business, 'closed new-business deals', 'linked to an account')} "
        f"({linked:,} of {total:,} deals are): map the deals' company column "
        "(ingest.mapping) and ingest again"
    )


def _none_is(n: int, things: str, what: str) -> str:
    """'none of the 3 deals is closed' or, for one, 'the only deal is not closed'."""
    if n == 1:
        return f"the only {things.removesuffix('s')} is not {what}"
    return f"none of the {n:,} {things} is {what}"


def no_rule_reason(icp: ICP, settings: AnalysisSettings) -> str | None:
    """'no rule passed: ...' when the derived ICP has no fit, intent or exclusion rule (a
    boundary alone scores nobody), else None."""
    if icp.fit or icp.intent or icp.exclusions:
        return None
    closed = int(icp.method.get("closed_deals", 0) or 0)
    won = int(icp.method.get("won_deals", 0) or 0)
    return (
        f"no rule passed: on {closed:,} closed deals ({won:,} won) no attribute value wins or "
        f"loses significantly more often than the rest (q < {settings.alpha:g}, lift of at "
        f"least {settings.min_lift:g}x, {settings.min_closed_deals} closed deals per cut); "
        "every account will score the same. Derive again on more data"
    )


def data_fingerprint(con: duckdb.DuckDBPyConnection) -> str:
    """Hash of the deals and accounts the derivation read, to tell when the data changed."""
    rows = con.execute(
        """SELECT (SELECT count(*) FROM deals), (SELECT count(*) FROM accounts),
                  (SELECT coalesce(sum(hash(deal_key, outcome, account_key, amount)), 0)
                     FROM deals),
                  (SELECT coalesce(sum(hash(account_key, employees, industry, country,
                                            technologies)), 0) FROM accounts),
                  (SELECT count(*) FROM signals),
                  (SELECT coalesce(sum(hash(signal_key, account_key)), 0) FROM signals)"""
    ).fetchall()
    return hashlib.sha256(repr(rows).encode()).hexdigest()[:16]


def derive_icp(
    frame: Frame, result: LiftResult, settings: AnalysisSettings, fingerprint: str
) -> ICP:
    """The ICP the evidence supports, with nothing the evidence does not."""
    fit: list[Criterion] = []
    exclusions: list[Exclusion] = []
    intent: list[IntentSignal] = []
    boundary: list[Criterion] = []
    notes = list(result.warnings)
    if (kept := frame.unanalyzed_note()) is not None:
        notes.append(kept)
    by_attr: dict[str, list[LiftRow]] = {}
    for r in result.rows:
        if r.value not in (MISSING, NONE_SEEN):
            by_attr.setdefault(r.attribute, []).append(r)
    attrs = {a.name: a for a in frame.attributes}

    for name, rows in by_attr.items():
        attr = attrs[name]
        order = [c.value for c in frame.cuts[name]]
        if attr.family == "intent":
            intent.extend(_intent(frame, name, rows, order, result))
            continue
        for verdict in ("discriminator", "disqualifier"):
            runs = (
                _runs(rows, order, verdict)
                if attr.kind == "ordinal"
                else [[r] for r in rows if r.verdict == verdict]
            )
            for run in runs:
                values = tuple(r.value for r in run)
                if attr.kind == "binary" and values != ("yes",):
                    continue
                ev = _evidence(frame, name, values, result, run)
                subject = _describe(name, values)
                if verdict == "discriminator":
                    fit.append(_criterion(name, values, "positive", ev, subject))
                else:
                    churn = all(r.why.startswith("churns") for r in run)
                    exclusions.append(_exclusion(name, values, ev, subject, churn, run))
    boundary.extend(_boundary(frame, by_attr, exclusions, result))
    notes.extend(_volume_notes(frame, by_attr))
    return ICP(
        schema_version=1,
        version=0,
        derived_at=dt.datetime.now(dt.UTC).replace(microsecond=0),
        data_fingerprint=fingerprint,
        method={
            "alpha": settings.alpha,
            "min_closed_deals": settings.min_closed_deals,
            "min_lift": settings.min_lift,
            "closed_deals": result.n_closed,
            "won_deals": result.n_won,
            "accounts": result.n_accounts,
        },
        boundary=boundary,
        fit=sorted(fit, key=lambda c: c.id),
        intent=sorted(intent, key=lambda s: s.id),
        exclusions=sorted(exclusions, key=lambda e: e.id),
        notes=notes,
    )


def _range_fields(attribute: str, values: tuple[str, ...]) -> dict[str, Any]:
    if attribute == "employees" and all(_bounds(v) != (None, None) for v in values):
        lows = [_bounds(v)[0] for v in values]
        highs = [_bounds(v)[1] for v in values]
        high = None if any(h is None for h in highs) else max(h for h in highs if h is not None)
        return {"min": min(x for x in lows if x is not None), "max": high}
    if attribute.startswith("tech:"):
        return {"values": [attribute.removeprefix("tech:")]}
    return {"values": list(values)}


def _attribute_name(attribute: str) -> str:
    return "tech" if attribute.startswith("tech:") else attribute


def _criterion(
    attribute: str,
    values: tuple[str, ...],
    direction: Literal["positive", "negative"],
    ev: Evidence,
    subject: str,
) -> Criterion:
    return Criterion(
        id=slug(f"{_attribute_name(attribute)} {' '.join(_range_text(attribute, values))}"),
        attribute=_attribute_name(attribute),
        direction=direction,
        evidence=ev,
        rationale=_rationale(subject, ev),
        source="derived",
        **_range_fields(attribute, values),
    )


def _range_text(attribute: str, values: tuple[str, ...]) -> list[str]:
    fields = _range_fields(attribute, values)
    if "values" in fields:
        return [str(v) for v in fields["values"]]
    return [str(fields["min"]), str(fields["max"] or "plus")]


def _exclusion(
    attribute: str,
    values: tuple[str, ...],
    ev: Evidence,
    subject: str,
    churn: bool,
    run: list[LiftRow],
) -> Exclusion:
    if churn:
        row = run[0]
        rationale = (
            f"{subject}: customers churn {row.churn_lift:.1f}x as often as others "
            f"({row.churn_rate:.0%} churned, q={row.churn_q_value:.2g})"
        )
    else:
        rationale = _rationale(subject, ev)
    return Exclusion(
        id=slug(f"{_attribute_name(attribute)} {' '.join(_range_text(attribute, values))}"),
        attribute=_attribute_name(attribute),
        kind="churn" if churn else "disqualifier",
        evidence=ev,
        rationale=rationale,
        source="derived",
        **_range_fields(attribute, values),
    )


def _intent(
    frame: Frame, name: str, rows: list[LiftRow], order: list[str], result: LiftResult
) -> list[IntentSignal]:
    """Each run of adjacent recency bins that predict wins becomes a signal with a window."""
    signals: list[IntentSignal] = []
    _, signal_type, detail = name.split(":", 2)
    for run in _runs(rows, order, "discriminator"):
        windows = [w for w in (_window(r.value) for r in run) if w is not None]
        if not windows:
            continue
        start, end = windows[0][0], windows[-1][1]
        values = tuple(r.value for r in run)
        ev = _evidence(frame, name, values, result, run)
        shown_end = "or more" if end >= 10_000 else f"{end}"
        subject = (
            f"{signal_type.replace('_', ' ')} '{detail}' {start} to {shown_end} days "
            "before the deal"
        )
        signals.append(
            IntentSignal(
                id=slug(f"{signal_type} {detail} {start} {min(end, 9999)}"),
                signal=signal_type,
                detail_in=[detail],
                window_days=(start, min(end, 3650)),
                evidence=ev,
                rationale=_rationale(subject, ev),
                source="derived",
            )
        )
    return signals


def _boundary(
    frame: Frame, by_attr: dict[str, list[LiftRow]], exclusions: list[Exclusion], result: LiftResult
) -> list[Criterion]:
    """Who could fit at all: the employee floor above disqualified small sizes, and the
    countries where the company has won."""
    out: list[Criterion] = []
    employees = by_attr.get("employees", [])
    order = [c.value for c in frame.cuts.get("employees", [])]
    floor = None
    for value in order:
        row = next((r for r in employees if r.value == value), None)
        if row is None:
            continue
        if row.verdict == "disqualifier":
            _, high = _bounds(value)
            floor = (high or 0) + 1
        else:
            break
    if floor is not None:
        ev = _evidence(
            frame,
            "employees",
            tuple(r.value for r in employees if (_bounds(r.value)[0] or 0) >= floor),
            result,
            employees,
        )
        out.append(
            Criterion(
                id="employees-floor",
                attribute="employees",
                min=floor,
                direction="positive",
                evidence=ev,
                source="derived",
                rationale=f"below {floor:,} employees the company wins "
                "significantly less: the firmographic floor",
            )
        )
    countries = [
        r for r in by_attr.get("country", []) if r.wins > 0 and r.verdict != "disqualifier"
    ]
    if countries:
        values = tuple(sorted(r.value for r in countries))
        ev = _evidence(frame, "country", values, result, countries)
        out.append(
            Criterion(
                id="country-served",
                attribute="country",
                values=list(values),
                direction="positive",
                evidence=ev,
                source="derived",
                rationale=f"countries with won deals ({len(values)}); "
                "elsewhere there is no evidence either way",
            )
        )
    return out


def _volume_notes(frame: Frame, by_attr: dict[str, list[LiftRow]]) -> list[str]:
    """Where volume and win rate disagree: the segment worked most is not the best."""
    notes: list[str] = []
    for name in ("employees", "industry"):
        rows = by_attr.get(name, [])
        if len(rows) < 2:
            continue
        most = max(rows, key=lambda r: r.wins)
        best = max(rows, key=lambda r: r.win_rate if not r.thin else -1)
        if most.value != best.value:
            notes.append(
                f"{name} {most.value} brings the most wins ({most.wins:,}) at a "
                f"{most.win_rate:.0%} win rate; {best.value} wins {best.win_rate:.0%} of the "
                "deals worked. Volume follows where sales worked, not where it wins."
            )
    return notes


__all__ = [
    "NoUsableDeals",
    "data_fingerprint",
    "derive_icp",
    "no_rule_reason",
    "no_usable_deals_reason",
    "slug",
]
