"""The Pipedrive connector: organizations, deals and persons through API v1, changes through
``/recents``, ICP fields as organization custom fields, written one organization a call
within Pipedrive's rate limit.

Pipedrive names custom fields by generated 40-character keys; records carry the labels its
exports write instead ("Organization - Name", "Deal - Status", "Person - Email"), built from
the field lists the API gives, so ingestion reads them as it reads an export:

>>> export_label("organization", "Number of employees")
'Organization - Number of employees'

The API token travels as the ``api_token`` query parameter, as Pipedrive asks, but is added
only on the way out: no URL the client logs or puts in an error holds it.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from icpkit.crm.base import (
    CrmError,
    CrmName,
    CrmObject,
    FieldSpec,
    PermissionMissing,
    Record,
    Update,
    WriteResult,
)
from icpkit.crm.calls import RETRIES, Retrying
from icpkit.crm.fields import same

log = logging.getLogger(__name__)

API_URL = "https://api.pipedrive.com"
PAGE = 500  # the most Pipedrive returns a page
ITEMS: dict[CrmObject, str] = {"companies": "organization", "deals": "deal", "contacts": "person"}
PATHS = {"organization": "organizations", "deal": "deals", "person": "persons"}
PREFIXES = {"organization": "Organization", "deal": "Deal", "person": "Person"}
# Reasons run long: a large text field, not a 255-character one.
FIELD_TYPES = {"number": "double", "string": "text", "enumeration": "enum"}
LINKS = ("org_id",)  # reference fields that carry the linked organization's id


def export_label(item: str, name: str) -> str:
    """The column name Pipedrive's export writes for ``item``'s field ``name``."""
    return f"{PREFIXES[item]} - {name}"


@dataclass
class _Field:
    """An organization field the push writes: its generated key and, for an enumeration,
    the id of each option by label."""

    key: str
    name: str
    options: dict[str, int] = field(default_factory=dict)


class PipedriveConnector:
    """Pipedrive's API v1 for one company account, as the sync uses it (see
    :class:`Connector`).

    ``base_url`` is the company's address (``https://<company>.pipedrive.com``); ``timeout``
    bounds one call; ``max_wait`` the seconds the connector waits out rate limits in all
    before it gives up. Calls slow down when ``x-ratelimit-remaining`` falls to ``reserve``,
    so the rate limit is seldom hit (a negative ``reserve`` turns that off).
    """

    name: CrmName = "pipedrive"

    def __init__(
        self,
        base_url: str,
        api_token: str,
        *,
        timeout: float = 30.0,
        max_wait: float = 600.0,
        backoff: float = 0.5,
        retries: int = RETRIES,
        page_size: int = PAGE,
        reserve: int = 1,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not api_token:
            raise CrmError("no Pipedrive API token given")
        self.base_url = base_url.rstrip("/")
        self.page_size = min(page_size, PAGE)
        self.reserve = reserve
        self._sleep = sleep
        self._remaining: int | None = None
        self._reset = 0.0
        self.throttled_s = 0.0
        """Seconds spent slowing down ahead of the rate limit."""
        self._fields: dict[str, _Field] | None = None
        client = httpx.Client(
            base_url=self.base_url,
            headers={"Accept": "application/json"},
            timeout=timeout,
            transport=_TokenTransport(api_token),
            event_hooks={"request": [self._throttle], "response": [self._note_limits]},
        )
        self._http = Retrying(
            client, "Pipedrive", retries=retries, max_wait_s=max_wait, backoff_s=backoff,
            sleep=sleep,
        )  # fmt: skip

    @classmethod
    def from_credentials(cls, found: Mapping[str, str]) -> PipedriveConnector:
        """The connector for the credentials found (``PIPEDRIVE_API_TOKEN``; the address from
        ``ICPKIT_PIPEDRIVE_URL``, else ``PIPEDRIVE_COMPANY_DOMAIN``, else Pipedrive's API
        host)."""
        url = found.get("ICPKIT_PIPEDRIVE_URL")
        domain = found.get("PIPEDRIVE_COMPANY_DOMAIN", "").strip()
        if not url and domain:
            host = domain if "." in domain else f"{domain}.pipedrive.com"
            url = host if host.startswith("http") else f"https://{host}"
        return cls(url or API_URL, found["PIPEDRIVE_API_TOKEN"])

    def __repr__(self) -> str:
        return f"PipedriveConnector({self.base_url!r})"

    def close(self) -> None:
        """Close the HTTP connections."""
        self._http.client.close()

    @property
    def calls(self) -> int:
        """API calls made so far (every attempt counts)."""
        return self._http.calls

    # -- reading --------------------------------------------------------------------------
    def read(self, obj: CrmObject, since: dt.datetime | None) -> Iterator[Record]:
        """Every record of ``obj`` changed after ``since`` (all when None), oldest first:
        the whole list, or the changes ``/recents`` lists since then."""
        item = ITEMS[obj]
        shape = self._shape(item)
        if since is None:
            params = {"sort": "update_time ASC, id ASC"}
            for row in self._pages(f"/api/v1/{PATHS[item]}", params, f"the list of {obj}"):
                yield _record(obj, row, shape)
            return
        since = _utc(since)
        params = {"since_timestamp": _timestamp(since), "items": item}
        for change in self._pages("/api/v1/recents", params, f"the changes of {obj}"):
            if change.get("item") != item or not isinstance(change.get("data"), dict):
                continue
            record = _record(obj, change["data"], shape)
            # Pipedrive keeps times to the second; what changed at ``since`` was read before.
            if record.modified_at > since:
                yield record

    def read_ids(self, obj: CrmObject, ids: Sequence[str]) -> list[Record]:
        """The records with these ids, one call each (unknown ids are absent)."""
        item = ITEMS[obj]
        shape = self._shape(item)
        if obj == "companies" and self._fields:
            # Companies carry the ICP fields under the sync's names too, so that a push can
            # read back what a record holds.
            shape.aliases = {f.key: name for name, f in self._fields.items()}
        records = []
        for record_id in dict.fromkeys(ids):
            if not record_id.isdigit():
                raise CrmError(f"not a Pipedrive {item} id: {record_id!r}")
            answer = self._get(
                f"/api/v1/{PATHS[item]}/{record_id}", f"the {item} {record_id}", ok={200, 404}
            )
            data = _body(answer).get("data")
            if answer.status_code == 200 and isinstance(data, dict):
                records.append(_record(obj, data, shape))
        return records

    def _pages(self, path: str, params: Mapping[str, str], what: str) -> Iterator[dict[str, Any]]:
        """The items of every page of a list, following ``next_start``."""
        start = 0
        while True:
            answer = self._get(
                path, what, params={**params, "start": start, "limit": self.page_size}
            )
            body = _body(answer)
            yield from body.get("data") or []
            pagination = (body.get("additional_data") or {}).get("pagination") or {}
            if not pagination.get("more_items_in_collection"):
                return
            start = int(pagination.get("next_start", start + self.page_size))

    def _shape(self, item: str) -> _Shape:
        """How to read ``item``'s records: labels by key, option labels, stage names."""
        shape = _Shape(item)
        for f in self._pages(f"/api/v1/{item}Fields", {}, f"the {item} fields"):
            key, name = str(f.get("key")), str(f.get("name"))
            shape.labels[key] = export_label(item, name)
            for sub in f.get("subfields") or []:
                shape.labels[str(sub.get("key"))] = export_label(
                    item, f"{name} - {sub.get('name')}"
                )
            for option in f.get("options") or []:
                shape.options.setdefault(key, {})[str(option.get("id"))] = str(option.get("label"))
        if item == "deal":
            stages = _body(self._get("/api/v1/stages", "the deal stages")).get("data") or []
            shape.stages = {str(s.get("id")): str(s.get("name")) for s in stages}
        return shape

    # -- fields ---------------------------------------------------------------------------
    def ensure_fields(self, fields: Sequence[FieldSpec], *, dry_run: bool = False) -> list[str]:
        """Find the organization fields (by their labels) and create the missing ones;
        returns the sync names of the fields created (or to create)."""
        existing = self._organization_fields()
        missing = [s for s in fields if s.label.casefold() not in existing]
        found = {s.name: existing[s.label.casefold()] for s in fields if s not in missing}
        if dry_run or not missing:
            self._fields = found
            return [s.name for s in missing]
        for spec in missing:
            body: dict[str, Any] = {"name": spec.label, "field_type": FIELD_TYPES[spec.type]}
            if spec.type == "enumeration":
                body["options"] = [{"label": o} for o in spec.options]
            answer = self._http.send(
                "POST",
                "/api/v1/organizationFields",
                what=f"the creation of the field {spec.label!r}",
                json=body,
            )
            assert answer is not None
            if answer.status_code == 403:
                names = ", ".join(repr(s.label) for s in missing)
                raise PermissionMissing(
                    f"Pipedrive: this user may not add the organization fields {names}",
                    hint="add them in Pipedrive's data fields settings, or use an admin's token",
                )
            if answer.status_code >= 300:
                raise _error(answer, f"the creation of the field {spec.label!r}")
            found[spec.name] = _field(_body(answer).get("data") or {})
        self._fields = found
        return [s.name for s in missing]

    def _organization_fields(self) -> dict[str, _Field]:
        """The organization fields by label (case-insensitive), asked afresh."""
        return {
            str(f.get("name")).casefold(): _field(f)
            for f in self._pages("/api/v1/organizationFields", {}, "the organization fields")
        }

    # -- writing --------------------------------------------------------------------------
    def write(self, updates: Sequence[Update]) -> WriteResult:
        """Write each update with its own ``PUT /organizations/{id}`` (Pipedrive has no batch
        update), within the rate limit; refused records are reported with the reason."""
        result = WriteResult()
        before = self.calls
        if self._fields is None or any(n not in self._fields for u in updates for n in u.values):
            self._fields = self._known_fields({n for u in updates for n in u.values})
        for update in updates:
            self._write_one(update, result)
        result.calls = self.calls - before
        return result

    def _known_fields(self, names: set[str]) -> dict[str, _Field]:
        """The fields the updates name, found by sync name or label, or an error naming the
        missing ones."""
        existing = self._organization_fields()
        known = dict(self._fields or {})
        for name in names - set(known):
            match = existing.get(name.casefold()) or existing.get(name.replace("_", " ").casefold())
            if match is not None:
                known[name] = match
        missing = sorted(names - set(known))
        if missing:
            raise CrmError(
                f"Pipedrive: no organization field for {', '.join(missing)}",
                hint="create the fields first (ensure_fields, done by the push)",
            )
        return known

    def _write_one(self, update: Update, result: WriteResult) -> None:
        assert self._fields is not None
        body: dict[str, Any] = {}
        for name, value in update.values.items():
            target = self._fields[name]
            if isinstance(value, float) and not math.isfinite(value):
                value = None
            if target.options and value is not None:
                if str(value) not in target.options:
                    result.refused[update.record_id] = (
                        f"{value!r} is not an option of {target.name!r}"
                    )
                    return
                value = target.options[str(value)]
            body[target.key] = value
        path = f"/api/v1/organizations/{update.record_id}"
        what = f"the update of organization {update.record_id}"

        def before_retry() -> bool:
            # The failed attempt may have been applied: an organization that holds the values
            # is written, and is not sent again.
            answer = self._get(path, what, ok={200, 404})
            data = _body(answer).get("data")
            held = isinstance(data, dict) and all(same(data.get(k), v) for k, v in body.items())
            if answer.status_code == 200 and held:
                result.written.append(update.record_id)
                return False
            return True

        if not update.record_id.isdigit():
            result.refused[update.record_id] = "not a Pipedrive organization id"
            return
        answer = self._http.send("PUT", path, what=what, json=body, before_retry=before_retry)
        if answer is None:
            return
        if answer.status_code in (200, 201):
            result.written.append(update.record_id)
        elif answer.status_code in (401, 403):
            raise _error(answer, what)
        elif answer.status_code in (400, 404, 410, 422):
            result.refused[update.record_id] = f"HTTP {answer.status_code}: {_message(answer)}"
        else:
            raise _error(answer, what)

    # -- HTTP -----------------------------------------------------------------------------
    def _get(
        self,
        path: str,
        what: str,
        *,
        params: Mapping[str, Any] | None = None,
        ok: set[int] | None = None,
    ) -> httpx.Response:
        answer = self._http.send("GET", path, what=what, params=params)
        assert answer is not None  # no before_retry: an answer always comes back
        if answer.status_code not in (ok or {200}):
            raise _error(answer, what)
        return answer

    def _throttle(self, request: httpx.Request) -> None:
        """Before a call: when the window's calls are nearly used, wait for its reset."""
        if self._remaining is not None and self._remaining <= self.reserve and self._reset > 0:
            log.info(
                "Pipedrive: %d calls left in the rate window; waiting %.2f s",
                self._remaining,
                self._reset,
            )
            self._sleep(self._reset)
            self.throttled_s += self._reset
            self._remaining = None

    def _note_limits(self, response: httpx.Response) -> None:
        try:
            self._remaining = int(response.headers["x-ratelimit-remaining"])
            self._reset = max(0.0, float(response.headers.get("x-ratelimit-reset", "0")))
        except (KeyError, ValueError):
            self._remaining = None


class _TokenTransport(httpx.BaseTransport):
    """Adds ``api_token`` to each request as it leaves, so that the URLs the client keeps
    (in its logs, in errors, in ``response.request``) never hold it."""

    def __init__(self, token: str) -> None:
        self._token = token
        self._inner = httpx.HTTPTransport()

    def __repr__(self) -> str:
        return "_TokenTransport()"

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        sent = httpx.Request(
            request.method,
            request.url.copy_merge_params({"api_token": self._token}),
            headers=request.headers,
            stream=request.stream,
            extensions=request.extensions,
        )
        return self._inner.handle_request(sent)

    def close(self) -> None:
        self._inner.close()


@dataclass
class _Shape:
    """How an item's API records become export-like records."""

    item: str
    labels: dict[str, str] = field(default_factory=dict)
    options: dict[str, dict[str, str]] = field(default_factory=dict)
    stages: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)


def _record(obj: CrmObject, row: Mapping[str, Any], shape: _Shape) -> Record:
    """An API record under its export labels; keys no field names (internal ones) are left
    out, links and options are written as the export writes them."""
    properties: dict[str, Any] = {}
    links: dict[str, tuple[str, ...]] = {}
    for key, value in row.items():
        label = shape.labels.get(key)
        if label is None:
            continue
        if isinstance(value, dict):  # a link: organization, person or user
            linked = value.get("value", value.get("id"))
            properties[label] = value.get("name")
            if key in LINKS and linked is not None:
                properties[f"{label} ID"] = linked
                links["companies"] = (str(linked),)
            continue
        if key in LINKS and value is not None:
            properties[f"{label} ID"] = value
            links["companies"] = (str(value),)
            continue
        if isinstance(value, list):  # emails and phones: the primary one
            chosen = next((v for v in value if isinstance(v, dict) and v.get("primary")), None)
            chosen = chosen or (value[0] if value and isinstance(value[0], dict) else None)
            value = chosen.get("value") if chosen else None
        elif key == "stage_id" and shape.stages:
            value = shape.stages.get(str(value), value)
        elif key in shape.options and value not in (None, ""):
            value = ";".join(
                shape.options[key].get(v.strip(), v.strip()) for v in str(value).split(",")
            )
        properties[label] = value
        if key in shape.aliases:
            properties[shape.aliases[key]] = value
    return Record(
        object=obj,
        id=str(row["id"]),
        modified_at=_parse_time(str(row.get("update_time") or row.get("add_time"))),
        properties=properties,
        associations=links if obj != "companies" else {},
    )


def _field(data: Mapping[str, Any]) -> _Field:
    options = {str(o.get("label")): int(o["id"]) for o in data.get("options") or [] if "id" in o}
    return _Field(str(data.get("key")), str(data.get("name")), options)


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def _timestamp(moment: dt.datetime) -> str:
    """``since_timestamp`` as Pipedrive takes it: UTC, ``YYYY-MM-DD HH:MM:SS``."""
    return _utc(moment).strftime("%Y-%m-%d %H:%M:%S")


def _parse_time(text: str) -> dt.datetime:
    """Pipedrive's ``2024-05-01 09:30:00`` (UTC) as an aware datetime."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


def _body(answer: httpx.Response) -> dict[str, Any]:
    try:
        data = answer.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _message(answer: httpx.Response) -> str:
    body = _body(answer)
    return str(body.get("error") or body.get("error_info") or answer.reason_phrase)[:300]


def _error(answer: httpx.Response, what: str) -> CrmError:
    """The error a refused call raises, in Pipedrive's words (never the token)."""
    if answer.status_code == 401:
        return CrmError(
            f"Pipedrive refused the API token for {what} (HTTP 401: {_message(answer)})",
            hint="check PIPEDRIVE_API_TOKEN (Settings > Personal preferences > API)",
        )
    if answer.status_code == 403:
        return PermissionMissing(f"Pipedrive: not allowed: {what} (HTTP 403: {_message(answer)})")
    return CrmError(f"Pipedrive refused {what} (HTTP {answer.status_code}: {_message(answer)})")
