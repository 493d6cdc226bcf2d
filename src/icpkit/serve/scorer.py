"""Scoring accounts given as values (an API request) with the compiled scorecard.

The accounts go through the very SELECT ``icp score`` runs (icpkit.engines.sql), on an
in-memory DuckDB connection that holds a snapshot of the workspace's signals, contacts and
won accounts: an account known by its key takes the workspace's signals and persona
contacts as ``icp score`` gives them, plus the signals the request carries. Values not in
canonical form (``USA``, ``51-200``, ``$5M``) pass the same normalizers as a scored file's
(icpkit.engines.layout); a value none reads scores as unknown and is reported with the
account. The store is read once per snapshot and never held open, so the CLI keeps writing
it while the server runs.

One query costs about the same for one account as for a hundred (DuckDB plans the SELECT
each time, ~10 ms), so a few accounts are scored without a query, by the same scorecard
compiled into Python (icpkit.engines.compiled, held equal to the SELECT by the tests), and
many accounts by one query (see icpkit.serve.batching).

With named ICPs (``icps:`` in icp.yaml, see icpkit.engines.multi) each account also gets
``best_icp`` and an ``icps`` block: each named ICP's fit, tier, route and win probability,
as ``icp score`` gives them in its ``fit_NAME`` ... columns. A scorer made without named ICPs
runs exactly the code it ran before they existed.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import pyarrow as pa

from icpkit.config import Settings
from icpkit.engines.compiled import CompiledScorecard, Evidence, sourced
from icpkit.engines.layout import extra_columns, input_layout, normalizers
from icpkit.engines.multi import (
    BEST,
    LEFT_OUT,
    PER_ICP,
    base_rate,
    compile_with_named,
    reading_icp,
)
from icpkit.engines.scorecard import build_scorecard
from icpkit.engines.sql import OUTPUT_COLUMNS, Tables, compile_scorecard
from icpkit.enrich.evidence import EVIDENCE_TABLE, evidence_table, sourced_select
from icpkit.icp.model import ICP
from icpkit.ingest.normalize import Unreadable
from icpkit.store import connect
from icpkit.store.db import attach_read_only, identifier, spill_directory

_ARROW = {
    "VARCHAR": pa.string(),
    "BIGINT": pa.int64(),
    "INTEGER": pa.int32(),
    "DOUBLE": pa.float64(),
    "VARCHAR[]": pa.list_(pa.string()),
}
_ITEM = re.compile(r"[^;\s](?:[^;]*[^;\s])?")  # a ';' list's items, as the SQL splits them
_SIGNALS = pa.schema(
    [
        ("account_key", pa.string()),
        ("signal_type", pa.string()),
        ("detail", pa.string()),
        ("observed_at", pa.timestamp("us")),
    ]
)
_CONTACTS = pa.schema(
    [
        ("account_key", pa.string()),
        ("seniority", pa.string()),
        ("department", pa.string()),
        ("job_title", pa.string()),
        ("created_at", pa.timestamp("us")),
    ]
)
VIEWS_KEPT = 8  # compiled SELECTs kept per scoring day (today, and days asked for)


@dataclass
class Account:
    """One account to score: the input layout's values as given, the ICP's extra columns,
    and its dated signals as (type, detail, day)."""

    values: dict[str, Any]
    extras: dict[str, Any] = field(default_factory=dict)
    signals: list[tuple[str, str | None, dt.date]] = field(default_factory=list)


@dataclass
class Prepared:
    """An account's values typed for the SELECT, and what could not be read."""

    key: str | None
    row: dict[str, Any]
    problems: list[str]


@lru_cache(maxsize=65_536)
def _normalized(column: str, raw: str) -> tuple[Any, str | None]:
    """``raw`` of ``column`` as ``icp score`` reads it from a text cell: (value, problem)."""
    layout = input_layout()
    normalize, cast_is_canonical = _normalizers()[column]
    if cast_is_canonical:
        cast = _cast(raw, layout[column])
        if cast is not None:
            return cast, None
    try:
        value = normalize(raw)
    except Unreadable as exc:
        return None, f"column {column!r}, value {raw!r}: {exc}; read as unknown"
    return value, None


def _cast(raw: str, kind: str) -> Any:
    """What a plain SQL cast of ``raw`` to ``kind`` gives, None where it fails."""
    text = raw.strip()
    try:
        if kind in ("BIGINT", "INTEGER"):
            return int(text)
        if kind == "DOUBLE":
            number = float(text)
            return number if number == number and abs(number) != float("inf") else None
    except ValueError:
        return None
    return text


def _account_key(values: dict[str, Any]) -> str | None:
    """The workspace key of an account: as given, else the key its domain names."""
    key = values.get("account_key")
    if key is not None and str(key).strip():
        return str(key).strip()
    domain = values.get("domain")
    if isinstance(domain, str) and domain.strip():
        return _domain_key(domain)
    return None


@lru_cache(maxsize=65_536)
def _domain_key(domain: str) -> str | None:
    """The account key a website names (see icpkit.ingest.normalize.domains), or None."""
    from icpkit.ingest.normalize.domains import account_domain

    try:
        return account_domain(domain)
    except Unreadable:
        return None


@lru_cache(maxsize=1)
def _normalizers() -> dict[str, tuple[Any, bool]]:
    """The normalizers of icpkit.engines.layout, built once (each build imports them)."""
    return normalizers()


@lru_cache(maxsize=1)
def _normalized_columns() -> frozenset[str]:
    """The columns whose text values pass a normalizer."""
    return frozenset(_normalizers())


def prepare(account: Account, layout: dict[str, str], extras: Sequence[str]) -> Prepared:
    """Type an account's values for the SELECT as ``icp score`` types a file's cells."""
    problems: list[str] = []
    normalizers = _normalized_columns()
    row: dict[str, Any] = {}
    for column, kind in layout.items():
        if column == "account_key":
            continue
        raw = account.values.get(column)
        if raw is None:
            row[column] = None
        elif kind.endswith("[]"):
            items = raw if isinstance(raw, list) else _ITEM.findall(str(raw))
            row[column] = [str(i).strip() for i in items if str(i).strip()]
        elif isinstance(raw, str):
            if column in normalizers:
                value, problem = _normalized(column, raw)
                if problem is not None:
                    problems.append(problem)
                row[column] = value
            else:
                row[column] = _cast(raw, kind)
        elif isinstance(raw, bool):
            row[column] = None
            problems.append(f"column {column!r}, value {raw!r}: not a {kind}; read as unknown")
        elif kind in ("BIGINT", "INTEGER"):
            if isinstance(raw, float) and not raw.is_integer():
                row[column] = round(raw)
            else:
                row[column] = int(raw)
        elif kind == "DOUBLE":
            row[column] = float(raw)
        else:
            row[column] = str(raw)
    for name in extras:
        value = account.extras.get(name)
        row[name] = None if value is None else str(value)
    return Prepared(_account_key(account.values), row, problems)


def best_icp(scored: Sequence[tuple[str, ICP, Mapping[str, Any]]]) -> str | None:
    """The named ICP an account fits best, from each (name, ICP, its route and win
    probability), or None when every one excludes it or leaves it outside its boundary:
    the rule of icpkit.engines.multi.best_icp_sql, which ``icp score`` applies (the win
    probability furthest above the ICP's own base rate; a tie goes to the first declared).

    >>> from icpkit.icp.model import ScoringModel
    >>> def icp(wins):
    ...     return ICP(derived_at="2026-01-01T00:00:00Z", data_fingerprint="x",
    ...                scoring=ScoringModel(method="m", intercept=0, deals=100, wins=wins))
    >>> best_icp([("a", icp(10), {"route": "nurture", "win_probability": 0.2}),
    ...           ("b", icp(50), {"route": "work_now", "win_probability": 0.6})])
    'a'
    >>> best_icp([("a", icp(10), {"route": "never", "win_probability": 0.9})]) is None
    True
    """
    best: str | None = None
    top = 0.0
    for name, icp, row in scored:
        p = row.get("win_probability")
        if row.get("route") in LEFT_OUT or row.get("route") is None or p is None:
            continue
        lift = float(p) / base_rate(icp)
        if best is None or lift > top:  # strictly above: a tie stays with the first
            best, top = name, lift
    return best


class Scorer:
    """The compiled scorecard of one ICP version on an in-memory DuckDB connection, with a
    snapshot of the workspace's signals, contacts and customers, and the same scorecard
    compiled into Python. :meth:`score` is not thread-safe (one thread queries at a time,
    see icpkit.serve.batching); :meth:`score_few` reads only the snapshot and runs on the
    event loop beside it. ``named`` ICPs (name, ICP) add ``best_icp`` and ``icps`` to each
    account scored."""

    def __init__(
        self,
        icp: ICP,
        settings: Settings,
        store: Path | None,
        *,
        wait: float = 5.0,
        named: Sequence[tuple[str, ICP]] = (),
    ) -> None:
        self.icp = icp
        self.settings = settings
        self.version = icp.version
        self.named = tuple(named)
        self.card = build_scorecard(icp, settings.scoring)
        self.layout = input_layout()
        # The accounts carry every unmapped field any of the ICPs reads.
        self.extras = extra_columns(reading_icp(icp, [n for _, n in named]) if named else icp)
        self.schema = self._schema()
        root = store.parent if store is not None else None
        self.con = connect(":memory:", temp_directory=spill_directory(root))
        self.con.execute("SET threads = 1")  # one query at a time per worker, planning bound
        self._views: dict[dt.date, str] = {}
        self._compiled: dict[dt.date, CompiledScorecard] = {}
        self._compiled_named: dict[dt.date, list[CompiledScorecard]] = {}
        self.signals: dict[str, list[tuple[Any, ...]]] = {}
        self.contacts: dict[str, list[tuple[Any, ...]]] = {}
        self.customers: frozenset[str] = frozenset()
        self.sourced = False  # whether reasons are worded from the workspace's evidence
        self.evidence: dict[str, Evidence] = {}  # the worded evidence, by account key
        try:
            self._snapshot(store, wait)
            self._register(
                self.schema.empty_table(), _SIGNALS.empty_table(), _CONTACTS.empty_table()
            )
        except BaseException:
            self.con.close()
            raise

    def _snapshot(self, store: Path | None, wait: float) -> None:
        """Keep the workspace's signals, contacts and won accounts by account key (read
        once; the store's lock is not held)."""
        if store is None or not store.exists():
            return
        attach_read_only(self.con, store, "ws", wait=wait, notice=None)
        try:
            rows = self.con.execute(
                "SELECT account_key, signal_type, detail, observed_at FROM ws.signals "
                "WHERE account_key IS NOT NULL"
            ).fetchall()
            for key, *rest in rows:
                self.signals.setdefault(key, []).append(tuple(rest))
            rows = self.con.execute(
                "SELECT account_key, seniority, department, job_title, created_at "
                "FROM ws.contacts WHERE account_key IS NOT NULL"
            ).fetchall()
            for key, *rest in rows:
                self.contacts.setdefault(key, []).append(tuple(rest))
            won = self.con.execute(
                "SELECT DISTINCT account_key FROM ws.deals "
                "WHERE outcome = 'won' AND account_key IS NOT NULL"
            ).fetchall()
            self.customers = frozenset(str(k) for (k,) in won)
            # Reasons resting on an enriched value name its source, as `icp score` words them
            # (the evidence as of the snapshot's day).
            self.sourced = evidence_table(self.con, self.icp, self.settings, dt.date.today(), "ws.")
            if self.sourced:
                for key, entries in self.con.execute(
                    f"SELECT account_key, entries FROM {EVIDENCE_TABLE}"
                ).fetchall():
                    if key is not None and entries:
                        self.evidence[str(key)] = tuple((e["k"], e["v"]) for e in entries)
        finally:
            self.con.execute("DETACH ws")

    def _schema(self) -> pa.Schema:
        fields = [("row_id", pa.int32()), ("real_key", pa.string()), ("account_key", pa.string())]
        fields += [(c, _ARROW[k]) for c, k in self.layout.items() if c != "account_key"]
        fields += [(c, pa.string()) for c in self.extras]
        fields.append(("customer", pa.bool_()))
        return pa.schema(fields)

    def _register(self, accounts: pa.Table, signals: pa.Table, contacts: pa.Table) -> None:
        """The tables the SELECT reads: the accounts, their signals and their contacts."""
        self.con.register("api_accounts", accounts)
        self.con.register("api_signals", signals)
        self.con.register("api_contacts", contacts)

    def _view(self, day: dt.date) -> str:
        """The SELECT as of ``day`` as a view, compiled once per day."""
        name = self._views.get(day)
        if name is None:
            tables = Tables("api_accounts", "api_signals", "api_contacts")
            keep = ("row_id", "real_key", "customer")
            if self.named:
                sql = compile_with_named(
                    self.con,
                    self.icp,
                    self.named,
                    self.settings,
                    tables=tables,
                    as_of=day,
                    keep=keep,
                )
            else:
                sql = compile_scorecard(
                    self.icp, self.settings, tables=tables, as_of=day, keep=keep, pretty=False
                )
            name = f"scored_{day:%Y%m%d}"
            if self.sourced:
                reasons = ["top_reasons", "negative_reasons"]
                sql = sourced_select(f"({sql})", reasons, "real_key")
            self.con.execute(f"CREATE OR REPLACE TEMP VIEW {identifier(name)} AS {sql}")
            if len(self._views) >= VIEWS_KEPT:
                old = self._views.pop(next(iter(self._views)))
                self.con.execute(f"DROP VIEW IF EXISTS {identifier(old)}")
            self._views[day] = name
        return name

    def warm(self, day: dt.date) -> None:
        """Compile and run the SELECT and the Python scorecard once for ``day``, so the
        first request pays nothing."""
        self.score([Account({"account_key": None})], day)
        self.score_few([Account({"account_key": None})], day)

    def compiled(self, day: dt.date) -> CompiledScorecard:
        """The scorecard as of ``day`` compiled into Python, once per day."""
        card = self._compiled.get(day)
        if card is None:
            card = CompiledScorecard(self.icp, self.settings, day)
            if len(self._compiled) >= VIEWS_KEPT:
                self._compiled.pop(next(iter(self._compiled)))
            self._compiled[day] = card
        return card

    def compiled_named(self, day: dt.date) -> list[CompiledScorecard]:
        """Each named ICP's scorecard as of ``day`` compiled into Python, once per day."""
        cards = self._compiled_named.get(day)
        if cards is None:
            cards = [CompiledScorecard(icp, self.settings, day) for _, icp in self.named]
            if len(self._compiled_named) >= VIEWS_KEPT:
                self._compiled_named.pop(next(iter(self._compiled_named)))
            self._compiled_named[day] = cards
        return cards

    def score_few(self, accounts: Sequence[Account], day: dt.date) -> list[dict[str, Any]]:
        """What :meth:`score` gives, without a query: each account through the scorecard
        compiled into Python (tens of microseconds an account, against a query's ~10 ms
        of planning). Reads only the snapshot, so it may run beside :meth:`score`."""
        card = self.compiled(day)
        cards = self.compiled_named(day) if self.named else []
        out: list[dict[str, Any]] = []
        for account in accounts:
            p = prepare(account, self.layout, self.extras)
            signals: list[Any] = list(account.signals)
            contacts: Sequence[Any] = ()
            if p.key is not None:
                signals += self.signals.get(p.key, ())
                contacts = self.contacts.get(p.key, ())
            row = card.score(p.row, signals, contacts)
            evidence = self.evidence.get(p.key) if p.key is not None else None
            if evidence:
                for column in ("top_reasons", "negative_reasons"):
                    row[column] = sourced(row[column], evidence)
            result: dict[str, Any] = {"account_key": p.key}
            result.update({c: row[c] for c in OUTPUT_COLUMNS if c != "account_key"})
            result["customer"] = p.key in self.customers
            result["base"] = self.card.base_total
            result["icp_version"] = self.version
            result["problems"] = p.problems
            if cards:
                blocks = {
                    name: {c: other[c] for c in PER_ICP}
                    for (name, _), other in zip(
                        self.named,
                        (c.score(p.row, signals, contacts) for c in cards),
                        strict=True,
                    )
                }
                self._add_named(result, blocks)
            out.append(result)
        return out

    def _add_named(self, result: dict[str, Any], blocks: dict[str, dict[str, Any]]) -> None:
        """``best_icp`` and the ``icps`` block of an account, from each named ICP's fit,
        tier, route and win probability (``best_icp`` computed where the SQL gives none)."""
        if BEST not in result:
            result[BEST] = best_icp([(name, icp, blocks[name]) for name, icp in self.named])
        result["icps"] = {
            name: {**blocks[name], "icp_version": icp.version} for name, icp in self.named
        }

    def score(self, accounts: Sequence[Account], day: dt.date) -> list[dict[str, Any]]:
        """Every account scored as of ``day``, in order: the output columns of ``icp score``
        (``customer`` and ``base`` included), the ICP version and what could not be read."""
        prepared = [prepare(a, self.layout, self.extras) for a in accounts]
        columns: dict[str, list[Any]] = {name: [] for name in self.schema.names}
        signals: dict[str, list[Any]] = {name: [] for name in _SIGNALS.names}
        contacts: dict[str, list[Any]] = {name: [] for name in _CONTACTS.names}
        for i, (account, p) in enumerate(zip(accounts, prepared, strict=True)):
            marker = f"#{i}"
            columns["row_id"].append(i)
            columns["real_key"].append(p.key)
            columns["account_key"].append(marker)
            for name, value in p.row.items():
                columns[name].append(value)
            columns["customer"].append(p.key in self.customers)
            events = [(k, d, dt.datetime.combine(w, dt.time())) for k, d, w in account.signals]
            if p.key is not None:
                events += self.signals.get(p.key, ())
                for contact in self.contacts.get(p.key, ()):
                    contacts["account_key"].append(marker)
                    for name, value in zip(_CONTACTS.names[1:], contact, strict=True):
                        contacts[name].append(value)
            for kind, detail, when in events:
                signals["account_key"].append(marker)
                signals["signal_type"].append(kind)
                signals["detail"].append(detail)
                signals["observed_at"].append(when)
        self._register(
            pa.table(columns, schema=self.schema),
            pa.table(signals, schema=_SIGNALS),
            pa.table(contacts, schema=_CONTACTS),
        )
        view = self._view(day)
        cur = self.con.execute(
            f"SELECT *, {self.card.base_total} AS base FROM {identifier(view)} ORDER BY row_id"
        )
        names = [d[0] for d in cur.description]
        out: list[dict[str, Any]] = []
        for values, p in zip(cur.fetchall(), prepared, strict=True):
            row = dict(zip(names, values, strict=True))
            result: dict[str, Any] = {"account_key": p.key}
            result.update({c: row[c] for c in OUTPUT_COLUMNS if c != "account_key"})
            result["customer"] = bool(row["customer"])
            result["base"] = row["base"]
            result["icp_version"] = self.version
            result["problems"] = p.problems
            if self.named:
                result[BEST] = row[BEST]
                blocks = {name: {c: row[f"{c}_{name}"] for c in PER_ICP} for name, _ in self.named}
                self._add_named(result, blocks)
            out.append(result)
        return out

    def close(self) -> None:
        """Release the connection (the snapshot goes with it)."""
        self.con.close()
