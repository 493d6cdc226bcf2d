"""The HubSpot connector: the CRM v3 objects API with a private app's access token.

Reads: the search endpoint (changes after a time, oldest first, 200 a page; past its
10,000-result cap the filter's lower bound moves forward, as HubSpot documents), the list
endpoint for a full read, batch read by id; deals' and contacts' companies through the v4
association batch read. Fields: company properties in the group ``icpkit``. Writes: the batch
update, 100 companies a call; a record HubSpot refuses is reported, never retried forever.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
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
from icpkit.crm.calls import Retrying
from icpkit.crm.fields import FIELD_NAMES, same

API_URL = "https://api.hubapi.com"
BATCH = 100
SEARCH_PAGE = 200
SEARCH_CAP = 10_000
LIST_PAGE = 100
GROUP = "icpkit"

PROPERTIES: dict[CrmObject, tuple[str, ...]] = {
    "companies": (
        "name",
        "domain",
        "website",
        "numberofemployees",
        "annualrevenue",
        "industry",
        "country",
        "city",
        "founded_year",
        "web_technologies",
        "total_money_raised",
        "lifecyclestage",
        "churned",
        "churn_date",
        "createdate",
    ),
    "deals": (
        "dealname",
        "dealstage",
        "pipeline",
        "amount",
        "deal_currency_code",
        "closedate",
        "createdate",
        "dealtype",
        "closed_lost_reason",
    ),
    "contacts": (
        "firstname",
        "lastname",
        "email",
        "jobtitle",
        "company",
        "lifecyclestage",
        "createdate",
    ),
}
"""The properties read per object: HubSpot's internal names, which ingestion recognizes."""

SCOPES = {
    "read": "crm.objects.{obj}.read",
    "write": "crm.objects.companies.write",
    "schema_read": "crm.schemas.companies.read",
    "schema_write": "crm.schemas.companies.write",
}


class HubSpotConnector:
    """HubSpot's API with ``token`` (a private app's access token) at ``base_url``."""

    name: CrmName = "hubspot"
    batch_size = BATCH

    def __init__(
        self,
        token: str,
        *,
        base_url: str = API_URL,
        timeout_s: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        max_wait_s: float | None = None,
        backoff_s: float = 0.5,
    ) -> None:
        self._token = token
        client = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            timeout=timeout_s,
            transport=transport,
        )
        self._http = Retrying(client, "HubSpot", backoff_s=backoff_s)
        if max_wait_s is not None:
            self._http.max_wait_s = max_wait_s

    def __repr__(self) -> str:  # never the token
        return f"HubSpotConnector({self._http.client.base_url})"

    @property
    def calls(self) -> int:
        return self._http.calls

    @property
    def waited_s(self) -> float:
        """Seconds spent waiting out HubSpot's rate limit."""
        return self._http.waited_s

    def close(self) -> None:
        self._http.client.close()

    # -- reading ---------------------------------------------------------------------------

    def read(self, obj: CrmObject, since: dt.datetime | None) -> Iterator[Record]:
        if since is None:
            yield from self._read_all(obj)
        else:
            yield from self._search(obj, since)

    def _read_all(self, obj: CrmObject) -> Iterator[Record]:
        """Every record through the list endpoint (id order), handed on oldest change first."""
        params: dict[str, Any] = {"limit": LIST_PAGE, "properties": ",".join(self._props(obj))}
        if obj != "companies":
            params["associations"] = "companies"
        records: list[Record] = []
        after: str | None = None
        while True:
            if after:
                params["after"] = after
            data = self._json("GET", f"/crm/v3/objects/{obj}", f"the list of {obj}", params=params)
            records.extend(_record(obj, r) for r in data.get("results") or [])
            after = ((data.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                break
        records.sort(key=lambda r: (r.modified_at, int(r.id) if r.id.isdigit() else 0))
        yield from records

    def _search(self, obj: CrmObject, since: dt.datetime) -> Iterator[Record]:
        """Records changed after ``since``, oldest first, 200 a page. The search answers
        10,000 results at most: past that, the lower bound moves to the last time read
        (GTE, the records read at that very time skipped)."""
        lower, operator = _ms(since), "GT"
        seen_at_lower: set[str] = set()
        while True:
            bound, after, progressed = lower, 0, False  # one search: a fixed filter
            while True:
                data = self._json(
                    "POST",
                    f"/crm/v3/objects/{obj}/search",
                    f"the search of {obj}",
                    json=_search_body(self._props(obj), operator, bound, after),
                )
                page = [_record(obj, r) for r in data.get("results") or []]
                page = [
                    r for r in page if not (_ms(r.modified_at) == lower and r.id in seen_at_lower)
                ]
                if obj != "companies" and page:
                    page = self._with_companies(obj, page)
                for r in page:
                    progressed = True
                    if _ms(r.modified_at) != lower:
                        lower, seen_at_lower = _ms(r.modified_at), set()
                    seen_at_lower.add(r.id)
                    yield r
                nxt = ((data.get("paging") or {}).get("next") or {}).get("after")
                if not nxt:
                    return
                after = int(nxt)
                if after + SEARCH_PAGE > SEARCH_CAP:
                    break  # the cap: search again from the last time read
            if not progressed:
                raise CrmError(
                    f"HubSpot: more than {SEARCH_CAP:,} {obj} changed in the same millisecond; "
                    "the search cannot page past them",
                    hint="run icp pull hubspot --full",
                )
            operator = "GTE"

    def _with_companies(self, obj: CrmObject, page: list[Record]) -> list[Record]:
        """The records with their associated companies (the search answers none)."""
        body = {"inputs": [{"id": r.id} for r in page]}
        data = self._json(
            "POST",
            f"/crm/v4/associations/{obj}/companies/batch/read",
            f"the companies of {len(page)} {obj}",
            json=body,
        )
        linked: dict[str, tuple[str, ...]] = {}
        for row in data.get("results") or []:
            ids = tuple(str(t.get("toObjectId")) for t in row.get("to") or [])
            linked[str((row.get("from") or {}).get("id"))] = ids
        return [
            Record(r.object, r.id, r.modified_at, r.properties, {"companies": linked[r.id]})
            if linked.get(r.id)
            else r
            for r in page
        ]

    def read_ids(self, obj: CrmObject, ids: Sequence[str]) -> list[Record]:
        """The records with these ids, companies with the score fields too (a push stopped
        midway reads back what landed)."""
        names = (*self._props(obj), *(FIELD_NAMES if obj == "companies" else ()))
        out: list[Record] = []
        for start in range(0, len(ids), BATCH):
            out.extend(self._batch_read(obj, ids[start : start + BATCH], names))
        return out

    def _batch_read(
        self, obj: CrmObject, ids: Sequence[str], properties: Sequence[str]
    ) -> list[Record]:
        body = {"inputs": [{"id": i} for i in ids], "properties": list(properties)}
        data = self._json(
            "POST",
            f"/crm/v3/objects/{obj}/batch/read",
            f"the batch read of {len(ids)} {obj}",
            json=body,
            ok=(200, 207),
        )
        return [_record(obj, r) for r in data.get("results") or []]

    @staticmethod
    def _props(obj: CrmObject) -> tuple[str, ...]:
        return (*PROPERTIES[obj], "hs_lastmodifieddate", "hs_object_id")

    # -- fields ----------------------------------------------------------------------------

    def scopes(self) -> frozenset[str] | None:
        """The token's scopes, as HubSpot tells them (None when it would not say)."""
        answer = self._http.send(
            "POST",
            "/oauth/v2/private-apps/get/access-token-info",
            what="the access token's scopes",
            json={"tokenKey": self._token},
        )
        if answer is None or answer.status_code != 200:
            return None
        return frozenset(str(s) for s in answer.json().get("scopes") or [])

    def ensure_fields(self, fields: Sequence[FieldSpec], *, dry_run: bool = False) -> list[str]:
        scopes = self.scopes()
        if scopes is not None and SCOPES["write"] not in scopes:
            raise _missing(SCOPES["write"], "write the score fields on companies")
        data = self._json("GET", "/crm/v3/properties/companies", "the company properties")
        have = {str(p.get("name")) for p in data.get("results") or []}
        missing = [f for f in fields if f.name not in have]
        if not missing:
            return []
        if scopes is not None and SCOPES["schema_write"] not in scopes:
            raise _missing(
                SCOPES["schema_write"],
                f"create the company properties {', '.join(f.name for f in missing)}",
            )
        if dry_run:
            return [f.name for f in missing]
        groups = self._json(
            "GET", "/crm/v3/properties/companies/groups", "the company property groups"
        )
        if GROUP not in {str(g.get("name")) for g in groups.get("results") or []}:
            self._json(
                "POST",
                "/crm/v3/properties/companies/groups",
                "the creation of the property group icpkit",
                json={
                    "name": GROUP,
                    "label": "icpkit (Ideal Customer Profile)",
                    "displayOrder": -1,
                },
                ok=(200, 201, 409),
            )
        for spec in missing:
            self._json(
                "POST",
                "/crm/v3/properties/companies",
                f"the creation of the company property {spec.name}",
                json=_property(spec),
                ok=(200, 201, 409),
            )
        return [f.name for f in missing]

    # -- writing ---------------------------------------------------------------------------

    def write(self, updates: Sequence[Update]) -> WriteResult:
        result = WriteResult()
        start_calls = self.calls
        for start in range(0, len(updates), BATCH):
            self._write_batch(list(updates[start : start + BATCH]), result)
        result.calls = self.calls - start_calls
        return result

    def _write_batch(self, batch: list[Update], result: WriteResult) -> None:
        pending = {u.record_id: u for u in batch}
        body: dict[str, Any] = {}

        def fill() -> None:
            body["inputs"] = [
                {"id": u.record_id, "properties": {k: _text(v) for k, v in u.values.items()}}
                for u in pending.values()
            ]

        def before_retry() -> bool:
            # The failed attempt may have been applied: what already holds its values is
            # written, and only the rest is sent again.
            for done in self._holding(list(pending.values())):
                result.written.append(done)
                del pending[done]
            fill()
            return bool(pending)

        fill()
        what = f"the batch update of {len(batch)} companies"
        answer = self._http.send(
            "POST",
            "/crm/v3/objects/companies/batch/update",
            what=what,
            json=body,
            before_retry=before_retry,
        )
        if answer is None:
            return
        if answer.status_code in (401, 403):
            _raise_for_auth(answer, what)
        data = _body(answer)
        if answer.status_code in (200, 207):
            for row in data.get("results") or []:
                if str(row.get("id")) in pending:
                    result.written.append(str(row.get("id")))
                    pending.pop(str(row.get("id")))
            for error in data.get("errors") or []:
                reason = str(error.get("message") or error.get("category") or "refused")
                for rid in (error.get("context") or {}).get("ids") or []:
                    if str(rid) in pending:
                        result.refused[str(rid)] = reason
                        pending.pop(str(rid))
            for rid in pending:  # answered neither way: refused, with the reason
                result.refused[rid] = "HubSpot's answer did not mention this record"
            return
        reason = f"HTTP {answer.status_code}: {str(data.get('message') or answer.text)[:300]}"
        for rid in pending:
            result.refused[rid] = reason

    def _holding(self, updates: list[Update]) -> list[str]:
        """The ids of the updates whose values the records already hold."""
        names = sorted({k for u in updates for k in u.values})
        current = {
            r.id: r.properties
            for r in self._batch_read("companies", [u.record_id for u in updates], names)
        }
        return [
            u.record_id
            for u in updates
            if u.record_id in current
            and all(same(current[u.record_id].get(k), v) for k, v in u.values.items())
        ]

    # -- plumbing --------------------------------------------------------------------------

    def _json(
        self,
        method: str,
        url: str,
        what: str,
        *,
        json: Any = None,
        params: Any = None,
        ok: tuple[int, ...] = (200,),
    ) -> dict[str, Any]:
        answer = self._http.send(method, url, what=what, json=json, params=params)
        assert answer is not None  # no before_retry: an answer always comes back
        if answer.status_code in (401, 403):
            _raise_for_auth(answer, what)
        if answer.status_code not in ok:
            message = str(_body(answer).get("message") or answer.text)[:300]
            raise CrmError(f"HubSpot refused {what} (HTTP {answer.status_code}): {message}")
        return _body(answer)


def _text(value: Any) -> str:
    """A value as HubSpot takes it: text, '' to clear."""
    if value is None:
        return ""
    return str(value)


def _body(answer: httpx.Response) -> dict[str, Any]:
    try:
        data = answer.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _raise_for_auth(answer: httpx.Response, what: str) -> None:
    if answer.status_code == 401:
        raise CrmError(
            f"HubSpot refused the access token for {what} (HTTP 401)",
            hint="check HUBSPOT_ACCESS_TOKEN: a private app's access token, not revoked",
        )
    data = _body(answer)
    scopes = [
        str(s)
        for e in data.get("errors") or []
        for s in (e.get("context") or {}).get("requiredGranularScopes") or []
    ]
    raise _missing(scopes[0] if scopes else "(HubSpot named none)", what)


def _missing(scope: str, what: str) -> PermissionMissing:
    return PermissionMissing(
        f"HubSpot: the private app may not {what}: it lacks the scope {scope}",
        hint=f"add the scope {scope} to the private app (Settings > Integrations > Private "
        "apps > Scopes) and run it again; nothing was written",
    )


def _property(spec: FieldSpec) -> dict[str, Any]:
    field_type = {"number": "number", "string": "text", "enumeration": "select"}[spec.type]
    if spec.type == "string" and spec.name.endswith("reasons"):
        field_type = "textarea"
    body: dict[str, Any] = {
        "name": spec.name,
        "label": spec.label,
        "type": spec.type,
        "fieldType": field_type,
        "groupName": GROUP,
        "description": spec.description,
    }
    if spec.options:
        body["options"] = [
            {"label": o, "value": o, "displayOrder": i} for i, o in enumerate(spec.options)
        ]
    return body


def _search_body(properties: Sequence[str], operator: str, bound: int, after: int) -> Any:
    """A search of the records changed after (GT) or since (GTE) ``bound`` (ms), oldest
    first, a page of 200 from ``after``."""
    change = {"propertyName": "hs_lastmodifieddate", "operator": operator, "value": str(bound)}
    return {
        "filterGroups": [{"filters": [change]}],
        "sorts": [{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}],
        "properties": list(properties),
        "limit": SEARCH_PAGE,
        "after": str(after),
    }


def _ms(t: dt.datetime) -> int:
    return int(t.timestamp() * 1000)


def _time(text: Any) -> dt.datetime | None:
    if not text:
        return None
    s = str(text)
    if s.isdigit():
        return dt.datetime.fromtimestamp(int(s) / 1000, dt.UTC)
    try:
        t = dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


EXPORT_LABELS = {"website": "Website URL"}
"""Properties renamed to the label of HubSpot's own export, where the internal name would
compete with another for one field (``domain`` and ``website`` both name a website)."""


def _record(obj: CrmObject, row: Mapping[str, Any]) -> Record:
    props = {EXPORT_LABELS.get(k, k): v for k, v in (row.get("properties") or {}).items()}
    modified = (
        _time(props.get("hs_lastmodifieddate"))
        or _time(row.get("updatedAt"))
        or dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    )
    linked = {
        other: tuple(str(x.get("id")) for x in (v or {}).get("results") or [])
        for other, v in (row.get("associations") or {}).items()
    }
    return Record(obj, str(row.get("id")), modified, props, {k: v for k, v in linked.items() if v})
