"""Normalizing one column's distinct values into lookup tables the store joins back.

CRM columns repeat themselves (a few hundred industries, stages and size ranges
across millions of rows), so each distinct raw value is normalized once in
Python and the result is joined to the rows in DuckDB (see :mod:`icpkit.ingest.distinct`).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from icpkit.config import IngestSettings
from icpkit.ingest.fields import FieldSpec, status_outcome
from icpkit.ingest.normalize import Unreadable
from icpkit.ingest.normalize.blanks import NULL_TOKENS, is_blank
from icpkit.ingest.normalize.booleans import parse_bool
from icpkit.ingest.normalize.countries import country_reader
from icpkit.ingest.normalize.dates import DateOrder, infer_date_order, parse_date
from icpkit.ingest.normalize.domains import (
    account_domain,
    email_account_domain,
    platform_hosts,
    simple_suffixes,
)
from icpkit.ingest.normalize.employees import LARGEST_EMPLOYER, parse_employees
from icpkit.ingest.normalize.industries import code_system, read_industry
from icpkit.ingest.normalize.money import (
    Money,
    Shown,
    check_amount,
    infer_decimal_separator,
    parse_money,
)
from icpkit.ingest.normalize.names import LEGAL_SUFFIXES
from icpkit.ingest.normalize.numbers import Separator, parse_number, read_separators
from icpkit.ingest.normalize.stages import stage_outcome
from icpkit.store.db import literal

_LIST_SPLIT = re.compile(r"\s*[;,|]\s*")
MAX_REVENUE = 1e13  # above the largest company's revenue in any currency


@dataclass(frozen=True)
class Output:
    """A normalized column the lookup produces: suffix of the canonical name and its type."""

    suffix: str
    type: pa.DataType
    sql: str


@dataclass
class Lookup:
    """Distinct raw values of one column, their normalized values and the reasons for failures."""

    field: str
    outputs: tuple[Output, ...]
    table: pa.Table  # columns: raw, <field><suffix>..., error
    errors: int
    note: str | None = None


OUTPUTS: dict[str, tuple[Output, ...]] = {
    "employees": (
        Output("", pa.int64(), "BIGINT"),
        Output("_low", pa.int64(), "BIGINT"),
        Output("_high", pa.int64(), "BIGINT"),
    ),
    "money": (Output("", pa.float64(), "DOUBLE"), Output("_currency", pa.string(), "VARCHAR")),
    "date": (Output("", pa.timestamp("us"), "TIMESTAMP"),),
    "industry": (
        Output("", pa.string(), "VARCHAR"),
        Output("_naics", pa.string(), "VARCHAR"),
        Output("_sector", pa.string(), "VARCHAR"),
    ),
    "country": (Output("", pa.string(), "VARCHAR"),),
    "domain": (Output("", pa.string(), "VARCHAR"),),
    "email": (Output("", pa.string(), "VARCHAR"),),
    "bool": (Output("", pa.bool_(), "BOOLEAN"),),
    "stage": (Output("", pa.string(), "VARCHAR"),),
    "status": (Output("", pa.string(), "VARCHAR"),),
    "list": (Output("", pa.list_(pa.string()), "VARCHAR[]"),),
    "year": (Output("", pa.int32(), "INTEGER"),),
    "number": (Output("", pa.float64(), "DOUBLE"),),
    "email_address": (
        Output("", pa.string(), "VARCHAR"),
        Output("_domain", pa.string(), "VARCHAR"),
    ),
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
    outcome = status_outcome(text)
    if outcome is None:
        raise Unreadable("status must be won, lost or open (or active, abandoned, 0, 1, 2)")
    return outcome


def _list(raw: str) -> list[str] | None:
    if is_blank(raw):
        return None
    items = [p for p in _LIST_SPLIT.split(raw.strip()) if p]
    seen: dict[str, None] = {}
    for item in items:
        seen.setdefault(item, None)
    return list(seen) or None


def _email_address(raw: str) -> tuple[str, str | None] | None:
    """An email address, lower-cased, and the company domain it names (None for free mail)."""
    if is_blank(raw):
        return None
    address = raw.strip().casefold()
    return address, email_account_domain(address)


Note = str | Callable[[], str | None] | None
"""A note for the user, or a function giving it once every value has been converted."""


@dataclass(frozen=True)
class Weighed:
    """More of a column of numbers that weighs in its decimal separator besides the values
    passed: the evidence of values read in SQL, counted per separator and taking their place
    in the column's order (``among``), and values weighed after all others (``after``)."""

    among: Mapping[Separator, Shown] = field(default_factory=dict)
    after: Sequence[str] = ()


def _separator_note(values: Sequence[str], how: str) -> str:
    """Up to three values read one way, and how: for the column's note."""
    shown = ", ".join(f"'{v}'" for v in values[:3])
    more = f" and {len(values) - 3} more" if len(values) > 3 else ""
    return f"{shown}{more} {how}"


def _numbers(
    kind: str, spec: FieldSpec, settings: IngestSettings, values: Sequence[str], weigh: Weighed
) -> tuple[Callable[[str], Any], Note]:
    """Money and plain numbers, with the column's decimal separator decided from all its
    values: in a column writing '1.234,56', '12.500' is twelve thousand five hundred."""
    separators = infer_decimal_separator(values, among=weigh.among, after=weigh.after)
    decimal = separators.decimal
    read: dict[str, list[str]] = {"column": [], "currency": [], "default": []}
    limit = money_limit(spec, settings)

    def money(raw: str) -> Any:
        m: Money | None = parse_money(raw, decimal)
        if m is None:
            return None
        check_amount(m, field=spec.name, max_value=limit)
        if m.read is not None:
            read[m.read].append(raw.strip())
        return (m.amount, m.currency)

    def number(raw: str) -> Any:
        value = parse_number(raw, decimal)
        seps = {read_separators(t)[1] for t in re.split(r"[\s()+-]+", raw)} - {None}
        if seps and decimal is not None:
            read["column"].append(raw.strip())
        elif "." in seps:
            read["default"].append(raw.strip())
        return value

    def note() -> str | None:
        parts = []
        if read["column"]:
            parts.append(
                _separator_note(
                    read["column"],
                    f"read with '{decimal}' as the decimal separator "
                    f"('12.500' is {'12,500' if decimal == ',' else '12.5'}): "
                    f"{separators.explanation}",
                )
            )
        if read["currency"]:
            parts.append(
                _separator_note(
                    read["currency"],
                    "read with '.' between thousands ('€12.500' is 12,500), as amounts "
                    "in their currency are written",
                )
            )
        if read["default"]:
            parts.append(
                _separator_note(
                    read["default"],
                    "read with '.' as the decimal point ('12.500' is 12.5): "
                    f"{separators.explanation}",
                )
            )
        return "; ".join(parts) or None

    return (money if kind == "money" else number), note


def _converter(
    spec: FieldSpec,
    settings: IngestSettings,
    values: Sequence[str],
    iso_dates: int = 0,
    weigh: Weighed | None = None,
) -> tuple[Callable[[str], Any], Note]:
    """The function turning one raw value into a tuple of outputs, plus a note for the user."""
    kind = spec.kind
    if kind == "employees":

        def employees(raw: str) -> Any:
            e = parse_employees(raw)
            return None if e is None else (e.value, e.low, e.high)

        return employees, None
    if kind in ("money", "number"):
        return _numbers(kind, spec, settings, values, weigh or Weighed())
    if kind == "date":
        inference = infer_date_order(
            values, default=settings.date_order_default, iso_dates=iso_dates
        )
        order = inference.order
        # ingest.date_order sets the order of slash dates; dotted dates keep their own.
        dotted = inference.dotted or order
        note = (
            inference.explanation
            if inference.ambiguous or inference.inconsistent or inference.dotted
            else None
        )
        if settings.date_order != "auto" and order in (DateOrder.MDY, DateOrder.DMY):
            order, note = DateOrder(settings.date_order), None
        return (lambda raw: parse_date(raw, order, dotted=dotted)), note
    if kind == "industry":
        # Bare 4-digit numbers are NAICS or SIC codes depending on the rest of the column.
        codes = code_system(values)
        return (lambda raw: read_industry(raw, codes)), None
    if kind == "country":
        # Whether 'CA' is California or Canada depends on the column's other values.
        return country_reader(values), None
    if kind == "domain":
        return account_domain, None
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
    if kind == "email_address":
        return _email_address, None
    raise ValueError(f"no normalizer for kind {kind!r}")


@dataclass(frozen=True)
class FastPath:
    """The SQL twin of a normalizer's most common case.

    Values for which ``where`` holds get ``outputs`` in DuckDB, without a Python call; the
    rest go through the normalizer. Both must agree (tests/test_cells.py checks it).
    ``{v}`` in the SQL stands for the raw value.
    """

    where: str
    outputs: tuple[str, ...]

    def sql(self, value: str) -> tuple[str, tuple[str, ...]]:
        """The predicate and output expressions over the SQL expression ``value``."""
        return self.where.replace("{v}", value), tuple(
            o.replace("{v}", value) for o in self.outputs
        )


# No '12.500': one separator before three digits is read by the column's convention.
_PLAIN_NUMBER = r"'[0-9]{1,15}(\.([0-9]{1,2}|[0-9]{4,6}))?'"
# A head count of digits, or of groups of three after a first group not starting with 0.
_PLAIN_COUNT = r"'[0-9]{1,7}|[1-9][0-9]{0,2}(,[0-9]{3}){1,2}'"
_ISO_DATE = r"'[0-9]{4}-[0-9]{2}-[0-9]{2}([ T][0-9]{2}:[0-9]{2}(:[0-9]{2})?)?'"
_BARE_DOMAIN = r"'[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.[a-z]{2,63}'"
# Tables the domain fast path reads, registered by the pipeline (see suffix_tables()).
SUFFIX_TABLES = ("psl_single", "psl_every", "platform_hosts")


def money_limit(spec: FieldSpec, settings: IngestSettings) -> float:
    """The largest amount a money field accepts: a deal's from the settings, else revenue's."""
    return settings.max_amount if spec.name == "amount" else MAX_REVENUE


def fast_path(spec: FieldSpec, settings: IngestSettings) -> FastPath | None:
    """The SQL fast path for ``spec``'s kind, if it has one."""
    if spec.kind == "money":
        limit = money_limit(spec, settings)
        return FastPath(
            f"regexp_full_match({{v}}, {_PLAIN_NUMBER}) AND try_cast({{v}} AS DOUBLE) <= {limit!r}",
            ("try_cast({v} AS DOUBLE)", "NULL::VARCHAR"),
        )
    if spec.kind == "number":
        return FastPath(f"regexp_full_match({{v}}, {_PLAIN_NUMBER})", ("try_cast({v} AS DOUBLE)",))
    if spec.kind == "employees":
        # '1,200' groups thousands in a head count, whatever the column's other values.
        return FastPath(
            f"regexp_full_match({{v}}, {_PLAIN_COUNT}) "
            f"AND try_cast(replace({{v}}, ',', '') AS BIGINT) BETWEEN 1 AND {LARGEST_EMPLOYER}",
            ("try_cast(replace({v}, ',', '') AS BIGINT)",) * 3,
        )
    if spec.kind == "date":
        return FastPath(
            f"regexp_full_match({{v}}, {_ISO_DATE}) AND "
            "year(try_cast({v} AS TIMESTAMP)) BETWEEN 1900 AND 2100",
            ("try_cast({v} AS TIMESTAMP)",),
        )
    if spec.kind == "domain":
        return FastPath(
            f"regexp_full_match({{v}}, {_BARE_DOMAIN}) "
            "AND regexp_extract({v}, '[^.]+$') IN (SELECT suffix FROM psl_single) "
            "AND {v} NOT IN (SELECT suffix FROM psl_every) "
            "AND {v} NOT IN (SELECT suffix FROM platform_hosts)",
            ("{v}",),
        )
    return None


# Latin letters that decompose into an ASCII letter and accents ('é', 'Ü', 'ñ'): stripped of
# them, a name keys as its ASCII form does. Not 'ß', 'æ', 'ø' and the like, which the
# normalizer rewrites ('ss') or keeps.
_ACCENTED = "À-ÅÇ-ÏÑ-ÖÙ-Ýà-åç-ïñ-öù-ýÿ"


def name_keys_sql(values: str) -> str:
    """SELECT (``raw``, ``fast``, ``key``) over the names in column ``raw`` of ``values``: the
    SQL twin of :func:`icpkit.ingest.normalize.names.company_name_key` for names in printable
    ASCII, accented Latin letters stripped of their accents (lower-cased, ``&`` read as
    "and", ``.`` and ``'`` dropped, other punctuation a space, trailing legal forms with an
    "and" before one and a leading "The" removed). ``fast`` says the twin settled the name;
    the others (blanks, nothing left but legal forms, other characters) are for the
    normalizer, ``key`` NULL."""
    nulls = ", ".join(literal(t) for t in sorted(NULL_TOKENS))
    forms = "|".join(sorted(LEGAL_SUFFIXES))
    words = (
        "trim(regexp_replace(regexp_replace(replace(lower(text), '&', ' and '), "
        "'[.'']', '', 'g'), '[^a-z0-9]+', ' ', 'g'))"
    )
    text = (
        "CASE WHEN regexp_full_match(raw, '[ -~]+') THEN raw "
        f"WHEN regexp_full_match(raw, '[ -~{_ACCENTED}]+') THEN strip_accents(raw) END"
    )
    # Legal forms at the end go, an 'and' before one too; the first word always stays.
    kept = f"regexp_replace(words, '(?:(?: and)? (?:{forms}))+$', '')"
    fast = (
        f"coalesce(ascii AND lower(trim(raw)) NOT IN ({nulls}) AND kept <> '' "
        f"AND NOT regexp_matches(kept, '(^| )(?:{forms})$'), false)"
    )
    return f"""SELECT raw, fast,
                      CASE WHEN fast THEN CASE WHEN kept LIKE 'the %' THEN substr(kept, 5)
                                               ELSE kept END END AS key
               FROM (SELECT raw, kept, {fast} AS fast
                     FROM (SELECT raw, ascii, CASE WHEN ascii THEN {kept} END AS kept
                           FROM (SELECT raw, text IS NOT NULL AS ascii, {words} AS words
                                 FROM (SELECT raw, {text} AS text FROM {values}))))"""


def suffix_tables() -> dict[str, pa.Table]:
    """The public-suffix sets and shared-platform hosts the domain fast path joins against."""
    single, every = simple_suffixes()
    return {
        "psl_single": pa.table({"suffix": pa.array(sorted(single), pa.string())}),
        "psl_every": pa.table({"suffix": pa.array(sorted(every), pa.string())}),
        "platform_hosts": pa.table({"suffix": pa.array(sorted(platform_hosts()), pa.string())}),
    }


def build_lookup(
    spec: FieldSpec,
    values: Sequence[str],
    settings: IngestSettings,
    *,
    column_values: Sequence[str] | None = None,
    iso_dates: int = 0,
    weigh: Weighed | None = None,
) -> Lookup:
    """Normalize every distinct ``values`` entry of one column for field ``spec``.

    ``column_values`` (default: ``values``) are the column's distinct values the decisions
    taken per column weigh (the day/month order of dates); ``iso_dates`` counts more of its
    distinct values, ISO dates read in SQL, that weigh in that decision without being passed;
    ``weigh``, more of a column of numbers, in its decimal separator.
    """
    convert, pending = _converter(
        spec, settings, values if column_values is None else column_values, iso_dates, weigh
    )
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
    note = pending() if callable(pending) else pending
    arrays: dict[str, pa.Array] = {"raw": pa.array(values, pa.string())}
    for out, col in zip(outputs, cols, strict=True):
        arrays[spec.name + out.suffix] = pa.array(col, out.type)
    arrays["error"] = pa.array(errors, pa.string())
    return Lookup(spec.name, outputs, pa.table(arrays), n_errors, note)


def check_sample(spec: FieldSpec, values: Sequence[str]) -> float:
    """Share of a column sample that the field's normalizer reads (for detection confidence)."""
    if spec.kind in ("text", "id"):
        return 1.0
    lookup = build_lookup(spec, list(dict.fromkeys(values)), IngestSettings())
    total = lookup.table.num_rows
    return 1.0 if total == 0 else 1.0 - lookup.errors / total
