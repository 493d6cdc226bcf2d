"""A scorecard exercising every kind of rule, and accounts full of edge cases, for proving
that every engine scores exactly like the Python reference."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from icpkit.config import PersonaSettings, ScoringSettings, Settings
from icpkit.icp.model import ICP, Criterion, Exclusion, IntentSignal, ScoringModel

AS_OF = dt.date(2025, 10, 1)
INDUSTRIES = ["Software", "Retail Trade", "Public Administration", "Health Care", "Zymurgy"]
COUNTRIES = ["US", "GB", "DE", "IN", "BR"]
TOOLS = ["HubSpot", "Salesforce", "Slack", "Segment", "Zendesk", "O'Reilly Tool"]
ZONES = ["America/New_York", "Asia/Kolkata", "Europe/Berlin"]


@dataclass
class Case:
    """An ICP, its settings, and the three input tables as rows."""

    icp: ICP
    settings: Settings
    accounts: list[dict[str, Any]]
    signals: list[dict[str, Any]]
    contacts: list[dict[str, Any]]
    as_of: dt.date = AS_OF


def _rule(cls: type, **fields: Any) -> Any:
    return cls(source="derived", **fields)


def edge_icp() -> ICP:
    fit = [
        _rule(Criterion, id="size", attribute="employees", min=51, max=200, weight=1.0),
        _rule(Criterion, id="software", attribute="industry", values=["Software"], weight=0.8),
        _rule(
            Criterion, id="crm", attribute="tech", values=["HubSpot", "O'Reilly Tool"], weight=0.6
        ),
        _rule(Criterion, id="mid-revenue", attribute="revenue", values=["$10M-$50M"], weight=0.3),
        _rule(Criterion, id="stack", attribute="stack_density", values=["3-5 tools"], weight=0.25),
        _rule(
            Criterion,
            id="young",
            attribute="company_age",
            values=["0-2 years", "3-5 years"],
            weight=0.35,
        ),
        _rule(
            Criterion, id="zone", attribute="extra:Time Zone", values=["Europe/Berlin"], weight=0.2
        ),
        _rule(
            Criterion,
            id="enterprise",
            attribute="employees",
            min=1001,
            direction="negative",
            weight=-0.5,
        ),
        _rule(
            Criterion,
            id="big-stack",
            attribute="stack_density",
            min=6,
            direction="negative",
            weight=-0.3,
        ),
    ]
    exclusions = [
        _rule(
            Exclusion,
            id="tiny",
            attribute="employees",
            min=1,
            max=10,
            kind="disqualifier",
            weight=-1.1,
        ),
        _rule(
            Exclusion,
            id="gov",
            attribute="industry",
            values=["Public Administration"],
            kind="disqualifier",
            weight=-1.4,
        ),
        _rule(
            Exclusion,
            id="retail",
            attribute="industry",
            values=["Retail Trade"],
            kind="churn",
            weight=0.05,
        ),
    ]
    intent = [
        _rule(
            IntentSignal,
            id="funding",
            signal="funding_round",
            detail_in=["Series A", "Series B"],
            window_days=(60, 540),
            weight=0.9,
            half_life_days=180,
        ),
        _rule(
            IntentSignal,
            id="sdr",
            signal="job_posting",
            detail_in=["SDR"],
            window_days=(0, 90),
            weight=0.6,
        ),
        _rule(
            IntentSignal,
            id="any-visit",
            signal="web_visit",
            window_days=(0, 30),
            weight=0.4,
            half_life_days=7,
        ),
    ]
    boundary = [
        _rule(Criterion, id="employees-floor", attribute="employees", min=11),
        _rule(Criterion, id="country-served", attribute="country", values=["US", "GB", "DE", "IN"]),
    ]
    return ICP(
        derived_at=dt.datetime(2025, 10, 1),
        data_fingerprint="edge",
        boundary=boundary,
        fit=fit,
        exclusions=exclusions,
        intent=intent,
        scoring=ScoringModel(
            method="hand-made",
            intercept=-1.2,
            deals=0,
            wins=0,
            persona_weight=0.5,
            tiers={"A": 55.0, "B": 40.0, "C": 25.0},
        ),
    )


def unknown_bins_icp() -> ICP:
    """The edge-case ICP plus a Missing bin (``missing: true``) on every kind of attribute it
    judges, some costing points and some giving them, one at 0 points."""
    icp = edge_icp()
    bins = [
        _rule(Criterion, id="employees-unknown", attribute="employees", missing=True, weight=-0.7),
        _rule(Criterion, id="industry-unknown", attribute="industry", missing=True, weight=0.45),
        _rule(Criterion, id="tech-unknown", attribute="tech", missing=True, weight=-0.35),
        _rule(Criterion, id="revenue-unknown", attribute="revenue", missing=True, weight=0.0),
        _rule(Criterion, id="age-unknown", attribute="company_age", missing=True, weight=-0.2),
        _rule(Criterion, id="zone-unknown", attribute="extra:Time Zone", missing=True, weight=0.3),
    ]
    return icp.model_copy(update={"fit": [*icp.fit, *bins]})


def no_rules_icp() -> ICP:
    """An ICP where nothing discriminated: no fit, intent or exclusion rule, only the fitted
    intercept (the base rate's log-odds)."""
    return ICP(
        derived_at=dt.datetime(2025, 10, 1),
        data_fingerprint="flat",
        scoring=ScoringModel(method="hand-made", intercept=-0.4, deals=80, wins=32),
    )


def edge_settings() -> Settings:
    settings = Settings()
    settings.scoring = ScoringSettings(
        persona=PersonaSettings(
            seniorities=["VP", "Director"], departments=["Sales"], titles=["revops"]
        )
    )
    return settings


def edge_rows(
    n: int = 400, seed: int = 0
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """Accounts with nulls, unknown categories and values on every boundary; signals at
    their windows' edges (and in the future); contacts matching the persona or not."""
    rng = np.random.default_rng(seed)
    boundary_sizes = [None, 1, 10, 11, 50, 51, 200, 201, 1000, 1001, 5000]
    accounts, signals, contacts = [], [], []
    for i in range(n):
        tools: list[str] | None
        r = rng.random()
        if r < 0.1:
            tools = None
        elif r < 0.15:
            tools = []
        else:
            tools = sorted(set(rng.choice(TOOLS, int(rng.integers(1, 9))).tolist()))
        accounts.append(
            {
                "account_key": f"acct{i:04d}.io",
                "employees": boundary_sizes[i % len(boundary_sizes)]
                if i % 3
                else int(rng.integers(1, 3000)),
                "revenue": None
                if i % 7 == 0
                else float(rng.choice([5e5, 1e7, 1.0000001e7, 3e7, 5e7, 2e8])),
                "industry": None if i % 11 == 0 else str(rng.choice(INDUSTRIES)),
                "country": None if i % 13 == 0 else str(rng.choice(COUNTRIES)),
                "funding_stage": None,
                "founded_year": None if i % 5 == 0 else int(rng.integers(2000, 2026)),
                "technologies": tools,
                "Time Zone": None if i % 4 == 0 else str(rng.choice(ZONES)),
            }
        )
        key = accounts[-1]["account_key"]
        for _ in range(int(rng.integers(0, 4))):
            kind = rng.choice(["funding_round", "job_posting", "web_visit", "tech_added"])
            detail = {
                "funding_round": str(
                    rng.choice(["$12M Series A", "Series B", "€3.5m Seed", "Series A"])
                ),
                "job_posting": str(rng.choice(["SDR", "Account Executive"])),
                "web_visit": None,
                "tech_added": "Segment",
            }[str(kind)]
            age = int(
                rng.choice([-1, 0, 1, 7, 29, 30, 31, 59, 60, 61, 89, 90, 91, 300, 539, 540, 541])
            )
            observed = dt.datetime.combine(
                AS_OF - dt.timedelta(days=age), dt.time(int(rng.integers(0, 24)), 30)
            )
            signals.append(
                {
                    "account_key": key,
                    "signal_type": str(kind),
                    "detail": detail,
                    "observed_at": observed,
                }
            )
        if i % 3 == 0:
            created = (
                None
                if i % 2
                else dt.datetime(2025, 1, 1) + dt.timedelta(days=int(rng.integers(0, 400)))
            )
            contacts.append(
                {
                    "account_key": key,
                    "seniority": str(rng.choice(["VP", "Director", "Manager", "vp"])),
                    "department": str(rng.choice(["Sales", "Marketing", "sales"])),
                    "job_title": str(rng.choice(["VP Sales", "Head of RevOps", "Engineer", ""])),
                    "created_at": created,
                }
            )
    return accounts, signals, contacts


ACCOUNT_SCHEMA = pa.schema(
    [
        ("account_key", pa.string()),
        ("employees", pa.int64()),
        ("revenue", pa.float64()),
        ("industry", pa.string()),
        ("country", pa.string()),
        ("funding_stage", pa.string()),
        ("founded_year", pa.int32()),
        ("technologies", pa.list_(pa.string())),
        ("Time Zone", pa.string()),
    ]
)
SIGNAL_SCHEMA = pa.schema(
    [
        ("account_key", pa.string()),
        ("signal_type", pa.string()),
        ("detail", pa.string()),
        ("observed_at", pa.timestamp("us")),
    ]
)
CONTACT_SCHEMA = pa.schema(
    [
        ("account_key", pa.string()),
        ("seniority", pa.string()),
        ("department", pa.string()),
        ("job_title", pa.string()),
        ("created_at", pa.timestamp("us")),
    ]
)


def assert_same_rows(
    expected: list[dict[str, Any]], actual: list[dict[str, Any]], engine: str
) -> None:
    """Every output field equal (the win probability to its 4 decimals)."""
    by_key = {r["account_key"]: r for r in actual}
    assert len(by_key) == len(expected), engine
    for row in expected:
        got = by_key[row["account_key"]]
        for name, value in row.items():
            if name == "win_probability":
                assert abs(float(got[name]) - value) <= 1.01e-4, (engine, row["account_key"], name)
            else:
                assert got[name] == value, (engine, row["account_key"], name, value, got[name])
