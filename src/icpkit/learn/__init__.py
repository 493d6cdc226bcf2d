"""Learning the ICP from outcomes: one function from the deal frame, its lift table, the
settings and the ICP in force to the next ICP and what to say about it.

The steps live in the modules beside this one: candidate rules and their evidence from the
lift table (``derive``), the human decisions kept (icpkit.icp.locks), a Missing bin per
attribute judged (``unknown``), the joint fit of points (``points``, ``fit``), the selection
that keeps only rules with an effect of their own (``selection``, ``refine``) and the leak
check (``leaks``). Both ``icp derive`` and the backtest call :func:`learn_icp`, so what the
backtest judges is what derive writes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import duckdb

from icpkit.analysis.frame import Frame
from icpkit.analysis.lift import LiftResult
from icpkit.config import Settings
from icpkit.icp.locks import apply_human_decisions
from icpkit.icp.model import ICP
from icpkit.learn.derive import derive_icp, is_empty, no_rule_reason
from icpkit.learn.fit import one_blas_thread
from icpkit.learn.leaks import Leak, suspected_leaks
from icpkit.learn.points import Deals, learn_and_refine
from icpkit.learn.unknown import add_unknown_bins


@dataclass
class Learned:
    """The ICP learned, the human decisions that disagree with the data, and the warnings."""

    icp: ICP
    disagreements: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    leaks: list[Leak] = field(default_factory=list)


def learn_icp(
    con: duckdb.DuckDBPyConnection,
    frame: Frame,
    lift: LiftResult,
    settings: Settings,
    previous: ICP | None,
    *,
    fingerprint: str,
    where: str | None = None,
    as_of: dt.date | None = None,
    deals: Deals | None = None,
) -> Learned:
    """Derive the rules from ``lift``, keep the human decisions of ``previous``, give unknown
    values of each attribute judged a rule of their own (icpkit.learn.unknown), fit the points
    on the closed deals (``where``, churn as of ``as_of``; ``deals``: read already by
    icpkit.learn.points.closed_deals on ``con``) and drop the rules without an effect of
    their own. ``con`` is read only."""
    with one_blas_thread():
        return _learn_icp(con, frame, lift, settings, previous, fingerprint, where, as_of, deals)


def _learn_icp(
    con: duckdb.DuckDBPyConnection,
    frame: Frame,
    lift: LiftResult,
    settings: Settings,
    previous: ICP | None,
    fingerprint: str,
    where: str | None,
    as_of: dt.date | None,
    deals: Deals | None,
) -> Learned:
    analysis = settings.analysis
    derived = derive_icp(frame, lift, analysis, fingerprint)
    leaks = suspected_leaks(frame, analysis.leak_auc)
    icp, disagreements = apply_human_decisions(derived, previous)
    icp = add_unknown_bins(icp, frame, lift, analysis)
    # The frame's preparation of the same deals on ``con`` is reused while it is still there.
    icp = learn_and_refine(
        con, icp, settings, where=where, as_of=as_of, prepared=frame.prepared, deals=deals
    )
    warnings = [*lift.warnings, *(leak.message() for leak in leaks)]
    warnings += frame.history.warnings()
    if (empty := no_rule_reason(icp, analysis)) is not None:
        warnings.append(empty)
    icp = icp.model_copy(update={"empty": is_empty(icp)})
    return Learned(icp, disagreements, warnings, leaks)
