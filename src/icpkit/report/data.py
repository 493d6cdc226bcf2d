"""What the report shows, gathered once: the results the workspace computes, kept as they are.

``ReportData`` holds the workspace's own result objects (the ICP, the lift table, segment
tables, tiers, the backtest, the TAM and lookalikes, the named ICPs) plus a few plain
summaries read from the store (imports, quarantine, coverage, each named ICP's deals). The
renderers only format these; they compute nothing.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import duckdb
import numpy as np

from icpkit.analysis.frame import MISSING
from icpkit.analysis.lift import LiftResult
from icpkit.analysis.segments import SegmentTable
from icpkit.analysis.stats import RateEstimate, clustered_rate
from icpkit.analysis.tiers import TierResult
from icpkit.engines.scorecard import Scorecard
from icpkit.icp.diff import ICPDiff
from icpkit.icp.model import ICP
from icpkit.icp.versions import VersionInfo
from icpkit.operate.lookalike import Lookalike
from icpkit.operate.monitor import MonitorResult
from icpkit.operate.tam import TamResult
from icpkit.operate.tier_changes import TierChanges
from icpkit.validate import metrics
from icpkit.validate.backtest import BacktestResult

NOTHING_HEADLINE = (
    "No attribute separates won from lost deals in this data, so there is no ICP to show: "
    "any profile drawn from it would be noise."
)
SEGMENT_ATTRIBUTES = 4
"""Segment tables shown: the attributes that tell wins from losses best (information value)."""
CURVE_POINTS = 101
"""Points kept of the ROC and gains curves: enough to draw them, small enough to ship."""


@dataclass(frozen=True)
class ImportRow:
    """One loaded file: what was read, loaded and set aside."""

    file: str
    entity: str
    system: str
    rows_read: int
    rows_loaded: int
    rows_quarantined: int
    cells_quarantined: int
    imported_at: dt.datetime | None


@dataclass(frozen=True)
class QuarantineGroup:
    """Quarantined entries of one file and column (or whole rows), with one example reason."""

    file: str
    column: str | None
    scope: str
    entries: int
    example: str


@dataclass(frozen=True)
class Coverage:
    """How many closed deals know an attribute's value (not missing)."""

    attribute: str
    deals: int
    known: int

    @property
    def share(self) -> float:
        """Known share of the closed deals (NaN when there are none)."""
        return self.known / self.deals if self.deals else math.nan


@dataclass
class DataQuality:
    """What the store holds and how complete it is."""

    counts: dict[str, int]
    outcomes: dict[str, int]
    deals_linked: int
    imports: list[ImportRow]
    quarantine: list[QuarantineGroup]
    quarantine_total: int
    coverage: list[Coverage]


@dataclass(frozen=True)
class Curve:
    """A curve of one model of the backtest on the test deals (ROC or cumulative gains)."""

    name: str
    x: list[float]
    y: list[float]


@dataclass
class Validation:
    """The backtest, its curves, or why there is none."""

    result: BacktestResult | None = None
    roc: list[Curve] = field(default_factory=list)
    gains: list[Curve] = field(default_factory=list)
    note: str | None = None


@dataclass
class Market:
    """The TAM of a universe and its lookalikes, or why they are not shown."""

    tam: TamResult | None = None
    lookalikes: list[Lookalike] = field(default_factory=list)
    note: str | None = None
    lookalike_note: str | None = None


@dataclass
class Changes:
    """The saved versions, what moved since the previous one and the accounts that changed
    tier with it (or why they could not be scored)."""

    versions: list[VersionInfo]
    previous: int | None = None
    diff: ICPDiff | None = None
    lines: list[str] = field(default_factory=list)
    tiers: TierChanges | None = None
    tiers_note: str | None = None
    # The current ICP's drift since it was fitted (icp monitor), or why it was not measured.
    drift: MonitorResult | None = None
    drift_note: str | None = None


@dataclass
class NamedReport:
    """A named ICP (``icps:`` in icp.yaml) as the report shows it: its deals in words, the
    ICP in force and its scorecard (None before its first derivation), its saved versions,
    and its closed deals counted in the store (win rate by account, with its interval)."""

    name: str
    deals: str
    icp: ICP | None
    scorecard: Scorecard | None
    versions: int
    closed: int
    won: int
    win_rate: RateEstimate
    accounts: int
    customers: int


@dataclass
class ReportData:
    """Everything one report shows, as computed by the workspace."""

    name: str
    generated_at: dt.datetime
    icp: ICP | None
    nothing: list[str]
    lift: LiftResult | None
    segments: list[SegmentTable]
    tiers: TierResult | None
    validation: Validation
    market: Market
    changes: Changes
    quality: DataQuality
    scorecard: Scorecard | None = None
    warnings: list[str] = field(default_factory=list)
    # The named ICPs, in the order declared (none: the report is the one-ICP report).
    named: list[NamedReport] = field(default_factory=list)

    @property
    def discriminates(self) -> bool:
        """False when the data hold no ICP: the first screen says so instead of a profile."""
        return self.icp is not None and not self.icp.empty and not self.nothing


def nothing_sentences(icp: ICP | None, detail: list[str]) -> list[str]:
    """The first screen's words when nothing discriminates: the headline, then ``detail``
    (what it would take to detect an effect); empty when the ICP has rules."""
    if icp is not None and not icp.empty:
        return []
    return [NOTHING_HEADLINE, *detail]


def segment_attributes(lift: LiftResult | None, n: int = SEGMENT_ATTRIBUTES) -> list[str]:
    """The ``n`` account attributes (not signals) that tell wins from losses best."""
    if lift is None:
        return []
    ranked = sorted(
        (
            (iv, name)
            for name, iv in lift.information_value.items()
            if not name.startswith("signal:") and math.isfinite(iv)
        ),
        key=lambda item: (-item[0], item[1]),
    )
    return [name for _, name in ranked[:n]]


def coverage(lift: LiftResult | None) -> list[Coverage]:
    """Known values per attribute, from the lift table's own counts (closed deals per value)."""
    if lift is None:
        return []
    deals: dict[str, int] = {}
    known: dict[str, int] = {}
    for row in lift.rows:
        if row.family == "intent":
            continue
        deals[row.attribute] = deals.get(row.attribute, 0) + row.n_closed
        if row.value != MISSING:
            known[row.attribute] = known.get(row.attribute, 0) + row.n_closed
    return [Coverage(a, deals[a], known.get(a, 0)) for a in sorted(deals)]


def read_quality(
    con: duckdb.DuckDBPyConnection, summary: Mapping[str, Any], lift: LiftResult | None
) -> DataQuality:
    """The ingest summary (``Workspace.summary``), the quarantine grouped by file and column,
    and each attribute's coverage."""
    groups = con.execute(
        """SELECT file, "column", scope, count(*) AS n, min(reason)
           FROM quarantine GROUP BY ALL ORDER BY n DESC, file, "column" NULLS FIRST LIMIT 50"""
    ).fetchall()
    total = int(con.execute("SELECT count(*) FROM quarantine").fetchall()[0][0])
    imports = [
        ImportRow(str(f), str(e), str(s), int(r), int(lo), int(rq), int(cq), at)
        for _, f, e, s, r, lo, rq, cq, at in summary["imports"]
    ]
    return DataQuality(
        counts=dict(summary["counts"]),
        outcomes=dict(summary["outcomes"]),
        deals_linked=int(summary["deals_linked"]),
        imports=imports,
        quarantine=[QuarantineGroup(str(f), c, str(s), int(n), str(r)) for f, c, s, n, r in groups],
        quarantine_total=total,
        coverage=coverage(lift),
    )


def named_deals(con: duckdb.DuckDBPyConnection, where: str) -> tuple[RateEstimate, int, int, int]:
    """The closed deals ``where`` (SQL over ``deals``) selects, linked to an account: their
    win rate (counted by account, with its interval), their wins, their accounts and the
    accounts that won one of them."""
    rows = con.execute(
        f"""SELECT count(*) FILTER (WHERE outcome = 'won'), count(*) FROM deals
            WHERE outcome IN ('won', 'lost') AND account_key IS NOT NULL AND ({where})
            GROUP BY account_key ORDER BY account_key"""
    ).fetchall()
    wins = np.array([r[0] for r in rows], dtype=float)
    deals = np.array([r[1] for r in rows], dtype=float)
    return clustered_rate(wins, deals), int(wins.sum()), len(rows), int((wins > 0).sum())


def _thin(x: np.ndarray, y: np.ndarray) -> tuple[list[float], list[float]]:
    """At most ``CURVE_POINTS`` points of a curve, evenly spaced along it, ends kept."""
    if len(x) > CURVE_POINTS:
        keep = np.unique(np.linspace(0, len(x) - 1, CURVE_POINTS).round().astype(int))
        x, y = x[keep], y[keep]
    return [float(v) for v in x], [float(v) for v in y]


def curves(result: BacktestResult) -> tuple[list[Curve], list[Curve]]:
    """Every scored model's ROC curve and cumulative-gains curve on the backtest's test
    deals (``icpkit.validate.metrics``), from the scores the backtest kept; a model that
    could not be fitted has none."""
    y = np.asarray(result.deals.won, dtype=np.int64)
    if y.size == 0 or y.min() == y.max():
        return [], []
    roc: list[Curve] = []
    gains: list[Curve] = []
    for model in result.models:
        if model.scores is None or np.isnan(model.scores).any():
            continue
        r = metrics.roc_points(y, model.scores)
        g = metrics.gains_points(y, model.scores)
        roc.append(Curve(model.model, *_thin(r.x, r.y)))
        gains.append(Curve(model.model, *_thin(g.x, g.y)))
    return roc, gains
