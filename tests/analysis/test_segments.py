"""Segment tables: five metrics per bucket with intervals, and an honest verdict on who leads."""

from __future__ import annotations

import math
import random
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from helpers import DemoWorkspaces
from icpkit.analysis import frame, segments, stats
from icpkit.analysis.segments import (
    Interval,
    Segment,
    SegmentError,
    _Rows,
    _segment,
    _sums_in_order,
)
from icpkit.analysis.segments import prepare as segments_prepare
from icpkit.attributes import definition_of
from icpkit.config import AnalysisSettings
from icpkit.workspace import Workspace


@pytest.fixture(scope="module")
def ws(demo_workspace: DemoWorkspaces) -> Workspace:
    return demo_workspace(6_000, 11).ws


@pytest.mark.slow
def test_default_employee_buckets_in_order_with_intervals(ws: Workspace) -> None:
    table = ws.segments("employees")
    assert [s.value for s in table.segments] == [
        "1-10",
        "11-50",
        "51-200",
        "201-500",
        "501-1,000",
        "1,001+",
        "(missing)",
    ]
    for s in table.segments:
        assert s.win_rate.low <= s.win_rate.value <= s.win_rate.high
        assert s.wins <= s.deals


@pytest.mark.slow
def test_each_metric_has_a_leader_and_a_bucket_is_named_only_on_three(ws: Workspace) -> None:
    table = ws.segments("employees")
    by_value = {s.value: s for s in table.segments}
    # The planted sweet spot wins most often; enterprise buys bigger and expands more.
    assert "win_rate" in by_value["51-200"].leads
    assert "avg_acv" in by_value["1,001+"].leads
    leads = {s.value: len(s.leads) for s in table.segments}
    if table.leader is None:
        assert max(leads.values()) < 3
        assert table.verdict == "no bucket leads on three or more of the five metrics"
    else:
        assert leads[table.leader] >= 3


def test_a_bucket_leading_three_metrics_is_named() -> None:
    from icpkit.analysis.segments import Interval, Segment, _leader
    from icpkit.config import AnalysisSettings

    def seg(value: str, win: float, acv: float, cycle: float, exp: float, churn: float):
        i = lambda x: Interval(x, x, x)  # noqa: E731
        return Segment(
            value, 100, int(win * 100), 50, i(win), i(acv), i(cycle), i(exp), i(churn), thin=False
        )

    segments = [
        seg("small", 0.2, 5000, 40, 0.1, 0.3),
        seg("mid", 0.5, 9000, 30, 0.3, 0.1),
        seg("big", 0.3, 20000, 60, 0.5, 0.2),  # a tie would lead nothing
    ]
    leader, verdict = _leader(segments, AnalysisSettings())
    assert leader == "mid"
    assert verdict.startswith("mid leads on 3 of 5 metrics (win_rate, median_cycle_days")


@pytest.mark.slow
def test_custom_buckets_come_from_the_settings(ws: Workspace) -> None:
    ws.settings.analysis.employee_buckets = [100, 1000]
    try:
        values = [s.value for s in ws.segments("employees").segments]
    finally:
        ws.settings.analysis.employee_buckets = [10, 50, 200, 500, 1000]
    assert values == ["1-100", "101-1,000", "1,001+", "(missing)"]


@pytest.mark.slow
def test_thin_buckets_are_flagged_and_never_named_leader(ws: Workspace) -> None:
    table = ws.segments("stack_density")
    thin = [s for s in table.segments if s.thin]
    assert thin, "9+ tools is rare in the demo data"
    assert table.leader not in {s.value for s in thin}


def test_too_thin_data_says_so(tmp_path: Path) -> None:
    ws = Workspace.init(tmp_path / "ws")
    path = tmp_path / "deals.csv"
    path.write_text(
        "Record ID,Deal Stage,Company name,Employees\n"
        + "".join(f"{i},{'Closed Won' if i % 2 else 'Closed Lost'},C{i},60\n" for i in range(10))
    )
    assert ws.ingest([path]).ok
    table = ws.segments("employees")
    assert table.leader is None
    assert table.verdict.startswith("too thin to tell")


@pytest.mark.slow
def test_funding_recency_is_an_alias_of_the_funding_signal(ws: Workspace) -> None:
    table = ws.segments("funding_recency")
    assert table.attribute == "signal:funding_round"
    assert not math.isnan(table.segments[0].win_rate.value)


Row = tuple[object, str, bool, float | None, int | None, bool, bool]


def _rows(rows: list[Row]) -> _Rows:
    """Rows (value, account, won, amount, cycle days, expanded, churned) as the store gives
    them to a segment table."""
    names = ["value", "account_key", "won", "amount", "cycle_days", "expanded", "churned"]
    types = [None, pa.string(), pa.bool_(), pa.float64(), pa.int32(), pa.bool_(), pa.bool_()]
    return _Rows.of(
        pa.table(
            {
                n: pa.array([r[i] for r in rows], t)
                for i, (n, t) in enumerate(zip(names, types, strict=True))
            }
        )
    )


def _by_hand(value: str, rows: list[Row], settings: AnalysisSettings) -> Segment:
    """A bucket's figures worked out row by row, in plain Python: the specification."""
    accounts = sorted({str(r[1]) for r in rows})
    deals = np.array([sum(1 for r in rows if r[1] == a) for a in accounts], dtype=float)
    wins = np.array([sum(1 for r in rows if r[1] == a and r[2]) for a in accounts], dtype=float)
    rate = stats.clustered_rate(wins, deals)
    won = [r for r in rows if r[2]]
    amounts: dict[str, list[float]] = {}
    for r in won:
        if r[3] is not None:
            amounts.setdefault(str(r[1]), []).append(float(r[3]))
    sums = np.array([sum(sorted(v)) for _, v in sorted(amounts.items())])
    counts = np.array([len(v) for _, v in sorted(amounts.items())], dtype=float)
    if not amounts:
        acv = Interval(math.nan, math.nan, math.nan)
    elif len(sums) < 2:
        acv = Interval(float(sums.sum() / counts.sum()), math.nan, math.nan)
    else:
        low, high = stats.bootstrap_accounts_ci(
            lambda i: float(sums[i].sum() / counts[i].sum()), len(sums), n_boot=400
        )
        acv = Interval(float(sums.sum() / counts.sum()), low, high)
    median = stats.median_ci(np.array([r[4] for r in won if r[4] is not None], dtype=float))
    customers = {str(r[1]): (r[5], r[6]) for r in won}

    def rate_of(n: int) -> Interval:
        if not customers:
            return Interval(math.nan, math.nan, math.nan)
        low, high = stats.wilson_interval(n, len(customers))
        return Interval(n / len(customers), low, high)

    return Segment(
        value=value,
        deals=len(rows),
        wins=len(won),
        accounts=len(accounts),
        win_rate=Interval(rate.rate, rate.low, rate.high),
        avg_acv=acv,
        median_cycle_days=Interval(*median),
        expansion_rate=rate_of(sum(1 for e, _ in customers.values() if e)),
        churn_rate=rate_of(sum(1 for _, c in customers.values() if c)),
        thin=len(rows) < settings.min_closed_deals,
    )


def _random_rows(seed: int, values: list[object]) -> list[Row]:
    rng = random.Random(seed)
    # Keys in an order no sort by bytes and by characters could disagree on, and whales
    # with a dozen won deals whose amounts differ by orders of magnitude, so that the order
    # in which they are added shows in the last bit.
    keys = [f"acct-{i:02}" for i in range(40)] + ["Ärzte", "zeta", "Zeta", "😀 co", "a"]
    flags = {k: (rng.random() < 0.2, rng.random() < 0.1) for k in keys}
    rows: list[Row] = []
    for _ in range(600):
        account = rng.choice(keys[:5]) if rng.random() < 0.2 else rng.choice(keys)
        amount = rng.choice([None, 1e16, 1_000.0, 12_345.67, 99.5, 0.1, 3.0])
        cycle = rng.choice([None, 30, 90, 200])
        value = rng.choice(values)
        rows.append((value, account, rng.random() < 0.4, amount, cycle, *flags[account]))
    return rows


@pytest.mark.parametrize(
    "values", [["Software", "Retail", "(missing)"], [1, 2, None], [True, False]]
)
def test_a_buckets_figures_are_those_worked_out_row_by_row(values: list[object]) -> None:
    rows = _random_rows(len(values), values)
    settings = AnalysisSettings()
    read = _rows(rows)
    assert sorted(read.buckets) == sorted({str(v) for v in values})  # 1 -> '1', None -> 'None'
    for value, where in read.buckets.items():
        bucket = [r for r in rows if str(r[0]) == value]
        assert repr(_segment(value, read, where, settings)) == repr(
            _by_hand(value, bucket, settings)
        )


def test_a_buckets_figures_do_not_follow_the_order_rows_come_in() -> None:
    # A scan may return a segment's rows in any order; its intervals (the average ACV's
    # comes from resampling accounts) must be the same whatever it is. Expanded and churned
    # are an account's, the same on each of its rows.
    rows = _random_rows(5, ["Software"])
    settings = AnalysisSettings()
    read = _rows(rows)
    first = repr(_segment("Software", read, read.buckets["Software"], settings))
    assert "nan" not in first.split("avg_acv")[1].split(")")[0]  # an interval was drawn
    rng = random.Random(5)
    for _ in range(5):
        rng.shuffle(rows)
        again = _rows(rows)
        assert repr(_segment("Software", again, again.buckets["Software"], settings)) == first


def test_runs_are_summed_left_to_right_as_python_sums_a_list() -> None:
    values = np.array([1e16] + [1.0] * 11 + [2.0, 1e16, 3.0])
    starts, counts = np.array([0, 12, 13]), np.array([12, 1, 2])
    sums = _sums_in_order(values, starts, counts)
    assert sums.tolist() == [
        sum(values[a : a + n].tolist()) for a, n in zip(starts, counts, strict=True)
    ]
    assert sums[0] == 1e16  # numpy's pairwise sum gives 1e16 + 8 here


@pytest.mark.slow
def test_several_tables_are_each_the_one_asked_alone(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = ["employees", "industry", "funding_recency"]
    alone = [repr(ws.segments(name)) for name in names]
    prepared = []
    monkeypatch.setattr(segments, "prepare", lambda con: prepared.append(segments_prepare(con)))
    together = [repr(t) for t in ws.segment_tables(names)]
    assert together == alone
    assert prepared == []  # the workspace's preparation is used by every table


@pytest.mark.slow
def test_a_table_asks_only_its_own_definition_for_its_attributes(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A table of employees need not read the profiles of 1,000 custom columns.
    with ws.connect(read_only=True) as con:
        segments_prepare(con)
        every = frame.discover_attributes(con, ws.settings.analysis)
        expected = repr(segments.segment_table(con, every, "employees", ws.settings.analysis))
    asked: list[object] = []
    real = frame.discover_attributes

    def discover(con: object, settings: AnalysisSettings, among: object = None) -> object:
        asked.append(among)
        return real(con, settings, among)  # type: ignore[arg-type]

    monkeypatch.setattr(frame, "discover_attributes", discover)
    assert repr(ws.segments("employees")) == expected
    assert asked == [[definition_of("employees")]]
    # A name its definition does not find is told apart from every attribute there is.
    asked.clear()
    with pytest.raises(SegmentError, match=r"no attribute 'tech:Nonexistent'.*industry"):
        ws.segments("tech:Nonexistent")
    assert asked == [[definition_of("tech:Nonexistent")], None]
