"""HTTP calls to a CRM, as every connector makes them: rate limits waited out (429 with
``Retry-After``, within a cap on the total wait), server errors and timeouts retried with
backoff, every attempt counted, and no credential ever in a message.

A retry after a timeout or a server error may repeat a write the CRM already applied: the
caller passes ``before_retry``, which can look and trim the request first (see
``HubSpotConnector.write``)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from icpkit.crm.base import CrmError

RETRIES = 5
"""Attempts after the first for a server error or a timeout."""
MAX_WAIT_S = 600.0
"""The most a sync waits in all for rate limits before it gives up with a message."""


@dataclass
class Retrying:
    """Sends requests through ``client`` with the retry rules above; ``calls`` counts every
    attempt, ``waited_s`` the seconds spent waiting out rate limits."""

    client: httpx.Client
    crm: str
    retries: int = RETRIES
    max_wait_s: float = MAX_WAIT_S
    backoff_s: float = 0.5
    sleep: Callable[[float], None] = time.sleep
    calls: int = 0
    waited_s: float = 0.0
    rate_limited: int = 0

    def send(
        self,
        method: str,
        url: str,
        *,
        what: str,
        json: Any = None,
        params: Any = None,
        before_retry: Callable[[], bool] | None = None,
    ) -> httpx.Response | None:
        """The CRM's answer to the request (any status but 429 and 5xx), or None when
        ``before_retry`` found there is nothing left to send. ``what`` names the call in
        messages ("the batch update of 100 companies")."""
        failures = 0
        while True:
            self.calls += 1
            try:
                answer = self.client.request(method, url, json=json, params=params)
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                failures += 1
                if failures > self.retries:
                    raise CrmError(
                        f"{self.crm}: {what} failed {failures} times ({type(exc).__name__}); "
                        "nothing more was sent",
                        hint="check the network and the CRM's status page, then run it again: "
                        "what was written is kept",
                    ) from None
                self.sleep(self.backoff_s * 2 ** (failures - 1))
                if before_retry is not None and not before_retry():
                    return None
                continue
            if answer.status_code == 429:
                wait = retry_after(answer)
                self.rate_limited += 1
                if self.waited_s + wait > self.max_wait_s:
                    raise CrmError(
                        f"{self.crm}: rate limited for more than {self.max_wait_s:.0f} s in all "
                        f"(last on {what}); stopped",
                        hint="run it again later: what was written is kept and is not sent again",
                    )
                self.waited_s += wait
                self.sleep(wait)
                continue
            if answer.status_code >= 500:
                failures += 1
                if failures > self.retries:
                    raise CrmError(
                        f"{self.crm}: {what} failed {failures} times (HTTP "
                        f"{answer.status_code}); nothing more was sent",
                        hint="the CRM is having trouble; run it again later: what was written "
                        "is kept",
                    )
                self.sleep(self.backoff_s * 2 ** (failures - 1))
                if before_retry is not None and not before_retry():
                    return None
                continue
            return answer


def retry_after(answer: httpx.Response, default: float = 1.0) -> float:
    """Seconds to wait from a 429's ``Retry-After`` (seconds; an HTTP date is not used by the
    CRMs synced), else ``default``.

    >>> retry_after(httpx.Response(429, headers={"Retry-After": "3"}))
    3.0
    >>> retry_after(httpx.Response(429))
    1.0
    """
    text = answer.headers.get("Retry-After", "")
    try:
        return max(0.0, float(text))
    except ValueError:
        return default
