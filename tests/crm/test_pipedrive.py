"""The Pipedrive connector against the loopback Pipedrive: lists and /recents page through
start/limit, custom fields are found by label and keyed by their generated keys, updates go
one organization a call within the rate limit, and the api_token never leaks."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from icpkit.crm.base import CrmError, FieldSpec, PermissionMissing, Update
from icpkit.crm.emulators.pipedrive import PipedriveEmulator
from icpkit.crm.pipedrive import PipedriveConnector
from icpkit.ingest.fields import formats, header_key

TOKEN = "f3a9c0ffee5ecret0123456789abcdef01234567"
SPECS = [
    FieldSpec("icp_fit", "ICP fit", "number", "Fit score, 0-100"),
    FieldSpec("icp_tier", "ICP tier", "enumeration", "Tier", options=("A", "B", "C", "D")),
    FieldSpec("icp_version", "ICP version", "string", "ICP version that scored it"),
]


def organizations(n: int) -> list[dict[str, Any]]:
    return [
        {
            "name": f"Company {i}",
            "Website": f"company{i}.com",
            "Number of employees": 10 + i,
            "Industry": "Software",
            "address_country": "Germany",
        }
        for i in range(n)
    ]


@pytest.fixture
def pd() -> Iterator[PipedriveEmulator]:
    with PipedriveEmulator(token=TOKEN) as emulator:
        yield emulator


def connect(pd: PipedriveEmulator, **options: Any) -> PipedriveConnector:
    settings: dict[str, Any] = {"backoff": 0.001, "timeout": 2.0, "page_size": 100, **options}
    return PipedriveConnector(pd.url, TOKEN, **settings)


def gets(pd: PipedriveEmulator, path: str) -> int:
    return sum(1 for method, p in pd.requests if method == "GET" and p == path)


def test_full_read_pages_through_every_organization_once(pd: PipedriveEmulator) -> None:
    ids = pd.seed(companies=organizations(250))
    records = list(connect(pd).read("companies", None))
    assert [r.id for r in records] == [str(i) for i in ids]
    assert gets(pd, "/api/v1/organizations") == 3  # 100 + 100 + 50
    assert records[7].properties["Organization - Name"] == "Company 7"
    assert records[7].properties["Organization - Website"] == "company7.com"
    assert records[7].properties["Organization - Address - Country"] == "Germany"


def test_incremental_read_follows_recents_and_returns_changes_after_since(
    pd: PipedriveEmulator,
) -> None:
    ids = pd.seed(companies=organizations(230))
    connector = connect(pd)
    since = list(connector.read("companies", None))[-1].modified_at
    changed = [ids[3], ids[120], ids[201]]
    for record_id in changed:
        pd.touch("organization", record_id, Industry="Retail")
    pd.seed(companies=[{"name": "Newco"}], deals=[{"title": "not an organization"}])
    records = list(connector.read("companies", since))
    assert [r.properties["Organization - Name"] for r in records] == [
        "Company 3", "Company 120", "Company 201", "Newco",
    ]  # fmt: skip
    assert all(r.modified_at > since for r in records)
    assert list(connector.read("companies", records[-1].modified_at)) == []


def test_incremental_read_pages_through_many_changes_once(pd: PipedriveEmulator) -> None:
    ids = pd.seed(companies=organizations(10))
    connector = connect(pd)
    since = list(connector.read("companies", None))[-1].modified_at
    pd.seed(companies=organizations(260))
    records = list(connector.read("companies", since))
    assert len(records) == 260 and len({r.id for r in records}) == 260
    assert not set(r.id for r in records) & {str(i) for i in ids}
    assert gets(pd, "/api/v1/recents") == 3


def test_deals_carry_their_organization_stage_name_and_export_labels(
    pd: PipedriveEmulator,
) -> None:
    (org,) = pd.seed(companies=organizations(1))
    pd.seed(
        deals=[{"title": "Big", "value": 5000, "status": "won", "stage_id": 3, "org_id": org}],
        contacts=[{"name": "Ada L", "email": "ada@company0.com", "org_id": org}],
    )
    connector = connect(pd)
    (deal,) = connector.read("deals", None)
    (person,) = connector.read("contacts", None)
    assert deal.associations == {"companies": (str(org),)}
    assert deal.properties["Deal - Organization"] == "Company 0"
    assert deal.properties["Deal - Organization ID"] == org
    assert deal.properties["Deal - Stage"] == "Proposal Made"
    assert deal.properties["Deal - Status"] == "won"
    assert person.properties["Person - Email"] == "ada@company0.com"
    assert person.associations == {"companies": (str(org),)}


@pytest.mark.parametrize(
    ("obj", "entity", "expected"),
    [
        ("companies", "companies", {
            "Organization - ID": "source_id", "Organization - Name": "company_name",
            "Organization - Website": "company_domain",
            "Organization - Number of employees": "employees",
            "Organization - Industry": "industry",
            "Organization - Address - Country": "country",
            "Organization - Organization created": "created_at",
        }),
        ("deals", "deals", {
            "Deal - ID": "source_id", "Deal - Title": "name", "Deal - Value": "amount",
            "Deal - Status": "status", "Deal - Stage": "stage", "Deal - Currency": "currency",
            "Deal - Organization ID": "company_source_id",
            "Deal - Organization": "company_name", "Deal - Deal created": "created_at",
        }),
        ("contacts", "contacts", {
            "Person - ID": "source_id", "Person - Name": "full_name",
            "Person - Email": "contact_email", "Person - Organization ID": "company_source_id",
            "Person - Person created": "created_at",
        }),
    ],
)  # fmt: skip
def test_read_properties_carry_names_ingestion_recognizes(
    pd: PipedriveEmulator, obj: Any, entity: str, expected: dict[str, str]
) -> None:
    (org,) = pd.seed(companies=organizations(1))
    pd.seed(
        deals=[{"title": "D", "value": 10, "status": "open", "stage_id": 1, "org_id": org}],
        contacts=[{"name": "Ada", "email": "ada@x.com", "org_id": org}],
    )
    (record,) = connect(pd).read(obj, None)
    recognized = {
        header_key(name): spec.name
        for spec in formats().fields[entity]
        for rank in spec.synonyms
        for name in rank
    }
    assert set(expected) <= set(record.properties)
    assert {name: recognized.get(header_key(name)) for name in expected} == expected


def test_read_ids_returns_those_records(pd: PipedriveEmulator) -> None:
    ids = pd.seed(companies=organizations(5))
    records = connect(pd).read_ids("companies", [str(ids[1]), str(ids[3]), "999"])
    assert [r.properties["Organization - Name"] for r in records] == ["Company 1", "Company 3"]


def test_ensure_fields_creates_missing_fields_once_with_generated_keys(
    pd: PipedriveEmulator,
) -> None:
    connector = connect(pd)
    assert connector.ensure_fields(SPECS) == ["icp_fit", "icp_tier", "icp_version"]
    again = connect(pd)
    assert again.ensure_fields(SPECS) == []
    created = [f for f in pd.fields["organization"] if f["name"].startswith("ICP")]
    assert [(f["name"], f["field_type"]) for f in created] == [
        ("ICP fit", "double"), ("ICP tier", "enum"), ("ICP version", "text"),
    ]  # fmt: skip
    assert all(len(f["key"]) == 40 for f in created)
    assert [o["label"] for o in created[1]["options"]] == ["A", "B", "C", "D"]
    assert sum(1 for m, p in pd.requests if m == "POST") == 3


def test_ensure_fields_dry_run_creates_nothing(pd: PipedriveEmulator) -> None:
    pd.field_key("organization", "ICP version")
    assert connect(pd).ensure_fields(SPECS, dry_run=True) == ["icp_fit", "icp_tier"]
    assert not [m for m, _ in pd.requests if m == "POST"]


def test_ensure_fields_without_the_right_names_the_missing_fields(pd: PipedriveEmulator) -> None:
    pd.can_add_fields = False
    with pytest.raises(PermissionMissing, match="'ICP fit', 'ICP tier', 'ICP version'"):
        connect(pd).ensure_fields(SPECS)


def test_write_puts_each_organization_under_the_generated_keys(pd: PipedriveEmulator) -> None:
    ids = pd.seed(companies=organizations(3))
    connector = connect(pd)
    connector.ensure_fields(SPECS)
    result = connector.write(
        [Update(str(i), {"icp_fit": 81.5, "icp_tier": "B", "icp_version": "v3"}) for i in ids]
    )
    assert result.written == [str(i) for i in ids] and result.refused == {}
    assert [m for m, _ in pd.requests].count("PUT") == 3
    tier = next(f for f in pd.fields["organization"] if f["name"] == "ICP tier")
    option_b = next(o["id"] for o in tier["options"] if o["label"] == "B")
    row = pd.records["organization"][ids[0]]
    assert row[pd.field_key("organization", "ICP fit")] == 81.5
    assert row[tier["key"]] == option_b  # enumerations are written as option ids
    (record,) = connector.read_ids("companies", [str(ids[0])])
    assert record.properties["Organization - ICP tier"] == "B"


def test_write_reports_refused_records_and_writes_the_rest(pd: PipedriveEmulator) -> None:
    ids = pd.seed(companies=organizations(2))
    connector = connect(pd)
    connector.ensure_fields(SPECS)
    result = connector.write(
        [Update(str(ids[0]), {"icp_tier": "Z"}), Update("424242", {"icp_fit": 1.0}),
         Update(str(ids[1]), {"icp_fit": 2.0})]
    )  # fmt: skip
    assert result.written == [str(ids[1])]
    assert result.refused[str(ids[0])] == "'Z' is not an option of 'ICP tier'"
    assert result.refused["424242"] == "HTTP 404: Organization not found"


def test_write_without_the_fields_names_them(pd: PipedriveEmulator) -> None:
    ids = pd.seed(companies=organizations(1))
    with pytest.raises(CrmError, match="no organization field for icp_fit"):
        connect(pd).write([Update(str(ids[0]), {"icp_fit": 1.0})])
    assert not pd.writes


def test_write_slows_down_before_the_rate_limit(pd: PipedriveEmulator) -> None:
    ids = pd.seed(companies=organizations(30))
    connector = connect(pd)
    connector.ensure_fields(SPECS)
    pd.rate_limit, pd.window_s = 8, 0.15
    result = connector.write([Update(str(i), {"icp_fit": 1.0}) for i in ids])
    assert len(result.written) == 30
    assert pd.rate_limited == 0  # the remaining-calls header was heeded
    assert connector.throttled_s > 0


def test_write_through_429_500_and_timeouts_writes_each_record_once(
    pd: PipedriveEmulator,
) -> None:
    ids = pd.seed(companies=organizations(40))
    connector = connect(pd, timeout=1.0, reserve=-1)  # no slowing down: the limit is hit
    connector.ensure_fields(SPECS)
    pd.rate_limit, pd.window_s = 15, 0.2
    pd.fail(429, times=2, method="PUT", retry_after=0.01)
    pd.fail(500, times=2, method="PUT")
    pd.hang(1.5, times=1, method="PUT")
    pd.hang(1.5, times=1, method="PUT", applied=True)
    result = connector.write([Update(str(i), {"icp_fit": 42.0}) for i in ids])
    assert sorted(result.written, key=int) == [str(i) for i in ids] and result.refused == {}
    assert dict(pd.writes) == {i: 1 for i in ids}
    assert pd.rate_limited > 0
    assert result.calls == sum(1 for m, _ in pd.requests if m in ("PUT", "GET")) - gets(
        pd, "/api/v1/organizationFields"
    )


def test_slow_answers_within_the_timeout_are_waited_for_not_sent_again(
    pd: PipedriveEmulator,
) -> None:
    ids = pd.seed(companies=organizations(4))
    connector = connect(pd, timeout=2.0)
    connector.ensure_fields(SPECS)
    pd.slow(0.2, times=2, method="PUT")
    result = connector.write([Update(str(i), {"icp_fit": 5.0}) for i in ids])
    assert result.calls == 4 and len(result.written) == 4
    assert dict(pd.writes) == {i: 1 for i in ids}


def test_bad_token_stops_at_once(pd: PipedriveEmulator) -> None:
    connector = PipedriveConnector(pd.url, "wrong-token", backoff=0.001)
    with pytest.raises(CrmError, match="refused the API token") as caught:
        list(connector.read("companies", None))
    assert connector.calls == 1 and "wrong-token" not in str(caught.value)


def test_token_never_appears_in_errors_logs_or_repr(
    pd: PipedriveEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    ids = pd.seed(companies=organizations(3))
    connector = connect(pd, timeout=0.2)
    connector.ensure_fields(SPECS)
    pd.fail(500, times=1)
    pd.hang(0.4, times=1)
    list(connector.read("companies", None))
    connector.write([Update(str(i), {"icp_fit": 1.0}) for i in ids])
    pd.fail(503, times=10)
    with pytest.raises(CrmError) as caught:
        connect(pd, retries=1).read_ids("companies", [str(ids[0])])
    assert any("HTTP Request" in r.getMessage() for r in caplog.records), "httpx logs requests"
    assert TOKEN not in caplog.text
    assert TOKEN not in str(caught.value) and TOKEN not in (caught.value.hint or "")
    assert TOKEN not in repr(connector)


def test_token_reaches_pipedrive_as_the_api_token_parameter(pd: PipedriveEmulator) -> None:
    pd.seed(companies=organizations(1))
    seen: list[str] = []
    handle = pd.handle

    def spy(method: str, target: str, headers: Any, body: bytes) -> Any:
        seen.append(target)
        return handle(method, target, headers, body)

    pd.handle = spy  # type: ignore[method-assign]
    list(connect(pd).read("companies", None))
    assert seen and all(f"api_token={TOKEN}" in target for target in seen)


def test_connector_from_credentials_uses_the_company_domain() -> None:
    found = {"PIPEDRIVE_API_TOKEN": TOKEN, "PIPEDRIVE_COMPANY_DOMAIN": "acme"}
    assert PipedriveConnector.from_credentials(found).base_url == "https://acme.pipedrive.com"
    found["ICPKIT_PIPEDRIVE_URL"] = "http://127.0.0.1:9"
    assert PipedriveConnector.from_credentials(found).base_url == "http://127.0.0.1:9"
