"""Which addresses the fetcher may connect to, and where ``connect_to`` sends a host.

A company's website is on the public internet; a name that resolves to a private,
loopback, link-local or cloud-metadata address (or a redirect to one) is how a fetcher
gets turned against the machine it runs on (SSRF). :func:`allowed` classifies one
address; :class:`Guard` decides a whole connection: a host routed by a ``connect_to``
mapping goes to the mapping's target (allowed even on loopback: the user named it),
any other host is resolved once and every address it resolves to is checked.

>>> allowed("93.184.215.14", EnrichSettings())
>>> allowed("10.0.0.5", EnrichSettings())
'private address 10.0.0.5'
>>> allowed("::ffff:169.254.169.254", EnrichSettings(allow_private=True))
'cloud metadata address 169.254.169.254'
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache

from icpkit.config import EnrichSettings
from icpkit.errors import IcpkitError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

METADATA = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean
        "169.254.170.2",  # AWS ECS task metadata
        "fd00:ec2::254",  # AWS over IPv6
        "100.100.100.200",  # Alibaba Cloud
    )
)
_SHARED = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT: private in practice
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


@dataclass(frozen=True)
class ConnectTo:
    """One curl-style ``HOST:PORT:ADDRESS:PORT`` mapping; ``None`` host or port matches
    any, an empty target address or port keeps the original one."""

    host: str | None
    port: int | None
    address: str | None
    target_port: int | None

    def matches(self, host: str, port: int) -> bool:
        return (self.host is None or self.host == host) and (self.port is None or self.port == port)


def parse_connect_to(entries: Iterable[str]) -> list[ConnectTo]:
    """Parse ``connect_to`` entries (IPv6 addresses in brackets); ValueError names the
    entry and what is wrong with it.

    >>> every, one = parse_connect_to(["::127.0.0.1:8080", "acme.com:443:[::1]:8443"])
    >>> every
    ConnectTo(host=None, port=None, address='127.0.0.1', target_port=8080)
    >>> one
    ConnectTo(host='acme.com', port=443, address='::1', target_port=8443)
    """
    return [_parse_one(entry) for entry in entries]


def _parse_one(entry: str) -> ConnectTo:
    parts: list[str] = []
    rest = entry.strip()
    for index in range(4):
        if rest.startswith("["):
            end = rest.find("]")
            if end < 0:
                raise ValueError(f"connect_to {entry!r}: '[' without a closing ']'")
            parts.append(rest[1:end])
            rest = rest[end + 1 :]
            if index < 3 and not rest.startswith(":"):
                raise ValueError(f"connect_to {entry!r}: expected ':' after ']'")
            rest = rest[1:] if index < 3 else rest
        elif index < 3:
            field, sep, rest = rest.partition(":")
            if not sep:
                raise ValueError(
                    f"connect_to {entry!r}: expected HOST:PORT:ADDRESS:PORT "
                    "(IPv6 addresses in brackets)"
                )
            parts.append(field)
        else:
            parts.append(rest)
            rest = ""
    if rest:
        raise ValueError(f"connect_to {entry!r}: unexpected {rest!r} after the target port")
    host, port, address, target_port = parts
    return ConnectTo(
        host=_host(host) or None,
        port=_port(entry, port),
        address=_host(address) or None,
        target_port=_port(entry, target_port),
    )


def _host(text: str) -> str:
    return text.strip().lower().rstrip(".")


def _port(entry: str, text: str) -> int | None:
    text = text.strip()
    if not text:
        return None
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ValueError(f"connect_to {entry!r}: port {text!r} is not a number from 1 to 65535")
    return int(text)


def literal(host: str) -> IPAddress | None:
    """``host`` as an IP address when it is one (brackets allowed), else None."""
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def allowed(address: str, settings: EnrichSettings) -> str | None:
    """None when the fetcher may connect to ``address``; else why not, in words.

    Private, loopback, link-local and shared (carrier NAT) addresses are allowed only with
    ``allow_private``; cloud metadata, multicast, reserved and unspecified never. An IPv6
    address carrying an IPv4 one (mapped, NAT64, 6to4, Teredo) is judged by the IPv4 one.
    """
    return _classify(address, settings.allow_private)


@lru_cache(maxsize=4096)
def _classify(address: str, allow_private: bool) -> str | None:
    ip = literal(address)
    if ip is None:
        return f"not an IP address: {address!r}"
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded(ip)
        if inner is not None:
            return _classify(str(inner), allow_private)
    if ip in METADATA:
        return f"cloud metadata address {ip}"
    if ip.is_unspecified:
        return f"unspecified address {ip}"
    if ip.is_multicast:
        return f"multicast address {ip}"
    if ip.is_reserved and not ip.is_loopback:
        return f"reserved address {ip}"
    kind = None
    if ip.is_loopback:
        kind = "loopback"
    elif ip.is_link_local:
        kind = "link-local"
    elif ip.is_private or (isinstance(ip, ipaddress.IPv4Address) and ip in _SHARED):
        kind = "private"
    if kind is not None:
        return None if allow_private else f"{kind} address {ip}"
    if not ip.is_global:
        return f"reserved address {ip}"
    return None


def _embedded(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    return None


Lookup = Callable[[str, int], Awaitable[tuple[str, ...]]]
"""A name's addresses for a port (:func:`resolve`, or a test's stand-in)."""


@dataclass(frozen=True)
class Route:
    """Where one (host, port) connects: the checked addresses and the port; ``mapped``
    when a ``connect_to`` entry chose them."""

    addresses: tuple[str, ...]
    port: int
    mapped: bool


class Refused(IcpkitError):
    """A host the guard will not connect to; ``kind`` is 'forbidden' or 'dns'."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


class Guard:
    """One run's connection decisions, cached per (host, port): the name is resolved once
    and the fetcher connects only to the addresses checked here (no second lookup that
    could rebind the name to another address)."""

    def __init__(self, settings: EnrichSettings, resolver: Lookup | None = None) -> None:
        self.settings = settings
        self.mappings = parse_connect_to(settings.connect_to)
        self.resolve: Lookup = resolver or resolve
        self._routes: dict[str, dict[int, asyncio.Future[Route]]] = {}  # host -> port ->

    def mapping(self, host: str, port: int) -> ConnectTo | None:
        """The first ``connect_to`` entry matching ``host``:``port``, if any."""
        for entry in self.mappings:
            if entry.matches(host, port):
                return entry
        return None

    def forget(self, host: str) -> None:
        """Drop the decisions made for ``host`` (every port)."""
        self._routes.pop(host, None)

    def cached(self, host: str, port: int) -> Route | None:
        """The route already decided for ``host``:``port`` (None: not decided or refused)."""
        future = self._routes.get(host, {}).get(port)
        if future is None or not future.done() or future.exception() is not None:
            return None
        return future.result()

    async def route(self, host: str, port: int) -> Route:
        """Where to connect for ``host``:``port``; raises :class:`Refused`."""
        ports = self._routes.setdefault(host, {})
        future = ports.get(port)
        if future is None:
            future = asyncio.ensure_future(self._decide(host, port))
            ports[port] = future
        return await asyncio.shield(future)

    async def _decide(self, host: str, port: int) -> Route:
        entry = self.mapping(host, port)
        ip = literal(host)
        if ip is not None:
            # A private address written in a URL is refused even when a catch-all mapping
            # would route it; only a mapping naming that very address allows it.
            reason = allowed(str(ip), self.settings)
            if reason is not None and (entry is None or entry.host != str(ip)):
                raise Refused("forbidden", reason)
        if entry is not None:
            target_port = entry.target_port or port
            if entry.address is None:
                return await self._resolved(host, target_port, mapped=False)
            return await self._resolved(entry.address, target_port, mapped=True)
        return await self._resolved(host, port, mapped=False)

    async def _resolved(self, host: str, port: int, *, mapped: bool) -> Route:
        addresses = await self.resolve(host, port)
        if not mapped:
            for address in addresses:
                reason = allowed(address, self.settings)
                if reason is not None:
                    raise Refused("forbidden", reason)
        return Route(addresses, port, mapped)


async def resolve(host: str, port: int) -> tuple[str, ...]:
    """``host``'s addresses (the literal itself for an IP address); Refused('dns')."""
    ip = literal(host)
    if ip is not None:
        return (str(ip),)
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise Refused("dns", f"no address for {host} ({_dns_words(exc)})") from None
    addresses = _unique(str(info[4][0]) for info in infos)
    if not addresses:
        raise Refused("dns", f"no address for {host}")
    return addresses


def _unique(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v.split("%")[0] for v in values))


def _dns_words(exc: BaseException) -> str:
    if isinstance(exc, socket.gaierror) and len(exc.args) > 1:
        return str(exc.args[1])
    return str(exc) or type(exc).__name__
