"""A real HTTP server on 127.0.0.1 that answers for any host name, for the enrichment tests.

Tests point domains at it with ``connect_to`` (curl's HOST:PORT:ADDRESS:PORT), as a user
points them at a proxy: ``web.route("acme.com", "/", html)`` serves acme.com's homepage,
``web.route("boards-api.greenhouse.io", "/v1/boards/acme/jobs", json_body)`` a job board.
Every request is recorded (host, method, path, headers, body) so a test can say what was
asked, and what was not.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

Body = str | bytes | Mapping[str, Any] | list[Any]


@dataclass(frozen=True)
class Request:
    host: str
    method: str
    path: str  # with the query string
    headers: Mapping[str, str]
    body: bytes


@dataclass
class Reply:
    """What a route answers: a status, headers and a body; ``delay_s`` before the headers,
    ``chunks`` to send a body slowly or forever (a generator)."""

    status: int = 200
    body: Body = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    chunks: Callable[[], Iterator[bytes]] | None = None

    def encoded(self) -> tuple[bytes, str]:
        if isinstance(self.body, bytes):
            return self.body, "application/octet-stream"
        if isinstance(self.body, str):
            return self.body.encode("utf-8"), "text/html; charset=utf-8"
        return json.dumps(self.body).encode("utf-8"), "application/json"


Handler = Callable[[Request], Reply]


class Web:
    """Routes by (host, path); a path without a query matches any query of that path."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], Handler] = {}
        self.requests: list[Request] = []
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None
        self.tls_server: ThreadingHTTPServer | None = None  # see start_tls

    # -- set-up ---------------------------------------------------------------------------
    def route(
        self,
        host: str,
        path: str,
        body: Body | Reply | Handler = b"",
        *,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Answer ``host`` ``path`` with ``body`` (text is HTML, dicts and lists JSON), a
        whole :class:`Reply`, or a function of the request."""
        if callable(body):
            handler: Handler = body
        elif isinstance(body, Reply):
            reply = body
            handler = lambda _req: reply  # noqa: E731
        else:
            fixed = Reply(status, body, dict(headers or {}))
            handler = lambda _req: fixed  # noqa: E731
        self.routes[(host.lower(), path)] = handler

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.server_address[1])

    @property
    def connect_to(self) -> list[str]:
        """curl-style mappings sending every host's port 80 here, and 443 to a closed port
        (so https fails at once and the fetcher falls back to http)."""
        return [f":80:127.0.0.1:{self.port}", f":443:127.0.0.1:{closed_port()}"]

    @property
    def tls_port(self) -> int:
        assert self.tls_server is not None, "start_tls(web, ca) first"
        return int(self.tls_server.server_address[1])

    @property
    def tls_connect_to(self) -> list[str]:
        """Every host's port 80 to the plain server, 443 to the TLS one (``start_tls``)."""
        return [f":80:127.0.0.1:{self.port}", f":443:127.0.0.1:{self.tls_port}"]

    def asked(self, host: str | None = None) -> list[Request]:
        with self.lock:
            return [r for r in self.requests if host is None or r.host == host]

    # -- serving --------------------------------------------------------------------------
    def handle(self, request: Request) -> Reply:
        with self.lock:
            self.requests.append(request)
        path = request.path
        handler = self.routes.get((request.host, path)) or self.routes.get(
            (request.host, urlsplit(path).path)
        )
        if handler is None:
            return Reply(404, "<html><body>not found</body></html>")
        return handler(request)


def closed_port() -> int:
    """A loopback port nothing listens on (bound and released)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _handler_class(web: Web) -> type[BaseHTTPRequestHandler]:
    class _Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            host = (self.headers.get("Host") or "").split(":")[0].lower()
            headers = {k.lower(): v for k, v in self.headers.items()}
            reply = web.handle(Request(host, self.command, self.path, headers, body))
            if reply.delay_s:
                time.sleep(reply.delay_s)
            try:
                self.send_response(reply.status)
                if reply.chunks is not None:
                    self.send_header("Content-Type", reply.headers.get("Content-Type", "text/html"))
                    for name, value in reply.headers.items():
                        if name != "Content-Type":
                            self.send_header(name, value)
                    self.send_header("Connection", "close")
                    self.end_headers()
                    for chunk in reply.chunks():
                        self.wfile.write(chunk)
                        self.wfile.flush()
                    self.close_connection = True
                    return
                data, kind = reply.encoded()
                self.send_header("Content-Type", reply.headers.get("Content-Type", kind))
                for name, value in reply.headers.items():
                    if name != "Content-Type":
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True

        do_GET = do_POST = do_HEAD = _serve

    return _Handler


def start(web: Web) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_class(web))
    server.daemon_threads = True
    web.server = server
    # A short poll interval: shutdown() at the end of each test returns at once.
    threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True).start()
    return server


# -- TLS ------------------------------------------------------------------------------------
TLS_HOSTS = (
    "api.peopledatalabs.com",
    "api.apollo.io",
    "company.clearbit.com",
    "www.sec.gov",
    "data.sec.gov",
    "efts.sec.gov",
    "boards-api.greenhouse.io",
    "api.lever.co",
    "api.ashbyhq.com",
    "apply.workable.com",
    "api.smartrecruiters.com",
    "llm.test",
    "acme.com",
    "www.acme.com",
)
"""The host names the TLS server's certificate covers (the APIs the providers call)."""


@dataclass
class Authority:
    """A test certificate authority (trustme) and a server context whose certificate,
    signed by it, covers ``hosts``; ``pem`` is the CA's PEM file (``ca_bundle``)."""

    pem: str
    context: Any  # ssl.SSLContext
    hosts: tuple[str, ...]


def authority(folder: str, hosts: tuple[str, ...] = TLS_HOSTS) -> Authority:
    """Make a CA in ``folder`` (its PEM written there) and a certificate for ``hosts``."""
    import os
    import ssl

    import trustme

    ca = trustme.CA()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert(*hosts).configure_cert(context)
    pem = os.path.join(folder, "loopback-ca.pem")
    ca.cert_pem.write_to_path(pem)
    return Authority(pem, context, hosts)


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that does not trust the certificate hangs up mid-handshake


def start_tls(web: Web, ca: Authority) -> ThreadingHTTPServer:
    """Serve ``web`` over TLS too (same routes, same record of requests), with ``ca``'s
    certificate; ``web.tls_connect_to`` then sends port 443 there."""
    server = _QuietServer(("127.0.0.1", 0), _handler_class(web))
    server.daemon_threads = True
    # The handshake happens in the request's thread, not in the accepting one.
    server.socket = ca.context.wrap_socket(
        server.socket, server_side=True, do_handshake_on_connect=False
    )
    web.tls_server = server
    threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True).start()
    return server
