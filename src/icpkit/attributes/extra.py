"""Which unmapped account columns are attributes (``extra:<column>``), and which are kept
in the store but never analyzed: identifiers, free text, too many values."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import duckdb

from icpkit.config import AnalysisSettings
from icpkit.store.db import arrow_table, json_path, literal, unordered

if TYPE_CHECKING:
    import pyarrow as pa

TOO_MANY_VALUES = "too many values to compare"
FREE_TEXT = "free text"

# Keys enrichment writes into the accounts' JSON for the AI research answers: attributes of
# their own (``answer:<key>``, icpkit.attributes.kinds.Answer), never unmapped columns.
ANSWER_PREFIX = "answer:"

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


@dataclass
class HeldValues:
    """Every account's value of each key of its JSON ``extra`` (as ``json_transform`` reads
    it to VARCHAR; NULL where it has none), read once for the keys' profiles and kept for
    the analysis frame, which takes them (:meth:`take`): a wide export's documents are then
    parsed once, not once for the profiles and again for the frame."""

    accounts: pa.ChunkedArray  # account_key, a row an account
    columns: dict[str, pa.ChunkedArray]  # per key

    def take(self) -> dict[str, pa.ChunkedArray]:
        """The values, given once: their memory goes with them."""
        columns, self.columns = self.columns, {}
        return columns


@dataclass(frozen=True)
class AccountColumns:
    """What one read of the accounts' JSON ``extra`` found: every key (the unmapped columns
    and research answers files reported, null-only ones included) and the profile of each
    key with values; for a wide export, every account's values too (``held``)."""

    keys: list[str]
    profiles: list[ColumnProfile]
    held: HeldValues | None = field(default=None, compare=False, repr=False)


# From this many keys the values are read and held (see HeldValues) while accounts x keys
# stay within HELD_CELLS: about 8 bytes each in memory (1,000 keys of 31,250 accounts: 251
# MiB); the analysis frame reads no more of them at once either.
HELD_KEYS = 64
HELD_CELLS = 40_000_000
_ACCOUNT = "__account"


def read_account_columns(con: duckdb.DuckDBPyConnection, *, hold: bool = False) -> AccountColumns:
    """The keys of the accounts' JSON and their profiles, in one read; with ``hold``, for
    an analysis frame to come, a wide export's values are held (see HeldValues)."""
    slices = account_slices(con)
    keys = _keys(con, slices)
    if hold and _holds(con, keys):
        held = _held_values(con, keys, slices)
        return AccountColumns(keys, _profiles_of(keys, held), held)
    return AccountColumns(keys, _column_profiles(con, keys, slices))


def held_values(con: duckdb.DuckDBPyConnection) -> HeldValues | None:
    """The values a :func:`profiles_read_once` block read with the profiles of ``con``'s
    store and kept, or None."""
    read = _READ.get()
    entry = read.get(_store_of(con)) if read is not None else None
    done = entry[1] if entry is not None else None
    return done.held if isinstance(done, AccountColumns) else None


def _holds(con: duckdb.DuckDBPyConnection, keys: list[str]) -> bool:
    """Whether the accounts' values of ``keys`` are read and held (see HeldValues)."""
    if len(keys) < HELD_KEYS or not struct_fields([*keys, _ACCOUNT]):
        return False
    accounts = con.execute("SELECT count(*) FROM accounts").fetchall()[0][0]
    return int(accounts) * len(keys) <= HELD_CELLS


def _held_values(con: duckdb.DuckDBPyConnection, keys: list[str], slices: list[str]) -> HeldValues:
    """Every account's values of ``keys``, its JSON parsed once into a struct whose fields
    are the keys, the ``slices`` side by side (rows in any order: each holds its key)."""
    spec = literal(json.dumps(dict.fromkeys(keys, "VARCHAR")))
    query = " UNION ALL ".join(
        f"""SELECT account_key AS {_ACCOUNT}, unnest(json_transform(extra, {spec}))
            FROM accounts WHERE {part}"""
        for part in slices
    )
    with unordered(con):
        table = arrow_table(con, query)
    return HeldValues(table.column(0), dict(zip(keys, table.columns[1:], strict=True)))


def _profiles_of(keys: list[str], held: HeldValues) -> list[ColumnProfile]:
    """The profile of each key with values, from the values held (as :func:`_column_profiles`
    counts them in SQL)."""
    import numpy as np
    import pyarrow.compute as pc

    profiles = []
    for key in keys:
        counted = pc.value_counts(held.columns[key].drop_null())
        if len(counted) == 0:
            continue
        holders = counted.field("counts").to_numpy().astype(np.int64)
        lengths = pc.utf8_length(counted.field("values")).to_numpy().astype(np.int64)
        accounts = int(holders.sum())
        profiles.append(
            ColumnProfile(
                key,
                accounts,
                len(holders),
                int(holders[holders == 1].sum()),
                int(lengths @ holders) / accounts,
            )
        )
    return profiles


# What a ``profiles_read_once`` block read already, or will take from a read elsewhere, by
# store (see _store_of; the connection held, so that an id stays its own).
_Entry = tuple[duckdb.DuckDBPyConnection, AccountColumns | Callable[[], AccountColumns]]
_READ: ContextVar[dict[int | str, _Entry] | None] = ContextVar("column_profiles_read", default=None)
_HOLD: ContextVar[bool] = ContextVar("column_values_held", default=False)


@contextmanager
def profiles_read_once(
    con: duckdb.DuckDBPyConnection | None = None,
    given: Callable[[], AccountColumns] | None = None,
    *,
    hold: bool | None = None,
) -> Iterator[None]:
    """Within the block each store's column profiles are read once, whichever of its
    connections asks (an in-memory database's, once per connection): for work that reads
    the accounts without changing them and asks for the profiles more than once (the
    analysis frame asks in attribute discovery, for the research answers and again for the
    columns it leaves out; a report's sections each open a connection of their own). A block
    inside another shares the outer one's profiles.
    ``given``: what a read on another connection to the same store gives (made beside this
    connection's other work), taken as ``con``'s when the block first asks for them.
    ``hold``: a read within the block holds a wide export's values for the frame it builds
    (see HeldValues); None: as the block around it says, else not."""
    outer = _READ.get()
    read = outer if outer is not None else {}
    token = _READ.set(read)
    holding = _HOLD.set(_HOLD.get() if hold is None else hold)
    if con is not None and given is not None:
        read.setdefault(_store_of(con), (con, given))
    try:
        yield
    finally:
        _HOLD.reset(holding)
        _READ.reset(token)


def column_profiles(
    con: duckdb.DuckDBPyConnection, *, answers: bool = False
) -> list[ColumnProfile]:
    """How the values of every unmapped account column spread over the accounts; with
    ``answers``, of the research answers (``answer:<key>``) instead, which are not unmapped
    columns. Both come from one read of the accounts' JSON."""
    return [p for p in _read_once(con).profiles if p.name.startswith(ANSWER_PREFIX) == answers]


def extra_keys(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Every key of the accounts' JSON ``extra``: the unmapped columns and research answers
    ingested files reported, a key whose values are all null included."""
    return _read_once(con).keys


def _read_once(con: duckdb.DuckDBPyConnection) -> AccountColumns:
    """The keys and profiles of ``con``'s accounts, read once within a
    :func:`profiles_read_once` block."""
    read = _READ.get()
    if read is None:
        return read_account_columns(con)
    store = _store_of(con)
    entry = read.get(store)
    if entry is None:
        done = read_account_columns(con, hold=_HOLD.get())
    else:
        got = entry[1]
        done = got if isinstance(got, AccountColumns) else got()
    read[store] = (con, done)
    return done


def _store_of(con: duckdb.DuckDBPyConnection) -> int | str:
    """The database file ``con`` reads, or the connection itself for an in-memory one."""
    row = con.execute(
        "SELECT path FROM duckdb_databases() WHERE database_name = current_database()"
    ).fetchall()
    return str(row[0][0]) if row and row[0][0] else id(con)


# The profile of each key from its values and how many accounts hold each (``holders``).
_PROFILE_SQL = """
    holders AS (SELECT key, v, count(*) AS n FROM cells WHERE v IS NOT NULL GROUP BY ALL)
    SELECT key, sum(n)::BIGINT, count(*)::BIGINT,
           coalesce(sum(n) FILTER (WHERE n = 1), 0)::BIGINT,
           coalesce(sum(length(v) * n) / sum(n), 0)::DOUBLE
    FROM holders GROUP BY key ORDER BY key"""


# Rows of a table DuckDB reads on one thread (a row group).
_ROW_GROUP = 122_880


def account_slices(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Conditions cutting the accounts into slices read side by side, every account in
    exactly one. DuckDB reads a table on one thread per row group, so a wide export of few
    accounts (31,500 accounts of 300 columns: 3.8 s of JSON on one core, 2.0-2.2 s sliced in
    two) is parsed on every core only when sliced; a table of as many row groups as threads
    is read on all of them already, and is not sliced."""
    threads, rows, last = con.execute(
        "SELECT current_setting('threads'), count(*), coalesce(max(rowid), 0) FROM accounts"
    ).fetchall()[0]
    parts = int(threads)
    if parts < 2 or -(-int(rows) // _ROW_GROUP) >= parts:
        return ["true"]
    # Ranges of row ids (which deletes leave with gaps), the first and last open.
    size = -(-(int(last) + 1) // parts)
    cuts = [i * size for i in range(1, parts)]
    lows = ["true", *(f"rowid >= {c}" for c in cuts)]
    highs = [*(f"rowid < {c}" for c in cuts), "true"]
    return [f"{low} AND {high}" for low, high in zip(lows, highs, strict=True)]


def _keys(con: duckdb.DuckDBPyConnection, slices: list[str]) -> list[str]:
    """The distinct keys of the accounts' JSON ``extra``, in order, read in ``slices``
    (:func:`account_slices`)."""
    return [
        str(key)
        for (key,) in con.execute(
            " UNION ".join(
                f"""SELECT DISTINCT unnest(json_keys(extra)) AS key FROM accounts
                    WHERE extra IS NOT NULL AND {part}"""
                for part in slices
            )
            + " ORDER BY key"
        ).fetchall()
    ]


def _column_profiles(
    con: duckdb.DuckDBPyConnection, keys: list[str], slices: list[str]
) -> list[ColumnProfile]:
    """The profile of every key of the accounts' JSON ``extra`` (``keys``, listed first),
    read in ``slices`` (:func:`account_slices`). Each account's JSON is parsed once for all
    of them, into one struct whose fields are the keys, then cut into a row per key and
    value: a list of paths looks each key up in turn, so its cost grows with the square of
    the keys (1,000 keys on 4,867 accounts: 6.2 s against 1.2 s; 300 keys: 1.6 s against
    0.7 s), and ``json_each`` cuts every document into rows of its own (far slower still).
    Keys a struct cannot hold apart (two that differ only in case) are read by the list of
    paths, the empty key, which no path names, by ``json_each``, unsliced."""
    if not keys:
        return []
    if struct_fields(keys):
        spec = literal(json.dumps(dict.fromkeys(keys, "VARCHAR")))
        # UNPIVOT leaves out the keys an account has no value for.
        cells = " UNION ALL ".join(
            f"""SELECT key, v FROM (UNPIVOT (SELECT unnest(json_transform(extra, {spec}))
                                             FROM accounts
                                             WHERE extra IS NOT NULL AND {part})
                                    ON COLUMNS(*) INTO NAME key VALUE v)"""
            for part in slices
        )
    elif all(keys):
        names = ", ".join(literal(k) for k in keys)
        paths = ", ".join(literal(json_path(k)) for k in keys)
        cells = " UNION ALL ".join(
            f"""SELECT unnest([{names}]) AS key,
                       unnest(json_extract_string(extra, [{paths}])) AS v
                FROM accounts WHERE extra IS NOT NULL AND {part}"""
            for part in slices
        )
    else:
        cells = """SELECT j.key, json_extract_string(j.value, '$') AS v
                   FROM accounts AS a, json_each(a.extra) AS j WHERE a.extra IS NOT NULL"""
    rows = con.execute(f"WITH cells AS ({cells}),{_PROFILE_SQL}").fetchall()
    return [ColumnProfile(str(k), int(a), int(d), int(u), float(m)) for k, a, d, u, m in rows]


def struct_fields(keys: list[str]) -> bool:
    """Whether ``keys`` can be the fields of one struct: none empty, none two that differ
    only in case (a struct's field names are told apart regardless of case)."""
    return all(keys) and len({k.casefold() for k in keys}) == len(keys)


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
