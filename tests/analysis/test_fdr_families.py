"""False-discovery families: win-rate tests of fit attributes, of intent signals and churn
tests are each corrected on their own, so discoveries in one never loosen another."""

from __future__ import annotations

import numpy as np

from icpkit.analysis.lift import LiftRow, _adjust_and_classify
from icpkit.config import AnalysisSettings


def _row(value: str, family: str, p: float, churn_p: float | None = None) -> LiftRow:
    """A cut that wins 2x as often (CI 1.5-2.7) on plenty of deals; only p decides."""
    return LiftRow(
        attribute="signal:leadership_change:CTO" if family == "intent" else "industry",
        value=value,
        family=family,
        kind="ordinal" if family == "intent" else "categorical",
        n_closed=400,
        wins=200,
        n_accounts=300,
        win_rate=0.5,
        win_rate_ci=(0.45, 0.55),
        shrunk_rate=0.5,
        share_won=0.1,
        share_lost=0.05,
        lift=2.0,
        lift_ci=(1.5, 2.7),
        difference=0.25,
        difference_ci=(0.2, 0.3),
        p_value=p,
        woe=0.7,
        test="z",
        churn_rate=0.6 if churn_p is not None else None,
        churn_lift=3.0 if churn_p is not None else None,
        churn_p_value=churn_p,
        churn_customers=150 if churn_p is not None else 0,
        churn_customers_rest=900 if churn_p is not None else 0,
    )


def _bh(p: list[float]) -> list[float]:
    """Benjamini-Hochberg written out: q_(i) = min over j >= i of p_(j) * m / j."""
    m = len(p)
    order = sorted(range(m), key=lambda i: p[i])
    q = [0.0] * m
    running = 1.0
    for rank in range(m, 0, -1):
        i = order[rank - 1]
        running = min(running, p[i] * m / rank)
        q[i] = running
    return q


def test_strong_churn_effects_do_not_let_a_shuffled_win_test_through() -> None:
    # 20 win-rate tests on shuffled outcomes, the best at p = 0.004 (BH alone: q = 0.08),
    # and 20 cuts whose customers churn far more (p = 1e-6). One shared correction over 40
    # tests would give the win test q = 0.004 * 40 / 21 = 0.0076 and a false discriminator.
    win_p = [0.004] + [0.3 + 0.03 * i for i in range(19)]
    rows = [_row(f"w{i}", "fit", p) for i, p in enumerate(win_p)]
    rows += [_row(f"c{i}", "fit", 0.9, churn_p=1e-6) for i in range(20)]
    _adjust_and_classify(rows, AnalysisSettings())
    win_q = _bh(win_p + [0.9] * 20)
    for row, expected in zip(rows, win_q, strict=True):
        assert np.isclose(row.q_value, expected)
    assert rows[0].q_value > 0.05
    assert rows[0].verdict != "discriminator"
    assert not any(r.verdict == "discriminator" for r in rows)
    # The churn discoveries stand on their own family.
    assert all(r.verdict == "disqualifier" for r in rows[20:])
    assert all(np.isclose(r.churn_q_value or 1.0, 1e-6) for r in rows[20:])


def test_intent_tests_are_corrected_apart_from_fit_tests() -> None:
    # Strong fit discoveries must not lower the bar for an intent window at p = 0.01 among
    # ten intent tests (alone: q = 0.1).
    fit = [_row(f"f{i}", "fit", 1e-8) for i in range(30)]
    intent_p = [0.01] + [0.5] * 9
    intent = [_row(f"{i * 30}-{i * 30 + 29}d", "intent", p) for i, p in enumerate(intent_p)]
    _adjust_and_classify(fit + intent, AnalysisSettings())
    assert all(r.verdict == "discriminator" for r in fit)
    assert np.isclose(intent[0].q_value, _bh(intent_p)[0])
    assert np.isclose(intent[0].q_value, 0.1)
    assert not any(r.verdict == "discriminator" for r in intent)
