"""``icp analyze persona`` and ``icp contacts ACCOUNT``: the buyer persona from contacts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from icpkit.cli.common import IcpOption, WorkspaceOption, console, open_workspace
from icpkit.cli.numbers import cell, interval
from icpkit.cli.output import FormatOption, OutOption, emit

if TYPE_CHECKING:
    from icpkit.analysis.persona import LabelLift

PERSONA_WHY = {
    "win_rate": "no deal with such a contact",
    "win_rate_without": "no deal without such a contact",
    "lift": "too few deals or accounts on a side to test (or no win outside)",
    "lift_low": "no interval: too few deals or accounts on a side to test",
    "lift_high": "no interval: too few deals or accounts on a side to test",
    "q_value": "not tested: too few deals or accounts on a side",
    "median_cycle_won": "no won deal with both a creation and a close date",
    "win_rate_low": "no interval",
    "win_rate_high": "no interval",
}
NOT_TESTED = "not tested: too few deals or accounts on a side"


def _verdict(x: LabelLift) -> str:
    if x.comparison is None:
        return "too few to tell"
    if x.passes:
        return "persona" if x.kind == "role" else "wins more"
    if x.q_value <= 0.05 and x.comparison.difference < 0:
        return "wins less"
    return "no difference"


def _label_dict(x: LabelLift) -> dict[str, Any]:
    c = x.comparison
    nan = float("nan")
    return {
        "kind": x.kind,
        "label": x.label,
        "seniority": x.seniority,
        "department": x.department,
        "deals": x.deals_in,
        "wins": x.wins_in,
        "accounts": x.accounts_in,
        "win_rate": c.rate_in if c else (x.wins_in / x.deals_in if x.deals_in else nan),
        "win_rate_without": c.rate_out if c else nan,
        "lift": c.lift if c else nan,
        "lift_low": c.lift_ci[0] if c else nan,
        "lift_high": c.lift_ci[1] if c else nan,
        "q_value": x.q_value,
        "test": c.test if c else None,
        "verdict": _verdict(x),
    }


def _strongest(row: dict[str, Any]) -> tuple[int, float]:
    """Persona roles first, then the others by how sure the test is."""
    q = row["q_value"]
    return (0 if row["verdict"] in ("persona", "wins more") else 1, q if q == q else 2.0)


def persona(
    workspace: WorkspaceOption = None,
    fmt: FormatOption = "table",
    out: OutOption = None,
    show: Annotated[
        str,
        typer.Option(help="Which rows: 'roles' (seniority in department) or 'all' (also each "
                     "seniority and department alone)."),
    ] = "roles",
    icp: IcpOption = None,
) -> None:  # fmt: skip
    """Which roles are present in won deals vs lost ones (by account, contacts known before
    each close), and the buying committee's effect on win rate and cycle; with --icp, on
    the deals of that named ICP."""
    ws = open_workspace(workspace)
    result = ws.persona(icp=icp)
    rows = [_label_dict(x) for x in result.labels if show == "all" or x.kind == "role"]
    effect = result.committee_effect
    c = effect.comparison if effect else None
    committee = [
        {
            "contacts_by_close": b.band,
            "deals": b.deals,
            "wins": b.wins,
            "win_rate": b.win_rate,
            "win_rate_low": b.win_rate_ci[0],
            "win_rate_high": b.win_rate_ci[1],
            "median_cycle_won": b.median_cycle_won,
        }
        for b in result.committee
    ]
    if fmt != "table":
        emit(
            rows,
            fmt,
            out=out,
            why=PERSONA_WHY,
            command="analyze persona",
            **({"icp": icp} if icp is not None else {}),
            deals=result.deals,
            accounts=result.accounts,
            contacts=result.contacts,
            deals_with_contacts=result.deals_with_contacts,
            contacts_after_close=result.after_close,
            persona=[x.label for x in result.roles],
            finding=result.sentences(),
            committee=committee,
            committee_larger_from=effect.larger_from if effect else None,
            committee_difference=c.difference if c else None,
            committee_difference_ci=list(c.difference_ci) if c else None,
            committee_p_value=c.p_value if c else None,
        )
        return
    for sentence in result.sentences():
        console.print(sentence)
    if result.deals_with_contacts == 0:
        return
    console.print(
        f"{result.deals:,} closed new-business deals ({result.accounts:,} accounts), "
        f"{result.deals_with_contacts:,} with a contact known before the close; "
        f"{result.after_close:,} contacts created after a deal closed were not counted for it."
    )
    emit(
        [
            {
                "contact present": r["label"],
                "verdict": r["verdict"],
                "lift": interval(r["lift"], r["lift_low"], r["lift_high"], ".2f", NOT_TESTED),
                "q": cell(r["q_value"], ".2g", NOT_TESTED),
                "win rate": cell(r["win_rate"], ".0%", PERSONA_WHY["win_rate"]),
                "without": cell(r["win_rate_without"], ".0%", PERSONA_WHY["win_rate_without"]),
                "deals": f"{r['deals']:,}",
            }
            for r in sorted(rows, key=_strongest)
        ],
        "table",
        title="Won vs lost, by contact present",
    )
    emit(
        [
            {
                "contacts by close": b["contacts_by_close"],
                "deals": f"{b['deals']:,}",
                "win rate": interval(
                    b["win_rate"], b["win_rate_low"], b["win_rate_high"], ".0%", "no deals"
                ),
                "median cycle (won)": cell(
                    b["median_cycle_won"], ".0f", PERSONA_WHY["median_cycle_won"]
                ),
            }
            for b in committee
        ],
        "table",
        title="Buying committee",
    )
    if effect is not None and c is not None:
        console.print(
            f"{effect.larger_from}+ contacts vs fewer: win rate {c.rate_in:.0%} vs "
            f"{c.rate_out:.0%}, difference "
            + interval(c.difference, *c.difference_ci, "+.0%", "no difference")
            + f" (p {c.p_value:.2g}, by account)"
        )


def contacts(
    account: Annotated[str, typer.Argument(help="The account's key (a domain) or its name.")],
    workspace: WorkspaceOption = None,
    fmt: FormatOption = "table",
    out: OutOption = None,
    icp: IcpOption = None,
) -> None:
    """An account's contacts ranked by buyer-persona fit: whom to reach first (by the
    persona of the named ICP --icp when given)."""
    ws = open_workspace(workspace)
    ranked = ws.ranked_contacts(account, icp=icp)
    rows = [
        {
            "rank": c.rank,
            "name": c.name,
            "title": c.title,
            "seniority": c.seniority,
            "department": c.department,
            "email": c.email,
            "persona_role": c.persona_role,
            "reason": c.reason,
        }
        for c in ranked
    ]
    if fmt != "table":
        emit(rows, fmt, out=out, command="contacts", account=account)
        return
    if not ranked:
        console.print(f"No contacts for {account}: ingest a contacts export to rank them.")
        return
    first = [c for c in ranked if c.persona_role is not None]
    if first:
        console.print("Contact first: " + ", then ".join(f"{c.name} ({c.title})" for c in first))
    else:
        console.print("No contact of this account fills a persona role.")
    emit(
        [
            {
                "#": str(r["rank"]),
                "name": r["name"],
                "title": r["title"],
                "why": r["reason"],
            }
            for r in rows
        ],
        "table",
        title=f"Contacts of {account}",
    )
