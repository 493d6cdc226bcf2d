"""The backtest trains on what was known at its cut-off: churn as of that day (and deals'
attributes as of their creation, see tests/analysis/test_point_in_time.py)."""

from __future__ import annotations

import duckdb
import pytest

import icpkit.validate.backtest as backtest
from dated_crm import CUTOFF, write_dated_crm
from icpkit.analysis.frame import Frame, build_frame
from icpkit.workspace import Workspace


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    return write_dated_crm(tmp_path_factory.mktemp("dated"))


def test_the_backtest_trains_on_churn_as_of_its_cut_off(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, object] = {}

    def spy_frame(con: duckdb.DuckDBPyConnection, *args: object, **kwargs: object) -> Frame:
        frame = build_frame(con, *args, **kwargs)  # type: ignore[arg-type]
        seen["frame"] = frame
        raise backtest.BacktestError("stop after the training frame")

    monkeypatch.setattr(backtest, "build_frame", spy_frame)
    with ws.connect(read_only=True) as con, pytest.raises(backtest.BacktestError):
        backtest.run_backtest(con, ws.settings, None, cutoff=CUTOFF)
    frame = seen["frame"]
    assert isinstance(frame, Frame)
    index = {key: i for i, key in enumerate(frame.account_keys)}
    assert {int(frame.churned[index[f"h{i}.com"]]) for i in range(10)} == {0}
    assert {int(frame.churned[index[f"h{i}.com"]]) for i in range(10, 20)} == {1}
