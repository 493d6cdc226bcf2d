"""TXT and MX records from a real DNS server on 127.0.0.1 (dnspython answering over UDP):
answers are read, and a missing domain or a silent server gives empty records with a
reason, never an exception."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator

import dns.message
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
    return asyncio.run(DnsResolver(server.address, timeout_s).records(domain))


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
