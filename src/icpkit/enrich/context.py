"""What one enrichment run shares between its providers: the fetcher, the DNS resolver,
the settings and secrets, the clock, and each domain's website fetched once."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

from icpkit.config import EnrichSettings
from icpkit.enrich.dns import Resolver
from icpkit.enrich.fetch import Fetcher
from icpkit.enrich.site import Site, crawl


@dataclass
class Context:
    """A run's shared parts. ``secrets`` are read from the environment by the runner
    (never from the repository); ``now`` stamps every observation fetched in the run."""

    fetcher: Fetcher
    dns: Resolver
    settings: EnrichSettings
    now: dt.datetime
    secrets: Mapping[str, str] = field(default_factory=dict)
    _sites: dict[str, asyncio.Future[Site]] = field(default_factory=dict, repr=False)

    async def site(self, domain: str) -> Site:
        """``domain``'s website, crawled once per run however many providers ask."""
        future = self._sites.get(domain)
        if future is None:
            future = asyncio.ensure_future(crawl(domain, self.fetcher))
            self._sites[domain] = future
        return await asyncio.shield(future)

    def forget(self, domain: str) -> None:
        """Drop ``domain``'s pages, and what the fetcher kept of its site, once every
        provider has read them (flat memory)."""
        self._sites.pop(domain, None)
        forget = getattr(self.fetcher, "forget", None)
        if forget is not None:
            forget(domain)
