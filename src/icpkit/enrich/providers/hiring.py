"""Hiring signals from public job boards (keyless): each open role a dated
``signal:job_posting`` whose value is the role's function (SDR, AE, RevOps, ...), and the
tools its text names as ``tech`` evidence.

The board is found on the careers page (or the homepage): a link, an embed script or an
iframe on Greenhouse, Lever, Ashby, Workable or SmartRecruiters names the company's board
token. One GET to the board's documented public API lists the postings:

- Greenhouse ``GET boards-api.greenhouse.io/v1/boards/<token>/jobs?content=true``:
  ``{"jobs": [{title, absolute_url, updated_at, first_published, content (escaped HTML),
  departments: [{name}]}], "meta": {"total"}}``
- Lever ``GET api.lever.co/v0/postings/<company>?mode=json`` (``api.eu.lever.co`` for
  ``jobs.eu.lever.co``): ``[{text, hostedUrl, createdAt (ms), categories: {team,
  department}, descriptionPlain, lists: [{text, content}], additionalPlain}]``
- Ashby ``GET api.ashbyhq.com/posting-api/job-board/<name>?includeCompensation=false``:
  ``{"jobs": [{title, jobUrl, publishedAt, department, team, isListed, descriptionPlain}]}``
- Workable, the public widget API ``GET apply.workable.com/api/v1/widget/accounts/<sub>
  ?details=true``: ``{"name", "jobs": [{title, shortcode, url, department, published_on,
  created_at, description (HTML, with details=true)}]}``
- SmartRecruiters ``GET api.smartrecruiters.com/v1/companies/<Company>/postings?limit=100``:
  ``{"totalFound", "content": [{id, name, releasedDate, ref, department: {label},
  function: {label}}]}`` (the list carries no description: no tools are read from it, and
  only its first 100 postings are read).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import html
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from typing import Any

import yaml

from icpkit.config import EnrichSettings
from icpkit.enrich.context import Context
from icpkit.enrich.fetch import FetchError, Response
from icpkit.enrich.model import Lookup, Observation, Target
from icpkit.enrich.roles import function_of
from icpkit.enrich.site import Site
from icpkit.errors import IcpkitError

NO_BOARD = "no job board linked from the careers page"
TECH_CONFIDENCE = 0.6
POSTING_CONFIDENCE = 0.9


@dataclass(frozen=True)
class Board:
    """A company's board on one job-board service, and the page that linked it."""

    service: str  # greenhouse, lever, ashby, workable, smartrecruiters
    token: str
    linked_from: str
    eu: bool = False

    @property
    def label(self) -> str:
        return f"{_NAMES[self.service]} board {self.token!r}"

    def api(self, light: bool = False) -> tuple[str, dict[str, str]]:
        """The URL and query of the board's public postings API; ``light`` asks for less
        (no descriptions, or one page) when the full answer is over the size cap."""
        if self.service == "greenhouse":
            url = f"https://boards-api.greenhouse.io/v1/boards/{self.token}/jobs"
            return url, {} if light else {"content": "true"}
        if self.service == "lever":
            host = "api.eu.lever.co" if self.eu else "api.lever.co"
            query = {"mode": "json", "limit": "100"} if light else {"mode": "json"}
            return f"https://{host}/v0/postings/{self.token}", query
        if self.service == "ashby":
            url = f"https://api.ashbyhq.com/posting-api/job-board/{self.token}"
            return url, {"includeCompensation": "false"}
        if self.service == "workable":
            url = f"https://apply.workable.com/api/v1/widget/accounts/{self.token}"
            return url, {} if light else {"details": "true"}
        url = f"https://api.smartrecruiters.com/v1/companies/{self.token}/postings"
        return url, {"limit": "100"}


_NAMES = {
    "greenhouse": "Greenhouse",
    "lever": "Lever",
    "ashby": "Ashby",
    "workable": "Workable",
    "smartrecruiters": "SmartRecruiters",
}

_TOKEN = r"([A-Za-z0-9][A-Za-z0-9_.%-]*[A-Za-z0-9]|[A-Za-z0-9])"
# (service, substring that must be present, pattern whose last group is the token)
_BOARD_PATTERNS: tuple[tuple[str, str, re.Pattern[str]], ...] = (
    (
        "greenhouse",
        "greenhouse.io",
        re.compile(
            r"greenhouse\.io/embed/job_(?:board|app)(?:/js)?/?\?(?:[^\"'\s<>]*?[&;])?for=" + _TOKEN
        ),
    ),
    (
        "greenhouse",
        "greenhouse.io",
        re.compile(r"(?:boards|job-boards)\.greenhouse\.io/(?!embed\b)" + _TOKEN),
    ),
    ("greenhouse", "greenhouse.io", re.compile(r"boards-api\.greenhouse\.io/v1/boards/" + _TOKEN)),
    ("lever", "lever.co", re.compile(r"(?:jobs|api)\.(eu\.)?lever\.co/(?:v0/postings/)?" + _TOKEN)),
    ("ashby", "ashbyhq.com", re.compile(r"jobs\.ashbyhq\.com/(?!api\b)" + _TOKEN)),
    (
        "ashby",
        "ashbyhq.com",
        re.compile(r"api\.ashbyhq\.com/posting-api/job-board/" + _TOKEN),
    ),
    (
        "workable",
        "workable.com",
        re.compile(r"apply\.workable\.com/(?:api/v1/widget/accounts/)?(?!api\b|j\b)" + _TOKEN),
    ),
    (
        "smartrecruiters",
        "smartrecruiters.com",
        re.compile(r"(?:careers|jobs)\.smartrecruiters\.com/" + _TOKEN),
    ),
    (
        "smartrecruiters",
        "smartrecruiters.com",
        re.compile(r"api\.smartrecruiters\.com/v1/companies/" + _TOKEN),
    ),
)


def find_board(text: str, linked_from: str) -> Board | None:
    """The job board ``text`` (a page's HTML, or a URL) links or embeds; the earliest in
    the text wins when it names several.

    >>> find_board('<script src="https://boards.greenhouse.io/embed/job_board/js?for=acme">',
    ...            "https://acme.com/careers")
    Board(service='greenhouse', token='acme', linked_from='https://acme.com/careers', eu=False)
    >>> find_board('<a href="https://jobs.eu.lever.co/acme-gmbh/">Jobs</a>', "x").token
    'acme-gmbh'
    """
    best: tuple[int, Board] | None = None
    for service, needle, pattern in _BOARD_PATTERNS:
        if needle not in text:
            continue
        match = pattern.search(text)
        if match is None:
            continue
        eu = service == "lever" and bool(match.group(1))
        board = Board(service, match.group(match.lastindex or 0), linked_from, eu)
        if best is None or match.start() < best[0]:
            best = (match.start(), board)
    return best[1] if best is not None else None


def board_of(site: Site) -> Board | None:
    """The board of a crawled site: from the careers page first (its final URL, then its
    HTML), then the careers link the homepage gives, then the homepage itself."""
    careers = site.pages.get("careers")
    if careers is not None:
        board = find_board(careers.url, careers.url) or find_board(careers.html, careers.url)
        if board is not None:
            return board
    if (link := site.links.get("careers")) is not None:
        home_url = site.home.url if site.home is not None else link
        if (board := find_board(link, home_url)) is not None:
            return board
    if site.home is not None:
        return find_board(site.home.html, site.home.url)
    return None


# -- the boards' documented responses -----------------------------------------------------


@dataclass(frozen=True)
class Posting:
    """One open role as a board lists it; ``text`` is its description as plain text."""

    title: str
    url: str | None
    published: dt.datetime | None
    department: str | None = None
    text: str = ""


class BoardShapeError(IcpkitError, ValueError):
    """A board's answer that does not have its documented shape."""


_TAG = re.compile(r"<[^>]*>")


def plain(fragment: str) -> str:
    """HTML (escaped or not) as plain text: tags dropped, entities decoded.

    >>> plain("&lt;p&gt;Experience with &lt;b&gt;HubSpot&lt;/b&gt; &amp;amp; Salesforce&lt;/p&gt;")
    'Experience with HubSpot & Salesforce'
    """
    text = html.unescape(fragment)
    if "<" in text:
        text = html.unescape(_TAG.sub(" ", text))
    return " ".join(text.split())


def parse_date(value: Any) -> dt.datetime | None:
    """A posting's date as the boards write it (ISO 8601 text, a bare day, or milliseconds
    since the epoch), in UTC; None when absent or unreadable.

    >>> parse_date(1700000000000), parse_date("2024-03-01")
    (datetime.datetime(2023, 11, 14, 22, 13, 20, tzinfo=datetime.timezone.utc), \
datetime.datetime(2024, 3, 1, 0, 0, tzinfo=datetime.timezone.utc))
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        try:
            return dt.datetime.fromtimestamp(value / 1000, dt.UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC)


def _text(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _label(value: Any) -> str | None:
    """A department as a name, or as a ``{"name"|"label": ...}`` object."""
    if isinstance(value, Mapping):
        return _text(value.get("name")) or _text(value.get("label"))
    return _text(value)


def _items(data: Any, key: str | None, service: str) -> list[Mapping[str, Any]]:
    listed = data if key is None else data.get(key) if isinstance(data, Mapping) else None
    if not isinstance(listed, list):
        where = f"a {key!r} list" if key is not None else "a list of postings"
        raise BoardShapeError(f"{_NAMES[service]} answered without {where}")
    return [item for item in listed if isinstance(item, Mapping)]


def parse_greenhouse(data: Any) -> list[Posting]:
    """Greenhouse's ``jobs`` list; the day is ``first_published``, else ``updated_at``."""
    postings = []
    for job in _items(data, "jobs", "greenhouse"):
        if (title := _text(job.get("title"))) is None:
            continue
        departments = job.get("departments")
        department = (
            _label(departments[0]) if isinstance(departments, list) and departments else None
        )
        postings.append(
            Posting(
                title,
                _text(job.get("absolute_url")),
                parse_date(job.get("first_published")) or parse_date(job.get("updated_at")),
                department,
                plain(job["content"]) if isinstance(job.get("content"), str) else "",
            )
        )
    return postings


def parse_lever(data: Any) -> list[Posting]:
    """Lever's list of postings; the day is ``createdAt`` (milliseconds)."""
    postings = []
    for job in _items(data, None, "lever"):
        if (title := _text(job.get("text"))) is None:
            continue
        categories = job.get("categories")
        department = None
        if isinstance(categories, Mapping):
            department = _text(categories.get("department")) or _text(categories.get("team"))
        parts = [job.get("descriptionPlain"), job.get("additionalPlain")]
        lists = job.get("lists")
        if isinstance(lists, list):
            for entry in lists:
                if isinstance(entry, Mapping):
                    parts += [entry.get("text"), entry.get("content")]
        text = " ".join(plain(p) for p in parts if isinstance(p, str))
        postings.append(
            Posting(
                title,
                _text(job.get("hostedUrl")),
                parse_date(job.get("createdAt")),
                department,
                text,
            )
        )
    return postings


def parse_ashby(data: Any) -> list[Posting]:
    """Ashby's ``jobs`` list (unlisted jobs left out); the day is ``publishedAt``."""
    postings = []
    for job in _items(data, "jobs", "ashby"):
        if job.get("isListed") is False or (title := _text(job.get("title"))) is None:
            continue
        text = job.get("descriptionPlain") or job.get("descriptionHtml") or ""
        postings.append(
            Posting(
                title,
                _text(job.get("jobUrl")),
                parse_date(job.get("publishedAt")),
                _label(job.get("department")) or _label(job.get("team")),
                plain(text) if isinstance(text, str) else "",
            )
        )
    return postings


def parse_workable(data: Any) -> list[Posting]:
    """Workable's widget ``jobs`` list; the day is ``published_on``, else ``created_at``."""
    postings = []
    for job in _items(data, "jobs", "workable"):
        if (title := _text(job.get("title"))) is None:
            continue
        text = job.get("description")
        postings.append(
            Posting(
                title,
                _text(job.get("url")) or _text(job.get("shortlink")),
                parse_date(job.get("published_on")) or parse_date(job.get("created_at")),
                _label(job.get("department")),
                plain(text) if isinstance(text, str) else "",
            )
        )
    return postings


def parse_smartrecruiters(data: Any, company: str = "") -> list[Posting]:
    """SmartRecruiters' ``content`` list; the day is ``releasedDate``; the URL is the public
    posting page (``jobs.smartrecruiters.com/<Company>/<id>``), else the API ``ref``."""
    postings = []
    for job in _items(data, "content", "smartrecruiters"):
        if (title := _text(job.get("name"))) is None:
            continue
        ident = job.get("id")
        owner = job.get("company")
        if isinstance(owner, Mapping):
            company = _text(owner.get("identifier")) or company
        url = (
            f"https://jobs.smartrecruiters.com/{company}/{ident}"
            if company and isinstance(ident, str | int) and str(ident)
            else _text(job.get("ref"))
        )
        postings.append(
            Posting(
                title,
                url,
                parse_date(job.get("releasedDate")),
                _label(job.get("department")) or _label(job.get("function")),
            )
        )
    return postings


PARSERS: Mapping[str, Callable[[Any, Board], list[Posting]]] = {
    "greenhouse": lambda data, _board: parse_greenhouse(data),
    "lever": lambda data, _board: parse_lever(data),
    "ashby": lambda data, _board: parse_ashby(data),
    "workable": lambda data, _board: parse_workable(data),
    "smartrecruiters": lambda data, board: parse_smartrecruiters(data, board.token),
}


# -- tools named in posting texts -----------------------------------------------------------

# Tool names that are also everyday words: only counted when the text around them reads
# like a list of tools ('experience with', 'such as', another tool beside them).
_COMMON_WORDS = frozenset({
    "close", "drift", "front", "gong", "segment", "outreach", "loom", "notion", "apollo",
    "copper", "pipeline", "zoom", "slack", "intercom", "mode", "amplitude", "heap", "hotjar",
    "clay", "mutiny", "attention", "calendly", "monday", "sprout", "stripe", "kit", "convert",
    "square", "render", "ghost", "tally", "ada", "crisp", "qualified", "koala", "warmly",
    "paddle", "recharge", "sanity", "canny", "chameleon", "framer", "lever", "greenhouse",
    "affirm", "fathom", "clerk", "sentry", "ketch", "plausible", "astro", "hugo", "react",
    "angular", "common room",
})  # fmt: skip
_CUES = re.compile(
    r"experience (?:with|in|using)|familiar(?:ity)? with|knowledge of|proficien\w*|such as"
    r"|e\.g\.|including|tools?|stack|using|like|expert(?:ise)? (?:in|with)|(?:hands-on)",
    re.I,
)


_PUNCTUATION = ".,;:!?()[]{}<>\"'“”‘’«»*"


@lru_cache(maxsize=4096)
def _names_pattern(names: tuple[str, ...]) -> re.Pattern[str]:
    """Whole-word, case-sensitive alternation of ``names`` (longest first)."""
    body = "|".join(re.escape(n) for n in names)
    return re.compile(r"(?<![\w.-])(" + body + r")(?![\w-])")


class ToolMatcher:
    """Finds tool names (as written in the fingerprint file) in free text, by whole word
    and with their capitals; a name that is also an everyday word needs a tool context."""

    def __init__(self, names: Iterable[str]) -> None:
        self.names = tuple(sorted({n.strip() for n in names if n.strip()}, key=len, reverse=True))
        # Names by their first word: one set lookup per word of a text finds the few names
        # worth a regex (an alternation of 300 names costs ~0.5 ms per 4 KB posting).
        self.by_first: dict[str, list[str]] = {}
        for name in self.names:
            self.by_first.setdefault(name.split()[0], []).append(name)

    def find(self, text: str) -> list[str]:
        """The tools ``text`` names, each once, in the order they first appear.

        >>> ToolMatcher(["HubSpot", "Outreach", "Salesforce"]).find(
        ...     "Outreach is key. Experience with HubSpot, Salesforce and Outreach.")
        ['HubSpot', 'Salesforce', 'Outreach']
        """
        if not text:
            return []
        words = {w.strip(_PUNCTUATION) for w in text.replace("/", " ").split()}
        candidates = sorted(
            {n for w in words & self.by_first.keys() for n in self.by_first[w]},
            key=len,
            reverse=True,
        )
        if not candidates:
            return []
        pattern = _names_pattern(tuple(candidates))
        hits = [(m.group(1), m.start(), m.end()) for m in pattern.finditer(text)]
        found: dict[str, None] = {}
        for index, (name, start, end) in enumerate(hits):
            if name in found:
                continue
            if name.lower() in _COMMON_WORDS and not self._in_tool_context(
                text, hits, index, start, end
            ):
                continue
            found[name] = None
        return list(found)

    @staticmethod
    def _in_tool_context(
        text: str, hits: list[tuple[str, int, int]], index: int, start: int, end: int
    ) -> bool:
        for other, (name, o_start, o_end) in enumerate(hits):
            near = abs(o_start - end) <= 20 or abs(start - o_end) <= 20
            if other != index and name.lower() not in _COMMON_WORDS and near:
                return True
        return _CUES.search(text, max(0, start - 40), start) is not None


def tool_names(path: Any = None) -> list[str]:
    """The ``name`` of every tool in the fingerprint file (``enrich/fingerprints.yaml``);
    empty when the file is absent."""
    source = path or resources.files("icpkit.enrich").joinpath("fingerprints.yaml")
    try:
        text = source.read_text(encoding="utf-8")
    except (FileNotFoundError, OSError):
        return []
    names: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, Mapping):
            if isinstance(node.get("name"), str):
                names.append(node["name"])
            for value in node.values():
                if isinstance(value, Mapping | list):
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    # The C loader when libyaml is there: the file is large, and read once per run.
    walk(yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)))
    return names


@cache
def _default_matcher() -> ToolMatcher:
    return ToolMatcher(tool_names())


def observations(postings: Sequence[Posting], tools: ToolMatcher) -> list[Observation]:
    """One ``signal:job_posting`` per posting, and one ``tech`` per tool the postings
    name (the first posting naming it is the evidence)."""
    found: list[Observation] = []
    seen_tools: set[str] = set()
    for posting in postings:
        found.append(
            Observation(
                "signal:job_posting",
                function_of(posting.title),
                confidence=POSTING_CONFIDENCE,
                source_url=posting.url,
                raw=posting.title,
                evidence=posting.title,
                observed_at=posting.published,
            )
        )
        for tool in tools.find(posting.text):
            if tool in seen_tools:
                continue
            seen_tools.add(tool)
            found.append(
                Observation(
                    "tech",
                    tool,
                    confidence=TECH_CONFIDENCE,
                    source_url=posting.url,
                    raw=tool,
                    evidence=f'named in job posting "{posting.title}"',
                )
            )
    return found


# -- the provider ---------------------------------------------------------------------------


def _too_large(answer: Response | FetchError) -> bool:
    if isinstance(answer, FetchError):
        return answer.kind == "too_large"
    return answer.truncated


class HiringProvider:
    """Open roles by function and the tools they name, from the company's job board."""

    name = "hiring"
    fields = frozenset({"signal:job_posting", "tech"})
    cost = 0.0
    rate: float | None = None
    batch_size = 1
    ttl_days = 7.0
    keyless = True

    def __init__(
        self,
        settings: EnrichSettings,
        secrets: Mapping[str, str],
        tools: Iterable[str] | None = None,
    ) -> None:
        self.settings = settings
        self.tools = ToolMatcher(tools) if tools is not None else None

    async def lookup(self, targets: Sequence[Target], ctx: Context) -> list[Lookup]:
        return list(await asyncio.gather(*(self._one(target, ctx) for target in targets)))

    async def _ask(self, board: Board, ctx: Context, light: bool = False) -> Response | FetchError:
        """The board API's answer, or why it could not be had."""
        url, params = board.api(light)
        try:
            # Asked without its scheme, as the company's pages are: https first, plain http
            # only when no TLS answers (how a proxy or loopback server stands in for a board).
            bare = url.removeprefix("https://")
            return await ctx.fetcher.get(bare, params=params, robots=False)
        except FetchError as error:
            return error

    async def _one(self, target: Target, ctx: Context) -> Lookup:
        if not target.domain:
            return Lookup.of(target.account_key, [], "no domain to find a careers page on")
        site = await ctx.site(target.domain)
        board = board_of(site)
        if board is None:
            if site.home is None:
                reason = f"no website: {site.failures.get('home', 'not fetched')}"
                if site.lasting("home"):
                    return Lookup.of(target.account_key, [], reason)
                return Lookup.failed(target.account_key, reason)
            return Lookup.of(target.account_key, [], NO_BOARD)
        response = await self._ask(board, ctx)
        if _too_large(response) and board.api(light=True) != board.api():
            # A large board over the size cap: its postings without their texts.
            response = await self._ask(board, ctx, light=True)
        if isinstance(response, FetchError):
            return Lookup.failed(target.account_key, f"{board.label}: {response.reason}")
        if response.status in (404, 410):
            return Lookup.of(
                target.account_key, [], f"{board.label} not found (HTTP {response.status})"
            )
        if response.status >= 400:
            return Lookup.failed(
                target.account_key, f"{board.label} answered HTTP {response.status}"
            )
        if response.truncated:
            return Lookup.failed(
                target.account_key,
                f"{board.label}: answer larger than {self.settings.max_bytes} bytes "
                "(enrich.max_bytes)",
            )
        try:
            postings = PARSERS[board.service](response.json(), board)
        except FetchError as error:
            return Lookup.failed(target.account_key, f"{board.label}: {error.reason}")
        except BoardShapeError as error:
            return Lookup.failed(target.account_key, f"{board.label}: {error}")
        tools = self.tools if self.tools is not None else _default_matcher()
        return Lookup.of(
            target.account_key,
            observations(postings, tools),
            f"{board.label} lists no open roles",
        )
