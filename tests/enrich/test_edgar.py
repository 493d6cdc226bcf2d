"""SEC EDGAR: matching an account to a registrant (ticker file by name or domain, the
company browse for private filers), the submissions read into industry, place and dated
signals (Form D rounds with their amount, 8-K item 5.02 leadership changes)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from scripted import NoDns

from icpkit.config import EnrichSettings
from icpkit.enrich.context import Context
from icpkit.enrich.fetch import Fetcher, FetchError, Response
from icpkit.enrich.fields import read
from icpkit.enrich.model import Lookup, Observation, Provider, Target
from icpkit.enrich.providers import make
from icpkit.enrich.providers.edgar import (
    BROWSE_URL,
    TICKERS_URL,
    EdgarProvider,
    TickerIndex,
    browse_match,
    edgar_observations,
    form_d_amount,
    normalize_name,
)
from loopback import Reply, Web

API = Path(__file__).parents[1] / "fixtures" / "enrich" / "api"
NOW = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
PUBLIC = "https://data.sec.gov/submissions/CIK0001900001.json"
PRIVATE = "https://data.sec.gov/submissions/CIK0001800002.json"
FORM_D_DOC = "https://www.sec.gov/Archives/edgar/data/1800002/000180000225000001/primary_doc.xml"


def load(name: str) -> Any:
    return json.loads((API / name).read_text("utf-8"))


def sec() -> dict[str, tuple[int, bytes]]:
    """SEC as recorded: the ticker file, two registrants' submissions, a Form D
    document, and the company browse answering for Northwind."""
    return {
        TICKERS_URL: (200, (API / "edgar_company_tickers.json").read_bytes()),
        PUBLIC: (200, (API / "edgar_submissions_public.json").read_bytes()),
        PRIVATE: (200, (API / "edgar_submissions_private.json").read_bytes()),
        FORM_D_DOC: (200, (API / "edgar_form_d_primary_doc.xml").read_bytes()),
        BROWSE_URL: (200, (API / "edgar_browse_company_atom.xml").read_bytes()),
    }


class RecordedSec(Fetcher):
    """Answers GETs from ``pages`` by URL (404 otherwise) and records each."""

    def __init__(self, pages: Mapping[str, tuple[int, bytes] | FetchError]) -> None:
        super().__init__(EnrichSettings())
        self.pages = pages
        self.asked: list[tuple[str, dict[str, str], bool]] = []

    async def get(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        robots: bool = True,
    ) -> Response:
        self.asked.append((url, dict(params or {}), robots))
        page = self.pages.get(url, (404, b"not found"))
        if isinstance(page, FetchError):
            raise page
        return Response(url, page[0], {}, page[1])


def enrich(
    targets: list[Target],
    pages: Mapping[str, tuple[int, bytes] | FetchError] | None = None,
    provider: EdgarProvider | None = None,
    settings: EnrichSettings | None = None,
) -> tuple[list[Lookup], RecordedSec]:
    settings = settings or EnrichSettings(user_agent="Acme Analytics ops@acme.example")
    fetcher = RecordedSec(sec() if pages is None else pages)
    provider = provider or EdgarProvider(settings, {})
    ctx = Context(fetcher, NoDns(), settings, NOW)

    async def run() -> list[Lookup]:
        found: list[Lookup] = []
        for target in targets:
            found += await provider.lookup([target], ctx)
        return found

    return asyncio.run(run()), fetcher


# -- matching --------------------------------------------------------------------------


def test_names_compare_without_case_punctuation_or_legal_form() -> None:
    assert normalize_name("Contoso Robotics Corp /DE/") == normalize_name("contoso robotics")
    assert normalize_name("Fabrikam, Inc.") == normalize_name("FABRIKAM INCORPORATED") == "fabrikam"
    assert normalize_name("The Litware Group PLC") == "litware group"
    assert normalize_name("Inc") == "inc"  # a name that is only a legal form stays itself


def test_the_ticker_file_matches_by_name_then_by_domain_stem() -> None:
    index = TickerIndex(load("edgar_company_tickers.json"))
    by_name = index.match(Target("a", None, "Contoso Robotics, Inc."))
    assert not isinstance(by_name, str)
    assert (by_name.registrant.cik, by_name.confidence) == (1900001, 0.8)
    by_domain = index.match(Target("b", "fabrikam.com", None))
    assert not isinstance(by_domain, str)
    assert (by_domain.registrant.cik, by_domain.confidence) == (1900003, 0.6)
    # A name that disagrees makes the domain's match too doubtful to win a field.
    doubtful = index.match(Target("b", "fabrikam.com", "Fabrikam Bakery"))
    assert not isinstance(doubtful, str) and doubtful.confidence < EnrichSettings().min_confidence
    whole = index.match(Target("c", "contosorobotics.com", None))
    assert not isinstance(whole, str) and whole.registrant.cik == 1900001
    # A domain that is only part of the name matches nothing: 'contoso' is not 'contosorobotics'.
    assert isinstance(index.match(Target("c", "contoso.com", None)), str)


def test_two_registrants_with_one_name_are_no_match() -> None:
    found = TickerIndex(load("edgar_company_tickers.json")).match(Target("t", None, "Tailspin"))
    assert isinstance(found, str) and "2 SEC registrants" in found


def test_the_browse_feed_matches_only_the_same_name() -> None:
    feed = (API / "edgar_browse_company_atom.xml").read_bytes()
    found = browse_match(feed, "Northwind Analytics")
    assert found is not None and found.cik == 1800002
    assert browse_match(feed, "Northwind Traders") is None
    assert browse_match(b"<html><body>No matching companies</body></html>", "x") is None
    assert browse_match(b"not xml at all <", "x") is None


# -- the submissions -------------------------------------------------------------------


def test_submissions_give_industry_place_and_8k_leadership_changes() -> None:
    found = edgar_observations(load("edgar_submissions_public.json"), 1900001, PUBLIC)
    fields: dict[str, list[Observation]] = {}
    for o in found:
        fields.setdefault(o.field, []).append(o)
    assert [o.value for o in fields["industry"]] == ["SIC 3569"]
    assert read("industry", "SIC 3569").problem is None
    assert [o.value for o in fields["country"]] == ["US"]  # PA is a state
    assert [o.value for o in fields["city"]] == ["PITTSBURGH"]
    assert [o.value for o in fields["extra:state_of_incorporation"]] == ["DE"]
    changes = fields["signal:leadership_change"]
    # The 8-Ks with item 5.02 (not the 2.02 one, not the 10-Q), on their filing days.
    assert [(o.value, o.observed_at) for o in changes] == [
        ("Form 8-K item 5.02", dt.datetime(2026, 10, 14, tzinfo=dt.UTC)),
        ("Form 8-K item 5.02", dt.datetime(2025, 7, 1, tzinfo=dt.UTC)),
    ]
    assert changes[0].source_url == (
        "https://www.sec.gov/Archives/edgar/data/1900001/000190000126000042/"
        "0001900001-26-000042-index.htm"
    )
    assert "signal:funding_round" not in fields


def test_form_d_filings_are_dated_funding_rounds_and_amendments_are_not_new_ones() -> None:
    found = edgar_observations(
        load("edgar_submissions_private.json"), 1800002, PRIVATE,
        amounts={"0001800002-25-000001": "$20M"},
    )  # fmt: skip
    rounds = [o for o in found if o.field == "signal:funding_round"]
    assert [(o.value, o.observed_at) for o in rounds] == [
        ("Form D $20M", dt.datetime(2025, 6, 20, tzinfo=dt.UTC)),
        ("Form D", dt.datetime(2023, 2, 14, tzinfo=dt.UTC)),
    ]


def test_a_foreign_address_is_its_country() -> None:
    doc = {"addresses": {"business": {"stateOrCountry": "X0", "stateOrCountryDescription":
                                      "United Kingdom", "city": "LONDON"}}}  # fmt: skip
    seen = {o.field: o.value for o in edgar_observations(doc, 1, "u")}
    assert seen["country"] == "United Kingdom" and "state" not in seen
    assert read("country", seen["country"]).value == "GB"


def test_the_form_d_amount_is_the_total_sold() -> None:
    assert form_d_amount((API / "edgar_form_d_primary_doc.xml").read_bytes()) == "$20M"
    assert form_d_amount(b"<edgarSubmission/>") is None
    assert form_d_amount(b"<a><totalAmountSold>Indefinite</totalAmountSold></a>") is None


# -- the provider ----------------------------------------------------------------------


def test_listed_companies_are_matched_and_read_with_the_ticker_file_fetched_once() -> None:
    targets = [
        Target("c", "contoso.com", "Contoso Robotics"),
        Target("c2", None, "CONTOSO ROBOTICS CORP"),
        Target("f", "fabrikam.com", None),  # matched by its domain; no submissions on record
    ]
    (contoso, again, fabrikam), fetcher = enrich(targets)
    assert contoso.status == again.status == "found"
    assert {o.confidence for o in contoso.observations} == {0.8}
    assert fabrikam.status == "miss" and "1900003" in (fabrikam.reason or "")
    asked = [url for url, _, _ in fetcher.asked]
    assert asked.count(TICKERS_URL) == 1
    assert "https://data.sec.gov/submissions/CIK0001900003.json" in asked
    # SEC's data files are documented APIs: robots.txt governs only the browse pages.
    assert all(not robots for url, _, robots in fetcher.asked if url != BROWSE_URL)


def test_a_private_company_is_found_through_the_company_browse_with_its_form_d() -> None:
    [lookup], fetcher = enrich([Target("nw", "northwind.io", "Northwind Analytics, Inc.")])
    assert lookup.status == "found"
    browse = [params for url, params, _ in fetcher.asked if url == BROWSE_URL]
    assert browse == [{
        "action": "getcompany", "company": "Northwind Analytics, Inc.", "type": "D",
        "owner": "include", "count": "10", "output": "atom",
    }]  # fmt: skip
    rounds = [o.value for o in lookup.observations if o.field == "signal:funding_round"]
    assert rounds == ["Form D $20M", "Form D"]  # the 2023 document is not on record: plain


def test_without_the_browse_step_a_private_company_is_a_miss() -> None:
    provider = EdgarProvider(EnrichSettings(), {}, search_private=False)
    [lookup], fetcher = enrich(
        [Target("nw", "northwind.io", "Northwind Analytics")], provider=provider
    )
    assert lookup.status == "miss" and BROWSE_URL not in [u for u, _, _ in fetcher.asked]


def test_no_registrant_is_a_miss_and_sec_down_is_a_failure() -> None:
    [lookup], _ = enrich([Target("z", "zzz-unknown.io", "Zzz Unknown Widgets")])
    assert lookup.status == "miss"
    down = {TICKERS_URL: FetchError(TICKERS_URL, "timeout", "timed out after 10 s")}
    [lookup], _ = enrich([Target("c", None, "Contoso Robotics")], pages=down)
    assert lookup.status == "failed" and "timed out" in (lookup.reason or "")


def test_a_403_without_a_contact_in_the_user_agent_says_what_to_set() -> None:
    pages = {TICKERS_URL: (403, b"Undeclared Automated Tool")}
    [lookup], _ = enrich(
        [Target("c", None, "Contoso Robotics")], pages=pages,
        settings=EnrichSettings(user_agent="icpkit-enrich/0.1"),
    )  # fmt: skip
    assert lookup.status == "failed" and "enrich.user_agent" in (lookup.reason or "")


def test_the_provider_is_registered_keyless_and_free() -> None:
    provider = make("edgar", EnrichSettings(), {})
    assert isinstance(provider, Provider)
    assert provider.keyless and provider.cost == 0 and provider.rate == 10.0
    assert {"signal:funding_round", "signal:leadership_change", "industry"} <= provider.fields


def test_malformed_sec_documents_give_what_they_can_and_never_raise() -> None:
    doc: dict[str, Any] = {
        "sic": None, "sicDescription": "Services-Prepackaged Software", "addresses": [],
        "filings": {"recent": {"form": ["D", "8-K"], "filingDate": ["2025-13-45"],
                               "accessionNumber": "0001"}},
    }  # fmt: skip
    found = [(o.field, o.value) for o in edgar_observations(doc, 1, "u")]
    assert found == [("industry", "Services-Prepackaged Software")]
    assert TickerIndex({"0": {"cik_str": "x"}, "1": "row", "2": {"cik_str": 5}}).by_name == {}


@pytest.mark.slow
def test_over_https_sec_is_asked_politely_and_a_private_filer_is_read(
    web_tls: Web, tls_settings: EnrichSettings
) -> None:
    pages = sec()
    for url, (status, body) in pages.items():
        parts = urlsplit(url)
        web_tls.route(parts.hostname or "", parts.path, Reply(status, body))
    web_tls.route("www.sec.gov", "/robots.txt", Reply(200, b"User-agent: *\nAllow: /\n"))
    settings = tls_settings.model_copy(update={"user_agent": "Acme Analytics ops@acme.example"})
    provider = EdgarProvider(settings, {})
    targets = [
        Target("nw", "northwind.io", "Northwind Analytics"),
        Target("c", None, "Contoso Robotics"),
    ]

    async def run() -> list[Lookup]:
        async with Fetcher(settings) as fetcher:
            ctx = Context(fetcher, NoDns(), settings, NOW)
            return await provider.lookup(targets, ctx)

    northwind, contoso = asyncio.run(run())
    assert northwind.status == contoso.status == "found"
    assert "Form D $20M" in [o.value for o in northwind.observations]
    assert "Form 8-K item 5.02" in [o.value for o in contoso.observations]
    asked = web_tls.asked("www.sec.gov") + web_tls.asked("data.sec.gov")
    assert {r.headers["user-agent"] for r in asked} == {"Acme Analytics ops@acme.example"}
    assert [r.path for r in asked].count("/files/company_tickers.json") == 1


def test_a_company_search_robots_txt_forbids_is_not_read_and_the_miss_says_so() -> None:
    pages: dict[str, tuple[int, bytes] | FetchError] = {**sec()}
    pages[BROWSE_URL] = FetchError(BROWSE_URL, "robots", "robots.txt disallows /cgi-bin/")
    [lookup], _ = enrich([Target("nw", "northwind.io", "Northwind Analytics")], pages=pages)
    assert lookup.status == "miss"
    assert "EDGAR company search not read (robots.txt disallows /cgi-bin/)" in (lookup.reason or "")
