"""Normalizing one column's distinct values into lookup tables the store joins back.

CRM columns repeat themselves (a few hundred industries, stages and size ranges
across millions of rows), so each distinct raw value is normalized once in
Python and the result is joined to the rows in DuckDB.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from icpkit.config import IngestSettings
from icpkit.ingest.fields import FieldSpec
from icpkit.ingest.normalize import Unreadable
from icpkit.ingest.normalize.blanks import is_blank
from icpkit.ingest.normalize.booleans import parse_bool
from icpkit.ingest.normalize.countries import country_code
from icpkit.ingest.normalize.dates import DateOrder, infer_date_order, parse_date
from icpkit.ingest.normalize.domains import email_account_domain, registrable_domain
from icpkit.ingest.normalize.employees import parse_employees
from icpkit.ingest.normalize.industries import match_industry
from icpkit.ingest.normalize.money import check_amount, parse_money
from icpkit.ingest.normalize.stages import stage_outcome

_LIST_SPLIT = re.compile(r"\s*[;,|]\s*")
_STATUS = {"won": "won", "lost": "lost", "open": "open"}
MAX_REVENUE = 1e13  # above the largest company's revenue in any currency


@dataclass(frozen=True)
class Output:
    """A normalized column the lookup produces: suffix of the canonical name and its type."""

    suffix: str
    type: pa.DataType


@dataclass
class Lookup:
    """Distinct raw values of one column, their normalized values and the reasons for failures."""

    field: str
    outputs: tuple[Output, ...]
    table: pa.Table  # columns: raw, <field><suffix>..., error
    errors: int
    note: str | None = None


OUTPUTS: dict[str, tuple[Output, ...]] = {
    "employees": (Output("", pa.int64()), Output("_low", pa.int64()), Output("_high", pa.int64())),
    "money": (Output("", pa.float64()), Output("_currency", pa.string())),
    "date": (Output("", pa.timestamp("us")),),
    "industry": (
        Output("", pa.string()),
        Output("_naics", pa.string()),
        Output("_sector", pa.string()),
    ),
    "country": (Output("", pa.string()),),
    "domain": (Output("", pa.string()),),
    "email": (Output("", pa.string()),),
    "bool": (Output("", pa.bool_()),),
    "stage": (Output("", pa.string()),),
    "status": (Output("", pa.string()),),
    "list": (Output("", pa.list_(pa.string())),),
    "year": (Output("", pa.int32()),),
}


def _year(raw: str) -> int | None:
    text = raw.strip()
    if is_blank(text):
        return None
    try:
        value = float(text.replace(",", ""))
    except ValueError:
        raise Unreadable("not a year") from None
    year = int(value)
    if year != value or not 1800 <= year <= dt.date.today().year:
        raise Unreadable(f"year {text} is outside 1800-{dt.date.today().year}")
    return year


def _status(raw: str) -> str | None:
    text = raw.strip().casefold()
    if is_blank(text):
        return None
    if text not in _STATUS:
        raise Unreadable("status must be won, lost or open")
    return _STATUS[text]


def _list(raw: str) -> list[str] | None:
    if is_blank(raw):
        return None
    items = [p for p in _LIST_SPLIT.split(raw.strip()) if p]
    seen: dict[str, None] = {}
    for item in items:
        seen.setdefault(item, None)
    return list(seen) or None


def _converter(
    spec: FieldSpec, settings: IngestSettings, values: Sequence[str]
) -> tuple[Callable[[str], Any], str | None]:
    """The function turning one raw value into a tuple of outputs, plus a note for the user."""
    kind = spec.kind
    if kind == "employees":

        def employees(raw: str) -> Any:
            e = parse_employees(raw)
            return None if e is None else (e.value, e.low, e.high)

        return employees, None
    if kind == "money":
        limit = settings.max_amount if spec.name == "amount" else MAX_REVENUE

        def money(raw: str) -> Any:
            m = parse_money(raw)
            if m is None:
                return None
            check_amount(m, field=spec.name, max_value=limit)
            return (m.amount, m.currency)

        return money, None
    if kind == "date":
        inference = infer_date_order(values, default=settings.date_order_default)
        order = inference.order
        note = inference.explanation if inference.ambiguous or inference.inconsistent else None
        if settings.date_order != "auto" and order in (DateOrder.MDY, DateOrder.DMY):
            order, note = DateOrder(settings.date_order), None
        return (lambda raw: parse_date(raw, order)), note
    if kind == "industry":

        def industry(raw: str) -> Any:
            m = match_industry(raw)
            return None if m is None else (m.label, m.naics, m.sector_label)

        return industry, None
    if kind == "country":
        return country_code, None
    if kind == "domain":
        return registrable_domain, None
    if kind == "email":
        return email_account_domain, None
    if kind == "bool":
        return parse_bool, None
    if kind == "stage":
        overrides = settings.stage_outcomes
        return (lambda raw: stage_outcome(raw, overrides)), None
    if kind == "status":
        return _status, None
    if kind == "list":
        return _list, None
    if kind == "year":
        return _year, None
    raise ValueError(f"no normalizer for kind {kind!r}")


def build_lookup(spec: FieldSpec, values: Sequence[str], settings: IngestSettings) -> Lookup:
    """Normalize every distinct ``values`` entry of one column for field ``spec``."""
    convert, note = _converter(spec, settings, values)
    outputs = OUTPUTS[spec.kind]
    cols: list[list[Any]] = [[] for _ in outputs]
    errors: list[str | None] = []
    n_errors = 0
    for raw in values:
        try:
            value = convert(raw)
            error = None
        except Unreadable as exc:
            value, error = None, str(exc)
            n_errors += 1
        if len(outputs) == 1:
            cols[0].append(value)
        else:
            parts = value if value is not None else (None,) * len(outputs)
            for col, part in zip(cols, parts, strict=True):
                col.append(part)
        errors.append(error)
    arrays: dict[str, pa.Array] = {"raw": pa.array(values, pa.string())}
    for out, col in zip(outputs, cols, strict=True):
        arrays[spec.name + out.suffix] = pa.array(col, out.type)
    arrays["error"] = pa.array(errors, pa.string())
    return Lookup(spec.name, outputs, pa.table(arrays), n_errors, note)


def check_sample(spec: FieldSpec, values: Sequence[str]) -> float:
    """Share of a column sample that the field's normalizer reads (for detection confidence)."""
    if spec.kind in ("text", "id"):
        return 1.0
    from icpkit.config import IngestSettings as _Settings

    lookup = build_lookup(spec, list(dict.fromkeys(values)), _Settings())
    total = lookup.table.num_rows
    return 1.0 if total == 0 else 1.0 - lookup.errors / total
