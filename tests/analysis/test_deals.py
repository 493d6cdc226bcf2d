"""The per-deal attribute matrix: the analysis frame's values deal by deal, kept aligned."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from helpers import DemoWorkspaces
from icpkit.analysis.deals import DealMatrix, deal_matrix
from icpkit.analysis.frame import MISSING, Frame, build_frame
from icpkit.workspace import Workspace


@dataclass(frozen=True)
class Built:
    ws: Workspace
    matrix: DealMatrix  # every attribute, profiled or not
    frame: Frame


@pytest.fixture(scope="module")
def built(demo_workspace: DemoWorkspaces) -> Built:
    ws = demo_workspace(800, 5).ws
    with ws.connect() as con:
        matrix = deal_matrix(con, ws.settings.analysis, profiled_only=False)
        frame = build_frame(con, ws.settings.analysis)
    return Built(ws, matrix, frame)


def test_counts_per_value_agree_with_the_analysis_frame(built: Built) -> None:
    matrix, frame = built.matrix, built.frame
    assert len(matrix) == frame.n_closed
    assert int(matrix.won.sum()) == frame.n_won
    assert len(np.unique(matrix.account_keys)) == frame.n_accounts
    assert [a.name for a in matrix.attributes] == [a.name for a in frame.attributes]
    assert any(a.name.startswith("signal:") for a in matrix.attributes)
    for attribute in frame.attributes:
        values = matrix.columns[attribute.name]
        cuts = frame.cuts[attribute.name]
        assert sorted(set(values.tolist())) == sorted(c.value for c in cuts), attribute.name
        for cut in cuts:
            chosen = values == cut.value
            assert int(chosen.sum()) == cut.n_closed, (attribute.name, cut.value)
            assert int(matrix.won[chosen].sum()) == cut.n_won, (attribute.name, cut.value)


def test_rows_carry_the_deals_outcome_and_dates(built: Built) -> None:
    matrix = built.matrix
    assert matrix.won.dtype == np.int8
    assert matrix.created_at.dtype.kind == "M" and matrix.closed_at.dtype.kind == "M"
    assert matrix.cycle_days.dtype == np.float64
    assert list(matrix.deal_keys) == sorted(matrix.deal_keys)
    with built.ws.connect(read_only=True) as con:
        rows = con.execute(
            """SELECT deal_key, outcome = 'won', created_at, cycle_days FROM deals
               WHERE outcome IN ('won', 'lost') AND NOT is_expansion
                 AND account_key IS NOT NULL ORDER BY deal_key"""
        ).fetchall()
    assert [r[0] for r in rows] == matrix.deal_keys.tolist()
    assert [int(r[1]) for r in rows] == matrix.won.tolist()
    for row, created, cycle in zip(rows, matrix.created_at, matrix.cycle_days, strict=True):
        assert (row[2] is None and np.isnat(created)) or np.datetime64(row[2], "us") == created
        assert (row[3] is None and np.isnan(cycle)) or row[3] == cycle


def test_profiled_only_leaves_out_the_segment_only_attributes(built: Built) -> None:
    with built.ws.connect() as con:
        profiled = deal_matrix(con, built.ws.settings.analysis)
    assert [a.name for a in profiled.attributes] == [
        a.name for a in built.matrix.attributes if a.profiled
    ]
    assert len(profiled.attributes) < len(built.matrix.attributes)
    assert set(profiled.columns) == {a.name for a in profiled.attributes}


def test_subset_keeps_every_array_aligned(built: Built) -> None:
    matrix = built.matrix
    row_of = {key: i for i, key in enumerate(matrix.deal_keys)}
    mask = np.arange(len(matrix)) % 3 == 1
    rng = np.random.default_rng(0)
    picks = rng.permutation(len(matrix))[:300]
    for rows in (mask, picks):
        part = matrix.subset(rows)
        assert len(part) == len(matrix.deal_keys[rows])
        for i, key in enumerate(part.deal_keys):
            j = row_of[key]
            assert part.account_keys[i] == matrix.account_keys[j]
            assert part.won[i] == matrix.won[j]
            assert part.created_at[i] == matrix.created_at[j]
            for name in ("employees", "industry"):
                assert part.columns[name][i] == matrix.columns[name][j]
        codes, levels = part.codes("industry")
        assert [levels[c] for c in codes] == part.columns["industry"].tolist()


def test_codes_follow_the_ordinal_order(built: Built) -> None:
    matrix = built.matrix
    employees = matrix.attribute("employees")
    codes, levels = matrix.codes("employees")
    assert levels == list(employees.order)  # every level, seen or not: stable across subsets
    assert levels[:3] == ["1-10", "11-50", "51-200"] and levels[-1] == MISSING
    assert [levels[c] for c in codes] == matrix.columns["employees"].tolist()
    small = matrix.columns["employees"] == "1-10"
    assert (codes[small] == 0).all() and (codes[~small] > 0).all()
    signal = next(a for a in matrix.attributes if a.name.startswith("signal:"))
    assert matrix.codes(signal.name)[1] == list(signal.order)


def test_categorical_codes_are_sorted_and_map_unseen_levels_to_minus_one(built: Built) -> None:
    matrix = built.matrix
    levels = matrix.codes("industry")[1]
    present = set(matrix.columns["industry"].tolist())
    assert set(levels) == present
    named = [v for v in levels if v != MISSING]
    assert named == sorted(named) and (MISSING not in levels or levels[-1] == MISSING)
    kept = levels[:2]
    mapped, same = matrix.codes("industry", kept)
    assert same == kept
    values = matrix.columns["industry"]
    assert (mapped[values == kept[1]] == 1).all()
    assert (mapped[~np.isin(values, kept)] == -1).all()


def test_a_rebuilt_column_is_encoded_afresh(built: Built) -> None:
    from dataclasses import replace

    matrix = built.matrix
    renamed = np.where(matrix.columns["industry"] == MISSING, "Unknown", "Known").astype(object)
    other = replace(matrix, columns={**matrix.columns, "industry": renamed})
    codes, levels = other.codes("industry")
    assert levels == ["Known", "Unknown"]
    assert [levels[c] for c in codes] == renamed.tolist()
