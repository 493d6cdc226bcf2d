"""The canonical fields of each entity and the column names CRMs export them under.

Synonyms are ranked: a name in an earlier group beats one in a later group, so a
HubSpot deals export with both "Amount" and "Amount in company currency" maps
"Amount" without asking, while two columns of the same rank are a conflict the
user must settle in ``icp.yaml``. This table is data, documented in docs/ingest.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Kind = Literal[
    "id",
    "text",
    "domain",
    "email",
    "employees",
    "money",
    "date",
    "industry",
    "country",
    "bool",
    "stage",
    "status",
    "list",
    "year",
    "number",
    "email_address",
]


@dataclass(frozen=True)
class FieldSpec:
    """A canonical field: how to normalize it and which source columns may hold it."""

    name: str
    kind: Kind
    synonyms: tuple[tuple[str, ...], ...]
    help: str


def header_key(name: str) -> str:
    """Compare column names by letters and digits only: 'Country/Region' -> 'countryregion'."""
    return re.sub(r"[^0-9a-z]+", "", name.casefold())


def _f(name: str, kind: Kind, help: str, *ranks: tuple[str, ...]) -> FieldSpec:
    return FieldSpec(name, kind, ranks, help)


_COMPANY_ATTRIBUTES: tuple[FieldSpec, ...] = (
    _f(
        "employees",
        "employees",
        "Employee count or range ('51-200', '10K+').",
        ("Number of Employees", "Employees", "Employee Count", "Number of employees"),
        ("Organization - Number of employees", "Company Size", "Headcount", "Company Headcount"),
        ("Account Employees", "Size"),
    ),
    _f(
        "revenue",
        "money",
        "Annual revenue ('$5M', '5,000,000', '€2.3bn').",
        ("Annual Revenue", "Revenue", "Organization - Annual revenue"),
        ("Account Annual Revenue", "Annual Revenue (converted)", "Estimated Revenue"),
    ),
    _f(
        "industry",
        "industry",
        "Industry, mapped to the taxonomy in docs/taxonomy.md (raw kept).",
        ("Industry", "Organization - Industry", "Account Industry"),
        ("Sector", "Vertical"),
    ),
    _f(
        "country",
        "country",
        "Country, to ISO 3166-1 alpha-2 (raw kept).",
        ("Country/Region", "Country", "Billing Country", "Organization - Country"),
        ("Account Billing Country", "Billing Country/Region", "Address Country", "HQ Country"),
    ),
    _f(
        "city",
        "text",
        "City.",
        ("City", "Billing City", "Organization - City"),
        ("Account Billing City", "HQ City"),
    ),
    _f(
        "founded_year",
        "year",
        "Year the company was founded.",
        ("Year Founded", "Founded Year", "Founded"),
        ("Organization - Founded", "Year Started"),
    ),
    _f(
        "technologies",
        "list",
        "Tools the company uses, separated by ; , or |.",
        ("Web Technologies", "Technologies", "Tech Stack", "Technology Stack"),
        ("Installed Technologies", "Tools"),
    ),
    _f(
        "total_funding",
        "money",
        "Total money raised.",
        ("Total Money Raised", "Total Funding", "Total Funding Amount"),
        ("Funding Raised", "Funding"),
    ),
    _f(
        "nps",
        "number",
        "Net Promoter Score of the customer (0-10 answer or -100..100 score).",
        ("NPS", "NPS Score", "Net Promoter Score", "Latest NPS"),
    ),
    _f(
        "product_usage",
        "number",
        "A product usage measure (active users, events, seats used).",
        ("Product Usage", "Usage Score", "Active Users", "Monthly Active Users", "Seats Used"),
    ),
    _f(
        "funding_stage",
        "text",
        "Latest funding stage ('Series A').",
        ("Latest Funding Stage", "Funding Stage", "Last Funding Type"),
        ("Last Funding Round", "Funding Round"),
    ),
)

_COMPANY_LINK: tuple[FieldSpec, ...] = (
    _f(
        "company_domain",
        "domain",
        "The company's website or domain: the account key.",
        ("Company Domain Name", "Domain", "Company Domain", "Website", "Account Website"),
        ("Website URL", "Organization - Website", "URL", "Web Site", "Company Website"),
    ),
    _f(
        "company_email",
        "email",
        "A work email at the company: its domain keys the account when no website is given "
        "(free-mail addresses such as gmail.com are not companies and are ignored).",
        ("Email", "Contact Email", "Work Email", "Primary Contact Email"),
        ("Associated Contact Email", "Person - Email", "Email Address"),
    ),
)

DEAL_FIELDS: tuple[FieldSpec, ...] = (
    _f(
        "source_id",
        "id",
        "The deal's id in the CRM: the key that makes re-imports idempotent.",
        ("Record ID", "Deal ID", "Opportunity ID", "Deal - ID", "Opportunity: ID"),
        ("ID", "Id", "hs_object_id", "dealId"),
    ),
    _f(
        "name",
        "text",
        "Deal or opportunity name.",
        ("Deal Name", "Opportunity Name", "Deal - Title", "Deal Title"),
        ("Title", "Name"),
    ),
    _f(
        "stage",
        "stage",
        "Pipeline stage; mapped to won / lost / open.",
        ("Deal Stage", "Stage", "Deal - Stage", "Opportunity Stage", "dealstage"),
    ),
    _f(
        "status",
        "status",
        "Pipedrive-style status: won / lost / open.",
        ("Deal - Status", "Status", "Deal Status"),
    ),
    _f("won", "bool", "Salesforce 'Won' checkbox.", ("Won",)),
    _f("closed", "bool", "Salesforce 'Closed' checkbox.", ("Closed",)),
    _f(
        "amount",
        "money",
        "Deal value (ACV).",
        ("Amount", "Deal - Value", "Value", "Opportunity Amount", "Deal Amount", "ACV"),
        ("Amount (converted)", "Total Contract Value", "Deal Value"),
        ("Amount in company currency", "Expected Revenue"),
    ),
    _f(
        "currency",
        "text",
        "Currency of the amount.",
        ("Currency", "Deal - Currency", "Opportunity Currency", "Amount Currency"),
        ("Deal currency code",),
    ),
    _f(
        "closed_at",
        "date",
        "Close date.",
        ("Close Date", "Closed Date", "Deal - Deal closed on", "Deal closed on", "Closed On"),
        ("Deal - Won time", "Won time", "Date Closed"),
    ),
    _f(
        "created_at",
        "date",
        "Date the deal was created.",
        ("Create Date", "Created Date", "Deal - Deal created", "Deal created", "Created On"),
        ("Created", "createdate", "Date Created"),
    ),
    _f(
        "deal_type",
        "text",
        "New business or expansion ('Existing Business', 'Upsell').",
        ("Deal Type", "Opportunity Type", "Type", "Deal - Type"),
    ),
    _f("pipeline", "text", "Pipeline name.", ("Pipeline", "Deal - Pipeline")),
    _f(
        "owner",
        "text",
        "Deal owner.",
        ("Deal owner", "Opportunity Owner", "Owner", "Deal - Owner", "Deal Owner Name"),
    ),
    _f(
        "lost_reason",
        "text",
        "Why a lost deal was lost.",
        ("Closed Lost Reason", "Loss Reason", "Deal - Lost reason", "Lost Reason"),
    ),
    _f(
        "company_source_id",
        "id",
        "The associated company's id in the CRM.",
        (
            "Associated Company IDs",
            "Associated Company IDs (Primary)",
            "Associated Company ID",
            "Account ID",
            "Company ID",
            "Deal - Organization ID",
        ),
    ),
    _f(
        "company_name",
        "text",
        "The associated company's name.",
        (
            "Associated Company",
            "Associated Company (Primary)",
            "Account Name",
            "Deal - Organization",
            "Company name",
        ),
        ("Organization - Name", "Organization", "Company"),
    ),
    *_COMPANY_LINK,
    *_COMPANY_ATTRIBUTES,
)

COMPANY_FIELDS: tuple[FieldSpec, ...] = (
    _f(
        "source_id",
        "id",
        "The company's id in the CRM.",
        ("Record ID", "Account ID", "Company ID", "Organization - ID", "Organization ID"),
        ("ID", "Id", "hs_object_id"),
    ),
    _f(
        "company_name",
        "text",
        "Company name.",
        ("Company name", "Account Name", "Organization - Name", "Company Name", "Organization"),
        ("Name", "Company"),
    ),
    *_COMPANY_LINK,
    *_COMPANY_ATTRIBUTES,
    _f(
        "lifecycle_stage",
        "text",
        "Lifecycle stage or account type ('customer').",
        ("Lifecycle Stage", "Account Type", "Customer Status"),
        ("Type",),
    ),
    _f(
        "churned",
        "bool",
        "Whether the customer churned.",
        ("Churned", "Is Churned", "Churn"),
        ("Churned?",),
    ),
    _f(
        "churn_date",
        "date",
        "When the customer churned.",
        ("Churn Date", "Churned Date", "Cancellation Date", "Churned At"),
    ),
    _f(
        "created_at",
        "date",
        "When the company record was created.",
        ("Create Date", "Created Date", "Organization - Organization created"),
    ),
)

SIGNAL_FIELDS: tuple[FieldSpec, ...] = (
    *_COMPANY_LINK,
    _f(
        "company_name",
        "text",
        "Company name, when no domain is given.",
        ("Company name", "Company", "Account Name", "Organization"),
        ("Name",),
    ),
    _f(
        "signal_type",
        "text",
        "funding_round, job_posting, leadership_change, tech_added, web_visit, ...",
        ("Signal Type", "Signal", "Event Type", "Event"),
        ("Type",),
    ),
    _f(
        "observed_at",
        "date",
        "When the signal happened.",
        ("Signal Date", "Event Date", "Observed At", "Date"),
        ("Occurred At", "Timestamp"),
    ),
    _f(
        "detail",
        "text",
        "What happened ('Series A', 'SDR').",
        ("Detail", "Details", "Value"),
        ("Description", "Note"),
    ),
    _f("source", "text", "Where the signal came from.", ("Source", "Provider")),
)

CONTACT_FIELDS: tuple[FieldSpec, ...] = (
    _f(
        "source_id",
        "id",
        "The contact's id in the CRM.",
        ("Record ID", "Contact ID", "Person - ID", "Lead ID"),
        ("ID", "Id", "hs_object_id"),
    ),
    _f("first_name", "text", "First name.", ("First Name", "Person - First name", "Firstname")),
    _f("last_name", "text", "Last name.", ("Last Name", "Person - Last name", "Lastname")),
    _f(
        "full_name", "text", "Full name.", ("Full Name", "Person - Name", "Contact Name"), ("Name",)
    ),
    _f(
        "contact_email",
        "email_address",
        "Email address; a work address's domain also links the contact to its company.",
        ("Email", "Email Address", "Person - Email", "Work Email", "Contact Email"),
    ),
    _f(
        "job_title",
        "text",
        "Job title; seniority and department are read from it when not given.",
        ("Job Title", "Title", "Person - Job title", "Position"),
    ),
    _f(
        "seniority",
        "text",
        "Seniority (C-level, VP, Director, ...).",
        ("Seniority", "Job Seniority", "Management Level"),
    ),
    _f("department", "text", "Department or function.", ("Department", "Job Function", "Function")),
    _f(
        "company_source_id",
        "id",
        "The contact's company id in the CRM.",
        (
            "Associated Company IDs",
            "Associated Company IDs (Primary)",
            "Account ID",
            "Company ID",
            "Person - Organization ID",
        ),
    ),
    _f(
        "company_name",
        "text",
        "The contact's company name.",
        ("Company Name", "Associated Company", "Account Name", "Person - Organization", "Company"),
        ("Organization",),
    ),
    *_COMPANY_LINK[:1],
    _f(
        "lifecycle_stage",
        "text",
        "Lifecycle stage of the contact.",
        ("Lifecycle Stage", "Lead Status"),
    ),
    _f(
        "created_at",
        "date",
        "When the contact was created.",
        ("Create Date", "Created Date", "Person - Person created"),
    ),
)

FIELDS: dict[str, tuple[FieldSpec, ...]] = {
    "deals": DEAL_FIELDS,
    "companies": COMPANY_FIELDS,
    "signals": SIGNAL_FIELDS,
    "contacts": CONTACT_FIELDS,
}

# Fields whose presence says what a file holds.
ENTITY_MARKERS: dict[str, frozenset[str]] = {
    "deals": frozenset({"stage", "status", "won", "amount", "closed_at", "name"}),
    "signals": frozenset({"signal_type", "observed_at"}),
    "companies": frozenset({"company_name", "employees", "industry", "revenue", "lifecycle_stage"}),
    "contacts": frozenset({"first_name", "last_name", "full_name", "contact_email", "job_title"}),
}

# A file of the entity cannot be loaded without at least one field of each group.
REQUIRED: dict[str, tuple[frozenset[str], ...]] = {
    "deals": (frozenset({"stage", "status", "won"}),),
    "companies": (frozenset({"company_name", "company_domain", "company_email"}),),
    "signals": (
        frozenset({"signal_type"}),
        frozenset({"observed_at"}),
        frozenset({"company_domain", "company_name", "company_email"}),
    ),
    "contacts": (frozenset({"contact_email", "first_name", "last_name", "full_name"}),),
}

# Header names that only one CRM writes, to name the system in the dry run.
SYSTEM_MARKERS: dict[str, frozenset[str]] = {
    "hubspot": frozenset(
        header_key(n)
        for n in (
            "Record ID",
            "Deal Stage",
            "Company Domain Name",
            "Associated Company",
            "Associated Company IDs",
            "Country/Region",
            "Lifecycle Stage",
            "Deal owner",
            "Web Technologies",
            "Total Money Raised",
            "Create Date",
        )
    ),
    "salesforce": frozenset(
        header_key(n)
        for n in (
            "Opportunity Name",
            "Opportunity ID",
            "Account Name",
            "Account ID",
            "Opportunity Owner",
            "Created Date",
            "Billing Country",
            "Won",
            "Closed",
            "Opportunity Type",
        )
    ),
    "pipedrive": frozenset(
        header_key(n)
        for n in (
            "Deal - Title",
            "Deal - Value",
            "Deal - Status",
            "Deal - Stage",
            "Deal - Organization",
            "Deal - Deal created",
            "Organization - Name",
            "Deal - Won time",
            "Deal - Lost reason",
        )
    ),
}
