"""Apollo organization enrichment (keyed: ``APOLLO_API_KEY``).

One GET of ``https://api.apollo.io/api/v1/organizations/enrich?domain=<domain>`` with the
key in the ``X-Api-Key`` header; the answer is ``{"organization": {...}}`` (an empty or
absent organization when Apollo knows no company at that domain). Apollo charges one
credit per enrichment call it answers. Its rate limits depend on the plan (per minute, hour
and day); icpkit asks at most one a second by default and the fetcher retries a 429.
Technologies come back under Apollo's names and are written as icpkit's
(``enrich/fingerprints.yaml``) where the two name the same tool.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from icpkit.enrich.context import Context
from icpkit.enrich.model import Lookup, Observation, Target
from icpkit.enrich.providers.keyed import (
    KeyedProvider,
    canonical_tool,
    day_of,
    get_record,
    list_of,
    text_of,
    tool_key,
    url_of,
)

ENDPOINT = "https://api.apollo.io/api/v1/organizations/enrich"
KEY_VARIABLE = "APOLLO_API_KEY"
CONFIDENCE = 0.8  # Apollo gives no match score; a domain match is a strong one


def apollo_observations(
    organization: Mapping[str, Any], source_url: str, confidence: float = CONFIDENCE
) -> list[Observation]:
    """The observations an Apollo ``organization`` object holds (a pure function of the
    JSON): firmographics, one ``tech`` per technology, the latest funding round as a
    dated signal."""

    def obs(field: str, value: str | None, raw: str | None = None) -> Observation | None:
        if value is None:
            return None
        return Observation(field, value, confidence, source_url, raw=raw or value)

    out = [
        obs("name", text_of(organization.get("name"))),
        obs("employees", text_of(organization.get("estimated_num_employees"))),
        obs("industry", text_of(organization.get("industry"))),
        obs("founded_year", text_of(organization.get("founded_year"))),
        obs("country", text_of(organization.get("country"))),
        obs("city", text_of(organization.get("city"))),
        obs("revenue", text_of(organization.get("annual_revenue"))),
        obs("total_funding", text_of(organization.get("total_funding"))),
        obs("funding_stage", text_of(organization.get("latest_funding_stage"))),
        obs("description", text_of(organization.get("short_description"))),
        obs("linkedin_url", url_of(organization.get("linkedin_url"))),
        obs("twitter_url", url_of(organization.get("twitter_url"))),
    ]
    found = [o for o in out if o is not None]
    found.extend(_technologies(organization, source_url, confidence))
    day = day_of(organization.get("latest_funding_round_date"))
    if day is not None:
        found.append(
            Observation(
                "signal:funding_round",
                text_of(organization.get("latest_funding_stage")) or "funding round",
                confidence,
                source_url,
                raw=text_of(organization.get("latest_funding_round_date")),
                observed_at=day,
            )
        )
    return found


def _technologies(
    organization: Mapping[str, Any], source_url: str, confidence: float
) -> list[Observation]:
    """One ``tech`` per tool: ``current_technologies`` (with their category) first, then
    names only in ``technology_names``; a tool named twice is observed once."""
    named: list[tuple[str, str]] = []  # (Apollo's name, evidence)
    for item in list_of(organization.get("current_technologies")):
        if isinstance(item, dict) and (name := text_of(item.get("name"))):
            category = text_of(item.get("category"))
            named.append(
                (name, f"Apollo technology {name}" + (f" ({category})" if category else ""))
            )
    for raw in list_of(organization.get("technology_names")):
        if name := text_of(raw):
            named.append((name, f"Apollo technology {name}"))
    seen: set[str] = set()
    out: list[Observation] = []
    for name, evidence in named:
        tool = canonical_tool(name)
        if tool_key(tool) in seen:
            continue
        seen.add(tool_key(tool))
        out.append(Observation("tech", tool, confidence, source_url, raw=name, evidence=evidence))
    return out


class ApolloProvider(KeyedProvider):
    """Apollo's Organization Enrichment API, one account a call."""

    name = "apollo"
    key_variable = KEY_VARIABLE
    fields = frozenset(
        {
            "name", "employees", "industry", "founded_year", "country", "city", "revenue",
            "total_funding", "funding_stage", "description", "linkedin_url", "twitter_url",
            "tech", "signal:funding_round",
        }
    )  # fmt: skip
    rate: float | None = 1.0

    async def _one(self, target: Target, ctx: Context) -> Lookup:
        if not target.domain:
            # Apollo's enrichment matches on a domain only.
            return Lookup(target.account_key, "miss", reason="no domain to ask Apollo with")
        params = {"domain": target.domain}
        answer = await get_record(
            ctx.fetcher,
            ENDPOINT,
            label="Apollo",
            key=self._key,
            headers={
                "X-Api-Key": self._key,
                "Accept": "application/json",
                "Cache-Control": "no-cache",
            },
            params=params,
        )
        if answer.record is None:
            return Lookup(target.account_key, answer.kind, reason=answer.reason)
        organization = answer.record.get("organization")
        observations = (
            apollo_observations(organization, f"{ENDPOINT}?{urlencode(params)}")
            if isinstance(organization, dict)
            else []
        )
        found = Lookup.of(target.account_key, observations, "Apollo knows no company there")
        found.credits = self.cost
        return found
