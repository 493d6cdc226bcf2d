"""People Data Labs company enrichment: the documented request (X-Api-Key, website=),
the record read into observations, a 404 as a free miss, a refused key, and the key kept
out of every reason, observation and error."""

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
from icpkit.enrich.fetch import Fetcher, FetchError, Response
from icpkit.enrich.fields import read
from icpkit.enrich.model import Lookup, Provider, Target
from icpkit.enrich.providers import make
from icpkit.enrich.providers.keyed import NotConfigured
from icpkit.enrich.providers.pdl import ENDPOINT, PdlProvider, pdl_observations
from loopback import Reply, Request, Web

API = Path(__file__).parents[1] / "fixtures" / "enrich" / "api"
KEY = "pdl-test-key-5f1e9c"
NOW = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)


def fixture(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((API / name).read_text("utf-8"))
    return loaded


def enrich(
    answer: Callable[[Get], Any], targets: list[Target] | None = None
) -> tuple[list[Lookup], ScriptedFetcher]:
    fetcher = ScriptedFetcher(answer)
    ctx = Context(fetcher, NoDns(), EnrichSettings(), NOW, {"PDL_API_KEY": KEY})
    provider = PdlProvider(EnrichSettings(), {"PDL_API_KEY": KEY})
    targets = targets or [Target("nw", "northwind.io", "Northwind Analytics")]
    return asyncio.run(provider.lookup(targets, ctx)), fetcher


def values(lookup: Lookup) -> dict[str, str]:
    return {o.field: o.value for o in lookup.observations}


# -- the record ------------------------------------------------------------------------


def test_a_company_record_becomes_firmographic_observations() -> None:
    found = pdl_observations(fixture("pdl_company_enrich_200.json"), "u")
    seen = {o.field: o.value for o in found}
    assert seen["employees"] == "137"  # the exact count, not the '51-200' size
    assert seen["industry"] == "computer software"
    assert seen["country"] == "united states" and seen["city"] == "austin"
    assert seen["founded_year"] == "2016"
    assert seen["funding_stage"] == "series_a"
    assert seen["total_funding"] == "24500000"
    assert seen["linkedin_url"] == "https://linkedin.com/company/northwind-analytics"
    assert seen["twitter_url"] == "https://twitter.com/northwindhq"
    assert seen["name"] == "Northwind Analytics"


def test_every_observed_value_reads_as_the_runner_reads_it() -> None:
    for o in pdl_observations(fixture("pdl_company_enrich_200.json"), "u"):
        assert read(o.field, o.value, NOW.date()).problem is None, (o.field, o.value)
    seen = {o.field: read(o.field, o.value).value for o in pdl_observations(
        fixture("pdl_company_enrich_200.json"), "u")}  # fmt: skip
    assert seen["country"] == "US"


def test_the_size_range_stands_in_when_the_exact_count_is_missing() -> None:
    record = fixture("pdl_company_enrich_200.json") | {"employee_count": None}
    seen = {o.field: o.value for o in pdl_observations(record, "u")}
    assert seen["employees"] == "51-200"


def test_confidence_is_the_likelihood_out_of_ten() -> None:
    record = fixture("pdl_company_enrich_200.json")
    assert {o.confidence for o in pdl_observations(record, "u")} == {0.8}
    record["likelihood"] = 3
    assert {o.confidence for o in pdl_observations(record, "u")} == {0.3}


def test_the_latest_round_is_a_dated_funding_signal() -> None:
    found = pdl_observations(fixture("pdl_company_enrich_200.json"), "u")
    [signal] = [o for o in found if o.field == "signal:funding_round"]
    assert signal.value == "series_a"
    assert signal.observed_at == dt.datetime(2025, 6, 12, tzinfo=dt.UTC)


def test_null_fields_give_no_observation() -> None:
    found = pdl_observations({"name": "x", "industry": None, "location": None}, "u")
    assert [o.field for o in found] == ["name"]


# -- the request -----------------------------------------------------------------------


def test_the_request_is_the_documented_one_with_the_key_in_x_api_key() -> None:
    lookups, fetcher = enrich(lambda g: (200, fixture("pdl_company_enrich_200.json")))
    [get] = fetcher.gets
    assert get.url == ENDPOINT == "https://api.peopledatalabs.com/v5/company/enrich"
    assert get.params == {"website": "northwind.io"}
    assert get.headers["X-Api-Key"] == KEY
    assert get.robots is False
    [lookup] = lookups
    assert lookup.status == "found" and lookup.credits == 1.0
    assert all(o.source_url == f"{ENDPOINT}?website=northwind.io" for o in lookup.observations)


def test_an_account_without_a_domain_is_asked_by_name() -> None:
    _, fetcher = enrich(
        lambda g: (200, fixture("pdl_company_enrich_200.json")),
        [Target("nw", None, "Northwind Analytics")],
    )
    assert fetcher.gets[0].params == {"name": "Northwind Analytics"}


def test_an_account_with_neither_is_a_miss_without_a_call() -> None:
    lookups, fetcher = enrich(lambda g: (200, {}), [Target("x", None, None)])
    assert fetcher.gets == [] and lookups[0].status == "miss"


def test_no_match_is_a_miss_that_costs_nothing() -> None:
    [lookup], _ = enrich(lambda g: (404, fixture("pdl_company_enrich_404.json")))
    assert lookup.status == "miss" and lookup.credits == 0 and lookup.observations == []


@pytest.mark.parametrize("status", [401, 403])
def test_a_refused_key_fails_and_says_so_without_the_key(status: int) -> None:
    [lookup], _ = enrich(lambda g: (status, fixture("pdl_company_enrich_401.json")))
    assert lookup.status == "failed"
    assert lookup.reason == f"PDL refused the key ({status})"
    assert lookup.credits == 0


@pytest.mark.parametrize(
    ("status", "words"), [(429, "rate limited"), (503, "server error (503)"), (402, "credits")]
)
def test_throttling_and_outages_after_retries_fail_so_a_later_run_asks_again(
    status: int, words: str
) -> None:
    [lookup], _ = enrich(lambda g: (status, {"status": status}))
    assert lookup.status == "failed" and words in (lookup.reason or "")


def test_a_fetch_error_fails_the_account_in_words() -> None:
    [lookup], _ = enrich(
        lambda g: FetchError(g.url, "timeout", f"timed out after 10 s (key {KEY})")
    )
    assert lookup.status == "failed" and "timed out" in (lookup.reason or "")
    assert KEY not in repr(lookup)


def test_a_body_that_is_not_json_fails() -> None:
    [lookup], _ = enrich(lambda g: Response(g.url, 200, {}, b"<html>oops</html>"))
    assert lookup.status == "failed" and "not JSON" in (lookup.reason or "")


def test_the_key_appears_in_no_lookup_whatever_the_answer() -> None:
    for answer in (
        (200, fixture("pdl_company_enrich_200.json")),
        (404, fixture("pdl_company_enrich_404.json")),
        (401, {"error": {"message": f"bad key {KEY}"}}),
        (500, {}),
    ):
        lookups, _ = enrich(lambda g, a=answer: a)  # type: ignore[misc]
        assert KEY not in repr(lookups)


# -- configuration ---------------------------------------------------------------------


def test_without_a_key_the_provider_says_which_variable_to_set() -> None:
    with pytest.raises(NotConfigured, match="PDL_API_KEY"):
        PdlProvider(EnrichSettings(), {})
    with pytest.raises(NotConfigured):
        PdlProvider(EnrichSettings(), {"PDL_API_KEY": "  "})


def test_the_provider_is_registered_and_keeps_the_protocol_without_showing_the_key() -> None:
    provider = make("pdl", EnrichSettings(), {"PDL_API_KEY": KEY})
    assert isinstance(provider, Provider)
    assert provider.name == "pdl" and not provider.keyless and provider.cost == 1.0
    assert provider.rate == 10.0
    assert KEY not in repr(provider)


def test_a_malformed_record_gives_what_it_can_and_never_raises() -> None:
    record = {
        "name": ["not", "text"], "employee_count": {"n": 5}, "size": "11-50",
        "location": "austin", "likelihood": "high", "founded": True,
        "last_funding_date": "someday", "linkedin_url": 42,
    }  # fmt: skip
    found = {o.field: (o.value, o.confidence) for o in pdl_observations(record, "u")}
    assert found == {"employees": ("11-50", 0.5)}


# -- over HTTPS (a loopback server with a test certificate authority) ------------------


def test_over_https_the_key_travels_in_its_header_and_each_status_means_what_pdl_says(
    web_tls: Web, tls_settings: EnrichSettings
) -> None:
    def pdl(request: Request) -> Reply:
        if "northwind" in request.path:
            return Reply(200, fixture("pdl_company_enrich_200.json"))
        if "refused" in request.path:
            return Reply(401, fixture("pdl_company_enrich_401.json"))
        if "busy" in request.path:
            return Reply(429, {"status": 429}, {"Retry-After": "0"})
        return Reply(404, fixture("pdl_company_enrich_404.json"))

    web_tls.route("api.peopledatalabs.com", "/v5/company/enrich", pdl)
    provider = PdlProvider(tls_settings, {"PDL_API_KEY": KEY})
    targets = [Target(d, f"{d}.io") for d in ("northwind", "unknown", "refused", "busy")]

    async def run() -> list[Lookup]:
        async with Fetcher(tls_settings) as fetcher:
            ctx = Context(fetcher, NoDns(), tls_settings, NOW)
            return await provider.lookup(targets, ctx)

    found, missing, refused, busy = asyncio.run(run())
    assert (found.status, found.credits) == ("found", 1.0)
    assert (missing.status, missing.credits) == ("miss", 0.0)
    assert (refused.status, refused.reason) == ("failed", "PDL refused the key (401)")
    assert busy.status == "failed" and "429" in (busy.reason or "")
    asked = web_tls.asked("api.peopledatalabs.com")
    assert asked[0].path == "/v5/company/enrich?website=northwind.io"
    assert {r.headers["x-api-key"] for r in asked} == {KEY}
    assert len([r for r in asked if "busy" in r.path]) == 2  # asked, then retried once
    assert KEY not in repr([found, missing, refused, busy])
