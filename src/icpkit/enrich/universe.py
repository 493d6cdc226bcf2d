"""Enriching a company universe (a prospect list, a list vendor's export) into a file, without
making its companies accounts of the workspace.

The universe is read as ``icp tam`` reads it (icpkit.operate.universe): a file in the
scorer's input layout row by row, a raw export through ingestion. Every row with a usable
domain (a ``domain`` or ``website`` column, else an ``account_key`` that is one) is enriched
through the same runner, cache, time-to-live, budget and waterfall as the accounts: once per
distinct domain, keyed ``universe:<domain>`` in the store's cache, or by the account's own
key when a workspace account has that domain (its cached answers serve both). Nothing is
written to ``accounts`` or ``signals`` for a company the workspace does not hold.

The enriched file keeps every row and column read, in the input layout: a field's value is
the waterfall's winner, the row's own value being the ``crm`` source; technologies are the
row's plus every tool seen; answers fill ``answer_<key>`` and a file's other columns their
own. ``enriched_from`` says, per filled value, which provider gave it, from which page and
on which day (the JSON of icpkit.enrich.evidence, which ``icp score`` reads to name sources
in reasons); ``enriched_signals`` lists the dated events seen (job postings, filings), which
a file cannot feed to intent scoring (that reads the workspace's signals) but a person can.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from icpkit.config import EnrichSettings, Settings
from icpkit.engines.layout import input_layout
from icpkit.enrich.apply import CRM, order
from icpkit.enrich.evidence import FILE_COLUMN, Evidence, page_of, to_json
from icpkit.enrich.fields import ANSWER, COLUMNS, EXTRA, SIGNAL, TECH
from icpkit.enrich.lookups import ANSWERED, UNIVERSE
from icpkit.enrich.model import Provider, Target
from icpkit.enrich.providers import files
from icpkit.enrich.providers.files import FileProvider
from icpkit.enrich.run import EnrichResult, Needing
from icpkit.errors import IcpkitError
from icpkit.icp.model import ICP
from icpkit.ingest.normalize.domains import account_domain
from icpkit.operate.universe import VIEW, UniverseFile, create_view, open_universe
from icpkit.output.csvfile import neutralize
from icpkit.output.files import atomic_path
from icpkit.store.db import arrow_table

FROM_COLUMN = FILE_COLUMN
"""Each row's evidence: field key -> provider, url, day, page (icpkit.enrich.evidence)."""
SIGNALS_COLUMN = "enriched_signals"
FORMATS = (".parquet", ".csv")
BATCH_ROWS = 50_000
"""Rows read and written at a time: memory stays flat however long the universe."""
DOMAIN_COLUMNS = ("domain", "website", "company domain name", "company domain", "url", "web")
"""Columns naming a row's domain, in the order they are tried (case does not matter)."""

# The layout's column each waterfall field fills, and how its stored text becomes a value.
_FIELDS = {name: columns[0] for name, columns in COLUMNS.items()}
_CASTS = {"BIGINT": int, "INTEGER": int, "DOUBLE": float}


class UniverseEnrichError(IcpkitError):
    """A universe that cannot be enriched into the file asked for; the message says why."""


@dataclass
class UniverseEnrichment:
    """What enriching a universe did: the run (per provider fetched, found, missed, failed,
    cached, as for accounts), the rows read and written, and what the waterfall filled."""

    source: Path
    out: Path | None
    run: EnrichResult
    rows: int = 0
    written: int = 0
    without_domain: int = 0
    domains: int = 0
    accounts: int = 0  # domains the workspace holds as accounts: their cache is shared
    filled: dict[str, int] = field(default_factory=dict)  # rows per field
    tools_added: int = 0
    rows_with_tools: int = 0
    answers: int = 0  # answer_<key> and file column cells filled
    signals: int = 0  # dated events listed, over all rows
    warnings: list[str] = field(default_factory=list)

    @property
    def dry_run(self) -> bool:
        return self.run.dry_run

    def summary(self) -> list[str]:
        """What enriching the universe wrote, for the person running it, one line each."""
        lines = []
        if self.dry_run:
            lines.append(
                f"{self.rows:,} rows, {self.domains:,} distinct domains to enrich "
                f"({self.accounts:,} of them workspace accounts, whose cache is shared)."
            )
        else:
            lines.append(
                f"{self.written:,} of {self.rows:,} rows written to {self.out} "
                f"({self.domains:,} distinct domains enriched)."
            )
            filled = ", ".join(f"{k} {v:,}" for k, v in sorted(self.filled.items()) if v)
            if filled:
                lines.append(f"Fields filled (rows): {filled}.")
            if self.tools_added:
                lines.append(
                    f"{self.tools_added:,} technologies added to {self.rows_with_tools:,} rows."
                )
            if self.answers:
                lines.append(f"{self.answers:,} answers and file columns filled.")
            if self.signals:
                lines.append(
                    f"{self.signals:,} dated signals listed in {SIGNALS_COLUMN} (intent "
                    "scoring reads the workspace's signals, not a file's)."
                )
        if self.without_domain:
            n = self.without_domain
            rows = f"{n:,} rows have" if n != 1 else "1 row has"
            lines.append(f"{rows} no domain: written as read.")
        return lines


@dataclass
class _Gaps:
    """What the rows of one domain lack of their own: the fields some row has no value for,
    and whether some row names no tool (what a keyed provider could still fill)."""

    fields: set[str] = field(default_factory=set)
    tools: bool = False


@dataclass
class _Known:
    """What the providers say of one domain: per field the winner ranked before the row's
    own value and the one after it, tools, other values and dated events, each with its
    provenance."""

    before: dict[str, tuple[Any, Evidence]] = field(default_factory=dict)
    after: dict[str, tuple[Any, Evidence]] = field(default_factory=dict)
    tools: list[tuple[str, Evidence]] = field(default_factory=list)
    # column -> (value, its evidence, the store's field key: 'answer:crm', 'extra:Region')
    columns: dict[str, tuple[str, Evidence, str]] = field(default_factory=dict)
    signals: list[dict[str, str]] = field(default_factory=list)
    newest: dict[str, Evidence] = field(default_factory=dict)  # 'signal:<type>:<detail>'


def check_out(out: Path, source: Path) -> Path:
    """``out`` if icpkit can write an enriched universe there (.parquet or .csv, not the
    universe itself)."""
    if out.suffix.lower() not in FORMATS:
        raise UniverseEnrichError(f"{out}: write the enriched universe as .parquet or .csv")
    if out.resolve() == source.resolve():
        raise UniverseEnrichError(f"{out}: is the universe itself; write the enriched one apart")
    return out


def read(
    path: Path,
    settings: Settings,
    store: Path | None,
    icp: ICP | None,
    con: duckdb.DuckDBPyConnection,
    *,
    workdir: Path,
    encoding: str | None = None,
    sheet: str | None = None,
) -> UniverseFile:
    """Read ``path`` as a universe (see icpkit.operate.universe) into the temp view
    ``universe`` of ``con``, which must not be the store's connection."""
    universe = open_universe(
        path, settings, store, icp, workdir=workdir, encoding=encoding, sheet=sheet
    )
    create_view(con, universe.path, icp)
    return universe


def domain_column(columns: Sequence[str]) -> str | None:
    """The column naming each row's domain: the first of :data:`DOMAIN_COLUMNS` present,
    else ``account_key`` (a key that is a domain), else None.

    >>> domain_column(["account_key", "Website", "name"])
    'Website'
    """
    folded = {c.casefold(): c for c in reversed(columns)}
    for name in DOMAIN_COLUMNS:
        if name in folded:
            return folded[name]
    return "account_key" if "account_key" in columns else None


def domain_of(value: Any) -> str | None:
    """The registrable domain ``value`` names, or None (empty, unreadable, a name key).

    >>> domain_of("https://www.acme.io/about"), domain_of("name:acme"), domain_of(None)
    ('acme.io', None, None)
    """
    if value is None:
        return None
    text = str(value).strip()
    if not text or text.startswith("name:") or "." not in text:
        return None
    try:
        found = account_domain(text)
    except ValueError:
        return None
    if found is None or "/" in found:
        return None  # a page on a shared platform names no website to read
    return found


def row_domain(data: Mapping[str, list[Any]], i: int, column: str | None) -> str | None:
    """Row ``i``'s domain: its domain column's, else its ``account_key`` when that is one.

    >>> row_domain({"account_key": ["acme.com"], "Website": [None]}, 0, "Website")
    'acme.com'
    """
    found = domain_of(data[column][i]) if column else None
    if found is None and column != "account_key" and "account_key" in data:
        found = domain_of(data["account_key"][i])
    return found


def rows(con: duckdb.DuckDBPyConnection) -> Iterator[pa.RecordBatch]:
    """The universe view's rows, :data:`BATCH_ROWS` at a time, in the file's order."""
    relation = con.sql(f"SELECT * FROM {VIEW}")
    fetch = getattr(relation, "to_arrow_reader", None) or relation.fetch_arrow_reader
    yield from fetch(BATCH_ROWS)


def gather(
    con: duckdb.DuckDBPyConnection, store: duckdb.DuckDBPyConnection
) -> tuple[list[Target], dict[str, _Gaps], int, int]:
    """The targets of the universe in ``con`` (one per distinct domain, keyed by the
    workspace account holding the domain, else ``universe:<domain>``), what each key's rows
    lack, the rows read, and those without a usable domain."""
    columns = [str(r[0]) for r in con.execute(f"DESCRIBE SELECT * FROM {VIEW}").fetchall()]
    where = domain_column(columns)
    fields = [c for c in _FIELDS.values() if c in columns]
    targets: dict[str, Target] = {}
    gaps: dict[str, _Gaps] = defaultdict(_Gaps)
    total = without = 0
    for batch in rows(con):
        data = batch.to_pydict()
        for i in range(batch.num_rows):
            total += 1
            domain = row_domain(data, i, where)
            if domain is None:
                without += 1
                continue
            lacking = gaps[domain]
            lacking.fields.update(c for c in fields if data[c][i] is None)
            if "technologies" not in data or not data["technologies"][i]:
                lacking.tools = True
            if domain not in targets:
                name = data["name"][i] if "name" in data else None
                country = data["country"][i] if "country" in data else None
                targets[domain] = Target(domain, domain, name, country)
    held = _accounts_by_domain(store, list(targets))
    keyed: list[Target] = []
    by_key: dict[str, _Gaps] = {}
    for domain, target in targets.items():
        key = held.get(domain, UNIVERSE + domain)
        keyed.append(Target(key, domain, target.name, target.country))
        by_key[key] = gaps[domain]
    return keyed, by_key, total, without


def file_notes(provider: FileProvider, held: set[str]) -> list[str]:
    """What a person should know of an enrichment file after a universe run: its rows set
    aside, and how many name a domain the universe does not hold."""
    notes = files.file_notes(provider, set(provider.domains()))  # the rows set aside
    unused = sum(1 for domain in provider.domains() if domain not in held)
    if unused:
        notes.append(
            f"{provider.path.name}: {unused:,} of {len(provider):,} rows name a domain the "
            "universe does not hold: not used"
        )
    return notes


def shared(targets: Sequence[Target]) -> int:
    """How many of a universe's targets are workspace accounts (their cache is theirs)."""
    return sum(1 for t in targets if not t.account_key.startswith(UNIVERSE))


def _accounts_by_domain(con: duckdb.DuckDBPyConnection, domains: list[str]) -> dict[str, str]:
    if not domains:
        return {}
    con = con.cursor()
    con.register("_universe_domains", pa.table({"domain": pa.array(domains, pa.string())}))
    try:
        found = con.execute(
            "SELECT domain, min(account_key) FROM accounts "
            "WHERE domain IN (SELECT domain FROM _universe_domains) GROUP BY domain"
        ).fetchall()
    finally:
        con.unregister("_universe_domains")
    return {str(d): str(k) for d, k in found}


def needing(by_key: Mapping[str, _Gaps]) -> Needing:
    """The runner's ``needing`` for a universe: a keyed provider is asked about a domain
    when, for some field it fills, a row of the domain has no value from a source ranked
    before it (its own, or another provider's stored answer)."""

    def needed(
        con: duckdb.DuckDBPyConnection, provider: Provider, settings: EnrichSettings
    ) -> set[str]:
        names = [f for f in provider.fields if f in _FIELDS]
        wants_tools = TECH in provider.fields
        if not names and not wants_tools:
            return set(by_key)
        known = known_values(con, settings, list(by_key), rank_for=provider.name)
        own_first = {name: not _outranks_crm(settings, name, provider) for name in names}
        out = set()
        for key, lacking in by_key.items():
            info = known.get(key, _Known())
            if wants_tools and lacking.tools and not info.tools:
                out.add(key)
            for name in names:
                earlier = name in info.before or name in info.after
                own = own_first[name] and _FIELDS[name] not in lacking.fields
                if not earlier and not own:
                    out.add(key)
        return out

    return needed


def _outranks_crm(settings: EnrichSettings, name: str, provider: Provider) -> bool:
    ranked = order(settings, name, [provider.name])
    return ranked.index(provider.name) < ranked.index(CRM)


def known_values(
    con: duckdb.DuckDBPyConnection,
    settings: EnrichSettings,
    keys: Sequence[str],
    *,
    rank_for: str | None = None,
) -> dict[str, _Known]:
    """What the stored answers say of ``keys`` (confident values of the current lookups;
    dated events of every lookup, as the accounts' signals are). With ``rank_for`` only
    the sources the waterfall ranks before that provider count."""
    if not keys:
        return {}
    con = con.cursor()  # apart from any result the runner left unread on ``con``
    con.register("_universe_keys", pa.table({"account_key": pa.array(list(keys), pa.string())}))
    try:
        current = con.execute(
            f"""SELECT o.account_key, o.provider, o.field, o.value, o.source_url,
                       coalesce(o.observed_at, o.fetched_at)
                FROM enrich_observations o JOIN ({ANSWERED}) l USING (lookup_id)
                WHERE o.account_key IN (SELECT account_key FROM _universe_keys)
                  AND o.value IS NOT NULL AND o.confidence >= ?
                  AND o.field NOT LIKE '{SIGNAL}%'
                ORDER BY o.account_key, o.confidence DESC, o.field, o.value""",
            [settings.min_confidence],
        ).fetchall()
        events = con.execute(
            f"""SELECT account_key, provider, substr(field, {len(SIGNAL) + 1}), value,
                       CAST(coalesce(observed_at, fetched_at) AS DATE) AS day,
                       any_value(source_url)
                FROM enrich_observations
                WHERE account_key IN (SELECT account_key FROM _universe_keys)
                  AND field LIKE '{SIGNAL}%' AND value IS NOT NULL AND confidence >= ?
                GROUP BY ALL ORDER BY account_key, day DESC, 3, value""",
            [settings.min_confidence],
        ).fetchall()
    finally:
        con.unregister("_universe_keys")
    providers = sorted({str(r[1]) for r in current})
    ranks = {name: order(settings, name, providers) for name in _FIELDS}
    if rank_for is not None:
        ranks = {
            name: ranked[: ranked.index(rank_for)] if rank_for in ranked else ranked
            for name, ranked in ranks.items()
        }
    seen: dict[str, dict[str, dict[str, tuple[str, Evidence]]]] = defaultdict(dict)
    out: dict[str, _Known] = defaultdict(_Known)
    for key, provider, name, value, url, fetched in current:
        source = _evidence(provider, name, value, url, fetched)
        info = out[key]
        if name == TECH:
            if all(value.casefold() != t.casefold() for t, _ in info.tools):
                info.tools.append((value, source))
        elif name.startswith((ANSWER, EXTRA)):
            column = _column_of(name)
            if column not in info.columns:
                info.columns[column] = (value, source, name)
        elif name in _FIELDS:
            seen[key].setdefault(name, {}).setdefault(provider, (value, source))
    for key, by_field in seen.items():
        info = out[key]
        for name, by_provider in by_field.items():
            ranked = ranks[name]
            crm = ranked.index(CRM) if CRM in ranked else len(ranked)
            for position, source_name in enumerate(ranked):
                if source_name in by_provider:
                    side = info.before if position < crm else info.after
                    side.setdefault(name, by_provider[source_name])
    for key, provider, kind, detail, day, url in events:
        event = {"type": kind, "detail": detail, "day": day.isoformat(), "provider": provider}
        if url:
            event["source_url"] = url
        out[key].signals.append(event)
        name = f"{SIGNAL}{kind}:{detail}"
        if name not in out[key].newest:  # the newest first
            out[key].newest[name] = _evidence(provider, SIGNAL + kind, detail, url, day)
    return dict(out)


def _column_of(name: str) -> str:
    """The input-layout column of an answer or a file's column ('answer:crm' -> 'answer_crm')."""
    if name.startswith(ANSWER):
        return "answer_" + name.removeprefix(ANSWER)
    return name.removeprefix(EXTRA)


def _evidence(
    provider: str, name: str, value: str, url: str | None, seen: dt.date | dt.datetime | None
) -> Evidence:
    """Where a value came from, as the ``enriched_from`` contract writes it: the provider,
    the page, the day it was fetched (or the event's day) and the kind of page."""
    day = seen.date() if isinstance(seen, dt.datetime) else seen
    return Evidence(provider, url, day, page_of(provider, name, url, value))


def write(
    con: duckdb.DuckDBPyConnection,
    known: Mapping[str, _Known],
    targets: Sequence[Target],
    out: Path,
    result: UniverseEnrichment,
) -> None:
    """Write the universe in ``con`` to ``out`` with what is ``known`` of each domain, row
    for row, through a temporary file renamed at the end."""
    described = con.execute(f"DESCRIBE SELECT * FROM {VIEW}").fetchall()
    columns = [str(r[0]) for r in described]
    where = domain_column(columns)
    key_of = {t.domain: t.account_key for t in targets}
    added = sorted({c for info in known.values() for c in info.columns} - set(columns))
    extra = [c for c in added if c not in (FROM_COLUMN, SIGNALS_COLUMN)]
    names = [*columns, *extra, FROM_COLUMN, SIGNALS_COLUMN]
    layout = input_layout()
    csv = out.suffix.lower() == ".csv"
    with atomic_path(out) as tmp:
        writer: pq.ParquetWriter | None = None
        handle = tmp.open("w", encoding="utf-8", newline="") if csv else None
        try:
            if handle is not None:
                import csv as csvlib

                sheet = csvlib.writer(handle)
                sheet.writerow(names)
            for batch in rows(con):
                data = batch.to_pydict()
                for name in extra:
                    data[name] = [None] * batch.num_rows
                data[FROM_COLUMN] = [None] * batch.num_rows
                data[SIGNALS_COLUMN] = [None] * batch.num_rows
                for i in range(batch.num_rows):
                    domain = row_domain(data, i, where)
                    info = known.get(key_of[domain]) if domain in key_of else None
                    if info is not None:
                        _fill(data, i, info, layout, result)
                result.written += batch.num_rows
                if handle is not None:
                    for i in range(batch.num_rows):
                        sheet.writerow([_csv_cell(data[n][i]) for n in names])
                    continue
                table = _arrow(data, names, batch.schema, extra)
                writer = writer or pq.ParquetWriter(tmp, table.schema, compression="zstd")
                writer.write_table(table)
            if writer is None and handle is None:
                empty = _arrow({n: [] for n in names}, names, _schema(con), extra)
                pq.write_table(empty, tmp, compression="zstd")
        finally:
            if writer is not None:
                writer.close()
            if handle is not None:
                handle.close()


def _fill(
    data: dict[str, list[Any]],
    i: int,
    info: _Known,
    layout: Mapping[str, str],
    result: UniverseEnrichment,
) -> None:
    """Row ``i`` of ``data`` with the waterfall's winners, the tools seen, the other values
    and the dated events, and where each filled value came from."""
    provenance: dict[str, Evidence] = {}
    for name, column in _FIELDS.items():
        if column not in data:
            continue
        own = data[column][i]
        chosen = info.before.get(name) or (None if own is not None else info.after.get(name))
        if chosen is None:
            continue
        value = _typed(chosen[0], layout.get(column, "VARCHAR"))
        if value is None or value == own:
            continue
        data[column][i] = value
        provenance[name] = chosen[1]
        result.filled[column] = result.filled.get(column, 0) + 1
    if "technologies" in data and info.tools:
        mine = list(data["technologies"][i] or [])
        have = {t.casefold() for t in mine}
        new = [(tool, source) for tool, source in info.tools if tool.casefold() not in have]
        if new:
            data["technologies"][i] = mine + [tool for tool, _ in new]
            provenance.update({f"{TECH}:{tool}": source for tool, source in new})
            result.tools_added += len(new)
            result.rows_with_tools += 1
    for column, (value, source, key) in info.columns.items():
        current = data[column][i]
        if current is not None and str(current).strip():
            continue  # the row's own value stays
        data[column][i] = value
        provenance[key] = source
        result.answers += 1
    provenance.update(info.newest)
    if provenance:
        data[FROM_COLUMN][i] = to_json(provenance)
    if info.signals:
        data[SIGNALS_COLUMN][i] = json.dumps(info.signals, ensure_ascii=False)
        result.signals += len(info.signals)


def _typed(value: str, kind: str) -> Any:
    cast = _CASTS.get(kind)
    if cast is None:
        return value
    try:
        return cast(float(value)) if cast is int else cast(value)
    except ValueError:
        return None


def _arrow(
    data: dict[str, list[Any]], names: Sequence[str], schema: pa.Schema, extra: Sequence[str]
) -> pa.Table:
    fields = [schema.field(n) for n in schema.names]
    fields += [pa.field(n, pa.string()) for n in [*extra, FROM_COLUMN, SIGNALS_COLUMN]]
    target = pa.schema(fields)
    return pa.table({n: pa.array(data[n], target.field(n).type) for n in names}, schema=target)


def _schema(con: duckdb.DuckDBPyConnection) -> pa.Schema:
    return arrow_table(con, f"SELECT * FROM {VIEW} LIMIT 0").schema


def _csv_cell(value: Any) -> Any:
    """A cell of the enriched CSV: tools joined by ';' (as the input layout reads them),
    text made safe for spreadsheets, nothing as an empty cell."""
    if value is None:
        return ""
    if isinstance(value, list):
        return neutralize(";".join(str(v) for v in value))
    return neutralize(value)
