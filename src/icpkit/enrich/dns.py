"""DNS TXT and MX records (dnspython, async), for technographics: SPF includes, site
verification tokens and mail exchangers name the tools a company runs."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Protocol

import dns.asyncresolver
import dns.exception
import dns.name
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


class DnsResolver:
    """TXT and MX from the system's resolver, or from ``server`` ('ADDRESS[:PORT]')."""

    def __init__(self, server: str | None = None, timeout_s: float = 5.0) -> None:
        self.server = server
        self.timeout_s = timeout_s
        self._resolver: dns.asyncresolver.Resolver | None = None
        self._broken: str | None = None

    def _open(self) -> dns.asyncresolver.Resolver | None:
        if self._resolver is None and self._broken is None:
            try:
                if self.server:
                    address, port = parse_server(self.server)
                    resolver = dns.asyncresolver.Resolver(configure=False)
                    resolver.nameservers = [address]
                    resolver.port = port
                else:
                    resolver = dns.asyncresolver.Resolver()
            except (ValueError, dns.exception.DNSException, OSError) as exc:
                self._broken = f"no DNS server to ask ({exc})"
                return None
            resolver.timeout = self.timeout_s
            resolver.lifetime = self.timeout_s
            self._resolver = resolver
        return self._resolver

    async def records(self, domain: str) -> Records:
        """``domain``'s TXT and MX records; never raises (``error`` says what failed)."""
        resolver = self._open()
        if resolver is None:
            return Records(error=self._broken)
        try:
            name = dns.name.from_text(domain.strip().rstrip(".") + ".")
        except (dns.exception.DNSException, UnicodeError, ValueError) as exc:
            return Records(error=f"not a domain name: {domain!r} ({exc})")
        txt, mx = await asyncio.gather(
            self._ask(resolver, name, "TXT"), self._ask(resolver, name, "MX")
        )
        if isinstance(txt, str) or isinstance(mx, str):
            return Records(error=txt if isinstance(txt, str) else str(mx))
        return Records(tuple(txt), tuple(mx))

    async def _ask(
        self, resolver: dns.asyncresolver.Resolver, name: dns.name.Name, kind: str
    ) -> list[str] | str:
        """The answers as text, or a failure in words (a str)."""
        try:
            answer = await resolver.resolve(name, kind, raise_on_no_answer=False)
        except dns.resolver.NXDOMAIN:
            return f"no such domain: {name.to_text(omit_final_dot=True)}"
        except dns.resolver.NoNameservers:
            return f"no DNS server answered for {name.to_text(omit_final_dot=True)}"
        except dns.exception.Timeout:
            return f"DNS timed out after {self.timeout_s:g} s"
        except (dns.exception.DNSException, OSError) as exc:
            return f"DNS failed ({exc or type(exc).__name__})"
        if answer.rrset is None:
            return []
        if kind == "TXT":
            # One TXT record may be split in several strings (SPF over 255 bytes): joined.
            return [b"".join(r.strings).decode("utf-8", errors="replace") for r in answer.rrset]
        ordered = sorted(answer.rrset, key=lambda r: r.preference)
        return [r.exchange.to_text(omit_final_dot=True).lower() for r in ordered]
