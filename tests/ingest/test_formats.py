"""Format recognition as data: each CRM's documented export names map to the right fields.

The headers below are written by hand from each vendor's documented export layout (API
names, report labels, legacy names), not derived from the recognition table.
"""

from __future__ import annotations

import pytest

from icpkit.ingest.detect import detect_layout
from icpkit.ingest.fields import FIELDS, SYSTEM_LABELS, formats, header_key, status_outcome
from icpkit.ingest.normalize.stages import stage_outcome

# Salesforce Opportunity as Data Loader, the Data Export service and Workbench write it.
SF_OPPORTUNITY_API = [
    "Id", "IsDeleted", "AccountId", "Name", "StageName", "Amount", "Probability",
    "ExpectedRevenue", "CloseDate", "Type", "LeadSource", "IsClosed", "IsWon",
    "ForecastCategoryName", "CurrencyIsoCode", "OwnerId", "CreatedDate", "SystemModstamp",
]  # fmt: skip
SF_ACCOUNT_API = [
    "Id", "IsDeleted", "Name", "Type", "ParentId", "BillingCity", "BillingState",
    "BillingCountry", "Website", "Industry", "AnnualRevenue", "NumberOfEmployees",
    "CreatedDate", "SystemModstamp",
]  # fmt: skip
# A Salesforce opportunity report exported as CSV (labels, account columns added).
SF_REPORT = [
    "Opportunity Owner", "Account Name", "Opportunity Name", "Stage", "Fiscal Period",
    "Amount", "Probability (%)", "Close Date", "Created Date", "Type", "Lead Source",
    "Won", "Closed", "Billing Country", "Employees", "Annual Revenue",
]  # fmt: skip
# Workbench query results name related fields by their path.
SF_WORKBENCH = [
    "Id", "Name", "StageName", "Amount", "CloseDate", "Account.Name", "Account.Website",
    "Account.Industry", "Account.NumberOfEmployees", "Owner.Name",
]  # fmt: skip
HUBSPOT_DEALS = [
    "Record ID", "Deal Name", "Deal Stage", "Pipeline", "Amount", "Close Date",
    "Create Date", "Deal owner", "Associated Company", "Associated Company IDs",
]  # fmt: skip
HUBSPOT_COMPANIES = [
    "Record ID", "Company name", "Company Domain Name", "Number of Employees",
    "Annual Revenue", "Industry", "Country/Region", "City", "Create Date", "Lifecycle Stage",
]  # fmt: skip
# Older HubSpot exports and API dumps use internal property names.
HUBSPOT_LEGACY_DEALS = [
    "Deal ID", "dealname", "dealstage", "amount", "closedate", "createdate", "Company ID",
    "hubspot_owner_id",
]  # fmt: skip
HUBSPOT_LEGACY_COMPANIES = [
    "Company ID", "name", "domain", "numberofemployees", "annualrevenue", "industry",
    "country", "createdate", "hs_object_id",
]  # fmt: skip
PIPEDRIVE_ORGANIZATIONS = [
    "Organization - ID", "Organization - Name", "Organization - Owner",
    "Organization - Address", "Organization - Address - Country",
    "Organization - Address - City/town/village/locality",
    "Organization - Organization created",
]  # fmt: skip
DYNAMICS_OPPORTUNITY_API = [
    "opportunityid", "name", "statecode", "statuscode", "estimatedvalue", "actualvalue",
    "estimatedclosedate", "actualclosedate", "createdon", "customerid", "parentaccountid",
]  # fmt: skip
DYNAMICS_ACCOUNT_API = [
    "accountid", "name", "websiteurl", "numberofemployees", "revenue", "address1_country",
    "address1_city", "industrycode", "createdon", "parentaccountid",
]  # fmt: skip
# Dynamics 365 "Export to Excel" writes display labels.
DYNAMICS_OPPORTUNITY_LABELS = [
    "Topic", "Potential Customer", "Status", "Status Reason", "Est. Revenue",
    "Est. Close Date", "Actual Close Date", "Created On",
]  # fmt: skip
ZOHO_DEALS = [
    "Record Id", "Deal Owner", "Deal Name", "Amount", "Stage", "Closing Date",
    "Account Name", "Type", "Lead Source", "Probability (%)", "Expected Revenue",
    "Created Time", "Modified Time",
]  # fmt: skip
ZOHO_ACCOUNTS = [
    "Record Id", "Account Owner", "Account Name", "Website", "Employees", "Industry",
    "Annual Revenue", "Billing City", "Billing Country", "Created Time", "Modified Time",
]  # fmt: skip
CLOSE_OPPORTUNITIES = [
    "id", "lead_id", "lead_name", "status_type", "status_label", "value", "value_period",
    "value_currency", "confidence", "date_won", "date_created", "user_name",
]  # fmt: skip
CLOSE_LEADS = ["id", "display_name", "url", "status_label", "date_created", "html_url"]
ATTIO_COMPANIES = [
    "Record ID", "Name", "Domains", "Description", "Categories", "Employee range",
    "Estimated ARR", "Primary location", "Created at",
]  # fmt: skip
ATTIO_DEALS = [
    "Record ID", "Name", "Deal stage", "Deal owner", "Deal value", "Associated company",
    "Associated people", "Created at",
]  # fmt: skip
COPPER_OPPORTUNITIES = [
    "Name", "Company", "Primary Contact", "Status", "Pipeline", "Stage", "Value",
    "Close Date", "Date Created", "Owner", "Loss Reason", "Win Probability",
]  # fmt: skip
COPPER_COMPANIES = [
    "Name", "Email Domain", "Industry", "Number of Employees", "Street", "City", "Country",
    "Contact Type", "Date Created", "Date Modified",
]  # fmt: skip
ANALYST_ACCOUNTS = [
    "account", "sector", "year_established", "revenue", "employees", "office_location",
    "subsidiary_of",
]  # fmt: skip
ANALYST_PIPELINE = [
    "opportunity_id", "sales_agent", "product", "account", "deal_stage", "engage_date",
    "close_date", "close_value",
]  # fmt: skip

CASES = {
    "salesforce opportunity api": (
        SF_OPPORTUNITY_API,
        "deals",
        "salesforce",
        {
            "source_id": "Id",
            "company_source_id": "AccountId",
            "name": "Name",
            "stage": "StageName",
            "won": "IsWon",
            "closed": "IsClosed",
            "amount": "Amount",
            "closed_at": "CloseDate",
            "created_at": "CreatedDate",
            "deal_type": "Type",
            "owner": "OwnerId",
            "currency": "CurrencyIsoCode",
        },
    ),
    "salesforce account api": (
        SF_ACCOUNT_API,
        "companies",
        "salesforce",
        {
            "source_id": "Id",
            "company_name": "Name",
            "company_domain": "Website",
            "industry": "Industry",
            "employees": "NumberOfEmployees",
            "revenue": "AnnualRevenue",
            "country": "BillingCountry",
            "city": "BillingCity",
            "lifecycle_stage": "Type",
            "created_at": "CreatedDate",
        },
    ),
    "salesforce report": (
        SF_REPORT,
        "deals",
        "salesforce",
        {
            "name": "Opportunity Name",
            "company_name": "Account Name",
            "stage": "Stage",
            "won": "Won",
            "closed": "Closed",
            "closed_at": "Close Date",
            "created_at": "Created Date",
            "amount": "Amount",
            "deal_type": "Type",
            "country": "Billing Country",
            "employees": "Employees",
            "revenue": "Annual Revenue",
            "owner": "Opportunity Owner",
        },
    ),
    "salesforce workbench": (
        SF_WORKBENCH,
        "deals",
        "salesforce",
        {
            "company_name": "Account.Name",
            "company_domain": "Account.Website",
            "industry": "Account.Industry",
            "employees": "Account.NumberOfEmployees",
            "owner": "Owner.Name",
            "stage": "StageName",
        },
    ),
    "hubspot deals": (
        HUBSPOT_DEALS,
        "deals",
        "hubspot",
        {
            "source_id": "Record ID",
            "name": "Deal Name",
            "stage": "Deal Stage",
            "amount": "Amount",
            "closed_at": "Close Date",
            "created_at": "Create Date",
            "company_name": "Associated Company",
            "company_source_id": "Associated Company IDs",
        },
    ),
    "hubspot companies": (
        HUBSPOT_COMPANIES,
        "companies",
        "hubspot",
        {
            "source_id": "Record ID",
            "company_name": "Company name",
            "company_domain": "Company Domain Name",
            "employees": "Number of Employees",
            "revenue": "Annual Revenue",
            "country": "Country/Region",
            "lifecycle_stage": "Lifecycle Stage",
        },
    ),
    "hubspot legacy deals": (
        HUBSPOT_LEGACY_DEALS,
        "deals",
        "hubspot",
        {
            "source_id": "Deal ID",
            "name": "dealname",
            "stage": "dealstage",
            "amount": "amount",
            "closed_at": "closedate",
            "created_at": "createdate",
            "company_source_id": "Company ID",
        },
    ),
    "hubspot legacy companies": (
        HUBSPOT_LEGACY_COMPANIES,
        "companies",
        "hubspot",
        {
            "source_id": "Company ID",
            "company_name": "name",
            "company_domain": "domain",
            "employees": "numberofemployees",
            "revenue": "annualrevenue",
            "industry": "industry",
            "country": "country",
            "created_at": "createdate",
        },
    ),
    "pipedrive organizations": (
        PIPEDRIVE_ORGANIZATIONS,
        "companies",
        "pipedrive",
        {
            "source_id": "Organization - ID",
            "company_name": "Organization - Name",
            "country": "Organization - Address - Country",
            "city": "Organization - Address - City/town/village/locality",
            "created_at": "Organization - Organization created",
        },
    ),
    "dynamics opportunity api": (
        DYNAMICS_OPPORTUNITY_API,
        "deals",
        "dynamics",
        {
            "source_id": "opportunityid",
            "name": "name",
            "status": "statecode",
            "stage": "statuscode",
            "amount": "estimatedvalue",
            "closed_at": "actualclosedate",
            "created_at": "createdon",
            "company_source_id": "customerid",
        },
    ),
    "dynamics account api": (
        DYNAMICS_ACCOUNT_API,
        "companies",
        "dynamics",
        {
            "source_id": "accountid",
            "company_name": "name",
            "company_domain": "websiteurl",
            "employees": "numberofemployees",
            "revenue": "revenue",
            "country": "address1_country",
            "city": "address1_city",
            "industry": "industrycode",
            "created_at": "createdon",
        },
    ),
    "dynamics excel labels": (
        DYNAMICS_OPPORTUNITY_LABELS,
        "deals",
        "dynamics",
        {
            "name": "Topic",
            "company_name": "Potential Customer",
            "status": "Status",
            "stage": "Status Reason",
            "amount": "Est. Revenue",
            "closed_at": "Actual Close Date",
            "created_at": "Created On",
        },
    ),
    "zoho deals": (
        ZOHO_DEALS,
        "deals",
        "zoho",
        {
            "source_id": "Record Id",
            "name": "Deal Name",
            "stage": "Stage",
            "amount": "Amount",
            "closed_at": "Closing Date",
            "company_name": "Account Name",
            "created_at": "Created Time",
            "owner": "Deal Owner",
        },
    ),
    "zoho accounts": (
        ZOHO_ACCOUNTS,
        "companies",
        "zoho",
        {
            "source_id": "Record Id",
            "company_name": "Account Name",
            "company_domain": "Website",
            "employees": "Employees",
            "industry": "Industry",
            "revenue": "Annual Revenue",
            "country": "Billing Country",
            "created_at": "Created Time",
        },
    ),
    "close opportunities": (
        CLOSE_OPPORTUNITIES,
        "deals",
        "close",
        {
            "source_id": "id",
            "company_source_id": "lead_id",
            "company_name": "lead_name",
            "status": "status_type",
            "stage": "status_label",
            "amount": "value",
            "currency": "value_currency",
            "closed_at": "date_won",
            "created_at": "date_created",
            "owner": "user_name",
        },
    ),
    "close leads": (
        CLOSE_LEADS,
        "companies",
        "close",
        {
            "source_id": "id",
            "company_name": "display_name",
            "company_domain": "url",
            "created_at": "date_created",
        },
    ),
    "attio companies": (
        ATTIO_COMPANIES,
        "companies",
        "attio",
        {
            "source_id": "Record ID",
            "company_name": "Name",
            "company_domain": "Domains",
            "industry": "Categories",
            "employees": "Employee range",
            "revenue": "Estimated ARR",
            "country": "Primary location",
            "created_at": "Created at",
        },
    ),
    "attio deals": (
        ATTIO_DEALS,
        "deals",
        "attio",
        {
            "name": "Name",
            "stage": "Deal stage",
            "owner": "Deal owner",
            "amount": "Deal value",
            "company_name": "Associated company",
            "created_at": "Created at",
        },
    ),
    "copper opportunities": (
        COPPER_OPPORTUNITIES,
        "deals",
        "copper",
        {
            "name": "Name",
            "company_name": "Company",
            "status": "Status",
            "stage": "Stage",
            "amount": "Value",
            "closed_at": "Close Date",
            "created_at": "Date Created",
            "lost_reason": "Loss Reason",
        },
    ),
    "copper companies": (
        COPPER_COMPANIES,
        "companies",
        "copper",
        {
            "company_name": "Name",
            "company_domain": "Email Domain",
            "industry": "Industry",
            "employees": "Number of Employees",
            "city": "City",
            "country": "Country",
            "created_at": "Date Created",
        },
    ),
    "analyst accounts": (
        ANALYST_ACCOUNTS,
        "companies",
        "generic",
        {
            "company_name": "account",
            "industry": "sector",
            "founded_year": "year_established",
            "revenue": "revenue",
            "employees": "employees",
            "country": "office_location",
        },
    ),
    "analyst pipeline": (
        ANALYST_PIPELINE,
        "deals",
        "generic",
        {
            "source_id": "opportunity_id",
            "owner": "sales_agent",
            "company_name": "account",
            "stage": "deal_stage",
            "created_at": "engage_date",
            "closed_at": "close_date",
            "amount": "close_value",
        },
    ),
}


# Values where the header alone leaves the entity open: a Close lead's status label is no
# deal stage.
SAMPLES = {
    "close leads": {
        "id": ["lead_abc", "lead_def"],
        "display_name": ["Acme", "Globex"],
        "url": ["https://acme.io", "globex.com"],
        "status_label": ["Potential", "Qualified", "Customer", "Bad Fit"],
    }
}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_each_vendor_export_maps_to_the_right_fields(case: str) -> None:
    header, entity, system, expected = CASES[case]
    layout = detect_layout("export.csv", header, SAMPLES.get(case, {}))
    assert layout.entity == entity
    assert layout.system == system
    mapped = {c.field: c.column for c in layout.choices.values()}
    assert {f: mapped.get(f) for f in expected} == expected


@pytest.mark.parametrize(
    ("header", "field", "column"),
    [
        (["account", "workers"], "employees", "workers"),
        (["company", "headcount"], "employees", "headcount"),
        (["organization", "staff"], "employees", "staff"),
        (["client", "num_employees", "vertical"], "industry", "vertical"),
        (["customer", "hq", "founded_on"], "country", "hq"),
        (["company", "headquarters", "inception"], "founded_year", "inception"),
        (["company", "location", "founded"], "country", "location"),
    ],
)
def test_analyst_snake_case_names_map_to_company_fields(header, field, column) -> None:
    layout = detect_layout("list.csv", header, {})
    assert layout.entity == "companies"
    assert layout.column_of(field) == column
    assert layout.column_of("company_name") == header[0]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (
            ["deal_id", "company", "outcome", "opened", "close_date", "deal_value"],
            {"stage": "outcome", "created_at": "opened", "amount": "deal_value"},
        ),
        (
            ["deal_id", "customer", "result", "start_date", "close_date", "arr"],
            {"stage": "result", "created_at": "start_date", "amount": "arr"},
        ),
        (
            ["opportunity_id", "organization", "status", "created", "close_date", "value"],
            {"status": "status", "created_at": "created", "amount": "value"},
        ),
        (
            ["deal_id", "client", "is_won", "is_closed", "close_date", "deal_value"],
            {"won": "is_won", "closed": "is_closed", "company_name": "client"},
        ),
    ],
)
def test_analyst_snake_case_names_map_to_deal_fields(header, expected) -> None:
    layout = detect_layout("deals.csv", header, {})
    assert layout.entity == "deals"
    assert {f: layout.column_of(f) for f in expected} == expected
    assert layout.column_of("source_id") == header[0]


def test_a_higher_ranked_vendor_name_wins_and_the_other_is_an_alternative() -> None:
    # Dynamics writes both; the estimated value is there for open deals too, and the
    # required customer for every opportunity (the parent account is optional).
    layout = detect_layout("opps.csv", DYNAMICS_OPPORTUNITY_API, {})
    assert layout.choices["amount"].alternatives == ("actualvalue",)
    assert layout.choices["company_source_id"].alternatives == ("parentaccountid",)


@pytest.mark.parametrize(
    ("raw", "outcome"),
    [
        ("Won", "won"),
        ("lost", "lost"),
        ("Open", "open"),
        ("active", "open"),  # Close's status_type
        ("Abandoned", "lost"),  # Copper
        ("1", "won"),  # Dynamics statecode
        ("2", "lost"),
        ("0", "open"),
        ("operating", None),
        ("acquired", None),
    ],
)
def test_status_values_of_each_crm_read_as_outcomes(raw: str, outcome: str | None) -> None:
    assert status_outcome(raw) == outcome


def test_the_table_is_read_once_and_names_no_column_twice_in_an_entity() -> None:
    assert formats() is formats()
    for entity, specs in FIELDS.items():
        owner: dict[str, str] = {}
        for spec in specs:
            for names in spec.synonyms:
                for name in names:
                    key = header_key(name)
                    assert owner.setdefault(key, spec.name) == spec.name, (entity, name)


def test_every_crm_has_a_display_name() -> None:
    assert {"hubspot", "salesforce", "pipedrive", "dynamics", "zoho", "close", "attio"} <= set(
        SYSTEM_LABELS
    )
    assert SYSTEM_LABELS["dynamics"] == "Dynamics 365"


@pytest.mark.parametrize(
    ("raw", "outcome"),
    [
        ("Out-Sold", "lost"),  # Dynamics 365 status reason
        ("Canceled", "lost"),
        ("In Progress", "open"),
        ("On Hold", "open"),
        ("Abandoned", "lost"),  # Copper status used as a stage
        ("Closed-Lost to Competition", "lost"),  # Zoho
        ("Won 🎉", "won"),  # Attio
    ],
)
def test_vendor_stage_labels_read_as_outcomes(raw: str, outcome: str) -> None:
    assert stage_outcome(raw) == outcome
