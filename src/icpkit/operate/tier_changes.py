"""Accounts that change tier between two ICP versions: the workspace's accounts scored with
both, counted by (old tier, new tier), and the accounts that moved most.

Both versions are scored by the same engine as the backtest (rules evaluated in SQL over the
store, then the scorecard), with the workspace's current settings and on the same day, so
only the ICP differs::

    changes = ws.tier_changes(3, 4)
    changes.counts[("C", "A")]     # accounts that were tier C and are tier A now
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import duckdb
import numpy as np

from icpkit.config import Settings
from icpkit.engines.features import ENTITIES, compute_features
from icpkit.engines.score import Scores, apply_scorecard
from icpkit.engines.scorecard import build_scorecard
from icpkit.icp.model import ICP
from icpkit.vocabulary import TIERS

MOVERS = 20
"""Accounts listed as the ones that moved most."""


@dataclass(frozen=True)
class TierMove:
    """One account scored with both versions: its tiers and scores before and after."""

    account_key: str
    name: str | None
    old_tier: str
    new_tier: str
    old_score: int
    new_score: int

    @property
    def steps(self) -> int:
        """Tiers moved: positive up (towards A), negative down."""
        return TIERS.index(self.old_tier) - TIERS.index(self.new_tier)


@dataclass
class TierChanges:
    """How the workspace's accounts moved between tiers from ``old_version`` to
    ``new_version``, scored as of ``as_of``."""

    old_version: int
    new_version: int
    as_of: dt.date
    accounts: int
    counts: dict[tuple[str, str], int]
    movers: list[TierMove] = field(default_factory=list)

    @property
    def changed(self) -> int:
        """Accounts whose tier is not the same in both versions."""
        return sum(n for (old, new), n in self.counts.items() if old != new)


def store_accounts(con: duckdb.DuckDBPyConnection, as_of: dt.date) -> list[tuple[str, str | None]]:
    """Make every account of the store an entity to score as of ``as_of`` (entity ``i`` is
    the ``i``-th by account key); their keys and names, in that order."""
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {ENTITIES} AS
            SELECT (row_number() OVER (ORDER BY account_key) - 1)::BIGINT AS entity_id,
                   account_key, {_date(as_of)} AS as_of, name
            FROM accounts"""
    )
    rows = con.execute(f"SELECT account_key, name FROM {ENTITIES} ORDER BY entity_id").fetchall()
    return [(str(key), name) for key, name in rows]


def score_entities(con: duckdb.DuckDBPyConnection, icp: ICP, settings: Settings) -> Scores:
    """The entities :func:`store_accounts` made, scored with ``icp`` as batch scoring does."""
    features = compute_features(con, icp, settings.analysis, persona=settings.scoring.persona)
    return apply_scorecard(build_scorecard(icp, settings.scoring), features)


def tier_changes(
    con: duckdb.DuckDBPyConnection,
    old: ICP,
    new: ICP,
    settings: Settings,
    *,
    as_of: dt.date,
    top: int = MOVERS,
) -> TierChanges:
    """Score every account of the store with ``old`` and ``new`` and count the moves by
    (old tier, new tier); ``movers`` holds the ``top`` accounts that moved most (most tiers,
    then most points, then by name), changed tiers only."""
    rows = store_accounts(con, as_of)
    before = score_entities(con, old, settings)
    after = score_entities(con, new, settings)
    counts: dict[tuple[str, str], int] = {}
    for a, b in zip(before.tier.tolist(), after.tier.tolist(), strict=True):
        counts[(a, b)] = counts.get((a, b), 0) + 1
    moved = np.nonzero(before.tier != after.tier)[0]
    moves = [
        TierMove(
            str(rows[i][0]),
            rows[i][1],
            str(before.tier[i]),
            str(after.tier[i]),
            int(before.score[i]),
            int(after.score[i]),
        )
        for i in moved
    ]
    moves.sort(
        key=lambda m: (
            -abs(m.steps),
            -abs(m.new_score - m.old_score),
            m.name or "",
            m.account_key,
        )
    )
    return TierChanges(
        old.version,
        new.version,
        as_of,
        len(rows),
        dict(sorted(counts.items(), key=lambda kv: (TIERS.index(kv[0][0]), TIERS.index(kv[0][1])))),
        moves[:top],
    )


def _date(day: dt.date) -> str:
    return f"DATE '{day.isoformat()}'"


def account_tiers(
    con: duckdb.DuckDBPyConnection, icp: ICP, settings: Settings, *, as_of: dt.date
) -> dict[str, str]:
    """Every account of the store and its tier under ``icp`` as of ``as_of``."""
    keys = [key for key, _ in store_accounts(con, as_of)]
    scores = score_entities(con, icp, settings)
    return {k: str(t) for k, t in zip(keys, scores.tier.tolist(), strict=True)}
