"""What enrichment passes around: the accounts to enrich, what a provider observed about
one, and the provider interface every source (website, job boards, filings, keyed APIs,
files, the AI researcher) implements.

A provider never writes to the store: it returns a :class:`Lookup` per account, and the
runner (``enrich/run.py``) caches it, keeps its provenance and applies the waterfall.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable

if TYPE_CHECKING:
    from icpkit.enrich.context import Context

Status = Literal["found", "miss", "failed"]
"""found: at least one observation; miss: the source answered and knows nothing of the
account; failed: the source could not be asked (the reason says why: a timeout, a 503 after
retries, a forbidden address), so a later run tries again."""


@dataclass(frozen=True)
class Target:
    """One account to enrich: its key in the store and what identifies it outside."""

    account_key: str
    domain: str | None
    name: str | None = None
    country: str | None = None


@dataclass(frozen=True)
class Observation:
    """One value a provider saw for one field of one account, with where it came from.

    ``field`` is one of the enrichable fields (``enrich/fields.py``): a firmographic column
    (``employees``, ``industry``, ``country``, ``founded_year``, ...), ``tech`` (``value``
    is one tool's name), ``signal:<type>`` (``value`` is the detail, ``observed_at`` the
    day of the event: a job posting's publication, a Form D's filing), or ``answer:<key>``
    (an AI research answer). ``raw`` is the value as the source wrote it; ``evidence`` a
    short quote or matched pattern that shows it (``script src js.hs-scripts.com``).
    """

    field: str
    value: str
    confidence: float = 1.0
    source_url: str | None = None
    raw: str | None = None
    evidence: str | None = None
    observed_at: dt.datetime | None = None


@dataclass
class Lookup:
    """What one provider learned about one account in one call."""

    account_key: str
    status: Status
    observations: list[Observation] = field(default_factory=list)
    reason: str | None = None  # why it missed or failed, in words
    credits: float = 0.0  # what the call cost (keyed providers' credits, model tokens)

    @classmethod
    def failed(cls, account_key: str, reason: str) -> Lookup:
        return cls(account_key, "failed", reason=reason)

    @classmethod
    def of(cls, account_key: str, observations: Sequence[Observation], reason: str) -> Lookup:
        """found with ``observations``, else a miss for ``reason``."""
        if observations:
            return cls(account_key, "found", list(observations))
        return cls(account_key, "miss", reason=reason)


@runtime_checkable
class Provider(Protocol):
    """A source of observations.

    ``fields`` are the fields it can fill (``tech``, ``signal:job_posting``, ``employees``);
    ``cost`` the credits one call costs (0 for keyless sources); ``rate`` the calls per
    second its service allows (None: only the fetcher's per-host limits); ``batch_size``
    how many accounts one call takes; ``ttl_days`` how long an answer stays fresh;
    ``keyless`` whether it runs without an account. ``lookup`` is called with at most
    ``batch_size`` targets and returns one :class:`Lookup` per target, never raising for
    one account's failure (a failed Lookup says why).
    """

    name: str
    fields: frozenset[str]
    cost: float
    rate: float | None
    batch_size: int
    ttl_days: float
    keyless: bool

    async def lookup(self, targets: Sequence[Target], ctx: Context) -> list[Lookup]: ...
