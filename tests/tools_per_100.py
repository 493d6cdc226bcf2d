"""Tools per 100 employees: an attribute that icpkit does not define, defined once here for
the tests that follow one new definition through analysis, derivation and every engine;
a CRM where it alone tells wins from losses, and accounts around its every edge."""

from __future__ import annotations

import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from icpkit.attributes import Context, NumericRange
from icpkit.workspace import Workspace

NAME = "tools_per_100_employees"
LABEL = "tools for every 100 employees"  # how reasons and lookalikes name it
LABELS = ("up to 2", "2-5", "over 5")
COMMON_TOOLS = ["Slack", "Zoom", "Gmail", "Jira", "Notion", "Figma"]
RARE_TOOLS = [f"Tool{i:02d}" for i in range(20)]  # each held by fewer than 30 deals' accounts


def _per_100_sql(ctx: Context) -> str:
    tools, people = ctx.column("technologies"), ctx.column("employees")
    return (
        f"CASE WHEN {tools} IS NULL OR {people} IS NULL OR {people} <= 0 THEN NULL "
        f"ELSE CAST(coalesce(array_length({tools}), 0) AS DOUBLE) * 100 / {people} END"
    )


def _per_100(account: Mapping[str, Any]) -> float | None:
    tools, people = account.get("technologies"), account.get("employees")
    if tools is None or people is None or people <= 0:
        return None
    return len(tools) * 100 / people


TOOLS_PER_100 = NumericRange(
    key=NAME,
    label=LABEL,
    dimension="technographic",
    inputs={"technologies": "VARCHAR[]", "employees": "BIGINT"},
    bounds=(2.0, 5.0),
    labels=LABELS,
    expression=_per_100_sql,
    compute=_per_100,
)


def write_crm(root: Path) -> Workspace:
    """80 accounts of 60 employees and 8 tools (13.3 per 100: over 5) of which 64 won, and
    80 of 180 employees and 6 tools (3.3 per 100: 2-5) of which 16 won; one deal each."""
    rng = random.Random(7)
    companies = [
        "Record ID,Company name,Company Domain Name,Number of Employees,Industry,"
        "Country/Region,Web Technologies"
    ]
    deals = [
        "Record ID,Deal Name,Deal Stage,Amount,Close Date,Create Date,Deal Type,"
        "Associated Company IDs"
    ]
    for i in range(160):
        dense = i < 80
        won = (i % 80) < 64 if dense else (i % 80) < 16
        people, tools = (
            (60, [*COMMON_TOOLS, *rng.sample(RARE_TOOLS, 2)])
            if dense
            else (
                180,
                COMMON_TOOLS,
            )
        )
        companies.append(
            f'{1000 + i},Co {i},co{i}.com,{people},Software,United States,"{";".join(tools)}"'
        )
        month = 1 + i % 12
        stage = "Closed Won" if won else "Closed Lost"
        deals.append(
            f"{9000 + i},Deal {i},{stage},1000,2024-{month:02d}-25,2024-{month:02d}-01,"
            f"New Business,{1000 + i}"
        )
    for name, lines in (("companies", companies), ("deals", deals)):
        (root / f"{name}.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    ws = Workspace.init(root / "ws")
    assert ws.ingest([root / "companies.csv", root / "deals.csv"]).ok
    return ws


def edge_accounts() -> list[dict[str, Any]]:
    """Accounts around every edge of the attribute: unknown or empty stacks, no or zero
    employees, ratios of exactly 2 and 5 per 100."""
    sizes = [None, 0, 1, 20, 50, 60, 100, 180, 250, 1000]
    stacks: list[list[str] | None] = [None, [], ["Slack"], COMMON_TOOLS[:5], COMMON_TOOLS]
    rows = []
    for i, (people, tools) in enumerate((p, t) for p in sizes for t in stacks):
        rows.append(
            {
                "account_key": f"a{i:03d}.io",
                "employees": people,
                "revenue": None,
                "industry": "Software",
                "country": "US",
                "funding_stage": None,
                "founded_year": None,
                "technologies": tools,
                "Time Zone": None,
            }
        )
    return rows
