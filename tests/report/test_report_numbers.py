"""The report is a view of the workspace's own results: every number on the page is the one
the workspace computes (lift table, segments, backtest, TAM, lookalikes), never a second
computation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from report_pages import WIDEN, Demo, Tables, read_tables
from sklearn.metrics import roc_curve

from icpkit.analysis.frame import MISSING
from icpkit.engines.scorecard import build_scorecard

pytestmark = pytest.mark.slow


def close(shown: float | None, expected: float) -> bool:
    return shown is not None and math.isclose(shown, expected, rel_tol=1e-9, abs_tol=1e-12)


def test_the_lift_table_on_the_page_is_the_workspace_lift_table(demo: Demo) -> None:
    tables = read_tables(demo.html.read_text(encoding="utf-8"))
    lift = demo.ws.lift()
    by_label = {f"{r.attribute} = {r.value}": r for r in lift.rows}
    shown = tables.rows("lift")
    assert shown
    for label, verdict, ratio, rate, deals, q in shown:
        row = by_label[label[0]]
        assert verdict[0] == row.verdict
        assert close(ratio[1], row.lift) and close(rate[1], row.win_rate)
        assert deals[1] == row.n_closed and close(q[1], row.q_value)
    # The chart's rows are the significant values (the demo has more than a handful).
    significant = {
        label
        for label, r in by_label.items()
        if r.verdict in ("discriminator", "disqualifier")
        and r.family != "intent"
        and r.value != MISSING
    }
    assert {row[0][0] for row in shown} == significant


def test_the_segment_tables_are_the_workspace_segment_tables(demo: Demo) -> None:
    tables = read_tables(demo.html.read_text(encoding="utf-8"))
    keys = [k for k in tables.tables if k.startswith("segments-")]
    assert len(keys) == 4
    for key in keys:
        seg = demo.ws.segments(key.removeprefix("segments-"))
        rows = tables.rows(key)
        assert len(rows) == len(seg.segments)
        for row, s in zip(rows, seg.segments, strict=True):
            assert row[0][0].removesuffix(" (thin)") == s.value
            assert row[1][1] == s.deals and close(row[2][1], s.win_rate.value)


def test_the_icp_tables_show_each_rule_with_its_scorecard_points(demo: Demo) -> None:
    tables = read_tables(demo.html.read_text(encoding="utf-8"))
    icp = demo.ws.require_icp()
    points = {rp.id: rp.points for rp in build_scorecard(icp, demo.ws.settings.scoring).rules}
    for name in ("fit", "intent", "exclusions"):
        rules = getattr(icp, name)
        rows = tables.rows(f"icp-{name}")
        assert len(rows) == len(rules) > 0
        for row, rule in zip(rows, rules, strict=True):
            assert row[1][1] == points[rule.id]
            assert rule.evidence is not None and close(row[2][1], rule.evidence.lift or 0.0)
            assert row[4][1] == rule.evidence.n_closed


def test_the_backtest_tables_are_the_backtest_result(demo: Demo) -> None:
    tables = read_tables(demo.html.read_text(encoding="utf-8"))
    result = demo.backtest
    models = tables.rows("models")
    assert [r[0][0] for r in models] == [m.model for m in result.models]
    for row, m in zip(models, result.models, strict=True):
        if math.isfinite(m.auc.value):
            assert close(row[1][1], m.auc.value) and close(row[2][1], m.pr_auc.value)
        else:
            assert row[1] == ("–", None)
    tiers = tables.rows("score-tiers")
    assert [r[0][0] for r in tiers] == [t.tier for t in result.tiers]
    for row, t in zip(tiers, result.tiers, strict=True):
        assert row[1][1] == t.n and row[2][1] == t.wins and close(row[3][1], t.win_rate)
    calibration = tables.rows("calibration")
    assert [r[1][1] for r in calibration] == [c.n for c in result.calibration]
    assert all(
        close(r[3][1], c.observed) for r, c in zip(calibration, result.calibration, strict=True)
    )


def test_the_market_tables_are_the_tam_and_lookalikes_of_the_universe(demo: Demo) -> None:
    tables = read_tables(demo.html.read_text(encoding="utf-8"))
    tam = demo.ws.tam(demo.universe, as_of=demo.as_of, widen=WIDEN)
    funnel = {row[0][0]: row[1][1] for row in tables.rows("tam")}
    c = tam.current
    assert funnel["universe"] == c.universe and funnel["market served"] == c.market
    assert funnel["in the ICP (TAM)"] == c.tam and funnel["of which customers"] == c.customers
    assert all(funnel[f"tier {t}"] == n for t, n in c.tiers.items())
    assert tam.win_rates is not None
    widen = tables.rows("widen")
    assert close(widen[0][3][1], tam.win_rates.old.rate)
    assert close(widen[1][3][1], tam.win_rates.new.rate)
    like = demo.ws.lookalikes(demo.universe, top=10, k=3)
    assert [r[0][0] for r in tables.rows("lookalikes")] == [x.name or x.account_key for x in like]


def test_the_data_quality_tables_are_the_ingest_summary_and_quarantine(demo: Demo) -> None:
    tables = read_tables(demo.html.read_text(encoding="utf-8"))
    imports = demo.ws.summary()["imports"]
    rows = tables.rows("imports")
    assert [(r[0][0], r[3][1], r[4][1]) for r in rows] == [(i[1], i[4], i[5]) for i in imports]
    quarantined = sum(r[3][1] or 0 for r in tables.rows("quarantine"))
    assert quarantined == len(demo.ws.quarantine())


def _curve_rows(tables: Tables, key: str) -> dict[str, list[tuple[float, float]]]:
    """A curve table's points per model, as the page's raw numbers."""
    out: dict[str, list[tuple[float, float]]] = {}
    for model, x, y in tables.rows(key):
        assert x[1] is not None and y[1] is not None
        out.setdefault(model[0], []).append((x[1], y[1]))
    return out


def _on(points: list[tuple[float, float]], curve: np.ndarray) -> bool:
    """Whether every point is one of the curve's (rows of ``curve``: x, y)."""
    return all(np.isclose(curve, p, rtol=0, atol=1e-12).all(axis=1).any() for p in points)


def test_every_models_roc_curve_on_the_page_is_its_curve_on_the_test_deals(demo: Demo) -> None:
    tables = read_tables(demo.html.read_text(encoding="utf-8"))
    result = demo.backtest
    y = result.deals.won.astype(int)
    shown = _curve_rows(tables, "roc")
    scored = [m for m in result.models if m.scores is not None]
    assert list(shown) == [m.model for m in scored] and len(scored) >= 5
    for m in scored:
        assert m.scores is not None
        fpr, tpr, _ = roc_curve(y, m.scores, drop_intermediate=False)
        points = shown[m.model]
        assert _on(points, np.column_stack([fpr, tpr]))
        assert points[0] == (0.0, 0.0) and points[-1] == (1.0, 1.0)
        assert len(points) == min(len(fpr), 101)


def test_every_models_gains_curve_on_the_page_is_its_share_of_wins_by_deals_worked(
    demo: Demo,
) -> None:
    tables = read_tables(demo.html.read_text(encoding="utf-8"))
    result = demo.backtest
    y = result.deals.won.astype(int)
    shown = _curve_rows(tables, "gains")
    for m in result.models:
        if m.scores is None:
            continue
        # Working every deal scoring at least t, for each score t the model gives.
        thresholds = np.unique(m.scores)
        worked = np.array([(m.scores >= t).mean() for t in thresholds])
        reached = np.array([y[m.scores >= t].sum() / y.sum() for t in thresholds])
        curve = np.vstack([[0.0, 0.0], np.column_stack([worked, reached])])
        assert _on(shown[m.model], curve)
        assert shown[m.model][-1] == (1.0, 1.0)
