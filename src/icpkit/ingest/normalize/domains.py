"""Reduce websites, URLs and email addresses to the company's registrable domain."""

from __future__ import annotations

import functools
import ipaddress
import re
from functools import cache

import tldextract

from icpkit.ingest.normalize import Unreadable
from icpkit.ingest.normalize.blanks import is_blank

FREE_EMAIL_DOMAINS: frozenset[str] = frozenset(
    {
        "gmail.com", "googlemail.com",
        "yahoo.com", "yahoo.co.uk", "yahoo.fr", "yahoo.de", "yahoo.es", "yahoo.it", "yahoo.ca",
        "yahoo.co.jp", "yahoo.co.in", "yahoo.com.au", "yahoo.com.br", "yahoo.com.mx",
        "ymail.com", "rocketmail.com",
        "hotmail.com", "hotmail.co.uk", "hotmail.fr", "hotmail.de", "hotmail.es", "hotmail.it",
        "outlook.com", "outlook.fr", "outlook.de", "live.com", "live.co.uk", "live.fr", "msn.com",
        "aol.com", "icloud.com", "me.com", "mac.com",
        "proton.me", "protonmail.com", "pm.me", "tutanota.com", "fastmail.com", "hushmail.com",
        "zohomail.com", "mail.com", "inbox.com",
        "gmx.com", "gmx.net", "gmx.de", "gmx.at", "gmx.ch", "web.de", "t-online.de",
        "orange.fr", "free.fr", "laposte.net", "libero.it", "seznam.cz", "wp.pl", "o2.pl",
        "interia.pl", "mail.ru", "yandex.ru", "yandex.com", "ya.ru", "rambler.ru",
        "qq.com", "163.com", "126.com", "sina.com", "naver.com", "daum.net", "rediffmail.com",
        "comcast.net", "verizon.net", "att.net", "sbcglobal.net", "bellsouth.net", "cox.net",
        "btinternet.com", "shaw.ca", "rogers.com", "bigpond.com",
    }
)  # fmt: skip
"""Consumer mailbox providers: an address there identifies a person, not their employer."""

_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://", re.I)
_HOST = re.compile(r"^[\w-]+(?:\.[\w-]+)+$")


@cache
def _extractor() -> tldextract.TLDExtract:
    """The suffix-list parser, built once from the bundled snapshot (never the network)."""
    return tldextract.TLDExtract(
        suffix_list_urls=(), cache_dir=None, include_psl_private_domains=True
    )


_BARE_DOMAIN = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.([a-z]{2,63})")


@functools.cache
def simple_suffixes() -> tuple[frozenset[str], frozenset[str]]:
    """Single-label public suffixes without wildcard rules, and every suffix (fast paths)."""
    every = frozenset(_extractor().tlds)
    wild = {s[2:] for s in every if s.startswith("*.")}
    single = frozenset(s for s in every if "." not in s and s not in wild)
    return single, every


@functools.lru_cache(maxsize=1 << 20)
def registrable_domain(raw: str) -> str | None:
    """Registrable domain of a website, URL or email: ``"https://www.Acme.io/x"`` → ``"acme.io"``.

    Private public-suffix entries count (``acme.github.io`` stays itself), so companies hosted
    on shared platforms are not merged. Unicode domains are returned lower-cased, not punycoded.
    """
    if (bare := _BARE_DOMAIN.fullmatch(raw)) is not None:
        # Most CRM domain columns already hold 'acme.io': one label on a public suffix.
        single, every = simple_suffixes()
        if bare.group(1) in single and raw not in every:
            return raw
    if is_blank(raw):
        return None
    host = _host(raw)
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        raise Unreadable(f"'{host}' is an IP address, not a domain")
    if not _HOST.match(host):
        raise Unreadable(f"no registrable domain in '{raw.strip()}'")
    parts = _extractor()(host)
    if not parts.suffix or not parts.domain:
        raise Unreadable(f"no registrable domain in '{raw.strip()}' (no public suffix)")
    return f"{parts.domain}.{parts.suffix}"


def _host(raw: str) -> str:
    """Pull the lower-cased host name out of a URL, bare domain or email address."""
    text = raw.strip()
    if text.lower().startswith("mailto:"):
        text = text[len("mailto:") :]
    text = _SCHEME.sub("", text)
    text = re.split(r"[/?#]", text, maxsplit=1)[0]
    text = text.rpartition("@")[2]
    if text.startswith("["):
        return text[1:].partition("]")[0].lower()
    return text.partition(":")[0].rstrip(".").lower()


def is_free_email_domain(domain: str) -> bool:
    """True for consumer mailbox domains such as ``gmail.com`` (see FREE_EMAIL_DOMAINS)."""
    return domain.lower() in FREE_EMAIL_DOMAINS


def email_account_domain(raw: str) -> str | None:
    """Company domain of an email address, or None for blanks and free-mail addresses.

    ``"jane@acme.com"`` → ``"acme.com"``; ``"jane@gmail.com"`` → None, because a personal
    mailbox says nothing about the company and would merge unrelated contacts into one account.
    """
    if is_blank(raw):
        return None
    local, at, _ = raw.strip().rpartition("@")
    if not at or not local:
        raise Unreadable(f"not an email address: '{raw.strip()}'")
    domain = registrable_domain(raw)
    if domain is None or is_free_email_domain(domain):
        return None
    return domain
