"""Reduce websites, URLs and email addresses to the company's registrable domain."""

from __future__ import annotations

import functools
import ipaddress
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any
from urllib.parse import parse_qs

import tldextract
import yaml

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

    >>> registrable_domain("https://www.Acme.co.uk/pricing?x=1")
    'acme.co.uk'
    >>> registrable_domain("jane@sales.acme.io"), registrable_domain("acme.github.io")
    ('acme.io', 'acme.github.io')
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


@dataclass(frozen=True)
class Platform:
    """A shared host (social network, site builder) whose name alone is no company's key."""

    host: str
    subdomain: bool
    path: bool
    prefixes: frozenset[str]
    only_with_prefix: bool


@cache
def platforms() -> dict[str, Platform]:
    """Every platform host and alias → its platform, loaded once from ``platforms.yaml``."""
    source = resources.files(__package__).joinpath("platforms.yaml").read_text("utf-8")
    data: dict[str, Any] = yaml.load(source, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    table: dict[str, Platform] = {}
    for item in data["platforms"]:
        platform = Platform(
            host=str(item["host"]),
            subdomain=bool(item.get("subdomain", False)),
            path=bool(item.get("path", False)),
            prefixes=frozenset(str(p).casefold() for p in item.get("prefixes", [])),
            only_with_prefix=bool(item.get("only_with_prefix", False)),
        )
        for host in (platform.host, *item.get("aliases", [])):
            if table.setdefault(str(host), platform) is not platform:
                raise ValueError(f"platform host {host!r} is listed twice")
    return table


def platform_hosts() -> frozenset[str]:
    """The hosts (and aliases) of every shared platform, for the SQL fast path."""
    return frozenset(platforms())


_LEADING_LABELS = ("www.", "m.", "mobile.", "web.", "business.")


def _platform_of(host: str) -> tuple[str, Platform] | None:
    """The platform host ``host`` is on (the longest match, so sites.google.com beats
    google.com) and the platform, or None for an ordinary host."""
    table = platforms()
    labels = host.split(".")
    for i in range(len(labels) - 1):
        candidate = ".".join(labels[i:])
        if candidate in table:
            return candidate, table[candidate]
    return None


def account_domain(raw: str) -> str | None:
    """The account key a website names: its registrable domain, except on shared platforms.

    ``"https://www.acme.io/x"`` → ``"acme.io"``; ``"facebook.com/JSEFamily"`` →
    ``"facebook.com/jsefamily"`` (a page is an identifier of its own); ``"acme.wixsite.com"``
    → ``"acme.wixsite.com"`` (the subdomain is the site). A platform's bare host
    (``"facebook.com"``) names no company: Unreadable, so the account falls back to its name.

    >>> account_domain("https://www.facebook.com/JSEFamily/")
    'facebook.com/jsefamily'
    >>> account_domain("https://acme.myshopify.com/collections/all")
    'acme.myshopify.com'
    """
    if (bare := _BARE_DOMAIN.fullmatch(raw)) is not None and raw not in platforms():
        single, every = simple_suffixes()
        if bare.group(1) in single and raw not in every:
            return raw
    if is_blank(raw):
        return None
    host = _host(raw)
    found = _platform_of(host)
    if found is None:
        return registrable_domain(raw)
    matched, platform = found
    sub = host[: -len(matched)].rstrip(".")
    for label in _LEADING_LABELS:
        if sub + "." == label:
            sub = ""
    if platform.subdomain and sub:
        return f"{sub.rsplit('.', 1)[-1]}.{platform.host}"
    segments, query = _path_of(raw)
    if platform.path:
        profile = _profile(platform, segments, query)
        if profile is not None:
            return f"{platform.host}/{profile}"
        if platform.only_with_prefix:
            return registrable_domain(raw)
    raise Unreadable(
        f"'{raw.strip()}' is a shared platform ({platform.host}), not the company's own "
        "website; the account is matched by its other keys"
    )


def _path_of(raw: str) -> tuple[list[str], str]:
    """Lower-cased path segments and the query string of a URL or bare host/path."""
    text = _SCHEME.sub("", raw.strip())
    rest = text.split("/", 1)[1] if "/" in text else ""
    path, _, query = rest.partition("?")
    path = path.partition("#")[0]
    return [s for s in path.casefold().split("/") if s], query.partition("#")[0]


_NOT_PROFILES = frozenset(
    {"home", "login", "share", "sharer", "sharer.php", "search", "explore", "hashtag",
     "watch", "intent", "settings", "help", "about", "legal", "privacy", "terms", "feed"}
)  # fmt: skip


def _profile(platform: Platform, segments: list[str], query: str) -> str | None:
    """The profile part of a path on a platform (``"company/acme"``), or None."""
    if not segments:
        return None
    first = segments[0]
    if first in platform.prefixes:
        return f"{first}/{segments[1]}" if len(segments) > 1 else None
    if platform.only_with_prefix or first in _NOT_PROFILES:
        return None
    if first.endswith(".php"):
        # facebook.com/profile.php?id=100012345: the id is the profile.
        ids = parse_qs(query).get("id")
        return f"{first}?id={ids[0]}" if ids else None
    return first
