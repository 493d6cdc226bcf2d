"""Hiring signals: the job board found on a careers page, each board's documented answer
read into dated postings by function, tools named in postings, and the provider end to end
against loopback web servers (exact observations, exact requests, every failure said)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from icpkit.config import EnrichSettings
from icpkit.enrich.context import Context
from icpkit.enrich.dns import Records
from icpkit.enrich.fetch import Fetcher
from icpkit.enrich.model import Lookup, Observation, Provider, Target
from icpkit.enrich.providers import make
from icpkit.enrich.providers.hiring import (
    NO_BOARD,
    Board,
    BoardShapeError,
    HiringProvider,
    Posting,
    ToolMatcher,
    find_board,
    parse_ashby,
    parse_greenhouse,
    parse_lever,
    parse_smartrecruiters,
    parse_workable,
    tool_names,
)
from loopback import Reply, Request, Web

FIXTURES = Path(__file__).parents[1] / "fixtures" / "enrich"
NOW = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
TOOLS = ["HubSpot", "Salesforce", "Outreach", "Snowflake", "Segment", "Gong", "Front", "Zendesk"]
TOOLS += ["Intercom", "Clari", "Marketo", "Apollo", "lemlist", "Pipedrive", "Close"]


def board_json(name: str) -> Any:
    return json.loads((FIXTURES / "boards" / name).read_text("utf-8"))


def page(name: str) -> str:
    return (FIXTURES / "pages" / name).read_text("utf-8")


def utc(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=dt.UTC)  # type: ignore[misc]


# -- finding the board ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("html", "service", "token"),
    [
        ('<script src="https://boards.greenhouse.io/embed/job_board/js?for=acme"></script>',
         "greenhouse", "acme"),
        ('<iframe src="https://boards.greenhouse.io/embed/job_board?for=acme&amp;b=x">',
         "greenhouse", "acme"),
        ('<a href="https://boards.greenhouse.io/acme/jobs/123">Apply</a>', "greenhouse", "acme"),
        ('<a href="https://job-boards.greenhouse.io/acme-inc">Jobs</a>', "greenhouse", "acme-inc"),
        ('<a href="https://jobs.lever.co/acme?lever-via=x">Jobs</a>', "lever", "acme"),
        ('<a href="https://jobs.ashbyhq.com/acme/embed?version=2">', "ashby", "acme"),
        ('<a href="https://apply.workable.com/acme/">Open roles</a>', "workable", "acme"),
        ('<a href="https://careers.smartrecruiters.com/AcmeGmbH">Karriere</a>',
         "smartrecruiters", "AcmeGmbH"),
        ('<a href="https://jobs.smartrecruiters.com/AcmeGmbH/744000">AE</a>',
         "smartrecruiters", "AcmeGmbH"),
    ],
)  # fmt: skip
def test_board_is_found_in_links_and_embeds(html: str, service: str, token: str) -> None:
    board = find_board(html, "https://acme.com/careers")
    assert board is not None
    assert (board.service, board.token) == (service, token)


@pytest.mark.parametrize(
    "html",
    [
        '<a href="https://www.greenhouse.io/">Powered by Greenhouse</a>',
        '<a href="https://apply.workable.com/j/4A1B2C3D4E">One job</a>',
        '<a href="https://www.lever.co/">Lever</a>',
        "<p>We are hiring! Write to jobs@acme.com</p>",
    ],
)
def test_links_that_name_no_company_board_find_none(html: str) -> None:
    assert find_board(html, "https://acme.com/careers") is None


def test_lever_eu_board_is_read_from_the_eu_api() -> None:
    board = find_board('<a href="https://jobs.eu.lever.co/acme">x</a>', "https://acme.de/")
    assert board is not None
    assert board.api() == ("https://api.eu.lever.co/v0/postings/acme", {"mode": "json"})


def test_each_board_is_asked_at_its_documented_api() -> None:
    def api(service: str, token: str) -> tuple[str, dict[str, str]]:
        return Board(service, token, "https://acme.com/").api()

    assert api("greenhouse", "acme") == (
        "https://boards-api.greenhouse.io/v1/boards/acme/jobs",
        {"content": "true"},
    )
    assert api("lever", "acme") == ("https://api.lever.co/v0/postings/acme", {"mode": "json"})
    assert api("ashby", "acme") == (
        "https://api.ashbyhq.com/posting-api/job-board/acme",
        {"includeCompensation": "false"},
    )
    assert api("workable", "acme") == (
        "https://apply.workable.com/api/v1/widget/accounts/acme",
        {"details": "true"},
    )
    assert api("smartrecruiters", "AcmeGmbH") == (
        "https://api.smartrecruiters.com/v1/companies/AcmeGmbH/postings",
        {"limit": "100"},
    )


# -- the boards' documented answers --------------------------------------------------------


def test_greenhouse_jobs_are_read_with_first_published_day_and_unescaped_text() -> None:
    postings = parse_greenhouse(board_json("greenhouse.json"))
    assert [(p.title, p.url, p.published, p.department) for p in postings] == [
        ("Sales Development Representative",
         "https://boards.greenhouse.io/acmeanalytics/jobs/4012345", utc(2026, 11, 18, 14),
         "Sales"),
        ("Senior Software Engineer, Data Platform",
         "https://boards.greenhouse.io/acmeanalytics/jobs/4012399", utc(2026, 11, 20, 16),
         "Engineering"),
        ("Enterprise Account Executive",
         "https://boards.greenhouse.io/acmeanalytics/jobs/4012400", utc(2026, 11, 19, 12), None),
    ]  # fmt: skip
    assert postings[0].text == (
        "You will book meetings for our AEs. Experience with HubSpot , Salesforce and Outreach "
        "A front row seat to our growth"
    )


def test_lever_postings_are_dated_by_created_at_milliseconds() -> None:
    postings = parse_lever(board_json("lever.json"))
    assert [(p.title, p.url, p.published, p.department) for p in postings] == [
        ("Revenue Operations Manager",
         "https://jobs.lever.co/acme/8f2c1a9e-0b4d-4f7e-9c1a-2b3c4d5e6f70",
         utc(2026, 11, 18, 9), "Go To Market"),
        ("Customer Success Manager, EMEA",
         "https://jobs.lever.co/acme/1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
         utc(2026, 11, 2, 14, 30), "Customer Success"),
    ]  # fmt: skip
    assert "Admin experience with Salesforce and Clari" in postings[0].text


def test_ashby_unlisted_jobs_are_left_out() -> None:
    postings = parse_ashby(board_json("ashby.json"))
    assert [(p.title, p.published, p.department) for p in postings] == [
        ("Product Marketing Manager", utc(2026, 10, 20, 8), "Marketing")
    ]
    assert postings[0].url == "https://jobs.ashbyhq.com/acme/5b7e0c1d-1111-4222-8333-944455556666"


def test_workable_jobs_are_dated_by_published_on() -> None:
    postings = parse_workable(board_json("workable.json"))
    assert postings == [
        Posting(
            "BDR (German speaking)",
            "https://apply.workable.com/j/4A1B2C3D4E",
            utc(2026, 11, 15),
            "Sales",
            "Prospect with Apollo and Lemlist, log it all in Pipedrive.",
        )
    ]


def test_smartrecruiters_postings_link_to_the_public_posting_page() -> None:
    postings = parse_smartrecruiters(board_json("smartrecruiters.json"), "AcmeGmbH")
    assert [(p.title, p.url, p.published, p.department) for p in postings] == [
        ("Account Executive DACH", "https://jobs.smartrecruiters.com/AcmeGmbH/744000012345678",
         utc(2026, 11, 12, 8, 30), "Vertrieb"),
        ("Softwareentwickler Backend (m/w/d)",
         "https://jobs.smartrecruiters.com/AcmeGmbH/744000012345999", utc(2026, 11, 1, 7),
         "Engineering"),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("parse", "answer"),
    [
        (parse_greenhouse, {"error": "not found"}),
        (parse_lever, {"ok": False, "error": "Document not found"}),
        (parse_ashby, []),
        (parse_workable, {"name": "Acme"}),
        (parse_smartrecruiters, {"content": "none"}),
    ],
)
def test_an_answer_without_its_documented_list_is_a_shape_error(parse: Any, answer: Any) -> None:
    with pytest.raises(BoardShapeError):
        parse(answer)


def test_postings_without_a_title_or_with_odd_values_are_skipped_or_undated() -> None:
    postings = parse_greenhouse(
        {"jobs": [{"title": ""}, "junk", {"title": "Data Engineer", "updated_at": "yesterday"}]}
    )
    assert postings == [Posting("Data Engineer", None, None, None, "")]


# -- tools named in postings ---------------------------------------------------------------


def test_tools_are_matched_by_whole_word_and_capitals() -> None:
    tools = ToolMatcher(TOOLS)
    assert tools.find("Experience with HubSpot, Salesforce and Outreach.") == [
        "HubSpot",
        "Salesforce",
        "Outreach",
    ]
    assert tools.find("hubspotter salesforces, a front row seat") == []
    assert tools.find("HubSpot/Salesforce (and Zendesk).") == ["HubSpot", "Salesforce", "Zendesk"]


def test_tool_names_of_several_words_are_matched_whole() -> None:
    tools = ToolMatcher(["Google Analytics", "Google Ads", "monday.com"])
    assert tools.find("We report in Google Analytics and plan in monday.com.") == [
        "Google Analytics",
        "monday.com",
    ]
    assert tools.find("Google is where we search.") == []


def test_everyday_word_tool_needs_a_tool_context() -> None:
    tools = ToolMatcher(TOOLS)
    assert tools.find("Close six-figure deals. Gong is our coach.") == []
    assert tools.find("Tools: Gong") == ["Gong"]
    assert tools.find("Our stack is Salesforce and Gong.") == ["Salesforce", "Gong"]


def test_tool_names_are_read_from_a_fingerprint_file(tmp_path: Path) -> None:
    path = tmp_path / "fingerprints.yaml"
    path.write_text(
        "tools:\n  - name: HubSpot\n    category: CRM\n    html: ['js.hs-scripts.com']\n"
        "  - name: Google Analytics\n    category: Analytics\n",
        encoding="utf-8",
    )
    assert tool_names(path) == ["HubSpot", "Google Analytics"]
    assert tool_names(tmp_path / "absent.yaml") == []


# -- the provider, end to end ---------------------------------------------------------------


class NoDns:
    async def records(self, domain: str) -> Records:
        return Records()


def lookup(settings: EnrichSettings, provider: Provider, targets: Sequence[Target]) -> list[Lookup]:
    async def go() -> list[Lookup]:
        async with Fetcher(settings) as fetcher:
            ctx = Context(fetcher=fetcher, dns=NoDns(), settings=settings, now=NOW)
            return await provider.lookup(targets, ctx)

    return asyncio.run(go())


def serve_acme(web: Web, careers: str | None = None) -> None:
    web.route("acme.co.uk", "/", page("acme_home.html"))
    web.route("acme.co.uk", "/about-us", page("acme_about.html"))
    web.route("acme.co.uk", "/pricing", page("acme_pricing.html"))
    web.route("acme.co.uk", "/careers", careers or page("acme_careers.html"))


def asked(web: Web) -> set[tuple[str, str]]:
    return {(r.host, r.path) for r in web.asked()}


ACME_PAGES = {
    ("acme.co.uk", "/robots.txt"),
    ("acme.co.uk", "/"),
    ("acme.co.uk", "/about-us"),
    ("acme.co.uk", "/careers"),
    ("acme.co.uk", "/pricing"),
}
GREENHOUSE_API = ("boards-api.greenhouse.io", "/v1/boards/acmeanalytics/jobs?content=true")


def test_greenhouse_board_embedded_on_careers_page_gives_dated_postings_and_tools(
    web: Web, settings: EnrichSettings
) -> None:
    serve_acme(web)
    web.route("boards-api.greenhouse.io", "/v1/boards/acmeanalytics/jobs",
              board_json("greenhouse.json"))  # fmt: skip
    provider = HiringProvider(settings, {}, tools=TOOLS)
    [found] = lookup(settings, provider, [Target("a1", "acme.co.uk")])

    sdr = "https://boards.greenhouse.io/acmeanalytics/jobs/4012345"
    eng = "https://boards.greenhouse.io/acmeanalytics/jobs/4012399"
    ae = "https://boards.greenhouse.io/acmeanalytics/jobs/4012400"
    sdr_title = "Sales Development Representative"
    eng_title = "Senior Software Engineer, Data Platform"

    def tech(tool: str, url: str, title: str) -> Observation:
        evidence = f'named in job posting "{title}"'
        return Observation("tech", tool, 0.6, url, tool, evidence)

    assert found.status == "found"
    assert found.observations == [
        Observation("signal:job_posting", "SDR", 0.9, sdr, sdr_title, sdr_title,
                    utc(2026, 11, 18, 14)),
        tech("HubSpot", sdr, sdr_title),
        tech("Salesforce", sdr, sdr_title),
        tech("Outreach", sdr, sdr_title),
        Observation("signal:job_posting", "Engineering", 0.9, eng, eng_title, eng_title,
                    utc(2026, 11, 20, 16)),
        tech("Snowflake", eng, eng_title),
        tech("Segment", eng, eng_title),
        Observation("signal:job_posting", "AE", 0.9, ae, "Enterprise Account Executive",
                    "Enterprise Account Executive", utc(2026, 11, 19, 12)),
    ]  # fmt: skip
    assert asked(web) == ACME_PAGES | {GREENHOUSE_API}
    # The board API is asked without robots.txt, once.
    assert len(web.asked("boards-api.greenhouse.io")) == 1


def test_careers_link_straight_to_lever_is_not_fetched_as_a_page(
    web: Web, settings: EnrichSettings
) -> None:
    web.route("acme.com", "/", '<a href="https://jobs.lever.co/acme">Careers</a>'
              '<a href="/company">About</a><a href="/plans">Plans</a>')  # fmt: skip
    web.route("acme.com", "/company", "<p>About Acme</p>")
    web.route("acme.com", "/plans", "<p>Plans</p>")
    web.route("api.lever.co", "/v0/postings/acme", board_json("lever.json"))
    [found] = lookup(
        settings, HiringProvider(settings, {}, tools=TOOLS), [Target("a1", "acme.com")]
    )

    assert [(o.field, o.value, o.observed_at) for o in found.observations] == [
        ("signal:job_posting", "RevOps", utc(2026, 11, 18, 9)),
        ("tech", "Salesforce", None),
        ("tech", "Clari", None),
        ("signal:job_posting", "Customer Success", utc(2026, 11, 2, 14, 30)),
        ("tech", "Intercom", None),
        ("tech", "Zendesk", None),
    ]
    assert asked(web) == {
        ("acme.com", "/robots.txt"),
        ("acme.com", "/"),
        ("acme.com", "/company"),
        ("acme.com", "/plans"),
        ("api.lever.co", "/v0/postings/acme?mode=json"),
    }


@pytest.mark.parametrize(
    ("service_html", "host", "path", "fixture", "functions"),
    [
        ('<a href="https://jobs.ashbyhq.com/acme">Jobs</a>', "api.ashbyhq.com",
         "/posting-api/job-board/acme", "ashby.json", ["Marketing"]),
        ('<a href="https://apply.workable.com/acme/">Jobs</a>', "apply.workable.com",
         "/api/v1/widget/accounts/acme", "workable.json", ["SDR"]),
        ('<a href="https://careers.smartrecruiters.com/AcmeGmbH">Karriere</a>',
         "api.smartrecruiters.com", "/v1/companies/AcmeGmbH/postings", "smartrecruiters.json",
         ["AE", "Engineering"]),
    ],
)  # fmt: skip
def test_every_board_service_is_read_end_to_end(
    web: Web,
    settings: EnrichSettings,
    service_html: str,
    host: str,
    path: str,
    fixture: str,
    functions: list[str],
) -> None:
    web.route("acme.com", "/", service_html)
    web.route(host, path, board_json(fixture))
    [found] = lookup(
        settings, HiringProvider(settings, {}, tools=TOOLS), [Target("a1", "acme.com")]
    )
    postings = [o for o in found.observations if o.field == "signal:job_posting"]
    assert [o.value for o in postings] == functions
    assert all(o.observed_at is not None and o.source_url for o in postings)
    assert [r.path.split("?")[0] for r in web.asked(host)] == [path]


def test_no_board_on_careers_page_is_a_miss_that_says_so(
    web: Web, settings: EnrichSettings
) -> None:
    serve_acme(web, careers="<h1>Careers</h1><p>Send your CV to jobs@acme.co.uk</p>")
    [found] = lookup(
        settings, HiringProvider(settings, {}, tools=TOOLS), [Target("a1", "acme.co.uk")]
    )
    assert (found.status, found.reason) == ("miss", NO_BOARD)
    assert asked(web) == ACME_PAGES


@pytest.mark.slow
def test_board_api_error_is_a_failure_with_its_reason(web: Web, settings: EnrichSettings) -> None:
    serve_acme(web)
    web.route("boards-api.greenhouse.io", "/v1/boards/acmeanalytics/jobs", "down", status=503)
    [found] = lookup(
        settings, HiringProvider(settings, {}, tools=TOOLS), [Target("a1", "acme.co.uk")]
    )
    assert found.status == "failed"
    assert found.reason is not None
    assert "Greenhouse board 'acmeanalytics'" in found.reason and "503" in found.reason


def test_board_that_no_longer_exists_is_a_miss(web: Web, settings: EnrichSettings) -> None:
    serve_acme(web)  # no route for the board: the API answers 404
    [found] = lookup(
        settings, HiringProvider(settings, {}, tools=TOOLS), [Target("a1", "acme.co.uk")]
    )
    assert (found.status, found.reason) == (
        "miss",
        "Greenhouse board 'acmeanalytics' not found (HTTP 404)",
    )


def test_malformed_board_json_is_a_failure_not_a_crash(web: Web, settings: EnrichSettings) -> None:
    serve_acme(web)
    web.route("boards-api.greenhouse.io", "/v1/boards/acmeanalytics/jobs",
              b'{"jobs": [{"title": ', headers={"Content-Type": "application/json"})  # fmt: skip
    [found] = lookup(
        settings, HiringProvider(settings, {}, tools=TOOLS), [Target("a1", "acme.co.uk")]
    )
    assert found.status == "failed"
    assert found.reason is not None and found.reason.startswith("Greenhouse board 'acmeanalytics'")


def test_board_with_no_open_roles_is_a_miss(web: Web, settings: EnrichSettings) -> None:
    serve_acme(web)
    web.route("boards-api.greenhouse.io", "/v1/boards/acmeanalytics/jobs",
              {"jobs": [], "meta": {"total": 0}})  # fmt: skip
    [found] = lookup(
        settings, HiringProvider(settings, {}, tools=TOOLS), [Target("a1", "acme.co.uk")]
    )
    assert (found.status, found.reason) == (
        "miss",
        "Greenhouse board 'acmeanalytics' lists no open roles",
    )


@pytest.mark.slow
def test_site_that_does_not_answer_is_a_failure_and_no_domain_a_miss(
    web: Web, settings: EnrichSettings
) -> None:
    web.route("down.com", "/", "busy", status=503)
    provider = HiringProvider(settings, {}, tools=TOOLS)
    down, nodomain = lookup(settings, provider, [Target("a1", "down.com"), Target("a2", None)])
    assert down.status == "failed" and down.reason is not None and "503" in down.reason
    assert nodomain.status == "miss"
    assert not web.asked("boards-api.greenhouse.io")


def test_hiring_provider_follows_the_provider_protocol() -> None:
    provider = make("hiring", EnrichSettings(), {})
    assert isinstance(provider, HiringProvider) and isinstance(provider, Provider)
    assert (provider.name, provider.keyless, provider.cost, provider.ttl_days) == (
        "hiring",
        True,
        0.0,
        7.0,
    )
    assert provider.fields == {"signal:job_posting", "tech"}


@pytest.mark.slow
def test_board_over_the_size_cap_is_read_again_without_texts(web: Web) -> None:
    small = EnrichSettings(connect_to=web.connect_to, timeout_s=3.0, retries=1, max_bytes=4000)
    full = board_json("greenhouse.json")
    for job in full["jobs"]:
        job["content"] = "&lt;p&gt;Salesforce &lt;/p&gt;" * 200
    light = {"jobs": [{k: v for k, v in job.items() if k != "content"} for job in full["jobs"]]}

    def answer(request: Request) -> Reply:
        return Reply(200, full if "content=true" in request.path else light)

    web.route(
        "acme.com", "/", '<script src="https://boards.greenhouse.io/embed/job_board/js?for=acme">'
    )
    web.route("boards-api.greenhouse.io", "/v1/boards/acme/jobs", answer)
    [found] = lookup(small, HiringProvider(small, {}, tools=TOOLS), [Target("a1", "acme.com")])

    assert [(o.field, o.value) for o in found.observations] == [
        ("signal:job_posting", "SDR"),
        ("signal:job_posting", "Engineering"),
        ("signal:job_posting", "AE"),
    ]
    assert [r.path for r in web.asked("boards-api.greenhouse.io")] == [
        "/v1/boards/acme/jobs?content=true",
        "/v1/boards/acme/jobs",
    ]


@pytest.mark.slow
def test_board_over_the_size_cap_without_a_lighter_form_fails_with_the_reason(web: Web) -> None:
    small = EnrichSettings(connect_to=web.connect_to, timeout_s=3.0, retries=1, max_bytes=1000)
    jobs = board_json("ashby.json")
    jobs["jobs"][0]["descriptionPlain"] = "HubSpot " * 500
    web.route("acme.com", "/", '<a href="https://jobs.ashbyhq.com/acme">Jobs</a>')
    web.route("api.ashbyhq.com", "/posting-api/job-board/acme", jobs)
    [found] = lookup(small, HiringProvider(small, {}, tools=TOOLS), [Target("a1", "acme.com")])
    assert found.status == "failed"
    assert found.reason is not None and found.reason.startswith("Ashby board 'acme': ")
    assert "1,000 bytes" in found.reason
    assert len(web.asked("api.ashbyhq.com")) == 1
