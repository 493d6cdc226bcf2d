"""The HTTP side every CRM emulator shares: a threaded server on 127.0.0.1 that hands each
request to the emulator's ``handle`` and sends its ``Reply`` (or drops the connection, or
answers late, as a fault asks)."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self


@dataclass
class Fault:
    """What the next matching calls get instead of an answer: an HTTP ``status`` (with the
    CRM's body for it); ``hang`` seconds of silence and a closed connection, the request lost
    on its way (nothing applied) or, when ``applied``, the answer lost; or the answer
    ``slow`` seconds late."""

    status: int = 0
    hang: float = 0.0
    slow: float = 0.0
    applied: bool = False
    retry_after: float | None = None
    method: str | None = None
    times: int = 1


@dataclass
class Reply:
    """An answer: ``status``, ``headers`` and a JSON ``body`` sent after ``delay`` seconds;
    with ``drop``, nothing is sent and the connection is closed after the delay."""

    status: int
    headers: dict[str, str]
    body: Any
    delay: float = 0.0
    drop: bool = False


class Served:
    """An emulator served over HTTP on a free loopback port while used as a context manager,
    with faults injected by ``fail``, ``slow`` and ``hang`` (``_fault`` takes the next)."""

    content_type = "application/json"
    _server: ThreadingHTTPServer | None = None
    faults: list[Fault]

    def fail(
        self,
        status: int,
        *,
        times: int = 1,
        method: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        """Answer the next ``times`` calls (of ``method`` when given) with ``status``."""
        self.faults.append(
            Fault(status=status, times=times, method=method, retry_after=retry_after)
        )

    def slow(self, seconds: float, *, times: int = 1, method: str | None = None) -> None:
        """Answer the next ``times`` calls ``seconds`` late (the call is carried out first)."""
        self.faults.append(Fault(slow=seconds, times=times, method=method))

    def hang(
        self, seconds: float, *, times: int = 1, method: str | None = None, applied: bool = False
    ) -> None:
        """Lose the next ``times`` calls: no answer for ``seconds``, then a closed connection;
        ``applied``: the call is carried out first (only its answer is lost)."""
        self.faults.append(Fault(hang=seconds, times=times, method=method, applied=applied))

    def _fault(self, method: str) -> Fault | None:
        for fault in self.faults:
            if fault.times > 0 and fault.method in (None, method):
                fault.times -= 1
                return fault
        return None

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Reply:
        """The answer to one request (``headers`` with lower-case names)."""
        raise NotImplementedError

    @property
    def url(self) -> str:
        """The base URL (``http://127.0.0.1:<port>``)."""
        if self._server is None:
            raise RuntimeError("the emulator is not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> Self:
        server = _Server(self)
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        self._server = server
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go as two writes: no 40 ms stall
    server: _Server

    def _any(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        emulator = self.server.emulator
        reply = emulator.handle(self.command, self.path, headers, body)
        if reply.delay:
            time.sleep(reply.delay)
        if reply.drop:
            self.close_connection = True
            return
        data = json.dumps(reply.body).encode("utf-8")
        self.send_response(reply.status)
        self.send_header("Content-Type", emulator.content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _any

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read the emulator's own request log, and request lines may carry a
        credential (Pipedrive's ``api_token``)."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, emulator: Served) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.emulator = emulator
