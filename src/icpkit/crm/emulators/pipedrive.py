"""A Pipedrive API (v1) on loopback, holding state: organizations, deals and persons listed
with ``start``/``limit`` paging, changes through ``/recents``, organization fields with
generated 40-character keys, one-by-one organization updates, the ``api_token`` query
parameter, Pipedrive's rate limit (429 with ``Retry-After`` and the ``x-ratelimit-*``
headers) and injectable faults.

Records are seeded as plain dicts of Pipedrive's API keys (``name``, ``title``, ``org_id``
...); a key that is no API key names a custom field, created on the fly as a user would have:

>>> with PipedriveEmulator(token="t") as pd:
...     (org,) = pd.seed(companies=[{"name": "Acme", "Website": "acme.com"}])
...     key = pd.field_key("organization", "Website")
...     len(key), pd.records["organization"][org][key]
(40, 'acme.com')
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import itertools
import json
import re
import threading
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

from icpkit.crm.emulators.http import Fault, Reply, Served
from icpkit.demo import DemoFiles

MAX_LIMIT = 500  # Pipedrive pages hold at most 500 items
ITEMS = {"organization": "organizations", "deal": "deals", "person": "persons"}
# The standard fields per item: key, name (the label the exports write after "Item - ")
# and field type; as /organizationFields, /dealFields and /personFields list them.
STANDARD: dict[str, list[tuple[str, str, str]]] = {
    "organization": [
        ("id", "ID", "int"), ("name", "Name", "varchar"), ("owner_id", "Owner", "user"),
        ("people_count", "People", "int"), ("address", "Address", "address"),
        ("add_time", "Organization created", "date"), ("update_time", "Update time", "date"),
    ],
    "deal": [
        ("id", "ID", "int"), ("title", "Title", "varchar"), ("value", "Value", "monetary"),
        ("currency", "Currency", "varchar_options"), ("status", "Status", "status"),
        ("stage_id", "Stage", "stage"), ("org_id", "Organization", "org"),
        ("person_id", "Contact person", "people"), ("user_id", "Owner", "user"),
        ("add_time", "Deal created", "date"), ("update_time", "Update time", "date"),
        ("won_time", "Won time", "date"), ("lost_time", "Lost time", "date"),
        ("close_time", "Deal closed on", "date"), ("lost_reason", "Lost reason", "varchar"),
        ("expected_close_date", "Expected close date", "date"),
    ],
    "person": [
        ("id", "ID", "int"), ("name", "Name", "varchar"), ("first_name", "First name", "varchar"),
        ("last_name", "Last name", "varchar"), ("email", "Email", "varchar"),
        ("job_title", "Job title", "varchar"), ("org_id", "Organization", "org"),
        ("add_time", "Person created", "date"), ("update_time", "Update time", "date"),
    ],
}  # fmt: skip
ADDRESS = [("address_country", "Country"), ("address_locality", "City/town/village/locality")]
STAGES = [(1, "Qualified"), (2, "Contact Made"), (3, "Proposal Made"), (4, "Negotiations")]
# The demo CRM's export columns and the Pipedrive fields (keys, or custom field names).
DEMO_ORG = {
    "Company name": "name", "Company Domain Name": "Website",
    "Number of Employees": "Number of employees", "Annual Revenue": "Annual revenue",
    "Industry": "Industry", "Country/Region": "address_country", "City": "address_locality",
    "Create Date": "add_time",
}  # fmt: skip
DEMO_DEAL = {
    "Deal Name": "title", "Amount": "value", "Close Date": "close_time",
    "Create Date": "add_time", "Deal Type": "Deal type",
}  # fmt: skip
FIELD_TYPES = {"varchar", "text", "double", "int", "monetary", "enum", "set", "date"}


def stamp(moment: dt.datetime) -> str:
    """A time as Pipedrive writes it (UTC, to the second): ``2024-05-01 09:30:00``."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


class PipedriveEmulator(Served):
    """A Pipedrive company account on 127.0.0.1: ``records`` by item and id, ``fields`` by
    item, ``writes`` counted per organization id, ``requests`` as (method, path) without the
    query (never the token); ``rate_limit`` calls per ``window_s`` seconds."""

    def __init__(
        self,
        *,
        token: str = "emulator-api-token",
        rate_limit: int = 10_000,
        window_s: float = 2.0,
        can_add_fields: bool = True,
        can_edit: bool = True,
    ) -> None:
        self.token = token
        self.rate_limit = rate_limit
        self.window_s = window_s
        self.can_add_fields = can_add_fields
        self.can_edit = can_edit
        self.records: dict[str, dict[int, dict[str, Any]]] = {item: {} for item in ITEMS}
        self.fields: dict[str, list[dict[str, Any]]] = {
            item: [_field(i + 1, key, name, kind, custom=False) for i, (key, name, kind) in
                   enumerate(specs)]
            for item, specs in STANDARD.items()
        }  # fmt: skip
        for field in self.fields["organization"]:
            if field["key"] == "address":
                field["subfields"] = [{"key": k, "name": n} for k, n in ADDRESS]
        self.stages = [{"id": i, "name": n, "pipeline_id": 1} for i, n in STAGES]
        self.writes: Counter[int] = Counter()
        self.requests: list[tuple[str, str]] = []
        self.faults: list[Fault] = []
        self.rate_limited = 0
        self._ids = itertools.count(1)
        self._field_ids = itertools.count(100)
        self._clock = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
        self._window: tuple[float, int] = (time.monotonic(), 0)
        self._lock = threading.RLock()

    # -- set-up ---------------------------------------------------------------------------
    def seed(
        self,
        companies: Iterable[Mapping[str, Any]] = (),
        deals: Iterable[Mapping[str, Any]] = (),
        contacts: Iterable[Mapping[str, Any]] = (),
    ) -> list[int]:
        """Add records (API keys, or names of custom fields); returns their ids in order,
        companies first."""
        ids = []
        with self._lock:
            for item, rows in (("organization", companies), ("deal", deals), ("person", contacts)):
                for row in rows:
                    ids.append(self._insert(item, row))
        return ids

    def seed_demo(self, files: DemoFiles) -> dict[str, int]:
        """Load the demo CRM's companies and deals as organizations and deals (values as the
        export writes them; a deal's status from its stage, linked to its organization);
        returns the counts by item."""
        orgs: dict[str, int] = {}
        with self._lock:
            with files.companies.open(encoding="utf-8-sig", newline="") as fh:
                for row in csv.DictReader(fh):
                    values = {key: row[name] for name, key in DEMO_ORG.items() if row.get(name)}
                    values.setdefault("Website", row.get("Website URL") or None)
                    orgs[row["Record ID"]] = self._insert("organization", values)
            with files.deals.open(encoding="utf-8-sig", newline="") as fh:
                for row in csv.DictReader(fh):
                    values = {key: row[name] for name, key in DEMO_DEAL.items() if row.get(name)}
                    stage = re.sub(r"[^a-z]", "", (row.get("Deal Stage") or "").lower())
                    values["status"] = {"closedwon": "won", "closedlost": "lost"}.get(stage, "open")
                    values["stage_id"] = STAGES[-1][0] if values["status"] != "open" else 1
                    values["org_id"] = orgs.get(row.get("Associated Company IDs") or "")
                    self._insert("deal", values)
        return {item: len(rows) for item, rows in self.records.items()}

    def field_key(self, item: str, name: str) -> str:
        """The key of ``item``'s field called ``name`` (created as a text field if absent)."""
        with self._lock:
            for field in self.fields[item]:
                if field["name"] == name or field["key"] == name:
                    return str(field["key"])
            return str(self._add_field(item, name, "varchar", [])["key"])

    def touch(self, item: str, record_id: int, **values: Any) -> None:
        """Change a record as a user would (a new ``update_time``)."""
        with self._lock:
            row = self.records[item][record_id]
            for name, value in values.items():
                row[self.field_key(item, name)] = value
            row["update_time"] = stamp(self._tick())

    # -- state ----------------------------------------------------------------------------
    def _tick(self) -> dt.datetime:
        self._clock += dt.timedelta(seconds=1)
        return self._clock

    def _add_field(
        self, item: str, name: str, kind: str, options: list[Mapping[str, Any]]
    ) -> dict[str, Any]:
        number = next(self._field_ids)
        key = hashlib.sha1(f"{item}:{number}:{name}".encode()).hexdigest()  # 40 hex, as Pipedrive
        field = _field(number, key, name, kind, custom=True)
        if kind in ("enum", "set"):
            field["options"] = [
                {"id": next(self._field_ids), "label": str(o["label"])} for o in options
            ]
        self.fields[item].append(field)
        return field

    def _insert(self, item: str, given: Mapping[str, Any]) -> int:
        row: dict[str, Any] = {}
        for name, value in given.items():
            key = name if name in ("id", "address_country", "address_locality") else None
            row[key or self.field_key(item, name)] = value
        record_id = int(row.get("id") or next(self._ids))
        now = stamp(self._tick())
        row.setdefault("add_time", now)
        row.setdefault("update_time", now)
        row["id"] = record_id
        if item == "deal":
            row.setdefault("status", "open")
            row.setdefault("currency", "USD")
        if item == "person" and isinstance(row.get("email"), str):
            row["email"] = [{"label": "work", "value": row["email"], "primary": True}]
        self.records[item][record_id] = row
        return record_id

    def _shown(self, item: str, row: Mapping[str, Any]) -> dict[str, Any]:
        """A record as the API shows it: links as objects with names and values."""
        out = dict(row)
        org = row.get("org_id")
        if item != "organization" and isinstance(org, int):
            name = self.records["organization"].get(org, {}).get("name")
            out["org_id"] = {"name": name, "value": org, "people_count": 0, "active_flag": True}
        owner = row.get("owner_id" if item == "organization" else "user_id")
        if isinstance(owner, int):
            out["owner_id" if item == "organization" else "user_id"] = {
                "id": owner, "name": f"User {owner}", "value": owner,
            }  # fmt: skip
        out.setdefault("active_flag", True)
        return out

    # -- the API --------------------------------------------------------------------------
    def handle(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> Reply:
        """The answer to one request (its faults, rate limit and state change applied)."""
        parts = urlsplit(target)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        with self._lock:
            self.requests.append((method, parts.path))
            fault = self._fault(method)
            if fault is not None and fault.hang and not fault.applied:
                return Reply(0, {}, None, delay=fault.hang, drop=True)
            if query.get("api_token") != self.token:
                return Reply(401, {}, _error(401, "unauthorized access"))
            limits = self._count()
            if limits is None:
                self.rate_limited += 1
                wait = self._window[0] + self.window_s - time.monotonic()
                extra = {**self._limit_headers(0), "Retry-After": f"{max(wait, 0.0):.3f}"}
                return Reply(429, extra, _error(429, "Request over limit"))
            if fault is not None and fault.status:
                extra = dict(limits)
                if fault.retry_after is not None:
                    extra["Retry-After"] = f"{fault.retry_after:g}"
                return Reply(fault.status, extra, _error(fault.status, "injected failure"))
            status, answer = self._route(method, parts.path, query, body)
            if fault is not None:  # carried out; its answer comes late, or never
                return Reply(status, limits, answer, delay=fault.hang or fault.slow,
                             drop=bool(fault.hang))  # fmt: skip
            return Reply(status, limits, answer)

    def _count(self) -> dict[str, str] | None:
        """Count a call in the rate window; None when over the limit."""
        start, used = self._window
        now = time.monotonic()
        if now - start >= self.window_s:
            start, used = now, 0
        if used >= self.rate_limit:
            self._window = (start, used)
            return None
        self._window = (start, used + 1)
        return self._limit_headers(self.rate_limit - used - 1)

    def _limit_headers(self, remaining: int) -> dict[str, str]:
        reset = max(0.0, self._window[0] + self.window_s - time.monotonic())
        return {
            "x-ratelimit-limit": str(self.rate_limit),
            "x-ratelimit-remaining": str(remaining),
            "x-ratelimit-reset": f"{reset:.3f}",
        }

    def _route(
        self, method: str, path: str, query: Mapping[str, str], body: bytes
    ) -> tuple[int, Any]:
        if not path.startswith("/api/v1/"):
            return 404, _error(404, "Unknown method .")
        path = path.removeprefix("/api/v1/")
        items = {plural: item for item, plural in ITEMS.items()}
        if method == "GET" and path in items:
            return self._list(items[path], query)
        if method == "GET" and path == "recents":
            return self._recents(query)
        if method == "GET" and path == "stages":
            return 200, {"success": True, "data": self.stages}
        fields = {f"{item}Fields": item for item in ITEMS}
        if method == "GET" and path in fields:
            return self._page(self.fields[fields[path]], query, {})
        if method == "POST" and path == "organizationFields":
            return self._create_field(json.loads(body or b"{}"))
        match = re.fullmatch(r"(organizations|deals|persons)/(\d+)", path)
        writable = method == "PUT" and match is not None and match[1] == "organizations"
        if match and (method == "GET" or writable):
            item, record_id = items[match[1]], int(match[2])
            if record_id not in self.records[item]:
                return 404, _error(404, f"{item.capitalize()} not found")
            if method == "GET":
                return 200, {
                    "success": True,
                    "data": self._shown(item, self.records[item][record_id]),
                }
            return self._update(record_id, json.loads(body or b"{}"))
        return 404, _error(404, "Unknown method .")

    def _page(
        self, rows: list[Any], query: Mapping[str, str], extra: dict[str, Any]
    ) -> tuple[int, Any]:
        try:
            start = int(query.get("start", 0))
            limit = min(int(query.get("limit", 100)), MAX_LIMIT)
        except ValueError:
            return 400, _error(400, "start and limit must be integers")
        page = rows[start : start + limit]
        more = start + limit < len(rows)
        pagination: dict[str, Any] = {
            "start": start,
            "limit": limit,
            "more_items_in_collection": more,
        }
        if more:
            pagination["next_start"] = start + limit
        answer = {
            "success": True,
            "data": page or None,  # Pipedrive answers an empty page with null
            "additional_data": {**extra, "pagination": pagination},
        }
        return 200, answer

    def _list(self, item: str, query: Mapping[str, str]) -> tuple[int, Any]:
        rows = list(self.records[item].values())
        sort = query.get("sort", "id ASC")
        for key in reversed([k.strip() for k in sort.split(",") if k.strip()]):
            name, _, way = key.partition(" ")
            if name not in ("id", "update_time", "add_time", "name", "title"):
                return 400, _error(400, f"Invalid sort field: {name}")
            rows.sort(key=lambda r: (r.get(name) is None, r.get(name)), reverse=way == "DESC")
        return self._page([self._shown(item, r) for r in rows], query, {})

    def _recents(self, query: Mapping[str, str]) -> tuple[int, Any]:
        since_text = query.get("since_timestamp", "")
        try:
            since = dt.datetime.strptime(since_text, "%Y-%m-%d %H:%M:%S")
        except ValueError:
            return 400, _error(400, "since_timestamp must be YYYY-MM-DD HH:MM:SS")
        wanted = [i.strip() for i in query.get("items", ",".join(ITEMS)).split(",")]
        if any(i not in ITEMS for i in wanted):
            return 400, _error(400, f"Invalid items: {query.get('items')}")
        changes = sorted(
            (
                (row["update_time"], item, row)
                for item in wanted
                for row in self.records[item].values()
                if row["update_time"] >= stamp(since.replace(tzinfo=dt.UTC))
            ),
            key=lambda c: (c[0], c[2]["id"]),
        )
        rows = [
            {"item": item, "id": r["id"], "data": self._shown(item, r)} for _, item, r in changes
        ]
        status, answer = self._page(rows, query, {"since_timestamp": since_text})
        page = answer.get("data") or []
        answer["additional_data"]["last_timestamp_on_page"] = (
            page[-1]["data"]["update_time"] if page else since_text
        )
        return status, answer

    def _create_field(self, body: Mapping[str, Any]) -> tuple[int, Any]:
        if not self.can_add_fields:
            return 403, _error(403, "You do not have permission to add custom fields")
        name, kind = str(body.get("name") or ""), str(body.get("field_type") or "")
        if not name or kind not in FIELD_TYPES:
            return 400, _error(400, f"Bad request: name and a known field_type needed ({kind})")
        options = body.get("options") or []
        if kind in ("enum", "set") and not options:
            return 400, _error(400, "options are needed for an enum field")
        field = self._add_field("organization", name, kind, options)
        return 201, {"success": True, "data": field}

    def _update(self, record_id: int, body: Mapping[str, Any]) -> tuple[int, Any]:
        if not self.can_edit:
            return 403, _error(403, "You do not have permission to edit this organization")
        known = {f["key"]: f for f in self.fields["organization"]}
        for key, value in body.items():
            field = known.get(key)
            if field is None:
                continue  # Pipedrive ignores keys it does not know
            options = {o["id"] for o in field.get("options") or []}
            if field["field_type"] == "enum" and value is not None and value not in options:
                return 400, _error(400, f"{value!r} is not an option of {field['name']}")
            number = isinstance(value, int | float) and not isinstance(value, bool)
            if field["field_type"] == "double" and value is not None and not number:
                return 400, _error(400, f"{field['name']} must be a number")
        row = self.records["organization"][record_id]
        row.update({k: v for k, v in body.items() if k in known and k != "id"})
        row["update_time"] = stamp(self._tick())
        self.writes[record_id] += 1
        return 200, {"success": True, "data": self._shown("organization", row)}


def _field(number: int, key: str, name: str, kind: str, *, custom: bool) -> dict[str, Any]:
    return {
        "id": number,
        "key": key,
        "name": name,
        "field_type": kind,
        "edit_flag": custom,
        "active_flag": True,
        "mandatory_flag": False,
    }


def _error(code: int, message: str) -> dict[str, Any]:
    return {
        "success": False,
        "error": message,
        "errorCode": code,
        "error_info": "Please check developers.pipedrive.com for more information about "
        "Pipedrive API.",
    }
