"""Accounts that change tier between two ICP versions: every account of the workspace scored
with both, counted by (old tier, new tier), the biggest moves listed; the counts are those of
the reference scorer (icpkit.engines.reference), account by account."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

import pytest

from helpers import DemoWorkspaces
from icpkit.engines.reference import score_all
from icpkit.vocabulary import TIERS
from icpkit.workspace import Workspace

pytestmark = pytest.mark.slow
AS_OF = dt.date(2025, 10, 1)


@pytest.fixture(scope="module")
def two_versions(
    tmp_path_factory: pytest.TempPathFactory, demo_workspace: DemoWorkspaces
) -> Workspace:
    """The derived demo workspace (version 1) and a version 2 without its first fit
    criterion, as a person who took it out by hand would save it."""
    ws = demo_workspace(4_000, 3, derived=True).copy(tmp_path_factory.mktemp("tiers") / "ws")
    icp = ws.require_icp()
    assert len(icp.fit) > 1
    ws.versions.save(icp.model_copy(update={"fit": icp.fit[1:]}))
    return ws


def _rows(ws: Workspace, table: str) -> list[dict[str, Any]]:
    with ws.connect(read_only=True) as con:
        cur = con.execute(f"SELECT * FROM {table} ORDER BY ALL")
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _reference_tiers(ws: Workspace, version: int) -> dict[str, str]:
    accounts = _rows(ws, "accounts")
    scored = score_all(
        ws.versions.load(version),
        ws.settings,
        accounts,
        _rows(ws, "signals"),
        _rows(ws, "contacts"),
        AS_OF,
    )
    return {row["account_key"]: row["tier"] for row in scored}


def test_tier_change_counts_are_the_reference_scorers_account_by_account(
    two_versions: Workspace,
) -> None:
    old, new = _reference_tiers(two_versions, 1), _reference_tiers(two_versions, 2)
    expected = Counter((old[key], new[key]) for key in old)
    changes = two_versions.tier_changes(1, 2, as_of=AS_OF)
    assert changes.counts == dict(expected)
    assert changes.accounts == len(old)
    assert changes.changed == sum(1 for key in old if old[key] != new[key]) > 0


def test_the_movers_changed_tier_and_the_biggest_moves_come_first(
    two_versions: Workspace,
) -> None:
    old, new = _reference_tiers(two_versions, 1), _reference_tiers(two_versions, 2)
    changes = two_versions.tier_changes(1, 2, as_of=AS_OF)
    assert 0 < len(changes.movers) <= 20
    for mover in changes.movers:
        assert (mover.old_tier, mover.new_tier) == (old[mover.account_key], new[mover.account_key])
        assert mover.old_tier != mover.new_tier
    steps = [abs(TIERS.index(m.old_tier) - TIERS.index(m.new_tier)) for m in changes.movers]
    assert steps == sorted(steps, reverse=True)
    most = max(abs(TIERS.index(old[k]) - TIERS.index(new[k])) for k in old)
    assert steps[0] == most


def test_a_version_against_itself_moves_no_account(two_versions: Workspace) -> None:
    changes = two_versions.tier_changes(1, 1, as_of=AS_OF)
    assert changes.changed == 0 and changes.movers == []
    assert sum(changes.counts.values()) == changes.accounts


def test_an_unknown_version_is_a_clear_error(two_versions: Workspace) -> None:
    from icpkit.errors import IcpkitError

    with pytest.raises(IcpkitError, match="9"):
        two_versions.tier_changes(1, 9, as_of=AS_OF)
