"""The technographic matcher on realistic pages and DNS records, the loader of
Wappalyzer-format folders, and the technographics provider."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from icpkit.config import EnrichSettings
from icpkit.enrich.context import Context
from icpkit.enrich.dns import Records
from icpkit.enrich.fetch import Fetcher
from icpkit.enrich.model import Lookup, Provider, Target
from icpkit.enrich.site import Page, Site
from icpkit.enrich.technographics import (
    TechnographicsProvider,
    load_fingerprints,
    match,
)
from icpkit.errors import IcpkitError
from loopback import Reply, Web

DAY = dt.datetime(2026, 11, 30, 12, 0)


def page(
    html: str,
    url: str = "https://acme.example/",
    *,
    kind: str = "home",
    headers: Mapping[str, str] | None = None,
    cookies: Sequence[str] = (),
) -> Page:
    return Page(kind, url, 200, dict(headers or {}), tuple(cookies), html, DAY)


WORDPRESS_HOME = """<!DOCTYPE html>
<html lang="en-US">
<head>
<meta charset="UTF-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Acme Analytics &#8211; Revenue intelligence for B2B teams</title>
<meta name="description" content="Acme turns your pipeline into forecasts you can trust.">
<link rel="stylesheet" id="wp-block-library-css"
  href="https://acme.example/wp-includes/css/dist/block-library/style.min.css?ver=6.4.2"
  media="all">
<link rel="stylesheet" href="https://acme.example/wp-content/themes/acme/style.css?ver=1.9">
<link rel="preconnect" href="https://fonts.googleapis.com">
<script src="https://acme.example/wp-includes/js/jquery/jquery.min.js?ver=3.7.1"
  id="jquery-core-js"></script>
<meta name="generator" content="WordPress 6.4.2">
<!-- Google tag (gtag.js) -->
<script async src="https://www.googletagmanager.com/gtag/js?id=G-8XK2M9P4Q7"></script>
<script>
  window.dataLayer = window.dataLayer || [];
  function gtag(){dataLayer.push(arguments);}
  gtag('js', new Date());
  gtag('config', 'G-8XK2M9P4Q7');
</script>
<script type="application/ld+json">{"@context":"https://schema.org","@type":"Organization",
"name":"Acme Analytics","url":"https://acme.example","sameAs":["https://www.linkedin.com/company/acme",
"https://twitter.com/acme","https://www.youtube.com/@acme"]}</script>
</head>
<body class="home page-template-default page page-id-7 wp-custom-logo">
<header><nav><a href="/product/">Product</a> <a href="/pricing/">Pricing</a>
<a href="/about/">About</a> <a href="/careers/">Careers</a>
<a class="button" href="/demo/">Book a demo</a></nav></header>
<main>
<section class="wp-block-group hero"><h1>Forecasts your board believes</h1>
<p>Connect your CRM in minutes. SOC 2 Type II. Trusted by 400 revenue teams.</p>
<img src="https://acme.example/wp-content/uploads/2024/03/hero.png" alt="Dashboard"
  width="1200"></section>
<section class="logos"><p>Works with Salesforce, HubSpot, Pipedrive and Stripe data.</p></section>
</main>
<footer><p>&copy; 2026 Acme Analytics, Inc. Contact: hello@acme.example</p>
<a href="https://www.linkedin.com/company/acme">LinkedIn</a></footer>
<!-- Start of HubSpot Embed Code -->
<script type="text/javascript" id="hs-script-loader" async defer
  src="//js.hs-scripts.com/21412345.js"></script>
<!-- End of HubSpot Embed Code -->
<script src="https://acme.example/wp-content/themes/acme/js/site.min.js?ver=1.9"
  id="acme-site-js"></script>
</body>
</html>
"""

SHOPIFY_STORE = """<!doctype html>
<html class="no-js" lang="en">
<head>
<meta charset="utf-8">
<title>Hearth &amp; Loom | Handmade throws</title>
<link rel="canonical" href="https://hearthandloom.example/">
<link href="//hearthandloom.example/cdn/shop/t/12/assets/base.css?v=171234" rel="stylesheet">
<script>window.Shopify = window.Shopify || {};
Shopify.shop = "hearth-and-loom.myshopify.com";
Shopify.locale = "en";
Shopify.theme = {"name":"Dawn","id":132456789012,"schema_name":"Dawn",
  "schema_version":"12.0.0"};</script>
<script src="//hearthandloom.example/cdn/shop/t/12/assets/global.js?v=1388921"
  defer="defer"></script>
<script async src="https://static.klaviyo.com/onsite/js/klaviyo.js?company_id=XyZ123"></script>
<script>!function(f,b,e,v,n,t,s){if(f.fbq)return;n=f.fbq=function(){n.callMethod?
n.callMethod.apply(n,arguments):n.queue.push(arguments)};t=b.createElement(e);t.async=!0;
t.src=v;s=b.getElementsByTagName(e)[0];s.parentNode.insertBefore(t,s)}(window, document,'script',
'https://connect.facebook.net/en_US/fbevents.js');
fbq('init', '918273645546372');
fbq('track', 'PageView');</script>
</head>
<body class="gradient">
<a class="skip-to-content-link button visually-hidden" href="#MainContent">Skip to content</a>
<main id="MainContent"><h1>Throws woven by hand in Portugal</h1>
<div class="product-card">
<img src="//hearthandloom.example/cdn/shop/files/throw.jpg?v=1700&width=533" alt="Oat throw">
<span class="price">$129.00</span></div>
<div class="jdgm-widget jdgm-preview-badge"></div></main>
<script src="https://cdn.judge.me/widget_preloader.js" defer></script>
</body>
</html>
"""


def tools(detections: Sequence[Any]) -> set[str]:
    return {d.tool for d in detections}


# --- the matcher on realistic pages ----------------------------------------------------------


def test_wordpress_homepage_with_hubspot_and_google_analytics_gives_exactly_those() -> None:
    found = match([page(WORDPRESS_HOME)])
    assert tools(found) == {"WordPress", "HubSpot", "Google Analytics"}


def test_evidence_quotes_the_script_and_names_the_page() -> None:
    found = {d.tool: d for d in match([page(WORDPRESS_HOME)])}
    hubspot = found["HubSpot"]
    assert hubspot.evidence == "script src //js.hs-scripts.com/21412345.js"
    assert hubspot.source_url == "https://acme.example/"
    assert hubspot.category == "marketing automation"
    assert hubspot.confidence == 1.0
    assert found["WordPress"].version == "6.4.2"


def test_shopify_store_gives_exactly_its_stack() -> None:
    store = page(
        SHOPIFY_STORE,
        "https://hearthandloom.example/",
        headers={"server": "cloudflare", "x-shopid": "60123456789", "cf-ray": "8a1b2c3d4e5f-AMS"},
        cookies=["_shopify_y", "_shopify_s", "localization", "cart_currency"],
    )
    found = match([store])
    assert tools(found) == {"Shopify", "Klaviyo", "Meta Pixel", "Judge.me", "Cloudflare"}


def test_matching_ignores_letter_case() -> None:
    shouting = '<SCRIPT TYPE="text/javascript" SRC="HTTPS://JS.HS-SCRIPTS.COM/1234.JS"></SCRIPT>'
    found = match([page(shouting)])
    assert tools(found) == {"HubSpot"}
    assert found[0].evidence == "script src HTTPS://JS.HS-SCRIPTS.COM/1234.JS"


def test_script_source_with_html_entities_is_read_decoded() -> None:
    tag = '<script src="https://js.stripe.com/v3/?advancedFraudSignals=false&amp;x=1"></script>'
    found = match([page(tag)])
    assert [d.evidence for d in found] == [
        "script src https://js.stripe.com/v3/?advancedFraudSignals=false&x=1"
    ]


def test_unquoted_and_broken_markup_is_read_without_error() -> None:
    broken = (
        "<html><head><script src=https://js.stripe.com/v3/ async></script>"
        '<meta name=generator content="Hugo 0.121.1"><script src="https://cdn.segm'
    )
    found = {d.tool: d for d in match([page(broken)])}
    assert set(found) == {"Stripe", "Hugo"}
    assert found["Hugo"].version == "0.121.1"


def test_a_link_to_a_vendor_is_not_the_vendor_running_on_the_site() -> None:
    text = (
        '<p>We integrate with <a href="https://www.hubspot.com">HubSpot</a>, '
        '<a href="https://stripe.com/docs">Stripe</a> and '
        '<a href="https://www.youtube.com/@acme">our YouTube channel</a>.</p>'
    )
    assert match([page(text)]) == []


def test_tool_seen_only_on_the_careers_page_names_that_page() -> None:
    home = page("<html><body><a href='/careers'>Careers</a></body></html>")
    careers = page(
        '<a href="https://jobs.lever.co/acme/3f2a1b0c-sdr">Sales Development Rep</a>',
        "https://acme.example/careers",
        kind="careers",
    )
    (lever,) = match([home, careers])
    assert (lever.tool, lever.source_url) == ("Lever", "https://acme.example/careers")
    assert lever.category == "recruiting"


def test_the_same_tool_on_several_pages_is_one_detection_from_the_first_page() -> None:
    snippet = '<script src="https://widget.intercom.io/widget/abc123"></script>'
    home = page(snippet)
    pricing = page(snippet, "https://acme.example/pricing", kind="pricing")
    (intercom,) = match([home, pricing])
    assert intercom.source_url == "https://acme.example/"


def test_mail_exchangers_and_spf_name_the_email_stack() -> None:
    records = Records(
        txt=(
            "v=spf1 include:spf.protection.outlook.com include:sendgrid.net -all",
            "MS=ms81234567",
            "atlassian-domain-verification=Kx3mP9qL2vB7nR4tY8wZ1cF6hJ0sD5gA",
        ),
        mx=("acme-example.mail.protection.outlook.com",),
    )
    found = {d.tool: d for d in match([], records, domain="acme.example")}
    assert set(found) == {"Microsoft 365", "SendGrid", "Jira"}
    assert found["SendGrid"].source_url == "dns:TXT acme.example"
    assert found["SendGrid"].evidence.startswith("TXT v=spf1 include:spf.protection.outlook.com")
    assert found["Microsoft 365"].source_url in {"dns:TXT acme.example", "dns:MX acme.example"}


def test_google_mx_is_google_workspace() -> None:
    records = Records(mx=("aspmx.l.google.com", "alt1.aspmx.l.google.com"))
    (workspace,) = match([], records, domain="acme.example")
    assert workspace.tool == "Google Workspace"
    assert workspace.evidence == "MX aspmx.l.google.com"
    assert workspace.source_url == "dns:MX acme.example"


def test_unreadable_dns_records_detect_nothing() -> None:
    assert match([], Records(error="timeout"), domain="acme.example") == []


def test_header_implies_the_platform_it_hosts() -> None:
    hosted = page("<html><body>Hi</body></html>", headers={"x-powered-by": "WP Engine"})
    found = {d.tool: d for d in match([hosted])}
    assert set(found) == {"WP Engine", "WordPress"}
    assert found["WordPress"].evidence == "implied by WP Engine"
    assert found["WP Engine"].evidence == "header x-powered-by: WP Engine"


def test_a_weaker_pattern_carries_its_confidence() -> None:
    (vue,) = match([page('<div data-v-7ba5bd90 class="hero">Hi</div>')])
    assert vue.tool == "Vue.js"
    assert vue.confidence == 0.75


def test_cookie_names_are_evidence() -> None:
    (hotjar,) = match([page("<html></html>", cookies=["_hjSessionUser_1234567"])])
    assert (hotjar.tool, hotjar.evidence) == ("Hotjar", "cookie _hjSessionUser_1234567")


# --- Wappalyzer-format folders ----------------------------------------------------------------


def write_folder(root: Path) -> Path:
    tech = root / "technologies"
    tech.mkdir(parents=True)
    (root / "categories.json").write_text(
        json.dumps({"1": {"name": "CMS", "priority": 1}, "32": {"name": "Marketing automation"}})
    )
    (tech / "a.json").write_text(
        json.dumps(
            {
                "Acmeblog": {
                    "cats": [1],
                    "website": "https://acmeblog.example",
                    "meta": {"generator": "^Acmeblog(?: ([\\d.]+))?\\;version:\\1"},
                    "headers": {"X-Acmeblog": ""},
                    "implies": "Acmebase\\;confidence:50",
                },
                "Acmebase": {"cats": [1], "js": {"Acmebase": ""}, "html": "acmebase-root"},
                "Acmemail": {
                    "cats": [32],
                    "scriptSrc": ["cdn\\.acmemail\\.example/(?<ver>[\\d.]+)/tag\\.js"],
                    "cookies": {"acm_uid": ""},
                    "dns": {"TXT": ["acmemail-verification="], "MX": "mx\\.acmemail\\.example$"},
                },
                "Broken": {"cats": [32], "html": ["(unclosed", "broken-but-fine-marker"]},
                "Overlap one": {"cats": [1], "html": "abcd"},
                "Overlap two": {"cats": [1], "html": "cdef"},
            }
        )
    )
    (tech / "h.json").write_text(
        json.dumps({"HubSpot": {"cats": [1], "html": "never-a-hubspot-marker"}})
    )
    (tech / "_.json").write_text("{ not json")
    return root


def test_wappalyzer_folder_loads_beside_icpkits_own_fingerprints(tmp_path: Path) -> None:
    fp = load_fingerprints(str(write_folder(tmp_path / "wappalyzer")))
    assert {"Acmeblog", "Acmebase", "Acmemail", "Broken"} <= set(fp.tools)
    assert fp.tools["Acmeblog"].category == "cms"
    assert fp.tools["Acmemail"].category == "marketing automation"
    assert len(fp) > len(load_fingerprints())


def test_wappalyzer_patterns_match_with_versions_and_implied_confidence(tmp_path: Path) -> None:
    fp = load_fingerprints(str(write_folder(tmp_path / "w")))
    home = page(
        '<meta name="generator" content="Acmeblog 2.3.1">'
        '<script src="https://cdn.acmemail.example/4.1/tag.js"></script>'
        '<script src="https://js.hs-scripts.com/1.js"></script>'
    )
    found = {d.tool: d for d in fp.match([home])}
    assert set(found) == {"Acmeblog", "Acmebase", "Acmemail", "HubSpot"}
    assert found["Acmeblog"].version == "2.3.1"
    assert found["Acmebase"].confidence == 0.5
    assert found["Acmebase"].evidence == "implied by Acmeblog"


def test_wappalyzer_cookies_headers_and_dns_match(tmp_path: Path) -> None:
    fp = load_fingerprints(str(write_folder(tmp_path / "w")))
    records = Records(txt=("acmemail-verification=xyz",), mx=("mx.acmemail.example",))
    by_dns = fp.match([], records, domain="acme.example")
    assert tools(by_dns) == {"Acmemail"}
    by_page = fp.match([page("<p>hi</p>", headers={"x-acmeblog": "1"}, cookies=["acm_uid"])])
    assert tools(by_page) == {"Acmeblog", "Acmebase", "Acmemail"}


def test_bad_regex_and_bad_file_are_reported_not_fatal(tmp_path: Path) -> None:
    fp = load_fingerprints(str(write_folder(tmp_path / "w")))
    bad_regex = [p for p in fp.problems if "(unclosed" in p]
    assert len(bad_regex) == 1
    assert "a.json" in bad_regex[0] and "'Broken'" in bad_regex[0]
    assert any("_.json" in p and "JSON" in p for p in fp.problems)
    # The tool's other pattern still works.
    assert tools(fp.match([page("<div>broken-but-fine-marker</div>")])) == {"Broken"}


def test_a_builtin_name_in_the_folder_keeps_icpkits_fingerprint(tmp_path: Path) -> None:
    fp = load_fingerprints(str(write_folder(tmp_path / "w")))
    assert fp.match([page("<p>never-a-hubspot-marker</p>")]) == []
    assert fp.tools["HubSpot"].category == "marketing automation"
    assert any("icpkit's kept" in note for note in fp.notes)


def test_unread_pattern_kinds_are_noted(tmp_path: Path) -> None:
    fp = load_fingerprints(str(write_folder(tmp_path / "w")))
    assert any("js (1 tools)" in note for note in fp.notes)


def test_overlapping_patterns_are_both_found(tmp_path: Path) -> None:
    fp = load_fingerprints(str(write_folder(tmp_path / "w")))
    assert tools(fp.match([page("<p>xabcdefx</p>")])) == {"Overlap one", "Overlap two"}


def test_a_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(IcpkitError, match="no such folder"):
        load_fingerprints(str(tmp_path / "nowhere"))


def test_requires_and_excludes_are_honoured(tmp_path: Path) -> None:
    tech = tmp_path / "w"
    tech.mkdir()
    (tech / "r.json").write_text(
        json.dumps(
            {
                "Plugin": {"cats": [1], "html": "plugin-marker", "requires": "Host"},
                "Host": {"cats": [1], "html": "host-marker"},
                "Old": {"cats": [1], "html": "old-marker"},
                "New": {"cats": [1], "html": "new-marker", "excludes": "Old"},
            }
        )
    )
    fp = load_fingerprints(str(tech))
    assert tools(fp.match([page("plugin-marker")])) == set()
    assert tools(fp.match([page("plugin-marker host-marker")])) == {"Plugin", "Host"}
    assert tools(fp.match([page("old-marker new-marker")])) == {"New"}


# --- the provider ----------------------------------------------------------------------------


class FakeDns:
    def __init__(self, records: Mapping[str, Records]) -> None:
        self._records = records

    async def records(self, domain: str) -> Records:
        return self._records.get(domain, Records())


class FakeContext:
    """What the provider reads of a run's Context: each domain's site and DNS records."""

    def __init__(self, sites: Mapping[str, Site], records: Mapping[str, Records]) -> None:
        self.sites = sites
        self.dns = FakeDns(records)
        self.asked: list[str] = []

    async def site(self, domain: str) -> Site:
        self.asked.append(domain)
        return self.sites[domain]


def run(provider: TechnographicsProvider, targets: list[Target], ctx: FakeContext) -> list[Any]:
    return asyncio.run(provider.lookup(targets, ctx))  # type: ignore[arg-type]


def test_provider_has_the_provider_shape() -> None:
    provider = TechnographicsProvider(EnrichSettings(), {})
    assert isinstance(provider, Provider)
    assert (provider.name, set(provider.fields), provider.cost) == ("technographics", {"tech"}, 0.0)
    assert (provider.batch_size, provider.ttl_days, provider.keyless) == (1, 30, True)
    assert provider.rate is None


def test_provider_observes_each_tool_with_its_evidence() -> None:
    site = Site("acme.example", pages={"home": page(WORDPRESS_HOME)})
    records = {"acme.example": Records(mx=("aspmx.l.google.com",))}
    ctx = FakeContext({"acme.example": site}, records)
    provider = TechnographicsProvider(EnrichSettings(), {})
    (lookup,) = run(provider, [Target("a1", "acme.example")], ctx)
    assert lookup.status == "found"
    by_tool = {o.value: o for o in lookup.observations}
    assert set(by_tool) == {"WordPress", "HubSpot", "Google Analytics", "Google Workspace"}
    assert all(o.field == "tech" for o in lookup.observations)
    assert by_tool["HubSpot"].source_url == "https://acme.example/"
    assert by_tool["HubSpot"].evidence == "script src //js.hs-scripts.com/21412345.js"
    assert by_tool["Google Workspace"].source_url == "dns:MX acme.example"
    assert by_tool["WordPress"].raw == "WordPress 6.4.2"


def test_provider_misses_a_site_with_no_known_tool() -> None:
    pages = {
        "home": page("<p>Hello</p>"),
        "about": page("<p>About</p>", "https://plain.example/about", kind="about"),
        "pricing": page("<p>$9</p>", "https://plain.example/pricing", kind="pricing"),
    }
    ctx = FakeContext({"plain.example": Site("plain.example", pages=pages)}, {})
    provider = TechnographicsProvider(EnrichSettings(), {})
    (lookup,) = run(provider, [Target("a2", "plain.example")], ctx)
    assert (lookup.status, lookup.reason) == ("miss", "no known tool on 3 pages")


def test_provider_fails_when_no_page_could_be_fetched() -> None:
    site = Site(
        "down.example",
        failures={"home": "connect: connection refused"},
        failure_kinds={"home": "connect"},
    )
    ctx = FakeContext({"down.example": site}, {})
    provider = TechnographicsProvider(EnrichSettings(), {})
    (lookup,) = run(provider, [Target("a3", "down.example")], ctx)
    assert lookup.status == "failed"
    assert "connection refused" in (lookup.reason or "")


def test_provider_misses_a_target_without_domain_and_fetches_nothing() -> None:
    ctx = FakeContext({}, {})
    provider = TechnographicsProvider(EnrichSettings(), {})
    (lookup,) = run(provider, [Target("a4", None, name="Nameless Ltd")], ctx)
    assert (lookup.status, lookup.reason) == ("miss", "no domain")
    assert ctx.asked == []


def test_provider_reads_the_folder_named_in_settings(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "w")
    provider = TechnographicsProvider(EnrichSettings(fingerprints=str(folder)), {})
    site = Site("acme.example", pages={"home": page("<div>acmebase-root</div>")})
    (lookup,) = run(
        provider, [Target("a5", "acme.example")], FakeContext({"acme.example": site}, {})
    )
    assert [o.value for o in lookup.observations] == ["Acmebase"]


def test_provider_on_a_real_server_reads_pages_headers_and_cookies(
    web: Web, settings: EnrichSettings
) -> None:
    web.route(
        "acme.example",
        "/",
        Reply(
            body=WORDPRESS_HOME,
            headers={"X-Powered-By": "WP Engine", "Set-Cookie": "_hjid=3f2a1b0c; Path=/"},
        ),
    )
    web.route("acme.example", "/careers/", '<a href="https://jobs.ashbyhq.com/acme">Roles</a>')
    web.route("busy.example", "/", "try later", status=503)
    records = {"acme.example": Records(txt=("slack-domain-verification=Zq1P8vXK2m4",))}

    async def go() -> list[Lookup]:
        async with Fetcher(settings) as fetcher:
            ctx = Context(fetcher=fetcher, dns=FakeDns(records), settings=settings, now=DAY)
            provider = TechnographicsProvider(settings, {})
            targets = [Target("a1", "acme.example"), Target("a2", "gone.example")]
            return await provider.lookup([*targets, Target("a3", "busy.example")], ctx)

    acme, gone, busy = asyncio.run(go())
    by_tool = {o.value: o for o in acme.observations}
    assert set(by_tool) == {
        "WordPress", "HubSpot", "Google Analytics", "WP Engine", "Hotjar", "Ashby", "Slack",
    }  # fmt: skip
    assert str(by_tool["Ashby"].source_url).endswith("acme.example/careers/")
    assert by_tool["Hotjar"].evidence == "cookie _hjid"
    assert by_tool["Slack"].source_url == "dns:TXT acme.example"
    assert gone.status == "miss" and "404" in (gone.reason or "")
    assert busy.status == "failed" and "503" in (busy.reason or "")
