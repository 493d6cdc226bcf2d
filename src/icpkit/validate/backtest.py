"""The time-split backtest: derive and fit on older closed deals, judge on newer ones.

Nothing from the test period reaches the model: the ICP is derived again from the training
deals alone (deals still open at the cut-off are in neither set), its weights and tiers are
fitted on them, with churn and customer tiers as they stood at the cut-off and each deal's
dated attributes as of its creation, and only then are the newer deals scored. The same
split and table hold the baselines a reader would otherwise trust: equal weights over the
same rules, firmographics only, an optbinning scorecard and gradient boosting on every
attribute.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import duckdb
import numpy as np

from icpkit.analysis.deals import deal_matrix
from icpkit.analysis.frame import build_frame
from icpkit.analysis.lift import lift_table
from icpkit.analysis.tiers import assign_tiers
from icpkit.attributes import definition_of
from icpkit.config import Settings
from icpkit.engines.features import compute_features
from icpkit.engines.score import Scores, apply_scorecard
from icpkit.engines.scorecard import build_scorecard
from icpkit.errors import IcpkitError
from icpkit.icp.model import ICP
from icpkit.learn import learn_icp
from icpkit.learn.leaks import Leak, suspected_leaks
from icpkit.learn.persona import persona_learned_from
from icpkit.learn.points import Deals, closed_deals
from icpkit.validate import baselines, metrics


class BacktestError(IcpkitError):
    """The backtest cannot run honestly (too few deals, a leaking field); says what to do."""


@dataclass(frozen=True)
class ModelRow:
    """One model's accuracy on the test deals; a challenger that could not be fitted keeps
    its row, with NaN metrics and ``note`` saying why ('could not fit: ...'). ``scores``
    holds its score of each test deal (aligned with ``BacktestResult.deals``; None when it
    could not be fitted), from which the report draws its curves."""

    model: str
    auc: metrics.MetricCI
    pr_auc: metrics.MetricCI
    seconds: float
    note: str = ""
    fitted: bool = True
    scores: np.ndarray | None = field(default=None, repr=False, compare=False)


NOT_MEASURED = metrics.MetricCI(float("nan"), float("nan"), float("nan"))


@dataclass
class BacktestResult:
    """What the backtest measured, on the test deals only."""

    cutoff: dt.date
    train_deals: int
    test_deals: int
    test_wins: int
    skipped_open: int
    icp: ICP
    models: list[ModelRow]
    tiers: list[metrics.TierRow]
    tier_lift: metrics.MetricCI
    top_tier_wins: float
    calibration: list[metrics.CalibrationRow]
    brier: float
    scores: Scores
    deals: Deals
    leaks: list[Leak] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def model(self, name: str) -> ModelRow:
        """The row of the model called ``name``."""
        return next(m for m in self.models if m.model == name)


def choose_cutoff(con: duckdb.DuckDBPyConnection, test_share: float) -> dt.date:
    """The creation date after which ``test_share`` of the closed new-business deals fall."""
    row = con.execute(
        f"""SELECT quantile_disc(created_at::DATE, {1 - test_share}) FROM deals
            WHERE outcome IN ('won', 'lost') AND NOT is_expansion AND created_at IS NOT NULL"""
    ).fetchall()
    if not row or row[0][0] is None:
        raise BacktestError("no closed deal has a creation date: nothing to split by time")
    value = row[0][0]
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])


def _closed_with_close_date(con: duckdb.DuckDBPyConnection) -> int:
    """Closed new-business deals that carry a close date."""
    return int(
        con.execute(
            """SELECT count(*) FROM deals WHERE outcome IN ('won', 'lost') AND NOT is_expansion
                AND closed_at IS NOT NULL"""
        ).fetchall()[0][0]
    )


def run_backtest(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    current: ICP | None,
    *,
    cutoff: dt.date | None = None,
    test_share: float = 0.3,
    allow_leaks: bool = False,
    reference: dict[str, float] | None = None,
    challengers: bool = True,
    n_boot: int = 500,
    seed: int = 0,
) -> BacktestResult:
    """Backtest the ICP and its scorecard by time; ``reference`` (deal key -> probability,
    e.g. the demo's true win probability) is scored alongside as the best achievable."""
    cut = cutoff or choose_cutoff(con, test_share)
    day = f"DATE '{cut.isoformat()}'"
    # Some exports (Attio's) carry no close date at all: then a closed deal trains when it
    # was created before the cut-off. Where close dates exist, one that is missing (an
    # unreadable cell) keeps its deal out of training, as it may have closed after the cut.
    dated = _closed_with_close_date(con)
    train_where = f"closed_at < {day}" if dated else f"created_at < {day}"
    test_where = f"created_at >= {day}"
    # A persona learned from contacts is learned again on the training deals alone.
    settings = persona_learned_from(con, settings, train_where)
    analysis = settings.analysis
    # Training sees the accounts as they stood: tiers and churn as of the cut-off, each
    # deal's technologies and head count as of its creation (icpkit.analysis.history).
    tiers = assign_tiers(con, settings.tiers, as_of=cut).tier_of()
    frame = build_frame(con, analysis, tiers, where=train_where, as_of=cut)
    leaks = suspected_leaks(frame, analysis.leak_auc)
    if leaks and not allow_leaks:
        raise BacktestError(
            "refusing to backtest: "
            + "; ".join(leak.message() for leak in leaks)
            + " (or pass --allow-leaks to see the inflated result)"
        )
    if frame.n_closed < analysis.min_closed_deals or frame.n_won == 0:
        raise BacktestError(
            f"only {frame.n_closed} closed deals ({frame.n_won} won) before {cut}: too few "
            "to fit on; move the cut-off later (--cutoff) or add history"
        )
    result = lift_table(frame, analysis)
    icp = learn_icp(
        con, frame, result, settings, current, fingerprint="backtest", where=train_where, as_of=cut
    ).icp
    card = build_scorecard(icp, settings.scoring)

    test = closed_deals(con, test_where)
    if len(test.won) == 0 or test.won.min() == test.won.max():
        raise BacktestError(
            f"the {len(test.won)} closed deals created from {cut} on are all "
            f"{'won' if len(test.won) and test.won[0] else 'lost'}: nothing to judge a score "
            "by; move the cut-off earlier (--cutoff)"
        )
    features = compute_features(
        con, icp, analysis, persona=settings.scoring.persona, point_in_time=True
    )
    scores = apply_scorecard(card, features)
    skipped = int(
        con.execute(
            f"""SELECT count(*) FROM deals WHERE outcome IN ('won', 'lost') AND NOT is_expansion
                AND account_key IS NOT NULL AND created_at < {day} AND closed_at >= {day}"""
        ).fetchall()[0][0]
    )
    train_count = frame.n_closed

    y, clusters = test.won.astype(np.int64), test.account_codes

    def row(name: str, score: np.ndarray, seconds: float, note: str = "") -> ModelRow:
        # Measured once every model has its scores (``_measured``).
        scores = np.asarray(score, dtype=np.float64)
        return ModelRow(name, NOT_MEASURED, NOT_MEASURED, seconds, note, scores=scores)

    notes = list(card.notes) + frame.history.notes()
    if undated := _undated_churn(con, train_where):
        notes.append(
            f"{undated:,} churned customers of the training deals have no churn date: "
            "counted as churned at the cut-off"
        )
    if not dated:
        notes.append(
            "no closed deal has a close date: deals created before the cut-off train the "
            "model, those created after it test it"
        )
    models = [row("icpkit scorecard", scores.score.astype(np.float64), 0.0)]
    # Missing bins answer "value unknown", not who fits: equal weights leave them out.
    signs = np.array(
        [
            np.sign(rp.weight)
            if rp.weight and not getattr(rp.scored.rule, "missing", False)
            else 0.0
            for rp in card.rules
        ]
    )
    equal = (features.matches * signs).sum(axis=1) if len(signs) else np.zeros(len(y))
    models.append(row("equal weights, same rules", equal, 0.0))
    if challengers:
        models += _challengers(con, settings, train_where, test, row, seed, notes)
    if reference is not None:
        truth = np.array([reference.get(k, np.nan) for k in test.keys])
        if not np.isnan(truth).any():
            models.append(row("true win probability (generator)", truth, 0.0))

    models = _measured(models, y, clusters, n_boot, seed)
    tier_rows = metrics.tier_table(y, scores.tier, test.cycle_days, clusters)
    lift = metrics.tier_lift(y, scores.tier, clusters, n_boot=n_boot, seed=seed)
    top = sum(r.wins for r in tier_rows if r.tier in ("A", "B")) / max(int(y.sum()), 1)
    calibration = metrics.calibration_table(y, scores.probability)
    return BacktestResult(
        cutoff=cut,
        train_deals=train_count,
        test_deals=len(y),
        test_wins=int(y.sum()),
        skipped_open=skipped,
        icp=icp,
        models=models,
        tiers=tier_rows,
        tier_lift=lift,
        top_tier_wins=top,
        calibration=calibration,
        brier=metrics.brier(y, scores.probability),
        scores=scores,
        deals=test,
        leaks=leaks,
        notes=notes,
    )


def _measured(
    models: list[ModelRow], y: np.ndarray, clusters: np.ndarray, n_boot: int, seed: int
) -> list[ModelRow]:
    """The models with their AUCs and intervals, every model on the same resamples of the
    accounts (drawn once for all)."""
    scored = [m.scores for m in models if m.scores is not None]
    found = iter(metrics.rank_metrics_with_ci(y, scored, clusters, n_boot=n_boot, seed=seed))
    out = []
    for model in models:
        if model.scores is not None:
            auc, pr_auc = next(found)
            model = replace(model, auc=auc, pr_auc=pr_auc)
        out.append(model)
    return out


def _undated_churn(con: duckdb.DuckDBPyConnection, train_where: str) -> int:
    """Accounts of training deals marked churned without a churn date."""
    return int(
        con.execute(
            f"""SELECT count(*) FROM accounts WHERE churned AND churn_date IS NULL
                AND account_key IN (SELECT account_key FROM deals WHERE {train_where})"""
        ).fetchall()[0][0]
    )


def _challengers(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    train_where: str,
    test: Deals,
    row: Callable[[str, np.ndarray, float, str], ModelRow],
    seed: int,
    notes: list[str],
) -> list[ModelRow]:
    """The baselines on the same split: every attribute, per deal, as the analysis sees it."""
    matrix = deal_matrix(con, settings.analysis)
    train_keys = set(
        k for (k,) in con.execute(f"SELECT deal_key FROM deals WHERE {train_where}").fetchall()
    )
    # By hashing: numpy's isin compares an object array with each key in turn (37,000 deals
    # and 28,000 keys: 11 s).
    in_train = np.fromiter(map(train_keys.__contains__, matrix.deal_keys), bool, len(matrix))
    train = matrix.subset(in_train)
    position = {k: i for i, k in enumerate(matrix.deal_keys)}
    test_rows = matrix.subset(np.array([position[k] for k in test.keys]))
    # An attribute with one value in training (all missing, as stack_density is without a
    # technologies column, or constant) carries nothing and breaks some fitters.
    train, dropped = baselines.informative(train)
    test_rows = baselines.keep_columns(test_rows, list(train.columns))
    if dropped:
        notes.append(
            "challengers fitted without the attributes with a single value in the training "
            f"deals: {', '.join(dropped)}"
        )
    firmographic = [a.name for a in train.attributes if _firmographic(a.name)]
    fits: list[tuple[str, Callable[[], baselines.Baseline]]] = [
        (
            "firmographics only",
            lambda: baselines.logistic_baseline(
                train, test_rows, firmographic, name="firmographics only"
            ),
        ),
        ("optbinning scorecard", lambda: baselines.optbinning_baseline(train, test_rows)),
        ("gradient boosting", lambda: baselines.gbm_baseline(train, test_rows, seed=seed)),
    ]
    out: list[ModelRow] = []
    for name, fit in fits:
        baseline = baselines.fit_safely(name, fit)
        if baseline.probabilities is None:
            note = baseline.note
            out.append(ModelRow(baseline.name, NOT_MEASURED, NOT_MEASURED, 0.0, note, False))
            continue
        out.append(row(baseline.name, baseline.probabilities, baseline.seconds, baseline.note))
    return out


def _firmographic(name: str) -> bool:
    """Whether the analysis attribute ``name`` is firmographic, as its definition says: the
    'firmographics only' challenger is fitted on these alone."""
    definition = definition_of(name)
    return definition is not None and definition.dimension == "firmographic"
