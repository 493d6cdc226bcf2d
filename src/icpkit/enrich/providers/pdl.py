"""People Data Labs company enrichment (keyed: ``PDL_API_KEY``).

One GET of ``https://api.peopledatalabs.com/v5/company/enrich?website=<domain>`` (or
``name=`` when the account has no domain) with the key in the ``X-Api-Key`` header. PDL
answers a match with the company record at the top level (no ``data`` wrapper) and a
``likelihood`` from 1 to 10, which becomes the observations' confidence (likelihood / 10);
no match is a 404, which PDL does not charge: a match costs one credit. PDL's documented
limit is 1,000 requests a minute on paid plans (100 on the free one); icpkit asks at most
10 a second, and the fetcher retries a 429 with backoff.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from icpkit.enrich.context import Context
from icpkit.enrich.model import Lookup, Observation, Target
from icpkit.enrich.providers.keyed import KeyedProvider, day_of, get_record, text_of, url_of

ENDPOINT = "https://api.peopledatalabs.com/v5/company/enrich"
KEY_VARIABLE = "PDL_API_KEY"


def pdl_observations(record: Mapping[str, Any], source_url: str) -> list[Observation]:
    """The observations a Company Enrichment record holds (a pure function of the JSON).

    Employees prefer the exact ``employee_count`` over the ``size`` range; the funding
    round is a dated signal when PDL knows its date.
    """
    likelihood = record.get("likelihood")
    confidence = (
        min(max(float(likelihood), 1.0), 10.0) / 10
        if isinstance(likelihood, (int, float)) and not isinstance(likelihood, bool)
        else 0.5
    )
    location = record.get("location") if isinstance(record.get("location"), dict) else {}
    assert isinstance(location, dict)
    employees = text_of(record.get("employee_count")) or text_of(record.get("size"))
    values: list[tuple[str, str | None]] = [
        ("name", text_of(record.get("display_name")) or text_of(record.get("name"))),
        ("employees", employees),
        ("industry", text_of(record.get("industry"))),
        ("country", text_of(location.get("country"))),
        ("city", text_of(location.get("locality"))),
        ("founded_year", text_of(record.get("founded"))),
        ("funding_stage", text_of(record.get("latest_funding_stage"))),
        ("total_funding", text_of(record.get("total_funding_raised"))),
        ("description", text_of(record.get("summary")) or text_of(record.get("headline"))),
        ("linkedin_url", url_of(record.get("linkedin_url"))),
        ("twitter_url", url_of(record.get("twitter_url"))),
    ]
    out = [
        Observation(field, value, confidence, source_url, raw=value)
        for field, value in values
        if value is not None
    ]
    day = day_of(record.get("last_funding_date"))
    if day is not None:
        stage = text_of(record.get("latest_funding_stage")) or "funding round"
        out.append(
            Observation(
                "signal:funding_round",
                stage,
                confidence,
                source_url,
                raw=text_of(record.get("last_funding_date")),
                observed_at=day,
            )
        )
    return out


class PdlProvider(KeyedProvider):
    """People Data Labs' Company Enrichment API, one account a call."""

    name = "pdl"
    key_variable = KEY_VARIABLE
    fields = frozenset(
        {
            "employees", "industry", "country", "city", "founded_year", "funding_stage",
            "total_funding", "description", "linkedin_url", "twitter_url", "name",
            "signal:funding_round",
        }
    )  # fmt: skip
    rate: float | None = 10.0

    async def _one(self, target: Target, ctx: Context) -> Lookup:
        if target.domain:
            params = {"website": target.domain}
        elif target.name:
            params = {"name": target.name}
        else:
            return Lookup(target.account_key, "miss", reason="no domain or name to ask PDL with")
        source_url = f"{ENDPOINT}?{urlencode(params)}"
        answer = await get_record(
            ctx.fetcher,
            ENDPOINT,
            label="PDL",
            key=self._key,
            headers={"X-Api-Key": self._key, "Accept": "application/json"},
            params=params,
        )
        if answer.record is None:
            return Lookup(target.account_key, answer.kind, reason=answer.reason)
        found = Lookup.of(
            target.account_key,
            pdl_observations(answer.record, source_url),
            "PDL matched a record with no usable field",
        )
        found.credits = self.cost  # PDL charges every match, even an empty one
        return found
