"""Normalizing one column of any DuckDB relation over its distinct raw values.

A column of a million rows holds far fewer distinct values, and most of those in a form
DuckDB reads directly (``'42'``, ``'acme.io'``). Each distinct value goes either through a
SQL twin of its normalizer's common case (:func:`icpkit.ingest.cells.fast_path`, and here
websites and domains in the forms exports write most: ``https://www.acme.co.uk/``) or,
for the rest, through the Python normalizer itself, once. The result is a lookup table
(``raw``, the outputs, ``error``) to join back to the rows. The Python normalizers stay
the single source of truth: every twin is tested against them (tests/ingest).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import duckdb
import pyarrow as pa

from icpkit.config import IngestSettings
from icpkit.ingest.cells import (
    OUTPUTS,
    FastPath,
    Lookup,
    Weighed,
    build_lookup,
    fast_path,
    money_limit,
    suffix_tables,
)
from icpkit.ingest.fields import FieldSpec
from icpkit.ingest.normalize.money import Shown
from icpkit.ingest.normalize.numbers import Separator
from icpkit.store.db import literal


def _unmapped_industries(
    con: duckdb.DuckDBPyConnection, spec: FieldSpec, src: str, alias: str, relation: str = "raw"
) -> str | None:
    """Industry values outside the taxonomy, most frequent first: they are kept as written
    (no sector) and analyzed as their own values, and the ingest report lists them."""
    rows = con.execute(
        f"""SELECT l.{spec.name}, count(*) AS n FROM {relation} JOIN {alias} l ON l.raw = {src}
            WHERE l.{spec.name} IS NOT NULL AND l.{spec.name}_sector IS NULL
            GROUP BY 1 ORDER BY n DESC, 1"""
    ).fetchall()
    if not rows:
        return None
    total = sum(int(n) for _, n in rows)
    shown = ", ".join(f"{value} ({n})" for value, n in rows[:10])
    more = f" and {len(rows) - 10} more" if len(rows) > 10 else ""
    return (
        f"{len(rows)} industry values ({total} rows) are not in the taxonomy and are "
        f"analyzed as written: {shown}{more} (see docs/taxonomy.md to map them)"
    )


# A host of two or three labels, as the bare domain of a website cell.
_HOST = r"'[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z]{2,63}){1,2}'"

# Kinds whose normalizer reads a value by the column's other values (the decimal separator,
# the order of dates, industry code systems, 'CA' as California or Canada).
_COLUMN_WIDE = ("money", "number", "date", "industry", "country")

Keep = Literal["all", "changed", "unread"]
"""The values a lookup holds: ``all`` of them; those ``changed`` by the normalizer (not a bare
domain, its own account domain), for a field of one output read value by value, a non-blank
value the table lacks being its own output; or those the twins leave ``unread`` (with what
the normalizer makes of them, errors included), for a field read for its quarantine only."""

Twin = Callable[[str], str]
"""A SQL twin of a normalizer's common case: given a relation with a column ``v`` of raw
values, a SELECT of ``v``, ``hit`` (the twin covers the value) and the field's outputs
(``o0``, ``o1``, ...)."""


def site_twin(relation: str) -> str:
    """The SQL twin of :func:`icpkit.ingest.normalize.domains.account_domain` for websites
    as exports write them: an ASCII cell holding ``host``, ``www.host``, ``https://host/``
    (any case), where ``host`` is ``label.suffix``, its suffix a public suffix of one or two
    labels under no wildcard rule, the host neither a public suffix itself nor on a shared
    platform. Its account domain is then the host, lower-cased. Reads the tables of
    :func:`site_tables`."""
    text = "lower(trim(v))"
    no_scheme = (
        f"CASE WHEN starts_with({text}, 'https://') THEN {text}[9:] "
        f"WHEN starts_with({text}, 'http://') THEN {text}[8:] ELSE {text} END"
    )
    return f"""
        SELECT v, coalesce(strlen(v) = length(v)
                    AND regexp_full_match(host, {_HOST})
                    AND rest IN (SELECT suffix FROM psl_every)
                    AND host NOT IN (SELECT suffix FROM psl_every)
                    AND rest NOT IN (SELECT suffix FROM psl_wild)
                    AND host NOT IN (SELECT suffix FROM platform_hosts)
                    AND rest NOT IN (SELECT suffix FROM platform_hosts)
                    AND split_part(host, '.', -1) NOT IN (SELECT suffix FROM platform_hosts),
                  false) AS hit,
               host AS o0
        FROM (SELECT v, host, host[strpos(host, '.') + 1:] AS rest
              FROM (SELECT v, CASE WHEN ends_with(h, '/') THEN h[:-2] ELSE h END AS host
                    FROM (SELECT v, CASE WHEN starts_with(s, 'www.') THEN s[5:] ELSE s END AS h
                          FROM (SELECT v, {no_scheme} AS s FROM {relation}))))"""


# Amounts exports write with thousands separators ('10,717,000': two groups or more, so
# never '12,500', whose comma the column decides) or a magnitude ('$194.5M', '€1.1B',
# '2.5 million', '100K'; at most two decimals, so never '1.234M').
_GROUPED_AMOUNT = r"'[1-9][0-9]{0,2}(,[0-9]{3}){2,4}'"
_SCALED_AMOUNT = r"'[$€]?[0-9]{1,6}(\.[0-9]{1,2})?(K|M|B| million| billion)'"

# Amounts as formatted reports write them, a currency before or after: '$12,290.74',
# 'USD 12,290.53', '12.290,83 €', '12 290,83 EUR', '€1,290,000', 'GBP 500'. The number's own
# separators say which is the decimal one (both shown, or one followed by one or two
# digits), so each reads the same in every column; '12,500' and '€12.500' do not, and stay
# with the normalizer. Groups: the currency before, the number, the currency after.
_CURRENCY = "[$€£]|USD|EUR|GBP|CAD|AUD|CHF"
_DOT_DECIMAL = r"(?:0|[1-9][0-9]{0,2}(?:,[0-9]{3})*)\.[0-9]{1,2}|[1-9][0-9]{0,2}(?:,[0-9]{3}){2,4}"
_COMMA_DECIMAL = (
    r"(?:0|[1-9][0-9]{0,2}(?:\.[0-9]{3})*),[0-9]{1,2}"
    r"|(?:0|[1-9][0-9]{0,2}(?: [0-9]{3})*),[0-9]{1,2}"
)
# With a currency, a number without separators is an amount too ('$12290', 'EUR 500.5').
_BARE = r"(?:0|[1-9][0-9]{0,14})(?:\.[0-9]{1,2})?"
_FORMATTED = rf"(?:({_CURRENCY}) ?)?({_DOT_DECIMAL}|{_COMMA_DECIMAL}|{_BARE})(?: ?({_CURRENCY}))?"
_SYMBOLS = {"$": "USD", "€": "EUR", "£": "GBP"}


def _spaced(v: str) -> str:
    """SQL of ``v`` with its no-break spaces read as spaces: they group thousands alike."""
    return f"replace(replace({v}, chr(160), ' '), chr(8239), ' ')"


def _formatted_parts(v: str) -> tuple[str, str, str]:
    """SQL of the currency before, the number and the currency after in ``v`` written as
    :data:`_FORMATTED` says ('' where absent or ``v`` is written otherwise)."""
    pattern = literal(f"^{_FORMATTED}$")
    before, number, after = (f"regexp_extract({_spaced(v)}, {pattern}, {g})" for g in (1, 2, 3))
    return before, number, after


def _formatted_amount(v: str) -> tuple[str, str]:
    """SQL of the amount and the currency of ``v`` written as :data:`_FORMATTED` says (NULL
    for any other value): one currency at most, and a number without separators only with
    one."""
    before, number, after = _formatted_parts(v)
    usable = (
        f"regexp_full_match({_spaced(v)}, {literal(_FORMATTED)}) "
        f"AND ({before} = '' OR {after} = '') "
        f"AND ({before} <> '' OR {after} <> '' OR NOT regexp_full_match({number}, "
        f"{literal(_BARE)}))"
    )
    comma = f"regexp_full_match({number}, {literal(_COMMA_DECIMAL)})"
    digits = (
        f"CASE WHEN {comma} THEN replace(replace(replace({number}, '.', ''), ' ', ''), ',', '.') "
        f"ELSE replace({number}, ',', '') END"
    )
    written = f"coalesce(nullif({before}, ''), nullif({after}, ''))"
    symbols = " ".join(f"WHEN {literal(k)} THEN {literal(c)}" for k, c in _SYMBOLS.items())
    currency = f"CASE {written} {symbols} ELSE {written} END"
    return (
        f"CASE WHEN {usable} THEN try_cast({digits} AS DOUBLE) END",
        f"CASE WHEN {usable} THEN {currency} END",
    )


def money_twin(limit: float) -> Twin:
    """The SQL twin of :func:`icpkit.ingest.normalize.money.parse_money` for amounts written
    with thousands separators or a magnitude, or formatted with a currency (see
    :data:`_FORMATTED`), up to ``limit``: none of their separators is left to the column's
    decimal separator, so each reads the same in every column."""

    def select(relation: str) -> str:
        scale = (
            "CASE WHEN ends_with(v, 'K') THEN 1e3 "
            "WHEN ends_with(v, 'M') OR ends_with(v, ' million') THEN 1e6 ELSE 1e9 END"
        )
        grouped = f"regexp_full_match(v, {_GROUPED_AMOUNT})"
        scaled = f"regexp_full_match(v, {_SCALED_AMOUNT})"
        formatted, written = _formatted_amount("v")
        amount = (
            f"CASE WHEN {grouped} THEN try_cast(replace(v, ',', '') AS DOUBLE) "
            f"WHEN {scaled} THEN try_cast(regexp_extract(v, '[0-9.]+') AS DOUBLE) * {scale} "
            f"ELSE {formatted} END"
        )
        currency = (
            f"CASE WHEN {grouped} THEN NULL WHEN {scaled} THEN CASE WHEN starts_with(v, '$') "
            f"THEN 'USD' WHEN starts_with(v, '€') THEN 'EUR' END ELSE {written} END"
        )
        return f"""
            SELECT v, coalesce(o0 <= {limit!r}, false) AS hit, o0, o1
            FROM (SELECT v, {amount} AS o0, {currency} AS o1 FROM {relation})"""

    return select


def site_tables() -> dict[str, pa.Table]:
    """The public suffixes, the suffixes under a wildcard rule (``*.ck``: every label under
    ``ck`` is a suffix) and the shared-platform hosts the domain twins read."""
    tables = suffix_tables()
    every = tables["psl_every"].column("suffix").to_pylist()
    wild = sorted({s[2:] for s in every if s.startswith("*.")})
    tables["psl_wild"] = pa.table({"suffix": pa.array(wild, pa.string())})
    return tables


def _fast_twin(fast: FastPath) -> Twin:
    where, outputs = fast.sql("v")

    def select(relation: str) -> str:
        outs = ", ".join(f"{o} AS o{i}" for i, o in enumerate(outputs))
        return f"SELECT v, coalesce({where}, false) AS hit, {outs} FROM {relation}"

    return select


@dataclass
class Normalized:
    """A column normalized over its distinct values: the lookup table created, how many
    distinct values the normalizer refused, and its note for the report."""

    table: str
    lookup: Lookup
    in_python: int

    @property
    def errors(self) -> int:
        """Distinct values the normalizer refused (each with its reason in ``error``)."""
        return self.lookup.errors


def normalize_distinct(
    con: duckdb.DuckDBPyConnection,
    spec: FieldSpec,
    relation: str,
    column: str,
    alias: str,
    settings: IngestSettings,
    *,
    keep: Keep = "all",
) -> Normalized:
    """Create the temporary table ``alias`` (``raw``, the field's outputs, ``error``): one
    row per distinct non-blank value of ``column`` (a SQL expression) in ``relation``.

    Values a SQL twin covers are normalized in DuckDB; the rest by the field's Python
    normalizer, once each, with the decisions taken per column (the order of dates, the
    decimal separator) made on every value of the column, fast or slow, so that the twins
    and the normalizer give every value the same result.

    ``keep`` says which values the table holds (see :data:`Keep`); short of all, the first
    twin reads every row, so that only the values kept are made distinct.
    """
    if keep == "changed" and (len(OUTPUTS[spec.kind]) != 1 or spec.kind in _COLUMN_WIDE):
        raise ValueError(f"{spec.name}: no value is its own output regardless of the column")
    if keep == "unread" and spec.kind in ("money", "number"):
        raise ValueError(f"{spec.name}: the decimal separator weighs the values read in SQL")
    fast = fast_path(spec, settings)
    twins: list[Twin] = [] if fast is None else [_fast_twin(fast)]
    registered: list[str] = []
    if spec.kind == "money":
        twins.append(money_twin(money_limit(spec, settings)))
    if spec.kind == "domain":
        for name, rows in site_tables().items():
            con.register(name, rows)
            registered.append(name)
        twins.append(site_twin)
    outputs = OUTPUTS[spec.kind]
    names = [f"{spec.name}{o.suffix}" for o in outputs]
    made = [f"{alias}_v"]
    rows = (
        f"(SELECT {column} AS v FROM {relation} "
        f"WHERE {column} IS NOT NULL AND trim({column}) <> '')"
    )
    first_reads_rows = keep != "all" and bool(twins)
    if not first_reads_rows:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {alias}_v AS SELECT DISTINCT v FROM {rows}")
    try:
        # Each twin reads what the ones before it left, so a value is read once.
        left, parts = f"{alias}_v", []
        for i, twin in enumerate(twins):
            step = f"{alias}_t{i}"
            made.append(step)
            select = twin(left)
            if i == 0 and first_reads_rows:
                kept = "NOT hit OR o0 IS DISTINCT FROM v" if keep == "changed" else "NOT hit"
                select = f"SELECT DISTINCT * FROM ({twin(rows)}) WHERE {kept}"
            con.execute(f"CREATE OR REPLACE TEMP TABLE {step} AS {select}")
            outs = ", ".join(
                f"CAST(t.o{i} AS {o.sql}) AS {n}"
                for i, (o, n) in enumerate(zip(outputs, names, strict=True))
            )
            same = " AND t.o0 IS DISTINCT FROM t.v" if keep == "changed" else ""
            if keep != "unread":
                parts.append(
                    f"SELECT t.v AS raw, {outs}, NULL::VARCHAR AS error "
                    f"FROM {step} t WHERE hit{same}"
                )
            left = f"(SELECT v FROM {step} WHERE NOT hit)"
        slow = _strings(con, f"SELECT v FROM {left} ORDER BY 1")
        column_values: list[str] | None = None
        iso_dates = 0
        weigh: Weighed | None = None
        if spec.kind == "date" and slow:
            # The day/month order weighs every value of the column: the ones read in Python
            # one by one, the ISO dates read in SQL (never day/month numeric) by their count.
            column_values = slow
            values = f"SELECT count(DISTINCT v)::VARCHAR FROM {rows}"
            if not first_reads_rows:
                values = f"SELECT count(*)::VARCHAR FROM {alias}_v"
            iso_dates = int(_strings(con, values)[0])
            iso_dates -= len(slow)
        elif spec.kind in ("money", "number") and fast is not None:
            # The decimal separator: plain fast-path numbers with a dot all say '.'; a few do.
            # Each amount the money twin read with a separator shows one too: it weighs in, in
            # its place among the values read in Python, as if read there; counted in SQL,
            # as there may be millions. Without values left for Python nothing is decided.
            column_values = slow
            among = _shown_by_twin(con, f"{alias}_t1") if spec.kind == "money" and slow else {}
            after = _strings(
                con, f"SELECT v FROM {alias}_t0 WHERE hit AND contains(v, '.') LIMIT 100"
            )
            weigh = Weighed(among, after)
        lookup = build_lookup(
            spec, slow, settings, column_values=column_values, iso_dates=iso_dates, weigh=weigh
        )
        parts.insert(0, "SELECT raw, " + ", ".join(names) + ", error FROM lookup_rows")
        con.register("lookup_rows", lookup.table)
        con.execute(f"CREATE OR REPLACE TEMP TABLE {alias} AS {' UNION ALL '.join(parts)}")
    finally:
        with contextlib.suppress(duckdb.Error):
            con.unregister("lookup_rows")
        for name in registered:
            con.unregister(name)
        for name in made:
            con.execute(f"DROP TABLE IF EXISTS {name}")
    if spec.kind == "industry":
        lookup.note = _unmapped_industries(con, spec, column, alias, relation)
    return Normalized(alias, lookup, len(slow))


def _shown_by_twin(con: duckdb.DuckDBPyConnection, table: str) -> dict[Separator, Shown]:
    """The decimal separator each amount the money twin read in ``table`` shows, counted:
    ',' where its number is written with a decimal comma, '.' for every other with a
    separator (a decimal point, or two groups of thousands or more)."""
    _, number, _ = _formatted_parts("v")
    rows = con.execute(
        f"""SELECT CASE WHEN regexp_full_match({number}, {literal(_COMMA_DECIMAL)}) THEN ','
                        ELSE '.' END AS shown, count(*), min(v)
            FROM {table} WHERE hit AND regexp_matches(v, '[.,]') GROUP BY ALL"""
    ).fetchall()
    return {sep: Shown(int(n), str(first)) for sep, n, first in rows}


def _strings(con: duckdb.DuckDBPyConnection, sql: str) -> list[str]:
    return [r[0] for r in con.execute(sql).fetchall()]
