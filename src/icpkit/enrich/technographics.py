"""Technographics: which tools a company runs, read from its website and DNS records.

icpkit's own fingerprint file (``fingerprints.yaml``, beside this module) names each tool
with the patterns that show it: script sources, HTML, meta tags, cookie names, response
headers, DNS TXT strings and MX hosts. A folder in the Wappalyzer format can be loaded
beside it (``enrich.fingerprints`` in ``icp.yaml``).

Matching is built for speed (a bench enriches hundreds of domains a second): each page is
lowered once, every pattern's required literal text is found in one pass of a single
prefix-tree regex, and only the patterns whose literal occurs are run.

>>> from icpkit.enrich.site import Page
>>> import datetime as dt
>>> page = Page("home", "https://acme.example/", 200, {}, (),
...             '<script src="https://js.hs-scripts.com/123.js"></script>',
...             dt.datetime(2026, 1, 1))
>>> [d.tool for d in match([page])]
['HubSpot']
"""

from __future__ import annotations

import functools
import html as htmllib
import json
import logging
import re
import re._constants as sre_constants
import re._parser as sre_parse
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from icpkit.config import EnrichSettings
from icpkit.enrich.context import Context
from icpkit.enrich.dns import Records
from icpkit.enrich.model import Lookup, Observation, Target
from icpkit.enrich.site import Page
from icpkit.errors import IcpkitError

log = logging.getLogger(__name__)

BUILTIN = Path(__file__).with_name("fingerprints.yaml")

CATEGORIES: tuple[str, ...] = (
    "crm",
    "marketing automation",
    "sales engagement",
    "chat",
    "support",
    "analytics",
    "product adoption",
    "cdp",
    "abm",
    "data enrichment",
    "tag manager",
    "a/b testing",
    "advertising",
    "scheduling",
    "payments",
    "ecommerce",
    "cms",
    "web framework",
    "forms",
    "video",
    "interactive demo",
    "reviews",
    "consent",
    "hosting",
    "cdn",
    "email",
    "identity",
    "security",
    "error monitoring",
    "collaboration",
    "recruiting",
    "search",
    "accessibility",
    "status page",
)
"""The categories of icpkit's own fingerprints (a Wappalyzer folder brings its own)."""

PATTERN_KINDS = ("script_src", "html", "meta", "cookies", "headers", "dns_txt", "mx")
EXAMPLE_KINDS = ("script_src", "html", "meta", "cookie", "header", "dns_txt", "mx")
_TOOL_KEYS = {"name", "category", "website", "example", "implies", *PATTERN_KINDS}
_KIND_LABEL = {
    "script_src": "script src",
    "html": "html",
    "meta": "meta",
    "cookies": "cookie",
    "headers": "header",
    "dns_txt": "TXT",
    "mx": "MX",
}
_MIN_LITERAL = 3  # shorter literals would send nearly every page to the full regex
_EVIDENCE_CHARS = 100


@dataclass(frozen=True)
class Example:
    """One realistic sample of a tool, as its fingerprint's ``example`` gives it: what a
    page, its response or its DNS records hold when the tool is present. The demo's
    generated websites embed these; the tests check each is matched by its own tool."""

    script_src: str | None = None
    html: str | None = None
    meta: tuple[str, str] | None = None
    cookie: str | None = None
    header: tuple[str, str] | None = None
    dns_txt: str | None = None
    mx: str | None = None

    def snippet(self) -> str:
        """The HTML to put in a page (meta tag, script tag, raw HTML), '' when none."""
        parts = []
        if self.meta:
            name, content = (htmllib.escape(v) for v in self.meta)
            parts.append(f'<meta name="{name}" content="{content}">')
        if self.script_src:
            parts.append(f'<script src="{htmllib.escape(self.script_src)}" async></script>')
        if self.html:
            parts.append(self.html)
        return "\n".join(parts)

    @property
    def headers(self) -> dict[str, str]:
        return {self.header[0]: self.header[1]} if self.header else {}

    @property
    def cookies(self) -> tuple[str, ...]:
        return (self.cookie,) if self.cookie else ()

    @property
    def records(self) -> Records:
        return Records(
            txt=(self.dns_txt,) if self.dns_txt else (), mx=(self.mx,) if self.mx else ()
        )


@dataclass(frozen=True)
class Tool:
    """One fingerprinted tool: its name, category, vendor site, sample, and the tools its
    presence implies (with the confidence of the implication), requires or excludes."""

    name: str
    category: str
    website: str | None = None
    example: Example | None = None
    implies: tuple[tuple[str, float], ...] = ()
    requires: tuple[str, ...] = ()
    excludes: tuple[str, ...] = ()
    source: str = "icpkit"


@dataclass(frozen=True)
class Detection:
    """A tool seen on a page or in DNS: ``evidence`` is the matched text, short
    (``script src https://js.hs-scripts.com/123.js``), ``source_url`` the page's URL or
    ``dns:TXT acme.com``."""

    tool: str
    category: str
    evidence: str
    source_url: str
    confidence: float
    version: str | None = None


@dataclass(frozen=True)
class _Pattern:
    tool: str
    kind: str
    key: str | None  # the header or meta name
    source: str
    regex: re.Pattern[str]
    confidence: float
    version: str | None
    literals: frozenset[str] | None  # one of these occurs in any text the regex matches


@dataclass(frozen=True)
class _Hit:
    tool: str
    confidence: float
    evidence: str
    source_url: str
    version: str | None


class _Bank:
    """Patterns of one kind, prefiltered by their required literals, so that a page costs
    one fast scan rather than one search per pattern.

    Each literal is cut at its rarest punctuation character (``js.hs-scripts.com`` ->
    ``js.hs`` + ``-scripts.com``): a prefix-tree regex of the tails can then skip every
    letter of the text in C, and a tail found is kept when its head precedes it. The scan
    reports the longest tail at a position, and every tail that is a prefix of it; it
    restarts one character later, so overlapping literals are all found. Literals without
    punctuation are looked up directly (or by a second tree when there are many).
    """

    def __init__(self, patterns: Sequence[_Pattern]) -> None:
        self.patterns = tuple(patterns)
        self._always = tuple(i for i, p in enumerate(self.patterns) if p.literals is None)
        self._owners: dict[str, list[int]] = {}
        for i, p in enumerate(self.patterns):
            for literal in p.literals or ():
                self._owners.setdefault(literal, []).append(i)
        cut: dict[str, list[tuple[str, str]]] = {}
        plain: list[str] = []
        for literal in self._owners:
            k = _cut(literal)
            if k is None:
                plain.append(literal)
            else:
                cut.setdefault(literal[k:], []).append((literal[:k], literal))
        self._tails = {
            tail: tuple(hl for k in range(1, len(tail) + 1) for hl in cut.get(tail[:k], ()))
            for tail in cut
        }
        self._scan = re.compile(_trie(sorted(cut))) if cut else None
        self._plain = tuple(sorted(plain))
        self._plain_prefixes = {
            word: tuple(word[:k] for k in range(_MIN_LITERAL, len(word) + 1) if word[:k] in plain)
            for word in plain
        }
        self._plain_scan = re.compile(_trie(self._plain)) if len(plain) > 32 else None

    def candidates(self, text: str) -> list[_Pattern]:
        """The patterns that may match ``text`` (lowered), in file order."""
        found: set[str] = set()
        scan = self._scan
        if scan is not None:
            tails = self._tails
            pos = 0
            while (m := scan.search(text, pos)) is not None:
                at = m.start()
                for head, literal in tails[m.group()]:
                    if not head or (at >= len(head) and text.startswith(head, at - len(head))):
                        found.add(literal)
                pos = at + 1
        if self._plain_scan is not None:
            pos = 0
            while (m := self._plain_scan.search(text, pos)) is not None:
                found.update(self._plain_prefixes[m.group()])
                pos = m.start() + 1
        else:
            found.update(word for word in self._plain if word in text)
        ids = set(self._always)
        for literal in found:
            ids.update(self._owners[literal])
        return [self.patterns[i] for i in sorted(ids)]

    def search(self, items: Sequence[str]) -> Iterator[tuple[_Pattern, int, re.Match[str]]]:
        """Each pattern's first match among ``items`` (lowered), with the item's index."""
        if not items or not self.patterns:
            return
        joined = items[0] if len(items) == 1 else "\n".join(items)
        for pattern in self.candidates(joined):
            for index, item in enumerate(items):
                m = pattern.regex.search(item)
                if m is not None:
                    yield pattern, index, m
                    break


# Punctuation from the rarest in HTML to the commonest: a literal is cut at its rarest.
_RARITY = "([?_!@$&+*#%,';:-.=/\"<> "
_COMMON_TAILS = (".com", ".net", ".org", ".io", ".co", ".js", ".css", ".min", "/")


def _cut(literal: str) -> int | None:
    """Where to cut ``literal`` so its tail starts at a rare punctuation character and is
    more than a common tail ('.com/', '.js'); None when it has no such place."""
    best: tuple[tuple[int, int], int] | None = None
    for k, ch in enumerate(literal):
        if ch.isalnum() or len(literal) - k < 3:
            continue
        common = next((c for c in _COMMON_TAILS if literal.startswith(c, k)), "")
        if common and len(literal) - k - len(common) < 3:
            continue  # '.com/' alone would stop the scan all over a page
        key = (_RARITY.find(ch), k)
        if best is None or key < best[0]:
            best = (key, k)
    return best[1] if best else None


class Fingerprints:
    """A set of tools and their compiled patterns; ``problems`` lists what could not be
    loaded (file, tool, pattern, why), ``notes`` what was loaded only in part."""

    def __init__(
        self,
        tools: Mapping[str, Tool],
        patterns: Sequence[_Pattern],
        problems: Sequence[str] = (),
        notes: Sequence[str] = (),
    ) -> None:
        self.tools = dict(tools)
        self.problems = tuple(problems)
        self.notes = tuple(notes)
        self._patterns = tuple(patterns)
        by_kind: dict[str, list[_Pattern]] = {kind: [] for kind in PATTERN_KINDS}
        keyed: dict[str, dict[str, list[_Pattern]]] = {"meta": {}, "headers": {}}
        for p in self._patterns:
            if p.kind in keyed:
                keyed[p.kind].setdefault(p.key or "", []).append(p)
            else:
                by_kind[p.kind].append(p)
        self._script = _Bank(by_kind["script_src"])
        self._html = _Bank(by_kind["html"])
        self._cookies = _Bank(by_kind["cookies"])
        self._txt = _Bank(by_kind["dns_txt"])
        self._mx = _Bank(by_kind["mx"])
        self._meta = {name: _Bank(ps) for name, ps in keyed["meta"].items()}
        self._headers = {name: _Bank(ps) for name, ps in keyed["headers"].items()}

    def __len__(self) -> int:
        return len(self.tools)

    def match(
        self, pages: Iterable[Page], records: Records | None = None, *, domain: str | None = None
    ) -> list[Detection]:
        """The tools ``pages`` and ``records`` show, one Detection per tool (its most
        confident evidence, the earliest page on a tie; the first version any evidence
        gave), with the tools they imply, by name."""
        hits: list[_Hit] = []
        for page in pages:
            hits.extend(self._page_hits(page))
        if records is not None:
            hits.extend(self._dns_hits(records, domain or ""))
        best: dict[str, _Hit] = {}
        versions: dict[str, str] = {}
        for hit in hits:
            seen = best.get(hit.tool)
            if seen is None or hit.confidence > seen.confidence:
                best[hit.tool] = hit
            if hit.version and hit.tool not in versions:
                versions[hit.tool] = hit.version
        self._imply(best)
        self._constrain(best)
        return [
            Detection(
                tool=name,
                category=self.tools[name].category,
                evidence=hit.evidence,
                source_url=hit.source_url,
                confidence=round(hit.confidence, 3),
                version=hit.version or versions.get(name),
            )
            for name, hit in sorted(best.items())
        ]

    def _page_hits(self, page: Page) -> Iterator[_Hit]:
        text = page.html or ""
        low = text.lower()
        # Evidence quotes the page as written when lowering kept every offset.
        orig = text if len(low) == len(text) else low
        url = page.url
        for pattern, _, m in self._html.search([low]):
            yield _hit(pattern, m, _short(orig[m.start() : m.end()]), url)
        srcs = [(s, e) for s, e in _script_srcs(low)]
        if srcs:
            lowered = [_unescape(low[s:e]) for s, e in srcs]
            for pattern, i, m in self._script.search(lowered):
                s, e = srcs[i]
                yield _hit(pattern, m, _short(_unescape(orig[s:e])), url)
        if self._meta and "<meta" in low:
            for name, spans in _metas(low).items():
                bank = self._meta.get(name)
                if bank is None:
                    continue
                contents = [_unescape(low[s:e]) for s, e in spans]
                for pattern, i, m in bank.search(contents):
                    s, e = spans[i]
                    yield _hit(pattern, m, _short(f"{name}: {_unescape(orig[s:e])}"), url)
        for name, value in page.headers.items():
            bank = self._headers.get(name.lower())
            if bank is not None:
                for pattern, _, m in bank.search([value.lower()]):
                    yield _hit(pattern, m, _short(f"{name.lower()}: {value}"), url)
        if page.cookies:
            names = [c.lower() for c in page.cookies]
            for pattern, i, m in self._cookies.search(names):
                yield _hit(pattern, m, _short(page.cookies[i]), url)

    def _dns_hits(self, records: Records, domain: str) -> Iterator[_Hit]:
        for bank, values, kind in ((self._txt, records.txt, "TXT"), (self._mx, records.mx, "MX")):
            if values:
                where = f"dns:{kind} {domain}".rstrip()
                for pattern, i, m in bank.search([v.lower() for v in values]):
                    yield _hit(pattern, m, _short(values[i]), where)

    def _imply(self, best: dict[str, _Hit]) -> None:
        queue = list(best)
        while queue:
            name = queue.pop()
            tool = self.tools.get(name)
            if tool is None:
                continue
            hit = best[name]
            for implied, confidence in tool.implies:
                if implied in self.tools and implied not in best:
                    best[implied] = _Hit(
                        implied, hit.confidence * confidence, f"implied by {name}",
                        hit.source_url, None,
                    )  # fmt: skip
                    queue.append(implied)

    def _constrain(self, best: dict[str, _Hit]) -> None:
        excluded = {x for name in best for x in self.tools[name].excludes}
        for name in excluded:
            best.pop(name, None)
        changed = True
        while changed:
            missing = [n for n in best if any(r not in best for r in self.tools[n].requires)]
            for name in missing:
                del best[name]
            changed = bool(missing)


# --- matching helpers ---

_SCRIPT_SRC = re.compile(
    r"""<script\b[^>]*?\ssrc\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""", re.S
)
_META = re.compile(r"<meta\s[^>]*>", re.S)
_ATTR = re.compile(r"""([a-z_:.-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""")
_META_NAMES = ("name", "property", "http-equiv", "itemprop")


def _script_srcs(low: str) -> Iterator[tuple[int, int]]:
    for m in _SCRIPT_SRC.finditer(low):
        group = m.lastindex or 1
        yield m.start(group), m.end(group)


def _metas(low: str) -> dict[str, list[tuple[int, int]]]:
    """Each meta name's content spans in ``low``."""
    found: dict[str, list[tuple[int, int]]] = {}
    for tag in _META.finditer(low):
        name: str | None = None
        content: tuple[int, int] | None = None
        for a in _ATTR.finditer(low, tag.start() + 5, tag.end()):
            group = next(g for g in (2, 3, 4) if a.group(g) is not None)
            if a.group(1) == "content":
                content = (a.start(group), a.end(group))
            elif a.group(1) in _META_NAMES and name is None:
                name = a.group(group).strip()
        if name and content:
            found.setdefault(name, []).append(content)
    return found


def _unescape(text: str) -> str:
    return htmllib.unescape(text) if "&" in text else text


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _EVIDENCE_CHARS else text[: _EVIDENCE_CHARS - 1] + "…"


def _hit(pattern: _Pattern, m: re.Match[str], quoted: str, source_url: str) -> _Hit:
    label = _KIND_LABEL[pattern.kind]
    evidence = f"{label} {quoted}" if quoted else f"{label} {pattern.key or ''}".rstrip()
    version = _version(pattern.version, m) if pattern.version else None
    return _Hit(pattern.tool, pattern.confidence, evidence, source_url, version)


def _version(template: str, m: re.Match[str]) -> str | None:
    """A Wappalyzer version template filled from ``m``: ``\\1`` is group 1, and
    ``\\1?a:b`` is ``a`` when group 1 matched, else ``b``."""

    def group(index: str) -> str:
        n = int(index)
        return (m.group(n) or "") if n <= (m.re.groups or 0) else ""

    text = re.sub(r"\\(\d)\?([^:]*):(.*)", lambda t: t[2] if group(t[1]) else t[3], template)
    text = re.sub(r"\\(\d)", lambda t: group(t[1]), text)
    return text.strip() or None


def _trie(words: Sequence[str]) -> str:
    """One regex matching any of ``words``, the longest first at each position."""
    root: dict[str, Any] = {}
    for word in words:
        node = root
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def emit(node: dict[str, Any]) -> str:
        alts = [re.escape(ch) + emit(child) for ch, child in sorted(node.items()) if ch]
        if not alts:
            return ""
        body = alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"
        if "" in node:
            return ("(?:" + body + ")?") if len(alts) == 1 and len(body) > 1 else body + "?"
        return body

    return emit(root)


# --- compiling patterns ---

_SUFFIX = "\\;"
_UNSAFE_TO_LOWER = re.compile(r"\\[xuUN0]|\\\d\d|[^\x00-\x7f]")
_JS_NAMED_GROUP = re.compile(r"\(\?<(?=[A-Za-z_])")


class PatternError(IcpkitError, ValueError):
    """A pattern that cannot be compiled or read; the message says why."""


def _split(raw: str) -> tuple[str, float, str | None]:
    """A pattern and its Wappalyzer-style ``\\;confidence:N`` and ``\\;version:T`` suffixes."""
    regex, *tags = raw.split(_SUFFIX)
    confidence, version = 1.0, None
    for tag in tags:
        key, _, value = tag.partition(":")
        if key == "confidence":
            try:
                number = float(value)
            except ValueError:
                raise PatternError(f"confidence {value!r} is not a number") from None
            if not 0 <= number <= 100:
                raise PatternError(f"confidence {value!r} is not between 0 and 100")
            confidence = number / 100
        elif key == "version":
            version = value
        else:
            raise PatternError(f"unknown tag {key!r} (expected confidence or version)")
    return regex, confidence, version


def _lowered(source: str) -> str:
    """``source`` with its literal letters lowered (escapes such as ``\\S`` kept), so it
    matches lowered text exactly as the original matches the text case-insensitively."""
    out: list[str] = []
    i = 0
    while i < len(source):
        if source[i] == "\\" and i + 1 < len(source):
            out.append(source[i : i + 2])
            i += 2
        else:
            out.append(source[i].lower())
            i += 1
    return "".join(out)


def _compile(source: str) -> tuple[re.Pattern[str], frozenset[str] | None]:
    """The regex to run on lowered text, and the literals one of which it needs."""
    source = _JS_NAMED_GROUP.sub("(?P<", source)
    regex: re.Pattern[str] | None = None
    if not _UNSAFE_TO_LOWER.search(source):
        try:
            regex = re.compile(_lowered(source))
        except re.error:
            regex = None
    if regex is None:
        try:
            regex = re.compile(source, re.IGNORECASE)
        except (re.error, OverflowError, RecursionError) as exc:
            raise PatternError(f"not a valid regular expression ({exc})") from None
    try:
        literals = _required(list(sre_parse.parse(regex.pattern, regex.flags)))
    except (re.error, RecursionError, AttributeError, TypeError):
        # The parser is the standard library's own (re._parser); should a later Python
        # change it, a pattern simply runs on every page (slower, same matches).
        literals = None
    return regex, literals


def _required(items: Sequence[tuple[Any, Any]]) -> frozenset[str] | None:
    """Literals (lowered, at least ``_MIN_LITERAL`` long) one of which occurs in every
    match of the parsed regex ``items``; None when no such set is known."""
    best: frozenset[str] | None = None
    run: list[str] = []

    def consider(candidate: frozenset[str] | None) -> None:
        nonlocal best
        if candidate and (best is None or _strength(candidate) > _strength(best)):
            best = candidate

    def flush() -> None:
        if len(run) >= _MIN_LITERAL:
            consider(frozenset({"".join(run)}))
        run.clear()

    for op, av in items:
        if op is sre_constants.LITERAL:
            run.append(chr(av).lower())
            continue
        flush()
        if op is sre_constants.SUBPATTERN:
            consider(_required(list(av[-1])))
        elif op is sre_constants.ATOMIC_GROUP:
            consider(_required(list(av)))
        elif op in (
            sre_constants.MAX_REPEAT,
            sre_constants.MIN_REPEAT,
            sre_constants.POSSESSIVE_REPEAT,
        ):
            if av[0] >= 1:
                consider(_required(list(av[2])))
        elif op is sre_constants.BRANCH:
            options = [_required(list(branch)) for branch in av[1]]
            if all(options):
                consider(frozenset().union(*(o for o in options if o)))
    flush()
    return best


def _strength(literals: frozenset[str]) -> tuple[int, int]:
    """Longer literals, and ones with punctuation (rarer in pages), filter better."""
    return min(len(w) + (4 if not w.isalnum() else 0) for w in literals), -len(literals)


def _pattern(
    tool: str, kind: str, raw: object, key: str | None = None, *, strict_suffixes: bool = True
) -> _Pattern:
    if not isinstance(raw, str):
        raise PatternError(f"expected a text pattern, got {raw!r}")
    source, confidence, version = _split(raw) if _SUFFIX in raw else (raw, 1.0, None)
    regex, literals = _compile(source)
    return _Pattern(tool, kind, key, source, regex, confidence, version, literals)


# --- icpkit's own file ---


@functools.cache
def _builtin() -> Fingerprints:
    return read_fingerprint_file(BUILTIN)


def read_fingerprint_file(path: Path) -> Fingerprints:
    """Read a fingerprint file in icpkit's format (``fingerprints.yaml``'s header says it);
    any problem raises an IcpkitError naming the file and the tool."""
    try:
        doc = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)
    except (OSError, UnicodeDecodeError) as exc:
        raise IcpkitError(f"{path}: cannot read ({exc})") from exc
    except yaml.YAMLError as exc:
        raise IcpkitError(f"{path}: not valid YAML ({exc})") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("tools"), list):
        raise IcpkitError(f"{path}: expected a mapping with a 'tools' list")
    tools: dict[str, Tool] = {}
    patterns: list[_Pattern] = []
    for index, entry in enumerate(doc["tools"]):
        where = f"{path}: tools[{index}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise IcpkitError(f"{where}: expected a mapping with a 'name'")
        name = entry["name"]
        where = f"{path}: tool {name!r}"
        if name in tools:
            raise IcpkitError(f"{where}: named twice")
        unknown = sorted(set(entry) - _TOOL_KEYS)
        if unknown:
            raise IcpkitError(f"{where}: unknown keys {unknown}; allowed: {sorted(_TOOL_KEYS)}")
        category = entry.get("category")
        if category not in CATEGORIES:
            raise IcpkitError(f"{where}: category {category!r} is not one of {list(CATEGORIES)}")
        try:
            own = list(_own_patterns(name, entry))
            example = _example(entry.get("example"))
        except PatternError as exc:
            raise IcpkitError(f"{where}: {exc}") from None
        if not own:
            raise IcpkitError(f"{where}: has no pattern (any of {', '.join(PATTERN_KINDS)})")
        implies = entry.get("implies", [])
        if not isinstance(implies, list) or not all(isinstance(i, str) for i in implies):
            raise IcpkitError(f"{where}: implies: expected a list of tool names")
        tools[name] = Tool(
            name=name,
            category=category,
            website=entry.get("website"),
            example=example,
            implies=tuple((i, 1.0) for i in implies),
        )
        patterns.extend(own)
    for tool in tools.values():
        for implied, _ in tool.implies:
            if implied not in tools:
                raise IcpkitError(f"{path}: tool {tool.name!r}: implies unknown tool {implied!r}")
    return Fingerprints(tools, patterns)


_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the fastest safe loader


def _own_patterns(name: str, entry: Mapping[str, Any]) -> Iterator[_Pattern]:
    for kind in ("script_src", "html", "cookies", "dns_txt", "mx"):
        values = entry.get(kind, [])
        if not isinstance(values, list):
            raise PatternError(f"{kind}: expected a list of patterns")
        for raw in values:
            yield _named(name, kind, raw)
    for kind in ("meta", "headers"):
        values = entry.get(kind, {})
        if not isinstance(values, dict):
            raise PatternError(f"{kind}: expected a mapping of name: pattern")
        for key, raw in values.items():
            yield _named(name, kind, raw, str(key).lower())


def _named(name: str, kind: str, raw: object, key: str | None = None) -> _Pattern:
    try:
        return _pattern(name, kind, raw, key)
    except PatternError as exc:
        raise PatternError(f"{kind} pattern {raw!r}: {exc}") from None


def _example(raw: object) -> Example:
    if not isinstance(raw, dict) or not raw:
        raise PatternError(f"example: expected a mapping with any of {list(EXAMPLE_KINDS)}")
    unknown = sorted(set(raw) - set(EXAMPLE_KINDS))
    if unknown or not all(isinstance(v, str) and v for v in raw.values()):
        raise PatternError(
            f"example: expected text values for any of {list(EXAMPLE_KINDS)}; got {raw!r}"
        )

    def pair(key: str) -> tuple[str, str] | None:
        value = raw.get(key)
        if value is None:
            return None
        name, sep, rest = value.partition(":")
        if not sep or not name.strip():
            raise PatternError(f"example: {key}: expected 'name: value', got {value!r}")
        return name.strip().lower(), rest.strip()

    return Example(
        script_src=raw.get("script_src"),
        html=raw.get("html"),
        meta=pair("meta"),
        cookie=raw.get("cookie"),
        header=pair("header"),
        dns_txt=raw.get("dns_txt"),
        mx=raw.get("mx"),
    )


# --- Wappalyzer-format folders ---

_UNREAD_KINDS = ("js", "dom", "css", "url", "xhr", "robots", "scripts", "text", "certIssuer")


@dataclass
class _FolderRead:
    tools: dict[str, Tool] = field(default_factory=dict)
    patterns: list[_Pattern] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    unread: dict[str, int] = field(default_factory=dict)
    shadowed: int = 0


def read_wappalyzer_folder(folder: Path, builtin: Mapping[str, Tool]) -> _FolderRead:
    """Tools of a Wappalyzer-format folder (``technologies/*.json`` and an optional
    ``categories.json``, or the JSON files directly). A bad file, tool or pattern is
    reported in ``problems`` (file, tool, pattern, why) and skipped; a name icpkit's own
    file has is skipped (icpkit's fingerprint wins)."""
    tech = folder / "technologies" if (folder / "technologies").is_dir() else folder
    read = _FolderRead()
    categories = _categories(folder, tech, read.problems)
    for file in sorted(tech.glob("*.json")):
        if file.name == "categories.json":
            continue
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            read.problems.append(f"{file}: not readable as JSON ({exc}); skipped")
            continue
        if not isinstance(data, dict):
            read.problems.append(f"{file}: expected an object of tools; skipped")
            continue
        for name, spec in data.items():
            if name in builtin:
                read.shadowed += 1
                continue
            if name in read.tools:
                read.problems.append(f"{file}: {name!r}: defined again; the first kept")
                continue
            if not isinstance(spec, dict):
                read.problems.append(f"{file}: {name!r}: expected an object; skipped")
                continue
            _wappalyzer_tool(file, name, spec, categories, read)
    known = set(builtin) | set(read.tools)
    for name, tool in list(read.tools.items()):
        missing = [n for n, _ in tool.implies if n not in known]
        if missing:
            read.problems.append(f"{tool.source}: {name!r}: implies unknown {missing}; ignored")
            read.tools[name] = Tool(
                tool.name,
                tool.category,
                tool.website,
                None,
                tuple((n, c) for n, c in tool.implies if n in known),
                tool.requires,
                tool.excludes,
                tool.source,
            )
    return read


def _categories(folder: Path, tech: Path, problems: list[str]) -> dict[str, str]:
    for candidate in (folder / "categories.json", tech / "categories.json"):
        if candidate.is_file():
            try:
                data = json.loads(candidate.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
                problems.append(f"{candidate}: not readable as JSON ({exc}); categories unnamed")
                return {}
            if not isinstance(data, dict):
                problems.append(f"{candidate}: expected an object; categories unnamed")
                return {}
            return {
                str(k): str(v.get("name", k)).lower() if isinstance(v, dict) else str(v).lower()
                for k, v in data.items()
            }
    return {}


def _listed(value: object) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _wappalyzer_tool(
    file: Path, name: str, spec: dict[str, Any], categories: Mapping[str, str], read: _FolderRead
) -> None:
    cats = _listed(spec.get("cats"))
    category = categories.get(str(cats[0]), f"category {cats[0]}") if cats else "other"
    raws: list[tuple[str, object, str | None]] = []
    raws += [("script_src", p, None) for p in _listed(spec.get("scriptSrc"))]
    raws += [("html", p, None) for p in _listed(spec.get("html"))]
    for kind in ("meta", "headers"):
        mapping = spec.get(kind) or {}
        if isinstance(mapping, dict):
            raws += [(kind, p, str(n).lower()) for n, v in mapping.items() for p in _listed(v)]
        else:
            read.problems.append(f"{file}: {name!r}: {kind}: expected an object; skipped")
    cookies = spec.get("cookies") or {}
    if isinstance(cookies, dict):
        for cookie, value in cookies.items():
            # icpkit sees cookie names only: the name must match; a value's tags still count.
            suffix = (
                value[value.index(_SUFFIX) :] if isinstance(value, str) and _SUFFIX in value else ""
            )
            literal = re.escape(str(cookie)).replace(r"\*", ".*")
            raws.append(("cookies", f"^{literal}$" + suffix, None))
    dns = spec.get("dns") or {}
    if isinstance(dns, dict):
        raws += [("dns_txt", p, None) for p in _listed(dns.get("TXT"))]
        raws += [("mx", p, None) for p in _listed(dns.get("MX"))]
    for kind in _UNREAD_KINDS:
        if spec.get(kind):
            read.unread[kind] = read.unread.get(kind, 0) + 1
    compiled: list[_Pattern] = []
    for kind, raw, key in raws:
        try:
            compiled.append(_pattern(name, kind, raw, key))
        except PatternError as exc:
            read.problems.append(f"{file}: {name!r}: {kind} pattern {raw!r}: {exc}; skipped")
    implies: list[tuple[str, float]] = []
    for implied in _listed(spec.get("implies")):
        if not isinstance(implied, str):
            continue
        target, *tags = implied.split(_SUFFIX)
        confidence = 1.0
        for tag in tags:
            tag_key, _, tag_value = tag.partition(":")
            if tag_key == "confidence":
                try:
                    confidence = min(max(float(tag_value) / 100, 0.0), 1.0)
                except ValueError:
                    read.problems.append(f"{file}: {name!r}: implies {implied!r}: bad confidence")
        implies.append((target.strip(), confidence))
    read.tools[name] = Tool(
        name=name,
        category=category,
        website=spec.get("website") if isinstance(spec.get("website"), str) else None,
        implies=tuple(implies),
        requires=tuple(str(r) for r in _listed(spec.get("requires"))),
        excludes=tuple(str(x) for x in _listed(spec.get("excludes"))),
        source=str(file),
    )
    read.patterns.extend(compiled)


def load_fingerprints(extra_folder: str | None = None) -> Fingerprints:
    """icpkit's own fingerprints (read and compiled once per process), with the tools of a
    Wappalyzer-format ``extra_folder`` beside them when one is named."""
    builtin = _builtin()
    if extra_folder is None:
        return builtin
    folder = Path(extra_folder).expanduser()
    if not folder.is_dir():
        raise IcpkitError(
            f"enrich.fingerprints: {folder}: no such folder",
            hint="name a folder of Wappalyzer-format files (technologies/a.json ... _.json)",
        )
    read = read_wappalyzer_folder(folder, builtin.tools)
    notes = []
    if read.shadowed:
        notes.append(
            f"{folder}: {read.shadowed} tools named as in icpkit's own file: icpkit's kept"
        )
    if read.unread:
        kinds = ", ".join(f"{k} ({n} tools)" for k, n in sorted(read.unread.items()))
        notes.append(f"{folder}: pattern kinds icpkit does not read were skipped: {kinds}")
    for line in read.problems:
        log.warning("fingerprints: %s", line)
    return Fingerprints(
        {**builtin.tools, **read.tools},
        builtin._patterns + tuple(read.patterns),
        read.problems,
        notes,
    )


def match(
    pages: Iterable[Page],
    records: Records | None = None,
    *,
    fingerprints: Fingerprints | None = None,
    domain: str | None = None,
) -> list[Detection]:
    """The tools ``pages`` and ``records`` show, by icpkit's own fingerprints unless
    others are given; ``domain`` names the DNS records' source (``dns:TXT acme.com``)."""
    return (fingerprints or load_fingerprints()).match(pages, records, domain=domain)


# --- the provider ---


class TechnographicsProvider:
    """Keyless: the tools a company's website (the pages the run fetched once for every
    provider) and its DNS TXT and MX records show. One ``tech`` observation per tool.

    A site that could not be fetched fails (a later run asks again), unless it is gone for
    good (a 4xx, no such host: a miss); one fetched with no known tool is a miss."""

    name = "technographics"
    fields = frozenset({"tech"})
    cost = 0.0
    rate: float | None = None
    batch_size = 1
    ttl_days = 30.0
    keyless = True

    def __init__(self, settings: EnrichSettings, secrets: Mapping[str, str]) -> None:
        self.settings = settings
        self.fingerprints = load_fingerprints(settings.fingerprints)

    async def lookup(self, targets: Sequence[Target], ctx: Context) -> list[Lookup]:
        return [await self._one(target, ctx) for target in targets]

    async def _one(self, target: Target, ctx: Context) -> Lookup:
        key, domain = target.account_key, target.domain
        if not domain:
            return Lookup(key, "miss", reason="no domain")
        try:
            site = await ctx.site(domain)
            records = await ctx.dns.records(domain)
        except IcpkitError as exc:
            return Lookup.failed(key, str(exc))
        pages = sorted(site.pages.values(), key=lambda p: p.kind != "home")
        if not pages:
            why = site.failures.get("home") or next(iter(site.failures.values()), None)
            if site.lasting("home"):  # no such site: asking again would not change it
                return Lookup(key, "miss", reason=f"no website: {why}")
            return Lookup.failed(key, f"{domain}: no page fetched ({why or 'no reason given'})")
        detections = self.fingerprints.match(pages, records, domain=domain)
        observations = [
            Observation(
                field="tech",
                value=d.tool,
                confidence=d.confidence,
                source_url=d.source_url,
                raw=f"{d.tool} {d.version}" if d.version else None,
                evidence=d.evidence,
            )
            for d in detections
        ]
        count = len(pages)
        return Lookup.of(
            key, observations, f"no known tool on {count} page{'s' if count != 1 else ''}"
        )
