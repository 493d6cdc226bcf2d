"""The frame's counts per (attribute value, account) and the preparation shared by the steps
of one derivation: read in one pass over the deals (the intent signals from their rows
alone) and counted per attribute in numpy, they must equal what a GROUP BY in DuckDB gives
on each attribute's own SQL, and a preparation is reused only while it is still the one
the frame read."""

from __future__ import annotations

import json

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from icpkit.analysis import frame as frame_module
from icpkit.analysis.frame import (
    Attribute,
    Frame,
    _case_codes,
    _coded,
    _frame_values,
    build_frame,
    discover_attributes,
    extra_read_once,
    prepare,
    prepared_token,
    read_frame_signal_ages,
    read_signal_ages,
    tier_codes,
)
from icpkit.attributes import DETAIL_SQL, extra
from icpkit.attributes.base import FRAME, Definition
from icpkit.attributes.labels import detail_kind
from icpkit.attributes.registry import definition_of
from icpkit.config import AnalysisSettings
from icpkit.learn import points
from icpkit.store.db import arrow_table, unordered
from icpkit.workspace import Workspace

Counts = dict[str, dict[int, tuple[int, int]]]


def _group_by(con: duckdb.DuckDBPyConnection, attr: Attribute) -> Counts:
    """Per value of ``attr`` (NULL as 'None'), per account index: (wins, deals), counted by
    DuckDB from the attribute's own SQL and join, one attribute at a time."""
    out: Counts = {}
    for value, idx, wins, deals in con.execute(
        f"""SELECT coalesce(value, 'None'), i.idx, count(*) FILTER (WHERE won), count(*)
            FROM (SELECT c.account_key, c.won, {attr.sql} AS value
                  FROM closed c JOIN accounts a USING (account_key) {attr.join}) v
            JOIN (SELECT account_key, row_number() OVER (ORDER BY account_key) - 1 AS idx
                  FROM (SELECT DISTINCT account_key FROM closed)) i USING (account_key)
            GROUP BY ALL"""
    ).fetchall():
        out.setdefault(str(value), {})[int(idx)] = (int(wins), int(deals))
    return out


def _cut_counts(frame: Frame, attr: Attribute) -> Counts:
    return {
        cut.value: {
            int(i): (int(w), int(d))
            for i, w, d in zip(cut.accounts, cut.wins, cut.deals, strict=True)
        }
        for cut in frame.cuts[attr.name]
    }


def _assert_counts_are_a_group_by(con: duckdb.DuckDBPyConnection, frame: Frame) -> None:
    for attr in frame.attributes:
        expected = _group_by(con, attr)
        if attr.order:  # an attribute listing its values keeps those
            expected = {v: n for v, n in expected.items() if v in attr.order}
        assert _cut_counts(frame, attr) == expected, attr.name
        for cut in frame.cuts[attr.name]:  # accounts ascending within each value
            assert np.all(np.diff(cut.accounts) > 0), (attr.name, cut.value)


def test_counts_per_value_and_account_equal_a_group_by(demo_workspace) -> None:  # type: ignore[no-untyped-def]
    ws = Workspace.open(demo_workspace(800, 5).root)
    with ws.connect(read_only=True) as con:
        frame = build_frame(con, ws.settings.analysis)
        intent = [a for a in frame.attributes if a.family == "intent"]
        assert intent and len(intent) < len(frame.attributes)  # signals and account facts
        _assert_counts_are_a_group_by(con, frame)


@pytest.mark.parametrize("held", ["read straight", "through the table", "with the profiles"])
def test_unmapped_columns_count_the_same_read_straight_or_through_their_table(  # type: ignore[no-untyped-def]
    demo_workspace, monkeypatch: pytest.MonkeyPatch, held: str
) -> None:
    # Few accounts x columns are read from their query; more go through ``frame_accounts``.
    written: list[bool] = []
    write = frame_module._Layout.accounts_written

    def spy(layout: frame_module._Layout, con: duckdb.DuckDBPyConnection) -> None:
        written.append(bool(layout.account_query))
        write(layout, con)

    monkeypatch.setattr(frame_module._Layout, "accounts_written", spy)
    lay_out = frame_module._frame_values

    def shuffled(con: duckdb.DuckDBPyConnection, attrs: list[Attribute]) -> frame_module._Layout:
        # The accounts' rows come in any order: each must still meet its own deals.
        layout = lay_out(con, attrs)
        layout.account_query = f"SELECT * FROM ({layout.account_query}) ORDER BY hash(idx)"
        return layout

    monkeypatch.setattr(frame_module, "_frame_values", shuffled)
    if held == "through the table":
        monkeypatch.setattr(frame_module, "HELD_CELLS", 0)
    # A wide export's values, read (in any order) with the columns' profiles, taken from them.
    monkeypatch.setattr(extra, "HELD_KEYS", 0 if held == "with the profiles" else 10**6)
    queried: list[str] = []
    monkeypatch.setattr(
        frame_module, "arrow_table", lambda con, q: queried.append(q) or arrow_table(con, q)
    )
    ws = Workspace.open(demo_workspace(800, 5).root)
    with ws.connect(read_only=True) as con:
        frame = build_frame(con, ws.settings.analysis)
        assert any(a.name.startswith("extra:") for a in frame.attributes)
        _assert_counts_are_a_group_by(con, frame)
    assert any(written) == (held == "through the table")
    straight = any("account_index i JOIN" in q and "json_transform" in q for q in queried)
    assert straight == (held == "read straight")


def test_counts_equal_a_group_by_when_scans_may_reorder_rows(demo_workspace) -> None:  # type: ignore[no-untyped-def]
    ws = Workspace.open(demo_workspace(800, 5).root)
    with ws.connect(read_only=True) as con:
        con.execute("SET preserve_insertion_order = false")
        frame = build_frame(con, ws.settings.analysis)
        _assert_counts_are_a_group_by(con, frame)


def test_frame_cuts_count_every_closed_deal_once_per_attribute(demo_workspace) -> None:  # type: ignore[no-untyped-def]
    ws = Workspace.open(demo_workspace(800, 5).root)
    with ws.connect(read_only=True) as con:
        frame = build_frame(con, ws.settings.analysis)
        closed, won = con.execute(
            "SELECT count(*), count(*) FILTER (WHERE won) FROM closed"
        ).fetchall()[0]
    profiled = [a for a in frame.attributes if frame.cuts[a.name]]
    assert profiled
    for attr in profiled:
        assert sum(c.n_closed for c in frame.cuts[attr.name]) == closed, attr.name
        assert sum(c.n_won for c in frame.cuts[attr.name]) == won, attr.name


def test_a_frame_names_the_preparation_it_read(demo_workspace) -> None:  # type: ignore[no-untyped-def]
    ws = Workspace.open(demo_workspace(800, 5).root)
    with ws.connect(read_only=True) as con:
        frame = build_frame(con, ws.settings.analysis)
        assert frame.prepared is not None
        assert prepared_token(con) == frame.prepared
        assert prepared_token(con, "amount > 0") is None  # other deals: not this preparation
        prepare(con)
        assert prepared_token(con) != frame.prepared  # prepared again: a new one


@pytest.fixture
def counted_prepares(monkeypatch: pytest.MonkeyPatch) -> list[str | None]:
    """The ``where`` of each preparation the joint model's deals run."""
    calls: list[str | None] = []

    def counting(con: duckdb.DuckDBPyConnection, where: str | None = None):  # type: ignore[no-untyped-def]
        calls.append(where)
        return prepare(con, where)

    monkeypatch.setattr(points, "prepare", counting)
    return calls


def test_closed_deals_reuse_the_frames_preparation(
    demo_workspace,
    counted_prepares: list[str | None],  # type: ignore[no-untyped-def]
) -> None:
    ws = Workspace.open(demo_workspace(800, 5).root)
    with ws.connect(read_only=True) as con:
        frame = build_frame(con, ws.settings.analysis)
        reused = points.closed_deals(con, prepared=frame.prepared)
        assert counted_prepares == []
        fresh = points.closed_deals(con)
        assert counted_prepares == [None]
    assert reused.keys.tolist() == fresh.keys.tolist()
    assert reused.won.tolist() == fresh.won.tolist()


def test_closed_deals_prepare_again_once_the_tables_changed(
    demo_workspace,
    counted_prepares: list[str | None],  # type: ignore[no-untyped-def]
) -> None:
    ws = Workspace.open(demo_workspace(800, 5).root)
    with ws.connect(read_only=True) as con:
        frame = build_frame(con, ws.settings.analysis)
        prepare(con, "amount > 0")  # another step prepared other deals on the connection
        deals = points.closed_deals(con, prepared=frame.prepared)
        assert counted_prepares == [None]
        total = con.execute(
            """SELECT count(*) FROM deals WHERE outcome IN ('won', 'lost')
               AND NOT is_expansion AND account_key IS NOT NULL"""
        ).fetchall()[0][0]
    assert len(deals.won) == total


def test_closed_deals_on_another_connection_prepare_their_own(
    demo_workspace,
    counted_prepares: list[str | None],  # type: ignore[no-untyped-def]
) -> None:
    ws = Workspace.open(demo_workspace(800, 5).root)
    with ws.connect(read_only=True) as con:
        frame = build_frame(con, ws.settings.analysis)
    with ws.connect(read_only=True) as con:
        points.closed_deals(con, prepared=frame.prepared)
    assert counted_prepares == [None]


def test_ages_read_after_the_frame_equal_those_read_with_it(demo_workspace) -> None:  # type: ignore[no-untyped-def]
    """A derivation reads the signals' ages while the lift table is computed, and sorts them
    on a thread while the connection reads the deals for the points: the ages, sorted after
    the connection moved on (and closed), and the deals are those the frame would have read
    itself."""
    ws = Workspace.open(demo_workspace(800, 5).root)
    with ws.connect(read_only=True) as con:
        whole = build_frame(con, ws.settings.analysis)
        deferred = build_frame(con, ws.settings.analysis, ages=False)
        assert deferred.signal_ages == {}
        sort_ages = read_frame_signal_ages(con, deferred)
        deals = points.closed_deals(con, prepared=deferred.prepared)
    ages = sort_ages()
    assert whole.signal_ages and ages.keys() == whole.signal_ages.keys()
    for name, expected in whole.signal_ages.items():
        got = ages[name]
        for column in ("won", "account", "deal", "age"):
            assert np.array_equal(getattr(got, column), getattr(expected, column)), (name, column)
    assert len(deals.won) == whole.n_closed


def test_signal_ages_are_every_occurrence_before_each_dated_deal(demo_workspace) -> None:  # type: ignore[no-untyped-def]
    """Per intent attribute: each occurrence of its signal on or before a dated closed deal's
    day, as (the deal's place among the dated deals, the age in days), ordered by deal then
    age, with the outcome and account of every dated deal: what a plain query gives."""
    ws = Workspace.open(demo_workspace(800, 5).root)
    with ws.connect(read_only=True) as con:
        frame = build_frame(con, ws.settings.analysis)
        dated = con.execute(
            """SELECT c.deal_no, c.won, i.idx, c.created_at::DATE, c.account_key
               FROM closed c JOIN accounts a USING (account_key)
                    JOIN account_index i USING (account_key)
               WHERE c.created_at IS NOT NULL ORDER BY c.deal_no"""
        ).fetchall()
        signals = con.execute(
            """SELECT account_key, signal_type, detail, observed_at::DATE FROM signals"""
        ).fetchall()
    seen: dict[str, list[tuple[str, int]]] = {}
    for account, kind, detail, day in signals:
        seen.setdefault(account, []).append((f"{kind}:{detail_kind(detail)}", day))
    assert frame.signal_ages
    for name, ages in frame.signal_ages.items():
        family = name.removeprefix("signal:")
        expected = sorted(
            (place, (created - day).days)
            for place, (_, _, _, created, account) in enumerate(dated)
            for kind, day in seen.get(account, [])
            if kind == family and day <= created
        )
        assert list(zip(ages.deal.tolist(), ages.age.tolist(), strict=True)) == expected, name
        assert ages.won.tolist() == [bool(won) for _, won, _, _, _ in dated]
        assert ages.account.tolist() == [idx for _, _, idx, _, _ in dated]


def test_the_frames_dated_deals_are_those_a_query_reads(demo_workspace, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The deals whose signals' ages are read come from the frame's own scan, and their
    occurrences from the preparation's: each dated deal of an account in the store with every
    occurrence of the signal on or before its day, also when some deals have no day and some
    accounts with deals and signals are not in the store, and for a signal of head counts
    (which dates employees, and whose occurrences the preparation does not keep)."""
    ws = demo_workspace(800, 5).copy(tmp_path / "ws")
    with ws.connect() as con:
        con.execute(
            """INSERT INTO signals (signal_key, account_key, signal_type, detail, observed_at)
               SELECT md5(account_key || ':headcount'), account_key, 'headcount', '120',
                      min(created_at) - INTERVAL 30 DAY
               FROM deals WHERE account_key IS NOT NULL AND created_at IS NOT NULL
               GROUP BY account_key ORDER BY account_key LIMIT 60"""
        )
        con.execute("UPDATE deals SET created_at = NULL WHERE hash(deal_key) % 7 = 0")
        con.execute(
            """DELETE FROM accounts WHERE account_key IN (
                   SELECT DISTINCT account_key FROM deals WHERE account_key IS NOT NULL
                   ORDER BY account_key LIMIT 25)"""
        )
    with ws.connect(read_only=True) as con:
        frame = build_frame(con, ws.settings.analysis, ages=False)
        names = [a.name for a in frame.attributes if a.family == "intent" and a.profiled]
        assert frame.dated_deals is not None and names
        head_counts = con.execute(
            f"""SELECT DISTINCT 'signal:' || signal_type || ':' || {DETAIL_SQL} FROM signals s
                WHERE signal_type = 'headcount'"""
        ).fetchall()
        names += [name for (name,) in head_counts]
        undated, orphans = con.execute(
            """SELECT count(*) FILTER (WHERE created_at IS NULL),
                      count(*) FILTER (WHERE account_key NOT IN (SELECT account_key FROM accounts))
               FROM closed"""
        ).fetchall()[0]
        assert undated > 0 and orphans > 0
        from_frame = read_signal_ages(con, names, frame.dated_deals)()
        queried = read_signal_ages(con, names)()
        dated = con.execute(
            """SELECT c.deal_no, i.idx, c.won FROM closed c JOIN accounts a USING (account_key)
                    JOIN account_index i USING (account_key)
               WHERE c.created_at IS NOT NULL ORDER BY c.deal_no"""
        ).fetchall()
        occurrences = con.execute(
            f"""SELECT c.deal_no, s.signal_type || ':' || {DETAIL_SQL},
                       date_diff('day', s.observed_at::DATE, c.created_at::DATE)
                FROM closed c JOIN accounts a USING (account_key)
                     JOIN signals s USING (account_key)
                WHERE c.created_at IS NOT NULL AND s.observed_at::DATE <= c.created_at::DATE"""
        ).fetchall()
        # The deals of accounts missing from the store have no code in the frame: the deals'
        # codes are then joined, as they are without the frame's.
        assert frame.deal_accounts is not None and (frame.deal_accounts < 0).any()
        given = points.closed_deals(con, prepared=frame.prepared, accounts=frame.deal_accounts)
        joined = points.closed_deals(con)
    np.testing.assert_array_equal(given.account_codes, joined.account_codes)
    place = {deal: k for k, (deal, _, _) in enumerate(dated)}
    for name in names:
        family = name.removeprefix("signal:")
        expected = sorted((place[d], age) for d, f, age in occurrences if f == family)
        assert expected, name
        for ages in (from_frame[name], queried[name]):
            assert list(zip(ages.deal.tolist(), ages.age.tolist(), strict=True)) == expected
            assert ages.won.tolist() == [bool(won) for _, _, won in dated]
            assert ages.account.tolist() == [idx for _, idx, _ in dated]


def test_tier_codes_give_each_account_its_customer_tier_and_zero_otherwise() -> None:
    keys = ["a.com", "b.com", "name:c", "d.com"]
    tiers = {"d.com": 3, "a.com": 1, "gone.com": 2}  # a customer the frame does not hold
    assert tier_codes(keys, tiers).tolist() == [1, 0, 0, 3]
    assert tier_codes(keys, {}).tolist() == [0, 0, 0, 0]
    assert tier_codes([], tiers).tolist() == []


@pytest.mark.parametrize("listed", [3, 255, 256, 300])
def test_coded_values_keep_their_positions_at_every_width(listed: int) -> None:
    """Codes come back in the narrowest type that holds them (a byte up to 255 listed
    values): the last value listed keeps its position, an unlisted one is 0, NULL reads as
    'None'."""
    order = (*(f"v{i}" for i in range(listed - 1)), "None")
    con = duckdb.connect()
    values = [order[0], order[-2], None, "not listed"]
    codes = con.execute(
        f"SELECT {_coded('x', order)} AS code FROM unnest(?::VARCHAR[]) t(x)", [values]
    ).fetchnumpy()["code"]
    assert codes.tolist() == [1, listed - 1, listed, 0]
    assert codes.dtype.itemsize == (1 if listed <= 255 else 2)


# CASEs whose results are text literals are coded directly; the rest are looked up by value.
_CASES = [
    "CASE WHEN x IS NULL THEN '(missing)' WHEN x <= 2 THEN 'small' ELSE 'large' END",
    "CASE WHEN x IS NULL THEN '(missing)' WHEN x <= 2 THEN 'small' END",  # no ELSE: NULL
    "case when x > 1 then 'large' else 'O''Brien' end",  # lower case, a quote in the value
    "CASE WHEN (CASE WHEN x > 1 THEN 'a' END) = 'a' THEN 'large' ELSE 'small' END",
    "CASE WHEN CASE WHEN x > 1 THEN 'a' END = 'a' THEN 'large' ELSE 'unlisted' END",
    "CASE x WHEN 1 THEN 'small' WHEN 3 THEN 'large' END",
    "CASE WHEN x > 1 THEN 'large' ELSE NULL END",  # not a literal: looked up
    "CASE WHEN x > 1 THEN 'lar' || 'ge' ELSE 'small' END",  # an expression: looked up
    "CASE WHEN x > 1 THEN 'large' END || ''",  # the CASE is part of the value: looked up
    "coalesce(CASE WHEN x > 1 THEN 'large' END, 'small')",
    "CASE WHEN x > 1 -- isn't it?\n THEN 'large' ELSE 'small' END",  # a comment: looked up
    "CASE WHEN x > 1 /* 'a' */ THEN 'large' ELSE 'small' END",
]


@pytest.mark.parametrize("sql", _CASES)
def test_a_case_of_text_literals_gives_the_codes_its_values_would(sql: str) -> None:
    order = ("small", "large", "(missing)", "O'Brien", "None")
    listed = ", ".join("'" + v.replace("'", "''") + "'" for v in order)
    looked_up = (
        f"coalesce(list_position([{listed}], coalesce(CAST(({sql}) AS VARCHAR), 'None')), 0)"
    )
    con = duckdb.connect()
    rows = con.execute(
        f"SELECT {_coded(sql, order)} AS coded, {looked_up} AS looked_up "
        "FROM unnest([NULL, 0, 1, 2, 3, 4]::INTEGER[]) t(x)"
    ).fetchall()
    assert [coded for coded, _ in rows] == [expected for _, expected in rows]


def test_only_a_whole_case_of_text_literals_is_coded_directly() -> None:
    direct = [sql for sql in _CASES if _case_codes(sql, ("small", "large")) is not None]
    assert direct == _CASES[:6]


@pytest.mark.parametrize(
    "slices", [["true"], ["rowid < 6", "rowid >= 6 AND rowid < 11", "rowid >= 11"]]
)
@pytest.mark.parametrize(
    ("keys", "route"),
    [
        (["Lead Source", "O'Brien", 'Say "hi"', "back\\slash", "Région", "emoji 😀"], "transform"),
        (["Region", "region", "Time Zone"], "list"),  # a struct cannot tell these apart
    ],
)
def test_the_unmapped_columns_read_once_per_account_are_the_values_each_reads(
    keys: list[str], route: str, slices: list[str]
) -> None:
    # Each attribute's SQL reads its key from the account's JSON; the one-pass table reads
    # all of them from one parse per account, and must give every value as before.
    con = duckdb.connect()
    con.execute("CREATE TABLE accounts (account_key VARCHAR, extra JSON)")
    for i in range(15):
        doc = [
            {k: f"{k}-{i % 3}" for k in keys if (i + len(k)) % 4},
            {k: i for k in keys[:2]},  # numbers, as an enrichment may write them
            {keys[0]: {"nested": [1, 2]}, keys[-1]: None},
            None,
            [1, 2],  # not an object: no key
        ][i % 5]
        con.execute("INSERT INTO accounts VALUES (?, ?)", [f"a{i:02}", json.dumps(doc)])
    # Each column as the registry's definition reads it in the frame, one twice over.
    names = [f"extra:{k}" for k in keys]
    sqls = [_definition(n).sql(n, AnalysisSettings(), FRAME) for n in [*names, names[0]]]
    selects = [f", {sql} AS v{i}" for i, sql in enumerate(sqls)]
    rewritten, accounts = extra_read_once(selects, lambda: slices)
    assert ("json_transform" in accounts) == (route == "transform")
    assert not any("json_extract_string(a.extra" in s for s in rewritten)
    before = con.execute(
        f"SELECT account_key {''.join(selects)} FROM accounts a ORDER BY 1"
    ).fetchall()
    after = con.execute(
        f"SELECT account_key {''.join(rewritten)} FROM {accounts} a ORDER BY 1"
    ).fetchall()
    assert after == before


def _definition(name: str) -> Definition:
    definition = definition_of(name)
    assert definition is not None, name
    return definition


def test_unmapped_columns_are_read_once_per_account_and_counted_per_deal(demo_workspace) -> None:  # type: ignore[no-untyped-def]
    # An unmapped column's value is its account's: the frame holds it a row per account, and
    # each deal counts its account's value (the counts themselves: the tests above).
    ws = Workspace.open(demo_workspace(800, 5).root)
    with ws.connect(read_only=True) as con:
        prepare(con)
        attrs = discover_attributes(con, ws.settings.analysis)
        unmapped = [a for a in attrs if a.name.startswith("extra:")]
        assert unmapped
        layout = _frame_values(con, attrs)
        assert set(layout.accounts) == {layout.columns[a.name] for a in unmapped}
        held, accounts = con.execute(
            f"SELECT count(*), count(DISTINCT idx) FROM ({layout.account_query})"
        ).fetchall()[0]
        assert (
            held == accounts == con.execute("SELECT count(*) FROM account_index").fetchall()[0][0]
        )
        values = {
            c
            for (c,) in con.execute(
                "SELECT column_name FROM duckdb_columns() WHERE table_name = 'frame_values'"
            ).fetchall()
        }
        assert not values & set(layout.accounts)  # not written again per deal


def test_rows_read_unordered_only_on_the_connection_that_asks() -> None:
    con = duckdb.connect()
    other = con.cursor()  # another connection to the same database, reading meanwhile

    def kept(c: duckdb.DuckDBPyConnection) -> bool:
        return bool(
            c.execute("SELECT current_setting('preserve_insertion_order')").fetchall()[0][0]
        )

    with unordered(con):
        assert not kept(con)
        assert kept(other)
    assert kept(con)


def test_a_null_is_coded_as_the_value_it_stands_for() -> None:
    values = pa.chunked_array([["a", None, "(missing)"], [None, "b"]])
    coded = frame_module._encoded(values, "(missing)")
    assert coded is not None
    codes, names = coded
    assert [names[c] for c in codes] == ["a", "(missing)", "(missing)", "(missing)", "b"]
    assert len(set(names)) == len(names)  # the literal and the NULLs: one value
    coded = frame_module._encoded(pa.chunked_array([["a", None]]), "(missing)")
    assert coded is not None and [coded[1][c] for c in coded[0]] == ["a", "(missing)"]
    assert frame_module._encoded(values) is None  # NULL with nothing it stands for
