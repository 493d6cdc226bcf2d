"""One enrichment run: which accounts each provider is asked about, asking them
concurrently within the fetcher's limits and the credit budget, storing every answer as it
comes (an interrupted run keeps what it fetched and the next one resumes), then applying
the waterfall.

The plan is computed before anything is fetched, so ``--dry-run`` shows exactly what a run
would ask, of whom, for how many credits and about how long.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field

import duckdb

from icpkit.config import EnrichSettings
from icpkit.enrich import store
from icpkit.enrich.apply import Applied, apply, order
from icpkit.enrich.ask import ask_batch, crawl_accounts
from icpkit.enrich.context import Context
from icpkit.enrich.dns import DnsResolver, Resolver
from icpkit.enrich.fetch import Fetcher
from icpkit.enrich.fields import COLUMNS
from icpkit.enrich.model import Lookup, Provider, Target

FLUSH_EVERY = 500
"""Calls stored per transaction: what an interruption can lose at most."""

SHARD_FROM = 500
"""Accounts from which the keyless providers' work is shared among processes."""

# Seconds one account takes a keyless provider, for the time estimate of a plan: a few
# pages, each a round trip of a fraction of a second, overlapped ``concurrency`` at a time.
_SECONDS_PER_SITE = 1.5


@dataclass
class ProviderPlan:
    """What a run would ask one provider: accounts in scope, those whose cached answer is
    still fresh, those to ask, the credits that costs at most, and about how long."""

    provider: str
    keyless: bool
    accounts: int
    cached: int
    to_ask: int
    credits: float
    seconds: float
    note: str | None = None


@dataclass
class ProviderTally:
    """What one provider did in a run."""

    provider: str
    asked: int = 0
    found: int = 0
    missed: int = 0
    failed: int = 0
    cached: int = 0
    skipped: int = 0  # not needed: an earlier source in the waterfall had the fields
    credits: float = 0.0
    unasked: int = 0  # left for the budget
    reasons: dict[str, int] = field(default_factory=dict)  # failures and misses by reason

    def count(self, lookup: Lookup) -> None:
        self.asked += 1
        self.credits += lookup.credits
        if lookup.status == "found":
            self.found += 1
        elif lookup.status == "miss":
            self.missed += 1
        else:
            self.failed += 1
        if lookup.status != "found" and lookup.reason:
            reason = _reason_kind(lookup.reason)
            self.reasons[reason] = self.reasons.get(reason, 0) + 1


@dataclass
class EnrichResult:
    """What ``enrich`` did: the run, per provider what it asked and learned, what the
    waterfall wrote into the store, and why it stopped early if it did."""

    run_id: int | None
    plans: list[ProviderPlan]
    tallies: list[ProviderTally] = field(default_factory=list)
    applied: Applied = field(default_factory=Applied)
    stopped: str | None = None  # 'budget', 'interrupted'
    seconds: float = 0.0
    dry_run: bool = False
    notes: list[str] = field(default_factory=list)  # what a person should know: rows set aside

    @property
    def credits(self) -> float:
        return sum(t.credits for t in self.tallies)


Progress = Callable[[ProviderTally, int], None]
"""Called after every answer with the provider's tally and its number of accounts to ask."""

Needing = Callable[[duckdb.DuckDBPyConnection, Provider, EnrichSettings], set[str]]
"""The keys of the targets a keyed provider is still needed for (default: the accounts
whose fields no earlier source filled; a universe judges its own rows)."""


def targets_of(con: duckdb.DuckDBPyConnection, keys: Sequence[str] | None = None) -> list[Target]:
    """The accounts to enrich: all, or those of ``keys``, in key order."""
    rows = con.execute(
        "SELECT account_key, domain, name, country FROM accounts ORDER BY account_key"
    ).fetchall()
    wanted = None if keys is None else set(keys)
    return [Target(str(k), d, n, c) for k, d, n, c in rows if wanted is None or k in wanted]


def plan(
    con: duckdb.DuckDBPyConnection,
    providers: Sequence[Provider],
    targets: Sequence[Target],
    settings: EnrichSettings,
    *,
    refresh: bool = False,
    now: dt.datetime | None = None,
) -> list[ProviderPlan]:
    """Per provider, how many of ``targets`` a run would ask and what that would cost."""
    now = now or _utcnow()
    plans = []
    for provider in providers:
        fresh = {} if refresh else store.fresh_keys(con, provider.name, now, _tag(provider))
        cached = sum(1 for t in targets if _is_fresh(fresh, t))
        to_ask = len(targets) - cached
        batches = -(-to_ask // max(provider.batch_size, 1))
        if provider.rate:
            seconds = batches / provider.rate
        else:
            seconds = to_ask * _SECONDS_PER_SITE / max(settings.concurrency, 1)
        note = None
        if not provider.keyless:
            note = "at most: the waterfall skips accounts an earlier source already filled"
        plans.append(
            ProviderPlan(
                provider.name, provider.keyless, len(targets), cached, to_ask,
                batches * provider.cost if provider.cost else 0.0, seconds, note,
            )
        )  # fmt: skip
    return plans


def enrich(
    con: duckdb.DuckDBPyConnection,
    providers: Sequence[Provider],
    targets: Sequence[Target],
    settings: EnrichSettings,
    *,
    secrets: Mapping[str, str] | None = None,
    refresh: bool = False,
    dry_run: bool = False,
    budget: float | None = None,
    progress: Progress | None = None,
    resolver: Resolver | None = None,
    needing: Needing | None = None,
) -> EnrichResult:
    """Run ``providers`` over ``targets``, store what they answer and apply the waterfall.

    Keyless providers run together, each account's website fetched once for all of them;
    keyed providers then run one after another in the order given, each asked only about
    accounts whose fields no earlier source filled (``needing`` says which, for targets
    that are not accounts), and never past ``budget`` credits.
    """
    started = time.perf_counter()
    plans = plan(con, providers, targets, settings, refresh=refresh)
    if dry_run:
        return EnrichResult(None, plans, dry_run=True)
    run_id = store.start_run(con, [p.name for p in providers], len(targets))
    result = EnrichResult(run_id, plans)
    status = "complete"
    try:
        asyncio.run(
            _run(con, run_id, providers, targets, settings, dict(secrets or {}), refresh,
                 budget if budget is not None else settings.budget, progress, resolver, result,
                 needing or _needing)
        )  # fmt: skip
    except KeyboardInterrupt:
        status = result.stopped = "interrupted"
    finally:
        if result.stopped == "budget":
            status = "budget"
        store.finish_run(con, run_id, sum(t.asked for t in result.tallies), result.credits, status)
    result.applied = apply(con, settings)
    result.seconds = time.perf_counter() - started
    return result


async def _run(
    con: duckdb.DuckDBPyConnection,
    run_id: int,
    providers: Sequence[Provider],
    targets: Sequence[Target],
    settings: EnrichSettings,
    secrets: dict[str, str],
    refresh: bool,
    budget: float | None,
    progress: Progress | None,
    resolver: Resolver | None,
    result: EnrichResult,
    needing: Needing,
) -> None:
    now = _utcnow()
    own = None if resolver else DnsResolver(settings.dns_server, min(settings.timeout_s, 5.0))
    dns = resolver or own
    assert dns is not None
    async with Fetcher(settings) as fetcher, _closing(own):
        ctx = Context(fetcher, dns, settings, now, secrets)
        writer = _Writer(con, run_id, now, settings.ttl_days)
        try:
            keyless = [p for p in providers if p.keyless]
            if keyless:
                await _keyless(ctx, keyless, targets, refresh, writer, progress, result)
            for provider in (p for p in providers if not p.keyless):
                writer.flush()
                apply(con, settings)  # the waterfall decides who still needs this provider
                await _keyed(
                    ctx, provider, targets, refresh, budget, writer, progress, result, needing
                )
                if result.stopped == "budget":
                    break
        except asyncio.CancelledError:
            result.stopped = "interrupted"
            raise
        finally:
            writer.flush()


class _Writer:
    """Answers buffered and stored ``FLUSH_EVERY`` at a time."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        run_id: int,
        now: dt.datetime,
        ttl_days: Mapping[str, float],
    ) -> None:
        self.con, self.run_id, self.now, self.ttl_days = con, run_id, now, ttl_days
        self.buffer: list[store.Asked] = []

    def add(self, provider: Provider, target: Target, lookup: Lookup) -> None:
        self.buffer.append(
            store.Asked(
                provider.name,
                lookup,
                target.domain,
                _tag(provider),
                float(self.ttl_days.get(provider.name, provider.ttl_days)),
            )
        )
        if len(self.buffer) >= FLUSH_EVERY:
            self.flush()

    def flush(self) -> None:
        calls, self.buffer = self.buffer, []
        store.write(self.con, self.run_id, calls, self.now)


async def _keyless(
    ctx: Context,
    providers: Sequence[Provider],
    targets: Sequence[Target],
    refresh: bool,
    writer: _Writer,
    progress: Progress | None,
    result: EnrichResult,
) -> None:
    """Every keyless provider over every target, one account at a time per worker, the
    account's pages dropped once all have read them (memory stays flat)."""
    todo: dict[str, list[Target]] = {}
    tallies = {p.name: ProviderTally(p.name) for p in providers}
    result.tallies.extend(tallies.values())
    for provider in providers:
        fresh = (
            {} if refresh else store.fresh_keys(writer.con, provider.name, ctx.now, _tag(provider))
        )
        todo[provider.name] = [t for t in targets if not _is_fresh(fresh, t)]
        tallies[provider.name].cached = len(targets) - len(todo[provider.name])
    wanted = {name: {t.account_key for t in ts} for name, ts in todo.items()}
    queue = [t for t in targets if any(t.account_key in keys for keys in wanted.values())]
    totals = {name: len(ts) for name, ts in todo.items()}

    def record(provider: Provider, target: Target, lookup: Lookup) -> None:
        writer.add(provider, target, lookup)
        tallies[provider.name].count(lookup)
        if progress is not None:
            progress(tallies[provider.name], totals[provider.name])

    shards = _shards(ctx.settings, providers, len(queue))
    if shards > 1:
        await _sharded(ctx, providers, queue, wanted, shards, record)
    else:
        await crawl_accounts(ctx, providers, queue, wanted, record)


def _shards(settings: EnrichSettings, providers: Sequence[Provider], accounts: int) -> int:
    """Processes to share the keyless providers' work: parsing pages is CPU work, so a
    large run uses every core. Only icpkit's own providers (rebuilt by name in each
    process) are shared out."""
    from icpkit.enrich.providers import BUILT_IN

    if not all(_built_in(p, BUILT_IN) for p in providers):
        return 1
    if settings.processes is not None:
        return min(settings.processes, max(accounts, 1))
    if accounts < SHARD_FROM:
        return 1
    return max(1, min(os.cpu_count() or 1, 4))


def _built_in(provider: Provider, known: Mapping[str, str]) -> bool:
    target = known.get(provider.name)
    return target is not None and target == f"{type(provider).__module__}:{type(provider).__name__}"


async def _sharded(
    ctx: Context,
    providers: Sequence[Provider],
    queue: Sequence[Target],
    wanted: Mapping[str, set[str]],
    shards: int,
    record: Callable[[Provider, Target, Lookup], None],
) -> None:
    """``queue`` dealt out to ``shards`` processes, this one included; the others (``python
    -m icpkit.enrich.shard``) send their answers back and this process stores them all."""
    import pickle
    import sys

    from icpkit.enrich import shard

    share = _shared_settings(ctx.settings, shards)
    by_name = {p.name: p for p in providers}
    by_key = {t.account_key: t for t in queue}
    children = []
    for i in range(1, shards):
        part = list(queue[i::shards])
        keys = {name: keys & {t.account_key for t in part} for name, keys in wanted.items()}
        work = shard.Work(share, list(by_name), dict(ctx.secrets), part, keys, ctx.now)
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "icpkit.enrich.shard",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert child.stdin is not None
        child.stdin.write(pickle.dumps(work, protocol=pickle.HIGHEST_PROTOCOL))
        await child.stdin.drain()
        child.stdin.close()
        children.append(child)

    def store_batch(batch: list[shard.Answer]) -> None:
        for name, key, lookup in batch:
            record(by_name[name], by_key[key], lookup)

    async def listen(child: asyncio.subprocess.Process) -> str | None:
        assert child.stdout is not None and child.stderr is not None
        await shard.read_answers(child.stdout, store_batch)
        error = (await child.stderr.read()).decode("utf-8", "replace").strip()
        code = await child.wait()
        return None if code == 0 else error or f"exit code {code}"

    try:
        async with Fetcher(share) as fetcher:
            local = Context(fetcher, ctx.dns, share, ctx.now, ctx.secrets)
            outcome = await asyncio.gather(
                crawl_accounts(local, providers, queue[0::shards], wanted, record),
                *(listen(child) for child in children),
            )
    finally:
        for child in children:
            if child.returncode is None:
                child.kill()
                await child.wait()
    failures = [f for f in outcome[1:] if f]
    if failures:
        raise RuntimeError(f"an enrichment process failed: {failures[0]}")


def _shared_settings(settings: EnrichSettings, shards: int) -> EnrichSettings:
    """One process's share of the limits: hosts every process asks (job boards, APIs) get
    their rate divided, so the run as a whole keeps to it."""
    rates = {host: rate / shards for host, rate in settings.host_rates.items()}
    return settings.model_copy(
        update={"host_rates": rates, "concurrency": max(1, settings.concurrency // shards)}
    )


async def _keyed(
    ctx: Context,
    provider: Provider,
    targets: Sequence[Target],
    refresh: bool,
    budget: float | None,
    writer: _Writer,
    progress: Progress | None,
    result: EnrichResult,
    needing: Needing,
) -> None:
    """One keyed provider in batches, at its rate, asked only where the waterfall needs it
    and only while the budget lasts."""
    tally = ProviderTally(provider.name)
    result.tallies.append(tally)
    fresh = {} if refresh else store.fresh_keys(writer.con, provider.name, ctx.now, _tag(provider))
    pending = [t for t in targets if not _is_fresh(fresh, t)]
    tally.cached = len(targets) - len(pending)
    needed = needing(writer.con, provider, ctx.settings)
    todo = [t for t in pending if t.account_key in needed]
    tally.skipped = len(pending) - len(todo)
    size = max(provider.batch_size, 1)
    batches = [todo[i : i + size] for i in range(0, len(todo), size)]
    interval = 1.0 / provider.rate if provider.rate else 0.0
    spent_before = sum(t.credits for t in result.tallies if t is not tally)
    lock = asyncio.Lock()
    next_start = [time.monotonic()]
    position = iter(batches)

    reserved = [0.0]  # credits of the calls in flight, at their most

    async def worker() -> None:
        for batch in position:
            most = provider.cost * len(batch)
            if budget is not None and spent_before + tally.credits + reserved[0] + most > budget:
                result.stopped = "budget"
                tally.unasked += len(batch) + sum(len(b) for b in position)
                return
            reserved[0] += most  # checked and reserved with no await between: no race
            if interval:
                async with lock:
                    wait = next_start[0] - time.monotonic()
                    next_start[0] = max(next_start[0], time.monotonic()) + interval
                if wait > 0:
                    await asyncio.sleep(wait)
            try:
                lookups = await ask_batch(provider, batch, ctx)
            finally:
                reserved[0] -= most
            for target, lookup in zip(batch, lookups, strict=True):
                writer.add(provider, target, lookup)
                tally.count(lookup)
                if progress is not None:
                    progress(tally, len(todo))

    workers = max(1, min(ctx.settings.concurrency, len(batches), 8))
    await asyncio.gather(*(worker() for _ in range(workers)))


def _needing(
    con: duckdb.DuckDBPyConnection, provider: Provider, settings: EnrichSettings
) -> set[str]:
    """Accounts for which some field ``provider`` can fill has no value yet from a source
    the waterfall ranks before it."""
    fields = [f for f in provider.fields if f in COLUMNS]
    wants_tools = "tech" in provider.fields
    if not fields and not wants_tools:
        rows = con.execute("SELECT account_key FROM accounts").fetchall()
        return {r[0] for r in rows}
    conditions = []
    providers = [
        r[0] for r in con.execute("SELECT DISTINCT provider FROM enrich_lookups").fetchall()
    ]
    for name in [*fields, *(["tech"] if wants_tools else [])]:
        ranked = order(settings, name, [*providers, provider.name])
        before = ranked[: ranked.index(provider.name)]
        if "crm" in before or name == "tech":
            column = COLUMNS[name][0] if name != "tech" else "technologies"
            have = (
                f"a.{column} IS NOT NULL"
                if name != "tech"
                else "len(coalesce(a.technologies, [])) > 0"
            )
            conditions.append(f"NOT ({have})")
        else:
            conditions.append("TRUE")  # the provider outranks the CRM for this field
    rows = con.execute(
        f"SELECT account_key FROM accounts a WHERE {' OR '.join(conditions)}"
    ).fetchall()
    return {r[0] for r in rows}


def _tag(provider: Provider) -> str | None:
    tag = getattr(provider, "cache_tag", None)
    return None if tag is None else str(tag)


def _is_fresh(fresh: dict[str, str | None], target: Target) -> bool:
    return target.account_key in fresh and fresh[target.account_key] == target.domain


def _reason_kind(reason: str) -> str:
    """A reason without the account's own particulars, for counting: the text before the
    first ':' of a URL-led reason, else the reason cut short."""
    text = reason.split(": ", 1)[1] if reason.startswith(("http://", "https://")) else reason
    return text[:80]


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


@contextlib.asynccontextmanager
async def _closing(dns: DnsResolver | None) -> AsyncIterator[None]:
    """Close the run's own DNS sockets when it ends."""
    try:
        yield
    finally:
        if dns is not None:
            await dns.aclose()
