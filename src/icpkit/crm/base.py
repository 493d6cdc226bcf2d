"""What every CRM connector offers the sync: records read by object and change time, fields
checked and created, and batched writes of score values.

A connector speaks one CRM's HTTP API (its pagination, batch limits, rate limits and errors)
and nothing else: what to pull since when, what changed since the last push, resuming and
the words of a dry run belong to the sync (icpkit.crm.pull, icpkit.crm.push), which is the
same for every CRM.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from icpkit.errors import IcpkitError

CrmName = Literal["hubspot", "salesforce", "pipedrive"]
CRMS: tuple[CrmName, ...] = ("hubspot", "salesforce", "pipedrive")
CrmObject = Literal["companies", "deals", "contacts"]
OBJECTS: tuple[CrmObject, ...] = ("companies", "deals", "contacts")


class CrmError(IcpkitError):
    """A CRM refused or failed a call in a way retrying will not mend (the message says which
    call and why, never a credential)."""


class PermissionMissing(CrmError):
    """The credentials may not do what the sync needs (read an object, create or write a field)."""


@dataclass(frozen=True)
class Record:
    """One CRM record as read: its id, last change time and properties under the CRM's own
    field names (the names its exports use, so ingestion recognizes them)."""

    object: CrmObject
    id: str
    modified_at: dt.datetime
    properties: Mapping[str, Any]
    associations: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Ids of linked records by object (a deal's ``companies``, a contact's ``companies``)."""


@dataclass(frozen=True)
class FieldSpec:
    """A field the push writes on company records (icp_fit, icp_tier, ...)."""

    name: str
    label: str
    type: Literal["number", "string", "enumeration"]
    description: str
    options: tuple[str, ...] = ()


@dataclass(frozen=True)
class Update:
    """New values for one company record."""

    record_id: str
    values: Mapping[str, Any]


@dataclass
class WriteResult:
    """What one ``write`` did: the records written, the records the CRM refused (by id, with its
    reason) and the API calls it took (retries included)."""

    written: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)
    calls: int = 0


class Connector(Protocol):
    """One CRM's API, as the sync uses it."""

    name: CrmName

    def read(self, obj: CrmObject, since: dt.datetime | None) -> Iterator[Record]:
        """Every record of ``obj`` changed after ``since`` (all when None), oldest change first,
        page by page."""
        ...

    def read_ids(self, obj: CrmObject, ids: Sequence[str]) -> list[Record]:
        """The records with these ids (for webhooks, which carry ids only)."""
        ...

    def ensure_fields(self, fields: Sequence[FieldSpec], *, dry_run: bool = False) -> list[str]:
        """Check the right to write company fields and create the missing ones (unless
        ``dry_run``); returns the names it created (or would create)."""
        ...

    def write(self, updates: Sequence[Update]) -> WriteResult:
        """Write the updates through the CRM's batch API, waiting out rate limits (429 with
        Retry-After) and retrying transient failures."""
        ...

    @property
    def calls(self) -> int:
        """API calls made so far by this connector (every attempt counts)."""
        ...
