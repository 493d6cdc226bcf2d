"""Website facts (keyless): what a company's own pages say about it.

Read from the homepage and the about page the crawl fetched (``enrich/site.py``):

- schema.org JSON-LD ``Organization`` and its subtypes (``Corporation``,
  ``LocalBusiness``, ...; inside ``@graph`` arrays or nested as a ``publisher``):
  ``numberOfEmployees``, ``foundingDate``, ``address`` (``addressCountry``,
  ``addressLocality``), ``naics`` / ``isicV4``, ``sameAs``, ``description``
  (confidence 0.9); a block that is not valid JSON is repaired where cheap, else skipped;
- ``<title>``, ``<meta name="description">`` / ``og:description``, ``<html lang>``
  (confidence 0.8, ``og:`` values 0.7);
- LinkedIn and X/Twitter links of the pages (0.7), a "founded in 2012" sentence (0.6);
- country hints when the JSON-LD names no country: a country-code domain (0.6), a phone
  number's calling code (0.5), the pricing page's currency (0.4, below the default
  ``min_confidence``: kept as evidence, it wins no field on its own).

Every observation carries the page's URL and the evidence (``JSON-LD numberOfEmployees
120``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from selectolax.lexbor import LexborHTMLParser

from icpkit.config import EnrichSettings
from icpkit.enrich.context import Context
from icpkit.enrich.model import Lookup, Observation, Target
from icpkit.enrich.site import Page, Site, site_domain

JSON_LD = 0.9
META = 0.8
OG = 0.7
SOCIAL_LINK = 0.7
TEXT = 0.6
CCTLD = 0.6
PHONE = 0.5
CURRENCY = 0.4

NOTHING = "the website names none of the facts read from it"

_ORG_TYPES = frozenset({
    "Organization", "Corporation", "LocalBusiness", "OnlineBusiness", "OnlineStore", "NGO",
    "EducationalOrganization", "GovernmentOrganization", "MedicalOrganization",
    "SportsOrganization", "NewsMediaOrganization", "ResearchOrganization", "PerformingGroup",
    "Airline", "Consortium", "FundingScheme", "LibrarySystem", "WorkersUnion", "Cooperative",
    "ProfessionalService", "FinancialService", "BankOrCreditUnion", "InsuranceAgency",
    "LegalService", "AccountingService", "Store", "AutomotiveBusiness",
    "HealthAndBeautyBusiness", "HomeAndConstructionBusiness", "FoodEstablishment",
    "Restaurant", "LodgingBusiness", "RealEstateAgent", "TravelAgency", "EmploymentAgency",
    "EntertainmentBusiness", "Dentist", "Physician", "MedicalClinic", "Hospital",
    "SelfStorage", "ChildCare", "DryCleaningOrLaundry", "EmergencyService", "GovernmentOffice",
    "InternetCafe", "Library", "RadioStation", "RecyclingCenter", "ShoppingCenter",
    "SportsActivityLocation", "TelevisionStation", "TouristInformationCenter", "AnimalShelter",
    "ArchiveOrganization",
})  # fmt: skip
_ORG_SUFFIXES = ("Organization", "Business", "Corporation")


# -- JSON-LD ------------------------------------------------------------------------------

_TRAILING_COMMA = re.compile(r",\s*([}\]])")
_CDATA = re.compile(r"^\s*(?://\s*)?<!\[CDATA\[|(?://\s*)?\]\]>\s*$")
_COMMENT = re.compile(r"^\s*<!--|-->\s*$")


def parse_json_ld(text: str) -> Any:
    """One ``<script type="application/ld+json">`` block as JSON; the usual slips (an
    HTML comment or CDATA wrapper, trailing commas, raw newlines in strings) are
    forgiven; None when it still is not JSON.

    >>> parse_json_ld('{"@type": "Organization", "name": "Acme",}')
    {'@type': 'Organization', 'name': 'Acme'}
    >>> parse_json_ld('{"@type": "Organization" "name"}') is None
    True
    """
    try:
        return json.loads(text, strict=False)
    except ValueError:
        pass
    repaired = _TRAILING_COMMA.sub(r"\1", _COMMENT.sub("", _CDATA.sub("", text.strip())))
    try:
        return json.loads(repaired, strict=False)
    except ValueError:
        return None


def _types(node: Mapping[str, Any]) -> list[str]:
    kind = node.get("@type")
    kinds = kind if isinstance(kind, list) else [kind]
    # 'http://schema.org/Organization' and 'schema:Organization' name the same type.
    return [k.rsplit("/", 1)[-1].rsplit(":", 1)[-1] for k in kinds if isinstance(k, str)]


def is_organization(node: Mapping[str, Any]) -> bool:
    """Whether a JSON-LD node is an Organization or one of its subtypes."""
    return any(t in _ORG_TYPES or t.endswith(_ORG_SUFFIXES) for t in _types(node))


def organizations(data: Any, depth: int = 0) -> Iterator[Mapping[str, Any]]:
    """Every Organization node of a JSON-LD document: top level, ``@graph`` arrays, and
    nested values (a WebSite's ``publisher``), in document order."""
    if depth > 8:
        return
    if isinstance(data, list):
        for item in data:
            yield from organizations(item, depth + 1)
    elif isinstance(data, Mapping):
        if is_organization(data):
            yield data
        for key, value in data.items():
            if key != "@context" and isinstance(value, Mapping | list):
                yield from organizations(value, depth + 1)


def _host_domain(url: Any) -> str | None:
    if not isinstance(url, str) or "." not in url:
        return None
    host = urlsplit(url if "//" in url else f"//{url}").hostname
    return site_domain(host) if host else None


def _richness(node: Mapping[str, Any]) -> int:
    keys = ("numberOfEmployees", "foundingDate", "address", "naics", "isicV4", "sameAs")
    return sum(1 for key in keys if node.get(key))


def main_organization(nodes: Sequence[Mapping[str, Any]], domain: str) -> Mapping[str, Any] | None:
    """The node that describes the site's own company: one whose ``url`` (or ``@id``) is
    on the site's domain first, then the one naming the most facts, then the first."""
    if not nodes:
        return None
    own = site_domain(domain)

    def rank(item: tuple[int, Mapping[str, Any]]) -> tuple[int, int, int]:
        index, node = item
        on_site = own in (_host_domain(node.get("url")), _host_domain(node.get("@id")))
        return (0 if on_site else 1, -_richness(node), index)

    return min(enumerate(nodes), key=rank)[1]


def _scalar(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else None
    if isinstance(value, str):
        text = " ".join(value.split())
        return text or None
    return None


def employees_value(value: Any) -> str | None:
    """``numberOfEmployees`` as a count or a range: ``120``, ``{"value": 120}``,
    ``{"minValue": 51, "maxValue": 200}`` -> '51-200', a lone minValue -> '51+'.

    >>> employees_value({"@type": "QuantitativeValue", "minValue": 51, "maxValue": 200})
    '51-200'
    >>> employees_value("120"), employees_value({"value": "1,200"}), employees_value("many")
    ('120', '1200', None)
    """
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, Mapping):
        if (exact := _count(value.get("value"))) is not None:
            return exact
        low, high = _count(value.get("minValue")), _count(value.get("maxValue"))
        if low is not None and high is not None:
            return f"{low}-{high}" if int(low) < int(high) else low
        if low is not None:
            return f"{low}+"
        if high is not None:
            return f"1-{high}"
        return None
    text = _scalar(value)
    if text is None:
        return None
    if (exact := _count(text)) is not None:
        return exact
    match = re.fullmatch(r"(\d[\d,]*)\s*[-–]\s*(\d[\d,]*)|(\d[\d,]*)\s*\+", text)
    if match is None:
        return None
    if match.group(3):
        return f"{match.group(3).replace(',', '')}+"
    return f"{match.group(1).replace(',', '')}-{match.group(2).replace(',', '')}"


def _count(value: Any) -> str | None:
    text = _scalar(value)
    if text is None:
        return None
    digits = text.replace(",", "").replace(" ", "")
    if digits.isdigit() and 0 < int(digits) < 10_000_000:
        return str(int(digits))
    return None


_YEAR = re.compile(r"\b(1[5-9]\d\d|20\d\d)\b")


def founding_year(value: Any, now: dt.datetime | None = None) -> str | None:
    """The year of a ``foundingDate`` ('2015', '2015-03-01', 'March 2015'); None for a
    year still to come or none at all.

    >>> founding_year("2015-03-01"), founding_year(2009), founding_year("soon")
    ('2015', '2009', None)
    """
    text = _scalar(value)
    match = _YEAR.search(text) if text else None
    if match is None:
        return None
    this_year = (now or dt.datetime.now(dt.UTC)).year
    return match.group(1) if int(match.group(1)) <= this_year else None


def _first_mapping(value: Any) -> Mapping[str, Any] | None:
    if isinstance(value, list):
        value = next((v for v in value if isinstance(v, Mapping)), None)
    return value if isinstance(value, Mapping) else None


def _name(value: Any) -> str | None:
    """A text, or a Country/Place object's ``name``."""
    if isinstance(value, Mapping):
        return _scalar(value.get("name")) or _scalar(value.get("identifier"))
    return _scalar(value)


def _links(value: Any) -> list[str]:
    values = value if isinstance(value, list) else [value]
    return [v.strip() for v in values if isinstance(v, str) and v.strip()]


def organization_facts(node: Mapping[str, Any], page: Page) -> list[Observation]:
    """The observations one JSON-LD Organization node gives."""
    found: list[Observation] = []

    def add(field: str, value: str | None, prop: str, raw: Any) -> None:
        if value is None:
            return
        shown = raw if isinstance(raw, str) else json.dumps(raw, ensure_ascii=False)
        found.append(
            Observation(
                field,
                value,
                confidence=JSON_LD,
                source_url=page.url,
                raw=shown,
                evidence=f"JSON-LD {prop} {value if isinstance(raw, Mapping) else shown}",
            )
        )

    employees = node.get("numberOfEmployees")
    add("employees", employees_value(employees), "numberOfEmployees", employees)
    founded = node.get("foundingDate")
    add("founded_year", founding_year(founded, page.fetched_at), "foundingDate", founded)
    address = _first_mapping(node.get("address"))
    if address is None and (place := _first_mapping(node.get("location"))) is not None:
        address = _first_mapping(place.get("address"))
    if address is not None:
        country = address.get("addressCountry")
        add("country", _name(country), "addressCountry", country)
        city = address.get("addressLocality")
        add("city", _scalar(city), "addressLocality", city)
    for prop in ("naics", "isicV4"):
        code = node.get(prop)
        if _scalar(code) is not None:
            add("industry", _scalar(code), prop, code)
            break
    description = node.get("description")
    add("description", _scalar(description), "description", description)
    for url in _links(node.get("sameAs")):
        if (linkedin := linkedin_url(url)) is not None:
            add("linkedin_url", linkedin, "sameAs", url)
        elif (twitter := twitter_url(url)) is not None:
            add("twitter_url", twitter, "sameAs", url)
    return found


# -- social links -------------------------------------------------------------------------

_LINKEDIN = re.compile(
    r"^(?:https?://)?(?:[a-z]{2,3}\.)?linkedin\.com/(company|school|showcase)/([^/?#\s]+)", re.I
)
_TWITTER = re.compile(
    r"^(?:https?://)?(?:www\.|mobile\.)?(twitter|x)\.com/(?:#!/)?@?([A-Za-z0-9_]{1,15})/?(?:[?#].*)?$",
    re.I,
)
_NOT_HANDLES = frozenset({
    "intent", "share", "home", "search", "hashtag", "i", "settings", "login", "signup",
    "explore", "messages", "notifications", "tos", "privacy",
})  # fmt: skip


def linkedin_url(url: str) -> str | None:
    """A LinkedIn company page's canonical URL, or None for any other link.

    >>> linkedin_url("https://de.linkedin.com/company/acme-gmbh/?trk=x")
    'https://www.linkedin.com/company/acme-gmbh'
    >>> linkedin_url("https://www.linkedin.com/shareArticle?url=x") is None
    True
    """
    match = _LINKEDIN.match(url.strip())
    if match is None:
        return None
    return f"https://www.linkedin.com/{match.group(1).lower()}/{match.group(2)}"


def twitter_url(url: str) -> str | None:
    """An X/Twitter profile's URL (host as linked), or None for a share or intent link.

    >>> twitter_url("https://twitter.com/AcmeHQ?lang=en"), twitter_url("https://x.com/intent/post")
    ('https://twitter.com/AcmeHQ', None)
    """
    match = _TWITTER.match(url.strip())
    if match is None or match.group(2).lower() in _NOT_HANDLES:
        return None
    return f"https://{match.group(1).lower()}.com/{match.group(2)}"


# -- country hints ------------------------------------------------------------------------

# Country-code domains that are sold as generic names: they say nothing of the country.
_GENERIC_CCTLDS = frozenset({
    "io", "co", "ai", "me", "tv", "ly", "fm", "gg", "sh", "to", "cc", "ws", "so", "am", "vc",
    "im", "la", "ac", "gl", "nu", "tk", "ml", "ga", "cf", "gq", "app",
})  # fmt: skip
_CCTLD_COUNTRY = {"uk": "GB", "eu": None, "su": None}

_CALLING_CODES = {
    "44": "GB", "49": "DE", "33": "FR", "34": "ES", "39": "IT", "31": "NL", "32": "BE",
    "41": "CH", "43": "AT", "45": "DK", "46": "SE", "47": "NO", "358": "FI", "353": "IE",
    "351": "PT", "48": "PL", "420": "CZ", "36": "HU", "30": "GR", "40": "RO", "61": "AU",
    "64": "NZ", "81": "JP", "82": "KR", "65": "SG", "91": "IN", "972": "IL", "971": "AE",
    "55": "BR", "52": "MX", "27": "ZA", "86": "CN", "852": "HK", "54": "AR", "57": "CO",
    "56": "CL", "90": "TR", "234": "NG", "254": "KE", "63": "PH", "62": "ID", "60": "MY",
    "66": "TH", "84": "VN", "380": "UA", "372": "EE", "371": "LV", "370": "LT",
}  # fmt: skip
"""Calling code -> ISO2; +1 (the US, Canada and the Caribbean share it) is left out."""

_CURRENCIES = {"£": "GB", "₹": "IN", "CHF": "CH", "A$": "AU", "AU$": "AU", "C$": "CA",
               "CA$": "CA", "NZ$": "NZ", "R$": "BR", "S$": "SG", "zł": "PL", "₪": "IL"}  # fmt: skip
_CURRENCY = re.compile("|".join(re.escape(c) for c in sorted(_CURRENCIES, key=len, reverse=True)))
_PHONE = re.compile(r"^\+\s*(\d{1,3})")


def cctld_country(domain: str) -> str | None:
    """The country a country-code domain names; None for generic ones ('.io', '.co').

    >>> cctld_country("acme.de"), cctld_country("acme.co.uk"), cctld_country("acme.io")
    ('DE', 'GB', None)
    """
    label = domain.rstrip(".").rsplit(".", 1)[-1].lower()
    if len(label) != 2 or not label.isalpha() or label in _GENERIC_CCTLDS:
        return None
    if label in _CCTLD_COUNTRY:
        return _CCTLD_COUNTRY[label]
    return label.upper()


def phone_country(number: str) -> str | None:
    """The country of an international phone number's calling code ('+49 30 ...' -> 'DE').

    >>> phone_country("+49 30 1234567"), phone_country("+1 415 555 0100")
    ('DE', None)
    """
    digits = re.sub(r"[^\d+]", "", number)
    if not digits.startswith("+"):
        return None
    for size in (3, 2, 1):
        if (country := _CALLING_CODES.get(digits[1 : 1 + size])) is not None:
            return country
    return None


def currency_country(text: str) -> tuple[str, str] | None:
    """The country of the currency a pricing page shows most, when that currency belongs
    to one country (pounds, rupees, francs; never dollars or euros): (country, symbol)."""
    counts: dict[str, int] = {}
    for match in _CURRENCY.finditer(text):
        counts[match.group(0)] = counts.get(match.group(0), 0) + 1
    if not counts:
        return None
    symbol = max(counts, key=lambda c: counts[c])
    dollars_or_euros = text.count("$") - sum(n for c, n in counts.items() if "$" in c)
    if dollars_or_euros + text.count("€") > counts[symbol]:
        return None
    return _CURRENCIES[symbol], symbol


# -- the pages ----------------------------------------------------------------------------

_FOUNDED = re.compile(
    r"\b(?:founded|established|gegründet|fondée?|fundad[ao]|opgericht|fondata)"
    r"(?:\s+(?:in|en|im|em|nel))?\s+((?:1[5-9]|20)\d\d)\b",
    re.I,
)


def _meta(tree: LexborHTMLParser) -> dict[str, str]:
    found: dict[str, str] = {}
    for node in tree.css("meta"):
        attrs = node.attributes
        key = attrs.get("name") or attrs.get("property") or attrs.get("http-equiv")
        content = attrs.get("content")
        if key and content and content.strip():
            found.setdefault(key.strip().lower(), " ".join(content.split()))
    return found


def _json_ld_nodes(tree: LexborHTMLParser) -> list[Mapping[str, Any]]:
    nodes: list[Mapping[str, Any]] = []
    for script in tree.css("script"):
        kind = (script.attributes.get("type") or "").strip().lower()
        if kind == "application/ld+json":
            nodes.extend(organizations(parse_json_ld(script.text(deep=True))))
    return nodes


def _page_observation(
    field: str, value: str, confidence: float, page: Page, evidence: str, raw: str | None = None
) -> Observation:
    return Observation(
        field, value, confidence, source_url=page.url, raw=raw or value, evidence=evidence
    )


def page_facts(site: Site) -> list[Observation]:
    """Everything the website provider reads from a crawled site, one value per field
    (the most confident source wins inside the provider)."""
    home = site.home
    if home is None:
        return []
    pages = [p for p in (home, site.pages.get("about")) if p is not None]
    found: list[Observation] = []

    # JSON-LD first: its values are the most reliable on a company's own site.
    nodes: list[tuple[Mapping[str, Any], Page]] = []
    for page in pages:
        nodes.extend((node, page) for node in _json_ld_nodes(page.tree))
    main = main_organization([node for node, _ in nodes], site.domain)
    if main is not None:
        page = next(p for node, p in nodes if node is main)
        found.extend(organization_facts(main, page))

    tree = home.tree
    title_node = tree.css_first("title")
    if title_node is not None and (title := " ".join(title_node.text().split())):
        found.append(_page_observation("title", title, META, home, "homepage <title>"))
    meta = _meta(tree)
    if description := meta.get("description"):
        found.append(_page_observation("description", description, META, home, "meta description"))
    elif description := meta.get("og:description"):
        found.append(_page_observation("description", description, OG, home, "og:description"))
    html_node = tree.css_first("html")
    lang = (html_node.attributes.get("lang") or "").strip() if html_node is not None else ""
    if (code := lang.split("-")[0].split("_")[0].lower()).isalpha() and 2 <= len(code) <= 3:
        found.append(_page_observation("language", code, META, home, f'<html lang="{lang}">', lang))
    elif (locale := meta.get("og:locale", "")) and (code := locale[:2].lower()).isalpha():
        found.append(_page_observation("language", code, OG, home, f"og:locale {locale}", locale))

    for page in pages:
        for url, _text in page.links:
            if "linkedin.com" not in url and "twitter.com" not in url and "x.com" not in url:
                continue
            if (linkedin := linkedin_url(url)) is not None:
                evidence = f"link to {url}"
                found.append(
                    _page_observation("linkedin_url", linkedin, SOCIAL_LINK, page, evidence, url)
                )
            elif (twitter := twitter_url(url)) is not None:
                evidence = f"link to {url}"
                found.append(
                    _page_observation("twitter_url", twitter, SOCIAL_LINK, page, evidence, url)
                )

    about = site.pages.get("about")
    for page in [p for p in (about, home) if p is not None]:
        body = page.tree.body
        text = " ".join(body.text(separator=" ").split()) if body is not None else ""
        if (match := _FOUNDED.search(text)) is not None:
            year = founding_year(match.group(1), page.fetched_at)
            if year is not None:
                found.append(
                    _page_observation("founded_year", year, TEXT, page, f'"{match.group(0)}"')
                )
                break

    found.extend(_country_hints(site, pages))
    return _best_per_field(found)


def _country_hints(site: Site, pages: list[Page]) -> list[Observation]:
    hints: list[Observation] = []
    home = pages[0]
    if (country := cctld_country(site.domain)) is not None:
        suffix = site.domain.rsplit(".", 1)[-1]
        hints.append(
            _page_observation("country", country, CCTLD, home, f"country-code domain .{suffix}")
        )
    for page in pages:
        for node in page.tree.css("a[href^='tel:']"):
            number = (node.attributes.get("href") or "")[4:].strip()
            if (country := phone_country(number)) is not None:
                hints.append(
                    _page_observation("country", country, PHONE, page, f"phone number {number}")
                )
                break
    pricing = site.pages.get("pricing")
    if pricing is not None and pricing.tree.body is not None:
        seen = currency_country(pricing.tree.body.text(separator=" "))
        if seen is not None:
            hints.append(
                _page_observation(
                    "country", seen[0], CURRENCY, pricing, f"prices shown in {seen[1]}"
                )
            )
    return hints


def _best_per_field(found: list[Observation]) -> list[Observation]:
    """One observation per field: the most confident, the first among equals."""
    best: dict[str, Observation] = {}
    for observation in found:
        held = best.get(observation.field)
        if held is None or observation.confidence > held.confidence:
            best[observation.field] = observation
    return list(best.values())


# -- the provider ---------------------------------------------------------------------------


class WebsiteProvider:
    """Firmographics a company's own website states (JSON-LD, meta tags, links)."""

    name = "website"
    fields = frozenset(
        {
            "title",
            "description",
            "employees",
            "founded_year",
            "country",
            "city",
            "industry",
            "linkedin_url",
            "twitter_url",
            "language",
        }
    )
    cost = 0.0
    rate: float | None = None
    batch_size = 1
    ttl_days = 30.0
    keyless = True

    def __init__(self, settings: EnrichSettings, secrets: Mapping[str, str]) -> None:
        self.settings = settings

    async def lookup(self, targets: Sequence[Target], ctx: Context) -> list[Lookup]:
        return list(await asyncio.gather(*(self._one(target, ctx) for target in targets)))

    async def _one(self, target: Target, ctx: Context) -> Lookup:
        if not target.domain:
            return Lookup.of(target.account_key, [], "no domain: no website to read")
        site = await ctx.site(target.domain)
        if site.home is None:
            reason = f"no website: {site.failures.get('home', 'not fetched')}"
            if site.lasting("home"):
                return Lookup.of(target.account_key, [], reason)
            return Lookup.failed(target.account_key, reason)
        return Lookup.of(target.account_key, page_facts(site), NOTHING)
