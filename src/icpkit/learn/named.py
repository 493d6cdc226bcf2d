"""Learning a named ICP: the main derivation run on the closed deals its filter selects.

The frame, the lift table, the joint fit and the pruning are those of ``icp derive``
(:func:`icpkit.learn.learn_icp`); only the deals differ, chosen by the SQL condition of the
named ICP's ``deals`` (icpkit.icp.named.deal_condition), so a named ICP is judged by the
same statistics as the main one. Its ``persona:`` is learned from the contacts of its own
deals (icpkit.learn.persona).
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from icpkit.analysis.frame import build_frame
from icpkit.analysis.lift import LiftResult, lift_table
from icpkit.analysis.tiers import assign_tiers
from icpkit.config import NamedIcp, Settings
from icpkit.icp.model import ICP
from icpkit.icp.named import NamedIcpError, deal_condition, describe_deals
from icpkit.learn import Learned, learn_icp
from icpkit.learn.derive import data_fingerprint
from icpkit.learn.persona import persona_of_deals


@dataclass
class LearnedNamed:
    """A named ICP learned: the ICP and what to say about it, and the lift table behind it."""

    learned: Learned
    lift: LiftResult
    closed: int
    won: int


def learn_named(
    con: duckdb.DuckDBPyConnection, settings: Settings, named: NamedIcp, previous: ICP | None
) -> LearnedNamed:
    """Derive the named ICP ``named`` from its deals, keeping the human decisions of
    ``previous`` (its ICP in force). ``con`` is read only."""
    where = deal_condition(named.deals)
    closed, won = (
        int(x or 0)
        for x in con.execute(
            f"""SELECT count(*), count(*) FILTER (WHERE outcome = 'won') FROM deals
                WHERE outcome IN ('won', 'lost') AND account_key IS NOT NULL AND ({where})"""
        ).fetchall()[0]
    )
    if closed == 0 or won in (0, closed):
        what = "no closed deal" if closed == 0 else f"{closed:,} closed deals, {won:,} won"
        raise NamedIcpError(
            f"cannot derive the ICP {named.name!r}: its deals ({describe_deals(named.deals)}) "
            f"hold {what}; an ICP is learned from won and lost deals",
            hint=f"check icps.{named.name}.deals in icp.yaml against the CRM's values",
        )
    tiers = assign_tiers(con, settings.tiers).tier_of()
    frame = build_frame(con, settings.analysis, tiers, where=where)
    lift = lift_table(frame, settings.analysis)
    learned = learn_icp(
        con, frame, lift, settings, previous, fingerprint=data_fingerprint(con), where=where
    )
    # Its buyer persona from the contacts of its own deals (none without contacts).
    persona = persona_of_deals(con, settings, where, expansion=named.deals.motion == "expansion")
    learned.icp = learned.icp.model_copy(update={"persona": persona})
    return LearnedNamed(learned, lift, closed, won)
