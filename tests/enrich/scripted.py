"""Stand-ins for the network in provider tests that judge parsing and status handling: a
fetcher whose GETs a function answers (each recorded), and a DNS with no records. The
network itself is tested against real loopback servers (tests/loopback.py)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from icpkit.config import EnrichSettings
from icpkit.enrich.dns import Records
from icpkit.enrich.fetch import Fetcher, FetchError, Response


@dataclass
class Get:
    """One GET the provider made."""

    url: str
    headers: Mapping[str, str]
    params: Mapping[str, str]
    robots: bool


class ScriptedFetcher(Fetcher):
    """A fetcher whose GETs are answered by ``answer``: a Response, a FetchError to raise,
    or a (status, JSON) pair."""

    def __init__(self, answer: Callable[[Get], Any]) -> None:
        super().__init__(EnrichSettings())
        self.answer = answer
        self.gets: list[Get] = []

    async def get(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        robots: bool = True,
    ) -> Response:
        asked = Get(url, dict(headers or {}), dict(params or {}), robots)
        self.gets.append(asked)
        reply = self.answer(asked)
        if isinstance(reply, FetchError):
            raise reply
        if isinstance(reply, Response):
            return reply
        status, body = reply
        return Response(
            url, status, {"content-type": "application/json"}, json.dumps(body).encode()
        )


class NoDns:
    """A resolver that knows no TXT or MX record."""

    async def records(self, domain: str) -> Records:
        return Records()
