"""The planted ground truth of the demo CRM: effect sizes, populations and their JSON form."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

SCHEMA_VERSION = 1

# Timeline. Everything is pinned to fixed dates so output never depends on "today".
DEALS_FROM = "2022-01-01"
DEALS_TO = "2025-09-30"
EXPORT_DATE = "2025-10-01"
FUNDING_FROM = "2020-06-01"
SIGNALS_FROM = "2021-06-01"
WEB_VISITS_FROM = "2024-01-01"

COMPANIES_PER_DEAL = 1 / 1.6

# Employees: log-normal, clipped to [1, 50,000].
EMP_MEDIAN = 180.0
EMP_SIGMA = 2.2
EMP_MAX = 50_000

INDUSTRIES = (
    "Software",
    "IT Services",
    "Financial Services",
    "Health Care",
    "Retail Trade",
    "Manufacturing",
    "Education",
    "Public Administration",
    "Marketing and Advertising",
)
INDUSTRY_P = (0.22, 0.14, 0.11, 0.10, 0.10, 0.12, 0.07, 0.06, 0.08)

COUNTRIES = ("US", "GB", "DE", "FR", "CA", "NL", "AU", "IN")
COUNTRY_P = (0.55, 0.10, 0.08, 0.05, 0.07, 0.04, 0.05, 0.06)

TOOLS = (
    "HubSpot",
    "Google Analytics",
    "Slack",
    "Zendesk",
    "Intercom",
    "Stripe",
    "WordPress",
    "Shopify",
    "Zoom",
    "Segment",
    "Hotjar",
    "Jira",
)
TOOL_P = (0.30, 0.75, 0.50, 0.20, 0.15, 0.25, 0.35, 0.10, 0.40, 0.10, 0.15, 0.25)
# Software companies run HubSpot more often (a realistic correlation between two planted
# fit attributes); every other tool is independent of everything.
HUBSPOT_P_SOFTWARE = 0.60

# New-business win model: logistic(BASE + sum of effects).
BASE_LOG_ODDS = -1.35
FIT_MID_MARKET = 1.0  # employees 51-200
FIT_SOFTWARE = 0.8
FIT_HUBSPOT = 0.7
INTENT_FUNDING = 0.9  # Series A/B round 60-540 days before the deal was created
INTENT_SDR = 0.6  # SDR job posting 0-90 days before the deal was created
DQ_PUBLIC_ADMIN = -1.5
DQ_MICRO = -1.0  # employees 1-10
MID_MIN, MID_MAX = 51, 200
MICRO_MIN, MICRO_MAX = 1, 10
FUNDING_WINDOW = (60, 540)
SDR_WINDOW = (0, 90)

# Targeting confounder: sales worked enterprise accounts harder but wins them less often.
ENTERPRISE_MIN = 1001
ENTERPRISE_DEAL_WEIGHT = 3.0
ENTERPRISE_LOG_ODDS = -0.5

# Expansion (existing-business deals, created after the account's first new-business win).
EXPANSION_BASE_LOG_ODDS = 0.2
EXPANSION_ICP = 0.9

# Churn among customers: logistic(CHURN_BASE + drivers); base rate 10%.
CHURN_BASE_LOG_ODDS = -2.197
CHURN_MICRO = 1.0
CHURN_RETAIL = 0.9
CHURN_ICP = -0.8
CHURN_MIN_DAYS = 60
CHURN_MAX_DAYS = 720

# Deal value and sales cycle.
ACV_MEDIAN_AT_100 = 9_000.0
ACV_SIZE_ELASTICITY = 0.3
ACV_SIGMA = 0.55
ACV_ICP_MULTIPLIER = 1.3
EXPANSION_AMOUNT_SHARE = 0.35
CYCLE_MEAN_DAYS = 60.0
CYCLE_SHAPE = 2.0
CYCLE_ICP_MULTIPLIER = 0.7
CYCLE_ENTERPRISE_MULTIPLIER = 1.4

# Tier rule for customers.
TIER1_MIN_ACV = 15_000
TIER1_MAX_CYCLE_DAYS = 45

# Planted intent signals placed relative to deals, on top of background signals.
PLANTED_FUNDING_SHARE = 0.12
PLANTED_FUNDING_DECOY_SHARE = 0.06
PLANTED_SDR_SHARE = 0.12
PLANTED_SDR_DECOY_SHARE = 0.06


# Drift (off by default): segments whose new-business win rate can be made to fall after a
# date, so that drift monitoring has something true to find.
DRIFT_SEGMENTS = ("software", "mid_market", "hubspot")


@dataclass(frozen=True)
class Drift:
    """A planted change: New Business deals created on or after ``after`` in ``segment`` (one
    of DRIFT_SEGMENTS) win with ``log_odds`` added to their log-odds of winning."""

    after: dt.date
    segment: str = "software"
    log_odds: float = -1.5

    def __post_init__(self) -> None:
        if self.segment not in DRIFT_SEGMENTS:
            raise ValueError(
                f"drift segment must be one of {', '.join(DRIFT_SEGMENTS)}; got {self.segment!r}"
            )

    def as_json(self) -> dict[str, Any]:
        """The drift as planted_truth.json records it."""
        return {
            "after": self.after.isoformat(),
            "segment": self.segment,
            "log_odds": self.log_odds,
            "effect": f"New Business deals created on or after {self.after.isoformat()} in "
            f"segment {self.segment} win with log_odds added to their log-odds",
        }


def _fit(attribute: str, log_odds: float, kind: str, **extra: Any) -> dict[str, Any]:
    direction = "positive" if log_odds > 0 else "negative" if log_odds < 0 else "none"
    return {"attribute": attribute, **extra, "direction": direction, "log_odds": log_odds,
            "kind": kind}  # fmt: skip


def planted_truth(
    seed: int,
    n_deals: int,
    counts: dict[str, int],
    quirks: list[dict[str, Any]],
    drift: Drift | None = None,
) -> dict[str, Any]:
    """Build the machine-readable planted truth written to planted_truth.json (a ``drift``
    key only when a drift was planted)."""
    no_effect = {"direction": "none", "log_odds": 0.0}
    doc = {
        "schema_version": SCHEMA_VERSION,
        "seed": seed,
        "n_deals": n_deals,
        "counts": counts,
        "timeline": {
            "deals_created_from": DEALS_FROM,
            "deals_created_to": DEALS_TO,
            "export_date": EXPORT_DATE,
            "open_deals": "open stage and empty Close Date; only deals whose close would "
            "fall after the export date are open",
        },
        "base_log_odds": {
            "new_business": BASE_LOG_ODDS,
            "existing_business": EXPANSION_BASE_LOG_ODDS,
            "churn": CHURN_BASE_LOG_ODDS,
        },
        "win_model": "p_win = logistic(base_log_odds.new_business + sum of log_odds of the "
        "discriminators, intent_signals, disqualifiers and targeting_confounder that apply)",
        "discriminators": [
            _fit("employees", FIT_MID_MARKET, "fit", min=MID_MIN, max=MID_MAX),
            _fit("industry", FIT_SOFTWARE, "fit", value="Software"),
            _fit(
                "tech",
                FIT_HUBSPOT,
                "fit",
                value="HubSpot",
                counts_from="the company's first tech_added HubSpot event, when it has one",
            ),
        ],
        "intent_signals": [
            _fit(
                "signal",
                INTENT_FUNDING,
                "intent",
                type="funding_round",
                detail_in=["Series A", "Series B"],
                window_days=list(FUNDING_WINDOW),
                relative_to="deal_created",
                detail_match="round name, optionally preceded by an amount such as '$12M '",
            ),
            _fit(
                "signal",
                INTENT_SDR,
                "intent",
                type="job_posting",
                detail_in=["SDR"],
                window_days=list(SDR_WINDOW),
                relative_to="deal_created",
                detail_match="exact",
            ),
        ],
        "disqualifiers": [
            _fit("industry", DQ_PUBLIC_ADMIN, "disqualifier", value="Public Administration"),
            _fit("employees", DQ_MICRO, "disqualifier", min=MICRO_MIN, max=MICRO_MAX),
        ],
        "icp_definition": {
            "rule": "all fit discriminators hold (employees 51-200 AND industry Software AND "
            "tech HubSpot); no disqualifier can hold at the same time",
            "attributes": ["employees", "industry", "tech"],
        },
        "decoys": [
            {"attribute": "country", "value": "US", "prevalence": 0.55, **no_effect},
            {"attribute": "tech", "value": "Google Analytics", "prevalence": 0.75, **no_effect},
            {"attribute": "tech", "value": "Slack", "prevalence": 0.50, **no_effect},
        ],
        "noise": [
            {"attribute": "time_zone", "column": "Time Zone", **no_effect},
            {"attribute": "lead_source", "column": "Lead Source", **no_effect},
            {"attribute": "deal_owner", "column": "Deal owner", **no_effect},
            {"attribute": "year_founded", "column": "Year Founded", **no_effect},
            {"attribute": "city", "column": "City", **no_effect},
            *[
                {"attribute": "tech", "value": tool, **no_effect}
                for tool in TOOLS
                if tool not in ("HubSpot", "Google Analytics", "Slack")
            ],
            {"attribute": "signal", "type": "web_visit", **no_effect},
            {"attribute": "signal", "type": "leadership_change", **no_effect},
            {"attribute": "signal", "type": "tech_added", **no_effect},
            {
                "attribute": "signal",
                "type": "funding_round",
                "detail_in": ["Seed", "Series C", "Series D"],
                "note": "any round outside 60-540 days has no effect either",
                **no_effect,
            },
            {
                "attribute": "signal",
                "type": "job_posting",
                "detail_not_in": ["SDR"],
                "note": "an SDR posting more than 90 days before the deal has no effect either",
                **no_effect,
            },
        ],
        "targeting_confounder": {
            "attribute": "employees",
            "min": ENTERPRISE_MIN,
            "deal_rate_multiplier": ENTERPRISE_DEAL_WEIGHT,
            "log_odds": ENTERPRISE_LOG_ODDS,
            "direction": "negative",
            "kind": "confounder",
            "note": "enterprise accounts get 3x as many deals each, so they lead won deals by "
            "volume while their per-deal win rate is below average; judge segments per "
            "exposure (win rate per closed deal), not by counts of wins",
        },
        "churn_drivers": [
            _fit("employees", CHURN_MICRO, "churn", min=MICRO_MIN, max=MICRO_MAX),
            _fit("industry", CHURN_RETAIL, "churn", value="Retail Trade"),
            _fit("is_icp", CHURN_ICP, "churn", value=True),
        ],
        "churn_model": {
            "base_rate": 0.10,
            "applies_to": "customers (accounts with a won New Business deal)",
            "churn_date_days_after_win": [CHURN_MIN_DAYS, CHURN_MAX_DAYS],
            "censoring": "churn dates are kept on or before the last deal day; customers won "
            f"less than {CHURN_MIN_DAYS} days before it cannot have churned yet",
            "after_churn": "existing-business deals created after the churn date are lost "
            "(p_win 0)",
        },
        "expansion_drivers": [
            _fit("is_icp", EXPANSION_ICP, "expansion", value=True),
            {
                "attribute": "churned",
                "value": True,
                "effect": "no expansion after the churn date",
                "direction": "negative",
                "kind": "expansion",
            },
            {
                "attribute": "employees",
                "min": ENTERPRISE_MIN,
                "effect": "3x deal rate gives more expansion attempts per account",
                "direction": "positive",
                "kind": "expansion",
            },
        ],
        "tier_drivers": [
            {
                "attribute": "acv",
                "effect": "log-normal, median "
                f"{ACV_MEDIAN_AT_100:.0f} * (employees/100)^{ACV_SIZE_ELASTICITY}, sigma "
                f"{ACV_SIGMA}; ICP x{ACV_ICP_MULTIPLIER}",
                "kind": "tier",
            },
            {
                "attribute": "sales_cycle_days",
                "effect": f"gamma(shape {CYCLE_SHAPE}, mean "
                f"{CYCLE_MEAN_DAYS:.0f} days); ICP x{CYCLE_ICP_MULTIPLIER}; enterprise "
                f"x{CYCLE_ENTERPRISE_MULTIPLIER}",
                "kind": "tier",
            },
            {"attribute": "churned", "effect": "churned customers are Tier 3", "kind": "tier"},
            {"attribute": "expansion", "effect": "a won Existing Business deal", "kind": "tier"},
        ],
        "tier_rule": {
            "tier_1": "customer, not churned, first won New Business deal closed within "
            f"{TIER1_MAX_CYCLE_DAYS} days of creation, and either its Amount >= "
            f"{TIER1_MIN_ACV} or the account won an Existing Business deal",
            "tier_2": "other customers that have not churned",
            "tier_3": "churned customers",
        },
        "messy_quirks": quirks,
        "files": {
            "companies.csv": "HubSpot companies export, UTF-8 with BOM, CRLF",
            "deals.csv": "HubSpot deals export, UTF-8, CRLF",
            "signals.csv": "vendor intent events, UTF-8, LF",
            "deal_truth.csv": "true per-deal win probability, ICP flag and attributes, LF",
            "company_truth.csv": "true per-company attributes, outcomes and tier, LF",
        },
    }
    if drift is not None:
        doc["drift"] = drift.as_json()
    return doc
