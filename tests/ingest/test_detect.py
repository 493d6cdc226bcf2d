"""Layout detection: what a file holds, which CRM wrote it, which column is which field."""

from __future__ import annotations

import pytest

from icpkit.config import MappingRule
from icpkit.ingest.cells import check_sample
from icpkit.ingest.detect import SAMPLE_SIZE, column_samples, detect_layout
from icpkit.ingest.problems import IngestError

HUBSPOT_DEALS = [
    "Record ID",
    "Deal Name",
    "Deal Stage",
    "Amount",
    "Close Date",
    "Create Date",
    "Associated Company IDs",
    "Associated Company",
    "Deal owner",
]
SALESFORCE_OPPS = [
    "Opportunity Owner",
    "Account Name",
    "Opportunity Name",
    "Stage",
    "Amount",
    "Close Date",
    "Created Date",
    "Type",
    "Won",
    "Closed",
    "Opportunity ID",
    "Account ID",
    "Employees",
    "Industry",
    "Billing Country",
    "Website",
]
PIPEDRIVE_DEALS = [
    "Deal - ID",
    "Deal - Title",
    "Deal - Value",
    "Deal - Currency",
    "Deal - Organization",
    "Deal - Status",
    "Deal - Stage",
    "Deal - Deal created",
    "Deal - Deal closed on",
    "Organization - Name",
]
HUBSPOT_COMPANIES = [
    "Record ID",
    "Company name",
    "Company Domain Name",
    "Number of Employees",
    "Annual Revenue",
    "Industry",
    "Country/Region",
    "Lifecycle Stage",
]


@pytest.mark.parametrize(
    ("header", "entity", "system"),
    [
        (HUBSPOT_DEALS, "deals", "hubspot"),
        (SALESFORCE_OPPS, "deals", "salesforce"),
        (PIPEDRIVE_DEALS, "deals", "pipedrive"),
        (HUBSPOT_COMPANIES, "companies", "hubspot"),
        (["Company Domain Name", "Signal Type", "Signal Date", "Detail"], "signals", "generic"),
        (
            ["Record ID", "First Name", "Last Name", "Email", "Job Title", "Company Name"],
            "contacts",
            "generic",
        ),
    ],
)
def test_real_export_headers_are_recognized(header, entity, system) -> None:
    layout = detect_layout("x.csv", header, {})
    assert (layout.entity, layout.system) == (entity, system)


def test_hubspot_deal_columns_map_to_canonical_fields() -> None:
    layout = detect_layout("deals.csv", HUBSPOT_DEALS, {})
    mapped = {c.field: c.column for c in layout.choices.values()}
    assert mapped == {
        "source_id": "Record ID",
        "name": "Deal Name",
        "stage": "Deal Stage",
        "amount": "Amount",
        "closed_at": "Close Date",
        "created_at": "Create Date",
        "company_source_id": "Associated Company IDs",
        "company_name": "Associated Company",
        "owner": "Deal owner",
    }


def test_salesforce_report_carries_account_attributes_and_won_closed_flags() -> None:
    layout = detect_layout("opps.csv", SALESFORCE_OPPS, {})
    assert {"won", "closed", "employees", "industry", "country", "company_domain"} <= set(
        layout.choices
    )
    assert layout.column_of("deal_type") == "Type"


def test_a_higher_ranked_synonym_wins_without_asking_and_the_other_is_listed() -> None:
    header = ["Record ID", "Deal Stage", "Amount", "Amount in company currency"]
    layout = detect_layout("deals.csv", header, {})
    choice = layout.choices["amount"]
    assert choice.column == "Amount"
    assert choice.alternatives == ("Amount in company currency",)


def test_two_columns_competing_at_the_same_rank_are_refused_with_a_fix() -> None:
    header = ["Record ID", "Deal Stage", "Create Date", "Created Date"]
    with pytest.raises(IngestError) as err:
        detect_layout("deals.csv", header, {})
    message = str(err.value)
    assert "'Create Date' and 'Created Date' both look like 'created_at'" in message
    assert "ingest.mapping" in message


def test_a_mapping_rule_settles_a_conflict_and_maps_odd_names() -> None:
    header = ["Opp #", "Create Date", "Created Date", "Phase", "Value (USD)"]
    rule = MappingRule(
        files="opps*.csv",
        entity="deals",
        columns={"Opp #": "source_id", "Created Date": "ignore", "Phase": "stage"},
    )
    layout = detect_layout("opps-2024.csv", header, {}, [rule])
    assert layout.column_of("source_id") == "Opp #"
    assert layout.column_of("created_at") == "Create Date"
    assert layout.column_of("stage") == "Phase"
    assert layout.choices["stage"].how == "manual"
    assert layout.ignored == ["Created Date"]
    # 'Value (USD)' contains a synonym of amount: mapped, but with a lower confidence.
    assert layout.choices["amount"].how == "partial"
    assert layout.choices["amount"].confidence < 0.7


def test_a_mapping_rule_naming_a_missing_column_or_field_is_an_error() -> None:
    with pytest.raises(IngestError, match="maps column 'Nope', which is not in the file"):
        detect_layout("d.csv", ["Deal Stage"], {}, [MappingRule(columns={"Nope": "amount"})])
    with pytest.raises(IngestError, match="'colour', which is not a deals field"):
        detect_layout("d.csv", ["Deal Stage", "X"], {}, [MappingRule(columns={"X": "colour"})])


def test_a_deals_file_without_any_stage_column_names_what_is_missing() -> None:
    with pytest.raises(IngestError) as err:
        detect_layout("opps.csv", ["Opportunity Name", "Amount", "Close Date"], {})
    message = str(err.value)
    assert message.startswith("opps.csv: missing a required column for deals")
    assert "'Deal Stage'" in message and "columns found: Opportunity Name, Amount" in message


def test_values_that_do_not_read_lower_the_confidence() -> None:
    samples = {"Amount": ["100", "200", "lots", "n/a but not blank"], "Deal Stage": ["Won"]}
    layout = detect_layout("d.csv", ["Deal Stage", "Amount"], samples, check=check_sample)
    amount = layout.choices["amount"]
    assert amount.parse_rate == 0.5
    assert amount.confidence == pytest.approx(0.75)
    assert layout.confidence == amount.confidence


def test_salesforce_api_names_name_salesforce_only_when_written_exactly() -> None:
    api = ["Id", "Name", "Website", "BillingCity", "BillingCountry", "CreatedDate"]
    assert detect_layout("Account.csv", api, {}).system == "salesforce"
    zoho = ["Record Id", "Account Name", "Billing City", "Billing Country", "Created Time"]
    zoho += ["Modified Time"]
    assert detect_layout("Accounts_001.csv", zoho, {}).system == "zoho"


def test_names_several_crms_write_name_no_crm() -> None:
    # 'Record ID', 'Deal Name', 'Deal Stage' are written by HubSpot, Zoho and Attio alike.
    layout = detect_layout("deals.csv", ["Record ID", "Deal Name", "Deal Stage", "Amount"], {})
    assert layout.system == "generic"


def test_an_unsure_layout_is_not_checked_for_required_fields_unless_forced() -> None:
    header = ["Record ID", "outcome", "employees", "industry"]
    samples = {"outcome": ["won", "lost"], "employees": ["10"], "industry": ["Software"]}
    layout = detect_layout("truth.csv", header, samples)
    assert layout.entity == "deals" and layout.entity_confidence < 0.75
    assert layout.skip_reason is not None and "--force" in layout.skip_reason
    forced = detect_layout("truth.csv", header, samples, force=True)
    assert forced.skip_reason is None and forced.column_of("stage") == "outcome"


def test_a_partial_match_needs_a_synonyms_words_in_order_and_something_more() -> None:
    header = ["Deal Stage", "Total Deal Amount in USD", "Close Date of deal"]
    layout = detect_layout("d.csv", header, {})
    assert layout.choices["amount"].how == "partial"
    assert layout.column_of("amount") == "Total Deal Amount in USD"
    # The words of 'Close Date' in another order name nothing.
    swapped = detect_layout("d.csv", ["Deal Stage", "Amount", "Date Close here"], {})
    assert swapped.column_of("closed_at") is None


def test_a_thousand_unknown_columns_leave_the_known_ones_mapped() -> None:
    header = ["Deal Stage", "Amount"] + [f"Custom property {i}" for i in range(1000)]
    layout = detect_layout("d.csv", header, {})
    assert layout.column_of("stage") == "Deal Stage" and layout.column_of("amount") == "Amount"
    assert len(layout.unmapped) == 1000


def test_samples_are_the_first_non_blank_values_of_each_named_column() -> None:
    rows = [("1", " ", "x"), ("2", None, "y"), ("", "b", "z")] + [("9", "c", "")] * 300
    samples = column_samples(["id", "name"], rows)  # a third cell the header does not name
    assert samples["id"][:3] == ["1", "2", "9"] and len(samples["id"]) == SAMPLE_SIZE
    assert samples["name"][:2] == ["b", "c"]
    assert column_samples(["id"], []) == {"id": []}
