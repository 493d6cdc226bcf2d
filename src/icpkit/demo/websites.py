"""The demo companies' websites, job boards and DNS records, written as static files.

Every company of a generated demo CRM gets a homepage whose scripts, HTML, cookies and
headers embed the fingerprint example of each tool it runs at the export, a schema.org
Organization with its true size, founding year, country and industry, and (when it has
posted jobs) a careers page linking to a job board whose API answer lists every posting of
``signals.csv`` with its date. ``webserver.serve`` puts the folder on loopback, so the
enrichment providers can be run against a known truth, kept in ``Websites.truth``.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import html
import json
import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from icpkit.demo.generator import DemoFiles

FINGERPRINTS = Path(__file__).resolve().parent.parent / "enrich" / "fingerprints.yaml"
EXAMPLE_KINDS = ("script_src", "html", "meta", "cookie", "header", "dns_txt", "mx")
BOARDS = ("greenhouse", "lever", "ashby", "workable", "smartrecruiters")
# The job board as a tool of the fingerprint file: a careers page linking to it shows it.
BOARD_TOOL = {
    "greenhouse": "Greenhouse",
    "lever": "Lever",
    "ashby": "Ashby",
    "workable": "Workable",
    "smartrecruiters": "SmartRecruiters",
}
EXPORT_YEAR = 2025  # the demo CRM is exported on 2025-10-01

# Several NAICS 2017/2022 codes per canonical industry, each read back to the same label
# by icpkit.ingest.normalize.industries.match_industry (a test checks every one).
NAICS: Mapping[str, tuple[str, ...]] = {
    "Software": ("513210", "511210"),
    "IT Services": ("541511", "541512", "541519"),
    "Financial Services": ("523110", "523920", "523999"),
    "Health Care": ("621111", "622110", "621511"),
    "Retail Trade": ("445110", "452210", "448140"),
    "Manufacturing": ("332710", "333249", "332999"),
    "Education": ("611310", "611430", "611710"),
    "Public Administration": ("921110", "921190", "926110"),
    "Marketing and Advertising": ("541810", "541820", "541860"),
}
COUNTRY_NAME = {
    "US": "United States",
    "GB": "United Kingdom",
    "DE": "Germany",
    "FR": "France",
    "CA": "Canada",
    "NL": "Netherlands",
    "AU": "Australia",
    "IN": "India",
}
# How a site in its country's language names that country.
LOCAL_COUNTRY_NAME = {"DE": "Deutschland", "FR": "France", "NL": "Nederland"}
LOCALE = {
    "US": "en-US",
    "GB": "en-GB",
    "CA": "en-CA",
    "AU": "en-AU",
    "IN": "en-IN",
    "DE": "de-DE",
    "FR": "fr-FR",
    "NL": "nl-NL",
}
# Page words per language; the site's text is written in its country's language.
WORDS: Mapping[str, Mapping[str, str]] = {
    "en": {
        "home": "Home",
        "product": "Product",
        "customers": "Customers",
        "careers": "Careers",
        "contact": "Contact",
        "based": "Based in {city}.",
        "trusted": "Trusted by teams across {country}.",
        "careers_title": "Careers at {name}",
        "careers_intro": "We are a small team that likes hard problems and kind colleagues.",
        "open": "See open positions",
        "none": "No open positions right now. Send your CV to",
        "rights": "All rights reserved.",
    },
    "de": {
        "home": "Start",
        "product": "Produkt",
        "customers": "Kunden",
        "careers": "Karriere",
        "contact": "Kontakt",
        "based": "Mit Sitz in {city}.",
        "trusted": "Teams in ganz {country} vertrauen uns.",
        "careers_title": "Karriere bei {name}",
        "careers_intro": "Wir sind ein kleines Team mit Freude an schwierigen Aufgaben.",
        "open": "Offene Stellen ansehen",
        "none": "Derzeit keine offenen Stellen. Bewerbungen bitte an",
        "rights": "Alle Rechte vorbehalten.",
    },
    "fr": {
        "home": "Accueil",
        "product": "Produit",
        "customers": "Clients",
        "careers": "Carrières",
        "contact": "Contact",
        "based": "Basée à {city}.",
        "trusted": "Des équipes de toute la {country} nous font confiance.",
        "careers_title": "Carrières chez {name}",
        "careers_intro": "Nous sommes une petite équipe qui aime les problèmes difficiles.",
        "open": "Voir les offres",
        "none": "Aucun poste ouvert pour le moment. Envoyez votre CV à",
        "rights": "Tous droits réservés.",
    },
    "nl": {
        "home": "Home",
        "product": "Product",
        "customers": "Klanten",
        "careers": "Werken bij",
        "contact": "Contact",
        "based": "Gevestigd in {city}.",
        "trusted": "Teams in heel {country} vertrouwen op ons.",
        "careers_title": "Werken bij {name}",
        "careers_intro": "Wij zijn een klein team dat van lastige vraagstukken houdt.",
        "open": "Bekijk vacatures",
        "none": "Op dit moment geen vacatures. Stuur je cv naar",
        "rights": "Alle rechten voorbehouden.",
    },
}
TAGLINE: Mapping[str, Mapping[str, str]] = {
    "Software": {
        "en": "Software that keeps growing teams in sync",
        "de": "Software, die wachsende Teams synchron hält",
        "fr": "Le logiciel qui synchronise les équipes en croissance",
        "nl": "Software die groeiende teams op één lijn houdt",
    },
    "IT Services": {
        "en": "IT services and managed infrastructure",
        "de": "IT-Dienstleistungen und verwaltete Infrastruktur",
        "fr": "Services informatiques et infrastructure gérée",
        "nl": "IT-diensten en beheerde infrastructuur",
    },
    "Financial Services": {
        "en": "Financial services for businesses and families",
        "de": "Finanzdienstleistungen für Unternehmen und Familien",
        "fr": "Services financiers pour entreprises et familles",
        "nl": "Financiële diensten voor bedrijven en gezinnen",
    },
    "Health Care": {
        "en": "Health care for every patient",
        "de": "Gesundheitsversorgung für jeden Patienten",
        "fr": "Des soins pour chaque patient",
        "nl": "Zorg voor elke patiënt",
    },
    "Retail Trade": {
        "en": "Quality goods, in store and online",
        "de": "Qualitätswaren im Laden und online",
        "fr": "Des produits de qualité, en magasin et en ligne",
        "nl": "Kwaliteitsproducten in de winkel en online",
    },
    "Manufacturing": {
        "en": "Precision parts built to last",
        "de": "Präzisionsteile, die halten",
        "fr": "Des pièces de précision faites pour durer",
        "nl": "Precisieonderdelen die lang meegaan",
    },
    "Education": {
        "en": "Learning programs for every stage of life",
        "de": "Lernprogramme für jede Lebensphase",
        "fr": "Des formations pour chaque étape de la vie",
        "nl": "Leerprogramma's voor elke levensfase",
    },
    "Public Administration": {
        "en": "Public services for our community",
        "de": "Öffentliche Dienste für unsere Gemeinschaft",
        "fr": "Des services publics pour notre communauté",
        "nl": "Publieke diensten voor onze gemeenschap",
    },
    "Marketing and Advertising": {
        "en": "Campaigns that people remember",
        "de": "Kampagnen, die in Erinnerung bleiben",
        "fr": "Des campagnes qui marquent les esprits",
        "nl": "Campagnes die bijblijven",
    },
}

# Per role of a job_posting signal: the job function it belongs to, its department, the
# titles a posting for it carries, what the job is, and which tools a posting may name.
ROLES: Mapping[str, dict[str, Any]] = {
    "SDR": {
        "function": "SDR",
        "department": "Sales",
        "titles": (
            "Sales Development Representative",
            "Sales Development Representative (SDR)",
            "Business Development Representative",
            "BDR",
            "Senior Sales Development Representative",
        ),
        "text": "You will research accounts, book first meetings with new prospects and "
        "pass promising opportunities to our account executives.",
        "tools": ("HubSpot",),
    },
    "Account Executive": {
        "function": "AE",
        "department": "Sales",
        "titles": (
            "Account Executive",
            "Senior Account Executive",
            "Mid-Market Account Executive",
            "Enterprise Account Executive",
        ),
        "text": "You will own the full sales cycle, from the first meeting to a signed "
        "contract, for a territory of growing companies.",
        "tools": ("HubSpot",),
    },
    "Backend Engineer": {
        "function": "Engineering",
        "department": "Engineering",
        "titles": ("Backend Engineer", "Senior Backend Engineer", "Software Engineer, Backend"),
        "text": "You will design, build and run the services behind our product, with care "
        "for reliability and clear code.",
        "tools": ("Jira", "Slack", "Stripe"),
    },
    "Customer Success Manager": {
        "function": "Customer Success",
        "department": "Customer Success",
        "titles": (
            "Customer Success Manager",
            "Senior Customer Success Manager",
            "Customer Success Manager, Mid-Market",
        ),
        "text": "You will onboard new customers, run their business reviews and help them "
        "get lasting value from our product.",
        "tools": ("Zendesk", "Intercom", "Zoom"),
    },
    "Data Analyst": {
        "function": "Other",
        "department": "Data",
        "titles": ("Data Analyst", "Senior Data Analyst", "Product Data Analyst"),
        "text": "You will turn raw data into reports and dashboards that guide decisions "
        "across the company.",
        "tools": ("Google Analytics", "Segment"),
    },
    "Product Designer": {
        "function": "Other",
        "department": "Design",
        "titles": ("Product Designer", "Senior Product Designer", "UX Designer"),
        "text": "You will shape how customers experience our product, from early research "
        "to polished screens.",
        "tools": ("Hotjar",),
    },
    "Marketing Manager": {
        "function": "Marketing",
        "department": "Marketing",
        "titles": (
            "Marketing Manager",
            "Product Marketing Manager",
            "Content Marketing Manager",
            "Demand Generation Manager",
        ),
        "text": "You will plan campaigns, write content and grow the pipeline of new "
        "business with our sales team.",
        "tools": ("HubSpot", "WordPress", "Google Analytics"),
    },
}
OTHER_ROLE: dict[str, Any] = {
    "function": "Other",
    "department": "Operations",
    "titles": (),
    "text": "You will join a small team and help it grow.",
    "tools": (),
}


@dataclass(frozen=True)
class Posting:
    """One job posting on a company's board: a ``job_posting`` signal of the CRM."""

    id: str
    date: str  # the signal's day, YYYY-MM-DD: the posting's publication date
    role: str  # the signal's Detail, e.g. 'SDR'
    function: str  # SDR, AE, Engineering, Customer Success, Marketing or Other
    title: str
    url: str


@dataclass(frozen=True)
class SiteTruth:
    """What one company's website was written to show. ``stack``: its tools at the export
    (the CRM's truth), each embedded by its fingerprint example; ``tech``: every tool a
    visitor can see, the stack plus the job board its careers page links to when the
    fingerprint file knows that board (what a technographic matcher should find).
    ``careers``: 'board', 'page' (a careers page without a board) or 'none' (no careers
    page); then the job board and every posting on it."""

    domain: str
    stack: tuple[str, ...]
    tech: tuple[str, ...]
    careers: str
    board: str | None
    board_url: str | None
    api_url: str | None
    postings: tuple[Posting, ...]


@dataclass(frozen=True)
class Websites:
    """The written sites: ``www`` (one folder per host, served by ``webserver.serve``), the
    DNS records (``www/dns.json``), and the truth they were written from (also as JSON in
    ``truth_path``), for measuring what the enrichment providers recover."""

    out: Path
    www: Path
    dns: Path
    truth_path: Path
    truth: Mapping[str, SiteTruth]
    n_files: int
    n_bytes: int


@dataclass(frozen=True)
class _Company:
    domain: str
    name: str
    employees: int
    industry: str
    country: str
    tech: tuple[str, ...]
    city: str
    founded: str


def load_examples(path: Path = FINGERPRINTS) -> dict[str, dict[str, str]]:
    """Each tool's fingerprint ``example`` (kind -> sample text) from a fingerprint file."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"{path}: cannot read the fingerprint file ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        raise ValueError(f"{path}{where}: not valid YAML ({exc})") from None
    tools = data.get("tools", data) if isinstance(data, dict) else data
    if not isinstance(tools, list):
        raise ValueError(f"{path}: expected a list of tools")
    examples: dict[str, dict[str, str]] = {}
    for i, tool in enumerate(tools, 1):
        if not isinstance(tool, dict) or not isinstance(tool.get("name"), str):
            raise ValueError(f"{path}: tool {i} has no name")
        example = tool.get("example")
        if not isinstance(example, dict) or not example:
            raise ValueError(f"{path}: tool {tool['name']!r} has no example")
        unknown = set(example) - set(EXAMPLE_KINDS)
        if unknown:
            raise ValueError(
                f"{path}: tool {tool['name']!r}: example kind {sorted(unknown)[0]!r} is none "
                f"of {', '.join(EXAMPLE_KINDS)}"
            )
        examples[tool["name"]] = {k: str(v) for k, v in example.items()}
    return examples


def write_websites(
    files: DemoFiles, out: Path | None = None, *, fingerprints: Path = FINGERPRINTS
) -> Websites:
    """Write every demo company's website, job board and DNS records under ``out/www`` (out
    defaults to the CRM's folder) and their truth to ``out/truth/websites.json``.

    The same CRM files give the same bytes. A tool of a company's stack that the fingerprint
    file has no example for is an error naming the tool.
    """
    out = Path(out) if out is not None else files.out_dir
    www = out / "www"
    examples = load_examples(fingerprints)
    companies = _read_companies(files)
    postings = _read_postings(files.signals)
    writer = _Writer()
    truth: dict[str, SiteTruth] = {}
    dns: dict[str, dict[str, list[str]]] = {}
    for company in companies:
        missing = [t for t in company.tech if t not in examples]
        if missing:
            raise ValueError(
                f"{files.company_truth}: {company.domain} runs {missing[0]!r}, which "
                f"{fingerprints} has no example for"
            )
        site = _site(company, postings.get(company.domain, ()), examples)
        truth[company.domain] = site
        dns[company.domain] = _write_site(writer, www, company, site, examples)
    writer.write(www / "dns.json", _json(dns))
    truth_path = out / "truth" / "websites.json"
    payload = {"schema_version": 1, "sites": [_truth_json(site) for site in truth.values()]}
    writer.write(truth_path, _json(payload))
    return Websites(out, www, www / "dns.json", truth_path, truth, writer.n_files, writer.n_bytes)


# ---- reading the CRM -------------------------------------------------------------------------


def _read_companies(files: DemoFiles) -> list[_Company]:
    """The companies of ``company_truth.csv`` with their city and founding year as the
    companies export records them."""
    extra: dict[str, tuple[str, str]] = {}
    with files.companies.open(encoding="utf-8-sig", newline="") as fh:
        for row in csv.DictReader(fh):
            extra[row["Record ID"]] = (row["City"], row["Year Founded"])
    companies = []
    with files.company_truth.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            city, founded = extra.get(row["Record ID"], ("", ""))
            companies.append(
                _Company(
                    domain=row["domain"],
                    name=row["name"],
                    employees=int(row["employees"]),
                    industry=row["industry"],
                    country=row["country"],
                    tech=tuple(t for t in row["tech"].split(";") if t),
                    city=city,
                    founded=founded,
                )
            )
    return companies


def _read_postings(signals: Path) -> dict[str, list[tuple[str, str]]]:
    """Each domain's job postings (day, role), newest first, as job boards list them."""
    found: dict[str, list[tuple[str, str]]] = defaultdict(list)
    with signals.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            if row["Signal Type"] == "job_posting":
                found[row["Company Domain Name"]].append((row["Signal Date"], row["Detail"]))
    return {domain: sorted(rows, reverse=True) for domain, rows in found.items()}


# ---- what each site shows --------------------------------------------------------------------


def _h(*parts: object) -> int:
    """A stable 64-bit hash (not Python's salted ``hash``), for deterministic choices."""
    data = "\x1f".join(map(str, parts)).encode("utf-8")
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big")


def _uuid(*parts: object) -> str:
    data = "\x1f".join(map(str, parts)).encode("utf-8")
    return str(uuid.UUID(bytes=hashlib.blake2b(data, digest_size=16).digest(), version=4))


def _slug(domain: str) -> str:
    """The board account name: the domain's first label ('kazomilabs' for kazomilabs.de)."""
    return domain.split(".", 1)[0]


def _board_urls(board: str, domain: str) -> tuple[str, str]:
    """The board's public page and its API URL (what the careers page links to / a job-board
    client fetches)."""
    slug = _slug(domain)
    if board == "greenhouse":
        return (
            f"https://boards.greenhouse.io/{slug}",
            f"https://boards-api.greenhouse.io/v1/boards/{slug}/jobs",
        )
    if board == "lever":
        return f"https://jobs.lever.co/{slug}", f"https://api.lever.co/v0/postings/{slug}"
    if board == "ashby":
        return (
            f"https://jobs.ashbyhq.com/{slug}",
            f"https://api.ashbyhq.com/posting-api/job-board/{slug}",
        )
    if board == "workable":
        return (
            f"https://apply.workable.com/{slug}/",
            f"https://apply.workable.com/api/v1/widget/accounts/{slug}",
        )
    company = slug.capitalize()
    return (
        f"https://careers.smartrecruiters.com/{company}",
        f"https://api.smartrecruiters.com/v1/companies/{company}/postings",
    )


def _posting_id(board: str, domain: str, i: int) -> str:
    base = _h("posting", domain)
    if board == "greenhouse":
        return str(4_000_000_000 + (base % 10**7) * 100 + i)
    if board == "smartrecruiters":
        return str(743_999_000_000_000 + (base % 10**10) * 100 + i)
    if board == "workable":
        return f"{_h('posting', domain, i):016X}"[:10]
    return _uuid("posting", domain, i)


def _posting_url(board: str, domain: str, posting_id: str) -> str:
    slug = _slug(domain)
    return {
        "greenhouse": f"https://boards.greenhouse.io/{slug}/jobs/{posting_id}",
        "lever": f"https://jobs.lever.co/{slug}/{posting_id}",
        "ashby": f"https://jobs.ashbyhq.com/{slug}/{posting_id}",
        "workable": f"https://apply.workable.com/j/{posting_id}",
        "smartrecruiters": f"https://jobs.smartrecruiters.com/{slug.capitalize()}/{posting_id}",
    }[board]


def _site(
    company: _Company, postings: Sequence[tuple[str, str]], known: Mapping[str, object]
) -> SiteTruth:
    domain = company.domain
    if not postings:
        careers = "page" if _h("careers", domain) % 2 == 0 else "none"
        return SiteTruth(domain, company.tech, company.tech, careers, None, None, None, ())
    board = BOARDS[_h("board", domain) % len(BOARDS)]
    board_url, api_url = _board_urls(board, domain)
    listed = []
    for i, (day, role) in enumerate(postings):
        spec = ROLES.get(role, OTHER_ROLE)
        titles = spec["titles"] or (role,)
        posting_id = _posting_id(board, domain, i)
        listed.append(
            Posting(
                id=posting_id,
                date=day,
                role=role,
                function=spec["function"],
                title=titles[_h("title", domain, i) % len(titles)],
                url=_posting_url(board, domain, posting_id),
            )
        )
    shown = company.tech + tuple(t for t in [BOARD_TOOL[board]] if t in known)
    return SiteTruth(domain, company.tech, shown, "board", board, board_url, api_url, tuple(listed))


# ---- writing ---------------------------------------------------------------------------------


class _Writer:
    """Writes files, creating folders once, and counts them."""

    def __init__(self) -> None:
        self.n_files = 0
        self.n_bytes = 0
        self._dirs: set[Path] = set()

    def write(self, path: Path, data: bytes) -> None:
        parent = path.parent
        if parent not in self._dirs:
            parent.mkdir(parents=True, exist_ok=True)
            self._dirs.add(parent)
        path.write_bytes(data)
        self.n_files += 1
        self.n_bytes += len(data)


def _truth_json(site: SiteTruth) -> dict[str, object]:
    """One site's truth as JSON (``dataclasses.asdict`` is five times slower)."""
    fields = ("id", "date", "role", "function", "title", "url")
    return {
        "domain": site.domain,
        "stack": list(site.stack),
        "tech": list(site.tech),
        "careers": site.careers,
        "board": site.board,
        "board_url": site.board_url,
        "api_url": site.api_url,
        "postings": [{f: getattr(p, f) for f in fields} for p in site.postings],
    }


def _json(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False, indent=None).encode("utf-8")


def _write_site(
    writer: _Writer,
    www: Path,
    company: _Company,
    site: SiteTruth,
    examples: Mapping[str, Mapping[str, str]],
) -> dict[str, list[str]]:
    """Write one company's pages, headers and board; return its DNS records."""
    head: list[str] = []
    body: list[str] = []
    headers: list[list[str]] = []
    txt: list[str] = []
    mx: list[str] = []
    for tool in company.tech:
        for kind, sample in examples[tool].items():
            if kind == "script_src":
                head.append(f'<script async src="{html.escape(sample)}"></script>')
            elif kind == "meta":
                name, _, content = sample.partition(":")
                head.append(
                    f'<meta name="{html.escape(name.strip())}" '
                    f'content="{html.escape(content.strip())}">'
                )
            elif kind == "html":
                (
                    head if sample.lstrip().startswith(("<meta", "<link", "<script")) else body
                ).append(sample)
            elif kind == "cookie":
                name, _, value = sample.partition("=")
                value = value or f"{_h('cookie', company.domain, tool):x}"
                headers.append(["Set-Cookie", f"{name}={value}; Path=/; Max-Age=15552000"])
            elif kind == "header":
                name, _, value = sample.partition(":")
                headers.append([name.strip(), value.strip()])
            elif kind == "dns_txt":
                txt.append(sample)
            else:
                mx.append(sample.rstrip("."))
    if not any(t.startswith("v=spf1") for t in txt):
        txt.append("v=spf1 mx ~all")
    if not mx:  # a company that runs no mail provider of the fingerprint file hosts its own
        mx.append(f"mail.{company.domain}")
    root = www / company.domain
    writer.write(root / "index.html", _homepage(company, site, head, body).encode("utf-8"))
    if site.careers != "none":
        writer.write(root / "careers.html", _careers(company, site, head).encode("utf-8"))
    if headers:
        writer.write(root / ".headers.json", _json(headers))
    if site.api_url is not None and site.board is not None:
        api = site.api_url.removeprefix("https://")
        writer.write(www / api, _json(_board_payload(site.board, company, site)))
    return {"txt": txt, "mx": mx}


def _lang(company: _Company) -> tuple[str, Mapping[str, str]]:
    locale = LOCALE.get(company.country, "en")
    return locale, WORDS[locale[:2]]


def _country_name(company: _Company) -> str:
    """The company's country as its own site writes it (in the site's language)."""
    code = company.country
    return LOCAL_COUNTRY_NAME.get(code) or COUNTRY_NAME.get(code, code)


def _description(company: _Company) -> str:
    locale, words = _lang(company)
    tagline = TAGLINE.get(company.industry, TAGLINE["Software"])[locale[:2]]
    based = words["based"].format(city=company.city) if company.city else ""
    return f"{company.name}: {tagline}. {based}".strip()


def _nav(company: _Company, site: SiteTruth) -> str:
    _, words = _lang(company)
    links = [
        f'<a href="/">{words["home"]}</a>',
        f'<a href="/#product">{words["product"]}</a>',
        f'<a href="/#customers">{words["customers"]}</a>',
    ]
    if site.careers != "none":
        links.append(f'<a href="/careers">{words["careers"]}</a>')
    links.append(f'<a href="mailto:hello@{company.domain}">{words["contact"]}</a>')
    return "<header><nav>" + " ".join(links) + "</nav></header>"


def _footer(company: _Company) -> str:
    _, words = _lang(company)
    name = html.escape(company.name)
    place = ", ".join(p for p in (company.city, _country_name(company)) if p)
    linkedin = f"https://www.linkedin.com/company/{_slug(company.domain)}"
    return (
        f"<footer><p>&copy; {EXPORT_YEAR} {name}. {html.escape(place)}. {words['rights']}</p>"
        f'<p><a href="{linkedin}">LinkedIn</a> <a href="/privacy">Privacy</a></p></footer>'
    )


def _organization(company: _Company) -> dict[str, Any]:
    """The schema.org Organization of the homepage (exact size, ISO2 country, NAICS code)."""
    codes = NAICS[company.industry]
    org: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "Organization",
        "name": company.name,
        "url": f"https://{company.domain}/",
        "description": _description(company),
        "numberOfEmployees": {"@type": "QuantitativeValue", "value": company.employees},
    }
    if company.founded:
        org["foundingDate"] = company.founded
    address: dict[str, str] = {"@type": "PostalAddress"}
    if company.city:
        address["addressLocality"] = company.city
    address["addressCountry"] = company.country
    org["address"] = address
    org["naics"] = codes[_h("naics", company.domain) % len(codes)]
    org["sameAs"] = [f"https://www.linkedin.com/company/{_slug(company.domain)}"]
    return org


def _homepage(company: _Company, site: SiteTruth, head: list[str], body: list[str]) -> str:
    locale, words = _lang(company)
    name = html.escape(company.name)
    desc = html.escape(_description(company))
    tagline = html.escape(TAGLINE.get(company.industry, TAGLINE["Software"])[locale[:2]])
    country = _country_name(company)
    ld = json.dumps(_organization(company), ensure_ascii=False).replace("</", "<\\/")
    return "\n".join(
        [
            "<!DOCTYPE html>",
            f'<html lang="{locale}">',
            "<head>",
            '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{name} | {tagline}</title>",
            f'<meta name="description" content="{desc}">',
            f'<meta property="og:title" content="{name}">',
            f'<meta property="og:description" content="{desc}">',
            f'<link rel="canonical" href="https://{company.domain}/">',
            '<link rel="stylesheet" href="/static/site.css">',
            f'<script type="application/ld+json">{ld}</script>',
            *head,
            "</head>",
            "<body>",
            _nav(company, site),
            "<main>",
            f"<h1>{name}</h1>",
            f"<p>{desc}</p>",
            f'<section id="product"><h2>{words["product"]}</h2><p>{tagline}.</p></section>',
            f'<section id="customers"><h2>{words["customers"]}</h2>'
            f"<p>{html.escape(words['trusted'].format(country=country))}</p></section>",
            "</main>",
            _footer(company),
            *body,
            '<script src="/static/app.js" defer></script>',
            "<script>document.documentElement.className = 'js';</script>",
            "</body>",
            "</html>",
            "",
        ]
    )


def _careers(company: _Company, site: SiteTruth, head: list[str]) -> str:
    locale, words = _lang(company)
    title = html.escape(words["careers_title"].format(name=company.name))
    if site.board is None or site.board_url is None:
        board = (
            f'<p>{words["none"]} <a href="mailto:jobs@{company.domain}">'
            f"jobs@{company.domain}</a>.</p>"
        )
    elif site.board == "greenhouse" and _h("embed", company.domain) % 2 == 0:
        # Greenhouse's embedded board: the page names the board only in the script URL.
        board = (
            '<div id="grnhse_app"></div>\n<script src="https://boards.greenhouse.io/embed/'
            f'job_board/js?for={_slug(company.domain)}"></script>'
        )
    else:
        board = f'<p><a href="{site.board_url}">{words["open"]}</a></p>'
    return "\n".join(
        [
            "<!DOCTYPE html>",
            f'<html lang="{locale}">',
            "<head>",
            '<meta charset="utf-8">',
            f"<title>{title}</title>",
            f'<meta name="description" content="{html.escape(words["careers_intro"])}">',
            '<link rel="stylesheet" href="/static/site.css">',
            *head,
            "</head>",
            "<body>",
            _nav(company, site),
            "<main>",
            f"<h1>{title}</h1>",
            f"<p>{html.escape(words['careers_intro'])}</p>",
            board,
            "</main>",
            _footer(company),
            '<script src="/static/app.js" defer></script>',
            "</body>",
            "</html>",
            "",
        ]
    )


# ---- job boards, in each one's documented response shape --------------------------------------


def posting_text(company_name: str, city: str, posting: Posting, tech: Sequence[str]) -> str:
    """A posting's plain-text description; it names only tools the company runs.

    >>> p = Posting("1", "2025-01-02", "SDR", "SDR", "BDR", "https://x")
    >>> posting_text("Acme", "Berlin", p, ["HubSpot", "Slack"])  # doctest: +ELLIPSIS
    'Acme is hiring a BDR in Berlin. You will research ... Our team works in HubSpot.'
    """
    spec = ROLES.get(posting.role, OTHER_ROLE)
    where = f" in {city}" if city else ""
    text = f"{company_name} is hiring a {posting.title}{where}. {spec['text']}"
    named = [t for t in spec["tools"] if t in tech]
    if named:
        tools = named[0] if len(named) == 1 else ", ".join(named[:-1]) + " and " + named[-1]
        text += f" Our team works in {tools}."
    return text


def _iso(day: str, suffix: str) -> str:
    return f"{day}T12:00:00{suffix}"


def _millis(day: str) -> int:
    moment = dt.datetime.fromisoformat(day).replace(hour=12, tzinfo=dt.UTC)
    return int(moment.timestamp()) * 1000


def _board_payload(board: str, company: _Company, site: SiteTruth) -> object:
    slug = _slug(company.domain)
    country = COUNTRY_NAME.get(company.country, company.country)
    location = ", ".join(p for p in (company.city, country) if p)
    jobs: list[dict[str, Any]] = []
    for p in site.postings:
        spec = ROLES.get(p.role, OTHER_ROLE)
        text = posting_text(company.name, company.city, p, company.tech)
        dept = spec["department"]
        if board == "greenhouse":
            # GET /v1/boards/{token}/jobs?content=true
            jobs.append(
                {
                    "id": int(p.id),
                    "internal_job_id": int(p.id) - 1_000_000_000,
                    "title": p.title,
                    "updated_at": _iso(p.date, "-04:00"),
                    "requisition_id": f"REQ-{p.id[-4:]}",
                    "location": {"name": location},
                    "absolute_url": p.url,
                    "language": "en",
                    "metadata": None,
                    "first_published": _iso(p.date, "-04:00"),
                    "content": html.escape(f"<p>{html.escape(text)}</p>"),
                    "departments": [{"id": _h("dept", dept) % 10**7, "name": dept}],
                    "offices": [{"id": _h("office", location) % 10**7, "name": location}],
                }
            )
        elif board == "lever":
            # GET /v0/postings/{company}?mode=json
            jobs.append(
                {
                    "id": p.id,
                    "text": p.title,
                    "createdAt": _millis(p.date),
                    "hostedUrl": p.url,
                    "applyUrl": f"{p.url}/apply",
                    "categories": {
                        "team": dept,
                        "department": dept,
                        "location": location,
                        "commitment": "Full-time",
                        "allLocations": [location],
                    },
                    "workplaceType": "hybrid",
                    "description": f"<div>{html.escape(text)}</div>",
                    "descriptionPlain": text,
                    "lists": [],
                    "additional": "",
                    "additionalPlain": "",
                }
            )
        elif board == "ashby":
            # GET /posting-api/job-board/{name}
            jobs.append(
                {
                    "id": p.id,
                    "title": p.title,
                    "department": dept,
                    "team": dept,
                    "employmentType": "FullTime",
                    "location": location,
                    "isRemote": False,
                    "isListed": True,
                    "publishedAt": _iso(p.date, ".000+00:00"),
                    "jobUrl": p.url,
                    "applyUrl": f"{p.url}/application",
                    "descriptionHtml": f"<p>{html.escape(text)}</p>",
                    "descriptionPlain": text,
                }
            )
        elif board == "workable":
            # GET /api/v1/widget/accounts/{subdomain}
            jobs.append(
                {
                    "title": p.title,
                    "shortcode": p.id,
                    "code": "",
                    "employment_type": "Full-time",
                    "telecommuting": False,
                    "department": dept,
                    "url": p.url,
                    "shortlink": p.url,
                    "application_url": f"{p.url}/apply",
                    "published_on": p.date,
                    "created_at": p.date,
                    "country": country,
                    "city": company.city,
                    "state": "",
                    "education": "",
                    "experience": "",
                    "function": "",
                    "industry": "",
                    "locations": [
                        {
                            "country": country,
                            "countryCode": company.country,
                            "city": company.city,
                            "region": "",
                        }
                    ],
                }
            )
        else:
            # GET /v1/companies/{companyIdentifier}/postings
            jobs.append(
                {
                    "id": p.id,
                    "name": p.title,
                    "uuid": _uuid("sr", company.domain, p.id),
                    "refNumber": f"REF{p.id[-6:]}",
                    "company": {"identifier": slug.capitalize(), "name": company.name},
                    "releasedDate": _iso(p.date, ".000Z"),
                    "location": {
                        "city": company.city,
                        "country": company.country.lower(),
                        "remote": False,
                    },
                    "industry": {"id": "", "label": ""},
                    "department": {"id": str(_h("dept", dept) % 10**7), "label": dept},
                    "function": {"id": dept.lower().replace(" ", "_"), "label": dept},
                    "typeOfEmployment": {"label": "Full-time"},
                    "experienceLevel": {"id": "associate", "label": "Associate"},
                    "customField": [],
                    "ref": f"https://api.smartrecruiters.com/v1/companies/"
                    f"{slug.capitalize()}/postings/{p.id}",
                    "creator": {"name": company.name},
                    "language": {"code": "en", "label": "English"},
                }
            )
    if board == "greenhouse":
        return {"jobs": jobs, "meta": {"total": len(jobs)}}
    if board == "lever":
        return jobs
    if board == "ashby":
        return {"apiVersion": "1", "jobs": jobs}
    if board == "workable":
        return {"name": company.name, "description": None, "jobs": jobs}
    return {"offset": 0, "limit": 100, "totalFound": len(jobs), "content": jobs}
