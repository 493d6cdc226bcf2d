"""Where an enriched value came from, in the words a reason shows: "Uses HubSpot (seen on
homepage, 2026-11-30)", "51-200 employees (People Data Labs, 2026-11-28)".

A rep who reads a reason must be able to check it, so a reason whose value came from
enrichment names its source and day; a value from the CRM export keeps its plain words.

- :class:`Evidence` is the record of one enriched value the waterfall chose: provider,
  source URL, day (when it was fetched, or the event's day for a posting or a filing) and
  the kind of page when known; :func:`evidence_text` words it. Field keys are those of
  the store: ``employees``, ``industry``, ... ``tech:<Tool>``, ``signal:<type>:<detail>``
  (the newest dated event), ``answer:<key>``, ``extra:<column>``.
- :func:`to_json` / :func:`from_json`: the same records as one JSON object per account,
  the ``enriched_from`` column of a universe or scored file.
- :func:`account_evidence` reads them from the store (the waterfall's winners, from
  ``accounts.enriched`` and the current observations); :func:`sourced_reasons` is the
  set-based step that adds the words to the reasons of scored rows, after the compiled
  SELECT, so the SQL exported for other engines keeps the bare reasons.

The words have a SQL twin (:func:`page_sql`, :func:`text_sql`), tested to agree with the
Python, so a million rows are worded in DuckDB, not one by one in Python.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import duckdb

from icpkit.attributes import DETAIL_SQL, definition_of
from icpkit.config import EnrichSettings, Settings
from icpkit.engines.prospects import Annotate
from icpkit.engines.score import reason_text
from icpkit.engines.scorecard import build_scorecard
from icpkit.engines.sql import SEPARATOR
from icpkit.enrich.apply import order
from icpkit.enrich.fields import COLUMNS
from icpkit.enrich.lookups import ANSWERED
from icpkit.icp.model import ICP, Criterion, Exclusion, IntentSignal
from icpkit.store.db import identifier, literal

PROVIDER_NAMES: dict[str, str] = {
    "pdl": "People Data Labs",
    "apollo": "Apollo",
    "clearbit": "Clearbit",
    "edgar": "SEC EDGAR",
    "website": "website",
    "technographics": "website",
    "hiring": "job board",
    "research": "research",
}
"""How a reason names a provider that has no page to point at."""

BOARDS: tuple[tuple[str, str], ...] = (
    ("greenhouse.io", "Greenhouse"),
    ("lever.co", "Lever"),
    ("ashbyhq.com", "Ashby"),
    ("workable.com", "Workable"),
    ("smartrecruiters.com", "SmartRecruiters"),
)
"""Job-board hosts (and their subdomains) and the board's name."""

SITE_PAGES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("about", "company", "team"), "about page"),
    (("career", "jobs"), "careers page"),
    (("pricing", "plans"), "pricing page"),
)
"""Words in a URL's path and the kind of page they name (the first that matches)."""

SITE_PROVIDERS = ("website", "technographics", "research")
"""Providers whose values come from the company's own pages."""

JOB_POSTING = "job posting"
WEBSITE = "website"  # a page of the site that is none of the named kinds

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://([^/?#:]*)[^/?#]*([^?#]*)")
_URL_SQL = "'^[A-Za-z][A-Za-z0-9+.-]*://([^/?#:]*)[^/?#]*([^?#]*)'"


@dataclass(frozen=True)
class Evidence:
    """Where one enriched value came from: the provider, the page or API it was read from,
    the day (fetched, or the event's day for a dated signal) and the kind of page when
    known ('homepage', 'careers page', 'DNS TXT record', 'job posting', 'SEC Form D')."""

    provider: str
    url: str | None = None
    at: dt.date | None = None
    page: str | None = None


def page_of(provider: str, field: str, url: str | None, value: str | None = None) -> str | None:
    """The kind of page an observation was read from, when it is known.

    >>> page_of("technographics", "tech", "https://acme.com/")
    'homepage'
    >>> page_of("website", "employees", "https://acme.com/company/about-us")
    'about page'
    >>> page_of("technographics", "tech", "dns:TXT acme.com")
    'DNS TXT record'
    >>> page_of("edgar", "signal:funding_round", "https://www.sec.gov/x", "Form D $20M")
    'SEC Form D'
    >>> page_of("pdl", "employees", "https://api.peopledatalabs.com/v5/company/enrich") is None
    True
    """
    if provider == "hiring":
        return JOB_POSTING
    if provider == "edgar":
        if not field.startswith("signal:"):
            return None
        detail = value or ""
        if detail.startswith("Form 8-K"):
            return "SEC Form 8-K"
        return "SEC Form D" if detail.startswith("Form D") else "SEC filing"
    if url is None:
        return None
    if url.startswith("dns:"):
        return f"DNS {url[4:].split(' ')[0].upper()} record"
    m = _URL.match(url)
    if provider in SITE_PROVIDERS and m:
        path = m.group(2).lower().strip("/")
        if not path:
            return "homepage"
        for words, page in SITE_PAGES:
            if any(w in path for w in words):
                return page
        return WEBSITE
    return None


def board_of(url: str | None) -> str | None:
    """The job board a posting's URL is on.

    >>> board_of("https://boards.greenhouse.io/acme/jobs/42")
    'Greenhouse'
    >>> board_of("https://acme.com/careers") is None
    True
    """
    m = _URL.match(url or "")
    if not m:
        return None
    host = m.group(1).lower()
    return next((name for d, name in BOARDS if host == d or host.endswith("." + d)), None)


def _short(url: str | None) -> str | None:
    """A page's address as a person writes it: 'acme.com/about'."""
    m = _URL.match(url or "")
    if not m:
        return None
    host = m.group(1).lower()
    return host.removeprefix("www.") + m.group(2).rstrip("/")


def source_words(record: Evidence) -> str:
    """The source of ``record`` in words, without its day."""
    url, page = record.url, record.page
    if url is not None and url.startswith("file:"):
        return f"your file {url[5:].split(':')[0]}"
    if record.provider == "research":
        where = _short(url)
        return f"research, {where}" if where else "research"
    if page == JOB_POSTING:
        board = board_of(url)
        return f"{board} posting" if board else JOB_POSTING
    if page == WEBSITE:
        return "seen on the website"
    if page in ("homepage", *(p for _, p in SITE_PAGES)):
        return f"seen on {page}"
    if page:
        return page
    return PROVIDER_NAMES.get(record.provider, record.provider)


def evidence_text(record: Evidence) -> str:
    """The words a reason shows in parentheses after an enriched value.

    >>> day = dt.date(2026, 11, 30)
    >>> evidence_text(Evidence("technographics", "https://acme.com/", day, "homepage"))
    'seen on homepage, 2026-11-30'
    >>> evidence_text(Evidence("pdl", None, dt.date(2026, 11, 28)))
    'People Data Labs, 2026-11-28'
    >>> evidence_text(Evidence("hiring", "https://boards.greenhouse.io/acme/jobs/1",
    ...                        dt.date(2026, 11, 12), "job posting"))
    'Greenhouse posting, 2026-11-12'
    >>> evidence_text(Evidence("research", "https://www.acme.com/about/", day, "about page"))
    'research, acme.com/about, 2026-11-30'
    >>> evidence_text(Evidence("clay", "file:clay.csv:line 12", dt.date(2026, 11, 2)))
    'your file clay.csv, 2026-11-02'
    """
    words = source_words(record)
    return f"{words}, {record.at.isoformat()}" if record.at is not None else words


# -- the JSON of a file's enriched_from column ----------------------------------------------


def to_json(records: Mapping[str, Evidence]) -> str:
    """``records`` (field key -> evidence) as one JSON object, the ``enriched_from`` cell
    of a universe or scored file: {"tech:HubSpot": {"provider": ..., "url": ..., "at":
    "YYYY-MM-DD", "page": ...}}.

    >>> to_json({"employees": Evidence("pdl", None, dt.date(2026, 11, 28))})
    '{"employees": {"provider": "pdl", "url": null, "at": "2026-11-28", "page": null}}'
    """
    return json.dumps({k: as_dict(r) for k, r in sorted(records.items())}, ensure_ascii=False)


def from_json(text: str) -> dict[str, Evidence]:
    """The records of an ``enriched_from`` cell; a cell that does not hold them raises a
    ValueError saying which key and value are wrong.

    >>> from_json('{"tech:HubSpot": {"provider": "technographics", "at": "2026-11-30"}}')
    {'tech:HubSpot': Evidence(provider='technographics', url=None, at=datetime.date(2026, 11, 30), page=None)}
    """  # noqa: E501
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"enriched_from is not JSON ({exc.msg}): {text[:80]!r}") from None
    if not isinstance(data, dict):
        raise ValueError(f"enriched_from is not a JSON object: {text[:80]!r}")
    out: dict[str, Evidence] = {}
    for key, item in data.items():
        if not isinstance(item, dict) or not isinstance(item.get("provider"), str):
            raise ValueError(f"enriched_from {key!r}: an object with a provider, not {item!r}")
        for name in ("url", "at", "page"):
            if item.get(name) is not None and not isinstance(item[name], str):
                raise ValueError(f"enriched_from {key!r}: {name} {item[name]!r} is not text")
        at = item.get("at")
        try:
            day = dt.date.fromisoformat(at) if at else None
        except ValueError:
            raise ValueError(f"enriched_from {key!r}: at {at!r} is not YYYY-MM-DD") from None
        out[key] = Evidence(item["provider"], item.get("url"), day, item.get("page"))
    return out


# -- the SQL twins ----------------------------------------------------------------------------


def path_sql(url: str) -> str:
    """The path of ``url`` in lower case without its outer slashes, as :func:`page_sql`
    reads it ('' for a homepage; computed once per row where it is given as a column)."""
    return f"lower(trim(regexp_extract({url}, {_URL_SQL}, 2), '/'))"


def page_sql(provider: str, field: str, url: str, value: str, path: str | None = None) -> str:
    """:func:`page_of` as a DuckDB expression over the four SQL expressions given (and the
    URL's :func:`path_sql`, when a column holds it)."""
    path = path or path_sql(url)
    kinds = " ".join(
        f"WHEN {' OR '.join(f'contains({path}, {literal(w)})' for w in words)} THEN {literal(page)}"
        for words, page in SITE_PAGES
    )
    site = ", ".join(map(literal, SITE_PROVIDERS))
    return f"""(CASE
        WHEN {provider} = 'hiring' THEN {literal(JOB_POSTING)}
        WHEN {provider} = 'edgar' THEN CASE
            WHEN NOT starts_with({field}, 'signal:') THEN NULL
            WHEN starts_with(coalesce({value}, ''), 'Form 8-K') THEN 'SEC Form 8-K'
            WHEN starts_with(coalesce({value}, ''), 'Form D') THEN 'SEC Form D'
            ELSE 'SEC filing' END
        WHEN {url} IS NULL THEN NULL
        WHEN starts_with({url}, 'dns:')
            THEN 'DNS ' || upper(split_part(substr({url}, 5), ' ', 1)) || ' record'
        WHEN {provider} IN ({site}) AND regexp_matches({url}, {_URL_SQL}) THEN CASE
            WHEN {path} = '' THEN 'homepage' {kinds} ELSE {literal(WEBSITE)} END
        ELSE NULL END)"""


def text_sql(provider: str, url: str, page: str, at: str) -> str:
    """:func:`evidence_text` as a DuckDB expression over the four SQL expressions given
    (``at`` a DATE)."""
    host = f"lower(regexp_extract({url}, {_URL_SQL}, 1))"
    short = (
        f"regexp_replace({host}, '^www[.]', '') || rtrim(regexp_extract({url}, {_URL_SQL}, 2), '/')"
    )
    boards = " ".join(
        f"WHEN {host} = {literal(d)} OR ends_with({host}, {literal('.' + d)}) "
        f"THEN {literal(name + ' posting')}"
        for d, name in BOARDS
    )
    names = " ".join(f"WHEN {literal(k)} THEN {literal(v)}" for k, v in PROVIDER_NAMES.items())
    pages = ", ".join(literal(p) for p in ("homepage", *(p for _, p in SITE_PAGES)))
    words = f"""(CASE
        WHEN starts_with(coalesce({url}, ''), 'file:')
            THEN 'your file ' || split_part(substr({url}, 6), ':', 1)
        WHEN {provider} = 'research' THEN CASE
            WHEN regexp_matches(coalesce({url}, ''), {_URL_SQL}) THEN 'research, ' || {short}
            ELSE 'research' END
        WHEN {page} = {literal(JOB_POSTING)} THEN CASE
            WHEN regexp_matches(coalesce({url}, ''), {_URL_SQL}) THEN CASE {boards}
                ELSE {literal(JOB_POSTING)} END
            ELSE {literal(JOB_POSTING)} END
        WHEN {page} = {literal(WEBSITE)} THEN 'seen on the website'
        WHEN {page} IN ({pages}) THEN 'seen on ' || {page}
        WHEN {page} IS NOT NULL THEN {page}
        ELSE CASE {provider} {names} ELSE {provider} END END)"""
    return f"({words} || coalesce(', ' || CAST({at} AS VARCHAR), ''))"


# -- the store ----------------------------------------------------------------------------------


def evidence_sql(
    settings: EnrichSettings,
    providers: list[str],
    as_of: dt.date,
    schema: str = "",
    keys: Collection[str] | None = None,
) -> str:
    """A SELECT of the store's evidence: one row per account and enriched value the
    waterfall chose (account_key, key, provider, url, day, page, text).

    Column fields come from ``accounts.enriched`` (the value enrichment wrote), with the
    first provider in the field's waterfall order that observed that value; tools from
    the tools enrichment added; answers and a file's columns from the keys it wrote into
    ``extra``; signals (``signal:<type>:<detail>``) from the newest enriched signal of each
    type and detail known on ``as_of``. ``providers`` are the providers that observed
    anything (they rank after the named ones); ``keys`` (field keys, ``signal:<type>:``
    for every detail of a type) keeps only the evidence a scorecard can name."""
    lookups = ANSWERED.replace("enrich_lookups", f"{schema}enrich_lookups")
    wanted, signals = "TRUE", "TRUE"
    # The parts a scorecard's rules need (all without ``keys``).
    parts = {"columns", "tools", "extras", "dated"}
    if keys is not None:
        parts = {
            "columns" if k in COLUMNS else
            "tools" if k.startswith("tech:") else
            "dated" if k.startswith("signal:") else "extras"
            for k in keys
        }  # fmt: skip
        named = sorted({k for k in keys if not k.startswith(("tech:", "signal:"))})
        tools = sorted({k[5:] for k in keys if k.startswith("tech:")})
        types = sorted({k.split(":")[1] for k in keys if k.startswith("signal:")})
        wanted = (
            f"(o.field IN ({', '.join(map(literal, named)) or 'NULL'}) OR (o.field = 'tech' "
            f"AND o.value IN ({', '.join(map(literal, tools)) or 'NULL'})))"
        )
        signals = f"signal_type IN ({', '.join(map(literal, types)) or 'NULL'})"

    def rank(field: str) -> str:
        ranked = [p for p in order(settings, field, providers) if p != "crm"]
        return f"coalesce(list_position([{', '.join(map(literal, ranked))}], o.provider), 999)"

    column_rank = " ".join(f"WHEN {literal(f)} THEN {rank(f)}" for f in COLUMNS)
    fields = ", ".join(map(literal, COLUMNS))
    day = literal(as_of.isoformat())
    none = "SELECT * FROM columns WHERE false"
    return f"""
    WITH cur AS MATERIALIZED (
        SELECT o.* FROM {schema}enrich_observations o JOIN ({lookups}) l USING (lookup_id)
        WHERE o.value IS NOT NULL AND o.confidence >= {float(settings.min_confidence)}
          AND {wanted}),
    marks AS (
        SELECT account_key, CAST(enriched AS JSON) AS enriched
        FROM {schema}accounts WHERE enriched IS NOT NULL),
    columns AS (
        SELECT m.account_key, o.field AS key, o.provider, o.field, o.source_url, o.value,
               coalesce(o.observed_at, o.fetched_at) AS seen
        FROM marks m JOIN cur o ON o.account_key = m.account_key AND o.field IN ({fields})
        WHERE json_extract_string(m.enriched, '$.' || o.field || '.applied[0]') = o.value
        QUALIFY row_number() OVER (PARTITION BY m.account_key, o.field
            ORDER BY CASE o.field {column_rank} END, o.confidence DESC, o.provider) = 1),
    tools AS (
        SELECT m.account_key, 'tech:' || o.value AS key, o.provider, o.field, o.source_url,
               o.value, coalesce(o.observed_at, o.fetched_at) AS seen
        FROM marks m JOIN cur o ON o.account_key = m.account_key AND o.field = 'tech'
        WHERE list_contains(
            from_json(json_extract(m.enriched, '$.technologies'), '["VARCHAR"]'), o.value)
        QUALIFY row_number() OVER (PARTITION BY m.account_key, o.value
            ORDER BY {rank("tech")}, o.confidence DESC, o.provider) = 1),
    written AS (
        SELECT account_key, x.key AS name, x.value
        FROM (SELECT account_key, unnest(map_entries(TRY_CAST(
                  json_extract(enriched, '$.extra') AS MAP(VARCHAR, VARCHAR)))) AS x
              FROM marks)),
    extras AS (
        SELECT w.account_key, o.field AS key, o.provider, o.field, o.source_url, o.value,
               coalesce(o.observed_at, o.fetched_at) AS seen
        FROM written w JOIN cur o ON o.account_key = w.account_key AND o.value = w.value
         AND o.field = CASE WHEN starts_with(w.name, 'answer:') THEN w.name
                            ELSE 'extra:' || w.name END
        QUALIFY row_number() OVER (PARTITION BY w.account_key, o.field
            ORDER BY o.confidence DESC, o.provider) = 1),
    dated AS (
        SELECT account_key, 'signal:' || signal_type || ':' || detail AS key,
               substr(source, 8) AS provider, 'signal:' || signal_type AS field,
               json_extract_string(extra, '$.source_url') AS source_url, detail AS value,
               observed_at AS seen
        FROM {schema}signals
        WHERE source LIKE 'enrich:%' AND detail IS NOT NULL AND account_key IS NOT NULL
          AND CAST(observed_at AS DATE) <= DATE {day} AND {signals}
        QUALIFY row_number() OVER (PARTITION BY account_key, signal_type, detail
            ORDER BY observed_at DESC, provider) = 1),
    chosen AS ({" UNION ALL ".join(f"SELECT * FROM {p}" for p in sorted(parts)) or none}),
    paged AS (
        SELECT account_key, key, provider, source_url AS url, CAST(seen AS DATE) AS day,
               {page_sql("provider", "field", "source_url", "value", "path")} AS page
        FROM (SELECT *, CASE WHEN provider IN ({", ".join(map(literal, SITE_PROVIDERS))})
                             THEN {path_sql("source_url")} END AS path FROM chosen))
    SELECT *, {text_sql("provider", "url", "page", "day")} AS text FROM paged"""


def _providers(con: duckdb.DuckDBPyConnection, schema: str) -> list[str]:
    rows = con.execute(f"SELECT DISTINCT provider FROM {schema}enrich_observations").fetchall()
    return sorted(str(r[0]) for r in rows)


def account_evidence(
    con: duckdb.DuckDBPyConnection,
    settings: EnrichSettings,
    as_of: dt.date | None = None,
    accounts: list[str] | None = None,
) -> dict[str, dict[str, Evidence]]:
    """Per account (all, or ``accounts``), the evidence of every enriched value the
    waterfall chose, by field key (see :func:`evidence_sql`)."""
    day = as_of or dt.date.today()
    sql = evidence_sql(settings, _providers(con, ""), day)
    where, params = "", []
    if accounts is not None:
        where, params = "WHERE account_key IN (SELECT unnest(?))", [accounts]
    rows = con.execute(
        f"SELECT account_key, key, provider, url, day, page FROM ({sql}) {where} "
        "ORDER BY account_key, key",
        params,
    ).fetchall()
    out: dict[str, dict[str, Evidence]] = {}
    for key, name, provider, url, at, page in rows:
        out.setdefault(str(key), {})[str(name)] = Evidence(provider, url, at, page)
    return out


# -- reasons ---------------------------------------------------------------------------------

FILE_COLUMN = "enriched_from"
"""The column of a universe or scored file that holds its rows' evidence (JSON)."""

_RECORD = 'STRUCT(provider VARCHAR, url VARCHAR, "at" VARCHAR, page VARCHAR)'


def rule_keys(rule: Criterion | Exclusion) -> list[str]:
    """The field keys whose evidence a fit rule or exclusion rests on ([] when none: a
    stack's size, an unknown value).

    >>> rule_keys(Criterion(source="derived", id="f1", attribute="tech", values=["HubSpot"]))
    ['tech:HubSpot']
    >>> rule_keys(Criterion(source="derived", id="f2", attribute="employees", min=51, max=200))
    ['employees']
    """
    if isinstance(rule, Criterion) and rule.missing:
        return []
    attribute = rule.attribute
    if attribute == "tech":
        return [f"tech:{v}" for v in rule.values or []]
    if attribute.startswith(("tech:", "answer:", "extra:")):
        return [attribute]
    definition = definition_of(attribute)
    field = getattr(definition, "field", None)
    return [field] if field in COLUMNS else []


def wanted_keys(icp: ICP, settings: Settings) -> set[str]:
    """The field keys the scoring rules of ``icp`` can rest on (``signal:<type>:`` for an
    intent signal's every detail)."""
    keys: set[str] = set()
    for rp in build_scorecard(icp, settings.scoring).rules:
        rule = rp.scored.rule
        if isinstance(rule, Criterion | Exclusion):
            keys.update(rule_keys(rule))
        elif isinstance(rule, IntentSignal):
            keys.add(f"signal:{rule.signal}:")
    return keys


def entries_sql(icp: ICP, settings: Settings, as_of: dt.date, evidence: str) -> str | None:
    """A DuckDB expression: the list of {k: a reason without its points, v: the words of
    its evidence} for one row, from ``evidence`` (a list of {key, text, day}); None when no
    rule of ``icp`` can rest on an enriched value."""
    card = build_scorecard(icp, settings.scoring)
    day = f"DATE {literal(as_of.isoformat())}"
    parts = []
    for rp in card.rules:
        rule = rp.scored.rule
        if isinstance(rule, Criterion | Exclusion):
            keys = rule_keys(rule)
            if not keys:
                continue
            found = (
                f"(list_filter({evidence}, lambda e: e.key IN ({', '.join(map(literal, keys))})))"
            )
            parts.append(f"[{{'k': {literal(reason_text(rule))}, 'v': {found}[1].text}}]")
        elif isinstance(rule, IntentSignal):
            prefix = f"signal:{rule.signal}:"
            condition = f"starts_with(e.key, {literal(prefix)})"
            if rule.detail_in:
                detail = f"substr(e.key, {len(prefix) + 1})"
                kind = DETAIL_SQL.replace("s.detail", detail)
                condition += f" AND {kind} IN ({', '.join(map(literal, rule.detail_in))})"
            stem = literal(reason_text(rule) + " ")
            parts.append(
                f"list_transform(list_filter({evidence}, lambda e: {condition}), lambda e: "
                f"{{'k': {stem} || CAST(date_diff('day', e.day, {day}) AS VARCHAR) || "
                f"' days ago', 'v': e.text}})"
            )
    if not parts:
        return None
    return f"list_filter(flatten([{', '.join(parts)}]), lambda x: x.v IS NOT NULL)"


def _suffixed(column: str, entries: str, table: str) -> str:
    """``column`` of ``table`` (reasons joined by the separator) with each reason found in
    ``entries`` followed by its evidence in parentheses, before its points."""
    value = f"{table}.{identifier(column)}"
    sep = literal(SEPARATOR)
    # A reason is its words, then its points when it has any (' (+9)'): string functions,
    # no regular expression per reason.
    found = f"list_filter({entries}, lambda x: p = x.k OR starts_with(p, x.k || ' ('))"
    told = "x.k || ' (' || x.v || ')' || substr(p, length(x.k) + 1)"
    piece = f"coalesce(list_transform({found}, lambda x: {told})[1], p)"
    return (
        f"CASE WHEN {entries} IS NULL OR len({entries}) = 0 OR coalesce({value}, '') = '' "
        f"THEN {value} ELSE array_to_string(list_transform(string_split({value}, {sep}), "
        f"lambda p: {piece}), {sep}) END AS {identifier(column)}"
    )


def sourced_reasons(icp: ICP, settings: Settings, as_of: dt.date) -> Annotate:
    """The step after the compiled SELECT that names an enriched value's source in the
    reasons resting on it: rows of a file with an ``enriched_from`` column take their own
    evidence, other rows the workspace's (by account key). Returns a function of (the
    connection, the scored view, the workspace's schema prefix) making a view of the same
    columns with the reasons worded, and returning its name."""

    def annotate(con: duckdb.DuckDBPyConnection, view: str, schema: str) -> str:
        columns = [r[0] for r in con.execute(f"DESCRIBE {view}").fetchall()]
        own = f"in_{FILE_COLUMN}"
        reasons = [c for c in ("top_reasons", "negative_reasons") if c in columns]
        if own in columns:
            # The file's own records, row by row.
            record = (
                f"TRY_CAST(CASE WHEN json_valid(s.{identifier(own)}) "
                f"THEN CAST(s.{identifier(own)} AS JSON) END AS MAP(VARCHAR, {_RECORD}))"
            )
            day = 'TRY_CAST(r.value."at" AS DATE)'
            text = text_sql("r.value.provider", "r.value.url", "r.value.page", day)
            evidence = (
                f"list_transform(map_entries({record}), lambda r: "
                f"{{'key': r.key, 'text': {text}, 'day': {day}}})"
            )
            entries = entries_sql(icp, settings, as_of, "x._evidence")
            if entries is None:
                return view
            # Each row's cell is read once, then its entries worded once.
            fixed = ", ".join(_suffixed(c, "e._because", "e") for c in reasons)
            read = f"(SELECT s.*, {evidence} AS _evidence FROM {view} s) x"
            source = f"(SELECT x.*, {entries} AS _because FROM {read}) e"
            select = f"SELECT * EXCLUDE (_evidence, _because) REPLACE ({fixed}) FROM {source}"
        else:
            # The workspace's evidence, worded once per enriched account, joined by key.
            if not schema or not evidence_table(con, icp, settings, as_of, schema):
                return view
            select = sourced_select(view, reasons, "account_key")
        con.execute(f"CREATE OR REPLACE TEMP VIEW sourced AS {select}")
        return "sourced"

    return annotate


EVIDENCE_TABLE = "_account_evidence"


def evidence_table(
    con: duckdb.DuckDBPyConnection, icp: ICP, settings: Settings, as_of: dt.date, schema: str
) -> bool:
    """Word the evidence of the workspace at ``schema`` (an attached store's prefix, 'ws.')
    once per enriched account into the temporary table ``EVIDENCE_TABLE`` (account_key,
    entries); False, and no table, when no rule of ``icp`` can rest on an enriched value."""
    entries = entries_sql(icp, settings, as_of, "w.evidence")
    if entries is None or not _has_enrichment(con, schema):
        return False
    keys = wanted_keys(icp, settings)
    sql = evidence_sql(settings.enrich, _providers(con, schema), as_of, schema, keys)
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {EVIDENCE_TABLE} AS
            SELECT account_key, {entries} AS entries
            FROM (SELECT account_key,
                         list({{'key': key, 'text': text, 'day': day}}) AS evidence
                  FROM ({sql}) GROUP BY account_key) w"""
    )
    return True


def sourced_select(view: str, reasons: Sequence[str], key: str) -> str:
    """A SELECT of ``view`` with its ``reasons`` columns worded from ``EVIDENCE_TABLE``,
    its rows matched to the workspace's accounts by the column ``key``."""
    fixed = ", ".join(_suffixed(c, "a.entries", "s") for c in reasons)
    return (
        f"SELECT s.* REPLACE ({fixed}) FROM {view} s "
        f"LEFT JOIN {EVIDENCE_TABLE} a ON a.account_key = s.{identifier(key)}"
    )


def _has_enrichment(con: duckdb.DuckDBPyConnection, schema: str) -> bool:
    """Whether the attached store holds any enriched account (else no join is made)."""
    try:
        row = con.execute(
            f"SELECT EXISTS (SELECT 1 FROM {schema}accounts WHERE enriched IS NOT NULL)"
        ).fetchone()
    except duckdb.Error:  # a store from before enrichment: nothing to name
        return False
    return bool(row and row[0])


def as_dict(record: Evidence) -> dict[str, Any]:
    """``record`` as the JSON contract writes it (see :func:`to_json`)."""
    return {
        "provider": record.provider,
        "url": record.url,
        "at": record.at.isoformat() if record.at is not None else None,
        "page": record.page,
    }
