"""The buyer persona written into the ICP, and the persona that scoring uses.

``icpkit.analysis.persona`` finds the roles; this module turns them into the ICP's
``persona:`` (roles with evidence and rationale, the buying committee) and decides the
persona accounts are scored with: one set by hand always wins; otherwise the roles found,
marked as learned so that the next derivation may replace them.
"""

from __future__ import annotations

import math

import duckdb

from icpkit.analysis.persona import (
    LabelLift,
    PersonaResult,
    analyze_persona,
    load_deal_contacts,
)
from icpkit.config import PersonaRoleSetting, PersonaSettings, Settings
from icpkit.icp.model import BuyerPersona, Committee, Evidence, PersonaRole


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


def _pair(pair: tuple[float, float]) -> tuple[float, float] | None:
    return pair if all(math.isfinite(v) for v in pair) else None


def _role(x: LabelLift, result: PersonaResult) -> PersonaRole:
    c = x.comparison
    assert c is not None  # a role passes only when tested
    wins_all = round(result.base_rate * result.deals)
    lost_all = result.deals - wins_all
    evidence = Evidence(
        n_closed=x.deals_in,
        wins=x.wins_in,
        win_rate=x.wins_in / x.deals_in,
        base_rate=result.base_rate,
        lift=_finite(c.lift),
        lift_ci=_pair(c.lift_ci),
        q_value=_finite(x.q_value),
        share_won=x.wins_in / wins_all if wins_all else None,
        share_lost=(x.deals_in - x.wins_in) / lost_all if lost_all else None,
        n_accounts=x.accounts_in,
        test=c.test,
    )
    rationale = (
        f"Deals whose account had a {x.label} contact before the close won "
        f"{c.rate_in:.0%} against {c.rate_out:.0%} without one "
        f"({x.deals_in} deals, {x.accounts_in} accounts; counted by account)."
    )
    return PersonaRole(
        seniority=str(x.seniority),
        department=str(x.department),
        evidence=evidence,
        rationale=rationale,
    )


def persona_of(result: PersonaResult) -> BuyerPersona | None:
    """The ICP's ``persona:`` from the analysis; None when the workspace has no contacts."""
    if result.contacts == 0:
        return None
    committee = None
    effect = result.committee_effect
    if effect is not None:
        c = effect.comparison
        committee = Committee(
            larger_from=effect.larger_from,
            win_rate_larger=c.rate_in if c else None,
            win_rate_smaller=c.rate_out if c else None,
            difference_ci=_pair(c.difference_ci) if c else None,
            p_value=_finite(c.p_value) if c else None,
            median_cycle_larger=_finite(effect.median_cycle_larger),
            median_cycle_smaller=_finite(effect.median_cycle_smaller),
        )
    return BuyerPersona(
        roles=[_role(x, result) for x in result.roles],
        committee=committee,
        rationale=" ".join(result.sentences()),
    )


def persona_of_deals(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    where: str = "TRUE",
    *,
    expansion: bool = False,
) -> BuyerPersona | None:
    """The ``persona:`` of the closed deals ``where`` (SQL over ``deals``) selects, learned
    from their own contacts: a named ICP's persona. None when the workspace has no contacts."""
    deals = load_deal_contacts(con, where, expansion=expansion)
    return persona_of(analyze_persona(deals, settings.analysis))


def scoring_persona(current: PersonaSettings, persona: BuyerPersona | None) -> PersonaSettings:
    """The persona to score with: ``current`` when set by hand, else the roles found (none:
    no persona points)."""
    if current.is_set() and not current.learned:
        return current
    if persona is None or not persona.roles:
        return PersonaSettings(points=current.points)
    roles = [
        PersonaRoleSetting(seniority=r.seniority, department=r.department) for r in persona.roles
    ]
    return PersonaSettings(roles=roles, learned=True, points=current.points)


def persona_learned_from(
    con: duckdb.DuckDBPyConnection, settings: Settings, where: str
) -> Settings:
    """``settings`` with a learned persona learned again from the deals ``where`` selects (a
    backtest's training deals), so that later deals never choose its roles; a persona set by
    hand, or none, stays as it is."""
    current = settings.scoring.persona
    if not current.learned:
        return settings
    found = persona_of(analyze_persona(load_deal_contacts(con, where), settings.analysis))
    scoring = settings.scoring.model_copy(update={"persona": scoring_persona(current, found)})
    return settings.model_copy(update={"scoring": scoring})
