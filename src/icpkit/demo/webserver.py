"""Serve the demo websites on loopback: a small, fast virtual-host HTTP/1.1 server and a
DNS server answering from the sites' records, in a background thread.

Every host name maps to a folder ``www/<host>`` (``www.<host>`` falls back to ``<host>``),
so pointing any domain at the server (``connect_to``) shows that company's site, and the
enrichment providers run against the demo exactly as they run against the web.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct
import threading
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from types import TracebackType
from typing import Any, cast
from urllib.parse import unquote

import dns.exception
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset

ROBOTS = b"User-agent: *\nAllow: /\n"
NOT_FOUND = b"<!DOCTYPE html>\n<html><body><h1>Not found</h1></body></html>\n"
MAX_HEAD = 64 * 1024  # request line and headers; longer is refused (431)
MAX_BODY = 1024 * 1024
CACHE_SIZE = 8192  # responses kept in memory, least recently used dropped first
TTL = 300
TYPES = {
    ".html": "text/html; charset=utf-8",
    ".json": "application/json",
    ".txt": "text/plain; charset=utf-8",
    ".js": "application/javascript",
    ".css": "text/css",
    ".xml": "application/xml",
}
REASONS = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Content Too Large",
    431: "Request Header Fields Too Large",
}


class _Files:
    """The answers of a ``www`` folder: status, headers and body per (host, path), cached."""

    def __init__(self, www: Path) -> None:
        self.www = www
        self.answer = lru_cache(maxsize=CACHE_SIZE)(self._answer)
        # A site is asked for a few pages in a row: its folder, files and headers are
        # looked up once, not once a request.
        self._root = lru_cache(maxsize=CACHE_SIZE)(self._find_root)
        self._files = lru_cache(maxsize=CACHE_SIZE)(_listing)
        self._headers = lru_cache(maxsize=CACHE_SIZE)(self._read_headers)

    def _answer(self, host: str, path: str) -> tuple[int, bytes, bytes]:
        """(status, header lines, body) for a GET of ``path`` (no query) on ``host``."""
        root = self._root(host)
        parts = [p for p in unquote(path).split("/") if p]
        if any(p.startswith(".") or "\\" in p or "\x00" in p for p in parts):
            return _plain(404, NOT_FOUND, "text/html; charset=utf-8")
        if root is None:
            if parts == ["robots.txt"]:
                return _plain(200, ROBOTS, TYPES[".txt"])
            return _plain(404, NOT_FOUND, "text/html; charset=utf-8")
        file = _find(root, parts, self._files(root))
        if file is None:
            if parts == ["robots.txt"]:
                return _plain(200, ROBOTS, TYPES[".txt"])
            return _plain(404, NOT_FOUND, "text/html; charset=utf-8")
        body = file.read_bytes()
        kind = TYPES.get(file.suffix.lower())
        if kind is None:
            kind = "application/json" if body[:1] in (b"{", b"[") else "application/octet-stream"
        extra = self._headers(root) if kind.startswith("text/html") else b""
        return _plain(200, body, kind, extra)

    def _find_root(self, host: str) -> Path | None:
        if not host or "/" in host or "\\" in host or host.startswith("."):
            return None
        for name in (host, host.removeprefix("www.")):
            folder = self.www / name
            if folder.is_dir():
                return folder
        return None

    def _read_headers(self, root: Path) -> bytes:
        """The host's own response headers (cookies its tools set, ...), from .headers.json."""
        path = root / ".headers.json"
        if not path.is_file():
            return b""
        pairs = json.loads(path.read_bytes())
        return b"".join(f"{name}: {value}\r\n".encode("latin-1") for name, value in pairs)


def _listing(root: Path) -> frozenset[str]:
    """The files of a site's folder, as paths relative to it ('careers.html', 'a/index.html')."""
    return frozenset(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def _find(root: Path, parts: list[str], files: frozenset[str]) -> Path | None:
    """The file a path names: '/' is index.html, '/careers' careers.html, '/a/' a/index.html."""
    base = "/".join(parts)
    candidates = [f"{base}/index.html"] if base else ["index.html"]
    if base:
        candidates = [base, f"{base}.html", f"{base}/index.html"]
    for candidate in candidates:
        if candidate in files:
            return root / candidate
    return None


def _plain(status: int, body: bytes, kind: str, extra: bytes = b"") -> tuple[int, bytes, bytes]:
    head = (
        f"HTTP/1.1 {status} {REASONS[status]}\r\nContent-Type: {kind}\r\n"
        f"Content-Length: {len(body)}\r\n"
    ).encode("ascii")
    return status, head + extra, body


class _Http(asyncio.Protocol):
    """One HTTP/1.1 connection: keep-alive and pipelining, GET and HEAD, a TLS hello closed."""

    def __init__(self, server: DemoServer) -> None:
        self.server = server
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        self.started = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.server._connections.add(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.transport is not None:
            self.server._connections.discard(self.transport)

    def data_received(self, data: bytes) -> None:
        transport = self.transport
        assert transport is not None
        if not self.started:
            self.started = True
            if data[:1] == b"\x16":  # a TLS ClientHello: this server speaks plain HTTP only
                transport.abort()
                return
        self.buffer += data
        while not transport.is_closing():
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buffer) > MAX_HEAD:
                    self._reply(431, b"", keep=False, head_only=False)
                return
            lines = bytes(self.buffer[:end]).split(b"\r\n")
            request = lines[0].split(b" ")
            headers: dict[bytes, bytes] = {}
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                headers[name.strip().lower()] = value.strip()
            try:
                length = int(headers.get(b"content-length", b"0"))
            except ValueError:
                length = -1
            if len(request) != 3 or not request[2].startswith(b"HTTP/1.") or length < 0:
                self._reply(400, b"", keep=False, head_only=False)
                return
            if length > MAX_BODY:
                self._reply(413, b"", keep=False, head_only=False)
                return
            if len(self.buffer) < end + 4 + length:
                return  # the body is still on its way
            del self.buffer[: end + 4 + length]
            method, target, version = request
            connection = headers.get(b"connection", b"").lower()
            keep = connection != b"close" if version == b"HTTP/1.1" else connection == b"keep-alive"
            if method not in (b"GET", b"HEAD"):
                self._reply(405, b"", keep=keep, head_only=False)
                continue
            host = headers.get(b"host", b"").decode("latin-1").strip().lower()
            host = host.rsplit(":", 1)[0] if ":" in host else host
            path = target.decode("latin-1").split("?", 1)[0].split("#", 1)[0]
            if path.startswith(("http://", "https://")):  # absolute form, as proxies send
                path = "/" + path.split("/", 3)[3] if path.count("/") >= 3 else "/"
            status, head, body = self.server._files.answer(host, path)
            self.server.hits += 1
            self.server.not_found += status == 404
            self._send(head, body, keep=keep, head_only=method == b"HEAD")
            if not keep:
                return

    def _reply(self, status: int, body: bytes, *, keep: bool, head_only: bool) -> None:
        _, head, body = _plain(status, body, "text/plain; charset=utf-8")
        self._send(head, body, keep=keep, head_only=head_only)

    def _send(self, head: bytes, body: bytes, *, keep: bool, head_only: bool) -> None:
        assert self.transport is not None
        connection = b"Connection: keep-alive\r\n\r\n" if keep else b"Connection: close\r\n\r\n"
        data = head + connection + (b"" if head_only else body)
        if self.server.latency_s > 0:  # as far away as a real site (answers keep their order)
            asyncio.get_running_loop().call_later(self.server.latency_s, self._write, data, keep)
        else:
            self._write(data, keep)

    def _write(self, data: bytes, keep: bool) -> None:
        assert self.transport is not None
        if self.transport.is_closing():
            return
        self.transport.write(data)
        if not keep:
            self.transport.close()


class _Dns(asyncio.DatagramProtocol):
    """Answers A (127.0.0.1 for any name), TXT and MX (from dns.json; NXDOMAIN for a name it
    has no records of)."""

    def __init__(self, records: Mapping[str, Mapping[str, list[str]]]) -> None:
        self.records = {name.lower().rstrip("."): value for name, value in records.items()}
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        assert self.transport is not None
        reply = self._quick(data)
        if reply is None:
            reply = self._general(data)
        if reply:
            self.transport.sendto(reply, addr)

    def _quick(self, data: bytes) -> bytes | None:
        """The answer to a plain query (one question, no compression: what resolvers send),
        written by hand from the records; None for anything else (dnspython answers it).
        Decoding and encoding every message with dnspython cost this server more CPU than
        all its web pages, on the cores the client under test shares."""
        if len(data) < 17 or data[4:6] != b"\x00\x01" or data[2] & 0x80:
            return None
        labels, at = [], 12
        while (size := data[at]) != 0:
            if size & 0xC0 or at + 1 + size >= len(data):
                return None
            labels.append(data[at + 1 : at + 1 + size])
            at += 1 + size
        end = at + 5
        if end > len(data):
            return None
        rdtype, rdclass = struct.unpack("!HH", data[at + 1 : end])
        try:
            name = b".".join(labels).decode("ascii").lower()
        except UnicodeDecodeError:
            return None
        rcode, answers = 0, []
        if rdtype == dns.rdatatype.A:
            answers = [b"\x7f\x00\x00\x01"]
        elif rdtype in (dns.rdatatype.TXT, dns.rdatatype.MX):
            found = self.records.get(name)
            if found is None:
                rcode = dns.rcode.NXDOMAIN
            elif rdtype == dns.rdatatype.TXT:
                answers = [_txt_wire(t) for t in found.get("txt", [])]
            else:
                answers = [
                    struct.pack("!H", 10 * (i + 1)) + _name_wire(h)
                    for i, h in enumerate(found.get("mx", []))
                ]
        edns = data[11] == 1 and data[end : end + 3] == b"\x00\x00\x29"  # an OPT record
        flags = 0x8000 | (data[2] << 8 & 0x7900) | rcode  # QR, the query's opcode and RD
        head = data[:2] + struct.pack("!HHHHH", flags, 1, len(answers), 0, 1 if edns else 0)
        records = b"".join(
            struct.pack("!HHHIH", 0xC00C, rdtype, rdclass, TTL, len(r)) + r for r in answers
        )
        opt = b"\x00" + struct.pack("!HHIH", dns.rdatatype.OPT, 8192, 0, 0) if edns else b""
        return head + data[12:end] + records + opt

    def _general(self, data: bytes) -> bytes:
        try:
            query = dns.message.from_wire(data)
        except dns.exception.DNSException:
            return b""  # not a DNS query: nothing to answer
        response = dns.message.make_response(query)
        for question in query.question:
            name = question.name.to_text(omit_final_dot=True).lower()
            rdtype = question.rdtype
            if rdtype == dns.rdatatype.A:
                texts = ["127.0.0.1"]
            elif rdtype in (dns.rdatatype.TXT, dns.rdatatype.MX):
                found = self.records.get(name)
                if found is None:
                    response.set_rcode(dns.rcode.NXDOMAIN)
                    continue
                if rdtype == dns.rdatatype.TXT:
                    texts = [_txt(t) for t in found.get("txt", [])]
                else:
                    texts = [f"{10 * (i + 1)} {h}." for i, h in enumerate(found.get("mx", []))]
            else:
                continue
            if texts:
                rdatas = [dns.rdata.from_text(dns.rdataclass.IN, rdtype, t) for t in texts]
                response.answer.append(dns.rrset.from_rdata_list(question.name, TTL, rdatas))
        return response.to_wire()


def _txt_wire(text: str) -> bytes:
    """A TXT record's data: its text in strings of at most 255 bytes, each after its length."""
    raw = text.encode("utf-8")
    chunks = [raw[i : i + 255] for i in range(0, len(raw), 255)] or [b""]
    return b"".join(bytes([len(c)]) + c for c in chunks)


def _name_wire(host: str) -> bytes:
    """A host name as DNS writes it: each label after its length, then the root."""
    return (
        b"".join(bytes([len(p)]) + p for p in host.rstrip(".").encode("idna").split(b".")) + b"\x00"
    )


def _txt(text: str) -> str:
    """A TXT record's text form: quoted strings of at most 255 bytes each."""
    raw = text.encode("utf-8")
    chunks = [raw[i : i + 255] for i in range(0, len(raw), 255)] or [b""]
    return " ".join(
        '"' + c.decode("utf-8", "replace").replace("\\", "\\\\").replace('"', '\\"') + '"'
        for c in chunks
    )


def closed_port(host: str = "127.0.0.1") -> int:
    """A port on ``host`` that nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class DemoServer:
    """The demo's web and DNS servers, running in a thread of their own until closed.

    ``connect_to`` sends every host's port 80 here and port 443 to a closed port (so https
    fails at once and a client falls back to http); ``dns_server`` is 'ADDRESS:PORT'.
    """

    def __init__(
        self,
        www: Path,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        dns: bool = True,
        latency_s: float = 0.0,
    ):
        self.www = Path(www)
        self.latency_s = latency_s  # seconds every HTTP answer waits, as a distant server
        self.host = host
        self.hits = 0  # requests answered
        self.not_found = 0  # of which 404
        self._port = port
        self._dns = dns
        self._files = _Files(self.www)
        self._connections: set[asyncio.Transport] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self.port = 0
        self.dns_port: int | None = None
        self._closed_port = 0

    @property
    def connect_to(self) -> list[str]:
        return [f":80:{self.host}:{self.port}", f":443:{self.host}:{self._closed_port}"]

    @property
    def dns_server(self) -> str | None:
        return None if self.dns_port is None else f"{self.host}:{self.dns_port}"

    def start(self) -> DemoServer:
        """Start serving; returns once both servers listen (or raises why they could not)."""
        records: Mapping[str, Mapping[str, list[str]]] = {}
        dns_file = self.www / "dns.json"
        if self._dns and dns_file.is_file():
            records = json.loads(dns_file.read_bytes())
        ready = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(records, ready), name="demo-web", daemon=True
        )
        self._thread.start()
        ready.wait()
        if self._error is not None:
            raise self._error
        self._closed_port = closed_port(self.host)
        return self

    def _run(self, records: Mapping[str, Mapping[str, list[str]]], ready: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            server = loop.run_until_complete(
                loop.create_server(lambda: _Http(self), self.host, self._port, backlog=1024)
            )
            self.port = int(server.sockets[0].getsockname()[1])
            udp: asyncio.DatagramTransport | None = None
            if self._dns:
                udp, _ = loop.run_until_complete(
                    loop.create_datagram_endpoint(lambda: _Dns(records), local_addr=(self.host, 0))
                )
                self.dns_port = int(udp.get_extra_info("sockname")[1])
                with contextlib.suppress(OSError):  # room for a burst of questions (if allowed)
                    udp.get_extra_info("socket").setsockopt(
                        socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20
                    )
        except BaseException as exc:  # reported to the starting thread
            self._error = exc
            loop.close()
            ready.set()
            return
        ready.set()
        try:
            loop.run_forever()
        finally:
            server.close()
            for transport in list(self._connections):
                transport.abort()
            if udp is not None:
                udp.close()
            loop.run_until_complete(server.wait_closed())
            loop.run_until_complete(asyncio.sleep(0))
            loop.close()

    def close(self) -> None:
        """Stop both servers and their thread."""
        loop, thread = self._loop, self._thread
        if loop is not None and thread is not None and thread.is_alive():
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=10)
        self._thread = None

    def __enter__(self) -> DemoServer:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def serve(
    www: Path,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    dns: bool = True,
    latency_s: float = 0.0,
) -> DemoServer:
    """Serve the sites under ``www`` (written by ``websites.write_websites``) on ``host``,
    and (``dns``) their DNS records over UDP; use as ``with serve(www) as server: ...``.
    ``latency_s`` delays every HTTP answer, as the internet would."""
    return DemoServer(www, host=host, port=port, dns=dns, latency_s=latency_s).start()


def main(argv: list[str] | None = None) -> None:
    """``python -m icpkit.demo.webserver WWW [PORT [LATENCY_MS]]``: serve in a process of
    its own (so a benchmark's client does not share a core with it); prints one JSON line
    with ``port``, ``dns_port``, ``connect_to`` and ``dns_server``, then serves until
    interrupted."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    if not args or len(args) > 3:
        raise SystemExit("usage: python -m icpkit.demo.webserver WWW [PORT [LATENCY_MS]]")
    www = Path(args[0])
    if not www.is_dir():
        raise SystemExit(f"{www}: no such folder (write it with icpkit.demo.write_websites)")
    port = int(args[1]) if len(args) > 1 else 0
    latency = float(args[2]) / 1000 if len(args) > 2 else 0.0
    with serve(www, port=port, latency_s=latency) as running:
        info = {
            "port": running.port,
            "dns_port": running.dns_port,
            "connect_to": running.connect_to,
            "dns_server": running.dns_server,
        }
        print(json.dumps(info), flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
