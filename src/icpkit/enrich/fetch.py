"""The safe HTTP client every network provider fetches through (httpx, async).

It keeps to per-host concurrency and rate limits, times out, retries a 429, a 5xx or a
dropped connection with backoff (honouring ``Retry-After``), tries https first and falls
back to plain http for a site without TLS, reads at most ``max_bytes`` of a body, respects
robots.txt, sends an honest User-Agent (and no cookie back), and never connects to a
private, loopback, link-local or cloud-metadata address unless allowed (``allow_private``)
or named as a target of ``connect_to`` (see ``enrich/guard.py``). Every redirect hop is
checked again.

Names are resolved by the guard, once per host and port, and the connection goes to the
address it checked (a network backend under httpx that dials that address while TLS and
the Host header keep the URL's name), so a name cannot be rebound to another address
between the check and the connection.
"""

from __future__ import annotations

import asyncio
import codecs
import email.utils
import importlib.util
import json as jsonlib
import random
import re
import ssl
import sys
import time
import typing
from collections import Counter, OrderedDict
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit
from urllib.robotparser import RobotFileParser

import certifi
import httpcore
import httpx
from httpcore._synchronization import AsyncLock as _HttpcoreLock

from icpkit.config import EnrichSettings
from icpkit.enrich.guard import Guard, Refused
from icpkit.enrich.streams import connect_tcp
from icpkit.errors import IcpkitError

FailureKind = Literal[
    "forbidden", "dns", "connect", "tls", "timeout", "http", "too_large", "robots", "invalid"
]

RETRY_AFTER_CAP_S = 30.0
"""The longest ``Retry-After`` waited for; a server asking more fails the request."""
BACKOFF_S = 0.5
"""The first retry's wait; each next one doubles, with jitter."""
ROBOTS_MAX_BYTES = 500_000
KEEPALIVE_S = 30.0
CRAWL_DELAY_CAP_S = 5.0
"""The longest robots.txt ``Crawl-delay`` kept to between two requests to one host."""
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_SECRET_NAME = re.compile(r"key|token|secret|pass|auth|sig", re.IGNORECASE)
_SECRET_HEADER = re.compile(r"authorization|cookie|key|token|secret", re.IGNORECASE)
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)


class FetchError(IcpkitError):
    """A URL that could not be fetched; ``reason`` says why in words, ``kind`` classifies
    it, ``url`` is the URL asked for (or the redirect hop that failed)."""

    def __init__(self, url: str, kind: FailureKind, reason: str) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.kind = kind
        self.reason = reason


@dataclass(frozen=True)
class Response:
    """A fetched response: the final URL after redirects, status, headers (names in lower
    case), cookie names set, and the body (cut at ``max_bytes``: ``truncated``)."""

    url: str
    status: int
    headers: Mapping[str, str]
    body: bytes
    cookies: tuple[str, ...] = ()
    truncated: bool = False
    redirects: tuple[str, ...] = field(default=())

    @cached_property
    def text(self) -> str:
        """The body decoded (charset of the Content-Type, else an HTML ``<meta charset>``,
        else UTF-8), undecodable bytes replaced.

        >>> Response("http://a/", 200, {"content-type": "text/html; charset=latin-1"},
        ...          "café".encode("latin-1")).text
        'café'
        """
        return self.body.decode(self.charset, errors="replace")

    @property
    def charset(self) -> str:
        """The codec the body is decoded with."""
        declared = _content_type_charset(self.headers.get("content-type", ""))
        if declared is None:
            found = _META_CHARSET.search(self.body[:2048])
            declared = found.group(1).decode("ascii") if found else None
        if declared is not None:
            try:
                return codecs.lookup(declared).name
            except LookupError:
                pass
        return "utf-8"

    def json(self) -> Any:
        """The body as JSON; FetchError(kind='invalid') when it is not."""
        if self.truncated:
            raise FetchError(self.url, "invalid", f"JSON cut at {len(self.body):,} bytes")
        try:
            return jsonlib.loads(self.text)
        except ValueError as exc:
            raise FetchError(self.url, "invalid", f"not JSON ({exc})") from None


def _content_type_charset(content_type: str) -> str | None:
    for part in content_type.split(";")[1:]:
        name, _, value = part.partition("=")
        if name.strip().lower() == "charset" and value.strip(" \"'"):
            return value.strip(" \"'")
    return None


@dataclass
class _Host:
    """One host's share of the run: requests in flight, and when the next may start."""

    slots: asyncio.Semaphore
    interval: float
    next_start: float = 0.0

    async def pace(self) -> None:
        now = time.monotonic()
        start = max(now, self.next_start)
        self.next_start = start + self.interval
        if start > now:
            await asyncio.sleep(start - now)


class _PinnedBackend(httpcore.AsyncNetworkBackend):
    """Dials the addresses the guard checked for a (host, port), never a fresh lookup."""

    def __init__(self, guard: Guard) -> None:
        self.guard = guard

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        route = self.guard.cached(host.strip("[]").lower(), port)
        if route is None:
            raise httpcore.ConnectError(f"{host}:{port} was not checked before connecting")
        error: Exception | None = None
        for address in route.addresses:
            try:
                return await connect_tcp(address, route.port, timeout)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        assert error is not None
        raise error

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are not fetched")

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class _Lock:
    """A lock on asyncio's own: taken at once when free. httpcore's goes through anyio,
    which looks up the running library and yields to the loop on every acquisition."""

    def __init__(self) -> None:
        self._lock = asyncio.Lock()

    async def __aenter__(self) -> _Lock:
        await self._lock.acquire()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._lock.release()


class _Pool(httpcore.AsyncConnectionPool):
    """httpcore's pool, minus a cancel scope opened on every request and every response
    to close a list of connections that is nearly always empty, and with each connection's
    request lock (taken on every request) on asyncio's own."""

    async def _close_connections(self, closing: list[Any], *args: Any) -> None:
        if closing:
            await super()._close_connections(closing, *args)

    def create_connection(self, origin: httpcore.Origin) -> httpcore.AsyncConnectionInterface:
        connection = super().create_connection(origin)
        if isinstance(getattr(connection, "_request_lock", None), _HttpcoreLock):
            connection._request_lock = _Lock()  # type: ignore[attr-defined]
        return connection


class _OriginTransport(httpx.AsyncHTTPTransport):
    """httpx's transport over one origin's pool, dialing through :class:`_PinnedBackend`."""

    def __init__(self, context: ssl.SSLContext, slots: int, backend: _PinnedBackend) -> None:
        # httpx's own __init__ is not called: it would build a pool of its own, only to be
        # replaced (two per site, two sites per domain); the transport reads only _pool.
        self._pool = _Pool(
            ssl_context=context,
            max_connections=slots,
            max_keepalive_connections=slots,
            keepalive_expiry=KEEPALIVE_S,
            network_backend=backend,
        )


class _Tracked(httpx.AsyncByteStream):
    """A response body that tells its origin's router entry when it is closed."""

    def __init__(self, stream: httpx.AsyncByteStream, done: Callable[[], None]) -> None:
        self.stream = stream
        self.done: Callable[[], None] | None = done

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self.stream:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self.stream.aclose()
        finally:
            if self.done is not None:
                self.done()
                self.done = None


class _Router(httpx.AsyncBaseTransport):
    """One small connection pool per origin (scheme, host, port), the least recently used
    idle ones closed beyond ``keep``: httpcore's pool scans every connection it holds on
    every request, so a single pool for thousands of hosts gets slower with each one."""

    def __init__(self, context: ssl.SSLContext, per_host: int, guard: Guard, keep: int) -> None:
        self.context = context
        self.per_host = per_host
        self.backend = _PinnedBackend(guard)
        self.keep = keep
        self.origins: OrderedDict[tuple[bytes, bytes, int | None], _OriginTransport] = OrderedDict()
        self.busy: Counter[tuple[bytes, bytes, int | None]] = Counter()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        key = (request.url.raw_scheme, request.url.raw_host, request.url.port)
        transport = self.origins.get(key)
        if transport is None:
            transport = _OriginTransport(self.context, self.per_host, self.backend)
            self.origins[key] = transport
            if len(self.origins) > self.keep:
                await self._evict()
        else:
            self.origins.move_to_end(key)
        self.busy[key] += 1
        try:
            response = await transport.handle_async_request(request)
        except BaseException:
            self._done(key)
            raise
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = _Tracked(response.stream, lambda: self._done(key))
        return response

    def _done(self, key: tuple[bytes, bytes, int | None]) -> None:
        self.busy[key] -= 1
        if self.busy[key] <= 0:
            del self.busy[key]

    async def _evict(self) -> None:
        excess = len(self.origins) - self.keep
        idle: list[tuple[bytes, bytes, int | None]] = []
        for key in self.origins:  # oldest first: usually the first few are idle
            if len(idle) >= excess:
                break
            if not self.busy.get(key):
                idle.append(key)
        for key in idle:
            await self.origins.pop(key).aclose()

    async def aclose(self) -> None:
        origins, self.origins = list(self.origins.values()), OrderedDict()
        for transport in origins:
            await transport.aclose()


def ssl_context(settings: EnrichSettings) -> ssl.SSLContext:
    """The certificate authorities trusted: certifi's, plus ``ca_bundle`` (a corporate
    proxy's, or a test's)."""
    context = ssl.create_default_context(cafile=certifi.where())
    if settings.ca_bundle:
        try:
            context.load_verify_locations(cafile=settings.ca_bundle)
        except (OSError, ssl.SSLError) as exc:
            raise IcpkitError(
                f"enrich.ca_bundle {settings.ca_bundle}: not a readable PEM file of "
                f"certificate authorities ({exc})"
            ) from None
    return context


class Fetcher:
    """One run's HTTP client: ``async with Fetcher(settings) as f: await f.get(url)``."""

    def __init__(self, settings: EnrichSettings) -> None:
        self.settings = settings
        try:
            self.guard = Guard(settings)
        except ValueError as exc:  # a connect_to entry the settings' own check let through
            raise IcpkitError(f"enrich.{exc}") from None
        self._client: httpx.AsyncClient | None = None
        self._router: _Router | None = None
        # The client's headers (User-Agent, Accept, Accept-Encoding...) by lower-case name,
        # and the timeouts every request carries to the transport.
        self._base_headers: dict[str, tuple[str, str]] = {}
        self._timeouts: dict[str, float | None] = {}
        self._hosts: dict[str, _Host] = {}
        self._slots: asyncio.Semaphore | None = None
        self._plain_http: set[str] = set()
        # host -> origin (scheme://host:port) -> its robots.txt, read once
        self._robots: dict[str, dict[str, asyncio.Future[RobotFileParser | FetchError | None]]] = {}

    async def __aenter__(self) -> Fetcher:
        self._open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connections kept open."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None
            self._router = None

    def _open(self) -> httpx.AsyncClient:
        if self._client is None:
            _remember_missing_sniffio()
            timeout = self.settings.timeout_s
            keep = max(256, 4 * self.settings.concurrency)
            router = _Router(ssl_context(self.settings), self.settings.per_host, self.guard, keep)
            self._router = router
            self._client = httpx.AsyncClient(
                transport=router,
                headers={"User-Agent": self.settings.user_agent},
                # Each exchange has one deadline of its own (_exchange): reads and writes
                # need no timer each, only connecting keeps its shorter one.
                timeout=httpx.Timeout(None, connect=timeout * 0.9),
                follow_redirects=False,
                trust_env=False,
            )
            self._base_headers = {
                name.decode("latin-1").lower(): (name.decode("latin-1"), value.decode("latin-1"))
                for name, value in self._client.headers.raw
            }
            self._timeouts = dict(self._client.timeout.as_dict())
            self._slots = asyncio.Semaphore(self.settings.concurrency)
        return self._client

    # -- the interface ----------------------------------------------------------------
    async def get(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        robots: bool = True,
    ) -> Response:
        """GET ``url`` (a bare host 'acme.com' means https://acme.com/, falling back to
        http). Raises FetchError; a 4xx/5xx other than 429 and 5xx after retries comes
        back as a Response with its status (the caller decides what a 404 means).
        ``robots=False`` for APIs (robots.txt governs pages, not documented APIs)."""
        return await self._fetch(
            "GET", url, headers, params, None, robots and self.settings.respect_robots, None
        )

    async def post(
        self,
        url: str,
        *,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        timeout_s: float | None = None,
    ) -> Response:
        """POST JSON to ``url`` (keyed APIs, the research model); no robots.txt."""
        return await self._fetch("POST", url, headers, None, json, False, timeout_s)

    # -- one request, its redirects and its https fallback ------------------------------
    async def _fetch(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        params: Mapping[str, str] | None,
        body: Any,
        robots: bool,
        timeout_s: float | None,
    ) -> Response:
        bare = "://" not in url
        try:
            full = f"https://{url}" if bare else url
            # httpx replaces a URL's own query with ``params`` even when none are given.
            target = httpx.URL(full, params=params) if params else httpx.URL(full)
            host = _host_of(target)
            authority_and_path = (url if bare else url.partition("://")[2]).partition("?")[0]
            if "/" not in authority_and_path.partition("#")[0]:
                # 'https://a.com/', not 'https://a.com' (parsing the URL again, so only then)
                target = target.copy_with(raw_path=target.raw_path)
        except (httpx.InvalidURL, ValueError, UnicodeError) as exc:
            raise FetchError(redact(url), "invalid", f"not a URL ({exc})") from None
        if target.scheme not in ("http", "https"):
            raise FetchError(redact(url), "invalid", f"unsupported scheme {target.scheme!r}")
        if not host:
            raise FetchError(redact(url), "invalid", "no host in the URL")
        fallback = bare and target.scheme == "https"
        if fallback and host in self._plain_http:
            target, fallback = target.copy_with(scheme="http"), False
        client = self._open()
        sent = {k: v for k, v in (headers or {}).items()}
        timeout = timeout_s or self.settings.timeout_s
        redirects: list[str] = []
        for hop in range(self.settings.max_redirects + 1):
            try:
                if robots:
                    await self._robots_allow(target)
                response = await self._retrying(
                    client, method, target, sent, body, timeout, hop, quick=fallback and hop == 0
                )
            except FetchError as exc:
                if hop == 0 and fallback and exc.kind in ("connect", "tls"):
                    self._plain_http.add(host)
                    target, fallback = target.copy_with(scheme="http"), False
                    if robots:
                        await self._robots_allow(target)
                    response = await self._retrying(
                        client, method, target, sent, body, timeout, hop
                    )
                else:
                    raise
            location = response.headers.get("location")
            if response.status not in _REDIRECTS or not location:
                return Response(
                    response.url,
                    response.status,
                    response.headers,
                    response.body,
                    response.cookies,
                    response.truncated,
                    tuple(redirects),
                )
            if hop == self.settings.max_redirects:
                break
            try:
                following = target.join(location)
                following_host = _host_of(following)
            except (httpx.InvalidURL, ValueError, UnicodeError):
                raise FetchError(
                    redact(str(target)), "invalid", f"redirect to a bad URL {location!r}"
                ) from None
            if following.scheme not in ("http", "https"):
                raise FetchError(
                    redact(str(target)),
                    "forbidden",
                    f"refused: redirect to scheme {following.scheme!r}",
                )
            redirects.append(str(target))
            if response.status == 303 or (response.status in (301, 302) and method == "POST"):
                method, body = "GET", None
            if following_host != _host_of(target):
                # Keys and cookies meant for one host never travel to another.
                sent = {k: v for k, v in sent.items() if not _SECRET_HEADER.search(k)}
            target = following
        raise FetchError(
            redact(url),
            "http",
            f"more than {self.settings.max_redirects} redirects (last to {redact(str(target))})",
        )

    async def _retrying(
        self,
        client: httpx.AsyncClient,
        method: str,
        url: httpx.URL,
        headers: Mapping[str, str],
        body: Any,
        timeout: float,
        hop: int,
        *,
        retries: int | None = None,
        max_bytes: int | None = None,
        quick: bool = False,
    ) -> Response:
        tries = 1 + (self.settings.retries if retries is None else retries)
        for attempt in range(tries):
            last = attempt == tries - 1
            try:
                response = await self._attempt(
                    client, method, url, headers, body, timeout, hop, max_bytes
                )
            except FetchError as exc:
                # A connection dropped or refused may be a moment's trouble; an https
                # connection a bare domain falls back from is not retried (no TLS there).
                if exc.kind != "connect" or last or quick:
                    raise
                await asyncio.sleep(_backoff(attempt))
                continue
            if response.status != 429 and response.status < 500:
                return response
            if last:
                raise FetchError(
                    redact(str(url)),
                    "http",
                    f"HTTP {response.status} after {tries} {'try' if tries == 1 else 'tries'}",
                )
            wait = retry_after(response.headers.get("retry-after"))
            if wait is not None and wait > RETRY_AFTER_CAP_S:
                raise FetchError(
                    redact(str(url)),
                    "http",
                    f"HTTP {response.status}: asked to retry after {wait:,.0f} s "
                    f"(more than {RETRY_AFTER_CAP_S:.0f} s)",
                )
            await asyncio.sleep(wait if wait is not None else _backoff(attempt))
        raise AssertionError("unreachable")  # pragma: no cover

    async def _attempt(
        self,
        client: httpx.AsyncClient,
        method: str,
        url: httpx.URL,
        headers: Mapping[str, str],
        body: Any,
        timeout: float,
        hop: int,
        max_bytes: int | None,
    ) -> Response:
        host = _host_of(url)
        port = url.port or (443 if url.scheme == "https" else 80)
        if self.guard.cached(host, port) is None:
            try:
                await self.guard.route(host, port)
            except Refused as exc:
                shown = redact(str(url))
                where = "redirect to " if hop else ""
                if exc.kind == "dns":
                    raise FetchError(shown, "dns", exc.reason) from None
                raise FetchError(shown, "forbidden", f"refused: {where}{exc.reason}") from None
        limit = max_bytes or self.settings.max_bytes
        state = self._host(host)
        assert self._slots is not None
        # The host's turn first, then a global slot: requests queued for a busy host do
        # not hold slots other hosts could use.
        async with state.slots:
            await state.pace()
            async with self._slots:
                return await self._exchange(client, method, url, headers, body, timeout, limit)

    async def _exchange(
        self,
        client: httpx.AsyncClient,
        method: str,
        url: httpx.URL,
        headers: Mapping[str, str],
        body: Any,
        timeout: float,
        limit: int,
    ) -> Response:
        """One request and its response, within ``timeout`` seconds in all.

        The request goes straight to the transport: httpx's client would only add, per
        request, its redirect and auth loops (redirects are followed here, hop by hop) and
        a cookie jar (a run keeps no cookies: every page is asked as a first visit)."""
        router = self._router
        assert router is not None, "the fetcher is not open"
        try:
            async with asyncio.timeout(timeout):
                request = httpx.Request(
                    method,
                    url,
                    headers=self._headers(headers),
                    json=body if method == "POST" else None,
                    extensions={"timeout": self._timeouts},
                )
                reply = await router.handle_async_request(request)
                reply.request = request
                try:
                    return await _read(reply, limit)
                finally:
                    await reply.aclose()
        except FetchError as exc:
            raise FetchError(redact(str(url)), exc.kind, exc.reason) from None
        except TimeoutError:
            shown = redact(str(url))
            raise FetchError(shown, "timeout", f"timed out after {_seconds(timeout)} s") from None
        except httpx.ConnectTimeout:
            shown = redact(str(url))
            raise FetchError(
                shown, "connect", f"could not connect within {_seconds(timeout * 0.9)} s"
            ) from None
        except httpx.TimeoutException:
            shown = redact(str(url))
            raise FetchError(shown, "timeout", f"timed out after {_seconds(timeout)} s") from None
        except httpx.ConnectError as exc:
            shown = redact(str(url))
            if _is_tls(exc):
                raise FetchError(shown, "tls", f"TLS failed ({_words(exc)})") from None
            raise FetchError(shown, "connect", f"could not connect ({_words(exc)})") from None
        except httpx.DecodingError as exc:
            shown = redact(str(url))
            raise FetchError(shown, "invalid", f"undecodable body ({_words(exc)})") from None
        except (httpx.HTTPError, OSError, ssl.SSLError) as exc:
            shown = redact(str(url))
            if _is_tls(exc):
                raise FetchError(shown, "tls", f"TLS failed ({_words(exc)})") from None
            raise FetchError(shown, "connect", f"connection dropped ({_words(exc)})") from None

    def _headers(self, given: Mapping[str, str]) -> list[tuple[str, str]]:
        """The client's headers with the request's own over them (names matched in any case)."""
        if not given:
            return list(self._base_headers.values())
        merged = dict(self._base_headers)
        for name, value in given.items():
            merged[name.lower()] = (name, value)
        return list(merged.values())

    def forget(self, domain: str) -> None:
        """Drop what the run kept about ``domain``'s site (its pace, robots.txt, scheme,
        route) once its account is done, so a run's memory stays flat however many
        domains it visits. Shared hosts (job boards, APIs) are kept."""
        hosts = {domain, f"www.{domain}"}
        for host in hosts:
            self._hosts.pop(host, None)
            self._plain_http.discard(host)
            self.guard.forget(host)
            self._robots.pop(host, None)

    def _host(self, host: str) -> _Host:
        state = self._hosts.get(host)
        if state is None:
            rate = self.settings.host_rates.get(host, self.settings.host_rate)
            state = _Host(asyncio.Semaphore(self.settings.per_host), 1.0 / rate)
            self._hosts[host] = state
        return state

    # -- robots.txt -----------------------------------------------------------------------
    async def _robots_allow(self, url: httpx.URL) -> None:
        """Raise FetchError(kind='robots') when the site's robots.txt disallows ``url``; a
        site unreachable over this scheme raises that failure (the page would fail too)."""
        origin = f"{url.scheme}://{url.netloc.decode('ascii')}"
        origins = self._robots.setdefault(_host_of(url), {})
        future = origins.get(origin)
        if future is None:
            future = asyncio.ensure_future(self._load_robots(url))
            origins[origin] = future
        rules = await asyncio.shield(future)
        if isinstance(rules, FetchError):
            raise FetchError(redact(str(url)), rules.kind, rules.reason)
        if rules is not None and not rules.can_fetch(self.settings.user_agent, str(url)):
            raise FetchError(
                redact(str(url)), "robots", f"robots.txt of {origin} disallows {url.path}"
            )

    async def _load_robots(self, url: httpx.URL) -> RobotFileParser | FetchError | None:
        robots_url = url.copy_with(path="/robots.txt", query=None, fragment=None)
        client = self._open()
        try:
            response = await self._retrying(
                client,
                "GET",
                robots_url,
                {},
                None,
                self.settings.timeout_s,
                0,
                retries=0,
                max_bytes=ROBOTS_MAX_BYTES,
            )
            hops = 0
            while response.status in _REDIRECTS and hops < 5 and response.headers.get("location"):
                robots_url = robots_url.join(response.headers["location"])
                if robots_url.scheme not in ("http", "https"):
                    return None
                hops += 1
                response = await self._retrying(
                    client,
                    "GET",
                    robots_url,
                    {},
                    None,
                    self.settings.timeout_s,
                    hops,
                    retries=0,
                    max_bytes=ROBOTS_MAX_BYTES,
                )
        except FetchError as exc:
            # An origin that cannot be reached at all: the page fails the same way.
            return exc if exc.kind in ("connect", "tls") else None
        if response.status != 200:
            return None  # missing or unreadable robots.txt: everything is allowed
        rules = RobotFileParser()
        rules.parse(response.text.splitlines())
        delay = _crawl_delay(rules, self.settings.user_agent)
        if delay:
            # A site's own pace, when slower than ours (capped: a day's delay is not asked).
            state = self._host(_host_of(url))
            state.interval = max(state.interval, min(delay, CRAWL_DELAY_CAP_S))
        return rules


async def _read(reply: httpx.Response, limit: int) -> Response:
    """The reply's body, read in a stream and cut at ``limit`` bytes (a FetchError for a
    declared length over it names the URL asked; the caller shows it redacted)."""
    headers = dict(reply.headers.items())
    cookies = tuple(
        c.split("=", 1)[0].strip() for c in reply.headers.get_list("set-cookie") if "=" in c
    )
    url = str(reply.request.url)
    redirect = reply.status_code in _REDIRECTS and "location" in headers
    if redirect or reply.request.method == "HEAD":
        return Response(url, reply.status_code, headers, b"", cookies)
    declared = headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise FetchError(
            url, "too_large", f"body over {limit:,} bytes (Content-Length {int(declared):,})"
        )
    chunks: list[bytes] = []
    size = 0
    truncated = False
    async for chunk in reply.aiter_bytes():
        if size + len(chunk) > limit:
            chunks.append(chunk[: limit - size])
            truncated = True
            break
        chunks.append(chunk)
        size += len(chunk)
    return Response(url, reply.status_code, headers, b"".join(chunks), cookies, truncated)


def retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds a ``Retry-After`` header asks to wait (a number or an HTTP date).

    >>> retry_after("3")
    3.0
    >>> retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0)
    10.0
    >>> retry_after("soon") is None
    True
    """
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def redact(url: str) -> str:
    """``url`` with credentials and key-like query values hidden (errors are shown and
    stored; keys never are).

    >>> redact("https://u:p@api.x.com/v1?api_key=s3cret&domain=acme.com")
    'https://api.x.com/v1?api_key=***&domain=acme.com'
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    netloc = parts.netloc.rpartition("@")[2]
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(k, "***" if _SECRET_NAME.search(k) else v) for k, v in pairs])
        query = query.replace("%2A%2A%2A", "***")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _crawl_delay(rules: RobotFileParser, agent: str) -> float:
    try:
        delay = rules.crawl_delay(agent)
    except (TypeError, ValueError):
        return 0.0
    return float(delay) if delay else 0.0


def _remember_missing_sniffio() -> None:
    """httpcore imports the optional ``sniffio`` each time it makes a lock; when it is not
    installed every such import searches ``sys.path`` again (a quarter of a small request's
    time). Recording the absence makes that failed import immediate."""
    if "sniffio" not in sys.modules and importlib.util.find_spec("sniffio") is None:
        sys.modules["sniffio"] = None  # type: ignore[assignment]


def _host_of(url: httpx.URL) -> str:
    return url.raw_host.decode("ascii").lower().rstrip(".")


def _backoff(attempt: int) -> float:
    return float(BACKOFF_S * 2**attempt * random.uniform(0.75, 1.25))


def _seconds(value: float) -> str:
    return f"{value:g}" if value >= 1 else f"{value:.2g}"


def _words(exc: BaseException) -> str:
    text = str(exc).strip()
    return text or type(exc).__name__


def _is_tls(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError) or "SSL" in str(seen) or "certificate" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
