"""Gathering a report from a workspace's results, and writing it.

The workspace hands over its own methods (``Sources``); each result is computed once, by the
code that computes it everywhere else. A part that cannot be computed (too few deals for a
backtest, nothing to rank lookalikes by) becomes a sentence in its section, never a failure
of the whole report.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import duckdb

from icpkit.analysis.lift import LiftResult
from icpkit.analysis.segments import SegmentTable
from icpkit.analysis.tiers import TierResult
from icpkit.config import Settings
from icpkit.engines.scorecard import build_scorecard
from icpkit.errors import IcpkitError
from icpkit.icp.diff import diff_icps, format_diff
from icpkit.icp.model import ICP
from icpkit.icp.named import deal_condition, describe_deals, named_icp, versions_of
from icpkit.icp.versions import VersionStore
from icpkit.operate.lookalike import Lookalike
from icpkit.operate.monitor import MonitorResult
from icpkit.operate.tam import TamResult
from icpkit.operate.tier_changes import TierChanges
from icpkit.output.files import write_atomic
from icpkit.report.data import (
    Changes,
    Market,
    NamedReport,
    ReportData,
    Validation,
    curves,
    named_deals,
    nothing_sentences,
    read_quality,
    segment_attributes,
)
from icpkit.report.html import render_html
from icpkit.report.markdown import render_markdown
from icpkit.validate.backtest import BacktestResult

Format = Literal["html", "md"]
FORMATS: tuple[Format, ...] = ("html", "md")
DEFAULT_NAME = "icp-report"


@dataclass
class Sources:
    """Where a report's results come from: the workspace's own methods and state."""

    name: str
    settings: Settings
    icp: ICP | None
    versions: VersionStore
    lift: Callable[[], LiftResult]
    segments: Callable[[Sequence[str]], list[SegmentTable]]
    tiers: Callable[[], TierResult]
    summary: Callable[[], Mapping[str, Any]]
    connect: Callable[[], AbstractContextManager[duckdb.DuckDBPyConnection]]
    backtest: Callable[[], BacktestResult] | None = None
    tam: Callable[[], TamResult] | None = None
    lookalikes: Callable[[], list[Lookalike]] | None = None
    tier_changes: Callable[[int, int], TierChanges] | None = None
    monitor: Callable[[], MonitorResult] | None = None


def _nothing(icp: ICP | None, lift: LiftResult | None, settings: Settings) -> list[str]:
    """The first screen's sentences when the ICP is empty (none when it has rules)."""
    if icp is None or not icp.empty:
        return []
    detail: list[str] = []
    if lift is not None and lift.n_closed:
        from icpkit.learn.derive import detectable

        detail = detectable(lift, settings.analysis).sentences()[1:]
    return nothing_sentences(icp, detail)


def _changes(
    versions: VersionStore, tier_changes: Callable[[int, int], TierChanges] | None
) -> Changes:
    numbers = versions.numbers()
    changes = Changes(versions.list())
    if len(numbers) >= 2:
        previous, latest = numbers[-2], numbers[-1]
        diff = diff_icps(versions.load(previous), versions.load(latest))
        changes.previous, changes.diff, changes.lines = previous, diff, format_diff(diff)
        if tier_changes is not None:
            try:
                changes.tiers = tier_changes(previous, latest)
            except IcpkitError as exc:
                changes.tiers_note = f"The accounts could not be scored with both versions: {exc}"
    return changes


def _named(con: duckdb.DuckDBPyConnection, src: Sources) -> list[NamedReport]:
    """Each named ICP of the workspace, in the order declared: its ICP in force and
    scorecard (as ``icp score`` builds it), its versions and its deals counted in the store."""
    out = []
    for declared in src.settings.icps:
        icp = named_icp(src.settings, declared.name)
        card = None
        if icp is not None and icp.scoring is not None:
            card = build_scorecard(icp, src.settings.scoring)
        rate, won, accounts, customers = named_deals(con, deal_condition(declared.deals))
        out.append(
            NamedReport(
                name=declared.name,
                deals=describe_deals(declared.deals),
                icp=icp,
                scorecard=card,
                versions=len(versions_of(src.versions.root, declared.name).numbers()),
                closed=rate.n_deals,
                won=won,
                win_rate=rate,
                accounts=accounts,
                customers=customers,
            )
        )
    return out


def gather(src: Sources, *, backtest: BacktestResult | None = None) -> ReportData:
    """Every result the report shows, from ``src`` (a ``backtest`` already run is reused)."""
    warnings: list[str] = []
    lift: LiftResult | None = src.lift()
    tiers: TierResult | None = src.tiers()
    warnings += lift.warnings if lift is not None else []
    segments = src.segments(segment_attributes(lift))

    validation = Validation()
    if backtest is None and src.backtest is not None:
        try:
            backtest = src.backtest()
        except IcpkitError as exc:
            validation.note = f"No backtest: {exc}"
    elif backtest is None:
        validation.note = "The backtest was not run for this report (icp backtest runs it)."
    if backtest is not None:
        validation.result = backtest
        validation.roc, validation.gains = curves(backtest)

    market = Market()
    if src.tam is not None:
        try:
            market.tam = src.tam()
        except IcpkitError as exc:
            market.note = f"The market could not be sized: {exc}"
    if src.lookalikes is not None:
        try:
            market.lookalikes = src.lookalikes()
        except IcpkitError as exc:
            market.lookalike_note = str(exc)

    changes = _changes(src.versions, src.tier_changes)
    if src.monitor is not None:
        try:
            changes.drift = src.monitor()
        except IcpkitError as exc:
            changes.drift_note = f"Drift could not be measured: {exc}"
    else:
        changes.drift_note = "Drift is measured once the ICP has fitted points (icp derive)."

    with src.connect() as con:
        quality = read_quality(con, src.summary(), lift)
        named = _named(con, src) if src.settings.icps else []
    scorecard = None
    if src.icp is not None and src.icp.scoring is not None:
        scorecard = build_scorecard(src.icp, src.settings.scoring)
    return ReportData(
        name=src.name,
        generated_at=dt.datetime.now(dt.UTC).replace(tzinfo=None),
        icp=src.icp,
        nothing=_nothing(src.icp, lift, src.settings),
        lift=lift,
        segments=segments,
        tiers=tiers,
        validation=validation,
        market=market,
        changes=changes,
        quality=quality,
        scorecard=scorecard,
        warnings=warnings,
        named=named,
    )


def render(data: ReportData, fmt: str) -> str:
    """The report in ``fmt``: 'html' (one self-contained page) or 'md' (Markdown)."""
    if fmt == "html":
        return render_html(data)
    if fmt == "md":
        return render_markdown(data)
    raise IcpkitError(f"unknown report format {fmt!r}: use one of {', '.join(FORMATS)}")


def write_report(data: ReportData, out: Path, fmt: str) -> Path:
    """Write the report to ``out`` whole or not at all; returns the path written."""
    write_atomic(out, render(data, fmt))
    return out


def default_path(root: Path, fmt: str) -> Path:
    """Where a report goes when no path is given: ``icp-report.html`` (or ``.md``) in the
    workspace folder."""
    return root / f"{DEFAULT_NAME}.{fmt}"
