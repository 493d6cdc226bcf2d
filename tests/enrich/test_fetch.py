"""The safe fetcher against a real loopback server: routing by connect_to, the address
guard on every redirect hop, the https-to-http fallback, timeouts, the size cap, the
User-Agent, robots.txt, retries and per-host limits."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest

from icpkit.config import EnrichSettings
from icpkit.enrich.fetch import Fetcher, FetchError, Response, redact
from icpkit.errors import IcpkitError
from loopback import Reply, Request, Web

T = TypeVar("T")


def run(settings: EnrichSettings, work: Callable[[Fetcher], Awaitable[T]]) -> T:
    async def go() -> T:
        async with Fetcher(settings) as fetcher:
            return await work(fetcher)

    return asyncio.run(go())


def failure(settings: EnrichSettings, url: str, **kwargs: Any) -> FetchError:
    async def go(fetcher: Fetcher) -> FetchError:
        try:
            await fetcher.get(url, **kwargs)
        except FetchError as exc:
            return exc
        raise AssertionError(f"{url} was fetched")

    return run(settings, go)


def get(settings: EnrichSettings, url: str, **kwargs: Any) -> Response:
    return run(settings, lambda f: f.get(url, **kwargs))


# -- routing and the guard --------------------------------------------------------------
def test_a_domain_mapped_by_connect_to_is_fetched_from_loopback(
    web: Web, settings: EnrichSettings
) -> None:
    web.route("acme.com", "/", "<title>Acme</title>")
    response = get(settings, "http://acme.com/")
    assert (response.status, response.text) == (200, "<title>Acme</title>")
    assert [r.path for r in web.asked("acme.com")] == ["/robots.txt", "/"]


def test_the_request_carries_the_url_host_and_the_honest_user_agent(
    web: Web, settings: EnrichSettings
) -> None:
    web.route("acme.com", "/", "ok")
    get(settings, "http://acme.com/")
    (page,) = [r for r in web.asked("acme.com") if r.path == "/"]
    assert page.headers["host"] == "acme.com"
    assert page.headers["user-agent"] == settings.user_agent


def test_bare_domain_tries_https_then_falls_back_to_http(
    web: Web, settings: EnrichSettings
) -> None:
    web.route("acme.com", "/", "home")
    response = get(settings, "acme.com")
    assert response.url == "http://acme.com/"
    assert response.text == "home"


def test_https_fallback_is_remembered_for_the_host(web: Web, settings: EnrichSettings) -> None:
    web.route("acme.com", "/", "home")
    web.route("acme.com", "/about", "about")

    async def two(fetcher: Fetcher) -> list[str]:
        first = await fetcher.get("acme.com")
        second = await fetcher.get("acme.com/about")
        return [first.url, second.url]

    assert run(settings, two) == ["http://acme.com/", "http://acme.com/about"]
    assert "acme.com" in _plain_hosts(settings, ["acme.com"])


def _plain_hosts(settings: EnrichSettings, domains: list[str]) -> set[str]:
    async def go(fetcher: Fetcher) -> set[str]:
        for domain in domains:
            await fetcher.get(domain)
        return set(fetcher._plain_http)

    return run(settings, go)


def test_an_explicit_https_url_does_not_fall_back(web: Web, settings: EnrichSettings) -> None:
    web.route("acme.com", "/", "home")
    exc = failure(settings, "https://acme.com/")
    assert exc.kind == "connect"
    assert web.asked("acme.com") == []


@pytest.mark.parametrize(
    ("location", "reason"),
    [
        ("http://127.0.0.1:{port}/", "refused: redirect to loopback address 127.0.0.1"),
        ("http://10.0.0.1/", "refused: redirect to private address 10.0.0.1"),
        (
            "http://169.254.169.254/latest/meta-data/",
            "refused: redirect to cloud metadata address 169.254.169.254",
        ),
        ("http://[::1]:{port}/", "refused: redirect to loopback address ::1"),
    ],
)
def test_redirect_to_a_forbidden_address_is_refused_and_nothing_is_fetched_there(
    web: Web, settings: EnrichSettings, location: str, reason: str
) -> None:
    web.route("acme.com", "/", Reply(302, headers={"Location": location.format(port=web.port)}))
    web.route("127.0.0.1", "/", "SECRET")
    web.route("10.0.0.1", "/", "SECRET")
    web.route("169.254.169.254", "/latest/meta-data/", "SECRET")
    exc = failure(settings, "http://acme.com/")
    assert (exc.kind, exc.reason) == ("forbidden", reason)
    assert {r.host for r in web.asked()} == {"acme.com"}


def test_a_forbidden_address_in_the_url_itself_is_refused(
    web: Web, settings: EnrichSettings
) -> None:
    exc = failure(settings, f"http://127.0.0.1:{web.port}/")
    assert (exc.kind, exc.reason) == ("forbidden", "refused: loopback address 127.0.0.1")
    assert web.asked() == []


def test_allow_private_reaches_an_intranet_address(web: Web) -> None:
    web.route("127.0.0.1", "/", "intranet")
    settings = EnrichSettings(allow_private=True, timeout_s=3.0)
    assert get(settings, f"http://127.0.0.1:{web.port}/").text == "intranet"


def test_redirects_are_followed_to_a_mapped_host(web: Web, settings: EnrichSettings) -> None:
    web.route("acme.com", "/", Reply(301, headers={"Location": "http://www.acme.com/home"}))
    web.route("www.acme.com", "/home", "welcome")
    response = get(settings, "http://acme.com/")
    assert (response.url, response.text) == ("http://www.acme.com/home", "welcome")
    assert response.redirects == ("http://acme.com/",)


def test_redirect_to_another_scheme_is_refused(web: Web, settings: EnrichSettings) -> None:
    web.route("acme.com", "/", Reply(302, headers={"Location": "file:///etc/passwd"}))
    exc = failure(settings, "http://acme.com/")
    assert exc.kind == "forbidden" and "scheme 'file'" in exc.reason


def test_keys_do_not_follow_a_redirect_to_another_host(web: Web, settings: EnrichSettings) -> None:
    web.route("api.acme.com", "/v1", Reply(302, headers={"Location": "http://other.io/x"}))
    web.route("other.io", "/x", {"ok": True})
    run(settings, lambda f: f.get("http://api.acme.com/v1", headers={"X-Api-Key": "k1"}))
    (asked,) = [r for r in web.asked("other.io") if r.path == "/x"]
    assert "x-api-key" not in asked.headers
    (first,) = [r for r in web.asked("api.acme.com") if r.path == "/v1"]
    assert first.headers["x-api-key"] == "k1"


def test_a_name_that_does_not_resolve_fails_with_kind_dns(settings: EnrichSettings) -> None:
    plain = EnrichSettings(timeout_s=2.0)
    exc = failure(plain, "http://no-such-host.invalid/")
    assert exc.kind == "dns" and "no-such-host.invalid" in exc.reason


# -- responses --------------------------------------------------------------------------
def test_a_404_comes_back_as_a_response(web: Web, settings: EnrichSettings) -> None:
    assert get(settings, "http://acme.com/nothing").status == 404


def test_headers_have_lower_case_names_and_cookie_names_are_listed(
    web: Web, settings: EnrichSettings
) -> None:
    web.route(
        "acme.com",
        "/",
        Reply(200, "x", {"X-Powered-By": "Express", "Set-Cookie": "hubspotutk=1; Path=/"}),
    )
    response = get(settings, "http://acme.com/")
    assert response.headers["x-powered-by"] == "Express"
    assert response.cookies == ("hubspotutk",)


def test_params_are_sent_as_the_query(web: Web, settings: EnrichSettings) -> None:
    web.route("api.acme.com", "/search", {"hits": 1})
    response = run(
        settings,
        lambda f: f.get("http://api.acme.com/search", params={"q": "a b"}, robots=False),
    )
    assert response.json() == {"hits": 1}
    (asked,) = web.asked("api.acme.com")
    assert asked.path == "/search?q=a+b"


def test_post_sends_json_and_reads_json(web: Web, settings: EnrichSettings) -> None:
    def echo(request: Request) -> Reply:
        return Reply(200, {"got": request.body.decode(), "type": request.headers["content-type"]})

    web.route("api.acme.com", "/v1/enrich", echo)
    response = run(
        settings,
        lambda f: f.post(
            "http://api.acme.com/v1/enrich", json={"domain": "acme.com"}, headers={"X-Api-Key": "k"}
        ),
    )
    assert response.json()["type"] == "application/json"
    assert '"domain"' in response.json()["got"] and "acme.com" in response.json()["got"]
    assert [r.path for r in web.asked()] == ["/v1/enrich"]  # no robots.txt for an API


def test_text_uses_the_content_type_charset(web: Web, settings: EnrichSettings) -> None:
    body = "Société Générale".encode("latin-1")
    web.route("acme.com", "/", Reply(200, body, {"Content-Type": "text/html; charset=ISO-8859-1"}))
    assert get(settings, "http://acme.com/").text == "Société Générale"


def test_text_uses_a_meta_charset_when_the_header_has_none(
    web: Web, settings: EnrichSettings
) -> None:
    body = '<meta charset="windows-1252"><p>naïve</p>'.encode("cp1252")
    web.route("acme.com", "/", Reply(200, body, {"Content-Type": "text/html"}))
    assert "naïve" in get(settings, "http://acme.com/").text


def test_body_over_max_bytes_is_cut_and_marked_truncated(web: Web) -> None:
    web.route("acme.com", "/", Reply(chunks=lambda: iter([b"a" * 700] * 5)))
    settings = EnrichSettings(connect_to=web.connect_to, max_bytes=1_000, timeout_s=3.0)
    response = get(settings, "http://acme.com/")
    assert len(response.body) == 1_000 and response.truncated


def test_a_declared_length_over_max_bytes_is_too_large_unread(web: Web) -> None:
    web.route("acme.com", "/", "a" * 5_000)
    settings = EnrichSettings(connect_to=web.connect_to, max_bytes=1_000, timeout_s=3.0)
    exc = failure(settings, "http://acme.com/")
    assert (exc.kind, exc.reason) == ("too_large", "body over 1,000 bytes (Content-Length 5,000)")


@pytest.mark.slow
def test_a_slow_server_times_out_within_the_timeout(web: Web) -> None:
    web.route("acme.com", "/", Reply(200, "late", delay_s=3.0))
    settings = EnrichSettings(connect_to=web.connect_to, timeout_s=0.5, respect_robots=False)
    started = time.monotonic()
    exc = failure(settings, "http://acme.com/")
    assert (exc.kind, exc.reason) == ("timeout", "timed out after 0.5 s")
    assert time.monotonic() - started < 1.5


# -- robots.txt -------------------------------------------------------------------------
def test_robots_txt_disallow_keeps_the_page_unfetched(web: Web, settings: EnrichSettings) -> None:
    web.route("acme.com", "/robots.txt", "User-agent: *\nDisallow: /private\n")
    web.route("acme.com", "/private/x", "secret")
    exc = failure(settings, "http://acme.com/private/x")
    assert exc.kind == "robots"
    assert [r.path for r in web.asked("acme.com")] == ["/robots.txt"]


def test_robots_txt_is_read_once_per_host(web: Web, settings: EnrichSettings) -> None:
    web.route("acme.com", "/robots.txt", "User-agent: *\nDisallow: /private\n")
    web.route("acme.com", "/a", "a")
    web.route("acme.com", "/b", "b")

    async def two(fetcher: Fetcher) -> None:
        await asyncio.gather(fetcher.get("http://acme.com/a"), fetcher.get("http://acme.com/b"))

    run(settings, two)
    assert sorted(r.path for r in web.asked("acme.com")) == ["/a", "/b", "/robots.txt"]


@pytest.mark.slow
def test_robots_crawl_delay_spaces_requests_to_the_host(web: Web, settings: EnrichSettings) -> None:
    web.route("acme.com", "/robots.txt", "User-agent: *\nCrawl-delay: 1\n")
    web.route("acme.com", "/a", "a")
    web.route("acme.com", "/b", "b")

    async def two(fetcher: Fetcher) -> float:
        await fetcher.get("http://acme.com/a")
        started = time.monotonic()
        await fetcher.get("http://acme.com/b")
        return time.monotonic() - started

    assert run(settings, two) >= 0.9  # /b waits its turn, a second after /a


def test_robots_false_skips_robots_txt(web: Web, settings: EnrichSettings) -> None:
    web.route("acme.com", "/robots.txt", "User-agent: *\nDisallow: /\n")
    web.route("acme.com", "/api", {"x": 1})
    assert get(settings, "http://acme.com/api", robots=False).json() == {"x": 1}


def test_robots_rules_for_another_agent_do_not_apply(web: Web, settings: EnrichSettings) -> None:
    web.route("acme.com", "/robots.txt", "User-agent: BadBot\nDisallow: /\n")
    web.route("acme.com", "/", "ok")
    assert get(settings, "http://acme.com/").text == "ok"


def test_unreadable_robots_txt_allows_everything(web: Web, settings: EnrichSettings) -> None:
    web.route("acme.com", "/robots.txt", Reply(500, "oops"))
    web.route("acme.com", "/", "ok")
    assert get(settings, "http://acme.com/").text == "ok"


# -- retries and limits -----------------------------------------------------------------
@pytest.mark.slow
def test_a_503_then_200_is_retried(web: Web, settings: EnrichSettings) -> None:
    answers = iter([Reply(503, "busy"), Reply(200, "ok")])
    web.route("acme.com", "/", lambda _r: next(answers))
    response = get(settings, "http://acme.com/", robots=False)
    assert response.text == "ok" and len(web.asked("acme.com")) == 2


def test_a_404_is_not_retried(web: Web, settings: EnrichSettings) -> None:
    get(settings, "http://acme.com/missing", robots=False)
    assert len(web.asked("acme.com")) == 1


@pytest.mark.slow
def test_per_host_concurrency_is_kept(web: Web) -> None:
    in_flight = {"now": 0, "most": 0}

    def slow(_request: Request) -> Reply:
        in_flight["now"] += 1
        in_flight["most"] = max(in_flight["most"], in_flight["now"])
        time.sleep(0.1)
        in_flight["now"] -= 1
        return Reply(200, "ok")

    web.route("acme.com", "/", slow)
    settings = EnrichSettings(
        connect_to=web.connect_to, per_host=2, host_rate=1000.0, respect_robots=False
    )

    async def many(fetcher: Fetcher) -> None:
        await asyncio.gather(*(fetcher.get("http://acme.com/") for _ in range(8)))

    run(settings, many)
    assert in_flight["most"] == 2


@pytest.mark.slow
def test_global_concurrency_is_kept_across_hosts(web: Web) -> None:
    lock = threading.Lock()
    in_flight = {"now": 0, "most": 0}

    def slow(_request: Request) -> Reply:
        with lock:
            in_flight["now"] += 1
            in_flight["most"] = max(in_flight["most"], in_flight["now"])
        time.sleep(0.05)
        with lock:
            in_flight["now"] -= 1
        return Reply(200, "ok")

    for i in range(6):
        web.route(f"h{i}.com", "/", slow)
    settings = EnrichSettings(
        connect_to=web.connect_to, concurrency=3, host_rate=1000.0, respect_robots=False
    )

    async def many(fetcher: Fetcher) -> None:
        await asyncio.gather(*(fetcher.get(f"http://h{i % 6}.com/") for i in range(18)))

    run(settings, many)
    assert in_flight["most"] == 3


@pytest.mark.slow
def test_per_host_rate_spaces_requests(web: Web) -> None:
    web.route("acme.com", "/", "ok")
    settings = EnrichSettings(
        connect_to=web.connect_to, per_host=10, host_rate=10.0, respect_robots=False
    )

    async def many(fetcher: Fetcher) -> float:
        started = time.monotonic()
        await asyncio.gather(*(fetcher.get("http://acme.com/") for _ in range(6)))
        return time.monotonic() - started

    assert run(settings, many) >= 0.45  # six starts at 10/s: the last 0.5 s after the first


def test_redact_hides_keys_in_urls() -> None:
    assert redact("http://x.io/a?token=abc&q=1") == "http://x.io/a?token=***&q=1"


# -- TLS --------------------------------------------------------------------------------
def test_https_to_an_api_is_verified_against_the_ca_bundle(
    web_tls: Web, tls_settings: EnrichSettings
) -> None:
    web_tls.route("api.apollo.io", "/v1/organizations/enrich", {"organization": {"name": "Acme"}})
    response = get(tls_settings, "https://api.apollo.io/v1/organizations/enrich", robots=False)
    assert response.json() == {"organization": {"name": "Acme"}}
    assert response.url == "https://api.apollo.io/v1/organizations/enrich"


def test_bare_domain_with_tls_stays_on_https(web_tls: Web, tls_settings: EnrichSettings) -> None:
    web_tls.route("acme.com", "/", "secure home")
    response = get(tls_settings, "acme.com")
    assert (response.url, response.text) == ("https://acme.com/", "secure home")


def test_a_certificate_from_an_untrusted_ca_is_a_tls_failure(
    web_tls: Web, tls_settings: EnrichSettings
) -> None:
    untrusted = tls_settings.model_copy(update={"ca_bundle": None})
    exc = failure(untrusted, "https://api.apollo.io/v1", robots=False)
    assert exc.kind == "tls" and "certificate" in exc.reason
    assert web_tls.asked() == []


def test_a_certificate_for_another_name_is_a_tls_failure(
    web_tls: Web, tls_settings: EnrichSettings
) -> None:
    exc = failure(tls_settings, "https://evil.example/", robots=False)
    assert exc.kind == "tls"


def test_an_unreadable_ca_bundle_is_named(tmp_path: Any) -> None:
    bad = tmp_path / "ca.pem"
    bad.write_text("not a certificate")
    settings = EnrichSettings(ca_bundle=str(bad))
    with pytest.raises(IcpkitError) as caught:
        run(settings, lambda f: f.get("http://acme.com/"))
    assert str(bad) in str(caught.value) and "enrich.ca_bundle" in str(caught.value)


def test_a_name_resolving_to_loopback_is_refused(web: Web) -> None:
    settings = EnrichSettings(timeout_s=2.0)
    exc = failure(settings, f"http://localhost:{web.port}/")
    assert exc.kind == "forbidden" and "loopback address" in exc.reason
    assert web.asked() == []


def test_the_fetcher_connects_to_the_address_it_checked_without_asking_again(web: Web) -> None:
    asked: list[str] = []

    async def dns(host: str, port: int) -> tuple[str, ...]:
        asked.append(host)
        return ("127.0.0.1",)

    web.route("intranet.test", "/a", "a")
    web.route("intranet.test", "/b", "b")
    settings = EnrichSettings(allow_private=True, timeout_s=2.0, respect_robots=False)

    async def two(fetcher: Fetcher) -> list[str]:
        fetcher.guard.resolve = dns
        base = f"http://intranet.test:{web.port}"
        return [(await fetcher.get(f"{base}/a")).text, (await fetcher.get(f"{base}/b")).text]

    assert run(settings, two) == ["a", "b"]
    assert asked == ["intranet.test"]
    assert [r.headers["host"] for r in web.asked()] == [f"intranet.test:{web.port}"] * 2


def test_a_bad_connect_to_entry_is_named_when_the_fetcher_is_made() -> None:
    settings = EnrichSettings(connect_to=["acme.com:http:127.0.0.1:80"])
    with pytest.raises(IcpkitError) as caught:
        Fetcher(settings)
    assert "enrich.connect_to 'acme.com:http:127.0.0.1:80'" in str(caught.value)


def test_the_pool_shortcut_overrides_a_method_httpcore_still_calls() -> None:
    """The fetcher's pool skips httpcore's close of an empty list: if httpcore renames the
    method, the shortcut silently stops applying, so this says so."""
    import inspect

    import httpcore

    from icpkit.enrich.fetch import _Pool

    source = inspect.getsource(httpcore.AsyncConnectionPool.handle_async_request)
    assert "self._close_connections(" in source
    assert _Pool._close_connections is not httpcore.AsyncConnectionPool._close_connections


def test_the_site_transport_needs_nothing_of_httpx_but_its_pool() -> None:
    """The per-site transport skips httpx's __init__ (it would build a pool only to drop
    it): every attribute httpx's transport reads must be the pool it sets."""
    import inspect
    import re

    import httpx

    transport = httpx.AsyncHTTPTransport
    methods = [m for name, m in vars(transport).items() if callable(m) and name != "__init__"]
    assert transport.handle_async_request in methods
    read = {a for m in methods for a in re.findall(r"self\.(\w+)", inspect.getsource(m))}
    assert read <= {"_pool"}, read


# -- what goes on the wire --------------------------------------------------------------
def _raw_requests(replies: int) -> tuple[int, list[bytes], threading.Thread]:
    """A server on a free loopback port that records the raw bytes of ``replies`` requests
    (one per connection) and answers each with a short page that sets a cookie."""
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    seen: list[bytes] = []

    def serve() -> None:
        with listener:
            for _ in range(replies):
                conn, _ = listener.accept()
                with conn:
                    data = b""
                    while b"\r\n\r\n" not in data:
                        data += conn.recv(4096)
                    seen.append(data)
                    conn.sendall(
                        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nSet-Cookie: sid=abc; Path=/"
                        b"\r\nConnection: close\r\n\r\nok"
                    )

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return listener.getsockname()[1], seen, thread


def _header_lines(raw: bytes, name: bytes) -> list[bytes]:
    lines = raw.split(b"\r\n")[1:]
    return [line for line in lines if line.lower().startswith(name.lower() + b":")]


def test_a_header_given_with_the_request_replaces_the_clients_own_once_in_any_case() -> None:
    port, seen, thread = _raw_requests(1)
    settings = EnrichSettings(connect_to=[f"acme.com:80:127.0.0.1:{port}"], timeout_s=3.0)
    run(
        settings,
        lambda f: f.get("http://acme.com/", headers={"user-agent": "Probe/2"}, robots=False),
    )
    thread.join(5)
    assert _header_lines(seen[0], b"user-agent") == [b"user-agent: Probe/2"]
    assert len(_header_lines(seen[0], b"host")) == 1


def test_no_cookie_a_page_set_is_sent_back_with_the_next_request() -> None:
    port, seen, thread = _raw_requests(2)
    settings = EnrichSettings(connect_to=[f"acme.com:80:127.0.0.1:{port}"], timeout_s=3.0)

    async def two_pages(fetcher: Fetcher) -> tuple[Response, Response]:
        first = await fetcher.get("http://acme.com/", robots=False)
        return first, await fetcher.get("http://acme.com/about", robots=False)

    first, _ = run(settings, two_pages)
    thread.join(5)
    assert first.cookies == ("sid",)
    assert len(seen) == 2
    assert _header_lines(seen[1], b"cookie") == []
    assert _header_lines(seen[1], b"user-agent") == [b"User-Agent: " + settings.user_agent.encode()]


@pytest.mark.parametrize(
    ("asked", "final", "path"),
    [
        ("http://acme.com", "http://acme.com/", "/"),
        ("http://acme.com?q=1", "http://acme.com/?q=1", "/?q=1"),
        ("http://acme.com?next=/x", "http://acme.com/?next=/x", "/?next=/x"),
        ("http://acme.com/jobs?q=1", "http://acme.com/jobs?q=1", "/jobs?q=1"),
    ],
)
def test_a_url_without_a_path_is_asked_and_answered_with_the_root_path(
    web: Web, settings: EnrichSettings, asked: str, final: str, path: str
) -> None:
    web.route("acme.com", path.partition("?")[0], "ok")
    response = run(settings, lambda f: f.get(asked, robots=False))
    assert response.url == final
    assert [r.path for r in web.asked("acme.com")] == [path]
