"""The AI researcher: questions answered from an account's pages by a model behind an
OpenAI-compatible endpoint, each answer with its verbatim quote and URL, quotes checked
against the pages, tokens metered and budgeted, the key never shown.

The first tests script the endpoint's replies (a fetcher that answers POSTs from a
function, pages given as a fetched site); the last ones run the real fetcher and crawler
against a loopback server playing both the company's website and the model's endpoint.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from icpkit.config import EnrichSettings, ResearchQuestion, ResearchSettings
from icpkit.enrich.context import Context
from icpkit.enrich.dns import Records
from icpkit.enrich.fetch import Fetcher, FetchError, Response
from icpkit.enrich.model import Lookup, Provider, Target
from icpkit.enrich.providers import make
from icpkit.enrich.providers.research import (
    ResearchProvider,
    cache_tag,
    page_text,
    parse_answers,
    quote_on_page,
)
from icpkit.enrich.site import Page, Site
from loopback import Reply, Request, Web

NOW = dt.datetime(2026, 11, 30, 12, 0)
ENDPOINT = "http://llm.test/v1"
KEY = "sk-test-0123456789abcdef"  # a made-up key: what must never be shown
ENTERPRISE = ResearchQuestion(
    key="sells_to_enterprise", ask="Does the company sell to enterprises?"
)
CRM = ResearchQuestion(
    key="crm_named", ask="Which CRM do they mention?", answers=["HubSpot", "Salesforce", "none"]
)
HOME = (
    "<html><head><title>Acme Analytics</title><style>.x{color:red}</style></head><body>"
    "<nav>Home Pricing About SECRET-NAV</nav>"
    "<p>Acme Analytics helps   Fortune 500 enterprises plan their supply chains.</p>"
    "<script>var tracking = 'SECRET-SCRIPT';</script></body></html>"
)
ABOUT = (
    "<html><body><h1>About us</h1><p>Our team syncs every lead into <b>HubSpot</b> "
    "within minutes.</p></body></html>"
)
PRICING = "<html><body><p>Enterprise plan: contact sales.</p></body></html>"


def research_settings(**changes: Any) -> EnrichSettings:
    research = ResearchSettings(endpoint=ENDPOINT, questions=[ENTERPRISE, CRM])
    return EnrichSettings(research=research.model_copy(update=changes))


def page(kind: str, url: str, html: str, status: int = 200) -> Page:
    return Page(kind, url, status, {"content-type": "text/html"}, (), html, NOW)


def acme() -> Site:
    site = Site("acme.com")
    site.pages["home"] = page("home", "https://acme.com/", HOME)
    site.pages["about"] = page("about", "https://acme.com/about", ABOUT)
    site.pages["pricing"] = page("pricing", "https://acme.com/pricing", PRICING)
    return site


def completion(answers: Mapping[str, Any] | str, prompt: int = 900, done: int = 60) -> Any:
    """A chat-completions reply in the shape OpenAI-compatible servers send."""
    content = answers if isinstance(answers, str) else json.dumps(answers)
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1764500000,
        "model": "llama3.1",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": done,
            "total_tokens": prompt + done,
        },
    }


GOOD = {
    "sells_to_enterprise": {
        "answer": "yes",
        "evidence": "Acme Analytics helps Fortune 500 enterprises plan their supply chains.",
        "url": "https://acme.com/",
    },
    "crm_named": {
        "answer": "HubSpot",
        "evidence": "Our team syncs every lead into HubSpot within minutes.",
        "url": "https://acme.com/about",
    },
}


@dataclass
class Post:
    url: str
    json: Any
    headers: Mapping[str, str]
    timeout_s: float | None


class ScriptedFetcher(Fetcher):
    """A fetcher whose POSTs are answered by ``answer`` (a reply object, a Response, or a
    FetchError to raise); every POST is recorded."""

    def __init__(self, settings: EnrichSettings, answer: Callable[[Post], Any]) -> None:
        super().__init__(settings)
        self.answer = answer
        self.posts: list[Post] = []

    async def post(
        self,
        url: str,
        *,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        timeout_s: float | None = None,
    ) -> Response:
        asked = Post(url, json, dict(headers or {}), timeout_s)
        self.posts.append(asked)
        await asyncio.sleep(0)  # as a request would, let other accounts' asks run meanwhile
        reply = self.answer(asked)
        if isinstance(reply, FetchError):
            raise reply
        if isinstance(reply, Response):
            return reply
        return Response(url, 200, {"content-type": "application/json"}, _json_bytes(reply))


def _json_bytes(value: Any) -> bytes:
    return json.dumps(value).encode("utf-8")


class NoDns:
    async def records(self, domain: str) -> Records:
        return Records()


@dataclass
class SitesContext(Context):
    """A run's context whose websites are given rather than crawled."""

    given: dict[str, Site] = field(default_factory=dict)

    async def site(self, domain: str) -> Site:
        if domain not in self.given:
            raise FetchError(f"https://{domain}/", "connect", "connection refused")
        return self.given[domain]


def ask(
    answer: Callable[[Post], Any],
    settings: EnrichSettings | None = None,
    targets: list[Target] | None = None,
    sites: dict[str, Site] | None = None,
    secrets: Mapping[str, str] | None = None,
    provider: ResearchProvider | None = None,
) -> tuple[list[Lookup], ScriptedFetcher, ResearchProvider]:
    settings = settings or research_settings()
    fetcher = ScriptedFetcher(settings, answer)
    ctx = SitesContext(fetcher, NoDns(), settings, NOW, given=sites or {"acme.com": acme()})
    provider = provider or ResearchProvider(settings, {} if secrets is None else secrets)
    targets = targets or [Target("acme", "acme.com", "Acme Analytics")]

    async def run() -> list[Lookup]:
        found: list[Lookup] = []
        for target in targets:
            found += await provider.lookup([target], ctx)
        return found

    return asyncio.run(run()), fetcher, provider


def shown(lookups: list[Lookup]) -> str:
    """Everything a lookup carries that a person or the store may see."""
    return repr([(lk.reason, lk.observations) for lk in lookups])


# -- the provider as the runner sees it -----------------------------------------------


def test_the_researcher_fills_one_answer_field_per_question_and_costs_tokens() -> None:
    provider = make("research", research_settings(), {})
    assert isinstance(provider, ResearchProvider) and isinstance(provider, Provider)
    assert provider.name == "research"
    assert provider.fields == {"answer:sells_to_enterprise", "answer:crm_named"}
    assert provider.keyless is False
    assert (provider.batch_size, provider.ttl_days, provider.rate) == (1, 90.0, None)
    # One call reads up to four pages: it costs more tokens than one page holds.
    assert provider.cost > research_settings().research.max_page_chars / 4


# -- the request ------------------------------------------------------------------------


def test_one_request_asks_every_question_with_a_strict_json_schema() -> None:
    (lookup,), fetcher, _ = ask(lambda _: completion(GOOD))
    assert lookup.status == "found"
    (post,) = fetcher.posts
    assert post.url == "http://llm.test/v1/chat/completions"
    body = post.json
    assert body["model"] == "llama3.1" and body["temperature"] == 0
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    fmt = body["response_format"]
    assert fmt["type"] == "json_schema"
    assert fmt["json_schema"]["name"] == "research" and fmt["json_schema"]["strict"] is True
    schema = fmt["json_schema"]["schema"]
    assert schema["required"] == ["sells_to_enterprise", "crm_named"]
    assert schema["additionalProperties"] is False
    enterprise = schema["properties"]["sells_to_enterprise"]
    assert enterprise["required"] == ["answer", "evidence", "url"]
    assert enterprise["properties"]["answer"]["enum"] == ["yes", "no", "unknown"]
    assert enterprise["properties"]["evidence"] == {"type": "string"}
    crm = schema["properties"]["crm_named"]["properties"]["answer"]["enum"]
    assert crm == ["HubSpot", "Salesforce", "none", "unknown"]


def test_the_prompt_holds_each_page_under_its_url_without_scripts_styles_or_navigation() -> None:
    _, fetcher, _ = ask(lambda _: completion(GOOD))
    user = fetcher.posts[0].json["messages"][1]["content"]
    assert "Does the company sell to enterprises?" in user
    assert "Which CRM do they mention?" in user
    for url in ("https://acme.com/", "https://acme.com/about", "https://acme.com/pricing"):
        assert f"=== {url} " in user
    assert user.index("https://acme.com/about") < user.index("https://acme.com/pricing")
    assert "Fortune 500 enterprises" in user and "Enterprise plan" in user
    for hidden in ("SECRET-NAV", "SECRET-SCRIPT", "color:red"):
        assert hidden not in user


def test_each_page_is_cut_to_max_page_chars() -> None:
    site = Site("acme.com")
    site.pages["home"] = page("home", "https://acme.com/", "<p>" + "word " * 400 + "</p>")
    site.pages["about"] = page("about", "https://acme.com/about", "<p>" + "team " * 400 + "</p>")
    _, fetcher, _ = ask(
        lambda _: completion(GOOD), research_settings(max_page_chars=300), sites={"acme.com": site}
    )
    user = fetcher.posts[0].json["messages"][1]["content"]
    assert 0 < user.count("word") <= 300 // 5
    assert 0 < user.count("team") <= 300 // 5


def test_the_key_is_sent_as_a_bearer_token_and_no_header_without_a_key() -> None:
    _, with_key, _ = ask(lambda _: completion(GOOD), secrets={"OPENAI_API_KEY": KEY})
    assert with_key.posts[0].headers == {"Authorization": f"Bearer {KEY}"}
    _, local, _ = ask(lambda _: completion(GOOD), secrets={})
    assert "Authorization" not in local.posts[0].headers
    other = research_settings(api_key_env="LOCAL_LLM_KEY")
    _, named, _ = ask(lambda _: completion(GOOD), other, secrets={"LOCAL_LLM_KEY": "k2"})
    assert named.posts[0].headers == {"Authorization": "Bearer k2"}


# -- the answers --------------------------------------------------------------------------


def test_answers_quoted_from_their_page_are_confident_observations() -> None:
    (lookup,), _, _ = ask(lambda _: completion(GOOD, prompt=1200, done=80))
    assert lookup.status == "found"
    assert lookup.credits == 1280
    by_field = {o.field: o for o in lookup.observations}
    enterprise = by_field["answer:sells_to_enterprise"]
    assert enterprise.value == "yes" and enterprise.confidence == 0.9
    assert enterprise.source_url == "https://acme.com/"
    assert enterprise.evidence == GOOD["sells_to_enterprise"]["evidence"]
    crm = by_field["answer:crm_named"]
    assert (crm.value, crm.confidence, crm.source_url) == ("HubSpot", 0.9, "https://acme.com/about")


def test_a_quote_not_on_the_page_it_names_is_kept_unverified_at_low_confidence() -> None:
    answers = {
        # Made up: no page says it.
        "sells_to_enterprise": {
            "answer": "yes",
            "evidence": "Trusted by the world's largest banks.",
            "url": "https://acme.com/",
        },
        # True, but on the about page, not the pricing page named.
        "crm_named": {
            "answer": "HubSpot",
            "evidence": "Our team syncs every lead into HubSpot within minutes.",
            "url": "https://acme.com/pricing",
        },
    }
    (lookup,), _, _ = ask(lambda _: completion(answers))
    assert lookup.status == "found"
    for observation in lookup.observations:
        assert observation.confidence == 0.3
        assert observation.evidence is not None
        assert observation.evidence.startswith("unverified quote: ")
    by_field = {o.field: o for o in lookup.observations}
    assert by_field["answer:sells_to_enterprise"].evidence == (
        "unverified quote: Trusted by the world's largest banks."
    )


def test_a_url_that_names_no_page_sent_is_not_kept_as_the_source() -> None:
    answers = {
        "sells_to_enterprise": {
            "answer": "yes",
            "evidence": "Acme Analytics helps Fortune 500 enterprises plan their supply chains.",
            "url": "https://acme.com/customers",
        },
        "crm_named": {"answer": "unknown", "evidence": "", "url": ""},
    }
    (lookup,), _, _ = ask(lambda _: completion(answers))
    (observation,) = lookup.observations
    assert observation.source_url is None and observation.confidence == 0.3


def test_unknown_answers_are_not_observations() -> None:
    answers = {
        "sells_to_enterprise": {"answer": "unknown", "evidence": "", "url": ""},
        "crm_named": GOOD["crm_named"],
    }
    (lookup,), _, _ = ask(lambda _: completion(answers))
    assert [o.field for o in lookup.observations] == ["answer:crm_named"]


def test_pages_that_answer_nothing_are_a_miss_that_still_costs_its_tokens() -> None:
    answers = {k: {"answer": "unknown", "evidence": "", "url": ""} for k in GOOD}
    (lookup,), _, _ = ask(lambda _: completion(answers, prompt=700, done=30))
    assert lookup.status == "miss" and lookup.observations == []
    assert lookup.credits == 730


def test_an_answer_in_a_fenced_json_block_is_read() -> None:
    fenced = "Sure! Here are the answers:\n```json\n" + json.dumps(GOOD) + "\n```\n"
    (lookup,), _, _ = ask(lambda _: completion(fenced))
    assert lookup.status == "found"
    assert {o.value for o in lookup.observations} == {"yes", "HubSpot"}


@pytest.mark.parametrize(
    ("content", "why"),
    [
        ("I cannot help with that.", "did not write JSON"),
        ("[1, 2]", "not an object"),
        (json.dumps({"sells_to_enterprise": {"answer": "maybe", "evidence": "", "url": ""}}),
         "'maybe' is not one of yes, no, unknown"),
        (json.dumps({"other": 1}), "sells_to_enterprise: no answer"),
    ],
)  # fmt: skip
def test_malformed_model_output_fails_with_its_reason_and_counts_its_tokens(
    content: str, why: str
) -> None:
    (lookup,), _, provider = ask(lambda _: completion(content, prompt=500, done=20))
    assert lookup.status == "failed"
    assert lookup.reason is not None and why in lookup.reason
    assert lookup.credits == 520 and provider.tokens_spent == 520


@pytest.mark.parametrize(
    "reply",
    [
        {"choices": []},
        {"choices": [{"message": {"role": "assistant", "content": None}}]},
        {"error": "overloaded"},
        "not an object",
    ],
)
def test_a_reply_without_a_message_fails_rather_than_crashing(reply: Any) -> None:
    (lookup,), _, _ = ask(lambda _: reply)
    assert lookup.status == "failed" and lookup.reason


def test_a_reply_that_is_not_json_fails() -> None:
    (lookup,), _, _ = ask(lambda p: Response(p.url, 200, {}, b"<html>gateway</html>"))
    assert lookup.status == "failed" and lookup.reason == "model endpoint: the reply is not JSON"


# -- the endpoint's failures ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "why"),
    [
        (500, "server error (500)"),
        (429, "rate limited (429)"),
        (404, "answered 404: model 'llama3.1' not found"),
    ],
)
def test_an_endpoint_error_fails_the_lookup_with_its_status(status: int, why: str) -> None:
    error = _json_bytes({"error": {"message": "model 'llama3.1' not found"}})
    (lookup,), _, provider = ask(lambda p: Response(p.url, status, {}, error))
    assert lookup.status == "failed" and lookup.reason is not None and why in lookup.reason
    assert lookup.credits == 0 and provider.tokens_spent == 0


def test_an_unreachable_endpoint_fails_the_lookup() -> None:
    down = FetchError(f"{ENDPOINT}/chat/completions", "timeout", "timed out after 120 s")
    (lookup,), _, _ = ask(lambda _: down)
    assert lookup.status == "failed" and lookup.reason == "model endpoint: timed out after 120 s"


def test_an_account_whose_site_cannot_be_fetched_fails_without_asking_the_model() -> None:
    (lookup,), fetcher, _ = ask(lambda _: completion(GOOD), targets=[Target("b", "down.io")])
    assert lookup.status == "failed" and "connection refused" in (lookup.reason or "")
    assert fetcher.posts == []


def test_an_account_without_a_domain_is_a_miss_without_asking() -> None:
    (lookup,), fetcher, _ = ask(lambda _: completion(GOOD), targets=[Target("c", None, "Co")])
    assert lookup.status == "miss" and fetcher.posts == []


def test_without_an_endpoint_research_is_off_and_says_so() -> None:
    (lookup,), fetcher, _ = ask(lambda _: completion(GOOD), research_settings(endpoint=None))
    assert lookup.status == "failed" and "enrich.research.endpoint" in (lookup.reason or "")
    assert fetcher.posts == []


# -- the key ------------------------------------------------------------------------------


def test_a_refused_key_is_named_by_its_variable_never_by_its_value() -> None:
    echo = _json_bytes({"error": {"message": f"Incorrect API key provided: {KEY}"}})
    (lookup,), _, _ = ask(lambda p: Response(p.url, 401, {}, echo), secrets={"OPENAI_API_KEY": KEY})
    assert lookup.status == "failed"
    assert lookup.reason == "model endpoint refused the key in OPENAI_API_KEY (401)"


def test_the_key_reaches_no_reason_nor_observation() -> None:
    echo = _json_bytes({"error": {"message": f"bad request for key {KEY}"}})
    replies: list[Any] = [
        Response(f"{ENDPOINT}/chat/completions", 400, {}, echo),
        FetchError(f"{ENDPOINT}/chat/completions", "connect", f"refused ({KEY})"),
        completion(f"not json {KEY}"),
        completion({"sells_to_enterprise": {"answer": KEY, "evidence": KEY, "url": KEY}}),
        completion({k: {**v, "evidence": KEY, "url": KEY} for k, v in GOOD.items()}),
    ]  # fmt: skip
    targets = [Target(f"a{i}", "acme.com") for i in range(len(replies))]
    script = iter(replies)
    lookups, fetcher, _ = ask(
        lambda _: next(script), targets=targets, secrets={"OPENAI_API_KEY": KEY}
    )
    assert len(fetcher.posts) == len(replies)
    assert [lk.status for lk in lookups] == ["failed", "failed", "failed", "failed", "found"]
    assert KEY not in shown(lookups)
    assert "bad request for key ***" in (lookups[0].reason or "")


# -- the token budget -------------------------------------------------------------------------


def test_the_token_budget_stops_the_asking_once_spent() -> None:
    settings = research_settings(max_tokens=2_500)
    targets = [Target(f"a{i}", "acme.com") for i in range(5)]
    lookups, fetcher, provider = ask(
        lambda _: completion(GOOD, prompt=1_000, done=100), settings, targets=targets
    )
    # 1,100 then 2,200 tokens spent: a third answer is asked (2,200 < 2,500), then no more.
    assert len(fetcher.posts) == 3
    assert [lk.status for lk in lookups] == ["found", "found", "found", "failed", "failed"]
    assert lookups[3].reason == "token budget of 2,500 spent"
    assert provider.tokens_spent == 3_300
    assert sum(lk.credits for lk in lookups) == 3_300


def test_answers_asked_at_once_do_not_overrun_the_budget_by_more_than_one_request() -> None:
    settings = research_settings(max_tokens=1_000)
    fetcher = ScriptedFetcher(settings, lambda _: completion(GOOD, prompt=600, done=50))
    provider = ResearchProvider(settings, {})
    ctx = SitesContext(fetcher, NoDns(), settings, NOW, given={"acme.com": acme()})

    async def run() -> list[list[Lookup]]:
        targets = [Target(f"a{i}", "acme.com") for i in range(6)]
        return await asyncio.gather(*(provider.lookup([t], ctx) for t in targets))

    lookups = [lk for batch in asyncio.run(run()) for lk in batch]
    asked = len(fetcher.posts)
    # Each request's prompt is counted while it is in flight, so concurrent asks stop
    # before all six go out, though none has been answered when the later ones start.
    assert 2 <= asked < 6
    assert sum(lk.status == "failed" for lk in lookups) == 6 - asked


# -- the cache tag --------------------------------------------------------------------------


def test_the_cache_tag_changes_with_the_questions_the_model_and_the_endpoint() -> None:
    base = research_settings().research
    tag = cache_tag(base)
    assert (
        tag == ResearchProvider(research_settings(), {}).cache_tag == cache_tag(base.model_copy())
    )
    reworded = ResearchQuestion(key="sells_to_enterprise", ask="Do they sell to large companies?")
    other_answers = CRM.model_copy(update={"answers": ["HubSpot", "Pipedrive"]})
    changed = [
        base.model_copy(update={"questions": [ENTERPRISE]}),
        base.model_copy(update={"questions": [reworded, CRM]}),
        base.model_copy(update={"questions": [ENTERPRISE, other_answers]}),
        base.model_copy(update={"model": "qwen2.5:7b"}),
        base.model_copy(update={"endpoint": "https://api.openai.com/v1"}),
    ]
    tags = [cache_tag(r) for r in changed]
    assert tag not in tags and len(set(tags)) == len(tags)
    # The budget and the key decide nothing an answer says.
    assert cache_tag(base.model_copy(update={"max_tokens": 10})) == tag
    assert cache_tag(base.model_copy(update={"endpoint": ENDPOINT + "/"})) == tag


# -- the pure parts -------------------------------------------------------------------------


def test_page_text_keeps_what_a_reader_sees() -> None:
    text = page_text(HOME)
    assert text.startswith("Acme Analytics ")
    assert "helps Fortune 500 enterprises plan" in text
    assert "SECRET" not in text and "color" not in text


@pytest.mark.parametrize(
    ("quote", "on_page"),
    [
        ("helps fortune 500 ENTERPRISES", True),
        ("helps\n  Fortune 500\tenterprises", True),
        ("“Acme Analytics helps Fortune 500 enterprises”", True),
        ("Acme Analytics helps ... supply chains.", True),
        ("supply chains ... Acme Analytics", False),
        ("helps Fortune 100 enterprises", False),
        ("", False),
        ("...", False),
    ],
)
def test_a_quote_is_checked_against_the_page_whitespace_and_case_aside(
    quote: str, on_page: bool
) -> None:
    text = "Acme Analytics helps Fortune 500 enterprises plan their supply chains."
    assert quote_on_page(quote, text) is on_page


def test_parse_answers_reads_an_object_led_by_prose() -> None:
    assert parse_answers('The answer is {"a": {"answer": "no"}} as asked.') == {
        "a": {"answer": "no"}
    }


# -- over the network -------------------------------------------------------------------------


def _serve_acme(web: Web) -> None:
    web.route("acme.com", "/", HOME.replace("</nav>", '<a href="/about">About</a></nav>'))
    web.route("acme.com", "/about", ABOUT)
    web.route("acme.com", "/pricing", PRICING)
    web.route("acme.com", "/robots.txt", "User-agent: *\nAllow: /\n")


def _endpoint(seen: list[dict[str, Any]]) -> Callable[[Request], Reply]:
    """An OpenAI-compatible chat-completions endpoint that checks what it is sent and
    answers from the pages it was given."""

    def handler(request: Request) -> Reply:
        body = json.loads(request.body)
        seen.append({"body": body, "headers": dict(request.headers)})
        schema = body["response_format"]["json_schema"]
        if not schema.get("strict") or set(schema["schema"]["properties"]) != set(GOOD):
            return Reply(400, {"error": {"message": "expected the research schema"}})
        user = body["messages"][1]["content"]
        about = next(line for line in user.splitlines() if "/about (" in line)
        answers = dict(GOOD)
        answers["crm_named"] = {**GOOD["crm_named"], "url": about.split()[1]}
        home = next(
            line for line in user.splitlines() if line.startswith("=== ") and "(home" in line
        )
        answers["sells_to_enterprise"] = {**GOOD["sells_to_enterprise"], "url": home.split()[1]}
        return Reply(200, completion(answers, prompt=len(user) // 4, done=90))

    return handler


def test_answers_from_a_live_site_and_a_live_endpoint(web: Web, settings: EnrichSettings) -> None:
    _serve_acme(web)
    seen: list[dict[str, Any]] = []
    web.route("llm.test", "/v1/chat/completions", _endpoint(seen))
    research = ResearchSettings(endpoint=ENDPOINT, questions=[ENTERPRISE, CRM])
    settings = settings.model_copy(update={"research": research})
    provider = ResearchProvider(settings, {"OPENAI_API_KEY": KEY})

    async def run() -> list[Lookup]:
        async with Fetcher(settings) as fetcher:
            ctx = Context(fetcher, NoDns(), settings, NOW, {"OPENAI_API_KEY": KEY})
            return await provider.lookup([Target("acme", "acme.com", "Acme Analytics")], ctx)

    (lookup,) = asyncio.run(run())
    assert lookup.status == "found", lookup.reason
    (request,) = seen
    assert request["headers"]["authorization"] == f"Bearer {KEY}"
    assert request["body"]["response_format"]["json_schema"]["name"] == "research"
    by_field = {o.field: o for o in lookup.observations}
    assert by_field["answer:sells_to_enterprise"].value == "yes"
    assert by_field["answer:crm_named"].value == "HubSpot"
    assert all(o.confidence == 0.9 for o in lookup.observations)
    assert by_field["answer:crm_named"].source_url is not None
    assert by_field["answer:crm_named"].source_url.endswith("acme.com/about")
    assert lookup.credits == len(request["body"]["messages"][1]["content"]) // 4 + 90
    assert [r.path for r in web.asked("llm.test")] == ["/v1/chat/completions"]
    assert KEY not in shown([lookup])


def test_a_live_endpoint_that_rejects_the_schema_fails_the_lookup(
    web: Web, settings: EnrichSettings
) -> None:
    _serve_acme(web)
    web.route(
        "llm.test",
        "/v1/chat/completions",
        Reply(400, {"error": {"message": "response_format json_schema is not supported"}}),
    )
    settings = settings.model_copy(
        update={"research": ResearchSettings(endpoint=ENDPOINT, questions=[ENTERPRISE])}
    )
    provider = ResearchProvider(settings, {})

    async def run() -> list[Lookup]:
        async with Fetcher(settings) as fetcher:
            ctx = Context(fetcher, NoDns(), settings, NOW)
            return await provider.lookup([Target("acme", "acme.com")], ctx)

    (lookup,) = asyncio.run(run())
    assert lookup.status == "failed"
    assert lookup.reason == (
        "model endpoint answered 400: response_format json_schema is not supported"
    )
    assert "authorization" not in web.asked("llm.test")[0].headers


def test_a_model_on_loopback_is_refused_unless_allowed_and_the_reason_says_how(
    web: Web, settings: EnrichSettings
) -> None:
    _serve_acme(web)
    local = f"http://127.0.0.1:{web.port}/v1"  # no connect_to mapping names this port
    seen: list[dict[str, Any]] = []
    web.route("127.0.0.1", "/v1/chat/completions", _endpoint(seen))
    research = ResearchSettings(endpoint=local, questions=[ENTERPRISE, CRM])

    def run(enrich: EnrichSettings) -> Lookup:
        async def go() -> list[Lookup]:
            async with Fetcher(enrich) as fetcher:
                ctx = Context(fetcher, NoDns(), enrich, NOW)
                return await ResearchProvider(enrich, {}).lookup([Target("acme", "acme.com")], ctx)

        return asyncio.run(go())[0]

    refused = run(settings.model_copy(update={"research": research}))
    assert refused.status == "failed" and "enrich.allow_private: true" in (refused.reason or "")
    assert seen == []
    allowed = run(settings.model_copy(update={"research": research, "allow_private": True}))
    assert allowed.status == "found", allowed.reason
    assert len(seen) == 1


def test_answers_read_are_kept_when_another_is_malformed_and_the_reason_names_it() -> None:
    answers = {
        "sells_to_enterprise": GOOD["sells_to_enterprise"],
        "crm_named": {"answer": "Pipedrive", "evidence": "", "url": ""},
    }
    (lookup,), _, _ = ask(lambda _: completion(answers))
    assert lookup.status == "found"
    assert [o.field for o in lookup.observations] == ["answer:sells_to_enterprise"]
    assert (
        lookup.reason == "crm_named: 'Pipedrive' is not one of HubSpot, Salesforce, none, unknown"
    )
