import pytest

from helpers import cases
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
    cases("domains", "websites_urls_and_emails_reduce_to_the_registrable_domain"),
)
def test_websites_urls_and_emails_reduce_to_the_registrable_domain(raw: str, domain: str) -> None:
    assert registrable_domain(raw) == domain


def test_companies_on_shared_hosting_platforms_stay_distinct() -> None:
    assert registrable_domain("https://acme.github.io/") == "acme.github.io"
    assert registrable_domain("https://other.github.io/") == "other.github.io"


@pytest.mark.parametrize("raw", cases("domains", "blank_cells_give_none"))
def test_blank_cells_give_none(raw: str) -> None:
    assert registrable_domain(raw) is None


@pytest.mark.parametrize(
    ("raw", "reason"),
    cases("domains", "values_without_a_registrable_domain_are_unreadable"),
)
def test_values_without_a_registrable_domain_are_unreadable(raw: str, reason: str) -> None:
    with pytest.raises(Unreadable, match=reason):
        registrable_domain(raw)


@pytest.mark.parametrize(
    "domain",
    cases("domains", "free_email_domains_include_the_big_consumer_providers"),
)  # fmt: skip
def test_free_email_domains_include_the_big_consumer_providers(domain: str) -> None:
    assert domain in FREE_EMAIL_DOMAINS


@pytest.mark.parametrize(
    ("raw", "domain"),
    cases("domains", "email_account_domain_skips_personal_mailboxes"),
)
def test_email_account_domain_skips_personal_mailboxes(raw: str, domain: str | None) -> None:
    assert email_account_domain(raw) == domain


@pytest.mark.parametrize(
    ("raw", "reason"),
    cases("domains", "email_account_domain_rejects_non_addresses"),
)  # fmt: skip
def test_email_account_domain_rejects_non_addresses(raw: str, reason: str) -> None:
    with pytest.raises(Unreadable, match=reason):
        email_account_domain(raw)


@pytest.mark.parametrize("value", cases("domains", "bare_public_suffixes_are_not_company_domains"))
def test_bare_public_suffixes_are_not_company_domains(value: str) -> None:
    # The fast path for already-clean 'name.tld' values must not accept a suffix itself.
    with pytest.raises(Unreadable):
        registrable_domain(value)


@pytest.mark.parametrize(
    "value", cases("domains", "clean_domains_are_their_own_registrable_domain")
)
def test_clean_domains_are_their_own_registrable_domain(value: str) -> None:
    assert registrable_domain(value) == value


# --- Account keys from websites: shared platforms never key an account by their host ----


@pytest.mark.parametrize(
    ("raw", "key"),
    cases("domains", "a_page_on_a_social_or_profile_platform_is_its_own_key"),
)
def test_a_page_on_a_social_or_profile_platform_is_its_own_key(raw: str, key: str) -> None:
    assert account_domain(raw) == key


@pytest.mark.parametrize(
    ("raw", "key"),
    cases("domains", "a_site_on_a_hosting_platform_is_keyed_by_its_subdomain"),
)
def test_a_site_on_a_hosting_platform_is_keyed_by_its_subdomain(raw: str, key: str) -> None:
    assert account_domain(raw) == key


def test_two_pages_on_one_platform_are_two_keys() -> None:
    assert account_domain("facebook.com/josh.eidson3") != account_domain("facebook.com/jsefamily")
    assert account_domain("acme.wixsite.com") != account_domain("globex.wixsite.com")


@pytest.mark.parametrize(
    "raw",
    cases("domains", "a_bare_platform_host_is_no_key"),
)  # fmt: skip
def test_a_bare_platform_host_is_no_key(raw: str) -> None:
    with pytest.raises(Unreadable, match="shared platform"):
        account_domain(raw)


@pytest.mark.parametrize(
    ("raw", "key"),
    cases("domains", "ordinary_websites_keep_their_registrable_domain"),
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
