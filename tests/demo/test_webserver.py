"""The demo's loopback web and DNS servers: pages by Host header, job-board API files with
any query, robots.txt for every host, keep-alive, TLS refused, TXT/MX/A answers."""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import httpx
import pytest

from icpkit.demo import Websites, write_websites
from icpkit.demo.truth import TOOLS as DEMO_TOOLS
from icpkit.demo.webserver import DemoServer, serve
from icpkit.demo.webserver import main as webserver_main

from .conftest import Loaded

HOME = "<!DOCTYPE html><html><body><h1>Acme</h1></body></html>"
CAREERS = "<html><body><a href='https://boards.greenhouse.io/acme'>Jobs</a></body></html>"
JOBS = {"jobs": [{"id": 1, "title": "BDR", "first_published": "2025-09-01T12:00:00-04:00"}]}


@pytest.fixture(scope="module")
def www(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("www")
    files = {
        "acme.com/index.html": HOME,
        "acme.com/careers.html": CAREERS,
        "acme.com/.headers.json": json.dumps([["Set-Cookie", "hubspotutk=1; Path=/"]]),
        "acme.com/static/app.js": "console.log(1)",
        "beta.io/index.html": "<html><body>Beta</body></html>",
        "boards-api.greenhouse.io/v1/boards/acme/jobs": json.dumps(JOBS),
        "dns.json": json.dumps(
            {
                "acme.com": {
                    "txt": ["v=spf1 include:_spf.google.com ~all", "ZOOM_verify_x" + "y" * 300],
                    "mx": ["aspmx.l.google.com", "alt1.aspmx.l.google.com"],
                },
                "beta.io": {"txt": [], "mx": []},
            }
        ),
    }
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def server(www: Path) -> Iterator[DemoServer]:
    with serve(www) as running:
        yield running


@pytest.fixture
def client(server: DemoServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"http://127.0.0.1:{server.port}", timeout=5) as c:
        yield c


def get(client: httpx.Client, host: str, path: str) -> httpx.Response:
    return client.get(path, headers={"Host": host})


def ask(server: DemoServer, name: str, rdtype: dns.rdatatype.RdataType) -> dns.message.Message:
    assert server.dns_port is not None
    query = dns.message.make_query(name, rdtype)
    return dns.query.udp(query, "127.0.0.1", port=server.dns_port, timeout=5)


# ---- HTTP ------------------------------------------------------------------------------------


def test_pages_are_chosen_by_host_header(client: httpx.Client) -> None:
    acme = get(client, "acme.com", "/")
    beta = get(client, "beta.io:80", "/")
    assert (acme.status_code, acme.text) == (200, HOME)
    assert acme.headers["content-type"].startswith("text/html")
    assert (beta.status_code, beta.text) == (200, "<html><body>Beta</body></html>")


def test_www_host_falls_back_to_the_bare_domain(client: httpx.Client) -> None:
    assert get(client, "www.acme.com", "/").text == HOME


def test_careers_path_serves_careers_html(client: httpx.Client) -> None:
    for path in ("/careers", "/careers.html"):
        assert get(client, "acme.com", path).text == CAREERS


def test_api_path_ignores_the_query_and_answers_json(client: httpx.Client) -> None:
    reply = get(client, "boards-api.greenhouse.io", "/v1/boards/acme/jobs?content=true")
    assert reply.status_code == 200
    assert reply.headers["content-type"] == "application/json"
    assert reply.json() == JOBS


def test_unknown_paths_hosts_and_hidden_files_are_404(client: httpx.Client) -> None:
    assert get(client, "acme.com", "/pricing").status_code == 404
    assert get(client, "nobody.example", "/").status_code == 404
    assert get(client, "acme.com", "/.headers.json").status_code == 404
    assert get(client, "acme.com", "/%2e%2e/dns.json").status_code == 404
    assert get(client, "acme.com", "/static/app.js").status_code == 200


def test_robots_txt_allows_everything_on_every_host(client: httpx.Client) -> None:
    for host in ("acme.com", "nobody.example"):
        reply = get(client, host, "/robots.txt")
        assert (reply.status_code, reply.text) == (200, "User-agent: *\nAllow: /\n")


def test_host_headers_are_sent_with_its_pages(client: httpx.Client) -> None:
    assert get(client, "acme.com", "/").headers.get("set-cookie") == "hubspotutk=1; Path=/"
    assert "set-cookie" not in get(client, "beta.io", "/").headers


def test_head_answers_headers_only(client: httpx.Client) -> None:
    reply = client.head("/", headers={"Host": "acme.com"})
    assert reply.status_code == 200
    assert int(reply.headers["content-length"]) == len(HOME) and reply.content == b""


def read_response(
    sock: socket.socket, buffer: bytearray
) -> tuple[bytes, dict[bytes, bytes], bytes]:
    """One HTTP response from ``sock`` (status line, headers, body by Content-Length)."""
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        buffer += chunk
    end = buffer.index(b"\r\n\r\n")
    status, *lines = bytes(buffer[:end]).split(b"\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(b":") for line in lines)}
    length = int(headers[b"content-length"])
    while len(buffer) < end + 4 + length:
        buffer += sock.recv(65536)
    body = bytes(buffer[end + 4 : end + 4 + length])
    del buffer[: end + 4 + length]
    return status, headers, body


def test_connections_are_kept_alive_and_pipelined(server: DemoServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        buffer = bytearray()
        sock.sendall(b"GET / HTTP/1.1\r\nHost: acme.com\r\n\r\n")
        first = read_response(sock, buffer)
        sock.sendall(
            b"GET /careers HTTP/1.1\r\nHost: acme.com\r\n\r\n"
            b"GET /nope HTTP/1.1\r\nHost: beta.io\r\nConnection: close\r\n\r\n"
        )
        second = read_response(sock, buffer)
        third = read_response(sock, buffer)
        assert sock.recv(1) == b""  # closed after the request that asked for it
    assert first[0] == b"HTTP/1.1 200 OK" and first[1][b"connection"] == b"keep-alive"
    assert first[2] == HOME.encode()
    assert (second[0], second[2]) == (b"HTTP/1.1 200 OK", CAREERS.encode())
    assert third[0] == b"HTTP/1.1 404 Not Found" and third[1][b"connection"] == b"close"


def test_a_tls_hello_is_closed_at_once(server: DemoServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
        # An aborted connection reads as closed, or as reset.
        with contextlib.suppress(ConnectionResetError):
            assert sock.recv(100) == b""


def test_garbage_request_gets_400_and_is_closed(server: DemoServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(b"HELLO\r\n\r\n")
        status, headers, _ = read_response(sock, bytearray())
    assert status == b"HTTP/1.1 400 Bad Request" and headers[b"connection"] == b"close"


def test_connect_to_points_port_80_here_and_443_at_a_closed_port(server: DemoServer) -> None:
    http, https = server.connect_to
    assert http == f":80:127.0.0.1:{server.port}"
    assert https.startswith(":443:127.0.0.1:")
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", int(https.rsplit(":", 1)[1])), timeout=2)
    assert server.dns_server == f"127.0.0.1:{server.dns_port}"


# ---- DNS -----------------------------------------------------------------------------------------


def test_dns_answers_txt_from_the_records(server: DemoServer) -> None:
    reply = ask(server, "acme.com", dns.rdatatype.TXT)
    texts = {b"".join(r.strings).decode() for rrset in reply.answer for r in rrset}
    assert texts == {"v=spf1 include:_spf.google.com ~all", "ZOOM_verify_x" + "y" * 300}


def test_dns_answers_mx_in_order(server: DemoServer) -> None:
    reply = ask(server, "ACME.com", dns.rdatatype.MX)
    records = sorted((r.preference, r.exchange.to_text()) for rrset in reply.answer for r in rrset)
    assert records == [(10, "aspmx.l.google.com."), (20, "alt1.aspmx.l.google.com.")]


def test_dns_unknown_name_is_nxdomain_and_a_known_one_without_records_is_empty(
    server: DemoServer,
) -> None:
    assert ask(server, "nobody.example", dns.rdatatype.MX).rcode() == dns.rcode.NXDOMAIN
    assert ask(server, "nobody.example", dns.rdatatype.TXT).rcode() == dns.rcode.NXDOMAIN
    empty = ask(server, "beta.io", dns.rdatatype.TXT)
    assert empty.rcode() == dns.rcode.NOERROR and empty.answer == []


def test_dns_answers_loopback_for_any_a_query(server: DemoServer) -> None:
    reply = ask(server, "anything.example", dns.rdatatype.A)
    assert [r.address for rrset in reply.answer for r in rrset] == ["127.0.0.1"]


def test_without_dns_no_dns_server_runs(www: Path) -> None:
    with serve(www, dns=False) as running:
        assert running.dns_port is None and running.dns_server is None
        with httpx.Client() as c:
            assert (
                c.get(f"http://127.0.0.1:{running.port}/", headers={"Host": "acme.com"}).text
                == HOME
            )


def test_closing_stops_the_server(www: Path) -> None:
    running = serve(www)
    port = running.port
    running.close()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2)


# ---- the generated demo --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_sites(small: Loaded, tmp_path_factory: pytest.TempPathFactory) -> Websites:
    sample = tmp_path_factory.mktemp("fp") / "fp.yaml"
    sample.write_text(
        "- {name: HubSpot, category: crm, example: {script_src: 'https://js.hs-scripts.com/1.js'}}\n"
        + "".join(
            f"- {{name: {t}, category: x, example: {{dns_txt: '{t.replace(' ', '')}-verify'}}}}\n"
            for t in DEMO_TOOLS
            if t != "HubSpot"
        ),
        encoding="utf-8",
    )
    return write_websites(small.files, tmp_path_factory.mktemp("demo"), fingerprints=sample)


def test_generated_sites_and_boards_are_served_with_their_dns(demo_sites: Websites) -> None:
    site = next(s for s in demo_sites.truth.values() if s.board and "HubSpot" in s.stack)
    assert site.api_url is not None
    api = httpx.URL(site.api_url)
    with serve(demo_sites.www) as running, httpx.Client(timeout=5) as c:
        base = f"http://127.0.0.1:{running.port}"
        home = c.get(f"{base}/", headers={"Host": f"www.{site.domain}"})
        careers = c.get(f"{base}/careers", headers={"Host": site.domain})
        jobs = c.get(f"{base}{api.path}?x=1", headers={"Host": api.host})
        txt = ask(running, site.domain, dns.rdatatype.TXT)
    assert "https://js.hs-scripts.com/1.js" in home.text
    assert (
        site.board_url is not None and site.board_url.split("//")[1].split("/")[0] in careers.text
    )
    assert jobs.status_code == 200 and len(jobs.text) > 2
    texts = {b"".join(r.strings).decode() for rrset in txt.answer for r in rrset}
    assert {f"{t.replace(' ', '')}-verify" for t in site.stack if t != "HubSpot"} <= texts


def test_module_serves_in_a_process_of_its_own_and_says_where(www: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "icpkit.demo.webserver", str(www)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        assert info["connect_to"][0] == f":80:127.0.0.1:{info['port']}"
        assert info["dns_server"] == f"127.0.0.1:{info['dns_port']}"
        with httpx.Client(timeout=5) as c:
            page = c.get(f"http://127.0.0.1:{info['port']}/careers", headers={"Host": "acme.com"})
        assert page.text == CAREERS
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_module_without_a_folder_says_how_to_use_it(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="usage"):
        webserver_main([])
    with pytest.raises(SystemExit, match="no such folder"):
        webserver_main([str(tmp_path / "missing")])


@pytest.mark.parametrize("edns", [False, True])
@pytest.mark.parametrize("kind", ["TXT", "MX", "A", "AAAA"])
@pytest.mark.parametrize("name", ["acme.com", "ACME.com", "no-records.com", "empty.com"])
def test_the_hand_written_dns_answer_says_what_dnspython_would(
    name: str, kind: str, edns: bool
) -> None:
    """Plain queries are answered without dnspython (it cost the server more than its
    pages); the answer must read exactly as dnspython's own for every kind of question."""
    import dns.message

    from icpkit.demo.webserver import _Dns

    records = {
        "acme.com": {
            "txt": ["v=spf1 include:_spf.google.com ~all", "x" * 300],
            "mx": ["aspmx.l.google.com", "mx.acme.com"],
        },
        "empty.com": {},
    }
    server = _Dns(records)
    wire = dns.message.make_query(name, kind, use_edns=0 if edns else None).to_wire()
    quick, general = server._quick(wire), server._general(wire)
    assert quick is not None
    fast, slow = dns.message.from_wire(quick), dns.message.from_wire(general)
    assert fast == slow
    assert (fast.rcode(), fast.edns, fast.payload) == (slow.rcode(), slow.edns, slow.payload)


def test_a_query_the_quick_path_cannot_read_is_answered_by_dnspython() -> None:
    import dns.message

    from icpkit.demo.webserver import _Dns

    query = dns.message.make_query("acme.com", "TXT")
    query.question.append(query.question[0])  # two questions: not a plain query
    server = _Dns({"acme.com": {"txt": ["hello"]}})
    assert server._quick(query.to_wire()) is None
    assert server._quick(b"\x00\x01garbage") is None
    assert dns.message.from_wire(server._general(query.to_wire())).answer
