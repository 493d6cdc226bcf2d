"""Signing and posting one alert to a webhook, and what the answer means for delivery.

Every POST carries ``X-Icpkit-Timestamp`` (Unix seconds) and ``X-Icpkit-Signature:
v1=<hex HMAC-SHA256(secret, timestamp + "." + body)>``, so a receiver can tell the message
came from this workspace and is fresh (docs/alerts.md shows how to check it)::

    >>> sign(b"s3cret", "1700000000", b'{"text": "hi"}')
    'v1=d900b6502d4bf92ad5fa398c42b6f85060097a0302ed8e91df5c43f96a3498fe'

The answer decides what happens next: ``sent`` (2xx), ``retry`` (the message surely did
not arrive: the connection was refused, or the receiver answered 5xx, 408 or 429), ``failed``
(the receiver refused it for good: another 4xx, or a redirect) and ``uncertain`` (the
request went out but no answer came: it may have arrived, so it is never sent again).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

import httpx

SIGNATURE_HEADER = "X-Icpkit-Signature"
TIMESTAMP_HEADER = "X-Icpkit-Timestamp"
EVENT_HEADER = "X-Icpkit-Event"
USER_AGENT = "icpkit-alerts/1"

Result = Literal["sent", "retry", "failed", "uncertain"]


@dataclass(frozen=True)
class Outcome:
    """What one POST came to: the result, the HTTP status when an answer came, and the
    reason in words (never the URL's path, a header or the secret)."""

    result: Result
    http_status: int | None
    error: str = ""


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """The signature header's value: ``v1=`` and the hex HMAC-SHA256 of ``timestamp.body``."""
    mac = hmac.new(secret, timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def destination(url: str) -> str:
    """The webhook as it may be shown: scheme, host and port, never the path (a Slack
    webhook's path is its key).

    >>> destination("https://hooks.slack.com/services/T0/B0/XYZ")
    'https://hooks.slack.com/…'
    """
    parts = urlsplit(url)
    host = parts.hostname or "?"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}/…"


def post(
    client: httpx.Client,
    url: str,
    body: bytes,
    secret: bytes,
    *,
    event_id: str,
    timeout_s: float,
    now: float | None = None,
) -> Outcome:
    """POST ``body`` (JSON) to ``url``, signed with ``secret``, and say what came of it."""
    timestamp = str(int(now if now is not None else time.time()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        EVENT_HEADER: event_id,
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: sign(secret, timestamp, body),
    }
    try:
        response = client.post(url, content=body, headers=headers, timeout=timeout_s)
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
        return Outcome("retry", None, f"could not connect: {_reason(exc)}")
    except httpx.UnsupportedProtocol:
        return Outcome("failed", None, "the URL's scheme is not http or https")
    except httpx.TransportError as exc:
        # The request left (part of it, at least) and no answer came: it may have arrived.
        return Outcome("uncertain", None, f"no answer after sending: {_reason(exc)}")
    status = response.status_code
    if 200 <= status < 300:
        return Outcome("sent", status)
    if status >= 500 or status in (408, 429):
        return Outcome("retry", status, f"the receiver answered {status}")
    if 300 <= status < 400:
        return Outcome(
            "failed", status, f"the receiver answered {status} (redirects are not followed)"
        )
    return Outcome("failed", status, f"the receiver refused it with {status}")


def _reason(exc: Exception) -> str:
    """The exception in words without the URL (httpx names the host at most)."""
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:200]


def client() -> httpx.Client:
    """An HTTP client for one run: no redirects, no kept-alive connection (a stale one would
    make a sent message look unanswered)."""
    return httpx.Client(
        follow_redirects=False,
        limits=httpx.Limits(max_keepalive_connections=0),
        headers={"User-Agent": USER_AGENT},
    )
