"""Fitting an ICP's scoring model on the workspace's closed deals.

Each closed new-business deal is one example: its account's attributes, and its signals as
they stood on the day the deal was created, against whether it was won.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
from scipy.special import ndtr

from icpkit.analysis.frame import prepare, prepared_token
from icpkit.analysis.history import churned_sql
from icpkit.analysis.stats import benjamini_hochberg
from icpkit.config import AnalysisSettings, Settings
from icpkit.engines.features import (
    ENTITIES,
    Features,
    ScoredRule,
    compute_features,
    condition_sql,
    scored_rules,
    signal_age_sql,
)
from icpkit.engines.score import apply_scorecard
from icpkit.engines.scorecard import Scorecard, build_scorecard, learn_tiers
from icpkit.icp.model import (
    ICP,
    SIGNIFICANT_DIGITS,
    Criterion,
    Exclusion,
    IntentSignal,
    Rule,
    ScoringModel,
)
from icpkit.learn.fit import Fitted, fit_logistic, fit_weights, one_blas_thread, predict
from icpkit.learn.patterns import Patterns, group, regroup, restrict
from icpkit.learn.refine import CHURN_ODDS, refine
from icpkit.learn.selection import RuleEvidence, clustered_z, select
from icpkit.learn.unknown import with_unknown_points
from icpkit.store.db import arrow_table

# The table :func:`icpkit.analysis.frame.prepare` makes of the closed deals, with their
# account's technologies and employees dated to the day each deal was created: the entities
# :func:`closed_deals` sets are its deals, so the features read those values from it.
DATED = "closed"


@dataclass
class Deals:
    """Closed new-business deals, in entity order: what a backtest needs to judge a score."""

    won: np.ndarray
    created_at: np.ndarray
    closed_at: np.ndarray
    cycle_days: np.ndarray
    # Each deal's account as a code in the order of the accounts' keys (what clusters the
    # joint model's variance), so that the keys need not be sorted again.
    account_codes: np.ndarray
    # The deals' and their accounts' keys (``deal_key``, ``account_key``), kept in Arrow:
    # a million Python strings are made only when :attr:`keys` or :attr:`accounts` is read.
    # None when they were not read (closed_deals without ``keys``: a fit needs no key).
    text: pa.Table | None

    @cached_property
    def keys(self) -> np.ndarray:
        """Each deal's key (Python strings)."""
        return np.asarray(self._text.column("deal_key").to_pylist(), dtype=object)

    @cached_property
    def accounts(self) -> np.ndarray:
        """Each deal's account key (Python strings)."""
        return np.asarray(self._text.column("account_key").to_pylist(), dtype=object)

    @property
    def _text(self) -> pa.Table:
        if self.text is None:
            raise ValueError("the deals' keys were not read (closed_deals with keys=False)")
        return self.text

    def subset(self, mask: np.ndarray) -> Deals:
        """The deals selected by ``mask`` (booleans, or positions)."""
        rows = np.flatnonzero(mask) if np.asarray(mask).dtype == bool else np.asarray(mask)
        return Deals(
            self.won[mask],
            self.created_at[mask],
            self.closed_at[mask],
            self.cycle_days[mask],
            self.account_codes[mask],
            None if self.text is None else self.text.take(pa.array(rows, type=pa.int64())),
        )


def closed_deals(
    con: duckdb.DuckDBPyConnection,
    where: str | None = None,
    *,
    prepared: str | None = None,
    keys: bool = True,
    accounts: np.ndarray | None = None,
) -> Deals:
    """Closed new-business deals (matching ``where`` on ``deals``) as scoring entities: the
    temp table ``score_entities`` holds each deal's account on the day it was created.
    ``prepared``: the token of a preparation of these deals on ``con`` (a frame's), whose
    tables are reused while they are still those (icpkit.analysis.frame.prepared_token).
    Without ``keys`` the deals' keys are not read (a fit needs only their accounts' codes).
    ``accounts``: each deal's account code by deal number as the frame of that preparation
    read them (icpkit.analysis.frame.Frame.deal_accounts), used while the preparation is."""
    if prepared is None or prepared_token(con, where) != prepared:
        prepare(con, where)
        accounts = None
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {ENTITIES} AS
            SELECT deal_no AS entity_id, account_key, created_at AS as_of,
                   {"deal_key, " if keys else ""}won, closed_at,
                   cycle_days::DOUBLE AS cycle_days
            FROM closed"""
    )
    # Each deal's account as its number among the deals' accounts (the rank of its key):
    # as the frame read them where it read every deal's, else joined here.
    result = con.execute(
        f"SELECT won, as_of, closed_at, cycle_days FROM {ENTITIES} ORDER BY entity_id"
    ).fetchnumpy()
    n = len(result["won"])
    if accounts is not None and accounts.size == n and (accounts >= 0).all():
        result["account_code"] = accounts
    else:
        result["account_code"] = con.execute(
            f"""SELECT i.idx FROM {ENTITIES} e JOIN account_index i USING (account_key)
                ORDER BY e.entity_id"""
        ).fetchnumpy()["idx"]
    text = (
        arrow_table(con, f"SELECT deal_key, account_key FROM {ENTITIES} ORDER BY entity_id")
        if keys
        else None
    )

    def filled(name: str, fill: Any) -> np.ndarray:
        column = result[name]
        return np.asarray(column.filled(fill) if isinstance(column, np.ma.MaskedArray) else column)

    return Deals(
        np.asarray(result["won"], dtype=np.int8),
        filled("as_of", np.datetime64("NaT")).astype("datetime64[s]"),
        filled("closed_at", np.datetime64("NaT")).astype("datetime64[s]"),
        np.asarray(filled("cycle_days", np.nan), dtype=np.float64),
        np.asarray(result["account_code"], dtype=np.int64),
        text,
    )


def fit_icp(
    icp: ICP,
    features: Features | None,
    deals: Deals,
    settings: Settings,
    *,
    patterns: Patterns | None = None,
) -> tuple[ICP, Fitted]:
    """``icp`` with every rule's weight learned from ``deals`` (and each intent signal's
    half-life, unless set by hand), plus the model's summary in ``icp.scoring``.
    ``patterns``: the deals already grouped (icpkit.learn.patterns.group of ``features``):
    all the fit reads, so ``features`` may then be None."""
    _, fitted, with_tiers = _fit_icp(icp, features, deals, settings, patterns)
    return with_tiers(), fitted


def _fit_icp(
    icp: ICP,
    features: Features | None,
    deals: Deals,
    settings: Settings,
    patterns: Patterns | None,
) -> tuple[ICP, Fitted, Callable[[], ICP]]:
    """:func:`fit_icp` before its tiers: the ICP fitted without them, the fit, and the call
    that cuts them (scoring every fitted deal: work for a thread while the fit is used)."""
    scoring = settings.scoring
    if patterns is None:
        if features is None:
            raise ValueError("fit_icp needs the deals' features or their patterns")
        patterns = group(features, deals.won)
    fixed: dict[str, float | None] = {
        s.id: float(s.half_life_days)
        for s in icp.intent
        if s.half_life_days is not None and (s.source == "human" or s.locked)
    }
    fitted = fit_weights(
        patterns.features,
        deals.won,
        prior_sd=scoring.prior_sd,
        candidates=scoring.half_life_days,
        fixed_half_lives=fixed,
        patterns=patterns,
    )
    weights = fitted.weights
    auc = (
        _auc(patterns, predict(patterns.features, fitted))
        if 0 < deals.won.sum() < len(deals.won)
        else None
    )

    def weighted(items: Sequence[Rule]) -> list[Any]:
        out = []
        for item in items:
            update: dict[str, object] = {"weight": as_saved(weights.get(item.id, 0.0))}
            if isinstance(item, IntentSignal) and item.id not in fixed:
                life = fitted.half_lives.get(item.id)
                update["half_life_days"] = int(life) if life else None
                ci = fitted.half_life_ci.get(item.id)
                update["half_life_ci"] = (
                    (int(ci[0]), int(ci[1]) if ci[1] is not None else None) if ci else None
                )
            out.append(item.model_copy(update=update))
        return out

    created = deals.created_at[~np.isnat(deals.created_at)]
    model = ScoringModel(
        method=(
            f"logistic regression with a normal prior (sd {scoring.prior_sd:g}) on each "
            "rule's log-odds, signs fixed by the evidence"
        ),
        intercept=round(fitted.intercept, 4),
        deals=len(deals.won),
        wins=int(deals.won.sum()),
        closed_from=_day(created.min()) if created.size else None,
        closed_to=_day(created.max()) if created.size else None,
        auc=round(auc, 4) if auc is not None else None,
        persona_weight=round(weights["persona"], 4) if "persona" in weights else None,
    )
    updated = icp.model_copy(
        update={
            "fit": weighted(icp.fit),
            "exclusions": weighted(icp.exclusions),
            "intent": weighted(icp.intent),
            "scoring": model,
        }
    )
    card = build_scorecard(updated, scoring)
    updated = with_unknown_points(updated, {rp.id: rp.points for rp in card.rules})
    grouped = patterns  # set by now; bound for the call below, which runs later
    return updated, fitted, lambda: _with_tiers(updated, card, grouped, deals, settings)


def _with_tiers(
    icp: ICP, card: Scorecard, patterns: Patterns, deals: Deals, settings: Settings
) -> ICP:
    """``icp`` (scored by ``card``) with its tiers cut where the fitted deals' own scores
    reach the targets: a deal scores what its pattern of inputs scores."""
    scores = apply_scorecard(card, patterns.features).score[patterns.rows]
    tiers = learn_tiers(scores, deals.won, settings.scoring)
    assert icp.scoring is not None
    return icp.model_copy(update={"scoring": icp.scoring.model_copy(update={"tiers": tiers})})


def _auc(patterns: Patterns, probability: np.ndarray) -> float:
    """ROC AUC of the patterns' probabilities of winning, each pattern counted as its deals:
    the chance that a won deal outscores a lost one, ties counting half (what sklearn's
    roc_auc_score gives deal by deal). Example: two patterns, 0.8 (1 won of 2) and 0.3
    (0 won of 1): 1 won deal outscores 1 of the 2 lost ones and ties the other, 0.75.

    >>> f = Features([], np.zeros((2, 0)), np.zeros((2, 0)), [])
    >>> p = Patterns(f, np.array([1.0, 0.0]), np.array([2.0, 1.0]), np.array([0, 0, 1]))
    >>> _auc(p, np.array([0.8, 0.3]))
    0.75
    """
    order = np.argsort(probability, kind="stable")
    values, starts = np.unique(probability[order], return_index=True)
    wins = np.add.reduceat(patterns.wins[order], starts) if values.size else np.zeros(0)
    losses = np.add.reduceat(patterns.trials[order] - patterns.wins[order], starts)
    below = np.cumsum(losses) - losses  # lost deals scored lower than each level
    total_wins, total_losses = float(wins.sum()), float(losses.sum())
    return float((wins * (below + 0.5 * losses)).sum() / (total_wins * total_losses))


def as_saved(value: float) -> float:
    """A learned weight as icp.yaml keeps it (4 decimals, then 4 significant digits), so the
    ICP derived equals the one read back and deriving twice on the same data changes
    nothing. Example: -1.04531 -> -1.045."""
    return float(f"{round(value, 4):.{SIGNIFICANT_DIGITS}g}")


def _day(value: np.datetime64) -> dt.date:
    return dt.date.fromisoformat(str(value.astype("datetime64[D]")))


def learn(
    con: duckdb.DuckDBPyConnection, icp: ICP, settings: Settings, where: str | None = None
) -> ICP:
    """Fit ``icp``'s scoring model on the workspace's closed deals (matching ``where``)."""
    with one_blas_thread():
        return _learn(con, icp, settings, closed_deals(con, where))


def _learn(con: duckdb.DuckDBPyConnection, icp: ICP, settings: Settings, deals: Deals) -> ICP:
    """Fit ``icp``'s scoring model on ``deals``, the entities :func:`closed_deals` last set."""
    features = compute_features(
        con,
        icp,
        settings.analysis,
        persona=settings.scoring.persona,
        point_in_time=True,
        dated_table=DATED,
    )
    fitted, _ = fit_icp(icp, features, deals, settings)
    return fitted


def churn_weights(
    con: duckdb.DuckDBPyConnection,
    icp: ICP,
    settings: Settings,
    where: str | None = None,
    as_of: dt.date | None = None,
) -> dict[str, float]:
    """Joint log-odds of churning per churn exclusion, among won deals whose churn is known,
    with every fit rule and exclusion in the model (so a proxy of a churn driver fades)."""
    return {rid: e.weight for rid, e in churn_evidence(con, icp, settings, where, as_of).items()}


def churn_evidence(
    con: duckdb.DuckDBPyConnection,
    icp: ICP,
    settings: Settings,
    where: str | None = None,
    as_of: dt.date | None = None,
) -> dict[str, RuleEvidence]:
    """Per churn exclusion: its joint log-odds of churning among won deals whose churn is
    known, with every fit rule and exclusion in the model (so a proxy of a churn driver
    fades), its account-clustered Wald test, and whether it stays: q (BH across the churn
    tests of the lift table it was picked from, the method's ``churn_tests``) below
    ``analysis.alpha`` and the odds of churning at least doubled. Churn is as it stood on
    ``as_of`` (a backtest's cut-off), else as exported."""
    return _churn_evidence(con, icp, settings, closed_deals(con, where), as_of)


def _churn_evidence(
    con: duckdb.DuckDBPyConnection,
    icp: ICP,
    settings: Settings,
    deals: Deals,
    as_of: dt.date | None,
    features: Features | None = None,
    patterns: Patterns | None = None,
) -> dict[str, RuleEvidence]:
    """:func:`churn_evidence` on ``deals``, the entities :func:`closed_deals` last set, with
    ``features`` when they were already computed for ``icp``'s rules on them (and
    ``patterns``, when they were grouped: icpkit.learn.patterns.group)."""
    if features is None:
        features = compute_features(
            con, icp, settings.analysis, point_in_time=True, dated_table=DATED
        )
    day = f"DATE '{as_of.isoformat()}'" if as_of is not None else None
    # The churn of each won deal's account, where it is known.
    flags = con.execute(
        f"""SELECT e.entity_id, {churned_sql(day)} AS churned
            FROM {ENTITIES} e JOIN accounts a USING (account_key)
            WHERE e.won AND a.churned IS NOT NULL"""
    ).fetchnumpy()
    known = np.zeros(len(deals.won), dtype=bool)
    churned = np.zeros(len(deals.won), dtype=np.int8)
    entity = np.asarray(flags["entity_id"], dtype=np.int64)
    known[entity] = True
    churned[entity] = np.asarray(flags["churned"], dtype=np.int8)
    static = [j for j, r in enumerate(features.rules) if r.list in ("fit", "exclusions")]
    if known.sum() < settings.analysis.min_closed_deals or not static:
        return {}
    y = churned[known]
    if y.min() == y.max():
        return {}
    # Fitted on the distinct patterns of rule matches (the same fit), clustered deal by deal.
    if patterns is None:
        x = features.matches[known][:, static]
        churn_rules = [features.rules[j] for j in static]
        by_pattern = group(Features(churn_rules, x, np.full(x.shape, np.nan), []), y)
    else:
        by_pattern = restrict(patterns, np.flatnonzero(known), y, static)
    bounds: list[tuple[float | None, float | None]] = [(None, None)] * len(static)
    prior_sd = settings.scoring.prior_sd
    xp = by_pattern.features.matches
    wins, trials = by_pattern.wins, by_pattern.trials
    intercept, weights, _, _ = fit_logistic(xp, wins, bounds, prior_sd, trials)
    clusters = deals.account_codes[known]
    z = clustered_z(xp, y, clusters, intercept, weights, prior_sd, rows=by_pattern.rows)
    tested = [i for i, j in enumerate(static) if features.rules[j].list == "exclusions"]
    p = 2 * ndtr(-np.abs(z[tested]))
    # Picked from every churn test of the lift table: the correction counts them all (those
    # not picked as p = 1), as the win-rate rules' does (icpkit.learn.selection).
    searched = int(icp.method.get("churn_tests", 0) or 0)
    q = benjamini_hochberg(p, tests=searched)
    alpha = settings.analysis.alpha
    return {
        features.rules[static[i]].id: RuleEvidence(
            float(weights[i]),
            float(z[i]),
            float(pi),
            float(qi),
            bool(qi < alpha),
            bool(qi < alpha and weights[i] >= math.log(CHURN_ODDS)),
        )
        for i, pi, qi in zip(tested, p, q, strict=True)
    }


def select_rules(
    icp: ICP,
    features: Features,
    deals: Deals,
    fitted: Fitted,
    settings: Settings,
    patterns: Patterns | None = None,
) -> dict[str, RuleEvidence]:
    """The evidence of each derived rule that wins more or less (fit criteria, disqualifiers,
    intent signals) in the joint model of winning, by backward elimination corrected for the
    win-rate tests the rules were picked from (see icpkit.learn.selection); rules set or
    locked by hand and the Missing bins (no claim about the market) stay in the model
    untested."""
    rules: list[Rule] = [*icp.fit, *icp.exclusions, *icp.intent]
    tested = {
        r.id
        for r in rules
        if r.source != "human"
        and not r.locked
        and not (isinstance(r, Exclusion) and r.kind != "disqualifier")
        and not (isinstance(r, Criterion) and r.missing)
    }
    return select(
        features,
        deals.won,
        deals.account_codes,
        tested,
        half_lives=fitted.half_lives,
        prior_sd=settings.scoring.prior_sd,
        alpha=settings.analysis.alpha,
        min_weight=math.log(settings.analysis.min_lift),
        searched=int(icp.method.get("win_tests", 0) or 0),
        patterns=patterns,
    )


def learn_and_refine(
    con: duckdb.DuckDBPyConnection,
    icp: ICP,
    settings: Settings,
    where: str | None = None,
    as_of: dt.date | None = None,
    prepared: str | None = None,
    deals: Deals | None = None,
) -> ICP:
    """Fit the weights, drop the derived rules without evidence of an effect of their own in
    the joint model (see icpkit.learn.selection and icpkit.learn.refine), and fit again on
    what is left. Churn is as it stood on ``as_of`` (a backtest's cut-off), else as exported.
    ``prepared``: see :func:`closed_deals`; ``deals``: those it gave on ``con``, read already
    (the entities it set are still the connection's)."""
    if deals is None:
        deals = closed_deals(con, where, prepared=prepared)
    features = compute_features(
        con,
        icp,
        settings.analysis,
        persona=settings.scoring.persona,
        point_in_time=True,
        dated_table=DATED,
    )
    # The deals grouped by their inputs once, for every fit below.
    patterns = group(features, deals.won)
    fitted, model, with_tiers = _fit_icp(icp, features, deals, settings, patterns)
    # Beside the selection, which reads neither the connection nor the tiers: the churn
    # model (the same deals and rules' matches: the fit changed weights, not conditions),
    # read from the connection and fitted on a thread, and the fit's tiers, which stand
    # unless a rule is dropped and the rest refitted.
    with ThreadPoolExecutor(max_workers=2) as pool:
        churning = pool.submit(
            _churn_evidence, con, fitted, settings, deals, as_of, features, patterns
        )
        tiering = pool.submit(with_tiers)
        evidence = select_rules(fitted, features, deals, model, settings, patterns)
        churn = churning.result()
        refined, notes = refine(fitted, settings.analysis.min_lift, churn, evidence)
        if not notes:
            return tiering.result()
    picked = kept_columns(features, fitted, refined, settings)
    if picked is None:
        return _learn(con, refined, settings, deals)
    # The deals regrouped by the columns kept hold all the refit reads: the columns are not
    # copied deal by deal.
    regrouped = regroup(patterns, scored_rules(refined, settings.scoring.persona), picked)
    return fit_icp(refined, None, deals, settings, patterns=regrouped)[0]


def kept_columns(
    features: Features, before: ICP, after: ICP, settings: Settings
) -> list[int] | None:
    """The columns of ``features`` (``before``'s rules on the same deals) holding ``after``'s
    rules, in their order, when pruning only dropped or moved rules: each rule of ``after``
    has a column of the same condition there and the boundary is unchanged. None when one
    must be read again."""
    if after.boundary != before.boundary:
        return None
    analysis = settings.analysis
    column = {r.id: j for j, r in enumerate(features.rules)}
    rules = scored_rules(after, settings.scoring.persona)
    picked = []
    for scored in rules:
        j = column.get(scored.id)
        if j is None or not _same_condition(features.rules[j], scored, analysis):
            return None
        picked.append(j)
    return picked


def _same_condition(old: ScoredRule, new: ScoredRule, settings: AnalysisSettings) -> bool:
    """Whether two scored rules match the same deals (the same SQL), whatever list holds them."""
    a, b = old.rule, new.rule
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, IntentSignal) or isinstance(b, IntentSignal):
        if not (isinstance(a, IntentSignal) and isinstance(b, IntentSignal)):
            return False
        return signal_age_sql(a) == signal_age_sql(b)
    return condition_sql(a, settings, "") == condition_sql(b, settings, "")
