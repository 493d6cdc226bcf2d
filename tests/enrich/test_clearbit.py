"""Clearbit-format company lookups: a configurable endpoint (Authorization: Bearer), the
company document read into observations (a pure function reused for files), 404 as a miss
and 202 as not ready yet (asked again next run), the key never shown."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from scripted import NoDns

from icpkit.config import EnrichSettings
from icpkit.enrich.context import Context
from icpkit.enrich.fetch import Fetcher
from icpkit.enrich.fields import read
from icpkit.enrich.model import Lookup, Provider, Target
from icpkit.enrich.providers import keyed, make
from icpkit.enrich.providers.clearbit import ClearbitProvider, base_url, clearbit_observations
from icpkit.enrich.providers.keyed import NotConfigured
from icpkit.errors import IcpkitError
from loopback import Reply, Web

API = Path(__file__).parents[1] / "fixtures" / "enrich" / "api"
KEY = "sk_clearbit_test_0c4f2e"
NOW = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
HOST = "company.clearbit.test"
KNOWN = {keyed.tool_key(n): n for n in ("HubSpot", "Google Analytics", "Salesforce",
                                        "Intercom", "Google Workspace")}  # fmt: skip


@pytest.fixture(autouse=True)
def fingerprint_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keyed, "canonical_tools", lambda: KNOWN)


def company() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((API / "clearbit_companies_find.json").read_text("utf-8"))
    return doc


def enrich(settings: EnrichSettings, targets: list[Target], **secrets: str) -> list[Lookup]:
    secrets = {"CLEARBIT_API_KEY": KEY, "CLEARBIT_BASE_URL": f"http://{HOST}", **secrets}
    provider = ClearbitProvider(settings, secrets)

    async def run() -> list[Lookup]:
        async with Fetcher(settings) as fetcher:
            return await provider.lookup(targets, Context(fetcher, NoDns(), settings, NOW))

    return asyncio.run(run())


NORTHWIND = Target("nw", "northwind.io", "Northwind Analytics")


# -- the document ----------------------------------------------------------------------


def test_a_company_document_becomes_observations() -> None:
    seen = {o.field: o.value for o in clearbit_observations(company(), "u")}
    assert seen["employees"] == "140"  # the count over the '51-250' range
    assert seen["industry"] == "NAICS 511210"  # the six-digit code over the name
    assert seen["revenue"] == "$10M-$50M"  # the estimate, as annualRevenue is null
    assert seen["total_funding"] == "24500000"
    assert seen["founded_year"] == "2016"
    assert seen["country"] == "US" and seen["city"] == "Austin"
    assert seen["linkedin_url"] == "https://www.linkedin.com/company/northwind-analytics"
    assert seen["twitter_url"] == "https://twitter.com/northwindhq"
    for o in clearbit_observations(company(), "u"):
        assert read(o.field, o.value, NOW.date()).problem is None, (o.field, o.value)


def test_tech_tags_are_written_under_icpkits_names() -> None:
    tech = [o for o in clearbit_observations(company(), "u") if o.field == "tech"]
    assert [o.value for o in tech] == [
        "Google Analytics", "HubSpot", "Salesforce", "Intercom", "Google Workspace", "amazon_s3"
    ]  # fmt: skip
    assert tech[0].raw == "google_analytics"


def test_the_industry_name_beats_a_two_digit_sector_code() -> None:
    doc = company()
    doc["category"] = {"industry": "Internet Software & Services", "naicsCode": "51"}
    seen = {o.field: o.value for o in clearbit_observations(doc, "u")}
    assert seen["industry"] == "Internet Software & Services"
    doc["category"] = {"sicCode": "7372"}
    assert {o.field: o.value for o in clearbit_observations(doc, "u")}["industry"] == "SIC 7372"


def test_an_empty_document_has_no_observation() -> None:
    assert clearbit_observations({}, "u") == []
    assert clearbit_observations({"metrics": None, "geo": "x", "tech": None}, "u") == []


def test_the_base_url_comes_from_the_secrets_then_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CLEARBIT_BASE_URL", raising=False)
    assert base_url({}) == "https://company.clearbit.com"
    monkeypatch.setenv("CLEARBIT_BASE_URL", "https://enrich.example.net/api/")
    assert base_url({}) == "https://enrich.example.net/api"
    assert base_url({"CLEARBIT_BASE_URL": "http://x.test"}) == "http://x.test"
    with pytest.raises(IcpkitError, match="not a URL"):
        base_url({"CLEARBIT_BASE_URL": "enrich.example.net"})


# -- over HTTP (a loopback server speaking the Clearbit format) ------------------------


def test_the_request_carries_the_key_as_a_bearer_token(web: Web, settings: EnrichSettings) -> None:
    web.route(HOST, "/v2/companies/find", company())
    [lookup] = enrich(settings, [NORTHWIND])
    [asked] = web.asked(HOST)
    assert asked.path == "/v2/companies/find?domain=northwind.io"
    assert asked.headers["authorization"] == f"Bearer {KEY}"
    assert lookup.status == "found" and lookup.credits == 1.0
    assert {o.source_url for o in lookup.observations} == {
        f"http://{HOST}/v2/companies/find?domain=northwind.io"
    }


def test_unknown_is_a_miss_and_queued_is_asked_again(web: Web, settings: EnrichSettings) -> None:
    web.route(HOST, "/v2/companies/find", lambda r: (
        Reply(404, {"error": {"type": "unknown_record"}}) if "unknown" in r.path
        else Reply(202, json.loads((API / "clearbit_companies_find_queued.json").read_text()))
    ))  # fmt: skip
    miss, queued = enrich(settings, [Target("u", "unknown.io"), Target("q", "queued.io")])
    assert miss.status == "miss" and miss.credits == 0
    assert queued.status == "failed"
    assert queued.reason == "Clearbit: not ready, asked again next run"


@pytest.mark.slow
@pytest.mark.parametrize("status", [401, 403, 429, 500])
def test_refusals_and_errors_fail_and_never_show_the_key(
    web: Web, settings: EnrichSettings, status: int
) -> None:
    web.route(HOST, "/v2/companies/find", Reply(status, {"error": f"bad token {KEY}"}))
    [lookup] = enrich(settings, [NORTHWIND])
    assert lookup.status == "failed" and KEY not in repr(lookup)
    if status in (401, 403):
        assert lookup.reason == f"Clearbit refused the key ({status})"


def test_without_a_key_the_provider_names_the_variable() -> None:
    with pytest.raises(NotConfigured, match="CLEARBIT_API_KEY"):
        ClearbitProvider(EnrichSettings(), {})


def test_the_provider_is_registered() -> None:
    provider = make("clearbit", EnrichSettings(), {"CLEARBIT_API_KEY": KEY})
    assert isinstance(provider, Provider) and provider.name == "clearbit"
    assert KEY not in repr(provider)


def test_a_malformed_document_never_splits_a_string_into_tools() -> None:
    found = clearbit_observations({"tech": "hubspot", "category": ["x"], "metrics": 5}, "u")
    assert found == []


def test_over_https_clearbit_itself_is_the_default_endpoint(
    web_tls: Web, tls_settings: EnrichSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CLEARBIT_BASE_URL", raising=False)
    web_tls.route("company.clearbit.com", "/v2/companies/find", company())
    provider = ClearbitProvider(tls_settings, {"CLEARBIT_API_KEY": KEY})

    async def run() -> list[Lookup]:
        async with Fetcher(tls_settings) as fetcher:
            ctx = Context(fetcher, NoDns(), tls_settings, NOW)
            return await provider.lookup([NORTHWIND], ctx)

    [lookup] = asyncio.run(run())
    assert lookup.status == "found"
    [asked] = web_tls.asked("company.clearbit.com")
    assert asked.headers["authorization"] == f"Bearer {KEY}"
    assert lookup.observations[0].source_url == (
        "https://company.clearbit.com/v2/companies/find?domain=northwind.io"
    )
