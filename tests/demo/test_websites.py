"""The demo companies' websites: every planted tool's fingerprint example and every job
posting of the CRM is on the site, in DNS or on the job board, and nothing else is."""

from __future__ import annotations

import csv
import datetime as dt
import html
import json
import re
from collections import Counter
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from icpkit.demo import Websites, write_websites
from icpkit.demo.websites import BOARD_TOOL, NAICS, ROLES, load_examples
from icpkit.enrich.dns import Records
from icpkit.enrich.roles import function_of
from icpkit.enrich.site import Page
from icpkit.enrich.technographics import match
from icpkit.ingest.normalize.countries import country_code
from icpkit.ingest.normalize.employees import parse_employees
from icpkit.ingest.normalize.industries import match_industry

from .conftest import Loaded

# A fingerprint file in the documented schema, with one example per kind, written here so
# the expectations below do not depend on the samples of the project's own file.
EXAMPLES: dict[str, dict[str, str]] = {
    "HubSpot": {"script_src": "https://js.hs-scripts.com/1234567.js"},
    "Google Analytics": {"script_src": "https://www.googletagmanager.com/gtag/js?id=G-X1&l=d"},
    "Slack": {"dns_txt": "slack-domain-verification=Zx8dkq3L"},
    "Zendesk": {"script_src": "https://static.zdassets.com/ekr/snippet.js?key=a1"},
    "Intercom": {"cookie": "intercom-id-ab12"},
    "Stripe": {"script_src": "https://js.stripe.com/v3/"},
    "WordPress": {"meta": "generator: WordPress 6.4.2"},
    "Shopify": {"header": "x-shopid: 12345678"},
    "Zoom": {"dns_txt": "ZOOM_verify_abcDEF123"},
    "Segment": {"html": '<div data-segment-key="wk3">'},
    "Hotjar": {"cookie": "_hjSessionUser_123=eyJ"},
    "Jira": {"dns_txt": "atlassian-domain-verification=Qm1"},
    "Google Workspace": {"mx": "aspmx.l.google.com"},
    "Lever": {"html": '<a href="https://jobs.lever.co/acme">Jobs</a>'},
}
SAMPLE = [{"name": n, "category": "x", "example": e} for n, e in EXAMPLES.items()]
BOARD_API = {
    "boards.greenhouse.io": ("boards-api.greenhouse.io", "v1/boards/{}/jobs"),
    "jobs.lever.co": ("api.lever.co", "v0/postings/{}"),
    "jobs.ashbyhq.com": ("api.ashbyhq.com", "posting-api/job-board/{}"),
    "apply.workable.com": ("apply.workable.com", "api/v1/widget/accounts/{}"),
    "careers.smartrecruiters.com": ("api.smartrecruiters.com", "v1/companies/{}/postings"),
}
SDR_TITLE = re.compile(r"\b(SDR|BDR|Sales Development|Business Development)\b")
BOARD_LINK = re.compile(
    r'(?:href|src)="https://(boards\.greenhouse\.io|jobs\.lever\.co|jobs\.ashbyhq\.com|'
    r"apply\.workable\.com|careers\.smartrecruiters\.com)/(?:embed/job_board/js\?for=)?"
    r'([A-Za-z0-9_-]+)/?"'
)
JSON_LD = re.compile(r'<script type="application/ld\+json">(.*?)</script>', re.S)


def write_sample(path: Path, tools: list[dict[str, Any]] = SAMPLE) -> Path:
    path.write_text(yaml.safe_dump(tools, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_sample(tmp_path_factory.mktemp("fp") / "fingerprints.yaml")


@pytest.fixture(scope="module")
def sites(small: Loaded, sample: Path, tmp_path_factory: pytest.TempPathFactory) -> Websites:
    return write_websites(small.files, tmp_path_factory.mktemp("sites"), fingerprints=sample)


def stacks(small: Loaded) -> dict[str, list[str]]:
    return {r["domain"]: [t for t in r["tech"].split(";") if t] for r in small.company_truth}


def evidence(sites: Websites, domain: str) -> str:
    """Everything a visitor of ``domain`` can see: its pages, its headers and its DNS."""
    root = sites.www / domain
    parts = [p.read_text(encoding="utf-8") for p in sorted(root.iterdir()) if p.is_file()]
    parts.append(json.dumps(dns_records(sites.dns)[domain]))
    return "\n".join(parts)


@cache
def dns_records(path: Path) -> dict[str, Any]:
    return dict(json.loads(path.read_text(encoding="utf-8")))


def board(sites: Websites, domain: str) -> tuple[str, Any] | None:
    """The job board the careers page links to, and its API answer (found the way a client
    finds it: from the link on the page, with the documented API path)."""
    careers = sites.www / domain / "careers.html"
    if not careers.exists():
        return None
    found = BOARD_LINK.search(careers.read_text(encoding="utf-8"))
    if found is None:
        return None
    host, path = BOARD_API[found.group(1)]
    api = sites.www / host / path.format(found.group(2))
    return found.group(1), json.loads(api.read_text(encoding="utf-8"))


def listed(kind: str, payload: Any) -> list[tuple[str, str]]:
    """(publication day, title) of every posting, read from each board's documented fields."""
    if kind == "boards.greenhouse.io":
        return [(j["first_published"][:10], j["title"]) for j in payload["jobs"]]
    if kind == "jobs.lever.co":
        import datetime as dt

        return [
            (dt.datetime.fromtimestamp(j["createdAt"] / 1000, dt.UTC).date().isoformat(), j["text"])
            for j in payload
        ]
    if kind == "jobs.ashbyhq.com":
        return [(j["publishedAt"][:10], j["title"]) for j in payload["jobs"]]
    if kind == "apply.workable.com":
        return [(j["published_on"], j["title"]) for j in payload["jobs"]]
    return [(j["releasedDate"][:10], j["name"]) for j in payload["content"]]


def posting_texts(kind: str, payload: Any) -> list[str]:
    """The title and description of every posting (the text a reader of the board sees)."""
    jobs = payload if kind == "jobs.lever.co" else payload.get("jobs", payload.get("content"))
    fields = ("title", "text", "name", "content", "descriptionPlain")
    return [html.unescape(str(j[f])) for j in jobs for f in fields if f in j]


# ---- technographics ----------------------------------------------------------------------------


def test_every_planted_tool_shows_its_fingerprint_example(small: Loaded, sites: Websites) -> None:
    examples = EXAMPLES
    for domain, tools in stacks(small).items():
        seen = evidence(sites, domain)
        for tool in tools:
            for kind, sample in examples[tool].items():
                if kind in ("cookie", "header"):
                    continue  # response headers, checked below
                shown = {
                    "script_src": f'src="{html.escape(sample)}"',
                    "meta": '<meta name="generator" content="WordPress 6.4.2">',
                }.get(kind, sample)
                assert shown in seen or json.dumps(sample)[1:-1] in seen, (domain, tool, kind)


def test_no_tool_outside_the_stack_leaves_a_trace(small: Loaded, sites: Websites) -> None:
    examples = EXAMPLES
    for domain, tools in stacks(small).items():
        seen = evidence(sites, domain)
        for tool in examples.keys() - set(tools):
            for kind, sample in examples[tool].items():
                text = sample.split("=")[0] if kind == "cookie" else sample
                assert html.escape(text) not in seen and text not in seen, (domain, tool, kind)


def test_dns_records_carry_dns_examples_and_an_own_mail_server(
    small: Loaded, sites: Websites
) -> None:
    records = json.loads(sites.dns.read_text(encoding="utf-8"))
    assert records.keys() == stacks(small).keys()
    for domain, tools in stacks(small).items():
        assert ("slack-domain-verification=Zx8dkq3L" in records[domain]["txt"]) == (
            "Slack" in tools
        )
        # No demo company runs a mail provider the fingerprint file knows: mail stays home.
        assert records[domain]["mx"] == [f"mail.{domain}"]
        assert any(t.startswith("v=spf1") for t in records[domain]["txt"])


def test_cookies_and_headers_of_tools_are_response_headers(small: Loaded, sites: Websites) -> None:
    for domain, tools in stacks(small).items():
        path = sites.www / domain / ".headers.json"
        pairs = json.loads(path.read_text(encoding="utf-8")) if path.exists() else []
        cookies = {v.split("=")[0] for k, v in pairs if k == "Set-Cookie"}
        assert ("intercom-id-ab12" in cookies) == ("Intercom" in tools)
        assert ("_hjSessionUser_123" in cookies) == ("Hotjar" in tools)
        assert (["x-shopid", "12345678"] in pairs) == ("Shopify" in tools)


@pytest.mark.slow
def test_truth_holds_the_stack_and_the_job_board_a_visitor_sees(
    small: Loaded, sites: Websites
) -> None:
    assert {d: list(s.stack) for d, s in sites.truth.items()} == stacks(small)
    # The fingerprint file knows Lever (not Greenhouse): a link to a Lever board shows it.
    for domain, site in sites.truth.items():
        found = board(sites, domain)
        lever = found is not None and found[0] == "jobs.lever.co"
        assert list(site.tech) == stacks(small)[domain] + ["Lever"] * lever
    stored = json.loads(sites.truth_path.read_text(encoding="utf-8"))
    assert stored["schema_version"] == 1
    assert {s["domain"]: s["tech"] for s in stored["sites"]} == {
        d: list(s.tech) for d, s in sites.truth.items()
    }


def test_a_stack_tool_without_an_example_is_an_error_naming_it(
    small: Loaded, tmp_path: Path
) -> None:
    fp = write_sample(tmp_path / "fp.yaml", [t for t in SAMPLE if t["name"] != "Hotjar"])
    with pytest.raises(ValueError, match=r"'Hotjar'.* no example"):
        write_websites(small.files, tmp_path / "out", fingerprints=fp)


def test_a_fingerprint_without_an_example_is_an_error(tmp_path: Path) -> None:
    fp = write_sample(tmp_path / "fp.yaml", [{"name": "Acme Chat", "category": "chat"}])
    with pytest.raises(ValueError, match=r"fp\.yaml: tool 'Acme Chat' has no example"):
        load_examples(fp)


def test_the_project_fingerprint_file_has_an_example_for_every_demo_tool(small: Loaded) -> None:
    examples = load_examples()
    used = {t for tools in stacks(small).values() for t in tools}
    assert used <= examples.keys()


def pages(sites: Websites, domain: str) -> list[Page]:
    """The site's pages as a crawl fetches them: HTML, response headers, cookie names."""
    root = sites.www / domain
    path = root / ".headers.json"
    pairs = json.loads(path.read_text(encoding="utf-8")) if path.exists() else []
    headers = {k.lower(): v for k, v in pairs if k != "Set-Cookie"}
    cookies = tuple(v.split("=")[0] for k, v in pairs if k == "Set-Cookie")
    now = dt.datetime(2025, 10, 1, tzinfo=dt.UTC)
    return [
        Page(kind, f"http://{domain}/{name}", 200, headers, cookies, p.read_text("utf-8"), now)
        for kind, name in (("home", ""), ("careers", "careers"))
        if (p := root / ("index.html" if kind == "home" else "careers.html")).exists()
    ]


@pytest.mark.slow
def test_the_technographic_matcher_finds_exactly_each_sites_tools(
    small: Loaded, tmp_path_factory: pytest.TempPathFactory
) -> None:
    sites = write_websites(small.files, tmp_path_factory.mktemp("real"))  # the project's file
    records = dns_records(sites.dns)
    wrong = {}
    for domain, site in sites.truth.items():
        dns = Records(txt=tuple(records[domain]["txt"]), mx=tuple(records[domain]["mx"]))
        found = {d.tool for d in match(pages(sites, domain), dns, domain=domain)}
        if found != set(site.tech):
            wrong[domain] = (sorted(found - set(site.tech)), sorted(set(site.tech) - found))
    assert not wrong, list(wrong.items())[:5]
    boards = {t for s in sites.truth.values() for t in s.tech} & set(BOARD_TOOL.values())
    assert boards == set(BOARD_TOOL.values())  # a job board linked from a page is a tool seen


@pytest.mark.parametrize(("role", "title"), [(r, t) for r, s in ROLES.items() for t in s["titles"]])
def test_every_job_title_reads_back_as_its_role_function(role: str, title: str) -> None:
    assert function_of(title) == ROLES[role]["function"]


# ---- firmographics -----------------------------------------------------------------------------


def test_json_ld_round_trips_through_the_normalizers(small: Loaded, sites: Websites) -> None:
    founded = {r["Record ID"]: r["Year Founded"] for r in small.companies}
    for row in small.company_truth:
        page = (sites.www / row["domain"] / "index.html").read_text(encoding="utf-8")
        org = json.loads(JSON_LD.search(page).group(1))  # type: ignore[union-attr]
        assert org["@type"] == "Organization"
        count = parse_employees(str(org["numberOfEmployees"]["value"]))
        assert count is not None and count.value == count.low == int(row["employees"])
        assert country_code(org["address"]["addressCountry"]) == row["country"]
        match = match_industry(org["naics"])
        assert match is not None and match.label == row["industry"]
        assert org.get("foundingDate", "") == founded[row["Record ID"]]
        assert org["sameAs"][0].startswith("https://www.linkedin.com/company/")


@pytest.mark.parametrize(("label", "code"), [(k, c) for k, cs in NAICS.items() for c in cs])
def test_every_naics_code_reads_back_as_its_industry(label: str, code: str) -> None:
    match = match_industry(code)
    assert match is not None and match.label == label


def test_page_language_follows_the_country(small: Loaded, sites: Websites) -> None:
    want = {"DE": "de", "FR": "fr", "NL": "nl", "US": "en", "GB": "en"}
    for row in small.company_truth:
        if row["country"] in want:
            page = (sites.www / row["domain"] / "index.html").read_text(encoding="utf-8")
            lang = re.search(r'<html lang="([a-z]+)-([A-Z]+)">', page)
            assert lang is not None and lang.group(1) == want[row["country"]]
            assert lang.group(2) == row["country"]


# ---- hiring --------------------------------------------------------------------------------------


def test_every_job_posting_is_on_the_board_with_its_date(small: Loaded, sites: Websites) -> None:
    posted: dict[str, Counter[str]] = {}
    for s in small.signals:
        if s["Signal Type"] == "job_posting":
            posted.setdefault(s["Company Domain Name"], Counter())[s["Signal Date"]] += 1
    kinds = Counter()
    for domain in stacks(small):
        found = board(sites, domain)
        if domain not in posted:
            assert found is None, domain
            continue
        assert found is not None, domain
        kind, payload = found
        kinds[kind] += 1
        assert Counter(day for day, _ in listed(kind, payload)) == posted[domain], domain
    assert set(kinds) == set(BOARD_API)  # all five boards are used


def test_sdr_postings_carry_sdr_titles_and_no_other_role_does(
    small: Loaded, sites: Websites
) -> None:
    sdr: dict[str, Counter[str]] = {}
    for s in small.signals:
        if s["Signal Type"] == "job_posting" and s["Detail"] == "SDR":
            sdr.setdefault(s["Company Domain Name"], Counter())[s["Signal Date"]] += 1
    titles = set()
    for domain in stacks(small):
        found = board(sites, domain)
        if found is None:
            continue
        days = Counter(day for day, title in listed(*found) if SDR_TITLE.search(title))
        titles |= {title for _, title in listed(*found) if SDR_TITLE.search(title)}
        assert days == sdr.get(domain, Counter()), domain
    assert {"Sales Development Representative", "BDR"} <= titles  # variants, not one title


def test_companies_without_postings_have_either_no_careers_page_or_one_without_a_board(
    small: Loaded, sites: Websites
) -> None:
    posting = {s["Company Domain Name"] for s in small.signals if s["Signal Type"] == "job_posting"}
    shapes = Counter()
    for domain in stacks(small).keys() - posting:
        home = (sites.www / domain / "index.html").read_text(encoding="utf-8")
        careers = sites.www / domain / "careers.html"
        links = 'href="/careers"' in home
        assert links == careers.exists(), domain
        if careers.exists():
            assert BOARD_LINK.search(careers.read_text(encoding="utf-8")) is None
        shapes[links] += 1
    assert shapes[True] > 0 and shapes[False] > 0


@pytest.mark.slow
def test_posting_texts_name_only_tools_the_company_runs(small: Loaded, sites: Websites) -> None:
    names = set(EXAMPLES) | set(load_examples())  # every tool icpkit knows
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, names)) + r")\b", re.I)
    named = Counter()
    for domain, tools in stacks(small).items():
        found = board(sites, domain)
        if found is None:
            continue
        text = "\n".join(posting_texts(*found))
        canonical = {n.casefold(): n for n in names}
        mentioned = {canonical[m.casefold()] for m in pattern.findall(text)}
        assert mentioned <= set(tools), (domain, mentioned - set(tools))
        named.update(mentioned)
    assert named["HubSpot"] > 0  # tools the company runs do get named


def test_board_answers_have_each_boards_documented_fields(small: Loaded, sites: Websites) -> None:
    required = {
        "boards.greenhouse.io": "id title updated_at first_published absolute_url location content",
        "jobs.lever.co": "id text createdAt hostedUrl categories descriptionPlain",
        "jobs.ashbyhq.com": "id title department publishedAt jobUrl descriptionPlain",
        "apply.workable.com": "title shortcode url published_on created_at department",
        "careers.smartrecruiters.com": "id name releasedDate ref department function",
    }
    seen = set()
    for domain in stacks(small):
        found = board(sites, domain)
        if found is None:
            continue
        kind, payload = found
        jobs = {
            "jobs.lever.co": lambda p: p,
            "careers.smartrecruiters.com": lambda p: p["content"],
        }.get(kind, lambda p: p["jobs"])(payload)
        for job in jobs:
            assert set(required[kind].split()) <= job.keys(), kind
        seen.add(kind)
        if kind == "apply.workable.com":
            assert payload["name"]
    assert seen == set(required)


# ---- exports and determinism ---------------------------------------------------------------------


@pytest.mark.slow
def test_same_files_give_the_same_bytes(small: Loaded, sample: Path, tmp_path: Path) -> None:
    a = write_websites(small.files, tmp_path / "a", fingerprints=sample)
    b = write_websites(small.files, tmp_path / "b", fingerprints=sample)
    files_a = sorted(p.relative_to(a.out) for p in a.out.rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(b.out) for p in b.out.rglob("*") if p.is_file())
    assert files_a == files_b and len(files_a) == a.n_files
    for rel in files_a:
        assert (a.out / rel).read_bytes() == (b.out / rel).read_bytes(), rel


def test_names_only_export_keeps_three_columns_as_exported(small: Loaded, tmp_path: Path) -> None:
    path = tmp_path / "names.csv"
    assert small.files.write_names_only(path) == len(small.companies)
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["Record ID", "Company name", "Company Domain Name"]
    assert rows[1:] == [
        [r["Record ID"], r["Company name"], r["Company Domain Name"]] for r in small.companies
    ]


def test_a_fingerprint_file_that_is_not_yaml_is_an_error_naming_line_and_column(
    tmp_path: Path,
) -> None:
    fp = tmp_path / "fp.yaml"
    fp.write_text("- name: A\n  example: {html: '<b>'\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"fp\.yaml:3:1: not valid YAML"):
        load_examples(fp)
