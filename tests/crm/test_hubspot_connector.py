"""The HubSpot connector against the loopback emulator: paging (and the search's 10,000-result
cap), associations, batches, rate limits, faults, refusals, scopes and credentials."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import httpx
import pytest
from hubspot_world import TOKEN

from icpkit.crm.base import CrmError, PermissionMissing, Update
from icpkit.crm.connectors import connector
from icpkit.crm.emulators.hubspot import ALL_SCOPES, READ_SCOPES, Fault, HubSpotEmulator
from icpkit.crm.fields import FIELDS
from icpkit.crm.hubspot import HubSpotConnector

EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


def _hub(**kwargs: object) -> HubSpotEmulator:
    kwargs.setdefault("tokens", {TOKEN: ALL_SCOPES})
    kwargs.setdefault("rate", 10_000)
    return HubSpotEmulator(**kwargs)  # type: ignore[arg-type]


def _companies(hub: HubSpotEmulator, n: int) -> list[str]:
    return [hub.add("companies", {"name": f"Company {i}", "domain": f"c{i}.com"}) for i in range(n)]


def _api(hub: HubSpotEmulator, **kwargs: object) -> HubSpotConnector:
    kwargs.setdefault("backoff_s", 0.01)
    return HubSpotConnector(TOKEN, base_url=hub.url, **kwargs)  # type: ignore[arg-type]


def test_search_pages_past_its_10000_result_cap_without_losing_or_repeating_a_record() -> None:
    with _hub() as hub:
        ids = _companies(hub, 10_450)
        records = list(_api(hub).read("companies", EPOCH))
        searches = [r for r in hub.requests if r[1].endswith("/search")]
    assert [r.id for r in records] == ids  # each once, oldest change first
    assert all(status == 200 for _, _, status in searches)  # never asked past the cap
    assert len(searches) > 10_450 // 200


def test_changes_after_a_time_are_the_only_records_read() -> None:
    with _hub() as hub:
        ids = _companies(hub, 30)
        cut = hub.objects["companies"][ids[-1]].updated
        hub.change("companies", ids[3], {"numberofemployees": "120"})
        hub.change("companies", ids[7], {"numberofemployees": "80"})
        changed = list(_api(hub).read("companies", cut))
    assert [r.id for r in changed] == [ids[3], ids[7]]
    assert changed[0].properties["numberofemployees"] == "120"


def test_deals_come_with_their_companies_in_a_full_read_and_in_a_search() -> None:
    with _hub() as hub:
        acme = hub.add("companies", {"name": "Acme", "domain": "acme.com"})
        deal = hub.add("deals", {"dealname": "Acme - New", "dealstage": "closedwon"},
                       associations={"companies": [acme]})  # fmt: skip
        full = list(_api(hub).read("deals", None))
        since = list(_api(hub).read("deals", EPOCH))
    for records in (full, since):
        assert [(r.id, r.associations.get("companies")) for r in records] == [(deal, (acme,))]


def test_a_batch_of_more_than_100_inputs_is_refused_by_the_emulator_as_hubspot_does() -> None:
    with _hub() as hub:
        answer = httpx.post(
            f"{hub.url}/crm/v3/objects/companies/batch/update",
            headers={"Authorization": f"Bearer {TOKEN}"},
            json={"inputs": [{"id": str(i), "properties": {}} for i in range(101)]},
        )
    assert answer.status_code == 400
    assert answer.json()["category"] == "VALIDATION_ERROR"


def test_writes_go_100_records_a_call() -> None:
    with _hub() as hub:
        ids = _companies(hub, 250)
        api = _api(hub)
        api.ensure_fields(FIELDS)
        result = api.write([Update(i, {"icp_score": 50}) for i in ids])
        updates = [r for r in hub.requests if r[1].endswith("/batch/update")]
    assert sorted(result.written) == sorted(ids) and not result.refused
    assert len(updates) == 3
    assert set(hub.writes.values()) == {1}


def test_rate_limit_429_is_waited_out_as_retry_after_says() -> None:
    with _hub(rate=4, window_s=1.0) as hub:
        ids = _companies(hub, 3)
        api = _api(hub)
        for _ in range(10):
            assert len(api.read_ids("companies", ids)) == 3
        limited = [r for r in hub.requests if r[2] == 429]
    assert limited  # the emulator did say 429 ...
    assert api.waited_s >= 1.0  # ... and the connector waited (Retry-After: 1)
    assert api.calls == 10 + len(limited)


def test_a_cap_on_the_total_wait_for_rate_limits_stops_with_a_message() -> None:
    with _hub(rate=1, window_s=30.0) as hub:
        ids = _companies(hub, 1)
        api = _api(hub, max_wait_s=5.0)
        api.read_ids("companies", ids)
        with pytest.raises(CrmError, match="rate limited for more than 5 s"):
            api.read_ids("companies", ids)


def test_server_errors_are_retried_and_each_record_written_once() -> None:
    with _hub() as hub:
        ids = _companies(hub, 150)
        api = _api(hub)
        api.ensure_fields(FIELDS)
        hub.inject(Fault(status=500, count=2, path="/crm/v3/objects/companies/batch/update"))
        result = api.write([Update(i, {"icp_tier": "A"}) for i in ids])
    assert sorted(result.written) == sorted(ids)
    assert dict(hub.writes) == dict.fromkeys(ids, 1)


def test_a_write_that_landed_before_the_timeout_is_not_sent_again() -> None:
    with _hub() as hub:
        ids = _companies(hub, 100)
        api = _api(hub, timeout_s=0.5)
        api.ensure_fields(FIELDS)
        # The emulator applies the batch, then stays silent past the client's timeout.
        hub.inject(Fault(delay_s=1.5, path="/crm/v3/objects/companies/batch/update"))
        result = api.write([Update(i, {"icp_tier": "B"}) for i in ids])
    assert sorted(result.written) == sorted(ids)
    assert dict(hub.writes) == dict.fromkeys(ids, 1)
    assert all(hub.objects["companies"][i].properties["icp_tier"] == "B" for i in ids)


def test_a_record_hubspot_refuses_is_reported_with_its_reason_not_retried() -> None:
    with _hub() as hub:
        ids = _companies(hub, 5)
        api = _api(hub)
        api.ensure_fields(FIELDS)
        result = api.write([Update(i, {"icp_tier": "C"}) for i in [*ids, "999999"]])
        updates = [r for r in hub.requests if r[1].endswith("/batch/update")]
    assert sorted(result.written) == sorted(ids)
    assert list(result.refused) == ["999999"]
    assert "not exist" in result.refused["999999"]
    assert [s for _, _, s in updates] == [207]


def test_fields_are_created_once_in_the_icpkit_group_with_their_options() -> None:
    with _hub() as hub:
        api = _api(hub)
        created = api.ensure_fields(FIELDS)
        again = api.ensure_fields(FIELDS)
        tier = hub.properties["icp_tier"]
    assert created == [f.name for f in FIELDS] and again == []
    assert tier["groupName"] == "icpkit"
    assert [o["value"] for o in tier["options"]] == ["A", "B", "C", "D"]


@pytest.mark.parametrize(
    ("scopes", "missing"),
    [
        (ALL_SCOPES - {"crm.objects.companies.write"}, "crm.objects.companies.write"),
        (ALL_SCOPES - {"crm.schemas.companies.write"}, "crm.schemas.companies.write"),
    ],
)
def test_a_missing_scope_is_permission_missing_naming_it(
    scopes: frozenset[str], missing: str
) -> None:
    with _hub(tokens={TOKEN: scopes}) as hub:
        with pytest.raises(PermissionMissing, match=missing) as raised:
            _api(hub).ensure_fields(FIELDS)
        assert not hub.properties.keys() & {f.name for f in FIELDS}
    assert TOKEN not in str(raised.value) + str(raised.value.hint)


def test_a_403_on_a_write_names_the_scope_hubspot_names() -> None:
    with _hub(tokens={TOKEN: READ_SCOPES}) as hub:
        ids = _companies(hub, 2)
        with pytest.raises(PermissionMissing, match=r"crm\.objects\.companies\.write"):
            _api(hub).write([Update(i, {"name": "x"}) for i in ids])
        assert not hub.writes


def test_a_wrong_token_is_refused_with_a_message_naming_the_variable_not_the_value() -> None:
    with _hub() as hub:
        api = HubSpotConnector("pat-wrong-token-value", base_url=hub.url)
        with pytest.raises(CrmError) as raised:
            list(api.read("companies", None))
    text = f"{raised.value} {raised.value.hint}"
    assert "401" in text and "HUBSPOT_ACCESS_TOKEN" in text
    assert "pat-wrong-token-value" not in text


def test_connector_reads_the_token_from_the_environment_then_the_secrets_file(
    tmp_path: Path,
) -> None:
    secrets = tmp_path / "secrets.env"
    secrets.write_text(f"# icpkit\nHUBSPOT_ACCESS_TOKEN='{TOKEN}'\n", encoding="utf-8")
    with _hub() as hub:
        _companies(hub, 2)
        env = {"ICPKIT_SECRETS_FILE": str(secrets), "ICPKIT_HUBSPOT_URL": hub.url}
        from_file = connector("hubspot", environ=env)
        assert len(list(from_file.read("companies", None))) == 2
        overridden = connector("HubSpot", environ={**env, "HUBSPOT_ACCESS_TOKEN": "other"})
        with pytest.raises(CrmError, match="401"):
            list(overridden.read("companies", None))
    assert TOKEN not in repr(from_file)


def test_a_missing_credential_names_the_variable_and_where_it_was_looked_for(
    tmp_path: Path,
) -> None:
    env = {"ICPKIT_SECRETS_FILE": str(tmp_path / "none.env")}
    with pytest.raises(CrmError, match="HUBSPOT_ACCESS_TOKEN is not set") as raised:
        connector("hubspot", environ=env)
    assert "none.env" in str(raised.value.hint)
    with pytest.raises(CrmError, match="unknown CRM 'zoho'"):
        connector("zoho", environ=env)
