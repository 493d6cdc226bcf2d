"""TXT and MX records from a real DNS server on 127.0.0.1 (dnspython answering over UDP):
answers are read, and a missing domain or a silent server gives empty records with a
reason, never an exception."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest

from icpkit.enrich.dns import DnsResolver, Records, parse_server

ZONE = {
    ("acme.com.", "TXT"): [
        '"v=spf1 include:_spf.google.com include:mail.zendesk.com ~all"',
        '"google-site-verification=abc123"',
        '"hubspot-developer-verification=" "split-in-two"',
    ],
    ("acme.com.", "MX"): ["20 ALT1.ASPMX.L.GOOGLE.COM.", "10 aspmx.l.google.com."],
    ("nomail.com.", "TXT"): ['"v=spf1 -all"'],
}
SILENT = "silent.com."


class DnsServer:
    """Answers ZONE over UDP; NXDOMAIN for names it does not hold; no answer at all for
    SILENT (a server that drops the question)."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.questions: list[tuple[str, str]] = []
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.sock.getsockname()[1]}"

    def _serve(self) -> None:
        while True:
            try:
                wire, client = self.sock.recvfrom(4096)
            except OSError:
                return
            query = dns.message.from_wire(wire)
            question = query.question[0]
            name = question.name.to_text()
            kind = dns.rdatatype.to_text(question.rdtype)
            self.questions.append((name, kind))
            if name == SILENT:
                continue
            response = dns.message.make_response(query)
            if not any(n == name for n, _ in ZONE):
                response.set_rcode(dns.rcode.NXDOMAIN)
            elif (name, kind) in ZONE:
                response.answer.append(
                    dns.rrset.from_text_list(name, 300, "IN", kind, ZONE[(name, kind)])
                )
            self.sock.sendto(response.to_wire(), client)


@pytest.fixture
def server() -> Iterator[DnsServer]:
    running = DnsServer()
    yield running
    running.sock.close()


def records(server: DnsServer, domain: str, timeout_s: float = 2.0) -> Records:
    async def ask() -> Records:
        resolver = DnsResolver(server.address, timeout_s)
        try:
            return await resolver.records(domain)
        finally:
            await resolver.aclose()

    return asyncio.run(ask())


def test_txt_and_mx_records_are_read(server: DnsServer) -> None:
    found = records(server, "acme.com")
    assert found.error is None
    assert set(found.txt) == {
        "v=spf1 include:_spf.google.com include:mail.zendesk.com ~all",
        "google-site-verification=abc123",
        "hubspot-developer-verification=split-in-two",
    }
    assert found.mx == ("aspmx.l.google.com", "alt1.aspmx.l.google.com")  # by preference


def test_a_domain_without_mx_has_txt_and_no_error(server: DnsServer) -> None:
    assert records(server, "nomail.com") == Records(txt=("v=spf1 -all",), mx=())


def test_a_missing_domain_gives_empty_records_and_says_why(server: DnsServer) -> None:
    missing = records(server, "no-such-company.com")
    assert (missing.txt, missing.mx) == ((), ())
    assert missing.error == "no such domain: no-such-company.com"


@pytest.mark.slow
def test_a_silent_server_times_out_into_an_error(server: DnsServer) -> None:
    silent = records(server, SILENT, timeout_s=0.3)
    assert (silent.txt, silent.mx) == ((), ())
    assert silent.error == "DNS timed out after 0.3 s"


def test_the_named_server_is_the_one_asked(server: DnsServer) -> None:
    records(server, "acme.com.")
    assert sorted(server.questions) == [("acme.com.", "MX"), ("acme.com.", "TXT")]


def test_a_bad_server_setting_is_an_error_not_an_exception() -> None:
    result = asyncio.run(DnsResolver("127.0.0.1:dns").records("acme.com"))
    assert result.txt == () and result.error is not None and "ADDRESS[:PORT]" in result.error


def test_a_name_that_is_not_a_domain_is_an_error(server: DnsServer) -> None:
    result = records(server, "a..b")
    assert result.error is not None and result.error.startswith("not a domain name")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1", ("127.0.0.1", 53)),
        ("127.0.0.1:5353", ("127.0.0.1", 5353)),
        ("[::1]:5353", ("::1", 5353)),
        ("fd00::53", ("fd00::53", 53)),
    ],
)
def test_dns_server_setting_forms(text: str, expected: tuple[str, int]) -> None:
    assert parse_server(text) == expected


def test_questions_asked_together_share_one_socket_and_each_gets_its_own_answer(
    server: DnsServer,
) -> None:
    async def ask() -> list[Records]:
        resolver = DnsResolver(server.address, 2.0)
        try:
            return list(await asyncio.gather(*(resolver.records(d) for d in DOMAINS)))
        finally:
            await resolver.aclose()

    DOMAINS = ["acme.com", "nomail.com", "missing.com"] * 20
    answers = asyncio.run(ask())
    for domain, found in zip(DOMAINS, answers, strict=True):
        if domain == "acme.com":
            assert "google-site-verification=abc123" in found.txt
        elif domain == "nomail.com":
            assert found == Records(txt=("v=spf1 -all",), mx=())
        else:
            assert found.error == "no such domain: missing.com"


def _udp_and_tcp_on_one_port() -> tuple[socket.socket, socket.socket]:
    """A UDP and a TCP socket bound to the same free loopback port, as a DNS server listens.

    A free UDP port may be taken for TCP by another process, so it tries a few."""
    for _ in range(50):
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind(("127.0.0.1", 0))
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            tcp.bind(("127.0.0.1", udp.getsockname()[1]))
        except OSError:
            udp.close()
            tcp.close()
            continue
        return udp, tcp
    raise RuntimeError("no loopback port free for both UDP and TCP")


def test_a_truncated_answer_is_asked_again_over_tcp() -> None:
    """A UDP answer with the TC flag set: the question goes again over TCP (the SPF of a
    company with many tools does not fit in a datagram)."""
    udp, tcp = _udp_and_tcp_on_one_port()
    port = udp.getsockname()[1]
    tcp.listen()
    includes = [f"include:spf{i}.example.com" for i in range(12)]
    # One record in two strings (each at most 255 bytes), as long SPF records are written.
    long_spf = f'"v=spf1 {" ".join(includes[:6])} " "{" ".join(includes[6:])} ~all"'

    def answer(query: dns.message.Message, truncated: bool) -> bytes:
        response = dns.message.make_response(query)
        if truncated:
            response.flags |= dns.flags.TC
        elif query.question[0].rdtype == dns.rdatatype.TXT:
            response.answer.append(
                dns.rrset.from_text_list("big.com.", 300, "IN", "TXT", [long_spf])
            )
        return response.to_wire()

    def serve_udp() -> None:
        while True:
            try:
                wire, client = udp.recvfrom(4096)
            except OSError:
                return
            udp.sendto(answer(dns.message.from_wire(wire), truncated=True), client)

    def serve_tcp() -> None:
        while True:
            try:
                conn, _ = tcp.accept()
            except OSError:
                return
            with conn:
                size = int.from_bytes(conn.recv(2), "big")
                wire = b""
                while len(wire) < size:
                    wire += conn.recv(size - len(wire))
                reply = answer(dns.message.from_wire(wire), truncated=False)
                conn.sendall(len(reply).to_bytes(2, "big") + reply)

    threading.Thread(target=serve_udp, daemon=True).start()
    threading.Thread(target=serve_tcp, daemon=True).start()
    try:

        async def ask() -> Records:
            resolver = DnsResolver(f"127.0.0.1:{port}", 2.0)
            try:
                return await resolver.records("big.com")
            finally:
                await resolver.aclose()

        found = asyncio.run(ask())
    finally:
        udp.close()
        tcp.close()
    assert found.error is None
    assert len(found.txt) == 1 and "include:spf11.example.com" in found.txt[0]


@pytest.mark.parametrize("kind", [dns.rdatatype.TXT, dns.rdatatype.MX])
def test_a_question_is_written_as_dnspython_writes_it(kind: dns.rdatatype.RdataType) -> None:
    from icpkit.enrich.dns import _Question

    name = dns.name.from_text("xn--bcher-kva.example.")
    query = dns.message.make_query(name, kind, use_edns=0, payload=1232)
    query.id = 4242
    assert _Question(4242, name, kind).wire() == query.to_wire()
    assert _Question(4242, name, kind).answered_by(dns.message.make_response(query))
    other = dns.message.make_query(dns.name.from_text("other.example."), kind)
    other.id = 4242
    assert not _Question(4242, name, kind).answered_by(dns.message.make_response(other))


def test_questions_in_flight_are_spread_so_no_socket_buffer_can_overflow(
    server: DnsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Answers that arrive while a run parses pages wait in socket buffers (208 KiB by
    default): at most IN_FLIGHT questions wait on one socket, more open another."""
    from icpkit.enrich import dns as module

    most: list[int] = []
    ask = module._Answers.ask

    async def counted(self: module._Answers, *args: object) -> object:
        most.append(len(self.waiting) + 1)
        return await ask(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(module._Answers, "ask", counted)

    async def burst() -> tuple[list[Records], int]:
        resolver = DnsResolver(server.address, 3.0)
        try:
            found = await asyncio.gather(*(resolver.records("acme.com") for _ in range(100)))
            return list(found), sum(len(s) for s in resolver._sockets.values())
        finally:
            await resolver.aclose()

    answers, sockets = asyncio.run(burst())
    assert all("google-site-verification=abc123" in a.txt for a in answers)
    assert max(most) <= module.IN_FLIGHT
    assert sockets > 1  # more questions were in flight than one socket takes
