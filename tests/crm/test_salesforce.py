"""The Salesforce connector against the loopback Salesforce: reads page through SOQL cursors,
fields are created through the Tooling API, updates go 200 at a time and survive faults."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest

from icpkit.crm.base import CrmError, FieldSpec, PermissionMissing, Update
from icpkit.crm.emulators.salesforce import SalesforceEmulator
from icpkit.crm.salesforce import SalesforceConnector
from icpkit.ingest.fields import formats, header_key

TOKEN = "00Dx0000000secret!AQ4AQFakeSessionToken"
SPECS = [
    FieldSpec("icp_fit", "ICP fit", "number", "Fit score, 0-100"),
    FieldSpec("icp_tier", "ICP tier", "enumeration", "Tier", options=("A", "B", "C", "D")),
    FieldSpec("icp_version", "ICP version", "string", "ICP version that scored it"),
]


def companies(n: int) -> list[dict[str, object]]:
    return [
        {
            "Name": f"Company {i}",
            "Website": f"company{i}.com",
            "NumberOfEmployees": 10 + i,
            "AnnualRevenue": 1_000_000.0 * i,
            "Industry": "Technology",
            "BillingCountry": "Germany",
        }
        for i in range(n)
    ]


@pytest.fixture
def sf() -> Iterator[SalesforceEmulator]:
    with SalesforceEmulator(token=TOKEN, page_size=200) as emulator:
        yield emulator


def connect(sf: SalesforceEmulator, **options: object) -> SalesforceConnector:
    settings: dict[str, object] = {"backoff": 0.001, "timeout": 2.0, **options}
    return SalesforceConnector(sf.url, TOKEN, **settings)  # type: ignore[arg-type]


def queries(sf: SalesforceEmulator) -> list[str]:
    return [path for method, path in sf.requests if method == "GET" and "/query" in path]


def test_full_read_pages_through_every_account_once(sf: SalesforceEmulator) -> None:
    ids = sf.seed(companies=companies(450))
    records = list(connect(sf).read("companies", None))
    assert [r.id for r in records] == ids  # seeded in order, so oldest change first
    assert len(queries(sf)) == 3  # the query, then two nextRecordsUrl pages of 200
    assert records[7].properties["Website"] == "company7.com"
    assert records[7].properties["NumberOfEmployees"] == 17


def test_incremental_read_returns_only_records_changed_after_since(
    sf: SalesforceEmulator,
) -> None:
    ids = sf.seed(companies=companies(300))
    connector = connect(sf)
    first = list(connector.read("companies", None))
    since = first[-1].modified_at
    sf.touch(ids[5], Industry="Retail")
    sf.touch(ids[250], Industry="Retail")
    sf.seed(companies=[{"Name": "Newco", "Website": "newco.com"}])
    changed = list(connector.read("companies", since))
    assert [r.id for r in changed][:2] == [ids[5], ids[250]]
    assert [r.properties["Name"] for r in changed] == ["Company 5", "Company 250", "Newco"]
    assert all(r.modified_at > since for r in changed)
    assert list(connector.read("companies", changed[-1].modified_at)) == []


def test_incremental_read_asks_salesforce_for_changes_after_since_only(
    sf: SalesforceEmulator,
) -> None:
    sf.seed(companies=companies(3))
    connector = connect(sf)
    since = dt.datetime(2024, 1, 1, 0, 0, 0, 1500, tzinfo=dt.UTC)
    records = list(connector.read("companies", since))
    assert [r.properties["Name"] for r in records] == ["Company 1", "Company 2"]
    assert all(r.modified_at > since for r in records)


def test_read_is_oldest_change_first_across_pages(sf: SalesforceEmulator) -> None:
    ids = sf.seed(companies=companies(250))
    for record_id in reversed(ids[:50]):
        sf.touch(record_id, Type="Customer")
    stamps = [r.modified_at for r in connect(sf).read("companies", None)]
    assert stamps == sorted(stamps) and len(stamps) == 250


def test_deals_and_contacts_link_to_their_account(sf: SalesforceEmulator) -> None:
    (account,) = sf.seed(companies=companies(1))
    sf.seed(
        deals=[
            {"Name": "Big deal", "StageName": "Closed Won", "Amount": 5000, "AccountId": account}
        ],
        contacts=[
            {"FirstName": "Ada", "LastName": "L", "Email": "ada@c.com", "AccountId": account}
        ],
    )
    connector = connect(sf)
    (deal,) = connector.read("deals", None)
    (contact,) = connector.read("contacts", None)
    assert deal.associations == {"companies": (account,)}
    assert contact.associations == {"companies": (account,)}
    assert deal.properties["IsWon"] is True
    assert contact.properties["Email"] == "ada@c.com"


@pytest.mark.parametrize(
    ("entity", "obj", "expected"),
    [
        ("companies", "companies", {
            "Id": "source_id", "Name": "company_name", "Website": "company_domain",
            "NumberOfEmployees": "employees", "AnnualRevenue": "revenue",
            "Industry": "industry", "BillingCountry": "country", "CreatedDate": "created_at",
        }),
        ("deals", "deals", {
            "Id": "source_id", "StageName": "stage", "IsWon": "won", "Amount": "amount",
            "CloseDate": "closed_at", "CreatedDate": "created_at",
            "AccountId": "company_source_id",
        }),
        ("contacts", "contacts", {
            "FirstName": "first_name", "LastName": "last_name", "Email": "contact_email",
            "Title": "job_title", "AccountId": "company_source_id",
        }),
    ],
)  # fmt: skip
def test_read_properties_carry_names_ingestion_recognizes(
    sf: SalesforceEmulator, entity: str, obj: str, expected: dict[str, str]
) -> None:
    (account,) = sf.seed(companies=companies(1))
    sf.seed(
        deals=[{"Name": "D", "StageName": "Prospecting", "AccountId": account}],
        contacts=[{"LastName": "L", "AccountId": account}],
    )
    (record,) = connect(sf).read(obj, None)  # type: ignore[arg-type]
    recognized = {
        header_key(name): spec.name
        for spec in formats().fields[entity]
        for rank in spec.synonyms
        for name in rank
    }
    assert set(expected) <= set(record.properties)
    assert {name: recognized.get(header_key(name)) for name in expected} == expected


def test_read_ids_returns_those_records_in_queries_that_fit_the_uri_limit(
    sf: SalesforceEmulator,
) -> None:
    ids = sf.seed(companies=companies(450))
    wanted = ids[::2] + ids[1::2][:100]  # 325 ids: two queries
    records = connect(sf).read_ids("companies", wanted)
    assert sorted(r.id for r in records) == sorted(wanted)
    assert len(queries(sf)) == 2


def test_read_ids_refuses_what_is_not_a_record_id(sf: SalesforceEmulator) -> None:
    with pytest.raises(CrmError, match="not a Salesforce record id"):
        connect(sf).read_ids("companies", ["001' OR Name != '"])
    assert sf.requests == []


def test_ensure_fields_creates_missing_fields_once(sf: SalesforceEmulator) -> None:
    connector = connect(sf)
    assert connector.ensure_fields(SPECS) == ["icp_fit", "icp_tier", "icp_version"]
    assert connector.ensure_fields(SPECS) == []
    posts = [p for m, p in sf.requests if m == "POST"]
    assert len(posts) == 3 and all(p.endswith("/tooling/sobjects/CustomField") for p in posts)
    assert sf.custom_fields["Account.ICP_Fit__c"]["type"] == "Number"
    tier = sf.custom_fields["Account.ICP_Tier__c"]
    assert tier["type"] == "Picklist"
    assert [v["fullName"] for v in tier["valueSet"]["valueSetDefinition"]["value"]] == [
        "A", "B", "C", "D",
    ]  # fmt: skip


def test_ensure_fields_dry_run_names_fields_and_creates_nothing(sf: SalesforceEmulator) -> None:
    sf.seed(companies=[{"Name": "X", "ICP_Fit__c": 3.0}])  # one field exists already
    connector = connect(sf)
    assert connector.ensure_fields(SPECS, dry_run=True) == ["icp_tier", "icp_version"]
    assert sf.custom_fields == {}
    assert not [m for m, _ in sf.requests if m == "POST"]


def test_ensure_fields_without_customize_right_names_the_missing_fields(
    sf: SalesforceEmulator,
) -> None:
    sf.can_customize = False
    with pytest.raises(PermissionMissing, match="ICP_Fit__c, ICP_Tier__c, ICP_Version__c"):
        connect(sf).ensure_fields(SPECS)
    assert sf.custom_fields == {}


def test_ensure_fields_with_read_only_field_is_refused(sf: SalesforceEmulator) -> None:
    sf.seed(companies=[{"Name": "X", "ICP_Fit__c": 3.0}])
    sf.readonly_fields.add("ICP_Fit__c")
    with pytest.raises(PermissionMissing, match="may not edit the Account fields ICP_Fit__c"):
        connect(sf).ensure_fields(SPECS, dry_run=True)


def test_write_sends_at_most_200_records_a_call_and_writes_each_once(
    sf: SalesforceEmulator,
) -> None:
    ids = sf.seed(companies=companies(450))
    connector = connect(sf)
    connector.ensure_fields(SPECS)
    before = connector.calls
    result = connector.write([Update(i, {"icp_fit": 80.0, "icp_tier": "A"}) for i in ids])
    patches = [p for m, p in sf.requests if m == "PATCH"]
    assert len(patches) == 3  # 200 + 200 + 50
    assert result.calls == 3 == connector.calls - before
    assert sorted(result.written) == sorted(ids) and result.refused == {}
    assert set(sf.writes.values()) == {1} and len(sf.writes) == 450
    assert sf.records["Account"][ids[0]]["ICP_Tier__c"] == "A"


def test_write_over_the_batch_limit_is_refused_by_the_emulator(sf: SalesforceEmulator) -> None:
    sf.batch_limit = 100  # the connector sends 200: Salesforce's answer is EXCEEDED_ID_LIMIT
    ids = sf.seed(companies=companies(150))
    connector = connect(sf)
    connector.ensure_fields(SPECS)
    with pytest.raises(CrmError, match="EXCEEDED_ID_LIMIT"):
        connector.write([Update(i, {"icp_fit": 1.0}) for i in ids])
    assert not sf.writes


def test_write_through_429_503_500_and_lost_requests_writes_each_record_once(
    sf: SalesforceEmulator,
) -> None:
    ids = sf.seed(companies=companies(420))
    connector = connect(sf, timeout=1.0)
    connector.ensure_fields(SPECS)
    sf.requests.clear()
    sf.fail(429, times=2, method="PATCH", retry_after=0.01)
    sf.fail(503, times=1, method="PATCH")
    sf.hang(1.5, times=1, method="PATCH")
    sf.fail(500, times=1, method="PATCH")
    result = connector.write([Update(i, {"icp_fit": 50.0}) for i in ids])
    assert sorted(result.written) == sorted(ids) and result.refused == {}
    assert dict(sf.writes) == {i: 1 for i in ids}
    patches = [p for m, p in sf.requests if m == "PATCH"]
    assert len(patches) == 3 + 5  # three batches, five failed attempts
    assert result.calls == len(sf.requests)  # the PATCHes and the checks before retries


def test_write_whose_answer_was_lost_is_checked_not_sent_again(sf: SalesforceEmulator) -> None:
    ids = sf.seed(companies=companies(250))
    connector = connect(sf, timeout=1.0)
    connector.ensure_fields(SPECS)
    sf.touch(ids[3], ICP_Fit__c=10.0)
    sf.hang(1.5, times=1, method="PATCH", applied=True)  # the first batch lands, its answer not
    result = connector.write([Update(i, {"icp_fit": 70.0}) for i in ids])
    assert sorted(result.written) == sorted(ids) and result.refused == {}
    assert dict(sf.writes) == {i: 1 for i in ids}
    assert [m for m, _ in sf.requests].count("PATCH") == 2  # the lost one and the second batch


def test_slow_answers_within_the_timeout_are_waited_for_not_sent_again(
    sf: SalesforceEmulator,
) -> None:
    ids = sf.seed(companies=companies(300))
    connector = connect(sf, timeout=2.0)
    connector.ensure_fields(SPECS)
    sf.slow(0.2, times=2, method="PATCH")
    result = connector.write([Update(i, {"icp_fit": 5.0}) for i in ids])
    assert result.calls == 2 and len(result.written) == 300
    assert dict(sf.writes) == {i: 1 for i in ids}


def test_write_reports_records_salesforce_refuses_and_writes_the_rest(
    sf: SalesforceEmulator,
) -> None:
    ids = sf.seed(companies=companies(3))
    connector = connect(sf)
    connector.ensure_fields(SPECS)
    gone = "001000000009999AAA"
    result = connector.write(
        [Update(ids[0], {"icp_fit": 1.0}), Update(gone, {"icp_fit": 2.0}),
         Update(ids[1], {"icp_version": "x" * 40_000}), Update(ids[2], {"icp_fit": 3.0})]
    )  # fmt: skip
    assert result.written == [ids[0], ids[2]]
    assert set(result.refused) == {gone, ids[1]}
    assert result.refused[gone].startswith("ENTITY_IS_DELETED")
    assert result.refused[ids[1]].startswith("STRING_TOO_LONG")


def test_write_gives_up_with_a_clear_error_after_repeated_server_failures(
    sf: SalesforceEmulator,
) -> None:
    ids = sf.seed(companies=companies(2))
    connector = connect(sf, retries=2)
    connector.ensure_fields(SPECS)
    sf.fail(503, times=100, method="PATCH")
    with pytest.raises(CrmError, match=r"update of 2 accounts failed 3 times \(HTTP 503\)"):
        connector.write([Update(i, {"icp_fit": 1.0}) for i in ids])
    assert not sf.writes


def test_write_stops_when_rate_limits_outlast_max_wait(sf: SalesforceEmulator) -> None:
    ids = sf.seed(companies=companies(2))
    connector = connect(sf, max_wait=0.25)
    sf.fail(429, times=100, method="PATCH", retry_after=0.1)
    with pytest.raises(CrmError, match="rate limited for more than"):
        connector.write([Update(i, {"icp_fit": 1.0}) for i in ids])
    assert connector.calls == 3 and not sf.writes


def test_expired_session_stops_at_once_with_invalid_session(sf: SalesforceEmulator) -> None:
    sf.token = "another"
    connector = connect(sf)
    with pytest.raises(CrmError, match="INVALID_SESSION_ID") as caught:
        list(connector.read("companies", None))
    assert connector.calls == 1
    assert caught.value.hint and "fresh access token" in caught.value.hint


def test_daily_request_limit_stops_without_retrying(sf: SalesforceEmulator) -> None:
    ids = sf.seed(companies=companies(2))
    sf.daily_limit = 1
    connector = connect(sf)
    list(connector.read("companies", None))
    assert connector.api_usage == (1, 1)
    with pytest.raises(CrmError, match="daily API request limit is used up") as caught:
        connector.write([Update(i, {"icp_fit": 1.0}) for i in ids])
    assert connector.calls == 2
    assert "api-usage=1/1" in str(caught.value)


def test_token_never_appears_in_errors_logs_or_repr(
    sf: SalesforceEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    ids = sf.seed(companies=companies(2))
    connector = connect(sf, timeout=0.2)
    sf.hang(0.4, times=1)
    sf.fail(503, times=1)
    list(connector.read("companies", None))
    connector.ensure_fields(SPECS)
    connector.write([Update(i, {"icp_fit": 1.0}) for i in ids])
    sf.token = "rotated"
    with pytest.raises(CrmError) as caught:
        connector.write([Update(ids[0], {"icp_fit": 2.0})])
    assert caplog.records, "retries are logged"
    assert TOKEN not in caplog.text
    assert TOKEN not in str(caught.value) and TOKEN not in (caught.value.hint or "")
    assert TOKEN not in repr(connector)


def test_query_text_filters_on_systemmodstamp_and_orders_by_it(sf: SalesforceEmulator) -> None:
    seen: list[str] = []
    handle = sf.handle

    def spy(method: str, target: str, headers: dict[str, str], body: bytes):  # type: ignore[no-untyped-def]
        seen.append(target)
        return handle(method, target, headers, body)

    sf.handle = spy  # type: ignore[method-assign]
    since = dt.datetime(2024, 3, 1, 12, 30, 5, 250_000, tzinfo=dt.UTC)
    list(connect(sf).read("deals", since))
    (soql,) = parse_qs(urlsplit(seen[0]).query)["q"]
    assert "FROM Opportunity WHERE SystemModstamp > 2024-03-01T12:30:05.250Z" in soql
    assert soql.endswith("ORDER BY SystemModstamp ASC, Id ASC")
