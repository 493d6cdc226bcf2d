"""A HubSpot CRM API on 127.0.0.1, holding state: the v3 objects, search, batch, properties
and v4 association endpoints the HubSpot connector speaks, with HubSpot's request and answer
shapes, limits (100 inputs a batch, 200 results a search page, 10,000 results a search),
bearer tokens with scopes, a rate limit and faults a test can inject::

    with HubSpotEmulator(tokens={"pat-1": ALL_SCOPES}) as hub:
        hub.seed_demo(make_crm(300, 1, out))
        os.environ["ICPKIT_HUBSPOT_URL"] = hub.url

``writes`` counts, per company id, the updates the emulator applied, so a test can check that
a push wrote each record exactly once.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import functools
import json
import math
import re
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from icpkit.demo import DemoFiles
from icpkit.ingest.normalize.money import parse_money

OBJECTS = ("companies", "deals", "contacts")
ALL_SCOPES = frozenset(
    {
        *(f"crm.objects.{o}.read" for o in OBJECTS),
        *(f"crm.objects.{o}.write" for o in OBJECTS),
        "crm.schemas.companies.read",
        "crm.schemas.companies.write",
    }
)
READ_SCOPES = frozenset(s for s in ALL_SCOPES if s.endswith(".read"))
BATCH_LIMIT = 100
SEARCH_LIMIT = 200
SEARCH_CAP = 10_000
LIST_LIMIT = 100


@dataclass
class Fault:
    """An answer forced on the next ``count`` requests whose path starts with ``path``:
    ``status`` (429, 500, ...) before anything is applied, or ``delay_s`` of silence after
    the request was applied (the client's timeout fires on a write that happened)."""

    status: int | None = None
    delay_s: float = 0.0
    count: int = 1
    path: str = "/"
    method: str | None = None


@dataclass
class _Object:
    id: str
    properties: dict[str, str | None]
    created: dt.datetime
    updated: dt.datetime
    associations: dict[str, list[str]] = field(default_factory=dict)
    kind: str = "company"


def _iso(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def _ms(t: dt.datetime) -> int:
    return int(t.timestamp() * 1000)


class HubSpotEmulator:
    """The HubSpot API on a free port of 127.0.0.1 (``url``), one thread per request.

    ``tokens`` maps each accepted private-app token to its scopes; ``rate`` requests per
    ``window_s`` seconds per token are answered, more get 429 with ``Retry-After`` until the
    window ends (HubSpot's ten-second limit)."""

    def __init__(
        self,
        tokens: Mapping[str, Iterable[str]] | None = None,
        *,
        rate: int = 100,
        window_s: float = 10.0,
    ) -> None:
        self.tokens = {k: frozenset(v) for k, v in (tokens or {"pat-test": ALL_SCOPES}).items()}
        self.rate = rate
        self.window_s = window_s
        self.objects: dict[str, dict[str, _Object]] = {o: {} for o in OBJECTS}
        self.properties: dict[str, dict[str, Any]] = {
            name: _property(name, name, "string", "companyinformation") for name in _BUILTIN
        }
        self.groups: dict[str, dict[str, Any]] = {
            "companyinformation": {"name": "companyinformation", "label": "Company information"}
        }
        self.writes: Counter[str] = Counter()
        self.calls: Counter[str] = Counter()
        self.requests: list[tuple[str, str, int]] = []
        self.faults: list[Fault] = []
        self._windows: dict[str, tuple[float, int]] = {}
        self._lock = threading.RLock()
        self._next_id = 1000
        self._clock_ms = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self._server is not None, "start the emulator first"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> HubSpotEmulator:
        emulator = self

        class Handler(_Handler):
            hub = emulator

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> HubSpotEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- state -----------------------------------------------------------------------------

    def now(self) -> dt.datetime:
        """The emulator's clock: the wall clock, strictly increasing by at least 1 ms, so
        every change has its own modification time as HubSpot's do in practice."""
        with self._lock:
            ms = max(int(time.time() * 1000), self._clock_ms + 1)
            self._clock_ms = ms
            return dt.datetime.fromtimestamp(ms / 1000, dt.UTC)

    def add(
        self,
        obj: str,
        properties: Mapping[str, Any],
        *,
        id: str | None = None,
        associations: Mapping[str, Iterable[str]] | None = None,
        modified: dt.datetime | None = None,
    ) -> str:
        """Create (or replace) a record, as a user of the CRM would; returns its id."""
        with self._lock:
            if id is None:
                self._next_id += 1
                id = str(self._next_id)
            when = modified or self.now()
            props = {k: (None if v is None or v == "" else str(v)) for k, v in properties.items()}
            created = props.get("createdate")
            props["hs_object_id"] = id
            props["hs_lastmodifieddate"] = _iso(when)
            props.setdefault("createdate", _iso(when))
            record = _Object(id, props, _parse_time(created) or when, when, kind=_KINDS[obj])
            for other, ids in (associations or {}).items():
                record.associations[other] = [str(i) for i in ids]
                for i in ids:  # associations are two-way
                    back = self.objects[other].get(str(i))
                    if back is not None and id not in back.associations.setdefault(obj, []):
                        back.associations[obj].append(id)
            self.objects[obj][id] = record
            return id

    def change(self, obj: str, id: str, properties: Mapping[str, Any]) -> None:
        """Change a record as a user would: new values, a new modification time."""
        with self._lock:
            record = self.objects[obj][id]
            for k, v in properties.items():
                record.properties[k] = None if v is None or v == "" else str(v)
            record.updated = self.now()
            record.properties["hs_lastmodifieddate"] = _iso(record.updated)

    def inject(self, *faults: Fault) -> None:
        """Queue faults; each answers the next matching requests, in order."""
        with self._lock:
            self.faults.extend(faults)

    def seed_demo(self, files: DemoFiles) -> dict[str, int]:
        """Load the demo CRM's companies and deals as HubSpot holds them: internal property
        names, numbers as plain digits, dates as ISO times, stages and industries as HubSpot's
        internal values, deals associated with their companies. Returns the counts."""
        with files.companies.open(encoding="utf-8-sig", newline="") as fh:
            for row in csv.DictReader(fh):
                props = {_COMPANY_NAMES[k]: v for k, v in row.items() if k in _COMPANY_NAMES}
                props["industry"] = _enum(props.get("industry"))
                props["createdate"] = _iso_text(props.get("createdate"))
                props["annualrevenue"] = _digits(props.get("annualrevenue"))
                props["total_money_raised"] = _digits(props.get("total_money_raised"))
                self.add("companies", props, id=row["Record ID"])
        with files.deals.open(encoding="utf-8-sig", newline="") as fh:
            for row in csv.DictReader(fh):
                props = {_DEAL_NAMES[k]: v for k, v in row.items() if k in _DEAL_NAMES}
                stage = props.get("dealstage") or ""
                # The default pipeline's stages are internal ids; a custom stage keeps its name.
                props["dealstage"] = _STAGES.get(stage, stage)
                props["pipeline"] = "default"
                props["amount"] = _digits(props.get("amount"))
                props["closedate"] = _iso_text(props.get("closedate"))
                props["createdate"] = _iso_text(props.get("createdate"))
                company = row.get("Associated Company IDs") or ""
                links = {"companies": [company]} if company in self.objects["companies"] else {}
                self.add("deals", props, id=row["Record ID"], associations=links)
        return {o: len(v) for o, v in self.objects.items()}

    # -- answering -------------------------------------------------------------------------

    def _admit(self, token: str) -> float | None:
        """None when the token may call now, else the seconds until its window ends."""
        with self._lock:
            now = time.monotonic()
            start, used = self._windows.get(token, (now, 0))
            if now - start >= self.window_s:
                start, used = now, 0
            if used >= self.rate:
                return start + self.window_s - now
            self._windows[token] = (start, used + 1)
            return None

    def _fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for f in self.faults:
                if path.startswith(f.path) and (f.method is None or f.method == method):
                    f.count -= 1
                    if f.count <= 0:
                        self.faults.remove(f)
                    return f
            return None

    def answer(
        self, method: str, target: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[int, dict[str, Any] | None, dict[str, str], float]:
        """(status, JSON body, headers, delay after answering) for one request."""
        parts = urlsplit(target)
        path, query = parts.path, parse_qs(parts.query)
        with self._lock:
            self.calls[f"{method} {re.sub(r'/[0-9]+', '/{id}', path)}"] += 1
        auth = headers.get("authorization", "")
        token = auth[7:] if auth.lower().startswith("bearer ") else ""
        if token not in self.tokens:
            return (
                401,
                _error("Authentication credentials not found.", "INVALID_AUTHENTICATION"),
                {},
                0,
            )
        wait = self._admit(token)
        if wait is not None:
            body_ = _error("You have reached your ten_secondly_rolling limit.", "RATE_LIMITS")
            body_["policyName"] = "TEN_SECONDLY_ROLLING"
            return 429, body_, {"Retry-After": str(max(1, math.ceil(wait)))}, 0
        fault = self._fault(method, path)
        if fault is not None and fault.status is not None:
            extra = {"Retry-After": "1"} if fault.status == 429 else {}
            return (
                fault.status,
                _error("injected", "RATE_LIMITS" if fault.status == 429 else "INTERNAL_ERROR"),
                extra,
                0,
            )
        try:
            payload = json.loads(body) if body else {}
        except ValueError:
            return 400, _error("Invalid input JSON on line 1", "VALIDATION_ERROR"), {}, 0
        status, out = self._route(method, path, query, payload, self.tokens[token])
        return status, out, {}, fault.delay_s if fault is not None else 0.0

    def _route(
        self,
        method: str,
        path: str,
        query: Mapping[str, list[str]],
        payload: Any,
        scopes: frozenset[str],
    ) -> tuple[int, dict[str, Any]]:
        if method == "POST" and path == "/oauth/v2/private-apps/get/access-token-info":
            return 200, {"hubId": 1, "appId": 7, "userId": 1, "scopes": sorted(scopes)}
        m = re.fullmatch(r"/crm/v3/properties/companies(/groups)?", path)
        if m:
            need = "crm.schemas.companies." + ("read" if method == "GET" else "write")
            if need not in scopes:
                return 403, _scopes_error(need)
            return self._properties(method, bool(m.group(1)), payload)
        m = re.fullmatch(r"/crm/v4/associations/(\w+)/(\w+)/batch/read", path)
        if m and method == "POST":
            return self._associations(m.group(1), m.group(2), payload, scopes)
        m = re.fullmatch(r"/crm/v3/objects/(\w+)(?:/(search|batch/read|batch/update))?", path)
        if not m or m.group(1) not in OBJECTS:
            return 404, _error(f"Unable to route {method} {path}", "OBJECT_NOT_FOUND")
        obj, action = m.group(1), m.group(2)
        write = action == "batch/update"
        need = f"crm.objects.{obj}.{'write' if write else 'read'}"
        if need not in scopes:
            return 403, _scopes_error(need)
        if action is None and method == "GET":
            return self._list(obj, query)
        if action == "search" and method == "POST":
            return self._search(obj, payload)
        if action == "batch/read" and method == "POST":
            return self._batch_read(obj, payload)
        if write and method == "POST":
            return self._batch_update(obj, payload)
        return 405, _error(f"{method} is not allowed on {path}", "VALIDATION_ERROR")

    def _shape(
        self, record: _Object, names: Iterable[str] | None, with_associations: Iterable[str] = ()
    ) -> dict[str, Any]:
        """A record as HubSpot answers it: the asked properties (null when unset) and the
        three it always adds; without a list, its default ones."""
        keys = {"hs_object_id", "createdate", "hs_lastmodifieddate"}
        keys.update(names if names is not None else _DEFAULTS)
        shaped: dict[str, Any] = {
            "id": record.id,
            "properties": {k: record.properties.get(k) for k in sorted(keys)},
            "createdAt": _iso(record.created),
            "updatedAt": _iso(record.updated),
            "archived": False,
        }
        linked = {
            other: {
                "results": [
                    {"id": i, "type": f"{_singular(record)}_to_{other[:-1]}"}
                    for i in record.associations[other]
                ]
            }
            for other in with_associations
            if record.associations.get(other)
        }
        if linked:
            shaped["associations"] = linked
        return shaped

    def _list(self, obj: str, query: Mapping[str, list[str]]) -> tuple[int, dict[str, Any]]:
        limit = int(query.get("limit", ["10"])[0])
        if limit > LIST_LIMIT:
            limit = LIST_LIMIT  # HubSpot caps the page silently
        after = int(query.get("after", ["0"])[0] or 0)
        names = _names(query.get("properties", []))
        assoc = _names(query.get("associations", []))
        with self._lock:
            ordered = sorted(self.objects[obj].values(), key=lambda r: int(r.id))
            page = [r for r in ordered if int(r.id) > after][:limit]
            results = [self._shape(r, names, assoc or ()) for r in page]
            more = len(page) == limit and any(int(r.id) > int(page[-1].id) for r in ordered)
        out: dict[str, Any] = {"results": results}
        if more:
            out["paging"] = {"next": {"after": page[-1].id, "link": "?after=" + page[-1].id}}
        return 200, out

    def _search(self, obj: str, payload: Mapping[str, Any]) -> tuple[int, dict[str, Any]]:
        limit = int(payload.get("limit", 10))
        if limit > SEARCH_LIMIT:
            return 400, _error(f"limit must be at most {SEARCH_LIMIT}", "VALIDATION_ERROR")
        after = int(payload.get("after") or 0)
        if after + limit > SEARCH_CAP:
            return 400, _error(
                f"Search results are limited to {SEARCH_CAP} records; narrow them with a filter",
                "VALIDATION_ERROR",
            )
        with self._lock:
            found = [
                r
                for r in self.objects[obj].values()
                if _passes(r, payload.get("filterGroups") or [])
            ]
            for sort in reversed(payload.get("sorts") or []):
                name = str(sort.get("propertyName") if isinstance(sort, dict) else sort)
                down = isinstance(sort, dict) and sort.get("direction") == "DESCENDING"
                found.sort(key=functools.partial(_sort_key, name=name), reverse=down)
            if not payload.get("sorts"):
                found.sort(key=lambda r: int(r.id))
            page = found[after : after + limit]
            results = [self._shape(r, payload.get("properties")) for r in page]
        out: dict[str, Any] = {"total": len(found), "results": results}
        if after + limit < len(found):
            out["paging"] = {"next": {"after": str(after + limit)}}
        return 200, out

    def _batch_read(self, obj: str, payload: Mapping[str, Any]) -> tuple[int, dict[str, Any]]:
        inputs = payload.get("inputs") or []
        if len(inputs) > BATCH_LIMIT:
            return 400, _batch_error(len(inputs))
        results, missing = [], []
        with self._lock:
            for item in inputs:
                record = self.objects[obj].get(str(item.get("id")))
                if record is None:
                    missing.append(str(item.get("id")))
                else:
                    results.append(self._shape(record, payload.get("properties")))
        return _batch_answer(results, missing)

    def _batch_update(self, obj: str, payload: Mapping[str, Any]) -> tuple[int, dict[str, Any]]:
        inputs = payload.get("inputs") or []
        if len(inputs) > BATCH_LIMIT:
            return 400, _batch_error(len(inputs))
        results, missing = [], []
        with self._lock:
            for item in inputs:
                for name, value in (item.get("properties") or {}).items():
                    known = self.properties.get(name)
                    if obj == "companies" and known is None:
                        return 400, _invalid(
                            name, f"Property {name} does not exist", "PROPERTY_DOESNT_EXIST"
                        )
                    options = [o["value"] for o in (known or {}).get("options", [])]
                    if options and value not in options and value not in (None, ""):
                        return 400, _invalid(
                            name, f"{value} was not one of the allowed options", "INVALID_OPTION"
                        )
            for item in inputs:
                id = str(item.get("id"))
                if id not in self.objects[obj]:
                    missing.append(id)
                    continue
                self.change(obj, id, item.get("properties") or {})
                self.writes[id] += 1
                results.append(
                    self._shape(self.objects[obj][id], list(item.get("properties") or {}))
                )
        return _batch_answer(results, missing)

    def _associations(
        self, obj: str, other: str, payload: Mapping[str, Any], scopes: frozenset[str]
    ) -> tuple[int, dict[str, Any]]:
        if obj not in OBJECTS or other not in OBJECTS:
            return 404, _error(f"Unknown object type {obj} or {other}", "OBJECT_NOT_FOUND")
        if f"crm.objects.{obj}.read" not in scopes:
            return 403, _scopes_error(f"crm.objects.{obj}.read")
        inputs = payload.get("inputs") or []
        if len(inputs) > 1000:
            return 400, _batch_error(len(inputs), 1000)
        results = []
        with self._lock:
            for item in inputs:
                record = self.objects[obj].get(str(item.get("id")))
                if record is None or not record.associations.get(other):
                    continue
                results.append(
                    {
                        "from": {"id": record.id},
                        "to": [
                            {
                                "toObjectId": int(i),
                                "associationTypes": [
                                    {"category": "HUBSPOT_DEFINED", "typeId": 5, "label": "Primary"}
                                ],
                            }
                            for i in record.associations[other]
                        ],
                    }
                )
        return 200, {"status": "COMPLETE", "results": results}

    def _properties(
        self, method: str, groups: bool, payload: Mapping[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        with self._lock:
            table = self.groups if groups else self.properties
            if method == "GET":
                return 200, {"results": list(table.values())}
            if method != "POST":
                return 405, _error(f"{method} is not allowed", "VALIDATION_ERROR")
            name = str(payload.get("name") or "")
            if not name:
                return 400, _error("name is required", "VALIDATION_ERROR")
            if name in table:
                return 409, _error(
                    f"A property named '{name}' already exists.", "OBJECT_ALREADY_EXISTS"
                )
            if groups:
                table[name] = {
                    "name": name,
                    "label": payload.get("label", name),
                    "displayOrder": -1,
                }
                return 201, table[name]
            if payload.get("groupName") not in self.groups:
                return 400, _error(
                    f"property group {payload.get('groupName')} does not exist", "VALIDATION_ERROR"
                )
            made = _property(
                name,
                payload.get("label", name),
                payload.get("type", "string"),
                payload["groupName"],
            )
            made["fieldType"] = payload.get("fieldType", "text")
            made["description"] = payload.get("description", "")
            made["options"] = list(payload.get("options") or [])
            table[name] = made
            return 201, made


def _singular(record: _Object) -> str:
    return record.kind


class _Handler(BaseHTTPRequestHandler):
    hub: HubSpotEmulator
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return

    def setup(self) -> None:
        super().setup()
        # Headers and body leave in two writes: without this, Nagle's algorithm holds the
        # body until the client's delayed ACK (40 ms a request).
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _serve(self) -> None:
        size = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(size) if size else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, out, extra, delay = self.hub.answer(self.command, self.path, headers, body)
        with self.hub._lock:
            self.hub.requests.append((self.command, urlsplit(self.path).path, status))
        if delay:
            time.sleep(delay)
        data = json.dumps(out).encode() if out is not None else b""
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for k, v in extra.items():
            self.send_header(k, v)
        self.end_headers()
        # The client may have given up (its timeout): the answer has nowhere to go.
        with contextlib.suppress(OSError):
            self.wfile.write(data)

    do_GET = do_POST = do_PATCH = do_DELETE = _serve


def _error(message: str, category: str) -> dict[str, Any]:
    return {
        "status": "error",
        "message": message,
        "correlationId": str(uuid.uuid4()),
        "category": category,
    }


def _invalid(name: str, message: str, error: str) -> dict[str, Any]:
    """HubSpot's answer to a batch holding a value it will not take."""
    detail = json.dumps([{"isValid": False, "message": message, "error": error, "name": name}])
    return _error(f"Property values were not valid: {detail}", "VALIDATION_ERROR")


def _scopes_error(scope: str) -> dict[str, Any]:
    body = _error(
        "This app hasn't been granted all required scopes to make this call. Read more about "
        "required scopes here: https://developers.hubspot.com/scopes.",
        "MISSING_SCOPES",
    )
    body["errors"] = [
        {
            "message": "One or more of the following scopes are required.",
            "context": {"requiredGranularScopes": [scope]},
        }
    ]
    return body


def _batch_error(n: int, limit: int = BATCH_LIMIT) -> dict[str, Any]:
    return _error(f"Batch input size {n} exceeds the limit of {limit} inputs", "VALIDATION_ERROR")


def _batch_answer(results: list[dict[str, Any]], missing: list[str]) -> tuple[int, dict[str, Any]]:
    now = _iso(dt.datetime.now(dt.UTC))
    out: dict[str, Any] = {
        "status": "COMPLETE",
        "results": results,
        "startedAt": now,
        "completedAt": now,
    }
    if not missing:
        return 200, out
    out["numErrors"] = 1
    out["errors"] = [
        {
            "status": "error",
            "category": "OBJECT_NOT_FOUND",
            "message": "Could not get some COMPANY objects, they may be deleted or not exist. "
            "Check that ids are valid.",
            "context": {"ids": missing},
        }
    ]
    return 207, out


def _property(name: str, label: str, type_: str, group: str) -> dict[str, Any]:
    return {
        "name": name,
        "label": label,
        "type": type_,
        "fieldType": "text",
        "groupName": group,
        "description": "",
        "options": [],
        "hubspotDefined": group == "companyinformation",
    }


def _names(values: list[str]) -> list[str] | None:
    names = [n for v in values for n in v.split(",") if n]
    return names or None


def _parse_time(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    if text.isdigit():
        return dt.datetime.fromtimestamp(int(text) / 1000, dt.UTC)
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _sort_key(record: _Object, name: str) -> tuple[Any, ...]:
    if name == "hs_lastmodifieddate":
        return (record.updated, int(record.id))
    if name == "hs_object_id":
        return (int(record.id),)
    return (record.properties.get(name) or "", int(record.id))


def _passes(record: _Object, groups: list[Mapping[str, Any]]) -> bool:
    """HubSpot's filter groups: any group, all of its filters."""
    if not groups:
        return True
    return any(all(_filter(record, f) for f in g.get("filters") or []) for g in groups)


def _filter(record: _Object, f: Mapping[str, Any]) -> bool:
    name, op, value = f.get("propertyName"), f.get("operator"), f.get("value")
    if name == "hs_lastmodifieddate":
        left: Any = _ms(record.updated)
        right: Any = (
            int(str(value))
            if str(value).isdigit()
            else _ms(_parse_time(str(value)) or record.updated)
        )
    elif name in ("hs_object_id",):
        left, right = int(record.id), int(value or 0)
    else:
        left, right = record.properties.get(str(name)), value
    if op == "EQ":
        return bool(left == right)
    if op == "GT":
        return bool(left is not None and left > right)
    if op == "GTE":
        return bool(left is not None and left >= right)
    if op == "LT":
        return bool(left is not None and left < right)
    if op == "LTE":
        return bool(left is not None and left <= right)
    if op == "HAS_PROPERTY":
        return left is not None
    if op == "IN":
        return str(left) in [str(v) for v in f.get("values") or []]
    return False


# Export labels of the demo CRM -> HubSpot's internal property names.
_COMPANY_NAMES = {
    "Company name": "name",
    "Company Domain Name": "domain",
    "Website URL": "website",
    "Number of Employees": "numberofemployees",
    "Annual Revenue": "annualrevenue",
    "Industry": "industry",
    "Country/Region": "country",
    "City": "city",
    "Year Founded": "founded_year",
    "Web Technologies": "web_technologies",
    "Total Money Raised": "total_money_raised",
    "Create Date": "createdate",
    "Lifecycle Stage": "lifecyclestage",
    "Time Zone": "timezone",
    "Churned": "churned",
    "Churn Date": "churn_date",
    "Description": "description",
}
_DEAL_NAMES = {
    "Deal Name": "dealname",
    "Deal Stage": "dealstage",
    "Amount": "amount",
    "Close Date": "closedate",
    "Create Date": "createdate",
    "Deal Type": "dealtype",
}
_STAGES = {"Closed Won": "closedwon", "Closed Lost": "closedlost"}
_BUILTIN = (
    *_COMPANY_NAMES.values(),
    "hs_object_id",
    "hs_lastmodifieddate",
)
_DEFAULTS = frozenset({"name", "domain"})
_KINDS = {"companies": "company", "deals": "deal", "contacts": "contact"}


def _enum(text: str | None) -> str | None:
    """HubSpot's internal value of an industry: 'Computer Software' -> 'COMPUTER_SOFTWARE'."""
    if not text:
        return None
    return re.sub(r"[^A-Z0-9]+", "_", text.upper()).strip("_")


def _digits(text: str | None) -> str | None:
    """A demo export's money ('$1.7M', '-34,470') as the plain number HubSpot holds."""
    if not text:
        return None
    money = parse_money(text)
    if money is None or money.amount is None:
        return text  # HubSpot would hold what was typed; ingestion quarantines it
    return f"{money.amount:.0f}" if float(money.amount).is_integer() else f"{money.amount:g}"


def _iso_text(text: str | None) -> str | None:
    """A demo export's date ('2022-08-16 13:16', '02/28/2022') as HubSpot's ISO time."""
    if not text:
        return None
    for fmt in ("%Y-%m-%d %H:%M", "%m/%d/%Y", "%Y-%m-%d", "%d/%m/%Y"):
        try:
            return _iso(dt.datetime.strptime(text, fmt).replace(tzinfo=dt.UTC))
        except ValueError:
            continue
    return text
