"""Asking providers about accounts: one account, a batch, or a whole queue of accounts
crawled by many workers at once (the part of a run every process does alike)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence

from icpkit.enrich.context import Context
from icpkit.enrich.model import Lookup, Provider, Target

ACCOUNTS_PER_SLOT = 8
"""Accounts enriched at once per request slot (``enrich.concurrency``)."""


async def crawl_accounts(
    ctx: Context,
    providers: Sequence[Provider],
    queue: Sequence[Target],
    wanted: Mapping[str, set[str]],
    record: Callable[[Provider, Target, Lookup], None],
) -> None:
    """Every provider over ``queue`` in this process, each account's pages dropped once
    every provider has read them."""
    position = iter(queue)

    async def worker() -> None:
        for target in position:
            for provider in providers:
                if target.account_key in wanted[provider.name]:
                    record(provider, target, await ask(provider, target, ctx))
            if target.domain:
                ctx.forget(target.domain)

    # Accounts in flight: a site's pages come one after another at its host's polite rate,
    # so several times more accounts than request slots keep the slots busy.
    workers = max(1, min(ACCOUNTS_PER_SLOT * ctx.settings.concurrency, len(queue)))
    await asyncio.gather(*(worker() for _ in range(workers)))


async def ask(provider: Provider, target: Target, ctx: Context) -> Lookup:
    return (await ask_batch(provider, [target], ctx))[0]


async def ask_batch(provider: Provider, batch: Sequence[Target], ctx: Context) -> list[Lookup]:
    """A provider's answers for ``batch``, one per target; a provider that raises fails the
    batch with its reason rather than the run."""
    try:
        lookups = await provider.lookup(batch, ctx)
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # a provider's bug must not lose the other accounts' answers
        reason = f"{provider.name} failed: {type(exc).__name__}: {exc}"
        return [Lookup.failed(t.account_key, reason) for t in batch]
    by_key = {lookup.account_key: lookup for lookup in lookups}
    return [
        by_key.get(t.account_key) or Lookup.failed(t.account_key, f"{provider.name} gave no answer")
        for t in batch
    ]
