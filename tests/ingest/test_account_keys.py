"""Account keys: shared-platform websites and shared names do not fuse companies, and a
company known by its CRM record id keeps one account."""

from __future__ import annotations

import pytest

from icpkit.workspace import Workspace

COMPANIES = "Record ID,Company name,Company Domain Name,Industry,Lifecycle Stage\n"
DEALS = "Record ID,Deal Name,Deal Stage,Amount,Close Date,Create Date,Associated Company IDs\n"


def _ingest(ws: Workspace, *paths: object) -> list[object]:
    result = ws.ingest(list(paths))  # type: ignore[arg-type]
    assert result.ok, result.failures
    return list(result.files)


@pytest.mark.slow
def test_two_companies_on_facebook_pages_stay_two_accounts(query, ws, write) -> None:
    path = write(
        "companies.csv",
        COMPANIES + "1,Josh Eidson Farms,facebook.com/josh.eidson3,Farming,customer\n"
        "2,JSE Family Dental,https://www.facebook.com/jsefamily/,Dentists,customer\n",
    )
    _ingest(ws, path)
    assert query(ws, "SELECT name, account_key, domain FROM accounts ORDER BY 1") == [
        ("JSE Family Dental", "facebook.com/jsefamily", "facebook.com/jsefamily"),
        ("Josh Eidson Farms", "facebook.com/josh.eidson3", "facebook.com/josh.eidson3"),
    ]


@pytest.mark.slow
def test_companies_on_one_site_builder_stay_apart_by_subdomain(query, ws, write) -> None:
    path = write(
        "companies.csv",
        COMPANIES + "1,Acme,acme.wixsite.com/home,Retail,customer\n"
        "2,Globex,globex.wixsite.com,Retail,customer\n",
    )
    _ingest(ws, path)
    assert query(ws, "SELECT account_key FROM accounts ORDER BY 1") == [
        ("acme.wixsite.com",),
        ("globex.wixsite.com",),
    ]


def test_a_bare_platform_website_falls_back_to_the_name_and_is_reported(query, ws, write) -> None:
    path = write(
        "companies.csv",
        COMPANIES + "1,Acme Bakery,facebook.com,Restaurants,customer\n"
        "2,Globex,facebook.com,Retail,customer\n",
    )
    (report,) = _ingest(ws, path)
    assert query(ws, "SELECT account_key, domain FROM accounts ORDER BY 1") == [
        ("name:acme bakery", None),
        ("name:globex", None),
    ]
    cells = [p for p in report.problems if p.scope == "cell"]  # type: ignore[attr-defined]
    assert [(p.line, p.value) for p in cells] == [(2, "facebook.com"), (3, "facebook.com")]
    assert all("shared platform" in p.reason for p in cells)


def test_two_records_sharing_a_name_stay_two_accounts_by_record_id(query, ws, write) -> None:
    path = write(
        "companies.csv",
        COMPANIES + "11,Acme,,Software,customer\n12,Acme,,Construction,customer\n"
        "13,Globex,,Retail,customer\n",
    )
    (report,) = _ingest(ws, path)
    accounts = query(ws, "SELECT account_key, industry FROM accounts ORDER BY 1")
    assert accounts == [
        ("id:hubspot:11", "Software"),
        ("id:hubspot:12", "Construction"),
        ("name:globex", "Retail Trade"),
    ]
    assert any("kept as separate accounts" in n for n in report.notes)  # type: ignore[attr-defined]


@pytest.mark.slow
def test_deals_follow_the_record_id_of_a_company_that_shares_its_name(query, ws, write) -> None:
    companies = write(
        "companies.csv", COMPANIES + "11,Acme,,Software,customer\n12,Acme,,Construction,customer\n"
    )
    deals = write(
        "deals.csv",
        DEALS + "901,Acme deal,Closed Won,100,2024-03-01,2024-01-01,12\n"
        "902,Acme deal 2,Closed Lost,100,2024-03-01,2024-01-01,11\n",
    )
    _ingest(ws, companies, deals)
    assert query(ws, "SELECT source_id, account_key FROM deals ORDER BY 1") == [
        ("901", "id:hubspot:12"),
        ("902", "id:hubspot:11"),
    ]


@pytest.mark.slow
def test_a_renamed_company_keeps_its_account_by_record_id(query, ws, write) -> None:
    first = write("companies.csv", COMPANIES + "11,Acme,,Software,customer\n")
    _ingest(ws, first)
    deals = write("deals.csv", DEALS + "901,Deal,Closed Won,100,2024-03-01,2024-01-01,11\n")
    _ingest(ws, deals)
    renamed = write("companies-2.csv", COMPANIES + "11,Acme Robotics,,Software,customer\n")
    _ingest(ws, renamed)
    assert query(ws, "SELECT account_key, name FROM accounts") == [("name:acme", "Acme Robotics")]
    assert query(ws, "SELECT account_key FROM deals") == [("name:acme",)]


@pytest.mark.slow
def test_a_company_that_gains_a_website_moves_its_deals_to_the_domain(query, ws, write) -> None:
    _ingest(ws, write("companies.csv", COMPANIES + "11,Acme,,Software,customer\n"))
    _ingest(ws, write("deals.csv", DEALS + "901,Deal,Closed Won,100,2024-03-01,2024-01-01,11\n"))
    _ingest(ws, write("companies-2.csv", COMPANIES + "11,Acme,acme.io,,customer\n"))
    assert query(ws, "SELECT account_key, industry FROM accounts") == [("acme.io", "Software")]
    assert query(ws, "SELECT account_key FROM deals") == [("acme.io",)]
    assert query(ws, "SELECT source_id, account_key FROM account_ids") == [("11", "acme.io")]


@pytest.mark.slow
def test_a_deal_links_by_company_id_before_its_own_website_column(query, ws, write) -> None:
    _ingest(ws, write("companies.csv", COMPANIES + "11,Acme,acme.io,Software,customer\n"))
    deals = write(
        "deals.csv",
        "Record ID,Deal Name,Deal Stage,Amount,Close Date,Create Date,"
        "Associated Company IDs,Company Domain Name\n"
        "901,Deal,Closed Won,100,2024-03-01,2024-01-01,11,www.acme-labs.com\n",
    )
    _ingest(ws, deals)
    assert query(ws, "SELECT account_key FROM deals") == [("acme.io",)]


@pytest.mark.slow
@pytest.mark.parametrize("companies_first", [True, False])
def test_deal_ids_link_to_a_companies_file_whose_crm_could_not_be_named(
    query, ws, write, companies_first: bool
) -> None:
    # A companies file with nothing but generic headers next to a deals file in HubSpot's
    # names: one export set, so the company ids still link, whichever file comes first.
    companies = write("companies.csv", "ID,Name,Website\n7,Acme,acme.io\n8,Globex,globex.com\n")
    deals = write(
        "deals.csv",
        DEALS + "11,A,Closed Won,100,2024-06-01,2024-01-01,7\n"
        "12,B,Closed Lost,100,2024-06-01,2024-01-01,8\n",
    )
    _ingest(ws, *((companies, deals) if companies_first else (deals, companies)))
    assert query(ws, "SELECT source_id, account_key FROM deals ORDER BY 1") == [
        ("11", "acme.io"),
        ("12", "globex.com"),
    ]


@pytest.mark.slow
def test_a_deal_does_not_link_by_an_id_two_other_crms_give_to_different_companies(
    query, ws, write
) -> None:
    # Id 7 is Acme in one CRM's companies and Globex in another's: a deals file of a third
    # cannot tell which it means, so it links to neither.
    generic = write("companies.csv", "ID,Name,Website\n7,Acme,acme.io\n")
    salesforce = write(
        "accounts.csv",
        "Id,Name,Website,BillingCity,NumberOfEmployees\n7,Globex,globex.com,Austin,50\n",
    )
    deals = write("deals.csv", DEALS + "11,A,Closed Won,100,2024-06-01,2024-01-01,7\n")
    _ingest(ws, generic, salesforce, deals)
    systems = query(ws, "SELECT DISTINCT system FROM account_ids ORDER BY 1")
    assert systems == [("generic",), ("salesforce",)]
    assert query(ws, "SELECT source_id, account_key FROM deals") == [("11", None)]
