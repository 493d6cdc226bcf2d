"""DNS TXT and MX records (dnspython, async), for technographics: SPF includes, site
verification tokens and mail exchangers name the tools a company runs."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import struct
import typing
from dataclasses import dataclass
from typing import Any, Protocol

import dns.asyncquery
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.resolver


@dataclass(frozen=True)
class Records:
    """A domain's TXT strings and MX host names (lower case, no trailing dot); ``error``
    says why they could not be read (they are then empty)."""

    txt: tuple[str, ...] = ()
    mx: tuple[str, ...] = ()
    error: str | None = None


class Resolver(Protocol):
    async def records(self, domain: str) -> Records: ...


def parse_server(server: str) -> tuple[str, int]:
    """'ADDRESS[:PORT]' (an IPv6 address with a port in brackets) as (address, port).

    >>> parse_server("127.0.0.1:5353"), parse_server("[::1]:53"), parse_server("::1")
    (('127.0.0.1', 5353), ('::1', 53), ('::1', 53))
    """
    text = server.strip()
    if text.startswith("["):
        address, _, rest = text[1:].partition("]")
        port = rest.removeprefix(":") or "53"
    elif text.count(":") == 1:
        address, port = text.split(":")
    else:
        address, port = text, "53"
    if not address or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"dns_server {server!r}: expected ADDRESS[:PORT], e.g. 127.0.0.1:5353")
    return address, int(port)


IN_FLIGHT = 16  # questions waiting on one socket; more open another (its buffer holds them)
RETRY_S = 1.0  # the first wait for an answer; each retry waits twice as long


class DnsResolver:
    """TXT and MX from the system's resolver, or from ``server`` ('ADDRESS[:PORT]').

    The questions go out over a few UDP sockets kept for the run (at most ``IN_FLIGHT``
    questions waiting on each, so no socket's buffer overflows), answers matched to
    questions by id and question: a run asks two questions of every domain, and a socket
    (and a resolver's machinery) per question cost more CPU than reading the answer.
    Questions are written here, answers read with dnspython; a truncated answer is asked
    again over TCP, a lost one again (then of the next server) until ``timeout_s``."""

    def __init__(self, server: str | None = None, timeout_s: float = 5.0) -> None:
        self.server = server
        self.timeout_s = timeout_s
        self._servers: list[tuple[str, int]] | None = None
        self._broken: str | None = None
        self._sockets: dict[int, list[_Answers]] = {}  # address family -> its sockets
        self._ids = _QueryIds()
        self._opening = asyncio.Lock()

    def _nameservers(self) -> list[tuple[str, int]] | None:
        if self._servers is None and self._broken is None:
            try:
                if self.server:
                    self._servers = [parse_server(self.server)]
                else:
                    system = dns.resolver.Resolver()
                    self._servers = [(str(ns), system.port) for ns in system.nameservers]
                    if not self._servers:
                        raise ValueError("no nameserver in the system's configuration")
            except (ValueError, dns.exception.DNSException, OSError) as exc:
                self._broken = f"no DNS server to ask ({exc})"
        return self._servers

    async def records(self, domain: str) -> Records:
        """``domain``'s TXT and MX records; never raises (``error`` says what failed)."""
        servers = self._nameservers()
        if servers is None:
            return Records(error=self._broken)
        try:
            name = dns.name.from_text(domain.strip().rstrip(".") + ".")
        except (dns.exception.DNSException, UnicodeError, ValueError) as exc:
            return Records(error=f"not a domain name: {domain!r} ({exc})")
        txt, mx = await asyncio.gather(
            self._ask(servers, name, dns.rdatatype.TXT), self._ask(servers, name, dns.rdatatype.MX)
        )
        if isinstance(txt, str) or isinstance(mx, str):
            return Records(error=txt if isinstance(txt, str) else str(mx))
        return Records(tuple(txt), tuple(mx))

    async def aclose(self) -> None:
        """Close the sockets of this run."""
        for sockets in self._sockets.values():
            for answers in sockets:
                answers.close()
        self._sockets.clear()

    async def _ask(
        self, servers: list[tuple[str, int]], name: dns.name.Name, kind: dns.rdatatype.RdataType
    ) -> list[str] | str:
        """The answers as text, or a failure in words (a str)."""
        shown = name.to_text(omit_final_dot=True)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout_s
        attempt = 0
        while (left := deadline - loop.time()) > 0:
            address, port = servers[attempt % len(servers)]
            wait = min(left, RETRY_S * 2**attempt)  # a lost datagram is asked again soon
            attempt += 1
            question = _Question(self._ids.next(), name, kind)
            try:
                reply = await self._over_udp(question, address, port, wait)
                if reply.flags & dns.flags.TC:
                    query = dns.message.make_query(name, kind)
                    query.id = question.id
                    reply = await dns.asyncquery.tcp(query, address, timeout=left, port=port)
            except (dns.exception.Timeout, TimeoutError):
                continue
            except (dns.exception.DNSException, OSError) as exc:
                return f"DNS failed ({exc or type(exc).__name__})"
            rcode = reply.rcode()
            if rcode == dns.rcode.NXDOMAIN:
                return f"no such domain: {shown}"
            if rcode != dns.rcode.NOERROR:
                if attempt < len(servers):
                    continue  # SERVFAIL, REFUSED: the next server may know
                return f"no DNS server answered for {shown}"
            return _texts(reply, kind)
        return f"DNS timed out after {self.timeout_s:g} s"

    async def _over_udp(
        self, question: _Question, address: str, port: int, wait: float
    ) -> dns.message.Message:
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        answers = self._free(family)
        if answers is None:
            async with self._opening:  # questions asked together open one socket, not one each
                answers = self._free(family)
                if answers is None:
                    loop = asyncio.get_running_loop()
                    _, answers = await loop.create_datagram_endpoint(_Answers, family=family)
                    answers.enlarge()
                    self._sockets.setdefault(family, []).append(answers)
        return await answers.ask(question, (address, port), wait)

    def _free(self, family: int) -> _Answers | None:
        """A socket of ``family`` with room for one more question in flight."""
        sockets = self._sockets.get(family, [])
        sockets[:] = [a for a in sockets if not a.closed]
        return next((a for a in sockets if len(a.waiting) < IN_FLIGHT), None)


@dataclass
class _Question:
    """One question in flight: its id, name and type."""

    id: int
    name: dns.name.Name
    kind: dns.rdatatype.RdataType

    def wire(self) -> bytes:
        """The query as RFC 1035 writes it (recursion desired), with an EDNS0 record
        offering 1,232-byte answers, so a long SPF record needs no second try over TCP.
        Written here: dnspython's general message writer costs more than the lookup."""
        header = struct.pack("!HHHHHH", self.id, 0x0100, 1, 0, 0, 1)
        opt = b"\x00" + struct.pack("!HHIH", dns.rdatatype.OPT, 1232, 0, 0)
        name = typing.cast(bytes, self.name.to_wire())
        return header + name + struct.pack("!HH", self.kind, 1) + opt

    def answered_by(self, reply: dns.message.Message) -> bool:
        return (
            reply.id == self.id
            and len(reply.question) == 1
            and reply.question[0].name == self.name
            and reply.question[0].rdtype == self.kind
        )


def _texts(reply: dns.message.Message, kind: dns.rdatatype.RdataType) -> list[str]:
    """The records of ``kind`` in the answer (after any CNAME the server followed)."""
    found = [r for rrset in reply.answer if rrset.rdtype == kind for r in rrset]
    if kind == dns.rdatatype.TXT:
        # One TXT record may be split in several strings (SPF over 255 bytes): joined.
        return [b"".join(r.strings).decode("utf-8", errors="replace") for r in found]
    ordered = sorted(found, key=lambda r: r.preference)
    return [r.exchange.to_text(omit_final_dot=True).lower() for r in ordered]


class _QueryIds:
    """Unpredictable 16-bit query ids (a spoofed answer must guess them), drawn from the
    operating system's randomness a few thousand at a time."""

    def __init__(self) -> None:
        self._pool = b""

    def next(self) -> int:
        if len(self._pool) < 2:
            self._pool = os.urandom(4096)
        value, self._pool = int.from_bytes(self._pool[:2], "big"), self._pool[2:]
        return value


class _Answers(asyncio.DatagramProtocol):
    """One UDP socket's questions in flight, each answered by the reply with its id and
    question from the server it was sent to; anything else is ignored."""

    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.waiting: dict[int, tuple[_Question, Any, asyncio.Future[Any]]] = {}
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = typing.cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: Any) -> None:
        if len(data) < 2:
            return
        entry = self.waiting.get(int.from_bytes(data[:2], "big"))
        if entry is None:
            return
        question, server, future = entry
        if future.done() or addr[:2] != server:
            return
        try:
            reply = dns.message.from_wire(data, ignore_trailing=True)
        except dns.exception.DNSException:
            return  # not an answer we can read: the question times out and is asked again
        if question.answered_by(reply):
            future.set_result(reply)

    def error_received(self, exc: Exception) -> None:
        pass  # an ICMP error for one question: it times out and is asked again

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        for _, _, future in self.waiting.values():
            if not future.done():
                future.set_exception(OSError("the DNS socket was closed"))

    async def ask(
        self, question: _Question, server: tuple[str, int], wait: float
    ) -> dns.message.Message:
        loop = asyncio.get_running_loop()
        while question.id in self.waiting:
            question.id = (question.id + 1) & 0xFFFF
        future: asyncio.Future[Any] = loop.create_future()
        self.waiting[question.id] = (question, server, future)
        timer = loop.call_later(wait, _expire, future)
        try:
            assert self.transport is not None
            self.transport.sendto(question.wire(), server)
            reply: dns.message.Message = await future
            return reply
        finally:
            timer.cancel()
            del self.waiting[question.id]

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def enlarge(self) -> None:
        """Ask for a larger receive buffer (the system may cap it): answers that arrive while
        the run parses pages wait there instead of being dropped."""
        sock = self.transport.get_extra_info("socket") if self.transport else None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)


def _expire(future: asyncio.Future[Any]) -> None:
    if not future.done():
        future.set_exception(TimeoutError())
