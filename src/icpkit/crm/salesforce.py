"""The Salesforce connector: Accounts, Opportunities and Contacts read through SOQL over the
REST API, ICP fields created through the Tooling API and written with sObject Collections.

Records carry Salesforce's API names (``Name``, ``NumberOfEmployees``, ``StageName``,
``AccountId`` ...), the names of its Data Loader exports, so ingestion reads them as it reads
an export. ICP fields are custom fields named from the sync's field names:

>>> api_name("icp_fit"), api_name("icp_top_reasons")
('ICP_Fit__c', 'ICP_Top_Reasons__c')
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
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

log = logging.getLogger(__name__)

SOBJECTS: dict[CrmObject, str] = {
    "companies": "Account",
    "deals": "Opportunity",
    "contacts": "Contact",
}
# The fields read per object: the API names Salesforce's own exports use.
FIELDS: dict[CrmObject, tuple[str, ...]] = {
    "companies": (
        "Id", "Name", "Website", "NumberOfEmployees", "AnnualRevenue", "Industry",
        "BillingCity", "BillingCountry", "Type", "CreatedDate", "SystemModstamp",
    ),
    "deals": (
        "Id", "Name", "StageName", "IsWon", "IsClosed", "Amount", "CloseDate", "Type",
        "AccountId", "CreatedDate", "SystemModstamp",
    ),
    "contacts": (
        "Id", "FirstName", "LastName", "Email", "Title", "AccountId", "CreatedDate",
        "SystemModstamp",
    ),
}  # fmt: skip
BATCH = 200  # sObject Collections take at most 200 records a call
IDS_PER_QUERY = 200  # keeps a query by ids far below the 16,384-character URI limit
LOCKED = "UNABLE_TO_LOCK_ROW"  # a record another transaction holds: worth another try
RECORD_ID = re.compile(r"[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?")
LONG_TEXT = 32_768  # reasons run long: a long text area, not a 255-character text field


def api_name(name: str) -> str:
    """The custom field API name for a sync field name (``icp_fit`` -> ``ICP_Fit__c``); a
    name that already is an API name is kept."""
    if name.endswith("__c") or ("_" not in name and name[:1].isupper()):
        return name
    parts = [p for p in name.split("_") if p]
    return "_".join("ICP" if p.lower() == "icp" else p[:1].upper() + p[1:] for p in parts) + "__c"


class SalesforceConnector:
    """Salesforce's REST API for one org, as the sync uses it (see :class:`Connector`).

    ``timeout`` bounds one call; ``max_wait`` the seconds one call may spend waiting out
    rate limits and failures before the connector gives up with :class:`CrmError`.
    """

    name: CrmName = "salesforce"

    def __init__(
        self,
        instance_url: str,
        access_token: str,
        *,
        api_version: str = "v60.0",
        timeout: float = 30.0,
        max_wait: float = 300.0,
        backoff: float = 0.5,
        retries: int = RETRIES,
        fields: Mapping[CrmObject, Sequence[str]] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not access_token:
            raise CrmError("no Salesforce access token given")
        self.instance_url = instance_url.rstrip("/")
        self.api_version = api_version if api_version.startswith("v") else f"v{api_version}"
        self.timeout = timeout
        self.max_wait = max_wait
        self.backoff = backoff
        self.retries = retries
        self.fields = {obj: tuple(names) for obj, names in (fields or FIELDS).items()}
        self._icp_fields: dict[str, str] = {}  # sync name -> API name, once ensured
        self.api_usage: tuple[int, int] | None = None
        """The org's daily API use as the last answer said (``Sforce-Limit-Info``)."""
        self._sleep = sleep
        self._warned_usage = False
        client = httpx.Client(
            base_url=self.instance_url,
            headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
            timeout=timeout,
        )
        self._http = Retrying(
            client, "Salesforce", retries=retries, max_wait_s=max_wait, backoff_s=backoff,
            sleep=sleep,
        )  # fmt: skip

    def __repr__(self) -> str:
        return f"SalesforceConnector({self.instance_url!r}, api_version={self.api_version!r})"

    def close(self) -> None:
        """Close the HTTP connections."""
        self._http.client.close()

    @property
    def calls(self) -> int:
        """API calls made so far (every attempt counts)."""
        return self._http.calls

    # -- reading --------------------------------------------------------------------------
    def read(self, obj: CrmObject, since: dt.datetime | None) -> Iterator[Record]:
        """Every record of ``obj`` changed after ``since`` (all when None), oldest first."""
        soql = f"SELECT {', '.join(self._select(obj))} FROM {SOBJECTS[obj]}"
        if since is not None:
            soql += f" WHERE SystemModstamp > {_literal(since)}"
        soql += " ORDER BY SystemModstamp ASC, Id ASC"
        yield from self._query(obj, soql)

    def read_ids(self, obj: CrmObject, ids: Sequence[str]) -> list[Record]:
        """The records with these ids (unknown ids are absent from the answer)."""
        bad = [i for i in ids if not RECORD_ID.fullmatch(i)]
        if bad:
            raise CrmError(f"not a Salesforce record id: {bad[0]!r}")
        records: list[Record] = []
        unique = list(dict.fromkeys(ids))
        # Companies carry the ICP fields too, under the sync's names, so that a push can
        # read back what a record holds.
        aliases = {v: k for k, v in self._icp_fields.items()} if obj == "companies" else {}
        names = ", ".join(dict.fromkeys((*self._select(obj), *aliases)))
        for start in range(0, len(unique), IDS_PER_QUERY):
            chunk = ", ".join(f"'{i}'" for i in unique[start : start + IDS_PER_QUERY])
            soql = f"SELECT {names} FROM {SOBJECTS[obj]} WHERE Id IN ({chunk})"
            records.extend(self._query(obj, soql, aliases))
        return records

    def _select(self, obj: CrmObject) -> tuple[str, ...]:
        names = self.fields[obj]
        return tuple(dict.fromkeys(("Id", *names, "SystemModstamp")))

    def _query(
        self, obj: CrmObject, soql: str, aliases: Mapping[str, str] | None = None
    ) -> Iterator[Record]:
        path: str | None = self._path("/query")
        params: dict[str, str] | None = {"q": soql}
        while path is not None:
            page = self._call("GET", path, what=f"the query of {obj}", params=params).json()
            for row in page.get("records") or []:
                yield _record(obj, row, aliases or {})
            path = None if page.get("done", True) else page.get("nextRecordsUrl")
            params = None

    # -- fields ---------------------------------------------------------------------------
    def ensure_fields(self, fields: Sequence[FieldSpec], *, dry_run: bool = False) -> list[str]:
        """Check that the Account fields can be written and create the missing ones through
        the Tooling API; returns the sync names of the fields created (or to create)."""
        existing = self._describe_account()
        missing = [spec for spec in fields if api_name(spec.name) not in existing]
        readonly = [
            api_name(s.name)
            for s in fields
            if api_name(s.name) in existing and not existing[api_name(s.name)]
        ]
        if readonly:
            raise PermissionMissing(
                f"Salesforce: this user may not edit the Account fields {', '.join(readonly)}",
                hint="give the user edit access to them (field-level security)",
            )
        self._icp_fields = {s.name: api_name(s.name) for s in fields if s not in missing}
        if dry_run or not missing:
            return [spec.name for spec in missing]
        created = []
        for spec in missing:
            full_name = f"Account.{api_name(spec.name)}"
            body = {"FullName": full_name, "Metadata": _metadata(spec)}
            path = self._path("/tooling/sobjects/CustomField")
            answer = self._send("POST", path, what=f"the creation of {full_name}", json=body)
            assert answer is not None
            codes = _codes(answer)
            if answer.status_code == 403 or any("INSUFFICIENT_ACCESS" in c for c in codes):
                names = ", ".join(api_name(s.name) for s in missing)
                raise PermissionMissing(
                    f"Salesforce: this user may not create the Account fields {names}",
                    hint="create them in Setup, or give the user Customize Application",
                )
            if answer.status_code >= 300 and "DUPLICATE_DEVELOPER_NAME" not in codes:
                raise self._error(answer, "POST", "/tooling/sobjects/CustomField")
            created.append(spec.name)
        after = self._describe_account()
        hidden = [api_name(n) for n in created if not after.get(api_name(n))]
        if hidden:
            raise PermissionMissing(
                f"Salesforce: created the Account fields {', '.join(hidden)} but this user may"
                " not edit them",
                hint="give the user edit access to them (field-level security)",
            )
        self._icp_fields.update({name: api_name(name) for name in created})
        return created

    def _describe_account(self) -> dict[str, bool]:
        """Account's fields, by API name, and whether this user may update each."""
        path = self._path("/sobjects/Account/describe")
        answer = self._call("GET", path, what="the description of Account").json()
        if not answer.get("updateable", True):
            raise PermissionMissing("Salesforce: this user may not edit Account records")
        return {str(f["name"]): bool(f.get("updateable")) for f in answer.get("fields") or []}

    # -- writing --------------------------------------------------------------------------
    def write(self, updates: Sequence[Update]) -> WriteResult:
        """Write the updates on Accounts, 200 a call (``allOrNone: false``); records the org
        refuses are reported with Salesforce's reason, locked rows tried again."""
        result = WriteResult()
        before = self.calls
        for start in range(0, len(updates), BATCH):
            self._write_batch(updates[start : start + BATCH], result)
        result.calls = self.calls - before
        return result

    def _write_batch(self, batch: Sequence[Update], result: WriteResult) -> None:
        pending = list(batch)
        for attempt in range(self.retries + 1):
            locked = self._patch(pending, result)
            if not locked:
                return
            pending = locked
            self._sleep(min(self.backoff * 2**attempt, self.max_wait))

    def _patch(self, pending: list[Update], result: WriteResult) -> list[Update]:
        """One collection update of ``pending``; returns the records found locked."""
        records: list[dict[str, Any]] = []
        body = {"allOrNone": False, "records": records}

        def fill() -> None:
            records[:] = [
                {"attributes": {"type": "Account"}, "id": u.record_id, **_values(u.values)}
                for u in pending
            ]

        def before_retry() -> bool:
            # The failed attempt may have been applied: what already holds its values is
            # written, and only the rest is sent again.
            done = self._holding(pending)
            result.written.extend(u.record_id for u in pending if u.record_id in done)
            pending[:] = [u for u in pending if u.record_id not in done]
            fill()
            return bool(pending)

        fill()
        what = f"the update of {len(pending)} accounts"
        path = self._path("/composite/sobjects")
        answer = self._send("PATCH", path, what=what, json=body, before_retry=before_retry)
        if answer is None:
            return []
        if answer.status_code >= 300:
            raise self._error(answer, "PATCH", path)
        answers = answer.json()
        if not isinstance(answers, list) or len(answers) != len(pending):
            raise CrmError(f"Salesforce answered {what} with a different count of results")
        locked = []
        for update, outcome in zip(pending, answers, strict=True):
            errors = outcome.get("errors") or []
            if outcome.get("success"):
                result.written.append(update.record_id)
                result.refused.pop(update.record_id, None)
            else:
                result.refused[update.record_id] = _reason(errors)
                if any(e.get("statusCode") == LOCKED for e in errors):
                    locked.append(update)
        return locked

    def _holding(self, updates: Sequence[Update]) -> set[str]:
        """The ids of the accounts that already hold the values of their update."""
        names = sorted({api_name(n) for u in updates for n in u.values})
        wanted = {u.record_id: _values(u.values) for u in updates}
        held = set()
        for start in range(0, len(updates), IDS_PER_QUERY):
            chunk = ", ".join(f"'{u.record_id}'" for u in updates[start : start + IDS_PER_QUERY])
            soql = f"SELECT {', '.join(['Id', *names])} FROM Account WHERE Id IN ({chunk})"
            path: str | None = self._path("/query")
            params: dict[str, str] | None = {"q": soql}
            while path is not None:
                page = self._call("GET", path, what="the check of written accounts", params=params)
                data = page.json()
                for row in data.get("records") or []:
                    values = wanted.get(str(row.get("Id")), {})
                    if all(_same(row.get(k), v) for k, v in values.items()):
                        held.add(str(row["Id"]))
                path = None if data.get("done", True) else data.get("nextRecordsUrl")
                params = None
        return held

    # -- HTTP -----------------------------------------------------------------------------
    def _path(self, tail: str) -> str:
        return f"/services/data/{self.api_version}{tail}"

    def _call(self, method: str, path: str, *, what: str, **kwargs: Any) -> httpx.Response:
        """One API call, retried through limits and failures; refusals raised as CrmError."""
        answer = self._send(method, path, what=what, **kwargs)
        assert answer is not None  # no before_retry: an answer always comes back
        if answer.status_code >= 300:
            raise self._error(answer, method, path)
        return answer

    def _send(
        self,
        method: str,
        path: str,
        *,
        what: str,
        before_retry: Callable[[], bool] | None = None,
        **kwargs: Any,
    ) -> httpx.Response | None:
        """Send until an answer that is not a rate limit or a server failure comes back (None
        when ``before_retry`` found nothing left to send)."""
        answer = self._http.send(method, path, what=what, before_retry=before_retry, **kwargs)
        if answer is not None:
            self._note_usage(answer)
        return answer

    def _note_usage(self, answer: httpx.Response) -> None:
        match = re.search(r"api-usage=(\d+)/(\d+)", answer.headers.get("Sforce-Limit-Info", ""))
        if match is None:
            return
        used, limit = int(match.group(1)), int(match.group(2))
        self.api_usage = (used, limit)
        if limit and used >= 0.9 * limit and not self._warned_usage:
            self._warned_usage = True
            log.warning("Salesforce: %d of the org's %d daily API requests used", used, limit)

    def _error(self, answer: httpx.Response, method: str, path: str) -> CrmError:
        """The error a refused call raises, in Salesforce's words (never a credential)."""
        where = f"Salesforce {method} {path.split('?')[0]}"
        codes = _codes(answer)
        text = _messages(answer)
        if answer.status_code == 401:
            return CrmError(
                f"{where}: the access token was refused ({text})",
                hint="get a fresh access token (sessions expire)",
            )
        if "REQUEST_LIMIT_EXCEEDED" in codes:
            usage = (
                f" (api-usage={self.api_usage[0]}/{self.api_usage[1]})" if self.api_usage else ""
            )
            return CrmError(
                f"{where}: the org's daily API request limit is used up{usage}; stopped",
                hint="run again when the 24-hour window frees requests, or ask for a higher limit",
            )
        if answer.status_code == 403 or any("INSUFFICIENT_ACCESS" in c for c in codes):
            return PermissionMissing(f"{where}: not allowed ({text})")
        return CrmError(f"{where}: HTTP {answer.status_code} ({text})")


def _record(obj: CrmObject, row: Mapping[str, Any], aliases: Mapping[str, str]) -> Record:
    properties = {aliases.get(k, k): v for k, v in row.items() if k != "attributes"}
    account = properties.get("AccountId")
    links = {"companies": (str(account),)} if obj != "companies" and account else {}
    return Record(
        object=obj,
        id=str(properties["Id"]),
        modified_at=_parse_time(str(properties["SystemModstamp"])),
        properties=properties,
        associations=links,
    )


def _parse_time(text: str) -> dt.datetime:
    """Salesforce's ``2024-05-01T09:30:00.000+0000`` as an aware datetime."""
    value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _literal(moment: dt.datetime) -> str:
    """A SOQL datetime literal (UTC, milliseconds) for ``moment`` (naive means UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    moment = moment.astimezone(dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _metadata(spec: FieldSpec) -> dict[str, Any]:
    """Tooling API Metadata of the custom field for ``spec``."""
    base: dict[str, Any] = {"label": spec.label[:40], "description": spec.description[:1000]}
    if spec.type == "number":
        return {**base, "type": "Number", "precision": 18, "scale": 4}
    if spec.type == "enumeration":
        values = [{"fullName": o, "label": o, "default": False} for o in spec.options]
        return {
            **base,
            "type": "Picklist",
            "valueSet": {
                "restricted": True,
                "valueSetDefinition": {"sorted": False, "value": values},
            },
        }
    return {**base, "type": "LongTextArea", "length": LONG_TEXT, "visibleLines": 3}


def _values(values: Mapping[str, Any]) -> dict[str, Any]:
    """Update values under their API names; a number that is not finite is written empty."""
    out: dict[str, Any] = {}
    for name, value in values.items():
        if isinstance(value, float) and not math.isfinite(value):
            value = None
        out[api_name(name)] = value
    return out


def _json(answer: httpx.Response) -> Any:
    try:
        return answer.json()
    except ValueError:
        return None


def _codes(answer: httpx.Response) -> list[str]:
    body = _json(answer)
    items = body if isinstance(body, list) else [body] if isinstance(body, dict) else []
    return [
        str(i.get("errorCode") or i.get("statusCode") or "") for i in items if isinstance(i, dict)
    ]


def _messages(answer: httpx.Response) -> str:
    body = _json(answer)
    items = body if isinstance(body, list) else [body] if isinstance(body, dict) else []
    words = [
        f"{i.get('errorCode') or i.get('statusCode')}: {i.get('message')}"
        for i in items
        if isinstance(i, dict) and i.get("message")
    ]
    return "; ".join(words)[:300] or f"HTTP {answer.status_code}"


def _same(current: Any, wanted: Any) -> bool:
    """Whether a value read back is the one written (numbers to the field's 4 decimals).

    >>> _same(72.0, 72), _same(71.99999, 72), _same(None, None), _same("B", "A")
    (True, True, True, False)
    """
    if current is None or wanted is None:
        return current is None and wanted is None
    if isinstance(wanted, int | float) and not isinstance(wanted, bool):
        try:
            return round(float(current), 4) == round(float(wanted), 4)
        except (TypeError, ValueError):
            return False
    return bool(current == wanted)


def _reason(errors: Sequence[Mapping[str, Any]]) -> str:
    return "; ".join(f"{e.get('statusCode')}: {e.get('message')}" for e in errors) or "refused"
