"""A Salesforce REST API on loopback, holding state: SOQL queries with ``nextRecordsUrl``
paging, sObject describe, Tooling API custom fields and sObject Collections updates, with
Salesforce's error bodies, its daily request limit and injectable faults.

Only the endpoints and SOQL the connector uses are spoken (``SELECT ... FROM ... WHERE
SystemModstamp > ... ORDER BY ...`` and ``Id IN (...)``); anything else is refused the way
Salesforce refuses it (``MALFORMED_QUERY``, ``NOT_FOUND``).

>>> with SalesforceEmulator(token="t") as sf:
...     ids = sf.seed(companies=[{"Name": "Acme", "Website": "acme.com"}])
...     sf.records["Account"][ids[0]]["Name"]
'Acme'
"""

from __future__ import annotations

import csv
import datetime as dt
import itertools
import json
import re
import threading
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

from icpkit.crm.base import CrmObject
from icpkit.crm.emulators.http import Fault, Reply, Served
from icpkit.demo import DemoFiles

SOBJECTS: dict[CrmObject, str] = {
    "companies": "Account",
    "deals": "Opportunity",
    "contacts": "Contact",
}
PREFIXES = {"Account": "001", "Opportunity": "006", "Contact": "003"}
# The standard fields each sObject offers here, and whether an API user may update them.
STANDARD: dict[str, dict[str, bool]] = {
    "Account": {
        "Id": False, "Name": True, "Website": True, "NumberOfEmployees": True,
        "AnnualRevenue": True, "Industry": True, "BillingCity": True, "BillingCountry": True,
        "Type": True, "OwnerId": True, "CreatedDate": False, "LastModifiedDate": False,
        "SystemModstamp": False,
    },
    "Opportunity": {
        "Id": False, "Name": True, "StageName": True, "IsWon": False, "IsClosed": False,
        "Amount": True, "CloseDate": True, "Type": True, "AccountId": True, "OwnerId": True,
        "CreatedDate": False, "LastModifiedDate": False, "SystemModstamp": False,
    },
    "Contact": {
        "Id": False, "FirstName": True, "LastName": True, "Email": True, "Title": True,
        "AccountId": True, "CreatedDate": False, "LastModifiedDate": False,
        "SystemModstamp": False,
    },
}  # fmt: skip
SYSTEM = ("CreatedDate", "LastModifiedDate", "SystemModstamp")
WON_STAGES = {"closedwon"}
CLOSED_STAGES = {"closedwon", "closedlost"}
MAX_URI = 16_384  # Salesforce refuses longer request URIs
# The demo CRM's export columns and the Salesforce fields that hold them.
DEMO_ACCOUNT = {
    "Company name": "Name", "Company Domain Name": "Website",
    "Number of Employees": "NumberOfEmployees", "Annual Revenue": "AnnualRevenue",
    "Industry": "Industry", "Country/Region": "BillingCountry", "City": "BillingCity",
    "Create Date": "CreatedDate", "Lifecycle Stage": "Type",
}  # fmt: skip
DEMO_DEAL = {
    "Deal Name": "Name", "Deal Stage": "StageName", "Amount": "Amount",
    "Close Date": "CloseDate", "Create Date": "CreatedDate", "Deal Type": "Type",
}  # fmt: skip


def stamp(moment: dt.datetime) -> str:
    """A datetime as Salesforce writes it: ``2024-05-01T09:30:00.000+0000``."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{moment.microsecond // 1000:03d}+0000"
    )


def parse_stamp(text: str) -> dt.datetime:
    """A SOQL datetime literal or a Salesforce datetime value, as an aware datetime."""
    value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


class SalesforceEmulator(Served):
    """A Salesforce org on 127.0.0.1: ``records`` by sObject and id, ``writes`` counted per
    record id, ``requests`` as (method, path) in order; a context manager that starts and
    stops the server."""

    content_type = "application/json;charset=UTF-8"

    def __init__(
        self,
        *,
        token: str = "00D-emulator!token",
        api_version: str = "v60.0",
        page_size: int = 2000,
        batch_limit: int = 200,
        daily_limit: int = 1_000_000,
        can_customize: bool = True,
        readonly_fields: Iterable[str] = (),
    ) -> None:
        self.token = token
        self.api_version = api_version
        self.page_size = page_size
        self.batch_limit = batch_limit
        self.daily_limit = daily_limit
        self.can_customize = can_customize
        self.readonly_fields = set(readonly_fields)
        self.records: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in STANDARD}
        self.fields: dict[str, dict[str, bool]] = {k: dict(v) for k, v in STANDARD.items()}
        self.custom_fields: dict[str, dict[str, Any]] = {}  # FullName -> Metadata
        self.writes: Counter[str] = Counter()
        self.requests: list[tuple[str, str]] = []
        self.faults: list[Fault] = []
        self.api_usage = 0
        self._cursors: dict[str, list[dict[str, Any]]] = {}
        self._ids = itertools.count(1)
        self._clock = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
        self._lock = threading.RLock()

    # -- set-up ---------------------------------------------------------------------------
    def seed(
        self,
        companies: Iterable[Mapping[str, Any]] = (),
        deals: Iterable[Mapping[str, Any]] = (),
        contacts: Iterable[Mapping[str, Any]] = (),
    ) -> list[str]:
        """Add records (plain dicts of API names; ``Id`` and the system dates are given when
        absent); returns the new ids in order, companies first."""
        ids = []
        with self._lock:
            for sobject, rows in (
                ("Account", companies),
                ("Opportunity", deals),
                ("Contact", contacts),
            ):
                for row in rows:
                    ids.append(self._insert(sobject, dict(row)))
        return ids

    def seed_demo(self, files: DemoFiles) -> dict[str, int]:
        """Load the demo CRM's companies and deals as Accounts and Opportunities (values as
        the export writes them, each deal linked to its company's Account); returns the
        counts by sObject."""
        accounts: dict[str, str] = {}
        with self._lock:
            with files.companies.open(encoding="utf-8-sig", newline="") as fh:
                for row in csv.DictReader(fh):
                    values = {api: row[name] for name, api in DEMO_ACCOUNT.items() if row.get(name)}
                    values.setdefault("Website", row.get("Website URL") or None)
                    accounts[row["Record ID"]] = self._insert("Account", values)
            with files.deals.open(encoding="utf-8-sig", newline="") as fh:
                for row in csv.DictReader(fh):
                    values = {api: row[name] for name, api in DEMO_DEAL.items() if row.get(name)}
                    values["AccountId"] = accounts.get(row.get("Associated Company IDs") or "")
                    self._insert("Opportunity", values)
        return {sobject: len(rows) for sobject, rows in self.records.items()}

    def touch(self, record_id: str, **values: Any) -> None:
        """Change a record as a user would (new SystemModstamp)."""
        with self._lock:
            sobject = self._sobject_of(record_id)
            row = self.records[sobject][record_id]
            row.update(values)
            row["SystemModstamp"] = row["LastModifiedDate"] = stamp(self._tick())

    # -- state ----------------------------------------------------------------------------
    def _tick(self) -> dt.datetime:
        self._clock += dt.timedelta(milliseconds=1)
        return self._clock

    def _sobject_of(self, record_id: str) -> str:
        for sobject, prefix in PREFIXES.items():
            if record_id.startswith(prefix) and record_id in self.records[sobject]:
                return sobject
        raise KeyError(record_id)

    def _insert(self, sobject: str, row: dict[str, Any]) -> str:
        for name in row:
            if name not in self.fields[sobject]:
                if not name.endswith("__c"):
                    raise ValueError(f"no field {name!r} on {sobject}")
                self.fields[sobject][name] = True
        record_id = row.get("Id") or f"{PREFIXES[sobject]}{next(self._ids):012d}AAA"
        now = stamp(self._tick())
        for name in SYSTEM:
            row.setdefault(name, now)
        if sobject == "Opportunity":
            # The org's stage picklist says which stages are won and closed; seeded stages
            # are spelled as exports spell them ("Closed won", "closedwon").
            stage = re.sub(r"[^a-z]", "", str(row.get("StageName") or "").lower())
            row.setdefault("IsWon", stage in WON_STAGES)
            row.setdefault("IsClosed", stage in CLOSED_STAGES)
        row["Id"] = record_id
        self.records[sobject][record_id] = row
        return str(record_id)

    # -- the API --------------------------------------------------------------------------
    def handle(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> Reply:
        """The answer to one request (its faults, limits and state change applied)."""
        with self._lock:
            self.requests.append((method, target.split("?")[0]))
            fault = self._fault(method)
            if fault is not None and fault.hang and not fault.applied:
                return Reply(0, {}, None, delay=fault.hang, drop=True)
            if headers.get("authorization") != f"Bearer {self.token}":
                return Reply(401, {}, _errors("INVALID_SESSION_ID", "Session expired or invalid"))
            if self.api_usage >= self.daily_limit:
                limit = _errors("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
                return Reply(403, self._limit_header(), limit)
            self.api_usage += 1
            if fault is not None and fault.status:
                extra = self._limit_header()
                if fault.retry_after is not None:
                    extra["Retry-After"] = f"{fault.retry_after:g}"
                code = {429: "REQUEST_LIMIT_EXCEEDED", 503: "SERVER_UNAVAILABLE"}
                failure = _errors(code.get(fault.status, "UNKNOWN_EXCEPTION"), "injected failure")
                return Reply(fault.status, extra, failure)
            if len(target) > MAX_URI:
                return Reply(414, {}, _errors("URI_TOO_LONG", "request URI too long"))
            status, answer = self._route(method, target, body)
            if fault is not None:  # carried out; its answer comes late, or never
                return Reply(status, self._limit_header(), answer,
                             delay=fault.hang or fault.slow, drop=bool(fault.hang))  # fmt: skip
            return Reply(status, self._limit_header(), answer)

    def _limit_header(self) -> dict[str, str]:
        return {"Sforce-Limit-Info": f"api-usage={self.api_usage}/{self.daily_limit}"}

    def _route(self, method: str, target: str, body: bytes) -> tuple[int, Any]:
        parts = urlsplit(target)
        prefix = f"/services/data/{self.api_version}"
        if not parts.path.startswith(prefix + "/"):
            return 404, _errors("NOT_FOUND", "The requested resource does not exist")
        path = parts.path[len(prefix) :]
        query = parse_qs(parts.query)
        if method == "GET" and path == "/query" and "q" in query:
            return self._query(query["q"][0])
        if method == "GET" and path.startswith("/query/"):
            return self._next_page(path.removeprefix("/query/"))
        match = re.fullmatch(r"/sobjects/(\w+)/describe", path)
        if method == "GET" and match:
            return self._describe(match.group(1))
        if method == "POST" and path == "/tooling/sobjects/CustomField":
            return self._create_field(json.loads(body or b"{}"))
        if method == "PATCH" and path == "/composite/sobjects":
            return self._update(json.loads(body or b"{}"))
        return 404, _errors("NOT_FOUND", "The requested resource does not exist")

    def _query(self, soql: str) -> tuple[int, Any]:
        match = re.fullmatch(
            r"\s*SELECT\s+(?P<fields>.+?)\s+FROM\s+(?P<obj>\w+)"
            r"(?:\s+WHERE\s+(?P<where>.+?))?(?:\s+ORDER\s+BY\s+(?P<order>.+?))?"
            r"(?:\s+LIMIT\s+(?P<limit>\d+))?\s*",
            soql,
            re.IGNORECASE | re.DOTALL,
        )
        if match is None or match.group("obj") not in self.records:
            return 400, _errors("MALFORMED_QUERY", f"unexpected query: {soql[:80]}")
        sobject = match.group("obj")
        fields = [f.strip() for f in match.group("fields").split(",")]
        for name in fields:
            if name not in self.fields[sobject]:
                return 400, _errors(
                    "INVALID_FIELD", f"No such column '{name}' on entity '{sobject}'."
                )
        rows = list(self.records[sobject].values())
        for condition in re.split(r"\s+AND\s+", match.group("where") or "", flags=re.I):
            if not condition:
                continue
            try:
                rows = _filter(rows, condition)
            except ValueError as exc:
                return 400, _errors("MALFORMED_QUERY", str(exc))
        for key in reversed([k.strip() for k in (match.group("order") or "").split(",") if k]):
            name, _, way = key.partition(" ")
            rows.sort(key=lambda r: str(r.get(name) or ""), reverse=way.strip().upper() == "DESC")
        if match.group("limit"):
            rows = rows[: int(match.group("limit"))]
        answer = [
            {
                "attributes": {
                    "type": sobject,
                    "url": f"/services/data/{self.api_version}/sobjects/{sobject}/{r['Id']}",
                },
                **{name: r.get(name) for name in fields},
            }
            for r in rows
        ]
        cursor = f"01g{next(self._ids):015d}"
        self._cursors[cursor] = answer
        return self._page(cursor, 0)

    def _page(self, cursor: str, start: int) -> tuple[int, Any]:
        rows = self._cursors[cursor]
        page = rows[start : start + self.page_size]
        done = start + self.page_size >= len(rows)
        answer: dict[str, Any] = {"totalSize": len(rows), "done": done, "records": page}
        if not done:
            answer["nextRecordsUrl"] = (
                f"/services/data/{self.api_version}/query/{cursor}-{start + self.page_size}"
            )
        return 200, answer

    def _next_page(self, locator: str) -> tuple[int, Any]:
        cursor, _, start = locator.rpartition("-")
        if cursor not in self._cursors or not start.isdigit():
            return 400, _errors("INVALID_QUERY_LOCATOR", "invalid query locator")
        return self._page(cursor, int(start))

    def _describe(self, sobject: str) -> tuple[int, Any]:
        if sobject not in self.fields:
            return 404, _errors("NOT_FOUND", f"The requested resource does not exist: {sobject}")
        fields = [
            {
                "name": name,
                "label": self.custom_fields.get(f"{sobject}.{name}", {}).get("label", name),
                "custom": name.endswith("__c"),
                "updateable": editable and name not in self.readonly_fields,
                "type": self.custom_fields.get(f"{sobject}.{name}", {}).get("type", "string"),
            }
            for name, editable in self.fields[sobject].items()
        ]
        return 200, {"name": sobject, "updateable": True, "queryable": True, "fields": fields}

    def _create_field(self, body: Mapping[str, Any]) -> tuple[int, Any]:
        if not self.can_customize:
            return 403, _errors(
                "INSUFFICIENT_ACCESS_OR_READONLY",
                "insufficient access rights on entity: CustomField",
            )
        full_name = str(body.get("FullName", ""))
        metadata = body.get("Metadata") or {}
        sobject, _, name = full_name.partition(".")
        if sobject not in self.fields or not name.endswith("__c") or "type" not in metadata:
            return 400, _errors("INVALID_INPUT", f"invalid FullName or Metadata: {full_name!r}")
        if name in self.fields[sobject]:
            return 400, _errors("DUPLICATE_DEVELOPER_NAME", f"duplicate field name {name}")
        self.fields[sobject][name] = True
        self.custom_fields[full_name] = dict(metadata)
        return 201, {"id": f"00N{next(self._ids):015d}", "success": True, "errors": []}

    def _update(self, body: Mapping[str, Any]) -> tuple[int, Any]:
        records = body.get("records") or []
        if len(records) > self.batch_limit:
            return 400, _errors(
                "EXCEEDED_ID_LIMIT",
                f"record limit reached. cannot submit more than {self.batch_limit} records"
                " into this call",
            )
        results = []
        for record in records:
            results.append(self._update_one(record))
        if body.get("allOrNone") and not all(r["success"] for r in results):
            return 200, [
                r if not r["success"] else {"success": False, "errors": [_rolled_back()]}
                for r in results
            ]
        return 200, results

    def _update_one(self, record: Mapping[str, Any]) -> dict[str, Any]:
        record_id = str(record.get("id", ""))
        sobject = str((record.get("attributes") or {}).get("type", ""))
        if record_id not in self.records.get(sobject, {}):
            return _failure("ENTITY_IS_DELETED", "entity is deleted", [])
        values = {k: v for k, v in record.items() if k not in ("id", "attributes")}
        for name, value in values.items():
            if name not in self.fields[sobject]:
                return _failure("INVALID_FIELD", f"No such column '{name}' on sobject", [name])
            if not self.fields[sobject][name] or name in self.readonly_fields:
                return _failure(
                    "INVALID_FIELD_FOR_INSERT_UPDATE", f"Unable to create/update fields: {name}",
                    [name],
                )  # fmt: skip
            length = self.custom_fields.get(f"{sobject}.{name}", {}).get("length")
            if isinstance(value, str) and length and len(value) > int(length):
                return _failure(
                    "STRING_TOO_LONG", f"{name}: data value too large (max length={length})",
                    [name],
                )  # fmt: skip
        row = self.records[sobject][record_id]
        row.update(values)
        row["SystemModstamp"] = row["LastModifiedDate"] = stamp(self._tick())
        self.writes[record_id] += 1
        return {"id": record_id, "success": True, "errors": []}


def _filter(rows: list[dict[str, Any]], condition: str) -> list[dict[str, Any]]:
    """The rows meeting one SOQL condition: ``Field > datetime`` or ``Id IN ('a', 'b')``."""
    inside = re.fullmatch(r"\s*(\w+)\s+IN\s*\((.*)\)\s*", condition, re.I | re.S)
    if inside:
        wanted = {v.strip().strip("'") for v in inside.group(2).split(",")}
        return [r for r in rows if str(r.get(inside.group(1))) in wanted]
    compare = re.fullmatch(r"\s*(\w+)\s*(>=|<=|>|<|=)\s*(\S+)\s*", condition)
    if compare is None:
        raise ValueError(f"unexpected condition: {condition[:80]}")
    name, op, literal = compare.groups()
    try:
        bound = parse_stamp(literal)
    except ValueError:
        raise ValueError(f"bad datetime literal: {literal[:40]}") from None
    tests = {
        ">": lambda v: v > bound, ">=": lambda v: v >= bound, "<": lambda v: v < bound,
        "<=": lambda v: v <= bound, "=": lambda v: v == bound,
    }  # fmt: skip
    return [r for r in rows if r.get(name) and tests[op](parse_stamp(str(r[name])))]


def _errors(code: str, message: str) -> list[dict[str, Any]]:
    return [{"message": message, "errorCode": code}]


def _failure(code: str, message: str, fields: list[str]) -> dict[str, Any]:
    return {
        "success": False,
        "errors": [{"statusCode": code, "message": message, "fields": fields}],
    }


def _rolled_back() -> dict[str, Any]:
    return {"statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK", "message": "rolled back"}
