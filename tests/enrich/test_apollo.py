"""Apollo organization enrichment: the documented request (X-Api-Key, domain=), the
organization read into firmographics, technologies under icpkit's names and the latest
round as a dated signal; unknown companies, refused keys and outages."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from scripted import Get, NoDns, ScriptedFetcher

from icpkit.config import EnrichSettings
from icpkit.enrich.context import Context
from icpkit.enrich.fetch import Fetcher
from icpkit.enrich.fields import read
from icpkit.enrich.model import Lookup, Provider, Target
from icpkit.enrich.providers import keyed, make
from icpkit.enrich.providers.apollo import ENDPOINT, ApolloProvider, apollo_observations
from icpkit.enrich.providers.keyed import NotConfigured, canonical_tool
from loopback import Reply, Web

API = Path(__file__).parents[1] / "fixtures" / "enrich" / "api"
KEY = "apollo-test-key-77aa01"
NOW = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
# icpkit's names for the tools in the recorded answer, as the fingerprint file writes them.
KNOWN = {keyed.tool_key(n): n for n in ("HubSpot", "Google Analytics", "Salesforce",
                                        "Intercom", "Google Workspace")}  # fmt: skip


REAL_TOOLS = keyed.canonical_tools  # icpkit's own file, before a test swaps it


@pytest.fixture(autouse=True)
def fingerprint_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keyed, "canonical_tools", lambda: KNOWN)


def organization() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((API / "apollo_organizations_enrich.json").read_text("utf-8"))
    return dict(doc["organization"])


def enrich(
    answer: Callable[[Get], Any], targets: list[Target] | None = None
) -> tuple[list[Lookup], ScriptedFetcher]:
    fetcher = ScriptedFetcher(answer)
    ctx = Context(fetcher, NoDns(), EnrichSettings(), NOW)
    provider = ApolloProvider(EnrichSettings(), {"APOLLO_API_KEY": KEY})
    targets = targets or [Target("nw", "northwind.io", "Northwind Analytics")]
    return asyncio.run(provider.lookup(targets, ctx)), fetcher


def test_an_organization_becomes_firmographic_observations() -> None:
    seen = {o.field: o.value for o in apollo_observations(organization(), "u")}
    assert seen["employees"] == "140"
    assert seen["industry"] == "computer software"
    assert seen["founded_year"] == "2016"
    assert seen["country"] == "United States" and seen["city"] == "Austin"
    assert seen["revenue"] == "18000000"
    assert seen["total_funding"] == "24500000"
    assert seen["funding_stage"] == "Series A"
    assert seen["linkedin_url"] == "http://www.linkedin.com/company/northwind-analytics"
    for o in apollo_observations(organization(), "u"):
        assert read(o.field, o.value, NOW.date()).problem is None, (o.field, o.value)


def test_technologies_are_written_under_icpkits_names_once_each() -> None:
    tech = [o for o in apollo_observations(organization(), "u") if o.field == "tech"]
    names = [o.value for o in tech]
    # 'Hubspot' is icpkit's 'HubSpot', Apollo's 'Gmail' (mail hosted by Google) icpkit's
    # 'Google Workspace'; a tool icpkit does not know keeps Apollo's name.
    assert names == [
        "HubSpot", "Google Analytics", "Salesforce", "Intercom", "Google Workspace",
        "Acme Internal Widget",
    ]  # fmt: skip
    hubspot = tech[0]
    assert hubspot.raw == "Hubspot"
    assert hubspot.evidence == "Apollo technology Hubspot (Marketing Automation)"


def test_tool_names_match_ignoring_case_and_punctuation_and_known_aliases() -> None:
    assert canonical_tool("hub-spot", KNOWN) == "HubSpot"
    assert canonical_tool("GOOGLE ANALYTICS", KNOWN) == "Google Analytics"
    assert canonical_tool("Google Apps", KNOWN) == "Google Workspace"
    assert canonical_tool("Google Apps", {}) == "Google Workspace"  # the file not yet there
    assert canonical_tool("Google Apps", {"hubspot": "HubSpot"}) == "Google Apps"


def test_the_latest_round_is_a_funding_signal_on_its_day() -> None:
    [signal] = [
        o for o in apollo_observations(organization(), "u") if o.field == "signal:funding_round"
    ]
    assert signal.value == "Series A"
    assert signal.observed_at == dt.datetime(2025, 6, 1, tzinfo=dt.UTC)


def test_the_request_is_the_documented_one_and_costs_a_credit() -> None:
    lookups, fetcher = enrich(
        lambda g: (200, json.loads((API / "apollo_organizations_enrich.json").read_text()))
    )
    [get] = fetcher.gets
    assert get.url == ENDPOINT == "https://api.apollo.io/api/v1/organizations/enrich"
    assert get.params == {"domain": "northwind.io"}
    assert get.headers["X-Api-Key"] == KEY
    [lookup] = lookups
    assert lookup.status == "found" and lookup.credits == 1.0
    assert {o.source_url for o in lookup.observations} == {f"{ENDPOINT}?domain=northwind.io"}
    assert {o.confidence for o in lookup.observations} == {0.8}


def test_an_empty_answer_is_a_miss_still_charged() -> None:
    unknown = json.loads((API / "apollo_organizations_enrich_unknown.json").read_text("utf-8"))
    [lookup], _ = enrich(lambda g: (200, unknown))
    assert lookup.status == "miss" and lookup.credits == 1.0
    [lookup], _ = enrich(lambda g: (200, {"organization": None}))
    assert lookup.status == "miss"


def test_an_account_without_a_domain_is_not_asked() -> None:
    lookups, fetcher = enrich(lambda g: (200, {}), [Target("x", None, "Northwind")])
    assert fetcher.gets == [] and lookups[0].status == "miss"


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (401, "Apollo refused the key (401)"),
        (403, "Apollo refused the key (403)"),
        (429, "Apollo: rate limited (429) after retries"),
        (502, "Apollo: server error (502)"),
    ],
)
def test_refusals_and_outages_fail_in_words_without_the_key(status: int, reason: str) -> None:
    [lookup], _ = enrich(lambda g: (status, {"error": f"invalid api key {KEY}"}))
    assert lookup.status == "failed" and lookup.reason == reason
    assert lookup.credits == 0 and KEY not in repr(lookup)


@pytest.mark.parametrize("status", [404, 422])
def test_no_company_or_a_domain_apollo_rejects_is_a_free_miss(status: int) -> None:
    [lookup], _ = enrich(lambda g: (status, {"error": "Invalid domain"}))
    assert lookup.status == "miss" and lookup.credits == 0


def test_without_a_key_the_provider_names_the_variable() -> None:
    with pytest.raises(NotConfigured, match="APOLLO_API_KEY") as raised:
        ApolloProvider(EnrichSettings(), {"PDL_API_KEY": "other"})
    assert "other" not in str(raised.value)


def test_the_provider_is_registered() -> None:
    provider = make("apollo", EnrichSettings(), {"APOLLO_API_KEY": KEY})
    assert isinstance(provider, Provider) and provider.name == "apollo"
    assert "tech" in provider.fields and "signal:funding_round" in provider.fields
    assert KEY not in repr(provider)


def test_a_malformed_organization_never_splits_a_string_into_tools() -> None:
    found = apollo_observations(
        {"technology_names": "Hubspot", "current_technologies": [None, "x", {"name": None}],
         "latest_funding_round_date": 2025, "estimated_num_employees": [1]}, "u"
    )  # fmt: skip
    assert found == []


@pytest.mark.slow
def test_over_https_the_documented_request_reaches_apollo(
    web_tls: Web, tls_settings: EnrichSettings
) -> None:
    recorded = json.loads((API / "apollo_organizations_enrich.json").read_text("utf-8"))
    web_tls.route(
        "api.apollo.io",
        "/api/v1/organizations/enrich",
        lambda r: Reply(200, recorded) if "northwind" in r.path else Reply(500, {}),
    )
    provider = ApolloProvider(tls_settings, {"APOLLO_API_KEY": KEY})

    async def run() -> list[Lookup]:
        async with Fetcher(tls_settings) as fetcher:
            ctx = Context(fetcher, NoDns(), tls_settings, NOW)
            return await provider.lookup([Target("nw", "northwind.io"), Target("x", "x.io")], ctx)

    found, broken = asyncio.run(run())
    assert found.status == "found" and "HubSpot" in [o.value for o in found.observations]
    assert broken.status == "failed" and "Apollo: HTTP 500" in (broken.reason or "")
    first = web_tls.asked("api.apollo.io")[0]
    assert first.path == "/api/v1/organizations/enrich?domain=northwind.io"
    assert first.headers["x-api-key"] == KEY
    assert KEY not in repr([found, broken])


def test_every_alias_names_a_tool_of_icpkits_fingerprint_file() -> None:
    names = REAL_TOOLS()
    assert len(names) >= 150  # the file is there and read
    missing = sorted(set(keyed._ALIASES.values()) - set(names.values()))
    assert missing == []
    assert canonical_tool("Hubspot", names) == "HubSpot"
