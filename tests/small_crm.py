"""Small HubSpot-style exports written row by row, for tests of degenerate data: identifier
columns, attributes missing everywhere, and ICPs with nothing to find."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from icpkit.workspace import Workspace

COMPANY_HEADER = (
    "Record ID,Company name,Company Domain Name,Number of Employees,Industry,"
    "Country/Region,Phone,BillingStreet,Region"
)
DEAL_HEADER = (
    "Record ID,Deal Name,Deal Stage,Amount,Close Date,Create Date,Deal Type,Associated Company IDs"
)


@dataclass(frozen=True)
class SmallCrm:
    """A workspace loaded from a companies and a deals export; ``won`` holds the domains of
    the accounts whose deals were won."""

    ws: Workspace
    companies: Path
    deals: Path
    won: frozenset[str]


def write_crm(
    root: Path,
    accounts: int,
    *,
    deals_per_account: int = 2,
    varied: bool = False,
    seed: int = 0,
) -> SmallCrm:
    """Accounts that win every deal or lose every deal (every other one wins). The phone of
    a won account starts with 555 and of a lost one with 212, one number per account, and
    the street is one per account too: identifiers that track the outcome by construction.
    ``Region`` (3 values) is an ordinary category. With ``varied`` sizes and industries vary
    at random (independent of the outcome); otherwise every account is alike. No export has
    a technologies column. Deals spread over twelve months of 2024."""
    rng = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    companies = [COMPANY_HEADER]
    deals = [DEAL_HEADER]
    won: set[str] = set()
    deal = 0
    for i in range(accounts):
        wins = i % 2 == 0
        domain = f"co{i}.com"
        if wins:
            won.add(domain)
        size = rng.choice([20, 60, 300]) if varied else 60
        industry = rng.choice(["Software", "Retail", "Banking"]) if varied else "Software"
        phone = f"{555 if wins else 212}-01{i:04d}"
        region = ["East", "West", "North"][i % 3]
        companies.append(
            f"{1000 + i},Co {i},{domain},{size},{industry},United States,{phone},"
            f"{i} Main Street,{region}"
        )
        for _ in range(deals_per_account):
            month = 1 + deal % 12
            stage = "Closed Won" if wins else "Closed Lost"
            deals.append(
                f"{9000 + deal},Deal {deal},{stage},{1000 + 100 * (deal % 7)},"
                f"2024-{month:02d}-{10 + deal % 15},2024-{month:02d}-01,New Business,{1000 + i}"
            )
            deal += 1
    companies_path = root / "companies.csv"
    deals_path = root / "deals.csv"
    companies_path.write_text("\n".join(companies) + "\n", encoding="utf-8")
    deals_path.write_text("\n".join(deals) + "\n", encoding="utf-8")
    ws = Workspace.init(root / "ws")
    result = ws.ingest([companies_path, deals_path])
    assert result.ok, result.failures
    return SmallCrm(ws, companies_path, deals_path, frozenset(won))


def write_universe(path: Path, crm: SmallCrm, accounts: int, new: int) -> Path:
    """A universe in the scorer's input layout: the CRM's accounts plus ``new`` others,
    all alike (60 employees, Software, US)."""
    keys = [f"co{i}.com" for i in range(accounts)] + [f"new{i}.com" for i in range(new)]
    n = len(keys)
    table = pa.table(
        {
            "account_key": keys,
            "name": [k.removesuffix(".com") for k in keys],
            "employees": [60] * n,
            "industry": ["Software"] * n,
            "country": ["US"] * n,
        }
    )
    pq.write_table(table, path)
    return path
