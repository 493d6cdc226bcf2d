"""The website crawl: the homepage, then at most one about, careers and pricing page, found
among the homepage's links (or one guess at the usual path), every failure said per page,
and no request more than that."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest

from icpkit.config import EnrichSettings
from icpkit.enrich.fetch import Fetcher
from icpkit.enrich.site import Link, Page, Site, choose_links, crawl, is_job_board
from loopback import Web

PAGES = Path(__file__).parents[1] / "fixtures" / "enrich" / "pages"


def page(name: str) -> str:
    return (PAGES / name).read_text("utf-8")


def run_crawl(settings: EnrichSettings, domain: str) -> Site:
    async def go() -> Site:
        async with Fetcher(settings) as fetcher:
            return await crawl(domain, fetcher)

    return asyncio.run(go())


def asked(web: Web) -> list[tuple[str, str]]:
    return sorted((r.host, r.path) for r in web.asked())


# -- which links name which page ------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "text", "kind"),
    [
        ("https://acme.com/about-us", "Company", "about"),
        ("https://acme.com/company", "", "about"),
        ("https://acme.com/de/ueber-uns", "", "about"),
        ("https://acme.com/x?id=7", "About us", "about"),
        ("https://acme.com/careers/", "", "careers"),
        ("https://acme.com/en/jobs.html", "", "careers"),
        ("https://acme.com/karriere", "", "careers"),
        ("https://acme.com/fr/emplois", "", "careers"),
        ("https://careers.acme.com/", "We're hiring", "careers"),
        ("https://acme.com/page/17", "Join our team", "careers"),
        ("https://jobs.lever.co/acme", "", "careers"),
        ("https://acme.com/pricing", "", "pricing"),
        ("https://acme.com/plans-and-pricing", "", "pricing"),
        ("https://acme.com/de/preise", "", "pricing"),
        ("https://acme.com/p/3", "Plans", "pricing"),
    ],
)
def test_link_is_chosen_for_the_page_it_names(url: str, text: str, kind: str) -> None:
    assert choose_links((Link(url, text),), "acme.com") == {kind: url}


def test_links_off_the_site_are_never_chosen() -> None:
    links = (
        Link("https://partner.example/pricing", "Pricing"),
        Link("https://www.greenhouse.io/", "Careers"),
        Link("https://acme.com.evil.example/about", "About"),
    )
    assert choose_links(links, "acme.com") == {}


def test_a_path_naming_the_page_beats_a_text_naming_it() -> None:
    links = (
        Link("https://acme.com/blog/42", "Careers"),
        Link("https://acme.com/careers", "Work here"),
    )
    assert choose_links(links, "acme.com") == {"careers": "https://acme.com/careers"}


def test_a_job_board_link_is_the_careers_page() -> None:
    links = (
        Link("https://acme.com/careers", "Careers"),
        Link("https://boards.greenhouse.io/acme", "Open roles"),
    )
    assert choose_links(links, "acme.com") == {"careers": "https://boards.greenhouse.io/acme"}
    assert is_job_board("https://apply.workable.com/acme/")
    assert not is_job_board("https://www.greenhouse.io/customers")
    assert not is_job_board("https://jobs.lever.co/")


def test_page_links_are_absolute_and_skip_anchors_and_mail() -> None:
    html = (
        '<a href="/about">About</a><a href="#top">Top</a><a href="mailto:hi@acme.com">Mail</a>'
        '<a href="careers.html"> Join\n us </a><a href="javascript:void(0)">x</a>'
    )
    home = Page("home", "http://acme.com/en/", 200, {}, (), html, dt.datetime.now(dt.UTC))
    assert home.links == (
        Link("http://acme.com/about", "About"),
        Link("http://acme.com/en/careers.html", "Join us"),
    )
    assert home.tree is home.tree  # parsed once, however many readers


# -- the crawl against a web server ---------------------------------------------------------


def test_homepage_and_the_pages_it_links_are_fetched_once_each(
    web: Web, settings: EnrichSettings
) -> None:
    web.route("acme.co.uk", "/", page("acme_home.html"))
    web.route("acme.co.uk", "/about-us", page("acme_about.html"))
    web.route("acme.co.uk", "/careers", page("acme_careers.html"))
    web.route("acme.co.uk", "/pricing", page("acme_pricing.html"))
    before = dt.datetime.now(dt.UTC)
    site = run_crawl(settings, "acme.co.uk")

    assert sorted(site.pages) == ["about", "careers", "home", "pricing"]
    assert site.failures == {}
    about = site.pages["about"]
    assert (about.kind, about.url, about.status) == ("about", "http://acme.co.uk/about-us", 200)
    assert "founded in 2014" in about.html
    assert about.fetched_at.tzinfo == dt.UTC
    assert before <= about.fetched_at <= dt.datetime.now(dt.UTC)
    assert site.links == {
        "about": "http://acme.co.uk/about-us",
        "careers": "http://acme.co.uk/careers",
        "pricing": "http://acme.co.uk/pricing",
    }
    assert asked(web) == [
        ("acme.co.uk", "/"),
        ("acme.co.uk", "/about-us"),
        ("acme.co.uk", "/careers"),
        ("acme.co.uk", "/pricing"),
        ("acme.co.uk", "/robots.txt"),
    ]


def test_an_unlinked_careers_page_gets_one_guess_and_other_pages_none(
    web: Web, settings: EnrichSettings
) -> None:
    web.route("plain.com", "/", "<html><body><h1>Plain</h1><a href='/blog'>Blog</a></body></html>")
    web.route("plain.com", "/careers", "<h1>Careers</h1>")
    site = run_crawl(settings, "plain.com")

    assert sorted(site.pages) == ["careers", "home"]
    assert site.failures == {}
    assert asked(web) == [
        ("plain.com", "/"),
        ("plain.com", "/careers"),
        ("plain.com", "/robots.txt"),
    ]


def test_a_guessed_careers_page_that_is_missing_is_recorded(
    web: Web, settings: EnrichSettings
) -> None:
    web.route("plain.com", "/", "<html><body><h1>Plain</h1></body></html>")
    site = run_crawl(settings, "plain.com")

    assert site.failures == {
        "careers": "the homepage links no careers page and http://plain.com/careers "
        "answered HTTP 404"
    }
    assert site.failure_kinds == {"careers": "not_linked"}


def test_careers_link_to_a_job_board_is_kept_but_not_fetched(
    web: Web, settings: EnrichSettings
) -> None:
    web.route("acme.com", "/", '<a href="https://jobs.lever.co/acme">Careers</a>'
              '<a href="/about">About</a><a href="/pricing">Pricing</a>')  # fmt: skip
    web.route("acme.com", "/about", "<p>About</p>")
    web.route("acme.com", "/pricing", "<p>Pricing</p>")
    site = run_crawl(settings, "acme.com")

    assert site.links["careers"] == "https://jobs.lever.co/acme"
    assert "careers" not in site.pages and "careers" not in site.failures
    assert not web.asked("jobs.lever.co")
    assert {r.path for r in web.asked("acme.com")} == {"/robots.txt", "/", "/about", "/pricing"}


def test_homepage_that_fails_ends_the_crawl_with_its_reason(
    web: Web, settings: EnrichSettings
) -> None:
    site = run_crawl(settings, "gone.com")  # no route: the homepage answers 404
    assert site.home is None and site.pages == {}
    assert site.failures == {"home": "http://gone.com/ answered HTTP 404"}
    assert site.lasting("home")
    assert {r.path for r in web.asked("gone.com")} == {"/robots.txt", "/"}


def test_a_linked_page_that_errors_is_recorded_and_the_rest_kept(
    web: Web, settings: EnrichSettings
) -> None:
    web.route("acme.com", "/", '<a href="/about">About</a><a href="/careers">Careers</a>'
              '<a href="/pricing">Pricing</a>')  # fmt: skip
    web.route("acme.com", "/about", "down", status=500)
    web.route("acme.com", "/careers", "<p>Jobs</p>")
    web.route("acme.com", "/pricing", "<p>Plans</p>")
    site = run_crawl(settings, "acme.com")

    assert sorted(site.pages) == ["careers", "home", "pricing"]
    assert "500" in site.failures["about"]
    assert not site.lasting("about")  # a server error may pass: a later run tries again


def test_pages_are_found_on_the_domain_the_homepage_redirects_to(
    web: Web, settings: EnrichSettings
) -> None:
    web.route("acme.com", "/", "", status=301, headers={"Location": "http://acme.io/"})
    web.route("acme.io", "/", '<a href="http://acme.io/company-info">Who we are</a>'
              '<a href="/careers">Careers</a><a href="/pricing">Pricing</a>')  # fmt: skip
    web.route("acme.io", "/company-info", "<p>About</p>")
    web.route("acme.io", "/careers", "<p>Jobs</p>")
    web.route("acme.io", "/pricing", "<p>Plans</p>")
    site = run_crawl(settings, "acme.com")

    assert site.home is not None and site.home.url == "http://acme.io/"
    assert sorted(site.pages) == ["about", "careers", "home", "pricing"]
    assert site.pages["about"].url == "http://acme.io/company-info"
    assert {r.path for r in web.asked("acme.com")} <= {"/robots.txt", "/"}
