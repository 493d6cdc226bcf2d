"""Deriving the ICP from the won-versus-lost evidence: boundary, fit, intent, exclusions.

Every criterion carries the evidence of the cut it names (re-measured on the merged cut
when adjacent buckets are merged, e.g. 51-200 and 201-500 employees) and a rationale
sentence generated from those numbers.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import os
import re
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from statistics import NormalDist
from typing import Any, Literal

import duckdb
import numpy as np

from icpkit.analysis import post_selection, stats
from icpkit.analysis.frame import Frame, no_usable_deals_reason
from icpkit.analysis.lift import LiftResult, LiftRow, churn_thin
from icpkit.analysis.windows import (
    OPEN_END,
    SignalAges,
    Window,
    account_cells,
    estimate_window,
)
from icpkit.attributes import (
    MISSING,
    NONE_SEEN,
    count_bounds,
    describe_cut,
    rule_attribute,
    rule_fields,
)
from icpkit.config import AnalysisSettings
from icpkit.icp.describe import format_lift
from icpkit.icp.model import ICP, Criterion, Evidence, Exclusion, ICPError, IntentSignal

# Threads measuring the cuts and estimating the windows (see derive_icp).
_WORKERS = max(1, min(4, os.cpu_count() or 1))

_WINDOW = re.compile(r"^(\d+)-(\d+)d$")
_WINDOW_OPEN = re.compile(r"^(\d+)d\+$")


def slug(text: str) -> str:
    """An id from words: 'tech:HubSpot' -> 'tech-hubspot'."""
    return re.sub(r"[^a-z0-9]+", "-", text.casefold()).strip("-")


def _bounds(value: str) -> tuple[int | None, int | None]:
    return count_bounds(value)


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


def _same_test(run: list[LiftRow]) -> list[list[LiftRow]]:
    """A run split where the test behind the verdict changes (win rate or churn), so that a
    merged rule's rationale names the one test that drew all of it."""
    parts: list[list[LiftRow]] = []
    for row in run:
        if parts and parts[-1][0].why.startswith("churns") == row.why.startswith("churns"):
            parts[-1].append(row)
        else:
            parts.append([row])
    return parts


def _evidence(
    frame: Frame,
    attribute: str,
    values: tuple[str, ...],
    result: LiftResult,
    rows: list[LiftRow],
    settings: AnalysisSettings | None = None,
) -> Evidence:
    """Re-measure the merged cut of ``values`` against the rest of the attribute; when its
    rows were chosen by their win-rate test, the lift and interval are adjusted for that
    selection (``adjust_for_selection``; ``settings`` gives alpha and min_lift, the
    defaults when not given)."""
    cuts = frame.cuts[attribute]
    inside = [c for c in cuts if c.value in values]
    outside = [c for c in cuts if c.value not in values]
    wins = np.concatenate([c.wins for c in inside + outside])
    deals = np.concatenate([c.deals for c in inside + outside])
    in_group = np.concatenate(
        [np.ones(len(c.wins), bool) for c in inside]
        + [np.zeros(len(c.wins), bool) for c in outside]
    )
    accounts = _distinct(np.concatenate([c.accounts for c in inside]))
    q = max(r.q_value for r in rows) if len(rows) > 1 else rows[0].q_value
    measured, p_value = _measure(
        wins,
        deals,
        in_group,
        n_accounts=int(accounts),
        q=q,
        iv=result.information_value.get(attribute, math.nan),
        result=result,
    )
    return adjust_for_selection(measured, rows, result, settings or AnalysisSettings(), p_value)


def _distinct(accounts: np.ndarray) -> int:
    """How many distinct accounts ``accounts`` (their numbers, from 0) holds: np.unique's
    count, by marking each once rather than sorting or hashing them."""
    if accounts.size == 0:
        return 0
    seen = np.zeros(int(accounts.max()) + 1, dtype=bool)
    seen[accounts] = True
    return int(np.count_nonzero(seen))


def _measure(
    wins: np.ndarray,
    deals: np.ndarray,
    in_group: np.ndarray,
    *,
    n_accounts: int,
    q: float,
    iv: float,
    result: LiftResult,
    n_won: int | None = None,
    n_lost: int | None = None,
) -> tuple[Evidence, float]:
    """A cut (``in_group`` cells of per-account ``wins`` of ``deals``) against the rest, as
    measured, and the p-value of its win-rate test. ``n_won``/``n_lost`` are the totals its
    shares are of (the lift table's when not given)."""
    comparison = stats.rate_difference(wins, deals, in_group)
    n_closed = int(deals[in_group].sum())
    won = int(wins[in_group].sum())
    rate = stats.clustered_rate(wins[in_group], deals[in_group])
    total_won = result.n_won if n_won is None else n_won
    total_lost = result.n_closed - result.n_won if n_lost is None else n_lost
    measured = Evidence(
        n_closed=n_closed,
        wins=won,
        win_rate=_r(rate.rate),
        win_rate_ci=_interval(rate.low, rate.high),
        base_rate=_r(result.base_rate),
        lift=_finite(comparison.lift),
        lift_ci=_interval(*comparison.lift_ci),
        q_value=_finite(q, 6),
        woe=_finite(stats.weight_of_evidence(won, n_closed - won, total_won, total_lost)),
        iv=_finite(iv),
        share_won=_r(won / total_won) if total_won else None,
        share_lost=_r((n_closed - won) / total_lost) if total_lost else None,
        n_accounts=n_accounts,
        test=comparison.test,
    )
    return measured, comparison.p_value


def adjust_for_selection(
    evidence: Evidence,
    rows: list[LiftRow],
    result: LiftResult,
    settings: AnalysisSettings,
    p_value: float | None = None,
) -> Evidence:
    """``evidence`` with its lift and interval adjusted for the selection that kept the rule,
    the measured ones moved to ``lift_observed`` and ``lift_observed_ci``.

    A rule kept because its win-rate test passed (Benjamini-Hochberg within its family, an
    interval clear of 1, a lift of at least min_lift) was measured on the data that chose it:
    its plain interval covers the truth less often than it says. The adjusted interval
    conditions on having passed (analysis/post_selection.py). A rule kept by its churn test, or
    whose lift has no finite interval, keeps the measured numbers unchanged."""
    chosen = [
        r
        for r in rows
        if r.verdict in ("discriminator", "disqualifier") and not r.why.startswith("churns")
    ]
    if not chosen or evidence.lift is None or evidence.lift_ci is None:
        return evidence
    adjusted = post_selection.selected_lift(
        evidence.lift,
        evidence.lift_ci,
        p_value=p_value,
        p_cut=_selection_cut(result, rows[0], settings),
        min_lift=settings.min_lift,
        alpha=settings.alpha,
    )
    if adjusted is None:
        return evidence
    ci = _interval(adjusted.low, adjusted.high)
    lift = _finite(adjusted.estimate)
    if ci is None or lift is None:
        return evidence
    return evidence.model_copy(
        update={
            "lift": lift,
            "lift_ci": ci,
            "lift_observed": evidence.lift,
            "lift_observed_ci": evidence.lift_ci,
        }
    )


def _selection_cut(result: LiftResult, row: LiftRow, settings: AnalysisSettings) -> float:
    """The p-value up to which Benjamini-Hochberg rejected in ``row``'s win-rate family (fit
    or intent, each controlled on its own, thin cuts counted as p = 1): the threshold its
    test had to pass."""
    intent = row.family == "intent"
    family = [
        1.0 if r.thin and not math.isnan(r.p_value) else r.p_value
        for r in result.rows
        if (r.family == "intent") == intent
    ]
    return post_selection.bh_cut(np.array(family, dtype=float), settings.alpha)


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
    """Plain words for a cut: '51-200 employees', 'industry Software', 'uses HubSpot' (as
    the attribute's definition words it)."""
    return describe_cut(attribute, values)


def _rationale(subject: str, ev: Evidence, what: str = "the win rate of the rest") -> str:
    """The rule's lift and interval in words, with its deals. A lift adjusted for the
    selection that kept the rule says so, with the lift as measured beside it."""
    rates = f"{ev.win_rate:.0%} won vs {ev.base_rate:.0%} overall"
    accounts = (
        f" from {ev.n_accounts:,} account{'s' if ev.n_accounts != 1 else ''}"
        if ev.n_accounts is not None
        else ""
    )
    counts = f"n={ev.n_closed:,} closed deals{accounts} ({rates})"
    if ev.lift is None:
        return f"{subject}: {counts}"
    text = f"{subject}: {format_lift(ev.lift)} {what}"
    adjusted = ev.lift_observed is not None
    if adjusted and format_lift(ev.lift_observed or 0.0) != format_lift(ev.lift):
        text += f" ({format_lift(ev.lift_observed or 0.0)} as measured)"
    if ev.lift_ci is not None:
        low, high = ev.lift_ci
        label = "selection-adjusted 95% CI" if adjusted else "95% CI"
        text += f", {label} {format_lift(low).removesuffix('x')}-{format_lift(high)}"
    return f"{text}, {counts}"


class NoUsableDeals(ICPError):
    """No closed new-business deal with an account: there is nothing to derive an ICP from."""


def no_rule_reason(icp: ICP, settings: AnalysisSettings) -> str | None:
    """'no rule passed: ...' when the derived ICP has no fit, intent or exclusion rule (a
    boundary alone scores nobody), else None."""
    if not is_empty(icp):
        return None
    closed = int(icp.method.get("closed_deals", 0) or 0)
    won = int(icp.method.get("won_deals", 0) or 0)
    return (
        f"no rule passed: on {closed:,} closed deals ({won:,} won) no attribute value wins or "
        f"loses significantly more often than the rest (q < {settings.alpha:g}, lift of at "
        f"least {settings.min_lift:g}x, {settings.min_closed_deals} closed deals and "
        f"{settings.min_accounts} accounts per cut); every account will score the same. "
        "Derive again on more data"
    )


def is_empty(icp: ICP) -> bool:
    """No fit, intent or exclusion rule: a boundary alone scores nobody."""
    return not (icp.fit or icp.intent or icp.exclusions)


# Share of the accounts a cut holds in the power calculation: a value held by one account in
# five, the size of a market descriptor (``analysis.descriptor_share``'s default).
POWER_CUT_SHARE = 0.2
POWER = 0.8  # chance of detecting the effect when it is real
TARGET_LIFT = 1.5


@dataclass(frozen=True)
class Detectable:
    """What these data could have found: the minimum detectable lift and the data a 1.5x
    lift would take (see docs/analysis.md, "When nothing passes")."""

    accounts: int
    closed_deals: int
    base_rate: float
    tests: int
    alpha: float
    min_lift: float | None  # None: no lift is detectable (too few accounts or base rate)
    more_closed_deals: int | None  # None: a 1.5x lift is impossible (base rate above 2/3)

    def sentences(self) -> list[str]:
        """The headline and what it would take, in plain words."""
        lines = [
            "No ICP can be derived from these data: no attribute value separates won from "
            f"lost deals at the {self.alpha:.0%} false-discovery rate."
        ]
        cut = max(1, round(self.accounts * POWER_CUT_SHARE))
        if self.min_lift is None:
            lines.append(
                f"With {self.accounts:,} accounts and a {self.base_rate:.0%} win rate, no lift "
                f"of a value held by {cut:,} accounts (one in five) would be detected."
            )
        else:
            lines.append(
                f"With {self.accounts:,} accounts and a {self.base_rate:.0%} win rate, a value "
                f"held by {cut:,} accounts (one in five) must win at least "
                f"{self.min_lift:.2f}x as often as the rest to be detected "
                f"({POWER:.0%} power, {self.tests:,} tests)."
            )
        if self.more_closed_deals is None:
            lines.append(
                f"A {TARGET_LIFT:g}x lift cannot exist at a {self.base_rate:.0%} win rate."
            )
        elif self.more_closed_deals <= 0:
            lines.append(
                f"A {TARGET_LIFT:g}x lift would be detected on these data: none exists here."
            )
        else:
            lines.append(
                f"Detecting a {TARGET_LIFT:g}x lift takes about "
                f"{self.more_closed_deals:,} more closed deals (at "
                f"{self.closed_deals / max(self.accounts, 1):.1f} per account)."
            )
        return lines


def detectable(result: LiftResult, settings: AnalysisSettings) -> Detectable:
    """Minimum detectable lift of a cut holding a fifth of the accounts, and the closed deals
    a 1.5x lift would take.

    Accounts are the independent units: a cut of m = 0.2 n accounts at win rate L p against
    the rest (n - m accounts at p) is detected when
    L p - p = (z(1 - a / 2) + z(0.8)) sqrt(L p (1 - L p) / m + p (1 - p) / (n - m)),
    where a = alpha / T, T the number of fit win-rate tests (a single real effect among T
    must reach the first Benjamini-Hochberg step). L is solved by bisection."""
    tests = max(
        1, sum(1 for r in result.rows if r.family != "intent" and not math.isnan(r.p_value))
    )
    base = result.base_rate if math.isfinite(result.base_rate) else 0.0
    accounts = result.n_accounts
    mdl = _min_lift(accounts, base, settings.alpha / tests)
    more: int | None = None
    if base > 0 and TARGET_LIFT * base < 1:
        needed = accounts
        while True:
            lift = _min_lift(needed, base, settings.alpha / tests)
            if lift is not None and lift <= TARGET_LIFT:
                break
            needed = max(needed + 1, int(needed * 1.05))
        per_account = result.n_closed / accounts if accounts else 1.0
        more = math.ceil((needed - accounts) * per_account)
    return Detectable(accounts, result.n_closed, base, tests, settings.alpha, mdl, more)


def _min_lift(accounts: int, base: float, alpha: float) -> float | None:
    """The smallest lift L detectable with ``POWER`` (see ``detectable``), or None."""
    m = accounts * POWER_CUT_SHARE
    rest = accounts - m
    if base <= 0 or base >= 1 or m < 1 or rest < 1:
        return None
    z = NormalDist().inv_cdf(1 - alpha / 2) + NormalDist().inv_cdf(POWER)

    def gap(lift: float) -> float:
        inside = lift * base
        se = math.sqrt(inside * (1 - inside) / m + base * (1 - base) / rest)
        return inside - base - z * se

    low, high = 1.0, 1.0 / base
    if gap(high) < 0:
        return None
    for _ in range(60):
        mid = (low + high) / 2
        low, high = (mid, high) if gap(mid) < 0 else (low, mid)
    return high


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
    # Contacts (the persona's evidence) count only where there are any, so a workspace
    # without contacts keeps the fingerprint it always had.
    people = con.execute(
        """SELECT count(*), coalesce(sum(hash(contact_key, account_key, seniority, department,
                                              created_at)), 0) FROM contacts"""
    ).fetchall()
    if people[0][0]:
        rows = [*rows, *people]
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
    # The signals' windows and the cuts' evidence are measured side by side (numpy releases
    # the interpreter); the rules are then made in the order of the lift table.
    with ThreadPoolExecutor(max_workers=_WORKERS) as pool:
        windows = _windows(
            frame, by_attr, {n for n, a in attrs.items() if a.family == "intent"}, settings, pool
        )
        measured = []
        for name, rows in by_attr.items():
            attr = attrs[name]
            if attr.family == "intent":
                continue
            order = [c.value for c in frame.cuts[name]]
            for verdict in ("discriminator", "disqualifier"):
                runs = (
                    _runs(rows, order, verdict)
                    if attr.kind == "ordinal"
                    else [[r] for r in rows if r.verdict == verdict]
                )
                for run in (part for whole in runs for part in _same_test(whole)):
                    values = tuple(r.value for r in run)
                    if attr.kind == "binary" and values != ("yes",):
                        continue
                    evidence = pool.submit(_evidence, frame, name, values, result, run, settings)
                    measured.append((name, values, verdict, run, evidence))
        for name, rows in by_attr.items():
            if attrs[name].family == "intent":
                order = [c.value for c in frame.cuts[name]]
                window = windows[name].result() if name in windows else None
                intent.extend(_intent(frame, name, rows, order, result, settings, window))
        for name, values, verdict, run, measuring in measured:
            ev = measuring.result()
            subject = _describe(name, values)
            if verdict == "discriminator":
                fit.append(_criterion(name, values, "positive", ev, subject))
            else:
                churn = all(r.why.startswith("churns") for r in run)
                exclusions.append(_exclusion(name, values, ev, subject, churn, run))
    boundary.extend(_boundary(frame, by_attr, exclusions, result, settings))
    notes.extend(_volume_notes(frame, by_attr, settings, result))
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
            # The search the rules were picked from (win-rate tests of cuts not too thin to
            # become a rule): the joint model's tests correct for all of it.
            "win_tests": sum(1 for r in result.rows if not (r.thin or math.isnan(r.p_value))),
            # Likewise the churn tests a churn exclusion was picked from.
            "churn_tests": sum(1 for r in result.rows if _churn_tested(r, settings)),
        },
        boundary=boundary,
        fit=sorted(fit, key=lambda c: c.id),
        intent=sorted(intent, key=lambda s: s.id),
        exclusions=sorted(exclusions, key=lambda e: e.id),
        notes=notes,
    )


def _churn_tested(row: LiftRow, settings: AnalysisSettings) -> bool:
    """Whether ``row``'s churn test could have become a churn exclusion: measured, on enough
    customers on each side."""
    p = row.churn_p_value
    return p is not None and not math.isnan(p) and not churn_thin(row, settings)


def _range_fields(attribute: str, values: tuple[str, ...]) -> dict[str, Any]:
    """The rule's values, or the min/max of the number they span (the definition says)."""
    return rule_fields(attribute, values)


def _attribute_name(attribute: str) -> str:
    """The attribute the rule names: 'tech' for a cut on 'tech:HubSpot'."""
    return rule_attribute(attribute)


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


def _detected(rows: list[LiftRow], order: list[str]) -> tuple[list[LiftRow], list[tuple[int, int]]]:
    """A signal's recency bins that predict wins, and the spans of days they cover."""
    found = [r for run in _runs(rows, order, "discriminator") for r in run]
    return found, [w for w in (_window(r.value) for r in found) if w is not None]


def _windows(
    frame: Frame,
    by_attr: dict[str, list[LiftRow]],
    intent: set[str],
    settings: AnalysisSettings,
    pool: ThreadPoolExecutor,
) -> dict[str, Future[Window | None]]:
    """The window of each intent attribute with a detected bin and the ages of its signal,
    estimated on ``pool`` (each estimate has its own seeded draws, so what runs beside it
    changes nothing)."""
    names = [
        name
        for name, rows in by_attr.items()
        if name in intent
        and name in frame.signal_ages
        and _detected(rows, [c.value for c in frame.cuts[name]])[1]
    ]
    estimate = partial(estimate_window, min_deals=settings.min_closed_deals)
    return {name: pool.submit(estimate, frame.signal_ages[name]) for name in names}


def _intent(
    frame: Frame,
    name: str,
    rows: list[LiftRow],
    order: list[str],
    result: LiftResult,
    settings: AnalysisSettings,
    window: Window | None,
) -> list[IntentSignal]:
    """A signal whose recency bins predict wins (the FDR-controlled detection) becomes one
    signal with one contiguous window, estimated from the ages of all its occurrences before
    each deal (``window``: analysis/windows.py), with a bootstrap interval on each edge."""
    found, spans = _detected(rows, order)
    if not spans:
        return []
    _, signal_type, detail = name.split(":", 2)
    what = f"{signal_type.replace('_', ' ')} '{detail}'"
    ages = frame.signal_ages.get(name)
    # The estimate must cover a bin that was detected; otherwise the detected span stands.
    if (
        ages is None
        or window is None
        or not any(window.start <= high and window.end >= low for low, high in spans)
    ):
        return [
            _binned_intent(frame, name, found, order, result, settings, signal_type, detail, what)
        ]
    ev = _window_evidence(ages, window.inside, result, found, name, settings)
    shown_end = "or more" if window.end >= OPEN_END else f"{window.end}"
    subject = (
        f"{what} {window.start} to {shown_end} days before the deal "
        f"(95% CI: start {_span(*window.start_ci)}, end {_span(*window.end_ci)} days)"
    )
    return [
        IntentSignal(
            id=slug(f"{signal_type} {detail} {window.start} {min(window.end, 9999)}"),
            signal=signal_type,
            detail_in=[detail],
            window_days=(window.start, min(window.end, OPEN_END)),
            window_start_ci=window.start_ci,
            window_end_ci=(window.end_ci[0], min(window.end_ci[1], OPEN_END)),
            evidence=ev,
            rationale=_rationale(subject, ev),
            source="derived",
        )
    ]


def _span(low: int, high: int) -> str:
    """An edge's interval in days: '45-90', '60' when every resample put it there, '450 or
    more' when the window may not close."""
    if high >= OPEN_END:
        return f"{low} or more"
    return f"{low}" if low == high else f"{low}-{high}"


def _binned_intent(
    frame: Frame,
    name: str,
    found: list[LiftRow],
    order: list[str],
    result: LiftResult,
    settings: AnalysisSettings,
    signal_type: str,
    detail: str,
    what: str,
) -> IntentSignal:
    """The window from the first to the last detected recency bin, the bins between
    included (one window, never one with a hole), when no window could be estimated."""
    spans = [w for w in (_window(r.value) for r in found) if w is not None]
    start, end = min(s for s, _ in spans), max(e for _, e in spans)
    values = tuple(
        v for v in order if (w := _window(v)) is not None and start <= w[0] and w[1] <= end
    )
    ev = _evidence(frame, name, values, result, found, settings)
    shown_end = "or more" if end >= 10_000 else f"{end}"
    return IntentSignal(
        id=slug(f"{signal_type} {detail} {start} {min(end, 9999)}"),
        signal=signal_type,
        detail_in=[detail],
        window_days=(start, min(end, OPEN_END)),
        evidence=ev,
        rationale=_rationale(f"{what} {start} to {shown_end} days before the deal", ev),
        source="derived",
    )


def _window_evidence(
    ages: SignalAges,
    inside: np.ndarray,
    result: LiftResult,
    found: list[LiftRow],
    name: str,
    settings: AnalysisSettings,
) -> Evidence:
    """The estimated window measured against the rest (deals with no occurrence in it),
    clustered by account, its lift adjusted for the selection that kept the signal; its
    q-value is the detection's (the best of the signal's bins)."""
    wins, deals, in_group, accounts = account_cells(ages, inside)
    n_won = int(ages.won.sum())
    measured, p_value = _measure(
        wins,
        deals,
        in_group,
        n_accounts=_distinct(accounts[in_group]),
        q=min(r.q_value for r in found),
        iv=result.information_value.get(name, math.nan),
        result=result,
        n_won=n_won,
        n_lost=ages.n_deals - n_won,
    )
    return adjust_for_selection(measured, found, result, settings, p_value)


def _boundary(
    frame: Frame,
    by_attr: dict[str, list[LiftRow]],
    exclusions: list[Exclusion],
    result: LiftResult,
    settings: AnalysisSettings,
) -> list[Criterion]:
    """Who could fit at all: the employee floor above disqualified small sizes.

    Countries draw no boundary: a country without a win (and without a significant loss)
    is unknown, not out of the market; a country that significantly loses is an exclusion,
    with the test that says so."""
    out: list[Criterion] = []
    employees = by_attr.get("employees", [])
    order = [c.value for c in frame.cuts.get("employees", [])]
    floor = None
    below: list[LiftRow] = []
    for value in order:
        row = next((r for r in employees if r.value == value), None)
        if row is None:
            continue
        if row.verdict == "disqualifier":
            _, high = _bounds(value)
            floor = (high or 0) + 1
            below.append(row)
        else:
            break
    if floor is not None:
        ev = _evidence(
            frame,
            "employees",
            tuple(r.value for r in employees if (_bounds(r.value)[0] or 0) >= floor),
            result,
            below,  # the rows that drew the floor, and the tests that chose them
            settings,
        )
        out.append(
            Criterion(
                id="employees-floor",
                attribute="employees",
                min=floor,
                direction="positive",
                evidence=ev,
                source="derived",
                rationale=f"below {floor:,} employees: "
                + "; ".join(_test_words(f"{r.value} employees", r, result, settings) for r in below)
                + ": the firmographic floor",
            )
        )
    return out


def _test_words(subject: str, row: LiftRow, result: LiftResult, settings: AnalysisSettings) -> str:
    """The test that made ``row`` a disqualifier, in words with its own numbers: the win-rate
    test ('wins 0.45x as often, selection-adjusted 95% CI 0.3-0.6x, q=0.001', the lift and
    interval adjusted for having been chosen by that test) or the churn test."""
    if row.why.startswith("churns"):
        rate = f"{row.churn_rate:.0%} churned, " if row.churn_rate is not None else ""
        lift = row.churn_lift if row.churn_lift is not None else math.nan
        q = row.churn_q_value if row.churn_q_value is not None else math.nan
        return f"{subject}: customers churn {lift:.1f}x as often as others ({rate}q={q:.2g})"
    shown, interval = _row_lift(row, result, settings)
    return (
        f"{subject}: wins {shown} as often as the rest "
        f"({interval}, q={row.q_value:.2g}, n={row.n_closed:,} closed deals from "
        f"{row.n_accounts:,} accounts)"
    )


def _row_lift(row: LiftRow, result: LiftResult, settings: AnalysisSettings) -> tuple[str, str]:
    """A value's lift and interval in words, adjusted for the win-rate test that chose it:
    ('0.45x', 'selection-adjusted 95% CI 0.30-0.62x'); as measured when not adjustable."""
    lift, (low, high), label = row.lift, row.lift_ci, "95% CI"
    adjusted = post_selection.selected_lift(
        row.lift,
        row.lift_ci,
        p_value=row.p_value,
        p_cut=_selection_cut(result, row, settings),
        min_lift=settings.min_lift,
        alpha=settings.alpha,
    )
    if adjusted is not None:
        lift, low, high = adjusted.estimate, adjusted.low, adjusted.high
        label = "selection-adjusted 95% CI"
    return format_lift(lift), f"{label} {format_lift(low).removesuffix('x')}-{format_lift(high)}"


def _volume_notes(
    frame: Frame,
    by_attr: dict[str, list[LiftRow]],
    settings: AnalysisSettings,
    result: LiftResult,
) -> list[str]:
    """Where volume and win rate disagree: the segment worked most is not the best. Said
    only when a test supports it: the best segment wins significantly more often than the
    rest (a discriminator, on enough deals and accounts) and the busiest one does not."""
    notes: list[str] = []
    for name in ("employees", "industry"):
        rows = by_attr.get(name, [])
        if len(rows) < 2:
            continue
        most = max(rows, key=lambda r: r.wins)
        supported = [r for r in rows if _supported(r, settings)]
        if not supported:
            continue
        best = max(supported, key=lambda r: r.win_rate)
        if most.value != best.value and most.verdict != "discriminator":
            lift, interval = _row_lift(best, result, settings)
            notes.append(
                f"{name} {most.value} brings the most wins ({most.wins:,}) at a "
                f"{most.win_rate:.0%} win rate; {best.value} wins {best.win_rate:.0%} of the "
                f"deals worked ({lift} the rest, {interval}, "
                f"q={best.q_value:.2g}, {best.n_accounts:,} accounts). Volume follows where "
                "sales worked, not where it wins."
            )
    return notes


def _supported(row: LiftRow, settings: AnalysisSettings) -> bool:
    """A win-rate lead a test supports: a discriminator on enough closed deals and accounts."""
    return (
        row.verdict == "discriminator"
        and not row.thin
        and row.n_accounts >= settings.min_accounts
        and row.lift_ci[0] > 1
    )


__all__ = [
    "Detectable",
    "NoUsableDeals",
    "data_fingerprint",
    "derive_icp",
    "detectable",
    "is_empty",
    "no_rule_reason",
    "no_usable_deals_reason",
    "slug",
]
