"""Degrade, never crash: a challenger that cannot fit is a row of the backtest saying why,
and attributes with one value everywhere (no technologies column) never reach a fitter."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from icpkit.analysis.deals import deal_matrix
from icpkit.validate import baselines
from icpkit.validate.backtest import BacktestResult
from icpkit.validate.baselines import Baseline, fit_safely, informative, optbinning_baseline
from small_crm import SmallCrm, write_crm

CHALLENGERS = ("firmographics only", "optbinning scorecard")


@pytest.fixture(scope="module")
def crm(tmp_path_factory: pytest.TempPathFactory) -> SmallCrm:
    # 300 accounts with sizes and industries at random, and no technologies column: every
    # deal's stack_density and tech attributes are missing.
    return write_crm(tmp_path_factory.mktemp("degraded"), 300, varied=True)


@pytest.fixture(scope="module")
def result(crm: SmallCrm) -> BacktestResult:
    return crm.ws.backtest(n_boot=50)


def test_stack_density_is_missing_for_every_deal(crm: SmallCrm) -> None:
    with crm.ws.connect() as con:
        matrix = deal_matrix(con, crm.ws.settings.analysis)
    assert set(matrix.columns["stack_density"].tolist()) == {"(missing)"}


@pytest.mark.slow
def test_backtest_without_technologies_reports_every_challenger(result: BacktestResult) -> None:
    names = [m.model for m in result.models]
    for name in CHALLENGERS:
        assert name in names
    assert any("LightGBM" in n or "HistGradient" in n or "boosting" in n for n in names)
    for model in result.models:
        if model.fitted:
            assert math.isfinite(model.auc.value), model
        else:
            assert model.note.startswith(("could not fit: ", "skipped: ")), model


@pytest.mark.slow
def test_attributes_with_one_value_are_left_out_of_the_challengers_and_said_so(
    result: BacktestResult,
) -> None:
    [note] = [n for n in result.notes if "single value" in n]
    assert "stack_density" in note and "company_age" in note


def test_a_challenger_that_raises_is_a_row_that_says_why_and_the_backtest_goes_on(
    crm: SmallCrm, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: object, **_kwargs: object) -> Baseline:
        raise ValueError("Found array with 0 sample(s)\nsecond line of the message")

    monkeypatch.setattr(baselines, "optbinning_baseline", broken)
    result = crm.ws.backtest(n_boot=20)
    row = result.model("optbinning scorecard")
    assert not row.fitted
    assert row.note == "could not fit: Found array with 0 sample(s)"
    assert math.isnan(row.auc.value)
    assert result.model("icpkit scorecard").fitted
    assert result.model("firmographics only").fitted


def test_fit_safely_turns_a_failure_or_a_skip_into_a_reason() -> None:
    def raises() -> Baseline:
        raise RuntimeError("singular matrix")

    assert fit_safely("m", raises) == Baseline("m", None, "could not fit: singular matrix")
    assert fit_safely("m", lambda: Baseline("m", None, "no attributes to fit on")).note == (
        "could not fit: no attributes to fit on"
    )
    missing = fit_safely("m", lambda: Baseline("m", None, "optbinning is not installed: pip"))
    assert missing.note.startswith("skipped: optbinning is not installed")
    nan = fit_safely("m", lambda: Baseline("m", np.array([0.2, np.nan])))
    assert nan.probabilities is None and nan.note.startswith("could not fit")
    fine = Baseline("m", np.array([0.2, 0.7]), "", 0.1)
    assert fit_safely("m", lambda: fine) is fine


def test_informative_drops_all_missing_and_constant_attributes(crm: SmallCrm) -> None:
    with crm.ws.connect() as con:
        matrix = deal_matrix(con, crm.ws.settings.analysis)
    kept, dropped = informative(matrix)
    assert {"stack_density", "country", "revenue", "company_age"} <= set(dropped)
    assert {"employees", "industry", "extra:Region"} <= set(kept.columns)
    assert [a.name for a in kept.attributes] == list(kept.columns)
    assert len(kept) == len(matrix)


@pytest.mark.slow
def test_optbinning_fits_once_the_all_missing_attribute_is_dropped(
    crm: SmallCrm, tmp_path: Path
) -> None:
    pytest.importorskip("optbinning")
    with crm.ws.connect() as con:
        matrix = deal_matrix(con, crm.ws.settings.analysis)
    half = np.arange(len(matrix)) % 2 == 0
    train, _ = informative(matrix.subset(half))
    test = baselines.keep_columns(matrix.subset(~half), list(train.columns))
    fitted = fit_safely("optbinning scorecard", lambda: optbinning_baseline(train, test))
    assert fitted.probabilities is not None, fitted.note
    assert fitted.probabilities.shape == (len(test),)
