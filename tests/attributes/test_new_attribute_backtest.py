"""The backtest's 'firmographics only' challenger is fitted on the attributes whose
definition says firmographic, a new one included, and on no other.

In the CRM of tests/tools_per_100.py only tools per 100 employees tells wins from losses:
every firmographic attribute icpkit defines holds one value there. Defined as technographic,
the challenger has nothing to fit on; defined as firmographic, it fits on the new attribute
and ranks the test deals as well as the attribute does.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest

from icpkit.attributes import registered
from icpkit.validate.backtest import BacktestResult
from tools_per_100 import TOOLS_PER_100, write_crm

CHALLENGER = "firmographics only"


@pytest.fixture(scope="module", params=["technographic", "firmographic"])
def backtest(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, BacktestResult]]:
    dimension = request.param
    with registered(dataclasses.replace(TOOLS_PER_100, dimension=dimension)):
        ws = write_crm(tmp_path_factory.mktemp(f"backtest-{dimension}"))
        yield dimension, ws.backtest(n_boot=50)


def test_the_firmographic_challenger_reads_the_attribute_only_when_firmographic(
    backtest: tuple[str, BacktestResult],
) -> None:
    dimension, result = backtest
    row = result.model(CHALLENGER)
    if dimension == "technographic":
        assert not row.fitted
        assert "no attributes to fit on" in row.note
    else:
        assert row.fitted, row.note
        # Dense stacks win 80%, sparse ones 20%: the attribute alone ranks deals well.
        assert row.auc.value > 0.7
