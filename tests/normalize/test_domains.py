import pytest

from icpkit.ingest.normalize import Unreadable
from icpkit.ingest.normalize.domains import (
    FREE_EMAIL_DOMAINS,
    email_account_domain,
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
