"""Webhooks checked and read: HubSpot's signature v3 as HubSpot documents it, its event
array, and Salesforce outbound messages from the configured organizations only."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path

import pytest

from icpkit.serve.webhooks import (
    Refused,
    hubspot_events,
    read_secret,
    salesforce_events,
    soap_ack,
    verify_hubspot,
)

SECRET = "hub-client-secret-for-tests"
URI = "https://icp.example.com/v1/webhooks/hubspot"
NOW_MS = 1_764_000_000_000


def sign(secret: str, method: str, uri: str, body: bytes, stamp: str) -> str:
    """HubSpot's v3 recipe, written from its documentation: base64 of the HMAC-SHA256 of
    method + URI + body + timestamp under the client secret."""
    source = f"{method}{uri}{body.decode()}{stamp}".encode()
    return base64.b64encode(hmac.new(SECRET.encode(), source, hashlib.sha256).digest()).decode()


def headers(body: bytes, stamp: int = NOW_MS, uri: str = URI) -> dict[str, str]:
    return {
        "x-hubspot-signature-v3": sign(SECRET, "POST", uri, body, str(stamp)),
        "x-hubspot-request-timestamp": str(stamp),
    }


BODY = json.dumps(
    [
        {
            "eventId": 100,
            "subscriptionId": 7,
            "portalId": 33,
            "appId": 5,
            "occurredAt": NOW_MS - 1000,
            "subscriptionType": "company.creation",
            "attemptNumber": 0,
            "objectId": 1234,
        }
    ]
).encode()


def test_a_request_signed_as_hubspot_documents_passes() -> None:
    verify_hubspot(SECRET, "POST", URI, BODY, headers(BODY), now_ms=NOW_MS + 2000)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"x-hubspot-signature-v3": ""}, "signature v3 and its timestamp are required"),
        ({"x-hubspot-request-timestamp": ""}, "signature v3 and its timestamp are required"),
        ({"x-hubspot-request-timestamp": "yesterday"}, "not a time in milliseconds"),
        ({"x-hubspot-signature-v3": "AAAA"}, "does not match"),
    ],
)
def test_a_missing_or_wrong_signature_is_refused_with_401(
    change: dict[str, str], message: str
) -> None:
    sent = headers(BODY) | change
    with pytest.raises(Refused, match=message) as caught:
        verify_hubspot(SECRET, "POST", URI, BODY, sent, now_ms=NOW_MS)
    assert caught.value.status == 401


def test_a_signature_over_another_body_uri_method_or_secret_does_not_match() -> None:
    good = headers(BODY)
    for secret, method, uri, body in (
        ("another-secret", "POST", URI, BODY),
        (SECRET, "PUT", URI, BODY),
        (SECRET, "POST", "http://127.0.0.1:8080/v1/webhooks/hubspot", BODY),
        (SECRET, "POST", URI, BODY.replace(b"1234", b"1235")),
    ):
        with pytest.raises(Refused, match="does not match"):
            verify_hubspot(secret, method, uri, body, good, now_ms=NOW_MS)


def test_a_timestamp_over_five_minutes_old_is_refused_even_when_signed() -> None:
    stale = NOW_MS - 5 * 60 * 1000 - 1
    with pytest.raises(Refused, match="over five minutes old"):
        verify_hubspot(SECRET, "POST", URI, BODY, headers(BODY, stale), now_ms=NOW_MS)
    verify_hubspot(SECRET, "POST", URI, BODY, headers(BODY, stale + 2), now_ms=NOW_MS)


def test_the_uri_is_signed_with_the_escapes_hubspot_decodes() -> None:
    sent = URI + "?next=%2Fdone%3Fok"
    decoded = URI + "?next=/done?ok"
    verify_hubspot(SECRET, "POST", sent, BODY, headers(BODY, uri=decoded), now_ms=NOW_MS)


def test_hubspot_company_events_are_read_and_the_rest_said_ignored() -> None:
    body = json.dumps(
        [
            {"eventId": 1, "subscriptionType": "company.creation", "objectId": 11},
            {
                "eventId": 2,
                "subscriptionType": "company.propertyChange",
                "objectId": 12,
                "propertyName": "industry",
                "propertyValue": "Software",
            },
            {"eventId": 3, "subscriptionType": "company.deletion", "objectId": 13},
            {"eventId": 4, "subscriptionType": "contact.creation", "objectId": 14},
            {
                "eventId": 5,
                "subscriptionType": "company.propertyChange",
                "objectId": 12,
                "propertyName": "icp_score",
                "propertyValue": "80",
            },
        ]
    ).encode()
    got = hubspot_events(body, frozenset({"icp_score"}))
    assert [(e.event_id, e.record_id, e.kind) for e in got.events] == [
        ("1", "11", "company.creation"),
        ("2", "12", "company.propertyChange"),
    ]
    assert got.ignored == [
        "event 3: company.deletion is not scored",
        "event 4: contact.creation is not scored",
        "event 5: a change of icp_score",
    ]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "not JSON"),
        (b'{"eventId": 1}', "not an array of events"),
        (b"[1]", "event 0: not an object"),
        (b'[{"eventId": 1, "subscriptionType": "company.creation"}]', "event 0: subscr"),
    ],
)
def test_a_hubspot_body_that_is_not_an_event_array_is_refused_with_400(
    body: bytes, message: str
) -> None:
    with pytest.raises(Refused, match=message) as caught:
        hubspot_events(body, frozenset())
    assert caught.value.status == 400


def outbound(org: str = "00D5g000004XyZaEAK", sobject: str = "sf:Account") -> bytes:
    """An outbound message as Salesforce sends it (SOAP 1.1, enterprise namespace)."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"
 xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
 <soapenv:Body>
  <notifications xmlns="http://soap.sforce.com/2005/09/outbound">
   <OrganizationId>{org}</OrganizationId>
   <ActionId>04k5g000000CaVwAAK</ActionId>
   <SessionId xsi:nil="true"/>
   <EnterpriseUrl>https://acme.my.salesforce.com/services/Soap/c/60.0/00D5g000004XyZa</EnterpriseUrl>
   <PartnerUrl>https://acme.my.salesforce.com/services/Soap/u/60.0/00D5g000004XyZa</PartnerUrl>
   <Notification>
    <Id>04l5g00000AbCdEAAZ</Id>
    <sObject xsi:type="{sobject}" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">
     <sf:Id>0015g00000XyZabAAB</sf:Id>
     <sf:Name>Acme</sf:Name>
     <sf:NumberOfEmployees>120</sf:NumberOfEmployees>
    </sObject>
   </Notification>
   <Notification>
    <Id>04l5g00000AbCdFAAZ</Id>
    <sObject xsi:type="{sobject}" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">
     <sf:Id>0015g00000XyZacAAB</sf:Id>
    </sObject>
   </Notification>
  </notifications>
 </soapenv:Body>
</soapenv:Envelope>""".encode()


def test_an_outbound_message_from_a_configured_org_gives_one_event_per_account() -> None:
    got = salesforce_events(outbound(), ["00D5g000004XyZa"])  # the 15-character form
    assert [(e.crm, e.event_id, e.record_id) for e in got.events] == [
        ("salesforce", "04l5g00000AbCdEAAZ", "0015g00000XyZabAAB"),
        ("salesforce", "04l5g00000AbCdFAAZ", "0015g00000XyZacAAB"),
    ]


def test_an_outbound_message_from_another_org_is_refused_with_403() -> None:
    with pytest.raises(Refused, match="organization 00D000000000001AAA is not in") as caught:
        salesforce_events(outbound("00D000000000001AAA"), ["00D5g000004XyZaEAK"])
    assert caught.value.status == 403
    with pytest.raises(Refused) as none_set:
        salesforce_events(outbound(), [])
    assert none_set.value.status == 403


def test_objects_other_than_accounts_are_ignored() -> None:
    got = salesforce_events(outbound(sobject="sf:Contact"), ["00D5g000004XyZaEAK"])
    assert got.events == []
    assert got.ignored[0] == "notification 04l5g00000AbCdEAAZ: a Contact is not scored"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"<notifications", "not XML"),
        (b"<a/>", "no outbound message"),
        (b'<!DOCTYPE x [<!ENTITY e "e">]><x>&e;</x>', "document type declaration"),
    ],
)
def test_a_body_that_is_not_an_outbound_message_is_refused_with_400(
    body: bytes, message: str
) -> None:
    with pytest.raises(Refused, match=message) as caught:
        salesforce_events(body, ["00D5g000004XyZaEAK"])
    assert caught.value.status == 400


def test_the_acknowledgement_is_the_soap_answer_salesforce_waits_for() -> None:
    import xml.etree.ElementTree as ET

    root = ET.fromstring(soap_ack())
    ack = root.find(
        "{http://schemas.xmlsoap.org/soap/envelope/}Body/"
        "{http://soap.sforce.com/2005/09/outbound}notificationsResponse/"
        "{http://soap.sforce.com/2005/09/outbound}Ack"
    )
    assert ack is not None and ack.text == "true"


def test_the_client_secret_comes_from_the_environment_before_the_secrets_file(
    tmp_path: Path,
) -> None:
    secrets = tmp_path / "secrets.env"
    secrets.write_text("# keys\nHUBSPOT_CLIENT_SECRET='from-file'\n")
    env = {"ICPKIT_SECRETS_FILE": str(secrets)}
    assert read_secret("HUBSPOT_CLIENT_SECRET", env) == "from-file"
    assert read_secret("HUBSPOT_CLIENT_SECRET", env | {"HUBSPOT_CLIENT_SECRET": "env"}) == "env"


def test_the_webhook_queue_and_drain_modules_do_not_import_the_web_stack() -> None:
    import subprocess
    import sys

    code = (
        "import sys, icpkit.serve.webhooks, icpkit.serve.queue, icpkit.serve.drain\n"
        "print(','.join(m for m in ('fastapi', 'starlette', 'uvicorn') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""
