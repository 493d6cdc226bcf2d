import pytest

from icpkit.ingest.normalize import Unreadable
from icpkit.ingest.normalize.domains import (
    FREE_EMAIL_DOMAINS,
    account_domain,
    email_account_domain,
    platform_hosts,
    registrable_domain,
)


@pytest.mark.parametrize(
    ("raw", "domain"),
    [
        ("https://www.Acme.io/pricing?x=1", "acme.io"),
        ("www.acme.co.uk", "acme.co.uk"),
        ("shop.acme.com", "acme.com"),
        ("jane@acme.com", "acme.com"),
        ("mailto:jane@acme.com", "acme.com"),
        ("Acme.IO.", "acme.io"),
        ("http://acme.com:8080", "acme.com"),
        ("acme.com/", "acme.com"),
        ("HTTPS://ACME.COM#top", "acme.com"),
        ("http://user:pw@acme.com/x", "acme.com"),
        ("  acme.com  ", "acme.com"),
        ("München.de", "münchen.de"),
        ("xn--mnchen-3ya.de", "xn--mnchen-3ya.de"),
    ],
)
def test_websites_urls_and_emails_reduce_to_the_registrable_domain(raw: str, domain: str) -> None:
    assert registrable_domain(raw) == domain


def test_companies_on_shared_hosting_platforms_stay_distinct() -> None:
    assert registrable_domain("https://acme.github.io/") == "acme.github.io"
    assert registrable_domain("https://other.github.io/") == "other.github.io"


@pytest.mark.parametrize("raw", ["", " ", "N/A", "-"])
def test_blank_cells_give_none(raw: str) -> None:
    assert registrable_domain(raw) is None


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("localhost", "no registrable domain in 'localhost'"),
        ("n/a website", "no registrable domain"),
        ("acme", "no registrable domain in 'acme'"),
        ("acme.notatld", "no public suffix"),
        ("127.0.0.1", "'127.0.0.1' is an IP address"),
        ("http://[::1]:80/", "'::1' is an IP address"),
        ("acme..com", "no registrable domain"),
    ],
)
def test_values_without_a_registrable_domain_are_unreadable(raw: str, reason: str) -> None:
    with pytest.raises(Unreadable, match=reason):
        registrable_domain(raw)


@pytest.mark.parametrize(
    "domain",
    ["gmail.com", "googlemail.com", "yahoo.com", "yahoo.co.uk", "hotmail.com", "outlook.com",
     "live.com", "aol.com", "icloud.com", "me.com", "proton.me", "protonmail.com", "gmx.de",
     "web.de", "mail.ru", "yandex.ru", "qq.com", "163.com"],
)  # fmt: skip
def test_free_email_domains_include_the_big_consumer_providers(domain: str) -> None:
    assert domain in FREE_EMAIL_DOMAINS


@pytest.mark.parametrize(
    ("raw", "domain"),
    [
        ("jane@acme.com", "acme.com"),
        ("Jane.Doe@Sales.Acme.co.uk", "acme.co.uk"),
        ("jane@gmail.com", None),
        ("JANE@GMAIL.COM", None),
        ("jane@yahoo.co.uk", None),
        ("jane@mail.yahoo.co.uk", None),
        ("", None),
    ],
)
def test_email_account_domain_skips_personal_mailboxes(raw: str, domain: str | None) -> None:
    assert email_account_domain(raw) == domain


@pytest.mark.parametrize(
    ("raw", "reason"),
    [("acme.com", "not an email address"), ("@acme.com", "not an email address"),
     ("jane@localhost", "no registrable domain")],
)  # fmt: skip
def test_email_account_domain_rejects_non_addresses(raw: str, reason: str) -> None:
    with pytest.raises(Unreadable, match=reason):
        email_account_domain(raw)


@pytest.mark.parametrize("value", ["co.uk", "github.io", "x.ck", "com.au"])
def test_bare_public_suffixes_are_not_company_domains(value: str) -> None:
    # The fast path for already-clean 'name.tld' values must not accept a suffix itself.
    with pytest.raises(Unreadable):
        registrable_domain(value)


@pytest.mark.parametrize("value", ["acme.io", "acme.com", "a-b.de", "x1.ai"])
def test_clean_domains_are_their_own_registrable_domain(value: str) -> None:
    assert registrable_domain(value) == value


# --- Account keys from websites: shared platforms never key an account by their host ----


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("facebook.com/josh.eidson3", "facebook.com/josh.eidson3"),
        ("https://www.facebook.com/jsefamily/", "facebook.com/jsefamily"),
        ("http://m.facebook.com/JSEFamily?ref=page", "facebook.com/jsefamily"),
        ("fb.com/jsefamily", "facebook.com/jsefamily"),
        ("https://www.facebook.com/pages/Acme-Bakery/123456", "facebook.com/pages/acme-bakery"),
        ("https://facebook.com/profile.php?id=100012345", "facebook.com/profile.php?id=100012345"),
        ("https://www.linkedin.com/company/acme-inc/about/", "linkedin.com/company/acme-inc"),
        ("uk.linkedin.com/company/acme-inc", "linkedin.com/company/acme-inc"),
        ("https://x.com/acme", "twitter.com/acme"),
        ("twitter.com/Acme", "twitter.com/acme"),
        ("instagram.com/acme.bakery", "instagram.com/acme.bakery"),
        ("https://www.youtube.com/channel/UC123", "youtube.com/channel/uc123"),
        ("youtube.com/@acme", "youtube.com/@acme"),
        ("tiktok.com/@acme", "tiktok.com/@acme"),
        ("https://sites.google.com/site/acmebakery/home", "sites.google.com/site/acmebakery"),
        ("https://sites.google.com/view/acme", "sites.google.com/view/acme"),
        ("google.com/site/acme", "google.com/site/acme"),
        ("https://www.yelp.com/biz/acme-bakery-austin", "yelp.com/biz/acme-bakery-austin"),
        ("angel.co/company/acme", "angel.co/company/acme"),
        ("https://www.crunchbase.com/organization/acme", "crunchbase.com/organization/acme"),
        ("github.com/acme", "github.com/acme"),
        ("medium.com/@acme", "medium.com/@acme"),
        ("linktr.ee/acme", "linktr.ee/acme"),
        ("about.me/jane", "about.me/jane"),
    ],
)
def test_a_page_on_a_social_or_profile_platform_is_its_own_key(raw: str, key: str) -> None:
    assert account_domain(raw) == key


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("acme.wixsite.com/mysite", "acme.wixsite.com"),
        ("https://acme.myshopify.com/collections/all", "acme.myshopify.com"),
        ("acme.github.io", "acme.github.io"),
        ("acme.gitlab.io", "acme.gitlab.io"),
        ("acme.wordpress.com", "acme.wordpress.com"),
        ("www.acme.blogspot.com", "acme.blogspot.com"),
        ("acme.medium.com", "acme.medium.com"),
        ("acme.substack.com/p/launch", "acme.substack.com"),
        ("acme.squarespace.com", "acme.squarespace.com"),
        ("acme.weebly.com", "acme.weebly.com"),
        ("acme.webflow.io", "acme.webflow.io"),
        ("acme.carrd.co", "acme.carrd.co"),
        ("acme.notion.site", "acme.notion.site"),
        ("acme.herokuapp.com", "acme.herokuapp.com"),
        ("acme.netlify.app", "acme.netlify.app"),
        ("acme.vercel.app", "acme.vercel.app"),
        ("acme.wix.com", "acme.wix.com"),
    ],
)
def test_a_site_on_a_hosting_platform_is_keyed_by_its_subdomain(raw: str, key: str) -> None:
    assert account_domain(raw) == key


def test_two_pages_on_one_platform_are_two_keys() -> None:
    assert account_domain("facebook.com/josh.eidson3") != account_domain("facebook.com/jsefamily")
    assert account_domain("acme.wixsite.com") != account_domain("globex.wixsite.com")


@pytest.mark.parametrize(
    "raw",
    ["facebook.com", "https://www.facebook.com/", "linkedin.com", "linkedin.com/company",
     "x.com", "instagram.com", "wixsite.com", "www.wix.com", "myshopify.com", "github.io",
     "github.com", "sites.google.com", "yelp.com", "linktr.ee", "facebook.com/sharer.php"],
)  # fmt: skip
def test_a_bare_platform_host_is_no_key(raw: str) -> None:
    with pytest.raises(Unreadable, match="shared platform"):
        account_domain(raw)


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("https://www.Acme.io/pricing?x=1", "acme.io"),
        ("acme.com", "acme.com"),
        ("shop.acme.co.uk", "acme.co.uk"),
        ("google.com", "google.com"),  # Google's own site, not a Google Sites page
        ("https://www.google.com/about", "google.com"),
        ("facebookmarketing.com", "facebookmarketing.com"),
        ("notfacebook.com/acme", "notfacebook.com"),
    ],
)
def test_ordinary_websites_keep_their_registrable_domain(raw: str, key: str) -> None:
    assert account_domain(raw) == key


def test_the_platform_list_covers_the_common_social_and_hosting_hosts() -> None:
    expected = {
        "facebook.com", "fb.com", "linkedin.com", "x.com", "twitter.com", "instagram.com",
        "youtube.com", "tiktok.com", "sites.google.com", "wixsite.com", "wix.com",
        "myshopify.com", "github.io", "github.com", "gitlab.io", "wordpress.com",
        "blogspot.com", "medium.com", "substack.com", "squarespace.com", "weebly.com",
        "webflow.io", "carrd.co", "notion.site", "linktr.ee", "yelp.com", "angel.co",
        "crunchbase.com", "about.me", "herokuapp.com", "netlify.app", "vercel.app",
    }  # fmt: skip
    assert expected <= platform_hosts()


def test_work_emails_at_a_platform_company_still_name_that_company() -> None:
    # An address at facebook.com is an employee of the company that runs it.
    assert email_account_domain("jane@facebook.com") == "facebook.com"
