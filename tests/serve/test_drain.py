"""The drain's parts: CRM records read as accounts by the names exports use, write-backs
only of changed scores, and a record the CRM refuses failing alone."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from icpkit.config import WebhookSettings
from icpkit.crm.base import FieldSpec, Record, Update, WriteResult
from icpkit.crm.fields import FIELD_NAMES
from icpkit.serve.drain import Drain, account_of, update_of
from icpkit.serve.queue import Event, Queue
from icpkit.serve.scorer import Account

NOW = dt.datetime(2026, 11, 30, tzinfo=dt.UTC)


def record(rid: str, **properties: Any) -> Record:
    return Record("companies", rid, NOW, properties)


def test_hubspot_property_names_are_read_as_the_account_fields() -> None:
    account = account_of(
        record(
            "1",
            domain="acme.io",
            name="Acme",
            numberofemployees="120",
            annualrevenue="5000000",
            industry="COMPUTER_SOFTWARE",
            country="United States",
            hs_object_id="1",
            time_zone="Europe/Paris",
        )
    )
    assert account.values == {
        "domain": "acme.io",
        "name": "Acme",
        "employees": "120",
        "revenue": "5000000",
        "industry": "COMPUTER_SOFTWARE",
        "country": "United States",
    }
    assert account.extras == {"hs_object_id": "1", "time_zone": "Europe/Paris"}


def test_salesforce_field_names_are_read_as_the_account_fields() -> None:
    account = account_of(
        record(
            "001",
            Website="https://www.acme.io",
            NumberOfEmployees=120,
            AnnualRevenue=5e6,
            Industry="Technology",
            BillingCountry="US",
        )
    )
    assert account.values == {
        "domain": "https://www.acme.io",
        "employees": 120,
        "revenue": 5e6,
        "industry": "Technology",
        "country": "US",
    }


def test_the_best_ranked_name_wins_whatever_the_order_and_blanks_count_for_nothing() -> None:
    account = account_of(
        record("1", Headcount="5000", numberofemployees="120", domain=" ", website="acme.io")
    )
    assert account.values == {"employees": "120", "domain": "acme.io"}


ROW = {
    "account_key": "acme.io",
    "fit": 80.0,
    "intent": 10,
    "score": 62,
    "tier": "B",
    "route": "nurture",
    "top_reasons": "51-200 employees (+16); Industry Software (+9); Uses HubSpot (+8); US (+4)",
    "negative_reasons": "",
    "icp_version": 3,
}
WRITE_BACK = {
    "icp_fit": 80,
    "icp_intent": 10,
    "icp_score": 62,
    "icp_tier": "B",
    "icp_route": "nurture",
    "icp_reasons": "51-200 employees (+16); Industry Software (+9); Uses HubSpot (+8)",
    "icp_version": 3,
}


def test_the_write_back_sets_the_fields_the_push_writes_with_the_three_best_reasons() -> None:
    update = update_of(record("1"), ROW)
    assert update is not None
    assert dict(update.values) == WRITE_BACK
    assert tuple(update.values) == FIELD_NAMES


def test_a_record_already_holding_its_scores_as_text_is_not_written_again() -> None:
    held = {name: str(value) for name, value in WRITE_BACK.items()}
    assert update_of(record("1", **held), ROW) is None
    assert update_of(record("1", **(held | {"icp_tier": "A"})), ROW) is not None
    assert update_of(record("1", **(held | {"icp_score": "61"})), ROW) is not None


class Crm:
    """Refuses record ``2``, writes the others."""

    name = "hubspot"

    def __init__(self) -> None:
        self.written: list[str] = []

    def read(self, obj: str, since: dt.datetime | None) -> Iterator[Record]:
        raise NotImplementedError

    def read_ids(self, obj: str, ids: Sequence[str]) -> list[Record]:
        return [record(i, domain=f"c{i}.example") for i in ids]

    def ensure_fields(self, fields: Sequence[FieldSpec], *, dry_run: bool = False) -> list[str]:
        return []

    def write(self, updates: Sequence[Update]) -> WriteResult:
        ok = [u.record_id for u in updates if u.record_id != "2"]
        self.written += ok
        return WriteResult(written=ok, refused={"2": "INVALID_OPTION icp_tier"}, calls=1)

    @property
    def calls(self) -> int:
        return 0


async def scores(accounts: Sequence[Account], day: dt.date) -> list[dict[str, Any]]:
    return [dict(ROW) for _ in accounts]


def test_a_record_the_crm_refuses_fails_alone_with_the_crms_reason(tmp_path: Path) -> None:
    queue = Queue(tmp_path / "q.sqlite")
    queue.put([Event("hubspot", f"e{n}", str(n), "company.creation") for n in (1, 2, 3)])
    crm = Crm()
    settings = WebhookSettings(max_attempts=1)
    drain = Drain(queue, scores, lambda name: crm, lambda: settings)
    assert asyncio.run(drain.once(settings)) == 3
    assert sorted(crm.written) == ["1", "3"]
    states = {e["record_id"]: (e["state"], e["last_error"]) for e in queue.events()}
    assert states == {
        "1": ("done", None),
        "2": ("dead", "hubspot refused the write: INVALID_OPTION icp_tier"),
        "3": ("done", None),
    }


def test_a_crm_without_a_connector_fails_its_events_with_the_reason(tmp_path: Path) -> None:
    queue = Queue(tmp_path / "q.sqlite")
    queue.put([Event("pipedrive", "e1", "1", "updated")])

    def none(name: str) -> Crm:
        raise LookupError(f"no connector for {name}")

    settings = WebhookSettings(max_attempts=1)
    asyncio.run(Drain(queue, scores, none, lambda: settings).once(settings))
    (dead,) = queue.events("dead")
    assert dead["last_error"] == "LookupError: no connector for pipedrive"
