"""The address guard: connect_to parsing, which addresses are refused and why, and how a
connection is routed (a connect_to target is allowed, the same address written in a URL
is not)."""

from __future__ import annotations

import asyncio

import pytest

from icpkit.config import EnrichSettings
from icpkit.enrich.guard import ConnectTo, Guard, Refused, allowed, parse_connect_to

PUBLIC = EnrichSettings()
INTRANET = EnrichSettings(allow_private=True)


# -- connect_to -------------------------------------------------------------------------
def test_connect_to_with_every_part_named() -> None:
    assert parse_connect_to(["acme.com:443:127.0.0.1:8443"]) == [
        ConnectTo("acme.com", 443, "127.0.0.1", 8443)
    ]


def test_connect_to_with_empty_host_and_port_matches_anything() -> None:
    (entry,) = parse_connect_to(["::127.0.0.1:8080"])
    assert entry == ConnectTo(None, None, "127.0.0.1", 8080)
    assert entry.matches("acme.com", 443) and entry.matches("10.0.0.1", 80)


def test_connect_to_with_empty_host_matches_any_host_on_its_port() -> None:
    (entry,) = parse_connect_to([":80:127.0.0.1:9000"])
    assert entry.matches("acme.com", 80) and entry.matches("beta.io", 80)
    assert not entry.matches("acme.com", 443)


def test_connect_to_reads_ipv6_addresses_in_brackets() -> None:
    assert parse_connect_to(["[::1]:80:[fe80::2]:8080", "acme.com:443:[::1]:"]) == [
        ConnectTo("::1", 80, "fe80::2", 8080),
        ConnectTo("acme.com", 443, "::1", None),
    ]


def test_connect_to_host_names_are_matched_without_case() -> None:
    (entry,) = parse_connect_to(["ACME.com.:443:127.0.0.1:1"])
    assert entry.host == "acme.com"


@pytest.mark.parametrize(
    ("entry", "words"),
    [
        ("acme.com:443:127.0.0.1", "HOST:PORT:ADDRESS:PORT"),
        ("acme.com:https:127.0.0.1:1", "port 'https'"),
        ("acme.com:443:127.0.0.1:70000", "port '70000'"),
        ("[::1:80:127.0.0.1:1", "closing ']'"),
    ],
)
def test_bad_connect_to_entry_is_named_with_what_is_wrong(entry: str, words: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_connect_to([entry])
    assert entry in str(caught.value) and words in str(caught.value)


# -- addresses --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("93.184.215.14", None),
        ("2606:2800:21f:cb07:6820:80da:af6b:8b2c", None),
        ("10.0.0.5", "private address 10.0.0.5"),
        ("172.16.3.4", "private address 172.16.3.4"),
        ("192.168.1.1", "private address 192.168.1.1"),
        ("100.64.0.7", "private address 100.64.0.7"),
        ("fd12:3456::1", "private address fd12:3456::1"),
        ("127.0.0.1", "loopback address 127.0.0.1"),
        ("127.9.9.9", "loopback address 127.9.9.9"),
        ("::1", "loopback address ::1"),
        ("169.254.1.1", "link-local address 169.254.1.1"),
        ("fe80::1", "link-local address fe80::1"),
        ("169.254.169.254", "cloud metadata address 169.254.169.254"),
        ("fd00:ec2::254", "cloud metadata address fd00:ec2::254"),
        ("100.100.100.200", "cloud metadata address 100.100.100.200"),
        ("0.0.0.0", "unspecified address 0.0.0.0"),
        ("::", "unspecified address ::"),
        ("224.0.0.1", "multicast address 224.0.0.1"),
        ("ff02::1", "multicast address ff02::1"),
        ("240.0.0.1", "reserved address 240.0.0.1"),
        ("::ffff:10.0.0.5", "private address 10.0.0.5"),
        ("::ffff:127.0.0.1", "loopback address 127.0.0.1"),
        ("::ffff:169.254.169.254", "cloud metadata address 169.254.169.254"),
        ("64:ff9b::a00:5", "private address 10.0.0.5"),
        ("2002:a00:5::1", "private address 10.0.0.5"),
        ("::ffff:93.184.215.14", None),
    ],
)
def test_address_table(address: str, reason: str | None) -> None:
    assert allowed(address, PUBLIC) == reason


@pytest.mark.parametrize("address", ["10.0.0.5", "127.0.0.1", "::1", "169.254.1.1", "fe80::1"])
def test_allow_private_allows_an_intranet(address: str) -> None:
    assert allowed(address, INTRANET) is None


@pytest.mark.parametrize(
    "address", ["169.254.169.254", "fd00:ec2::254", "100.100.100.200", "::ffff:169.254.169.254"]
)
def test_allow_private_still_forbids_cloud_metadata(address: str) -> None:
    reason = allowed(address, INTRANET)
    assert reason is not None and reason.startswith("cloud metadata address")


def test_a_name_is_not_an_address() -> None:
    assert allowed("acme.com", PUBLIC) == "not an IP address: 'acme.com'"


# -- routes -----------------------------------------------------------------------------
def _route(settings: EnrichSettings, host: str, port: int) -> object:
    async def go() -> object:
        try:
            return await Guard(settings).route(host, port)
        except Refused as exc:
            return exc.reason

    return asyncio.run(go())


def test_a_host_named_in_connect_to_reaches_loopback() -> None:
    settings = EnrichSettings(connect_to=["acme.com:80:127.0.0.1:8080"])
    route = _route(settings, "acme.com", 80)
    assert getattr(route, "addresses", None) == ("127.0.0.1",)
    assert getattr(route, "port", None) == 8080


def test_a_catch_all_mapping_routes_every_name() -> None:
    settings = EnrichSettings(connect_to=["::127.0.0.1:8080"])
    assert getattr(_route(settings, "beta.io", 443), "addresses", None) == ("127.0.0.1",)


def test_a_private_address_in_a_url_is_refused_even_under_a_catch_all_mapping() -> None:
    settings = EnrichSettings(connect_to=["::127.0.0.1:8080"])
    assert _route(settings, "10.0.0.1", 80) == "private address 10.0.0.1"
    assert _route(settings, "169.254.169.254", 80) == "cloud metadata address 169.254.169.254"


def test_a_private_address_named_as_the_host_of_a_mapping_is_allowed() -> None:
    settings = EnrichSettings(connect_to=["10.0.0.1:80:127.0.0.1:8080"])
    assert getattr(_route(settings, "10.0.0.1", 80), "addresses", None) == ("127.0.0.1",)


def test_loopback_reached_by_name_without_a_mapping_is_refused() -> None:
    assert _route(PUBLIC, "localhost", 80) in (
        "loopback address 127.0.0.1",
        "loopback address ::1",
    )


def test_loopback_address_without_a_mapping_is_refused() -> None:
    settings = EnrichSettings(connect_to=["acme.com:80:127.0.0.1:8080"])
    assert _route(settings, "127.0.0.1", 8080) == "loopback address 127.0.0.1"


def test_a_name_that_does_not_resolve_is_a_dns_failure() -> None:
    async def go() -> tuple[str, str]:
        try:
            await Guard(PUBLIC).route("no-such-host.invalid", 80)
        except Refused as exc:
            return exc.kind, exc.reason
        return "", ""

    kind, reason = asyncio.run(go())
    assert kind == "dns" and reason.startswith("no address for no-such-host.invalid")


class FakeDns:
    """Answers names from a table, counting the questions."""

    def __init__(self, table: dict[str, tuple[str, ...]]) -> None:
        self.table = table
        self.asked: list[str] = []

    async def __call__(self, host: str, port: int) -> tuple[str, ...]:
        self.asked.append(host)
        return self.table[host]


def test_every_address_a_name_resolves_to_is_checked() -> None:
    dns = FakeDns({"mixed.test": ("93.184.215.14", "10.0.0.1")})

    async def go() -> str:
        try:
            await Guard(PUBLIC, dns).route("mixed.test", 80)
        except Refused as exc:
            return exc.reason
        return "allowed"

    assert asyncio.run(go()) == "private address 10.0.0.1"


def test_a_name_is_resolved_once_per_run_and_its_route_kept() -> None:
    dns = FakeDns({"public.test": ("93.184.215.14",)})

    async def go() -> object:
        guard = Guard(PUBLIC, dns)
        first = await guard.route("public.test", 443)
        dns.table["public.test"] = ("127.0.0.1",)  # a rebinding answer is never asked for
        second = await guard.route("public.test", 443)
        return first, second, guard.cached("public.test", 443)

    first, second, cached = asyncio.run(go())  # type: ignore[misc]
    assert first == second == cached
    assert getattr(first, "addresses", None) == ("93.184.215.14",)
    assert dns.asked == ["public.test"]
