"""CRM webhooks received by ``icp serve``: HubSpot webhooks (signature v3) and Salesforce
outbound messages, checked, read into queue events and answered once stored.

HubSpot signs ``method + URI + body + timestamp`` with the app's client secret
(HMAC-SHA256, base64) in ``X-HubSpot-Signature-v3``; a signature that does not match, or a
timestamp over five minutes old, is refused (401) before the body is read as events. The
secret comes from ``HUBSPOT_CLIENT_SECRET`` in the environment or the secrets file (see
icpkit.enrich.secrets), never from ``icp.yaml``, and is never logged or answered.

Salesforce outbound messages carry no signature: they are accepted from the organizations
named in ``serve.webhooks.salesforce_org_ids`` only, and the documented protection is at the
proxy (a client certificate, or Salesforce's published IP ranges).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape

from icpkit.config import WebhookSettings
from icpkit.crm.credentials import read_credentials
from icpkit.errors import IcpkitError
from icpkit.serve.queue import Event, Queue
from icpkit.serve.tokens import Scope

if TYPE_CHECKING:  # the web stack is imported by the routes only (icpkit[serve])
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

log = logging.getLogger("icpkit.serve")

HUBSPOT_SECRET = "HUBSPOT_CLIENT_SECRET"
MAX_AGE_MS = 5 * 60 * 1000
"""HubSpot's limit: a request whose timestamp is older than five minutes is refused."""
COMPANY_EVENTS = ("company.creation", "company.propertyChange")
"""HubSpot events that mean a company to score; ``company.deletion`` leaves nothing to write."""
_URI_DECODED = {
    "%3A": ":",
    "%2F": "/",
    "%3F": "?",
    "%40": "@",
    "%21": "!",
    "%24": "$",
    "%27": "'",
    "%28": "(",
    "%29": ")",
    "%2A": "*",
    "%2C": ",",
    "%3B": ";",
}
"""The escapes HubSpot decodes in the URI before signing it."""
OUTBOUND_NS = "http://soap.sforce.com/2005/09/outbound"
SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"


_JSON_ERROR = {"description": "refused", "content": {"application/json": {}}}
WEBHOOK_PATHS: dict[str, Any] = {
    "/v1/webhooks/hubspot": {
        "post": {
            "summary": "HubSpot company webhooks (signature v3), queued and written back",
            "description": "A JSON array of HubSpot events signed with X-HubSpot-Signature-v3 "
            "and X-HubSpot-Request-Timestamp; company.creation and company.propertyChange are "
            "queued, scored and written back; the rest are said ignored.",
            "requestBody": {"required": True, "content": {"application/json": {}}},
            "responses": {
                "200": {"description": "stored: queued, duplicates, ignored"},
                "400": _JSON_ERROR,
                "401": _JSON_ERROR,
                "503": _JSON_ERROR,
            },
        }
    },
    "/v1/webhooks/salesforce": {
        "post": {
            "summary": "Salesforce outbound messages on Accounts, queued and written back",
            "description": "SOAP 1.1 notifications from an organization in "
            "serve.webhooks.salesforce_org_ids; answered <Ack>true</Ack> once stored.",
            "requestBody": {"required": True, "content": {"text/xml": {}}},
            "responses": {
                "200": {"description": "notificationsResponse, Ack true"},
                "400": {"description": "SOAP fault: not an outbound message"},
                "403": {"description": "SOAP fault: another organization"},
            },
        }
    },
    "/v1/webhooks/queue": {
        "get": {
            "summary": "The webhook queue: events per state, dead letters with their error",
            "security": [{"bearerAuth": []}],
            "responses": {"200": {"description": "counts and dead"}, "401": _JSON_ERROR},
        }
    },
    "/v1/webhooks/queue/retry": {
        "post": {
            "summary": "Send the dead letters again",
            "security": [{"bearerAuth": []}],
            "responses": {"200": {"description": "requeued"}, "401": _JSON_ERROR},
        }
    },
}
"""The webhook endpoints as the OpenAPI description shows them (plain routes, described by
hand)."""


class Refused(IcpkitError):
    """A webhook not accepted: the status to answer and why (never a secret)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Received:
    """What a webhook brought: the events to queue, and those left out with why."""

    events: list[Event] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)


def read_secret(name: str, environ: Mapping[str, str] | None = None) -> str | None:
    """The secret ``name`` from the environment, else from the secrets file (KEY=VALUE), as
    the CRM credentials are read.

    >>> read_secret("X_SECRET", {"X_SECRET": "s", "ICPKIT_SECRETS_FILE": "/nonexistent"})
    's'
    >>> read_secret("X_SECRET", {"ICPKIT_SECRETS_FILE": "/nonexistent"}) is None
    True
    """
    return read_credentials([name], environ).get(name) or None


def signed_uri(uri: str) -> str:
    """The URI as HubSpot signs it: a few escapes decoded.

    >>> signed_uri("https://h.io/v1/webhooks/hubspot?next=%2Fa%3Fb%3Dc")
    'https://h.io/v1/webhooks/hubspot?next=/a?b%3Dc'
    """
    for code, char in _URI_DECODED.items():
        uri = uri.replace(code, char).replace(code.lower(), char)
    return uri


def hubspot_signature(secret: str, method: str, uri: str, body: bytes, timestamp: str) -> str:
    """``X-HubSpot-Signature-v3`` of a request: base64 of the HMAC-SHA256, under the app's
    client secret, of method, URI, body and timestamp joined."""
    message = method.encode() + signed_uri(uri).encode() + body + timestamp.encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def verify_hubspot(
    secret: str,
    method: str,
    uri: str,
    body: bytes,
    headers: Mapping[str, str],
    now_ms: int | None = None,
) -> None:
    """Raise :class:`Refused` (401) unless the request carries a fresh, matching v3
    signature; compared in constant time."""
    signature = headers.get("x-hubspot-signature-v3", "")
    stamp = headers.get("x-hubspot-request-timestamp", "")
    if not signature or not stamp:
        raise Refused(401, "a HubSpot signature v3 and its timestamp are required")
    if not stamp.isdigit():
        raise Refused(401, "X-HubSpot-Request-Timestamp is not a time in milliseconds")
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    if now_ms - int(stamp) > MAX_AGE_MS:
        raise Refused(401, "the request is over five minutes old")
    expected = hubspot_signature(secret, method, uri, body, stamp)
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        raise Refused(401, "the HubSpot signature does not match")


def _text(value: Any) -> str | None:
    """A JSON id as text (HubSpot sends numbers), None when absent or not a scalar."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | str) and str(value).strip():
        return str(value).strip()
    return None


def hubspot_events(body: bytes, written: frozenset[str]) -> Received:
    """The company events of a HubSpot webhook body (a JSON array). Deletions, other
    objects and changes of the fields the write-back sets (``written``: scoring them again
    would loop) are listed as ignored; raises :class:`Refused` (400) on a body that is not
    such an array."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Refused(400, "the body is not JSON") from exc
    if not isinstance(data, list):
        raise Refused(400, "the body is not an array of events")
    out = Received()
    for n, item in enumerate(data):
        if not isinstance(item, dict):
            raise Refused(400, f"event {n}: not an object")
        kind = item.get("subscriptionType")
        event_id, record_id = _text(item.get("eventId")), _text(item.get("objectId"))
        if not isinstance(kind, str) or event_id is None or record_id is None:
            raise Refused(400, f"event {n}: subscriptionType, eventId and objectId are required")
        if kind not in COMPANY_EVENTS:
            out.ignored.append(f"event {event_id}: {kind} is not scored")
            continue
        if kind == "company.propertyChange" and item.get("propertyName") in written:
            out.ignored.append(f"event {event_id}: a change of {item['propertyName']}")
            continue
        occurred = item.get("occurredAt")
        out.events.append(
            Event(
                "hubspot",
                event_id,
                record_id,
                kind,
                occurred_at=str(occurred) if isinstance(occurred, int | str) else None,
            )
        )
    return out


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _child(node: ET.Element, name: str) -> ET.Element | None:
    return next((c for c in node if _local(c.tag) == name), None)


def same_org(a: str, b: str) -> bool:
    """Whether two Salesforce organization ids name one org (15 and 18 characters alike).

    >>> same_org("00D5g000004XyZaEAK", "00D5g000004XyZa")
    True
    """
    return len(a) >= 15 and len(b) >= 15 and a[:15] == b[:15]


def salesforce_events(body: bytes, orgs: Sequence[str]) -> Received:
    """The Account events of a Salesforce outbound message (SOAP 1.1). Raises
    :class:`Refused`: 400 on a body that is not an outbound message, 403 when its
    organization is not in ``orgs``."""
    if b"<!DOCTYPE" in body.upper() or b"<!ENTITY" in body.upper():
        raise Refused(400, "a document type declaration is not accepted")
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        raise Refused(400, f"the body is not XML ({exc})") from exc
    notes = next((e for e in root.iter() if _local(e.tag) == "notifications"), None)
    if notes is None:
        raise Refused(400, "the body holds no outbound message (notifications)")
    org_node = _child(notes, "OrganizationId")
    org = (org_node.text or "").strip() if org_node is not None else ""
    if not org:
        raise Refused(400, "the outbound message names no OrganizationId")
    if not any(same_org(org, allowed) for allowed in orgs):
        raise Refused(403, f"organization {org} is not in serve.webhooks.salesforce_org_ids")
    out = Received()
    for n, note in enumerate(c for c in notes if _local(c.tag) == "Notification"):
        nid = _child(note, "Id")
        obj = _child(note, "sObject")
        event_id = (nid.text or "").strip() if nid is not None else ""
        rid = _child(obj, "Id") if obj is not None else None
        record_id = (rid.text or "").strip() if rid is not None else ""
        if not event_id or obj is None or not record_id:
            raise Refused(400, f"notification {n}: Id and an sObject with an Id are required")
        kind = (obj.get(f"{{{XSI_NS}}}type") or "").rpartition(":")[2]
        if kind != "Account":
            out.ignored.append(f"notification {event_id}: a {kind or 'untyped'} is not scored")
            continue
        out.events.append(Event("salesforce", event_id, record_id, "Account"))
    return out


def soap_ack(ack: bool = True) -> str:
    """The SOAP answer Salesforce waits for (``<Ack>true</Ack>``: delivered)."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<soapenv:Envelope xmlns:soapenv="{SOAP_NS}"><soapenv:Body>'
        f'<notificationsResponse xmlns="{OUTBOUND_NS}"><Ack>{str(ack).lower()}</Ack>'
        "</notificationsResponse></soapenv:Body></soapenv:Envelope>"
    )


def soap_fault(message: str, client: bool = True) -> str:
    """A SOAP 1.1 fault (Salesforce keeps the message and retries it later)."""
    code = "soapenv:Client" if client else "soapenv:Server"
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<soapenv:Envelope xmlns:soapenv="{SOAP_NS}"><soapenv:Body><soapenv:Fault>'
        f"<faultcode>{code}</faultcode><faultstring>{escape(message)}</faultstring>"
        "</soapenv:Fault></soapenv:Body></soapenv:Envelope>"
    )


def _json(body: Any, status: int = 200) -> Response:
    from starlette.responses import Response

    return Response(json.dumps(body).encode(), status, media_type="application/json")


def _xml(text: str, status: int = 200) -> Response:
    from starlette.responses import Response

    return Response(text.encode(), status, media_type="text/xml; charset=utf-8")


def _request_uri(request: Request, public_url: str | None) -> str:
    """The full URI the caller used: ``public_url`` in front of the path when set (behind a
    proxy the request's own scheme and host are the proxy's view)."""
    raw = request.scope.get("raw_path") or request.url.path.encode()
    path = raw.decode("latin-1")
    query = request.scope.get("query_string", b"").decode("latin-1")
    tail = path + (f"?{query}" if query else "")
    if public_url:
        return public_url.rstrip("/") + tail
    return f"{request.url.scheme}://{request.headers.get('host', request.url.netloc)}{tail}"


def webhook_routes(
    queue: Callable[[], Queue],
    settings: Callable[[], WebhookSettings],
    written: frozenset[str],
    on_queued: Callable[[], None],
    denied: Callable[[Request, Scope], Response | None],
) -> list[Route]:
    """The webhook endpoints: HubSpot, Salesforce, and the queue's state and retry."""
    from starlette.routing import Route

    async def store(events: list[Event]) -> int:
        new = await asyncio.get_running_loop().run_in_executor(None, queue().put, events)
        if new:
            on_queued()
        return new

    async def hubspot(request: Request) -> Response:
        body = await request.body()
        secret = read_secret(HUBSPOT_SECRET)
        if not secret:
            log.error("HubSpot webhook refused: %s is not set", HUBSPOT_SECRET)
            return _json(
                {"error": f"HubSpot webhooks are not set up: {HUBSPOT_SECRET} is not set"}, 503
            )
        uri = _request_uri(request, settings().public_url)
        try:
            verify_hubspot(secret, request.method, uri, body, request.headers)
            received = hubspot_events(body, written)
        except Refused as exc:
            log.warning("HubSpot webhook refused: %s", exc.message)
            return _json({"error": exc.message}, exc.status)
        new = await store(received.events)
        return _json(
            {
                "queued": new,
                "duplicates": len(received.events) - new,
                "ignored": received.ignored,
            }
        )

    async def salesforce(request: Request) -> Response:
        body = await request.body()
        try:
            received = salesforce_events(body, settings().salesforce_org_ids)
        except Refused as exc:
            log.warning("Salesforce outbound message refused: %s", exc.message)
            return _xml(soap_fault(exc.message), exc.status)
        try:
            await store(received.events)
        except Exception as exc:
            log.error("Salesforce outbound message not stored: %s", type(exc).__name__)
            return _xml(soap_fault("the message could not be stored", client=False), 500)
        return _xml(soap_ack())

    async def state(request: Request) -> Response:
        if (refused := denied(request, "read")) is not None:
            return refused
        q = queue()
        loop = asyncio.get_running_loop()
        counts = await loop.run_in_executor(None, q.counts)
        dead = await loop.run_in_executor(None, q.events, "dead")
        return _json({"counts": counts, "dead": dead})

    async def retry(request: Request) -> Response:
        if (refused := denied(request, "score")) is not None:
            return refused
        count = await asyncio.get_running_loop().run_in_executor(None, queue().retry_dead)
        if count:
            on_queued()
        return _json({"requeued": count})

    return [
        Route("/v1/webhooks/hubspot", hubspot, methods=["POST"]),
        Route("/v1/webhooks/salesforce", salesforce, methods=["POST"]),
        Route("/v1/webhooks/queue", state, methods=["GET"]),
        Route("/v1/webhooks/queue/retry", retry, methods=["POST"]),
    ]
