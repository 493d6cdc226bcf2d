"""A company's website as one run fetched it: the homepage and the standard pages it links
to (about, careers, pricing), fetched once and shared by every provider that reads them
(website facts, technographics, hiring, research).

Requests per domain stay few: the homepage, then at most one page of each kind, found
among the homepage's links; a careers page the homepage does not link gets one guess at
its usual path. A careers link that points straight at a job board is kept (``Site.links``) but not
fetched: the hiring provider asks the board's API instead.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import NamedTuple
from urllib.parse import urljoin

from selectolax.lexbor import LexborHTMLParser

from icpkit.enrich.fetch import Fetcher, FetchError
from icpkit.ingest.normalize import Unreadable
from icpkit.ingest.normalize.domains import registrable_domain

KINDS: tuple[str, ...] = ("about", "careers", "pricing")
"""The standard pages fetched besides the homepage, in the order they are looked for."""

GUESSES: Mapping[str, str] = {"careers": "/careers"}
"""The one path tried when the homepage links no careers page (hiring needs it; an about
or pricing page the homepage does not link is not worth a request per domain)."""

JOB_BOARD_HOSTS: frozenset[str] = frozenset(
    {
        "boards.greenhouse.io",
        "job-boards.greenhouse.io",
        "jobs.lever.co",
        "jobs.eu.lever.co",
        "jobs.ashbyhq.com",
        "apply.workable.com",
        "careers.smartrecruiters.com",
        "jobs.smartrecruiters.com",
    }
)
"""Hosts of the job boards whose public APIs the hiring provider reads."""

# Words that name each kind of page in a link's path or its text (English first, then the
# languages of most B2B sites). A path segment matching counts more than the link's text.
_WORDS: Mapping[str, str] = {
    "about": r"about(?:[-_ ]?us)?|company|who[-_ ]we[-_ ]are|our[-_ ]story|ueber[-_ ]uns"
    r"|über[-_ ]uns|unternehmen|a[-_ ]propos|à[-_ ]propos|qui[-_ ]sommes[-_ ]nous"
    r"|sobre(?:[-_ ]nosotros)?|quienes[-_ ]somos|quiénes[-_ ]somos|chi[-_ ]siamo"
    r"|over[-_ ]ons|om[-_ ]oss",
    "careers": r"careers?|jobs?|join(?:[-_ ]us|[-_ ]our[-_ ]team)?|work[-_ ]with[-_ ]us"
    r"|we(?:['’]|[-_ ])?re[-_ ]hiring|hiring|open[-_ ](?:positions|roles)|karriere"
    r"|stellenangebote|jobs?[-_ ]und[-_ ]karriere"
    r"|emplois?|carri[eè]res?|recrutement|rejoignez[-_ ]nous|empleo|trabaja[-_ ]con[-_ ]nosotros"
    r"|carreras?|lavora[-_ ]con[-_ ]noi|carriere|vacatures|werken[-_ ]bij|vagas|carreiras",
    "pricing": r"pricing|prices|plans(?:[-_ ]and[-_ ]pricing)?|preise|tarifs?|precios"
    r"|prezzi|prijzen|pre[cç]os",
}
# One pattern per place, a named group per kind: each link is searched once, not per kind.
_PATH_WORD = re.compile(
    r"(?:^|/)(?:"
    + "|".join(f"(?P<{kind}>{words})" for kind, words in _WORDS.items())
    + r")(?:\.html?|\.php)?$",
    re.I,
)
_TEXT_WORD = re.compile(
    r"^\W*(?:"
    + "|".join(f"(?P<{kind}>{words.replace('[-_ ]', '[ -]')})" for kind, words in _WORDS.items())
    + r")\W*$",
    re.I,
)


LASTING_FAILURES: frozenset[str] = frozenset(
    {"missing", "not_linked", "dns", "forbidden", "robots", "invalid"}
)
"""Failure kinds a later run would meet again (see :meth:`Site.lasting`)."""


class Link(NamedTuple):
    """One ``<a href>`` of a page: the absolute URL and the link's text."""

    url: str
    text: str


@dataclass(frozen=True)
class Page:
    """One fetched page: which standard page it is ('home', 'about', 'careers',
    'pricing'), its final URL, status, headers (lower-case names), cookie names set, HTML."""

    kind: str
    url: str
    status: int
    headers: Mapping[str, str]
    cookies: tuple[str, ...]
    html: str
    fetched_at: dt.datetime

    @cached_property
    def tree(self) -> LexborHTMLParser:
        """The page parsed once, shared by every provider that reads it."""
        return LexborHTMLParser(self.html)

    @cached_property
    def links(self) -> tuple[Link, ...]:
        """Every http(s) link of the page, absolute, in document order."""
        return links_of(self.tree, self.url)


@dataclass
class Site:
    """A domain's pages; ``failures`` says, per page that could not be had, why;
    ``failure_kinds`` classifies it (a FetchError kind, 'missing' for a 4xx answer,
    'unavailable' for a 5xx or 429 answer, 'not_linked' when no page of that kind was
    linked nor found at its usual path); ``links`` holds the URL of each standard page the
    homepage links (fetched or not)."""

    domain: str
    pages: dict[str, Page] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    failure_kinds: dict[str, str] = field(default_factory=dict)
    links: dict[str, str] = field(default_factory=dict)

    @property
    def home(self) -> Page | None:
        return self.pages.get("home")

    def lasting(self, kind: str = "home") -> bool:
        """Whether page ``kind`` failed for a reason a retry would not change (a 4xx, no
        such host, a forbidden address, robots.txt), so a provider misses rather than fails."""
        return self.failure_kinds.get(kind) in LASTING_FAILURES

    def fail(self, kind: str, how: str, reason: str) -> None:
        """Record why page ``kind`` could not be had."""
        self.failures[kind] = reason
        self.failure_kinds[kind] = how


async def crawl(domain: str, fetcher: Fetcher) -> Site:
    """Fetch ``domain``'s homepage, then the about, careers and pricing pages it links to
    (and /careers when it links none), at most one of each."""
    site = Site(domain)
    home = await _fetch(site, "home", domain, fetcher)
    if home is None:
        return site
    wanted: list[tuple[str, str, bool]] = []
    for kind, url in choose_links(home.links, domain, host_and_path(home.url)[0]).items():
        site.links[kind] = url
        if kind == "careers" and is_job_board(url):
            continue  # the board's API is read instead of its HTML
        wanted.append((kind, url, False))
    base = home.url if home.url.startswith("http") else f"https://{domain}/"
    for kind in GUESSES:
        if kind not in site.links:
            wanted.append((kind, urljoin(base, GUESSES[kind]), True))
    await asyncio.gather(*(_fetch(site, kind, url, fetcher, guess) for kind, url, guess in wanted))
    return site


async def _fetch(
    site: Site, kind: str, url: str, fetcher: Fetcher, guessed: bool = False
) -> Page | None:
    """Fetch one page into ``site``; a failure is recorded, never raised."""
    try:
        response = await fetcher.get(url)
    except FetchError as error:
        guess = f"the homepage links no {kind} page and {url}: " if guessed else ""
        site.fail(kind, error.kind, guess + error.reason)
        return None
    if response.status >= 400:
        if guessed:
            site.fail(
                kind,
                "not_linked",
                f"the homepage links no {kind} page and {response.url} answered HTTP "
                f"{response.status}",
            )
        else:
            how = "unavailable" if response.status >= 500 or response.status == 429 else "missing"
            site.fail(kind, how, f"{response.url} answered HTTP {response.status}")
        return None
    page = Page(
        kind=kind,
        url=response.url,
        status=response.status,
        headers=response.headers,
        cookies=response.cookies,
        html=response.text,
        fetched_at=dt.datetime.now(dt.UTC),
    )
    site.pages[kind] = page
    return page


def links_of(tree: LexborHTMLParser, base_url: str) -> tuple[Link, ...]:
    """The http(s) links of a parsed page, made absolute against ``base_url``.

    >>> links_of(LexborHTMLParser('<a href="/jobs">Jobs</a><a href="mailto:x@y.z">m</a>'),
    ...          "https://acme.com/")
    (Link(url='https://acme.com/jobs', text='Jobs'),)
    """
    scheme, _, rest = base_url.partition("://")
    origin = f"{scheme}://{rest.split('/', 1)[0]}"
    found: list[Link] = []
    for node in tree.css("a[href]"):
        href = (node.attributes.get("href") or "").strip()
        if not href or href.startswith(("#", "mailto:", "tel:", "javascript:")):
            continue
        # The usual forms made absolute by hand: urljoin costs more than parsing the page.
        if href.startswith(("https://", "http://")):
            url = href
        elif href.startswith("//"):
            url = f"{scheme}:{href}"
        elif href.startswith("/"):
            url = origin + href
        else:
            url = urljoin(base_url, href)
            if not url.startswith(("http://", "https://")):
                continue
        found.append(Link(url, " ".join(node.text(deep=True).split())))
    return tuple(found)


def host_and_path(url: str) -> tuple[str, str]:
    """The lower-case host and the path of an absolute http(s) URL, without urlsplit's cost.

    >>> host_and_path("https://user@Jobs.Lever.co:443/acme/?x=1#top")
    ('jobs.lever.co', '/acme/')
    """
    rest = url.partition("://")[2]
    cut = len(rest)
    for mark in "/?#":
        at = rest.find(mark)
        if at != -1 and at < cut:
            cut = at
    netloc, tail = rest[:cut], rest[cut:]
    host = netloc.rpartition("@")[2]
    host = host.partition("]")[0] + "]" if host.startswith("[") else host.partition(":")[0]
    path = tail
    for mark in "?#":
        path = path.partition(mark)[0]
    return host.lower(), path


def choose_links(links: tuple[Link, ...], domain: str, also: str | None = None) -> dict[str, str]:
    """Per kind, the URL of the homepage link that best names it: on the site's own
    registrable domain (or, for careers, a job board); a path naming the kind beats a text
    naming it; the first such link wins a tie. ``also`` is a second host whose domain
    counts as the site's (where the homepage redirected to).

    >>> choose_links((Link("https://acme.com/company", "Who we are"),
    ...               Link("https://jobs.lever.co/acme", "Jobs"),
    ...               Link("https://other.com/pricing", "Pricing")), "acme.com")
    {'about': 'https://acme.com/company', 'careers': 'https://jobs.lever.co/acme'}
    """
    owns = {site_domain(domain)} | ({site_domain(also)} if also else set())
    best: dict[str, tuple[int, str]] = {}
    for url, text in links:
        host, path = host_and_path(url)
        on_site = any(host == own or host.endswith("." + own) for own in owns)
        board = host in JOB_BOARD_HOSTS and len(path) > 1
        if not on_site and not board:
            continue
        if board:
            kind, score = "careers", 3
        elif (match := _PATH_WORD.search(path.rstrip("/"))) is not None:
            kind, score = str(match.lastgroup), 2
        elif len(text) < 40 and (match := _TEXT_WORD.match(text)) is not None:
            kind, score = str(match.lastgroup), 1
        else:
            continue
        if score > best.get(kind, (0, ""))[0]:
            best[kind] = (score, url)
    return {kind: best[kind][1] for kind in KINDS if kind in best}


def site_domain(host: str) -> str:
    """The registrable domain of ``host`` ('www.acme.co.uk' -> 'acme.co.uk'), or the host
    itself when it has none (an intranet name, a test host).

    >>> site_domain("www.acme.co.uk"), site_domain("partner.example")
    ('acme.co.uk', 'partner.example')
    """
    try:
        return registrable_domain(host) or host.lower()
    except Unreadable:
        return host.lower()


def is_job_board(url: str) -> bool:
    """Whether ``url`` is a company's board on a job board whose API the hiring provider
    reads (a host of :data:`JOB_BOARD_HOSTS` and a path naming the company)."""
    host, path = host_and_path(url)
    return host in JOB_BOARD_HOSTS and len(path) > 1
