"""The frame's counts per (attribute value, account) and the preparation shared by the steps
of one derivation: counted in a single pass per attribute, they must equal what a GROUP BY in
DuckDB gives, and a preparation is reused only while it is still the one the frame read."""

from __future__ import annotations

import duckdb
import numpy as np
import pytest

from icpkit.analysis import frame as frame_module
from icpkit.analysis.frame import build_frame, prepare, prepared_token
from icpkit.learn import points
from icpkit.workspace import Workspace


def _group_by(con: duckdb.DuckDBPyConnection, column: str) -> dict[str, dict[int, tuple[int, int]]]:
    """Per value (NULL as 'None'), per account index: (wins, deals), by DuckDB."""
    out: dict[str, dict[int, tuple[int, int]]] = {}
    for value, idx, wins, deals in con.execute(
        f"""SELECT coalesce({column}, 'None'), idx, count(*) FILTER (WHERE won), count(*)
            FROM frame_values GROUP BY ALL"""
    ).fetchall():
        out.setdefault(str(value), {})[int(idx)] = (int(wins), int(deals))
    return out


def test_counts_per_value_and_account_equal_a_group_by(demo_workspace) -> None:  # type: ignore[no-untyped-def]
    ws = Workspace.open(demo_workspace(800, 5).root)
    with ws.connect(read_only=True) as con:
        prepare(con)
        attrs = frame_module.discover_attributes(con, ws.settings.analysis)
        con.execute(
            """CREATE TEMP TABLE account_index AS
               SELECT account_key, (row_number() OVER (ORDER BY account_key) - 1)::BIGINT AS idx
               FROM (SELECT DISTINCT account_key FROM closed)"""
        )
        columns = frame_module._frame_values(con, attrs)
        order = frame_module._DealOrder.of(con)
        assert order is not None and columns
        for name, column in columns.items():
            runs = order.runs(con, column)
            assert runs is not None, name
            bounds, idx, wins, deals = runs
            got = {
                value: {
                    int(i): (int(w), int(d))
                    for i, w, d in zip(idx[a:b], wins[a:b], deals[a:b], strict=True)
                }
                for value, (a, b) in bounds.items()
            }
            assert got == _group_by(con, column), name
            for a, b in bounds.values():  # accounts ascending within each value
                assert np.all(np.diff(idx[a:b]) > 0), name


def test_frame_cuts_count_every_closed_deal_once_per_attribute(demo_workspace) -> None:  # type: ignore[no-untyped-def]
    ws = Workspace.open(demo_workspace(800, 5).root)
    with ws.connect(read_only=True) as con:
        frame = build_frame(con, ws.settings.analysis)
        closed, won = con.execute(
            "SELECT count(*), count(*) FILTER (WHERE won) FROM closed"
        ).fetchall()[0]
    profiled = [a for a in frame.attributes if frame.cuts[a.name]]
    assert profiled
    for attr in profiled:
        assert sum(c.n_closed for c in frame.cuts[attr.name]) == closed, attr.name
        assert sum(c.n_won for c in frame.cuts[attr.name]) == won, attr.name


def test_a_frame_names_the_preparation_it_read(demo_workspace) -> None:  # type: ignore[no-untyped-def]
    ws = Workspace.open(demo_workspace(800, 5).root)
    with ws.connect(read_only=True) as con:
        frame = build_frame(con, ws.settings.analysis)
        assert frame.prepared is not None
        assert prepared_token(con) == frame.prepared
        assert prepared_token(con, "amount > 0") is None  # other deals: not this preparation
        prepare(con)
        assert prepared_token(con) != frame.prepared  # prepared again: a new one


@pytest.fixture
def counted_prepares(monkeypatch: pytest.MonkeyPatch) -> list[str | None]:
    """The ``where`` of each preparation the joint model's deals run."""
    calls: list[str | None] = []

    def counting(con: duckdb.DuckDBPyConnection, where: str | None = None):  # type: ignore[no-untyped-def]
        calls.append(where)
        return prepare(con, where)

    monkeypatch.setattr(points, "prepare", counting)
    return calls


def test_closed_deals_reuse_the_frames_preparation(
    demo_workspace,
    counted_prepares: list[str | None],  # type: ignore[no-untyped-def]
) -> None:
    ws = Workspace.open(demo_workspace(800, 5).root)
    with ws.connect(read_only=True) as con:
        frame = build_frame(con, ws.settings.analysis)
        reused = points.closed_deals(con, prepared=frame.prepared)
        assert counted_prepares == []
        fresh = points.closed_deals(con)
        assert counted_prepares == [None]
    assert reused.keys.tolist() == fresh.keys.tolist()
    assert reused.won.tolist() == fresh.won.tolist()


def test_closed_deals_prepare_again_once_the_tables_changed(
    demo_workspace,
    counted_prepares: list[str | None],  # type: ignore[no-untyped-def]
) -> None:
    ws = Workspace.open(demo_workspace(800, 5).root)
    with ws.connect(read_only=True) as con:
        frame = build_frame(con, ws.settings.analysis)
        prepare(con, "amount > 0")  # another step prepared other deals on the connection
        deals = points.closed_deals(con, prepared=frame.prepared)
        assert counted_prepares == [None]
        total = con.execute(
            """SELECT count(*) FROM deals WHERE outcome IN ('won', 'lost')
               AND NOT is_expansion AND account_key IS NOT NULL"""
        ).fetchall()[0][0]
    assert len(deals.won) == total


def test_closed_deals_on_another_connection_prepare_their_own(
    demo_workspace,
    counted_prepares: list[str | None],  # type: ignore[no-untyped-def]
) -> None:
    ws = Workspace.open(demo_workspace(800, 5).root)
    with ws.connect(read_only=True) as con:
        frame = build_frame(con, ws.settings.analysis)
    with ws.connect(read_only=True) as con:
        points.closed_deals(con, prepared=frame.prepared)
    assert counted_prepares == [None]
