"""Clearbit-format company lookups (keyed: ``CLEARBIT_API_KEY``).

Clearbit's Company API shape is spoken by several vendors and internal services, so the
endpoint is configurable: ``GET <base>/v2/companies/find?domain=<domain>`` with
``Authorization: Bearer <key>``, ``base`` from ``CLEARBIT_BASE_URL`` (the secrets, then the
environment; default ``https://company.clearbit.com``). 200 is the company; 404 no company;
202 means the lookup was queued and is not ready, so the account is asked again on the next
run. Clearbit documented 600 requests a minute: icpkit asks at most 10 a second.
:func:`clearbit_observations` reads one company document and is reused for files of them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from icpkit.config import EnrichSettings
from icpkit.enrich.context import Context
from icpkit.enrich.model import Lookup, Observation, Target
from icpkit.enrich.providers.keyed import (
    KeyedProvider,
    canonical_tool,
    get_record,
    list_of,
    text_of,
)
from icpkit.errors import IcpkitError

KEY_VARIABLE = "CLEARBIT_API_KEY"
BASE_VARIABLE = "CLEARBIT_BASE_URL"
DEFAULT_BASE = "https://company.clearbit.com"
CONFIDENCE = 0.8


def _section(doc: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = doc.get(name)
    return value if isinstance(value, dict) else {}


def clearbit_observations(
    doc: Mapping[str, Any], source_url: str, confidence: float = CONFIDENCE
) -> list[Observation]:
    """The observations one Clearbit-format company document holds (a pure function).

    Exact figures win over ranges (``metrics.employees`` over ``employeesRange``,
    ``annualRevenue`` over ``estimatedAnnualRevenue``); a six-digit NAICS code over the
    industry's name, as the code is what icpkit's industries are keyed on.

    >>> [(o.field, o.value) for o in clearbit_observations(
    ...     {"metrics": {"employeesRange": "51-250"}, "geo": {"countryCode": "DE"}}, "x")]
    [('employees', '51-250'), ('country', 'DE')]
    """
    category = _section(doc, "category")
    metrics = _section(doc, "metrics")
    geo = _section(doc, "geo")
    naics = _first_code(category.get("naics6Codes")) or text_of(category.get("naicsCode"))
    sic = _first_code(category.get("sic4Codes")) or text_of(category.get("sicCode"))
    # A six-digit NAICS code says most; a two-digit one only the sector, less than a name.
    industry = (
        (f"NAICS {naics}" if naics and len(naics) >= 4 else None)
        or text_of(category.get("industry"))
        or (f"NAICS {naics}" if naics else None)
        or (f"SIC {sic}" if sic else None)
        or text_of(category.get("sector"))
    )
    linkedin = text_of(_section(doc, "linkedin").get("handle"))
    twitter = text_of(_section(doc, "twitter").get("handle"))
    values: list[tuple[str, str | None]] = [
        ("name", text_of(doc.get("name"))),
        ("employees", text_of(metrics.get("employees")) or text_of(metrics.get("employeesRange"))),
        ("industry", industry),
        (
            "revenue",
            text_of(metrics.get("annualRevenue")) or text_of(metrics.get("estimatedAnnualRevenue")),
        ),
        ("total_funding", text_of(metrics.get("raised"))),
        ("founded_year", text_of(doc.get("foundedYear"))),
        ("country", text_of(geo.get("countryCode")) or text_of(geo.get("country"))),
        ("city", text_of(geo.get("city"))),
        ("description", text_of(doc.get("description"))),
        ("linkedin_url", _profile("https://www.linkedin.com/", linkedin)),
        ("twitter_url", _profile("https://twitter.com/", twitter)),
    ]
    out = [
        Observation(field, value, confidence, source_url, raw=value)
        for field, value in values
        if value is not None
    ]
    seen: set[str] = set()
    for raw in list_of(doc.get("tech")):
        name = text_of(raw)
        if name is None:
            continue
        tool = canonical_tool(name)
        if tool in seen:
            continue
        seen.add(tool)
        out.append(
            Observation("tech", tool, confidence, source_url, raw=name, evidence=f"tech tag {name}")
        )
    return out


def _first_code(codes: Any) -> str | None:
    return text_of(codes[0]) if isinstance(codes, list) and codes else None


def _profile(base: str, handle: str | None) -> str | None:
    """A profile URL from a handle ('company/acme', '@acme') or a URL given whole."""
    if handle is None:
        return None
    if "://" in handle:
        return handle
    return base + handle.lstrip("@/")


def base_url(secrets: Mapping[str, str]) -> str:
    """The Clearbit-format service's base URL: ``CLEARBIT_BASE_URL`` from the secrets,
    then the environment, else Clearbit's own.

    >>> base_url({"CLEARBIT_BASE_URL": "https://enrich.internal/"})
    'https://enrich.internal'
    """
    base = (secrets.get(BASE_VARIABLE) or os.environ.get(BASE_VARIABLE) or DEFAULT_BASE).strip()
    if not base.startswith(("https://", "http://")):
        raise IcpkitError(f"{BASE_VARIABLE} {base!r} is not a URL: expected https://host[/path]")
    return base.rstrip("/")


class ClearbitProvider(KeyedProvider):
    """A Clearbit-format Company API, one account a call."""

    name = "clearbit"
    key_variable = KEY_VARIABLE
    fields = frozenset(
        {
            "name", "employees", "industry", "revenue", "total_funding", "founded_year",
            "country", "city", "description", "linkedin_url", "twitter_url", "tech",
        }
    )  # fmt: skip
    rate: float | None = 10.0

    def __init__(self, settings: EnrichSettings, secrets: Mapping[str, str]) -> None:
        super().__init__(settings, secrets)
        self.endpoint = base_url(secrets) + "/v2/companies/find"
        self.endpoint = base_url(secrets) + "/v2/companies/find"

    def __repr__(self) -> str:
        return f"ClearbitProvider(endpoint={self.endpoint!r})"

    async def _one(self, target: Target, ctx: Context) -> Lookup:
        if not target.domain:
            return Lookup(target.account_key, "miss", reason="no domain to ask Clearbit with")
        params = {"domain": target.domain}
        answer = await get_record(
            ctx.fetcher,
            self.endpoint,
            label="Clearbit",
            key=self._key,
            headers={"Authorization": f"Bearer {self._key}", "Accept": "application/json"},
            params=params,
            pending=(202,),
        )
        if answer.record is None:
            return Lookup(target.account_key, answer.kind, reason=answer.reason)
        found = Lookup.of(
            target.account_key,
            clearbit_observations(answer.record, f"{self.endpoint}?{urlencode(params)}"),
            "Clearbit's company record has no usable field",
        )
        found.credits = self.cost
        return found
