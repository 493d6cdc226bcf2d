"""Drift monitoring: is the ICP still working on the deals that arrived since it was fitted?

The deals created after the newest deal the current version was fitted on (or after a day
given) are scored as of their creation, as the backtest scores its test deals, and set
beside the deals of the fitting window. Per month or quarter: win rate, share of wins and
velocity by tier, tier lift and AUC with account-bootstrap intervals, a one-sided test of
the AUC's decline, and the share of new pipeline inside the ICP (within the boundary, not
excluded). Over the whole new window: the population stability (PSI) of each attribute as
the ICP cuts it and of the score, and a test per rule of whether its lift moved. The tests
of one run share one false-discovery control, so a drift-free run raises an alarm at most
about ``alpha`` of the time; the verdict is healthy, warning or action.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Literal

import duckdb
import numpy as np
from scipy import stats as sps

from icpkit.analysis.stats import (
    benjamini_hochberg,
    design_effect,
    population_stability,
    quantile_bins,
    wilson_interval,
)
from icpkit.config import MonitorSettings, Settings
from icpkit.engines.features import ENTITIES, Features, ScoredRule, compute_features
from icpkit.engines.score import apply_scorecard
from icpkit.engines.scorecard import build_scorecard
from icpkit.errors import IcpkitError
from icpkit.icp.model import ICP, IntentSignal
from icpkit.validate import metrics

Period = Literal["month", "quarter"]
PERIODS: tuple[Period, ...] = ("month", "quarter")
Verdict = Literal["healthy", "warning", "action"]
EXIT_CODES: dict[Verdict, int] = {"healthy": 0, "warning": 1, "action": 2}
"""The exit code of ``icp monitor`` per verdict, for schedulers."""

FIT_WINDOW = "fitting window"


class MonitorError(IcpkitError):
    """Monitoring cannot run: no fitted ICP, or no dated deals to judge it by."""


@dataclass(frozen=True)
class Shift:
    """The population stability of one attribute (as the ICP's rules cut it) or of the
    score, new pipeline against the fitting window, with its band."""

    name: str
    psi: float
    band: str  # 'stable', 'moderate shift', 'major shift' or 'not judged: ...'
    bins: int


@dataclass(frozen=True)
class RuleMove:
    """One rule in the fitting window and since: its lift (win rate of matching deals over
    the others) and its matching deals' win rate, and whether its lift moved (``p_value``
    of ``lift_moved_p``)."""

    rule_id: str
    attribute: str
    lift_before: float
    lift_after: float
    deals_after: int
    p_value: float
    q_value: float = math.nan
    moved: bool = False
    win_rate_before: float = math.nan
    win_rate_after: float = math.nan


@dataclass(frozen=True)
class PeriodResult:
    """One month or quarter of new deals (by creation date)."""

    label: str
    start: dt.date
    end: dt.date  # the last day
    deals: int
    closed: int
    wins: int
    tiers: list[metrics.TierRow]
    tier_lift: metrics.MetricCI
    auc: metrics.MetricCI
    auc_p_value: float  # one-sided: the AUC fell below the reference
    inside_icp: float
    inside_low: float
    inside_high: float
    judged: bool  # enough closed deals to test the AUC
    auc_q_value: float = math.nan
    declined: bool = False


@dataclass
class MonitorResult:
    """What ``icp monitor`` found, and its verdict."""

    icp_version: int
    period: Period
    fit_from: dt.date | None
    fit_to: dt.date | None
    since: dt.date
    fit_deals: int
    fit_closed: int
    reference_auc: metrics.MetricCI
    reference: str  # which AUC the decline is tested against, in words
    fit_inside_icp: float
    periods: list[PeriodResult]
    shifts: list[Shift]
    rules: list[RuleMove]
    settings: MonitorSettings
    notes: list[str] = field(default_factory=list)

    @property
    def new_deals(self) -> int:
        return sum(p.deals for p in self.periods)

    @property
    def findings(self) -> list[tuple[Verdict, str]]:
        """Every finding with the verdict it calls for, most serious first."""
        s = self.settings
        out: list[tuple[Verdict, str]] = []
        for p in self.periods:
            if p.declined:
                out.append(
                    (
                        "action",
                        f"{p.label}: AUC {p.auc.value:.3f} fell below the {self.reference} "
                        f"{self.reference_auc.value:.3f} (one-sided p {p.auc_p_value:.2g}, "
                        f"q {p.auc_q_value:.2g})",
                    )
                )
        for r in self.rules:
            if r.moved:
                out.append(
                    (
                        "action",
                        f"rule {r.rule_id} ({r.attribute}): win rate of its deals "
                        f"{_share(r.win_rate_before)} -> {_share(r.win_rate_after)}, lift "
                        f"{_shown(r.lift_before)} -> {_shown(r.lift_after)} (p {r.p_value:.2g}, "
                        f"q {r.q_value:.2g}, {r.deals_after:,} closed deals since)",
                    )
                )
        for shift in self.shifts if self.new_deals >= s.min_new_deals else []:
            if math.isnan(shift.psi) or shift.psi < s.psi_warning:
                continue
            level: Verdict = (
                "action" if shift.name == "score" and shift.psi >= s.psi_action else "warning"
            )
            out.append((level, f"{shift.name}: PSI {shift.psi:.3f} ({shift.band})"))
        return sorted(out, key=lambda f: f[0] != "action")

    @property
    def verdict(self) -> Verdict:
        levels = {level for level, _ in self.findings}
        return "action" if "action" in levels else "warning" if levels else "healthy"

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.verdict]

    def summary(self) -> str:
        """One sentence: the verdict and why, or 'no drift: ...' plainly."""
        if not self.periods:
            return (
                f"no drift: no new-business deal was created since {self.since.isoformat()}, "
                "nothing to judge yet"
            )
        findings = self.findings
        if not findings:
            s = self.settings
            judged = sum(p.judged for p in self.periods)
            psi = (
                f"no PSI at or above {s.psi_warning}"
                if self.new_deals >= s.min_new_deals
                else f"PSI not judged (fewer than {s.min_new_deals} new deals)"
            )
            return (
                f"no drift: {self.new_deals:,} deals created since {self.since.isoformat()} "
                f"({judged} of {len(self.periods)} {self.period}s with enough closed deals to "
                f"test the AUC); no AUC decline, no rule's lift moved, {psi}"
            )
        return f"{self.verdict}: " + "; ".join(text for _, text in findings)

    def period_rows(self) -> list[dict[str, object]]:
        """A row per period, the numbers as they are (NaN where not computable)."""
        rows: list[dict[str, object]] = []
        for p in self.periods:
            by_tier = {t.tier: t for t in p.tiers}
            row: dict[str, object] = {
                "period": p.label,
                "deals": p.deals,
                "closed": p.closed,
                "wins": p.wins,
                "win_rate": p.wins / p.closed if p.closed else math.nan,
                "auc": p.auc.value,
                "auc_ci": [p.auc.low, p.auc.high],
                "auc_decline_p": p.auc_p_value,
                "auc_decline_q": p.auc_q_value,
                "declined": p.declined,
                "tier_lift": p.tier_lift.value,
                "tier_lift_ci": [p.tier_lift.low, p.tier_lift.high],
                "inside_icp": p.inside_icp,
                "inside_icp_ci": [p.inside_low, p.inside_high],
            }
            for tier in ("A", "B", "C", "D"):
                t = by_tier.get(tier)
                if t is None:
                    continue
                row[f"tier_{tier}_deals"] = t.n
                row[f"tier_{tier}_win_rate"] = t.win_rate
                row[f"tier_{tier}_win_rate_ci"] = [t.low, t.high]
                row[f"tier_{tier}_share_of_wins"] = t.share_of_wins
                row[f"tier_{tier}_median_cycle_days"] = t.median_cycle_days
            rows.append(row)
        return rows


def _share(value: float) -> str:
    """A win rate for a sentence."""
    return f"{value:.0%}" if math.isfinite(value) else "not computable (no deal matches)"


def _shown(value: float) -> str:
    """A lift for a sentence: two decimals, or why it has none."""
    return f"{value:.2f}" if math.isfinite(value) else "not computable (no win outside the rule)"


# --- periods -----------------------------------------------------------------------------


def period_start(day: dt.date, period: Period) -> dt.date:
    """The first day of the month or quarter holding ``day``."""
    month = day.month if period == "month" else 3 * ((day.month - 1) // 3) + 1
    return dt.date(day.year, month, 1)


def next_period(start: dt.date, period: Period) -> dt.date:
    """The first day of the period after the one starting on ``start``."""
    months = 1 if period == "month" else 3
    month = start.month - 1 + months
    return dt.date(start.year + month // 12, month % 12 + 1, 1)


def period_label(start: dt.date, period: Period) -> str:
    """'2025-07' for a month, '2025-Q3' for a quarter."""
    if period == "month":
        return f"{start.year}-{start.month:02d}"
    return f"{start.year}-Q{(start.month - 1) // 3 + 1}"


# --- statistics --------------------------------------------------------------------------


def psi_band(psi: float, settings: MonitorSettings) -> str:
    """'stable', 'moderate shift' or 'major shift' by the settings' PSI thresholds."""
    if math.isnan(psi) or psi < settings.psi_warning:
        return "stable"
    return "moderate shift" if psi < settings.psi_action else "major shift"


def auc_decline_p(current: metrics.MetricCI, reference: metrics.MetricCI) -> float:
    """One-sided p-value that ``current`` AUC is below ``reference``: a z test on their
    difference, each standard error read from its 95% bootstrap interval (the reference's
    counts when it has one). 1.0 when the current AUC or its interval is not computable."""
    if not all(map(math.isfinite, (current.value, current.low, current.high, reference.value))):
        return 1.0
    z95 = float(sps.norm.ppf(0.975))
    var = ((current.high - current.low) / (2 * z95)) ** 2
    if math.isfinite(reference.low) and math.isfinite(reference.high):
        var += ((reference.high - reference.low) / (2 * z95)) ** 2
    if var <= 0:
        return 0.0 if current.value < reference.value else 1.0
    return float(sps.norm.cdf((current.value - reference.value) / math.sqrt(var)))


def _log_odds_ratio(y: np.ndarray, m: np.ndarray) -> tuple[float, float]:
    """Log odds ratio of winning, matching vs not, and its variance (0.5 added to each
    cell so that an empty cell stays finite)."""
    a = float((y & m).sum()) + 0.5
    b = float((~y & m).sum()) + 0.5
    c = float((y & ~m).sum()) + 0.5
    d = float((~y & ~m).sum()) + 0.5
    return math.log(a * d / (b * c)), 1 / a + 1 / b + 1 / c + 1 / d


def _lift(y: np.ndarray, m: np.ndarray) -> float:
    """Win rate of matching deals over that of the others; NaN when undefined."""
    if not m.any() or m.all():
        return math.nan
    inside, outside = float(y[m].mean()), float(y[~m].mean())
    return inside / outside if outside > 0 else math.nan


def _rate(y: np.ndarray, m: np.ndarray) -> float:
    """Win rate of the matching deals; NaN when none match."""
    return float(y[m].mean()) if m.any() else math.nan


def _deff(y: np.ndarray, accounts: np.ndarray) -> float:
    """Design effect of the deals' win rate from their clustering in accounts."""
    _, codes = np.unique(accounts, return_inverse=True)
    return design_effect(np.bincount(codes, weights=y.astype(float)), np.bincount(codes))


def lift_moved_p(
    y_before: np.ndarray,
    m_before: np.ndarray,
    y_after: np.ndarray,
    m_after: np.ndarray,
    deff_before: float = 1.0,
    deff_after: float = 1.0,
) -> float:
    """Two-sided p-value that a rule's log odds ratio of winning differs between two
    windows (a z test; each variance inflated by its window's design effect, since deals of
    one account are not independent). 1.0 when the rule matches all or none on a side."""
    yb, mb = np.asarray(y_before, bool), np.asarray(m_before, bool)
    ya, ma = np.asarray(y_after, bool), np.asarray(m_after, bool)
    if not (mb.any() and (~mb).any() and ma.any() and (~ma).any()):
        return 1.0
    lb, vb = _log_odds_ratio(yb, mb)
    la, va = _log_odds_ratio(ya, ma)
    z = (la - lb) / math.sqrt(vb * deff_before + va * deff_after)
    return float(2 * sps.norm.sf(abs(z)))


# --- the run -----------------------------------------------------------------------------


def _day(value: object) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value  # type: ignore[return-value]


def run_monitor(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    icp: ICP,
    *,
    period: str = "month",
    since: dt.date | None = None,
    as_of: dt.date | None = None,
    seed: int = 0,
) -> MonitorResult:
    """Judge ``icp`` on the new-business deals created since it was fitted (or ``since``)
    against those of its fitting window; see the module's docstring. With ``as_of`` the
    deals are as they stood that day (created by then; closed only if closed by then), so
    a check can be replayed as it would have run on that day."""
    if period not in PERIODS:
        raise MonitorError(f"unknown period {period!r}: one of {', '.join(PERIODS)}")
    every: Period = "month" if period == "month" else "quarter"
    s = settings.monitor
    scoring = icp.scoring
    if scoring is None:
        raise MonitorError(
            "the ICP has no fitted points yet: run `icp calibrate` (or `icp derive`)"
        )
    fit_from, fit_to = scoring.closed_from, scoring.closed_to
    start = since or (fit_to + dt.timedelta(days=1) if fit_to else icp.derived_at.date())
    notes: list[str] = []
    if fit_to is None:
        notes.append(
            "the ICP does not record which deals it was fitted on: deals created before "
            f"{start.isoformat()} (its derivation day) stand for the fitting window"
        )
    fit_low = f"DATE '{fit_from.isoformat()}'" if fit_from else "DATE '0001-01-01'"
    fit_high = f"DATE '{fit_to.isoformat()}'" if fit_to else f"DATE '{start.isoformat()}' - 1"
    new_low = f"DATE '{start.isoformat()}'"
    if as_of is not None:
        day_sql = f"DATE '{as_of.isoformat()}'"
        known = f"created_at::DATE <= {day_sql}"
        closed_sql = f"outcome IN ('won', 'lost') AND closed_at::DATE <= {day_sql}"
    else:
        known, closed_sql = "true", "outcome IN ('won', 'lost')"
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {ENTITIES} AS
            SELECT (row_number() OVER (ORDER BY deal_key) - 1)::BIGINT AS entity_id,
                   account_key, created_at AS as_of, deal_key,
                   created_at::DATE AS day, coalesce({closed_sql}, false) AS closed,
                   outcome = 'won' AS won, cycle_days::DOUBLE AS cycle_days,
                   created_at::DATE >= {new_low} AS new
            FROM deals
            WHERE NOT is_expansion AND account_key IS NOT NULL AND created_at IS NOT NULL
              AND {known} AND (created_at::DATE >= {new_low}
                   OR created_at::DATE BETWEEN {fit_low} AND {fit_high})"""
    )
    rows = con.execute(
        f"""SELECT day, closed, won, cycle_days, new, account_key
            FROM {ENTITIES} ORDER BY entity_id"""
    ).fetchnumpy()
    day = np.asarray(rows["day"]).astype("datetime64[D]")
    closed = np.asarray(rows["closed"], dtype=bool)
    won = np.asarray(rows["won"], dtype=bool) & closed
    cycle = np.asarray(np.ma.filled(rows["cycle_days"].astype(float), np.nan), dtype=float)
    new = np.asarray(rows["new"], dtype=bool)
    accounts = np.asarray(rows["account_key"]).astype(str)
    if not (~new).any():
        raise MonitorError(
            "no dated new-business deal of the ICP's fitting window is in the store: "
            "nothing to compare the new deals with"
        )

    card = build_scorecard(icp, settings.scoring)
    features = compute_features(
        con, icp, settings.analysis, persona=settings.scoring.persona, point_in_time=True
    )
    scores = apply_scorecard(card, features)
    score = scores.score.astype(float)
    inside = ~(scores.excluded | scores.outside)

    old_closed = ~new & closed
    reference = metrics.auc_with_ci(
        won[old_closed].astype(np.int64),
        score[old_closed],
        accounts[old_closed],
        n_boot=s.n_boot,
        seed=seed,
    )
    # The ICP records no backtest AUC: the fitting window's own AUC is the reference.
    reference_words = "fitting window's in-sample AUC"
    notes.append(
        "the ICP records no backtest AUC: each period's AUC is tested against the fitting "
        "window's in-sample AUC (optimistic, so a decline is if anything found sooner)"
    )

    periods: list[PeriodResult] = []
    if new.any():
        first = period_start(_day(day[new].min().astype(object)), every)
        last = _day(day[new].max().astype(object))
        begin = first
        while begin <= last:
            end = next_period(begin, every)
            mask = new & (day >= np.datetime64(begin)) & (day < np.datetime64(end))
            if mask.any():
                periods.append(
                    _period(
                        period_label(begin, every),
                        begin,
                        end - dt.timedelta(days=1),
                        mask,
                        closed,
                        won,
                        cycle,
                        accounts,
                        score,
                        scores.tier,
                        inside,
                        reference,
                        s,
                        seed,
                    )
                )
            begin = end

    shifts = _shifts(icp, features, score, new, s) if new.any() else []
    if int(new.sum()) < s.min_new_deals:
        shifts = [Shift(x.name, x.psi, "not judged: too few new deals", x.bins) for x in shifts]
    rules = _rule_moves(features, won, closed, new, accounts) if new.any() else []

    # One false-discovery control over every test of the run.
    p_values = np.array(
        [p.auc_p_value if p.judged else math.nan for p in periods] + [r.p_value for r in rules]
    )
    q = benjamini_hochberg(p_values) if p_values.size else p_values
    periods = [_with_q(p, float(q[i]), s.alpha) if p.judged else p for i, p in enumerate(periods)]
    offset = len(periods)
    rules = [
        RuleMove(
            r.rule_id,
            r.attribute,
            r.lift_before,
            r.lift_after,
            r.deals_after,
            r.p_value,
            float(q[offset + i]),
            bool(q[offset + i] <= s.alpha),
            r.win_rate_before,
            r.win_rate_after,
        )
        for i, r in enumerate(rules)
    ]
    if periods and int(new.sum()) < s.min_new_deals:
        notes.append(
            f"PSI shown but not judged: {int(new.sum()):,} new deals, fewer than "
            f"{s.min_new_deals} (monitor.min_new_deals)"
        )
    thin = [p.label for p in periods if not p.judged]
    if thin:
        notes.append(
            f"fewer than {s.min_closed_deals} closed deals, AUC shown but not tested: "
            + ", ".join(thin)
        )
    if periods and int(closed[new].sum()) < int(new.sum()):
        notes.append(
            f"{int((new & ~closed).sum()):,} of the {int(new.sum()):,} new deals are still "
            "open: win rates and AUC count the closed ones, the pipeline counts all"
        )
    return MonitorResult(
        icp_version=icp.version,
        period=every,
        fit_from=fit_from,
        fit_to=fit_to,
        since=start,
        fit_deals=int((~new).sum()),
        fit_closed=int(old_closed.sum()),
        reference_auc=reference,
        reference=reference_words,
        fit_inside_icp=float(inside[~new].mean()),
        periods=periods,
        shifts=shifts,
        rules=rules,
        settings=s,
        notes=notes,
    )


def _with_q(p: PeriodResult, q: float, alpha: float) -> PeriodResult:
    declined = bool(q <= alpha)
    return PeriodResult(
        p.label,
        p.start,
        p.end,
        p.deals,
        p.closed,
        p.wins,
        p.tiers,
        p.tier_lift,
        p.auc,
        p.auc_p_value,
        p.inside_icp,
        p.inside_low,
        p.inside_high,
        p.judged,
        q,
        declined,
    )


def _period(
    label: str,
    start: dt.date,
    end: dt.date,
    mask: np.ndarray,
    closed: np.ndarray,
    won: np.ndarray,
    cycle: np.ndarray,
    accounts: np.ndarray,
    score: np.ndarray,
    tier: np.ndarray,
    inside: np.ndarray,
    reference: metrics.MetricCI,
    s: MonitorSettings,
    seed: int,
) -> PeriodResult:
    """The numbers of one period's deals (``mask``)."""
    c = mask & closed
    y = won[c].astype(np.int64)
    n_closed = int(c.sum())
    two_classes = 0 < int(y.sum()) < n_closed
    tiers = metrics.tier_table(y, tier[c], cycle[c], accounts[c])
    lift = metrics.tier_lift(y, tier[c], accounts[c], n_boot=s.n_boot, seed=seed)
    auc = (
        metrics.auc_with_ci(y, score[c], accounts[c], n_boot=s.n_boot, seed=seed)
        if two_classes
        else metrics.MetricCI(math.nan, math.nan, math.nan)
    )
    judged = two_classes and n_closed >= s.min_closed_deals
    n, k = int(mask.sum()), int(inside[mask].sum())
    low, high = wilson_interval(k, n)
    return PeriodResult(
        label,
        start,
        end,
        n,
        n_closed,
        int(y.sum()),
        tiers,
        lift,
        auc,
        auc_decline_p(auc, reference) if judged else 1.0,
        k / n if n else math.nan,
        low,
        high,
        judged,
    )


def _attribute_of(scored: ScoredRule) -> str:
    """The attribute a rule judges ('signal:<type>' for an intent signal)."""
    rule = scored.rule
    if rule is None:
        return "persona"
    return f"signal:{rule.signal}" if isinstance(rule, IntentSignal) else rule.attribute


def _shifts(
    icp: ICP, features: Features, score: np.ndarray, new: np.ndarray, s: MonitorSettings
) -> list[Shift]:
    """PSI of the score (equal-count bins of the fitting window) and of each attribute as
    the ICP's rules cut it (every combination of its rules' matches and boundary
    conditions is one bin)."""
    parts: dict[str, list[np.ndarray]] = {}
    for j, scored in enumerate(features.rules):
        parts.setdefault(_attribute_of(scored), []).append(features.matches[:, j] > 0)
    attribute = {b.id: b.attribute for b in icp.boundary}
    for rule_id, fails in features.outside:
        parts.setdefault(attribute.get(rule_id, rule_id), []).append(fails)
    out = [
        _shift(
            "score",
            quantile_bins(score[~new], score[~new], s.bins),
            quantile_bins(score[~new], score[new], s.bins),
            s,
        )
    ]
    for name, columns in parts.items():
        cells = _cells(columns)
        size = 1 << len(columns)
        out.append(
            _shift(
                name,
                np.bincount(cells[~new], minlength=size),
                np.bincount(cells[new], minlength=size),
                s,
            )
        )
    return out


def _cells(parts: list[np.ndarray]) -> np.ndarray:
    """One integer per deal naming the combination of ``parts`` (booleans) it has."""
    code = np.zeros(len(parts[0]), dtype=np.int64)
    for part in parts:
        code = code * 2 + part.astype(np.int64)
    return code


def _shift(name: str, before: np.ndarray, after: np.ndarray, s: MonitorSettings) -> Shift:
    # Only the bins that hold deals on either side count as bins.
    used = (before > 0) | (after > 0)
    psi = population_stability(before[used], after[used]) if used.any() else math.nan
    return Shift(name, psi, psi_band(psi, s), int(used.sum()))


def _rule_moves(
    features: Features,
    won: np.ndarray,
    closed: np.ndarray,
    new: np.ndarray,
    accounts: np.ndarray,
) -> list[RuleMove]:
    """Each rule's win rate and lift before and since, and whether its lift moved (one
    p-value per rule)."""
    matches, rules = features.matches, features.rules
    before, after = ~new & closed, new & closed
    if not after.any():
        return []
    deff_before = _deff(won[before], accounts[before])
    deff_after = _deff(won[after], accounts[after])
    out: list[RuleMove] = []
    for j, scored in enumerate(rules):
        if scored.rule is None:
            continue
        m = matches[:, j] > 0
        # The lift, not the matching deals' win rate, is tested: recent closed deals are the
        # quick closers, whose mix moves every win rate (not the odds ratio within a window).
        p = lift_moved_p(won[before], m[before], won[after], m[after], deff_before, deff_after)
        out.append(
            RuleMove(
                scored.id,
                _attribute_of(scored),
                _lift(won[before], m[before]),
                _lift(won[after], m[after]),
                int(after.sum()),
                p,
                win_rate_before=_rate(won[before], m[before]),
                win_rate_after=_rate(won[after], m[after]),
            )
        )
    return out
