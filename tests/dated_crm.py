"""A small CRM with dated history: tools added and removed, head counts observed, and
customers that churned before, after or on no recorded day of a cut-off."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from icpkit.workspace import Workspace

N = 40  # accounts per group: above the 30 closed deals a tool needs to be an attribute
EARLY, LATE = "2024-01-15", "2024-09-15"  # deals are created on these days
CHANGE = "2024-06-01"  # history happens in between
EXPORT_EMPLOYEES = 1000
CUTOFF = dt.date(2024, 6, 1)


def write_dated_crm(root: Path) -> Workspace:
    """Two groups of N accounts, each account with one deal created before the history
    changes and one after it (the later one won, the earlier one lost).

    Group ``h``: the export lists HubSpot, Slack and Zoom; HubSpot was added and Slack
    removed on CHANGE, Segment (not in the export) added on CHANGE, Zoom has no event;
    head counts of 40 (2023-12-01) and 300 (CHANGE) were observed; the export says 1000.
    The events spell tools and types as other vendors do ('hubspot', 'Tech Removed').
    One more head count of h0 says 'lots'. Group ``p``: the same export and no history.
    The first ten accounts of ``h`` are customers that churned after the cut-off; the next
    ten churned before it; the next five churned on a day nobody recorded."""
    root.mkdir(parents=True, exist_ok=True)
    companies = [
        "Record ID,Company name,Company Domain Name,Number of Employees,Industry,"
        "Country/Region,Web Technologies,Churned,Churn Date"
    ]
    deals = [
        "Record ID,Deal Name,Deal Stage,Amount,Close Date,Create Date,Deal Type,"
        "Associated Company IDs"
    ]
    signals = ["Company Domain Name,Signal Type,Signal Date,Detail"]
    deal = 0
    for group in ("h", "p"):
        for i in range(N):
            rid = 1000 + deal
            domain = f"{group}{i}.com"
            churned, churn_date = "", ""
            if group == "h" and i < 10:
                churned, churn_date = "Yes", "2024-12-01"
            elif group == "h" and i < 20:
                churned, churn_date = "Yes", "2024-03-01"
            elif group == "h" and i < 25:
                churned = "Yes"
            elif group == "h":
                churned = "No"
            companies.append(
                f"{rid},Co {group}{i},{domain},{EXPORT_EMPLOYEES},Software,United States,"
                f'"HubSpot;Slack;Zoom",{churned},{churn_date}'
            )
            for created, stage in ((EARLY, "Closed Lost"), (LATE, "Closed Won")):
                # The early deals of the churned customers were won (before the churn).
                if group == "h" and i < 25 and created == EARLY:
                    stage = "Closed Won"
                closes = (dt.date.fromisoformat(created) + dt.timedelta(days=20)).isoformat()
                deals.append(
                    f"{9000 + deal},Deal {deal},{stage},1000,{closes},{created},New Business,{rid}"
                )
                deal += 1
            if group == "h":
                signals += [
                    f"{domain},tech_added,{CHANGE},hubspot",
                    f"{domain},Tech Removed,{CHANGE},Slack",
                    f"{domain},technology_added,{CHANGE},Segment",
                    f"{domain},headcount,2023-12-01,40",
                    f"{domain},employee_count,{CHANGE},300",
                ]
                if i == 0:  # a head count nobody can read: reported, never used
                    signals.append(f"{domain},headcount,2024-07-01,lots")
    for name, lines in (("companies", companies), ("deals", deals), ("signals", signals)):
        (root / f"{name}.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    ws = Workspace.init(root / "ws")
    report = ws.ingest([root / f"{n}.csv" for n in ("companies", "deals", "signals")])
    assert report.ok
    return ws
