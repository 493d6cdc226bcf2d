"""The analysis frame: every closed new-business deal cut by every attribute value.

One attribute gives each deal exactly one value (``(missing)`` included), so a value can
always be compared with the rest of its attribute. Attributes of the account (size,
industry, stack) and of the deal's moment (how long before the deal was created the
account raised money or posted a job) are built in SQL over the workspace store and
counted per account, because deals of one account are not independent evidence. The
stack and head count are those of the day the deal was created where signals date them
(icpkit.analysis.history).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Literal

import duckdb
import numpy as np

from icpkit.analysis.history import HEADCOUNT, HistorySummary, churned_sql, date_values
from icpkit.analysis.windows import SignalAges
from icpkit.config import AnalysisSettings
from icpkit.store.db import json_path, literal

MISSING = "(missing)"
NONE_SEEN = "none"
TOO_MANY_VALUES = "too many values to compare"
FREE_TEXT = "free text"

Family = Literal["fit", "intent"]
Kind = Literal["ordinal", "categorical", "binary"]

# Fields filled after a deal closes would leak the outcome into the analysis.
POST_OUTCOME = frozenset(
    {"lifecycle_stage", "churned", "churn_date", "Lifecycle Stage", "nps", "product_usage"}
)


# Words in a column's name that say it identifies or locates one record (split on case and
# punctuation: 'BillingStreet' -> billing, street; 'Tax ID' -> tax, id).
IDENTIFIER_WORDS = frozenset(
    {
        "id", "ids", "uuid", "guid", "key", "phone", "telephone", "tel", "fax", "street",
        "address", "addr", "url", "uri", "link", "website", "email", "mail",
        "zip", "zipcode", "postal", "postcode", "tax", "vat", "ein", "duns", "siren", "siret",
        "linkedin", "twitter", "facebook", "instagram", "youtube", "photo", "image", "avatar",
        "logo", "description", "notes", "comment", "comments",
    }
)  # fmt: skip
# Most accounts with a value hold one of their own: a value that one account holds is never
# evidence about others.
IDENTIFIER_UNIQUE_SHARE = 0.5
# With a name that says identifier, a lower share suffices (shared switchboards, one city's
# zip code).
HINTED_UNIQUE_SHARE = 0.2
# Free text: values this long on average are prose, not categories.
FREE_TEXT_CHARS = 60
_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")


@dataclass(frozen=True)
class ColumnProfile:
    """How an unmapped column's values spread over the accounts that have one."""

    name: str
    accounts: int  # accounts with a value
    distinct: int
    unique_accounts: int  # accounts whose value no other account holds
    mean_length: float

    @property
    def unique_share(self) -> float:
        return self.unique_accounts / self.accounts if self.accounts else 0.0


def name_words(column: str) -> list[str]:
    """The words of a column name, lower case: 'BillingPostalCode' -> billing, postal, code."""
    return [w.casefold() for w in _WORD.findall(column)]


def identifier_reason(profile: ColumnProfile) -> str | None:
    """Why an unmapped column identifies accounts rather than describing them, or None.

    Decided by the data first (most accounts with a value hold one no other account has, or
    values are long free text), then by the name (phone, street, id, url, email, zip, tax,
    vat, ...) together with a lower share of one-account values.
    """
    if profile.accounts < 2:
        return None
    if profile.mean_length >= FREE_TEXT_CHARS:
        return FREE_TEXT
    if profile.unique_share > IDENTIFIER_UNIQUE_SHARE:
        return f"{profile.unique_share:.0%} of accounts have a value of their own"
    hinted = set(name_words(profile.name)) & IDENTIFIER_WORDS
    if hinted and profile.unique_share >= HINTED_UNIQUE_SHARE:
        return (
            f"named as an identifier ({sorted(hinted)[0]}), {profile.unique_share:.0%} of "
            "accounts have a value of their own"
        )
    return None


@dataclass(frozen=True)
class Attribute:
    """One way of cutting deals: its name, kind, value order and the SQL giving the value."""

    name: str
    kind: Kind
    family: Family
    sql: str
    order: tuple[str, ...] = ()
    account_level: bool = True
    profiled: bool = True  # False: offered as a segment cut, not tested in won vs lost


@dataclass
class Cut:
    """Closed deals of one attribute value, per account: ``wins[i]`` of ``deals[i]``."""

    value: str
    accounts: np.ndarray
    wins: np.ndarray
    deals: np.ndarray

    @property
    def n_closed(self) -> int:
        return int(self.deals.sum())

    @property
    def n_won(self) -> int:
        return int(self.wins.sum())


@dataclass
class Frame:
    """Closed deals of the workspace cut by every attribute, plus churn per account."""

    attributes: list[Attribute]
    cuts: dict[str, list[Cut]]
    n_closed: int
    n_won: int
    n_accounts: int
    churned: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int8))
    account_keys: list[str] = field(default_factory=list)
    tiers: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int8))
    # Unmapped columns kept in the store but not analyzed: column -> why.
    unanalyzed: dict[str, str] = field(default_factory=dict)
    # Per intent attribute ('signal:funding_round:Series A'): the ages of every occurrence
    # before each deal, from which windows are estimated (analysis/windows.py).
    signal_ages: dict[str, SignalAges] = field(default_factory=dict)
    # The dated history that set technologies and employees as of each deal's creation.
    history: HistorySummary = field(default_factory=lambda: HistorySummary(0, 0, 0))

    def unanalyzed_note(self) -> str | None:
        """'kept, not analyzed: Phone, BillingStreet (identifiers)', or None."""
        return unanalyzed_note(self.unanalyzed)


def unanalyzed_note(unanalyzed: dict[str, str]) -> str | None:
    """One line naming the unmapped columns kept but not analyzed, grouped by why."""
    groups: dict[str, list[str]] = {}
    for column, why in unanalyzed.items():
        label = why if why in (TOO_MANY_VALUES, FREE_TEXT) else "identifiers"
        groups.setdefault(label, []).append(column)
    if not groups:
        return None
    return "kept, not analyzed: " + "; ".join(
        f"{', '.join(columns)} ({label})" for label, columns in groups.items()
    )


def bucket_labels(bounds: list[float], fmt: str) -> list[str]:
    """Labels of the buckets ending at ``bounds`` plus the open last one: 1-10, ..., 1,001+."""
    labels: list[str] = []
    low = 1.0
    for high in bounds:
        labels.append(_range_label(low, high, fmt))
        low = high + 1 if fmt == "count" else high
    labels.append(f"{_fmt(low, fmt)}+")
    return labels


def _fmt(value: float, fmt: str) -> str:
    if fmt == "count":
        return f"{int(value):,}"
    for unit, scale in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if value >= scale:
            number = value / scale
            return f"${number:g}{unit}"
    return f"${value:g}"


def _range_label(low: float, high: float, fmt: str) -> str:
    if fmt == "count":
        return f"{int(low):,}-{int(high):,}"
    return f"<{_fmt(high, fmt)}" if low <= 1 else f"{_fmt(low, fmt)}-{_fmt(high, fmt)}"


def _bucket_sql(column: str, bounds: list[float], labels: list[str]) -> str:
    whens = " ".join(
        f"WHEN {column} <= {bound!r} THEN '{label}'"
        for bound, label in zip(bounds, labels, strict=False)
    )
    return f"CASE WHEN {column} IS NULL THEN '{MISSING}' {whens} ELSE '{labels[-1]}' END"


def _q(text: str) -> str:
    return text.replace("'", "''")


def window_labels(bounds: list[int]) -> list[str]:
    """Recency bins of a signal before the deal: 0-30d, 31-90d, ..., 731d+."""
    labels, low = [], 0
    for high in bounds:
        labels.append(f"{low}-{high}d")
        low = high + 1
    labels.append(f"{low}d+")
    return labels


# The kind of a signal without its amount: '$12M Series B' -> 'Series B'.
DETAIL_SQL = "regexp_replace(coalesce(s.detail, ''), '^[$€£]?[0-9][0-9.,]*[ ]*[kKmMbB]?[ ]+', '')"
# Head counts observed on a day are the history of an attribute, not events of intent.
HEADCOUNT_TYPES = ", ".join(literal(t) for t in sorted(HEADCOUNT))


def prepare(con: duckdb.DuckDBPyConnection, where: str | None = None) -> HistorySummary:
    """Temporary tables the attributes read: closed deals (those matching the SQL condition
    ``where`` on ``deals``, when given) with their account's technologies and employees as
    they stood on the day each deal was created (see icpkit.analysis.history), and each
    signal's latest occurrence. Returns what dated history there was."""
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE closed AS
           SELECT c.*, a.technologies, a.employees
           FROM (SELECT deal_key, account_key, outcome = 'won' AS won, created_at, closed_at,
                        cycle_days, amount
                 FROM deals
                 WHERE outcome IN ('won', 'lost') AND NOT is_expansion
                   AND account_key IS NOT NULL AND ({where or "true"})) c
           LEFT JOIN accounts a USING (account_key)"""
    )
    history = date_values(con, "closed", key="deal_key", day="created_at")
    # Funding details carry amounts ('$12M Series B'): the kind of event is what repeats.
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE signal_last AS
           SELECT c.deal_key,
                  s.signal_type || ':' || {DETAIL_SQL} AS family,
                  min(date_diff('day', s.observed_at::DATE, c.created_at::DATE)) AS days
           FROM closed c JOIN signals s USING (account_key)
           WHERE c.created_at IS NOT NULL AND s.observed_at::DATE <= c.created_at::DATE
             AND s.signal_type NOT IN ({HEADCOUNT_TYPES})
           GROUP BY ALL"""
    )
    # Each signal type whatever its detail ('funding_recency'), for segment tables.
    con.execute(
        """INSERT INTO signal_last
           SELECT deal_key, split_part(family, ':', 1), min(days) FROM signal_last
           GROUP BY ALL"""
    )
    return history


def value_sql(
    name: str,
    settings: AnalysisSettings,
    as_of: str = "c.created_at",
    *,
    extra_columns: bool = False,
    point_in_time: bool = False,
) -> str | None:
    """SQL giving an account's value of attribute ``name`` (alias ``a``: accounts) on the day
    ``as_of``; None for a name that is not an account attribute. Scoring reuses these; with
    ``extra_columns`` an unmapped field ``extra:X`` is read from a column ``X`` (as in a
    warehouse table) rather than from the store's JSON. With ``point_in_time`` the stack and
    head count are those of the deal's day, from the closed-deal table (alias ``c``, see
    :func:`prepare`), not the export's."""
    stack = "c.technologies" if point_in_time else "a.technologies"
    if name == "employees":
        bounds = [float(b) for b in settings.employee_buckets]
        column = "c.employees" if point_in_time else "a.employees"
        return _bucket_sql(column, bounds, bucket_labels(bounds, "count"))
    if name == "revenue":
        bounds = settings.revenue_buckets
        return _bucket_sql("a.revenue", bounds, bucket_labels(bounds, "money"))
    if name in ("industry", "country", "funding_stage"):
        return f"coalesce(a.{name}, '{MISSING}')"
    if name == "stack_density":
        return f"""CASE WHEN {stack} IS NULL THEN '{MISSING}'
                     WHEN coalesce(array_length({stack}), 0) <= 2 THEN '0-2 tools'
                     WHEN array_length({stack}) <= 5 THEN '3-5 tools'
                     WHEN array_length({stack}) <= 8 THEN '6-8 tools'
                     ELSE '9+ tools' END"""
    if name == "company_age":
        return f"""CASE WHEN a.founded_year IS NULL OR {as_of} IS NULL THEN '{MISSING}'
                     WHEN year({as_of}) - a.founded_year <= 2 THEN '0-2 years'
                     WHEN year({as_of}) - a.founded_year <= 5 THEN '3-5 years'
                     WHEN year({as_of}) - a.founded_year <= 10 THEN '6-10 years'
                     WHEN year({as_of}) - a.founded_year <= 20 THEN '11-20 years'
                     ELSE '21+ years' END"""
    if name.startswith("tech:"):
        tool = _q(name.removeprefix("tech:"))
        return f"""CASE WHEN {stack} IS NULL THEN '{MISSING}'
                     WHEN array_contains({stack}, '{tool}') THEN 'yes' ELSE 'no' END"""
    if name.startswith("extra:"):
        if extra_columns:
            column = name.removeprefix("extra:").replace('"', '""')
            return f"""coalesce(CAST(a."{column}" AS VARCHAR), '{MISSING}')"""
        path = literal(json_path(name.removeprefix("extra:")))
        return f"coalesce(json_extract_string(a.extra, {path}), '{MISSING}')"
    return None


def _day(day: dt.date | None) -> str | None:
    return f"DATE '{day.isoformat()}'" if day is not None else None


def _sql(name: str, settings: AnalysisSettings) -> str:
    # Deals are judged on their account as it stood when they were created.
    sql = value_sql(name, settings, point_in_time=True)
    assert sql is not None, name
    return sql


def discover_attributes(
    con: duckdb.DuckDBPyConnection, settings: AnalysisSettings
) -> list[Attribute]:
    """Every attribute the workspace's data support, in a stable order."""
    emp_labels = bucket_labels([float(b) for b in settings.employee_buckets], "count")
    rev_labels = bucket_labels(settings.revenue_buckets, "money")
    attrs = [
        Attribute(
            "employees", "ordinal", "fit", _sql("employees", settings), (*emp_labels, MISSING)
        ),
        Attribute("revenue", "ordinal", "fit", _sql("revenue", settings), (*rev_labels, MISSING)),
        Attribute("industry", "categorical", "fit", _sql("industry", settings)),
        Attribute("country", "categorical", "fit", _sql("country", settings)),
        Attribute(
            "stack_density",
            "ordinal",
            "fit",
            _sql("stack_density", settings),
            ("0-2 tools", "3-5 tools", "6-8 tools", "9+ tools", MISSING),
        ),
        Attribute(
            "company_age",
            "ordinal",
            "fit",
            _sql("company_age", settings),
            ("0-2 years", "3-5 years", "6-10 years", "11-20 years", "21+ years", MISSING),
            account_level=False,
        ),
    ]
    funding = con.execute(
        "SELECT count(DISTINCT funding_stage) FROM accounts WHERE funding_stage IS NOT NULL"
    ).fetchall()
    if funding and funding[0][0] > 1:
        attrs.append(
            Attribute("funding_stage", "categorical", "fit", _sql("funding_stage", settings))
        )
    floor = settings.min_closed_deals
    tools = con.execute(
        f"""SELECT tool FROM (SELECT unnest(c.technologies) AS tool, c.deal_key
                              FROM closed c JOIN accounts a USING (account_key))
            GROUP BY tool HAVING count(*) >= {floor} ORDER BY tool"""
    ).fetchall()
    for (tool,) in tools:
        attrs.append(
            Attribute(
                f"tech:{tool}",
                "binary",
                "fit",
                _sql(f"tech:{tool}", settings),
                ("yes", "no", MISSING),
            )
        )
    keys, _ = extra_columns(con, settings)
    for key in keys:
        attrs.append(
            Attribute(f"extra:{key}", "categorical", "fit", _sql(f"extra:{key}", settings))
        )
    labels = window_labels(settings.signal_windows)
    bins = " ".join(
        f"WHEN sl.days <= {bound} THEN '{label}'"
        for bound, label in zip(settings.signal_windows, labels, strict=False)
    )
    families = con.execute(
        f"""SELECT family FROM signal_last GROUP BY family HAVING count(*) >= {floor}
            ORDER BY family"""
    ).fetchall()
    for (family,) in families:
        attrs.append(
            Attribute(
                f"signal:{family}",
                "ordinal",
                "intent",
                f"""CASE WHEN c.created_at IS NULL THEN '{MISSING}'
                         WHEN sl.days IS NULL THEN '{NONE_SEEN}'
                         {bins} ELSE '{labels[-1]}' END""",
                (*labels, NONE_SEEN, MISSING),
                account_level=False,
                profiled=":" in family,
            )
        )
    excluded = set(settings.exclude_attributes)
    return [a for a in attrs if a.name not in excluded]


def column_profiles(con: duckdb.DuckDBPyConnection) -> list[ColumnProfile]:
    """How the values of every unmapped account column spread over the accounts."""
    rows = con.execute(
        """WITH cells AS (
               SELECT a.account_key, j.key, json_extract_string(j.value, '$') AS v
               FROM accounts AS a, json_each(a.extra) AS j WHERE a.extra IS NOT NULL),
           known AS (SELECT account_key, key, v FROM cells WHERE v IS NOT NULL),
           holders AS (SELECT key, v, count(*) AS n FROM known GROUP BY ALL)
           SELECT key, sum(n)::BIGINT, count(*)::BIGINT,
                  coalesce(sum(n) FILTER (WHERE n = 1), 0)::BIGINT,
                  coalesce(sum(length(v) * n) / sum(n), 0)::DOUBLE
           FROM holders GROUP BY key ORDER BY key"""
    ).fetchall()
    return [ColumnProfile(str(k), int(a), int(d), int(u), float(m)) for k, a, d, u, m in rows]


def extra_columns(
    con: duckdb.DuckDBPyConnection, settings: AnalysisSettings
) -> tuple[list[str], dict[str, str]]:
    """The unmapped account columns analyzed as attributes, and those kept but not analyzed
    (column -> why: an identifier, free text, or more than ``max_categories`` values).
    Columns with a single value, and fields filled after a deal closes, are neither."""
    analyzed: list[str] = []
    skipped: dict[str, str] = {}
    for profile in column_profiles(con):
        if profile.name in POST_OUTCOME or profile.distinct < 2:
            continue
        reason = identifier_reason(profile)
        if reason is not None:
            skipped[profile.name] = reason
        elif profile.distinct > settings.max_categories:
            skipped[profile.name] = TOO_MANY_VALUES
        else:
            analyzed.append(profile.name)
    excluded = {n.removeprefix("extra:") for n in settings.exclude_attributes}
    return analyzed, {k: v for k, v in skipped.items() if k not in excluded}


def build_frame(
    con: duckdb.DuckDBPyConnection,
    settings: AnalysisSettings,
    tiers: dict[str, int] | None = None,
    where: str | None = None,
    as_of: dt.date | None = None,
) -> Frame:
    """Count closed deals and wins per attribute value and account; ``tiers`` (account key
    -> customer tier) lets the analysis say which values Tier 1 customers share. Churn is
    as it stood on ``as_of`` (a backtest's cut-off), else as exported."""
    history = prepare(con, where)
    attrs = discover_attributes(con, settings)
    con.execute(
        """CREATE OR REPLACE TEMP TABLE account_index AS
           SELECT account_key, (row_number() OVER (ORDER BY account_key) - 1)::BIGINT AS idx
           FROM (SELECT DISTINCT account_key FROM closed)"""
    )
    keys = [
        r[0] for r in con.execute("SELECT account_key FROM account_index ORDER BY idx").fetchall()
    ]
    cuts: dict[str, list[Cut]] = {}
    for attr in attrs:
        join = ""
        if attr.name.startswith("signal:"):
            family = _q(attr.name.removeprefix("signal:"))
            join = (
                f"LEFT JOIN signal_last sl ON sl.deal_key = c.deal_key AND sl.family = '{family}'"
            )
        result = con.execute(
            f"""SELECT value, idx, count(*) FILTER (WHERE won) AS wins, count(*) AS deals
                FROM (SELECT c.account_key, c.won, {attr.sql} AS value
                      FROM closed c JOIN accounts a USING (account_key) {join})
                JOIN account_index USING (account_key)
                GROUP BY ALL ORDER BY value, idx"""
        ).fetchnumpy()
        values = np.asarray(result["value"]).astype(str)
        if values.size == 0:
            cuts[attr.name] = []
            continue
        uniq, starts = np.unique(values, return_index=True)
        bounds = dict(zip(uniq.tolist(), starts.tolist(), strict=True))
        ends = {
            v: e
            for v, e in zip(
                sorted(bounds, key=bounds.__getitem__),
                [*sorted(starts.tolist())[1:], len(values)],
                strict=True,
            )
        }
        idx = np.asarray(result["idx"], dtype=np.int64)
        wins = np.asarray(result["wins"], dtype=np.float64)
        deals = np.asarray(result["deals"], dtype=np.float64)
        size = {v: float(deals[bounds[v] : ends[v]].sum()) for v in bounds}
        order = list(attr.order) or sorted(bounds, key=lambda v: (v == MISSING, -size[v], v))
        cuts[attr.name] = [
            Cut(
                value,
                idx[bounds[value] : ends[value]],
                wins[bounds[value] : ends[value]],
                deals[bounds[value] : ends[value]],
            )
            for value in order
            if value in bounds
        ]
    totals = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE won), count(DISTINCT account_key) FROM closed"
    ).fetchall()[0]
    churn = con.execute(
        f"""SELECT i.idx, {churned_sql(_day(as_of))} AS churned
            FROM account_index i JOIN accounts a USING (account_key)
            WHERE a.churned IS NOT NULL"""
    ).fetchall()
    # -1: not known; churn is judged among won accounts only (see lift).
    churned = np.full(len(keys), -1, dtype=np.int8)
    for i, flag in churn:
        churned[int(i)] = int(bool(flag))
    tier_of = np.zeros(len(keys), dtype=np.int8)  # 0: not a customer
    for i, key in enumerate(keys):
        tier_of[i] = (tiers or {}).get(key, 0)
    _, unanalyzed = extra_columns(con, settings)
    return Frame(
        attrs,
        cuts,
        int(totals[0]),
        int(totals[1]),
        int(totals[2]),
        churned,
        keys,
        tier_of,
        unanalyzed,
        signal_ages=signal_ages(
            con, [a.name for a in attrs if a.family == "intent" and a.profiled]
        ),
        history=history,
    )


def signal_ages(con: duckdb.DuckDBPyConnection, names: list[str]) -> dict[str, SignalAges]:
    """Every occurrence of each intent attribute's signal before each closed deal (dated
    deals only), by age in days: not just the latest, since any of them may sit in a window."""
    deals = con.execute(
        """CREATE OR REPLACE TEMP TABLE signal_deals AS
           SELECT (row_number() OVER (ORDER BY c.deal_key) - 1)::BIGINT AS di, i.idx,
                  c.won, c.account_key, c.created_at
           FROM closed c JOIN accounts a USING (account_key)
                JOIN account_index i USING (account_key)
           WHERE c.created_at IS NOT NULL;
           SELECT idx, won FROM signal_deals ORDER BY di"""
    ).fetchnumpy()
    won, account = np.asarray(deals["won"], dtype=bool), np.asarray(deals["idx"], dtype=np.int64)
    families = [n.removeprefix("signal:") for n in names]
    out: dict[str, SignalAges] = {}
    if not families:
        return out
    rows = con.execute(
        f"""SELECT family, di, days FROM (
               SELECT d.di, s.signal_type || ':' || {DETAIL_SQL} AS family,
                      date_diff('day', s.observed_at::DATE, d.created_at::DATE) AS days
               FROM signal_deals d JOIN signals s USING (account_key)
               WHERE s.observed_at::DATE <= d.created_at::DATE)
           WHERE family IN ({", ".join(literal(f) for f in families)})"""
    ).fetchnumpy()
    family = np.asarray(rows["family"]).astype(str)
    di, days = np.asarray(rows["di"], dtype=np.int64), np.asarray(rows["days"], dtype=np.int64)
    for name, fam in zip(names, families, strict=True):
        mine = family == fam
        out[name] = SignalAges.of(won, account, di[mine], days[mine])
    return out
