"""Website facts: schema.org JSON-LD (with @graph, subtypes and malformed blocks), meta
tags, language, social links and country hints, each with its page, evidence and
confidence; and the provider end to end against a loopback web server."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import pytest

from icpkit.config import EnrichSettings
from icpkit.enrich.context import Context
from icpkit.enrich.dns import Records
from icpkit.enrich.fetch import Fetcher
from icpkit.enrich.model import Lookup, Observation, Provider, Target
from icpkit.enrich.providers import make
from icpkit.enrich.providers.website import (
    WebsiteProvider,
    cctld_country,
    currency_country,
    employees_value,
    organizations,
    page_facts,
    parse_json_ld,
    phone_country,
)
from icpkit.enrich.site import Page, Site
from loopback import Web

PAGES = Path(__file__).parents[1] / "fixtures" / "enrich" / "pages"
NOW = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)


def html(name: str) -> str:
    return (PAGES / name).read_text("utf-8")


def make_site(domain: str, **pages: str) -> Site:
    site = Site(domain)
    for kind, body in pages.items():
        path = "/" if kind == "home" else f"/{kind}"
        site.pages[kind] = Page(kind, f"https://{domain}{path}", 200, {}, (), body, NOW)
    return site


def by_field(found: Sequence[Observation]) -> dict[str, tuple[str, float, str | None]]:
    fields = [o.field for o in found]
    assert len(fields) == len(set(fields)), f"one value per field, got {fields}"
    return {o.field: (o.value, o.confidence, o.evidence) for o in found}


# -- JSON-LD ------------------------------------------------------------------------------


def test_organization_in_a_graph_gives_its_facts_and_a_partner_block_is_ignored() -> None:
    site = make_site(
        "acme.co.uk",
        home=html("acme_home.html"),
        about=html("acme_about.html"),
        pricing=html("acme_pricing.html"),
    )
    found = page_facts(site)
    assert by_field(found) == {
        "employees": ("51-200", 0.9, "JSON-LD numberOfEmployees 51-200"),
        "founded_year": ("2014", 0.9, "JSON-LD foundingDate 2014-06-01"),
        "country": ("United Kingdom", 0.9, "JSON-LD addressCountry United Kingdom"),
        "city": ("Manchester", 0.9, "JSON-LD addressLocality Manchester"),
        "industry": ("541511", 0.9, "JSON-LD naics 541511"),
        "linkedin_url": (
            "https://www.linkedin.com/company/acme-analytics",
            0.9,
            "JSON-LD sameAs https://www.linkedin.com/company/acme-analytics/",
        ),
        "twitter_url": (
            "https://twitter.com/AcmeAnalytics",
            0.9,
            "JSON-LD sameAs https://twitter.com/AcmeAnalytics",
        ),
        "title": ("Acme Analytics | Revenue intelligence for B2B teams", 0.8, "homepage <title>"),
        "description": ("Acme turns CRM data into pipeline.", 0.8, "meta description"),
        "language": ("en", 0.8, '<html lang="en-GB">'),
    }
    assert {o.source_url for o in found} == {"https://acme.co.uk/"}
    employees = next(o for o in found if o.field == "employees")
    assert employees.raw == '{"@type": "QuantitativeValue", "minValue": 51, "maxValue": 200}'


def test_malformed_json_ld_is_repaired_where_cheap_and_skipped_otherwise() -> None:
    found = page_facts(make_site("beispiel.de", home=html("malformed_jsonld.html")))
    facts = by_field(found)
    assert facts["employees"] == ("35", 0.9, "JSON-LD numberOfEmployees 35")
    assert facts["founded_year"] == ("1998", 0.9, "JSON-LD foundingDate 1998")
    assert facts["city"] == ("Köln", 0.9, "JSON-LD addressLocality Köln")
    # The JSON-LD country beats the country-code domain's hint.
    assert facts["country"] == ("DE", 0.9, "JSON-LD addressCountry DE")
    assert facts["twitter_url"][0] == "https://x.com/beispiel_gmbh"
    assert facts["language"][0] == "de"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"@type": "Organization"}', {"@type": "Organization"}),
        ('<!-- {"a": 1,} -->', {"a": 1}),
        ('//<![CDATA[\n{"a": [1, 2,]}\n//]]>', {"a": [1, 2]}),
        ('{"a": "line\nbreak"}', {"a": "line\nbreak"}),
        ('{"a": }', None),
        ("", None),
    ],
)
def test_json_ld_text_is_read_leniently(text: str, expected: object) -> None:
    assert parse_json_ld(text) == expected


def test_organizations_are_found_in_graphs_lists_and_nested_values() -> None:
    doc = [
        {"@type": "WebSite", "publisher": {"@type": "Corporation", "name": "A"}},
        {"@graph": [{"@type": "WebPage"}, {"@type": ["Thing", "SoftwareCompany"]},
                    {"@type": "http://schema.org/LocalBusiness", "name": "C"},
                    {"@type": "Dentist", "name": "D"}]},
    ]  # fmt: skip
    # SoftwareCompany is no schema.org type and does not end like one of its organizations.
    assert [o["name"] for o in organizations(doc)] == ["A", "C", "D"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (120, "120"),
        ("1,200", "1200"),
        ({"@type": "QuantitativeValue", "value": 75}, "75"),
        ({"minValue": 51, "maxValue": 200}, "51-200"),
        ({"minValue": "10001"}, "10001+"),
        ({"maxValue": 10}, "1-10"),
        ("51-200", "51-200"),
        ("500+", "500+"),
        ([{"value": 12}], "12"),
        ("about a hundred", None),
        (0, None),
        (True, None),
        ({"unitText": "people"}, None),
    ],
)
def test_number_of_employees_reads_counts_and_ranges(value: object, expected: str | None) -> None:
    assert employees_value(value) == expected


# -- pages without JSON-LD ------------------------------------------------------------------


def test_footer_social_links_are_read_and_share_links_ignored() -> None:
    home = (
        "<html><head><title>Acme</title></head><body><footer>"
        '<a href="https://www.linkedin.com/shareArticle?url=x">Share</a>'
        '<a href="https://twitter.com/intent/tweet?text=x">Tweet</a>'
        '<a href="https://uk.linkedin.com/company/acme-ltd/about/">LinkedIn</a>'
        '<a href="https://x.com/acme_hq">X</a></footer></body></html>'
    )
    facts = by_field(page_facts(make_site("acme.com", home=home)))
    assert facts["linkedin_url"] == (
        "https://www.linkedin.com/company/acme-ltd",
        0.7,
        "link to https://uk.linkedin.com/company/acme-ltd/about/",
    )
    assert facts["twitter_url"] == ("https://x.com/acme_hq", 0.7, "link to https://x.com/acme_hq")


def test_founding_sentence_on_the_about_page_gives_a_less_sure_year() -> None:
    site = make_site("acme.com", home="<title>Acme</title>", about=html("acme_about.html"))
    facts = by_field(page_facts(site))
    assert facts["founded_year"] == ("2014", 0.6, '"founded in 2014"')
    assert "employees" not in facts  # 'our team of 120' is not read as a head count


def test_og_description_and_locale_stand_in_for_missing_meta() -> None:
    home = (
        '<html><head><meta property="og:description" content="Acme does things.">'
        '<meta property="og:locale" content="fr_FR"></head><body></body></html>'
    )
    facts = by_field(page_facts(make_site("acme.com", home=home)))
    assert facts["description"] == ("Acme does things.", 0.7, "og:description")
    assert facts["language"] == ("fr", 0.7, "og:locale fr_FR")


@pytest.mark.parametrize(
    ("domain", "home", "pricing", "expected"),
    [
        ("acme.de", "<p>Hallo</p>", None, ("DE", 0.6, "country-code domain .de")),
        ("acme.co.uk", "<p>Hi</p>", None, ("GB", 0.6, "country-code domain .uk")),
        ("acme.io", '<a href="tel:+49 30 123456">Call</a>', None,
         ("DE", 0.5, "phone number +49 30 123456")),
        ("acme.com", '<a href="tel:+1 415 555 0100">Call</a>', None, None),
        ("acme.com", "<p>Hi</p>", "<p>£49 / month, £99 / month</p>",
         ("GB", 0.4, "prices shown in £")),
        ("acme.com", "<p>Hi</p>", "<p>$49 / month, $99 / month, or £80</p>", None),
        ("acme.ai", "<p>Hi</p>", "<p>€49 / month</p>", None),
    ],
)  # fmt: skip
def test_country_hints_without_json_ld(
    domain: str,
    home: str,
    pricing: str | None,
    expected: tuple[str, float, str] | None,
) -> None:
    pages = {"home": home} | ({"pricing": pricing} if pricing else {})
    facts = by_field(page_facts(make_site(domain, **pages)))
    assert facts.get("country") == expected


def test_country_hint_helpers() -> None:
    assert [cctld_country(d) for d in ("acme.fr", "acme.io", "acme.co", "acme.com")] == [
        "FR",
        None,
        None,
        None,
    ]
    assert phone_country("+353 1 555 0000") == "IE"
    assert phone_country("030 1234567") is None
    assert currency_country("CHF 49 per month") == ("CH", "CHF")


# -- the provider, end to end ---------------------------------------------------------------


class NoDns:
    async def records(self, domain: str) -> Records:
        return Records()


def lookup(settings: EnrichSettings, targets: Sequence[Target]) -> list[Lookup]:
    async def go() -> list[Lookup]:
        async with Fetcher(settings) as fetcher:
            ctx = Context(fetcher=fetcher, dns=NoDns(), settings=settings, now=NOW)
            return await WebsiteProvider(settings, {}).lookup(targets, ctx)

    return asyncio.run(go())


def test_website_provider_reads_the_crawled_pages(web: Web, settings: EnrichSettings) -> None:
    web.route("acme.co.uk", "/", html("acme_home.html"))
    web.route("acme.co.uk", "/about-us", html("acme_about.html"))
    web.route("acme.co.uk", "/careers", html("acme_careers.html"))
    web.route("acme.co.uk", "/pricing", html("acme_pricing.html"))
    [found] = lookup(settings, [Target("a1", "acme.co.uk")])

    assert found.status == "found"
    facts = {o.field: o for o in found.observations}
    assert facts["employees"] == Observation(
        "employees",
        "51-200",
        0.9,
        "http://acme.co.uk/",
        '{"@type": "QuantitativeValue", "minValue": 51, "maxValue": 200}',
        "JSON-LD numberOfEmployees 51-200",
    )
    assert set(facts) == {
        "employees", "founded_year", "country", "city", "industry", "linkedin_url",
        "twitter_url", "title", "description", "language",
    }  # fmt: skip
    assert {(r.host, r.path) for r in web.asked()} == {
        ("acme.co.uk", "/robots.txt"),
        ("acme.co.uk", "/"),
        ("acme.co.uk", "/about-us"),
        ("acme.co.uk", "/careers"),
        ("acme.co.uk", "/pricing"),
    }


@pytest.mark.slow
def test_missing_site_is_a_miss_a_failing_one_a_failure(web: Web, settings: EnrichSettings) -> None:
    web.route("busy.com", "/", "try later", status=503)
    gone, busy, nodomain = lookup(
        settings, [Target("a1", "gone.com"), Target("a2", "busy.com"), Target("a3", None)]
    )
    assert (gone.status, gone.reason) == ("miss", "no website: http://gone.com/ answered HTTP 404")
    assert busy.status == "failed" and busy.reason is not None and "503" in busy.reason
    assert nodomain.status == "miss"


def test_website_provider_follows_the_provider_protocol() -> None:
    provider = make("website", EnrichSettings(), {})
    assert isinstance(provider, WebsiteProvider) and isinstance(provider, Provider)
    assert (provider.name, provider.keyless, provider.cost, provider.ttl_days) == (
        "website",
        True,
        0.0,
        30.0,
    )
    assert provider.fields == {
        "title", "description", "employees", "founded_year", "country", "city", "industry",
        "linkedin_url", "twitter_url", "language",
    }  # fmt: skip
