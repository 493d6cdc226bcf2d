"""Column profiles are read once per connection inside ``profiles_read_once``, and the
columns accounts report are every key of their unmapped columns."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from icpkit.attributes import extra
from icpkit.attributes.extra import (
    AccountColumns,
    account_slices,
    column_profiles,
    extra_keys,
    profiles_read_once,
    read_account_columns,
)
from icpkit.icp.check import reported_extra_columns


def _accounts(con: duckdb.DuckDBPyConnection, rows: list[str | None]) -> None:
    con.execute("CREATE OR REPLACE TABLE accounts (account_key VARCHAR, extra JSON)")
    for i, document in enumerate(rows):
        con.execute("INSERT INTO accounts VALUES (?, ?)", [f"a{i}", document])


def test_profiles_inside_the_block_are_read_once_and_afresh_outside_it() -> None:
    con = duckdb.connect()
    _accounts(con, ['{"Region": "North"}', '{"Region": "South"}'])
    with profiles_read_once():
        first = column_profiles(con)
        _accounts(con, ['{"Plan": "Gold"}', '{"Plan": "Silver"}', '{"Plan": "Gold"}'])
        assert column_profiles(con) == first  # the same block: not read again
    assert [p.name for p in first] == ["Region"]
    after = column_profiles(con)
    assert [(p.name, p.accounts, p.distinct) for p in after] == [("Plan", 3, 2)]


def test_each_connection_has_its_own_profiles_in_the_block() -> None:
    one, two = duckdb.connect(), duckdb.connect()
    _accounts(one, ['{"Region": "North"}'])
    _accounts(two, ['{"Plan": "Gold"}'])
    with profiles_read_once():
        assert [p.name for p in column_profiles(one)] == ["Region"]
        assert [p.name for p in column_profiles(two)] == ["Plan"]


def test_reported_columns_are_every_key_even_empty_ones_and_research_answers() -> None:
    con = duckdb.connect()
    _accounts(
        con,
        ['{"Region": "North", "Fax": null}', None, '{"answer:uses_sso": "yes"}', "{}"],
    )
    assert reported_extra_columns(con) == {"Region", "Fax", "answer:uses_sso"}


def test_profiles_count_accounts_values_and_one_account_values_of_every_key() -> None:
    con = duckdb.connect()
    _accounts(
        con,
        [
            '{"Region": "North", "a.b": "x", "Say \\"hi\\"": "1"}',
            '{"Region": "North", "a.b": "y", "Say \\"hi\\"": null}',
            '{"Region": "South", "a.b": "x"}',
            None,
        ],
    )
    got = {
        p.name: (p.accounts, p.distinct, p.unique_accounts, p.mean_length)
        for p in column_profiles(con)
    }
    assert got == {
        "Region": (3, 2, 1, 5.0),  # North twice, South once: one account holds its own
        "a.b": (3, 2, 1, 1.0),  # a dot stays in the key
        'Say "hi"': (1, 1, 1, 1.0),  # a quote too; null is no value
    }


def test_a_key_without_a_name_is_profiled_too() -> None:
    con = duckdb.connect()
    _accounts(con, ['{"": "x", "Plan": "Gold"}', '{"": "y", "Plan": "Gold"}'])
    got = {p.name: (p.accounts, p.distinct) for p in column_profiles(con)}
    assert got == {"": (2, 2), "Plan": (2, 1)}


def test_research_answers_are_profiled_apart_from_unmapped_columns() -> None:
    con = duckdb.connect()
    _accounts(
        con,
        ['{"Region": "North", "answer:uses_sso": "yes"}', '{"answer:uses_sso": "no"}'],
    )
    with profiles_read_once():
        assert [p.name for p in column_profiles(con)] == ["Region"]
        answers = column_profiles(con, answers=True)
    assert [(p.name, p.accounts, p.distinct) for p in answers] == [("answer:uses_sso", 2, 2)]


def test_a_block_inside_another_shares_its_profiles() -> None:
    con = duckdb.connect()
    _accounts(con, ['{"Region": "North"}'])
    with profiles_read_once():
        first = column_profiles(con)
        with profiles_read_once():
            _accounts(con, ['{"Plan": "Gold"}'])
            assert column_profiles(con) == first


def test_the_keys_read_with_the_profiles_are_the_reported_columns() -> None:
    """The frame takes the columns ingested files reported from the read of the profiles: the
    same keys, null-only ones included, as the store's own report, and not read again."""
    con = duckdb.connect()
    _accounts(
        con,
        ['{"Region": "North", "Fax": null}', None, '{"answer:uses_sso": "yes"}', "{}"],
    )
    with profiles_read_once():
        assert set(extra_keys(con)) == reported_extra_columns(con)
        _accounts(con, ['{"Plan": "Gold"}'])
        assert set(extra_keys(con)) == {"Region", "Fax", "answer:uses_sso"}  # read once
    assert extra_keys(con) == ["Plan"]


def test_columns_read_on_another_connection_are_taken_when_first_asked_for() -> None:
    """A derivation reads the accounts' columns on a connection of its own while its main one
    prepares the frame: the block takes that read as the main connection's, asks for it only
    when the profiles are first needed, once, and never reads them on the main connection."""
    main, side = duckdb.connect(), duckdb.connect()
    _accounts(side, ['{"Region": "North", "Fax": null}', '{"Region": "South"}'])
    asked: list[int] = []

    def given() -> AccountColumns:
        asked.append(1)
        return read_account_columns(side)

    with profiles_read_once(main, given):
        assert asked == []  # not at the block's start: the read may still be running
        assert [p.name for p in column_profiles(main)] == ["Region"]
        assert set(extra_keys(main)) == {"Region", "Fax"}
    assert asked == [1]  # `main` has no accounts table: it was never read there


def test_a_table_of_few_row_groups_is_read_in_slices_that_hold_every_account_once() -> None:
    # Deletes leave gaps in the row ids and appends go past the count: the slices still
    # cover every account exactly once, for any number of threads.
    con = duckdb.connect()
    con.execute("CREATE TABLE accounts AS SELECT range AS k FROM range(1000)")
    con.execute("DELETE FROM accounts WHERE k < 300 OR k % 7 = 0")
    con.execute("INSERT INTO accounts SELECT range FROM range(5000, 5100)")
    total = con.execute("SELECT count(*) FROM accounts").fetchall()[0][0]
    for threads in (1, 2, 3, 4):
        con.execute(f"SET threads = {threads}")
        slices = account_slices(con)
        assert len(slices) == (threads if threads > 1 else 1)
        held = [con.execute(f"SELECT k FROM accounts WHERE {s}").fetchall() for s in slices]
        assert sorted(k for part in held for k in part) == sorted(
            con.execute("SELECT k FROM accounts").fetchall()
        )
        assert sum(len(part) for part in held) == total


def test_a_table_of_as_many_row_groups_as_threads_is_not_sliced() -> None:
    con = duckdb.connect()
    con.execute("SET threads = 2")
    con.execute("CREATE TABLE accounts AS SELECT range AS k FROM range(2 * 122_880)")
    assert account_slices(con) == ["true"]


def test_profiles_read_in_slices_are_those_read_whole() -> None:
    con = duckdb.connect()
    _accounts(
        con,
        [
            f'{{"Region": "{["North", "South", "East"][i % 3]}", "Plan": "{i % 5}", "Note": "{i}"}}'
            if i % 4
            else None
            for i in range(300)
        ],
    )
    con.execute("DELETE FROM accounts WHERE account_key IN ('a7', 'a8', 'a150')")
    con.execute("SET threads = 1")
    whole = read_account_columns(con)
    con.execute("SET threads = 3")
    assert len(account_slices(con)) == 3
    assert read_account_columns(con) == whole
    assert [p.name for p in whole.profiles] == ["Note", "Plan", "Region"]


def _profiles_key_by_key(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[int, int, int, float]]:
    """The profiles worked out in Python from each account's value of each key, read one
    key at a time (``json_extract_string`` of a single path): the reference."""
    keys = [
        k
        for (k,) in con.execute("SELECT DISTINCT unnest(json_keys(extra)) FROM accounts").fetchall()
    ]
    held: dict[str, list[str]] = {}
    for key in keys:
        path = '$."' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'
        values = con.execute(
            "SELECT json_extract_string(extra, ?) FROM accounts WHERE extra IS NOT NULL", [path]
        ).fetchall()
        held[key] = [v for (v,) in values if v is not None]
    out = {}
    for key, values in held.items():
        if not values:
            continue
        counts = {v: values.count(v) for v in values}
        unique = sum(n for n in counts.values() if n == 1)
        out[key] = (len(values), len(counts), unique, sum(map(len, values)) / len(values))
    return out


@pytest.mark.parametrize("held", [False, True], ids=["counted in SQL", "held"])
def test_profiles_of_many_keys_are_each_keys_values_read_alone(
    monkeypatch: pytest.MonkeyPatch, held: bool
) -> None:
    """Many keys are read from one parse of each document into a struct: every key's profile
    is what reading that key alone gives, whatever the keys' names and the values' types, an
    account that repeats a key counting its first value, as a path reads it; whether counted
    in SQL or from the values held for the analysis frame (a wide export's)."""
    monkeypatch.setattr(extra, "HELD_KEYS", 0 if held else 10**6)
    keys = [f"Custom {i}" for i in range(40)] + [
        'Say "hi"',
        "back\\slash",
        "a.b",
        "$.x",
        "Région",
        "emoji 🚀",
        "[0]",
        "x/y~z",
        "COLUMN 7",
    ]
    docs: list[str | None] = []
    for i in range(120):
        doc = {
            k: (None if (i + n) % 7 == 0 else f"v{(i * (n + 1)) % 5}") for n, k in enumerate(keys)
        }
        doc["Custom 3"] = i % 3  # numbers, as a JSON export may hold them
        doc["Custom 4"] = {"nested": [i % 2, "x"]}
        doc["Custom 5"] = [True, None] if i % 2 else False
        doc["Custom 6"] = ["e\u0301", "👍🏽", "ß", ""][i % 4]  # characters, not bytes or glyphs
        docs.append(json.dumps(doc, ensure_ascii=i % 2 == 0))
    docs += [None, "[1, 2]", '"text"', "null", "{}", '{"Custom 0": "first", "Custom 0": "second"}']
    con = duckdb.connect()
    _accounts(con, docs)
    read = read_account_columns(con, hold=True)  # for a frame, as a derive reads them
    assert (read.held is not None) == held
    got = {
        p.name: (p.accounts, p.distinct, p.unique_accounts, p.mean_length) for p in read.profiles
    }
    assert got == _profiles_key_by_key(con)
    assert read_account_columns(con).held is None  # held only for a frame
    # The account repeating a key counts once, with its first value.
    assert got["Custom 0"][0] == sum(1 for i in range(120) if i % 7) + 1


def test_keys_a_struct_cannot_hold_apart_are_profiled_too() -> None:
    # 'Plan' and 'PLAN' differ only in case: one struct cannot have both as fields.
    con = duckdb.connect()
    _accounts(
        con, ['{"Plan": "Gold", "PLAN": "x"}', '{"Plan": "Gold", "PLAN": "y"}', '{"plan": "z"}']
    )
    got = {
        p.name: (p.accounts, p.distinct, p.unique_accounts, p.mean_length)
        for p in column_profiles(con)
    }
    assert got == _profiles_key_by_key(con)
    assert {k: v[:2] for k, v in got.items()} == {"Plan": (2, 1), "PLAN": (2, 2), "plan": (1, 1)}


def test_connections_to_one_store_share_its_profiles_in_the_block(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A report's sections each open a connection of their own to the store: inside one block
    # the store's profiles are read once; another store's are read for it.
    stores = [tmp_path / "one.duckdb", tmp_path / "two.duckdb"]
    for path, region in zip(stores, ("North", "South"), strict=True):
        with duckdb.connect(str(path)) as con:
            _accounts(con, [f'{{"Region": "{region}"}}'])
    reads: list[str] = []

    def counted(con: duckdb.DuckDBPyConnection, *, hold: bool = False) -> AccountColumns:
        reads.append(con.execute("SELECT current_database()").fetchall()[0][0])
        return read_account_columns(con, hold=hold)

    monkeypatch.setattr(extra, "read_account_columns", counted)
    with profiles_read_once():
        for _ in range(3):
            with duckdb.connect(str(stores[0]), read_only=True) as con:
                assert [p.name for p in column_profiles(con)] == ["Region"]
        with duckdb.connect(str(stores[1]), read_only=True) as con:
            assert extra_keys(con) == ["Region"]
    assert reads == ["one", "two"]
