"""The quarterly review: re-derive the ICP on the latest window, set the proposal beside the
version in force, and recommend adopting it or keeping the current one.

The proposal is derived as ``icp derive`` derives, on the deals created in the last
``review.window_days`` up to the newest deal (locked and human rules kept). It has seen every
deal, so the two cannot be judged on data the proposal learned from. The comparison is a
backtest of the review itself: the newest quarter (by creation day) is held out, the
derivation is run again on the same window ending where that quarter starts (deals closed
before it), and both that proposal and the version in force, as it is, score the quarter's
closed deals. The quarter starts after the deals the version in force was fitted on, so
neither has seen it. The AUC difference (proposal minus current) with a paired
account-bootstrap interval is the evidence: adopt when the interval lies above 0, keep
otherwise; too few closed deals in the quarter to tell is a keep that says so.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Literal

import duckdb
import numpy as np

from icpkit.analysis.frame import build_frame
from icpkit.analysis.lift import lift_table
from icpkit.analysis.tiers import assign_tiers
from icpkit.config import Settings
from icpkit.engines.features import compute_features
from icpkit.engines.score import apply_scorecard
from icpkit.engines.scorecard import build_scorecard
from icpkit.errors import IcpkitError
from icpkit.icp.describe import describe_rule
from icpkit.icp.diff import ICPDiff, describe_change, format_diff
from icpkit.icp.model import ICP
from icpkit.learn import learn_icp
from icpkit.learn.points import closed_deals
from icpkit.operate.monitor import period_label, period_start
from icpkit.operate.tier_changes import TierChanges
from icpkit.validate import metrics

Recommendation = Literal["adopt", "keep"]
EXIT_CODES = {"keep": 0, "unjudged": 1, "adopt": 2}
"""The exit code of ``icp review``, for schedulers, in ``icp monitor``'s spirit: 0 nothing to
do (keep), 1 look at it (kept because the two could not be compared), 2 act (adopt)."""

MAX_QUARTERS = 4
"""How many quarters back the test window may reach for enough closed deals."""


class ReviewError(IcpkitError):
    """The review cannot run: no dated deal, or too few deals to derive a proposal from."""


@dataclass(frozen=True)
class HeldOut:
    """The held-out quarter: new-business deals created from ``start`` to ``end`` (the
    newest creation day), ``closed`` of them closed (the ones judged)."""

    start: dt.date
    end: dt.date
    closed: int

    @property
    def label(self) -> str:
        """'2025-Q3' for a whole quarter, else the days it spans."""
        first = period_start(self.end, "quarter")
        if self.start == first:
            return period_label(first, "quarter")
        return f"{self.start.isoformat()} to {self.end.isoformat()}"


@dataclass(frozen=True)
class Comparison:
    """The version in force and the proposal re-derived before the test window, both scoring
    its closed deals: their AUCs and the difference (proposal minus current), each with a
    95% account-bootstrap interval (the difference's paired)."""

    window: HeldOut
    train_from: dt.date | None
    deals: int
    wins: int
    accounts: int
    current_auc: metrics.MetricCI
    proposal_auc: metrics.MetricCI
    difference: metrics.MetricCI

    @property
    def better(self) -> Literal["proposal", "current", "neither"]:
        """Which ranks the held-out deals better, by the interval on the difference."""
        d = self.difference
        if math.isfinite(d.low) and d.low > 0:
            return "proposal"
        if math.isfinite(d.high) and d.high < 0:
            return "current"
        return "neither"


@dataclass
class Proposal:
    """The ICP re-derived on the latest window (not yet saved), with the window's days."""

    icp: ICP
    window_from: dt.date | None
    window_to: dt.date
    closed_deals: int
    warnings: list[str] = field(default_factory=list)


@dataclass
class ReviewResult:
    """What ``icp review`` found: the proposal beside the version in force, the comparison on
    the newest quarter, and the recommendation with its reason."""

    current_version: int
    proposal_version: int | None  # None: not saved (the same rules, or a dry run)
    proposal: Proposal
    diff: ICPDiff
    comparison: Comparison | None
    unjudged: str | None  # why the two could not be compared
    tier_changes: TierChanges | None
    next_review: dt.date
    notes: list[str] = field(default_factory=list)

    @property
    def same_rules(self) -> bool:
        """Whether the re-derivation kept every rule, its points and its evidence."""
        return self.diff.is_empty

    @property
    def changes(self) -> list[str]:
        """Rules gained (+), moved (~) and lost (-), a line each, with their evidence."""
        return format_diff(self.diff)

    def change_rows(self) -> list[dict[str, str]]:
        """A row per rule gained, moved or lost: its list, id and what the evidence says."""
        rows: list[dict[str, str]] = []
        for part in self.diff.lists:
            rows += [
                {"change": "gained", "list": part.name, "rule": r.id, "what": describe_rule(r)}
                for r in part.added_items
            ]
            rows += [
                {"change": "moved", "list": part.name, "rule": c.id, "what": describe_change(c)}
                for c in part.changed
            ]
            rows += [
                {"change": "lost", "list": part.name, "rule": r.id, "what": describe_rule(r)}
                for r in part.removed_items
            ]
        return rows

    @property
    def recommendation(self) -> Recommendation:
        return self._recommended()[0]

    @property
    def reason(self) -> str:
        """The recommendation in one sentence, naming the test behind it."""
        return self._recommended()[1]

    def _recommended(self) -> tuple[Recommendation, str]:
        return recommend(
            self.comparison,
            same_rules=self.same_rules,
            empty=self.proposal.icp.empty,
            closed_deals=self.proposal.closed_deals,
            current_version=self.current_version,
            proposal_version=self.proposal_version,
            unjudged=self.unjudged,
        )

    @property
    def exit_code(self) -> int:
        """0 keep, 1 kept because the two could not be compared, 2 adopt (EXIT_CODES)."""
        if self.recommendation == "adopt":
            return EXIT_CODES["adopt"]
        if (self.comparison is None and not self.same_rules) or self.proposal.icp.empty:
            return EXIT_CODES["unjudged"]
        return EXIT_CODES["keep"]


def _auc(m: metrics.MetricCI) -> str:
    return f"{m.value:.3f}" if math.isfinite(m.value) else "not computable"


def _difference(d: metrics.MetricCI) -> str:
    if not (math.isfinite(d.low) and math.isfinite(d.high)):
        return f"{d.value:+.3f} (no interval: too few accounts)"
    return f"{d.value:+.3f} (95% interval {d.low:+.3f} to {d.high:+.3f}, account bootstrap)"


def recommend(
    comparison: Comparison | None,
    *,
    same_rules: bool,
    current_version: int,
    empty: bool = False,
    closed_deals: int = 0,
    proposal_version: int | None,
    unjudged: str | None = None,
) -> tuple[Recommendation, str]:
    """Adopt or keep, and why in one sentence: adopt only when the proposal re-derived
    before the newest quarter ranks that quarter's closed deals better than the version in
    force, the interval on the AUC difference lying above 0; keep when it includes 0 or
    lies below it, when the re-derivation changes nothing, or when the two could not be
    compared (``unjudged`` says why), or when no rule passed on the latest window
    (``empty``, on ``closed_deals``)."""
    keep = f"keep version {current_version}"
    if empty:
        return "keep", (
            f"{keep} for now: re-derived on the latest window ({closed_deals:,} closed deals) "
            "no rule passed; widen the window (review.window_days) or wait for more deals"
        )
    if same_rules:
        return "keep", (
            f"{keep}: re-derived on the latest window, the ICP has the same rules, points and "
            "evidence"
        )
    if comparison is None:
        return "keep", f"{keep} for now: {unjudged or 'the two versions could not be compared'}"
    adopt = (
        f"adopt version {proposal_version}"
        if proposal_version is not None
        else "adopt the proposal (a dry run: not saved)"
    )
    on = (
        f"on the {comparison.deals:,} closed deals created in {comparison.window.label} "
        f"({comparison.accounts:,} accounts), which neither was fitted on"
    )
    aucs = (
        f"AUC {_auc(comparison.proposal_auc)} re-derived vs "
        f"{_auc(comparison.current_auc)} in force, difference "
        f"{_difference(comparison.difference)}"
    )
    better = comparison.better
    if better == "proposal":
        return "adopt", f"{adopt}: {on}, the re-derived ICP ranks better: {aucs}"
    if better == "current":
        return "keep", f"{keep}: {on}, the version in force ranks better: {aucs}"
    return "keep", f"{keep}: {on}, no difference is shown (the interval includes 0): {aucs}"


# --- the windows -------------------------------------------------------------------------


def _day(value: object) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def _sql_day(day: dt.date) -> str:
    return f"DATE '{day.isoformat()}'"


def previous_quarter(start: dt.date) -> dt.date:
    """The first day of the quarter before the one starting on ``start``."""
    month = start.month - 3
    return dt.date(start.year - (month < 1), (month - 1) % 12 + 1, 1)


def choose_test_window(
    newest: dt.date,
    fitted_to: dt.date | None,
    closed_days: np.ndarray,
    min_closed: int,
) -> tuple[HeldOut | None, str | None]:
    """The newest quarter of deals the version in force was not fitted on (those created
    after ``fitted_to``), reaching back a quarter at a time (at most ``MAX_QUARTERS``) until
    it holds ``min_closed`` closed deals (``closed_days``: their creation days); or None
    and why not."""
    days = np.asarray(closed_days).astype("datetime64[D]")
    floor = fitted_to + dt.timedelta(days=1) if fitted_to is not None else None
    start = period_start(newest, "quarter")
    begin, closed = start, 0
    for _ in range(MAX_QUARTERS):
        begin = max(start, floor) if floor is not None else start
        closed = int((days >= np.datetime64(begin)).sum())
        if closed >= min_closed:
            return HeldOut(begin, newest, closed), None
        if floor is not None and begin == floor:
            break
        start = previous_quarter(start)
    since = (
        f"since the version in force was fitted (deals created from {floor.isoformat()} on)"
        if floor is not None and begin == floor
        else f"from {begin.isoformat()} on"
    )
    return None, (
        f"{closed:,} closed deals were created {since}, fewer than {min_closed} "
        "(review.min_closed_deals) to compare the two versions on"
    )


# --- derivation and comparison -----------------------------------------------------------


def _closed_have_close_dates(con: duckdb.DuckDBPyConnection) -> bool:
    row = con.execute(
        """SELECT count(*) FROM deals WHERE outcome IN ('won', 'lost') AND NOT is_expansion
            AND closed_at IS NOT NULL"""
    ).fetchone()
    return bool(row and row[0])


def _derive(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    current: ICP,
    *,
    where: str,
    as_of: dt.date | None,
    fingerprint: str,
) -> tuple[ICP, int, list[str]]:
    """Derive as ``icp derive`` does, on the closed deals matching ``where`` (churn and
    customer tiers as of ``as_of``); the ICP, the closed deals it learned from and warnings."""
    analysis = settings.analysis
    tiers = assign_tiers(con, settings.tiers, as_of=as_of).tier_of()
    frame = build_frame(con, analysis, tiers, where=where, as_of=as_of)
    if frame.n_closed < analysis.min_closed_deals or frame.n_won == 0:
        raise ReviewError(
            f"only {frame.n_closed:,} closed deals ({frame.n_won:,} won) in the review's "
            f"window: too few to derive a proposal from",
            hint="widen the window (review.window_days, or null for every deal)",
        )
    result = lift_table(frame, analysis)
    learned = learn_icp(
        con, frame, result, settings, current, fingerprint=fingerprint, where=where, as_of=as_of
    )
    return learned.icp, frame.n_closed, [*learned.warnings, *learned.disagreements]


def newest_day(con: duckdb.DuckDBPyConnection) -> dt.date:
    """The creation day of the newest new-business deal linked to an account."""
    row = con.execute(
        """SELECT max(created_at)::DATE FROM deals
            WHERE NOT is_expansion AND account_key IS NOT NULL"""
    ).fetchone()
    if row is None or row[0] is None:
        raise ReviewError("no dated new-business deal in the store: nothing to review")
    return _day(row[0])


def propose(
    con: duckdb.DuckDBPyConnection, settings: Settings, current: ICP, fingerprint: str
) -> Proposal:
    """The ICP re-derived on the latest window: deals created in the last
    ``review.window_days`` up to the newest one (every deal when it is null)."""
    newest = newest_day(con)
    days = settings.review.window_days
    start = newest - dt.timedelta(days=days - 1) if days is not None else None
    where = f"created_at::DATE >= {_sql_day(start)}" if start is not None else "true"
    icp, n, warnings = _derive(
        con, settings, current, where=where, as_of=None, fingerprint=fingerprint
    )
    return Proposal(icp, start, newest, n, warnings)


def compare(
    con: duckdb.DuckDBPyConnection, settings: Settings, current: ICP, *, seed: int = 0
) -> tuple[Comparison | None, str | None]:
    """Hold out the newest quarter, re-derive on the window ending where it starts, and
    score the quarter's closed deals with that proposal and the version in force; or None
    and why the two cannot be compared."""
    review = settings.review
    newest = newest_day(con)
    created = con.execute(
        """SELECT created_at::DATE FROM deals
            WHERE outcome IN ('won', 'lost') AND NOT is_expansion AND account_key IS NOT NULL
              AND created_at IS NOT NULL"""
    ).fetchnumpy()
    closed_days = np.asarray(next(iter(created.values()))).astype("datetime64[D]")
    fitted_to = current.scoring.closed_to if current.scoring is not None else None
    if fitted_to is None:
        fitted_to = current.derived_at.date() - dt.timedelta(days=1)
    window, why = choose_test_window(newest, fitted_to, closed_days, review.min_closed_deals)
    if window is None:
        return None, why
    cut = _sql_day(window.start)
    train_from = (
        window.start - dt.timedelta(days=review.window_days)
        if review.window_days is not None
        else None
    )
    # As the backtest trains: closed before the cut (created before it where close dates
    # are missing altogether), so nothing of the held-out quarter is learned from.
    ended = f"closed_at < {cut}" if _closed_have_close_dates(con) else f"created_at < {cut}"
    since = f"created_at::DATE >= {_sql_day(train_from)} AND " if train_from else ""
    try:
        earlier, _, _ = _derive(
            con, settings, current, where=since + ended, as_of=window.start, fingerprint="review"
        )
    except ReviewError as exc:
        return None, f"before {window.start.isoformat()}: {exc}"
    test = closed_deals(con, f"created_at::DATE >= {cut}")
    y = test.won.astype(np.int64)
    if y.size == 0 or y.min() == y.max():
        return None, (
            f"the {y.size:,} closed deals created from {window.start.isoformat()} on are all "
            f"{'won' if y.size and y[0] else 'lost'}: nothing to rank"
        )
    scores = []
    for icp in (current, earlier):
        features = compute_features(
            con, icp, settings.analysis, persona=settings.scoring.persona, point_in_time=True
        )
        scores.append(apply_scorecard(build_scorecard(icp, settings.scoring), features).score)
    old, new = (np.asarray(s, dtype=np.float64) for s in scores)
    n_boot, accounts = review.n_boot, test.account_codes
    return (
        Comparison(
            window,
            train_from,
            int(y.size),
            int(y.sum()),
            int(np.unique(accounts).size),
            metrics.auc_with_ci(y, old, accounts, n_boot=n_boot, seed=seed),
            metrics.auc_with_ci(y, new, accounts, n_boot=n_boot, seed=seed),
            metrics.auc_difference_with_ci(y, old, new, accounts, n_boot=n_boot, seed=seed),
        ),
        None,
    )
