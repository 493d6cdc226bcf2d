"""httpcore's network streams on plain asyncio transports.

httpcore reaches the network through a pluggable backend (its documented extension point);
its default one goes through anyio, whose cancel scopes and exception maps cost more CPU
per read and write than the exchange of a small page itself. An enrichment run makes tens
of thousands of short exchanges, so the fetcher dials through this backend instead: a
protocol that buffers what arrives (pausing the socket beyond ``HIGH_WATER`` bytes, so a
huge body never piles up in memory) and a stream that hands it to httpcore. The fetcher
bounds each whole exchange with one deadline, so reads and writes need no timer of their
own; one is kept when httpcore passes a timeout all the same.
"""

from __future__ import annotations

import asyncio
import ssl
import typing
from typing import Any

import httpcore

HIGH_WATER = 256 * 1024  # bytes buffered before the socket stops being read
LOW_WATER = 64 * 1024  # ... and read again once the buffer is down to this


class _Buffered(asyncio.Protocol):
    """What one connection received and has not been read yet, and its end."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.ended = False
        self.lost: BaseException | None = None
        self.paused_reading = False
        self._readable: asyncio.Future[None] | None = None
        self._writable: asyncio.Future[None] | None = None

    # -- asyncio's side -----------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = typing.cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) > HIGH_WATER and not self.paused_reading and self.transport:
            self.paused_reading = True
            self.transport.pause_reading()
        self._wake_reader()

    def eof_received(self) -> bool | None:
        self.ended = True
        self._wake_reader()
        return None  # the transport closes itself

    def connection_lost(self, exc: Exception | None) -> None:
        self.ended = True
        self.lost = exc
        self._wake_reader()
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)

    def pause_writing(self) -> None:
        if self._writable is None or self._writable.done():
            self._writable = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)

    def _wake_reader(self) -> None:
        if self._readable is not None and not self._readable.done():
            self._readable.set_result(None)

    # -- the stream's side ----------------------------------------------------------------
    async def readable(self, timeout: float | None) -> None:
        """Wait until data or the end is there (TimeoutError after ``timeout`` s)."""
        waiter = asyncio.get_running_loop().create_future()
        self._readable = waiter
        timer = None
        if timeout is not None:
            timer = asyncio.get_running_loop().call_later(timeout, _expire, waiter)
        try:
            await waiter
        finally:
            self._readable = None
            if timer is not None:
                timer.cancel()

    def take(self, max_bytes: int) -> bytes:
        data = bytes(self.buffer[:max_bytes])
        del self.buffer[:max_bytes]
        if self.paused_reading and len(self.buffer) <= LOW_WATER and self.transport:
            self.paused_reading = False
            self.transport.resume_reading()
        return data

    async def writable(self, timeout: float | None) -> None:
        waiter = self._writable
        if waiter is None or waiter.done():
            return
        async with asyncio.timeout(timeout):
            await asyncio.shield(waiter)


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())


class AsyncioStream(httpcore.AsyncNetworkStream):
    """One connection, plain or TLS, as httpcore reads and writes it."""

    def __init__(self, transport: asyncio.Transport, protocol: _Buffered) -> None:
        self.transport = transport
        self.protocol = protocol

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        protocol = self.protocol
        if not protocol.buffer and not protocol.ended:
            try:
                await protocol.readable(timeout)
            except TimeoutError:
                raise httpcore.ReadTimeout("timed out reading") from None
        if protocol.buffer:
            return protocol.take(max_bytes)
        if protocol.lost is not None:
            raise httpcore.ReadError(str(protocol.lost) or type(protocol.lost).__name__)
        return b""  # the peer closed the connection

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        if self.transport.is_closing():
            raise httpcore.WriteError("the connection is closed")
        self.transport.write(buffer)
        try:
            await self.protocol.writable(timeout)
        except TimeoutError:
            raise httpcore.WriteTimeout("timed out writing") from None
        if self.protocol.lost is not None:
            raise httpcore.WriteError(str(self.protocol.lost) or "the connection was lost")

    async def aclose(self) -> None:
        self.transport.close()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                tls = await loop.start_tls(
                    self.transport, self.protocol, ssl_context, server_hostname=server_hostname
                )
        except TimeoutError:
            self.transport.abort()
            raise httpcore.ConnectTimeout("TLS handshake timed out") from None
        except (OSError, ssl.SSLError) as exc:
            self.transport.abort()
            raise httpcore.ConnectError(str(exc) or type(exc).__name__) from exc
        if tls is None:  # pragma: no cover - asyncio returns None only for a closed loop
            raise httpcore.ConnectError("TLS could not start")
        self.protocol.transport = tls
        return AsyncioStream(tls, self.protocol)

    def get_extra_info(self, info: str) -> Any:
        if info == "ssl_object":
            return self.transport.get_extra_info("ssl_object")
        if info == "client_addr":
            return self.transport.get_extra_info("sockname")
        if info == "server_addr":
            return self.transport.get_extra_info("peername")
        if info == "socket":
            return self.transport.get_extra_info("socket")
        if info == "is_readable":
            # An idle kept-alive connection with something to read has been closed or
            # answered out of turn: either way it must not be reused.
            return bool(self.protocol.buffer) or self.protocol.ended
        return None


async def connect_tcp(address: str, port: int, timeout: float | None) -> AsyncioStream:
    """A TCP connection to ``address``:``port`` (an address, never a name to look up)."""
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(timeout):
            transport, protocol = await loop.create_connection(_Buffered, address, port)
    except TimeoutError:
        raise httpcore.ConnectTimeout(f"connecting to {address}:{port} timed out") from None
    except OSError as exc:
        raise httpcore.ConnectError(str(exc) or type(exc).__name__) from exc
    return AsyncioStream(transport, protocol)
