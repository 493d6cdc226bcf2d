"""Servers that misbehave, slowly or on purpose: the fetcher never hangs, never crashes,
never reads more than it allows, and says in words what went wrong."""

from __future__ import annotations

import asyncio
import gzip
import itertools
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from icpkit.config import EnrichSettings
from icpkit.enrich.fetch import Fetcher, FetchError, Response
from loopback import Reply, Web

pytestmark = pytest.mark.slow  # the hostile servers: timeouts, retries, slow bodies


def fetch(settings: EnrichSettings, url: str, **kwargs: Any) -> Response | FetchError:
    async def go() -> Response | FetchError:
        async with Fetcher(settings) as fetcher:
            try:
                return await fetcher.get(url, **kwargs)
            except FetchError as exc:
                return exc

    return asyncio.run(go())


def failed(result: Response | FetchError) -> FetchError:
    assert isinstance(result, FetchError), f"fetched: {result}"
    return result


def fetched(result: Response | FetchError) -> Response:
    assert isinstance(result, Response), f"failed: {result}"
    return result


@pytest.fixture
def quick(web: Web) -> EnrichSettings:
    """Short timeouts and one retry, so that every hostile case ends in about a second."""
    return EnrichSettings(
        connect_to=web.connect_to,
        timeout_s=0.5,
        retries=1,
        max_bytes=10_000,
        max_redirects=3,
        host_rate=1000.0,
        respect_robots=False,
    )


def test_slow_headers_time_out_in_about_the_timeout(web: Web, quick: EnrichSettings) -> None:
    web.route("slow.com", "/", Reply(200, "late", delay_s=2.0))
    started = time.monotonic()
    exc = failed(fetch(quick, "http://slow.com/"))
    elapsed = time.monotonic() - started
    assert (exc.kind, exc.reason) == ("timeout", "timed out after 0.5 s")
    assert 0.4 < elapsed < 1.2  # not retried: a timeout already cost the whole budget


def test_a_body_trickling_forever_times_out_as_a_whole(web: Web, quick: EnrichSettings) -> None:
    def trickle() -> Iterator[bytes]:
        while True:
            time.sleep(0.05)
            yield b"."

    web.route("drip.com", "/", Reply(chunks=trickle))
    started = time.monotonic()
    exc = failed(fetch(quick, "http://drip.com/"))
    assert exc.kind == "timeout"
    assert time.monotonic() - started < 1.2


def test_an_endless_body_is_cut_at_max_bytes(web: Web, quick: EnrichSettings) -> None:
    web.route("endless.com", "/", Reply(chunks=lambda: itertools.repeat(b"x" * 4096)))
    response = fetched(fetch(quick, "http://endless.com/"))
    assert len(response.body) == quick.max_bytes
    assert response.truncated


def test_a_huge_declared_length_is_refused_without_reading(web: Web, quick: EnrichSettings) -> None:
    sent = {"bytes": 0}

    def forever() -> Iterator[bytes]:
        while True:
            sent["bytes"] += 65536
            yield b"x" * 65536

    web.route("huge.com", "/", Reply(headers={"Content-Length": str(10**12)}, chunks=forever))
    started = time.monotonic()
    exc = failed(fetch(quick, "http://huge.com/"))
    assert (exc.kind, exc.reason) == (
        "too_large",
        "body over 10,000 bytes (Content-Length 1,000,000,000,000)",
    )
    assert time.monotonic() - started < 1.0
    assert sent["bytes"] < 64 * 2**20  # the socket buffers at most, never the body


def test_a_compressed_bomb_is_cut_at_max_bytes_once_inflated(
    web: Web, quick: EnrichSettings
) -> None:
    bomb = gzip.compress(b"\0" * 8_000_000)
    assert len(bomb) < quick.max_bytes
    web.route("bomb.com", "/", Reply(200, bomb, {"Content-Encoding": "gzip"}))
    response = fetched(fetch(quick, "http://bomb.com/"))
    assert len(response.body) == quick.max_bytes and response.truncated


def test_a_redirect_loop_fails_after_max_redirects(web: Web, quick: EnrichSettings) -> None:
    web.route("loop.com", "/a", Reply(302, headers={"Location": "/b"}))
    web.route("loop.com", "/b", Reply(302, headers={"Location": "/a"}))
    exc = failed(fetch(quick, "http://loop.com/a"))
    assert exc.kind == "http" and exc.reason.startswith("more than 3 redirects")
    assert len(web.asked("loop.com")) == quick.max_redirects + 1


def test_429_with_retry_after_is_waited_for_then_succeeds(web: Web, quick: EnrichSettings) -> None:
    answers = iter([Reply(429, "slow down", {"Retry-After": "1"}), Reply(200, "ok")])
    web.route("busy.com", "/", lambda _request: next(answers))
    started = time.monotonic()
    response = fetched(fetch(quick, "http://busy.com/"))
    assert response.text == "ok"
    assert time.monotonic() - started >= 0.95


def test_a_retry_after_too_long_fails_at_once_with_the_reason(
    web: Web, quick: EnrichSettings
) -> None:
    web.route("later.com", "/", Reply(503, "maintenance", {"Retry-After": "3600"}))
    started = time.monotonic()
    exc = failed(fetch(quick, "http://later.com/"))
    assert exc.reason == "HTTP 503: asked to retry after 3,600 s (more than 30 s)"
    assert time.monotonic() - started < 0.5


def test_503_always_fails_after_every_try(web: Web, quick: EnrichSettings) -> None:
    web.route("down.com", "/", Reply(503, "down"))
    exc = failed(fetch(quick, "http://down.com/"))
    assert (exc.kind, exc.reason) == ("http", "HTTP 503 after 2 tries")
    assert len(web.asked("down.com")) == 2


def test_malformed_json_is_an_invalid_failure(web: Web, quick: EnrichSettings) -> None:
    web.route(
        "api.bad.com", "/v1", Reply(200, b'{"name": "Acme", ', {"Content-Type": "application/json"})
    )
    response = fetched(fetch(quick, "http://api.bad.com/v1"))
    with pytest.raises(FetchError) as caught:
        response.json()
    assert caught.value.kind == "invalid" and "not JSON" in caught.value.reason


def test_json_cut_at_max_bytes_is_an_invalid_failure(web: Web, quick: EnrichSettings) -> None:
    items = itertools.chain([b'{"jobs": ['], itertools.repeat(b'{"title": "SDR"},'))
    web.route("api.big.com", "/jobs", Reply(chunks=lambda: items))
    response = fetched(fetch(quick, "http://api.big.com/jobs"))
    with pytest.raises(FetchError) as caught:
        response.json()
    assert caught.value.kind == "invalid" and "cut at 10,000 bytes" in caught.value.reason


def test_garbage_bytes_decode_with_replacement(web: Web, quick: EnrichSettings) -> None:
    garbage = b"<html>\xff\xfe\xfa caf\xc3 \x00\x01</html>"
    web.route("junk.com", "/", Reply(200, garbage, {"Content-Type": "text/html; charset=utf-8"}))
    text = fetched(fetch(quick, "http://junk.com/")).text
    assert text.startswith("<html>") and "\ufffd" in text


def test_an_unknown_charset_falls_back_to_utf8(web: Web, quick: EnrichSettings) -> None:
    web.route(
        "odd.com", "/", Reply(200, "héllo".encode(), {"Content-Type": "text/html; charset=klingon"})
    )
    assert fetched(fetch(quick, "http://odd.com/")).text == "héllo"


def test_garbage_robots_txt_allows_everything(web: Web, quick: EnrichSettings) -> None:
    web.route("bots.com", "/robots.txt", Reply(200, b"\xff\xfe\x00 Disallow ::: <<<"))
    web.route("bots.com", "/", "ok")
    settings = quick.model_copy(update={"respect_robots": True})
    assert fetched(fetch(settings, "http://bots.com/")).text == "ok"


def test_a_slow_robots_txt_does_not_block_the_page_forever(web: Web, quick: EnrichSettings) -> None:
    web.route("slowbots.com", "/robots.txt", Reply(200, "User-agent: *\n", delay_s=2.0))
    web.route("slowbots.com", "/", "ok")
    settings = quick.model_copy(update={"respect_robots": True})
    started = time.monotonic()
    assert fetched(fetch(settings, "http://slowbots.com/")).text == "ok"
    assert time.monotonic() - started < 1.5


def test_https_refused_falls_back_to_http(web: Web, quick: EnrichSettings) -> None:
    web.route("notls.com", "/", "plain")
    response = fetched(fetch(quick, "notls.com"))
    assert (response.url, response.text) == ("http://notls.com/", "plain")


class _Hangup:
    """A TCP server that accepts and closes every connection without a word."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.accepted = 0
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            conn.close()


def test_a_server_hanging_up_is_retried_then_fails_in_words(quick: EnrichSettings) -> None:
    server = _Hangup()
    try:
        settings = quick.model_copy(update={"connect_to": [f"::127.0.0.1:{server.port}"]})
        exc = failed(fetch(settings, "http://rude.com/"))
    finally:
        server.sock.close()
    assert exc.kind == "connect" and exc.reason.startswith("connection dropped")
    assert server.accepted == 1 + quick.retries


def test_a_closed_port_is_a_connect_failure(quick: EnrichSettings) -> None:
    settings = quick.model_copy(update={"connect_to": ["::127.0.0.1:1"]})
    exc = failed(fetch(settings, "http://closed.com/"))
    assert exc.kind == "connect" and exc.reason.startswith("could not connect")
