"""One share of a large enrichment run, in a process of its own (``python -m
icpkit.enrich.shard``): parsing pages is CPU work, so a run uses every core.

The parent writes the work to the child's stdin as one pickle (settings, provider names,
secrets, targets, which providers each target needs, the run's time); the child answers on
stdout with length-prefixed pickles of (provider, account key, Lookup) batches, then an
empty batch. A failure is written to stderr and the child exits non-zero. Nothing of this
touches the store: the parent stores every answer.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import pickle
import struct
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import BinaryIO

from icpkit.config import EnrichSettings
from icpkit.enrich.model import Lookup, Target

Answer = tuple[str, str, Lookup]
_LENGTH = struct.Struct(">I")
BATCH = 50


@dataclass(frozen=True)
class Work:
    """What a shard is asked to do."""

    settings: EnrichSettings
    providers: list[str]
    secrets: dict[str, str]
    targets: list[Target]
    wanted: dict[str, set[str]]
    now: dt.datetime


def encode(batch: Sequence[Answer]) -> bytes:
    data = pickle.dumps(list(batch), protocol=pickle.HIGHEST_PROTOCOL)
    return _LENGTH.pack(len(data)) + data


async def read_answers(
    stream: asyncio.StreamReader, on_batch: Callable[[list[Answer]], None]
) -> None:
    """Read a child's batches until its empty one (or the end of its output)."""
    while True:
        try:
            head = await stream.readexactly(_LENGTH.size)
        except asyncio.IncompleteReadError:
            return
        (size,) = _LENGTH.unpack(head)
        batch: list[Answer] = pickle.loads(await stream.readexactly(size))
        if not batch:
            return
        on_batch(batch)


def main(stdin: BinaryIO, stdout: BinaryIO) -> None:
    from icpkit.enrich.ask import crawl_accounts
    from icpkit.enrich.context import Context
    from icpkit.enrich.dns import DnsResolver
    from icpkit.enrich.fetch import Fetcher
    from icpkit.enrich.providers import make

    work: Work = pickle.load(stdin)
    batch: list[Answer] = []

    def record(provider_name: str, target: Target, lookup: Lookup) -> None:
        batch.append((provider_name, target.account_key, lookup))
        if len(batch) >= BATCH:
            stdout.write(encode(batch))
            stdout.flush()
            batch.clear()

    async def run() -> None:
        settings = work.settings
        providers = [make(name, settings, work.secrets) for name in work.providers]
        dns = DnsResolver(settings.dns_server, timeout_s=min(settings.timeout_s, 5.0))
        async with Fetcher(settings) as fetcher:
            ctx = Context(fetcher, dns, settings, work.now, work.secrets)
            try:
                await crawl_accounts(
                    ctx, providers, work.targets, work.wanted,
                    lambda p, t, lookup: record(p.name, t, lookup),
                )  # fmt: skip
            finally:
                await dns.aclose()

    asyncio.run(run())
    if batch:
        stdout.write(encode(batch))
    stdout.write(encode([]))
    stdout.flush()


if __name__ == "__main__":
    try:
        main(sys.stdin.buffer, sys.stdout.buffer)
    except BaseException as exc:
        sys.stderr.write(f"{type(exc).__name__}: {exc}\n")
        sys.exit(1)
